//! One RV64GC hart: architectural state, the instruction interpreter, traps and interrupts.
//!
//! Memory accesses go through [`Bus`]: RAM directly (through the software TLB, see
//! `mmu.rs`), everything else as MMIO. The interpreter loop (fetch, decode cache, the fast
//! integer paths) is in `interp.rs`; [`Hart::execute`] here implements every instruction.

use crate::blocks::{new_arena, Arena, BlockCache};
use crate::csr::{mstatus, Csrs};
use crate::decode::{Insn, Op};
use crate::mmu::{Access, Tlb};
use crate::regs::Regs;
use emu_core::GuestRam;

pub const PRV_U: u8 = 0;
pub const PRV_S: u8 = 1;
pub const PRV_M: u8 = 3;

/// Synchronous exceptions, with their trap values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    InstructionMisaligned(u64),
    InstructionAccessFault(u64),
    IllegalInstruction,
    Breakpoint(u64),
    LoadMisaligned(u64),
    LoadAccessFault(u64),
    StoreMisaligned(u64),
    StoreAccessFault(u64),
    EcallFromU,
    EcallFromS,
    EcallFromM,
    InstructionPageFault(u64),
    LoadPageFault(u64),
    StorePageFault(u64),
}

impl Exception {
    pub fn code(self) -> u64 {
        use Exception::*;
        match self {
            InstructionMisaligned(_) => 0,
            InstructionAccessFault(_) => 1,
            IllegalInstruction => 2,
            Breakpoint(_) => 3,
            LoadMisaligned(_) => 4,
            LoadAccessFault(_) => 5,
            StoreMisaligned(_) => 6,
            StoreAccessFault(_) => 7,
            EcallFromU => 8,
            EcallFromS => 9,
            EcallFromM => 11,
            InstructionPageFault(_) => 12,
            LoadPageFault(_) => 13,
            StorePageFault(_) => 15,
        }
    }

    fn tval(self, insn_bits: u64) -> u64 {
        use Exception::*;
        match self {
            InstructionMisaligned(v)
            | InstructionAccessFault(v)
            | Breakpoint(v)
            | LoadMisaligned(v)
            | LoadAccessFault(v)
            | StoreMisaligned(v)
            | StoreAccessFault(v)
            | InstructionPageFault(v)
            | LoadPageFault(v)
            | StorePageFault(v) => v,
            IllegalInstruction => insn_bits,
            EcallFromU | EcallFromS | EcallFromM => 0,
        }
    }
}

/// What the system around the hart provides: RAM and MMIO.
pub trait Bus {
    fn ram(&mut self) -> &mut GuestRam;
    /// MMIO read of `size` bytes at physical `addr`; None = access fault.
    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64>;
    /// MMIO write; None = access fault.
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> Option<()>;
    /// The interrupt bits of mip that the bus drives (see [`Bus::driven_interrupts`]);
    /// sampled after every MMIO access, since that is when they can change.
    fn external_interrupts(&mut self) -> u64 {
        0
    }
    /// Which mip bits `external_interrupts` drives: MEIP and SEIP (the interrupt
    /// controller). A bus holding the CLINT also drives MTIP and MSIP, so that a write to
    /// mtimecmp or msip raises or clears the interrupt at once, not at the next clock update.
    fn driven_interrupts(&self) -> u64 {
        crate::csr::irq::MEI | crate::csr::irq::SEI
    }
}

/// Why [`Hart::run`] returned before using its instruction budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The budget was used up.
    Budget,
    /// WFI with no interrupt pending: the machine may sleep until the next event.
    Wfi,
    /// ECALL from S-mode while the machine implements the SBI itself.
    Sbi,
    /// An MMIO access asked the machine to look at its devices (not used by the hart itself).
    Device,
}

pub struct Hart {
    pub x: Regs,
    pub f: [u64; 32],
    pub pc: u64,
    pub prv: u8,
    pub csr: Csrs,
    /// Retired instructions (also cycle).
    pub instret: u64,
    /// The platform timer (CLINT mtime), kept current by the machine.
    pub mtime: u64,
    /// ECALL from S-mode is handed to the machine (which implements the SBI) instead of
    /// trapping to M-mode.
    pub sbi_in_machine: bool,
    pub wfi: bool,
    /// Effective privilege of loads and stores (MPRV/MPP applied).
    pub(crate) ls_priv: u8,
    /// The privilege bits of a TLB tag for loads and stores ([`crate::mmu`]), kept with
    /// `ls_priv`.
    pub(crate) ls_tag: u64,
    /// The same for instruction fetches (privilege `prv`).
    pub(crate) fetch_tag: u64,
    pub(crate) reservation: Option<u64>,
    /// Inline rather than boxed: one pointer load less on every load and store.
    pub(crate) tlb: Tlb,
    /// Decoded instruction blocks ([`crate::interp`]): the index, and the instructions (taken
    /// out while [`Hart::run`] runs).
    pub(crate) blocks: BlockCache,
    pub(crate) arena: Option<Box<Arena>>,
}

impl Default for Hart {
    fn default() -> Self {
        Self::new()
    }
}

impl Hart {
    pub fn new() -> Self {
        Self::with_storage(BlockCache::new(), new_arena())
    }

    /// The hart in the state [`Hart::new`] gives, but keeping this one's decoded-block storage
    /// (its blocks dropped in O(1)): for running many short programs, where allocating and
    /// filling megabytes per hart would dominate (fuzzing).
    pub fn reset(mut self) -> Self {
        let arena = self.arena.take().unwrap_or_else(new_arena);
        Self::with_storage(self.blocks, arena)
    }

    fn with_storage(mut blocks: BlockCache, arena: Box<Arena>) -> Self {
        blocks.flush();
        let mut h = Self {
            x: Regs::default(),
            f: [0; 32],
            pc: 0,
            prv: PRV_M,
            csr: Csrs::default(),
            instret: 0,
            mtime: 0,
            sbi_in_machine: false,
            wfi: false,
            ls_priv: PRV_M,
            ls_tag: crate::mmu::tag_bits(PRV_M, 0),
            fetch_tag: crate::mmu::tag_bits(PRV_M, 0),
            reservation: None,
            tlb: Tlb::default(),
            blocks,
            arena: Some(arena),
        };
        h.csr.stimecmp = u64::MAX;
        h
    }

    pub(crate) fn update_ls_priv(&mut self) {
        self.ls_priv = if self.prv == PRV_M && self.csr.mstatus & mstatus::MPRV != 0 {
            ((self.csr.mstatus & mstatus::MPP) >> mstatus::MPP_SHIFT) as u8
        } else {
            self.prv
        };
        self.ls_tag = crate::mmu::tag_bits(self.ls_priv, self.tlb_epoch());
        self.fetch_tag = crate::mmu::tag_bits(self.prv, self.tlb_epoch());
    }

    pub fn set_priv(&mut self, prv: u8) {
        self.prv = prv;
        self.update_ls_priv();
    }

    /// Whether an enabled interrupt is pending at all (wakes WFI regardless of global enables).
    pub fn interrupt_waiting(&self) -> bool {
        self.csr.mip & self.csr.mie != 0
    }

    /// The interrupt to take now, if any, per the privileged spec's enable and priority rules.
    pub(crate) fn pending_interrupt(&self) -> Option<u64> {
        let pending = self.csr.mip & self.csr.mie;
        if pending == 0 {
            return None;
        }
        let m_pending = pending & !self.csr.mideleg;
        let m_enabled = self.prv < PRV_M || self.csr.mstatus & mstatus::MIE != 0;
        let s_pending = pending & self.csr.mideleg;
        let s_enabled = self.prv < PRV_S || (self.prv == PRV_S && self.csr.mstatus & mstatus::SIE != 0);
        let pick = |set: u64| -> Option<u64> {
            // Priority: MEI, MSI, MTI, SEI, SSI, STI.
            [11u64, 3, 7, 9, 1, 5].into_iter().find(|&c| set & (1 << c) != 0)
        };
        if m_enabled && m_pending != 0 {
            return pick(m_pending);
        }
        if s_enabled && s_pending != 0 {
            return pick(s_pending);
        }
        None
    }

    /// Enters the trap handler for `cause` (bit 63 set for interrupts).
    pub fn trap(&mut self, cause: u64, tval: u64) {
        let interrupt = cause >> 63 != 0;
        let code = cause & 0x3f;
        let deleg = if interrupt { self.csr.mideleg } else { self.csr.medeleg };
        self.reservation = None;
        self.wfi = false;
        if self.prv <= PRV_S && (deleg >> code) & 1 != 0 {
            let c = &mut self.csr;
            c.sepc = self.pc;
            c.scause = cause;
            c.stval = tval;
            let mut s = c.mstatus;
            s = if s & mstatus::SIE != 0 { s | mstatus::SPIE } else { s & !mstatus::SPIE };
            s = if self.prv == PRV_S { s | mstatus::SPP } else { s & !mstatus::SPP };
            s &= !mstatus::SIE;
            c.mstatus = s;
            let base = c.stvec & !3;
            self.pc = if interrupt && c.stvec & 1 != 0 { base + 4 * code } else { base };
            self.set_priv(PRV_S);
        } else {
            let c = &mut self.csr;
            c.mepc = self.pc;
            c.mcause = cause;
            c.mtval = tval;
            let mut s = c.mstatus;
            s = if s & mstatus::MIE != 0 { s | mstatus::MPIE } else { s & !mstatus::MPIE };
            s = (s & !mstatus::MPP) | ((self.prv as u64) << mstatus::MPP_SHIFT);
            s &= !mstatus::MIE;
            c.mstatus = s;
            let base = c.mtvec & !3;
            self.pc = if interrupt && c.mtvec & 1 != 0 { base + 4 * code } else { base };
            self.set_priv(PRV_M);
        }
    }

    pub fn take_exception(&mut self, e: Exception, insn_bits: u32) {
        self.trap(e.code(), e.tval(insn_bits as u64));
    }

    #[inline]
    fn rd(&mut self, rd: u8, v: u64) {
        // x0 is hard-wired to zero: writing it is discarded.
        if rd != 0 {
            self.x.set(rd, v);
        }
    }

    /// An OP-FP or fused multiply-add instruction, if the FPU is on and the encoding legal
    /// (otherwise false, and nothing changed). Out of line: the FP unit is big, and the block
    /// loop calls this too.
    #[inline(never)]
    pub(crate) fn fp_op(&mut self, raw: u32) -> bool {
        if self.csr.mstatus & mstatus::FS == 0 {
            return false;
        }
        let x = self.x.arch_mut();
        let done = crate::fpu::execute(raw, x, &mut self.f, &mut self.csr.fcsr).is_ok();
        x[0] = 0;
        if done {
            self.csr.mstatus |= mstatus::FS_DIRTY;
        }
        done
    }

    /// Executes one instruction (any instruction: the interpreter loop's fast paths must
    /// agree with this). Kept out of line so the loop's hot paths keep their registers.
    #[inline(never)]
    pub(crate) fn execute<B: Bus>(&mut self, bus: &mut B, i: Insn) -> Result<(), Exception> {
        let x1 = self.x.get(i.rs1);
        let x2 = self.x.get(i.rs2);
        let imm = i.imm as u64;
        let next = self.pc.wrapping_add(i.len as u64);
        let rd = i.rd;
        match i.op {
            Op::Lui => self.rd(rd, imm),
            Op::Auipc => self.rd(rd, self.pc.wrapping_add(imm)),
            Op::Jal => {
                let target = self.pc.wrapping_add(imm);
                self.rd(rd, next);
                self.pc = target;
                return Ok(());
            }
            Op::Jalr => {
                let target = x1.wrapping_add(imm) & !1;
                self.rd(rd, next);
                self.pc = target;
                return Ok(());
            }
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let taken = match i.op {
                    Op::Beq => x1 == x2,
                    Op::Bne => x1 != x2,
                    Op::Blt => (x1 as i64) < (x2 as i64),
                    Op::Bge => (x1 as i64) >= (x2 as i64),
                    Op::Bltu => x1 < x2,
                    _ => x1 >= x2,
                };
                self.pc = if taken { self.pc.wrapping_add(imm) } else { next };
                return Ok(());
            }
            Op::Lb => {
                let v = self.load(bus, x1.wrapping_add(imm), 1)? as i8 as u64;
                self.rd(rd, v)
            }
            Op::Lh => {
                let v = self.load(bus, x1.wrapping_add(imm), 2)? as i16 as u64;
                self.rd(rd, v)
            }
            Op::Lw => {
                let v = self.load(bus, x1.wrapping_add(imm), 4)? as i32 as u64;
                self.rd(rd, v)
            }
            Op::Ld | Op::LdLd => {
                let v = self.load(bus, x1.wrapping_add(imm), 8)?;
                self.rd(rd, v)
            }
            Op::Lbu => {
                let v = self.load(bus, x1.wrapping_add(imm), 1)?;
                self.rd(rd, v)
            }
            Op::Lhu => {
                let v = self.load(bus, x1.wrapping_add(imm), 2)?;
                self.rd(rd, v)
            }
            Op::Lwu => {
                let v = self.load(bus, x1.wrapping_add(imm), 4)?;
                self.rd(rd, v)
            }
            Op::Sb => self.store(bus, x1.wrapping_add(imm), 1, x2)?,
            Op::Sh => self.store(bus, x1.wrapping_add(imm), 2, x2)?,
            Op::Sw => self.store(bus, x1.wrapping_add(imm), 4, x2)?,
            Op::Sd | Op::SdSd => self.store(bus, x1.wrapping_add(imm), 8, x2)?,
            Op::Addi => self.rd(rd, x1.wrapping_add(imm)),
            Op::Slti => self.rd(rd, ((x1 as i64) < (imm as i64)) as u64),
            Op::Sltiu => self.rd(rd, (x1 < imm) as u64),
            Op::Xori => self.rd(rd, x1 ^ imm),
            Op::Ori => self.rd(rd, x1 | imm),
            Op::Andi => self.rd(rd, x1 & imm),
            Op::Slli | Op::RotL => self.rd(rd, x1 << (imm & 63)),
            Op::Srli | Op::RotR => self.rd(rd, x1 >> (imm & 63)),
            Op::Srai => self.rd(rd, ((x1 as i64) >> (imm & 63)) as u64),
            Op::Add => self.rd(rd, x1.wrapping_add(x2)),
            Op::Sub => self.rd(rd, x1.wrapping_sub(x2)),
            Op::Sll => self.rd(rd, x1 << (x2 & 63)),
            Op::Slt => self.rd(rd, ((x1 as i64) < (x2 as i64)) as u64),
            Op::Sltu => self.rd(rd, (x1 < x2) as u64),
            Op::Xor => self.rd(rd, x1 ^ x2),
            Op::Srl => self.rd(rd, x1 >> (x2 & 63)),
            Op::Sra => self.rd(rd, ((x1 as i64) >> (x2 & 63)) as u64),
            Op::Or => self.rd(rd, x1 | x2),
            Op::And => self.rd(rd, x1 & x2),
            Op::Addiw => self.rd(rd, (x1 as i32).wrapping_add(imm as i32) as i64 as u64),
            Op::Slliw | Op::RotLw => self.rd(rd, ((x1 as u32) << (imm & 31)) as i32 as i64 as u64),
            Op::Srliw | Op::RotRw => self.rd(rd, ((x1 as u32) >> (imm & 31)) as i32 as i64 as u64),
            Op::Sraiw => self.rd(rd, ((x1 as i32) >> (imm & 31)) as i64 as u64),
            Op::Addw => self.rd(rd, (x1 as i32).wrapping_add(x2 as i32) as i64 as u64),
            Op::Subw => self.rd(rd, (x1 as i32).wrapping_sub(x2 as i32) as i64 as u64),
            Op::Sllw => self.rd(rd, ((x1 as u32) << (x2 & 31)) as i32 as i64 as u64),
            Op::Srlw => self.rd(rd, ((x1 as u32) >> (x2 & 31)) as i32 as i64 as u64),
            Op::Sraw => self.rd(rd, ((x1 as i32) >> (x2 & 31)) as i64 as u64),
            Op::Mul => self.rd(rd, x1.wrapping_mul(x2)),
            Op::Mulh => self.rd(rd, ((x1 as i64 as i128 * x2 as i64 as i128) >> 64) as u64),
            Op::Mulhsu => self.rd(rd, ((x1 as i64 as i128 * x2 as u128 as i128) >> 64) as u64),
            Op::Mulhu => self.rd(rd, ((x1 as u128 * x2 as u128) >> 64) as u64),
            Op::Div => {
                let (a, b) = (x1 as i64, x2 as i64);
                let v = if b == 0 { -1 } else { a.wrapping_div(b) };
                self.rd(rd, v as u64)
            }
            Op::Divu => self.rd(rd, x1.checked_div(x2).unwrap_or(u64::MAX)),
            Op::Rem => {
                let (a, b) = (x1 as i64, x2 as i64);
                let v = if b == 0 { a } else { a.wrapping_rem(b) };
                self.rd(rd, v as u64)
            }
            Op::Remu => self.rd(rd, if x2 == 0 { x1 } else { x1 % x2 }),
            Op::Mulw => self.rd(rd, (x1 as i32).wrapping_mul(x2 as i32) as i64 as u64),
            Op::Divw => {
                let (a, b) = (x1 as i32, x2 as i32);
                let v = if b == 0 { -1 } else { a.wrapping_div(b) };
                self.rd(rd, v as i64 as u64)
            }
            Op::Divuw => {
                let (a, b) = (x1 as u32, x2 as u32);
                let v = a.checked_div(b).unwrap_or(u32::MAX);
                self.rd(rd, v as i32 as i64 as u64)
            }
            Op::Remw => {
                let (a, b) = (x1 as i32, x2 as i32);
                let v = if b == 0 { a } else { a.wrapping_rem(b) };
                self.rd(rd, v as i64 as u64)
            }
            Op::Remuw => {
                let (a, b) = (x1 as u32, x2 as u32);
                let v = if b == 0 { a } else { a % b };
                self.rd(rd, v as i32 as i64 as u64)
            }
            Op::Fence => {}
            // Later fetches must see earlier stores: decoded blocks may be stale.
            Op::FenceI => self.blocks.flush(),
            Op::Ecall => {
                return Err(match self.prv {
                    PRV_U => Exception::EcallFromU,
                    PRV_S => Exception::EcallFromS,
                    _ => Exception::EcallFromM,
                })
            }
            Op::Ebreak => return Err(Exception::Breakpoint(self.pc)),
            Op::Sret => {
                if self.prv < PRV_S || (self.prv == PRV_S && self.csr.mstatus & mstatus::TSR != 0) {
                    return Err(Exception::IllegalInstruction);
                }
                let s = self.csr.mstatus;
                let spp = if s & mstatus::SPP != 0 { PRV_S } else { PRV_U };
                let mut n = if s & mstatus::SPIE != 0 { s | mstatus::SIE } else { s & !mstatus::SIE };
                n |= mstatus::SPIE;
                n &= !mstatus::SPP;
                if spp != PRV_M {
                    n &= !mstatus::MPRV;
                }
                self.csr.mstatus = n;
                self.pc = self.csr.sepc;
                self.reservation = None;
                self.set_priv(spp);
                return Ok(());
            }
            Op::Mret => {
                if self.prv != PRV_M {
                    return Err(Exception::IllegalInstruction);
                }
                let s = self.csr.mstatus;
                let mpp = ((s & mstatus::MPP) >> mstatus::MPP_SHIFT) as u8;
                let mut n = if s & mstatus::MPIE != 0 { s | mstatus::MIE } else { s & !mstatus::MIE };
                n |= mstatus::MPIE;
                n &= !mstatus::MPP; // MPP <- U
                if mpp != PRV_M {
                    n &= !mstatus::MPRV;
                }
                self.csr.mstatus = n;
                self.pc = self.csr.mepc;
                self.reservation = None;
                self.set_priv(mpp);
                self.flush_tlb();
                return Ok(());
            }
            Op::Wfi => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.csr.mstatus & mstatus::TW != 0) {
                    return Err(Exception::IllegalInstruction);
                }
                if !self.interrupt_waiting() {
                    self.wfi = true;
                }
            }
            Op::SfenceVma => {
                if self.prv == PRV_U || (self.prv == PRV_S && self.csr.mstatus & mstatus::TVM != 0) {
                    return Err(Exception::IllegalInstruction);
                }
                self.flush_tlb();
            }
            Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
                self.exec_csr(i, x1)?;
            }
            Op::LrW | Op::LrD => {
                let size = if i.op == Op::LrW { 4 } else { 8 };
                if x1 & (size as u64 - 1) != 0 {
                    return Err(Exception::LoadMisaligned(x1));
                }
                let paddr = self.translate(bus, x1, Access::Load)?;
                let v = self.phys_load(bus, paddr, size).ok_or(Exception::LoadAccessFault(x1))?;
                self.reservation = Some(paddr);
                self.rd(rd, if size == 4 { v as i32 as i64 as u64 } else { v });
            }
            Op::ScW | Op::ScD => {
                let size = if i.op == Op::ScW { 4 } else { 8 };
                if x1 & (size as u64 - 1) != 0 {
                    return Err(Exception::StoreMisaligned(x1));
                }
                let paddr = self.translate(bus, x1, Access::Store)?;
                let ok = self.reservation.take() == Some(paddr);
                if ok {
                    self.phys_store(bus, paddr, size, x2).ok_or(Exception::StoreAccessFault(x1))?;
                }
                self.rd(rd, (!ok) as u64);
            }
            Op::Amo => self.exec_amo(bus, i, x1, x2)?,
            Op::Flw | Op::Fld => {
                if self.csr.mstatus & mstatus::FS == 0 {
                    return Err(Exception::IllegalInstruction);
                }
                let addr = x1.wrapping_add(imm);
                let v = if i.op == Op::Flw {
                    self.load(bus, addr, 4)? | 0xffff_ffff_0000_0000
                } else {
                    self.load(bus, addr, 8)?
                };
                self.f[rd as usize] = v;
                self.csr.mstatus |= mstatus::FS_DIRTY;
            }
            Op::Fsw | Op::Fsd => {
                if self.csr.mstatus & mstatus::FS == 0 {
                    return Err(Exception::IllegalInstruction);
                }
                let v = self.f[i.rs2 as usize];
                let size = if i.op == Op::Fsw { 4 } else { 8 };
                self.store(bus, x1.wrapping_add(imm), size, v)?;
            }
            Op::Fp => {
                if !self.fp_op(i.raw) {
                    return Err(Exception::IllegalInstruction);
                }
            }
            // End is a block arena marker, never an instruction handed here.
            Op::Illegal | Op::End => return Err(Exception::IllegalInstruction),
        }
        self.pc = next;
        Ok(())
    }

    fn exec_csr(&mut self, i: Insn, x1: u64) -> Result<(), Exception> {
        let a = i.imm as u16 & 0xfff;
        let src = match i.op {
            Op::Csrrwi | Op::Csrrsi | Op::Csrrci => i.rs1 as u64,
            _ => x1,
        };
        let writes = match i.op {
            Op::Csrrw | Op::Csrrwi => true,
            _ => i.rs1 != 0,
        };
        let reads = !matches!(i.op, Op::Csrrw | Op::Csrrwi) || i.rd != 0;
        if writes && (a >> 10) == 3 {
            return Err(Exception::IllegalInstruction);
        }
        let old = if reads || writes { self.csr_read(a)? } else { 0 };
        if writes {
            let new = match i.op {
                Op::Csrrw | Op::Csrrwi => src,
                Op::Csrrs | Op::Csrrsi => old | src,
                _ => old & !src,
            };
            self.csr_write(a, new)?;
        }
        self.rd(i.rd, old);
        Ok(())
    }

    fn exec_amo<B: Bus>(&mut self, bus: &mut B, i: Insn, x1: u64, x2: u64) -> Result<(), Exception> {
        let size = if i.rs3 == 2 { 4 } else { 8 };
        if x1 & (size as u64 - 1) != 0 {
            return Err(Exception::StoreMisaligned(x1));
        }
        let paddr = self.translate(bus, x1, Access::Store)?;
        let raw = self.phys_load(bus, paddr, size).ok_or(Exception::StoreAccessFault(x1))?;
        let (old, src) = if size == 4 { (raw as i32 as i64 as u64, x2 as i32 as i64 as u64) } else { (raw, x2) };
        let new = match i.imm {
            0x01 => src,
            0x00 => old.wrapping_add(src),
            0x04 => old ^ src,
            0x0c => old & src,
            0x08 => old | src,
            0x10 => (old as i64).min(src as i64) as u64,
            0x14 => (old as i64).max(src as i64) as u64,
            0x18 => {
                if size == 4 {
                    (old as u32).min(src as u32) as u64
                } else {
                    old.min(src)
                }
            }
            _ => {
                if size == 4 {
                    (old as u32).max(src as u32) as u64
                } else {
                    old.max(src)
                }
            }
        };
        self.phys_store(bus, paddr, size, new).ok_or(Exception::StoreAccessFault(x1))?;
        self.rd(i.rd, old);
        Ok(())
    }
}
