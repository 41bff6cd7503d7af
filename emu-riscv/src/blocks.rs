//! The decoded-block cache: straight-line runs of decoded instructions, keyed by the RAM
//! offset (a physical address) of their first instruction, so every virtual mapping of a page
//! shares one decode.
//!
//! A block is a trace rather than a basic block: it goes on past conditional branches (their
//! taken side leaves the block) and follows JAL to a target in the same page, so instructions
//! in a block need not be contiguous (each records its own page offset). It ends after JALR, a
//! JAL out of the page, an instruction that may change translation, privilege or interrupt
//! state (FENCE through the CSR instructions in [`Op`]'s order), an illegal instruction, at the
//! end of its page, or after [`MAX_BLOCK`] instructions. Longer blocks mean fewer block-to-block
//! transitions: basic blocks averaged under 5 instructions in a busybox shell loop.
//!
//! Invalidation follows the ISA: an instruction fetch need only see stores (the hart's own and
//! devices') after a FENCE.I, so FENCE.I (and the SBI's remote FENCE.I) drops every block, and
//! nothing else does. Linux issues it wherever it changes or maps code: text patching,
//! `flush_icache_pte` when an executable page is mapped whose contents are new (freshly read
//! from disk by DMA, copied on write), and the `riscv_flush_icache` system call for JITs.
//! Dropping is O(1): blocks carry the epoch they were decoded in and the arena is reused.
//!
//! The builder also fuses idioms into single dispatches (rotates written as shifts, LD and SD
//! pairs), points writes to x0 at the register file's sink ([`crate::regs`]), and clears the
//! link of every exit ([`link_target`]).
//!
//! Blocks live in one arena, allocated in order and all freed at once when it fills (or on a
//! flush), which keeps a block's instructions contiguous and the cache free of per-block heap
//! allocations. The arena is a separate value ([`new_arena`]) that the interpreter holds apart
//! from the hart while it runs, so the hot loop can walk a block as a plain slice while it
//! mutates the hart.

use crate::decode::{decode, Insn, Op};
use crate::regs::SINK;

/// Longest block: bounds the decode work wasted on blocks left early.
pub(crate) const MAX_BLOCK: usize = 32;
/// Sets of two slots (2^15 sets). Two ways: a direct-mapped cache thrashed measurably (hot
/// blocks sharing a slot were decoded again on every loop iteration).
const SET_BITS: u32 = 15;
/// Arena capacity in instructions (4 MiB of [`Insn`]s): Node.js starting up ran 3% faster than
/// with half.
pub(crate) const ARENA: usize = 1 << 18;
/// Epochs stay below this so `off ^ epoch << 40` never sets bit 63 for a RAM offset (see
/// [`BlockCache::lookup`]).
const MAX_EPOCH: u64 = 1 << 22;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// RAM offset of the block's first instruction XOR epoch << 40; 0 (epoch 0) never matches.
    key: u64,
    start: u32,
    len: u32,
}

/// A block found in or added to the cache: `len` instructions from `start` in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockRef {
    pub start: u32,
    pub len: u32,
}

/// The index of the block cache; the instructions are in the arena ([`new_arena`]).
pub(crate) struct BlockCache {
    /// A fixed size, so set indexes need no bounds check.
    slots: Box<[Slot; 2 << SET_BITS]>,
    /// Next free arena index.
    used: usize,
    /// The flush count, kept shifted into place (<< 40) for the keys.
    epoch: u64,
}

/// Instruction storage for [`BlockCache`]: each block's instructions, then an [`Op::End`]
/// entry. Indexes 0 and 1 are scratch for a lone instruction that straddles a page boundary
/// (decoded through the slow fetch path and never cached). A fixed size, so indexes masked to
/// it need no bounds check.
pub(crate) type Arena = [Insn; ARENA];

/// What fills arena entries no block has used: all zero bytes, so a snapshot of linear memory
/// stores none of them.
const UNUSED: Insn = Insn { op: Op::Illegal, rd: 0, rs1: 0, rs2: 0, rs3: 0, len: 0, imm: 0, raw: 0, po: 0 };

pub(crate) fn new_arena() -> Box<Arena> {
    match vec![UNUSED; ARENA].into_boxed_slice().try_into() {
        Ok(arena) => arena,
        Err(_) => unreachable!("the vector has exactly ARENA entries"),
    }
}

/// Arena entries reserved for [`BlockCache::scratch`].
const SCRATCH: usize = 2;

/// The entry after a block's instructions: the fall-through pc is the page base plus `po`.
fn end_marker(po: u16) -> Insn {
    Insn { op: Op::End, len: 0, po, ..Insn::ILLEGAL }
}

/// The instruction at arena index `k`.
#[inline(always)]
pub(crate) fn op(arena: &Arena, k: u32) -> Insn {
    arena[k as usize & (ARENA - 1)]
}

/// Whether the block ends after `op` (JAL is decided by its target).
#[inline]
pub(crate) fn ends_block(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Illegal
            | Jalr
            | Fence
            | FenceI
            | Ecall
            | Ebreak
            | Sret
            | Mret
            | Wfi
            | SfenceVma
            | Csrrw
            | Csrrs
            | Csrrc
            | Csrrwi
            | Csrrsi
            | Csrrci
    )
}

/// Marks rotates written as two shifts and an OR (`srliw a, x, n; slliw b, x, 32-n; or d, a, b`
/// and the 64-bit and left-first forms): code built without the Zbb extension rotates this way,
/// and SHA-256 is mostly rotates (a third of a `sha256sum` run's instructions). The first
/// instruction becomes a fused op ([`Op::RotR`]...) that does all three when the block's budget
/// allows, otherwise just itself; the other two stay in place.
fn fuse_rotates(ops: &mut [Insn]) {
    for at in 0..ops.len().saturating_sub(2) {
        let (first, second, or) = (ops[at], ops[at + 1], ops[at + 2]);
        let (fused, width) = match (first.op, second.op) {
            (Op::Srliw, Op::Slliw) => (Op::RotRw, 32),
            (Op::Slliw, Op::Srliw) => (Op::RotLw, 32),
            (Op::Srli, Op::Slli) => (Op::RotR, 64),
            (Op::Slli, Op::Srli) => (Op::RotL, 64),
            _ => continue,
        };
        let (n, m) = (first.imm & (width - 1), second.imm & (width - 1));
        let (x, a, b) = (first.rs1, first.rd, second.rd);
        // Both shifts read the same x (the first must not overwrite it), write distinct
        // registers other than x0, and the OR combines exactly those two.
        let shape = second.rs1 == x && a != x && a != 0 && b != 0 && a != b && n != 0 && n + m == width;
        let combines = or.op == Op::Or && ((or.rs1 == a && or.rs2 == b) || (or.rs1 == b && or.rs2 == a));
        if shape && combines {
            ops[at] = Insn { op: fused, rs2: b, rs3: or.rd, ..first };
        }
    }
}

/// What every arena entry needs before the interpreter runs it: an exit starts unlinked
/// ([`link_target`]), and writes to x0 go to the register file's sink ([`crate::regs`]), so
/// the interpreter writes destinations without testing for x0. The sink only for the RV64IM
/// operations, LD pairs and the fused rotates (whose OR may write x0): for the others `rd`
/// names an FP register or `rd == 0` means something (a CSR access that does not read).
fn finish_entry(insn: &mut Insn) {
    if is_control_transfer(insn.op) {
        insn.raw = 0;
    }
    let rotate = matches!(insn.op, Op::RotR | Op::RotL | Op::RotRw | Op::RotLw);
    if !rotate && insn.op != Op::LdLd && !(Op::Lui as u8..=Op::Remuw as u8).contains(&(insn.op as u8)) {
        return;
    }
    if insn.rd == 0 {
        insn.rd = SINK;
    }
    if rotate && insn.rs3 == 0 {
        insn.rs3 = SINK;
    }
}

fn is_control_transfer(op: Op) -> bool {
    matches!(op, Op::Jal | Op::Jalr | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu)
}

/// Block links. An exit from a block (a control transfer, or the End entry) whose target is
/// in the block's own page remembers the block it last led to, so the interpreter goes on
/// without a cache lookup. The target's RAM offset follows from the page and the offset, so a
/// link stays right for as long as both blocks are in the arena: until it is reused, which
/// drops every block at once. The link is kept in the exit's `raw` (control transfers never
/// trap with their instruction bits, and the block builder zeroes them) together with the
/// target's page offset, which a JALR may change: `(po | 0x1000) << 18 | arena index`.
const LINK_INDEX_BITS: u32 = 18;
const _: () = assert!(ARENA == 1 << LINK_INDEX_BITS);

/// The arena index of the block that the exit `insn` last led to, if that was the block at
/// page offset `po` (below 4096).
#[inline(always)]
pub(crate) fn link_target(insn: &Insn, po: u64) -> Option<u32> {
    (insn.raw >> LINK_INDEX_BITS == po as u32 | 0x1000).then_some(insn.raw & (ARENA as u32 - 1))
}

/// Links the exit `insn` to the block at arena index `start`, at page offset `po` (below
/// 4096).
#[inline(always)]
pub(crate) fn set_link(insn: &mut Insn, po: u64, start: u32) {
    debug_assert!(insn.op == Op::End || is_control_transfer(insn.op));
    debug_assert!(po < 4096 && (start as usize) < ARENA);
    insn.raw = (po as u32 | 0x1000) << LINK_INDEX_BITS | start;
}

/// The number of instructions in the block from arena index `k` to its End entry.
pub(crate) fn rest_of_block(arena: &Arena, k: u32) -> u32 {
    let mut n = 0;
    while op(arena, k + n).op != Op::End {
        n += 1;
    }
    n
}

/// Marks each LD followed by an LD, and each SD followed by an SD ([`Op::LdLd`], [`Op::SdSd`]).
/// In a run of three the first two pair up and the third stays single; blocks are entered only
/// at their start or after an instruction that ran alone, so marks on the second of a pair are
/// never read.
fn fuse_pairs(ops: &mut [Insn]) {
    for at in 0..ops.len().saturating_sub(1) {
        match (ops[at].op, ops[at + 1].op) {
            (Op::Ld, Op::Ld) => ops[at].op = Op::LdLd,
            (Op::Sd, Op::Sd) => ops[at].op = Op::SdSd,
            _ => {}
        }
    }
}

impl Default for BlockCache {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockCache {
    pub fn new() -> Self {
        let slots = match vec![Slot::default(); 2 << SET_BITS].into_boxed_slice().try_into() {
            Ok(slots) => slots,
            Err(_) => unreachable!("the vector has exactly 2 << SET_BITS slots"),
        };
        Self { slots, used: SCRATCH, epoch: 1 << 40 }
    }

    /// The first of the two slots of `off`'s set.
    #[inline(always)]
    fn set_index(off: usize) -> usize {
        // Multiplicative hash: blocks a power of two apart must not all share a set.
        (((off as u32 >> 1).wrapping_mul(0x9e37_79b9) >> (32 - SET_BITS)) as usize) << 1
    }

    #[inline(always)]
    fn key(&self, off: usize) -> u64 {
        off as u64 ^ self.epoch
    }

    /// The cached block starting at RAM offset `off`, if any. `off` may be garbage (an empty
    /// fetch window gives offsets near `usize::MAX`): such keys have bit 63 set and real ones
    /// never do (RAM is far below 2^40 bytes, epochs below 2^22), so they miss.
    #[inline(always)]
    pub fn lookup(&self, off: usize) -> Option<BlockRef> {
        let set = Self::set_index(off);
        let key = self.key(off);
        let s = self.slots[set];
        if s.key == key {
            return Some(BlockRef { start: s.start, len: s.len });
        }
        let s = self.slots[set | 1];
        (s.key == key).then_some(BlockRef { start: s.start, len: s.len })
    }

    /// Decodes and caches the block at RAM offset `off` (which must be 2-byte aligned and inside
    /// `ram`) into `arena`. None if its first instruction straddles the end of the page.
    pub fn build(&mut self, arena: &mut Arena, ram: &[u8], off: usize) -> Option<BlockRef> {
        debug_assert!((off as u64) < 1 << 40);
        // Room for the block and its End entry.
        if self.used + MAX_BLOCK + 1 > ARENA {
            self.flush();
        }
        let page_end = ((off | 0xfff) + 1).min(ram.len());
        let start = self.used;
        let mut at = off;
        while at + 2 <= page_end && self.used - start < MAX_BLOCK {
            let lo = u16::from_le_bytes([ram[at], ram[at + 1]]) as u32;
            let word = if lo & 3 != 3 {
                lo
            } else if at + 4 <= page_end {
                lo | (u16::from_le_bytes([ram[at + 2], ram[at + 3]]) as u32) << 16
            } else {
                break; // straddles: the next block starts with it
            };
            let insn = Insn { po: (at & 0xfff) as u16, ..decode(word) };
            arena[self.used] = insn;
            self.used += 1;
            at += insn.len as usize;
            if insn.op == Op::Jal {
                // Followed when it stays in the page; the interpreter then goes on with the
                // next instruction of the block, which is the target.
                let target = (at - insn.len as usize).wrapping_add(insn.imm as isize as usize);
                if target >> 12 != off >> 12 || target >= page_end {
                    break;
                }
                at = target;
            } else if ends_block(insn.op) {
                break;
            }
        }
        let len = (self.used - start) as u32;
        if len == 0 {
            return None;
        }
        fuse_rotates(&mut arena[start..self.used]);
        fuse_pairs(&mut arena[start..self.used]);
        arena[start..self.used].iter_mut().for_each(finish_entry);
        // The fall-through pc, as an offset from the page (4096 at its end).
        arena[self.used] = end_marker((at - (off & !0xfff)) as u16);
        self.used += 1;
        let b = BlockRef { start: start as u32, len };
        // The newest block goes first; the one it displaces becomes the second way.
        let set = Self::set_index(off);
        self.slots[set | 1] = self.slots[set];
        self.slots[set] = Slot { key: self.key(off), start: b.start, len };
        Some(b)
    }

    /// Puts a lone instruction (at page offset `po`) in the scratch entry and returns it as a
    /// one-instruction block.
    pub fn scratch(arena: &mut Arena, insn: Insn, po: u16) -> BlockRef {
        arena[0] = Insn { po, ..insn };
        finish_entry(&mut arena[0]);
        arena[1] = end_marker(po + insn.len as u16);
        BlockRef { start: 0, len: 1 }
    }

    /// Drops every block (FENCE.I).
    pub fn flush(&mut self) {
        self.epoch += 1 << 40;
        if self.epoch == MAX_EPOCH << 40 {
            self.slots.fill(Slot::default());
            self.epoch = 1 << 40;
        }
        self.used = SCRATCH;
    }

    /// Drops every block and zeroes the storage, so a snapshot of linear memory taken now does
    /// not carry decoded instructions (they are rebuilt on demand).
    pub fn clear(&mut self, arena: &mut Arena) {
        self.slots.fill(Slot::default());
        arena.fill(UNUSED);
        self.used = SCRATCH;
        self.epoch = 1 << 40;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[u32]) -> Vec<u8> {
        let mut ram = vec![0u8; 2 * 4096];
        for (k, w) in ws.iter().enumerate() {
            ram[k * 4..k * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        ram
    }

    const ADDI: u32 = 0x0015_0513; // addi a0, a0, 1
    const JALR: u32 = 0x0000_8067; // jalr x0, 0(ra)
    const BEQ: u32 = 0x0000_0463; // beq x0, x0, +8

    /// jal x0, `off`.
    fn jal(off: i32) -> u32 {
        let o = off as u32;
        ((o >> 20 & 1) << 31) | ((o >> 1 & 0x3ff) << 21) | ((o >> 11 & 1) << 20) | (o & 0xff000) | 0x6f
    }

    #[test]
    fn a_block_goes_past_branches_and_ends_at_jalr() {
        let ram = words(&[ADDI, BEQ, ADDI, JALR, ADDI]);
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        let b = c.build(&mut a, &ram, 0).unwrap();
        assert_eq!(b.len, 4);
        assert_eq!(a[b.start as usize + 3].op, Op::Jalr);
        assert_eq!(c.lookup(0), Some(b));
        assert_eq!(c.lookup(4), None);
    }

    #[test]
    fn a_block_follows_jal_in_its_page_only() {
        // 0: addi; 4: jal +12 (to 16); 8, 12: skipped; 16: addi; 20: jal to the next page.
        let ram = words(&[ADDI, jal(12), ADDI, ADDI, ADDI, jal(4096)]);
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        let b = c.build(&mut a, &ram, 0).unwrap();
        let offsets: Vec<u16> = (b.start..b.start + b.len).map(|k| a[k as usize].po).collect();
        assert_eq!(offsets, [0, 4, 16, 20]);
        // A jump to itself is followed until the block is full.
        let ram = words(&[jal(0)]);
        assert_eq!(c.build(&mut a, &ram, 0).unwrap().len as usize, MAX_BLOCK);
    }

    #[test]
    fn a_block_stops_at_the_page_end_and_a_straddler_is_not_cached() {
        let mut ram = vec![0u8; 2 * 4096];
        // c.addi a0, 1 (0x0505) fills the page; its last halfword starts a 32-bit instruction.
        for at in (0..4094).step_by(2) {
            ram[at..at + 2].copy_from_slice(&0x0505u16.to_le_bytes());
        }
        ram[4094..4096].copy_from_slice(&(ADDI as u16).to_le_bytes());
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        let b = c.build(&mut a, &ram, 4096 - 2 * 10).unwrap();
        assert_eq!(b.len, 9, "nine compressed instructions, then the straddler is left out");
        assert_eq!(c.build(&mut a, &ram, 4094), None);
        assert_eq!(c.lookup(4094), None);
    }

    #[test]
    fn flush_drops_every_block_and_garbage_offsets_miss() {
        let ram = words(&[ADDI, JALR]);
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        c.build(&mut a, &ram, 0).unwrap();
        c.flush();
        assert_eq!(c.lookup(0), None);
        assert_eq!(c.lookup(usize::MAX - 8192), None);
        // Many flushes wrap the epoch without resurrecting old blocks.
        let b = c.build(&mut a, &ram, 0).unwrap();
        for _ in 0..MAX_EPOCH + 3 {
            c.flush();
        }
        assert_eq!(c.lookup(0), None);
        assert_eq!(c.build(&mut a, &ram, 0).unwrap().len, b.len);
    }

    #[test]
    fn exits_start_unlinked_and_links_name_their_target_offset() {
        // bne x0, x0, +0x500: its instruction bits, kept, would read as a link for page offset
        // 0x400 (raw >> 18 == 0x1400).
        let bne = 0x5000_1063;
        assert_eq!(bne >> LINK_INDEX_BITS, 0x1400);
        assert_eq!(decode(bne).op, Op::Bne);
        let ram = words(&[ADDI, bne, ADDI, JALR]);
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        let b = c.build(&mut a, &ram, 0).unwrap();
        let end = (b.start + b.len) as usize;
        for k in [b.start as usize + 1, b.start as usize + 3, end] {
            assert!((0..4096).all(|po| link_target(&a[k], po).is_none()), "entry {k} starts linked");
        }
        set_link(&mut a[end], 0x10, 77);
        assert_eq!(link_target(&a[end], 0x10), Some(77));
        // A JALR that now goes elsewhere in the page misses.
        set_link(&mut a[b.start as usize + 3], 0x10, 77);
        assert_eq!(link_target(&a[b.start as usize + 3], 0x14), None);
        assert_eq!(rest_of_block(&a, b.start + 1), b.len - 1);
    }

    #[test]
    fn a_full_arena_starts_over() {
        let ram = words(&[ADDI; 1024]);
        let (mut c, mut a) = (BlockCache::new(), new_arena());
        let mut built = 0;
        while built < 2 * ARENA / MAX_BLOCK {
            let off = (built % 64) * 4;
            let b = c.build(&mut a, &ram, off).unwrap();
            assert!(b.start as usize + b.len as usize <= ARENA);
            built += 1;
        }
    }
}
