//! Benchmark support: fixed guest programs for the riscv64 hart and the x86_64 CPU (assembled
//! with gcc) and a hand-driven virtio driver for the device models. The criterion
//! benches are in benches/; the end-to-end benchmark script is e2e/e2e.py.

pub mod asm;
pub mod blk_read;
pub mod driver;
pub mod nine_p;
pub mod programs;
