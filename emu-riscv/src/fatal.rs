//! CPU states the guest can never leave: the riscv64 equivalent of an x86 triple fault.
//!
//! The machine has no M-mode firmware (the SBI is implemented in the emulator), and every
//! exception Linux can handle is delegated to S-mode. So a trap that reaches M-mode has no
//! handler: the hart jumps to mtvec (0, not RAM), faults on the fetch, and traps there again
//! forever. Likewise a fault on fetching the kernel's own trap vector re-enters the same fault
//! forever. Both states are stable, so sampling them between slices is enough to catch them.

use crate::hart::{Hart, PRV_M, PRV_S};

/// scause/mcause codes of instruction fetch faults.
const FETCH_ACCESS_FAULT: u64 = 1;
const FETCH_PAGE_FAULT: u64 = 12;

/// Exceptions the machine delegates to S-mode: everything Linux handles itself (what M-mode
/// firmware such as OpenSBI would hand down). Not delegated: ECALL from S (the SBI, which the
/// machine implements) and from M (never executed).
pub const MEDELEG: u64 = (1 << 0) // instruction address misaligned
    | (1 << FETCH_ACCESS_FAULT)
    | (1 << 2) // illegal instruction
    | (1 << 3) // breakpoint
    | (1 << 4) // load address misaligned
    | (1 << 5) // load access fault
    | (1 << 6) // store/AMO address misaligned
    | (1 << 7) // store/AMO access fault
    | (1 << 8) // ECALL from U
    | (1 << FETCH_PAGE_FAULT)
    | (1 << 13) // load page fault
    | (1 << 15); // store/AMO page fault

/// A description of the fatal state the hart is in, or `None` if it can still make progress.
pub fn trap_loop(hart: &Hart) -> Option<String> {
    let c = &hart.csr;
    if hart.prv == PRV_M {
        return Some(format!(
            "the CPU took a trap that nothing handles (a trap into machine mode, which has no firmware here: \
             mcause {:#x}, mepc {:#x}, mtval {:#x})",
            c.mcause, c.mepc, c.mtval
        ));
    }
    let vector = c.stvec & !3;
    let cause = c.scause;
    if hart.prv == PRV_S
        && cause >> 63 == 0
        && (cause == FETCH_ACCESS_FAULT || cause == FETCH_PAGE_FAULT)
        && c.sepc == vector
    {
        return Some(format!(
            "the CPU cannot fetch the kernel's trap handler at {vector:#x} (scause {cause:#x}): a double fault"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{BootImage, RiscvMachine};
    use emu_core::session::{Halt, Machine, Slice};
    use emu_core::FakeHost;

    /// A "kernel" whose first instruction is 0x0000 (illegal) and which never set stvec.
    fn machine() -> RiscvMachine {
        let mut kernel = vec![0u8; 4096];
        kernel[0x30..0x38].copy_from_slice(b"RISCV\0\0\0");
        RiscvMachine::new(BootImage { kernel: &kernel, initrd: &[], rootfs: Vec::new(), memory_mib: 64, cmdline: "" })
            .unwrap()
    }

    /// Runs the machine on a thread until it halts; a hart that never returns from its run (a
    /// trap loop not counted against the budget) fails the test instead of hanging it.
    fn run_until_halt(mut m: RiscvMachine) -> Halt {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut host = FakeHost::default();
            for _ in 0..100 {
                if let Slice::Halted(h) = m.run_slice(&mut host) {
                    let _ = tx.send(Some(h));
                    return;
                }
            }
            let _ = tx.send(None);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(Some(h)) => h,
            Ok(None) => panic!("the machine kept running"),
            Err(_) => panic!("the hart never returned from its trap loop"),
        }
    }

    #[test]
    fn a_fault_on_the_trap_vector_is_a_double_fault() {
        // Illegal instruction -> S trap to stvec 0 -> fetch fault at 0 -> S trap to 0 -> ...
        let Halt::Fatal(msg) = run_until_halt(machine()) else { panic!("not fatal") };
        assert!(msg.contains("double fault"), "{msg}");
    }

    #[test]
    fn a_trap_into_machine_mode_is_fatal() {
        let mut m = machine();
        m.hart.csr.medeleg = 0;
        let Halt::Fatal(msg) = run_until_halt(m) else { panic!("not fatal") };
        assert!(msg.contains("machine mode"), "{msg}");
    }

    #[test]
    fn a_running_hart_is_not_fatal() {
        let m = machine();
        assert_eq!(trap_loop(&m.hart), None);
        assert_eq!(m.hart.csr.medeleg, MEDELEG);
    }
}
