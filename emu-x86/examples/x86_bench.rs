//! Interpreter benchmark ([`emu_core::bench_run`]): boots a bundle, runs one command, reports
//! guest instructions and the rate.
//!
//! `cargo run --release -p emu-x86 --example x86_bench -- BUNDLE_DIR sh -c '...'`

fn main() {
    emu_core::bench_run::main(emu_x86::board::from_bundle);
}
