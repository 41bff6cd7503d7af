//! The ISA and privileged-architecture suite: self-checking assembly programs in tests/isa/
//! run on the bare hart, starting in M-mode at 0x8000_0000.
//!
//! The bus is RAM, the board's CLINT and a `tohost` word: a program ends by writing 0 there
//! (every check passed) or the number of the failed check. The harness plays the machine's
//! part of the timers: a virtual clock of one tick per 10 retired instructions that jumps
//! ahead to the next timer deadline when the hart waits in WFI, as machine.rs does during
//! pre-boot.

mod asm_support;

use asm_support::{build, BASE};
use emu_core::GuestRam;
use emu_riscv::clint::{self, Clint};
use emu_riscv::csr::irq;
use emu_riscv::{Bus, Exit, Hart};

const RAM_SIZE: usize = 4 << 20;
const TOHOST: u64 = 0x1000_0000;
const INSNS_PER_TICK: u64 = 10;
/// Instructions between looks at the clock: small, so timer interrupts arrive promptly.
const SLICE: u64 = 64;
const MAX_INSNS: u64 = 4_000_000;

struct TestBus {
    ram: GuestRam,
    clint: Clint,
    mtime: u64,
    tohost: Option<u64>,
}

impl Bus for TestBus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.ram
    }
    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        if addr.wrapping_sub(clint::BASE) < clint::SIZE {
            return Some(self.clint.read(addr - clint::BASE, size, self.mtime));
        }
        None
    }
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> Option<()> {
        if addr.wrapping_sub(clint::BASE) < clint::SIZE {
            self.clint.write(addr - clint::BASE, size, value);
            return Some(());
        }
        if addr == TOHOST && size == 4 {
            self.tohost = Some(value as u32 as u64);
            return Some(());
        }
        None
    }
    // As the board does: the CLINT drives MTIP and MSIP, so writes to it act at once.
    fn external_interrupts(&mut self) -> u64 {
        let mti = if self.mtime >= self.clint.mtimecmp { irq::MTI } else { 0 };
        let msi = if self.clint.msip { irq::MSI } else { 0 };
        mti | msi
    }
    fn driven_interrupts(&self) -> u64 {
        irq::MEI | irq::SEI | irq::MTI | irq::MSI
    }
}

/// What a finished program left behind.
struct Outcome {
    hart: Hart,
    bus: TestBus,
    result: u64,
}

/// Mirrors machine.rs: time, MTIP/MSIP from the CLINT, STIP from stimecmp.
fn update_timers(hart: &mut Hart, bus: &mut TestBus, skipped: u64) {
    let now = skipped + hart.instret / INSNS_PER_TICK;
    hart.mtime = now;
    bus.mtime = now;
    hart.update_stip();
    let set = |mip: &mut u64, bit: u64, on: bool| if on { *mip |= bit } else { *mip &= !bit };
    set(&mut hart.csr.mip, irq::MTI, now >= bus.clint.mtimecmp);
    set(&mut hart.csr.mip, irq::MSI, bus.clint.msip);
}

fn execute(image: &[u8]) -> Outcome {
    let mut bus = TestBus { ram: GuestRam::new(BASE, RAM_SIZE), clint: Clint::default(), mtime: 0, tohost: None };
    bus.ram.write(BASE, image).expect("image fits in RAM");
    let mut hart = Hart::new();
    hart.pc = BASE;
    let mut skipped = 0u64;
    while bus.tohost.is_none() {
        assert!(hart.instret < MAX_INSNS, "did not finish (pc {:#x})", hart.pc);
        update_timers(&mut hart, &mut bus, skipped);
        if hart.wfi {
            if !hart.interrupt_waiting() {
                let stimecmp = if hart.csr.menvcfg >> 63 != 0 { hart.csr.stimecmp } else { u64::MAX };
                let deadline = stimecmp.min(bus.clint.mtimecmp);
                assert_ne!(deadline, u64::MAX, "WFI with no timer armed (pc {:#x})", hart.pc);
                skipped += deadline.saturating_sub(hart.mtime);
                update_timers(&mut hart, &mut bus, skipped);
            }
            hart.wfi = false;
        }
        // ISA_TRACE=1 prints every instruction's pc and privilege (debugging aid).
        let trace = std::env::var_os("ISA_TRACE").is_some();
        if trace {
            eprintln!("pc {:#x} prv {} mcause {:#x}", hart.pc, hart.prv, hart.csr.mcause);
        }
        match hart.run(&mut bus, if trace { 1 } else { SLICE }) {
            Exit::Budget | Exit::Wfi => {}
            other => panic!("unexpected exit {other:?} at pc {:#x}", hart.pc),
        }
    }
    let result = bus.tohost.unwrap();
    Outcome { hart, bus, result }
}

/// Runs tests/isa/<name>.S and requires every check in it to pass.
fn run(name: &str) -> Outcome {
    let out = execute(&build("isa", name));
    let h = &out.hart;
    assert_eq!(
        out.result, 0,
        "{name}: check {} failed; t5 {:#x} t6 {:#x} s2(cause) {:#x} s3(tval) {:#x} s4(epc) {:#x} pc {:#x}",
        out.result, h.x[30], h.x[31], h.x[18], h.x[19], h.x[20], h.pc
    );
    out
}

#[test]
fn rv64i_arithmetic_shifts_word_forms_loads_and_misaligned_access() {
    run("rv64i");
}

/// A wrong expectation must be reported: guards against a harness that cannot fail.
#[test]
fn a_failing_check_is_reported() {
    let out = execute(&build("isa", "selftest_fail"));
    assert_eq!(out.result, 3);
    assert_eq!(out.bus.tohost, Some(3));
}

#[test]
fn rv64m_high_multiplies_division_by_zero_and_overflow() {
    run("rv64m");
}

#[test]
fn rv64a_lr_sc_reservations_and_amos() {
    run("rv64a");
}

#[test]
fn rv64c_immediates_links_reserved_encodings_and_alignment() {
    run("rv64c");
}

#[test]
fn traps_xret_delegation_and_csr_privilege() {
    run("traps");
}

#[test]
fn vm_sv39_sv48_permissions_superpages_ad_bits_sfence_mprv() {
    run("vm");
}

#[test]
fn irq_timers_wfi_priority_delegation_and_counters() {
    run("irq");
}
