//! Timer latency at run time (host clock): a guest that arms the local APIC's TSC-deadline timer
//! 50 ms ahead must
//! - when it halts, make the board return `Slice::Idle` with exactly that host deadline (so the
//!   session sleeps, using no host CPU, and wakes on time), and not take the interrupt early;
//! - when it spins instead, get the interrupt in the first slice that starts after the deadline
//!   (timers are checked between slices, so a slice's length bounds the latency).
//!
//! The "kernel" is a hand-assembled fake bzImage: its 64-bit entry loads an IDT, enables the
//! APIC with the timer in TSC-deadline mode (vector 0x40), writes IA32_TSC_DEADLINE = TSC + 50 ms
//! and then halts or spins with interrupts on. The vector-0x40 handler writes the board's
//! power-off port, so delivery shows up as `Halt::PowerOff`.

use emu_core::session::{Halt, Machine, Slice};
use emu_core::FakeHost;
use emu_x86::board::{BootImage, X86Machine};

const SETUP: usize = 4 * 512;
const DEADLINE_NS: u64 = 50_000_000;
const HOST_START_NS: u64 = 5_000_000_000;

/// A bzImage whose protected-mode part (loaded at 1 MiB) holds the IDTR at +0x100, the entry
/// at +0x200, the handler at +0x300 and the IDT at +0x1000. `wait` is what follows STI.
fn fake_kernel(wait: &[u8]) -> Vec<u8> {
    let mut k = vec![0u8; SETUP + 0x2000];
    k[0x1f1] = 3; // setup_sects
    k[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    k[0x202..0x206].copy_from_slice(b"HdrS");
    k[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes()); // protocol 2.15
    k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()); // initrd_addr_max
    k[0x236..0x238].copy_from_slice(&1u16.to_le_bytes()); // XLF_KERNEL_64
    k[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes()); // cmdline_size
    k[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes()); // pref_address
    k[0x260..0x264].copy_from_slice(&0x100_0000u32.to_le_bytes()); // init_size
    let pm = &mut k[SETUP..];
    // IDTR: limit covers vectors 0..=0x40, base 0x101000.
    pm[0x100..0x102].copy_from_slice(&(16 * 0x41 - 1u16).to_le_bytes());
    pm[0x102..0x10a].copy_from_slice(&0x10_1000u64.to_le_bytes());
    let mut entry = vec![
        0x0f, 0x01, 0x1c, 0x25, 0x00, 0x01, 0x10, 0x00, // lidt [0x100100]
        0xbc, 0x00, 0x00, 0x18, 0x00, // mov esp, 0x180000
        0xb8, 0x00, 0x00, 0xe0, 0xfe, // mov eax, 0xfee00000 (LAPIC)
        0xc7, 0x80, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00, // SVR = 0x1ff (enabled)
        0xc7, 0x80, 0x20, 0x03, 0x00, 0x00, 0x40, 0x00, 0x04, 0x00, // LVT timer: TSC-deadline, 0x40
        0x0f, 0x31, // rdtsc
        0x48, 0xc1, 0xe2, 0x20, // shl rdx, 32
        0x48, 0x09, 0xd0, // or rax, rdx
        0x48, 0x05, 0x80, 0xf0, 0xfa, 0x02, // add rax, 50_000_000
        0x48, 0x89, 0xc2, // mov rdx, rax
        0x48, 0xc1, 0xea, 0x20, // shr rdx, 32
        0xb9, 0xe0, 0x06, 0x00, 0x00, // mov ecx, IA32_TSC_DEADLINE
        0x0f, 0x30, // wrmsr
        0xfb, // sti
    ];
    entry.extend_from_slice(wait);
    pm[0x200..0x200 + entry.len()].copy_from_slice(&entry);
    // Handler: out 0x501, al (power off), then halt forever.
    pm[0x300..0x309].copy_from_slice(&[0x66, 0xba, 0x01, 0x05, 0xee, 0xfa, 0xf4, 0xeb, 0xfd]);
    // Vector 0x40: 64-bit interrupt gate to 0x100300, selector 0x10 (the boot code segment).
    let gate = 0x1000 + 16 * 0x40;
    pm[gate..gate + 16].copy_from_slice(&[0x00, 0x03, 0x10, 0x00, 0x00, 0x8e, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
    k
}

fn machine(wait: &[u8], host: &mut FakeHost) -> X86Machine {
    let kernel = fake_kernel(wait);
    let mut m =
        X86Machine::new(BootImage { kernel: &kernel, initrd: &[], rootfs: vec![0; 4096], memory_mib: 64, cmdline: "" })
            .expect("machine");
    host.now_ns = HOST_START_NS;
    m.use_host_clock(host);
    m
}

#[test]
fn halted_guest_idles_until_its_timer_deadline_then_takes_the_interrupt() {
    let mut host = FakeHost::default();
    let mut m = machine(&[0xf4, 0xeb, 0xfd], &mut host); // hlt; jmp back to hlt
    let first = (0..10).map(|_| m.run_slice(&mut host)).find(|s| !matches!(s, Slice::Ran));
    let want = HOST_START_NS + DEADLINE_NS;
    assert!(matches!(first, Some(Slice::Idle { deadline_ns }) if deadline_ns == want), "{first:?}");
    // 1 ms early: still idle, same deadline, no interrupt.
    host.now_ns = want - 1_000_000;
    let early = m.run_slice(&mut host);
    assert!(matches!(early, Slice::Idle { deadline_ns } if deadline_ns == want), "{early:?}");
    host.now_ns = want;
    assert_eq!(m.run_slice(&mut host), Slice::Halted(Halt::PowerOff));
}

#[test]
fn spinning_guest_gets_its_timer_interrupt_in_the_first_slice_after_the_deadline() {
    let mut host = FakeHost::default();
    let mut m = machine(&[0xeb, 0xfe], &mut host); // jmp $
    for _ in 0..3 {
        assert_eq!(m.run_slice(&mut host), Slice::Ran, "a spinning guest runs whole slices");
    }
    host.now_ns = HOST_START_NS + DEADLINE_NS - 1;
    assert_eq!(m.run_slice(&mut host), Slice::Ran, "no interrupt before the deadline");
    host.now_ns = HOST_START_NS + DEADLINE_NS;
    assert_eq!(m.run_slice(&mut host), Slice::Halted(Halt::PowerOff));
}
