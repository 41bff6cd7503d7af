//! Interpreter benchmark ([`emu_core::bench_run`]): boots a bundle, runs one command, reports
//! guest instructions and the rate.
//!
//! `cargo run --release -p emu-riscv --example riscv_bench -- BUNDLE_DIR sh -c '...'`

fn main() {
    emu_core::bench_run::main(emu_riscv::machine::from_bundle);
}
