//! Planning the image before writing a byte: which inodes exist (everything reachable from the
//! root, each node once however many names it has), how each is stored (compact or extended
//! inode, plain or tail-inline data), where its inode goes (its nid) and where its data blocks go.
//!
//! Image layout: block 0 holds the superblock at 1024; the inode area starts right after it
//! (nids count from byte 0, so the root, placed first, gets nid 36) and runs over as many blocks
//! as it needs; then come the data blocks of every inode in the same order.

use super::dir::{DirEntry, DirPlan};
use super::format::{
    encode_dev, DataLayout, FileType, Inode, BLOCK_SIZE, INODE_SLOT, MAX_NAME_LEN, SUPER_OFFSET, SUPER_SIZE,
};
use super::xattr::{self, XattrProblem};
use super::ErofsError;
use crate::tree::{Kind, Node, NodeId, Tree, ROOT};
use std::collections::HashMap;

pub enum Content<'t> {
    Bytes(&'t [u8]),
    Dir(DirPlan<'t>),
    /// Devices, FIFOs and sockets.
    None,
}

pub struct Planned<'t> {
    pub node: &'t Node,
    pub file_type: FileType,
    pub nlink: u32,
    pub xattrs: Vec<u8>,
    pub xattr_icount: u16,
    pub content: Content<'t>,
    pub size: u64,
    /// Encoded device number for char/block devices, else 0.
    pub rdev: u32,
    pub extended: bool,
    pub layout: DataLayout,
    pub nid: u64,
    /// First data block, `u32::MAX` when the inode has none in the data area.
    pub blkaddr: u32,
}

impl Planned<'_> {
    fn has_data(&self) -> bool {
        !matches!(self.content, Content::None)
    }

    /// Bytes stored right after the inode and its xattrs.
    pub fn inline_len(&self) -> usize {
        match self.layout {
            DataLayout::FlatInline => (self.size % BLOCK_SIZE) as usize,
            DataLayout::FlatPlain => 0,
        }
    }

    /// Blocks in the data area.
    pub fn data_blocks(&self) -> u64 {
        match self.layout {
            DataLayout::FlatInline => self.size / BLOCK_SIZE,
            DataLayout::FlatPlain => self.size.div_ceil(BLOCK_SIZE),
        }
    }

    fn fixed_len(&self) -> u64 {
        (Inode::disk_size(self.extended) + self.xattrs.len()) as u64
    }
}

pub struct Plan<'t> {
    /// Index 0 is the root.
    pub inodes: Vec<Planned<'t>>,
    pub build_time: (i64, u32),
    /// Blocks holding the superblock and the inodes; data blocks follow.
    pub meta_blocks: u64,
    pub total_blocks: u32,
}

pub fn plan(tree: &Tree) -> Result<Plan<'_>, ErofsError> {
    let (order, contents) = walk(tree)?;
    let links = tree.link_counts();
    let mut inodes = Vec::with_capacity(order.len());
    for (id, content) in order.into_iter().zip(contents) {
        inodes.push(describe(tree, id, links[id], content)?);
    }
    let build_time = most_common_mtime(&inodes);
    for p in &mut inodes {
        let m = &p.node.meta;
        p.extended = m.uid > 0xffff
            || m.gid > 0xffff
            || p.size > u64::from(u32::MAX)
            || p.nlink > 0xffff
            || (m.mtime, m.mtime_nsec) != build_time;
    }
    let meta_end = place_inodes(&mut inodes);
    let meta_blocks = meta_end.div_ceil(BLOCK_SIZE);
    let mut next = meta_blocks;
    for p in &mut inodes {
        let n = p.data_blocks();
        if n > 0 {
            p.blkaddr = u32::try_from(next).map_err(|_| ErofsError::TooLarge)?;
            next += n;
        }
    }
    let total_blocks = u32::try_from(next).map_err(|_| ErofsError::TooLarge)?;
    Ok(Plan { inodes, build_time, meta_blocks, total_blocks })
}

/// Breadth-first from the root: the order inodes are numbered in, and each directory's sorted
/// entries (with `.` and `..`; a directory reachable twice keeps its first parent).
fn walk(tree: &Tree) -> Result<(Vec<NodeId>, Vec<Option<DirPlan<'_>>>), ErofsError> {
    const UNSEEN: usize = usize::MAX;
    let mut index_of = vec![UNSEEN; tree.nodes.len()];
    if !matches!(tree.nodes.get(ROOT).map(|n| &n.kind), Some(Kind::Dir(_))) {
        return Err(ErofsError::RootNotADirectory);
    }
    index_of[ROOT] = 0;
    let mut order = vec![ROOT];
    let mut parent = vec![0usize];
    let mut dirs = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let Kind::Dir(children) = &tree.nodes[order[i]].kind else {
            dirs.push(None);
            i += 1;
            continue;
        };
        let mut entries = Vec::with_capacity(children.len() + 2);
        for (name, &child) in children {
            check_name(name)?;
            if child >= tree.nodes.len() {
                return Err(ErofsError::DanglingEntry { name: lossy(name), node: child });
            }
            if index_of[child] == UNSEEN {
                index_of[child] = order.len();
                order.push(child);
                parent.push(i);
            }
            entries.push(DirEntry { name, target: index_of[child] });
        }
        entries.push(DirEntry { name: b".", target: i });
        entries.push(DirEntry { name: b"..", target: parent[i] });
        // Children come sorted from the map; this only moves the dot entries into place.
        entries.sort_by(|a, b| a.name.cmp(b.name));
        dirs.push(Some(DirPlan::new(entries)));
        i += 1;
    }
    Ok((order, dirs))
}

fn check_name(name: &[u8]) -> Result<(), ErofsError> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name == b"."
        || name == b".."
        || name.iter().any(|&b| b == b'/' || b == 0);
    if bad {
        return Err(ErofsError::InvalidName(lossy(name)));
    }
    Ok(())
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn describe<'t>(tree: &'t Tree, id: NodeId, nlink: u32, dir: Option<DirPlan<'t>>) -> Result<Planned<'t>, ErofsError> {
    let node = &tree.nodes[id];
    let mut rdev = 0;
    let (file_type, content) = match (&node.kind, dir) {
        (Kind::Dir(_), Some(plan)) => (FileType::Directory, Content::Dir(plan)),
        (Kind::Dir(_), None) => unreachable!("walk plans every directory it numbers"),
        (Kind::File(data), _) => (FileType::Regular, Content::Bytes(data)),
        (Kind::Symlink(target), _) => (FileType::Symlink, Content::Bytes(target)),
        (Kind::CharDev { major, minor }, _) | (Kind::BlockDev { major, minor }, _) => {
            rdev = encode_dev(*major, *minor).ok_or(ErofsError::DeviceNumber { major: *major, minor: *minor })?;
            let t =
                if matches!(node.kind, Kind::CharDev { .. }) { FileType::CharDevice } else { FileType::BlockDevice };
            (t, Content::None)
        }
        (Kind::Fifo, _) => (FileType::Fifo, Content::None),
        (Kind::Socket, _) => (FileType::Socket, Content::None),
    };
    let size = match &content {
        Content::Bytes(b) => b.len() as u64,
        Content::Dir(d) => d.size,
        Content::None => 0,
    };
    let enc = xattr::encode(&node.meta.xattrs);
    for problem in &enc.skipped {
        match problem {
            XattrProblem::UnsupportedName(n) => log::warn!("erofs: dropping xattr {:?}: name not storable", lossy(n)),
            XattrProblem::ValueTooLarge(n) => log::warn!("erofs: dropping xattr {:?}: value over 64 KiB", lossy(n)),
        }
    }
    let xattr_icount = enc.icount().ok_or(ErofsError::XattrsTooLarge(enc.bytes.len()))?;
    Ok(Planned {
        node,
        file_type,
        nlink,
        xattrs: enc.bytes,
        xattr_icount,
        content,
        size,
        rdev,
        extended: false,
        layout: DataLayout::FlatPlain,
        nid: 0,
        blkaddr: u32::MAX,
    })
}

/// The mtime most inodes share (ties: the earliest) becomes the superblock build time, so that
/// those inodes can be compact.
fn most_common_mtime(inodes: &[Planned]) -> (i64, u32) {
    let mut counts: HashMap<(i64, u32), usize> = HashMap::new();
    for p in inodes {
        *counts.entry((p.node.meta.mtime, p.node.meta.mtime_nsec)).or_default() += 1;
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map_or((0, 0), |(t, _)| t)
}

/// Assigns nids in plan order and picks each inode's data layout. Returns the end offset of
/// the inode area.
///
/// Every record (inode, xattrs, inline tail) of at most a block is kept inside one block; the
/// kernel requires that of inline data and it keeps inodes whole. Inline tails are used when
/// they fit the current block; when they would not, the tail is inlined anyway (starting a
/// fresh block) only if that wastes less than the unused rest of a separate data block.
fn place_inodes(inodes: &mut [Planned]) -> u64 {
    let mut pos = (SUPER_OFFSET + SUPER_SIZE) as u64;
    for p in inodes.iter_mut() {
        pos = pos.next_multiple_of(INODE_SLOT);
        let room = BLOCK_SIZE - pos % BLOCK_SIZE;
        let fixed = p.fixed_len();
        let tail = p.size % BLOCK_SIZE;
        p.layout = DataLayout::FlatPlain;
        if p.has_data() && tail > 0 && fixed + tail <= BLOCK_SIZE {
            let fits_here = fixed + tail <= room;
            let padding_is_cheaper = room < BLOCK_SIZE - tail;
            if fits_here || padding_is_cheaper {
                p.layout = DataLayout::FlatInline;
            }
        }
        let record = fixed + p.inline_len() as u64;
        if record <= BLOCK_SIZE && record > room {
            pos = pos.next_multiple_of(BLOCK_SIZE);
        }
        p.nid = pos / INODE_SLOT;
        pos += record;
    }
    pos
}
