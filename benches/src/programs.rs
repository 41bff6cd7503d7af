//! The fixed guest programs of the CPU benches, each with a Rust model of its result (one
//! model serves an arch's program and its twin on the other arch), and the bare machines they
//! run on:
//! - riscv64: RAM only, the hart started in M-mode at the load address;
//! - x86_64: RAM only, the CPU in 64-bit mode at CPL 0 with the low 32 MiB identity-mapped in
//!   4 KiB pages (page tables built here), interrupts off.

use crate::asm::{assemble, Arch, AsmError};
use emu_core::GuestRam;
use emu_riscv::{Bus, Exit, Hart};
use std::path::Path;

/// RAM of the riscv64 machine (programs/riscv64/bench.h: RAM_TOP).
pub const RAM_SIZE: usize = 16 << 20;
/// RAM of the x86_64 machine, all of it identity-mapped.
pub const X86_RAM_SIZE: usize = 32 << 20;
/// The x86_64 machine's page tables: PML4, PDPT, PD, then the page tables.
const X86_PML4: u64 = 0x1000;
/// programs/x86_64/bench.h: STACK_TOP.
const X86_STACK_TOP: u64 = 0x8_0000;
/// The longest any program may run: far above what each needs, so a runaway is an error.
const MAX_INSNS: u64 = 200_000_000;

/// One benchmark program: a source in programs/<arch>/, its -D overrides, and the result
/// register (a0, RAX) it must end with.
pub struct Program {
    pub arch: Arch,
    /// The bench's name (also keeps builds with different defines apart).
    pub name: &'static str,
    pub source: &'static str,
    pub defines: Vec<String>,
    pub expected: u64,
}

/// RAM only: every other physical address is an access fault (riscv64) or reads as all ones
/// (x86_64).
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

impl emu_x86::Bus for RamBus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.ram
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Asm(#[from] AsmError),
    #[error("the image ({0} bytes) does not fit in RAM")]
    TooBig(usize),
    #[error("{name} did not stop within {MAX_INSNS} instructions (pc {pc:#x})")]
    Runaway { name: &'static str, pc: u64 },
    #[error("{name} stopped with {why} at pc {pc:#x}")]
    Stopped { name: &'static str, why: String, pc: u64 },
    #[error("{name} ended with {got:#x}, expected {want:#x}: the emulator computed it wrong")]
    Wrong { name: &'static str, got: u64, want: u64 },
}

/// A program assembled and ready to run any number of times.
pub struct Loaded {
    pub arch: Arch,
    pub name: &'static str,
    image: Vec<u8>,
    expected: u64,
}

impl Program {
    pub fn load(&self, out_dir: &Path) -> Result<Loaded, RunError> {
        let image = assemble(self.arch, self.source, self.name, &self.defines, out_dir)?;
        let room = match self.arch {
            Arch::Riscv64 => RAM_SIZE,
            // The code starts at 1 MiB and must stay below the data areas at 2 MiB.
            Arch::X86_64 => 1 << 20,
        };
        if image.len() > room {
            return Err(RunError::TooBig(image.len()));
        }
        Ok(Loaded { arch: self.arch, name: self.name, image, expected: self.expected })
    }
}

impl Loaded {
    /// A fresh hart at the entry point and fresh RAM holding the image.
    pub fn machine(&self) -> (Hart, RamBus) {
        let base = Arch::Riscv64.base();
        let mut bus = RamBus { ram: GuestRam::new(base, RAM_SIZE) };
        bus.ram.write(base, &self.image).expect("checked in load");
        let mut hart = Hart::new();
        hart.pc = base;
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
        self.check(hart.x[10])?;
        Ok(hart.instret - start)
    }

    /// A fresh x86_64 CPU at the entry point and fresh RAM holding the image and the page
    /// tables.
    pub fn x86_machine(&self) -> (emu_x86::Cpu, RamBus) {
        const P_W: u64 = 3;
        let mut ram = GuestRam::new(0, X86_RAM_SIZE);
        let pages = X86_RAM_SIZE as u64 / 4096;
        let (pdpt, pd, pt) = (X86_PML4 + 0x1000, X86_PML4 + 0x2000, X86_PML4 + 0x3000);
        ram.write_u64(X86_PML4, pdpt | P_W).expect("in RAM");
        ram.write_u64(pdpt, pd | P_W).expect("in RAM");
        for t in 0..pages / 512 {
            ram.write_u64(pd + 8 * t, (pt + 4096 * t) | P_W).expect("in RAM");
        }
        for page in 0..pages {
            ram.write_u64(pt + 8 * page, (page << 12) | P_W).expect("in RAM");
        }
        let base = Arch::X86_64.base();
        ram.write(base, &self.image).expect("checked in load");
        let mut cpu = emu_x86::Cpu::new(X86_RAM_SIZE as u64);
        cpu.enter_long_mode(X86_PML4, 0x10, 0x18);
        cpu.rip = base;
        cpu.gpr[4] = X86_STACK_TOP;
        (cpu, RamBus { ram })
    }

    /// Runs the program to its HLT on `cpu`/`bus`, checks RAX and returns the number of
    /// instructions retired.
    pub fn run_x86(&self, cpu: &mut emu_x86::Cpu, bus: &mut RamBus) -> Result<u64, RunError> {
        let start = cpu.icount;
        loop {
            match cpu.run(bus, 1 << 20) {
                emu_x86::Exit::Budget => {}
                emu_x86::Exit::Halt | emu_x86::Exit::Dead => break,
                why => return Err(RunError::Stopped { name: self.name, why: format!("{why:?}"), pc: cpu.rip }),
            }
            if cpu.icount - start > MAX_INSNS {
                return Err(RunError::Runaway { name: self.name, pc: cpu.rip });
            }
        }
        self.check(cpu.gpr[0])?;
        Ok(cpu.icount - start)
    }

    /// Runs the program on a fresh machine of its arch: checks the result, returns the
    /// instructions retired.
    pub fn run_fresh(&self) -> Result<u64, RunError> {
        match self.arch {
            Arch::Riscv64 => {
                let (mut hart, mut bus) = self.machine();
                self.run(&mut hart, &mut bus)
            }
            Arch::X86_64 => {
                let (mut cpu, mut bus) = self.x86_machine();
                self.run_x86(&mut cpu, &mut bus)
            }
        }
    }

    fn check(&self, got: u64) -> Result<(), RunError> {
        if got != self.expected {
            return Err(RunError::Wrong { name: self.name, got, want: self.expected });
        }
        Ok(())
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

/// The hot-loop programs for `arch`, sized to run a few million instructions each.
pub fn all(arch: Arch) -> Vec<Program> {
    const ITERS: u64 = 200_000;
    const FIB_N: u64 = 24;
    const FP_REPS: u64 = 400;
    const FP_LEN: u64 = 512; // fp.S: LEN
    const SMC_ITERS: u64 = 100_000;
    let program = |name, source, defines: Vec<String>, expected| Program { arch, name, source, defines, expected };
    let mem = |name, pages: u64, reps: u64| {
        program(name, "mem", defines(&[("PAGES", pages), ("REPS", reps)]), pages * (reps * (reps - 1) / 2))
    };
    vec![
        program("alu", "alu", defines(&[("ITERS", ITERS)]), alu_model(ITERS)),
        // 64 pages: every access hits the TLB after the first pass.
        mem("mem_tlb_hit", 64, 4096),
        // 2048 pages over a 1024-entry direct-mapped TLB: every access misses and walks.
        mem("mem_tlb_miss", 2048, 128),
        program("branchy", "branchy", defines(&[("ITERS", ITERS)]), branchy_model(ITERS)),
        program("calls", "calls", defines(&[("N", FIB_N)]), fib(FIB_N)),
        // y[i] ends as REPS * 0.5 * i, exactly.
        program("fp", "fp", defines(&[("REPS", FP_REPS)]), FP_REPS / 2 * (FP_LEN * (FP_LEN - 1) / 2)),
        program("smc", "smc", defines(&[("ITERS", SMC_ITERS)]), (1..=SMC_ITERS).map(|i| i & 0x7ff).sum()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_dir(test: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("c2w-bench-programs-{}-{test}", std::process::id()))
    }

    /// Every program runs to its stop with the result its model predicts, in a plausible
    /// number of instructions.
    #[test]
    fn every_program_computes_its_model_result() {
        let dir = out_dir("all");
        for p in [Arch::Riscv64, Arch::X86_64].into_iter().flat_map(all) {
            let n = p.load(&dir).unwrap().run_fresh().unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 500_000, "{} {} ran only {n} instructions", p.arch.name(), p.name);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A wrong expected value is reported: the check can fail.
    #[test]
    fn a_wrong_result_is_an_error() {
        let dir = out_dir("wrong");
        for arch in [Arch::Riscv64, Arch::X86_64] {
            let mut p = all(arch).remove(0);
            p.defines = defines(&[("ITERS", 10)]);
            assert!(matches!(p.load(&dir).unwrap().run_fresh(), Err(RunError::Wrong { .. })), "{arch:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn models_match_hand_values() {
        assert_eq!(fib(24), 46368);
        assert_eq!(alu_model(0), 0);
        assert_eq!(branchy_model(0), 0);
    }
}
