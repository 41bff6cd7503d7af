//! The fixed guest programs of the hart benches, each with a Rust model of its result, and
//! the bare machine they run on: RAM only, the hart started in M-mode at [`BASE`].

use crate::asm::{assemble, AsmError, BASE};
use emu_core::GuestRam;
use emu_riscv::{Bus, Exit, Hart};
use std::path::Path;

/// RAM of the bare machine (programs/bench.h: RAM_TOP).
pub const RAM_SIZE: usize = 16 << 20;
/// The longest any program may run: far above what each needs, so a runaway is an error.
const MAX_INSNS: u64 = 200_000_000;

/// One benchmark program: a source in programs/, its -D overrides, and the a0 it must end with.
pub struct Program {
    /// The bench's name (also keeps builds with different defines apart).
    pub name: &'static str,
    pub source: &'static str,
    pub defines: Vec<String>,
    pub expected: u64,
}

/// RAM only: every other physical address is an access fault.
pub struct RamBus {
    pub ram: GuestRam,
}

impl Bus for RamBus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.ram
    }
    fn mmio_read(&mut self, _addr: u64, _size: u8) -> Option<u64> {
        None
    }
    fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) -> Option<()> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Asm(#[from] AsmError),
    #[error("the image ({0} bytes) does not fit in RAM")]
    TooBig(usize),
    #[error("{name} did not reach WFI within {MAX_INSNS} instructions (pc {pc:#x})")]
    Runaway { name: &'static str, pc: u64 },
    #[error("{name} ended with a0 = {got:#x}, expected {want:#x}: the emulator computed it wrong")]
    Wrong { name: &'static str, got: u64, want: u64 },
}

/// A program assembled and ready to run any number of times.
pub struct Loaded {
    pub name: &'static str,
    image: Vec<u8>,
    expected: u64,
}

impl Program {
    pub fn load(&self, out_dir: &Path) -> Result<Loaded, RunError> {
        let image = assemble(self.source, self.name, &self.defines, out_dir)?;
        if image.len() > RAM_SIZE {
            return Err(RunError::TooBig(image.len()));
        }
        Ok(Loaded { name: self.name, image, expected: self.expected })
    }
}

impl Loaded {
    /// A fresh hart at the entry point and fresh RAM holding the image.
    pub fn machine(&self) -> (Hart, RamBus) {
        let mut bus = RamBus { ram: GuestRam::new(BASE, RAM_SIZE) };
        bus.ram.write(BASE, &self.image).expect("checked in load");
        let mut hart = Hart::new();
        hart.pc = BASE;
        (hart, bus)
    }

    /// Runs the program to its WFI on `hart`/`bus`, checks a0 and returns the number of
    /// instructions retired.
    pub fn run(&self, hart: &mut Hart, bus: &mut RamBus) -> Result<u64, RunError> {
        let start = hart.instret;
        while hart.run(bus, 1 << 20) != Exit::Wfi {
            if hart.instret - start > MAX_INSNS {
                return Err(RunError::Runaway { name: self.name, pc: hart.pc });
            }
        }
        if hart.x[10] != self.expected {
            return Err(RunError::Wrong { name: self.name, got: hart.x[10], want: self.expected });
        }
        Ok(hart.instret - start)
    }
}

fn defines(pairs: &[(&str, u64)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// alu.S: the same operations in Rust.
fn alu_model(iters: u64) -> u64 {
    let (mut a0, mut a1, mut a2) = (1u64, 0x9e37_79b9_7f4a_7c15u64, 0u64);
    for _ in 0..iters {
        a2 = a2.wrapping_add(a0);
        a0 ^= a1;
        a0 = a0.rotate_left(13);
        a2 = a2.wrapping_add(a0.wrapping_mul(a1));
        a1 = a1.wrapping_sub(a2);
        a0 = a0.wrapping_add((a1 < a2) as u64);
    }
    a2
}

/// branchy.S: the same LCG and branches in Rust.
fn branchy_model(iters: u64) -> u64 {
    let (mut s, mut a0, mut a1) = (12345u64, 0u64, 0u64);
    for _ in 0..iters {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let t = s >> 33;
        if t & 1 != 0 {
            a0 = a0.wrapping_add(1);
        }
        if t & 2 == 0 {
            a1 = a1.wrapping_add(3);
        }
        if t & 12 >= 4 {
            a0 ^= t;
        }
    }
    a0.wrapping_add(a1)
}

fn fib(n: u64) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// The hot-loop programs, sized to run a few million instructions each.
pub fn all() -> Vec<Program> {
    const ITERS: u64 = 200_000;
    const FIB_N: u64 = 24;
    const FP_REPS: u64 = 400;
    const FP_LEN: u64 = 512; // fp.S: LEN
    const SMC_ITERS: u64 = 100_000;
    let mem = |name, pages: u64, reps: u64| Program {
        name,
        source: "mem",
        defines: defines(&[("PAGES", pages), ("REPS", reps)]),
        expected: pages * (reps * (reps - 1) / 2),
    };
    vec![
        Program { name: "alu", source: "alu", defines: defines(&[("ITERS", ITERS)]), expected: alu_model(ITERS) },
        // 64 pages: every access hits the TLB after the first pass.
        mem("mem_tlb_hit", 64, 4096),
        // 2048 pages over a 256-entry direct-mapped TLB: every access misses and walks.
        mem("mem_tlb_miss", 2048, 128),
        Program {
            name: "branchy",
            source: "branchy",
            defines: defines(&[("ITERS", ITERS)]),
            expected: branchy_model(ITERS),
        },
        Program { name: "calls", source: "calls", defines: defines(&[("N", FIB_N)]), expected: fib(FIB_N) },
        // y[i] ends as REPS * 0.5 * i, exactly.
        Program {
            name: "fp",
            source: "fp",
            defines: defines(&[("REPS", FP_REPS)]),
            expected: FP_REPS / 2 * (FP_LEN * (FP_LEN - 1) / 2),
        },
        Program {
            name: "smc",
            source: "smc",
            defines: defines(&[("ITERS", SMC_ITERS)]),
            expected: (1..=SMC_ITERS).map(|i| i & 0x7ff).sum(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_dir(test: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("c2w-bench-programs-{}-{test}", std::process::id()))
    }

    /// Every program runs to WFI with the result its model predicts, in a plausible number
    /// of instructions.
    #[test]
    fn every_program_computes_its_model_result() {
        let dir = out_dir("all");
        for p in all() {
            let loaded = p.load(&dir).unwrap();
            let (mut hart, mut bus) = loaded.machine();
            let n = loaded.run(&mut hart, &mut bus).unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 500_000, "{} ran only {n} instructions", p.name);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A wrong expected value is reported: the check can fail.
    #[test]
    fn a_wrong_result_is_an_error() {
        let dir = out_dir("wrong");
        let mut p = all().remove(0);
        p.defines = defines(&[("ITERS", 10)]);
        let loaded = p.load(&dir).unwrap();
        let (mut hart, mut bus) = loaded.machine();
        assert!(matches!(loaded.run(&mut hart, &mut bus), Err(RunError::Wrong { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn models_match_hand_values() {
        assert_eq!(fib(24), 46368);
        assert_eq!(alu_model(0), 0);
        assert_eq!(branchy_model(0), 0);
    }
}
