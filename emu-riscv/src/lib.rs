//! An RV64GC machine: the hart (RV64IMAFDC, Zicsr, Zifencei, Zicntr, Sstc; M/S/U; Sv39/Sv48),
//! CLINT, PLIC, an SBI implemented in the machine, a generated device tree, and the virtio
//! devices of the `devices` crate.

mod blocks;
pub mod clint;
pub mod csr;
pub mod decode;
pub mod fatal;
pub mod fdt;
pub mod fpu;
pub mod hart;
mod interp;
pub mod machine;
pub mod mmu;
pub mod plic;
pub mod regs;
pub mod sbi;

pub use hart::{Bus, Exception, Exit, Hart};
pub use regs::Regs;
