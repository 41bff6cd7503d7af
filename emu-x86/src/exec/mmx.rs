//! MMX: the 64-bit integer SIMD instructions on MM0-7 (with the SSE/SSE2 additions that have
//! MMX forms: PAVGB, PSHUFW, PMULUDQ, MASKMOVQ, the CVT*PI* conversions, MOVQ2DQ/MOVDQ2Q...).
//!
//! MM0-7 are the significands of the x87 physical registers R0-7. Every MMX instruction but
//! EMMS sets TOP to 0 and tags all registers valid; a register written by MMX gets an
//! all-ones sign and exponent. EMMS tags all registers empty. The lane arithmetic is SSE2's
//! (`sse::int_op`), run on the 64-bit values zero-extended, with the operands placed so that
//! the 128-bit result's low quadword is the MMX result (see `lanes`).

use super::sse::{int_op, to_int};
use super::Res;
use crate::bus::Bus;
use crate::cpu::{cr0, cr4, Cpu, FS, GS};
use crate::fault::Fault;
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

fn is_mm(r: Register) -> bool {
    (Register::MM0 as u32..=Register::MM7 as u32).contains(&(r as u32))
}

fn mm_index(r: Register) -> usize {
    (r as usize).wrapping_sub(Register::MM0 as usize) & 7
}

/// Whether `i` has an MM register operand.
pub(super) fn uses_mm(i: &Instruction) -> bool {
    (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Register && is_mm(i.op_register(n)))
}

/// The SSE/SSE2 instructions among the MMX forms: these also need CR4.OSFXSR.
fn needs_osfxsr(m: M) -> bool {
    matches!(
        m,
        M::Cvtpi2ps | M::Cvtpi2pd | M::Cvtps2pi | M::Cvttps2pi | M::Cvtpd2pi | M::Cvttpd2pi | M::Movq2dq | M::Movdq2q
    )
}

/// The MMX result of a lane operation: `int_op` on the zero-extended operands, except where
/// a 128-bit op would read lanes from the upper half (packs, high unpacks).
fn lanes(mn: M, a: u64, b: u64) -> Option<u64> {
    let (a, b) = (a as u128, b as u128);
    let r = match mn {
        // Packs take dest's lanes then src's: put both in one 128-bit source.
        M::Packsswb | M::Packssdw | M::Packuswb => int_op(mn, a | b << 64, 0)?,
        M::Punpckhbw => int_op(M::Punpcklbw, a >> 32, b >> 32)?,
        M::Punpckhwd => int_op(M::Punpcklwd, a >> 32, b >> 32)?,
        M::Punpckhdq => int_op(M::Punpckldq, a >> 32, b >> 32)?,
        _ => int_op(mn, a, b)?,
    };
    Some(r as u64)
}

impl Cpu {
    pub(super) fn exec_mmx<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Option<Res> {
        let mn = i.mnemonic();
        let mm = uses_mm(i);
        // CVTPI2PS/PD with a memory source are MMX-family encodings without an MM operand.
        if !mm && !matches!(mn, M::Emms | M::Cvtpi2ps | M::Cvtpi2pd) {
            return None;
        }
        Some(self.mmx_checked(bus, i, mn, mm))
    }

    fn mmx_checked<B: Bus>(&mut self, bus: &mut B, i: &Instruction, mn: M, mm: bool) -> Res {
        if self.cr0 & cr0::EM != 0 || (needs_osfxsr(mn) && self.cr4 & cr4::OSFXSR == 0) {
            return Err(Fault::UD);
        }
        if self.cr0 & cr0::TS != 0 {
            return Err(Fault::NM);
        }
        // Like a waiting x87 instruction, an MMX instruction reports a pending x87 exception.
        if (mm || mn == M::Emms) && self.x87.pending_exception() && self.cr0 & cr0::NE != 0 {
            return Err(Fault::MF);
        }
        if mn == M::Emms {
            self.x87.empty = 0xff;
            return Ok(());
        }
        self.mmx(bus, i, mn)?;
        if mm {
            self.x87.mmx_transition();
        }
        Ok(())
    }

    /// Reads operand `n` as 64 bits: an MM register, an XMM register's low quadword, a GPR,
    /// memory (its size, zero-extended) or an immediate.
    fn mr<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32) -> Result<u64, Fault> {
        match i.op_kind(n) {
            OpKind::Register => {
                let r = i.op_register(n);
                Ok(if is_mm(r) {
                    self.x87.mm(mm_index(r))
                } else if r.is_xmm() {
                    self.xmm[Cpu::xmm_index(r)] as u64
                } else {
                    self.reg(r)
                })
            }
            OpKind::Memory => {
                let a = self.ea(i);
                self.read(bus, a, (i.memory_size().size() as u8).min(8))
            }
            _ => Ok(i.immediate(n)),
        }
    }

    /// Writes operand `n`: an MM register, a GPR or memory.
    fn mw<B: Bus>(&mut self, bus: &mut B, i: &Instruction, n: u32, v: u64) -> Res {
        if i.op_kind(n) == OpKind::Register && is_mm(i.op_register(n)) {
            self.x87.set_mm(mm_index(i.op_register(n)), v);
            Ok(())
        } else {
            self.wr(bus, i, n, v)
        }
    }

    fn mm0(&self, i: &Instruction) -> usize {
        mm_index(i.op0_register())
    }

    fn mmx<B: Bus>(&mut self, bus: &mut B, i: &Instruction, mn: M) -> Res {
        match mn {
            M::Movd | M::Movq | M::Movntq => {
                let v = self.mr(bus, i, 1)?;
                let v = if Cpu::op_size(i, 0) == 4 || Cpu::op_size(i, 1) == 4 { v as u32 as u64 } else { v };
                self.mw(bus, i, 0, v)
            }
            M::Movq2dq => {
                let v = self.mr(bus, i, 1)?;
                self.xmm[Cpu::xmm_index(i.op0_register())] = v as u128;
                Ok(())
            }
            M::Movdq2q => {
                let v = self.mr(bus, i, 1)?;
                self.x87.set_mm(self.mm0(i), v);
                Ok(())
            }
            M::Maskmovq => {
                let (v, mask) = (self.mr(bus, i, 1)?, self.mr(bus, i, 2)?);
                let mut a = if i.op0_kind() == OpKind::MemorySegEDI { self.gpr[7] & 0xffff_ffff } else { self.gpr[7] };
                a = match i.memory_segment() {
                    Register::FS => a.wrapping_add(self.seg[FS].base),
                    Register::GS => a.wrapping_add(self.seg[GS].base),
                    _ => a,
                };
                for k in 0..8 {
                    if mask >> (8 * k + 7) & 1 != 0 {
                        self.write(bus, a.wrapping_add(k), 1, v >> (8 * k) & 0xff)?;
                    }
                }
                Ok(())
            }
            M::Pmovmskb => {
                let v = self.mr(bus, i, 1)?;
                let m = (0..8).fold(0, |m, k| m | (v >> (8 * k + 7) & 1) << k);
                self.set_reg(i.op0_register(), m);
                Ok(())
            }
            M::Pextrw => {
                let v = self.mr(bus, i, 1)?;
                let w = v >> (16 * (i.immediate(2) & 3)) & 0xffff;
                self.set_reg(i.op0_register(), w);
                Ok(())
            }
            M::Pinsrw => {
                let w = self.mr(bus, i, 1)? & 0xffff;
                let d = self.mm0(i);
                let sh = 16 * (i.immediate(2) & 3);
                let v = (self.x87.mm(d) & !(0xffff << sh)) | w << sh;
                self.x87.set_mm(d, v);
                Ok(())
            }
            M::Pshufw => {
                let s = self.mr(bus, i, 1)?;
                let m = i.immediate(2);
                let v = (0..4).fold(0, |v, k| v | (s >> (16 * (m >> (2 * k) & 3)) & 0xffff) << (16 * k));
                self.x87.set_mm(self.mm0(i), v);
                Ok(())
            }
            M::Cvtpi2ps => {
                let s = self.mr(bus, i, 1)?;
                let f = |x: u64| (x as u32 as i32 as f32).to_bits() as u128;
                let d = Cpu::xmm_index(i.op0_register());
                self.xmm[d] = (self.xmm[d] & !(u64::MAX as u128)) | f(s) | f(s >> 32) << 32;
                Ok(())
            }
            M::Cvtpi2pd => {
                let s = self.mr(bus, i, 1)?;
                let f = |x: u64| (x as u32 as i32 as f64).to_bits() as u128;
                self.xmm[Cpu::xmm_index(i.op0_register())] = f(s) | f(s >> 32) << 64;
                Ok(())
            }
            M::Cvtps2pi | M::Cvttps2pi => {
                let s = self.mr(bus, i, 1)?;
                let rc = if mn == M::Cvttps2pi { 3 } else { (self.mxcsr >> 13) & 3 };
                let f = |x: u64| to_int(f32::from_bits(x as u32) as f64, rc, 32);
                self.x87.set_mm(self.mm0(i), f(s) | f(s >> 32) << 32);
                Ok(())
            }
            M::Cvtpd2pi | M::Cvttpd2pi => {
                let s = match i.op1_kind() {
                    OpKind::Memory => {
                        let a = self.ea(i);
                        if a & 15 != 0 {
                            return Err(Fault::GP(0));
                        }
                        self.read128(bus, a)?
                    }
                    _ => self.xmm[Cpu::xmm_index(i.op1_register())],
                };
                let rc = if mn == M::Cvttpd2pi { 3 } else { (self.mxcsr >> 13) & 3 };
                let f = |x: u64| to_int(f64::from_bits(x), rc, 32);
                self.x87.set_mm(self.mm0(i), f(s as u64) | f((s >> 64) as u64) << 32);
                Ok(())
            }
            _ => {
                // The lane operations: MM destination, MM/m64/imm8 source.
                if i.op0_kind() != OpKind::Register || !is_mm(i.op0_register()) {
                    return Err(Fault::UD);
                }
                let s = self.mr(bus, i, 1)?;
                let d = self.mm0(i);
                let v = lanes(mn, self.x87.mm(d), s).ok_or(Fault::UD)?;
                self.x87.set_mm(d, v);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_high_unpacks_use_the_64_bit_lanes() {
        // PACKSSWB: dest's four words then src's, saturated.
        let a = 0x7fff_0080_ff80_0001u64;
        let b = 0x8000_0000_0100_fffeu64;
        assert_eq!(lanes(M::Packsswb, a, b), Some(0x80_00_7f_fe_7f_7f_80_01));
        assert_eq!(lanes(M::Packuswb, a, b), Some(0x00_00_ff_00_ff_80_00_01));
        assert_eq!(lanes(M::Punpckhbw, 0x1122_3344_0000_0000, 0xaabb_ccdd_0000_0000), Some(0xaa11_bb22_cc33_dd44));
        assert_eq!(lanes(M::Punpckldq, 0x1_0000_0002, 0x3_0000_0004), Some(0x4_0000_0002));
        assert_eq!(lanes(M::Psadbw, 0x0102_0304_0506_0708, 0x0807_0605_0403_0201), Some(32));
        assert_eq!(lanes(M::Psrlq, 0x8000_0000_0000_0000, 63), Some(1));
        assert_eq!(lanes(M::Psraw, 0x8000, 40), Some(0xffff));
    }
}
