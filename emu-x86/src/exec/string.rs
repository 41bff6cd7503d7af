//! String instructions (MOVS, STOS, LODS, SCAS, CMPS, INS, OUTS) with REP prefixes.
//!
//! Registers are updated after every element, so a fault in the middle of a REP leaves RSI,
//! RDI and RCX describing the work done and RIP at the instruction: the handler fixes the
//! page and the instruction resumes where it stopped. Long REPs also stop every few thousand
//! elements and re-execute, so interrupts and the budget are not held off.
//!
//! With the address-size prefix (0x67) the instructions use ESI, EDI and ECX: addresses are
//! their zero-extended values, and every update writes the 32-bit register (clearing the upper
//! half, as any 32-bit register write does); a REP with ECX = 0 leaves RCX alone.

use super::Res;
use crate::bus::Bus;
use crate::cpu::{Cpu, FS, GS};
use crate::flags::{FlagOp, DF};
use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

/// Elements per execution of a REP instruction before it yields.
const REP_CHUNK: u32 = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Scas,
    Cmps,
    Ins,
    Outs,
}

impl Cpu {
    pub(super) fn string<B: Bus>(&mut self, bus: &mut B, i: &Instruction) -> Res {
        let (kind, size) = match i.mnemonic() {
            M::Movsb => (Kind::Movs, 1),
            M::Movsw => (Kind::Movs, 2),
            M::Movsd => (Kind::Movs, 4),
            M::Movsq => (Kind::Movs, 8),
            M::Stosb => (Kind::Stos, 1),
            M::Stosw => (Kind::Stos, 2),
            M::Stosd => (Kind::Stos, 4),
            M::Stosq => (Kind::Stos, 8),
            M::Lodsb => (Kind::Lods, 1),
            M::Lodsw => (Kind::Lods, 2),
            M::Lodsd => (Kind::Lods, 4),
            M::Lodsq => (Kind::Lods, 8),
            M::Scasb => (Kind::Scas, 1),
            M::Scasw => (Kind::Scas, 2),
            M::Scasd => (Kind::Scas, 4),
            M::Scasq => (Kind::Scas, 8),
            M::Cmpsb => (Kind::Cmps, 1),
            M::Cmpsw => (Kind::Cmps, 2),
            M::Cmpsd => (Kind::Cmps, 4),
            M::Cmpsq => (Kind::Cmps, 8),
            M::Insb => (Kind::Ins, 1),
            M::Insw => (Kind::Ins, 2),
            M::Insd => (Kind::Ins, 4),
            M::Outsb => (Kind::Outs, 1),
            M::Outsw => (Kind::Outs, 2),
            _ => (Kind::Outs, 4),
        };
        if matches!(kind, Kind::Ins | Kind::Outs) {
            self.check_io_privilege()?;
        }
        let src_base = match i.segment_prefix() {
            Register::FS => self.seg[FS].base,
            Register::GS => self.seg[GS].base,
            _ => 0,
        };
        let rep = i.has_rep_prefix() || i.has_repne_prefix();
        // 64-bit mode has 64-bit or (0x67) 32-bit addresses; the decoder names the registers.
        let a32 = (0..i.op_count()).any(|n| matches!(i.op_kind(n), OpKind::MemorySegESI | OpKind::MemoryESEDI));
        let amask = if a32 { 0xffff_ffff } else { u64::MAX };
        let step = if self.flags.bits & DF != 0 { (size as u64).wrapping_neg() } else { size as u64 };
        let step = |r: u64| r.wrapping_add(step) & amask;
        // REP MOVS and STOS forwards go a page at a time where the TLB has the pages.
        let bulk = rep && step(0) == size as u64 && matches!(kind, Kind::Movs | Kind::Stos);
        let mut done = 0u32;
        loop {
            if rep && self.gpr[1] & amask == 0 {
                return Ok(());
            }
            if bulk {
                let n = self.string_bulk(bus, kind, size, src_base, amask, REP_CHUNK - done);
                if n != 0 {
                    done += n;
                    if self.gpr[1] & amask == 0 {
                        return Ok(());
                    }
                    if done >= REP_CHUNK {
                        self.rip = self.vbase.wrapping_add(i.ip());
                        self.stop_block = true;
                        return Ok(());
                    }
                    continue;
                }
            }
            let (rsi, rdi) = (self.gpr[6] & amask, self.gpr[7] & amask);
            match kind {
                Kind::Movs => {
                    let v = self.read(bus, src_base.wrapping_add(rsi), size)?;
                    self.write(bus, rdi, size, v)?;
                    self.gpr[6] = step(rsi);
                    self.gpr[7] = step(rdi);
                }
                Kind::Stos => {
                    self.write(bus, rdi, size, self.gpr[0])?;
                    self.gpr[7] = step(rdi);
                }
                Kind::Lods => {
                    let v = self.read(bus, src_base.wrapping_add(rsi), size)?;
                    self.set_acc(size, v);
                    self.gpr[6] = step(rsi);
                }
                Kind::Scas => {
                    let m = self.read(bus, rdi, size)?;
                    let a = self.gpr[0];
                    self.flags.set_lazy(FlagOp::Sub, size, a, m, a.wrapping_sub(m));
                    self.gpr[7] = step(rdi);
                }
                Kind::Cmps => {
                    let a = self.read(bus, src_base.wrapping_add(rsi), size)?;
                    let b = self.read(bus, rdi, size)?;
                    self.flags.set_lazy(FlagOp::Sub, size, a, b, a.wrapping_sub(b));
                    self.gpr[6] = step(rsi);
                    self.gpr[7] = step(rdi);
                }
                Kind::Ins => {
                    // Probe first so a faulting destination does not consume port input.
                    self.probe_write(bus, rdi, size as u64)?;
                    let v = bus.io_in(self.gpr[2] as u16, size);
                    self.after_device_access(bus);
                    self.write(bus, rdi, size, v as u64)?;
                    self.gpr[7] = step(rdi);
                }
                Kind::Outs => {
                    let v = self.read(bus, src_base.wrapping_add(rsi), size)?;
                    bus.io_out(self.gpr[2] as u16, size, v as u32);
                    self.after_device_access(bus);
                    self.gpr[6] = step(rsi);
                }
            }
            if !rep {
                return Ok(());
            }
            self.gpr[1] = self.gpr[1].wrapping_sub(1) & amask;
            if matches!(kind, Kind::Scas | Kind::Cmps) {
                let zf = self.flags.zf();
                if (i.has_rep_prefix() && !zf) || (i.has_repne_prefix() && zf) {
                    return Ok(());
                }
            }
            done += 1;
            if done >= REP_CHUNK && self.gpr[1] & amask != 0 {
                // Yield: run the same instruction again next time.
                self.rip = self.vbase.wrapping_add(i.ip());
                self.stop_block = true;
                return Ok(());
            }
            if self.exit.is_some() && self.gpr[1] & amask != 0 {
                self.rip = self.vbase.wrapping_add(i.ip());
                return Ok(());
            }
        }
    }

    /// Up to `limit` elements of a forward REP MOVS or STOS in one go, as far as the current
    /// source and destination pages reach: only when the TLB has both (so they are RAM, and the
    /// destination holds no decoded code). Returns the elements done (0: none, the caller
    /// takes the element-by-element path, which also fills the TLB). Overlapping copies move
    /// at most the distance between source and destination at a time, which gives the same
    /// bytes as copying element by element.
    fn string_bulk<B: Bus>(&mut self, bus: &mut B, kind: Kind, size: u8, src_base: u64, amask: u64, limit: u32) -> u32 {
        let s = size as u64;
        let count = self.gpr[1] & amask;
        let rdi = self.gpr[7] & amask;
        let Some(dst_page) = self.tlb_ram(rdi, true) else { return 0 };
        let dst = dst_page + (rdi & 0xfff) as usize;
        let mut n = count.min((4096 - (rdi & 0xfff)) / s).min(limit as u64);
        let ram = bus.ram().as_mut_slice();
        if kind == Kind::Stos {
            if n == 0 {
                return 0;
            }
            let v = self.gpr[0].to_le_bytes();
            for e in ram[dst..dst + (n * s) as usize].chunks_exact_mut(size as usize) {
                e.copy_from_slice(&v[..size as usize]);
            }
        } else {
            let rsi = self.gpr[6] & amask;
            let va = src_base.wrapping_add(rsi);
            let Some(src_page) = self.tlb_ram(va, false) else { return 0 };
            let src = src_page + (va & 0xfff) as usize;
            n = n.min((4096 - (va & 0xfff)) / s);
            if dst > src && ((dst - src) as u64) < n * s {
                n = (dst - src) as u64 / s;
            }
            if n == 0 {
                return 0;
            }
            let ram = bus.ram().as_mut_slice();
            ram.copy_within(src..src + (n * s) as usize, dst);
            self.gpr[6] = rsi.wrapping_add(n * s) & amask;
        }
        self.gpr[7] = rdi.wrapping_add(n * s) & amask;
        self.gpr[1] = count.wrapping_sub(n) & amask;
        n as u32
    }

    fn set_acc(&mut self, size: u8, v: u64) {
        let r = match size {
            1 => Register::AL,
            2 => Register::AX,
            4 => Register::EAX,
            _ => Register::RAX,
        };
        self.set_reg(r, v);
    }
}
