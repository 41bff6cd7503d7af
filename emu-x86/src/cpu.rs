//! The architectural state of one x86_64 CPU and its run loop.

use crate::bus::{Bus, Exit};
use crate::dcache::DecodeCache;
use crate::flags::{self, Flags};
use crate::mmu::Tlb;
use iced_x86::Register;

/// A segment register: the visible selector and the descriptor cache.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Segment {
    pub selector: u16,
    pub base: u64,
    pub limit: u32,
    /// Descriptor bits 40..47 (type, S, DPL, P) in the low byte and 52..55 (AVL, L, D/B, G)
    /// in bits 12..15, as VMX spells access rights.
    pub attr: u16,
}

impl Segment {
    pub const ATTR_L: u16 = 1 << 13;
    pub fn dpl(&self) -> u8 {
        ((self.attr >> 5) & 3) as u8
    }
}

pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;

/// A descriptor table register (GDTR, IDTR).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct TableReg {
    pub base: u64,
    pub limit: u16,
}

pub mod cr0 {
    pub const PE: u64 = 1 << 0;
    pub const MP: u64 = 1 << 1;
    pub const EM: u64 = 1 << 2;
    pub const TS: u64 = 1 << 3;
    pub const ET: u64 = 1 << 4;
    pub const NE: u64 = 1 << 5;
    pub const WP: u64 = 1 << 16;
    pub const AM: u64 = 1 << 18;
    pub const NW: u64 = 1 << 29;
    pub const CD: u64 = 1 << 30;
    pub const PG: u64 = 1 << 31;
}

pub mod cr4 {
    pub const VME: u64 = 1 << 0;
    pub const PVI: u64 = 1 << 1;
    pub const TSD: u64 = 1 << 2;
    pub const DE: u64 = 1 << 3;
    pub const PSE: u64 = 1 << 4;
    pub const PAE: u64 = 1 << 5;
    pub const MCE: u64 = 1 << 6;
    pub const PGE: u64 = 1 << 7;
    pub const PCE: u64 = 1 << 8;
    pub const OSFXSR: u64 = 1 << 9;
    pub const OSXMMEXCPT: u64 = 1 << 10;
    /// The CR4 bits this CPU implements; setting any other is #GP.
    pub const SUPPORTED: u64 = VME | PVI | TSD | DE | PSE | PAE | MCE | PGE | PCE | OSFXSR | OSXMMEXCPT;
}

pub mod efer {
    pub const SCE: u64 = 1 << 0;
    pub const LME: u64 = 1 << 8;
    pub const LMA: u64 = 1 << 10;
    pub const NXE: u64 = 1 << 11;
}

/// Optional CPU features the board decides about (they are reported by CPUID).
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// The board implements the TSC-deadline mode of its local APIC (MSR 0x6e0 goes to the
    /// bus).
    pub tsc_deadline: bool,
    /// RDRAND is advertised and fed by [`Bus::random`].
    pub rdrand: bool,
    /// The local APIC ID reported in CPUID.1:EBX.
    pub apic_id: u8,
}

/// Model-specific registers the CPU owns.
#[derive(Clone, Copy, Debug, Default)]
pub struct Msrs {
    pub star: u64,
    pub lstar: u64,
    pub cstar: u64,
    pub sfmask: u64,
    pub kernel_gs_base: u64,
    pub pat: u64,
    pub misc_enable: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
    pub tsc_aux: u64,
}

/// One x86_64 CPU. See the crate documentation for how a board drives it.
pub struct Cpu {
    /// RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15.
    pub gpr: [u64; 16],
    pub rip: u64,
    pub(crate) flags: Flags,
    pub seg: [Segment; 6],
    pub gdtr: TableReg,
    pub idtr: TableReg,
    pub ldtr: Segment,
    pub tr: Segment,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub cr8: u64,
    pub efer: u64,
    pub dr: [u64; 8],
    pub msr: Msrs,
    pub xmm: [u128; 16],
    pub mxcsr: u32,
    /// The x87 FPU state (see `exec/x87`).
    pub(crate) x87: crate::exec::X87,
    pub features: Features,
    /// Retired instructions.
    pub icount: u64,
    /// HLT executed; cleared when an interrupt is delivered.
    pub halted: bool,
    /// The interrupt controller's INTR line as last sampled from the bus.
    pub(crate) irq_line: bool,
    /// Interrupts are inhibited for one instruction after STI / MOV SS / POP SS.
    pub(crate) shadow: bool,
    /// Stop executing the current block after this instruction (code or mode changed).
    pub(crate) stop_block: bool,
    pub(crate) exit: Option<Exit>,
    /// Virtual address of the page the current block was decoded from.
    pub(crate) vbase: u64,
    /// The RAM offset of that page, while the run loop is in it.
    pub(crate) ram_page: usize,
    /// The privilege part of TLB tags (`mmu::user_tag`) for the run loop's memory accesses,
    /// set when a chain of blocks starts (privilege cannot change inside one).
    pub(crate) utag: u64,
    /// The run loop's budget: `icount` it must not pass.
    pub(crate) icount_end: u64,
    /// The arena index after the block the run loop is in (to give back the budget of what did
    /// not run when it stops inside).
    pub(crate) blk_end: u32,
    pub(crate) tlb: Box<Tlb>,
    pub(crate) dcache: DecodeCache,
}

impl Cpu {
    /// A CPU in the reset state for a machine whose RAM is `ram_size` bytes (the decoded
    /// instruction cache keeps one generation counter per RAM page). Boards normally follow with
    /// [`Cpu::enter_long_mode`].
    pub fn new(ram_size: u64) -> Self {
        Self::with_dcache(DecodeCache::new(ram_size))
    }

    /// The CPU in the state [`Cpu::new`] gives for the same RAM size, but keeping this one's
    /// decoded-instruction storage (emptied, not reallocated): for running many short
    /// programs, where allocating and filling megabytes per CPU would dominate (fuzzing).
    pub fn reset(self) -> Self {
        let mut dcache = self.dcache;
        dcache.reset();
        Self::with_dcache(dcache)
    }

    fn with_dcache(dcache: DecodeCache) -> Self {
        let mut cpu = Self {
            gpr: [0; 16],
            rip: 0xfff0,
            flags: Flags::default(),
            seg: [Segment { selector: 0, base: 0, limit: 0xffff, attr: 0x93 }; 6],
            gdtr: TableReg { base: 0, limit: 0xffff },
            idtr: TableReg { base: 0, limit: 0xffff },
            ldtr: Segment::default(),
            tr: Segment { selector: 0, base: 0, limit: 0xffff, attr: 0x8b },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            cr8: 0,
            efer: 0,
            dr: [0, 0, 0, 0, 0, 0, 0xffff_0ff0, 0x400],
            msr: Msrs { pat: 0x0007_0406_0007_0406, misc_enable: 1, ..Msrs::default() },
            xmm: [0; 16],
            mxcsr: 0x1f80,
            x87: crate::exec::X87::default(),
            features: Features::default(),
            icount: 0,
            halted: false,
            irq_line: false,
            shadow: false,
            stop_block: false,
            exit: None,
            vbase: 0,
            ram_page: 0,
            utag: 0,
            icount_end: 0,
            blk_end: 0,
            tlb: Box::default(),
            dcache,
        };
        cpu.seg[CS] = Segment { selector: 0xf000, base: 0xffff_0000, limit: 0xffff, attr: 0x9b };
        cpu.fninit();
        cpu
    }

    /// Puts the CPU in 64-bit mode at CPL 0 as the Linux 64-bit boot protocol expects: paging
    /// on with `cr3` (the caller built the page tables), PAE, long mode, NX enabled, flat
    /// 64-bit code segment with selector `cs_sel` and data segments with `ds_sel`, interrupts
    /// off. The GDT itself is the caller's (its descriptors are only read on later segment
    /// loads).
    pub fn enter_long_mode(&mut self, cr3: u64, cs_sel: u16, ds_sel: u16) {
        self.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::PG;
        self.cr4 = cr4::PAE | cr4::PGE | cr4::OSFXSR | cr4::OSXMMEXCPT;
        self.efer = efer::LME | efer::LMA | efer::NXE | efer::SCE;
        self.cr3 = cr3;
        self.seg[CS] = Segment { selector: cs_sel, base: 0, limit: 0xffff_ffff, attr: 0xa09b };
        for s in [ES, SS, DS, FS, GS] {
            self.seg[s] = Segment { selector: ds_sel, base: 0, limit: 0xffff_ffff, attr: 0xc093 };
        }
        self.tr = Segment { selector: 0, base: 0, limit: 0x67, attr: 0x8b };
        self.flags = Flags::default();
        self.flush_tlb(true);
    }

    /// Current privilege level.
    #[inline]
    pub fn cpl(&self) -> u8 {
        (self.seg[CS].selector & 3) as u8
    }

    pub fn rflags(&self) -> u64 {
        self.flags.get()
    }

    /// Sets RFLAGS (only architecturally writable bits; bit 1 reads as one).
    pub fn set_rflags(&mut self, v: u64) {
        self.flags.op = flags::FlagOp::Eager;
        self.flags.bits = (v & flags::WRITABLE) | 2;
    }

    /// Whether the CPU would take an external interrupt now.
    pub fn interrupts_enabled(&self) -> bool {
        self.flags.bits & flags::IF != 0 && !self.shadow
    }

    /// Tells the CPU the INTR line changed outside a run (a timer expired, input arrived).
    pub fn set_irq_line(&mut self, level: bool) {
        self.irq_line = level;
    }

    /// Forgets every decoded instruction and zeroes the decode cache's storage (before a
    /// snapshot of linear memory, which stores every non-zero byte).
    pub fn clear_decoded(&mut self) {
        self.dcache.clear();
    }

    /// Forgets decoded instructions in RAM `[off, off+len)` (offsets into guest RAM). Boards
    /// call this after a device wrote guest RAM directly (DMA), since such writes bypass the
    /// CPU's store path that otherwise detects changed code.
    pub fn invalidate_ram(&mut self, off: u64, len: u64) {
        self.dcache.invalidate_range(off, len);
    }

    fn sample_bus<B: Bus>(&mut self, bus: &mut B) {
        self.irq_line = bus.interrupt_pending();
        if bus.exit_requested() {
            self.exit = Some(Exit::Device);
        }
    }

    /// Called after every port or MMIO access: the device may have raised or lowered an
    /// interrupt, or asked for an exit.
    #[inline]
    pub(crate) fn after_device_access<B: Bus>(&mut self, bus: &mut B) {
        self.sample_bus(bus);
        self.stop_block = true;
    }

    /// Runs up to `budget` instructions (exactly: blocks are cut short at the budget).
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        self.sample_bus(bus);
        let end = self.icount.wrapping_add(budget);
        loop {
            if let Some(e) = self.exit.take() {
                return e;
            }
            if self.irq_line && !self.shadow && self.flags.bits & flags::IF != 0 {
                if let Some(v) = bus.acknowledge_interrupt() {
                    self.halted = false;
                    self.external_interrupt(bus, v);
                }
                self.irq_line = bus.interrupt_pending();
                if let Some(e) = self.exit.take() {
                    return e;
                }
            }
            self.shadow = false;
            if self.halted {
                return if self.flags.bits & flags::IF != 0 { Exit::Halt } else { Exit::Dead };
            }
            let left = end.wrapping_sub(self.icount);
            if left == 0 || left > budget {
                return Exit::Budget;
            }
            self.run_block(bus, left);
        }
    }

    // ---- register access by iced register ----

    /// Runs every instruction through the generic executor instead of the run loop's
    /// micro-ops (for tests that compare the two). Drops all decoded blocks.
    #[doc(hidden)]
    pub fn set_reference_interpreter(&mut self, on: bool) {
        self.dcache.reference = on;
        self.dcache.flush();
    }

    /// Reads a general-purpose register of any width, zero-extended.
    #[inline]
    pub(crate) fn reg(&self, r: Register) -> u64 {
        let n = r as usize;
        match n {
            53..=68 => self.gpr[n - 53],
            37..=52 => self.gpr[n - 37] & 0xffff_ffff,
            21..=36 => self.gpr[n - 21] & 0xffff,
            1..=4 => self.gpr[n - 1] & 0xff,
            5..=8 => (self.gpr[n - 5] >> 8) & 0xff,
            9..=20 => self.gpr[n - 5] & 0xff,
            _ => self.other_reg(r),
        }
    }

    fn other_reg(&self, r: Register) -> u64 {
        match r {
            Register::ES => self.seg[ES].selector as u64,
            Register::CS => self.seg[CS].selector as u64,
            Register::SS => self.seg[SS].selector as u64,
            Register::DS => self.seg[DS].selector as u64,
            Register::FS => self.seg[FS].selector as u64,
            Register::GS => self.seg[GS].selector as u64,
            _ => 0,
        }
    }

    /// Writes a general-purpose register with x86 merge rules (32-bit writes zero the top).
    #[inline]
    pub(crate) fn set_reg(&mut self, r: Register, v: u64) {
        let n = r as usize;
        match n {
            53..=68 => self.gpr[n - 53] = v,
            37..=52 => self.gpr[n - 37] = v & 0xffff_ffff,
            21..=36 => {
                let g = &mut self.gpr[n - 21];
                *g = (*g & !0xffff) | (v & 0xffff)
            }
            1..=4 => {
                let g = &mut self.gpr[n - 1];
                *g = (*g & !0xff) | (v & 0xff)
            }
            5..=8 => {
                let g = &mut self.gpr[n - 5];
                *g = (*g & !0xff00) | ((v & 0xff) << 8)
            }
            9..=20 => {
                let g = &mut self.gpr[n - 5];
                *g = (*g & !0xff) | (v & 0xff)
            }
            _ => {}
        }
    }

    /// Width in bytes of a general-purpose register.
    #[inline]
    pub(crate) fn reg_size(r: Register) -> u8 {
        match r as usize {
            53..=68 => 8,
            37..=52 => 4,
            21..=36 => 2,
            _ => 1,
        }
    }

    #[inline]
    pub(crate) fn xmm_index(r: Register) -> usize {
        (r as usize).wrapping_sub(Register::XMM0 as usize) & 15
    }
}
