//! Assembles a program from benches/programs/<arch>/ into a flat image linked at the arch's
//! load address.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Which CPU a program is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Riscv64,
    X86_64,
}

impl Arch {
    /// Where its programs are linked, loaded and started.
    pub fn base(self) -> u64 {
        match self {
            Arch::Riscv64 => 0x8000_0000,
            Arch::X86_64 => 0x10_0000,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Riscv64 => "riscv64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The compiler driver and objcopy, and the driver's machine flags.
    fn tools(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Arch::Riscv64 => ("riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objcopy", &["-march=rv64gc", "-mabi=lp64d"]),
            Arch::X86_64 => ("x86_64-linux-gnu-gcc", "x86_64-linux-gnu-objcopy", &["-no-pie"]),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AsmError {
    #[error("cannot run {tool} (is its gcc cross toolchain installed?): {source}")]
    Spawn { tool: &'static str, source: std::io::Error },
    #[error("{tool} failed on {program}:\n{stderr}")]
    Failed { tool: &'static str, program: String, stderr: String },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

/// The directory of an arch's program sources.
pub fn programs_dir(arch: Arch) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs").join(arch.name())
}

fn run(tool: &'static str, program: &str, cmd: &mut Command) -> Result<(), AsmError> {
    let out = cmd.output().map_err(|source| AsmError::Spawn { tool, source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(AsmError::Failed { tool, program: program.to_string(), stderr });
    }
    Ok(())
}

/// Assembles programs/<arch>/<name>.S with `defines` (`NAME=VALUE`) into `out_dir` and returns
/// the flat image. `tag` keeps differently-defined builds of one source apart.
pub fn assemble(arch: Arch, name: &str, tag: &str, defines: &[String], out_dir: &Path) -> Result<Vec<u8>, AsmError> {
    let src = programs_dir(arch);
    let (gcc_tool, objcopy_tool, machine) = arch.tools();
    std::fs::create_dir_all(out_dir)
        .map_err(|source| AsmError::Read { path: out_dir.display().to_string(), source })?;
    let elf = out_dir.join(format!("{}-{tag}.elf", arch.name()));
    let bin = out_dir.join(format!("{}-{tag}.bin", arch.name()));
    let mut gcc = Command::new(gcc_tool);
    gcc.args(["-nostdlib", "-nostartfiles", "-static"])
        .args(machine)
        .arg(format!("-Wl,-Ttext=0x{:x}", arch.base()))
        .arg("-Wl,--build-id=none")
        .arg("-I")
        .arg(&src)
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&elf)
        .arg(src.join(format!("{name}.S")));
    run(gcc_tool, name, &mut gcc)?;
    run(objcopy_tool, name, Command::new(objcopy_tool).args(["-O", "binary"]).arg(&elf).arg(&bin))?;
    std::fs::read(&bin).map_err(|source| AsmError::Read { path: bin.display().to_string(), source })
}
