//! Conversions between the extended format and memory formats: single and double reals,
//! 16/32/64-bit integers and 18-digit packed BCD; and rounding to an integral value.

use super::f80::{pack_ext, Class, Ctx, Format, Rounded, DE, DOUBLE, EXT, F80, IE, SINGLE};

/// Widens an IEEE single or double (`frac` fraction bits, `ebits` exponent bits) exactly:
/// denormals are normalised (and reported), NaNs are kept as they are (signalling ones too).
fn widen(bits: u64, frac: u32, ebits: u32) -> (F80, bool) {
    let sign = bits >> (frac + ebits) & 1 != 0;
    let emax = (1u64 << ebits) - 1;
    let bias = (emax >> 1) as i32;
    let e = (bits >> frac) & emax;
    let f = bits & ((1u64 << frac) - 1);
    if e == emax {
        if f == 0 {
            return (F80::inf(sign), false);
        }
        return (F80::new(sign, 0x7fff, 1 << 63 | f << (63 - frac)), false);
    }
    if e == 0 {
        if f == 0 {
            return (F80::zero(sign), false);
        }
        let lz = f.leading_zeros() as i32;
        // f * 2^(1 - bias - frac) with the top bit moved to bit 63.
        let exp = 1 - bias - frac as i32 + (63 - lz) + super::f80::BIAS;
        return (F80::new(sign, exp as u16, f << lz), true);
    }
    (F80::new(sign, (e as i32 - bias + super::f80::BIAS) as u16, 1 << 63 | f << (63 - frac)), false)
}

pub fn widen_f32(bits: u32) -> (F80, bool) {
    widen(bits as u64, 23, 8)
}

pub fn widen_f64(bits: u64) -> (F80, bool) {
    widen(bits, 52, 11)
}

/// FLD m32/m64: SNaNs raise IE and are quietened, denormals raise DE.
pub fn load(c: &mut Ctx, (x, denormal): (F80, bool)) -> F80 {
    if denormal {
        c.flags |= DE;
    }
    c.nan1(x).unwrap_or(x)
}

#[cfg(test)]
pub fn from_f32(c: &mut Ctx, bits: u32) -> F80 {
    load(c, widen_f32(bits))
}

#[cfg(test)]
pub fn from_f64(c: &mut Ctx, bits: u64) -> F80 {
    load(c, widen_f64(bits))
}

/// Narrows to single or double: rounded per RC at that precision and exponent range.
fn narrow(c: &mut Ctx, x: F80, f: Format, frac: u32, ebits: u32) -> u64 {
    let emax = (1u64 << ebits) - 1;
    let bias = (emax >> 1) as i32;
    let sign = (x.sign() as u64) << (frac + ebits);
    let indefinite = sign_bit_set(frac + ebits) | emax << frac | 1 << (frac - 1);
    match x.class() {
        Class::Unsupported => {
            c.flags |= IE;
            return indefinite;
        }
        Class::SNaN | Class::QNaN => {
            if x.class() == Class::SNaN {
                c.flags |= IE;
            }
            return sign | emax << frac | 1 << (frac - 1) | (x.sig << 1) >> (64 - frac);
        }
        Class::Inf => return sign | emax << frac,
        // A denormal source is not reported (DE) by stores.
        Class::Zero => return sign,
        Class::Denormal | Class::Normal => {}
    }
    let (s, e, m) = x.unpack();
    match c.round(s, e, (m as u128) << 64, f) {
        Rounded::Inf(_) => sign | emax << frac,
        Rounded::Finite { e, sig, .. } => {
            let mant = sig >> (63 - frac);
            if sig >> 63 == 0 {
                sign | mant
            } else {
                let be = (e - super::f80::BIAS + bias) as u64;
                sign | be << frac | (mant & ((1u64 << frac) - 1))
            }
        }
    }
}

fn sign_bit_set(bit: u32) -> u64 {
    1 << bit
}

pub fn to_f32(c: &mut Ctx, x: F80) -> u32 {
    narrow(c, x, SINGLE, 23, 8) as u32
}

pub fn to_f64(c: &mut Ctx, x: F80) -> u64 {
    narrow(c, x, DOUBLE, 52, 11)
}

/// An integer, exactly.
pub fn from_i64(v: i64) -> F80 {
    if v == 0 {
        return F80::zero(false);
    }
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    F80::new(v < 0, (super::f80::BIAS + 63 - lz as i32) as u16, m << lz)
}

/// A finite value rounded to an integer per RC: sign and magnitude. Sets PE and C1.
fn round_int(c: &mut Ctx, x: F80, truncate: bool) -> (bool, u128) {
    if x.class() == Class::Zero {
        return (x.sign(), 0);
    }
    let (s, e, m) = x.unpack();
    let shift = super::f80::BIAS + 63 - e;
    if shift <= 0 {
        // Already integral; magnitudes beyond 2^127 are saturated (callers range-check).
        let mag = if -shift >= 64 { u128::MAX } else { (m as u128) << -shift };
        c.up = false;
        return (s, mag);
    }
    let full = (m as u128) << 64;
    let (int, rem) = if shift >= 128 {
        (0, (full != 0) as u128 | 1)
    } else {
        (full >> shift >> 64, super::f80::shift_right_jam(full, shift as u32) & ((1 << 64) - 1))
    };
    // rem is the fraction scaled by 2^64 (with a jammed sticky bit).
    let rc = if truncate { 3 } else { c.rc };
    let inc = rem != 0
        && match rc {
            0 => rem > 1 << 63 || (rem == 1 << 63 && int & 1 != 0),
            1 => s,
            2 => !s,
            _ => false,
        };
    if rem != 0 {
        c.flags |= super::f80::PE;
    }
    c.up = inc;
    (s, int + inc as u128)
}

/// FRNDINT: rounded to an integral value per RC (not affected by precision control).
pub fn round_to_integral(c: &mut Ctx, x: F80) -> F80 {
    if let Some(r) = c.nan1(x) {
        return r;
    }
    match x.class() {
        Class::Zero | Class::Inf => return x,
        Class::Denormal => c.flags |= DE,
        _ => {}
    }
    if x.exp() as i32 >= super::f80::BIAS + 63 {
        return x;
    }
    let (s, mag) = round_int(c, x, false);
    if mag == 0 {
        return F80::zero(s);
    }
    let up = c.up;
    let r = pack_ext(c.round(s, super::f80::BIAS + 127, mag, EXT));
    c.up = up;
    r
}

/// FIST/FISTTP to a `bits`-wide integer: NaNs, infinities and out-of-range values raise IE
/// and give the integer indefinite (the most negative value).
pub fn to_int(c: &mut Ctx, x: F80, bits: u32, truncate: bool) -> u64 {
    let indefinite = 1u64 << (bits - 1);
    match x.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Inf => {
            c.flags |= IE;
            return indefinite;
        }
        _ => {}
    }
    let (s, mag) = round_int(c, x, truncate);
    let limit = 1u128 << (bits - 1);
    if (!s && mag >= limit) || (s && mag > limit) {
        c.flags = (c.flags & !super::f80::PE) | IE;
        c.up = false;
        return indefinite;
    }
    let v = if s { (mag as u64).wrapping_neg() } else { mag as u64 };
    v & (u64::MAX >> (64 - bits))
}

/// FBLD: 18 packed BCD digits and a sign byte.
pub fn from_bcd(b: &[u8; 10]) -> F80 {
    let mut v: i64 = 0;
    for k in (0..9).rev() {
        v = v * 100 + (b[k] >> 4) as i64 * 10 + (b[k] & 15) as i64;
    }
    let r = from_i64(v);
    if b[9] & 0x80 != 0 {
        r.neg()
    } else {
        r
    }
}

/// FBSTP: rounded per RC; out of range, NaN or infinity gives IE and the BCD indefinite.
pub fn to_bcd(c: &mut Ctx, x: F80) -> [u8; 10] {
    const INDEF: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];
    match x.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Inf => {
            c.flags |= IE;
            return INDEF;
        }
        _ => {}
    }
    let (s, mut mag) = round_int(c, x, false);
    if mag >= 1_000_000_000_000_000_000 {
        c.flags = (c.flags & !super::f80::PE) | IE;
        c.up = false;
        return INDEF;
    }
    let mut b = [0u8; 10];
    for byte in b.iter_mut().take(9) {
        let lo = (mag % 10) as u8;
        mag /= 10;
        let hi = (mag % 10) as u8;
        mag /= 10;
        *byte = hi << 4 | lo;
    }
    b[9] = (s as u8) << 7;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut c = Ctx::new(0, 64);
        for v in [0.0f64, -0.0, 1.0, -2.5, 1e300, 5e-324, f64::INFINITY, f64::MIN_POSITIVE] {
            let x = from_f64(&mut c, v.to_bits());
            assert_eq!(to_f64(&mut c, x), v.to_bits(), "{v}");
        }
        for v in [1.0f32, -3.25, 1e-45, f32::MAX] {
            let x = from_f32(&mut c, v.to_bits());
            assert_eq!(to_f32(&mut c, x), v.to_bits(), "{v}");
        }
        assert_eq!(to_int(&mut c, from_i64(-12345), 16, false), (-12345i16) as u16 as u64);
        assert_eq!(to_int(&mut c, widen_f64(2.5f64.to_bits()).0, 32, false), 2);
        assert_eq!(to_int(&mut c, widen_f64(1e10f64.to_bits()).0, 32, false), 0x8000_0000);
        let b = to_bcd(&mut c, from_i64(-9876543210));
        assert_eq!(from_bcd(&b), from_i64(-9876543210));
    }
}
