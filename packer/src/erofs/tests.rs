//! Whole-image tests: build trees in memory, write images and check them with Debian's
//! erofs-utils (`fsck.erofs`, its `--extract`, `dump.erofs`) and, in ignored tests that need
//! root, with the host kernel's own erofs driver through a loop mount.

use super::{write_image, write_image_to, ErofsError};
use crate::tree::{Kind, Meta, Node, NodeId, Tree, ROOT};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The mtime most nodes get (so most inodes are compact).
const T0: i64 = 1_700_000_000;

// ---- building trees ----

fn meta(mode: u32) -> Meta {
    Meta { mode, mtime: T0, ..Meta::default() }
}

fn add(tree: &mut Tree, parent: NodeId, name: &[u8], kind: Kind, meta: Meta) -> NodeId {
    let id = tree.add(Node { meta, kind });
    link(tree, parent, name, id);
    id
}

fn link(tree: &mut Tree, parent: NodeId, name: &[u8], id: NodeId) {
    match &mut tree.node_mut(parent).kind {
        Kind::Dir(entries) => {
            entries.insert(name.to_vec(), id);
        }
        _ => panic!("test bug: parent is not a directory"),
    }
}

fn dir(tree: &mut Tree, parent: NodeId, name: &[u8]) -> NodeId {
    add(tree, parent, name, Kind::Dir(BTreeMap::new()), meta(0o755))
}

fn file(tree: &mut Tree, parent: NodeId, name: &[u8], data: Vec<u8>) -> NodeId {
    add(tree, parent, name, Kind::File(data), meta(0o644))
}

/// Deterministic bytes that do not repeat block to block.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every kind of node, odd names, hardlinks, special mode bits, big ids, xattrs, deep nesting.
fn mixed_tree() -> Tree {
    let mut t = Tree::new();
    t.node_mut(ROOT).meta = meta(0o755);
    file(&mut t, ROOT, b"empty", Vec::new());
    file(&mut t, ROOT, b"one", b"1".to_vec());
    for (i, len) in [4095usize, 4096, 4097, 8192, 3 * 1024 * 1024 + 123].into_iter().enumerate() {
        file(&mut t, ROOT, format!("f{len}").as_bytes(), noise(len, i as u64 + 1));
    }
    file(&mut t, ROOT, b"big", noise(10 << 20, 99));

    let bin = dir(&mut t, ROOT, b"bin");
    add(&mut t, bin, b"su", Kind::File(b"#!/bin/sh\n".to_vec()), meta(0o4755));
    let sgid = Meta { gid: 50, ..meta(0o2755) };
    add(&mut t, bin, b"sgid", Kind::File(noise(5000, 3)), sgid);
    add(&mut t, ROOT, b"tmp", Kind::Dir(BTreeMap::new()), meta(0o1777));
    let owner = Meta { uid: 100_000, gid: 200_000, ..meta(0o600) };
    add(&mut t, ROOT, b"owner", Kind::File(b"mine".to_vec()), owner);
    let late = Meta { mtime: 0x1_0000_0000, mtime_nsec: 123_456_789, ..meta(0o644) };
    add(&mut t, ROOT, b"late", Kind::File(b"after 2106".to_vec()), late);
    let early = Meta { mtime: 86_400, ..meta(0o644) };
    add(&mut t, ROOT, b"early", Kind::File(Vec::new()), early);

    add(&mut t, ROOT, b"link", Kind::Symlink(b"one".to_vec()), meta(0o777));
    add(&mut t, ROOT, b"abs", Kind::Symlink(b"/bin/su".to_vec()), meta(0o777));
    add(&mut t, ROOT, b"dangling", Kind::Symlink(b"nowhere/at/all".to_vec()), meta(0o777));
    let long_target: Vec<u8> = b"d/".iter().copied().cycle().take(4000).collect();
    add(&mut t, ROOT, b"longlink", Kind::Symlink(long_target), meta(0o777));

    let dev = dir(&mut t, ROOT, b"dev");
    add(&mut t, dev, b"null", Kind::CharDev { major: 1, minor: 3 }, meta(0o666));
    add(&mut t, dev, b"sda", Kind::BlockDev { major: 8, minor: 0 }, meta(0o660));
    add(&mut t, dev, b"wide", Kind::CharDev { major: 511, minor: 0x12345 }, meta(0o600));
    add(&mut t, dev, b"fifo", Kind::Fifo, meta(0o644));
    add(&mut t, dev, b"whiteout", Kind::CharDev { major: 0, minor: 0 }, meta(0o000));
    add(&mut t, dev, b"sock", Kind::Socket, meta(0o755));

    let hard = file(&mut t, ROOT, b"hard1", b"shared content".to_vec());
    let sub = dir(&mut t, ROOT, b"sub");
    link(&mut t, sub, b"hard2", hard);
    link(&mut t, ROOT, b"hard3", hard);
    let big_hard = file(&mut t, sub, b"bighard", noise(70_000, 5));
    link(&mut t, ROOT, b"bighard", big_hard);

    let mut caps = meta(0o755);
    let cap_value = [1u8, 0, 0, 2, 0x20, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    caps.xattrs.insert(b"security.capability".to_vec(), cap_value.to_vec());
    caps.xattrs.insert(b"user.comment".to_vec(), b"pings".to_vec());
    caps.xattrs.insert(b"trusted.tag".to_vec(), Vec::new());
    add(&mut t, bin, b"ping", Kind::File(noise(6000, 7)), caps);
    let mut opaque = meta(0o755);
    opaque.xattrs.insert(b"trusted.overlay.opaque".to_vec(), b"y".to_vec());
    add(&mut t, ROOT, b"opaque", Kind::Dir(BTreeMap::new()), opaque);
    let mut many = meta(0o644);
    for i in 0..100 {
        many.xattrs.insert(format!("user.attr{i:03}").into_bytes(), noise(100, i));
    }
    many.xattrs.insert(b"user.large".to_vec(), noise(3000, 11));
    add(&mut t, ROOT, b"manyxattrs", Kind::File(noise(100, 8)), many);
    let mut sym_x = meta(0o777);
    sym_x.xattrs.insert(b"user.on_symlink".to_vec(), b"no".to_vec()); // user.* on symlinks: kernel refuses to read
    add(&mut t, ROOT, b"xlink", Kind::Symlink(b"one".to_vec()), sym_x);

    dir(&mut t, ROOT, b"emptydir");
    let mut d = ROOT;
    for depth in 0..60 {
        d = dir(&mut t, d, format!("level{depth}").as_bytes());
    }
    file(&mut t, d, b"leaf", b"deep".to_vec());

    let odd = dir(&mut t, ROOT, b"odd");
    let names: Vec<Vec<u8>> = vec![
        b"with space".to_vec(),
        b"new\nline".to_vec(),
        vec![0xff, 0xfe, 0x80],
        b"-dash".to_vec(), // sorts before "."
        b"!bang".to_vec(),
        b".-".to_vec(), // between "." and ".."
        b"...".to_vec(),
        b".hidden".to_vec(),
        b"~tilde".to_vec(),
        "\u{e9}t\u{e9}".as_bytes().to_vec(),
        b"\x01ctrl".to_vec(),
        vec![b'n'; 255],
        vec![b'm'; 254],
    ];
    for (i, n) in names.iter().enumerate() {
        file(&mut t, odd, n, format!("odd {i}").into_bytes());
    }
    let wide = dir(&mut t, ROOT, b"widedir");
    for i in 0..300 {
        let mut name = format!("{i:04}-").into_bytes();
        name.resize(200, b'w');
        file(&mut t, wide, &name, noise(i, i as u64));
    }
    t
}

fn big_dir_tree(entries: usize) -> Tree {
    let mut t = Tree::new();
    let big = dir(&mut t, ROOT, b"big");
    for i in 0..entries {
        let name = format!("entry-{i}-{}", "x".repeat(i % 200));
        file(&mut t, big, name.as_bytes(), format!("{i}").into_bytes());
    }
    t
}

// ---- running the tools ----

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("erofs-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_to(tree: &Tree, scratch: &Scratch) -> PathBuf {
    let image = write_image(tree).expect("image");
    assert_eq!(image.len() % 4096, 0);
    let path = scratch.0.join("root.erofs");
    std::fs::write(&path, image).unwrap();
    path
}

/// Runs an erofs-utils tool; it must exit 0 and print no `<E>` error (fsck.erofs 1.5 exits 0
/// even on a bad superblock checksum, so the exit code alone proves nothing).
fn run_tool(tool: &str, args: &[&OsStr]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{tool} {args:?} failed: {stdout}{stderr}");
    assert!(!stdout.contains("<E>") && !stderr.contains("<E>"), "{tool} {args:?} reported: {stdout}{stderr}");
    stdout
}

fn fsck_and_extract(image: &Path, scratch: &Scratch) -> PathBuf {
    run_tool("fsck.erofs", &[image.as_os_str()]);
    let out = scratch.0.join("extracted");
    let mut arg = std::ffi::OsString::from("--extract=");
    arg.push(&out);
    run_tool("fsck.erofs", &[arg.as_os_str(), OsStr::new("--preserve"), image.as_os_str()]);
    out
}

struct Dumped {
    nid: u64,
    links: u32,
    access: u32,
    inode_size: u32,
    xattr_size: u32,
    layout: u32,
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let at = text.find(key).unwrap_or_else(|| panic!("no {key} in {text}")) + key.len();
    text[at..].split_whitespace().next().unwrap()
}

fn dump_path(image: &Path, path: &str) -> Dumped {
    let arg = format!("--path={path}");
    let text = run_tool("dump.erofs", &[OsStr::new(&arg), image.as_os_str()]);
    Dumped {
        nid: field(&text, "NID:").parse().unwrap(),
        links: field(&text, "Links:").parse().unwrap(),
        access: u32::from_str_radix(field(&text, "Access:").split('/').next().unwrap(), 8).unwrap(),
        inode_size: field(&text, "Inode size:").parse().unwrap(),
        xattr_size: field(&text, "Xattr size:").parse().unwrap(),
        layout: field(&text, "Layout:").parse().unwrap(),
    }
}

// ---- comparing a tree with a filesystem on the host ----

/// Every reachable path with its node, parents before children.
fn paths(tree: &Tree) -> Vec<(Vec<u8>, NodeId)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), ROOT)];
    while let Some((path, id)) = stack.pop() {
        for (name, child) in tree.children(id) {
            let mut p = path.clone();
            p.push(b'/');
            p.extend_from_slice(name);
            stack.push((p.clone(), child));
        }
        out.push((path, id));
    }
    out
}

/// glibc's `makedev`, which is what `st_rdev` holds on the host.
fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (u64::from(major), u64::from(minor));
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}

#[derive(Clone, Copy)]
struct Strictness {
    /// fsck.erofs 1.5 extraction drops setuid/setgid/sticky and splits hardlinks; the kernel keeps them.
    special_bits_and_links: bool,
    /// Directory and symlink mtimes change while fsck extracts into them.
    dir_and_symlink_mtime: bool,
}

fn compare(tree: &Tree, root: &Path, strict: Strictness) {
    let links = tree.link_counts();
    let mut inode_of: HashMap<NodeId, u64> = HashMap::new();
    for (path, id) in paths(tree) {
        let host = root.join(OsStr::from_bytes(path.strip_prefix(b"/").unwrap_or(&path)));
        let node = tree.node(id);
        let st = std::fs::symlink_metadata(&host).unwrap_or_else(|e| panic!("{host:?}: {e}"));
        let what = format!("{host:?}");
        let ft = st.file_type();
        match &node.kind {
            Kind::Dir(_) => assert!(ft.is_dir(), "{what}"),
            Kind::File(data) => {
                assert!(ft.is_file(), "{what}");
                assert!(std::fs::read(&host).unwrap() == *data, "{what}: content differs");
            }
            Kind::Symlink(target) => {
                assert!(ft.is_symlink(), "{what}");
                assert_eq!(std::fs::read_link(&host).unwrap().as_os_str().as_bytes(), &target[..], "{what}");
            }
            Kind::CharDev { major, minor } => {
                assert!(ft.is_char_device(), "{what}");
                assert_eq!(st.rdev(), makedev(*major, *minor), "{what}");
            }
            Kind::BlockDev { major, minor } => {
                assert!(ft.is_block_device(), "{what}");
                assert_eq!(st.rdev(), makedev(*major, *minor), "{what}");
            }
            Kind::Fifo => assert!(ft.is_fifo(), "{what}"),
            Kind::Socket => assert!(ft.is_socket(), "{what}"),
        }
        let is_link = matches!(node.kind, Kind::Symlink(_));
        let mode_mask = if strict.special_bits_and_links { 0o7777 } else { 0o777 };
        if !is_link {
            assert_eq!(st.mode() & mode_mask, node.meta.mode & mode_mask, "{what}: mode");
        }
        assert_eq!((st.uid(), st.gid()), (node.meta.uid, node.meta.gid), "{what}: owner");
        if strict.dir_and_symlink_mtime || !(ft.is_dir() || is_link) {
            assert_eq!(
                (st.mtime(), st.mtime_nsec()),
                (node.meta.mtime, i64::from(node.meta.mtime_nsec)),
                "{what}: mtime"
            );
        }
        if strict.special_bits_and_links {
            assert_eq!(st.nlink(), u64::from(links[id]), "{what}: nlink");
            let ino = *inode_of.entry(id).or_insert(st.ino());
            assert_eq!(st.ino(), ino, "{what}: hardlinks must share the inode");
        }
    }
}

const EXTRACTED: Strictness = Strictness { special_bits_and_links: false, dir_and_symlink_mtime: false };
const MOUNTED: Strictness = Strictness { special_bits_and_links: true, dir_and_symlink_mtime: true };

// ---- tests with erofs-utils ----

#[test]
fn mixed_tree_survives_fsck_extraction() {
    let tree = mixed_tree();
    let scratch = Scratch::new("mixed");
    let image = write_to(&tree, &scratch);
    let out = fsck_and_extract(&image, &scratch);
    compare(&tree, &out, EXTRACTED);
}

#[test]
fn dump_shows_modes_links_hardlinks_and_xattrs() {
    let tree = mixed_tree();
    let scratch = Scratch::new("dump");
    let image = write_to(&tree, &scratch);
    run_tool("dump.erofs", &[OsStr::new("-s"), image.as_os_str()]);

    // dump.erofs 1.5 prints only the 0o777 bits: read the special bits from the inode it names.
    let bytes = std::fs::read(&image).unwrap();
    let i_mode = |path: &str| {
        let at = dump_path(&image, path).nid as usize * 32 + 4;
        u32::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
    };
    assert_eq!(i_mode("/bin/su"), 0o104755);
    assert_eq!(i_mode("/bin/sgid"), 0o102755);
    assert_eq!(i_mode("/tmp"), 0o041777);
    assert_eq!(i_mode("/dev/sock"), 0o140755);
    assert_eq!(dump_path(&image, "/bin/sgid").access, 0o755);
    assert_eq!(dump_path(&image, "/bin/su").inode_size, 32, "same mtime as most, small ids: compact");
    assert_eq!(dump_path(&image, "/owner").inode_size, 64, "32-bit ids need the extended inode");
    assert_eq!(dump_path(&image, "/late").inode_size, 64, "own mtime needs the extended inode");
    assert_eq!(dump_path(&image, "/big").layout, 0, "10 MiB is a whole number of blocks");
    assert_eq!(dump_path(&image, "/one").layout, 2, "small files are inline");

    let hard = [dump_path(&image, "/hard1"), dump_path(&image, "/sub/hard2"), dump_path(&image, "/hard3")];
    assert!(hard.iter().all(|d| d.nid == hard[0].nid && d.links == 3));
    assert_eq!(dump_path(&image, "/bighard").nid, dump_path(&image, "/sub/bighard").nid);
    assert_eq!(dump_path(&image, "/").links, 2 + 9, "root: . and .. plus one per subdirectory");
    assert_eq!(dump_path(&image, "/emptydir").links, 2);

    // security.capability: 4-byte entry header + "capability" + 20 bytes = 34 -> 36; user.comment:
    // 4 + 7 + 5 = 16; trusted.tag: 4 + 3 -> 8; plus the 12-byte header.
    assert_eq!(dump_path(&image, "/bin/ping").xattr_size, 12 + 36 + 16 + 8);
    assert_eq!(dump_path(&image, "/opaque").xattr_size, 12 + 4 + 16);
    assert_eq!(dump_path(&image, "/one").xattr_size, 0);
}

#[test]
fn directory_of_5000_entries_survives_fsck_extraction() {
    let tree = big_dir_tree(5000);
    let scratch = Scratch::new("bigdir");
    let image = write_to(&tree, &scratch);
    let out = fsck_and_extract(&image, &scratch);
    compare(&tree, &out, EXTRACTED);
    assert_eq!(std::fs::read_dir(out.join("big")).unwrap().count(), 5000);
}

#[test]
fn empty_root_is_a_valid_image() {
    let tree = Tree::new();
    let scratch = Scratch::new("empty");
    let image = write_to(&tree, &scratch);
    assert_eq!(std::fs::metadata(&image).unwrap().len(), 4096, "one block: superblock and root inline");
    let out = fsck_and_extract(&image, &scratch);
    compare(&tree, &out, EXTRACTED);
}

#[test]
fn a_corrupted_superblock_is_caught_by_its_checksum() {
    let scratch = Scratch::new("csum");
    let mut image = write_image(&mixed_tree()).unwrap();
    let path = scratch.0.join("bad.erofs");
    image[1024 + 64] ^= 1; // volume name: only the checksum covers it
    std::fs::write(&path, &image).unwrap();
    let out = Command::new("fsck.erofs").arg(&path).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("chksum"), "fsck.erofs did not notice");
}

// ---- properties of the writer itself ----

#[test]
fn output_is_deterministic_and_streaming_matches() {
    let tree = mixed_tree();
    let a = write_image(&tree).unwrap();
    let b = write_image(&tree.clone()).unwrap();
    assert!(a == b);
    let mut streamed = Vec::new();
    let size = write_image_to(&tree, &mut streamed).unwrap();
    assert_eq!(size, a.len() as u64);
    assert!(streamed == a);
}

#[test]
fn small_files_cost_no_data_blocks() {
    let mut tree = Tree::new();
    for i in 0..1000 {
        file(&mut tree, ROOT, format!("f{i}").as_bytes(), noise(100, i));
    }
    let image = write_image(&tree).unwrap();
    // 1000 records of a 32-byte inode and 100 bytes, each rounded to 160 bytes (25 per block),
    // plus the root directory's 4 blocks and block 0: about 45 blocks, not 1000+.
    assert!(image.len() <= 46 * 4096, "{} bytes", image.len());
}

#[test]
fn unreachable_nodes_are_left_out() {
    let mut tree = Tree::new();
    let gone = file(&mut tree, ROOT, b"gone", noise(1 << 20, 1));
    let kept = write_image(&tree).unwrap().len();
    match &mut tree.node_mut(ROOT).kind {
        Kind::Dir(m) => m.clear(),
        _ => unreachable!(),
    }
    assert!(tree.nodes.len() > gone);
    assert!(write_image(&tree).unwrap().len() <= kept - (1 << 20));
}

#[test]
fn bad_trees_are_refused() {
    let mut tree = Tree::new();
    file(&mut tree, ROOT, b"a/b", Vec::new());
    assert!(matches!(write_image(&tree), Err(ErofsError::InvalidName(_))));

    let mut tree = Tree::new();
    file(&mut tree, ROOT, &[b'x'; 256], Vec::new());
    assert!(matches!(write_image(&tree), Err(ErofsError::InvalidName(_))));

    let mut tree = Tree::new();
    file(&mut tree, ROOT, b"..", Vec::new());
    assert!(matches!(write_image(&tree), Err(ErofsError::InvalidName(_))));

    let mut tree = Tree::new();
    add(&mut tree, ROOT, b"dev", Kind::CharDev { major: 4096, minor: 0 }, meta(0o600));
    assert!(matches!(write_image(&tree), Err(ErofsError::DeviceNumber { .. })));

    let mut tree = Tree::new();
    link(&mut tree, ROOT, b"ghost", 42);
    assert!(matches!(write_image(&tree), Err(ErofsError::DanglingEntry { .. })));

    let tree = Tree { nodes: vec![Node { meta: meta(0o755), kind: Kind::File(Vec::new()) }] };
    assert!(matches!(write_image(&tree), Err(ErofsError::RootNotADirectory)));
}

#[test]
fn unstorable_xattrs_are_dropped_not_fatal() {
    let mut tree = Tree::new();
    let mut m = meta(0o644);
    m.xattrs.insert(b"system.nfs4_acl".to_vec(), b"x".to_vec());
    m.xattrs.insert(b"user.ok".to_vec(), b"y".to_vec());
    add(&mut tree, ROOT, b"f", Kind::File(Vec::new()), m);
    let scratch = Scratch::new("dropx");
    let image = write_to(&tree, &scratch);
    assert_eq!(dump_path(&image, "/f").xattr_size, 12 + 8);
}

// ---- the real kernel (needs root and loop devices: `cargo test -p packer erofs -- --ignored`) ----

struct Mount(PathBuf);

impl Mount {
    fn new(image: &Path, at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let status = Command::new("mount").args(["-t", "erofs", "-o", "loop,ro"]).arg(image).arg(&at).status().unwrap();
        assert!(status.success(), "mount failed");
        Self(at)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Reads every xattr under `root` through the kernel (python's os.listxattr/getxattr), as
/// (relative path bytes, name, value) in hex.
fn kernel_xattrs(root: &Path) -> Vec<(String, String, String)> {
    let script = r#"
import os, sys
root = os.fsencode(sys.argv[1])
def walk():
    yield root
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            yield os.path.join(d, n)
for p in walk():
    for a in os.listxattr(p, follow_symlinks=False):
        try:
            v = os.getxattr(p, a, follow_symlinks=False)
        except OSError:
            continue  # listed but not readable, like user.* on a symlink
        print(os.path.relpath(p, root).hex(), a.encode().hex(), v.hex())
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split(' ').map(str::to_owned);
            (f.next().unwrap(), f.next().unwrap(), f.next().unwrap_or_default())
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn expected_xattrs(tree: &Tree) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, id) in paths(tree) {
        let rel = if path.is_empty() { b".".to_vec() } else { path[1..].to_vec() };
        let node = tree.node(id);
        for (name, value) in &node.meta.xattrs {
            // The kernel keeps user.* to regular files and directories; system.nfs4_acl cannot be stored.
            let user_on_special = name.starts_with(b"user.") && !matches!(node.kind, Kind::File(_) | Kind::Dir(_));
            if !user_on_special && !name.starts_with(b"system.nfs4") {
                out.push((hex(&rel), hex(name), hex(value)));
            }
        }
    }
    out
}

#[test]
#[ignore = "needs root and loop devices"]
fn kernel_mounts_mixed_tree() {
    let tree = mixed_tree();
    let scratch = Scratch::new("mount");
    let image = write_to(&tree, &scratch);
    let mnt = Mount::new(&image, scratch.0.join("mnt"));
    compare(&tree, &mnt.0, MOUNTED);
    let mut got = kernel_xattrs(&mnt.0);
    let mut want = expected_xattrs(&tree);
    got.sort();
    want.sort();
    if got != want {
        let missing: Vec<_> = want.iter().filter(|x| !got.contains(x)).map(|x| (&x.0, &x.1)).collect();
        let extra: Vec<_> = got.iter().filter(|x| !want.contains(x)).map(|x| (&x.0, &x.1)).collect();
        panic!(
            "xattrs (hex path, name) differ: missing {missing:?}, extra {extra:?}, counts {} vs {}",
            got.len(),
            want.len()
        );
    }
}

#[test]
#[ignore = "needs root and loop devices"]
fn kernel_looks_up_every_name_of_a_huge_directory() {
    let tree = big_dir_tree(5000);
    let scratch = Scratch::new("mountbig");
    let image = write_to(&tree, &scratch);
    let mnt = Mount::new(&image, scratch.0.join("mnt"));
    // compare() stats every path: one binary search in the directory per name.
    compare(&tree, &mnt.0, MOUNTED);
    let listed = std::fs::read_dir(mnt.0.join("big")).unwrap().count();
    assert_eq!(listed, 5000);
}
