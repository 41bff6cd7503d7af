//! Runs the self-checking RISC-V assembly programs in tests/fp/ on the hart.
//!
//! Each program is assembled at test time with the riscv64 cross toolchain into a flat image
//! at 0x8000_0000, run in M-mode until it stops in WFI, and judged by a0 (0 = every check
//! passed, else the number of the failed check); the harness then checks some final state
//! itself.

mod asm_support;

use asm_support::BASE;
use emu_core::GuestRam;
use emu_riscv::{Bus, Exit, Hart};

/// RAM only: every other physical address is an access fault.
struct RamBus {
    ram: GuestRam,
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

/// Runs a program to its final WFI and checks that every self-check passed.
fn run(name: &str) -> (Hart, RamBus) {
    let image = asm_support::build("fp", name);
    let mut bus = RamBus { ram: GuestRam::new(BASE, 1 << 20) };
    bus.ram.write(BASE, &image).expect("image fits in RAM");
    let mut hart = Hart::new();
    hart.pc = BASE;
    let exit = hart.run(&mut bus, 1_000_000);
    assert_eq!(exit, Exit::Wfi, "{name} did not finish (pc {:#x})", hart.pc);
    assert_eq!(
        hart.x[10],
        0,
        "{name}: check number {} failed; t1 {:#x} t2 {:#x} s2 {:#x} s3 {:#x} fflags {:#x}",
        hart.x[10],
        hart.x[6],
        hart.x[7],
        hart.x[18],
        hart.x[19],
        hart.csr.fcsr & 0x1f
    );
    (hart, bus)
}

#[test]
fn arithmetic_rounding_flags_and_conversions() {
    let (hart, _) = run("arith");
    // fa0 (f10) = 1.5 loaded by fld; the last instruction underflowed to zero.
    assert_eq!(hart.f[10], 1.5f64.to_bits());
    assert_eq!(hart.csr.fcsr, 0b00011, "UF|NX accrued, frm RNE");
    // FP state was written: FS is Dirty.
    assert_eq!(hart.read_mstatus() >> 63, 1);
}

#[test]
fn fs_gating_dirtiness_faults_and_reserved_modes() {
    let (hart, _) = run("trap");
    // The last trap was the flw access fault at 0x1004.
    assert_eq!(
        hart.csr.mcause, 5,
        "mepc {:#x} pc {:#x} mtvec {:#x} instret {}",
        hart.csr.mepc, hart.pc, hart.csr.mtvec, hart.instret
    );
    assert_eq!(hart.csr.mtval, 0x1004);
}

/// A check that fails must be reported: guards against a harness that cannot fail.
#[test]
fn a_failing_check_is_reported() {
    let image = asm_support::build("fp", "selftest_fail");
    let mut bus = RamBus { ram: GuestRam::new(BASE, 1 << 20) };
    bus.ram.write(BASE, &image).unwrap();
    let mut hart = Hart::new();
    hart.pc = BASE;
    assert_eq!(hart.run(&mut bus, 100_000), Exit::Wfi);
    assert_eq!(hart.x[10], 7);
}
