//! On-disk structures of EROFS as Linux 6.1 reads them (fs/erofs/erofs_fs.h): the superblock,
//! the 32-byte compact and 64-byte extended inodes and directory entries. All little-endian.

use super::crc32c::crc32c;

pub const BLOCK_BITS: u8 = 12;
pub const BLOCK_SIZE: u64 = 1 << BLOCK_BITS;
pub const BLOCK_USIZE: usize = 1 << BLOCK_BITS;
/// The superblock sits 1024 bytes into block 0 (room for boot sectors).
pub const SUPER_OFFSET: usize = 1024;
pub const SUPER_SIZE: usize = 128;
/// Inodes are addressed by nid = byte offset in the metadata area / 32.
pub const INODE_SLOT: u64 = 32;
pub const COMPACT_INODE_SIZE: usize = 32;
pub const EXTENDED_INODE_SIZE: usize = 64;
pub const DIRENT_SIZE: usize = 12;
pub const MAX_NAME_LEN: usize = 255;

const MAGIC: u32 = 0xE0F5_E1E2;
const FEATURE_COMPAT_SB_CHKSUM: u32 = 0x1;
/// Set by mkfs.erofs when inodes carry their own mtime; informational for the kernel.
const FEATURE_COMPAT_MTIME: u32 = 0x2;

/// `i_format` data layouts this writer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLayout {
    /// All data in whole blocks starting at `raw_blkaddr`.
    FlatPlain = 0,
    /// Whole blocks at `raw_blkaddr`, the last partial block right after the inode's xattrs.
    FlatInline = 2,
}

/// Linux file type bits of `i_mode` and the matching directory entry `file_type` (FT_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Directory,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Symlink,
}

impl FileType {
    pub fn mode_bits(self) -> u16 {
        match self {
            FileType::Fifo => 0o010000,
            FileType::CharDevice => 0o020000,
            FileType::Directory => 0o040000,
            FileType::BlockDevice => 0o060000,
            FileType::Regular => 0o100000,
            FileType::Symlink => 0o120000,
            FileType::Socket => 0o140000,
        }
    }

    pub fn dirent_type(self) -> u8 {
        match self {
            FileType::Regular => 1,
            FileType::Directory => 2,
            FileType::CharDevice => 3,
            FileType::BlockDevice => 4,
            FileType::Fifo => 5,
            FileType::Socket => 6,
            FileType::Symlink => 7,
        }
    }
}

/// The kernel's `new_encode_dev`: minor low byte, 12-bit major, then the minor's upper 12 bits.
/// `None` when the numbers exceed Linux's 12-bit major / 20-bit minor.
pub fn encode_dev(major: u32, minor: u32) -> Option<u32> {
    if major > 0xfff || minor > 0xf_ffff {
        return None;
    }
    Some((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

pub struct SuperBlock {
    pub root_nid: u16,
    pub inos: u64,
    /// Compact inodes have no timestamp of their own; they all get this one.
    pub build_time: i64,
    pub build_time_nsec: u32,
    pub blocks: u32,
}

impl SuperBlock {
    /// Writes the superblock into block 0 (`block0.len() == BLOCK_SIZE`) and seals it with the
    /// checksum, which covers everything from the superblock to the end of block 0 — including
    /// any inodes stored there, so call this last.
    pub fn write_sealed(&self, block0: &mut [u8]) {
        let sb = &mut block0[SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE];
        sb.fill(0);
        put_u32(sb, 0, MAGIC);
        // checksum at 4 is filled in below
        put_u32(sb, 8, FEATURE_COMPAT_SB_CHKSUM | FEATURE_COMPAT_MTIME);
        sb[12] = BLOCK_BITS;
        sb[13] = 0; // no extension slots
        put_u16(sb, 14, self.root_nid);
        put_u64(sb, 16, self.inos);
        put_u64(sb, 24, self.build_time as u64);
        put_u32(sb, 32, self.build_time_nsec);
        put_u32(sb, 36, self.blocks);
        // meta_blkaddr (40) = 0: nids count from the start of the image. xattr_blkaddr (44) = 0:
        // no shared xattrs. uuid (48..64) and volume name (64..80) stay zero: the output must be
        // deterministic. feature_incompat (80) = 0: plain layouts need none. Compression,
        // devices, dirblkbits (must be 0) and packed_nid: all zero.
        let crc = crc32c(!0, &block0[SUPER_OFFSET..]);
        put_u32(&mut block0[SUPER_OFFSET..], 4, crc);
    }
}

pub struct Inode {
    pub extended: bool,
    pub layout: DataLayout,
    pub xattr_icount: u16,
    pub mode: u16,
    pub nlink: u32,
    pub size: u64,
    /// `raw_blkaddr` for files, directories and symlinks; the encoded rdev for devices.
    pub i_u: u32,
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: u32,
}

impl Inode {
    pub fn disk_size(extended: bool) -> usize {
        if extended {
            EXTENDED_INODE_SIZE
        } else {
            COMPACT_INODE_SIZE
        }
    }

    /// Encodes into `out`, which is exactly [`Inode::disk_size`] bytes. The caller has checked
    /// that a compact inode's fields fit 16/32 bits and that its mtime is the build time.
    pub fn write(&self, out: &mut [u8]) {
        let format = ((self.layout as u16) << 1) | u16::from(self.extended);
        put_u16(out, 0, format);
        put_u16(out, 2, self.xattr_icount);
        put_u16(out, 4, self.mode);
        if self.extended {
            put_u16(out, 6, 0);
            put_u64(out, 8, self.size);
            put_u32(out, 16, self.i_u);
            put_u32(out, 20, self.ino);
            put_u32(out, 24, self.uid);
            put_u32(out, 28, self.gid);
            put_u64(out, 32, self.mtime as u64);
            put_u32(out, 40, self.mtime_nsec);
            put_u32(out, 44, self.nlink);
            out[48..64].fill(0);
        } else {
            put_u16(out, 6, self.nlink as u16);
            put_u32(out, 8, self.size as u32);
            put_u32(out, 12, 0);
            put_u32(out, 16, self.i_u);
            put_u32(out, 20, self.ino);
            put_u16(out, 24, self.uid as u16);
            put_u16(out, 26, self.gid as u16);
            put_u32(out, 28, 0);
        }
    }
}

pub fn write_dirent(out: &mut [u8], nid: u64, nameoff: u16, file_type: u8) {
    put_u64(out, 0, nid);
    put_u16(out, 8, nameoff);
    out[10] = file_type;
    out[11] = 0;
}

pub fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_use_the_kernel_encoding() {
        assert_eq!(encode_dev(1, 3), Some(0x103));
        assert_eq!(encode_dev(8, 0x12345), Some(0x1230_0845));
        assert_eq!(encode_dev(0x1000, 0), None);
        assert_eq!(encode_dev(0, 0x10_0000), None);
    }

    #[test]
    fn inode_format_encodes_version_and_layout() {
        let mut out = [0u8; EXTENDED_INODE_SIZE];
        let inode = Inode {
            extended: true,
            layout: DataLayout::FlatInline,
            xattr_icount: 0,
            mode: 0o100644,
            nlink: 70000,
            size: 1 << 33,
            i_u: 7,
            ino: 1,
            uid: 1 << 20,
            gid: 5,
            mtime: -1,
            mtime_nsec: 9,
        };
        inode.write(&mut out);
        assert_eq!(u16::from_le_bytes([out[0], out[1]]), 0b101);
        assert_eq!(u64::from_le_bytes(out[8..16].try_into().unwrap()), 1 << 33);
        assert_eq!(u64::from_le_bytes(out[32..40].try_into().unwrap()), u64::MAX);
        assert_eq!(u32::from_le_bytes(out[44..48].try_into().unwrap()), 70000);
    }
}
