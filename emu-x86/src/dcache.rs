//! The decoded-instruction cache: basic blocks keyed by their guest RAM offset (a physical
//! address), so every virtual mapping of a page shares one decode.
//!
//! Instructions are decoded with their instruction pointer relative to their page
//! (`ip = offset in page`); the executor adds the virtual page base at run time, so
//! RIP-relative operands and branch targets come out right for any mapping of the page.
//! Each instruction is stored twice, at the same index of two arenas: as a micro-op for the
//! run loop (see `exec/uop.rs`) and as the iced `Instruction` for the generic executor.
//! Blocks live in the arenas in decode order and are all dropped at once when they fill.
//!
//! Invalidation: each RAM page has a generation number, and a block is valid only while its
//! page's generation is the one it was decoded under. Pages holding decoded code are marked in
//! a bitmap; the CPU's store path (the TLB miss path, since code pages never get write TLB
//! entries) bumps the generation and clears the mark. Device DMA must call
//! [`crate::Cpu::invalidate_ram`].

use crate::exec::uop::{self, Op, Uop};
use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, Mnemonic};

/// Sets of two slots (2^15 sets): room for every block the arena can hold, so blocks are not
/// dropped from the index while their instructions are still decoded.
const SET_BITS: u32 = 15;
/// Longest block: bounds decode work wasted on blocks left early.
pub(crate) const MAX_BLOCK: usize = 64;
/// Arena capacity in instructions. When it fills, every block is dropped and decoding starts
/// over at its beginning (blocks are never freed one by one). Node.js starting up decoded 17 M
/// instructions with 2^16 (the arena refilled over and over): 2^18 and 2^15 sets cut its
/// run by a fifth. About 20 MiB, zero in the snapshot.
const ARENA: usize = 1 << 18;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// RAM offset of the first instruction + 1; 0 = empty.
    tag: u64,
    gen: u32,
    start: u32,
    len: u32,
}

/// A cached successor of a block: the block at page offset `po` of the same RAM page (`len` 0:
/// none). Valid for as long as the block it hangs off is: both were decoded from the same page
/// under the same generation (a block only runs while its generation is current, and a store
/// to its page ends the run), and the arena holds both until it is reset.
#[derive(Clone, Copy, Default)]
pub(crate) struct Link {
    pub po: u16,
    pub len: u16,
    pub start: u32,
}

/// A block in the arena: `len` instructions from `start`, then (unless the last one is an
/// unconditional branch) an [`Op::End`] sentinel. Conditional branches with micro-ops do not
/// end blocks; taken, they leave from the middle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRef {
    pub start: u32,
    pub len: u32,
}

pub(crate) struct DecodeCache {
    /// Two-way sets: way 0 is the most recently decoded block of the set.
    slots: Box<[[Slot; 2]]>,
    /// The micro-ops of every block, and (at the same index) the iced instruction each came
    /// from, for the generic executor.
    /// Empty while the run loop holds it (see [`DecodeCache::take_uops`]).
    uops: Box<[Uop]>,
    insns: Box<[Instruction; ARENA]>,
    /// Successors of the branch (or sentinel) at the same arena index: where it went the last
    /// times (a conditional branch has two).
    links: Box<[[Link; 2]; ARENA]>,
    /// Next free arena index.
    used: usize,
    page_gen: Box<[u32]>,
    code_bits: Box<[u64]>,
    /// Translate nothing to micro-ops: every instruction goes through `Cpu::exec` (the
    /// reference the micro-ops are tested against).
    pub reference: bool,
}

/// The micro-op arena while the run loop has it.
pub(crate) struct Uops(Box<[Uop; ARENA]>);

impl Uops {
    /// The micro-op at arena index `k` (indices come from [`BlockRef`]s, so always in range;
    /// the mask lets the compiler drop the bounds check).
    #[inline(always)]
    pub fn get(&self, k: u32) -> &Uop {
        &self.0[k as usize & (ARENA - 1)]
    }
}

/// What decoding the start of a block found.
pub(crate) enum Decoded {
    Block(BlockRef),
    /// The first instruction crosses the end of the page: execute it on its own.
    Straddles,
}

impl DecodeCache {
    pub fn new(ram_size: u64) -> Self {
        let pages = ram_size.div_ceil(4096) as usize;
        let uops: Box<[Uop]> = vec![Uop::default(); ARENA].into_boxed_slice();
        let insns: Box<[Instruction]> = vec![Instruction::default(); ARENA].into_boxed_slice();
        Self {
            slots: vec![[Slot::default(); 2]; 1 << SET_BITS].into_boxed_slice(),
            uops,
            insns: insns.try_into().unwrap_or_else(|_| unreachable!()),
            links: vec![[Link::default(); 2]; ARENA].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!()),
            used: 0,
            page_gen: vec![0; pages].into_boxed_slice(),
            code_bits: vec![0; pages.div_ceil(64)].into_boxed_slice(),
            reference: false,
        }
    }

    #[inline(always)]
    fn set(off: usize) -> usize {
        (off.wrapping_mul(0x9e37_79b9) >> 7) & ((1 << SET_BITS) - 1)
    }

    /// The cached block starting at RAM offset `off`, if still valid.
    #[inline(always)]
    pub fn lookup(&self, off: usize) -> Option<BlockRef> {
        let set = &self.slots[Self::set(off)];
        let gen = *self.page_gen.get(off >> 12)?;
        let tag = off as u64 + 1;
        for s in set {
            if s.tag == tag && s.gen == gen {
                return Some(BlockRef { start: s.start, len: s.len });
            }
        }
        None
    }

    /// Lends the micro-op arena to the run loop, which reads it while it changes the CPU (and
    /// never decodes); [`DecodeCache::put_uops`] gives it back.
    #[inline(always)]
    pub fn take_uops(&mut self) -> Uops {
        Uops(std::mem::take(&mut self.uops).try_into().unwrap_or_else(|_| unreachable!("arena lent twice")))
    }

    #[inline(always)]
    pub fn put_uops(&mut self, u: Uops) {
        self.uops = u.0;
    }

    /// The block at page offset `po` linked as a successor of the branch at arena index
    /// `last`, if any.
    #[inline(always)]
    pub fn linked(&self, last: u32, po: u64) -> Option<BlockRef> {
        let l = &self.links[last as usize & (ARENA - 1)];
        for x in l {
            if x.po as u64 == po && x.len != 0 {
                return Some(BlockRef { start: x.start, len: x.len as u32 });
            }
        }
        None
    }

    /// Links block `b`, at page offset `po`, as a successor of the branch at `last` (see
    /// [`Link`] for when that is right).
    #[inline(always)]
    pub fn link(&mut self, last: u32, po: u64, b: BlockRef) {
        let l = &mut self.links[last as usize & (ARENA - 1)];
        let new = Link { po: po as u16, len: b.len as u16, start: b.start };
        if l[0].len == 0 {
            l[0] = new;
        } else {
            l[1] = new;
        }
    }

    #[inline(always)]
    pub fn insn(&self, k: u32) -> &Instruction {
        &self.insns[k as usize & (ARENA - 1)]
    }

    /// Decodes a block starting at RAM offset `off` from `ram`. Returns the block and whether
    /// the page was not yet marked as holding code (the caller then drops write TLB entries).
    pub fn decode(&mut self, ram: &[u8], off: usize, rdrand: bool) -> (Decoded, bool) {
        let page = off >> 12;
        let page_end = ((page + 1) << 12).min(ram.len());
        if self.used + MAX_BLOCK + 1 > ARENA {
            // Full: forget every block and reuse the arena from the start.
            self.flush();
        }
        let start = self.used;
        let mut dec = Decoder::with_ip(64, &ram[off..page_end], (off & 0xfff) as u64, DecoderOptions::NONE);
        let mut ins = Instruction::default();
        let mut n = 0;
        while n < MAX_BLOCK && dec.can_decode() {
            dec.decode_out(&mut ins);
            if dec.last_error() == DecoderError::NoMoreBytes {
                break;
            }
            if !crate::cpuid::advertised(ins.code(), rdrand) {
                ins.set_code(iced_x86::Code::INVALID);
            }
            let mut u = uop::translate(&ins);
            if self.reference {
                u = Uop { po: u.po, len: u.len, ..Uop::default() };
            }
            // A conditional branch with a micro-op does not end its block: taken, it leaves the
            // block in the middle (a side exit); not taken, the block goes on.
            let ends = ends_block(&ins) && !matches!(u.op, Op::Jcc | Op::Jz);
            if u.op == Op::Slow {
                // The run loop returns after such an instruction (see `exec/fast.rs`).
                u.aux = ends as u8;
            }
            self.uops[start + n] = u;
            self.insns[start + n] = ins;
            n += 1;
            if ends {
                break;
            }
        }
        let set = Self::set(off);
        let tag = off as u64 + 1;
        if n == 0 {
            // The set no longer holds the block its tag names: a later lookup of that block
            // must miss, not run an empty block.
            for s in self.slots[set].iter_mut() {
                if s.tag == tag {
                    s.tag = 0;
                }
            }
            return (Decoded::Straddles, false);
        }
        uop::liveness(&mut self.uops[start..start + n]);
        // A block that does not end in a branch ends in a sentinel that says where it goes on.
        let last = &self.uops[start + n - 1];
        let mut terminator = start + n - 1;
        if !last.ends_block() {
            let next = last.next_po() as u16;
            terminator += 1;
            self.uops[terminator] = Uop { op: Op::End, po: next, ..Uop::default() };
        }
        // Any branch of the block may have links; the arena slots may hold old ones.
        self.links[start..=terminator].fill(Default::default());
        self.used = terminator + 1;
        let newly = self.mark_code(page);
        let slot = Slot { tag, gen: self.page_gen[page], start: start as u32, len: n as u32 };
        let ways = &mut self.slots[set];
        // A stale copy of this block (older page generation) in way 0 is replaced; one in way 1
        // is pushed out by way 0's block.
        if ways[0].tag != tag {
            ways[1] = ways[0];
        }
        ways[0] = slot;
        (Decoded::Block(BlockRef { start: start as u32, len: n as u32 }), newly)
    }

    /// Drops every block and zeroes the arenas, so a snapshot of linear memory taken now does
    /// not carry decoded instructions (they are rebuilt on demand).
    pub fn clear(&mut self) {
        self.flush();
        self.uops.fill(Uop::default());
        self.insns.fill(Instruction::default());
        self.links.fill([Link::default(); 2]);
    }

    /// Back to the state [`DecodeCache::new`] gives: no blocks, no page known to hold code.
    /// The arenas keep their old contents, which nothing reaches any more.
    pub fn reset(&mut self) {
        self.flush();
        self.page_gen.fill(0);
        self.code_bits.fill(0);
        self.reference = false;
    }

    /// Drops every block.
    pub fn flush(&mut self) {
        self.slots.fill([Slot::default(); 2]);
        self.used = 0;
    }

    fn mark_code(&mut self, page: usize) -> bool {
        let (w, bit) = (page / 64, 1u64 << (page % 64));
        let newly = self.code_bits[w] & bit == 0;
        self.code_bits[w] |= bit;
        newly
    }

    /// Forgets the code of RAM page containing `off`. Returns whether it held any.
    #[inline]
    pub fn invalidate_page(&mut self, off: usize) -> bool {
        let page = off >> 12;
        let (w, bit) = (page / 64, 1u64 << (page % 64));
        match self.code_bits.get(w) {
            Some(b) if b & bit != 0 => {
                self.code_bits[w] &= !bit;
                self.page_gen[page] = self.page_gen[page].wrapping_add(1);
                true
            }
            _ => false,
        }
    }

    pub fn invalidate_range(&mut self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        let (first, last) = (off >> 12, off.saturating_add(len - 1) >> 12);
        for page in first..=last.min(self.page_gen.len() as u64) {
            self.invalidate_page((page << 12) as usize);
        }
    }
}

/// Whether execution may leave the straight line after `ins`, or the instruction changes
/// state that decoding or the run loop depends on (mode, paging, interrupt flag).
fn ends_block(ins: &Instruction) -> bool {
    if ins.is_invalid() || ins.flow_control() != FlowControl::Next {
        return true;
    }
    match ins.mnemonic() {
        Mnemonic::Mov => is_mov_cr_or_seg(ins),
        Mnemonic::Pop => is_seg(ins.op0_register()),
        Mnemonic::Sti
        | Mnemonic::Cli
        | Mnemonic::Popf
        | Mnemonic::Popfq
        | Mnemonic::Wrmsr
        | Mnemonic::Invlpg
        | Mnemonic::Lgdt
        | Mnemonic::Lidt
        | Mnemonic::Ltr
        | Mnemonic::Lldt
        | Mnemonic::Swapgs
        | Mnemonic::Hlt
        | Mnemonic::In
        | Mnemonic::Out
        | Mnemonic::Insb
        | Mnemonic::Insw
        | Mnemonic::Insd
        | Mnemonic::Outsb
        | Mnemonic::Outsw
        | Mnemonic::Outsd
        | Mnemonic::Fxrstor
        | Mnemonic::Fxrstor64
        | Mnemonic::Ldmxcsr
        | Mnemonic::Clts
        | Mnemonic::Wbinvd
        | Mnemonic::Invd => true,
        _ => false,
    }
}

fn is_seg(r: iced_x86::Register) -> bool {
    (iced_x86::Register::ES as u32..=iced_x86::Register::GS as u32).contains(&(r as u32))
}

fn is_mov_cr_or_seg(ins: &Instruction) -> bool {
    let (a, b) = (ins.op0_register(), ins.op1_register());
    let cr = |r: iced_x86::Register| {
        (iced_x86::Register::CR0 as u32..=iced_x86::Register::DR15 as u32).contains(&(r as u32))
    };
    cr(a) || cr(b) || is_seg(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a block whose first instruction straddles the page end decodes to nothing. It
    /// used to leave the slot's old tag in place with the instructions gone, so the block that
    /// tag named looked up as an empty block, and the CPU ran it forever without progress (the
    /// native x86_64 VM hung during boot).
    #[test]
    fn empty_decode_evicts_the_slot() {
        // NOPs; enough pages that some offset shares the straddler's set.
        let mut ram = vec![0x90u8; 256 * 4096];
        ram[4095] = 0x48; // a lone REX prefix at the end of page 0: straddles
        let straddle = 4095;
        let other = (4096..ram.len() - 64).find(|&o| DecodeCache::set(o) == DecodeCache::set(straddle)).unwrap();
        ram[other] = 0xc3; // RET: a one-instruction block
        let mut dc = DecodeCache::new(ram.len() as u64);
        assert!(matches!(dc.decode(&ram, other, false).0, Decoded::Block(_)));
        assert!(dc.lookup(other).is_some());
        assert!(matches!(dc.decode(&ram, straddle, false).0, Decoded::Straddles));
        if let Some(b) = dc.lookup(other) {
            assert!(b.len > 0, "lookup hit an emptied block");
        }
        assert!(dc.lookup(straddle).is_none());
    }

    /// Two blocks of one set both stay cached; a third evicts the older; a block decoded again
    /// after its page changed replaces its stale copy instead of taking the other way.
    #[test]
    fn two_way_sets() {
        // RETs (one-instruction blocks); enough pages for three offsets in one set.
        let ram = vec![0xc3u8; 256 * 4096];
        let mut dc = DecodeCache::new(ram.len() as u64);
        let same: Vec<usize> = (0..ram.len()).filter(|&o| DecodeCache::set(o) == DecodeCache::set(0)).take(3).collect();
        dc.decode(&ram, same[0], false);
        dc.decode(&ram, same[1], false);
        assert!(dc.lookup(same[0]).is_some() && dc.lookup(same[1]).is_some());
        dc.decode(&ram, same[2], false);
        assert!(dc.lookup(same[0]).is_none() && dc.lookup(same[1]).is_some() && dc.lookup(same[2]).is_some());
        assert!(dc.invalidate_page(same[1]));
        assert!(dc.lookup(same[1]).is_none());
        dc.decode(&ram, same[1], false);
        assert!(dc.lookup(same[1]).is_some() && dc.lookup(same[2]).is_some());
    }

    /// A full arena starts over: old blocks are forgotten, new ones work.
    #[test]
    fn arena_wraps() {
        let ram = vec![0x90u8; 64 * 4096]; // NOPs: blocks of MAX_BLOCK
        let mut dc = DecodeCache::new(ram.len() as u64);
        let first = 0;
        dc.decode(&ram, first, false);
        let mut off = 0;
        while dc.used + MAX_BLOCK < ARENA {
            off += 1;
            dc.decode(&ram, off, false);
        }
        let last = off + 1;
        let Decoded::Block(b) = dc.decode(&ram, last, false).0 else { panic!() };
        assert_eq!(b.start, 0);
        assert!(dc.lookup(first).is_none());
        assert_eq!(dc.lookup(last), Some(b));
    }
}
