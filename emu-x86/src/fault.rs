//! Exceptions and interrupt delivery through the 64-bit IDT (gates, IST, TSS stacks,
//! double and triple faults).

use crate::bus::{Bus, Exit};
use crate::cpu::{Cpu, Segment, CS, SS};
use crate::flags;

/// A synchronous exception raised by an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// #DE divide error.
    DE,
    /// #DB debug.
    DB,
    /// #UD invalid opcode.
    UD,
    /// #NM device not available (CR0.TS or EM).
    NM,
    /// #DF double fault.
    DF,
    /// #TS invalid TSS, with selector error code.
    TS(u16),
    /// #NP segment not present.
    NP(u16),
    /// #SS stack fault.
    SS(u16),
    /// #GP general protection.
    GP(u16),
    /// #PF page fault: linear address (goes to CR2) and error code.
    PF { addr: u64, code: u32 },
    /// #MF x87 floating-point error.
    MF,
    /// #AC alignment check.
    AC,
    /// #XM SIMD floating-point exception.
    XM,
}

impl Fault {
    pub fn vector(self) -> u8 {
        match self {
            Fault::DE => 0,
            Fault::DB => 1,
            Fault::UD => 6,
            Fault::NM => 7,
            Fault::DF => 8,
            Fault::TS(_) => 10,
            Fault::NP(_) => 11,
            Fault::SS(_) => 12,
            Fault::GP(_) => 13,
            Fault::PF { .. } => 14,
            Fault::MF => 16,
            Fault::AC => 17,
            Fault::XM => 19,
        }
    }

    pub fn error_code(self) -> Option<u32> {
        match self {
            Fault::DF => Some(0),
            Fault::TS(e) | Fault::NP(e) | Fault::SS(e) | Fault::GP(e) => Some(e as u32),
            Fault::AC => Some(0),
            Fault::PF { code, .. } => Some(code),
            _ => None,
        }
    }

    /// 0 benign, 1 contributory, 2 page fault (the double-fault rules).
    fn class(self) -> u8 {
        match self {
            Fault::DE | Fault::TS(_) | Fault::NP(_) | Fault::SS(_) | Fault::GP(_) => 1,
            Fault::PF { .. } => 2,
            _ => 0,
        }
    }
}

/// How an event entered the CPU (decides the DPL check and the EXT bit of error codes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// INT n, INT3, INTO: the gate's DPL must allow the current CPL.
    Software,
    /// An exception raised by an instruction.
    Exception,
    /// An external interrupt from the interrupt controller.
    External,
}

impl Cpu {
    /// Delivers `f`, raised by the instruction at `self.rip`, through the IDT; escalates to
    /// #DF and to a triple fault (which stops the run loop) as the architecture says.
    pub(crate) fn raise<B: Bus>(&mut self, bus: &mut B, f: Fault) {
        self.halted = false;
        // A delivered exception uses budget like an instruction: a handler that faults at once
        // would otherwise loop here without `run` ever returning (found by the x86 fuzzer).
        self.icount = self.icount.wrapping_add(1);
        let mut first = f;
        let mut cur = f;
        loop {
            if let Fault::PF { addr, .. } = cur {
                self.cr2 = addr;
            }
            match self.deliver(bus, cur.vector(), cur.error_code(), Source::Exception) {
                Ok(()) => return,
                Err(second) => {
                    if first == Fault::DF || cur == Fault::DF {
                        log::warn!("x86: triple fault at rip {:#x} ({first:?}, then {second:?})", self.rip);
                        self.exit = Some(Exit::TripleFault);
                        return;
                    }
                    let (c1, c2) = (first.class(), second.class());
                    cur = if (c1 == 1 && c2 == 1) || (c1 == 2 && c2 >= 1) { Fault::DF } else { second };
                    first = cur;
                }
            }
        }
    }

    /// Delivers a software interrupt (INT n): `self.rip` already points past the instruction.
    pub(crate) fn software_interrupt<B: Bus>(&mut self, bus: &mut B, vector: u8) -> Result<(), Fault> {
        self.deliver(bus, vector, None, Source::Software)
    }

    pub(crate) fn external_interrupt<B: Bus>(&mut self, bus: &mut B, vector: u8) {
        if let Err(f) = self.deliver(bus, vector, None, Source::External) {
            self.raise(bus, f);
        }
    }

    /// Reads the 8-byte descriptor for `sel` from the GDT or LDT.
    pub(crate) fn read_descriptor<B: Bus>(&mut self, bus: &mut B, sel: u16) -> Result<u64, Fault> {
        let (base, limit) = if sel & 4 != 0 {
            (self.ldtr.base, self.ldtr.limit as u64)
        } else {
            (self.gdtr.base, self.gdtr.limit as u64)
        };
        let off = (sel & !7) as u64;
        if off + 7 > limit {
            return Err(Fault::GP(sel & !3));
        }
        self.read_as(bus, base.wrapping_add(off), 8, false)
    }

    /// The descriptor cache contents for a code/data descriptor.
    pub(crate) fn segment_from(sel: u16, d: u64) -> Segment {
        let base = ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24);
        let mut limit = ((d & 0xffff) | (((d >> 48) & 0xf) << 16)) as u32;
        if d & (1 << 55) != 0 {
            limit = (limit << 12) | 0xfff;
        }
        let attr = (((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 12)) as u16;
        Segment { selector: sel, base, limit, attr }
    }

    fn deliver<B: Bus>(&mut self, bus: &mut B, vector: u8, err: Option<u32>, src: Source) -> Result<(), Fault> {
        let ext = (src == Source::External) as u16;
        let idt_err = ((vector as u16) << 3) | 2 | ext;
        let v = vector as u64;
        if v * 16 + 15 > self.idtr.limit as u64 {
            return Err(Fault::GP(idt_err));
        }
        let gate = self.idtr.base.wrapping_add(v * 16);
        let lo = self.read_as(bus, gate, 8, false)?;
        let hi = self.read_as(bus, gate + 8, 8, false)?;
        let target = (lo & 0xffff) | ((lo >> 48) << 16) | ((hi & 0xffff_ffff) << 32);
        let sel = (lo >> 16) as u16;
        let ist = (lo >> 32) & 7;
        let typ = (lo >> 40) & 0xf;
        let dpl = ((lo >> 45) & 3) as u8;
        if typ != 0xe && typ != 0xf {
            return Err(Fault::GP(idt_err));
        }
        let cpl = self.cpl();
        if src == Source::Software && dpl < cpl {
            return Err(Fault::GP(idt_err));
        }
        if lo & (1 << 47) == 0 {
            return Err(Fault::NP(idt_err));
        }
        if sel & !3 == 0 {
            return Err(Fault::GP(ext));
        }
        let d = self.read_descriptor(bus, sel)?;
        let cs = Self::segment_from(sel, d);
        // A present 64-bit code segment.
        if cs.attr & 0x18 != 0x18 || cs.attr & Segment::ATTR_L == 0 {
            return Err(Fault::GP((sel & !3) | ext));
        }
        if cs.attr & 0x80 == 0 {
            return Err(Fault::NP((sel & !3) | ext));
        }
        let new_cpl = if cs.attr & 4 != 0 { cpl } else { cs.dpl() };
        if new_cpl > cpl {
            return Err(Fault::GP((sel & !3) | ext));
        }
        let old_rsp = self.gpr[4];
        let mut rsp = old_rsp;
        if ist != 0 {
            rsp = self.read_as(bus, self.tr.base.wrapping_add(0x24 + 8 * (ist - 1)), 8, false)?;
        } else if new_cpl < cpl {
            rsp = self.read_as(bus, self.tr.base.wrapping_add(4 + 8 * new_cpl as u64), 8, false)?;
        }
        rsp &= !0xf;
        let rflags = self.flags.get();
        let frame = [self.seg[SS].selector as u64, old_rsp, rflags, self.seg[CS].selector as u64, self.rip];
        for w in frame {
            rsp = rsp.wrapping_sub(8);
            self.write_as(bus, rsp, 8, w, false)?;
        }
        if let Some(e) = err {
            rsp = rsp.wrapping_sub(8);
            self.write_as(bus, rsp, 8, e as u64, false)?;
        }
        // Committed: nothing below can fault.
        if new_cpl != cpl {
            self.seg[SS] = Segment { selector: new_cpl as u16, base: 0, limit: 0, attr: 0 };
        }
        self.seg[CS] = Segment { selector: (sel & !3) | new_cpl as u16, ..cs };
        self.gpr[4] = rsp;
        self.rip = target;
        let mut clear = flags::TF | flags::NT | flags::RF | flags::VM;
        if typ == 0xe {
            clear |= flags::IF;
        }
        self.flags.materialize();
        self.flags.bits &= !clear;
        self.stop_block = true;
        Ok(())
    }
}
