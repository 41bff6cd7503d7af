//! System instructions: control and debug registers, descriptor tables, segment loads, MSRs,
//! CPUID, time stamp counter, port I/O, SYSCALL/SYSRET, SWAPGS, IRETQ, HLT, CLI/STI.

use super::Res;
use crate::bus::Bus;
use crate::cpu::{cr0, cr4, efer, Cpu, Segment, CS, DS, ES, FS, GS, SS};
use crate::fault::Fault;
use crate::flags::{self, IF, IOPL};
use crate::mmu::canonical;
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

pub mod msr {
    pub const TSC: u32 = 0x10;
    pub const APIC_BASE: u32 = 0x1b;
    pub const UCODE_REV: u32 = 0x8b;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const MISC_ENABLE: u32 = 0x1a0;
    pub const PAT: u32 = 0x277;
    pub const TSC_DEADLINE: u32 = 0x6e0;
    pub const EFER: u32 = 0xc000_0080;
    pub const STAR: u32 = 0xc000_0081;
    pub const LSTAR: u32 = 0xc000_0082;
    pub const CSTAR: u32 = 0xc000_0083;
    pub const SFMASK: u32 = 0xc000_0084;
    pub const FS_BASE: u32 = 0xc000_0100;
    pub const GS_BASE: u32 = 0xc000_0101;
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
    pub const TSC_AUX: u32 = 0xc000_0103;
}

impl Cpu {
    fn require_cpl0(&self) -> Res {
        if self.cpl() != 0 {
            return Err(Fault::GP(0));
        }
        Ok(())
    }

    pub(crate) fn check_io_privilege(&self) -> Res {
        // No I/O permission bitmap: user space never gets port access (Linux needs ioperm for
        // that, which this machine does not offer).
        if self.cpl() as u64 > (self.flags.bits & IOPL) >> 12 {
            return Err(Fault::GP(0));
        }
        Ok(())
    }

    pub(super) fn exec_system<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Option<Res> {
        Some(match i.mnemonic() {
            M::Hlt => self.require_cpl0().map(|()| {
                self.halted = true;
                self.stop_block = true;
            }),
            M::Cli | M::Sti => self.check_io_privilege().map(|()| {
                if i.mnemonic() == M::Sti {
                    if self.flags.bits & IF == 0 {
                        self.shadow = true;
                    }
                    self.flags.bits |= IF;
                } else {
                    self.flags.bits &= !IF;
                }
            }),
            M::In => self.port_in(bus, i),
            M::Out => self.port_out(bus, i),
            M::Cpuid => {
                let (a, b, c, d) = self.cpuid(self.gpr[0] as u32, self.gpr[1] as u32);
                self.gpr[0] = a as u64;
                self.gpr[3] = b as u64;
                self.gpr[1] = c as u64;
                self.gpr[2] = d as u64;
                Ok(())
            }
            M::Rdtsc | M::Rdtscp => {
                if self.cr4 & cr4::TSD != 0 && self.cpl() != 0 {
                    return Some(Err(Fault::GP(0)));
                }
                let t = bus.tsc();
                self.gpr[0] = t & 0xffff_ffff;
                self.gpr[2] = t >> 32;
                if i.mnemonic() == M::Rdtscp {
                    self.gpr[1] = self.msr.tsc_aux & 0xffff_ffff;
                }
                Ok(())
            }
            M::Rdmsr => self.require_cpl0().and_then(|()| {
                let v = self.read_msr(bus, self.gpr[1] as u32).ok_or(Fault::GP(0))?;
                self.gpr[0] = v & 0xffff_ffff;
                self.gpr[2] = v >> 32;
                Ok(())
            }),
            M::Wrmsr => self.require_cpl0().and_then(|()| {
                let v = (self.gpr[0] & 0xffff_ffff) | (self.gpr[2] << 32);
                self.write_msr(bus, self.gpr[1] as u32, v)
            }),
            M::Syscall => self.syscall(),
            M::Sysret | M::Sysretq => self.sysret(i),
            M::Swapgs => self.require_cpl0().map(|()| {
                std::mem::swap(&mut self.seg[GS].base, &mut self.msr.kernel_gs_base);
            }),
            M::Iretq | M::Iretd | M::Iret => self.iret(bus, i),
            M::Lgdt | M::Lidt => self.require_cpl0().and_then(|()| {
                let a = self.ea(i);
                let limit = self.read(bus, a, 2)? as u16;
                let base = self.read(bus, a.wrapping_add(2), 8)?;
                let t = crate::cpu::TableReg { base, limit };
                if i.mnemonic() == M::Lgdt {
                    self.gdtr = t;
                } else {
                    self.idtr = t;
                }
                Ok(())
            }),
            M::Sgdt | M::Sidt => {
                let t = if i.mnemonic() == M::Sgdt { self.gdtr } else { self.idtr };
                let a = self.ea(i);
                self.probe_write(bus, a, 10)
                    .and_then(|()| self.write(bus, a, 2, t.limit as u64))
                    .and_then(|()| self.write(bus, a.wrapping_add(2), 8, t.base))
            }
            M::Ltr => self.require_cpl0().and_then(|()| self.load_tr(bus, i)),
            M::Lldt => self.require_cpl0().and_then(|()| self.load_ldt(bus, i)),
            M::Str => {
                let v = self.tr.selector as u64;
                self.wr(bus, i, 0, v)
            }
            M::Sldt => {
                let v = self.ldtr.selector as u64;
                self.wr(bus, i, 0, v)
            }
            M::Smsw => {
                let v = self.cr0 & 0xffff;
                self.wr(bus, i, 0, v)
            }
            M::Invlpg => self.require_cpl0().map(|()| {
                let a = self.ea(i);
                self.flush_page(a);
            }),
            M::Clts => self.require_cpl0().map(|()| self.cr0 &= !cr0::TS),
            M::Wbinvd | M::Invd => self.require_cpl0(),
            M::Verw | M::Verr => {
                // Used by Linux only as a buffer-clearing barrier; report "not accessible".
                self.flags.set_flag(flags::ZF, false);
                Ok(())
            }
            _ => return None,
        })
    }

    fn port_in<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        self.check_io_privilege()?;
        let port = if i.op1_kind() == OpKind::Register { self.gpr[2] as u16 } else { i.immediate(1) as u16 };
        let r = i.op0_register();
        let v = bus.io_in(port, Cpu::reg_size(r));
        self.set_reg(r, v as u64);
        self.after_device_access(bus);
        Ok(())
    }

    fn port_out<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        self.check_io_privilege()?;
        let port = if i.op0_kind() == OpKind::Register { self.gpr[2] as u16 } else { i.immediate(0) as u16 };
        let r = i.op1_register();
        bus.io_out(port, Cpu::reg_size(r), self.reg(r) as u32);
        self.after_device_access(bus);
        Ok(())
    }

    /// Reads an MSR: the CPU's own, else the board's. `None` means #GP.
    pub fn read_msr<B: Bus>(&mut self, bus: &mut B, index: u32) -> Option<u64> {
        let m = &self.msr;
        Some(match index {
            msr::TSC => bus.tsc(),
            msr::UCODE_REV => 0,
            msr::SYSENTER_CS => m.sysenter_cs,
            msr::SYSENTER_ESP => m.sysenter_esp,
            msr::SYSENTER_EIP => m.sysenter_eip,
            msr::MISC_ENABLE => m.misc_enable,
            msr::PAT => m.pat,
            msr::EFER => self.efer,
            msr::STAR => m.star,
            msr::LSTAR => m.lstar,
            msr::CSTAR => m.cstar,
            msr::SFMASK => m.sfmask,
            msr::FS_BASE => self.seg[FS].base,
            msr::GS_BASE => self.seg[GS].base,
            msr::KERNEL_GS_BASE => m.kernel_gs_base,
            msr::TSC_AUX => m.tsc_aux,
            msr::TSC_DEADLINE if !self.features.tsc_deadline => return None,
            _ => return bus.rdmsr(index),
        })
    }

    /// Writes an MSR: the CPU's own, else the board's.
    pub fn write_msr<B: Bus>(&mut self, bus: &mut B, index: u32, v: u64) -> Res {
        let gp = Err(Fault::GP(0));
        match index {
            msr::UCODE_REV => {}
            msr::SYSENTER_CS => self.msr.sysenter_cs = v,
            msr::SYSENTER_ESP => self.msr.sysenter_esp = v,
            msr::SYSENTER_EIP => self.msr.sysenter_eip = v,
            msr::MISC_ENABLE => self.msr.misc_enable = v,
            msr::PAT => {
                // Each entry must name a valid memory type (0, 1, 4, 5, 6, 7).
                if (0..8).any(|k| matches!((v >> (8 * k)) & 0xff, 2 | 3 | 8..=255)) {
                    return gp;
                }
                self.msr.pat = v
            }
            msr::EFER => {
                let allowed = efer::SCE | efer::LME | efer::LMA | efer::NXE;
                if v & !allowed != 0 {
                    return gp;
                }
                // LMA is read-only: it follows LME once paging is on.
                let lma = if v & efer::LME != 0 && self.cr0 & cr0::PG != 0 { efer::LMA } else { 0 };
                let new = (v & !efer::LMA) | lma;
                if (new ^ self.efer) & efer::NXE != 0 {
                    self.flush_tlb(true);
                }
                self.efer = new;
            }
            msr::STAR => self.msr.star = v,
            msr::LSTAR | msr::CSTAR | msr::FS_BASE | msr::GS_BASE | msr::KERNEL_GS_BASE if !canonical(v) => return gp,
            msr::LSTAR => self.msr.lstar = v,
            msr::CSTAR => self.msr.cstar = v,
            msr::SFMASK => self.msr.sfmask = v & 0xffff_ffff,
            msr::FS_BASE => self.seg[FS].base = v,
            msr::GS_BASE => self.seg[GS].base = v,
            msr::KERNEL_GS_BASE => self.msr.kernel_gs_base = v,
            msr::TSC_AUX => self.msr.tsc_aux = v & 0xffff_ffff,
            msr::TSC_DEADLINE if !self.features.tsc_deadline => return gp,
            _ => {
                if !bus.wrmsr(index, v) {
                    return gp;
                }
                self.sample_after_msr(bus);
            }
        }
        Ok(())
    }

    fn sample_after_msr<B: Bus>(&mut self, bus: &mut B) {
        self.after_device_access(bus);
    }

    pub(super) fn mov_special<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let (d, s) = (i.op0_register(), i.op1_register());
        let cr = |r: Register| (Register::CR0 as u32..=Register::CR15 as u32).contains(&(r as u32));
        let dr = |r: Register| (Register::DR0 as u32..=Register::DR15 as u32).contains(&(r as u32));
        let seg = |r: Register| (Register::ES as u32..=Register::GS as u32).contains(&(r as u32));
        if i.op0_kind() == OpKind::Register && seg(d) {
            let v = self.rd(bus, i, 1)? as u16;
            return self.load_segment(bus, d, v);
        }
        self.require_cpl0()?;
        if cr(s) {
            let v = match s {
                Register::CR0 => self.cr0,
                Register::CR2 => self.cr2,
                Register::CR3 => self.cr3,
                Register::CR4 => self.cr4,
                Register::CR8 => self.cr8,
                _ => return Err(Fault::UD),
            };
            self.gpr[((d as usize) - Register::RAX as usize) & 15] = v;
            return Ok(());
        }
        if dr(s) {
            let n = s as usize - Register::DR0 as usize;
            let v = *self.dr.get(n).ok_or(Fault::UD)?;
            self.gpr[((d as usize) - Register::RAX as usize) & 15] = v;
            return Ok(());
        }
        let v = self.reg(s);
        if cr(d) {
            return self.write_cr(d, v);
        }
        if dr(d) {
            let n = d as usize - Register::DR0 as usize;
            if n >= 8 {
                return Err(Fault::UD);
            }
            self.dr[n] = v;
            return Ok(());
        }
        Err(Fault::UD)
    }

    fn write_cr(&mut self, r: Register, v: u64) -> Res {
        match r {
            Register::CR0 => {
                if v >> 32 != 0 || (v & cr0::PG != 0 && v & cr0::PE == 0) {
                    return Err(Fault::GP(0));
                }
                // Leaving paging while in long mode is not supported by this CPU model.
                if self.efer & efer::LMA != 0 && v & cr0::PG == 0 {
                    return Err(Fault::GP(0));
                }
                let changed = self.cr0 ^ v;
                self.cr0 = v | cr0::ET;
                if changed & (cr0::PG | cr0::WP | cr0::PE) != 0 {
                    self.flush_tlb(true);
                }
                if self.cr0 & cr0::PG != 0 && self.efer & efer::LME != 0 {
                    self.efer |= efer::LMA;
                }
            }
            Register::CR2 => self.cr2 = v,
            Register::CR3 => {
                if v >> crate::mmu::PHYS_BITS != 0 {
                    return Err(Fault::GP(0));
                }
                self.cr3 = v;
                self.flush_tlb(false);
            }
            Register::CR4 => {
                if v & !cr4::SUPPORTED != 0 || (self.efer & efer::LMA != 0 && v & cr4::PAE == 0) {
                    return Err(Fault::GP(0));
                }
                let changed = self.cr4 ^ v;
                self.cr4 = v;
                if changed & (cr4::PGE | cr4::PAE | cr4::PSE) != 0 {
                    self.flush_tlb(true);
                }
            }
            Register::CR8 => {
                if v >> 4 != 0 {
                    return Err(Fault::GP(0));
                }
                self.cr8 = v;
            }
            _ => return Err(Fault::UD),
        }
        self.stop_block = true;
        Ok(())
    }

    /// MOV/POP to a segment register in 64-bit mode.
    pub(crate) fn load_segment<B: Bus>(&mut self, bus: &mut B, r: Register, sel: u16) -> Res {
        let idx = match r {
            Register::ES => ES,
            Register::SS => SS,
            Register::DS => DS,
            Register::FS => FS,
            Register::GS => GS,
            _ => return Err(Fault::UD),
        };
        let cpl = self.cpl();
        if sel & !3 == 0 {
            // Null selector: allowed for data segments, and for SS below CPL 3.
            if idx == SS && (cpl == 3 || (sel & 3) as u8 != cpl) {
                return Err(Fault::GP(0));
            }
            let keep_base = if idx == FS || idx == GS { 0 } else { self.seg[idx].base };
            self.seg[idx] = Segment { selector: sel, base: keep_base, limit: 0, attr: 0 };
            if idx == SS {
                self.shadow = true;
            }
            return Ok(());
        }
        let d = self.read_descriptor(bus, sel)?;
        let s = Cpu::segment_from(sel, d);
        let rpl = (sel & 3) as u8;
        if idx == SS {
            // A writable data segment with RPL = DPL = CPL.
            if s.attr & 0x1a != 0x12 || rpl != cpl || s.dpl() != cpl {
                return Err(Fault::GP(sel & !3));
            }
            if s.attr & 0x80 == 0 {
                return Err(Fault::SS(sel & !3));
            }
            self.shadow = true;
        } else {
            // Data or readable code.
            let ok = s.attr & 0x10 != 0 && (s.attr & 0x8 == 0 || s.attr & 0x2 != 0);
            if !ok {
                return Err(Fault::GP(sel & !3));
            }
            if s.attr & 0x80 == 0 {
                return Err(Fault::NP(sel & !3));
            }
        }
        // In 64-bit mode only FS and GS keep a base from the descriptor (and only its low 32
        // bits; the MSRs set the rest).
        self.seg[idx] = s;
        Ok(())
    }

    fn load_tr<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let sel = self.rd(bus, i, 0)? as u16;
        if sel & !3 == 0 || sel & 4 != 0 {
            return Err(Fault::GP(sel & !3));
        }
        let lo = self.read_descriptor(bus, sel)?;
        let hi = self.read_as(bus, self.gdtr.base.wrapping_add((sel & !7) as u64 + 8), 8, false)?;
        let mut s = Cpu::segment_from(sel, lo);
        // An available 64-bit TSS.
        if s.attr & 0x1f != 0x09 {
            return Err(Fault::GP(sel & !3));
        }
        if s.attr & 0x80 == 0 {
            return Err(Fault::NP(sel & !3));
        }
        s.base |= (hi & 0xffff_ffff) << 32;
        // Mark it busy in the GDT.
        let a = self.gdtr.base.wrapping_add((sel & !7) as u64);
        self.write_as(bus, a, 8, lo | (2 << 40), false)?;
        s.attr |= 2;
        self.tr = s;
        Ok(())
    }

    fn load_ldt<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let sel = self.rd(bus, i, 0)? as u16;
        if sel & !3 == 0 {
            self.ldtr = Segment::default();
            return Ok(());
        }
        if sel & 4 != 0 {
            return Err(Fault::GP(sel & !3));
        }
        let lo = self.read_descriptor(bus, sel)?;
        let hi = self.read_as(bus, self.gdtr.base.wrapping_add((sel & !7) as u64 + 8), 8, false)?;
        let mut s = Cpu::segment_from(sel, lo);
        if s.attr & 0x1f != 0x02 {
            return Err(Fault::GP(sel & !3));
        }
        s.base |= (hi & 0xffff_ffff) << 32;
        self.ldtr = s;
        Ok(())
    }

    fn syscall(&mut self) -> Res {
        if self.efer & efer::SCE == 0 {
            return Err(Fault::UD);
        }
        self.gpr[1] = self.rip;
        let f = self.flags.get();
        self.gpr[11] = f & !flags::RF;
        let sel = ((self.msr.star >> 32) & 0xfffc) as u16;
        self.seg[CS] = Segment { selector: sel, base: 0, limit: 0xffff_ffff, attr: 0xa09b };
        self.seg[SS] = Segment { selector: sel + 8, base: 0, limit: 0xffff_ffff, attr: 0xc093 };
        self.flags.set_bits(flags::WRITABLE, f & !self.msr.sfmask & !flags::RF);
        self.rip = self.msr.lstar;
        self.stop_block = true;
        Ok(())
    }

    fn sysret(&mut self, i: &Instruction) -> Res {
        if self.efer & efer::SCE == 0 {
            return Err(Fault::UD);
        }
        self.require_cpl0()?;
        if i.mnemonic() != M::Sysretq {
            // Returning to compatibility mode needs 32-bit execution, which is not modelled.
            return Err(Fault::GP(0));
        }
        if !canonical(self.gpr[1]) {
            return Err(Fault::GP(0));
        }
        let base = ((self.msr.star >> 48) & 0xffff) as u16;
        // STAR is guest-written: its selector base may be near 0xffff.
        self.seg[CS] = Segment { selector: base.wrapping_add(16) | 3, base: 0, limit: 0xffff_ffff, attr: 0xa0fb };
        self.seg[SS] = Segment { selector: base.wrapping_add(8) | 3, base: 0, limit: 0xffff_ffff, attr: 0xc0f3 };
        self.rip = self.gpr[1];
        let v = (self.gpr[11] & 0x3c_7fd7) | 2;
        self.flags.set_bits(flags::WRITABLE, v);
        self.stop_block = true;
        Ok(())
    }

    fn iret<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        if i.mnemonic() != M::Iretq {
            return Err(Fault::GP(0));
        }
        let sp = self.gpr[4];
        let rip = self.read(bus, sp, 8)?;
        // The frame may wrap around the top of the address space (found by fuzzing).
        let cs_sel = self.read(bus, sp.wrapping_add(8), 8)? as u16;
        let rflags = self.read(bus, sp.wrapping_add(16), 8)?;
        let rsp = self.read(bus, sp.wrapping_add(24), 8)?;
        let ss_sel = self.read(bus, sp.wrapping_add(32), 8)? as u16;
        if rflags & flags::NT != 0 || rflags & flags::VM != 0 {
            return Err(Fault::GP(0));
        }
        let cpl = self.cpl();
        let rpl = (cs_sel & 3) as u8;
        if cs_sel & !3 == 0 || rpl < cpl {
            return Err(Fault::GP(cs_sel & !3));
        }
        let d = self.read_descriptor(bus, cs_sel)?;
        let cs = Cpu::segment_from(cs_sel, d);
        if cs.attr & 0x18 != 0x18 || cs.attr & Segment::ATTR_L == 0 {
            return Err(Fault::GP(cs_sel & !3));
        }
        if cs.attr & 0x80 == 0 {
            return Err(Fault::NP(cs_sel & !3));
        }
        if !canonical(rip) {
            return Err(Fault::GP(0));
        }
        let ss = if ss_sel & !3 == 0 {
            if rpl == 3 {
                return Err(Fault::GP(0));
            }
            Segment { selector: ss_sel, base: 0, limit: 0, attr: 0 }
        } else {
            let d = self.read_descriptor(bus, ss_sel)?;
            let s = Cpu::segment_from(ss_sel, d);
            if s.attr & 0x1a != 0x12 || (ss_sel & 3) as u8 != rpl || s.dpl() != rpl {
                return Err(Fault::GP(ss_sel & !3));
            }
            s
        };
        // Flags are written with the privilege of the code doing the IRET.
        self.write_flags_checked(rflags, 8);
        self.flags.bits &= !flags::RF;
        self.seg[CS] = cs;
        self.seg[SS] = ss;
        self.gpr[4] = rsp;
        self.rip = rip;
        if rpl > cpl {
            // Data segments the new privilege may not use become null.
            for s in [ES, DS, FS, GS] {
                let seg = self.seg[s];
                let code_conforming = seg.attr & 0x1c == 0x1c;
                if seg.selector & !3 != 0 && seg.dpl() < rpl && !code_conforming {
                    self.seg[s].selector = 0;
                }
            }
        }
        self.stop_block = true;
        Ok(())
    }
}
