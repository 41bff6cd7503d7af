//! Writes a [`Tree`] as an uncompressed EROFS image, the container's root filesystem that the
//! guest's Linux 6.1 mounts read-only from virtio-blk.
//!
//! 4 KiB blocks, no compression, no shared xattrs: block 0 holds the superblock and the first
//! inodes, more inode blocks follow, then every inode's data blocks. Small files and the last
//! partial block of larger ones are stored inline after their inode where that saves space.
//! The same tree always gives the same bytes (no uuid, no clock).

mod crc32c;
mod dir;
mod format;
mod layout;
#[cfg(test)]
mod tests;
mod xattr;

use crate::tree::Tree;
use format::{Inode, SuperBlock, BLOCK_SIZE, BLOCK_USIZE, INODE_SLOT};
use layout::{Content, Plan, Planned};
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ErofsError {
    #[error("the tree's root is not a directory")]
    RootNotADirectory,
    #[error("file name {0:?} cannot be stored (empty, `.`/`..`, over 255 bytes, or with `/` or NUL)")]
    InvalidName(String),
    #[error("directory entry {name:?} names node {node}, which does not exist")]
    DanglingEntry { name: String, node: usize },
    #[error("device number {major}:{minor} does not fit Linux's 12-bit major / 20-bit minor")]
    DeviceNumber { major: u32, minor: u32 },
    #[error("extended attributes of one inode take {0} bytes, more than EROFS can store inline")]
    XattrsTooLarge(usize),
    #[error("image would exceed 2^32 blocks of 4 KiB")]
    TooLarge,
    #[error("writing the image: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes the image into memory.
pub fn write_image(tree: &Tree) -> Result<Vec<u8>, ErofsError> {
    let mut out = Vec::new();
    write_image_to(tree, &mut out)?;
    Ok(out)
}

/// Streams the image into `out`; returns its size in bytes (a whole number of 4 KiB blocks).
pub fn write_image_to(tree: &Tree, out: &mut impl Write) -> Result<u64, ErofsError> {
    let plan = layout::plan(tree)?;
    let meta = inode_area(&plan);
    out.write_all(&meta)?;
    let mut scratch = Vec::new();
    for p in &plan.inodes {
        write_data_blocks(&plan, p, &mut scratch, out)?;
    }
    Ok(u64::from(plan.total_blocks) * BLOCK_SIZE)
}

/// Block 0 (superblock) and the inode blocks: every inode with its xattrs and inline tail.
fn inode_area(plan: &Plan) -> Vec<u8> {
    let mut meta = vec![0u8; (plan.meta_blocks * BLOCK_SIZE) as usize];
    let mut tail = Vec::new();
    for (ino, p) in plan.inodes.iter().enumerate() {
        let at = (p.nid * INODE_SLOT) as usize;
        let isize = Inode::disk_size(p.extended);
        let meta_mode = (p.node.meta.mode & 0o7777) as u16;
        Inode {
            extended: p.extended,
            layout: p.layout,
            xattr_icount: p.xattr_icount,
            mode: p.file_type.mode_bits() | meta_mode,
            nlink: p.nlink,
            size: p.size,
            i_u: if matches!(p.content, Content::None) { p.rdev } else { p.blkaddr },
            ino: ino as u32,
            uid: p.node.meta.uid,
            gid: p.node.meta.gid,
            mtime: p.node.meta.mtime,
            mtime_nsec: p.node.meta.mtime_nsec,
        }
        .write(&mut meta[at..at + isize]);
        let xat = at + isize;
        meta[xat..xat + p.xattrs.len()].copy_from_slice(&p.xattrs);
        let inline = p.inline_len();
        if inline > 0 {
            tail.clear();
            tail_bytes(plan, p, &mut tail);
            let tat = xat + p.xattrs.len();
            meta[tat..tat + inline].copy_from_slice(&tail);
        }
    }
    let (build_time, build_time_nsec) = plan.build_time;
    SuperBlock {
        root_nid: plan.inodes[0].nid as u16, // the root is placed first: nid 36
        inos: plan.inodes.len() as u64,
        build_time,
        build_time_nsec,
        blocks: plan.total_blocks,
    }
    .write_sealed(&mut meta[..BLOCK_USIZE]);
    meta
}

/// The bytes of the last, partial block of an inline-tail inode.
fn tail_bytes(plan: &Plan, p: &Planned, out: &mut Vec<u8>) {
    match &p.content {
        Content::Bytes(b) => out.extend_from_slice(&b[(p.data_blocks() * BLOCK_SIZE) as usize..]),
        Content::Dir(d) => d.encode_block(d.blocks.len() - 1, |t| target_info(plan, t), out),
        Content::None => {}
    }
}

fn target_info(plan: &Plan, target: usize) -> (u64, u8) {
    let t = &plan.inodes[target];
    (t.nid, t.file_type.dirent_type())
}

/// Writes the inode's blocks in the data area, the last one zero-padded.
fn write_data_blocks(plan: &Plan, p: &Planned, scratch: &mut Vec<u8>, out: &mut impl Write) -> std::io::Result<()> {
    let blocks = p.data_blocks();
    if blocks == 0 {
        return Ok(());
    }
    let len = blocks * BLOCK_SIZE;
    match &p.content {
        Content::Bytes(b) => {
            let stored = &b[..b.len().min(len as usize)];
            out.write_all(stored)?;
            write_zeros(out, len - stored.len() as u64)?;
        }
        Content::Dir(d) => {
            for block in 0..blocks as usize {
                scratch.clear();
                d.encode_block(block, |t| target_info(plan, t), scratch);
                scratch.resize(BLOCK_USIZE, 0);
                out.write_all(scratch)?;
            }
        }
        Content::None => {}
    }
    Ok(())
}

fn write_zeros(out: &mut impl Write, mut n: u64) -> std::io::Result<()> {
    const ZEROS: [u8; BLOCK_USIZE] = [0; BLOCK_USIZE];
    while n > 0 {
        let k = n.min(BLOCK_SIZE) as usize;
        out.write_all(&ZEROS[..k])?;
        n -= k as u64;
    }
    Ok(())
}
