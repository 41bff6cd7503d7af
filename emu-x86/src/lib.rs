//! An x86_64 CPU core for c2w's x86_64 machine: 64-bit long mode, 4-level paging, interrupts
//! and exceptions through the IDT, the general-purpose ISA, x87, MMX, SSE/SSE2, SYSCALL/SYSRET.
//! Instructions are decoded by `iced-x86` once into a cache of basic blocks keyed by guest
//! physical address (see `dcache.rs`); the common forms become compact micro-ops that a tight
//! loop runs, chaining from block to block (see `exec/uop.rs` and `exec/fast.rs`), and the rest
//! go through the generic executor (`exec/mod.rs`). Memory goes through a software TLB of host
//! RAM offsets (see `mmu.rs`); arithmetic flags are computed lazily (see `flags.rs`).
//!
//! # Driving the CPU (for the board)
//!
//! ```text
//! let mut cpu = Cpu::new(ram.size());
//! cpu.features.tsc_deadline = true;          // if the local APIC implements it
//! cpu.enter_long_mode(pml4_addr, 0x10, 0x18); // page tables and GDT built by the loader
//! cpu.rip = kernel_entry;
//! cpu.gpr[6] = boot_params_addr;              // RSI, per the 64-bit boot protocol
//! loop {
//!     match cpu.run(&mut board, budget_until_next_deadline) {
//!         Exit::Budget => {}                  // timers: raise lines, then run again
//!         Exit::Halt => board.sleep_until_deadline_or_input(),
//!         Exit::Dead | Exit::TripleFault => break,
//!         Exit::Device => board.handle_request(),
//!     }
//! }
//! ```
//!
//! - [`Bus`] is everything outside the CPU: RAM, MMIO, ports, the MSRs the board owns
//!   (APIC base 0x1b, TSC deadline 0x6e0: [`Bus::rdmsr`]/[`Bus::wrmsr`] get every MSR the CPU
//!   does not own), the time stamp counter ([`Bus::tsc`]), RDRAND's source, and the interrupt
//!   controller.
//! - Interrupts: the bus reports the INTR line in [`Bus::interrupt_pending`]; the CPU samples
//!   it at the start of `run` and after every port/MMIO/MSR access, and at the next block
//!   boundary (the line only changes on such accesses or between runs, and IF only through
//!   instructions that end the run of chained blocks: see `exec/fast.rs`),
//!   if RFLAGS.IF is set and no STI/MOV SS shadow is active, runs the INTA cycle
//!   ([`Bus::acknowledge_interrupt`]) and delivers the vector through the IDT. A board whose
//!   line changes between runs (a timer expired) can also call [`Cpu::set_irq_line`]. NMI
//!   and SMI are not modelled.
//! - HLT returns [`Exit::Halt`] (or [`Exit::Dead`] with interrupts off); the next `run` returns
//!   at once with `Halt` until an interrupt is pending.
//! - Device DMA into RAM must be followed by [`Cpu::invalidate_ram`] for the written range,
//!   or code loaded that way may run stale decodes.
//! - [`Cpu::read_msr`]/[`Cpu::write_msr`] and the public register fields give the board (and
//!   snapshots) full access to the state.
//!
//! # Not implemented (yet)
//!
//! SSE3 and later (so no FISTTP), real mode, 16/32-bit protected mode and compatibility mode, task switches, call
//! gates, I/O permission bitmaps, debug registers' breakpoints, single-step (TF), MXCSR
//! exception flags and non-default SSE arithmetic rounding. CPUID advertises none of these.
//! The x87 FPU is complete (80-bit soft-float, see `exec/x87`) except for the last
//! instruction/data pointers, and the exponent rebiasing of unmasked overflow/underflow.

pub mod board;
mod bus;
mod cpu;
mod cpuid;
mod dcache;
mod exec;
mod fault;
mod flags;
mod mmu;

pub use bus::{Bus, Exit};
pub use cpu::{cr0, cr4, efer, Cpu, Features, Msrs, Segment, TableReg, CS, DS, ES, FS, GS, SS};
pub use cpuid::advertised;
pub use exec::msr;
pub use fault::Fault;
pub use flags::{AF, CF, DF, IF, OF, PF, SF, ZF};
pub use mmu::Access;
