//! Open files: Tlopen, Tlcreate, Tread, Twrite, Tfsync, locks, and the xattr stubs.

use std::fs::{File, OpenOptions};
use std::io;

use super::consts::errno::*;
use super::consts::*;
use super::fids::{Fid, Open};
use super::wire::{Reader, Writer};
use super::{hostfs, lstat, Errno, Server};

/// Size of the largest request header carrying data (Twrite: 7 + fid 4 + offset 8 + count 4),
/// which the protocol subtracts from msize to get the iounit.
const IOHDRSZ: u32 = 24;

/// Host open options for the access mode and truncation in 9P2000.L open flags.
fn open_options(flags: u32) -> Result<OpenOptions, Errno> {
    let mut opts = OpenOptions::new();
    match flags & O_ACCMODE {
        O_RDONLY => opts.read(true),
        O_WRONLY => opts.write(true),
        O_RDWR => opts.read(true).write(true),
        _ => return Err(Errno(EINVAL)),
    };
    // O_APPEND is not passed on: the guest kernel already sends appends at the end of file,
    // and positional writes on an O_APPEND host file would ignore the offset.
    if flags & O_TRUNC != 0 && flags & O_ACCMODE != O_RDONLY {
        opts.truncate(true);
    }
    Ok(opts)
}

/// Refuses I/O ranges that run past the largest file offset (Linux's loff_t is signed).
fn end_offset(offset: u64, len: usize) -> Result<u64, Errno> {
    offset.checked_add(len as u64).filter(|&end| end <= i64::MAX as u64).ok_or(Errno(EINVAL))
}

impl Server {
    fn iounit(&self) -> u32 {
        self.msize - IOHDRSZ
    }

    /// Tlopen fid[4] flags[4] -> Rlopen qid iounit[4].
    pub(super) fn lopen(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let flags = r.u32()?;
        if !matches!(self.fid(fid)?.open, Open::Closed) {
            return Err(Errno(EINVAL));
        }
        let (path, meta) = self.fid_stat(fid)?;
        let ft = meta.file_type();
        let open = if ft.is_symlink() {
            return Err(Errno(ELOOP));
        } else if ft.is_dir() {
            if flags & O_ACCMODE != O_RDONLY {
                return Err(Errno(EISDIR));
            }
            Open::Dir(None)
        } else if ft.is_file() {
            Open::File(hostfs::open(&path, &mut open_options(flags)?, None)?)
        } else {
            // Host FIFOs, sockets and devices: opening them could block the whole device.
            return Err(Errno(ENXIO));
        };
        let qid = self.qid(&path, &meta);
        self.fid_mut(fid)?.open = open;
        w.qid(qid);
        w.u32(self.iounit());
        Ok(())
    }

    /// Tlcreate fid[4] name[s] flags[4] mode[4] gid[4] -> Rlcreate qid iounit[4].
    /// The directory fid becomes the new, open file.
    pub(super) fn lcreate(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let name = r.string()?;
        let flags = r.u32()?;
        let mode = r.u32()?;
        let _gid = r.u32()?;
        if !matches!(self.fid(fid)?.open, Open::Closed) {
            return Err(Errno(EINVAL));
        }
        let (share, comps, path) = self.child(fid, name)?;
        let file = create_file(&path, flags, mode)?;
        let meta = file.metadata()?;
        let qid = self.qid(&path, &meta);
        let mut created = Fid::new(share, comps);
        created.open = Open::File(file);
        self.fids.insert(fid, created);
        w.qid(qid);
        w.u32(self.iounit());
        Ok(())
    }

    /// Tread fid[4] offset[8] count[4] -> Rread count[4] data.
    pub(super) fn read(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let offset = r.u64()?;
        let count = r.u32()? as usize;
        let count = count.min(self.msize as usize - IO_HEADER_LEN);
        end_offset(offset, count)?;
        let file = match &self.fid(fid)?.open {
            Open::File(f) => f,
            Open::XattrList => {
                w.u32(0);
                return Ok(());
            }
            Open::Dir(_) => return Err(Errno(EISDIR)),
            Open::Closed => return Err(Errno(EBADF)),
        };
        let buf = w.buf();
        let count_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        let data_at = buf.len();
        buf.resize(data_at + count, 0);
        let mut done = 0;
        while done < count {
            match hostfs::read_at(file, &mut buf[data_at + done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if done == 0 => return Err(e.into()),
                Err(_) => break,
            }
        }
        buf.truncate(data_at + done);
        buf[count_at..data_at].copy_from_slice(&(done as u32).to_le_bytes());
        Ok(())
    }

    /// Twrite fid[4] offset[8] count[4] data[count] -> Rwrite count[4].
    pub(super) fn write(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let offset = r.u64()?;
        let count = r.u32()?;
        let data = r.bytes(count as usize)?;
        end_offset(offset, data.len())?;
        let file = match &self.fid(fid)?.open {
            Open::File(f) => f,
            Open::Dir(_) => return Err(Errno(EISDIR)),
            _ => return Err(Errno(EBADF)),
        };
        let mut done = 0;
        while done < data.len() {
            match hostfs::write_at(file, &data[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if done == 0 => return Err(e.into()),
                Err(_) => break,
            }
        }
        w.u32(done as u32);
        Ok(())
    }

    /// Tfsync fid[4] (datasync[4], ignored: everything is synced) -> Rfsync.
    pub(super) fn fsync(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let fid = r.u32()?;
        if let Open::File(f) = &self.fid(fid)?.open {
            f.sync_all()?;
        }
        Ok(())
    }

    /// Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] -> Rlock status[1].
    /// The guest is the only client of the share, and its kernel arbitrates its own processes,
    /// so every lock is granted.
    pub(super) fn lock(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let _ty = r.u8()?;
        let _flags = r.u32()?;
        let _start = r.u64()?;
        let _length = r.u64()?;
        let _proc_id = r.u32()?;
        let _client_id = r.string()?;
        self.fid(fid)?;
        w.u8(LOCK_SUCCESS);
        Ok(())
    }

    /// Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] -> Rgetlock: always
    /// "no conflicting lock", echoing the range.
    pub(super) fn getlock(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let _ty = r.u8()?;
        let start = r.u64()?;
        let length = r.u64()?;
        let proc_id = r.u32()?;
        let client_id = r.string()?;
        self.fid(fid)?;
        w.u8(LOCK_TYPE_UNLCK);
        w.u64(start);
        w.u64(length);
        w.u32(proc_id);
        w.string(client_id)
    }

    /// Txattrwalk fid[4] newfid[4] name[s] -> Rxattrwalk size[8]. Extended attributes are not
    /// stored: listing (empty name) gives an empty list, reading one gives ENODATA.
    pub(super) fn xattrwalk(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let newfid = r.u32()?;
        let name = r.string()?;
        let base = self.fid(fid)?;
        if !name.is_empty() {
            return Err(Errno(ENODATA));
        }
        let mut list = base.clone_closed();
        list.open = Open::XattrList;
        if newfid != fid {
            self.check_unused(newfid)?;
        }
        self.fids.insert(newfid, list);
        w.u64(0);
        Ok(())
    }
}

/// Creates (or, without O_EXCL, opens an existing) regular file at `path`, never through a
/// symlink: a new file is made with O_EXCL semantics, which refuse an existing link.
fn create_file(path: &std::path::Path, flags: u32, mode: u32) -> Result<File, Errno> {
    let mut opts = open_options(flags)?;
    match lstat(path) {
        Ok(meta) => {
            if flags & O_EXCL != 0 {
                return Err(Errno(EEXIST));
            }
            if meta.file_type().is_symlink() {
                return Err(Errno(ELOOP));
            }
            if meta.is_dir() {
                return Err(Errno(EISDIR));
            }
            Ok(hostfs::open(path, &mut opts, None)?)
        }
        Err(Errno(ENOENT)) => {
            // Creating needs write access on the host even for a read-only open; the guest
            // never writes through a handle it opened read-only.
            opts.write(true).create_new(true);
            Ok(hostfs::open(path, &mut opts, Some(mode))?)
        }
        Err(e) => Err(e),
    }
}
