//! 9P2000.L file server: lets the guest's v9fs mount a host directory shared with `--dir`.
//!
//! The virtio-9p transport hands `Server::handle` one T-message at a time and sends back the
//! R-message it produces. The server confines every operation to the share's root: walks are
//! resolved here component by component, ".." stops at the root, and host symlinks are never
//! followed (the guest sees them as symlinks and resolves them in its own namespace).

mod consts;
mod dir_ops;
mod errno;
mod fids;
mod file_ops;
mod hostfs;
mod meta_ops;
mod session;
mod wire;

#[cfg(test)]
mod test_client;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use consts::errno::*;
use consts::*;
pub(crate) use errno::Errno;
use fids::Fid;
use wire::{Qid, Reader, Writer};

/// One shared host directory, picked by the `aname` of a Tattach.
pub struct Share {
    pub aname: String,
    pub root: PathBuf,
}

/// The 9P2000.L server state (negotiated msize, fids, shares).
pub struct Server {
    shares: Vec<Share>,
    msize: u32,
    fids: HashMap<u32, Fid>,
    /// Qid paths for hosts without inode numbers: a stable id per host path.
    path_ids: HashMap<PathBuf, u64>,
    next_path_id: u64,
}

/// msize before Tversion, and the smallest a client may negotiate (every fixed-size reply
/// fits comfortably).
const MIN_MSIZE: u32 = 4096;
/// The largest msize offered; the transport's buffers bound what the guest asks for anyway.
const MAX_MSIZE: u32 = 1 << 20;

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    pub fn new() -> Self {
        Server { shares: Vec::new(), msize: MIN_MSIZE, fids: HashMap::new(), path_ids: HashMap::new(), next_path_id: 1 }
    }

    pub fn set_shares(&mut self, shares: Vec<Share>) {
        self.shares = shares;
    }

    /// Handles one complete T-message and writes one complete R-message into `response`
    /// (cleared first), never longer than the negotiated msize. Bad requests get Rlerror.
    pub fn handle(&mut self, request: &[u8], response: &mut Vec<u8>) {
        let tag = match request.get(5..HEADER_LEN) {
            Some(t) => u16::from_le_bytes([t[0], t[1]]),
            None => NOTAG,
        };
        if let Err(e) = self.dispatch(request, response) {
            log::debug!("9p: type {:?} -> errno {}", request.get(4), e.0);
            rlerror(response, tag, e);
        }
        if response.len() > self.msize as usize {
            rlerror(response, tag, Errno(EMSGSIZE));
        }
    }

    fn dispatch(&mut self, request: &[u8], response: &mut Vec<u8>) -> Result<(), Errno> {
        if request.len() < HEADER_LEN {
            return Err(Errno(EPROTO));
        }
        let mut r = Reader::new(request);
        let size = r.u32()?;
        let ty = r.u8()?;
        let tag = r.u16()?;
        if size as usize != request.len() {
            return Err(Errno(EPROTO));
        }
        let w = &mut Writer::start(response, ty.wrapping_add(1), tag);
        let r = &mut r;
        match ty {
            TVERSION => self.version(r, w)?,
            TATTACH => self.attach(r, w)?,
            TWALK => self.walk(r, w)?,
            TCLUNK => self.clunk(r)?,
            TFLUSH => {
                r.u16()?;
            }
            TLOPEN => self.lopen(r, w)?,
            TLCREATE => self.lcreate(r, w)?,
            TREAD => self.read(r, w)?,
            TWRITE => self.write(r, w)?,
            TFSYNC => self.fsync(r)?,
            TLOCK => self.lock(r, w)?,
            TGETLOCK => self.getlock(r, w)?,
            TXATTRWALK => self.xattrwalk(r, w)?,
            TXATTRCREATE => return Err(Errno(EOPNOTSUPP)),
            TGETATTR => self.getattr(r, w)?,
            TSETATTR => self.setattr(r)?,
            TSTATFS => self.statfs(r, w)?,
            TREADDIR => self.readdir(r, w)?,
            TMKDIR => self.mkdir(r, w)?,
            TSYMLINK => self.symlink(r, w)?,
            TREADLINK => self.readlink(r, w)?,
            TLINK => self.link(r)?,
            TRENAME => self.rename(r)?,
            TRENAMEAT => self.renameat(r)?,
            TUNLINKAT => self.unlinkat(r)?,
            TREMOVE => self.remove(r)?,
            TMKNOD => return Err(Errno(EPERM)),
            // No authentication: shares are what the user mapped.
            TAUTH => return Err(Errno(EOPNOTSUPP)),
            _ => return Err(Errno(EOPNOTSUPP)),
        }
        w.finish();
        Ok(())
    }

    // ---- fid table ----

    fn fid(&self, id: u32) -> Result<&Fid, Errno> {
        self.fids.get(&id).ok_or(Errno(EBADF))
    }

    fn fid_mut(&mut self, id: u32) -> Result<&mut Fid, Errno> {
        self.fids.get_mut(&id).ok_or(Errno(EBADF))
    }

    /// Fails if `id` is already in use (a new fid must be fresh).
    fn check_unused(&self, id: u32) -> Result<(), Errno> {
        if self.fids.contains_key(&id) {
            Err(Errno(EBADF))
        } else {
            Ok(())
        }
    }

    // ---- confinement: paths inside a share ----

    /// The host path of `comps` below the share's root, after checking that every directory on
    /// the way (not the last component) is a real directory and not a symlink. The guest can
    /// create symlinks and rename directories, so a path that was safe when walked is checked
    /// again on every use.
    fn resolve(&self, share: usize, comps: &[OsString]) -> Result<PathBuf, Errno> {
        let mut path = self.shares.get(share).ok_or(Errno(EBADF))?.root.clone();
        for (i, name) in comps.iter().enumerate() {
            if i > 0 {
                let meta = lstat(&path)?;
                if meta.file_type().is_symlink() {
                    return Err(Errno(ELOOP));
                }
                if !meta.is_dir() {
                    return Err(Errno(ENOTDIR));
                }
            }
            path.push(name);
        }
        Ok(path)
    }

    /// `resolve` plus the metadata of the file itself (a symlink is reported, not followed;
    /// only the share root, which the user picked, is followed).
    fn stat(&self, share: usize, comps: &[OsString]) -> Result<(PathBuf, Metadata), Errno> {
        let path = self.resolve(share, comps)?;
        let meta = if comps.is_empty() { std::fs::metadata(&path)? } else { lstat(&path)? };
        Ok((path, meta))
    }

    fn fid_stat(&self, id: u32) -> Result<(PathBuf, Metadata), Errno> {
        let fid = self.fid(id)?;
        self.stat(fid.share, &fid.path)
    }

    /// For operations on a name inside directory fid `dir`: the share, the child's components
    /// and host path. The directory must be a real directory and `name` a plain name.
    fn child(&self, dir: u32, name: &[u8]) -> Result<(usize, Vec<OsString>, PathBuf), Errno> {
        let fid = self.fid(dir)?;
        let (dir_path, meta) = self.stat(fid.share, &fid.path)?;
        if !meta.is_dir() {
            return Err(Errno(ENOTDIR));
        }
        let name = plain_name(name)?;
        let mut comps = fid.path.clone();
        comps.push(name.clone());
        Ok((fid.share, comps, dir_path.join(name)))
    }

    /// Keeps fids (and path ids) pointing at the same files after a rename of `old` to `new`.
    fn renamed(&mut self, share: usize, old: &[OsString], new: &[OsString], old_host: &Path, new_host: &Path) {
        for fid in self.fids.values_mut() {
            if fid.share == share && fid.path.starts_with(old) {
                fid.path.splice(..old.len(), new.iter().cloned());
            }
        }
        if !self.path_ids.is_empty() {
            let moved: Vec<PathBuf> = self.path_ids.keys().filter(|p| p.starts_with(old_host)).cloned().collect();
            for p in moved {
                if let (Some(id), Ok(rest)) = (self.path_ids.remove(&p), p.strip_prefix(old_host)) {
                    self.path_ids.insert(new_host.join(rest), id);
                }
            }
        }
    }

    // ---- qids ----

    fn qid(&mut self, path: &Path, meta: &Metadata) -> Qid {
        let attr = hostfs::attr(meta);
        self.qid_from(path, attr.mode, attr.ino)
    }

    fn qid_from(&mut self, path: &Path, mode: u32, ino: Option<u64>) -> Qid {
        let ty = match mode & S_IFMT {
            S_IFDIR => QTDIR,
            S_IFLNK => QTSYMLINK,
            _ => QTFILE,
        };
        let id = ino.unwrap_or_else(|| self.path_id(path));
        Qid { ty, version: 0, path: id }
    }

    fn path_id(&mut self, path: &Path) -> u64 {
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let id = self.next_path_id;
        self.next_path_id += 1;
        self.path_ids.insert(path.to_path_buf(), id);
        id
    }
}

/// Metadata of `path` itself, never following a symlink.
fn lstat(path: &Path) -> Result<Metadata, Errno> {
    Ok(std::fs::symlink_metadata(path)?)
}

/// A name the guest wants to create or look up in a directory: one plain component.
fn plain_name(bytes: &[u8]) -> Result<OsString, Errno> {
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.iter().any(|&b| b == b'/' || b == 0) {
        return Err(Errno(EINVAL));
    }
    hostfs::name_from_wire(bytes).ok_or(Errno(EINVAL))
}

fn rlerror(response: &mut Vec<u8>, tag: u16, e: Errno) {
    let mut w = Writer::start(response, RLERROR, tag);
    w.u32(e.0);
    w.finish();
}
