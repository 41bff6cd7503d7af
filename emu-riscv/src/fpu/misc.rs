//! The non-arithmetic operations: sign injection, min/max, comparisons and classification.
//! None of them rounds; their only subtleties are NaN rules and signed zeros.

use super::flags::NV;
use super::soft::{unpack, Class, Fmt};

fn is_nan(f: Fmt, v: u64) -> bool {
    matches!(unpack(f, v).class, Class::QNan | Class::SNan)
}

fn is_snan(f: Fmt, v: u64) -> bool {
    unpack(f, v).class == Class::SNan
}

/// The value as a binary64 (exact for both formats; NaN payloads do not matter here).
fn value(f: Fmt, v: u64) -> f64 {
    if f.man == 23 {
        f32::from_bits(v as u32) as f64
    } else {
        f64::from_bits(v)
    }
}

/// FSGNJ (funct3 0), FSGNJN (1), FSGNJX (2).
pub fn sign_inject(f: Fmt, a: u64, b: u64, funct3: u32) -> Option<u64> {
    let s = f.sign_bit();
    let sign = match funct3 {
        0 => b & s,
        1 => !b & s,
        2 => (a ^ b) & s,
        _ => return None,
    };
    Some((a & !s) | sign)
}

/// FMIN/FMAX, IEEE 754-2019 minimumNumber/maximumNumber: -0 < +0, a single NaN operand
/// yields the other operand, two NaNs the canonical NaN; signaling NaNs raise NV.
pub fn min_max(f: Fmt, a: u64, b: u64, max: bool, flags: &mut u32) -> u64 {
    if is_snan(f, a) || is_snan(f, b) {
        *flags |= NV;
    }
    match (is_nan(f, a), is_nan(f, b)) {
        (true, true) => return f.canonical_nan(),
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    let (x, y) = (value(f, a), value(f, b));
    let a_wins = if x == y {
        // Equal values differ only for zeros: pick by sign.
        let a_neg = a & f.sign_bit() != 0;
        a_neg != max
    } else {
        (x < y) != max
    };
    if a_wins {
        a
    } else {
        b
    }
}

/// FLE (funct3 0), FLT (1), FEQ (2). FEQ is quiet (NV only for signaling NaNs); FLT and FLE
/// are signaling (NV for any NaN). Any NaN compares false.
pub fn compare(f: Fmt, a: u64, b: u64, funct3: u32, flags: &mut u32) -> Option<u64> {
    let nan = is_nan(f, a) || is_nan(f, b);
    let (x, y) = (value(f, a), value(f, b));
    let r = match funct3 {
        0 => x <= y,
        1 => x < y,
        2 => x == y,
        _ => return None,
    };
    let invalid = if funct3 == 2 { is_snan(f, a) || is_snan(f, b) } else { nan };
    if invalid {
        *flags |= NV;
    }
    Some(r as u64)
}

/// FCLASS: one bit of ten, from -inf (bit 0) up to quiet NaN (bit 9).
pub fn classify(f: Fmt, a: u64) -> u64 {
    let u = unpack(f, a);
    let subnormal = (a >> f.man) & ((1 << f.exp) - 1) == 0;
    let bit = match (u.class, u.sign) {
        (Class::Inf, true) => 0,
        (Class::Finite, true) if !subnormal => 1,
        (Class::Finite, true) => 2,
        (Class::Zero, true) => 3,
        (Class::Zero, false) => 4,
        (Class::Finite, false) if subnormal => 5,
        (Class::Finite, false) => 6,
        (Class::Inf, false) => 7,
        (Class::SNan, _) => 8,
        (Class::QNan, _) => 9,
    };
    1 << bit
}

#[cfg(test)]
mod tests {
    use super::super::soft::{F32, F64};
    use super::*;

    fn d(v: f64) -> u64 {
        v.to_bits()
    }
    const SNAN: u64 = 0x7ff0_0000_0000_0001;
    const QNAN: u64 = 0x7ff8_0000_0000_0000;

    #[test]
    fn min_max_2019_semantics() {
        let mut fl = 0;
        assert_eq!(min_max(F64, d(0.0), d(-0.0), false, &mut fl), d(-0.0));
        assert_eq!(min_max(F64, d(-0.0), d(0.0), false, &mut fl), d(-0.0));
        assert_eq!(min_max(F64, d(-0.0), d(0.0), true, &mut fl), d(0.0));
        assert_eq!(min_max(F64, d(1.0), d(2.0), true, &mut fl), d(2.0));
        assert_eq!(min_max(F64, d(-1.0), d(2.0), false, &mut fl), d(-1.0));
        assert_eq!(min_max(F64, QNAN, d(2.0), false, &mut fl), d(2.0));
        assert_eq!(fl, 0);
        assert_eq!(min_max(F64, d(3.0), SNAN, true, &mut fl), d(3.0));
        assert_eq!(fl, NV);
        let mut fl = 0;
        assert_eq!(min_max(F64, QNAN | 5, QNAN | 7, true, &mut fl), F64.canonical_nan());
        assert_eq!(fl, 0);
        assert_eq!(min_max(F32, 0x7fa0_0000, 0x7fc0_0000, true, &mut fl), 0x7fc0_0000);
        assert_eq!(fl, NV);
    }

    #[test]
    fn comparisons_signal_per_kind() {
        let mut fl = 0;
        assert_eq!(compare(F64, QNAN, d(1.0), 2, &mut fl), Some(0));
        assert_eq!(fl, 0, "FEQ is quiet on quiet NaNs");
        assert_eq!(compare(F64, QNAN, d(1.0), 1, &mut fl), Some(0));
        assert_eq!(fl, NV, "FLT signals on any NaN");
        let mut fl = 0;
        assert_eq!(compare(F64, SNAN, SNAN, 2, &mut fl), Some(0));
        assert_eq!(fl, NV);
        let mut fl = 0;
        assert_eq!(compare(F64, d(-0.0), d(0.0), 2, &mut fl), Some(1));
        assert_eq!(compare(F64, d(-0.0), d(0.0), 1, &mut fl), Some(0));
        assert_eq!(compare(F64, d(-0.0), d(0.0), 0, &mut fl), Some(1));
        assert_eq!(compare(F32, 0x3f80_0000, 0x4000_0000, 1, &mut fl), Some(1));
        assert_eq!(compare(F64, d(1.0), d(1.0), 3, &mut fl), None);
        assert_eq!(fl, 0);
    }

    #[test]
    fn classify_every_class() {
        let cases = [
            (d(f64::NEG_INFINITY), 0),
            (d(-1.0), 1),
            (d(-5e-324), 2),
            (d(-0.0), 3),
            (d(0.0), 4),
            (d(5e-324), 5),
            (d(1.0), 6),
            (d(f64::INFINITY), 7),
            (SNAN, 8),
            (QNAN, 9),
        ];
        for (v, bit) in cases {
            assert_eq!(classify(F64, v), 1 << bit, "{v:#x}");
        }
        assert_eq!(classify(F32, 0x0000_0001), 1 << 5);
        assert_eq!(classify(F32, 0xff80_0000), 1);
        assert_eq!(classify(F32, 0x7f80_0001), 1 << 8);
    }

    #[test]
    fn sign_injection() {
        assert_eq!(sign_inject(F64, d(1.0), d(-2.0), 0), Some(d(-1.0)));
        assert_eq!(sign_inject(F64, d(1.0), d(-2.0), 1), Some(d(1.0)));
        assert_eq!(sign_inject(F64, d(-1.0), d(-2.0), 2), Some(d(1.0)));
        assert_eq!(sign_inject(F32, 0xbf80_0000, 0x3f80_0000, 0), Some(0x3f80_0000));
        assert_eq!(sign_inject(F64, d(1.0), d(1.0), 3), None);
    }
}
