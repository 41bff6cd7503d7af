//! The x87 register file: control and status words, the eight physical registers with their
//! empty tags, the stack top; and its three memory images (FXSAVE's legacy area, and the
//! 28-byte environment and 108-byte state of FNSTENV/FNSAVE in 64-bit mode).

use super::f80::{Class, F80};

/// Status word bits.
pub const SF: u16 = 1 << 6;
pub const ES: u16 = 1 << 7;
pub const C0: u16 = 1 << 8;
pub const C1: u16 = 1 << 9;
pub const C2: u16 = 1 << 10;
pub const C3: u16 = 1 << 14;
pub const B: u16 = 1 << 15;
pub const TOP_SHIFT: u16 = 11;

/// The x87 FPU state. The last instruction and data pointers and opcode are kept only so
/// that save/restore images round-trip; instructions do not update them.
#[derive(Clone, Debug)]
pub(crate) struct X87 {
    pub fcw: u16,
    pub fsw: u16,
    /// Physical registers tagged empty (bit i: register i).
    pub empty: u8,
    pub regs: [F80; 8],
    pub fop: u16,
    pub fip: u64,
    pub fdp: u64,
}

impl Default for X87 {
    fn default() -> Self {
        let mut x = X87 { fcw: 0, fsw: 0, empty: 0xff, regs: [F80::default(); 8], fop: 0, fip: 0, fdp: 0 };
        x.init();
        x
    }
}

impl X87 {
    /// FNINIT: registers keep their contents but are all tagged empty.
    pub fn init(&mut self) {
        self.fcw = 0x037f;
        self.fsw = 0;
        self.empty = 0xff;
        self.fop = 0;
        self.fip = 0;
        self.fdp = 0;
    }

    pub fn top(&self) -> usize {
        ((self.fsw >> TOP_SHIFT) & 7) as usize
    }
    pub fn set_top(&mut self, t: usize) {
        self.fsw = (self.fsw & !(7 << TOP_SHIFT)) | ((t as u16 & 7) << TOP_SHIFT);
    }
    pub fn phys(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }
    pub fn is_empty(&self, i: usize) -> bool {
        self.empty & (1 << self.phys(i)) != 0
    }
    pub fn st(&self, i: usize) -> F80 {
        self.regs[self.phys(i)]
    }
    /// Writes ST(i) and tags it valid.
    pub fn set_st(&mut self, i: usize, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.empty &= !(1 << p);
    }
    pub fn free(&mut self, i: usize) {
        self.empty |= 1 << self.phys(i);
    }
    pub fn pop(&mut self) {
        self.free(0);
        self.set_top(self.top() + 1);
    }

    /// MMX register `n`: the significand of physical register `n`.
    pub fn mm(&self, n: usize) -> u64 {
        self.regs[n & 7].sig
    }
    /// Writes MMX register `n`; its exponent field becomes all ones.
    pub fn set_mm(&mut self, n: usize, v: u64) {
        self.regs[n & 7] = F80 { se: 0xffff, sig: v };
    }
    /// An unmasked exception is pending (ES): the next waiting instruction raises #MF.
    pub fn pending_exception(&self) -> bool {
        self.fsw & ES != 0
    }
    /// What every MMX instruction but EMMS does to the x87 state: TOP 0, all registers valid.
    pub fn mmx_transition(&mut self) {
        self.set_top(0);
        self.empty = 0;
    }

    /// Rounding control (0 nearest, 1 down, 2 up, 3 toward zero).
    pub fn rc(&self) -> u8 {
        ((self.fcw >> 10) & 3) as u8
    }
    /// Significand bits selected by precision control (the reserved setting acts as 64).
    pub fn pc_bits(&self) -> u32 {
        match (self.fcw >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        }
    }

    /// Recomputes ES and B from the exception flags and masks.
    pub fn update_es(&mut self) {
        if self.fsw & !self.fcw & 0x3f != 0 {
            self.fsw |= ES | B;
        } else {
            self.fsw &= !(ES | B);
        }
    }

    /// The full tag word: 00 valid, 01 zero, 10 special, 11 empty, per physical register.
    pub fn tag_word(&self) -> u16 {
        (0..8).fold(0u16, |tw, p| {
            let t = if self.empty & (1 << p) != 0 {
                3
            } else {
                match self.regs[p].class() {
                    Class::Normal => 0,
                    Class::Zero => 1,
                    _ => 2,
                }
            };
            tw | t << (2 * p)
        })
    }

    /// FXSAVE's first 160 bytes (bytes 24..32, MXCSR and its mask, are left zero).
    pub fn fxsave_image(&self) -> [u8; 160] {
        let mut img = [0u8; 160];
        img[0..2].copy_from_slice(&self.fcw.to_le_bytes());
        img[2..4].copy_from_slice(&self.fsw.to_le_bytes());
        img[4] = !self.empty;
        img[6..8].copy_from_slice(&self.fop.to_le_bytes());
        img[8..16].copy_from_slice(&self.fip.to_le_bytes());
        img[16..24].copy_from_slice(&self.fdp.to_le_bytes());
        for i in 0..8 {
            img[32 + 16 * i..42 + 16 * i].copy_from_slice(&self.st(i).to_bytes());
        }
        img
    }

    pub fn load_fxsave_image(&mut self, img: &[u8]) {
        self.fcw = u16::from_le_bytes([img[0], img[1]]);
        self.fsw = u16::from_le_bytes([img[2], img[3]]);
        self.empty = !img[4];
        self.fop = u16::from_le_bytes([img[6], img[7]]) & 0x7ff;
        self.fip = u64::from_le_bytes(img[8..16].try_into().unwrap());
        self.fdp = u64::from_le_bytes(img[16..24].try_into().unwrap());
        for i in 0..8 {
            let b: [u8; 10] = img[32 + 16 * i..42 + 16 * i].try_into().unwrap();
            let p = self.phys(i);
            self.regs[p] = F80::from_bytes(&b);
        }
    }

    /// The 28-byte protected-mode environment FNSTENV stores (and FNSAVE starts with).
    pub fn env_image(&self) -> [u8; 28] {
        let mut e = [0u8; 28];
        let words = [
            0xffff_0000 | self.fcw as u32,
            0xffff_0000 | self.fsw as u32,
            0xffff_0000 | self.tag_word() as u32,
            self.fip as u32,
            (self.fop as u32) << 16,
            self.fdp as u32,
            0xffff_0000,
        ];
        for (k, w) in words.iter().enumerate() {
            e[4 * k..4 * k + 4].copy_from_slice(&w.to_le_bytes());
        }
        e
    }

    /// FLDENV: tags other than empty are recomputed from the contents, as the hardware does.
    pub fn load_env_image(&mut self, e: &[u8]) {
        let w = |k: usize| u32::from_le_bytes(e[4 * k..4 * k + 4].try_into().unwrap());
        self.fcw = w(0) as u16;
        self.fsw = w(1) as u16;
        let tw = w(2) as u16;
        self.empty = (0..8).fold(0, |m, p| m | (((tw >> (2 * p)) & 3 == 3) as u8) << p);
        self.fip = w(3) as u64;
        self.fop = (w(4) >> 16) as u16 & 0x7ff;
        self.fdp = w(5) as u64;
        self.update_es();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip() {
        let mut x = X87::default();
        x.set_top(5);
        x.set_st(0, F80 { se: 0x3fff, sig: 1 << 63 });
        x.set_st(2, F80::zero(true));
        x.fsw |= 1;
        let img = x.fxsave_image();
        let mut y = X87::default();
        y.load_fxsave_image(&img);
        assert_eq!((y.fsw, y.empty, y.st(0), y.st(2)), (x.fsw, x.empty, x.st(0), x.st(2)));
        assert_eq!(x.tag_word(), !(3 << 10) & !(2 << 14));
        let mut z = X87::default();
        z.load_env_image(&x.env_image());
        assert_eq!(z.empty, x.empty);
    }
}
