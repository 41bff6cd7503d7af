//! What the server remembers about each fid the guest holds.

use std::ffi::OsString;
use std::fs::File;

use super::wire::Qid;

/// A fid names a file by its share and its path components below the share root. Paths, not
/// host handles, because std (and WASI through it) offers no openat: every use re-resolves the
/// path inside the root, checking each directory on the way (see `Server::resolve`).
pub struct Fid {
    pub share: usize,
    /// Validated names: never empty, ".", "..", or containing '/' or NUL.
    pub path: Vec<OsString>,
    pub open: Open,
}

/// The open state of a fid after Tlopen / Tlcreate / Txattrwalk.
pub enum Open {
    Closed,
    File(File),
    /// A directory; the listing is snapshotted at the first Treaddir (offset 0) so that the
    /// offsets handed to the guest stay valid across calls.
    Dir(Option<Vec<DirRecord>>),
    /// An (always empty) extended attribute list from Txattrwalk with an empty name.
    XattrList,
}

/// One Rreaddir entry.
pub struct DirRecord {
    pub qid: Qid,
    pub dtype: u8,
    pub name: Vec<u8>,
}

impl Fid {
    pub fn new(share: usize, path: Vec<OsString>) -> Self {
        Fid { share, path, open: Open::Closed }
    }

    /// A fresh unopened fid naming the same file (Twalk's newfid).
    pub fn clone_closed(&self) -> Self {
        Fid::new(self.share, self.path.clone())
    }
}
