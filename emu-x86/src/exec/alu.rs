//! Integer arithmetic, logic, shifts and rotates, multiply/divide, bit operations and the
//! exchange family.

use super::Res;
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::fault::Fault;
use crate::flags::{mask, sign, FlagOp, Flags, ARITH, CF, OF};
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

#[inline]
fn sx(v: u64, size: u8) -> i64 {
    let sh = 64 - 8 * size as u32;
    ((v << sh) as i64) >> sh
}

impl Cpu {
    pub(super) fn alu2<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let a = self.rd(bus, i, 0)?;
        let b = self.rd(bus, i, 1)? & mask(size);
        let f = &mut self.flags;
        let (res, write) = match i.mnemonic() {
            M::Add => {
                let r = a.wrapping_add(b);
                f.set_lazy(FlagOp::Add, size, a, b, r);
                (r, true)
            }
            M::Adc => {
                let c = f.cf();
                let r = a.wrapping_add(b).wrapping_add(c as u64);
                f.set_adc(FlagOp::Adc, size, a, b, r, c);
                (r, true)
            }
            M::Sub | M::Cmp => {
                let r = a.wrapping_sub(b);
                f.set_lazy(FlagOp::Sub, size, a, b, r);
                (r, i.mnemonic() == M::Sub)
            }
            M::Sbb => {
                let c = f.cf();
                let r = a.wrapping_sub(b).wrapping_sub(c as u64);
                f.set_adc(FlagOp::Sbb, size, a, b, r, c);
                (r, true)
            }
            M::And | M::Test => {
                let r = a & b;
                f.set_lazy(FlagOp::Logic, size, 0, 0, r);
                (r, i.mnemonic() == M::And)
            }
            M::Or => {
                let r = a | b;
                f.set_lazy(FlagOp::Logic, size, 0, 0, r);
                (r, true)
            }
            _ => {
                let r = a ^ b;
                f.set_lazy(FlagOp::Logic, size, 0, 0, r);
                (r, true)
            }
        };
        if write {
            self.wr(bus, i, 0, res)?;
        }
        Ok(())
    }

    pub(super) fn alu1<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let a = self.rd(bus, i, 0)?;
        // Compute, write, then set flags, so a faulting write leaves the flags alone.
        let (r, op, fa, fb) = match i.mnemonic() {
            M::Inc => (a.wrapping_add(1), FlagOp::Inc, a, 1),
            M::Dec => (a.wrapping_sub(1), FlagOp::Dec, a, 1),
            M::Neg => (0u64.wrapping_sub(a), FlagOp::Sub, 0, a),
            _ => return self.wr(bus, i, 0, !a),
        };
        self.wr(bus, i, 0, r)?;
        self.flags.set_lazy(op, size, fa, fb, r);
        Ok(())
    }

    pub(super) fn shift<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let bits = 8 * size as u32;
        let cmask = if size == 8 { 63 } else { 31 };
        let count = (self.rd(bus, i, 1)? & cmask) as u32;
        if count == 0 {
            return self.shift_by_zero(bus, i, size);
        }
        let a = self.rd(bus, i, 0)? & mask(size);
        let m = mask(size);
        let sb = sign(size);
        let msb = |v: u64| v & sb != 0;
        let cf_in = self.flags.cf();
        let (r, cf, of, szp) = match i.mnemonic() {
            M::Shl | M::Sal => {
                let r = if count < 64 { (a << count) & m } else { 0 };
                let cf = count <= bits && (a >> (bits - count)) & 1 != 0;
                (r, cf, msb(r) ^ cf, true)
            }
            M::Shr => {
                let r = if count < 64 { a >> count } else { 0 };
                let cf = count <= bits && (a >> (count - 1)) & 1 != 0;
                (r, cf, msb(a), true)
            }
            M::Sar => {
                let s = sx(a, size);
                let r = (s >> count.min(63)) as u64 & m;
                let cf = (s >> (count - 1).min(63)) & 1 != 0;
                (r, cf, false, true)
            }
            M::Rol => {
                let c = count % bits;
                let r = if c == 0 { a } else { ((a << c) | (a >> (bits - c))) & m };
                let cf = r & 1 != 0;
                (r, cf, msb(r) ^ cf, false)
            }
            M::Ror => {
                let c = count % bits;
                let r = if c == 0 { a } else { ((a >> c) | (a << (bits - c))) & m };
                let cf = msb(r);
                (r, cf, msb(r) ^ (r & (sb >> 1) != 0), false)
            }
            M::Rcl => {
                let c = count % (bits + 1);
                let mut r = a;
                let mut cf = cf_in;
                for _ in 0..c {
                    let out = msb(r);
                    r = ((r << 1) | cf as u64) & m;
                    cf = out;
                }
                (r, cf, msb(r) ^ cf, false)
            }
            _ => {
                // RCR
                let c = count % (bits + 1);
                let of = msb(a) ^ cf_in;
                let mut r = a;
                let mut cf = cf_in;
                for _ in 0..c {
                    let out = r & 1 != 0;
                    r = (r >> 1) | if cf { sb } else { 0 };
                    cf = out;
                }
                (r, cf, of, false)
            }
        };
        self.wr(bus, i, 0, r)?;
        let mut f = (cf as u64) | if of { OF } else { 0 };
        if szp {
            f |= Flags::szp(r, size);
            self.flags.set_bits(ARITH, f);
        } else {
            self.flags.set_bits(CF | OF, f);
        }
        Ok(())
    }

    /// A shift by zero changes no flags, but still accesses a memory operand (it can fault)
    /// and still zero-extends a 32-bit register, as hardware does.
    fn shift_by_zero<B: Bus>(&mut self, bus: &mut B, i: &Instruction, size: u8) -> Res {
        let v = self.rd(bus, i, 0)?;
        if size == 4 && i.op0_kind() == OpKind::Register {
            self.wr(bus, i, 0, v)?;
        }
        Ok(())
    }

    pub(super) fn shift_double<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let bits = 8 * size as u32;
        let cmask = if size == 8 { 63 } else { 31 };
        let count = (self.rd(bus, i, 2)? & cmask) as u32;
        if count == 0 {
            return self.shift_by_zero(bus, i, size);
        }
        let a = self.rd(bus, i, 0)? & mask(size);
        let b = self.rd(bus, i, 1)? & mask(size);
        let sb = sign(size);
        // Work in 128 bits so that counts up to 31 on 16-bit operands behave as the
        // concatenation (Intel's documented-undefined case follows its hardware).
        let (r, cf) = if i.mnemonic() == M::Shld {
            let wide = if size == 2 {
                ((a as u128) << 32) | ((b as u128) << 16) | a as u128
            } else {
                ((a as u128) << bits) | b as u128
            };
            let total = if size == 2 { 48 } else { 2 * bits };
            let r = (wide << count) >> (total - bits);
            let cf = (wide >> (total - count)) & 1 != 0;
            (r as u64 & mask(size), cf)
        } else {
            let wide = if size == 2 {
                ((a as u128) << 32) | ((b as u128) << 16) | a as u128
            } else {
                ((b as u128) << bits) | a as u128
            };
            let r = wide >> count;
            let cf = (wide >> (count - 1)) & 1 != 0;
            (r as u64 & mask(size), cf)
        };
        self.wr(bus, i, 0, r)?;
        let of = (r ^ a) & sb != 0;
        let f = (cf as u64) | if of { OF } else { 0 } | Flags::szp(r, size);
        self.flags.set_bits(ARITH, f);
        Ok(())
    }

    pub(super) fn muldiv<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let mn = i.mnemonic();
        if mn == M::Imul && i.op_count() >= 2 {
            let size = Cpu::op_size(i, 0);
            let (a, b) = if i.op_count() == 3 {
                (self.rd(bus, i, 1)?, self.rd(bus, i, 2)?)
            } else {
                (self.rd(bus, i, 0)?, self.rd(bus, i, 1)?)
            };
            let full = sx(a, size) as i128 * sx(b, size) as i128;
            let r = full as u64 & mask(size);
            let ovf = sx(r, size) as i128 != full;
            self.set_reg(i.op0_register(), r);
            self.set_mul_flags(r, size, ovf);
            return Ok(());
        }
        let size = Cpu::op_size(i, 0);
        let src = self.rd(bus, i, 0)? & mask(size);
        let bits = 8 * size as u32;
        let m = mask(size);
        // Accumulator pair: AX for bytes (AL/AH), else rDX:rAX.
        let (lo, hi) = if size == 1 {
            (self.gpr[0] & 0xff, (self.gpr[0] >> 8) & 0xff)
        } else {
            (self.gpr[0] & m, self.gpr[2] & m)
        };
        match mn {
            M::Mul => {
                let p = lo as u128 * src as u128;
                let (l, h) = (p as u64 & m, (p >> bits) as u64 & m);
                self.store_pair(size, l, h);
                self.set_mul_flags(l, size, h != 0);
            }
            M::Imul => {
                let p = sx(lo, size) as i128 * sx(src, size) as i128;
                let (l, h) = (p as u64 & m, (p >> bits) as u64 & m);
                self.store_pair(size, l, h);
                self.set_mul_flags(l, size, sx(l, size) as i128 != p);
            }
            M::Div => {
                if src == 0 {
                    return Err(Fault::DE);
                }
                let n = ((hi as u128) << bits) | lo as u128;
                let q = n / src as u128;
                if q > m as u128 {
                    return Err(Fault::DE);
                }
                self.store_pair(size, q as u64, (n % src as u128) as u64);
            }
            _ => {
                if src == 0 {
                    return Err(Fault::DE);
                }
                let n = (((hi as u128) << bits) | lo as u128) as i128;
                // Sign-extend the 2*bits-wide dividend.
                let n = (n << (128 - 2 * bits)) >> (128 - 2 * bits);
                let d = sx(src, size) as i128;
                let q = n.wrapping_div(d);
                let r = n.wrapping_rem(d);
                let lim = 1i128 << (bits - 1);
                if q >= lim || q < -lim {
                    return Err(Fault::DE);
                }
                self.store_pair(size, q as u64 & m, r as u64 & m);
            }
        }
        Ok(())
    }

    fn store_pair(&mut self, size: u8, lo: u64, hi: u64) {
        match size {
            1 => self.set_reg(Register::AX, lo | (hi << 8)),
            2 => {
                self.set_reg(Register::AX, lo);
                self.set_reg(Register::DX, hi);
            }
            4 => {
                self.gpr[0] = lo;
                self.gpr[2] = hi;
            }
            _ => {
                self.gpr[0] = lo;
                self.gpr[2] = hi;
            }
        }
    }

    fn set_mul_flags(&mut self, r: u64, size: u8, ovf: bool) {
        let f = if ovf { CF | OF } else { 0 } | Flags::szp(r, size);
        self.flags.set_bits(ARITH, f);
    }

    pub(super) fn bit_test<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let bits = 8 * size as u64;
        let off = self.rd(bus, i, 1)?;
        let (val, bit, addr) = if i.op0_kind() == OpKind::Memory && i.op1_kind() == OpKind::Register {
            // A register bit offset is signed and may address memory outside the operand.
            let off = crate::exec::alu::sx(off, Cpu::op_size(i, 1));
            let a = self.ea(i).wrapping_add(((off >> (bits.trailing_zeros())) * size as i64) as u64);
            let bit = (off as u64) & (bits - 1);
            (self.read(bus, a, size)?, bit, Some(a))
        } else {
            (self.rd(bus, i, 0)?, off & (bits - 1), None)
        };
        let cf = (val >> bit) & 1 != 0;
        let new = match i.mnemonic() {
            M::Bts => val | (1 << bit),
            M::Btr => val & !(1 << bit),
            M::Btc => val ^ (1 << bit),
            _ => val,
        };
        if i.mnemonic() != M::Bt {
            match addr {
                Some(a) => self.write(bus, a, size, new)?,
                None => self.wr(bus, i, 0, new)?,
            }
        }
        self.flags.set_flag(CF, cf);
        Ok(())
    }

    pub(super) fn bit_scan<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let bits = 8 * size as u32;
        let src = self.rd(bus, i, 1)? & mask(size);
        let r = i.op0_register();
        use crate::flags::ZF;
        match i.mnemonic() {
            // TZCNT is not advertised (no BMI1), so F3 0F BC executes as BSF, as on such CPUs.
            M::Bsf | M::Tzcnt => {
                if src == 0 {
                    self.flags.set_flag(ZF, true);
                } else {
                    self.set_reg(r, src.trailing_zeros() as u64);
                    self.flags.set_bits(ARITH, 0);
                }
            }
            M::Bsr => {
                if src == 0 {
                    self.flags.set_flag(ZF, true);
                } else {
                    self.set_reg(r, 63 - src.leading_zeros() as u64);
                    self.flags.set_bits(ARITH, 0);
                }
            }
            M::Lzcnt => {
                let n = src.leading_zeros() - (64 - bits);
                self.set_reg(r, n as u64);
                let f = if src == 0 { CF } else { 0 } | if n == 0 { ZF } else { 0 };
                self.flags.set_bits(ARITH, f);
            }
            _ => {
                self.set_reg(r, src.count_ones() as u64);
                self.flags.set_bits(ARITH, if src == 0 { ZF } else { 0 });
            }
        }
        Ok(())
    }

    pub(super) fn xchg<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let a = self.rd(bus, i, 0)?;
        let b = self.rd(bus, i, 1)?;
        // Write the memory side first so a fault changes nothing.
        if i.op0_kind() == OpKind::Memory {
            self.wr(bus, i, 0, b)?;
            self.wr(bus, i, 1, a)
        } else {
            self.wr(bus, i, 1, a)?;
            self.wr(bus, i, 0, b)
        }
    }

    pub(super) fn cmpxchg<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let dest = self.rd(bus, i, 0)?;
        let acc = self.gpr[0] & mask(size);
        let src = self.rd(bus, i, 1)?;
        if acc == dest {
            self.wr(bus, i, 0, src)?;
        } else {
            // A memory destination is written back unchanged (a locked RMW cycle); a register
            // one is left alone (no zero-extension).
            if i.op0_kind() == OpKind::Memory {
                self.wr(bus, i, 0, dest)?;
            }
            let r = match size {
                1 => Register::AL,
                2 => Register::AX,
                4 => Register::EAX,
                _ => Register::RAX,
            };
            self.set_reg(r, dest);
        }
        self.flags.set_lazy(FlagOp::Sub, size, acc, dest, acc.wrapping_sub(dest));
        Ok(())
    }

    pub(super) fn cmpxchg_wide<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let a = self.ea(i);
        use crate::flags::ZF;
        if i.mnemonic() == M::Cmpxchg8b {
            let m = self.read(bus, a, 8)?;
            let cmp = (self.gpr[0] & 0xffff_ffff) | (self.gpr[2] << 32);
            if m == cmp {
                let new = (self.gpr[3] & 0xffff_ffff) | (self.gpr[1] << 32);
                self.write(bus, a, 8, new)?;
                self.flags.set_flag(ZF, true);
            } else {
                self.write(bus, a, 8, m)?;
                self.gpr[0] = m & 0xffff_ffff;
                self.gpr[2] = m >> 32;
                self.flags.set_flag(ZF, false);
            }
        } else {
            if a & 15 != 0 {
                return Err(Fault::GP(0));
            }
            let m = self.read128(bus, a)?;
            let cmp = self.gpr[0] as u128 | (self.gpr[2] as u128) << 64;
            if m == cmp {
                let new = self.gpr[3] as u128 | (self.gpr[1] as u128) << 64;
                self.write128(bus, a, new)?;
                self.flags.set_flag(ZF, true);
            } else {
                self.write128(bus, a, m)?;
                self.gpr[0] = m as u64;
                self.gpr[2] = (m >> 64) as u64;
                self.flags.set_flag(ZF, false);
            }
        }
        Ok(())
    }

    pub(super) fn xadd<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let size = Cpu::op_size(i, 0);
        let d = self.rd(bus, i, 0)?;
        let s = self.rd(bus, i, 1)?;
        let r = d.wrapping_add(s);
        self.wr(bus, i, 0, r)?;
        if !(i.op0_kind() == OpKind::Register && i.op0_register() == i.op1_register()) {
            self.wr(bus, i, 1, d)?;
        }
        self.flags.set_lazy(FlagOp::Add, size, d, s, r);
        Ok(())
    }
}
