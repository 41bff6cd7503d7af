//! The interpreter loop: fetch, decode cache and dispatch.
//!
//! Fetch: while pc stays in one virtual page, fetches skip the TLB (the "fetch window", valid
//! until the next privileged instruction or trap, which are the only things that change
//! translation or privilege; page table stores without SFENCE.VMA need not be seen, as with
//! the TLB).
//!
//! Decode: decoded instructions live in a direct-mapped cache indexed by the instruction's RAM
//! offset. Every slot holds the 32-bit word it was decoded from, and a fetch compares that word
//! with RAM. Decoding is a pure function of the word, so a hit is always right:
//! self-modifying code and DMA into code pages need no invalidation at all, at the price of
//! one load and compare per instruction.
//!
//! Dispatch: the unprivileged integer instructions (RV64IM without FENCE/ECALL/EBREAK) run
//! here with pc in a local; everything else goes through [`Hart::execute`], which implements
//! every instruction and is the reference the fast paths here are tested against
//! (`fast_paths_match_execute` below).
//!
//! Interrupts are taken on entry, after control transfers, privileged instructions and traps,
//! not before every instruction: mip and mie change only between runs, through privileged
//! instructions and through MMIO accesses (a control transfer follows soon), and the global
//! enables only through privileged instructions and traps.

use crate::decode::{decode, Insn, Op};
use crate::hart::{Bus, Exception, Exit, Hart};

/// Decoded-instruction cache: 2^16 slots, one per halfword of a 128 KiB window of RAM.
pub(crate) const ICACHE_BITS: u32 = 16;

/// One decoded-instruction cache slot. Invariant: `insn == decode(word)`.
#[derive(Clone, Copy)]
pub(crate) struct ISlot {
    word: u32,
    insn: Insn,
}

/// The decode cache, every slot valid (for the word 0).
pub(crate) fn new_icache() -> Box<[ISlot; 1 << ICACHE_BITS]> {
    match vec![ISlot { word: 0, insn: decode(0) }; 1 << ICACHE_BITS].into_boxed_slice().try_into() {
        Ok(slots) => slots,
        Err(_) => unreachable!("the vector has exactly 1 << ICACHE_BITS slots"),
    }
}

/// The RAM offset of an empty fetch window: beyond any RAM, so its bounds check fails and the
/// fetch takes the slow path, and far enough from usize::MAX that adding a page offset cannot
/// overflow.
const NO_WINDOW: usize = usize::MAX - 8192;

/// The 32-bit word at `po` in the fetch window, if `po` leaves room for it in the page and
/// the window is not empty.
#[inline(always)]
fn fetch_word(ram: &[u8], win_ram: usize, po: u64) -> Option<u32> {
    if po > 4092 {
        return None;
    }
    // `off` cannot overflow (win_ram <= NO_WINDOW); get(off..) then first_chunk costs two
    // compares, one fewer than get(off..off + 4).
    let off = win_ram + po as usize;
    Some(u32::from_le_bytes(*ram.get(off..)?.first_chunk::<4>()?))
}

/// Whether `op` may change translation, privilege, interrupt state or the counters, or wait:
/// FENCE through the CSR instructions in [`Op`]'s order.
#[inline(always)]
fn is_privileged(op: Op) -> bool {
    (op as u8).wrapping_sub(Op::Fence as u8) <= Op::Csrrci as u8 - Op::Fence as u8
}

impl Hart {
    /// Takes the highest-priority enabled pending interrupt, if any. Returns whether it did.
    #[inline]
    fn take_pending_interrupt(&mut self) -> bool {
        if self.csr.mip & self.csr.mie != 0 {
            if let Some(code) = self.pending_interrupt() {
                self.trap((1 << 63) | code, 0);
                return true;
            }
        }
        false
    }

    /// Runs up to `budget` instructions.
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        let mut left = budget;
        // instret is `base + (budget - left)`, written back before anything can read it.
        // Trapping instructions use up budget (so a trap loop cannot keep `run` from
        // returning) but do not retire: they decrement `base`.
        let mut base = self.instret;
        // The fetch window: the virtual page starting at `win_vbase` is RAM at `win_ram`.
        let mut win_vbase = 0u64;
        let mut win_ram = NO_WINDOW;
        self.take_pending_interrupt();
        let mut pc = self.pc;
        // Traps retire nothing, but count against the budget too: a trap loop (a fault on
        // fetching the trap handler itself) must still return to the machine, which detects it.
        let mut traps = 0u64;

        // After a taken control transfer: interrupts that MMIO made pending.
        macro_rules! after_jump {
            () => {
                if self.csr.mip & self.csr.mie != 0 {
                    self.pc = pc;
                    if self.take_pending_interrupt() {
                        pc = self.pc;
                        win_ram = NO_WINDOW;
                    }
                }
            };
        }
        // A synchronous exception of the instruction at pc (which does not retire).
        macro_rules! fault {
            ($e:expr) => {{
                base = base.wrapping_sub(1);
                self.pc = pc;
                self.take_exception($e, 0);
                self.take_pending_interrupt();
                pc = self.pc;
                win_ram = NO_WINDOW;
                traps += 1;
                if traps >= budget {
                    break;
                }
                continue;
            }};
        }
        // Writes rd; x0 is written too and then cleared, which is cheaper than a branch.
        macro_rules! wr {
            ($rd:expr, $v:expr) => {{
                let v = $v;
                self.x[($rd & 31) as usize] = v;
                self.x[0] = 0;
            }};
        }

        while left != 0 {
            let po = pc.wrapping_sub(win_vbase);
            let i = match fetch_word(bus.ram().as_slice(), win_ram, po) {
                Some(w) => self.decode_cached(win_ram + po as usize, w),
                None => {
                    self.pc = pc;
                    match self.fetch_slow(bus, &mut win_vbase, &mut win_ram) {
                        Ok(i) => i,
                        Err(e) => {
                            left -= 1;
                            base = base.wrapping_sub(1);
                            self.take_exception(e, 0);
                            self.take_pending_interrupt();
                            pc = self.pc;
                            win_ram = NO_WINDOW;
                            traps += 1;
                            if traps >= budget {
                                break;
                            }
                            continue;
                        }
                    }
                }
            };
            left -= 1;
            let x1 = self.x[(i.rs1 & 31) as usize];
            let imm = i.imm as i64 as u64;
            let next = pc.wrapping_add(i.len as u64);
            macro_rules! x2 {
                () => {
                    self.x[(i.rs2 & 31) as usize]
                };
            }
            macro_rules! load {
                ($size:expr) => {
                    match self.load(bus, x1.wrapping_add(imm), $size) {
                        Ok(v) => v,
                        Err(e) => fault!(e),
                    }
                };
            }
            macro_rules! store {
                ($size:expr) => {
                    if let Err(e) = self.store(bus, x1.wrapping_add(imm), $size, x2!()) {
                        fault!(e)
                    }
                };
            }
            macro_rules! branch {
                ($cond:expr) => {
                    if $cond {
                        pc = pc.wrapping_add(imm);
                        after_jump!();
                        continue;
                    }
                };
            }
            match i.op {
                Op::Addi => wr!(i.rd, x1.wrapping_add(imm)),
                Op::Lui => wr!(i.rd, imm),
                Op::Auipc => wr!(i.rd, pc.wrapping_add(imm)),
                Op::Jal => {
                    wr!(i.rd, next);
                    pc = pc.wrapping_add(imm);
                    after_jump!();
                    continue;
                }
                Op::Jalr => {
                    wr!(i.rd, next);
                    pc = x1.wrapping_add(imm) & !1;
                    after_jump!();
                    continue;
                }
                Op::Beq => branch!(x1 == x2!()),
                Op::Bne => branch!(x1 != x2!()),
                Op::Blt => branch!((x1 as i64) < (x2!() as i64)),
                Op::Bge => branch!((x1 as i64) >= (x2!() as i64)),
                Op::Bltu => branch!(x1 < x2!()),
                Op::Bgeu => branch!(x1 >= x2!()),
                Op::Lb => wr!(i.rd, load!(1) as i8 as u64),
                Op::Lh => wr!(i.rd, load!(2) as i16 as u64),
                Op::Lw => wr!(i.rd, load!(4) as i32 as u64),
                Op::Ld => wr!(i.rd, load!(8)),
                Op::Lbu => wr!(i.rd, load!(1)),
                Op::Lhu => wr!(i.rd, load!(2)),
                Op::Lwu => wr!(i.rd, load!(4)),
                Op::Sb => store!(1),
                Op::Sh => store!(2),
                Op::Sw => store!(4),
                Op::Sd => store!(8),
                Op::Slti => wr!(i.rd, ((x1 as i64) < (imm as i64)) as u64),
                Op::Sltiu => wr!(i.rd, (x1 < imm) as u64),
                Op::Xori => wr!(i.rd, x1 ^ imm),
                Op::Ori => wr!(i.rd, x1 | imm),
                Op::Andi => wr!(i.rd, x1 & imm),
                Op::Slli => wr!(i.rd, x1 << (imm & 63)),
                Op::Srli => wr!(i.rd, x1 >> (imm & 63)),
                Op::Srai => wr!(i.rd, ((x1 as i64) >> (imm & 63)) as u64),
                Op::Add => wr!(i.rd, x1.wrapping_add(x2!())),
                Op::Sub => wr!(i.rd, x1.wrapping_sub(x2!())),
                Op::Sll => wr!(i.rd, x1 << (x2!() & 63)),
                Op::Slt => wr!(i.rd, ((x1 as i64) < (x2!() as i64)) as u64),
                Op::Sltu => wr!(i.rd, (x1 < x2!()) as u64),
                Op::Xor => wr!(i.rd, x1 ^ x2!()),
                Op::Srl => wr!(i.rd, x1 >> (x2!() & 63)),
                Op::Sra => wr!(i.rd, ((x1 as i64) >> (x2!() & 63)) as u64),
                Op::Or => wr!(i.rd, x1 | x2!()),
                Op::And => wr!(i.rd, x1 & x2!()),
                Op::Addiw => wr!(i.rd, (x1 as i32).wrapping_add(imm as i32) as i64 as u64),
                Op::Slliw => wr!(i.rd, ((x1 as u32) << (imm & 31)) as i32 as i64 as u64),
                Op::Srliw => wr!(i.rd, ((x1 as u32) >> (imm & 31)) as i32 as i64 as u64),
                Op::Sraiw => wr!(i.rd, ((x1 as i32) >> (imm & 31)) as i64 as u64),
                Op::Addw => wr!(i.rd, (x1 as i32).wrapping_add(x2!() as i32) as i64 as u64),
                Op::Subw => wr!(i.rd, (x1 as i32).wrapping_sub(x2!() as i32) as i64 as u64),
                Op::Sllw => wr!(i.rd, ((x1 as u32) << (x2!() & 31)) as i32 as i64 as u64),
                Op::Srlw => wr!(i.rd, ((x1 as u32) >> (x2!() & 31)) as i32 as i64 as u64),
                Op::Sraw => wr!(i.rd, ((x1 as i32) >> (x2!() & 31)) as i64 as u64),
                Op::Mul => wr!(i.rd, x1.wrapping_mul(x2!())),
                Op::Mulw => wr!(i.rd, (x1 as i32).wrapping_mul(x2!() as i32) as i64 as u64),
                _ => {
                    // Everything else, through the reference implementation. It reads pc and
                    // possibly instret, and may change both.
                    self.pc = pc;
                    self.instret = base.wrapping_add(budget - left - 1);
                    let privileged = is_privileged(i.op);
                    match self.execute(bus, i) {
                        Ok(()) => {
                            // Retired; instret may have been written (minstret).
                            base = self.instret.wrapping_add(1).wrapping_sub(budget - left);
                            pc = self.pc;
                            if privileged {
                                win_ram = NO_WINDOW;
                                if self.wfi {
                                    self.instret = base.wrapping_add(budget - left);
                                    return Exit::Wfi;
                                }
                                if self.take_pending_interrupt() {
                                    pc = self.pc;
                                }
                            } else if pc != next {
                                after_jump!();
                            }
                        }
                        Err(Exception::EcallFromS) if self.sbi_in_machine => {
                            // Not retired: the machine's SBI steps past it.
                            base = base.wrapping_sub(1);
                            self.instret = base.wrapping_add(budget - left);
                            return Exit::Sbi;
                        }
                        Err(e) => {
                            base = base.wrapping_sub(1);
                            self.take_exception(e, i.raw);
                            self.take_pending_interrupt();
                            pc = self.pc;
                            win_ram = NO_WINDOW;
                        }
                    }
                    continue;
                }
            }
            pc = next;
        }
        self.pc = pc;
        self.instret = base.wrapping_add(budget - left);
        Exit::Budget
    }

    /// The decoded instruction for the 32-bit `word` at RAM offset `off`.
    #[inline(always)]
    fn decode_cached(&mut self, off: usize, word: u32) -> Insn {
        let slot = &mut self.icache[(off >> 1) & ((1 << ICACHE_BITS) - 1)];
        if slot.word != word {
            *slot = ISlot { word, insn: decode(word) };
        }
        slot.insn
    }

    /// Fetches and decodes the instruction at pc through the TLB, and points the fetch window
    /// at pc's page.
    #[inline(never)]
    fn fetch_slow<B: Bus>(&mut self, bus: &mut B, win_vbase: &mut u64, win_ram: &mut usize) -> Result<Insn, Exception> {
        let pc = self.pc;
        if pc & 1 != 0 {
            return Err(Exception::InstructionMisaligned(pc));
        }
        let off = self.translate_fetch(bus, pc)?;
        let po = pc & 0xfff;
        *win_vbase = pc & !0xfff;
        *win_ram = off - po as usize;
        if let Some(w) = fetch_word(bus.ram().as_slice(), *win_ram, po) {
            return Ok(self.decode_cached(off, w));
        }
        // The last halfword of a page.
        let ram = bus.ram().as_slice();
        let lo = u16::from_le_bytes([ram[off], ram[off + 1]]) as u32;
        if lo & 3 != 3 {
            return Ok(decode(lo));
        }
        // A 32-bit instruction straddling a page boundary: the second half may fault
        // with tval = the address of that half... the spec allows reporting pc.
        let off2 = self.translate_fetch(bus, pc + 2).map_err(|e| match e {
            Exception::InstructionPageFault(_) => Exception::InstructionPageFault(pc + 2),
            Exception::InstructionAccessFault(_) => Exception::InstructionAccessFault(pc + 2),
            e => e,
        })?;
        let ram = bus.ram().as_slice();
        Ok(decode(lo | (u16::from_le_bytes([ram[off2], ram[off2 + 1]]) as u32) << 16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emu_core::GuestRam;

    const BASE: u64 = 0x8000_0000;
    const CODE: u64 = BASE + 0x1000;
    /// Loads and stores are aimed here, so they hit RAM.
    const DATA: u64 = BASE + 0x8000;

    struct RamBus {
        ram: GuestRam,
    }

    impl Bus for RamBus {
        fn ram(&mut self) -> &mut GuestRam {
            &mut self.ram
        }
        fn mmio_read(&mut self, _addr: u64, _size: u8) -> Option<u64> {
            None
        }
        fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) -> Option<()> {
            None
        }
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    /// Puts `h` and `bus` in the same state for the next case (a fresh hart and RAM per case
    /// would cost megabytes of initialisation each).
    fn reset(h: &mut Hart, bus: &mut RamBus, word: u32, regs: &[u64; 32], data: &[u8]) {
        bus.ram.write(CODE, &word.to_le_bytes()).unwrap();
        bus.ram.write(DATA - 0x800, data).unwrap();
        h.x = *regs;
        h.x[0] = 0;
        h.pc = CODE;
        h.instret = 0;
        h.csr = Default::default();
        h.set_priv(crate::hart::PRV_M);
        h.flush_tlb();
    }

    /// Every instruction the loop runs inline gives the same registers, pc, instret, memory
    /// and trap state as [`Hart::execute`], for random encodings (32-bit and compressed) and
    /// operands.
    #[test]
    fn fast_paths_match_execute() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut fast, mut slow) = (Hart::new(), Hart::new());
        let mut fast_bus = RamBus { ram: GuestRam::new(BASE, 0x10000) };
        let mut slow_bus = RamBus { ram: GuestRam::new(BASE, 0x10000) };
        let mut checked = 0;
        while checked < 100_000 {
            let raw = rng.next() as u32;
            // A third compressed (low bits 0..=2; the upper half is the next instruction),
            // the rest 32-bit.
            let word = if rng.next().is_multiple_of(3) { (raw & !3) | (rng.next() % 3) as u32 } else { raw | 3 };
            let insn = decode(word);
            if is_privileged(insn.op) || matches!(insn.op, Op::Illegal) {
                continue;
            }
            let mut regs = [0u64; 32];
            for r in regs.iter_mut() {
                *r = match rng.next() % 4 {
                    0 => rng.next() % 64,
                    1 => (rng.next() as i64 >> (rng.next() % 64)) as u64,
                    _ => rng.next(),
                };
            }
            // Base registers of loads and stores point at the data area (minus the offset),
            // mostly aligned and sometimes not.
            if (Op::Lb as u8..=Op::Sd as u8).contains(&(insn.op as u8))
                || matches!(insn.op, Op::Flw | Op::Fld | Op::Fsw | Op::Fsd)
            {
                let off = (rng.next() % 0x100) & if rng.next().is_multiple_of(4) { !0 } else { !7 };
                regs[insn.rs1 as usize] = DATA.wrapping_add(off).wrapping_sub(insn.imm as i64 as u64);
            }
            let data: Vec<u8> = (0..0x1000).map(|_| rng.next() as u8).collect();

            reset(&mut fast, &mut fast_bus, word, &regs, &data);
            let exit = fast.run(&mut fast_bus, 1);
            assert_eq!(exit, Exit::Budget, "{word:#x}");

            reset(&mut slow, &mut slow_bus, word, &regs, &data);
            match slow.execute(&mut slow_bus, insn) {
                Ok(()) => slow.instret += 1,
                Err(e) => slow.take_exception(e, insn.raw),
            }
            let what = format!("{word:#010x} {insn:?}");
            assert_eq!(fast.x, slow.x, "{what}");
            assert_eq!(fast.f, slow.f, "{what}");
            assert_eq!(fast.pc, slow.pc, "{what}");
            assert_eq!(fast.instret, slow.instret, "{what}");
            assert_eq!(
                (fast.prv, fast.csr.mcause, fast.csr.mtval, fast.csr.mepc),
                (slow.prv, slow.csr.mcause, slow.csr.mtval, slow.csr.mepc),
                "{what}"
            );
            assert!(fast_bus.ram.as_slice() == slow_bus.ram.as_slice(), "{what}: memory differs");
            checked += 1;
        }
    }
}
