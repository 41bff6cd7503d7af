//! The F and D extensions: every OP-FP and fused multiply-add instruction of RV64F/RV64D.
//!
//! The hart handles FP loads and stores and the mstatus.FS gate; this module executes the
//! computational instructions from their 32-bit encoding against the x and f registers and
//! fcsr. Single-precision values live NaN-boxed in the 64-bit f registers: a read of a value
//! that is not properly boxed sees the canonical NaN.
//!
//! Round-to-nearest-even arithmetic takes native fast paths (`fast.rs`) that fall back to
//! the exact integer implementation (`soft.rs`) for the other modes and for special results.

mod fast;
mod misc;
pub mod soft;

use soft::{IntKind, F32, F64};

/// The accrued exception flags, as laid out in fflags (and the low bits of fcsr).
pub mod flags {
    pub const NX: u32 = 1 << 0;
    pub const UF: u32 = 1 << 1;
    pub const OF: u32 = 1 << 2;
    pub const DZ: u32 = 1 << 3;
    pub const NV: u32 = 1 << 4;
}

/// A rounding mode (the legal values of the rm field and of frm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rm {
    Rne,
    Rtz,
    Rdn,
    Rup,
    Rmm,
}

/// The instruction is not a valid FP instruction (bad encoding or reserved rounding mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalInstruction;

const BOX: u64 = 0xffff_ffff_0000_0000;

/// The rounding mode of an instruction: its rm field, or frm when rm is DYN (7).
fn rounding(rm_field: u32, fcsr: u32) -> Result<Rm, IllegalInstruction> {
    let v = if rm_field == 7 { (fcsr >> 5) & 7 } else { rm_field };
    match v {
        0 => Ok(Rm::Rne),
        1 => Ok(Rm::Rtz),
        2 => Ok(Rm::Rdn),
        3 => Ok(Rm::Rup),
        4 => Ok(Rm::Rmm),
        _ => Err(IllegalInstruction),
    }
}

/// Operand width from the fmt field: false = S, true = D; H and Q are not implemented.
fn is_double(fmt: u32) -> Result<bool, IllegalInstruction> {
    match fmt {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(IllegalInstruction),
    }
}

/// Reads an f register as an operand: binary32 values are unboxed (canonical NaN if not
/// properly NaN-boxed), binary64 values as they are.
#[inline]
fn read(f: &[u64; 32], reg: u32, double: bool) -> u64 {
    let v = f[reg as usize];
    if double {
        v
    } else if v & BOX == BOX {
        v & 0xffff_ffff
    } else {
        F32.canonical_nan()
    }
}

#[inline]
fn write(f: &mut [u64; 32], reg: u32, double: bool, v: u64) {
    f[reg as usize] = if double { v } else { v | BOX };
}

/// Executes one OP-FP or fused multiply-add instruction. Exception flags accrue into the
/// low five bits of `fcsr`; frm is bits 5..8.
pub fn execute(i: u32, x: &mut [u64; 32], f: &mut [u64; 32], fcsr: &mut u32) -> Result<(), IllegalInstruction> {
    let rd = (i >> 7) & 31;
    let rs1 = (i >> 15) & 31;
    let rs2 = (i >> 20) & 31;
    let funct3 = (i >> 12) & 7;
    let double = is_double((i >> 25) & 3)?;
    match i & 0x7f {
        0x43 | 0x47 | 0x4b | 0x4f => {
            let rm = rounding(funct3, *fcsr)?;
            let sign = if double { F64.sign_bit() } else { F32.sign_bit() };
            // FMSUB negates the addend, FNMSUB the product, FNMADD both.
            let neg_prod = if matches!(i & 0x7f, 0x4b | 0x4f) { sign } else { 0 };
            let neg_add = if matches!(i & 0x7f, 0x47 | 0x4f) { sign } else { 0 };
            let a = read(f, rs1, double) ^ neg_prod;
            let b = read(f, rs2, double);
            let c = read(f, i >> 27, double) ^ neg_add;
            let v = fused(double, a, b, c, rm, fcsr);
            write(f, rd, double, v);
        }
        0x53 => op_fp(i, rd, rs1, rs2, funct3, double, x, f, fcsr)?,
        _ => return Err(IllegalInstruction),
    }
    x[0] = 0;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn op_fp(
    i: u32,
    rd: u32,
    rs1: u32,
    rs2: u32,
    funct3: u32,
    double: bool,
    x: &mut [u64; 32],
    f: &mut [u64; 32],
    fcsr: &mut u32,
) -> Result<(), IllegalInstruction> {
    let fmt = if double { F64 } else { F32 };
    let a = read(f, rs1, double);
    match i >> 27 {
        // FADD, FSUB, FMUL, FDIV
        op @ 0x00..=0x03 => {
            let rm = rounding(funct3, *fcsr)?;
            let b = read(f, rs2, double);
            let v = binary(op, double, a, b, rm, fcsr);
            write(f, rd, double, v);
        }
        0x0b if rs2 == 0 => {
            let rm = rounding(funct3, *fcsr)?;
            let v = square_root(double, a, rm, fcsr);
            write(f, rd, double, v);
        }
        0x04 => {
            let v = misc::sign_inject(fmt, a, read(f, rs2, double), funct3).ok_or(IllegalInstruction)?;
            write(f, rd, double, v);
        }
        0x05 if funct3 < 2 => {
            let v = misc::min_max(fmt, a, read(f, rs2, double), funct3 == 1, fcsr);
            write(f, rd, double, v);
        }
        // FCVT.S.D (fmt S, rs2 = 1) and FCVT.D.S (fmt D, rs2 = 0)
        0x08 if rs2 == (!double) as u32 => {
            let rm = rounding(funct3, *fcsr)?;
            let v = if double {
                let src = read(f, rs1, false);
                let x = f32::from_bits(src as u32);
                if x.is_nan() {
                    accrue(fcsr, soft::convert(F32, F64, src, rm))
                } else {
                    (x as f64).to_bits()
                }
            } else {
                narrow(read(f, rs1, true), rm, fcsr)
            };
            write(f, rd, double, v);
        }
        0x14 => {
            let v = misc::compare(fmt, a, read(f, rs2, double), funct3, fcsr).ok_or(IllegalInstruction)?;
            x[rd as usize] = v;
        }
        // FCVT.{W,WU,L,LU}.{S,D}
        0x18 => {
            let rm = rounding(funct3, *fcsr)?;
            let kind = match rs2 {
                0 => IntKind::W,
                1 => IntKind::Wu,
                2 => IntKind::L,
                3 => IntKind::Lu,
                _ => return Err(IllegalInstruction),
            };
            x[rd as usize] = to_int(fmt, a, kind, rm, fcsr);
        }
        // FCVT.{S,D}.{W,WU,L,LU}
        0x1a => {
            let rm = rounding(funct3, *fcsr)?;
            let src = x[rs1 as usize];
            let (v, signed) = match rs2 {
                0 => (src as i32 as i64 as u64, true),
                1 => (src as u32 as u64, false),
                2 => (src, true),
                3 => (src, false),
                _ => return Err(IllegalInstruction),
            };
            let r = from_int(double, v, signed, rm, fcsr);
            write(f, rd, double, r);
        }
        // FMV.X.W / FMV.X.D: raw bits, no unboxing (a transfer, not an operation).
        0x1c if rs2 == 0 && funct3 == 0 => {
            let raw = f[rs1 as usize];
            x[rd as usize] = if double { raw } else { raw as u32 as i32 as i64 as u64 };
        }
        0x1c if rs2 == 0 && funct3 == 1 => x[rd as usize] = misc::classify(fmt, a),
        // FMV.W.X / FMV.D.X
        0x1e if rs2 == 0 && funct3 == 0 => {
            let src = x[rs1 as usize];
            write(f, rd, double, if double { src } else { src & 0xffff_ffff });
        }
        _ => return Err(IllegalInstruction),
    }
    Ok(())
}

#[inline]
fn accrue(fcsr: &mut u32, (v, fl): (u64, u32)) -> u64 {
    *fcsr |= fl;
    v
}

fn binary(op: u32, double: bool, a: u64, b: u64, rm: Rm, fcsr: &mut u32) -> u64 {
    if rm == Rm::Rne {
        let fast = if double {
            match op {
                0 => fast::add_d(a, b, fcsr),
                1 => fast::add_d(a, b ^ F64.sign_bit(), fcsr),
                2 => fast::mul_d(a, b, fcsr),
                _ => fast::div_d(a, b, fcsr),
            }
        } else {
            let (a, b) = (a as u32, b as u32);
            match op {
                0 => fast::add_s(a, b, fcsr),
                1 => fast::add_s(a, b ^ (1 << 31), fcsr),
                2 => fast::mul_s(a, b, fcsr),
                _ => fast::div_s(a, b, fcsr),
            }
            .map(u64::from)
        };
        if let Some(v) = fast {
            return v;
        }
    }
    let fmt = if double { F64 } else { F32 };
    let r = match op {
        0 => soft::add(fmt, a, b, rm),
        1 => soft::sub(fmt, a, b, rm),
        2 => soft::mul(fmt, a, b, rm),
        _ => soft::div(fmt, a, b, rm),
    };
    accrue(fcsr, r)
}

fn square_root(double: bool, a: u64, rm: Rm, fcsr: &mut u32) -> u64 {
    if rm == Rm::Rne {
        let fast = if double { fast::sqrt_d(a, fcsr) } else { fast::sqrt_s(a as u32, fcsr).map(u64::from) };
        if let Some(v) = fast {
            return v;
        }
    }
    accrue(fcsr, soft::sqrt(if double { F64 } else { F32 }, a, rm))
}

fn fused(double: bool, a: u64, b: u64, c: u64, rm: Rm, fcsr: &mut u32) -> u64 {
    if double {
        return accrue(fcsr, soft::fma(F64, a, b, c, rm));
    }
    if rm == Rm::Rne {
        if let Some(v) = fast::fma_s(a as u32, b as u32, c as u32, fcsr) {
            return v as u64;
        }
    }
    accrue(fcsr, soft::fma(F32, a, b, c, rm))
}

/// FCVT.S.D.
fn narrow(a: u64, rm: Rm, fcsr: &mut u32) -> u64 {
    if rm == Rm::Rne {
        let x = f64::from_bits(a);
        let r = x as f32;
        let m = r.abs();
        if m > f32::MIN_POSITIVE && m < f32::INFINITY {
            if r as f64 != x {
                *fcsr |= flags::NX;
            }
            return r.to_bits() as u64;
        }
    }
    accrue(fcsr, soft::convert(F64, F32, a, rm))
}

fn to_int(fmt: soft::Fmt, a: u64, kind: IntKind, rm: Rm, fcsr: &mut u32) -> u64 {
    // C casts compile to RTZ conversions; in range, the host's truncation is exact.
    if rm == Rm::Rtz && matches!(kind, IntKind::W | IntKind::L) {
        let x = if fmt == F64 { f64::from_bits(a) } else { f32::from_bits(a as u32) as f64 };
        if let Some((v, inexact)) = fast::trunc_to_i64(x) {
            if kind == IntKind::L || v == v as i32 as i64 {
                if inexact {
                    *fcsr |= flags::NX;
                }
                return v as u64;
            }
        }
    }
    accrue(fcsr, soft::to_int(fmt, a, kind, rm))
}

fn from_int(double: bool, v: u64, signed: bool, rm: Rm, fcsr: &mut u32) -> u64 {
    if rm == Rm::Rne || (double && signed && v as i64 == v as i32 as i64) {
        // Host integer-to-float conversions round to nearest even; the result is exact when
        // it converts back to the same integer.
        let wide = if signed { v as i64 as i128 } else { v as i128 };
        let (bits, back) = if double {
            let r = if signed { v as i64 as f64 } else { v as f64 };
            (r.to_bits(), r as i128)
        } else {
            let r = if signed { v as i64 as f32 } else { v as f32 };
            (r.to_bits() as u64, r as i128)
        };
        if back != wide {
            *fcsr |= flags::NX;
        }
        return bits;
    }
    accrue(fcsr, soft::from_int(if double { F64 } else { F32 }, v, signed, rm))
}

#[cfg(test)]
mod tests;
