//! Session and namespace messages: Tversion, Tattach, Twalk, Tclunk.

use std::ffi::OsString;

use super::consts::errno::*;
use super::consts::*;
use super::fids::Fid;
use super::wire::{Reader, Writer};
use super::{plain_name, Errno, Server, MAX_MSIZE, MIN_MSIZE};

const VERSION_9P2000_L: &[u8] = b"9P2000.L";

impl Server {
    /// Tversion msize[4] version[s] -> Rversion msize[4] version[s]. Starts a new session.
    pub(super) fn version(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let msize = r.u32()?;
        let version = r.string()?;
        if msize < MIN_MSIZE {
            return Err(Errno(EINVAL));
        }
        self.fids.clear();
        self.msize = msize.min(MAX_MSIZE);
        w.u32(self.msize);
        // Later dialects extend the name with ".suffix"; we speak exactly 9P2000.L.
        let speaks_l = version == VERSION_9P2000_L || version.starts_with(b"9P2000.L.");
        w.string(if speaks_l { VERSION_9P2000_L } else { b"unknown" })
    }

    /// Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4] -> Rattach qid.
    pub(super) fn attach(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let _afid = r.u32()?;
        let _uname = r.string()?;
        let aname = r.string()?;
        let _n_uname = r.u32()?;
        self.check_unused(fid)?;
        let share = self.shares.iter().position(|s| s.aname.as_bytes() == aname).ok_or(Errno(ENOENT))?;
        // The root itself may be a symlink the user chose on the host: follow it, once.
        let root = self.shares[share].root.clone();
        let meta = std::fs::metadata(&root)?;
        if !meta.is_dir() {
            return Err(Errno(ENOTDIR));
        }
        let qid = self.qid(&root, &meta);
        self.fids.insert(fid, Fid::new(share, Vec::new()));
        w.qid(qid);
        Ok(())
    }

    /// Twalk fid[4] newfid[4] nwname[2] wname[s]... -> Rwalk nwqid[2] qid...
    ///
    /// Each name is resolved here, one at a time: ".." never climbs above the share root, and a
    /// walk never continues through a symlink or a non-directory (the guest gets the symlink's
    /// qid and resolves its target itself). A walk that stops early returns the qids so far
    /// and leaves newfid unused, as the protocol says.
    pub(super) fn walk(&mut self, r: &mut Reader, w: &mut Writer) -> Result<(), Errno> {
        let fid = r.u32()?;
        let newfid = r.u32()?;
        let nwname = usize::from(r.u16()?);
        if nwname > MAX_WALK_NAMES {
            return Err(Errno(EINVAL));
        }
        let names = (0..nwname).map(|_| r.string()).collect::<Result<Vec<_>, _>>()?;
        let start = self.fid(fid)?;
        if newfid != fid {
            self.check_unused(newfid)?;
        }
        let share = start.share;
        let mut path: Vec<OsString> = start.path.clone();
        let mut qids = Vec::with_capacity(nwname);
        for name in &names {
            match self.walk_one(share, &mut path, name) {
                Ok(qid) => qids.push(qid),
                Err(e) if qids.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        if qids.len() == names.len() {
            let walked = Fid::new(share, path);
            self.fids.insert(newfid, walked);
        }
        w.u16(qids.len() as u16);
        for q in qids {
            w.qid(q);
        }
        Ok(())
    }

    /// Steps `path` by one name and returns the qid of where it lands.
    fn walk_one(&mut self, share: usize, path: &mut Vec<OsString>, name: &[u8]) -> Result<super::wire::Qid, Errno> {
        let (_, here) = self.stat(share, path)?;
        if !here.is_dir() {
            return Err(Errno(ENOTDIR));
        }
        match name {
            b"." => {}
            // At the root, ".." is the root itself.
            b".." => {
                path.pop();
            }
            _ => path.push(plain_name(name).map_err(|_| Errno(ENOENT))?),
        }
        let (there, meta) = self.stat(share, path)?;
        Ok(self.qid(&there, &meta))
    }

    /// Tclunk fid[4] -> Rclunk.
    pub(super) fn clunk(&mut self, r: &mut Reader) -> Result<(), Errno> {
        let fid = r.u32()?;
        self.fids.remove(&fid).map(drop).ok_or(Errno(EBADF))
    }
}
