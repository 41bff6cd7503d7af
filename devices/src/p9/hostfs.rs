//! The few host filesystem calls that differ between native unix and WASI preview 1.
//!
//! Everything else in the server uses portable std::fs. On WASI, std::fs resolves absolute
//! paths through the preopened directories, and the runtime itself refuses to leave them.

use std::ffi::{OsStr, OsString};
use std::fs::{DirEntry, File, FileType, Metadata, OpenOptions};
use std::io;
use std::path::Path;

use super::consts::*;

/// What Rgetattr reports about a host file, in Linux terms.
pub struct Attr {
    /// st_mode: file type bits and permission bits.
    pub mode: u32,
    /// The host inode number, where the host exposes it.
    pub ino: Option<u64>,
    pub nlink: u64,
    pub rdev: u64,
    pub size: u64,
    /// 512-byte blocks.
    pub blocks: u64,
    pub atime: (u64, u64),
    pub mtime: (u64, u64),
    pub ctime: (u64, u64),
}

/// A 9P name (bytes from the wire) as a host file name; `None` if the host cannot spell it.
pub fn name_from_wire(bytes: &[u8]) -> Option<OsString> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(OsStr::from_bytes(bytes).to_os_string())
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes).ok().map(OsString::from)
    }
}

/// A host file name or symlink target as 9P bytes.
pub fn name_to_wire(name: &OsStr) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        name.as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        // WASI names are UTF-8 by definition, so this is lossless there.
        name.to_string_lossy().into_owned().into_bytes()
    }
}

#[cfg(any(not(unix), test))]
fn since_epoch(t: io::Result<std::time::SystemTime>) -> (u64, u64) {
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or((0, 0), |d| (d.as_secs(), u64::from(d.subsec_nanos())))
}

/// The Linux file type bits for a std file type (without following symlinks).
pub fn type_bits(ft: FileType) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return S_IFIFO;
        } else if ft.is_socket() {
            return S_IFSOCK;
        } else if ft.is_block_device() {
            return S_IFBLK;
        } else if ft.is_char_device() {
            return S_IFCHR;
        }
    }
    if ft.is_dir() {
        S_IFDIR
    } else if ft.is_symlink() {
        S_IFLNK
    } else {
        S_IFREG
    }
}

pub fn attr(meta: &Metadata) -> Attr {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let secs = |s: i64| u64::try_from(s).unwrap_or(0);
        let nsecs = |n: i64| u64::try_from(n).unwrap_or(0);
        Attr {
            mode: meta.mode(),
            ino: Some(meta.ino()),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
            size: meta.size(),
            blocks: meta.blocks(),
            atime: (secs(meta.atime()), nsecs(meta.atime_nsec())),
            mtime: (secs(meta.mtime()), nsecs(meta.mtime_nsec())),
            ctime: (secs(meta.ctime()), nsecs(meta.ctime_nsec())),
        }
    }
    #[cfg(not(unix))]
    {
        modeless_attr(meta)
    }
}

/// Permission bits reported for every file on a host without modes.
///
/// WASI preview 1 has no permission bits at all: its filestat carries the file type, size,
/// link count and times, and nothing says who may read, write or run a file. (std's
/// `Permissions::readonly()` is no signal either: wasi-libc's stat() fills st_mode with the
/// file type alone, so std calls every file read-only; measured with rustc 1.95 under wasmtime
/// 49, for host files of mode 0755, 0644 and 0444 alike.) So the server cannot keep the
/// host's modes and picks one for everything: rwx for owner, group and others. The host still
/// decides: a write or an open the runtime's user may not make fails there, with the host's
/// errno. The alternatives are worse for a shared directory: without x bits nothing in it can
/// be run (Docker users expect `-v ./dir:/dir` then `/dir/script.sh` to work), and without w
/// bits for group and others a container running as a non-root user could write nothing in
/// it (the guest sees every file as root's, see Tgetattr).
#[cfg(any(not(unix), test))]
pub const MODELESS_PERM: u32 = 0o777;

/// Attributes from what every host has (type, size, times), with [`MODELESS_PERM`]; what a
/// WASI host reports. Compiled natively for tests, to check the policy on real metadata.
#[cfg(any(not(unix), test))]
pub fn modeless_attr(meta: &Metadata) -> Attr {
    let ty = type_bits(meta.file_type());
    let mtime = since_epoch(meta.modified());
    Attr {
        mode: ty | MODELESS_PERM,
        ino: None,
        nlink: if ty == S_IFDIR { 2 } else { 1 },
        rdev: 0,
        size: meta.len(),
        blocks: meta.len().div_ceil(512),
        atime: since_epoch(meta.accessed()),
        mtime,
        ctime: mtime,
    }
}

/// The host inode of a directory entry, where the host exposes it without another stat.
pub fn dirent_ino(entry: &DirEntry) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirEntryExt;
        Some(entry.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = entry;
        None
    }
}

// O_NOFOLLOW differs between Linux architectures and other unixes.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "aarch64", target_arch = "arm", target_arch = "powerpc", target_arch = "powerpc64")
))]
const HOST_O_NOFOLLOW: i32 = 0o100000;
#[cfg(all(
    target_os = "linux",
    not(any(target_arch = "aarch64", target_arch = "arm", target_arch = "powerpc", target_arch = "powerpc64"))
))]
const HOST_O_NOFOLLOW: i32 = 0o400000;
#[cfg(all(unix, not(target_os = "linux")))]
const HOST_O_NOFOLLOW: i32 = 0x100;

/// Opens `path` without following a symlink in its last component, where the host allows
/// (callers check with symlink_metadata first everywhere). `create_mode` sets the mode of a
/// newly created file on hosts with modes.
pub fn open(path: &Path, opts: &mut OpenOptions, create_mode: Option<u32>) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(HOST_O_NOFOLLOW);
        if let Some(mode) = create_mode {
            opts.mode(mode & 0o7777);
        }
    }
    #[cfg(not(unix))]
    let _ = create_mode;
    opts.open(path)
}

/// Creates a directory with `mode` on hosts with modes.
pub fn create_dir(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(mode & 0o7777).create(path)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::create_dir(path)
    }
}

/// Sets permission bits of a file that is not a symlink; a no-op on hosts without modes.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Creates a symlink at `link` holding `target` verbatim (never resolved by the server).
pub fn symlink(target: &OsStr, link: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link)
    }
    #[cfg(target_os = "wasi")]
    {
        // std's wasi symlink_path is unstable; wasi-libc's POSIX symlink() resolves the link
        // path through the preopens just as std does.
        use std::ffi::{c_char, c_int, CString};
        extern "C" {
            fn symlink(target: *const c_char, linkpath: *const c_char) -> c_int;
        }
        let bad = |_| io::Error::from(io::ErrorKind::InvalidInput);
        let target = CString::new(target.to_string_lossy().into_owned()).map_err(bad)?;
        let link = CString::new(link.to_string_lossy().into_owned()).map_err(bad)?;
        // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
        if unsafe { symlink(target.as_ptr(), link.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(any(unix, target_os = "wasi")))]
    {
        let _ = (target, link);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Reads at `offset` without moving a shared cursor where the host allows.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read(buf)
    }
}

/// Writes at `offset` without moving a shared cursor where the host allows.
pub fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.write(buf)
    }
}
