//! The interpreter loop: fetch, decoded blocks and dispatch.
//!
//! Fetch: while pc stays in one virtual page, finding its RAM offset skips the TLB (the "fetch
//! window", valid until the next privileged instruction or trap, which are the only things that
//! change translation or privilege; page table stores without SFENCE.VMA need not be seen, as
//! with the TLB).
//!
//! Decode: instructions run from decoded blocks ([`crate::blocks`]), looked up by RAM offset once
//! per block, or followed through the link the exit left when the next block is in the same
//! page; inside a block the loop only steps through the decoded array. FENCE.I drops every
//! block.
//!
//! Dispatch: the unprivileged integer instructions (RV64IM without FENCE/ECALL/EBREAK), and FP
//! loads, stores and operations while the FPU is on, run here; everything else goes through
//! [`Hart::execute`], which implements every instruction and is the reference the fast paths
//! here are tested against (`fast_paths_match_execute` and `chained_blocks_match_single_steps`
//! below).
//!
//! Interrupts are taken on entry, after control transfers, privileged instructions and traps,
//! not before every instruction: mip and mie change only between runs, through privileged
//! instructions and through MMIO accesses (a control transfer follows soon), and the global
//! enables only through privileged instructions and traps.

use crate::blocks::{
    link_target, new_arena, op, rest_of_block, set_link, Arena, BlockCache, BlockRef, ARENA, MAX_BLOCK,
};
use crate::csr::mstatus;
use crate::decode::{decode, Insn, Op};
use crate::hart::{Bus, Exception, Exit, Hart};

/// The RAM offset of an empty fetch window: beyond any RAM, so block lookups miss and the fetch
/// takes the slow path, and far enough from usize::MAX that adding a page offset cannot
/// overflow.
const NO_WINDOW: usize = usize::MAX - 8192;

/// What [`Hart::run_blocks`] carries in and out: the budget left and the fetch window (the
/// virtual page at `vbase` is RAM at `ram`). One pointer instead of three keeps a register free
/// in the block loop.
struct Cursor {
    left: u64,
    vbase: u64,
    ram: usize,
}

/// The arena entry at byte offset `kb` (index * 16).
#[inline(always)]
fn at(arena: &Arena, kb: u32) -> &crate::decode::Insn {
    &arena[(kb >> 4) as usize & (ARENA - 1)]
}

fn at_mut(arena: &mut Arena, kb: u32) -> &mut crate::decode::Insn {
    &mut arena[(kb >> 4) as usize & (ARENA - 1)]
}

const _: () = assert!(std::mem::size_of::<crate::decode::Insn>() == 16);

/// How [`Hart::run_blocks`] stopped.
enum BlockEnd {
    /// At the end of a block, or after a control transfer, with no next block at hand: the
    /// next pc.
    Next(u64),
    /// The instruction at `pc` raised `e`.
    Fault { pc: u64, e: Exception },
    /// The instruction at `pc` is left to [`Hart::execute`]; `k` is the arena index after it.
    Slow { k: u32, pc: u64 },
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

    /// Drops every decoded block (FENCE.I, and whoever rewrites guest code behind the hart's
    /// back, such as tests and loaders).
    pub fn flush_decoded(&mut self) {
        self.blocks.flush();
    }

    /// Drops every decoded block and zeroes their storage (before a snapshot of linear memory).
    pub fn clear_decoded(&mut self) {
        let arena = self.arena.get_or_insert_with(new_arena);
        self.blocks.clear(arena);
    }

    /// Runs up to `budget` instructions.
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        // The decoded instructions are held apart from the hart meanwhile, so the hot loop can
        // walk a block as a slice while it mutates the hart.
        let mut arena = self.arena.take().unwrap_or_else(new_arena);
        let exit = self.run_with(bus, budget, &mut arena);
        self.arena = Some(arena);
        exit
    }

    fn run_with<B: Bus>(&mut self, bus: &mut B, budget: u64, arena: &mut Arena) -> Exit {
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

        'blocks: while left != 0 {
            // A synchronous exception `e` (trap value `raw` for illegal instructions) of the
            // instruction at pc, which does not retire.
            macro_rules! trap {
                ($e:expr, $raw:expr) => {{
                    base = base.wrapping_sub(1);
                    self.pc = pc;
                    self.take_exception($e, $raw);
                    self.take_pending_interrupt();
                    pc = self.pc;
                    win_ram = NO_WINDOW;
                    traps += 1;
                    if traps >= budget {
                        break 'blocks;
                    }
                    continue 'blocks;
                }};
            }
            let po = pc.wrapping_sub(win_vbase);
            let hit = if po < 4096 { self.blocks.lookup(win_ram.wrapping_add(po as usize)) } else { None };
            let block = match hit {
                Some(b) => b,
                None => {
                    self.pc = pc;
                    match self.enter_block(bus, arena, &mut win_vbase, &mut win_ram) {
                        Ok(b) => b,
                        Err(e) => {
                            left -= 1;
                            trap!(e, 0)
                        }
                    }
                }
            };
            let mut block = block;
            loop {
                let end = if u64::from(block.len) <= left {
                    let mut cur = Cursor { left, vbase: win_vbase, ram: win_ram };
                    let end = self.run_blocks(bus, arena, block, &mut cur);
                    (left, win_vbase, win_ram) = (cur.left, cur.vbase, cur.ram);
                    end
                } else {
                    // Less budget than the block: its first instruction alone, through the
                    // reference implementation (the end of a run, not the common case).
                    left -= 1;
                    BlockEnd::Slow { k: block.start + 1, pc }
                };
                match end {
                    BlockEnd::Next(next) => {
                        pc = next;
                        // Interrupts that MMIO made pending.
                        if self.csr.mip & self.csr.mie != 0 {
                            self.pc = pc;
                            if self.take_pending_interrupt() {
                                pc = self.pc;
                                win_ram = NO_WINDOW;
                            }
                        }
                        continue 'blocks;
                    }
                    BlockEnd::Fault { pc: fault_pc, e } => {
                        pc = fault_pc;
                        trap!(e, 0)
                    }
                    BlockEnd::Slow { k, pc: slow_pc } => {
                        // Through the reference implementation, which reads pc and possibly
                        // instret, and may change both.
                        pc = slow_pc;
                        let i = op(arena, k - 1);
                        let next = pc.wrapping_add(i.len as u64);
                        self.pc = pc;
                        self.instret = base.wrapping_add(budget - left - 1);
                        match self.execute(bus, i) {
                            Ok(()) => {
                                // Retired; instret may have been written (minstret).
                                base = self.instret.wrapping_add(1).wrapping_sub(budget - left);
                                pc = self.pc;
                                if !is_privileged(i.op) && pc == next {
                                    // Went on in line (FP, AMO, division...): the rest of the
                                    // block follows.
                                    let rest = rest_of_block(arena, k);
                                    if rest == 0 || left == 0 {
                                        continue 'blocks;
                                    }
                                    block = BlockRef { start: k, len: rest };
                                    continue;
                                }
                                if self.wfi {
                                    self.instret = base.wrapping_add(budget - left);
                                    return Exit::Wfi;
                                }
                                win_ram = NO_WINDOW;
                                if self.take_pending_interrupt() {
                                    pc = self.pc;
                                }
                                continue 'blocks;
                            }
                            Err(Exception::EcallFromS) if self.sbi_in_machine => {
                                // Not retired: the machine's SBI steps past it.
                                base = base.wrapping_sub(1);
                                self.instret = base.wrapping_add(budget - left);
                                return Exit::Sbi;
                            }
                            Err(e) => trap!(e, i.raw),
                        }
                    }
                }
            }
        }
        self.pc = pc;
        self.instret = base.wrapping_add(budget - left);
        Exit::Budget
    }

    /// Runs decoded blocks, starting with `block` (in the fetch window's page), and goes on to
    /// the next block while it is cached and in a page the fetch TLB has, no interrupt is
    /// pending and budget is left. Stops early when an instruction traps or needs
    /// [`Hart::execute`]; `left` is then the budget left after that instruction. Its own
    /// function with few live values, so they stay in registers; pc is not one of them:
    /// every decoded instruction knows its offset in the page.
    #[inline(never)]
    fn run_blocks<B: Bus>(&mut self, bus: &mut B, arena: &mut Arena, block: BlockRef, cur: &mut Cursor) -> BlockEnd {
        // Writes rd: never 0, the block builder points writes to x0 at the register file's
        // sink ([`crate::regs`]).
        macro_rules! wr {
            ($rd:expr, $v:expr) => {{
                let v = $v;
                self.x.set($rd, v);
            }};
        }
        // Guest RAM and the load/store TLB tag bits, in locals: neither changes while blocks
        // run (privileged instructions and traps leave this function).
        let mut pages = bus.ram().pages_mut();
        let ls_tag = self.ls_tag;
        let mut vbase = cur.vbase;
        let mut win_ram = cur.ram;
        // Blocks run only whole within the budget (the caller and the chain below check), so
        // the loop needs no budget or end test: a block ends at its End entry. The budget is
        // charged when a block is left, with what ran (`k - start`, `k` being past the
        // instruction that left).
        let mut budget = cur.left;
        // `k` and `start` are byte offsets into the arena (index * 16): the entry's address
        // is then one mask away, with no scaling on every dispatch.
        let mut start = block.start << 4;
        let mut k = start;
        // Leaves with `$end`, charging the block and saving the window.
        macro_rules! leave {
            ($end:expr) => {{
                *cur = Cursor { left: budget - u64::from((k - start) >> 4), vbase, ram: win_ram };
                return $end;
            }};
        }
        loop {
            // The pc after the block (where its last instruction falls through or jumps to), and
            // the arena index of the entry that left it (which holds the block link).
            let (pc, exit) = 'block: {
                loop {
                    // A reference, not a copy: each arm reads only the fields it uses (a copy
                    // made Cranelift load all seven before every dispatch).
                    let i = at(arena, k);
                    k += 16;
                    macro_rules! x1 {
                        () => {
                            self.x.get(i.rs1)
                        };
                    }
                    macro_rules! imm {
                        () => {
                            i.imm as i64 as u64
                        };
                    }
                    macro_rules! pc {
                        () => {
                            vbase + i.po as u64
                        };
                    }
                    macro_rules! x2 {
                        () => {
                            self.x.get(i.rs2)
                        };
                    }
                    // TLB hits go to `pages` directly; misses through the bus, which `pages`
                    // borrows from, so it is taken again after them. `$i` is the instruction.
                    macro_rules! load {
                        ($i:expr, $size:expr) => {{
                            let a = self.x.get($i.rs1).wrapping_add($i.imm as i64 as u64);
                            match self.load_hit(pages, ls_tag, a, $size) {
                                Some(v) => v,
                                None => {
                                    let r = self.load_slow(bus, a, $size);
                                    pages = bus.ram().pages_mut();
                                    match r {
                                        Ok(v) => v,
                                        Err(e) => leave!(BlockEnd::Fault { pc: vbase + $i.po as u64, e }),
                                    }
                                }
                            }
                        }};
                        ($size:expr) => {
                            load!(i, $size)
                        };
                    }
                    // `$v` is the value (by default the instruction's rs2).
                    macro_rules! store {
                        ($i:expr, $size:expr, $v:expr) => {{
                            let a = self.x.get($i.rs1).wrapping_add($i.imm as i64 as u64);
                            let v = $v;
                            if !self.store_hit(pages, ls_tag, a, $size, v) {
                                let r = self.store_slow(bus, a, $size, v);
                                pages = bus.ram().pages_mut();
                                if let Err(e) = r {
                                    leave!(BlockEnd::Fault { pc: vbase + $i.po as u64, e })
                                }
                            }
                        }};
                        ($i:expr, $size:expr) => {
                            store!($i, $size, self.x.get($i.rs2))
                        };
                        ($size:expr) => {
                            store!(i, $size)
                        };
                    }
                    // A taken branch leaves the block; the block goes on after one not taken.
                    macro_rules! branch {
                        ($cond:expr) => {
                            if $cond {
                                break 'block (pc!().wrapping_add(imm!()), k - 16);
                            }
                        };
                    }
                    match i.op {
                        Op::Addi => wr!(i.rd, x1!().wrapping_add(imm!())),
                        Op::Lui => wr!(i.rd, imm!()),
                        Op::Auipc => wr!(i.rd, pc!().wrapping_add(imm!())),
                        Op::Jal => {
                            wr!(i.rd, pc!().wrapping_add(i.len as u64));
                            // A JAL the block builder followed has its target next in the block;
                            // otherwise it is the last.
                            if at(arena, k).op == Op::End {
                                break 'block (pc!().wrapping_add(imm!()), k - 16);
                            }
                        }
                        Op::Jalr => {
                            // The target before the link: rd may be rs1.
                            let target = x1!().wrapping_add(imm!()) & !1;
                            wr!(i.rd, pc!().wrapping_add(i.len as u64));
                            break 'block (target, k - 16);
                        }
                        Op::Beq => branch!(x1!() == x2!()),
                        Op::Bne => branch!(x1!() != x2!()),
                        Op::Blt => branch!((x1!() as i64) < (x2!() as i64)),
                        Op::Bge => branch!((x1!() as i64) >= (x2!() as i64)),
                        Op::Bltu => branch!(x1!() < x2!()),
                        Op::Bgeu => branch!(x1!() >= x2!()),
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
                        // A pair ([`crate::blocks`]): the second is the next entry. A fault in
                        // the second leaves the first done, as when they run apart.
                        Op::LdLd => {
                            wr!(i.rd, load!(8));
                            let j = at(arena, k);
                            k += 16;
                            wr!(j.rd, load!(j, 8));
                        }
                        Op::SdSd => {
                            store!(8);
                            let j = at(arena, k);
                            k += 16;
                            store!(j, 8);
                        }
                        Op::Slti => wr!(i.rd, ((x1!() as i64) < (imm!() as i64)) as u64),
                        Op::Sltiu => wr!(i.rd, (x1!() < imm!()) as u64),
                        Op::Xori => wr!(i.rd, x1!() ^ imm!()),
                        Op::Ori => wr!(i.rd, x1!() | imm!()),
                        Op::Andi => wr!(i.rd, x1!() & imm!()),
                        Op::Slli => wr!(i.rd, x1!() << (imm!() & 63)),
                        Op::Srli => wr!(i.rd, x1!() >> (imm!() & 63)),
                        Op::Srai => wr!(i.rd, ((x1!() as i64) >> (imm!() & 63)) as u64),
                        Op::Add => wr!(i.rd, x1!().wrapping_add(x2!())),
                        Op::Sub => wr!(i.rd, x1!().wrapping_sub(x2!())),
                        Op::Sll => wr!(i.rd, x1!() << (x2!() & 63)),
                        Op::Slt => wr!(i.rd, ((x1!() as i64) < (x2!() as i64)) as u64),
                        Op::Sltu => wr!(i.rd, (x1!() < x2!()) as u64),
                        Op::Xor => wr!(i.rd, x1!() ^ x2!()),
                        Op::Srl => wr!(i.rd, x1!() >> (x2!() & 63)),
                        Op::Sra => wr!(i.rd, ((x1!() as i64) >> (x2!() & 63)) as u64),
                        Op::Or => wr!(i.rd, x1!() | x2!()),
                        Op::And => wr!(i.rd, x1!() & x2!()),
                        Op::Addiw => wr!(i.rd, (x1!() as i32).wrapping_add(imm!() as i32) as i64 as u64),
                        Op::Slliw => wr!(i.rd, ((x1!() as u32) << (imm!() & 31)) as i32 as i64 as u64),
                        Op::Srliw => wr!(i.rd, ((x1!() as u32) >> (imm!() & 31)) as i32 as i64 as u64),
                        Op::Sraiw => wr!(i.rd, ((x1!() as i32) >> (imm!() & 31)) as i64 as u64),
                        Op::Addw => wr!(i.rd, (x1!() as i32).wrapping_add(x2!() as i32) as i64 as u64),
                        Op::Subw => wr!(i.rd, (x1!() as i32).wrapping_sub(x2!() as i32) as i64 as u64),
                        Op::Sllw => wr!(i.rd, ((x1!() as u32) << (x2!() & 31)) as i32 as i64 as u64),
                        Op::Srlw => wr!(i.rd, ((x1!() as u32) >> (x2!() & 31)) as i32 as i64 as u64),
                        Op::Sraw => wr!(i.rd, ((x1!() as i32) >> (x2!() & 31)) as i64 as u64),
                        Op::Mul => wr!(i.rd, x1!().wrapping_mul(x2!())),
                        // A fused rotate ([`crate::blocks`]): the two shifts and the OR at once
                        // (the block runs whole, so all three are in the budget).
                        Op::RotR | Op::RotL | Op::RotRw | Op::RotLw => {
                            let n = imm!() as u32;
                            let (a, b) = match i.op {
                                Op::RotR => (x1!() >> (n & 63), x1!() << (64 - (n & 63))),
                                Op::RotL => (x1!() << (n & 63), x1!() >> (64 - (n & 63))),
                                Op::RotRw => {
                                    let x = x1!() as u32;
                                    ((x >> (n & 31)) as i32 as i64 as u64, (x << (32 - (n & 31))) as i32 as i64 as u64)
                                }
                                _ => {
                                    let x = x1!() as u32;
                                    ((x << (n & 31)) as i32 as i64 as u64, (x >> (32 - (n & 31))) as i32 as i64 as u64)
                                }
                            };
                            wr!(i.rd, a);
                            wr!(i.rs2, b);
                            wr!(i.rs3, a | b);
                            k += 32;
                        }
                        Op::Mulw => wr!(i.rd, (x1!() as i32).wrapping_mul(x2!() as i32) as i64 as u64),
                        // Listed rather than `_`, so the jump table covers every operation and the
                        // dispatch needs no range check.
                        Op::Illegal
                        | Op::Mulh
                        | Op::Mulhsu
                        | Op::Mulhu
                        | Op::Div
                        | Op::Divu
                        | Op::Rem
                        | Op::Remu
                        | Op::Divw
                        | Op::Divuw
                        | Op::Remw
                        | Op::Remuw
                        | Op::Fence
                        | Op::FenceI
                        | Op::Ecall
                        | Op::Ebreak
                        | Op::Sret
                        | Op::Mret
                        | Op::Wfi
                        | Op::SfenceVma
                        | Op::Csrrw
                        | Op::Csrrs
                        | Op::Csrrc
                        | Op::Csrrwi
                        | Op::Csrrsi
                        | Op::Csrrci
                        | Op::LrW
                        | Op::ScW
                        | Op::LrD
                        | Op::ScD
                        | Op::Amo => {
                            leave!(BlockEnd::Slow { k: k >> 4, pc: pc!() })
                        }
                        // FP loads and stores, and the FP unit: inline while the FPU is on
                        // (otherwise the reference implementation raises the exception).
                        Op::Fld | Op::Flw => {
                            if self.csr.mstatus & mstatus::FS == 0 {
                                leave!(BlockEnd::Slow { k: k >> 4, pc: pc!() })
                            }
                            // FLW NaN-boxes the single.
                            let v = if i.op == Op::Fld { load!(8) } else { load!(4) | 0xffff_ffff_0000_0000 };
                            self.f[(i.rd & 31) as usize] = v;
                            self.csr.mstatus |= mstatus::FS_DIRTY;
                        }
                        Op::Fsd | Op::Fsw => {
                            if self.csr.mstatus & mstatus::FS == 0 {
                                leave!(BlockEnd::Slow { k: k >> 4, pc: pc!() })
                            }
                            let size = if i.op == Op::Fsd { 8 } else { 4 };
                            store!(i, size, self.f[(i.rs2 & 31) as usize]);
                        }
                        Op::Fp => {
                            if !self.fp_op(i.raw) {
                                leave!(BlockEnd::Slow { k: k >> 4, pc: pc!() })
                            }
                        }
                        Op::End => {
                            // Fell off the end of the block: not an instruction.
                            k -= 16;
                            break 'block (vbase + i.po as u64, k);
                        }
                    }
                }
            };
            budget -= u64::from((k - start) >> 4);
            start = k;
            // The next block: linked from the exit when it is in the same page (no lookup),
            // and otherwise looked up, if it is at hand.
            let mut po = pc.wrapping_sub(vbase);
            let irq = self.csr.mip & self.csr.mie != 0;
            if po < 4096 && budget >= MAX_BLOCK as u64 && !irq {
                if let Some(next) = link_target(at(arena, exit), po) {
                    (start, k) = (next << 4, next << 4);
                    continue;
                }
            }
            if budget == 0 || irq {
                leave!(BlockEnd::Next(pc));
            }
            let same_page = po < 4096;
            if !same_page {
                // Another page: through the fetch TLB (translation and privilege are what they
                // were when the window was made, so its entries still apply).
                match self.fetch_page_cached(pc) {
                    Some(ram) => {
                        vbase = pc & !0xfff;
                        win_ram = ram;
                        po = pc & 0xfff;
                    }
                    None => leave!(BlockEnd::Next(pc)),
                }
            }
            let Some(b) = self.blocks.lookup(win_ram + po as usize) else { leave!(BlockEnd::Next(pc)) };
            if u64::from(b.len) > budget {
                leave!(BlockEnd::Next(pc));
            }
            if same_page {
                set_link(at_mut(arena, exit), po, b.start);
            }
            (start, k) = (b.start << 4, b.start << 4);
        }
    }

    /// Finds (or decodes) the block at pc through the TLB, and points the fetch window at pc's
    /// page. An instruction straddling a page boundary runs as a one-instruction block.
    #[inline(never)]
    fn enter_block<B: Bus>(
        &mut self,
        bus: &mut B,
        arena: &mut Arena,
        win_vbase: &mut u64,
        win_ram: &mut usize,
    ) -> Result<BlockRef, Exception> {
        let pc = self.pc;
        if pc & 1 != 0 {
            return Err(Exception::InstructionMisaligned(pc));
        }
        let off = self.translate_fetch(bus, pc)?;
        let po = pc & 0xfff;
        *win_vbase = pc & !0xfff;
        *win_ram = off - po as usize;
        if let Some(b) = self.blocks.lookup(off) {
            return Ok(b);
        }
        if let Some(b) = self.blocks.build(arena, bus.ram().as_slice(), off) {
            return Ok(b);
        }
        // A 32-bit instruction in the last halfword of a page: the second half may fault with
        // tval = the address of that half.
        let ram = bus.ram().as_slice();
        let lo = u16::from_le_bytes([ram[off], ram[off + 1]]) as u32;
        let off2 = self.translate_fetch(bus, pc + 2).map_err(|e| match e {
            Exception::InstructionPageFault(_) => Exception::InstructionPageFault(pc + 2),
            Exception::InstructionAccessFault(_) => Exception::InstructionAccessFault(pc + 2),
            e => e,
        })?;
        let ram = bus.ram().as_slice();
        let insn: Insn = decode(lo | (u16::from_le_bytes([ram[off2], ram[off2 + 1]]) as u32) << 16);
        Ok(BlockCache::scratch(arena, insn, (pc & 0xfff) as u16))
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
    /// A trap handler for the random programs.
    const TRAP: u64 = BASE + 0x100;

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
        h.x = (*regs).into();
        h.pc = CODE;
        h.instret = 0;
        h.csr = Default::default();
        h.set_priv(crate::hart::PRV_M);
        h.flush_tlb();
        h.flush_decoded();
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

    /// A reset hart starts like a new one: registers, pc, counters and CSRs as new, and no
    /// block decoded before the reset runs after it (the code under it changed, with no
    /// FENCE.I).
    #[test]
    fn reset_gives_a_new_hart_without_old_blocks() {
        let mut bus = RamBus { ram: GuestRam::new(BASE, 0x10000) };
        let addi = |imm: i32| i_type(0x13, 0, 10, 10, imm); // addi a0, a0, imm
        let program =
            |imm| [addi(imm), addi(imm), 0x0000_006f].iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
        bus.ram.write(CODE, &program(1)).unwrap();
        let mut h = Hart::new();
        h.pc = CODE;
        h.csr.mscratch = 7;
        h.f[3] = 9;
        assert_eq!(h.run(&mut bus, 100), Exit::Budget);
        assert_eq!(h.x[10], 2, "the first program ran (then spun on its jal)");
        bus.ram.write(CODE, &program(5)).unwrap();
        let mut h = h.reset();
        let new = Hart::new();
        assert_eq!((h.x.clone(), h.f, h.pc, h.instret, h.prv), (new.x.clone(), new.f, new.pc, new.instret, new.prv));
        assert_eq!(format!("{:?}", h.csr), format!("{:?}", new.csr));
        h.pc = CODE;
        assert_eq!(h.run(&mut bus, 100), Exit::Budget);
        assert_eq!(h.x[10], 10, "the new code ran, not the blocks decoded before the reset");
    }

    fn i_type(op: u32, f3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
        ((imm as u32) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }

    fn b_type(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
        let o = off as u32;
        ((o >> 12 & 1) << 31)
            | ((o >> 5 & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((o >> 1 & 0xf) << 8)
            | ((o >> 11 & 1) << 7)
            | 0x63
    }

    /// A machine-mode trap handler at `at`: steps mepc past the trapping instruction (2 or 4
    /// bytes), or restarts at `restart` when the fetch itself failed (cause 0 or 1). Uses x30
    /// and x31.
    fn skipping_trap_handler(at: u64, restart: u64) -> Vec<u8> {
        const MCAUSE: i32 = 0x342;
        const MEPC: i32 = 0x341;
        let words = [
            i_type(0x73, 2, 30, 0, MCAUSE),                                      // csrr x30, mcause
            i_type(0x13, 3, 30, 30, 2),                                          // sltiu x30, x30, 2
            b_type(1, 30, 0, 40),                                                // bnez x30, restart (+40)
            i_type(0x73, 2, 31, 0, MEPC),                                        // csrr x31, mepc
            i_type(0x03, 5, 30, 31, 0),                                          // lhu x30, 0(x31)
            i_type(0x13, 7, 30, 30, 3),                                          // andi x30, x30, 3
            i_type(0x13, 0, 31, 31, 2),                                          // addi x31, x31, 2
            i_type(0x13, 4, 30, 30, 3),                                          // xori x30, x30, 3
            b_type(1, 30, 0, 8),                                                 // bnez x30, +8 (compressed: done)
            i_type(0x13, 0, 31, 31, 2),                                          // addi x31, x31, 2
            i_type(0x73, 1, 0, 31, MEPC),                                        // csrw mepc, x31
            0x3020_0073,                                                         // mret
            0x0000_0f97,                                                         // restart: auipc x31, 0
            i_type(0x13, 0, 31, 31, (restart as i64 - (at as i64 + 48)) as i32), // addi x31, x31, restart - here
            i_type(0x73, 1, 0, 31, MEPC),                                        // csrw mepc, x31
            0x3020_0073,                                                         // mret
        ];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Running a random program in one call (blocks chained, budget charged per block) and one
    /// instruction per call give the same state after every number of instructions: block
    /// boundaries, budget cuts, traps in the middle of a block and instructions handed to
    /// [`Hart::execute`] in the middle of a block all keep pc, registers, memory and instret
    /// exact.
    #[test]
    fn chained_blocks_match_single_steps() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let (mut retired, mut total) = (0, 0);
        for round in 0..40 {
            let mut code = Vec::new();
            while code.len() < 0x600 {
                // Now and then a rotate written as two shifts and an OR (fused by the block
                // builder), in any of its forms, sometimes with a register clash that must
                // keep it from being fused.
                if rng.next().is_multiple_of(10) {
                    let word = rng.next().is_multiple_of(2);
                    let width = if word { 32 } else { 64 };
                    let n = 1 + (rng.next() % (width - 1)) as i32;
                    let pick = |rng: &mut Rng| {
                        let r = (rng.next() % 32) as u32;
                        if r == 2 || r == 4 {
                            6
                        } else {
                            r
                        }
                    };
                    let (x, a, b, d) = (pick(&mut rng), pick(&mut rng), pick(&mut rng), pick(&mut rng));
                    let (op, f3_right, f3_left) = if word { (0x1b, 5, 1) } else { (0x13, 5, 1) };
                    let right_first = rng.next().is_multiple_of(2);
                    let (f3a, f3b) = if right_first { (f3_right, f3_left) } else { (f3_left, f3_right) };
                    code.extend_from_slice(&i_type(op, f3a, a, x, n).to_le_bytes());
                    code.extend_from_slice(&i_type(op, f3b, b, x, width as i32 - n).to_le_bytes());
                    let or = (b << 20) | (a << 15) | (6 << 12) | (d << 7) | 0x33;
                    code.extend_from_slice(&or.to_le_bytes());
                    continue;
                }
                // Now and then a run of LD or SD through sp or tp, as in function prologues and
                // epilogues.
                if rng.next().is_multiple_of(12) {
                    let store = rng.next().is_multiple_of(2);
                    let base = if rng.next().is_multiple_of(4) { 4 } else { 2 };
                    for _ in 0..2 + rng.next() % 5 {
                        let off = ((rng.next() % 64) as i32 - 32) * 8;
                        let reg = (rng.next() % 32) as u32;
                        let reg = if reg == 2 || reg == 4 { 5 } else { reg };
                        let w = if store {
                            let o = off as u32;
                            ((o >> 5 & 0x7f) << 25) | (reg << 20) | (base << 15) | (3 << 12) | ((o & 0x1f) << 7) | 0x23
                        } else {
                            i_type(0x03, 3, reg, base, off)
                        };
                        code.extend_from_slice(&w.to_le_bytes());
                    }
                    continue;
                }
                let raw = rng.next() as u32;
                let compressed = rng.next().is_multiple_of(3);
                let word = if compressed { (raw & !3) | (rng.next() % 3) as u32 } else { raw | 3 };
                let mut insn = decode(word);
                if is_privileged(insn.op) || insn.op == Op::Illegal || insn.rd == 2 || insn.rd == 4 {
                    continue;
                }
                // Memory accesses go through sp (x2) or tp (x4), which nothing else writes:
                // sp's hit the data area, so the program gets far between traps, and about
                // half of tp's (at the end of RAM) fault in the middle of a block.
                let mut word = word;
                if matches!(insn.op, Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu)
                    || matches!(insn.op, Op::Sb | Op::Sh | Op::Sw | Op::Sd | Op::Flw | Op::Fld | Op::Fsw | Op::Fsd)
                    || matches!(insn.op, Op::LrW | Op::LrD | Op::ScW | Op::ScD | Op::Amo)
                {
                    if compressed {
                        if insn.rs1 != 2 {
                            continue;
                        }
                    } else {
                        let base = if rng.next().is_multiple_of(3) { 4 } else { 2 };
                        word = (word & !(31 << 15)) | (base << 15);
                        insn = decode(word);
                    }
                }
                // Mostly straight-line code: control transfers only now and then.
                if matches!(insn.op, Op::Jal | Op::Jalr | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu)
                    && !rng.next().is_multiple_of(3)
                {
                    continue;
                }
                code.extend_from_slice(&word.to_le_bytes()[..insn.len as usize]);
            }
            // The program loops: a jump back to its start.
            let back = -(code.len() as i32);
            let o = back as u32;
            let jal = ((o >> 20 & 1) << 31) | ((o >> 1 & 0x3ff) << 21) | ((o >> 11 & 1) << 20) | (o & 0xff000) | 0x6f;
            code.extend_from_slice(&jal.to_le_bytes());
            let mut regs = [0u64; 32];
            for (n, r) in regs.iter_mut().enumerate() {
                // Half the registers point into the data area (sp at its middle).
                *r = if n % 2 == 0 { DATA + rng.next() % 0x400 } else { rng.next() };
                if n == 2 {
                    *r = DATA & !7;
                }
                if n == 4 {
                    *r = BASE + 0x10000;
                }
            }
            let data: Vec<u8> = (0..0x1000).map(|_| rng.next() as u8).collect();
            let new = |code: &[u8]| {
                let mut h = Hart::new();
                let mut bus = RamBus { ram: GuestRam::new(BASE, 0x10000) };
                bus.ram.write(CODE, code).unwrap();
                bus.ram.write(TRAP, &skipping_trap_handler(TRAP, CODE)).unwrap();
                bus.ram.write(DATA - 0x800, &data).unwrap();
                h.x = regs.into();
                h.pc = CODE;
                // Traps step over the trapping instruction, so the program keeps going.
                h.csr.mtvec = TRAP;
                h.csr.mstatus |= crate::csr::mstatus::FS;
                (h, bus)
            };
            let (mut chained, mut chained_bus) = new(&code);
            let (mut single, mut single_bus) = new(&code);
            let mut done = 0u64;
            for step in [1u64, 7, 33, 100, 1000, 5000, 3, 17, 60, 250, 999, 2, 41, 5, 9, 13, 21, 4, 6] {
                let exit = chained.run(&mut chained_bus, step);
                assert_eq!(exit, Exit::Budget, "round {round}");
                for _ in 0..step {
                    assert_eq!(single.run(&mut single_bus, 1), Exit::Budget, "round {round}");
                }
                done += step;
                let what = format!("round {round} after {done} steps");
                assert_eq!(chained.pc, single.pc, "{what}");
                assert_eq!(chained.x, single.x, "{what}");
                assert_eq!(chained.f, single.f, "{what}");
                assert_eq!(chained.instret, single.instret, "{what}");
                assert_eq!((chained.csr.mcause, chained.csr.mepc), (single.csr.mcause, single.csr.mepc), "{what}");
                assert!(chained_bus.ram.as_slice() == single_bus.ram.as_slice(), "{what}: memory differs");
            }
            retired += chained.instret;
            total += done;
        }
        // The programs must mostly run, not just trap.
        assert!(retired * 2 > total, "only {retired} of {total} instructions retired");
    }
}
