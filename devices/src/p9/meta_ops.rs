//! Attributes: Tgetattr, Tsetattr, Tstatfs.

use std::fs::{FileTimes, OpenOptions};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::consts::errno::*;
use super::consts::*;
use super::fids::Open;
use super::wire::{Reader, Writer};
use super::{hostfs, Errno, Server};

/// Preferred I/O size reported for every file.
const BLKSIZE: u64 = 4096;

impl Server {
    /// Tgetattr fid[4] request_mask[8] -> Rgetattr with the basic fields (uid/gid always 0).
    pub(super) fn getattr(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let _mask = r.u64()?;
        let f = self.fid(fid)?;
        // An open file may have been unlinked since: its handle still answers.
        let (path, meta) = match &f.open {
            Open::File(file) => (self.resolve(f.share, &f.path).unwrap_or_default(), file.metadata()?),
            _ => self.stat(f.share, &f.path)?,
        };
        let a = hostfs::attr(&meta);
        let qid = self.qid_from(&path, a.mode, a.ino);
        w.u64(GETATTR_BASIC);
        w.qid(qid);
        w.u32(a.mode);
        w.u32(0); // uid
        w.u32(0); // gid
        w.u64(a.nlink);
        w.u64(a.rdev);
        w.u64(a.size);
        w.u64(BLKSIZE);
        w.u64(a.blocks);
        for (sec, nsec) in [a.atime, a.mtime, a.ctime, (0, 0)] {
            w.u64(sec);
            w.u64(nsec);
        }
        w.u64(0); // gen
        w.u64(0); // data_version
        Ok(())
    }

    /// Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime[8+8] mtime[8+8] -> Rsetattr.
    ///
    /// Mode, size and times go to the host where it supports them; ownership changes are
    /// accepted and ignored (the guest sees every file as root's). Symlinks keep their mode and
    /// times: the host calls for those would follow the link.
    pub(super) fn setattr(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let fid = r.u32()?;
        let valid = r.u32()?;
        let mode = r.u32()?;
        let _uid = r.u32()?;
        let _gid = r.u32()?;
        let size = r.u64()?;
        let atime = (r.u64()?, r.u64()?);
        let mtime = (r.u64()?, r.u64()?);
        let f = self.fid(fid)?;
        let (path, meta) = self.stat(f.share, &f.path)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            return if valid & SETATTR_SIZE != 0 { Err(Errno(EINVAL)) } else { Ok(()) };
        }
        if valid & SETATTR_MODE != 0 {
            hostfs::set_mode(&path, mode)?;
        }
        if valid & SETATTR_SIZE != 0 {
            if ft.is_dir() {
                return Err(Errno(EISDIR));
            }
            let file = hostfs::open(&path, OpenOptions::new().write(true), None)?;
            file.set_len(size)?;
        }
        if valid & (SETATTR_ATIME | SETATTR_MTIME) != 0 {
            let now = SystemTime::now();
            let when = |set_bit: u32, (sec, nsec): (u64, u64)| {
                if valid & set_bit == 0 {
                    return Ok(now);
                }
                let since = Duration::new(sec, nsec.min(999_999_999) as u32);
                UNIX_EPOCH.checked_add(since).ok_or(Errno(EINVAL))
            };
            let mut times = FileTimes::new();
            if valid & SETATTR_ATIME != 0 {
                times = times.set_accessed(when(SETATTR_ATIME_SET, atime)?);
            }
            if valid & SETATTR_MTIME != 0 {
                times = times.set_modified(when(SETATTR_MTIME_SET, mtime)?);
            }
            let file = hostfs::open(&path, OpenOptions::new().read(true), None)?;
            file.set_times(times)?;
        }
        Ok(())
    }

    /// Tstatfs fid[4] -> Rstatfs. std offers no statvfs on either host, so the numbers are a
    /// fixed, roomy filesystem: tools that check free space before writing go ahead.
    pub(super) fn statfs(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let share = self.fid(fid)?.share;
        let blocks: u64 = 1 << 28; // 1 TiB of 4 KiB blocks
        w.u32(V9FS_MAGIC);
        w.u32(BLKSIZE as u32);
        w.u64(blocks);
        w.u64(blocks / 2); // bfree
        w.u64(blocks / 2); // bavail
        w.u64(1 << 24); // files
        w.u64(1 << 23); // ffree
        w.u64(share as u64); // fsid
        w.u32(255); // namelen
        Ok(())
    }
}
