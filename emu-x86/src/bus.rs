//! What the machine around the CPU provides: RAM, MMIO, port I/O, board-owned MSRs, time and
//! the interrupt controller's acknowledge cycle.

use emu_core::GuestRam;

/// The CPU's view of the board. Every method except [`Bus::ram`] has a harmless default so
/// tests can use a RAM-only bus.
pub trait Bus {
    fn ram(&mut self) -> &mut GuestRam;
    /// MMIO read of `size` (1, 2, 4, 8) bytes at physical `addr`; unmapped space reads all ones.
    fn mmio_read(&mut self, _addr: u64, size: u8) -> u64 {
        u64::MAX >> (64 - 8 * size as u32)
    }
    /// MMIO write; writes to unmapped space are ignored.
    fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) {}
    /// Port input of `size` (1, 2, 4) bytes; absent ports read all ones.
    fn io_in(&mut self, _port: u16, size: u8) -> u32 {
        (u64::MAX >> (64 - 8 * size as u32)) as u32
    }
    fn io_out(&mut self, _port: u16, _size: u8, _value: u32) {}
    /// Whether the interrupt controller asserts INTR. Sampled at block boundaries after every
    /// port or MMIO access and at the start of [`crate::Cpu::run`].
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    /// The INTA cycle: the vector of the highest-priority pending interrupt, now in service.
    /// `None` if it went away (spurious): the CPU carries on.
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        None
    }
    /// An MSR the CPU does not own (APIC base, TSC deadline, ...). `None` = #GP.
    fn rdmsr(&mut self, _msr: u32) -> Option<u64> {
        None
    }
    /// `false` = #GP.
    fn wrmsr(&mut self, _msr: u32, _value: u64) -> bool {
        false
    }
    /// The time stamp counter (RDTSC, RDTSCP, MSR 0x10). The board decides what time means
    /// (retired instructions during pre-boot, host time at run time).
    fn tsc(&mut self) -> u64 {
        0
    }
    /// A random value for RDRAND/RDSEED; `None` = not advertised (#UD).
    fn random(&mut self) -> Option<u64> {
        None
    }
    /// Sampled with [`Bus::interrupt_pending`]: a device asks the run loop to return
    /// [`Exit::Device`] (power-off port, console output to flush, ...).
    fn exit_requested(&mut self) -> bool {
        false
    }
}

/// Why [`crate::Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The instruction budget was used up.
    Budget,
    /// HLT with interrupts enabled: sleep until the next interrupt or deadline, then call
    /// `run` again (the CPU wakes on its own once [`Bus::interrupt_pending`] is true).
    Halt,
    /// HLT with interrupts disabled: nothing can wake the CPU but NMI/reset.
    Dead,
    /// A fault while delivering a double fault: the machine resets or stops.
    TripleFault,
    /// [`Bus::exit_requested`] returned true.
    Device,
}
