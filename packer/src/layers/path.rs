//! Container paths inside the in-memory tree: lexical cleaning of tar entry names and lookups
//! that follow symlinks the way the container would see them, always confined to the image
//! root (a `..` or an absolute symlink target never leaves it). Nothing here touches the host
//! filesystem.

use std::collections::BTreeMap;

use crate::tree::{Kind, Meta, Node, NodeId, Tree, ROOT};

/// Symlinks followed while resolving one path before giving up (Linux uses 40 too).
const MAX_SYMLINK_HOPS: u32 = 40;

/// Splits a tar entry name into its components: leading `/` and `./` dropped, empty and `.`
/// components skipped, `..` resolved lexically and clamped at the root.
pub fn clean(name: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c.to_vec()),
        }
    }
    out
}

/// Why a path could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkError {
    /// A component does not exist (and was not to be created).
    Missing,
    /// A component is neither a directory nor a symlink to one.
    NotDir(String),
    TooManySymlinks,
}

/// Resolves `comps` to a directory, following symlinks at every component. With `create`,
/// missing directories are made (mode 0755, root-owned: what `mkdir -p` during extraction
/// gives). Every entry passed through, found or made, is reported to `visit` as
/// `(parent, name)`.
pub fn resolve_dir(
    tree: &mut Tree,
    comps: &[Vec<u8>],
    create: bool,
    visit: &mut dyn FnMut(NodeId, &[u8]),
) -> Result<NodeId, WalkError> {
    let mut stack = vec![ROOT];
    let mut hops = 0;
    let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
    walk(tree, &mut stack, &comps, create, visit, &mut hops)?;
    Ok(*stack.last().unwrap_or(&ROOT))
}

/// Looks up an entry by path without following a symlink in the last component (what a tar
/// hardlink or a whiteout names). Returns `(parent, node)`.
pub fn lookup_nofollow(tree: &mut Tree, comps: &[Vec<u8>]) -> Result<(NodeId, NodeId), WalkError> {
    let (name, parents) = comps.split_last().ok_or(WalkError::Missing)?;
    let parent = resolve_dir(tree, parents, false, &mut |_, _| {})?;
    let child = child(tree, parent, name).ok_or(WalkError::Missing)?;
    Ok((parent, child))
}

pub fn child(tree: &Tree, dir: NodeId, name: &[u8]) -> Option<NodeId> {
    match &tree.node(dir).kind {
        Kind::Dir(entries) => entries.get(name).copied(),
        _ => None,
    }
}

/// Walks `comps` starting at the directory on top of `stack` (the stack holds the chain of
/// directories from the root, so `..` can step back up through symlink targets).
fn walk(
    tree: &mut Tree,
    stack: &mut Vec<NodeId>,
    comps: &[&[u8]],
    create: bool,
    visit: &mut dyn FnMut(NodeId, &[u8]),
    hops: &mut u32,
) -> Result<(), WalkError> {
    for &comp in comps {
        match comp {
            b"" | b"." => continue,
            b".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let dir = *stack.last().unwrap_or(&ROOT);
        let next = match child(tree, dir, comp) {
            Some(id) => id,
            None if create => {
                let id = tree.add(Node { meta: Meta::default(), kind: Kind::Dir(BTreeMap::new()) });
                if let Kind::Dir(entries) = &mut tree.node_mut(dir).kind {
                    entries.insert(comp.to_vec(), id);
                }
                id
            }
            None => return Err(WalkError::Missing),
        };
        visit(dir, comp);
        match &tree.node(next).kind {
            Kind::Dir(_) => stack.push(next),
            Kind::Symlink(target) => {
                *hops += 1;
                if *hops > MAX_SYMLINK_HOPS {
                    return Err(WalkError::TooManySymlinks);
                }
                let target = target.clone();
                if target.starts_with(b"/") {
                    stack.truncate(1);
                }
                let parts: Vec<&[u8]> = target.split(|&b| b == b'/').collect();
                walk(tree, stack, &parts, create, visit, hops)?;
            }
            _ => return Err(WalkError::NotDir(String::from_utf8_lossy(comp).into_owned())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(tree: &mut Tree, dir: NodeId, name: &str, kind: Kind) -> NodeId {
        let id = tree.add(Node { meta: Meta::default(), kind });
        if let Kind::Dir(m) = &mut tree.node_mut(dir).kind {
            m.insert(name.as_bytes().to_vec(), id);
        }
        id
    }

    #[test]
    fn clean_strips_prefixes_and_clamps_dotdot() {
        assert_eq!(clean(b"./a/b"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(clean(b"/a//./b/"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(clean(b"../../etc/passwd"), vec![b"etc".to_vec(), b"passwd".to_vec()]);
        assert_eq!(clean(b"a/../../b"), vec![b"b".to_vec()]);
        assert!(clean(b"./").is_empty());
    }

    #[test]
    fn symlinks_are_followed_inside_the_root_only() {
        let mut t = Tree::new();
        let etc = add(&mut t, ROOT, "etc", Kind::Dir(BTreeMap::new()));
        add(&mut t, ROOT, "abs", Kind::Symlink(b"/../../etc".to_vec()));
        add(&mut t, ROOT, "rel", Kind::Symlink(b"../../../etc".to_vec()));
        let comps = clean(b"abs");
        assert_eq!(resolve_dir(&mut t, &comps, false, &mut |_, _| {}), Ok(etc));
        let comps = clean(b"rel");
        assert_eq!(resolve_dir(&mut t, &comps, false, &mut |_, _| {}), Ok(etc));
    }

    #[test]
    fn symlink_loops_are_refused() {
        let mut t = Tree::new();
        add(&mut t, ROOT, "a", Kind::Symlink(b"b".to_vec()));
        add(&mut t, ROOT, "b", Kind::Symlink(b"a".to_vec()));
        assert_eq!(resolve_dir(&mut t, &clean(b"a/x"), true, &mut |_, _| {}), Err(WalkError::TooManySymlinks));
    }

    #[test]
    fn missing_dirs_are_created_on_request() {
        let mut t = Tree::new();
        let mut seen = Vec::new();
        let d = resolve_dir(&mut t, &clean(b"x/y"), true, &mut |p, n| seen.push((p, n.to_vec()))).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(t.nodes.len(), 3);
        assert!(matches!(t.node(d).kind, Kind::Dir(_)));
        assert_eq!(resolve_dir(&mut t, &clean(b"q"), false, &mut |_, _| {}), Err(WalkError::Missing));
    }

    #[test]
    fn a_file_in_the_middle_is_not_a_directory() {
        let mut t = Tree::new();
        add(&mut t, ROOT, "f", Kind::File(vec![]));
        assert_eq!(resolve_dir(&mut t, &clean(b"f/x"), true, &mut |_, _| {}), Err(WalkError::NotDir("f".into())));
    }
}
