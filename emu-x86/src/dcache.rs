//! The decoded-instruction cache: basic blocks keyed by their guest RAM offset (a physical
//! address), so every virtual mapping of a page shares one decode.
//!
//! Instructions are decoded with their instruction pointer relative to their page
//! (`ip = offset in page`); the executor adds the virtual page base at run time, so
//! RIP-relative operands and branch targets come out right for any mapping of the page.
//!
//! Invalidation: each RAM page has a generation number, and a block is valid only while its
//! page's generation is the one it was decoded under. Pages holding decoded code are marked in
//! a bitmap; the CPU's store path (the TLB miss path, since code pages never get write TLB
//! entries) bumps the generation and clears the mark. Device DMA must call
//! [`crate::Cpu::invalidate_ram`].

use iced_x86::{Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, Mnemonic};

const BLOCK_BITS: u32 = 13;
/// Longest block: bounds decode work wasted on blocks left early.
pub(crate) const MAX_BLOCK: usize = 64;

#[derive(Default)]
pub(crate) struct Block {
    /// RAM offset of the first instruction + 1; 0 = empty.
    tag: u64,
    gen: u32,
    pub insns: Vec<Instruction>,
}

pub(crate) struct DecodeCache {
    blocks: Box<[Block]>,
    page_gen: Box<[u32]>,
    code_bits: Box<[u64]>,
}

/// What decoding the start of a block found.
pub(crate) enum Decoded {
    /// Block at this cache slot.
    Block(usize),
    /// The first instruction crosses the end of the page: execute it on its own.
    Straddles,
}

impl DecodeCache {
    pub fn new(ram_size: u64) -> Self {
        let pages = ram_size.div_ceil(4096) as usize;
        let mut blocks = Vec::with_capacity(1 << BLOCK_BITS);
        blocks.resize_with(1 << BLOCK_BITS, Block::default);
        Self {
            blocks: blocks.into_boxed_slice(),
            page_gen: vec![0; pages].into_boxed_slice(),
            code_bits: vec![0; pages.div_ceil(64)].into_boxed_slice(),
        }
    }

    #[inline]
    fn slot(off: usize) -> usize {
        (off.wrapping_mul(0x9e37_79b9) >> 7) & ((1 << BLOCK_BITS) - 1)
    }

    /// The cached block starting at RAM offset `off`, if still valid.
    #[inline]
    pub fn lookup(&self, off: usize) -> Option<usize> {
        let i = Self::slot(off);
        let b = &self.blocks[i];
        let gen = *self.page_gen.get(off >> 12)?;
        (b.tag == off as u64 + 1 && b.gen == gen).then_some(i)
    }

    /// Decodes a block starting at RAM offset `off` from `ram`. Returns the slot and whether
    /// the page was not yet marked as holding code (the caller then drops write TLB entries).
    pub fn decode(&mut self, ram: &[u8], off: usize, rdrand: bool) -> (Decoded, bool) {
        let page = off >> 12;
        let page_end = ((page + 1) << 12).min(ram.len());
        let i = Self::slot(off);
        let mut insns = std::mem::take(&mut self.blocks[i].insns);
        insns.clear();
        let mut dec = Decoder::with_ip(64, &ram[off..page_end], (off & 0xfff) as u64, DecoderOptions::NONE);
        let mut ins = Instruction::default();
        while insns.len() < MAX_BLOCK && dec.can_decode() {
            dec.decode_out(&mut ins);
            if dec.last_error() == DecoderError::NoMoreBytes {
                break;
            }
            if !crate::cpuid::advertised(ins.code(), rdrand) {
                ins.set_code(iced_x86::Code::INVALID);
            }
            insns.push(ins);
            if ends_block(&ins) {
                break;
            }
        }
        if insns.is_empty() {
            // The slot no longer holds the block its tag names: a later lookup of that block
            // must miss, not run an empty block forever.
            self.blocks[i].tag = 0;
            self.blocks[i].insns = insns;
            return (Decoded::Straddles, false);
        }
        let newly = self.mark_code(page);
        let b = &mut self.blocks[i];
        b.tag = off as u64 + 1;
        b.gen = self.page_gen[page];
        b.insns = insns;
        (Decoded::Block(i), newly)
    }

    #[inline]
    pub fn take(&mut self, slot: usize) -> Vec<Instruction> {
        std::mem::take(&mut self.blocks[slot].insns)
    }

    #[inline]
    pub fn put_back(&mut self, slot: usize, insns: Vec<Instruction>) {
        self.blocks[slot].insns = insns;
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
        let mut ram = vec![0x90u8; 3 * 4096]; // NOPs
        ram[4095] = 0x48; // a lone REX prefix at the end of page 0: straddles
        let straddle = 4095;
        let other = (4096..ram.len() - 64).find(|&o| DecodeCache::slot(o) == DecodeCache::slot(straddle)).unwrap();
        ram[other] = 0xc3; // RET: a one-instruction block
        let mut dc = DecodeCache::new(ram.len() as u64);
        assert!(matches!(dc.decode(&ram, other, false).0, Decoded::Block(_)));
        assert!(dc.lookup(other).is_some());
        assert!(matches!(dc.decode(&ram, straddle, false).0, Decoded::Straddles));
        match dc.lookup(other) {
            None => {}
            Some(slot) => assert!(!dc.take(slot).is_empty(), "lookup hit an emptied block"),
        }
    }
}
