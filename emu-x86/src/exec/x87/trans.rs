//! The transcendental instructions and the FLD constants.
//!
//! Computed in `W`, a 128-bit-significand float with truncating arithmetic, by series after
//! argument reduction, then rounded once to the extended format per RC. The working error is a
//! few units in 2^-120 relative, so results are the correctly rounded extended value except
//! when the exact value lies within about 2^-56 ulp of a rounding boundary: the error bound
//! is 1 ulp (the differential test measures it against the host CPU, which is itself not
//! exactly rounded). FSIN/FCOS/FPTAN/FSINCOS reduce by a 128-bit pi/2, so for |x| near 2^63
//! the absolute error of the reduced argument grows to about 2^-64 (the manuals' 66-bit pi
//! gives larger errors there). F2XM1 outside [-1, 1] and FYL2XP1 for x <= -1 (undefined in
//! the manuals) return x, as the CPU the differential test ran on does; FYL2XP1 for other
//! x outside its documented range takes the logarithm of 1 + x, which is exact there.

use super::f80::{Class, Ctx, BIAS, DE, EXT, F80, IE, ONE, ZE};
use iced_x86::Mnemonic as M;

/// `m * 2^(e - 127)`; `m` has its top bit set, or is 0 for zero.
#[derive(Clone, Copy, Debug)]
struct W {
    neg: bool,
    e: i32,
    m: u128,
}

const PI: W = W { neg: false, e: 1, m: 0xc90f_daa2_2168_c234_c4c6_628b_80dc_1cd1 };
const LN2: W = W { neg: false, e: -1, m: 0xb172_17f7_d1cf_79ab_c9e3_b398_03f2_f6af };
const L2E: W = W { neg: false, e: 0, m: 0xb8aa_3b29_5c17_f0bb_be87_fed0_691d_3e88 };
const L2T: W = W { neg: false, e: 1, m: 0xd49a_784b_cd1b_8afe_492b_f6ff_4daf_db4c };
const LG2: W = W { neg: false, e: -2, m: 0x9a20_9a84_fbcf_f798_8f89_59ac_0b7c_9178 };
const W1: W = W { neg: false, e: 0, m: 1 << 127 };

impl W {
    fn new(neg: bool, e: i32, m: u128) -> W {
        if m == 0 {
            return W { neg, e: 0, m: 0 };
        }
        let lz = m.leading_zeros() as i32;
        W { neg, e: e - lz, m: m << lz }
    }
    fn from_f80(x: F80) -> W {
        if x.class() == Class::Zero {
            return W::new(x.sign(), 0, 0);
        }
        let (s, e, m) = x.unpack();
        W { neg: s, e: e - BIAS, m: (m as u128) << 64 }
    }
    fn int(v: u64) -> W {
        W::new(false, 127, v as u128)
    }
    fn neg(self) -> W {
        W { neg: !self.neg, ..self }
    }
    fn abs(self) -> W {
        W { neg: false, ..self }
    }
    fn scale(self, k: i32) -> W {
        W { e: self.e + k, ..self }
    }
    fn is_zero(self) -> bool {
        self.m == 0
    }
    fn mul(self, o: W) -> W {
        const LO: u128 = u64::MAX as u128;
        let (a1, a0, b1, b0) = (self.m >> 64, self.m & LO, o.m >> 64, o.m & LO);
        let hi = a1 * b1 + ((a1 * b0) >> 64) + ((a0 * b1) >> 64);
        W::new(self.neg != o.neg, self.e + o.e + 1, hi)
    }
    fn add(self, o: W) -> W {
        if self.is_zero() {
            return o;
        }
        if o.is_zero() {
            return self;
        }
        let (x, y) = if (self.e, self.m) >= (o.e, o.m) { (self, o) } else { (o, self) };
        let d = (x.e - y.e + 1) as u32;
        let (xm, ym) = (x.m >> 1, if d >= 128 { 0 } else { y.m >> d });
        let m = if x.neg == y.neg { xm + ym } else { xm - ym };
        W::new(x.neg, x.e + 1, m)
    }
    fn sub(self, o: W) -> W {
        self.add(o.neg())
    }
    fn div(self, o: W) -> W {
        if self.is_zero() {
            return self;
        }
        let (mut r, mut hi, mut q) = (self.m, false, 0u128);
        for _ in 0..128 {
            q <<= 1;
            if hi || r >= o.m {
                r = r.wrapping_sub(o.m);
                q |= 1;
            }
            hi = r >> 127 != 0;
            r <<= 1;
        }
        W::new(self.neg != o.neg, self.e - o.e, q)
    }
    /// Square root of a positive value near [1, 2] by Newton's iteration.
    fn sqrt(self) -> W {
        let mut s = W1;
        for _ in 0..9 {
            s = s.add(self.div(s)).scale(-1);
        }
        s
    }
    /// Whether `t` no longer changes a sum whose magnitude is about 2^(e - 127).
    fn negligible(t: W, e: i32) -> bool {
        t.is_zero() || t.e < e - 130
    }
    /// Rounds to the extended format; the truncated tail makes every result inexact.
    fn round(self, c: &mut Ctx) -> F80 {
        if self.is_zero() {
            return F80::zero(self.neg);
        }
        c.round_ext(self.neg, self.e + BIAS, self.m | 1, EXT)
    }
}

/// FLD1, FLDZ, FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2: rounded per RC, no flags.
pub fn constant(mn: M, rc: u8) -> F80 {
    let w = match mn {
        M::Fld1 => return ONE,
        M::Fldz => return F80::zero(false),
        M::Fldpi => PI,
        M::Fldl2e => L2E,
        M::Fldl2t => L2T,
        M::Fldlg2 => LG2,
        _ => LN2,
    };
    w.round(&mut Ctx::new(rc, 64))
}

/// ln(m) for m near [0.7, 1.42]: 2 atanh((m-1)/(m+1)).
fn ln_near1(m: W) -> W {
    atanh2(m.sub(W1).div(m.add(W1)))
}

/// 2 atanh(t) = t + t^3/3 + t^5/5 + ..., doubled.
fn atanh2(t: W) -> W {
    let t2 = t.mul(t);
    let (mut sum, mut p) = (t, t);
    for k in 1..400u64 {
        p = p.mul(t2);
        let term = p.div(W::int(2 * k + 1));
        if W::negligible(term, sum.e) {
            break;
        }
        sum = sum.add(term);
    }
    sum.scale(1)
}

/// log2(x) for finite positive x.
fn log2(x: F80) -> W {
    log2_w(W::from_f80(x))
}

/// log2(x) for positive (nonzero) x: the exponent plus log2 of the significand, taken in
/// [sqrt(2)/2, sqrt(2)) so the series converges fast.
fn log2_w(x: W) -> W {
    let mut k = x.e;
    let mut mw = W { neg: false, e: 0, m: x.m };
    if x.m >> 64 >= 0xb504_f333_f9de_6484 {
        mw = mw.scale(-1);
        k += 1;
    }
    let kw = if k < 0 { W::int(k.unsigned_abs() as u64).neg() } else { W::int(k as u64) };
    kw.add(ln_near1(mw).div(LN2))
}

/// Flags DE for denormal operands.
fn denormals(c: &mut Ctx, xs: &[F80]) {
    if xs.iter().any(|x| x.class() == Class::Denormal) {
        c.flags |= DE;
    }
}

/// FYL2X: y * log2(x).
pub fn fyl2x(c: &mut Ctx, x: F80, y: F80) -> F80 {
    if let Some(r) = c.nan2(x, y) {
        return r;
    }
    let (cx, cy) = (x.class(), y.class());
    if x.sign() && cx != Class::Zero {
        return c.invalid();
    }
    if cx == Class::Zero {
        // log2(0): ZE (a denormal y is not reported).
        return match cy {
            Class::Zero => c.invalid(),
            Class::Inf => F80::inf(!y.sign()),
            _ => {
                c.flags |= ZE;
                F80::inf(!y.sign())
            }
        };
    }
    denormals(c, &[x, y]);
    let one = x == ONE;
    if cx == Class::Inf {
        return if cy == Class::Zero { c.invalid() } else { F80::inf(y.sign()) };
    }
    let below_one = x.exp() < BIAS as u16;
    if cy == Class::Inf {
        return if one { c.invalid() } else { F80::inf(y.sign() != below_one) };
    }
    if cy == Class::Zero || one {
        return F80::zero(y.sign() != below_one);
    }
    W::from_f80(y).mul(log2(x)).round(c)
}

/// FYL2XP1: y * log2(1 + x).
pub fn fyl2xp1(c: &mut Ctx, x: F80, y: F80) -> F80 {
    if let Some(r) = c.nan2(x, y) {
        return r;
    }
    let (cx, cy) = (x.class(), y.class());
    let xw = W::from_f80(x);
    if cx == Class::Inf && x.sign() {
        return c.invalid();
    }
    if x.sign() && cx == Class::Normal && x.exp() as i32 >= BIAS {
        // x <= -1: outside the domain, undefined; the checked CPU returns x.
        return x;
    }
    denormals(c, &[x, y]);
    if cx == Class::Inf {
        return if cy == Class::Zero { c.invalid() } else { F80::inf(y.sign()) };
    }
    if cx == Class::Zero {
        return if cy == Class::Inf { c.invalid() } else { F80::zero(x.sign() != y.sign()) };
    }
    if cy == Class::Inf {
        return F80::inf(y.sign() != x.sign());
    }
    if cy == Class::Zero {
        return F80::zero(x.sign() != y.sign());
    }
    let log2p1 = if (x.exp() as i32) < BIAS - 2 {
        // |x| < 1/4: the series in t = x/(2+x) (|t| < 1/7) keeps the relative precision of
        // small x, which 1 + x would lose.
        atanh2(xw.div(W::int(2).add(xw))).div(LN2)
    } else {
        // Farther out (past the documented |x| < 1 - sqrt(2)/2 too) 1 + x is exact in W,
        // while that series would need thousands of terms as x nears -1.
        log2_w(W1.add(xw))
    };
    W::from_f80(y).mul(log2p1).round(c)
}

/// F2XM1: 2^x - 1.
pub fn f2xm1(c: &mut Ctx, x: F80) -> F80 {
    if let Some(r) = c.nan1(x) {
        return r;
    }
    match x.class() {
        Class::Zero => return x,
        Class::Inf => return if x.sign() { ONE.neg() } else { x },
        Class::Denormal => c.flags |= DE,
        _ => {}
    }
    if x.exp() as i32 >= BIAS && x != ONE && x != ONE.neg() {
        // Outside [-1, 1] the result is undefined; the CPU checked leaves x and reports PE.
        c.flags |= super::f80::PE;
        return x;
    }
    let y = W::from_f80(x).mul(LN2);
    let (mut sum, mut term) = (y, y);
    for n in 2..2000u64 {
        term = term.mul(y).div(W::int(n));
        if W::negligible(term, sum.e) {
            break;
        }
        sum = sum.add(term);
    }
    sum.round(c)
}

/// atan(t) for 0 <= t <= 1: two argument halvings, then the Taylor series.
fn atan01(t: W) -> W {
    let mut t = t;
    for _ in 0..2 {
        t = t.div(W1.add(W1.add(t.mul(t)).sqrt()));
    }
    let t2 = t.mul(t);
    let (mut sum, mut p) = (t, t);
    for k in 1..200u64 {
        p = p.mul(t2).neg();
        let term = p.div(W::int(2 * k + 1));
        if W::negligible(term, sum.e) {
            break;
        }
        sum = sum.add(term);
    }
    sum.scale(2)
}

/// FPATAN: atan2(y, x), the angle of (x, y).
pub fn fpatan(c: &mut Ctx, x: F80, y: F80) -> F80 {
    if let Some(r) = c.nan2(x, y) {
        return r;
    }
    let (cx, cy) = (x.class(), y.class());
    denormals(c, &[x, y]);
    let angle = if cy == Class::Zero {
        if x.sign() {
            PI
        } else {
            return F80::zero(y.sign());
        }
    } else if cy == Class::Inf {
        match (cx, x.sign()) {
            (Class::Inf, false) => PI.scale(-2),
            (Class::Inf, true) => PI.scale(-2).mul(W::int(3)),
            _ => PI.scale(-1),
        }
    } else if cx == Class::Zero {
        PI.scale(-1)
    } else if cx == Class::Inf {
        if x.sign() {
            PI
        } else {
            return F80::zero(y.sign());
        }
    } else {
        let (xa, ya) = (W::from_f80(x).abs(), W::from_f80(y).abs());
        let r = if (ya.e, ya.m) <= (xa.e, xa.m) { atan01(ya.div(xa)) } else { PI.scale(-1).sub(atan01(xa.div(ya))) };
        if x.sign() {
            PI.sub(r)
        } else {
            r
        }
    };
    W { neg: y.sign(), ..angle }.round(c)
}

fn sin_cos_series(r: W, odd: bool) -> W {
    let r2 = r.mul(r).neg();
    let (mut sum, mut term) = if odd { (r, r) } else { (W1, W1) };
    let mut n = if odd { 1u64 } else { 0 };
    for _ in 0..60 {
        term = term.mul(r2).div(W::int((n + 1) * (n + 2)));
        n += 2;
        if W::negligible(term, sum.e) {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// FSIN, FCOS, FPTAN, FSINCOS: (new ST(0), value pushed after it), or None when |x| >= 2^63
/// (C2 set, ST(0) unchanged).
pub fn trig(c: &mut Ctx, mn: M, x: F80) -> Option<(F80, Option<F80>)> {
    let two = matches!(mn, M::Fptan | M::Fsincos);
    let pair = |a: F80, b: F80| Some((a, two.then_some(b)));
    if let Some(r) = c.nan1(x) {
        return pair(r, r);
    }
    match x.class() {
        Class::Inf => {
            c.flags |= IE;
            return pair(super::f80::INDEFINITE, super::f80::INDEFINITE);
        }
        Class::Zero => {
            return match mn {
                M::Fcos => pair(ONE, ONE),
                M::Fptan => pair(x, ONE),
                M::Fsincos => pair(x, ONE),
                _ => pair(x, x),
            };
        }
        Class::Denormal => c.flags |= DE,
        _ => {}
    }
    if x.exp() as i32 >= BIAS + 63 {
        return None;
    }
    // x = k pi/2 + r, |r| <= pi/4.
    let xa = W::from_f80(x).abs();
    let q = xa.div(PI.scale(-1)).add(W1.scale(-1));
    let k: u64 = if q.e < 0 { 0 } else { (q.m >> (127 - q.e)) as u64 };
    let r = xa.sub(W::int(k).mul(PI.scale(-1)));
    let (s, co) = (sin_cos_series(r, true), sin_cos_series(r, false));
    let (mut sin, cos) = match k & 3 {
        0 => (s, co),
        1 => (co, s.neg()),
        2 => (s.neg(), co.neg()),
        _ => (co.neg(), s),
    };
    if x.sign() {
        sin = sin.neg();
    }
    Some(match mn {
        M::Fsin => (sin.round(c), None),
        M::Fcos => (cos.round(c), None),
        M::Fptan => (sin.div(cos).round(c), Some(ONE)),
        _ => {
            let sv = sin.round(c);
            let cv = cos.round(c);
            (sv, Some(cv))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> F80 {
        super::super::convert::from_f64(&mut Ctx::new(0, 64), v.to_bits())
    }
    fn to64(x: F80) -> f64 {
        f64::from_bits(super::super::convert::to_f64(&mut Ctx::new(0, 64), x))
    }

    #[test]
    fn against_host_libm() {
        let mut c = Ctx::new(0, 64);
        assert_eq!(constant(M::Fldpi, 0), F80 { se: 0x4000, sig: 0xc90f_daa2_2168_c235 });
        assert_eq!(constant(M::Fldpi, 3), F80 { se: 0x4000, sig: 0xc90f_daa2_2168_c234 });
        for v in [0.1f64, 0.5, 1.0, 2.0, 3.0, 10.0, 1e-5, 100.0] {
            let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1e-300);
            assert!(close(to64(fyl2x(&mut c, f(v), f(1.0))), v.log2()), "log2 {v}");
            let (s, _) = trig(&mut c, M::Fsin, f(v)).unwrap();
            assert!(close(to64(s), v.sin()), "sin {v}");
            let (co, _) = trig(&mut c, M::Fcos, f(v)).unwrap();
            assert!(close(to64(co), v.cos()), "cos {v}");
            assert!(close(to64(fpatan(&mut c, f(v), f(1.0))), 1f64.atan2(v)), "atan {v}");
            if v <= 1.0 {
                assert!(close(to64(f2xm1(&mut c, f(v))), (v * 2f64.ln()).exp_m1()), "f2xm1 {v}");
                assert!(close(to64(fyl2xp1(&mut c, f(v / 4.0), f(1.0))), (v / 4.0).ln_1p() / 2f64.ln()), "lp1 {v}");
            }
        }
        // FYL2XP1 outside its documented range, near -1 too (where a truncated series in
        // x/(2+x) was 1e-4 off) and above 1.
        for x in [-0.9975, -0.999_999, -0.75, -0.3, 0.3, 0.999, 5.0, 1e10] {
            let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * b.abs();
            assert!(close(to64(fyl2xp1(&mut c, f(x), f(3.0))), 3.0 * x.ln_1p() / 2f64.ln()), "lp1 {x}");
        }
    }
}
