//! Interpreter benchmark ([`emu_core::bench_run`]): boots a bundle, runs one command, reports
//! guest instructions and the rate.
//!
//! `cargo run --release -p emu-x86 --example x86_bench -- BUNDLE_DIR sh -c '...'`

use emu_x86::board::{BootImage, X86Machine};

fn main() {
    emu_core::bench_run::main(|b| {
        let m = X86Machine::new(BootImage {
            kernel: &b.kernel,
            initrd: &b.initrd,
            rootfs: std::mem::take(&mut b.rootfs),
            memory_mib: b.memory_mib,
            cmdline: "console=ttyS0 c2w_chan=hvc0 quiet panic=-1",
        })
        .map_err(|e| e.to_string())?;
        Ok(Box::new(m))
    });
}
