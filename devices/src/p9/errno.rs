//! Linux errno values for Rlerror, and the mapping from host `io::Error`s to them.

use std::io;

use super::consts::errno::*;

/// A Linux errno number, as sent in Rlerror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub u32);

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Self {
        Errno(host_errno(&e))
    }
}

/// Maps a host error to a Linux errno.
///
/// On Linux the raw OS error already is a Linux errno. Elsewhere (WASI numbers errors its own
/// way, other unixes differ in the high numbers) the portable `ErrorKind` is translated, with a
/// few WASI codes that std leaves as `Other` looked up directly.
fn host_errno(e: &io::Error) -> u32 {
    #[cfg(target_os = "linux")]
    if let Some(raw) = e.raw_os_error().and_then(|r| u32::try_from(r).ok()) {
        return raw;
    }
    #[cfg(target_os = "wasi")]
    if let Some(n) = e.raw_os_error().and_then(wasi_errno) {
        return n;
    }
    kind_errno(e.kind())
}

fn kind_errno(kind: io::ErrorKind) -> u32 {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => ENOENT,
        K::PermissionDenied => EACCES,
        K::AlreadyExists => EEXIST,
        K::WouldBlock => EAGAIN,
        K::InvalidInput | K::InvalidData => EINVAL,
        K::TimedOut => ETIMEDOUT,
        K::Interrupted => EINTR,
        K::Unsupported => EOPNOTSUPP,
        K::OutOfMemory => ENOMEM,
        K::NotADirectory => ENOTDIR,
        K::IsADirectory => EISDIR,
        K::DirectoryNotEmpty => ENOTEMPTY,
        K::ReadOnlyFilesystem => EROFS,
        K::StorageFull => ENOSPC,
        K::FileTooLarge => EFBIG,
        K::CrossesDevices => EXDEV,
        K::TooManyLinks => EMLINK,
        K::InvalidFilename => ENAMETOOLONG,
        K::NotSeekable => ESPIPE,
        K::ResourceBusy => EBUSY,
        _ => EIO,
    }
}

/// WASI preview-1 errno codes whose std `ErrorKind` is too coarse to map back.
#[cfg(any(target_os = "wasi", test))]
fn wasi_errno(raw: i32) -> Option<u32> {
    Some(match raw {
        2 => EACCES,
        20 => EEXIST,
        28 => EINVAL,
        29 => EIO,
        31 => EISDIR,
        32 => ELOOP,
        37 => ENAMETOOLONG,
        44 => ENOENT,
        51 => ENOSPC,
        54 => ENOTDIR,
        55 => ENOTEMPTY,
        58 => EOPNOTSUPP,
        63 => EPERM,
        69 => EROFS,
        75 => EXDEV,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_linux_numbers() {
        assert_eq!(Errno::from(io::Error::from(io::ErrorKind::NotFound)), Errno(ENOENT));
        assert_eq!(Errno::from(io::Error::from(io::ErrorKind::DirectoryNotEmpty)), Errno(ENOTEMPTY));
        assert_eq!(Errno::from(io::Error::other("x")), Errno(EIO));
    }

    #[test]
    fn wasi_codes_map_to_linux_numbers() {
        assert_eq!(wasi_errno(44), Some(ENOENT));
        assert_eq!(wasi_errno(32), Some(ELOOP));
        assert_eq!(wasi_errno(1000), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_raw_errors_pass_through() {
        assert_eq!(Errno::from(io::Error::from_raw_os_error(ELOOP as i32)), Errno(ELOOP));
    }
}
