//! The in-memory filesystem tree that layers are applied to and the root image is written from.
//!
//! Nodes live in an arena and directories map names to node ids, so a hardlink is simply two
//! directory entries naming the same node. Names are raw bytes (tar and Linux allow any byte
//! but `/` and NUL). Node 0 is the root directory.

use std::collections::BTreeMap;

pub type NodeId = usize;
pub const ROOT: NodeId = 0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits including setuid/setgid/sticky (`0o7777`); the file type is in the kind.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Extended attributes, full names (`user.foo`, `security.capability`, ...).
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Default for Meta {
    fn default() -> Self {
        Self { mode: 0o755, uid: 0, gid: 0, mtime: 0, mtime_nsec: 0, xattrs: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir(BTreeMap<Vec<u8>, NodeId>),
    File(Vec<u8>),
    Symlink(Vec<u8>),
    CharDev { major: u32, minor: u32 },
    BlockDev { major: u32, minor: u32 },
    Fifo,
    Socket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub meta: Meta,
    pub kind: Kind,
}

/// The tree. Nodes that are no longer reachable (deleted by a whiteout, replaced) stay in the
/// arena; writers walk from [`ROOT`] and only see what is reachable.
#[derive(Debug, Clone)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    pub fn new() -> Self {
        Self { nodes: vec![Node { meta: Meta::default(), kind: Kind::Dir(BTreeMap::new()) }] }
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id]
    }

    pub fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Entries of a directory node (empty for non-directories).
    pub fn children(&self, dir: NodeId) -> impl Iterator<Item = (&[u8], NodeId)> {
        let map = match &self.nodes[dir].kind {
            Kind::Dir(m) => Some(m),
            _ => None,
        };
        map.into_iter().flat_map(|m| m.iter().map(|(k, v)| (k.as_slice(), *v)))
    }

    /// Link counts of every node reachable from the root: directories count `.`, `..` of
    /// each subdirectory and their entry in the parent, others count their directory entries.
    pub fn link_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.nodes.len()];
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![ROOT];
        counts[ROOT] = 2; // its own "." and ".." (the root is its own parent)
        seen[ROOT] = true;
        while let Some(dir) = stack.pop() {
            for (_, child) in self.children(dir) {
                counts[child] += 1;
                if let Kind::Dir(_) = self.nodes[child].kind {
                    counts[dir] += 1; // the child's ".."
                    counts[child] += 1; // the child's "."
                    if !seen[child] {
                        seen[child] = true;
                        stack.push(child);
                    }
                }
            }
        }
        counts
    }
}
