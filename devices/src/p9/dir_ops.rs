//! Directory and name operations: Treaddir, Tmkdir, Tsymlink, Treadlink, Tlink, renames,
//! removals.

use std::ffi::OsString;
use std::fs;

use super::consts::errno::*;
use super::consts::*;
use super::fids::{DirRecord, Open};
use super::wire::{Reader, Writer};
use super::{hostfs, lstat, Errno, Server};

/// Bytes of an Rreaddir entry besides its name: qid[13] offset[8] type[1] name length[2].
const DIRENT_FIXED_LEN: usize = 13 + 8 + 1 + 2;

fn dtype(mode: u32) -> u8 {
    match mode & S_IFMT {
        S_IFDIR => DT_DIR,
        S_IFREG => DT_REG,
        S_IFLNK => DT_LNK,
        S_IFIFO => DT_FIFO,
        S_IFCHR => DT_CHR,
        S_IFBLK => DT_BLK,
        S_IFSOCK => DT_SOCK,
        _ => DT_UNKNOWN,
    }
}

impl Server {
    /// Treaddir fid[4] offset[8] count[4] -> Rreaddir count[4] entries. An entry's offset is
    /// its index + 1 in the listing snapshotted when the guest read from offset 0.
    pub(super) fn readdir(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let offset = r.u64()?;
        let count = (r.u32()? as usize).min(self.msize as usize - IO_HEADER_LEN);
        let f = self.fid(fid)?;
        let needs_listing = match &f.open {
            Open::Dir(listing) => listing.is_none() || offset == 0,
            Open::Closed => return Err(Errno(EBADF)),
            _ => return Err(Errno(ENOTDIR)),
        };
        if needs_listing {
            let (share, comps) = (f.share, f.path.clone());
            let listing = self.list_dir(share, &comps)?;
            self.fid_mut(fid)?.open = Open::Dir(Some(listing));
        }
        let Open::Dir(Some(listing)) = &self.fid(fid)?.open else {
            return Err(Errno(EIO));
        };
        let count_at = w.len();
        w.u32(0);
        let mut used = 0;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, e) in listing.iter().enumerate().skip(start) {
            let len = DIRENT_FIXED_LEN + e.name.len();
            if used + len > count {
                break;
            }
            w.qid(e.qid);
            w.u64(i as u64 + 1);
            w.u8(e.dtype);
            w.string(&e.name)?;
            used += len;
        }
        w.buf()[count_at..count_at + 4].copy_from_slice(&(used as u32).to_le_bytes());
        Ok(())
    }

    /// ".", "..", then the directory's entries sorted by name. Entries the host cannot
    /// describe are left out.
    fn list_dir(&mut self, share: usize, comps: &[OsString]) -> Result<Vec<DirRecord>, Errno> {
        let (dir, meta) = self.stat(share, comps)?;
        if !meta.is_dir() {
            return Err(Errno(ENOTDIR));
        }
        let dot = self.qid(&dir, &meta);
        let dotdot = match comps.split_last() {
            Some((_, parent)) => {
                let (p, m) = self.stat(share, parent)?;
                self.qid(&p, &m)
            }
            None => dot,
        };
        let mut out = vec![
            DirRecord { qid: dot, dtype: DT_DIR, name: b".".to_vec() },
            DirRecord { qid: dotdot, dtype: DT_DIR, name: b"..".to_vec() },
        ];
        let mut entries: Vec<_> = fs::read_dir(&dir)?.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(ft) = e.file_type() else { continue };
            let mode = hostfs::type_bits(ft);
            let qid = self.qid_from(&e.path(), mode, hostfs::dirent_ino(&e));
            out.push(DirRecord { qid, dtype: dtype(mode), name: hostfs::name_to_wire(&e.file_name()) });
        }
        Ok(out)
    }

    /// Tmkdir dfid[4] name[s] mode[4] gid[4] -> Rmkdir qid.
    pub(super) fn mkdir(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let dfid = r.u32()?;
        let name = r.string()?;
        let mode = r.u32()?;
        let _gid = r.u32()?;
        let (_, _, path) = self.child(dfid, name)?;
        hostfs::create_dir(&path, mode)?;
        let meta = lstat(&path)?;
        let qid = self.qid(&path, &meta);
        w.qid(qid);
        Ok(())
    }

    /// Tsymlink fid[4] name[s] symtgt[s] gid[4] -> Rsymlink qid. The target is stored as
    /// given; only the guest ever resolves it.
    pub(super) fn symlink(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let dfid = r.u32()?;
        let name = r.string()?;
        let target = r.string()?;
        let _gid = r.u32()?;
        let (_, _, path) = self.child(dfid, name)?;
        if target.is_empty() || target.contains(&0) {
            return Err(Errno(EINVAL));
        }
        let target = hostfs::name_from_wire(target).ok_or(Errno(EINVAL))?;
        hostfs::symlink(&target, &path)?;
        let meta = lstat(&path)?;
        let qid = self.qid(&path, &meta);
        w.qid(qid);
        Ok(())
    }

    /// Treadlink fid[4] -> Rreadlink target[s].
    pub(super) fn readlink(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let (path, meta) = self.fid_stat(fid)?;
        if !meta.file_type().is_symlink() {
            return Err(Errno(EINVAL));
        }
        let target = fs::read_link(&path)?;
        w.string(&hostfs::name_to_wire(target.as_os_str()))
    }

    /// Tlink dfid[4] fid[4] name[s] -> Rlink (a hard link to fid's file).
    pub(super) fn link(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let dfid = r.u32()?;
        let fid = r.u32()?;
        let name = r.string()?;
        let (share, _, dst) = self.child(dfid, name)?;
        if self.fid(fid)?.share != share {
            return Err(Errno(EXDEV));
        }
        let (src, meta) = self.fid_stat(fid)?;
        if meta.is_dir() {
            return Err(Errno(EPERM));
        }
        fs::hard_link(src, dst)?;
        Ok(())
    }

    /// Trename fid[4] dfid[4] name[s] -> Rrename.
    pub(super) fn rename(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let fid = r.u32()?;
        let dfid = r.u32()?;
        let name = r.string()?;
        let f = self.fid(fid)?;
        if f.path.is_empty() {
            return Err(Errno(EBUSY));
        }
        let (share, old) = (f.share, f.path.clone());
        let (new_share, new, dst) = self.child(dfid, name)?;
        self.move_entry(share, &old, new_share, &new, &dst)
    }

    /// Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s] -> Rrenameat.
    pub(super) fn renameat(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let old_dir = r.u32()?;
        let old_name = r.string()?;
        let new_dir = r.u32()?;
        let new_name = r.string()?;
        let (share, old, _) = self.child(old_dir, old_name)?;
        let (new_share, new, dst) = self.child(new_dir, new_name)?;
        self.move_entry(share, &old, new_share, &new, &dst)
    }

    fn move_entry(
        &mut self,
        share: usize,
        old: &[OsString],
        new_share: usize,
        new: &[OsString],
        dst: &std::path::Path,
    ) -> Result<(), Errno> {
        if share != new_share {
            return Err(Errno(EXDEV));
        }
        let (src, _) = self.stat(share, old)?;
        fs::rename(&src, dst)?;
        self.renamed(share, old, new, &src, dst);
        Ok(())
    }

    /// Tunlinkat dirfid[4] name[s] flags[4] -> Runlinkat.
    pub(super) fn unlinkat(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let dfid = r.u32()?;
        let name = r.string()?;
        let flags = r.u32()?;
        let (_, _, path) = self.child(dfid, name)?;
        let meta = lstat(&path)?;
        if flags & AT_REMOVEDIR != 0 {
            if !meta.is_dir() {
                return Err(Errno(ENOTDIR));
            }
            fs::remove_dir(&path)?;
        } else {
            if meta.is_dir() {
                return Err(Errno(EISDIR));
            }
            fs::remove_file(&path)?;
        }
        Ok(())
    }

    /// Tremove fid[4] -> Rremove. The fid is clunked whether or not the removal succeeds.
    pub(super) fn remove(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let fid = r.u32()?;
        let f = self.fids.remove(&fid).ok_or(Errno(EBADF))?;
        if f.path.is_empty() {
            return Err(Errno(EBUSY));
        }
        let (path, meta) = self.stat(f.share, &f.path)?;
        if meta.is_dir() {
            fs::remove_dir(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        Ok(())
    }
}
