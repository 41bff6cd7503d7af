//! SSE and SSE2: moves, packed and scalar single/double arithmetic, integer SIMD, shuffles,
//! conversions, MXCSR, FXSAVE/FXRSTOR.
//!
//! NaN results follow the x86 rules explicitly (first NaN operand, quietened; otherwise the
//! "real indefinite" default NaN) instead of the host's, so the emulator behaves the same on
//! every host, wasm32 included. Arithmetic rounds to nearest-even whatever MXCSR.RC says;
//! conversions to integers honour RC. MXCSR exception flags are not accumulated.

use super::Res;
use crate::bus::Bus;
use crate::cpu::{cr0, cr4, Cpu};
use crate::fault::Fault;
use crate::flags::{ARITH, CF, PF, ZF};
use iced_x86::{Instruction, Mnemonic as M, OpKind};

type V = u128;

#[inline]
fn b16(v: V) -> [u8; 16] {
    v.to_le_bytes()
}
#[inline]
fn w8(v: V) -> [u16; 8] {
    let b = v.to_le_bytes();
    std::array::from_fn(|k| u16::from_le_bytes([b[2 * k], b[2 * k + 1]]))
}
#[inline]
fn d4(v: V) -> [u32; 4] {
    std::array::from_fn(|k| (v >> (32 * k)) as u32)
}
#[inline]
fn q2(v: V) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}
#[inline]
fn from_b(a: [u8; 16]) -> V {
    u128::from_le_bytes(a)
}
#[inline]
fn from_w(a: [u16; 8]) -> V {
    a.iter().enumerate().fold(0, |acc, (k, &x)| acc | (x as V) << (16 * k))
}
#[inline]
fn from_d(a: [u32; 4]) -> V {
    a.iter().enumerate().fold(0, |acc, (k, &x)| acc | (x as V) << (32 * k))
}
#[inline]
fn from_q(a: [u64; 2]) -> V {
    a[0] as V | (a[1] as V) << 64
}

fn map_b(a: V, b: V, f: impl Fn(u8, u8) -> u8) -> V {
    let (a, b) = (b16(a), b16(b));
    from_b(std::array::from_fn(|k| f(a[k], b[k])))
}
fn map_w(a: V, b: V, f: impl Fn(u16, u16) -> u16) -> V {
    let (a, b) = (w8(a), w8(b));
    from_w(std::array::from_fn(|k| f(a[k], b[k])))
}
fn map_d(a: V, b: V, f: impl Fn(u32, u32) -> u32) -> V {
    let (a, b) = (d4(a), d4(b));
    from_d(std::array::from_fn(|k| f(a[k], b[k])))
}
fn map_q(a: V, b: V, f: impl Fn(u64, u64) -> u64) -> V {
    let (a, b) = (q2(a), q2(b));
    from_q([f(a[0], b[0]), f(a[1], b[1])])
}

const F32_INDEF: u32 = 0xffc0_0000;
const F64_INDEF: u64 = 0xfff8_0000_0000_0000;

fn nan32(x: u32) -> bool {
    x & 0x7fff_ffff > 0x7f80_0000
}
fn nan64(x: u64) -> bool {
    x & 0x7fff_ffff_ffff_ffff > 0x7ff0_0000_0000_0000
}

#[derive(Clone, Copy)]
enum FOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sqrt,
}

fn f32_op(op: FOp, a: u32, b: u32) -> u32 {
    let (x, y) = (f32::from_bits(a), f32::from_bits(b));
    match op {
        FOp::Min => return if x < y { a } else { b },
        FOp::Max => return if x > y { a } else { b },
        FOp::Sqrt => {
            if nan32(b) {
                return b | 0x0040_0000;
            }
            let r = y.sqrt();
            return if r.is_nan() { F32_INDEF } else { r.to_bits() };
        }
        _ => {}
    }
    if nan32(a) {
        return a | 0x0040_0000;
    }
    if nan32(b) {
        return b | 0x0040_0000;
    }
    let r = match op {
        FOp::Add => x + y,
        FOp::Sub => x - y,
        FOp::Mul => x * y,
        _ => x / y,
    };
    if r.is_nan() {
        F32_INDEF
    } else {
        r.to_bits()
    }
}

fn f64_op(op: FOp, a: u64, b: u64) -> u64 {
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    match op {
        FOp::Min => return if x < y { a } else { b },
        FOp::Max => return if x > y { a } else { b },
        FOp::Sqrt => {
            if nan64(b) {
                return b | 0x0008_0000_0000_0000;
            }
            let r = y.sqrt();
            return if r.is_nan() { F64_INDEF } else { r.to_bits() };
        }
        _ => {}
    }
    if nan64(a) {
        return a | 0x0008_0000_0000_0000;
    }
    if nan64(b) {
        return b | 0x0008_0000_0000_0000;
    }
    let r = match op {
        FOp::Add => x + y,
        FOp::Sub => x - y,
        FOp::Mul => x * y,
        _ => x / y,
    };
    if r.is_nan() {
        F64_INDEF
    } else {
        r.to_bits()
    }
}

/// CMPPS/CMPSS predicate (imm8 & 7).
fn fcmp(pred: u8, x: f64, y: f64) -> bool {
    let un = x.is_nan() || y.is_nan();
    match pred & 7 {
        0 => x == y,
        1 => x < y,
        2 => x <= y,
        3 => un,
        4 => x != y || un,
        // Not-less-than / not-less-or-equal: true when unordered.
        5 => un || x >= y,
        6 => un || x > y,
        _ => !un,
    }
}

/// Converts to an integer of `bits` with rounding `rc` (0 nearest, 1 down, 2 up, 3 truncate);
/// out of range or NaN gives the "integer indefinite" value.
pub(super) fn to_int(x: f64, rc: u32, bits: u32) -> u64 {
    let r = match rc {
        0 => x.round_ties_even(),
        1 => x.floor(),
        2 => x.ceil(),
        _ => x.trunc(),
    };
    let lim = 2f64.powi(bits as i32 - 1);
    if r.is_nan() || r >= lim || r < -lim {
        return 1u64 << (bits - 1);
    }
    (r as i64 as u64) & (u64::MAX >> (64 - bits))
}

fn sat_i8(v: i32) -> u8 {
    v.clamp(-128, 127) as i8 as u8
}
fn sat_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}
fn sat_i16(v: i32) -> u16 {
    v.clamp(-32768, 32767) as i16 as u16
}

impl Cpu {
    /// Reads SSE operand `n`: an XMM register, memory (its size, zero-extended), a GPR, or an
    /// immediate.
    fn xr<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32) -> Result<V, Fault> {
        match i.op_kind(n) {
            OpKind::Register => {
                let r = i.op_register(n);
                if r.is_xmm() {
                    Ok(self.xmm[Cpu::xmm_index(r)])
                } else {
                    Ok(self.reg(r) as V)
                }
            }
            OpKind::Memory => {
                let a = self.ea(i);
                let size = i.memory_size().size();
                match size {
                    16 => {
                        if a & 15 != 0 && !unaligned_ok(i.mnemonic()) {
                            return Err(Fault::GP(0));
                        }
                        self.read128(bus, a)
                    }
                    1 | 2 | 4 | 8 => Ok(self.read(bus, a, size as u8)? as V),
                    _ => Err(Fault::UD),
                }
            }
            _ => Ok(i.immediate(n) as V),
        }
    }

    /// Writes operand `n`: a whole XMM register, memory of the operand's size, or a GPR.
    fn xw<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32, v: V) -> Res {
        match i.op_kind(n) {
            OpKind::Register => {
                let r = i.op_register(n);
                if r.is_xmm() {
                    self.xmm[Cpu::xmm_index(r)] = v;
                } else {
                    self.set_reg(r, v as u64);
                }
                Ok(())
            }
            _ => {
                let a = self.ea(i);
                match i.memory_size().size() {
                    16 => {
                        if a & 15 != 0 && !unaligned_ok(i.mnemonic()) {
                            return Err(Fault::GP(0));
                        }
                        self.write128(bus, a, v)
                    }
                    s @ (1 | 2 | 4 | 8) => self.write(bus, a, s as u8, v as u64),
                    _ => Err(Fault::UD),
                }
            }
        }
    }

    #[inline]
    fn x0(&self, i: &Instruction) -> usize {
        Cpu::xmm_index(i.op0_register())
    }

    fn fp_enabled(&self) -> Res {
        if self.cr0 & cr0::EM != 0 || self.cr4 & cr4::OSFXSR == 0 {
            return Err(Fault::UD);
        }
        if self.cr0 & cr0::TS != 0 {
            return Err(Fault::NM);
        }
        Ok(())
    }

    pub(super) fn exec_sse<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Option<Res> {
        let mn = i.mnemonic();
        if !is_sse(mn) {
            return None;
        }
        if let Err(f) = self.fp_enabled() {
            return Some(Err(f));
        }
        Some(self.sse(bus, i, mn))
    }

    fn sse<B: Bus>(&mut self, bus: &mut B, i: &Instruction, mn: M) -> Res {
        match mn {
            // ---- moves ----
            M::Movaps
            | M::Movapd
            | M::Movdqa
            | M::Movups
            | M::Movupd
            | M::Movdqu
            | M::Movntps
            | M::Movntpd
            | M::Movntdq
            | M::Lddqu => {
                let v = self.xr(bus, i, 1)?;
                self.xw(bus, i, 0, v)
            }
            M::Movnti => {
                let v = self.rd(bus, i, 1)?;
                self.wr(bus, i, 0, v)
            }
            M::Movss | M::Movsd => {
                let (lane, m) = if mn == M::Movss { (4, 0xffff_ffffu128) } else { (8, u64::MAX as u128) };
                let _ = lane;
                match (i.op0_kind(), i.op1_kind()) {
                    (OpKind::Register, OpKind::Register) => {
                        let s = self.xr(bus, i, 1)?;
                        let d = self.x0(i);
                        self.xmm[d] = (self.xmm[d] & !m) | (s & m);
                        Ok(())
                    }
                    (OpKind::Register, _) => {
                        let v = self.xr(bus, i, 1)?;
                        let d = self.x0(i);
                        self.xmm[d] = v & m;
                        Ok(())
                    }
                    _ => {
                        let v = self.xr(bus, i, 1)?;
                        self.xw(bus, i, 0, v & m)
                    }
                }
            }
            M::Movd | M::Movq => {
                let v = self.xr(bus, i, 1)?;
                let m = if mn == M::Movd && Cpu::op_size(i, 1) == 4 || Cpu::op_size(i, 0) == 4 {
                    0xffff_ffffu128
                } else {
                    u64::MAX as u128
                };
                self.xw(bus, i, 0, v & m)
            }
            M::Movlps | M::Movlpd | M::Movhps | M::Movhpd => {
                let high = matches!(mn, M::Movhps | M::Movhpd);
                if i.op0_kind() == OpKind::Register {
                    let v = self.xr(bus, i, 1)? as u64 as V;
                    let d = self.x0(i);
                    self.xmm[d] = if high {
                        (self.xmm[d] & u64::MAX as V) | v << 64
                    } else {
                        (self.xmm[d] & !(u64::MAX as V)) | v
                    };
                    Ok(())
                } else {
                    let s = self.xmm[Cpu::xmm_index(i.op1_register())];
                    let v = if high { s >> 64 } else { s & u64::MAX as V };
                    self.xw(bus, i, 0, v)
                }
            }
            M::Movhlps | M::Movlhps => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                self.xmm[d] = if mn == M::Movhlps {
                    (self.xmm[d] & !(u64::MAX as V)) | (s >> 64)
                } else {
                    (self.xmm[d] & u64::MAX as V) | (s << 64)
                };
                Ok(())
            }
            M::Movmskps | M::Movmskpd | M::Pmovmskb => {
                let s = self.xr(bus, i, 1)?;
                let v = match mn {
                    M::Movmskps => d4(s).iter().enumerate().fold(0, |a, (k, x)| a | ((x >> 31) as u64) << k),
                    M::Movmskpd => q2(s).iter().enumerate().fold(0, |a, (k, x)| a | (x >> 63) << k),
                    _ => b16(s).iter().enumerate().fold(0, |a, (k, x)| a | ((x >> 7) as u64) << k),
                };
                self.set_reg(i.op0_register(), v);
                Ok(())
            }
            // ---- logic ----
            M::Andps | M::Andpd => self.bin(bus, i, |a, b| a & b),
            M::Andnps | M::Andnpd => self.bin(bus, i, |a, b| !a & b),
            M::Orps | M::Orpd => self.bin(bus, i, |a, b| a | b),
            M::Xorps | M::Xorpd => self.bin(bus, i, |a, b| a ^ b),
            // ---- floating point arithmetic ----
            M::Addps | M::Addss | M::Addpd | M::Addsd => self.farith(bus, i, FOp::Add),
            M::Subps | M::Subss | M::Subpd | M::Subsd => self.farith(bus, i, FOp::Sub),
            M::Mulps | M::Mulss | M::Mulpd | M::Mulsd => self.farith(bus, i, FOp::Mul),
            M::Divps | M::Divss | M::Divpd | M::Divsd => self.farith(bus, i, FOp::Div),
            M::Minps | M::Minss | M::Minpd | M::Minsd => self.farith(bus, i, FOp::Min),
            M::Maxps | M::Maxss | M::Maxpd | M::Maxsd => self.farith(bus, i, FOp::Max),
            M::Sqrtps | M::Sqrtss | M::Sqrtpd | M::Sqrtsd => self.farith(bus, i, FOp::Sqrt),
            M::Rcpps | M::Rcpss | M::Rsqrtps | M::Rsqrtss => {
                let s = self.xr(bus, i, 1)?;
                let f = |x: u32| {
                    let x = f32::from_bits(x);
                    let r = if matches!(mn, M::Rcpps | M::Rcpss) { 1.0 / x } else { 1.0 / x.sqrt() };
                    if r.is_nan() {
                        F32_INDEF
                    } else {
                        r.to_bits()
                    }
                };
                let d = self.x0(i);
                if matches!(mn, M::Rcpss | M::Rsqrtss) {
                    self.xmm[d] = (self.xmm[d] & !0xffff_ffff) | f(s as u32) as V;
                } else {
                    self.xmm[d] = from_d(d4(s).map(f));
                }
                Ok(())
            }
            M::Cmpps | M::Cmpss | M::Cmppd | M::Cmpsd => {
                let pred = i.immediate(2) as u8;
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let a = self.xmm[d];
                let c32 = |x: u32, y: u32| {
                    if fcmp(pred, f32::from_bits(x) as f64, f32::from_bits(y) as f64) {
                        u32::MAX
                    } else {
                        0
                    }
                };
                let c64 = |x: u64, y: u64| if fcmp(pred, f64::from_bits(x), f64::from_bits(y)) { u64::MAX } else { 0 };
                self.xmm[d] = match mn {
                    M::Cmpps => map_d(a, s, c32),
                    M::Cmppd => map_q(a, s, c64),
                    M::Cmpss => (a & !0xffff_ffff) | c32(a as u32, s as u32) as V,
                    _ => (a & !(u64::MAX as V)) | c64(a as u64, s as u64) as V,
                };
                Ok(())
            }
            M::Comiss | M::Ucomiss | M::Comisd | M::Ucomisd => {
                let s = self.xr(bus, i, 1)?;
                let a = self.xmm[self.x0(i)];
                let (x, y) = if matches!(mn, M::Comiss | M::Ucomiss) {
                    (f32::from_bits(a as u32) as f64, f32::from_bits(s as u32) as f64)
                } else {
                    (f64::from_bits(a as u64), f64::from_bits(s as u64))
                };
                let f = if x.is_nan() || y.is_nan() {
                    ZF | PF | CF
                } else if x < y {
                    CF
                } else if x == y {
                    ZF
                } else {
                    0
                };
                self.flags.set_bits(ARITH, f);
                Ok(())
            }
            // ---- conversions ----
            M::Cvtsi2ss | M::Cvtsi2sd => {
                let size = Cpu::op_size(i, 1);
                let v = self.rd(bus, i, 1)?;
                let n = if size == 8 { v as i64 } else { v as i32 as i64 };
                let d = self.x0(i);
                self.xmm[d] = if mn == M::Cvtsi2ss {
                    (self.xmm[d] & !0xffff_ffff) | (n as f32).to_bits() as V
                } else {
                    (self.xmm[d] & !(u64::MAX as V)) | (n as f64).to_bits() as V
                };
                Ok(())
            }
            M::Cvtss2si | M::Cvttss2si | M::Cvtsd2si | M::Cvttsd2si => {
                let s = self.xr(bus, i, 1)?;
                let x = if matches!(mn, M::Cvtss2si | M::Cvttss2si) {
                    f32::from_bits(s as u32) as f64
                } else {
                    f64::from_bits(s as u64)
                };
                let rc = if matches!(mn, M::Cvttss2si | M::Cvttsd2si) { 3 } else { (self.mxcsr >> 13) & 3 };
                let r = i.op0_register();
                let v = to_int(x, rc, 8 * Cpu::reg_size(r) as u32);
                self.set_reg(r, v);
                Ok(())
            }
            M::Cvtss2sd => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let x = f32::from_bits(s as u32);
                let v = if nan32(s as u32) {
                    // Keep the payload, quietened.
                    ((s as u64 & 0x8000_0000) << 32) | 0x7ff8_0000_0000_0000 | ((s as u64 & 0x3f_ffff) << 29)
                } else {
                    (x as f64).to_bits()
                };
                self.xmm[d] = (self.xmm[d] & !(u64::MAX as V)) | v as V;
                Ok(())
            }
            M::Cvtsd2ss => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let v = cvt_d2s(s as u64);
                self.xmm[d] = (self.xmm[d] & !0xffff_ffff) | v as V;
                Ok(())
            }
            M::Cvtps2pd => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let l = d4(s);
                let c = |x: u32| {
                    if nan32(x) {
                        ((x as u64 & 0x8000_0000) << 32) | 0x7ff8_0000_0000_0000 | ((x as u64 & 0x3f_ffff) << 29)
                    } else {
                        (f32::from_bits(x) as f64).to_bits()
                    }
                };
                self.xmm[d] = from_q([c(l[0]), c(l[1])]);
                Ok(())
            }
            M::Cvtpd2ps => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let q = q2(s);
                self.xmm[d] = from_d([cvt_d2s(q[0]), cvt_d2s(q[1]), 0, 0]);
                Ok(())
            }
            M::Cvtdq2ps => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                self.xmm[d] = from_d(d4(s).map(|x| (x as i32 as f32).to_bits()));
                Ok(())
            }
            M::Cvtdq2pd => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let l = d4(s);
                self.xmm[d] = from_q([(l[0] as i32 as f64).to_bits(), (l[1] as i32 as f64).to_bits()]);
                Ok(())
            }
            M::Cvtps2dq | M::Cvttps2dq => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let rc = if mn == M::Cvttps2dq { 3 } else { (self.mxcsr >> 13) & 3 };
                self.xmm[d] = from_d(d4(s).map(|x| to_int(f32::from_bits(x) as f64, rc, 32) as u32));
                Ok(())
            }
            M::Cvtpd2dq | M::Cvttpd2dq => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                let rc = if mn == M::Cvttpd2dq { 3 } else { (self.mxcsr >> 13) & 3 };
                let q = q2(s);
                self.xmm[d] = from_d([
                    to_int(f64::from_bits(q[0]), rc, 32) as u32,
                    to_int(f64::from_bits(q[1]), rc, 32) as u32,
                    0,
                    0,
                ]);
                Ok(())
            }
            // ---- shuffles and unpacks ----
            M::Shufps => {
                let s = d4(self.xr(bus, i, 1)?);
                let d = self.x0(i);
                let a = d4(self.xmm[d]);
                let m = i.immediate(2) as usize;
                self.xmm[d] = from_d([a[m & 3], a[(m >> 2) & 3], s[(m >> 4) & 3], s[(m >> 6) & 3]]);
                Ok(())
            }
            M::Shufpd => {
                let s = q2(self.xr(bus, i, 1)?);
                let d = self.x0(i);
                let a = q2(self.xmm[d]);
                let m = i.immediate(2) as usize;
                self.xmm[d] = from_q([a[m & 1], s[(m >> 1) & 1]]);
                Ok(())
            }
            M::Pshufd => {
                let s = d4(self.xr(bus, i, 1)?);
                let m = i.immediate(2) as usize;
                let d = self.x0(i);
                self.xmm[d] = from_d([s[m & 3], s[(m >> 2) & 3], s[(m >> 4) & 3], s[(m >> 6) & 3]]);
                Ok(())
            }
            M::Pshuflw | M::Pshufhw => {
                let s = w8(self.xr(bus, i, 1)?);
                let m = i.immediate(2) as usize;
                let base = if mn == M::Pshuflw { 0 } else { 4 };
                let mut r = s;
                for k in 0..4 {
                    r[base + k] = s[base + ((m >> (2 * k)) & 3)];
                }
                let d = self.x0(i);
                self.xmm[d] = from_w(r);
                Ok(())
            }
            M::Unpcklps => self.bin(bus, i, |a, b| int_op(M::Punpckldq, a, b).unwrap_or(0)),
            M::Unpckhps => self.bin(bus, i, |a, b| int_op(M::Punpckhdq, a, b).unwrap_or(0)),
            M::Unpcklpd => self.bin(bus, i, |a, b| int_op(M::Punpcklqdq, a, b).unwrap_or(0)),
            M::Unpckhpd => self.bin(bus, i, |a, b| int_op(M::Punpckhqdq, a, b).unwrap_or(0)),
            M::Pslldq | M::Psrldq => {
                let c = (i.immediate(1) as u32).min(16);
                let d = self.x0(i);
                let a = self.xmm[d];
                self.xmm[d] = if c == 16 {
                    0
                } else if mn == M::Pslldq {
                    a << (8 * c)
                } else {
                    a >> (8 * c)
                };
                Ok(())
            }
            M::Pextrw => {
                let s = w8(self.xr(bus, i, 1)?);
                let v = s[(i.immediate(2) & 7) as usize];
                self.set_reg(i.op0_register(), v as u64);
                Ok(())
            }
            M::Pinsrw => {
                let v = self.rd(bus, i, 1)? as u16;
                let d = self.x0(i);
                let mut w = w8(self.xmm[d]);
                w[(i.immediate(2) & 7) as usize] = v;
                self.xmm[d] = from_w(w);
                Ok(())
            }
            // ---- state ----
            M::Ldmxcsr => {
                let a = self.ea(i);
                let v = self.read(bus, a, 4)? as u32;
                if v & !MXCSR_MASK != 0 {
                    return Err(Fault::GP(0));
                }
                self.mxcsr = v;
                Ok(())
            }
            M::Stmxcsr => {
                let a = self.ea(i);
                self.write(bus, a, 4, self.mxcsr as u64)
            }
            M::Fxsave | M::Fxsave64 => self.fxsave(bus, i),
            M::Fxrstor | M::Fxrstor64 => self.fxrstor(bus, i),
            // ---- integer lanes ----
            _ => {
                let s = self.xr(bus, i, 1)?;
                let d = self.x0(i);
                self.xmm[d] = int_op(mn, self.xmm[d], s).ok_or(Fault::UD)?;
                Ok(())
            }
        }
    }

    /// dest = f(dest, src) on whole registers.
    fn bin<B: Bus>(&mut self, bus: &mut B, i: &Instruction, f: impl Fn(V, V) -> V) -> Res {
        let s = self.xr(bus, i, 1)?;
        let d = self.x0(i);
        self.xmm[d] = f(self.xmm[d], s);
        Ok(())
    }

    fn farith<B: Bus>(&mut self, bus: &mut B, i: &Instruction, op: FOp) -> Res {
        let s = self.xr(bus, i, 1)?;
        let d = self.x0(i);
        let a = self.xmm[d];
        let name = format_kind(i.mnemonic());
        self.xmm[d] = match name {
            Kind::Ps => map_d(a, s, |x, y| f32_op(op, x, y)),
            Kind::Pd => map_q(a, s, |x, y| f64_op(op, x, y)),
            Kind::Ss => (a & !0xffff_ffff) | f32_op(op, a as u32, s as u32) as V,
            Kind::Sd => (a & !(u64::MAX as V)) | f64_op(op, a as u64, s as u64) as V,
        };
        Ok(())
    }

    /// FXSAVE: the 512-byte legacy area (x87 state as stored, MXCSR, XMM0-15).
    fn fxsave<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let a = self.ea(i);
        if a & 15 != 0 {
            return Err(Fault::GP(0));
        }
        self.probe_write(bus, a, 512)?;
        let mut img = [0u8; 512];
        img[..160].copy_from_slice(&self.x87.fxsave_image());
        img[24..28].copy_from_slice(&self.mxcsr.to_le_bytes());
        img[28..32].copy_from_slice(&MXCSR_MASK.to_le_bytes());
        for (k, x) in self.xmm.iter().enumerate() {
            img[160 + 16 * k..176 + 16 * k].copy_from_slice(&x.to_le_bytes());
        }
        for k in 0..64 {
            let v = u64::from_le_bytes(img[8 * k..8 * k + 8].try_into().unwrap());
            self.write(bus, a.wrapping_add(8 * k as u64), 8, v)?;
        }
        Ok(())
    }

    fn fxrstor<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let a = self.ea(i);
        if a & 15 != 0 {
            return Err(Fault::GP(0));
        }
        let mut img = [0u8; 512];
        for k in 0..64 {
            let v = self.read(bus, a.wrapping_add(8 * k as u64), 8)?;
            img[8 * k..8 * k + 8].copy_from_slice(&v.to_le_bytes());
        }
        let mxcsr = u32::from_le_bytes(img[24..28].try_into().unwrap());
        if mxcsr & !MXCSR_MASK != 0 {
            return Err(Fault::GP(0));
        }
        self.mxcsr = mxcsr;
        self.x87.load_fxsave_image(&img[..160]);
        self.x87.update_es();
        for (k, x) in self.xmm.iter_mut().enumerate() {
            *x = u128::from_le_bytes(img[160 + 16 * k..176 + 16 * k].try_into().unwrap());
        }
        Ok(())
    }
}

/// The lane-wise integer operations shared by SSE2 (on whole XMM registers) and MMX (on the
/// low 64 bits, see `mmx.rs`): dest = op(dest, src); shifts take the count from src's low
/// quadword. None for anything else.
pub(super) fn int_op(mn: M, a: V, b: V) -> Option<V> {
    let bin = |f: &dyn Fn(V, V) -> V| f(a, b);
    Some(match mn {
        M::Pand => a & b,
        M::Pandn => !a & b,
        M::Por => a | b,
        M::Pxor => a ^ b,
        M::Punpckldq => bin(&|a: V, b: V| {
            let (a, b) = (d4(a), d4(b));
            from_d([a[0], b[0], a[1], b[1]])
        }),
        M::Punpckhdq => bin(&|a: V, b: V| {
            let (a, b) = (d4(a), d4(b));
            from_d([a[2], b[2], a[3], b[3]])
        }),
        M::Punpcklqdq => bin(&|a: V, b: V| from_q([q2(a)[0], q2(b)[0]])),
        M::Punpckhqdq => bin(&|a: V, b: V| from_q([q2(a)[1], q2(b)[1]])),
        M::Punpcklbw | M::Punpckhbw => {
            let hi = (mn == M::Punpckhbw) as usize * 8;
            bin(&move |a: V, b: V| {
                let (a, b) = (b16(a), b16(b));
                from_b(std::array::from_fn(|k| if k % 2 == 0 { a[hi + k / 2] } else { b[hi + k / 2] }))
            })
        }
        M::Punpcklwd | M::Punpckhwd => {
            let hi = (mn == M::Punpckhwd) as usize * 4;
            bin(&move |a: V, b: V| {
                let (a, b) = (w8(a), w8(b));
                from_w(std::array::from_fn(|k| if k % 2 == 0 { a[hi + k / 2] } else { b[hi + k / 2] }))
            })
        }
        M::Packsswb => bin(&|a: V, b: V| {
            let (a, b) = (w8(a), w8(b));
            from_b(std::array::from_fn(|k| sat_i8(if k < 8 { a[k] } else { b[k - 8] } as i16 as i32)))
        }),
        M::Packuswb => bin(&|a: V, b: V| {
            let (a, b) = (w8(a), w8(b));
            from_b(std::array::from_fn(|k| sat_u8(if k < 8 { a[k] } else { b[k - 8] } as i16 as i32)))
        }),
        M::Packssdw => bin(&|a: V, b: V| {
            let (a, b) = (d4(a), d4(b));
            from_w(std::array::from_fn(|k| sat_i16(if k < 4 { a[k] } else { b[k - 4] } as i32)))
        }),
        // ---- integer arithmetic ----
        M::Paddb => bin(&|a: V, b: V| map_b(a, b, u8::wrapping_add)),
        M::Paddw => bin(&|a: V, b: V| map_w(a, b, u16::wrapping_add)),
        M::Paddd => bin(&|a: V, b: V| map_d(a, b, u32::wrapping_add)),
        M::Paddq => bin(&|a: V, b: V| map_q(a, b, u64::wrapping_add)),
        M::Psubb => bin(&|a: V, b: V| map_b(a, b, u8::wrapping_sub)),
        M::Psubw => bin(&|a: V, b: V| map_w(a, b, u16::wrapping_sub)),
        M::Psubd => bin(&|a: V, b: V| map_d(a, b, u32::wrapping_sub)),
        M::Psubq => bin(&|a: V, b: V| map_q(a, b, u64::wrapping_sub)),
        M::Paddsb => bin(&|a: V, b: V| map_b(a, b, |x, y| (x as i8).saturating_add(y as i8) as u8)),
        M::Paddsw => bin(&|a: V, b: V| map_w(a, b, |x, y| (x as i16).saturating_add(y as i16) as u16)),
        M::Psubsb => bin(&|a: V, b: V| map_b(a, b, |x, y| (x as i8).saturating_sub(y as i8) as u8)),
        M::Psubsw => bin(&|a: V, b: V| map_w(a, b, |x, y| (x as i16).saturating_sub(y as i16) as u16)),
        M::Paddusb => bin(&|a: V, b: V| map_b(a, b, u8::saturating_add)),
        M::Paddusw => bin(&|a: V, b: V| map_w(a, b, u16::saturating_add)),
        M::Psubusb => bin(&|a: V, b: V| map_b(a, b, u8::saturating_sub)),
        M::Psubusw => bin(&|a: V, b: V| map_w(a, b, u16::saturating_sub)),
        M::Pmullw => bin(&|a: V, b: V| map_w(a, b, u16::wrapping_mul)),
        M::Pmulhw => bin(&|a: V, b: V| map_w(a, b, |x, y| ((x as i16 as i32 * y as i16 as i32) >> 16) as u16)),
        M::Pmulhuw => bin(&|a: V, b: V| map_w(a, b, |x, y| ((x as u32 * y as u32) >> 16) as u16)),
        M::Pmuludq => bin(&|a: V, b: V| map_q(a, b, |x, y| (x as u32 as u64) * (y as u32 as u64))),
        M::Pmaddwd => bin(&|a: V, b: V| {
            let (a, b) = (w8(a), w8(b));
            from_d(std::array::from_fn(|k| {
                let p = |j: usize| a[j] as i16 as i32 * b[j] as i16 as i32;
                p(2 * k).wrapping_add(p(2 * k + 1)) as u32
            }))
        }),
        M::Pavgb => bin(&|a: V, b: V| map_b(a, b, |x, y| ((x as u16 + y as u16 + 1) >> 1) as u8)),
        M::Pavgw => bin(&|a: V, b: V| map_w(a, b, |x, y| ((x as u32 + y as u32 + 1) >> 1) as u16)),
        M::Psadbw => bin(&|a: V, b: V| {
            let (a, b) = (b16(a), b16(b));
            let s = |r: std::ops::Range<usize>| r.map(|k| a[k].abs_diff(b[k]) as u64).sum::<u64>();
            from_q([s(0..8), s(8..16)])
        }),
        M::Pminub => bin(&|a: V, b: V| map_b(a, b, u8::min)),
        M::Pmaxub => bin(&|a: V, b: V| map_b(a, b, u8::max)),
        M::Pminsw => bin(&|a: V, b: V| map_w(a, b, |x, y| (x as i16).min(y as i16) as u16)),
        M::Pmaxsw => bin(&|a: V, b: V| map_w(a, b, |x, y| (x as i16).max(y as i16) as u16)),
        M::Pcmpeqb => bin(&|a: V, b: V| map_b(a, b, |x, y| if x == y { 0xff } else { 0 })),
        M::Pcmpeqw => bin(&|a: V, b: V| map_w(a, b, |x, y| if x == y { 0xffff } else { 0 })),
        M::Pcmpeqd => bin(&|a: V, b: V| map_d(a, b, |x, y| if x == y { u32::MAX } else { 0 })),
        M::Pcmpgtb => bin(&|a: V, b: V| map_b(a, b, |x, y| if x as i8 > y as i8 { 0xff } else { 0 })),
        M::Pcmpgtw => bin(&|a: V, b: V| map_w(a, b, |x, y| if x as i16 > y as i16 { 0xffff } else { 0 })),
        M::Pcmpgtd => bin(&|a: V, b: V| map_d(a, b, |x, y| if x as i32 > y as i32 { u32::MAX } else { 0 })),
        M::Psllw | M::Pslld | M::Psllq | M::Psrlw | M::Psrld | M::Psrlq | M::Psraw | M::Psrad => {
            // The count is the low quadword of the source.
            let c = b as u64;
            match mn {
                M::Psllw => from_w(w8(a).map(|x| if c > 15 { 0 } else { x << c })),
                M::Pslld => from_d(d4(a).map(|x| if c > 31 { 0 } else { x << c })),
                M::Psllq => from_q(q2(a).map(|x| if c > 63 { 0 } else { x << c })),
                M::Psrlw => from_w(w8(a).map(|x| if c > 15 { 0 } else { x >> c })),
                M::Psrld => from_d(d4(a).map(|x| if c > 31 { 0 } else { x >> c })),
                M::Psrlq => from_q(q2(a).map(|x| if c > 63 { 0 } else { x >> c })),
                M::Psraw => from_w(w8(a).map(|x| ((x as i16) >> c.min(15)) as u16)),
                _ => from_d(d4(a).map(|x| ((x as i32) >> c.min(31)) as u32)),
            }
        }
        _ => return None,
    })
}

/// MXCSR bits this CPU implements (no DAZ... DAZ is bit 6 and is included, as on every SSE2
/// CPU).
pub(crate) const MXCSR_MASK: u32 = 0xffff;

fn cvt_d2s(x: u64) -> u32 {
    if nan64(x) {
        ((x >> 32) as u32 & 0x8000_0000) | 0x7fc0_0000 | ((x >> 29) as u32 & 0x3f_ffff)
    } else {
        (f64::from_bits(x) as f32).to_bits()
    }
}

enum Kind {
    Ps,
    Pd,
    Ss,
    Sd,
}

fn format_kind(m: M) -> Kind {
    use M::*;
    match m {
        Addps | Subps | Mulps | Divps | Minps | Maxps | Sqrtps => Kind::Ps,
        Addpd | Subpd | Mulpd | Divpd | Minpd | Maxpd | Sqrtpd => Kind::Pd,
        Addss | Subss | Mulss | Divss | Minss | Maxss | Sqrtss => Kind::Ss,
        _ => Kind::Sd,
    }
}

fn unaligned_ok(m: M) -> bool {
    matches!(m, M::Movups | M::Movupd | M::Movdqu | M::Lddqu | M::Fxsave | M::Fxrstor)
}

fn is_sse(m: M) -> bool {
    use M::*;
    matches!(
        m,
        Movaps
            | Movapd
            | Movdqa
            | Movups
            | Movupd
            | Movdqu
            | Movntps
            | Movntpd
            | Movntdq
            | Lddqu
            | Movnti
            | Movss
            | Movsd
            | Movd
            | Movq
            | Movlps
            | Movlpd
            | Movhps
            | Movhpd
            | Movhlps
            | Movlhps
            | Movmskps
            | Movmskpd
            | Pmovmskb
            | Andps
            | Andpd
            | Pand
            | Andnps
            | Andnpd
            | Pandn
            | Orps
            | Orpd
            | Por
            | Xorps
            | Xorpd
            | Pxor
            | Addps
            | Addss
            | Addpd
            | Addsd
            | Subps
            | Subss
            | Subpd
            | Subsd
            | Mulps
            | Mulss
            | Mulpd
            | Mulsd
            | Divps
            | Divss
            | Divpd
            | Divsd
            | Minps
            | Minss
            | Minpd
            | Minsd
            | Maxps
            | Maxss
            | Maxpd
            | Maxsd
            | Sqrtps
            | Sqrtss
            | Sqrtpd
            | Sqrtsd
            | Rcpps
            | Rcpss
            | Rsqrtps
            | Rsqrtss
            | Cmpps
            | Cmpss
            | Cmppd
            | Cmpsd
            | Comiss
            | Ucomiss
            | Comisd
            | Ucomisd
            | Cvtsi2ss
            | Cvtsi2sd
            | Cvtss2si
            | Cvttss2si
            | Cvtsd2si
            | Cvttsd2si
            | Cvtss2sd
            | Cvtsd2ss
            | Cvtps2pd
            | Cvtpd2ps
            | Cvtdq2ps
            | Cvtdq2pd
            | Cvtps2dq
            | Cvttps2dq
            | Cvtpd2dq
            | Cvttpd2dq
            | Shufps
            | Shufpd
            | Pshufd
            | Pshuflw
            | Pshufhw
            | Unpcklps
            | Punpckldq
            | Unpckhps
            | Punpckhdq
            | Unpcklpd
            | Punpcklqdq
            | Unpckhpd
            | Punpckhqdq
            | Punpcklbw
            | Punpckhbw
            | Punpcklwd
            | Punpckhwd
            | Packsswb
            | Packuswb
            | Packssdw
            | Paddb
            | Paddw
            | Paddd
            | Paddq
            | Psubb
            | Psubw
            | Psubd
            | Psubq
            | Paddsb
            | Paddsw
            | Psubsb
            | Psubsw
            | Paddusb
            | Paddusw
            | Psubusb
            | Psubusw
            | Pmullw
            | Pmulhw
            | Pmulhuw
            | Pmuludq
            | Pmaddwd
            | Pavgb
            | Pavgw
            | Psadbw
            | Pminub
            | Pmaxub
            | Pminsw
            | Pmaxsw
            | Pcmpeqb
            | Pcmpeqw
            | Pcmpeqd
            | Pcmpgtb
            | Pcmpgtw
            | Pcmpgtd
            | Psllw
            | Pslld
            | Psllq
            | Psrlw
            | Psrld
            | Psrlq
            | Psraw
            | Psrad
            | Pslldq
            | Psrldq
            | Pextrw
            | Pinsrw
            | Ldmxcsr
            | Stmxcsr
            | Fxsave
            | Fxsave64
            | Fxrstor
            | Fxrstor64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_rules() {
        let qnan = 0x7fc0_0001u32;
        let snan = 0x7f80_0001u32;
        assert_eq!(f32_op(FOp::Add, snan, 0x3f80_0000), snan | 0x0040_0000);
        assert_eq!(f32_op(FOp::Add, 0x3f80_0000, qnan), qnan);
        // inf - inf is the default NaN.
        assert_eq!(f32_op(FOp::Sub, 0x7f80_0000, 0x7f80_0000), F32_INDEF);
        // MIN returns the second operand on NaN or equal zeros.
        assert_eq!(f32_op(FOp::Min, qnan, 0x3f80_0000), 0x3f80_0000);
        assert_eq!(f32_op(FOp::Min, 0x8000_0000, 0), 0);
    }

    #[test]
    fn integer_conversion_limits() {
        assert_eq!(to_int(2.5, 0, 32), 2);
        assert_eq!(to_int(-2.5, 3, 32), 0xffff_fffe);
        assert_eq!(to_int(3e9, 3, 32), 0x8000_0000);
        assert_eq!(to_int(f64::NAN, 0, 64), 1 << 63);
    }
}
