//! Benchmark support: fixed guest programs for the riscv64 hart (assembled with the riscv64
//! cross toolchain) and a hand-driven virtio driver for the device models. The criterion
//! benches are in benches/; the end-to-end benchmark script is e2e/e2e.py.

pub mod asm;
pub mod blk_read;
pub mod driver;
pub mod nine_p;
pub mod programs;
