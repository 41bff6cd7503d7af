//! Instruction-level tests of `execute`: decoding, NaN boxing, rounding-mode selection and
//! the flags that reach fcsr.

use super::flags::*;
use super::*;

const RNE: u32 = 0;
const RTZ: u32 = 1;
const RUP: u32 = 3;
const DYN: u32 = 7;

fn op(funct7: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53
}

fn fused(opc: u32, fmt: u32, rs3: u32, rs2: u32, rs1: u32, rm: u32, rd: u32) -> u32 {
    (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opc
}

struct St {
    x: [u64; 32],
    f: [u64; 32],
    fcsr: u32,
}

impl St {
    fn new() -> Self {
        Self { x: [0; 32], f: [0; 32], fcsr: 0 }
    }
    fn run(&mut self, i: u32) -> Result<(), IllegalInstruction> {
        execute(i, &mut self.x, &mut self.f, &mut self.fcsr)
    }
    fn set_s(&mut self, r: usize, v: f32) {
        self.f[r] = BOX | v.to_bits() as u64;
    }
    fn set_d(&mut self, r: usize, v: f64) {
        self.f[r] = v.to_bits();
    }
}

#[test]
fn single_results_are_nan_boxed_and_unboxed_inputs_are_nan() {
    let mut s = St::new();
    s.set_s(1, 1.5);
    s.set_s(2, 2.25);
    s.run(op(0x00, 2, 1, RNE, 3)).unwrap(); // fadd.s f3, f1, f2
    assert_eq!(s.f[3], BOX | 3.75f32.to_bits() as u64);
    assert_eq!(s.fcsr, 0);
    // A double in f2 is not a boxed single: it reads as the canonical NaN.
    s.set_d(2, 2.25);
    s.run(op(0x00, 2, 1, RNE, 3)).unwrap();
    assert_eq!(s.f[3], BOX | 0x7fc0_0000);
    assert_eq!(s.fcsr, 0, "a canonical (quiet) NaN input raises nothing");
    // fsgnj.s of an unboxed value also sees the canonical NaN.
    s.run(op(0x10, 2, 2, 0, 4)).unwrap();
    assert_eq!(s.f[4], BOX | 0x7fc0_0000);
    // fmv.x.w transfers the low bits unchanged, sign-extended.
    s.f[5] = 0x1234_5678_8000_0001;
    s.run(op(0x70, 0, 5, 0, 10)).unwrap();
    assert_eq!(s.x[10], 0xffff_ffff_8000_0001);
    // fmv.w.x boxes.
    s.x[11] = 0xdead_beef_3f80_0000;
    s.run(op(0x78, 0, 11, 0, 6)).unwrap();
    assert_eq!(s.f[6], BOX | 0x3f80_0000);
    // fclass.s of an unboxed value: quiet NaN.
    s.run(op(0x70, 0, 5, 1, 12)).unwrap();
    assert_eq!(s.x[12], 1 << 9);
}

#[test]
fn rounding_mode_selection() {
    let mut s = St::new();
    s.set_d(1, 1.0);
    s.set_d(2, 3.0);
    // fdiv.d with static RUP and with DYN from frm = RTZ.
    s.run(op(0x0d, 2, 1, RUP, 3)).unwrap();
    assert_eq!(s.f[3], (1.0f64 / 3.0).to_bits() + 1);
    s.fcsr = 1 << 5; // frm = RTZ
    s.run(op(0x0d, 2, 1, DYN, 4)).unwrap();
    assert_eq!(s.f[4], (1.0f64 / 3.0).to_bits());
    assert_eq!(s.fcsr, (1 << 5) | NX);
    // Reserved static modes and reserved frm under DYN are illegal, and change nothing.
    for rm in [5, 6] {
        assert_eq!(s.run(op(0x0d, 2, 1, rm, 5)), Err(IllegalInstruction));
    }
    for frm in [5, 6, 7] {
        s.fcsr = frm << 5;
        assert_eq!(s.run(op(0x0d, 2, 1, DYN, 5)), Err(IllegalInstruction));
        assert_eq!(s.run(fused(0x43, 1, 1, 2, 1, DYN, 5)), Err(IllegalInstruction));
        assert_eq!(s.run(op(0x61, 0, 1, DYN, 10)), Err(IllegalInstruction));
        assert_eq!(s.fcsr, frm << 5);
    }
    assert_eq!(s.f[5], 0);
    // Instructions without a rounding mode do not care about frm.
    s.run(op(0x11, 2, 1, 0, 6)).unwrap();
    assert_eq!(s.f[6], 1f64.to_bits());
}

#[test]
fn bad_encodings_are_illegal() {
    let mut s = St::new();
    assert_eq!(s.run(op(0x02, 2, 1, RNE, 3)), Err(IllegalInstruction), "fmt H");
    assert_eq!(s.run(op(0x03, 2, 1, RNE, 3)), Err(IllegalInstruction), "fmt Q");
    assert_eq!(s.run(op(0x2d, 1, 1, RNE, 3)), Err(IllegalInstruction), "fsqrt rs2 != 0");
    assert_eq!(s.run(op(0x15, 2, 1, 2, 3)), Err(IllegalInstruction), "fmin funct3 2");
    assert_eq!(s.run(op(0x21, 1, 1, RNE, 3)), Err(IllegalInstruction), "fcvt.d.d");
    assert_eq!(s.run(op(0x61, 4, 1, RNE, 3)), Err(IllegalInstruction), "fcvt int kind 4");
    assert_eq!(s.run(op(0x71, 0, 1, 2, 3)), Err(IllegalInstruction), "fmv.x.d funct3 2");
    assert_eq!(s.run(op(0x7c, 0, 1, 0, 3)), Err(IllegalInstruction), "unknown funct5");
}

#[test]
fn fcvt_saturation_and_flags() {
    let mut s = St::new();
    s.set_d(1, f64::NAN);
    s.run(op(0x61, 0, 1, RTZ, 10)).unwrap(); // fcvt.w.d a0, f1, rtz
    assert_eq!((s.x[10], s.fcsr), (0x7fff_ffff, NV));
    s.fcsr = 0;
    s.set_d(1, -3e9);
    s.run(op(0x61, 0, 1, RTZ, 10)).unwrap();
    assert_eq!((s.x[10], s.fcsr), (0xffff_ffff_8000_0000, NV), "no NX with NV");
    s.fcsr = 0;
    s.set_d(1, 3e9);
    s.run(op(0x61, 1, 1, RTZ, 10)).unwrap(); // fcvt.wu.d
    assert_eq!((s.x[10], s.fcsr), (3_000_000_000u32 as i32 as i64 as u64, 0));
    s.set_d(1, -7.5);
    s.run(op(0x61, 2, 1, RTZ, 10)).unwrap(); // fcvt.l.d
    assert_eq!((s.x[10], s.fcsr), (-7i64 as u64, NX));
    s.fcsr = 0;
    s.run(op(0x61, 2, 1, RNE, 10)).unwrap();
    assert_eq!((s.x[10], s.fcsr), (-8i64 as u64, NX));
    s.fcsr = 0;
    s.set_s(2, -1.0);
    s.run(op(0x60, 3, 2, RTZ, 10)).unwrap(); // fcvt.lu.s
    assert_eq!((s.x[10], s.fcsr), (0, NV));
    // Integer to float, including x0 as a source and rounding of wide integers.
    s.fcsr = 0;
    s.x[5] = u64::MAX;
    s.run(op(0x69, 0, 5, RNE, 3)).unwrap(); // fcvt.d.w (low 32 bits: -1)
    assert_eq!(s.f[3], (-1f64).to_bits());
    s.run(op(0x69, 1, 5, RNE, 3)).unwrap(); // fcvt.d.wu
    assert_eq!(s.f[3], (u32::MAX as f64).to_bits());
    assert_eq!(s.fcsr, 0);
    s.run(op(0x68, 3, 5, RTZ, 3)).unwrap(); // fcvt.s.lu, rtz
    assert_eq!((s.f[3], s.fcsr), (BOX | 0x5f7f_ffff, NX));
    s.fcsr = 0;
    s.run(op(0x68, 2, 0, RUP, 3)).unwrap(); // fcvt.s.l from x0
    assert_eq!((s.f[3], s.fcsr), (BOX, 0));
}

#[test]
fn float_float_conversions() {
    let mut s = St::new();
    s.set_d(1, 0.1);
    s.run(op(0x20, 1, 1, RNE, 2)).unwrap(); // fcvt.s.d
    assert_eq!((s.f[2], s.fcsr), (BOX | 0.1f32.to_bits() as u64, NX));
    s.fcsr = 0;
    s.run(op(0x20, 1, 1, RTZ, 2)).unwrap();
    assert_eq!(s.f[2], BOX | (0.1f32.to_bits() as u64 - 1));
    s.fcsr = 0;
    s.f[3] = BOX | 0x7f80_0001; // signaling NaN
    s.run(op(0x21, 0, 3, RNE, 4)).unwrap(); // fcvt.d.s
    assert_eq!((s.f[4], s.fcsr), (0x7ff8_0000_0000_0000, NV));
    s.fcsr = 0;
    s.f[3] = BOX | 1; // smallest subnormal single: exact in double
    s.run(op(0x21, 0, 3, RNE, 4)).unwrap();
    assert_eq!((s.f[4], s.fcsr), ((f32::from_bits(1) as f64).to_bits(), 0));
}

#[test]
fn fused_forms_and_signs() {
    let mut s = St::new();
    s.set_d(1, 2.0);
    s.set_d(2, 3.0);
    s.set_d(3, 1.0);
    let run = |s: &mut St, opc| {
        s.run(fused(opc, 1, 3, 2, 1, RNE, 4)).unwrap();
        f64::from_bits(s.f[4])
    };
    assert_eq!(run(&mut s, 0x43), 7.0); // fmadd
    assert_eq!(run(&mut s, 0x47), 5.0); // fmsub
    assert_eq!(run(&mut s, 0x4b), -5.0); // fnmsub
    assert_eq!(run(&mut s, 0x4f), -7.0); // fnmadd
    s.set_s(1, 2.0);
    s.set_s(2, 3.0);
    s.set_s(3, 1.0);
    s.run(fused(0x4f, 0, 3, 2, 1, RNE, 4)).unwrap();
    assert_eq!(s.f[4], BOX | (-7f32).to_bits() as u64);
    assert_eq!(s.fcsr, 0);
    // fnmadd: -(2*3) - (-6) = -6 + 6, an exact zero sum of opposite-signed operands: +0,
    // except -0 when rounding down.
    s.set_d(1, 2.0);
    s.set_d(2, 3.0);
    s.set_d(3, -6.0);
    s.run(fused(0x4f, 1, 3, 2, 1, RNE, 4)).unwrap();
    assert_eq!(s.f[4], 0);
    s.run(fused(0x4f, 1, 3, 2, 1, 2, 4)).unwrap(); // RDN
    assert_eq!(s.f[4], (-0f64).to_bits());
}

#[test]
fn compare_and_minmax_through_execute() {
    let mut s = St::new();
    s.set_d(1, -0.0);
    s.set_d(2, 0.0);
    s.run(op(0x15, 2, 1, 0, 3)).unwrap(); // fmin.d
    assert_eq!(s.f[3], (-0f64).to_bits());
    s.run(op(0x15, 2, 1, 1, 3)).unwrap(); // fmax.d
    assert_eq!(s.f[3], 0);
    s.run(op(0x51, 2, 1, 2, 10)).unwrap(); // feq.d
    assert_eq!(s.x[10], 1);
    s.run(op(0x51, 2, 1, 1, 0)).unwrap(); // flt.d into x0 stays 0
    assert_eq!(s.x[0], 0);
    assert_eq!(s.fcsr, 0);
}
