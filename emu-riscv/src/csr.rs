//! Control and status registers: storage, access rules (privilege, read-only, counter
//! enables) and the WARL behaviour of each field.

use crate::hart::{Exception, Hart, PRV_M, PRV_S, PRV_U};

pub mod addr {
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    pub const STIMECMP: u16 = 0x14d;
    pub const SATP: u16 = 0x180;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
}

pub mod mstatus {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << 11;
    pub const FS: u64 = 3 << 13;
    pub const FS_DIRTY: u64 = 3 << 13;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    pub const UXL_SXL: u64 = (2 << 32) | (2 << 34);
    pub const SD: u64 = 1 << 63;
    /// The fields software may write in mstatus.
    pub const M_WRITABLE: u64 = SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    /// The fields visible through sstatus.
    pub const S_VISIBLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR | UXL_SXL & (3 << 32) | SD;
    pub const S_WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
}

pub mod irq {
    pub const SSI: u64 = 1 << 1;
    pub const MSI: u64 = 1 << 3;
    pub const STI: u64 = 1 << 5;
    pub const MTI: u64 = 1 << 7;
    pub const SEI: u64 = 1 << 9;
    pub const MEI: u64 = 1 << 11;
    pub const S_MASK: u64 = SSI | STI | SEI;
    pub const ALL: u64 = SSI | MSI | STI | MTI | SEI | MEI;
}

/// misa: RV64 with A, C, D, F, I, M, S, U.
pub const MISA_VALUE: u64 =
    (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

/// Exceptions that may be delegated to S-mode (everything but ecall from M-mode).
const DELEGABLE_EXCEPTIONS: u64 = 0xb3ff;

#[derive(Debug, Clone, Default)]
pub struct Csrs {
    pub mstatus: u64,
    pub medeleg: u64,
    pub mideleg: u64,
    pub mie: u64,
    pub mip: u64,
    pub mtvec: u64,
    pub mscratch: u64,
    pub mepc: u64,
    pub mcause: u64,
    pub mtval: u64,
    pub mcounteren: u64,
    pub mcountinhibit: u64,
    pub menvcfg: u64,
    pub stvec: u64,
    pub sscratch: u64,
    pub sepc: u64,
    pub scause: u64,
    pub stval: u64,
    pub scounteren: u64,
    pub senvcfg: u64,
    pub satp: u64,
    pub stimecmp: u64,
    pub fcsr: u32,
    /// mcycle and minstret minus the retired-instruction count (`Hart::instret`, which also
    /// drives the machine's virtual clock and so never moves backwards).
    pub cycle_offset: u64,
    pub instret_offset: u64,
    pub pmpcfg: [u64; 16],
    pub pmpaddr: [u64; 16],
}

impl Hart {
    fn counter_allowed(&self, bit: u64) -> bool {
        match self.prv {
            PRV_M => true,
            PRV_S => self.csr.mcounteren & bit != 0,
            _ => self.csr.mcounteren & self.csr.scounteren & bit != 0,
        }
    }

    fn fs_enabled(&self) -> bool {
        self.csr.mstatus & mstatus::FS != 0
    }

    /// Reads a CSR for a CSR instruction at the current privilege.
    pub fn csr_read(&mut self, a: u16) -> Result<u64, Exception> {
        use addr::*;
        let ill = Err(Exception::IllegalInstruction);
        if ((a >> 8) & 3) as u8 > self.prv {
            return ill;
        }
        let c = &self.csr;
        Ok(match a {
            FFLAGS if self.fs_enabled() => (c.fcsr & 0x1f) as u64,
            FRM if self.fs_enabled() => ((c.fcsr >> 5) & 7) as u64,
            FCSR if self.fs_enabled() => (c.fcsr & 0xff) as u64,
            CYCLE if self.counter_allowed(1) => self.instret.wrapping_add(c.cycle_offset),
            TIME if self.counter_allowed(2) => self.mtime,
            INSTRET if self.counter_allowed(4) => self.instret.wrapping_add(c.instret_offset),
            0xc03..=0xc1f if self.counter_allowed(1 << (a - 0xc00)) => 0,
            SSTATUS => self.read_mstatus() & mstatus::S_VISIBLE,
            SIE => c.mie & c.mideleg,
            STVEC => c.stvec,
            SCOUNTEREN => c.scounteren,
            SENVCFG => c.senvcfg,
            SSCRATCH => c.sscratch,
            SEPC => c.sepc,
            SCAUSE => c.scause,
            STVAL => c.stval,
            SIP => c.mip & c.mideleg,
            STIMECMP if self.stimecmp_allowed() => c.stimecmp,
            SATP => {
                if self.prv == PRV_S && c.mstatus & mstatus::TVM != 0 {
                    return ill;
                }
                c.satp
            }
            MSTATUS => self.read_mstatus(),
            MISA => MISA_VALUE,
            MEDELEG => c.medeleg,
            MIDELEG => c.mideleg,
            MIE => c.mie,
            MTVEC => c.mtvec,
            MCOUNTEREN => c.mcounteren,
            MENVCFG => c.menvcfg,
            MCOUNTINHIBIT => c.mcountinhibit,
            MSCRATCH => c.mscratch,
            MEPC => c.mepc,
            MCAUSE => c.mcause,
            MTVAL => c.mtval,
            MIP => c.mip,
            MCYCLE => self.instret.wrapping_add(c.cycle_offset),
            MINSTRET => self.instret.wrapping_add(c.instret_offset),
            0xb03..=0xb1f | 0x323..=0x33f => 0,
            0x3a0..=0x3af => c.pmpcfg[(a - 0x3a0) as usize],
            0x3b0..=0x3bf => c.pmpaddr[(a - 0x3b0) as usize],
            0x3c0..=0x3ef => 0,
            MVENDORID | MARCHID | MIMPID | MHARTID | MCONFIGPTR => 0,
            _ => return ill,
        })
    }

    /// Sstc: below M-mode, stimecmp needs menvcfg.STCE and mcounteren.TM.
    fn stimecmp_allowed(&self) -> bool {
        self.prv == PRV_M || (self.prv == PRV_S && self.csr.menvcfg >> 63 != 0 && self.csr.mcounteren & 2 != 0)
    }

    pub fn read_mstatus(&self) -> u64 {
        let s = self.csr.mstatus | mstatus::UXL_SXL;
        if s & mstatus::FS == mstatus::FS_DIRTY {
            s | mstatus::SD
        } else {
            s
        }
    }

    /// Writes a CSR for a CSR instruction. The caller already checked read-only-ness.
    pub fn csr_write(&mut self, a: u16, v: u64) -> Result<(), Exception> {
        use addr::*;
        let ill = Err(Exception::IllegalInstruction);
        if ((a >> 8) & 3) as u8 > self.prv || (a >> 10) == 3 {
            return ill;
        }
        match a {
            FFLAGS if self.fs_enabled() => {
                self.csr.fcsr = (self.csr.fcsr & !0x1f) | (v as u32 & 0x1f);
                self.csr.mstatus |= mstatus::FS_DIRTY;
            }
            FRM if self.fs_enabled() => {
                self.csr.fcsr = (self.csr.fcsr & 0x1f) | ((v as u32 & 7) << 5);
                self.csr.mstatus |= mstatus::FS_DIRTY;
            }
            FCSR if self.fs_enabled() => {
                self.csr.fcsr = v as u32 & 0xff;
                self.csr.mstatus |= mstatus::FS_DIRTY;
            }
            SSTATUS => {
                let m = (self.csr.mstatus & !mstatus::S_WRITABLE) | (v & mstatus::S_WRITABLE);
                self.set_mstatus(m);
            }
            SIE => {
                let mask = self.csr.mideleg;
                self.csr.mie = (self.csr.mie & !mask) | (v & mask);
            }
            STVEC => self.csr.stvec = v & !2,
            SCOUNTEREN => self.csr.scounteren = v & 0xffff_ffff,
            SENVCFG => self.csr.senvcfg = v & 1,
            SSCRATCH => self.csr.sscratch = v,
            SEPC => self.csr.sepc = v & !1,
            SCAUSE => self.csr.scause = v,
            STVAL => self.csr.stval = v,
            SIP => {
                // Only SSIP is writable through sip.
                let mask = self.csr.mideleg & irq::SSI;
                self.csr.mip = (self.csr.mip & !mask) | (v & mask);
            }
            STIMECMP if self.stimecmp_allowed() => {
                self.csr.stimecmp = v;
                self.update_stip();
            }
            SATP => {
                if self.prv == PRV_S && self.csr.mstatus & mstatus::TVM != 0 {
                    return ill;
                }
                let mode = v >> 60;
                // WARL: Bare, Sv39 and Sv48 are supported; any other mode leaves satp as it
                // was (Linux probes Sv57 this way). ASIDs are not implemented (read as 0).
                if matches!(mode, 0 | 8 | 9) {
                    self.csr.satp = v & ((0xf << 60) | ((1 << 44) - 1));
                    self.flush_tlb();
                }
            }
            MSTATUS => {
                let m = (self.csr.mstatus & !mstatus::M_WRITABLE) | (v & mstatus::M_WRITABLE);
                self.set_mstatus(m);
            }
            MISA => {}
            MEDELEG => self.csr.medeleg = v & DELEGABLE_EXCEPTIONS,
            MIDELEG => self.csr.mideleg = v & irq::S_MASK,
            MIE => self.csr.mie = v & irq::ALL,
            MTVEC => self.csr.mtvec = v & !2,
            MCOUNTEREN => self.csr.mcounteren = v & 0xffff_ffff,
            MENVCFG => self.csr.menvcfg = v & ((1 << 63) | 1),
            MCOUNTINHIBIT => self.csr.mcountinhibit = v & 0xffff_fffd,
            MSCRATCH => self.csr.mscratch = v,
            MEPC => self.csr.mepc = v & !1,
            MCAUSE => self.csr.mcause = v,
            MTVAL => self.csr.mtval = v,
            MIP => {
                // SSIP, STIP (when not driven by Sstc) and SEIP are writable by M-mode.
                let sstc = self.csr.menvcfg >> 63 != 0;
                let mask = irq::SSI | irq::SEI | if sstc { 0 } else { irq::STI };
                self.csr.mip = (self.csr.mip & !mask) | (v & mask);
            }
            // The write replaces this instruction's own increment: the next instruction
            // reads `v` (instret counts the instructions before this one).
            MCYCLE => self.csr.cycle_offset = v.wrapping_sub(self.instret).wrapping_sub(1),
            MINSTRET => self.csr.instret_offset = v.wrapping_sub(self.instret).wrapping_sub(1),
            0xb03..=0xb1f | 0x323..=0x33f => {}
            0x3a0..=0x3af => self.csr.pmpcfg[(a - 0x3a0) as usize] = v,
            0x3b0..=0x3bf => self.csr.pmpaddr[(a - 0x3b0) as usize] = v & ((1 << 54) - 1),
            0x3c0..=0x3ef => {}
            _ => return ill,
        }
        Ok(())
    }

    pub fn set_mstatus(&mut self, v: u64) {
        let mut v = v;
        // MPP is WARL: 2 (reserved) is not a legal value; keep the old one.
        if (v & mstatus::MPP) >> mstatus::MPP_SHIFT == 2 {
            v = (v & !mstatus::MPP) | (self.csr.mstatus & mstatus::MPP);
        }
        let changed = self.csr.mstatus ^ v;
        self.csr.mstatus = v & !mstatus::SD;
        if changed & (mstatus::MPRV | mstatus::MPP | mstatus::SUM | mstatus::MXR) != 0 {
            self.flush_tlb();
        }
        self.update_ls_priv();
    }

    /// Recomputes the supervisor timer interrupt from `stimecmp` and the current time.
    pub fn update_stip(&mut self) {
        // Without Sstc enabled (menvcfg.STCE = 0), STIP is M-mode software's to write.
        if self.csr.menvcfg >> 63 == 0 {
            return;
        }
        if self.mtime >= self.csr.stimecmp {
            self.csr.mip |= irq::STI;
        } else {
            self.csr.mip &= !irq::STI;
        }
    }
}

#[allow(dead_code)]
pub const PRIVS: [u8; 3] = [PRV_U, PRV_S, PRV_M];
