//! Applying image layers (tar streams) to the in-memory [`Tree`], entry by entry, with the OCI
//! layer rules: later entries replace earlier ones, directories merge, `.wh.NAME` deletes NAME
//! from lower layers and `.wh..wh..opq` hides a directory's lower contents. Paths are resolved
//! inside the tree (see [`path`]); nothing is ever written to the host filesystem.

mod decompress;
pub mod path;

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::tree::{Kind, Meta, Node, NodeId, Tree, ROOT};
pub use decompress::Compression;
use path::{clean, WalkError};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// What may follow a layer's end-of-archive block without counting as content: the rest of
/// tar's padding to its record size (10 KiB for GNU tar's default, more with a larger blocking
/// factor). Beyond it, trailing bytes count against the unpacked-size limit, which bounds a
/// compressed tail that expands without end.
const TAIL_SLACK: u64 = 1 << 20;

/// Bounds on what an image may unpack to, so a hostile or broken image fails cleanly instead
/// of exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of regular-file content over all layers.
    pub max_unpacked_bytes: u64,
    /// Total tar entries over all layers.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_unpacked_bytes: 16 << 30, max_entries: 2_000_000 }
    }
}

#[derive(Debug, Error)]
pub enum LayerError {
    // The io::Error is shown inline, not as a `source`, so a `{:#}` chain does not repeat it.
    #[error("the layer is not a readable tar stream ({0}): the image is corrupt; fetch or export it again")]
    Corrupt(io::Error),
    /// A layer c2w recognises but does not read (xz, bzip2).
    #[error("{0}")]
    Unsupported(String),
    #[error("entry {path:?}: {reason}")]
    BadEntry { path: String, reason: String },
    #[error("hardlink {path:?} points to {target:?}, which is not in the image")]
    MissingLinkTarget { path: String, target: String },
    #[error("the image unpacks to more than {limit} bytes; raise --max-unpacked-size if it is meant to")]
    TooLarge { limit: u64 },
    #[error("the image has more than {limit} entries; raise --max-entries if it is meant to")]
    TooManyEntries { limit: u64 },
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What applying one layer found out about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub compression: Compression,
    /// sha256 of the uncompressed tar stream: the layer's "diff id" in the image config.
    pub diff_id: [u8; 32],
}

/// Hashes the uncompressed stream on its way into the tar reader.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Applies layers in order to one tree, keeping the running totals the [`Limits`] bound.
pub struct Applier<'t> {
    tree: &'t mut Tree,
    limits: Limits,
    unpacked: u64,
    entries: u64,
}

impl<'t> Applier<'t> {
    pub fn new(tree: &'t mut Tree, limits: Limits) -> Self {
        Self { tree, limits, unpacked: 0, entries: 0 }
    }

    /// Bytes of file content applied so far.
    pub fn unpacked_bytes(&self) -> u64 {
        self.unpacked
    }

    /// Applies one layer blob (plain, gzip or zstd tar; detected from its first bytes). The
    /// decompressed stream is read to its end so that the caller can verify the blob's digest
    /// over every byte of `raw` afterwards.
    pub fn apply(&mut self, raw: &mut dyn Read) -> Result<Applied, LayerError> {
        let (compression, stream) = decompress::decoder(raw).map_err(|e| match e.kind() {
            io::ErrorKind::Unsupported => LayerError::Unsupported(e.to_string()),
            _ => LayerError::Corrupt(e),
        })?;
        let mut archive = tar::Archive::new(Hashing { inner: stream, hasher: Sha256::new() });
        let mut layer = LayerState::default();
        for entry in archive.entries().map_err(LayerError::Corrupt)? {
            let mut entry = entry.map_err(LayerError::Corrupt)?;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(LayerError::TooManyEntries { limit: self.limits.max_entries });
            }
            self.apply_entry(&mut entry, &mut layer)?;
        }
        // Whatever follows the end-of-archive blocks still belongs to the blob; bounded, since
        // a compressed stream can expand without end.
        let left = self.limits.max_unpacked_bytes.saturating_sub(self.unpacked).saturating_add(TAIL_SLACK);
        let mut rest = archive.into_inner();
        let drained =
            io::copy(&mut (&mut rest).take(left.saturating_add(1)), &mut io::sink()).map_err(LayerError::Corrupt)?;
        if drained > left {
            return Err(LayerError::TooLarge { limit: self.limits.max_unpacked_bytes });
        }
        Ok(Applied { compression, diff_id: rest.hasher.finalize().into() })
    }

    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<R>, layer: &mut LayerState) -> Result<(), LayerError> {
        let raw_path = entry.path_bytes().into_owned();
        let comps = clean(&raw_path);
        let bad = |reason: String| LayerError::BadEntry { path: lossy(&raw_path), reason };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname() {
            return Ok(()); // metadata the tar crate already folded into the entries it describes
        }
        let Some((name, parents)) = comps.split_last() else {
            // The root itself ("./"): only its metadata can change.
            if kind.is_dir() {
                let meta = entry_meta(entry).map_err(|e| bad(e.to_string()))?;
                self.tree.node_mut(ROOT).meta = meta;
            }
            return Ok(());
        };

        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(name, hidden, parents, layer).map_err(|e| bad(walk_reason(e)));
        }

        let meta = entry_meta(entry).map_err(|e| bad(e.to_string()))?;
        // Parents passed through count as written by this layer: an opaque marker later in the
        // same layer must not hide what this layer put below them.
        let parent = path::resolve_dir(self.tree, parents, true, &mut |p, n| layer.mark(p, n))
            .map_err(|e| bad(walk_reason(e)))?;

        if kind.is_dir() {
            if let Some(existing) = path::child(self.tree, parent, name) {
                if let Kind::Dir(_) = self.tree.node(existing).kind {
                    // A directory over a directory merges: new metadata, contents kept.
                    self.tree.node_mut(existing).meta = meta;
                    layer.mark(parent, name);
                    return Ok(());
                }
            }
            self.link(parent, name, Node { meta, kind: Kind::Dir(BTreeMap::new()) }, layer);
            return Ok(());
        }

        // A GNU sparse file reads as its whole content, holes as zeros: the tree has no holes,
        // and its size (holes included) is what counts against the limit.
        let kind = if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            Kind::File(self.read_content(entry).map_err(|e| match e {
                Content::Short { got, size } => bad(format!(
                    "the layer ends after {got} of its {size} bytes: the image is corrupt; fetch or export it again"
                )),
                Content::Layer(e) => e,
            })?)
        } else if kind.is_symlink() {
            let target = entry.link_name_bytes().ok_or_else(|| bad("symlink without a target".into()))?;
            Kind::Symlink(target.into_owned())
        } else if kind.is_hard_link() {
            let target = entry.link_name_bytes().ok_or_else(|| bad("hardlink without a target".into()))?;
            let target_comps = clean(&target);
            let missing = || LayerError::MissingLinkTarget { path: lossy(&raw_path), target: lossy(&target) };
            let (_, node) = path::lookup_nofollow(self.tree, &target_comps).map_err(|_| missing())?;
            if let Kind::Dir(_) = self.tree.node(node).kind {
                return Err(bad("hardlink to a directory".into()));
            }
            self.insert(parent, name, node, layer);
            return Ok(());
        } else if kind.is_character_special() || kind.is_block_special() {
            let h = entry.header();
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            // Refused here, where the entry can be named, rather than by the image writer.
            if major > MAX_DEV_MAJOR || minor > MAX_DEV_MINOR {
                return Err(bad(format!(
                    "device number {major}:{minor} does not fit Linux's 12-bit major and 20-bit minor"
                )));
            }
            if kind.is_character_special() {
                Kind::CharDev { major, minor }
            } else {
                Kind::BlockDev { major, minor }
            }
        } else if kind.is_fifo() {
            Kind::Fifo
        } else {
            log::warn!("skipping tar entry {:?} of unsupported type {:?}", lossy(&raw_path), kind);
            return Ok(());
        };
        self.link(parent, name, Node { meta, kind }, layer);
        Ok(())
    }

    fn read_content<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<Vec<u8>, Content> {
        let size = entry.size();
        let total = self.unpacked.saturating_add(size);
        if total > self.limits.max_unpacked_bytes {
            return Err(Content::Layer(LayerError::TooLarge { limit: self.limits.max_unpacked_bytes }));
        }
        self.unpacked = total;
        // The header's size is untrusted until the bytes arrive: grow as they do.
        let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
        entry.read_to_end(&mut data).map_err(|e| Content::Layer(LayerError::Corrupt(e)))?;
        // A stream that ends inside an entry reads short rather than failing.
        if (data.len() as u64) < size {
            return Err(Content::Short { got: data.len() as u64, size });
        }
        Ok(data)
    }

    /// `.wh.NAME` removes NAME of a lower layer; `.wh..wh..opq` hides everything a lower layer
    /// put in its directory. Entries of the current layer stay, whatever the order in the tar.
    fn whiteout(
        &mut self,
        name: &[u8],
        hidden: &[u8],
        parents: &[Vec<u8>],
        layer: &mut LayerState,
    ) -> Result<(), WalkError> {
        let parent = match path::resolve_dir(self.tree, parents, false, &mut |_, _| {}) {
            Ok(p) => p,
            Err(WalkError::Missing) => return Ok(()), // nothing below to hide
            Err(e) => return Err(e),
        };
        if name == OPAQUE_MARKER {
            self.prune_lower(parent, layer);
        } else if hidden.starts_with(WHITEOUT_PREFIX) {
            log::debug!("ignoring whiteout metadata entry {:?}", lossy(name));
        } else if !layer.added.contains(&(parent, hidden.to_vec())) {
            if let Kind::Dir(entries) = &mut self.tree.node_mut(parent).kind {
                entries.remove(hidden);
            }
        }
        Ok(())
    }

    /// Removes the entries of `dir` that the current layer did not write, recursing into the
    /// directories it did write over (their lower contents are hidden as well).
    fn prune_lower(&mut self, dir: NodeId, layer: &LayerState) {
        let Kind::Dir(entries) = &mut self.tree.node_mut(dir).kind else { return };
        entries.retain(|name, _| layer.added.contains(&(dir, name.clone())));
        let kept: Vec<NodeId> = entries.values().copied().collect();
        for child in kept {
            if let Kind::Dir(_) = self.tree.node(child).kind {
                self.prune_lower(child, layer);
            }
        }
    }

    fn link(&mut self, parent: NodeId, name: &[u8], node: Node, layer: &mut LayerState) {
        let id = self.tree.add(node);
        self.insert(parent, name, id, layer);
    }

    fn insert(&mut self, parent: NodeId, name: &[u8], id: NodeId, layer: &mut LayerState) {
        if let Kind::Dir(entries) = &mut self.tree.node_mut(parent).kind {
            entries.insert(name.to_vec(), id);
        }
        layer.mark(parent, name);
    }
}

/// Linux's `dev_t` as EROFS stores it: a 12-bit major and a 20-bit minor.
const MAX_DEV_MAJOR: u32 = 0xfff;
const MAX_DEV_MINOR: u32 = 0xf_ffff;

/// Why a file's content could not be read: a layer-wide error, or an entry whose data the
/// stream does not hold (the caller names the entry).
enum Content {
    Layer(LayerError),
    Short { got: u64, size: u64 },
}

/// What the layer being applied has written so far, for whiteouts that must spare it.
#[derive(Default)]
struct LayerState {
    /// `(directory, name)` of every entry this layer wrote or passed through.
    added: HashSet<(NodeId, Vec<u8>)>,
}

impl LayerState {
    fn mark(&mut self, parent: NodeId, name: &[u8]) {
        self.added.insert((parent, name.to_vec()));
    }
}

fn walk_reason(e: WalkError) -> String {
    match e {
        WalkError::Missing => "a parent directory is missing".into(),
        WalkError::NotDir(c) => format!("{c:?} on its path is not a directory"),
        WalkError::TooManySymlinks => "too many levels of symbolic links on its path".into(),
    }
}

/// Mode, ownership, mtime and xattrs of an entry; PAX records override the ustar fields
/// (they carry ids and times that do not fit, and the xattrs as `SCHILY.xattr.NAME`).
fn entry_meta<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
    let h = entry.header();
    let mut meta = Meta {
        mode: h.mode()? & 0o7777,
        uid: u32::try_from(h.uid()?).map_err(|_| invalid("uid out of range"))?,
        gid: u32::try_from(h.gid()?).map_err(|_| invalid("gid out of range"))?,
        mtime: i64::try_from(h.mtime()?).unwrap_or(i64::MAX),
        mtime_nsec: 0,
        xattrs: BTreeMap::new(),
    };
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let (key, value) = (ext.key_bytes(), ext.value_bytes());
            match key {
                b"uid" => meta.uid = parse_id(value)?,
                b"gid" => meta.gid = parse_id(value)?,
                b"mtime" => (meta.mtime, meta.mtime_nsec) = parse_time(value)?,
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        meta.xattrs.insert(name.to_vec(), value.to_vec());
                    }
                }
            }
        }
    }
    Ok(meta)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn parse_id(v: &[u8]) -> io::Result<u32> {
    std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()).ok_or_else(|| invalid("bad PAX uid/gid"))
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.123456789`.
fn parse_time(v: &[u8]) -> io::Result<(i64, u32)> {
    let s = std::str::from_utf8(v).map_err(|_| invalid("bad PAX mtime"))?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| invalid("bad PAX mtime"))?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("bad PAX mtime"));
    }
    let nsec = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse().unwrap_or(0) };
    Ok((secs, nsec))
}

#[cfg(test)]
mod tests;
