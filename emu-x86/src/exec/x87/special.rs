//! The exact non-arithmetic operations: partial remainders (FPREM/FPREM1), FSCALE and
//! FXTRACT.

use super::convert::from_i64;
use super::f80::{Class, Ctx, BIAS, DE, EXT, F80, ZE};

/// A partial remainder: the result, the low three quotient bits, and whether the reduction
/// is incomplete (C2).
pub struct Rem {
    pub r: F80,
    pub q: u64,
    pub incomplete: bool,
    /// A NaN or invalid-operation result (C0 and C3 are left alone).
    pub special: bool,
}

/// FPREM (truncating quotient) or FPREM1 (`nearest`, the IEEE remainder). An exponent
/// difference of 64 or more reduces by 2^(D-N) with N = 32 + D mod 32 and reports C2.
pub fn prem(c: &mut Ctx, a: F80, b: F80, nearest: bool) -> Rem {
    let done = |r| Rem { r, q: 0, incomplete: false, special: false };
    let special = |r| Rem { r, q: 0, incomplete: false, special: true };
    if let Some(r) = c.nan2(a, b) {
        return special(r);
    }
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Inf || cb == Class::Zero {
        return special(c.invalid());
    }
    if ca == Class::Denormal || cb == Class::Denormal {
        c.flags |= DE;
    }
    if ca == Class::Zero {
        return done(a);
    }
    if cb == Class::Inf {
        // |a| < |b|: a is the remainder, a pseudo-denormal in its normal encoding (as below).
        return done(c.reround(a, EXT));
    }
    let (sa, ea, ma) = a.unpack();
    let (_, eb, mb) = b.unpack();
    let d = ea - eb;
    if d < 0 {
        if nearest && d == -1 && ma > mb {
            // |b|/2 < |a| < |b|: the remainder is a - b, of the opposite sign.
            let r = ((mb as u128) << 1) - ma as u128;
            return Rem { r: c.round_ext(!sa, ea + 64, r, EXT), q: 1, incomplete: false, special: false };
        }
        // |a| is the remainder (a pseudo-denormal comes back in its normal encoding).
        return done(c.reround(a, EXT));
    }
    let (shift, incomplete) = if d >= 64 { ((d & 31) | 32, true) } else { (d, false) };
    let n = (ma as u128) << shift;
    let (mut q, mut r) = (n / mb as u128, n % mb as u128);
    let mut sign = sa;
    if nearest && !incomplete && (2 * r > mb as u128 || (2 * r == mb as u128 && q & 1 != 0)) {
        r = mb as u128 - r;
        q += 1;
        sign = !sign;
    }
    let r = if r == 0 { F80::zero(sa) } else { c.round_ext(sign, ea - shift + 64, r, EXT) };
    Rem { r, q: q as u64 & 7, incomplete, special: false }
}

/// FSCALE: a * 2^trunc(b), exact unless it overflows or underflows.
pub fn scale(c: &mut Ctx, a: F80, b: F80) -> F80 {
    if let Some(r) = c.nan2(a, b) {
        return r;
    }
    let (ca, cb) = (a.class(), b.class());
    if cb == Class::Inf && matches!((ca, b.sign()), (Class::Zero, false) | (Class::Inf, true)) {
        // 0 * 2^+inf and inf * 2^-inf.
        return c.invalid();
    }
    // Checked before the infinite scales: a denormal scaled by +-inf still reports DE.
    if ca == Class::Denormal || cb == Class::Denormal {
        c.flags |= DE;
    }
    if cb == Class::Inf {
        return if b.sign() { F80::zero(a.sign()) } else { F80::inf(a.sign()) };
    }
    if ca == Class::Zero || ca == Class::Inf {
        return a;
    }
    let n = match cb {
        Class::Zero => 0,
        _ => {
            let (s, e, m) = b.unpack();
            let k = e - BIAS;
            let mag = if k < 0 {
                0
            } else if k >= 30 {
                1 << 30
            } else {
                (m >> (63 - k)) as i32
            };
            if s {
                -mag
            } else {
                mag
            }
        }
    };
    let (s, e, m) = a.unpack();
    c.round_ext(s, e + n, (m as u128) << 64, EXT)
}

/// FXTRACT: (exponent, significand).
pub fn extract(c: &mut Ctx, a: F80) -> (F80, F80) {
    if let Some(r) = c.nan1(a) {
        return (r, r);
    }
    match a.class() {
        Class::Zero => {
            c.flags |= ZE;
            return (F80::inf(true), a);
        }
        Class::Inf => return (F80::inf(false), a),
        Class::Denormal => c.flags |= DE,
        _ => {}
    }
    let (s, e, m) = a.unpack();
    (from_i64((e - BIAS) as i64), F80::new(s, BIAS as u16, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainders() {
        let mut c = Ctx::new(0, 64);
        let r = prem(&mut c, from_i64(17), from_i64(5), false);
        assert_eq!((r.r, r.q, r.incomplete), (from_i64(2), 3, false));
        let r = prem(&mut c, from_i64(18), from_i64(5), true);
        assert_eq!((r.r, r.q), (from_i64(-2), 4));
        assert_eq!(scale(&mut c, from_i64(3), from_i64(4)), from_i64(48));
        let (e, s) = extract(&mut c, from_i64(48));
        assert_eq!((e, s), (from_i64(5), F80::new(false, 0x3fff, 0xc000_0000_0000_0000)));
    }

    /// The remainder of a finite value by an infinity is the value, a pseudo-denormal in its
    /// normal encoding (the x87-specials differential class found it returned unchanged).
    #[test]
    fn remainder_by_infinity() {
        for nearest in [false, true] {
            let mut c = Ctx::new(0, 64);
            let r = prem(&mut c, F80::new(true, 0, 0x8000_0000_0000_0001), F80::inf(false), nearest);
            assert_eq!(r.r, F80::new(true, 1, 0x8000_0000_0000_0001));
            assert_eq!(c.flags, DE);
            let r = prem(&mut c, from_i64(-7), F80::inf(true), nearest);
            assert_eq!((r.r, r.q, r.incomplete), (from_i64(-7), 0, false));
        }
    }

    /// A denormal (or pseudo-denormal) scaled by an infinity gives zero or infinity and still
    /// reports DE, as the hardware does (differential seed 99 found the missing DE).
    #[test]
    fn scale_denormal_by_infinity() {
        for sig in [1, 0x8000_0000_0000_0001, 0xbf80_0000_7f80_0001] {
            let d = F80::new(false, 0, sig);
            for (inf, want) in [(F80::inf(true), F80::zero(false)), (F80::inf(false), F80::inf(false))] {
                let mut c = Ctx::new(0, 64);
                assert_eq!(scale(&mut c, d, inf), want);
                assert_eq!(c.flags, DE, "{sig:#x}");
            }
        }
        // No DE where nothing is denormal: 0 * 2^+inf is invalid, 1 * 2^-inf is +0.
        let mut c = Ctx::new(0, 64);
        assert_eq!(scale(&mut c, F80::zero(false), F80::inf(false)), super::super::f80::INDEFINITE);
        assert_eq!(c.flags, super::super::f80::IE);
        let mut c = Ctx::new(0, 64);
        assert_eq!(scale(&mut c, from_i64(1), F80::inf(true)), F80::zero(false));
        assert_eq!(c.flags, 0);
    }
}
