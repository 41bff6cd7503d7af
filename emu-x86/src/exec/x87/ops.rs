//! The x87 instructions: operand fetch (registers with stack-fault checks, memory in every
//! format), the operation in the soft-float, and the write-back of results, flags and C0-C3.

use super::convert;
use super::f80::{self, Class, Ctx, F80, IE, INDEFINITE};
use super::special;
use super::state::{C0, C1, C2, C3, SF};
use super::trans;
use crate::bus::Bus;
use crate::cpu::Cpu;
use crate::exec::Res;
use crate::fault::Fault;
use iced_x86::{Instruction, MemorySize, Mnemonic as M, OpKind, Register};

/// The stack-fault bit, carried in `Ctx::flags` beside the exception flags (it is SF's bit
/// in the status word).
const STACK: u8 = SF as u8;

fn sti(r: Register) -> usize {
    (r as u32).wrapping_sub(Register::ST0 as u32) as usize & 7
}

#[derive(Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Subr,
    Mul,
    Div,
    Divr,
}

impl Cpu {
    fn fctx(&self) -> Ctx {
        Ctx::new(self.x87.rc(), self.x87.pc_bits())
    }

    /// ST(i), or None after recording a stack underflow.
    fn fget(&self, c: &mut Ctx, i: usize) -> Option<F80> {
        if self.x87.is_empty(i) {
            c.flags |= IE | STACK;
            c.up = false;
            None
        } else {
            Some(self.x87.st(i))
        }
    }

    /// Records the flags and C1 (= the rounded-up bit, or the stack overflow bit); returns
    /// whether the result may be written (no unmasked IE, DE or ZE).
    fn fflags(&mut self, c: &Ctx) -> bool {
        // A stack fault hides whatever the operands would have raised.
        let flags = if c.flags & STACK != 0 { IE | STACK } else { c.flags };
        let x = &mut self.x87;
        x.fsw = (x.fsw & !C1) | (flags as u16 & 0x7f) | if c.up { C1 } else { 0 };
        x.update_es();
        (flags & (f80::IE | f80::DE | f80::ZE)) as u16 & !x.fcw == 0
    }

    /// `fflags` for the instructions that leave C1 alone unless the stack faults.
    fn fflags_keep_c1(&mut self, c: &Ctx) -> bool {
        let c1 = self.x87.fsw & C1;
        let ok = self.fflags(c);
        if c.flags & STACK == 0 {
            self.x87.fsw |= c1;
        }
        ok
    }

    fn set_cc(&mut self, bits: u16) {
        self.x87.fsw = (self.x87.fsw & !(C0 | C1 | C2 | C3)) | bits;
    }

    /// Pushes `v` (the indefinite on stack overflow) once the flags allow it.
    fn fpush(&mut self, mut c: Ctx, v: F80) {
        let overflow = !self.x87.is_empty(7);
        if overflow {
            // The overflow hides what converting the operand reported; an underflow reading
            // the operand (FLD ST(i)) still shows as C1 = 0.
            c.up = c.flags & STACK == 0;
            c.flags = IE | STACK;
        }
        if self.fflags(&c) {
            self.x87.set_top(self.x87.top().wrapping_sub(1));
            self.x87.set_st(0, if overflow { INDEFINITE } else { v });
        }
    }

    fn read80<B: Bus>(&mut self, bus: &mut B, a: u64) -> Result<[u8; 10], Fault> {
        let lo = self.read(bus, a, 8)?;
        let hi = self.read(bus, a.wrapping_add(8), 2)?;
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&lo.to_le_bytes());
        b[8..].copy_from_slice(&(hi as u16).to_le_bytes());
        Ok(b)
    }

    fn write80<B: Bus>(&mut self, bus: &mut B, a: u64, b: [u8; 10]) -> Res {
        self.probe_write(bus, a, 10)?;
        self.write(bus, a, 8, u64::from_le_bytes(b[..8].try_into().unwrap()))?;
        self.write(bus, a.wrapping_add(8), 2, u16::from_le_bytes([b[8], b[9]]) as u64)
    }

    /// A memory operand as an extended value, exactly, and whether it was a single/double
    /// denormal. Signalling NaNs are kept (the operation decides).
    fn fmem<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Result<(F80, bool), Fault> {
        let a = self.ea(i);
        Ok(match i.memory_size() {
            MemorySize::Float32 => convert::widen_f32(self.read(bus, a, 4)? as u32),
            MemorySize::Float64 => convert::widen_f64(self.read(bus, a, 8)?),
            MemorySize::Float80 => (F80::from_bytes(&self.read80(bus, a)?), false),
            MemorySize::Int16 => (convert::from_i64(self.read(bus, a, 2)? as i16 as i64), false),
            MemorySize::Int32 => (convert::from_i64(self.read(bus, a, 4)? as i32 as i64), false),
            MemorySize::Int64 => (convert::from_i64(self.read(bus, a, 8)? as i64), false),
            MemorySize::Bcd => (convert::from_bcd(&self.read80(bus, a)?), false),
            _ => return Err(Fault::UD),
        })
    }

    /// The (destination, source) of a two-operand instruction: ST(0) and memory, or two
    /// registers, or (for the operand-less forms) ST(0) and ST(1).
    fn foperands<B: Bus>(&mut self, bus: &mut B, i: &Instruction, c: &mut Ctx) -> Result<(usize, Option<F80>), Fault> {
        if i.op_count() >= 1 && i.op0_kind() == OpKind::Memory {
            let (v, denormal) = self.fmem(bus, i)?;
            if denormal {
                c.flags |= f80::DE;
            }
            return Ok((0, Some(v)));
        }
        let (d, s) = match i.op_count() {
            2 => (sti(i.op0_register()), sti(i.op1_register())),
            1 => (0, sti(i.op0_register())),
            _ => (0, 1),
        };
        Ok((d, self.fget(c, s)))
    }

    fn x87_arith<B: Bus>(&mut self, bus: &mut B, i: &Instruction, op: Arith, pop: bool) -> Res {
        let mut c = self.fctx();
        let (d, src) = self.foperands(bus, i, &mut c)?;
        let dst = self.fget(&mut c, d);
        let r = match (dst, src) {
            (Some(a), Some(b)) => {
                if a.is_nan() || a.class() == Class::Unsupported || b.is_nan() {
                    // A NaN operand hides a memory denormal.
                    c.flags &= !f80::DE;
                }
                match op {
                    Arith::Add => c.add(a, b, false),
                    Arith::Sub => c.add(a, b, true),
                    Arith::Subr => c.add(b, a, true),
                    Arith::Mul => c.mul(a, b),
                    Arith::Div => c.div(a, b),
                    Arith::Divr => c.div(b, a),
                }
            }
            _ => INDEFINITE,
        };
        if c.flags & f80::ZE != 0 {
            // Division by zero hides a denormal (memory) operand.
            c.flags &= !f80::DE;
        }
        if self.fflags(&c) {
            self.x87.set_st(d, r);
            if pop {
                self.x87.pop();
            }
        }
        Ok(())
    }

    /// FCOM/FUCOM/FICOM/FCOMI families and FTST.
    fn fcompare<B: Bus>(&mut self, bus: &mut B, i: &Instruction, quiet: bool, pops: u8, eflags: bool) -> Res {
        let mut c = self.fctx();
        let (_, src) =
            if i.mnemonic() == M::Ftst { (0, Some(F80::zero(false))) } else { self.foperands(bus, i, &mut c)? };
        let a = self.fget(&mut c, 0);
        let ord = match (a, src) {
            (Some(a), Some(b)) => {
                if a.is_nan() || b.is_nan() || a.class() == Class::Unsupported {
                    c.flags &= !f80::DE;
                }
                c.compare(a, b, quiet)
            }
            _ => None,
        };
        use std::cmp::Ordering as O;
        let ok = if eflags { self.fflags_keep_c1(&c) } else { self.fflags(&c) };
        if ok {
            if eflags {
                use crate::flags::{ARITH, CF, PF, ZF};
                let v = match ord {
                    Some(O::Greater) => 0,
                    Some(O::Less) => CF,
                    Some(O::Equal) => ZF,
                    None => ZF | PF | CF,
                };
                self.flags.set_bits(ARITH, v);
                // C1 is left alone (cleared only by a stack underflow, in fflags).
            } else {
                self.set_cc(match ord {
                    Some(O::Greater) => 0,
                    Some(O::Less) => C0,
                    Some(O::Equal) => C3,
                    None => C3 | C2 | C0,
                });
            }
            for _ in 0..pops {
                self.x87.pop();
            }
        }
        Ok(())
    }

    fn fld<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let mut c = self.fctx();
        let v = if i.op0_kind() == OpKind::Memory {
            let (v, denormal) = self.fmem(bus, i)?;
            match i.memory_size() {
                MemorySize::Float32 | MemorySize::Float64 => convert::load(&mut c, (v, denormal)),
                _ => v,
            }
        } else {
            self.fget(&mut c, sti(i.op0_register())).unwrap_or(INDEFINITE)
        };
        self.fpush(c, v);
        Ok(())
    }

    fn fst<B: Bus>(&mut self, bus: &mut B, i: &Instruction, pop: bool) -> Res {
        let mut c = self.fctx();
        let v = self.fget(&mut c, 0).unwrap_or(INDEFINITE);
        if i.op0_kind() == OpKind::Register {
            if self.fflags(&c) {
                self.x87.set_st(sti(i.op0_register()), v);
                if pop {
                    self.x87.pop();
                }
            }
            return Ok(());
        }
        let a = self.ea(i);
        let trunc = i.mnemonic() == M::Fisttp;
        let (size, bits) = match i.memory_size() {
            MemorySize::Float32 => (4, convert::to_f32(&mut c, v) as u64),
            MemorySize::Float64 => (8, convert::to_f64(&mut c, v)),
            MemorySize::Int16 => (2, convert::to_int(&mut c, v, 16, trunc)),
            MemorySize::Int32 => (4, convert::to_int(&mut c, v, 32, trunc)),
            MemorySize::Int64 => (8, convert::to_int(&mut c, v, 64, trunc)),
            MemorySize::Float80 | MemorySize::Bcd => {
                let b = if i.memory_size() == MemorySize::Bcd { convert::to_bcd(&mut c, v) } else { v.to_bytes() };
                if c.flags & !self.x87.fcw as u8 & IE == 0 {
                    self.write80(bus, a, b)?;
                }
                if self.fflags(&c) && pop {
                    self.x87.pop();
                }
                return Ok(());
            }
            _ => return Err(Fault::UD),
        };
        if c.flags & !self.x87.fcw as u8 & (f80::IE | f80::DE) == 0 {
            self.write(bus, a, size, bits)?;
        }
        if self.fflags(&c) && pop {
            self.x87.pop();
        }
        Ok(())
    }

    /// A one-operand operation on ST(0).
    fn funary(&mut self, f: impl FnOnce(&mut Ctx, F80) -> F80) {
        let mut c = self.fctx();
        let r = match self.fget(&mut c, 0) {
            Some(a) => f(&mut c, a),
            None => INDEFINITE,
        };
        if self.fflags(&c) {
            self.x87.set_st(0, r);
        }
    }

    /// An operation on ST(0) and ST(1) whose result replaces ST(1) and pops (`pop`), or
    /// replaces ST(0).
    fn fbinary_st1(&mut self, pop: bool, f: impl FnOnce(&mut Ctx, F80, F80) -> F80) {
        let mut c = self.fctx();
        let (a, b) = (self.fget(&mut c, 0), self.fget(&mut c, 1));
        let r = match (a, b) {
            (Some(a), Some(b)) => f(&mut c, a, b),
            _ => INDEFINITE,
        };
        if self.fflags(&c) {
            if pop {
                self.x87.set_st(1, r);
                self.x87.pop();
            } else {
                self.x87.set_st(0, r);
            }
        }
    }

    fn fconst(&mut self, mn: M) {
        let c = self.fctx();
        let v = trans::constant(mn, c.rc);
        self.fpush(c, v);
    }

    fn fxch(&mut self, i: &Instruction) {
        let j = if i.op_count() == 2 { sti(i.op1_register()) } else { 1 };
        let mut c = self.fctx();
        let a = self.fget(&mut c, 0).unwrap_or(INDEFINITE);
        let b = self.fget(&mut c, j).unwrap_or(INDEFINITE);
        if self.fflags(&c) {
            self.x87.set_st(0, b);
            self.x87.set_st(j, a);
        }
    }

    fn fcmov(&mut self, i: &Instruction, mn: M) {
        use crate::flags::{CF, PF, ZF};
        let f = self.rflags();
        let (cf, zf, pf) = (f & CF != 0, f & ZF != 0, f & PF != 0);
        let cond = match mn {
            M::Fcmovb => cf,
            M::Fcmove => zf,
            M::Fcmovbe => cf || zf,
            M::Fcmovu => pf,
            M::Fcmovnb => !cf,
            M::Fcmovne => !zf,
            M::Fcmovnbe => !cf && !zf,
            _ => !pf,
        };
        let j = sti(i.op1_register());
        let mut c = self.fctx();
        let a = self.fget(&mut c, 0);
        let b = self.fget(&mut c, j);
        if self.fflags_keep_c1(&c) {
            match (a, b) {
                (Some(_), Some(b)) => {
                    if cond {
                        self.x87.set_st(0, b);
                    }
                }
                _ => self.x87.set_st(0, INDEFINITE),
            }
        }
    }

    fn fxam(&mut self) {
        let x = self.x87.st(0);
        let cc = if self.x87.is_empty(0) {
            C3 | C0
        } else {
            match x.class() {
                Class::Unsupported => 0,
                Class::QNaN | Class::SNaN => C0,
                Class::Normal => C2,
                Class::Inf => C2 | C0,
                Class::Zero => C3,
                Class::Denormal => C3 | C2,
            }
        };
        self.set_cc(cc | if x.sign() { C1 } else { 0 });
    }

    fn fprem(&mut self, nearest: bool) {
        let mut c = self.fctx();
        let (a, b) = (self.fget(&mut c, 0), self.fget(&mut c, 1));
        let rem = match (a, b) {
            (Some(a), Some(b)) => special::prem(&mut c, a, b, nearest),
            _ => {
                // A stack fault clears C1 and C2 only.
                if self.fflags(&c) {
                    self.x87.set_st(0, INDEFINITE);
                }
                self.x87.fsw &= !C2;
                return;
            }
        };
        if self.fflags(&c) {
            self.x87.set_st(0, rem.r);
            if rem.special {
                // NaN and invalid results keep C0 and C3.
                self.x87.fsw &= !(C1 | C2);
                return;
            }
            let q = rem.q;
            if rem.incomplete {
                self.set_cc(C2);
                return;
            }
            let mut cc = if q & 4 != 0 { C0 } else { 0 } | if q & 2 != 0 { C3 } else { 0 };
            cc |= if q & 1 != 0 { C1 } else { 0 } | if rem.incomplete { C2 } else { 0 };
            self.set_cc(cc);
        }
    }

    fn fxtract(&mut self) {
        let mut c = self.fctx();
        let (e, s) = match self.fget(&mut c, 0) {
            Some(a) => special::extract(&mut c, a),
            None => (INDEFINITE, INDEFINITE),
        };
        let overflow = !self.x87.is_empty(7);
        if overflow {
            c.up = c.flags & STACK == 0;
            c.flags = IE | STACK;
        }
        if self.fflags(&c) {
            if overflow {
                self.x87.set_st(0, INDEFINITE);
                self.x87.set_top(self.x87.top().wrapping_sub(1));
                self.x87.set_st(0, INDEFINITE);
            } else {
                self.x87.set_st(0, e);
                self.x87.set_top(self.x87.top().wrapping_sub(1));
                self.x87.set_st(0, s);
            }
        }
    }

    /// FSIN, FCOS, FPTAN, FSINCOS: out of range (|x| >= 2^63) leaves ST(0) and sets C2.
    fn ftrig(&mut self, mn: M) {
        let mut c = self.fctx();
        let Some(x) = self.fget(&mut c, 0) else {
            if self.fflags(&c) {
                self.x87.set_st(0, INDEFINITE);
                if matches!(mn, M::Fptan | M::Fsincos) {
                    self.fpush(Ctx::new(0, 64), INDEFINITE);
                }
            }
            return;
        };
        let Some((first, second)) = trans::trig(&mut c, mn, x) else {
            self.x87.fsw |= C2;
            return;
        };
        // FPTAN and FSINCOS push a second value: check for stack overflow first.
        if second.is_some() && !self.x87.is_empty(7) {
            c.flags |= IE | STACK;
            c.up = true;
            if self.fflags(&c) {
                self.x87.set_st(0, INDEFINITE);
                self.x87.set_top(self.x87.top().wrapping_sub(1));
                self.x87.set_st(0, INDEFINITE);
            }
            self.x87.fsw &= !C2;
            return;
        }
        if self.fflags(&c) {
            self.x87.set_st(0, first);
            if let Some(s) = second {
                self.x87.set_top(self.x87.top().wrapping_sub(1));
                self.x87.set_st(0, s);
            }
        }
        self.x87.fsw &= !C2;
    }

    fn fenv_store<B: Bus>(&mut self, bus: &mut B, i: &Instruction, full: bool) -> Res {
        let a = self.ea(i);
        let len = if full { 108 } else { 28 };
        self.probe_write(bus, a, len)?;
        let mut img = [0u8; 108];
        img[..28].copy_from_slice(&self.x87.env_image());
        for k in 0..8 {
            img[28 + 10 * k..38 + 10 * k].copy_from_slice(&self.x87.st(k).to_bytes());
        }
        for (k, b) in img[..len as usize].iter().enumerate() {
            self.write(bus, a.wrapping_add(k as u64), 1, *b as u64)?;
        }
        if full {
            self.x87.init();
        } else {
            self.x87.fcw |= 0x3f;
        }
        Ok(())
    }

    fn fenv_load<B: Bus>(&mut self, bus: &mut B, i: &Instruction, full: bool) -> Res {
        let a = self.ea(i);
        let len = if full { 108 } else { 28 };
        let mut img = [0u8; 108];
        for (k, byte) in img[..len].iter_mut().enumerate() {
            *byte = self.read(bus, a.wrapping_add(k as u64), 1)? as u8;
        }
        self.x87.load_env_image(&img[..28]);
        if full {
            for k in 0..8 {
                let b: [u8; 10] = img[28 + 10 * k..38 + 10 * k].try_into().unwrap();
                let p = self.x87.phys(k);
                self.x87.regs[p] = F80::from_bytes(&b);
            }
        }
        Ok(())
    }

    pub(super) fn x87_op<B: Bus>(&mut self, bus: &mut B, i: &Instruction, mn: M) -> Res {
        match mn {
            M::Fninit | M::Finit => self.x87.init(),
            M::Fnclex | M::Fclex => self.x87.fsw &= 0x7f00,
            M::Fnstsw | M::Fstsw => {
                let v = self.x87.fsw as u64;
                if i.op0_kind() == OpKind::Register {
                    self.set_reg(i.op0_register(), v);
                } else {
                    let a = self.ea(i);
                    self.write(bus, a, 2, v)?;
                }
            }
            M::Fnstcw | M::Fstcw => {
                let a = self.ea(i);
                self.write(bus, a, 2, self.x87.fcw as u64)?;
            }
            M::Fldcw => {
                let a = self.ea(i);
                let v = self.read(bus, a, 2)?;
                // Reserved bits: 6 reads as 1, 7 and 13-15 as 0.
                self.x87.fcw = (v as u16 & 0x1f3f) | 0x0040;
                self.x87.update_es();
            }
            M::Fnstenv | M::Fstenv => self.fenv_store(bus, i, false)?,
            M::Fnsave | M::Fsave => self.fenv_store(bus, i, true)?,
            M::Fldenv => self.fenv_load(bus, i, false)?,
            M::Frstor => self.fenv_load(bus, i, true)?,
            M::Wait | M::Fnop | M::Fneni | M::Fndisi | M::Fnsetpm => {}
            M::Fld | M::Fild | M::Fbld => self.fld(bus, i)?,
            M::Fst | M::Fist => self.fst(bus, i, false)?,
            M::Fstp | M::Fstpnce | M::Fistp | M::Fisttp | M::Fbstp => self.fst(bus, i, true)?,
            M::Fld1 | M::Fldz | M::Fldpi | M::Fldl2e | M::Fldl2t | M::Fldlg2 | M::Fldln2 => self.fconst(mn),
            M::Fxch => self.fxch(i),
            M::Fadd | M::Fiadd => self.x87_arith(bus, i, Arith::Add, false)?,
            M::Faddp => self.x87_arith(bus, i, Arith::Add, true)?,
            M::Fsub | M::Fisub => self.x87_arith(bus, i, Arith::Sub, false)?,
            M::Fsubp => self.x87_arith(bus, i, Arith::Sub, true)?,
            M::Fsubr | M::Fisubr => self.x87_arith(bus, i, Arith::Subr, false)?,
            M::Fsubrp => self.x87_arith(bus, i, Arith::Subr, true)?,
            M::Fmul | M::Fimul => self.x87_arith(bus, i, Arith::Mul, false)?,
            M::Fmulp => self.x87_arith(bus, i, Arith::Mul, true)?,
            M::Fdiv | M::Fidiv => self.x87_arith(bus, i, Arith::Div, false)?,
            M::Fdivp => self.x87_arith(bus, i, Arith::Div, true)?,
            M::Fdivr | M::Fidivr => self.x87_arith(bus, i, Arith::Divr, false)?,
            M::Fdivrp => self.x87_arith(bus, i, Arith::Divr, true)?,
            M::Fcom | M::Ficom => self.fcompare(bus, i, false, 0, false)?,
            M::Fcomp | M::Ficomp => self.fcompare(bus, i, false, 1, false)?,
            M::Fcompp => self.fcompare(bus, i, false, 2, false)?,
            M::Fucom => self.fcompare(bus, i, true, 0, false)?,
            M::Fucomp => self.fcompare(bus, i, true, 1, false)?,
            M::Fucompp => self.fcompare(bus, i, true, 2, false)?,
            M::Fcomi => self.fcompare(bus, i, false, 0, true)?,
            M::Fcomip => self.fcompare(bus, i, false, 1, true)?,
            M::Fucomi => self.fcompare(bus, i, true, 0, true)?,
            M::Fucomip => self.fcompare(bus, i, true, 1, true)?,
            M::Ftst => self.fcompare(bus, i, false, 0, false)?,
            M::Fxam => self.fxam(),
            M::Fchs => self.funary(|_, a| a.neg()),
            M::Fabs => self.funary(|_, a| a.abs()),
            M::Fsqrt => self.funary(|c, a| c.sqrt(a)),
            M::Frndint => self.funary(convert::round_to_integral),
            M::Fscale => self.fbinary_st1(false, special::scale),
            M::Fxtract => self.fxtract(),
            M::Fprem => self.fprem(false),
            M::Fprem1 => self.fprem(true),
            M::Fcmovb | M::Fcmove | M::Fcmovbe | M::Fcmovu | M::Fcmovnb | M::Fcmovne | M::Fcmovnbe | M::Fcmovnu => {
                self.fcmov(i, mn)
            }
            M::Ffree => {
                self.x87.free(sti(i.op0_register()));
                self.x87.fsw &= !C1;
            }
            M::Ffreep => {
                self.x87.free(sti(i.op0_register()));
                self.x87.fsw &= !C1;
                self.x87.set_top(self.x87.top() + 1);
            }
            M::Fincstp => {
                self.x87.set_top(self.x87.top() + 1);
                self.x87.fsw &= !C1;
            }
            M::Fdecstp => {
                self.x87.set_top(self.x87.top().wrapping_sub(1));
                self.x87.fsw &= !C1;
            }
            M::F2xm1 => self.funary(trans::f2xm1),
            M::Fyl2x => self.fbinary_st1(true, trans::fyl2x),
            M::Fyl2xp1 => self.fbinary_st1(true, trans::fyl2xp1),
            M::Fpatan => self.fbinary_st1(true, trans::fpatan),
            M::Fsin | M::Fcos | M::Fptan | M::Fsincos => self.ftrig(mn),
            _ => return Err(Fault::UD),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn st_register_index() {
        assert_eq!(sti(Register::ST0), 0);
        assert_eq!(sti(Register::ST7), 7);
    }
}
