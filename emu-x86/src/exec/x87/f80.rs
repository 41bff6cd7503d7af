//! A soft-float for the x87's 80-bit extended format: the value type, its classes, and the one
//! rounding routine every operation ends in (precision control, the four rounding modes, the
//! single/double/extended exponent ranges, masked overflow/underflow, the exception flags and
//! the "rounded up" bit the x87 reports in C1). Exact IEEE arithmetic on 64-bit significands is
//! done in integers here so results do not depend on the host's floating point (wasm32
//! included).

/// Exception flags, as in the status and control words.
pub const IE: u8 = 1;
pub const DE: u8 = 2;
pub const ZE: u8 = 4;
pub const OE: u8 = 8;
pub const UE: u8 = 0x10;
pub const PE: u8 = 0x20;

pub const BIAS: i32 = 16383;
const EXT_MAX: i32 = 0x7ffe;
const INT_BIT: u64 = 1 << 63;
const QUIET_BIT: u64 = 1 << 62;

/// An extended value as stored: sign and 15-bit exponent, and the 64-bit significand with its
/// explicit integer bit.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct F80 {
    pub se: u16,
    pub sig: u64,
}

/// The "real indefinite" QNaN that masked invalid operations produce.
pub const INDEFINITE: F80 = F80 { se: 0xffff, sig: 0xc000_0000_0000_0000 };
pub const ONE: F80 = F80 { se: 0x3fff, sig: INT_BIT };

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Zero,
    /// Exponent 0 and a nonzero significand (pseudo-denormals, integer bit set, included).
    Denormal,
    Normal,
    Inf,
    QNaN,
    SNaN,
    /// Pseudo-NaNs, pseudo-infinities and unnormals: the 387 and later reject them as invalid.
    Unsupported,
}

impl F80 {
    pub fn new(sign: bool, exp: u16, sig: u64) -> Self {
        F80 { se: (sign as u16) << 15 | (exp & 0x7fff), sig }
    }
    pub fn zero(sign: bool) -> Self {
        F80::new(sign, 0, 0)
    }
    pub fn inf(sign: bool) -> Self {
        F80::new(sign, 0x7fff, INT_BIT)
    }
    pub fn sign(self) -> bool {
        self.se & 0x8000 != 0
    }
    pub fn exp(self) -> u16 {
        self.se & 0x7fff
    }
    pub fn neg(self) -> Self {
        F80 { se: self.se ^ 0x8000, sig: self.sig }
    }
    pub fn abs(self) -> Self {
        F80 { se: self.se & 0x7fff, sig: self.sig }
    }
    pub fn quiet(self) -> Self {
        F80 { se: self.se, sig: self.sig | QUIET_BIT }
    }
    pub fn from_bytes(b: &[u8; 10]) -> Self {
        F80 { sig: u64::from_le_bytes(b[..8].try_into().unwrap()), se: u16::from_le_bytes([b[8], b[9]]) }
    }
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.sig.to_le_bytes());
        b[8..].copy_from_slice(&self.se.to_le_bytes());
        b
    }

    pub fn class(self) -> Class {
        let j = self.sig & INT_BIT != 0;
        match self.exp() {
            0x7fff if !j => Class::Unsupported,
            0x7fff if self.sig << 1 == 0 => Class::Inf,
            0x7fff if self.sig & QUIET_BIT != 0 => Class::QNaN,
            0x7fff => Class::SNaN,
            0 if self.sig == 0 => Class::Zero,
            0 => Class::Denormal,
            _ if j => Class::Normal,
            _ => Class::Unsupported,
        }
    }
    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNaN | Class::SNaN)
    }

    /// Sign, biased exponent and significand with the integer bit set, for a finite nonzero
    /// value (denormals normalised, so the exponent may be below 1).
    pub fn unpack(self) -> (bool, i32, u64) {
        if self.exp() == 0 {
            let lz = self.sig.leading_zeros() as i32;
            (self.sign(), 1 - lz, self.sig << lz)
        } else {
            (self.sign(), self.exp() as i32, self.sig)
        }
    }
}

/// The exponent range and precision a result is rounded to.
#[derive(Clone, Copy)]
pub struct Format {
    /// Significand bits.
    pub p: u32,
    /// Smallest and largest biased exponent of a normal number, in the extended bias.
    pub emin: i32,
    pub emax: i32,
}

pub const EXT: Format = Format { p: 64, emin: 1, emax: EXT_MAX };
pub const SINGLE: Format = Format { p: 24, emin: BIAS - 126, emax: BIAS + 127 };
pub const DOUBLE: Format = Format { p: 53, emin: BIAS - 1022, emax: BIAS + 1023 };

/// A rounded finite result in the extended bias; `sig` has its integer bit clear for a
/// denormal (then `e == emin`) and is 0 for a zero.
#[derive(Clone, Copy, Debug)]
pub enum Rounded {
    Finite { sign: bool, e: i32, sig: u64 },
    Inf(bool),
}

/// The environment of one operation: rounding control and precision in, flags and C1 out.
pub struct Ctx {
    /// Rounding control: 0 nearest-even, 1 down, 2 up, 3 toward zero.
    pub rc: u8,
    /// Significand bits precision control selects (24, 53 or 64).
    pub pc: u32,
    pub flags: u8,
    /// The last inexact result was rounded away from zero (C1).
    pub up: bool,
}

impl Ctx {
    pub fn new(rc: u8, pc: u32) -> Self {
        Ctx { rc, pc, flags: 0, up: false }
    }

    /// Extended format at the precision control's precision.
    pub fn ext_pc(&self) -> Format {
        Format { p: self.pc, ..EXT }
    }

    /// Whether rounding the low bits `rem` (of `drop` bits) of a value with last kept bit
    /// `odd` and sign `sign` increments it.
    fn increments(&self, sign: bool, odd: bool, rem: u128, drop: u32) -> bool {
        if rem == 0 {
            return false;
        }
        let half = 1u128 << (drop - 1);
        match self.rc {
            0 => rem > half || (rem == half && odd),
            1 => sign,
            2 => !sign,
            _ => false,
        }
    }

    /// Rounds `m * 2^(e - BIAS - 127)` (m nonzero, any normalisation; its lowest bit may be a
    /// sticky bit) to format `f`.
    pub fn round(&mut self, sign: bool, e: i32, m: u128, f: Format) -> Rounded {
        debug_assert!(m != 0);
        let lz = m.leading_zeros() as i32;
        let (mut m, mut e) = (m << lz, e - lz);
        let drop = 128 - f.p;
        let mut tiny = false;
        if e < f.emin {
            // Tininess is detected after rounding, as SSE and the x87 do: a value that
            // rounds up to the smallest normal (unbounded exponent) is not tiny.
            let keep = m >> drop;
            let carries = e == f.emin - 1
                && keep == (1u128 << f.p) - 1
                && self.increments(sign, true, m & ((1u128 << drop) - 1), drop);
            tiny = !carries;
            m = shift_right_jam(m, (f.emin - e) as u32);
            e = f.emin;
        }
        let rem = m & ((1u128 << drop) - 1);
        let mut keep = m >> drop;
        let inc = self.increments(sign, keep & 1 != 0, rem, drop);
        if inc {
            keep += 1;
            if keep >> f.p != 0 {
                keep >>= 1;
                e += 1;
            }
        }
        if e > f.emax {
            self.flags |= OE | PE;
            let to_inf = match self.rc {
                0 => true,
                1 => sign,
                2 => !sign,
                _ => false,
            };
            self.up = to_inf;
            if to_inf {
                return Rounded::Inf(sign);
            }
            return Rounded::Finite { sign, e: f.emax, sig: (u64::MAX >> (64 - f.p)) << (64 - f.p) };
        }
        if rem != 0 {
            self.flags |= PE;
            self.up = inc;
            if tiny {
                self.flags |= UE;
            }
        } else {
            self.up = false;
        }
        Rounded::Finite { sign, e, sig: (keep << (64 - f.p)) as u64 }
    }

    /// Rounds to the extended format (precision `f.p`) and packs.
    pub fn round_ext(&mut self, sign: bool, e: i32, m: u128, f: Format) -> F80 {
        pack_ext(self.round(sign, e, m, f))
    }

    /// The NaN result of a two-operand operation if an operand is a NaN or unsupported, with
    /// the x87 choice: an SNaN paired with a QNaN yields the QNaN, otherwise the larger
    /// significand wins; the result is quietened.
    pub fn nan2(&mut self, a: F80, b: F80) -> Option<F80> {
        let (ca, cb) = (a.class(), b.class());
        if ca == Class::Unsupported || cb == Class::Unsupported {
            self.flags |= IE;
            return Some(INDEFINITE);
        }
        let (na, nb) = (a.is_nan(), b.is_nan());
        if !na && !nb {
            return None;
        }
        if ca == Class::SNaN || cb == Class::SNaN {
            self.flags |= IE;
        }
        let r = match (na, nb) {
            (true, false) => a,
            (false, true) => b,
            _ if ca == Class::SNaN && cb == Class::QNaN => b,
            _ if cb == Class::SNaN && ca == Class::QNaN => a,
            _ => {
                let (sa, sb) = (a.sig | QUIET_BIT, b.sig | QUIET_BIT);
                if sa > sb || (sa == sb && a.se < b.se) {
                    a
                } else {
                    b
                }
            }
        };
        Some(r.quiet())
    }

    /// The NaN result of a one-operand operation, if any.
    pub fn nan1(&mut self, a: F80) -> Option<F80> {
        match a.class() {
            Class::Unsupported => {
                self.flags |= IE;
                Some(INDEFINITE)
            }
            Class::SNaN => {
                self.flags |= IE;
                Some(a.quiet())
            }
            Class::QNaN => Some(a),
            _ => None,
        }
    }

    pub fn invalid(&mut self) -> F80 {
        self.flags |= IE;
        INDEFINITE
    }

    fn denormal_check(&mut self, xs: &[F80]) {
        if xs.iter().any(|x| x.class() == Class::Denormal) {
            self.flags |= DE;
        }
    }

    fn exact_zero_sign(&self) -> bool {
        self.rc == 1
    }

    /// a + b (or a - b), rounded to the precision control.
    pub fn add(&mut self, a: F80, b: F80, sub: bool) -> F80 {
        if let Some(r) = self.nan2(a, b) {
            return r;
        }
        let b = if sub { b.neg() } else { b };
        let (ca, cb) = (a.class(), b.class());
        if ca == Class::Inf && cb == Class::Inf && a.sign() != b.sign() {
            return self.invalid();
        }
        self.denormal_check(&[a, b]);
        if ca == Class::Inf {
            return a;
        }
        if cb == Class::Inf {
            return b;
        }
        let f = self.ext_pc();
        match (ca == Class::Zero, cb == Class::Zero) {
            (true, true) => {
                let s = if a.sign() == b.sign() { a.sign() } else { self.exact_zero_sign() };
                return F80::zero(s);
            }
            (true, false) => return self.reround(b, f),
            (false, true) => return self.reround(a, f),
            _ => {}
        }
        let (sa, ea, ma) = a.unpack();
        let (sb, eb, mb) = b.unpack();
        let ((sa, ea, ma), (sb, eb, mb)) =
            if ea >= eb { ((sa, ea, ma), (sb, eb, mb)) } else { ((sb, eb, mb), (sa, ea, ma)) };
        let x = (ma as u128) << 62;
        let y = shift_right_jam((mb as u128) << 62, (ea - eb) as u32);
        let (sign, m) = if sa == sb {
            (sa, x + y)
        } else if x >= y {
            (sa, x - y)
        } else {
            (sb, y - x)
        };
        if m == 0 {
            self.up = false;
            return F80::zero(self.exact_zero_sign());
        }
        self.round_ext(sign, ea + 2, m, f)
    }

    /// A finite value rounded to format `f` (zero stays as is).
    pub fn reround(&mut self, a: F80, f: Format) -> F80 {
        if a.class() == Class::Zero {
            return a;
        }
        let (s, e, m) = a.unpack();
        self.round_ext(s, e, (m as u128) << 64, f)
    }

    pub fn mul(&mut self, a: F80, b: F80) -> F80 {
        if let Some(r) = self.nan2(a, b) {
            return r;
        }
        let (ca, cb) = (a.class(), b.class());
        let sign = a.sign() != b.sign();
        let inf = ca == Class::Inf || cb == Class::Inf;
        let zero = ca == Class::Zero || cb == Class::Zero;
        if inf && zero {
            return self.invalid();
        }
        self.denormal_check(&[a, b]);
        if inf {
            return F80::inf(sign);
        }
        if zero {
            return F80::zero(sign);
        }
        let (_, ea, ma) = a.unpack();
        let (_, eb, mb) = b.unpack();
        let f = self.ext_pc();
        self.round_ext(sign, ea + eb - BIAS + 1, ma as u128 * mb as u128, f)
    }

    pub fn div(&mut self, a: F80, b: F80) -> F80 {
        if let Some(r) = self.nan2(a, b) {
            return r;
        }
        let (ca, cb) = (a.class(), b.class());
        let sign = a.sign() != b.sign();
        if (ca == Class::Inf && cb == Class::Inf) || (ca == Class::Zero && cb == Class::Zero) {
            return self.invalid();
        }
        if cb == Class::Zero && ca != Class::Inf {
            // Division by zero takes precedence over a denormal dividend.
            self.flags |= ZE;
            return F80::inf(sign);
        }
        self.denormal_check(&[a, b]);
        if ca == Class::Inf {
            return F80::inf(sign);
        }
        if cb == Class::Inf || ca == Class::Zero {
            return F80::zero(sign);
        }
        let (_, ea, ma) = a.unpack();
        let (_, eb, mb) = b.unpack();
        let (n, d) = ((ma as u128) << 64, mb as u128);
        let (q_hi, r) = (n / d, n % d);
        let (q_lo, r2) = ((r << 64) / d, (r << 64) % d);
        let sticky = (q_lo & 3 != 0 || r2 != 0) as u128;
        let m = (q_hi << 62) | (q_lo >> 2) | sticky;
        let f = self.ext_pc();
        self.round_ext(sign, ea - eb + BIAS + 1, m, f)
    }

    pub fn sqrt(&mut self, a: F80) -> F80 {
        if let Some(r) = self.nan1(a) {
            return r;
        }
        match a.class() {
            Class::Zero => return a,
            Class::Inf if !a.sign() => return a,
            _ if a.sign() => return self.invalid(),
            Class::Denormal => self.flags |= DE,
            _ => {}
        }
        let (_, e, m) = a.unpack();
        let k = e - BIAS - 63;
        let (rad, k) = if k & 1 != 0 { ((m as u128) << 1, k - 1) } else { (m as u128, k) };
        // Digit-by-digit square root of rad * 2^68: 67 root bits, remainder as sticky.
        let (mut root, mut rem) = (0u128, 0u128);
        for i in (0..67).rev() {
            let pair = if i >= 34 { (rad >> (2 * (i - 34))) & 3 } else { 0 };
            rem = (rem << 2) | pair;
            let trial = (root << 2) | 1;
            root <<= 1;
            if rem >= trial {
                rem -= trial;
                root |= 1;
            }
        }
        let m = (root << 1) | (rem != 0) as u128;
        let f = self.ext_pc();
        self.round_ext(false, (k >> 1) + BIAS + 92, m, f)
    }

    /// Compares; None when unordered. `quiet` (FUCOM) raises IE only for SNaNs.
    pub fn compare(&mut self, a: F80, b: F80, quiet: bool) -> Option<std::cmp::Ordering> {
        let (ca, cb) = (a.class(), b.class());
        if ca == Class::Unsupported || cb == Class::Unsupported {
            self.flags |= IE;
            return None;
        }
        if a.is_nan() || b.is_nan() {
            if !quiet || ca == Class::SNaN || cb == Class::SNaN {
                self.flags |= IE;
            }
            return None;
        }
        self.denormal_check(&[a, b]);
        Some(total_key(a).cmp(&total_key(b)))
    }
}

/// A key ordering finite and infinite non-NaN values numerically (both zeros equal).
fn total_key(a: F80) -> i128 {
    let mag = match a.class() {
        Class::Zero => 0i128,
        Class::Inf => i128::MAX,
        _ => {
            let (_, e, m) = a.unpack();
            // Denormals unpack to exponents below 1; shift so all are positive.
            ((e + 64) as i128) << 64 | m as i128
        }
    };
    if a.sign() {
        -mag
    } else {
        mag
    }
}

pub fn pack_ext(r: Rounded) -> F80 {
    match r {
        Rounded::Inf(s) => F80::inf(s),
        Rounded::Finite { sign, sig, .. } if sig & INT_BIT == 0 => F80::new(sign, 0, sig),
        Rounded::Finite { sign, e, sig } => F80::new(sign, e as u16, sig),
    }
}

/// `m >> n` with the bits shifted out ORed into the lowest bit.
pub fn shift_right_jam(m: u128, n: u32) -> u128 {
    if n == 0 {
        m
    } else if n >= 128 {
        (m != 0) as u128
    } else {
        (m >> n) | ((m << (128 - n)) != 0) as u128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> F80 {
        super::super::convert::from_f64(&mut Ctx::new(0, 64), x.to_bits())
    }

    #[test]
    fn basic_arithmetic_is_exact() {
        let mut c = Ctx::new(0, 64);
        assert_eq!(c.add(f(1.5), f(2.25), false), f(3.75));
        assert_eq!(c.add(f(1.5), f(1.5), true), F80::zero(false));
        assert_eq!(c.mul(f(3.0), f(-0.5)), f(-1.5));
        assert_eq!(c.div(f(1.0), f(4.0)), f(0.25));
        assert_eq!(c.sqrt(f(2.25)), f(1.5));
        assert_eq!(c.flags, 0);
        // 1/3 rounds to nearest: significand 0xAAAA...AAAB (rounded up).
        let t = c.div(f(1.0), f(3.0));
        assert_eq!(t, F80 { se: 0x3ffd, sig: 0xaaaa_aaaa_aaaa_aaab });
        assert!(c.up && c.flags == PE);
        let mut c = Ctx::new(3, 24);
        assert_eq!(c.div(f(1.0), f(3.0)), F80 { se: 0x3ffd, sig: 0xaaaa_aa00_0000_0000 });
    }

    #[test]
    fn overflow_underflow_and_invalid() {
        let mut c = Ctx::new(0, 64);
        let big = F80::new(false, 0x7ffe, u64::MAX);
        assert_eq!(c.add(big, big, false), F80::inf(false));
        assert_eq!(c.flags, OE | PE);
        let mut c = Ctx::new(3, 64);
        assert_eq!(c.mul(big, f(2.0)), big);
        let mut c = Ctx::new(0, 64);
        let tiny = F80::new(false, 1, INT_BIT | 1);
        assert_eq!(c.mul(tiny, f(0.5)), F80::new(false, 0, (INT_BIT | 1) >> 1));
        assert_eq!(c.flags, UE | PE);
        let mut c = Ctx::new(0, 64);
        assert_eq!(c.add(F80::inf(false), F80::inf(true), false), INDEFINITE);
        assert_eq!(c.flags, IE);
    }
}
