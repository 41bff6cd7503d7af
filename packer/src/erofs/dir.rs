//! Directory contents: entries sorted by name bytes (the kernel binary-searches first across
//! blocks by each block's first name, then within a block), packed into 4 KiB blocks. A block
//! is an array of 12-byte dirents followed by their names; a name ends where the next one starts,
//! and the block's last name ends at the first NUL or the end of the directory.

use super::format::{write_dirent, BLOCK_USIZE, DIRENT_SIZE};
use std::ops::Range;

pub struct DirEntry<'t> {
    pub name: &'t [u8],
    /// Index of the target inode in the plan.
    pub target: usize,
}

pub struct DirPlan<'t> {
    /// Sorted by name, `.` and `..` included.
    pub entries: Vec<DirEntry<'t>>,
    /// Entry ranges of each directory block, in order.
    pub blocks: Vec<Range<usize>>,
    /// `i_size`: whole blocks before the last one plus the bytes used in the last one.
    pub size: u64,
}

impl<'t> DirPlan<'t> {
    /// Splits sorted entries into blocks, filling each block as far as it goes.
    pub fn new(entries: Vec<DirEntry<'t>>) -> Self {
        let mut blocks = Vec::new();
        let mut start = 0;
        let mut used = 0;
        for (i, e) in entries.iter().enumerate() {
            let need = DIRENT_SIZE + e.name.len();
            if used + need > BLOCK_USIZE {
                blocks.push(start..i);
                start = i;
                used = 0;
            }
            used += need;
        }
        if start < entries.len() {
            blocks.push(start..entries.len());
        }
        let size = (blocks.len().saturating_sub(1) * BLOCK_USIZE + used) as u64;
        Self { entries, blocks, size }
    }

    /// Appends the bytes of block `block` (unpadded) to `out`. `target_info` gives a target's
    /// nid and dirent file type.
    pub fn encode_block(&self, block: usize, target_info: impl Fn(usize) -> (u64, u8), out: &mut Vec<u8>) {
        let entries = &self.entries[self.blocks[block].clone()];
        let base = out.len();
        out.resize(base + entries.len() * DIRENT_SIZE, 0);
        // Entries of a block fit in 4096 bytes, so every offset fits u16.
        for (i, e) in entries.iter().enumerate() {
            let nameoff = (out.len() - base) as u16;
            let (nid, file_type) = target_info(e.target);
            let at = base + i * DIRENT_SIZE;
            write_dirent(&mut out[at..at + DIRENT_SIZE], nid, nameoff, file_type);
            out.extend_from_slice(e.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_fill_up_and_size_counts_the_last_block_exactly() {
        // 300 entries of 12 + 20 bytes: 128 per block.
        let names: Vec<Vec<u8>> = (0..300).map(|i| format!("{i:020}").into_bytes()).collect();
        let entries = names.iter().enumerate().map(|(i, n)| DirEntry { name: n, target: i }).collect();
        let plan = DirPlan::new(entries);
        assert_eq!(plan.blocks, vec![0..128, 128..256, 256..300]);
        assert_eq!(plan.size, 2 * 4096 + 44 * 32);
    }

    #[test]
    fn block_layout_is_dirents_then_names() {
        let plan = DirPlan::new(vec![
            DirEntry { name: b".", target: 0 },
            DirEntry { name: b"..", target: 0 },
            DirEntry { name: b"abc", target: 1 },
        ]);
        let mut out = Vec::new();
        plan.encode_block(0, |t| (36 + t as u64, if t == 0 { 2 } else { 1 }), &mut out);
        assert_eq!(out.len() as u64, plan.size);
        assert_eq!(u16::from_le_bytes([out[8], out[9]]), 36);
        assert_eq!(u16::from_le_bytes([out[20], out[21]]), 37);
        assert_eq!(u16::from_le_bytes([out[32], out[33]]), 39);
        assert_eq!(&out[36..], b"...abc");
        assert_eq!(out[24], 37); // nid of "abc"
        assert_eq!(out[34], 1);
    }
}
