//! RFLAGS with lazily computed arithmetic flags.
//!
//! The common flag producers (ADD, SUB, CMP, AND/OR/XOR/TEST, INC, DEC, NEG, ADC, SBB) only
//! record their operands, result and kind; CF/PF/AF/ZF/SF/OF are derived when something reads
//! them (Jcc, SETcc, CMOVcc, PUSHF, ...). Everything else writes the bits eagerly.

pub const CF: u64 = 1 << 0;
pub const PF: u64 = 1 << 2;
pub const AF: u64 = 1 << 4;
pub const ZF: u64 = 1 << 6;
pub const SF: u64 = 1 << 7;
pub const TF: u64 = 1 << 8;
pub const IF: u64 = 1 << 9;
pub const DF: u64 = 1 << 10;
pub const OF: u64 = 1 << 11;
pub const IOPL: u64 = 3 << 12;
pub const NT: u64 = 1 << 14;
pub const RF: u64 = 1 << 16;
pub const VM: u64 = 1 << 17;
pub const AC: u64 = 1 << 18;
pub const ID: u64 = 1 << 21;
/// The six arithmetic flags.
pub const ARITH: u64 = CF | PF | AF | ZF | SF | OF;
/// Bits software can change at all (bit 1 always reads 1).
pub const WRITABLE: u64 = ARITH | TF | IF | DF | IOPL | NT | RF | AC | ID;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlagOp {
    /// The arithmetic bits are in `Flags::bits`.
    Eager,
    Add,
    Adc,
    Sub,
    Sbb,
    Logic,
    /// INC/DEC keep CF, which is then in `Flags::bits`.
    Inc,
    Dec,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Flags {
    /// Non-arithmetic bits always; arithmetic bits when `op` is `Eager` (CF also for Inc/Dec).
    pub bits: u64,
    pub op: FlagOp,
    /// Operand size in bytes.
    pub size: u8,
    pub a: u64,
    pub b: u64,
    pub res: u64,
    /// Carry-in of ADC/SBB.
    pub cin: bool,
}

#[inline(always)]
pub fn mask(size: u8) -> u64 {
    u64::MAX >> (64 - 8 * size as u32)
}

#[inline(always)]
pub fn sign(size: u8) -> u64 {
    1u64 << (8 * size as u32 - 1)
}

#[inline(always)]
pub fn parity(v: u64) -> bool {
    (v as u8).count_ones().is_multiple_of(2)
}

impl Default for Flags {
    fn default() -> Self {
        Self { bits: 2, op: FlagOp::Eager, size: 8, a: 0, b: 0, res: 0, cin: false }
    }
}

impl Flags {
    #[inline(always)]
    pub fn set_lazy(&mut self, op: FlagOp, size: u8, a: u64, b: u64, res: u64) {
        if matches!(op, FlagOp::Inc | FlagOp::Dec) {
            let cf = self.cf();
            self.bits = (self.bits & !ARITH) | cf as u64;
        }
        self.op = op;
        self.size = size;
        self.a = a & mask(size);
        self.b = b & mask(size);
        self.res = res & mask(size);
    }

    #[inline(always)]
    pub fn set_adc(&mut self, op: FlagOp, size: u8, a: u64, b: u64, res: u64, cin: bool) {
        self.set_lazy(op, size, a, b, res);
        self.cin = cin;
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        let (a, b, r) = (self.a, self.b, self.res);
        match self.op {
            FlagOp::Eager | FlagOp::Inc | FlagOp::Dec => self.bits & CF != 0,
            FlagOp::Add => r < a,
            FlagOp::Adc => r < a || (self.cin && r == a),
            FlagOp::Sub => a < b,
            FlagOp::Sbb => a < b || (self.cin && a == b),
            FlagOp::Logic => false,
        }
    }

    #[inline(always)]
    pub fn zf(&self) -> bool {
        match self.op {
            FlagOp::Eager => self.bits & ZF != 0,
            _ => self.res == 0,
        }
    }

    #[inline(always)]
    pub fn sf(&self) -> bool {
        match self.op {
            FlagOp::Eager => self.bits & SF != 0,
            _ => self.res & sign(self.size) != 0,
        }
    }

    #[inline(always)]
    pub fn of(&self) -> bool {
        let (a, b, r, s) = (self.a, self.b, self.res, sign(self.size));
        match self.op {
            FlagOp::Eager => self.bits & OF != 0,
            FlagOp::Add | FlagOp::Adc => (a ^ r) & (b ^ r) & s != 0,
            FlagOp::Sub | FlagOp::Sbb => (a ^ b) & (a ^ r) & s != 0,
            FlagOp::Logic => false,
            FlagOp::Inc => r == s,
            FlagOp::Dec => r == s - 1,
        }
    }

    #[inline(always)]
    pub fn pf(&self) -> bool {
        match self.op {
            FlagOp::Eager => self.bits & PF != 0,
            _ => parity(self.res),
        }
    }

    #[inline]
    pub fn af(&self) -> bool {
        match self.op {
            FlagOp::Eager => self.bits & AF != 0,
            FlagOp::Logic => false,
            _ => (self.a ^ self.b ^ self.res) & 0x10 != 0,
        }
    }

    /// The full RFLAGS value.
    pub fn get(&self) -> u64 {
        if self.op == FlagOp::Eager {
            return self.bits | 2;
        }
        let mut f = self.bits & !ARITH;
        f |= self.cf() as u64;
        f |= (self.pf() as u64) << 2;
        f |= (self.af() as u64) << 4;
        f |= (self.zf() as u64) << 6;
        f |= (self.sf() as u64) << 7;
        f |= (self.of() as u64) << 11;
        f | 2
    }

    /// Makes every bit eager (before a partial eager update).
    #[inline]
    pub fn materialize(&mut self) {
        if self.op != FlagOp::Eager {
            self.bits = self.get();
            self.op = FlagOp::Eager;
        }
    }

    /// Replaces the bits in `which` with those of `value`.
    #[inline]
    pub fn set_bits(&mut self, which: u64, value: u64) {
        self.materialize();
        self.bits = (self.bits & !which) | (value & which) | 2;
    }

    /// The lazy flags of a logic operation (AND, OR, XOR, TEST) with result `res`: CF, OF
    /// and AF are zero, so the operands are not needed.
    #[inline(always)]
    pub fn set_logic(&mut self, size: u8, res: u64) {
        self.op = FlagOp::Logic;
        self.size = size;
        self.res = res & mask(size);
    }

    /// Sets all six arithmetic flags to `value`'s (eagerly; the other bits are kept).
    #[inline]
    pub fn set_arith(&mut self, value: u64) {
        self.bits = (self.bits & !ARITH) | (value & ARITH) | 2;
        self.op = FlagOp::Eager;
    }

    #[inline]
    pub fn set_flag(&mut self, which: u64, on: bool) {
        self.set_bits(which, if on { which } else { 0 });
    }

    /// The result-derived flags (ZF, SF, PF) of `res` as eager bits, as most eager producers
    /// need.
    #[inline(always)]
    pub fn szp(res: u64, size: u8) -> u64 {
        let r = res & mask(size);
        let mut f = 0;
        if r == 0 {
            f |= ZF;
        }
        if r & sign(size) != 0 {
            f |= SF;
        }
        if parity(r) {
            f |= PF;
        }
        f
    }

    /// ZF without a dispatch on the operation: every lazy operation sets it from its result.
    #[inline(always)]
    pub fn zf_fast(&self) -> bool {
        if self.op == FlagOp::Eager {
            self.bits & ZF != 0
        } else {
            self.res == 0
        }
    }

    /// [`Flags::cond`] for the run loop: inline, with the conditions after CMP/SUB and
    /// TEST/AND/OR/XOR (most of them) worked out from the operands directly.
    #[inline(always)]
    pub fn cond_fast(&self, cc: u8) -> bool {
        let r = match self.op {
            FlagOp::Sub => {
                let (a, b) = (self.a, self.b);
                // The operands shifted to the top, so signed comparisons need no sign extension.
                let sh = 64 - 8 * self.size as u32;
                let (sa, sb) = ((a << sh) as i64, (b << sh) as i64);
                match cc >> 1 {
                    0 => self.of(),
                    1 => a < b,
                    2 => a == b,
                    3 => a <= b,
                    4 => self.sf(),
                    5 => parity(self.res),
                    6 => sa < sb,
                    _ => sa <= sb,
                }
            }
            FlagOp::Logic => {
                let r = self.res;
                let s = r & sign(self.size) != 0;
                match cc >> 1 {
                    0 | 1 => false,
                    2 | 3 => r == 0,
                    4 | 6 => s,
                    5 => parity(r),
                    _ => r == 0 || s,
                }
            }
            _ => return self.cond(cc),
        };
        r ^ (cc & 1 != 0)
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc).
    #[inline]
    pub fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_add_matches_definition() {
        let mut f = Flags::default();
        f.set_lazy(FlagOp::Add, 1, 0x7f, 1, 0x80);
        assert!(!f.cf() && f.of() && f.sf() && !f.zf() && f.af());
        f.set_lazy(FlagOp::Add, 1, 0xff, 1, 0x100);
        assert!(f.cf() && !f.of() && f.zf() && f.pf());
    }

    #[test]
    fn inc_keeps_carry() {
        let mut f = Flags::default();
        f.set_lazy(FlagOp::Sub, 4, 0, 1, u64::MAX);
        assert!(f.cf());
        f.set_lazy(FlagOp::Inc, 4, 5, 1, 6);
        assert!(f.cf() && !f.zf());
        assert_eq!(f.get() & CF, CF);
    }

    /// The fast condition evaluation agrees with the general one after every lazy operation,
    /// size and condition, for edge-case operands.
    #[test]
    fn fast_conditions_match() {
        let vals = [0u64, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffff, 0x8000_0000, u64::MAX, 1 << 63];
        for size in [1u8, 2, 4, 8] {
            for &a in &vals {
                for &b in &vals {
                    for op in [FlagOp::Sub, FlagOp::Logic, FlagOp::Add, FlagOp::Inc, FlagOp::Eager] {
                        let mut f = Flags { bits: 2 | (a & ARITH), ..Flags::default() };
                        let r = match op {
                            FlagOp::Sub => a.wrapping_sub(b),
                            FlagOp::Add => a.wrapping_add(b),
                            FlagOp::Inc => a.wrapping_add(1),
                            _ => a & b,
                        };
                        if op != FlagOp::Eager {
                            f.set_lazy(op, size, a, b, r);
                        }
                        for cc in 0..16 {
                            assert_eq!(f.cond_fast(cc), f.cond(cc), "{op:?} size {size} {a:#x} {b:#x} cc {cc}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn conditions() {
        let mut f = Flags::default();
        f.set_lazy(FlagOp::Sub, 8, 1, 2, 1u64.wrapping_sub(2));
        assert!(f.cond(0x2)); // B
        assert!(f.cond(0xc)); // L
        assert!(!f.cond(0x4)); // E
        assert!(f.cond(0x6)); // BE
        assert!(f.cond(0xe)); // LE
        f.set_lazy(FlagOp::Sub, 8, 0x8000_0000_0000_0000, 1, 0x7fff_ffff_ffff_ffff);
        assert!(f.of() && !f.sf() && f.cond(0xc));
    }
}
