//! The interpreter: block dispatch from the decode cache, operand access, and the
//! per-mnemonic dispatch into the instruction groups.

mod alu;
mod control;
mod fast;
mod mmx;
mod sse;
mod string;
mod system;
pub(crate) mod uop;
mod x87;

pub use system::msr;
pub(crate) use x87::X87;

use crate::bus::Bus;
use crate::cpu::{Cpu, FS, GS};
use crate::fault::Fault;
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

pub(crate) type Res = Result<(), Fault>;

impl Cpu {
    /// An instruction that crosses a page boundary: gathered from both pages, decoded and run
    /// on its own, never cached.
    pub(super) fn run_straddling<B: Bus>(&mut self, bus: &mut B) {
        let rip = self.rip;
        let mut bytes = [0u8; 15];
        let first = (4096 - (rip & 0xfff)) as usize;
        for (k, b) in bytes.iter_mut().enumerate() {
            let addr = rip.wrapping_add(k as u64);
            let off = match self.fetch_ram_off(bus, addr) {
                Ok(o) => o,
                Err(f) if k >= first => {
                    // Only a fault if the instruction really needs these bytes.
                    let mut d = Decoder::with_ip(64, &bytes[..k], 0, DecoderOptions::NONE);
                    let i = d.decode();
                    if i.is_invalid() {
                        return self.raise(bus, f);
                    }
                    break;
                }
                Err(f) => return self.raise(bus, f),
            };
            *b = bus.ram().as_slice()[off];
        }
        let mut d = Decoder::with_ip(64, &bytes, rip & 0xfff, DecoderOptions::NONE);
        let mut ins = d.decode();
        if !crate::cpuid::advertised(ins.code(), self.features.rdrand) {
            ins.set_code(iced_x86::Code::INVALID);
        }
        let vbase = rip & !0xfff;
        self.vbase = vbase;
        self.rip = vbase.wrapping_add(ins.next_ip());
        self.icount += 1;
        if let Err(f) = self.exec(bus, &ins) {
            self.icount -= 1;
            self.rip = rip;
            self.raise(bus, f);
        }
        self.stop_block = false;
    }

    // ---- operands ----

    /// Effective (linear) address of the memory operand, segment base included.
    #[inline]
    pub(crate) fn ea(&self, i: &Instruction) -> u64 {
        let a = self.offset_of(i);
        match i.memory_segment() {
            Register::FS => a.wrapping_add(self.seg[FS].base),
            Register::GS => a.wrapping_add(self.seg[GS].base),
            _ => a,
        }
    }

    /// The memory operand's offset (what LEA computes).
    #[inline]
    pub(crate) fn offset_of(&self, i: &Instruction) -> u64 {
        let base = i.memory_base();
        if base == Register::RIP {
            return self.vbase.wrapping_add(i.memory_displacement64());
        }
        let mut a = i.memory_displacement64();
        if base != Register::None {
            a = a.wrapping_add(self.reg(base));
        }
        let index = i.memory_index();
        if index != Register::None {
            a = a.wrapping_add(self.reg(index) << (i.memory_index_scale().trailing_zeros()));
        }
        // 32-bit address size (0x67).
        let r =
            |x: Register| (Register::EAX as u32..=Register::R15D as u32).contains(&(x as u32)) || x == Register::EIP;
        if r(base) || r(index) {
            if base == Register::EIP {
                return self.vbase.wrapping_add(i.memory_displacement64()) & 0xffff_ffff;
            }
            a &= 0xffff_ffff;
        }
        a
    }

    /// Size in bytes of operand `n` (register or memory).
    #[inline]
    pub(crate) fn op_size(i: &Instruction, n: u32) -> u8 {
        match i.op_kind(n) {
            OpKind::Register => Cpu::reg_size(i.op_register(n)),
            OpKind::Memory => i.memory_size().size() as u8,
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
            _ => 8,
        }
    }

    /// Reads integer operand `n`: register, memory (up to 8 bytes) or immediate.
    #[inline]
    pub(crate) fn rd<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32) -> Result<u64, Fault> {
        match i.op_kind(n) {
            OpKind::Register => Ok(self.reg(i.op_register(n))),
            OpKind::Memory => {
                let a = self.ea(i);
                let size = i.memory_size().size() as u8;
                self.read(bus, a, size.min(8))
            }
            _ => Ok(i.immediate(n)),
        }
    }

    /// Writes integer operand `n` (register or memory).
    #[inline]
    pub(crate) fn wr<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32, v: u64) -> Res {
        match i.op_kind(n) {
            OpKind::Register => {
                self.set_reg(i.op_register(n), v);
                Ok(())
            }
            _ => {
                let a = self.ea(i);
                let size = i.memory_size().size() as u8;
                self.write(bus, a, size.min(8), v)
            }
        }
    }

    #[inline]
    pub(crate) fn push<B: Bus>(&mut self, bus: &mut B, v: u64, size: u8) -> Res {
        let sp = self.gpr[4].wrapping_sub(size as u64);
        self.write(bus, sp, size, v)?;
        self.gpr[4] = sp;
        Ok(())
    }

    /// Executes one instruction. `self.rip` already holds the address of the next one.
    pub(crate) fn exec<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        use Mnemonic as M;
        match i.mnemonic() {
            M::Mov => self.mov(bus, i),
            M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test => self.alu2(bus, i),
            M::Inc | M::Dec | M::Neg | M::Not => self.alu1(bus, i),
            M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => self.shift(bus, i),
            M::Shld | M::Shrd => self.shift_double(bus, i),
            M::Mul | M::Imul | M::Div | M::Idiv => self.muldiv(bus, i),
            M::Bt | M::Bts | M::Btr | M::Btc => self.bit_test(bus, i),
            M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt | M::Popcnt => self.bit_scan(bus, i),
            M::Bswap => {
                let r = i.op0_register();
                let v = if Cpu::reg_size(r) == 8 {
                    self.reg(r).swap_bytes()
                } else {
                    (self.reg(r) as u32).swap_bytes() as u64
                };
                self.set_reg(r, v);
                Ok(())
            }
            M::Xchg => self.xchg(bus, i),
            M::Cmpxchg => self.cmpxchg(bus, i),
            M::Cmpxchg8b | M::Cmpxchg16b => self.cmpxchg_wide(bus, i),
            M::Xadd => self.xadd(bus, i),
            M::Movzx => {
                let v = self.rd(bus, i, 1)?;
                self.wr(bus, i, 0, v)
            }
            M::Movsx | M::Movsxd => {
                let s = Cpu::op_size(i, 1);
                let v = self.rd(bus, i, 1)?;
                let sh = 64 - 8 * s as u32;
                self.wr(bus, i, 0, (((v << sh) as i64) >> sh) as u64)
            }
            M::Lea => {
                let v = self.offset_of(i);
                self.set_reg(i.op0_register(), v);
                Ok(())
            }
            M::Cbw => {
                let v = self.gpr[0] as i8 as u16 as u64;
                self.set_reg(Register::AX, v);
                Ok(())
            }
            M::Cwde => {
                self.gpr[0] = self.gpr[0] as i16 as i32 as u32 as u64;
                Ok(())
            }
            M::Cdqe => {
                self.gpr[0] = self.gpr[0] as i32 as i64 as u64;
                Ok(())
            }
            M::Cwd => {
                let v = if self.gpr[0] & 0x8000 != 0 { 0xffff } else { 0 };
                self.set_reg(Register::DX, v);
                Ok(())
            }
            M::Cdq => {
                self.gpr[2] = if self.gpr[0] & 0x8000_0000 != 0 { 0xffff_ffff } else { 0 };
                Ok(())
            }
            M::Cqo => {
                self.gpr[2] = ((self.gpr[0] as i64) >> 63) as u64;
                Ok(())
            }
            M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg => {
                let v = self.rd(bus, i, 1)?;
                let r = i.op0_register();
                let cc = i.condition_code() as u8 - 1;
                // A 32-bit CMOV zero-extends even when the condition is false.
                let v = if self.flags.cond(cc) { v } else { self.reg(r) };
                self.set_reg(r, v);
                Ok(())
            }
            M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg => {
                let cc = i.condition_code() as u8 - 1;
                let v = self.flags.cond(cc) as u64;
                self.wr(bus, i, 0, v)
            }
            M::Push | M::Pop | M::Pushfq | M::Pushf | M::Popfq | M::Popf | M::Enter | M::Leave => self.stack_op(bus, i),
            M::Jmp | M::Call | M::Ret | M::Retf | M::Loop | M::Loope | M::Loopne | M::Jrcxz | M::Jecxz => {
                self.control(bus, i)
            }
            M::Jo
            | M::Jno
            | M::Jb
            | M::Jae
            | M::Je
            | M::Jne
            | M::Jbe
            | M::Ja
            | M::Js
            | M::Jns
            | M::Jp
            | M::Jnp
            | M::Jl
            | M::Jge
            | M::Jle
            | M::Jg => {
                if self.flags.cond(i.condition_code() as u8 - 1) {
                    self.rip = self.vbase.wrapping_add(i.near_branch64());
                }
                Ok(())
            }
            M::Movsb
            | M::Movsw
            | M::Movsq
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Stosq
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Lodsq
            | M::Scasb
            | M::Scasw
            | M::Scasd
            | M::Scasq
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsq
            | M::Insb
            | M::Insw
            | M::Insd
            | M::Outsb
            | M::Outsw
            | M::Outsd => self.string(bus, i),
            M::Movsd if matches!(i.op0_kind(), OpKind::MemoryESRDI | OpKind::MemoryESEDI) => self.string(bus, i),
            M::Cmpsd if matches!(i.op0_kind(), OpKind::MemorySegRSI | OpKind::MemorySegESI) => self.string(bus, i),
            M::Lahf => {
                let f = self.flags.get() as u8 | 2;
                self.set_reg(Register::AH, (f & 0xd7 | 2) as u64);
                Ok(())
            }
            M::Sahf => {
                let v = (self.gpr[0] >> 8) & 0xd5;
                self.flags.set_bits(0xd5, v);
                Ok(())
            }
            M::Clc => {
                self.flags.set_flag(crate::flags::CF, false);
                Ok(())
            }
            M::Stc => {
                self.flags.set_flag(crate::flags::CF, true);
                Ok(())
            }
            M::Cmc => {
                let c = self.flags.cf();
                self.flags.set_flag(crate::flags::CF, !c);
                Ok(())
            }
            M::Cld => {
                self.flags.bits &= !crate::flags::DF;
                Ok(())
            }
            M::Std => {
                self.flags.bits |= crate::flags::DF;
                Ok(())
            }
            M::Nop
            | M::Pause
            | M::Mfence
            | M::Lfence
            | M::Sfence
            | M::Prefetchnta
            | M::Prefetcht0
            | M::Prefetcht1
            | M::Prefetcht2
            | M::Prefetchw
            | M::Endbr64
            | M::Endbr32 => Ok(()),
            M::Clflush | M::Clflushopt => {
                // Only the address translation matters (it can fault).
                let a = self.ea(i);
                self.read(bus, a, 1).map(|_| ())
            }
            M::Ud0 | M::Ud1 | M::Ud2 => Err(Fault::UD),
            M::Int3 => self.software_interrupt(bus, 3),
            M::Int => self.software_interrupt(bus, i.immediate8()),
            M::Int1 => self.software_interrupt(bus, 1),
            M::Rdrand | M::Rdseed => {
                if !self.features.rdrand {
                    return Err(Fault::UD);
                }
                let v = bus.random();
                let r = i.op0_register();
                self.set_reg(r, v.unwrap_or(0));
                self.flags.set_bits(crate::flags::ARITH, v.is_some() as u64);
                Ok(())
            }
            _ => self.exec_more(bus, i),
        }
    }

    fn exec_more<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        if let Some(r) = self.exec_system(bus, i) {
            return r;
        }
        if let Some(r) = self.exec_mmx(bus, i) {
            return r;
        }
        if let Some(r) = self.exec_sse(bus, i) {
            return r;
        }
        if let Some(r) = self.exec_x87(bus, i) {
            return r;
        }
        log::debug!("x86: unimplemented {:?} at {:#x}", i.code(), self.vbase.wrapping_add(i.ip()));
        Err(Fault::UD)
    }

    fn mov<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let (k0, k1) = (i.op0_kind(), i.op1_kind());
        if k0 == OpKind::Register && k1 == OpKind::Register {
            let (d, s) = (i.op0_register(), i.op1_register());
            let special = |r: Register| (r as u32) >= Register::ES as u32;
            if special(d) || special(s) {
                // MOV r16/r32/r64, Sreg: any CPL, zero-extended by set_reg's width rules.
                let seg = |r: Register| (Register::ES as u32..=Register::GS as u32).contains(&(r as u32));
                if seg(s) && !special(d) {
                    let v = self.reg(s);
                    self.set_reg(d, v);
                    return Ok(());
                }
                return self.mov_special(bus, i);
            }
            let v = self.reg(s);
            self.set_reg(d, v);
            return Ok(());
        }
        if k0 == OpKind::Register && (i.op0_register() as u32) >= Register::ES as u32 {
            return self.mov_special(bus, i);
        }
        if k1 == OpKind::Register && (i.op1_register() as u32) >= Register::ES as u32 {
            // MOV r/m16, Sreg.
            let v = self.reg(i.op1_register());
            return self.wr(bus, i, 0, v);
        }
        let v = self.rd(bus, i, 1)?;
        self.wr(bus, i, 0, v)
    }
}
