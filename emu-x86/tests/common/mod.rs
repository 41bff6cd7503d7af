//! A flat test machine: RAM at 0, 4-level page tables with 4 KiB pages, a Linux-like GDT, a
//! TSS, and an IDT whose handler for vector v is a HLT at `HANDLERS + v`.
#![allow(dead_code)]

use emu_core::GuestRam;
use emu_x86::{Bus, Cpu, Exit};

pub const RAM: usize = 16 << 20;
pub const PML4: u64 = 0x1000;
pub const GDT: u64 = 0x8000;
pub const IDT: u64 = 0x9000;
pub const TSS: u64 = 0xa000;
pub const HANDLERS: u64 = 0xb000;
/// Page-table pages are handed out from here.
const PT_POOL: u64 = 0x10_0000;
pub const KSTACK_TOP: u64 = 0x8_0000;

pub const KERNEL_CS: u16 = 0x10;
pub const KERNEL_DS: u16 = 0x18;
pub const USER_DS: u16 = 0x2b;
pub const USER_CS: u16 = 0x33;

pub const P: u64 = 1;
pub const W: u64 = 2;
pub const U: u64 = 4;
pub const NX: u64 = 1 << 63;

pub struct TestBus {
    pub ram: GuestRam,
    next_pt: u64,
    pub out: Vec<(u16, u8, u32)>,
    pub irq: Option<u8>,
    pub tsc: u64,
}

impl Bus for TestBus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.ram
    }
    fn io_in(&mut self, port: u16, _size: u8) -> u32 {
        port as u32 ^ 0x5a
    }
    fn io_out(&mut self, port: u16, size: u8, value: u32) {
        self.out.push((port, size, value));
    }
    fn interrupt_pending(&mut self) -> bool {
        self.irq.is_some()
    }
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        self.irq.take()
    }
    fn tsc(&mut self) -> u64 {
        self.tsc += 1000;
        self.tsc
    }
}

impl TestBus {
    pub fn new() -> Self {
        Self { ram: GuestRam::new(0, RAM), next_pt: PT_POOL, out: Vec::new(), irq: None, tsc: 0 }
    }

    fn alloc_pt(&mut self) -> u64 {
        let p = self.next_pt;
        self.next_pt += 0x1000;
        self.ram.slice_mut(p, 4096).unwrap().fill(0);
        p
    }

    /// Maps the 4 KiB page at `va` to `pa` with `flags` (P is added; intermediate levels
    /// are P|W|U so the leaf decides).
    pub fn map(&mut self, va: u64, pa: u64, flags: u64) {
        let mut table = PML4;
        for level in (1..4).rev() {
            let idx = (va >> (12 + 9 * level)) & 0x1ff;
            let e = self.ram.read_u64(table + idx * 8).unwrap();
            table = if e & P == 0 {
                let t = self.alloc_pt();
                self.ram.write_u64(table + idx * 8, t | P | W | U).unwrap();
                t
            } else {
                e & 0x000f_ffff_ffff_f000
            };
        }
        let idx = (va >> 12) & 0x1ff;
        self.ram.write_u64(table + idx * 8, pa | flags | P).unwrap();
    }

    pub fn unmap(&mut self, va: u64) {
        self.map(va, 0, 0);
        let mut table = PML4;
        for level in (1..4).rev() {
            let idx = (va >> (12 + 9 * level)) & 0x1ff;
            table = self.ram.read_u64(table + idx * 8).unwrap() & 0x000f_ffff_ffff_f000;
        }
        self.ram.write_u64(table + ((va >> 12) & 0x1ff) * 8, 0).unwrap();
    }

    pub fn pte(&mut self, va: u64) -> u64 {
        let mut table = PML4;
        for level in (0..4).rev() {
            let idx = (va >> (12 + 9 * level)) & 0x1ff;
            let e = self.ram.read_u64(table + idx * 8).unwrap();
            if level == 0 {
                return e;
            }
            table = e & 0x000f_ffff_ffff_f000;
        }
        0
    }

    pub fn write(&mut self, pa: u64, data: &[u8]) {
        self.ram.write(pa, data).unwrap();
    }
}

/// A CPU in 64-bit mode at CPL 0, with the first 8 MiB identity-mapped (kernel, writable,
/// executable) except page 0, and interrupts off.
pub fn machine() -> (Cpu, TestBus) {
    let mut bus = TestBus::new();
    bus.ram.slice_mut(PML4, 4096).unwrap().fill(0);
    for pa in (0x1000..(8u64 << 20)).step_by(4096) {
        bus.map(pa, pa, W);
    }
    // GDT: null, unused, kernel code/data, user32 code, user data, user code, TSS.
    let gdt: [u64; 8] = [
        0,
        0,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x00cf_fb00_0000_ffff,
        0x00cf_f300_0000_ffff,
        0x00af_fb00_0000_ffff,
        0,
    ];
    for (k, d) in gdt.iter().enumerate() {
        bus.ram.write_u64(GDT + 8 * k as u64, *d).unwrap();
    }
    // 64-bit TSS descriptor at 0x40.
    let limit = 0x67u64;
    let lo = limit | ((TSS & 0xff_ffff) << 16) | (0x89 << 40) | (((TSS >> 24) & 0xff) << 56);
    bus.ram.write_u64(GDT + 0x40, lo).unwrap();
    bus.ram.write_u64(GDT + 0x48, TSS >> 32).unwrap();
    // TSS: RSP0 and IST1.
    bus.ram.write_u64(TSS + 4, KSTACK_TOP).unwrap();
    bus.ram.write_u64(TSS + 0x24, KSTACK_TOP - 0x4000).unwrap();
    // IDT: interrupt gates, DPL 3 so INT n works from user mode in tests.
    for v in 0..256u64 {
        let h = HANDLERS + v;
        let lo = (h & 0xffff) | ((KERNEL_CS as u64) << 16) | (0xee << 40) | (((h >> 16) & 0xffff) << 48);
        bus.ram.write_u64(IDT + 16 * v, lo).unwrap();
        bus.ram.write_u64(IDT + 16 * v + 8, h >> 32).unwrap();
        bus.ram.write(h, &[0xf4]).unwrap();
    }
    (long_mode(Cpu::new(RAM as u64)), bus)
}

/// `cpu` (new or reset) set up for the tables [`machine`] builds: 64-bit mode at CPL 0 with
/// the GDT, IDT, TSS and kernel stack.
pub fn long_mode(mut cpu: Cpu) -> Cpu {
    cpu.enter_long_mode(PML4, KERNEL_CS, KERNEL_DS);
    cpu.gdtr = emu_x86::TableReg { base: GDT, limit: 0x4f };
    cpu.idtr = emu_x86::TableReg { base: IDT, limit: 0xfff };
    cpu.tr = emu_x86::Segment { selector: 0x40, base: TSS, limit: 0x67, attr: 0x8b };
    cpu.gpr[4] = KSTACK_TOP;
    cpu
}

/// Runs until HLT; returns the exception vector if a handler stopped it, None if the code's
/// own HLT did.
pub fn run_to_halt(cpu: &mut Cpu, bus: &mut TestBus) -> Option<u8> {
    let e = cpu.run(bus, 1_000_000);
    assert!(matches!(e, Exit::Halt | Exit::Dead), "run ended with {e:?} at {:#x}", cpu.rip);
    let h = cpu.rip.wrapping_sub(1);
    (HANDLERS..HANDLERS + 256).contains(&h).then(|| (h - HANDLERS) as u8)
}
