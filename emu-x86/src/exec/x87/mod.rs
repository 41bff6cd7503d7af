//! The x87 FPU: an 80-bit soft-float (`f80`, `convert`, `special`, `trans`), the register
//! file and its save images (`state`), and the instructions (`ops`, dispatched here).
//!
//! Exceptions: flags accumulate in the status word. Masked exceptions (the default, and what
//! Linux user space runs with) give the IEEE/x87 default results, stack faults included
//! (IE+SF, C1 = overflow, the indefinite QNaN). An unmasked exception sets ES and B; the next
//! waiting x87 instruction then raises #MF (with CR0.NE, as Linux runs). For unmasked IE, DE
//! and ZE the destination is left unchanged; unmasked OE and UE still deliver the masked
//! (not the exponent-rebiased) result. The last instruction/data pointers and opcode are not
//! tracked (saved as they were restored, zero after FNINIT).

mod convert;
mod f80;
mod ops;
mod special;
mod state;
mod trans;

pub(crate) use state::X87;

use super::Res;
use crate::bus::Bus;
use crate::cpu::{cr0, Cpu};
use crate::fault::Fault;
use iced_x86::{Instruction, Mnemonic as M};

/// Whether `m` is an x87 instruction, and if so whether it first checks for a pending
/// unmasked exception (the FN* control instructions do not).
fn x87_kind(m: M) -> Option<bool> {
    Some(match m {
        M::Fninit | M::Fnclex | M::Fnstcw | M::Fnstsw | M::Fnstenv | M::Fnsave | M::Fneni | M::Fndisi | M::Fnsetpm => {
            false
        }
        M::Wait
        | M::Finit
        | M::Fclex
        | M::Fstcw
        | M::Fstsw
        | M::Fstenv
        | M::Fsave
        | M::Fldcw
        | M::Fldenv
        | M::Frstor
        | M::Fld
        | M::Fst
        | M::Fstp
        | M::Fstpnce
        | M::Fild
        | M::Fist
        | M::Fistp
        | M::Fisttp
        | M::Fbld
        | M::Fbstp
        | M::Fld1
        | M::Fldz
        | M::Fldpi
        | M::Fldl2e
        | M::Fldl2t
        | M::Fldlg2
        | M::Fldln2
        | M::Fxch
        | M::Fadd
        | M::Faddp
        | M::Fiadd
        | M::Fsub
        | M::Fsubp
        | M::Fisub
        | M::Fsubr
        | M::Fsubrp
        | M::Fisubr
        | M::Fmul
        | M::Fmulp
        | M::Fimul
        | M::Fdiv
        | M::Fdivp
        | M::Fidiv
        | M::Fdivr
        | M::Fdivrp
        | M::Fidivr
        | M::Fchs
        | M::Fabs
        | M::Fsqrt
        | M::Frndint
        | M::Fscale
        | M::Fxtract
        | M::Fprem
        | M::Fprem1
        | M::Fcom
        | M::Fcomp
        | M::Fcompp
        | M::Fucom
        | M::Fucomp
        | M::Fucompp
        | M::Ficom
        | M::Ficomp
        | M::Fcomi
        | M::Fcomip
        | M::Fucomi
        | M::Fucomip
        | M::Ftst
        | M::Fxam
        | M::Fcmovb
        | M::Fcmove
        | M::Fcmovbe
        | M::Fcmovu
        | M::Fcmovnb
        | M::Fcmovne
        | M::Fcmovnbe
        | M::Fcmovnu
        | M::Ffree
        | M::Ffreep
        | M::Fincstp
        | M::Fdecstp
        | M::Fnop
        | M::F2xm1
        | M::Fyl2x
        | M::Fyl2xp1
        | M::Fptan
        | M::Fpatan
        | M::Fsin
        | M::Fcos
        | M::Fsincos => true,
        _ => return None,
    })
}

impl Cpu {
    pub(crate) fn fninit(&mut self) {
        self.x87.init();
    }

    pub(super) fn exec_x87<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Option<Res> {
        let mn = i.mnemonic();
        let waits = x87_kind(mn)?;
        if mn == M::Wait {
            if self.cr0 & cr0::TS != 0 && self.cr0 & cr0::MP != 0 {
                return Some(Err(Fault::NM));
            }
        } else if self.cr0 & (cr0::EM | cr0::TS) != 0 {
            return Some(Err(Fault::NM));
        }
        if waits && self.x87.fsw & state::ES != 0 && self.cr0 & cr0::NE != 0 {
            return Some(Err(Fault::MF));
        }
        Some(self.x87_op(bus, i, mn))
    }
}
