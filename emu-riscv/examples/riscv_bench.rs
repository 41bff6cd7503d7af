//! Interpreter benchmark ([`emu_core::bench_run`]): boots a bundle, runs one command, reports
//! guest instructions and the rate.
//!
//! `cargo run --release -p emu-riscv --example riscv_bench -- BUNDLE_DIR sh -c '...'`

use emu_riscv::machine::{BootImage, RiscvMachine};

fn main() {
    emu_core::bench_run::main(|b| {
        let m = RiscvMachine::new(BootImage {
            kernel: &b.kernel,
            initrd: &b.initrd,
            rootfs: std::mem::take(&mut b.rootfs),
            memory_mib: b.memory_mib,
            cmdline: "console=hvc0 c2w_chan=hvc1 quiet panic=-1",
        })
        .map_err(|e| e.to_string())?;
        Ok(Box::new(m))
    });
}
