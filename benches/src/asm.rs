//! Assembles a program from benches/programs/ into a flat image linked at [`BASE`].

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where every program is linked, loaded and started (M-mode).
pub const BASE: u64 = 0x8000_0000;

#[derive(Debug, thiserror::Error)]
pub enum AsmError {
    #[error("cannot run {tool} (is gcc-riscv64-linux-gnu installed?): {source}")]
    Spawn { tool: &'static str, source: std::io::Error },
    #[error("{tool} failed on {program}:\n{stderr}")]
    Failed { tool: &'static str, program: String, stderr: String },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

/// The directory of the program sources.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

fn run(tool: &'static str, program: &str, cmd: &mut Command) -> Result<(), AsmError> {
    let out = cmd.output().map_err(|source| AsmError::Spawn { tool, source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(AsmError::Failed { tool, program: program.to_string(), stderr });
    }
    Ok(())
}

/// Assembles programs/<name>.S with `defines` (`NAME=VALUE`) into `out_dir` and returns the
/// flat image. `tag` keeps differently-defined builds of one source apart.
pub fn assemble(name: &str, tag: &str, defines: &[String], out_dir: &Path) -> Result<Vec<u8>, AsmError> {
    let src = programs_dir();
    std::fs::create_dir_all(out_dir)
        .map_err(|source| AsmError::Read { path: out_dir.display().to_string(), source })?;
    let elf = out_dir.join(format!("{tag}.elf"));
    let bin = out_dir.join(format!("{tag}.bin"));
    let mut gcc = Command::new("riscv64-linux-gnu-gcc");
    gcc.args(["-nostdlib", "-nostartfiles", "-static", "-march=rv64gc", "-mabi=lp64d"])
        .arg(format!("-Wl,-Ttext=0x{BASE:x}"))
        .arg("-Wl,--build-id=none")
        .arg("-I")
        .arg(&src)
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&elf)
        .arg(src.join(format!("{name}.S")));
    run("riscv64-linux-gnu-gcc", name, &mut gcc)?;
    run(
        "riscv64-linux-gnu-objcopy",
        name,
        Command::new("riscv64-linux-gnu-objcopy").args(["-O", "binary"]).arg(&elf).arg(&bin),
    )?;
    std::fs::read(&bin).map_err(|source| AsmError::Read { path: bin.display().to_string(), source })
}
