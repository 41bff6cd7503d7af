//! Shared by the assembly test suites: assembles a test program under tests/<dir>/ with the
//! riscv64 cross toolchain into a flat image linked at 0x8000_0000.
//!
//! Used as `mod asm_support;` from a test crate; the program's directory is also on the
//! include path, so its macros header can be `#include`d.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where every test image is linked and loaded.
pub const BASE: u64 = 0x8000_0000;

fn run_tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} (riscv64 cross toolchain installed?): {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Assembles tests/<dir>/<name>.S into a flat binary image for [`BASE`].
pub fn build(dir: &str, name: &str) -> Vec<u8> {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(dir);
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{dir}-asm"));
    std::fs::create_dir_all(&out_dir).unwrap();
    // Per-process names: test runs of several checkouts share the target directory.
    let pid = std::process::id();
    let elf = out_dir.join(format!("{name}.{pid}.elf"));
    let bin = out_dir.join(format!("{name}.{pid}.bin"));
    run_tool(
        Command::new("riscv64-linux-gnu-gcc")
            .args(["-nostdlib", "-nostartfiles", "-static", "-march=rv64gc", "-mabi=lp64d"])
            .arg(format!("-Wl,-Ttext=0x{BASE:x}"))
            .arg("-Wl,--build-id=none")
            .arg("-I")
            .arg(&src_dir)
            .arg("-o")
            .arg(&elf)
            .arg(src_dir.join(format!("{name}.S"))),
    );
    run_tool(Command::new("riscv64-linux-gnu-objcopy").args(["-O", "binary"]).arg(&elf).arg(&bin));
    let image = std::fs::read(&bin).unwrap();
    let _ = std::fs::remove_file(&bin);
    // Kept as <name>.elf for disassembly when a check fails.
    let _ = std::fs::rename(&elf, out_dir.join(format!("{name}.elf")));
    image
}
