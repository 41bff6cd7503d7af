//! The run loop: decoded blocks of micro-ops (see `uop.rs`), chained.
//!
//! [`Cpu::run_block`] finds the block at RIP through the fetch TLB and the decode cache, then
//! [`Cpu::run_blocks`] runs it and the blocks after it for as long as the next one is at hand:
//! cached, and in the same page or one the fetch TLB knows. RIP lives in a local while it runs
//! (each micro-op knows its offset in the page), the budget is charged a block at a time, and
//! interrupts are looked at only when it returns to [`Cpu::run`]. That is enough because the
//! interrupt line and the interrupt flag change only through device accesses (which stop the
//! chain: `stop_block`) and instructions that end their block and go through the generic
//! executor (STI, POPF, IRET...), after which the loop returns. Translation and privilege
//! change the same way, so the fetch TLB's entries and [`Cpu::utag`] stay valid in a chain.
//!
//! Micro-ops that fault return the fault with the instruction's address; the instruction does
//! not retire, and `Cpu::raise` delivers it. [`Op::Slow`] runs the stored iced instruction
//! through `Cpu::exec`, which is also what the micro-ops are tested against.

use super::uop::{alu, ea, shift, unary, Op, Uop, NO_REG};
use crate::bus::Bus;
use crate::cpu::{cr0, cr4, Cpu, FS, GS};
use crate::dcache::{BlockRef, Decoded, Uops};
use crate::fault::Fault;
use crate::flags::{mask, sign, FlagOp, Flags, OF};
use crate::mmu::canonical;

/// How [`Cpu::run_blocks`] stopped.
enum End {
    /// At `pc`, with no next block at hand or no budget left (RIP not yet written).
    Next(u64),
    /// The instruction at `pc` raised `f`.
    Fault { pc: u64, f: Fault },
    /// An instruction through the generic executor changed control flow or machine state, or a
    /// device was accessed; RIP is written.
    Done,
}

#[inline(always)]
fn sx(v: u64, size: u8) -> i64 {
    let sh = 64 - 8 * size as u32;
    ((v << sh) as i64) >> sh
}

impl Cpu {
    /// Reads micro-op register `r` (unmasked: callers mask to their size).
    #[inline(always)]
    fn rg(&self, r: u8) -> u64 {
        self.gpr[(r & 15) as usize] >> ((r >> 1) & 8)
    }

    /// Writes micro-op register `r` with `size` bytes of `v`, by the x86 merge rules.
    #[inline(always)]
    fn wrg(&mut self, r: u8, size: u8, v: u64) {
        let g = &mut self.gpr[(r & 15) as usize];
        *g = match size {
            8 => v,
            4 => v & 0xffff_ffff,
            2 => (*g & !0xffff) | (v & 0xffff),
            _ => {
                let sh = (r >> 1) & 8;
                (*g & !(0xff << sh)) | ((v & 0xff) << sh)
            }
        };
    }

    /// The micro-op's memory operand: effective address with the FS/GS base.
    #[inline(always)]
    fn uea(&self, u: &Uop, vbase: u64) -> u64 {
        let d = u.disp as i64 as u64;
        let a = match u.ea & ea::KIND {
            ea::BD => self.gpr[(u.base & 15) as usize].wrapping_add(d),
            ea::BID => self.gpr[(u.base & 15) as usize]
                .wrapping_add(self.gpr[(u.index & 15) as usize] << (u.scale & 3))
                .wrapping_add(d),
            ea::ID => (self.gpr[(u.index & 15) as usize] << (u.scale & 3)).wrapping_add(d),
            ea::RIP => vbase.wrapping_add(u.next_po()).wrapping_add(d),
            _ => d,
        };
        if u.ea > ea::KIND {
            a.wrapping_add(self.seg[if u.ea & ea::FS != 0 { FS } else { GS }].base)
        } else {
            a
        }
    }

    /// Result of ALU operation `op` (flags not touched).
    #[inline(always)]
    fn alu_result(&self, op: u8, a: u64, b: u64) -> u64 {
        match op {
            alu::ADD => a.wrapping_add(b),
            alu::OR => a | b,
            alu::ADC => a.wrapping_add(b).wrapping_add(self.flags.cf() as u64),
            alu::SBB => a.wrapping_sub(b).wrapping_sub(self.flags.cf() as u64),
            alu::AND | alu::TEST => a & b,
            alu::SUB | alu::CMP => a.wrapping_sub(b),
            _ => a ^ b,
        }
    }

    /// Sets the flags of ALU operation `op` that computed `r` from `a` and `b` (ADC and SBB
    /// read the carry-in, so this runs before anything else changes the flags).
    #[inline(always)]
    fn alu_flags(&mut self, op: u8, size: u8, a: u64, b: u64, r: u64) {
        let f = &mut self.flags;
        match op {
            alu::ADD => f.set_lazy(FlagOp::Add, size, a, b, r),
            alu::ADC => {
                let c = f.cf();
                f.set_adc(FlagOp::Adc, size, a, b, r, c)
            }
            alu::SBB => {
                let c = f.cf();
                f.set_adc(FlagOp::Sbb, size, a, b, r, c)
            }
            alu::SUB | alu::CMP => f.set_lazy(FlagOp::Sub, size, a, b, r),
            _ => f.set_lazy(FlagOp::Logic, size, 0, 0, r),
        }
    }

    /// INC/DEC/NEG/NOT of `a`: the result, and the flags to set afterwards (None for NOT).
    #[inline(always)]
    fn unary(op: u8, a: u64) -> (u64, Option<(FlagOp, u64, u64)>) {
        match op {
            unary::INC => (a.wrapping_add(1), Some((FlagOp::Inc, a, 1))),
            unary::DEC => (a.wrapping_sub(1), Some((FlagOp::Dec, a, 1))),
            unary::NEG => (0u64.wrapping_sub(a), Some((FlagOp::Sub, 0, a))),
            _ => (!a, None),
        }
    }

    /// SHL/SHR/SAR of `a` (already masked to `size`) by `count` (masked, not zero): the result
    /// and the eager arithmetic flags.
    #[inline(always)]
    fn shift_ri(op: u8, size: u8, a: u64, count: u32) -> (u64, u64) {
        let bits = 8 * size as u32;
        let m = mask(size);
        let sb = sign(size);
        let (r, cf, of) = match op {
            shift::SHL => {
                let r = (a << count) & m;
                let cf = count <= bits && (a >> (bits - count)) & 1 != 0;
                (r, cf, (r & sb != 0) ^ cf)
            }
            shift::SHR => {
                let cf = count <= bits && (a >> (count - 1)) & 1 != 0;
                (a >> count, cf, a & sb != 0)
            }
            _ => {
                let s = sx(a, size);
                let r = (s >> count.min(63)) as u64 & m;
                (r, (s >> (count - 1).min(63)) & 1 != 0, false)
            }
        };
        (r, cf as u64 | if of { OF } else { 0 } | Flags::szp(r, size))
    }

    /// IMUL's truncated product and flags.
    #[inline(always)]
    fn imul(&mut self, size: u8, a: u64, b: u64) -> u64 {
        let full = sx(a, size) as i128 * sx(b, size) as i128;
        let r = full as u64 & mask(size);
        let ovf = sx(r, size) as i128 != full;
        self.flags.set_arith(if ovf { crate::flags::CF | OF } else { 0 } | Flags::szp(r, size));
        r
    }

    /// Whether SSE instructions may run (else the generic executor raises #UD or #NM).
    #[inline(always)]
    fn sse_ok(&self) -> bool {
        self.cr0 & (cr0::EM | cr0::TS) == 0 && self.cr4 & cr4::OSFXSR != 0
    }

    /// Runs instruction `k` of the arena (at `vbase` + its page offset) through the generic
    /// executor. `Ok(true)`: it changed control flow or state the chain depends on (RIP is
    /// then written), or it ends its block.
    #[inline(never)]
    fn exec_slow<B: Bus>(&mut self, bus: &mut B, k: u32, vbase: u64, ends: bool) -> Result<bool, Fault> {
        let ins = *self.dcache.insn(k);
        let next = vbase.wrapping_add(ins.next_ip());
        self.rip = next;
        self.vbase = vbase;
        self.exec(bus, &ins)?;
        Ok(ends || self.stop_block || self.rip != next)
    }

    /// Executes (part of) the block at RIP and the blocks chained after it: at most `max`
    /// instructions.
    pub(crate) fn run_block<B: Bus>(&mut self, bus: &mut B, max: u64) {
        let rip = self.rip;
        let off = match self.fetch_ram_off(bus, rip) {
            Ok(o) => o,
            Err(f) => return self.raise(bus, f),
        };
        let block = match self.dcache.lookup(off) {
            Some(b) => b,
            None => {
                let (d, newly) = self.dcache.decode(bus.ram().as_slice(), off, self.features.rdrand);
                if newly {
                    self.unmap_writes_to(off & !0xfff);
                }
                match d {
                    Decoded::Block(b) => b,
                    Decoded::Straddles => return self.run_straddling(bus),
                }
            }
        };
        self.utag = crate::mmu::user_tag(self.user_mode());
        self.stop_block = false;
        let uops = self.dcache.take_uops();
        let end = self.run_blocks(bus, &uops, block, rip & !0xfff, off & !0xfff, max);
        self.dcache.put_uops(uops);
        match end {
            End::Next(pc) => self.rip = pc,
            End::Fault { pc, f } => {
                self.rip = pc;
                self.raise(bus, f);
            }
            End::Done => {}
        }
        self.stop_block = false;
    }

    /// Runs decoded blocks, starting with `block` in the page at virtual `vbase` (RAM offset
    /// `ram_page`), while the next one is at hand and budget is left. Its own function with
    /// few values live across its loop, so they stay in registers.
    #[inline(never)]
    fn run_blocks<B: Bus>(
        &mut self,
        bus: &mut B,
        uops: &Uops,
        block: BlockRef,
        vbase: u64,
        ram_page: usize,
        budget: u64,
    ) -> End {
        let (mut vbase, mut ram_page) = (vbase, ram_page);
        // The whole block is charged up front; leaving early gives back what did not run. A block
        // cut short by the budget is looked up again from the middle next time (as a block of
        // its own).
        let mut left = budget;
        let mut k = block.start;
        let mut end = k + (block.len as u64).min(left) as u32;
        left -= u64::from(end - k);
        self.icount += u64::from(end - k);
        macro_rules! leave {
            ($e:expr) => {{
                self.icount -= u64::from(end - k);
                return $e;
            }};
        }
        loop {
            // The address after the block: where its last instruction falls through or jumps.
            let next = 'block: {
                while k != end {
                    let u = uops.get(k);
                    k += 1;
                    // The instruction raised `f`: it does not retire.
                    macro_rules! fault {
                        ($f:expr) => {{
                            let f = $f;
                            self.icount -= 1;
                            leave!(End::Fault { pc: vbase.wrapping_add(u.po as u64), f })
                        }};
                    }
                    macro_rules! tri {
                        ($e:expr) => {
                            match $e {
                                Ok(v) => v,
                                Err(f) => fault!(f),
                            }
                        };
                    }
                    // After a store: one that took the slow path may have changed code (this
                    // block's, even) or reached a device.
                    macro_rules! stored {
                        () => {
                            if self.stop_block {
                                self.rip = vbase.wrapping_add(u.next_po());
                                leave!(End::Done)
                            }
                        };
                    }
                    macro_rules! slow {
                        ($ends:expr) => {{
                            match self.exec_slow(bus, k - 1, vbase, $ends) {
                                Ok(false) => {}
                                Ok(true) => leave!(End::Done),
                                Err(f) => fault!(f),
                            }
                        }};
                    }
                    macro_rules! cond {
                        () => {
                            self.flags.cond_fast(u.aux)
                        };
                    }
                    let size = u.size;
                    let next_pc = || vbase.wrapping_add(u.next_po());
                    match u.op {
                        Op::Slow => slow!(u.aux != 0),
                        Op::Nop => {}
                        Op::MovRR => {
                            let v = self.rg(u.r1);
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovRI => {
                            let v = u.imm as u32 as u64 | (u.disp as u32 as u64) << 32;
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovRM => {
                            let a = self.uea(u, vbase);
                            let v = tri!(self.ld(bus, a, size));
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovMR => {
                            let a = self.uea(u, vbase);
                            let v = self.rg(u.r1);
                            tri!(self.st(bus, a, size, v));
                            stored!();
                        }
                        Op::MovMI => {
                            let a = self.uea(u, vbase);
                            tri!(self.st(bus, a, size, u.imm as i64 as u64));
                            stored!();
                        }
                        Op::MovzxRR => {
                            let v = self.rg(u.r1) & mask(u.aux);
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovzxRM => {
                            let a = self.uea(u, vbase);
                            let v = tri!(self.ld(bus, a, u.aux));
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovsxRR => {
                            let v = sx(self.rg(u.r1), u.aux) as u64;
                            self.wrg(u.r0, size, v);
                        }
                        Op::MovsxRM => {
                            let a = self.uea(u, vbase);
                            let v = tri!(self.ld(bus, a, u.aux));
                            self.wrg(u.r0, size, sx(v, u.aux) as u64);
                        }
                        Op::Lea => {
                            let a = self.uea(u, vbase);
                            self.wrg(u.r0, size, a);
                        }
                        Op::AluRR => {
                            let m = mask(size);
                            let (a, b) = (self.rg(u.r0) & m, self.rg(u.r1) & m);
                            let r = self.alu_result(u.aux, a, b);
                            self.alu_flags(u.aux, size, a, b, r);
                            if u.aux < alu::CMP {
                                self.wrg(u.r0, size, r);
                            }
                        }
                        Op::AluRI => {
                            let m = mask(size);
                            let (a, b) = (self.rg(u.r0) & m, u.imm as i64 as u64 & m);
                            let r = self.alu_result(u.aux, a, b);
                            self.alu_flags(u.aux, size, a, b, r);
                            if u.aux < alu::CMP {
                                self.wrg(u.r0, size, r);
                            }
                        }
                        Op::AluRM => {
                            let ad = self.uea(u, vbase);
                            let b = tri!(self.ld(bus, ad, size));
                            let a = self.rg(u.r0) & mask(size);
                            let r = self.alu_result(u.aux, a, b);
                            self.alu_flags(u.aux, size, a, b, r);
                            if u.aux < alu::CMP {
                                self.wrg(u.r0, size, r);
                            }
                        }
                        Op::AluMR | Op::AluMI => {
                            let ad = self.uea(u, vbase);
                            let a = tri!(self.ld(bus, ad, size));
                            let m = mask(size);
                            let b = if u.op == Op::AluMR { self.rg(u.r1) } else { u.imm as i64 as u64 } & m;
                            let r = self.alu_result(u.aux, a, b);
                            if u.aux < alu::CMP {
                                tri!(self.st(bus, ad, size, r));
                            }
                            self.alu_flags(u.aux, size, a, b, r);
                            stored!();
                        }
                        Op::UnR => {
                            let a = self.rg(u.r0) & mask(size);
                            let (r, f) = Self::unary(u.aux, a);
                            self.wrg(u.r0, size, r);
                            if let Some((op, fa, fb)) = f {
                                self.flags.set_lazy(op, size, fa, fb, r);
                            }
                        }
                        Op::UnM => {
                            let ad = self.uea(u, vbase);
                            let a = tri!(self.ld(bus, ad, size));
                            let (r, f) = Self::unary(u.aux, a);
                            tri!(self.st(bus, ad, size, r));
                            if let Some((op, fa, fb)) = f {
                                self.flags.set_lazy(op, size, fa, fb, r);
                            }
                            stored!();
                        }
                        Op::ShiftR => {
                            let c = if u.r1 == NO_REG { u.imm as u64 } else { self.gpr[1] };
                            let c = (c & if size == 8 { 63 } else { 31 }) as u32;
                            let a = self.rg(u.r0) & mask(size);
                            if c != 0 {
                                let (r, f) = Self::shift_ri(u.aux, size, a, c);
                                self.wrg(u.r0, size, r);
                                self.flags.set_arith(f);
                            } else if size == 4 {
                                // A shift by zero changes no flags but still zero-extends.
                                self.wrg(u.r0, size, a);
                            }
                        }
                        Op::PushR => {
                            let v = self.gpr[(u.r0 & 15) as usize];
                            let sp = self.gpr[4].wrapping_sub(8);
                            tri!(self.st(bus, sp, 8, v));
                            self.gpr[4] = sp;
                            stored!();
                        }
                        Op::PushI => {
                            let sp = self.gpr[4].wrapping_sub(8);
                            tri!(self.st(bus, sp, 8, u.imm as i64 as u64));
                            self.gpr[4] = sp;
                            stored!();
                        }
                        Op::PopR => {
                            let sp = self.gpr[4];
                            let v = tri!(self.ld(bus, sp, 8));
                            self.gpr[4] = sp.wrapping_add(8);
                            self.gpr[(u.r0 & 15) as usize] = v;
                        }
                        Op::CallRel | Op::CallR | Op::CallM => {
                            let t = match u.op {
                                Op::CallRel => vbase.wrapping_add(u.imm as i64 as u64),
                                Op::CallR => self.gpr[(u.r0 & 15) as usize],
                                _ => {
                                    let a = self.uea(u, vbase);
                                    tri!(self.ld(bus, a, 8))
                                }
                            };
                            if !canonical(t) {
                                fault!(Fault::GP(0));
                            }
                            let sp = self.gpr[4].wrapping_sub(8);
                            tri!(self.st(bus, sp, 8, next_pc()));
                            self.gpr[4] = sp;
                            break 'block t;
                        }
                        Op::Ret => {
                            let sp = self.gpr[4];
                            let t = tri!(self.ld(bus, sp, 8));
                            if !canonical(t) {
                                fault!(Fault::GP(0));
                            }
                            self.gpr[4] = sp.wrapping_add(8 + u.imm as u64);
                            break 'block t;
                        }
                        Op::JmpRel | Op::JmpR | Op::JmpM => {
                            let t = match u.op {
                                Op::JmpRel => vbase.wrapping_add(u.imm as i64 as u64),
                                Op::JmpR => self.gpr[(u.r0 & 15) as usize],
                                _ => {
                                    let a = self.uea(u, vbase);
                                    tri!(self.ld(bus, a, 8))
                                }
                            };
                            if !canonical(t) {
                                fault!(Fault::GP(0));
                            }
                            break 'block t;
                        }
                        Op::Jcc => {
                            break 'block if cond!() { vbase.wrapping_add(u.imm as i64 as u64) } else { next_pc() };
                        }
                        Op::CmovRR => {
                            let v = if cond!() { self.rg(u.r1) } else { self.rg(u.r0) };
                            // A 32-bit CMOV zero-extends even when the condition is false.
                            self.wrg(u.r0, size, v & mask(size));
                        }
                        Op::CmovRM => {
                            let a = self.uea(u, vbase);
                            let v = tri!(self.ld(bus, a, size));
                            let v = if cond!() { v } else { self.rg(u.r0) };
                            self.wrg(u.r0, size, v & mask(size));
                        }
                        Op::SetR => {
                            let v = cond!() as u64;
                            self.wrg(u.r0, 1, v);
                        }
                        Op::SetM => {
                            let a = self.uea(u, vbase);
                            let v = cond!() as u64;
                            tri!(self.st(bus, a, 1, v));
                            stored!();
                        }
                        Op::XchgRR => {
                            let (a, b) = (self.rg(u.r0), self.rg(u.r1));
                            self.wrg(u.r1, size, a);
                            self.wrg(u.r0, size, b);
                        }
                        Op::ImulRR => {
                            let (a, b) = (self.rg(u.r0), self.rg(u.r1));
                            let r = self.imul(size, a, b);
                            self.wrg(u.r0, size, r);
                        }
                        Op::ImulRM => {
                            let ad = self.uea(u, vbase);
                            let b = tri!(self.ld(bus, ad, size));
                            let r = self.imul(size, self.rg(u.r0), b);
                            self.wrg(u.r0, size, r);
                        }
                        Op::ImulRRI => {
                            let r = self.imul(size, self.rg(u.r1), u.imm as i64 as u64);
                            self.wrg(u.r0, size, r);
                        }
                        Op::Cdqe => self.gpr[0] = self.gpr[0] as i32 as i64 as u64,
                        Op::Cqo => self.gpr[2] = ((self.gpr[0] as i64) >> 63) as u64,
                        Op::Cdq => self.gpr[2] = ((self.gpr[0] as i32) >> 31) as u32 as u64,
                        Op::Leave => {
                            let bp = self.gpr[5];
                            let v = tri!(self.ld(bus, bp, 8));
                            self.gpr[4] = bp.wrapping_add(8);
                            self.gpr[5] = v;
                        }
                        Op::XmmRR | Op::Pxor if !self.sse_ok() => slow!(false),
                        Op::XmmRR => self.xmm[(u.r0 & 15) as usize] = self.xmm[(u.r1 & 15) as usize],
                        Op::Pxor => self.xmm[(u.r0 & 15) as usize] ^= self.xmm[(u.r1 & 15) as usize],
                        Op::XmmRM | Op::XmmMR => {
                            if !self.sse_ok() {
                                slow!(false);
                                continue;
                            }
                            let a = self.uea(u, vbase);
                            if u.aux != 0 && a & 15 != 0 {
                                fault!(Fault::GP(0));
                            }
                            if u.op == Op::XmmRM {
                                let lo = tri!(self.ld(bus, a, 8));
                                let hi = tri!(self.ld(bus, a.wrapping_add(8), 8));
                                self.xmm[(u.r0 & 15) as usize] = lo as u128 | (hi as u128) << 64;
                            } else {
                                let v = self.xmm[(u.r1 & 15) as usize];
                                tri!(self.write128(bus, a, v));
                                stored!();
                            }
                        }
                    }
                }
                // Fell off the end of the block.
                vbase.wrapping_add(uops.get(end - 1).next_po())
            };
            // The next block, if it is at hand.
            if left == 0 || self.stop_block {
                leave!(End::Next(next));
            }
            let po = next.wrapping_sub(vbase);
            let b = if po < 4096 {
                // In the same page: the successor found the last time, or the decode cache's.
                let last = end - 1;
                match self.dcache.linked(last, po) {
                    Some(b) => b,
                    None => {
                        let Some(b) = self.dcache.lookup(ram_page + po as usize) else { leave!(End::Next(next)) };
                        self.dcache.link(last, po, b);
                        b
                    }
                }
            } else {
                // Another page: through the fetch TLB (translation and privilege are what they
                // were when the chain started, so its entries still apply).
                let Some(ram) = self.fetch_tlb_hit(next) else { leave!(End::Next(next)) };
                let Some(b) = self.dcache.lookup(ram + (next & 0xfff) as usize) else { leave!(End::Next(next)) };
                vbase = next & !0xfff;
                ram_page = ram;
                b
            };
            k = b.start;
            end = k + (b.len as u64).min(left) as u32;
            left -= u64::from(end - k);
            self.icount += u64::from(end - k);
        }
    }
}
