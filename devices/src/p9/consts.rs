//! 9P2000.L message numbers, Linux errno values and flag bits used on the wire.
//!
//! 9P2000.L carries Linux numbering for errno, open flags and file modes whatever the host is,
//! so these are fixed constants rather than the host's libc values.

// Message types (T = request, R = T + 1).
pub const RLERROR: u8 = 7;
pub const TSTATFS: u8 = 8;
pub const TLOPEN: u8 = 12;
pub const TLCREATE: u8 = 14;
pub const TSYMLINK: u8 = 16;
pub const TMKNOD: u8 = 18;
pub const TRENAME: u8 = 20;
pub const TREADLINK: u8 = 22;
pub const TGETATTR: u8 = 24;
pub const TSETATTR: u8 = 26;
pub const TXATTRWALK: u8 = 30;
pub const TXATTRCREATE: u8 = 32;
pub const TREADDIR: u8 = 40;
pub const TFSYNC: u8 = 50;
pub const TLOCK: u8 = 52;
pub const TGETLOCK: u8 = 54;
pub const TLINK: u8 = 70;
pub const TMKDIR: u8 = 72;
pub const TRENAMEAT: u8 = 74;
pub const TUNLINKAT: u8 = 76;
pub const TVERSION: u8 = 100;
pub const TAUTH: u8 = 102;
pub const TATTACH: u8 = 104;
pub const TFLUSH: u8 = 108;
pub const TWALK: u8 = 110;
pub const TREAD: u8 = 116;
pub const TWRITE: u8 = 118;
pub const TCLUNK: u8 = 120;
pub const TREMOVE: u8 = 122;

/// Tag used when the request's own tag cannot be read.
pub const NOTAG: u16 = 0xffff;
/// Size of the common header: size[4] type[1] tag[2].
pub const HEADER_LEN: usize = 7;
/// Header plus the count[4] field that precedes Rread and Rreaddir payloads.
pub const IO_HEADER_LEN: usize = HEADER_LEN + 4;
/// The most names one Twalk may carry (the protocol's MAXWELEM).
pub const MAX_WALK_NAMES: usize = 16;

/// Linux errno numbers (asm-generic), as 9P2000.L's Rlerror carries them.
pub mod errno {
    pub const EPERM: u32 = 1;
    pub const ENXIO: u32 = 6;
    pub const ENOENT: u32 = 2;
    pub const EINTR: u32 = 4;
    pub const EIO: u32 = 5;
    pub const EBADF: u32 = 9;
    pub const EAGAIN: u32 = 11;
    pub const ENOMEM: u32 = 12;
    pub const EACCES: u32 = 13;
    pub const EBUSY: u32 = 16;
    pub const EEXIST: u32 = 17;
    pub const EXDEV: u32 = 18;
    pub const ENOTDIR: u32 = 20;
    pub const EISDIR: u32 = 21;
    pub const EINVAL: u32 = 22;
    pub const EFBIG: u32 = 27;
    pub const ENOSPC: u32 = 28;
    pub const ESPIPE: u32 = 29;
    pub const EROFS: u32 = 30;
    pub const EMLINK: u32 = 31;
    pub const ENAMETOOLONG: u32 = 36;
    pub const ENOTEMPTY: u32 = 39;
    pub const ELOOP: u32 = 40;
    pub const ENODATA: u32 = 61;
    pub const EPROTO: u32 = 71;
    pub const EMSGSIZE: u32 = 90;
    pub const EOPNOTSUPP: u32 = 95;
    pub const ETIMEDOUT: u32 = 110;
}

/// Qid types.
pub const QTDIR: u8 = 0x80;
pub const QTSYMLINK: u8 = 0x02;
pub const QTFILE: u8 = 0x00;

/// File type bits of a Linux st_mode.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

/// Linux dirent d_type values for Rreaddir.
pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_BLK: u8 = 6;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;
pub const DT_SOCK: u8 = 12;

/// Tlopen / Tlcreate flags (Linux O_* numbering).
pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_EXCL: u32 = 0o200;
pub const O_TRUNC: u32 = 0o1000;

/// Tunlinkat flag asking for rmdir.
pub const AT_REMOVEDIR: u32 = 0x200;

/// Tgetattr: the "basic" set of fields this server fills in (mode .. blocks).
pub const GETATTR_BASIC: u64 = 0x0000_07ff;

/// Tsetattr valid bits.
pub const SETATTR_MODE: u32 = 0x1;
pub const SETATTR_SIZE: u32 = 0x8;
pub const SETATTR_ATIME: u32 = 0x10;
pub const SETATTR_MTIME: u32 = 0x20;
pub const SETATTR_ATIME_SET: u32 = 0x80;
pub const SETATTR_MTIME_SET: u32 = 0x100;

/// Rgetlock lock type meaning "nobody holds a conflicting lock".
pub const LOCK_TYPE_UNLCK: u8 = 2;
/// Rlock status meaning "granted".
pub const LOCK_SUCCESS: u8 = 0;

/// statfs f_type of a v9fs mount.
pub const V9FS_MAGIC: u32 = 0x0102_1997;
