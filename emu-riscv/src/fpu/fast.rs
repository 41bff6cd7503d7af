//! Native fast paths for round-to-nearest-even, the mode nearly all code runs in.
//!
//! The host's f32/f64 operations are correctly rounded RNE, so the value is right; what the
//! host does not give us is the flags. A fast path therefore only answers when the result is
//! a normal number strictly above the smallest normal (so no OF, UF, NV or DZ is possible)
//! and works out NX exactly with error-free transformations or an integer check of the
//! significands. NX is sticky: once set in fflags it need not be computed again. Anything
//! else (zeros, subnormals, infinities, NaNs) returns None and goes to `soft.rs`.
//!
//! binary32 operations run in binary64: the product of two singles is exact there, and a
//! binary64 sum, quotient or root rounded again to binary32 is still correctly rounded
//! (53 >= 2 * 24 + 2), so double rounding is harmless.

use super::flags::NX;

/// Whether `r` is finite with |r| > the smallest normal: see the module comment.
#[inline]
fn safe_f64(r: f64) -> bool {
    let m = r.abs();
    m > f64::MIN_POSITIVE && m < f64::INFINITY
}

#[inline]
fn safe_f32(r: f32) -> bool {
    let m = r.abs();
    m > f32::MIN_POSITIVE && m < f32::INFINITY
}

/// The rounding error of `a + b = s` (Knuth's TwoSum; exact when nothing overflows).
#[inline]
fn two_sum_err(a: f64, b: f64, s: f64) -> f64 {
    let bb = s - a;
    (a - (s - bb)) + (b - bb)
}

/// The binary64 significand with its implicit bit (subnormals have none).
#[inline]
fn sig64(bits: u64) -> u64 {
    let frac = bits & ((1 << 52) - 1);
    if (bits >> 52) & 0x7ff == 0 {
        frac
    } else {
        frac | (1 << 52)
    }
}

/// `v` with its trailing zero bits removed.
#[inline]
fn odd_part(v: u128) -> u128 {
    v >> v.trailing_zeros()
}

#[inline]
fn set_nx(flags: &mut u32, inexact: bool) {
    if inexact {
        *flags |= NX;
    }
}

pub fn add_d(a: u64, b: u64, flags: &mut u32) -> Option<u64> {
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    let r = x + y;
    if !safe_f64(r) {
        return None;
    }
    if *flags & NX == 0 {
        set_nx(flags, two_sum_err(x, y, r) != 0.0);
    }
    Some(r.to_bits())
}

pub fn mul_d(a: u64, b: u64, flags: &mut u32) -> Option<u64> {
    let r = f64::from_bits(a) * f64::from_bits(b);
    if !safe_f64(r) {
        return None;
    }
    if *flags & NX == 0 {
        // Exact iff the integer product of the significands has at most 53 significant bits.
        let p = sig64(a) as u128 * sig64(b) as u128;
        set_nx(flags, 128 - p.leading_zeros() - p.trailing_zeros() > 53);
    }
    Some(r.to_bits())
}

pub fn div_d(a: u64, b: u64, flags: &mut u32) -> Option<u64> {
    let r = f64::from_bits(a) / f64::from_bits(b);
    if !safe_f64(r) {
        return None;
    }
    if *flags & NX == 0 {
        // Exact iff q * b == a; with q correctly rounded, equal odd parts of the significand
        // products already imply equal exponents.
        let qb = sig64(r.to_bits()) as u128 * sig64(b) as u128;
        set_nx(flags, odd_part(qb) != odd_part(sig64(a) as u128));
    }
    Some(r.to_bits())
}

pub fn sqrt_d(a: u64, flags: &mut u32) -> Option<u64> {
    let x = f64::from_bits(a);
    // Positive finite nonzero inputs have normal roots well above the smallest normal.
    if !(x > 0.0 && x < f64::INFINITY) {
        return None;
    }
    let r = x.sqrt();
    if *flags & NX == 0 {
        let m = sig64(r.to_bits()) as u128;
        set_nx(flags, odd_part(m * m) != odd_part(sig64(a) as u128));
    }
    Some(r.to_bits())
}

#[inline]
fn f32_of(bits: u32) -> f64 {
    f32::from_bits(bits) as f64
}

/// Rounds an exact-or-not binary64 intermediate to binary32; `exact` says whether `s` itself
/// was exact.
#[inline]
fn finish_s(s: f64, exact: bool, flags: &mut u32) -> Option<u32> {
    let r = s as f32;
    if !safe_f32(r) {
        return None;
    }
    if *flags & NX == 0 {
        set_nx(flags, !exact || r as f64 != s);
    }
    Some(r.to_bits())
}

pub fn add_s(a: u32, b: u32, flags: &mut u32) -> Option<u32> {
    let (x, y) = (f32_of(a), f32_of(b));
    let s = x + y;
    let exact = *flags & NX != 0 || two_sum_err(x, y, s) == 0.0;
    finish_s(s, exact, flags)
}

pub fn mul_s(a: u32, b: u32, flags: &mut u32) -> Option<u32> {
    finish_s(f32_of(a) * f32_of(b), true, flags)
}

pub fn div_s(a: u32, b: u32, flags: &mut u32) -> Option<u32> {
    let (x, y) = (f32_of(a), f32_of(b));
    let r = (x / y) as f32;
    if !safe_f32(r) {
        return None;
    }
    if *flags & NX == 0 {
        // r * y is exact in binary64.
        set_nx(flags, r as f64 * y != x);
    }
    Some(r.to_bits())
}

pub fn sqrt_s(a: u32, flags: &mut u32) -> Option<u32> {
    let x = f32_of(a);
    if !(x > 0.0 && x < f64::INFINITY) {
        return None;
    }
    let r = x.sqrt() as f32;
    if *flags & NX == 0 {
        let r64 = r as f64;
        set_nx(flags, r64 * r64 != x);
    }
    Some(r.to_bits())
}

/// binary32 fused multiply-add: the product is exact in binary64; when the binary64 sum is
/// exact too, one rounding to binary32 is the fused result. Otherwise the slow path decides.
pub fn fma_s(a: u32, b: u32, c: u32, flags: &mut u32) -> Option<u32> {
    let p = f32_of(a) * f32_of(b);
    let z = f32_of(c);
    let s = p + z;
    if !s.is_finite() || two_sum_err(p, z, s) != 0.0 {
        return None;
    }
    finish_s(s, true, flags)
}

/// Truncation toward zero (RTZ, what C casts compile to) of a value inside the i64 range:
/// the integer and whether it was inexact. None for NaN and out-of-range values.
pub fn trunc_to_i64(x: f64) -> Option<(i64, bool)> {
    // -2^63 <= x < 2^63 (the constant is the binary64 just below -2^63); NaN fails both.
    if !(x > -9_223_372_036_854_777_856.0 && x < 9_223_372_036_854_775_808.0) {
        return None;
    }
    let v = x as i64;
    Some((v, v as f64 != x))
}

#[cfg(test)]
mod tests {
    use super::super::soft::{self, F32, F64};
    use super::super::Rm;
    use super::*;

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Random encodings biased towards interesting exponents (tiny, huge, near 1) and short
    /// significands (so exact results happen).
    fn operand64(st: &mut u64) -> u64 {
        let r = xorshift(st);
        let exp = match r % 6 {
            0 => r >> 8 & 0x7ff,
            1 => 0x3ff + (r >> 8) % 8,
            2 => (r >> 8) % 4,
            3 => 0x7fe - (r >> 8) % 4,
            _ => 0x3f0 + (r >> 8) % 32,
        };
        let mut frac = xorshift(st) & ((1 << 52) - 1);
        if r & (1 << 40) != 0 {
            frac &= !((1 << 40) - 1);
        }
        (r & (1 << 63)) | (exp << 52) | frac
    }

    fn operand32(st: &mut u64) -> u32 {
        let r = xorshift(st);
        let exp = match r % 6 {
            0 => r >> 8 & 0xff,
            1 => 0x7f + (r >> 8) % 8,
            2 => (r >> 8) % 4,
            3 => 0xfe - (r >> 8) % 4,
            _ => 0x70 + (r >> 8) % 32,
        };
        let mut frac = (xorshift(st) & ((1 << 23) - 1)) as u32;
        if r & (1 << 40) != 0 {
            frac &= !((1 << 12) - 1);
        }
        ((r >> 32) as u32 & (1 << 31)) | ((exp as u32) << 23) | frac
    }

    /// Every fast-path answer must equal the exact slow path, value and flags.
    #[test]
    fn fast_paths_agree_with_soft_float() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let mut answered = 0;
        for _ in 0..200_000 {
            let (a, b) = (operand64(&mut st), operand64(&mut st));
            let cases: [(Option<u64>, u32, (u64, u32)); 4] = {
                let mut f = [0u32; 4];
                let r = [add_d(a, b, &mut f[0]), mul_d(a, b, &mut f[1]), div_d(a, b, &mut f[2]), sqrt_d(a, &mut f[3])];
                [
                    (r[0], f[0], soft::add(F64, a, b, Rm::Rne)),
                    (r[1], f[1], soft::mul(F64, a, b, Rm::Rne)),
                    (r[2], f[2], soft::div(F64, a, b, Rm::Rne)),
                    (r[3], f[3], soft::sqrt(F64, a, Rm::Rne)),
                ]
            };
            for (k, (fast, fl, slow)) in cases.into_iter().enumerate() {
                if let Some(v) = fast {
                    answered += 1;
                    assert_eq!((v, fl), slow, "op {k} on {a:#x} {b:#x}");
                }
            }
            let (a, b, c) = (operand32(&mut st), operand32(&mut st), operand32(&mut st));
            let mut f = [0u32; 5];
            let r = [
                add_s(a, b, &mut f[0]),
                mul_s(a, b, &mut f[1]),
                div_s(a, b, &mut f[2]),
                sqrt_s(a, &mut f[3]),
                fma_s(a, b, c, &mut f[4]),
            ];
            let (a, b, c) = (a as u64, b as u64, c as u64);
            let slow = [
                soft::add(F32, a, b, Rm::Rne),
                soft::mul(F32, a, b, Rm::Rne),
                soft::div(F32, a, b, Rm::Rne),
                soft::sqrt(F32, a, Rm::Rne),
                soft::fma(F32, a, b, c, Rm::Rne),
            ];
            for k in 0..5 {
                if let Some(v) = r[k] {
                    answered += 1;
                    assert_eq!((v as u64, f[k]), slow[k], "s-op {k} on {a:#x} {b:#x} {c:#x}");
                }
            }
        }
        assert!(answered > 500_000, "fast paths answered only {answered}");
    }

    #[test]
    fn nx_is_skipped_once_set() {
        let mut f = NX;
        assert_eq!(add_d(1f64.to_bits(), 2f64.to_bits(), &mut f), Some(3f64.to_bits()));
        assert_eq!(f, NX);
        let mut f = 0;
        assert_eq!(add_d(1f64.to_bits(), 2f64.to_bits(), &mut f), Some(3f64.to_bits()));
        assert_eq!(f, 0);
    }

    #[test]
    fn truncation_fast_path() {
        assert_eq!(trunc_to_i64(-2.75), Some((-2, true)));
        assert_eq!(trunc_to_i64(7.0), Some((7, false)));
        assert_eq!(trunc_to_i64(f64::NAN), None);
        assert_eq!(trunc_to_i64(9.3e18), None);
        assert_eq!(trunc_to_i64(-9_223_372_036_854_775_808.0), Some((i64::MIN, false)));
    }
}
