//! The x87 FPU, minimal so far: control/status word access and FNINIT, which the kernel's FPU
//! setup and glibc's start-up use. The register stack is stored (FXSAVE/FXRSTOR round-trip it)
//! but x87 arithmetic is not implemented: such instructions raise #UD.

use super::Res;
use crate::bus::Bus;
use crate::cpu::{cr0, Cpu};
use crate::fault::Fault;
use iced_x86::{Instruction, Mnemonic as M, OpKind};

impl Cpu {
    pub(crate) fn fninit(&mut self) {
        self.x87.fill(0);
        self.x87[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
    }

    fn fcw(&self) -> u16 {
        u16::from_le_bytes([self.x87[0], self.x87[1]])
    }

    fn fsw(&self) -> u16 {
        u16::from_le_bytes([self.x87[2], self.x87[3]])
    }

    pub(super) fn exec_x87<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Option<Res> {
        let mn = i.mnemonic();
        if !matches!(mn, M::Fninit | M::Fnstsw | M::Fnstcw | M::Fldcw | M::Wait | M::Fnclex) {
            return None;
        }
        if self.cr0 & cr0::EM != 0 && mn != M::Wait {
            return Some(Err(Fault::NM));
        }
        if self.cr0 & cr0::TS != 0 && (mn != M::Wait || self.cr0 & cr0::MP != 0) {
            return Some(Err(Fault::NM));
        }
        Some(match mn {
            M::Fninit => {
                self.fninit();
                Ok(())
            }
            M::Fnstsw => {
                let v = self.fsw() as u64;
                if i.op0_kind() == OpKind::Register {
                    self.set_reg(i.op0_register(), v);
                    Ok(())
                } else {
                    let a = self.ea(i);
                    self.write(bus, a, 2, v)
                }
            }
            M::Fnstcw => {
                let a = self.ea(i);
                self.write(bus, a, 2, self.fcw() as u64)
            }
            M::Fldcw => {
                let a = self.ea(i);
                self.read(bus, a, 2).map(|v| self.x87[0..2].copy_from_slice(&(v as u16).to_le_bytes()))
            }
            M::Fnclex => {
                let s = self.fsw() & 0x7f00;
                self.x87[2..4].copy_from_slice(&s.to_le_bytes());
                Ok(())
            }
            _ => Ok(()),
        })
    }
}
