//! Stack operations and control transfers within the current privilege level.

use super::Res;
use crate::bus::Bus;
use crate::cpu::{Cpu, CS};
use crate::fault::Fault;
use crate::flags::{self, IF, IOPL};
use crate::mmu::canonical;
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

impl Cpu {
    pub(super) fn stack_op<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        match i.mnemonic() {
            M::Push => {
                let size = (-i.stack_pointer_increment()) as u8;
                let v = if i.op0_kind() == OpKind::Register && (i.op0_register() as u32) >= Register::ES as u32 {
                    self.reg(i.op0_register())
                } else {
                    self.rd(bus, i, 0)?
                };
                self.push(bus, v, size)
            }
            M::Pop => {
                let size = i.stack_pointer_increment() as u8;
                let r0 = i.op0_register();
                if i.op0_kind() == OpKind::Register && (r0 as u32) >= Register::ES as u32 {
                    let v = self.read(bus, self.gpr[4], size)?;
                    self.load_segment(bus, r0, v as u16)?;
                    self.gpr[4] = self.gpr[4].wrapping_add(size as u64);
                    return Ok(());
                }
                let v = self.read(bus, self.gpr[4], size)?;
                let old = self.gpr[4];
                self.gpr[4] = old.wrapping_add(size as u64);
                // POP into memory addresses with the incremented RSP.
                if let Err(f) = self.wr(bus, i, 0, v) {
                    self.gpr[4] = old;
                    return Err(f);
                }
                Ok(())
            }
            M::Pushfq | M::Pushf => {
                let size = (-i.stack_pointer_increment()) as u8;
                // VM and RF read as zero in the pushed image.
                let f = self.flags.get() & !(flags::VM | flags::RF);
                self.push(bus, f, size)
            }
            M::Popfq | M::Popf => {
                let size = i.stack_pointer_increment() as u8;
                let v = self.read(bus, self.gpr[4], size)?;
                self.gpr[4] = self.gpr[4].wrapping_add(size as u64);
                self.write_flags_checked(v, size);
                Ok(())
            }
            M::Leave => {
                let size = i.stack_pointer_increment();
                let size = if size == 0 { 8 } else { size.unsigned_abs() as u8 };
                let size = if Cpu::reg_size(i.op0_register()) == 2 { 2 } else { size };
                let v = self.read(bus, self.gpr[5], size)?;
                self.gpr[4] = self.gpr[5].wrapping_add(size as u64);
                if size == 2 {
                    self.set_reg(Register::BP, v);
                } else {
                    self.gpr[5] = v;
                }
                Ok(())
            }
            _ => {
                // ENTER imm16, imm8.
                let alloc = i.immediate(0) & 0xffff;
                let level = i.immediate(1) & 31;
                let sp = self.gpr[4].wrapping_sub(8);
                self.write(bus, sp, 8, self.gpr[5])?;
                let frame = sp;
                let mut sp2 = sp;
                let mut bp = self.gpr[5];
                if level > 0 {
                    for _ in 1..level {
                        bp = bp.wrapping_sub(8);
                        let v = self.read(bus, bp, 8)?;
                        sp2 = sp2.wrapping_sub(8);
                        self.write(bus, sp2, 8, v)?;
                    }
                    sp2 = sp2.wrapping_sub(8);
                    self.write(bus, sp2, 8, frame)?;
                }
                self.gpr[5] = frame;
                self.gpr[4] = sp2.wrapping_sub(alloc);
                Ok(())
            }
        }
    }

    /// POPF/IRET flag update with the privilege rules: IOPL only at CPL 0, IF only when
    /// CPL <= IOPL; VM and RF are never set this way.
    pub(crate) fn write_flags_checked(&mut self, v: u64, size: u8) {
        let cpl = self.cpl() as u64;
        let iopl = (self.flags.bits & IOPL) >> 12;
        let mut which = flags::WRITABLE & !(flags::RF | flags::VM);
        if cpl != 0 {
            which &= !IOPL;
        }
        if cpl > iopl {
            which &= !IF;
        }
        if size == 2 {
            which &= 0xffff;
        }
        self.flags.set_bits(which, v);
    }

    pub(super) fn control<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        match i.mnemonic() {
            M::Jmp => {
                let t = match i.op0_kind() {
                    OpKind::NearBranch64 => self.vbase.wrapping_add(i.near_branch64()),
                    OpKind::Register | OpKind::Memory => self.rd(bus, i, 0)?,
                    _ => return Err(Fault::UD),
                };
                self.branch(t)
            }
            M::Call => {
                let t = match i.op0_kind() {
                    OpKind::NearBranch64 => self.vbase.wrapping_add(i.near_branch64()),
                    OpKind::Register | OpKind::Memory => self.rd(bus, i, 0)?,
                    _ => return Err(Fault::UD),
                };
                if !canonical(t) {
                    return Err(Fault::GP(0));
                }
                self.push(bus, self.rip, 8)?;
                self.rip = t;
                Ok(())
            }
            M::Ret => {
                let t = self.read(bus, self.gpr[4], 8)?;
                if !canonical(t) {
                    return Err(Fault::GP(0));
                }
                let extra = if i.op_count() > 0 { i.immediate(0) & 0xffff } else { 0 };
                self.gpr[4] = self.gpr[4].wrapping_add(8 + extra);
                self.rip = t;
                Ok(())
            }
            M::Retf => self.far_return(bus, i),
            M::Loop | M::Loope | M::Loopne => {
                let c = self.gpr[1].wrapping_sub(1);
                self.gpr[1] = c;
                let go = c != 0
                    && match i.mnemonic() {
                        M::Loope => self.flags.zf(),
                        M::Loopne => !self.flags.zf(),
                        _ => true,
                    };
                if go {
                    self.rip = self.vbase.wrapping_add(i.near_branch64());
                }
                Ok(())
            }
            M::Jrcxz => {
                if self.gpr[1] == 0 {
                    self.rip = self.vbase.wrapping_add(i.near_branch64());
                }
                Ok(())
            }
            _ => {
                if self.gpr[1] as u32 == 0 {
                    self.rip = self.vbase.wrapping_add(i.near_branch64());
                }
                Ok(())
            }
        }
    }

    #[inline]
    fn branch(&mut self, t: u64) -> Res {
        if !canonical(t) {
            return Err(Fault::GP(0));
        }
        self.rip = t;
        Ok(())
    }

    /// RETF (LRETQ), as Linux uses it to reload CS after loading its GDT: same privilege or
    /// outer privilege.
    fn far_return<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size: u8 = if i.code() == iced_x86::Code::Retfq || i.code() == iced_x86::Code::Retfq_imm16 { 8 } else { 4 };
        let sp = self.gpr[4];
        let rip = self.read(bus, sp, size)?;
        let sel = self.read(bus, sp.wrapping_add(size as u64), size)? as u16;
        let extra = if i.op_count() > 0 { i.immediate(0) & 0xffff } else { 0 };
        let rpl = (sel & 3) as u8;
        if rpl < self.cpl() {
            return Err(Fault::GP(sel & !3));
        }
        let d = self.read_descriptor(bus, sel)?;
        let seg = Cpu::segment_from(sel, d);
        if seg.attr & 0x18 != 0x18 {
            return Err(Fault::GP(sel & !3));
        }
        if seg.attr & 0x80 == 0 {
            return Err(Fault::NP(sel & !3));
        }
        if rpl > self.cpl() {
            let nsp = sp.wrapping_add(2 * size as u64 + extra);
            let new_rsp = self.read(bus, nsp, size)?;
            let ss = self.read(bus, nsp.wrapping_add(size as u64), size)? as u16;
            self.load_segment(bus, Register::SS, ss)?;
            self.gpr[4] = new_rsp.wrapping_add(extra);
        } else {
            self.gpr[4] = sp.wrapping_add(2 * size as u64 + extra);
        }
        self.seg[CS] = seg;
        self.rip = rip;
        self.stop_block = true;
        Ok(())
    }
}
