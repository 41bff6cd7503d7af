//! Layer rules, each on small tar streams built here.

use std::io::Write;

use super::*;

/// Builds a tar stream entry by entry.
struct TarBuf(tar::Builder<Vec<u8>>);

impl TarBuf {
    fn new() -> Self {
        Self(tar::Builder::new(Vec::new()))
    }

    fn header(path: &str, ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        // Raw name bytes, so tests can put `..` and other hostile names in.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        h
    }

    fn file(mut self, path: &str, data: &[u8]) -> Self {
        self.file_mode(path, data, 0o644);
        self
    }

    fn file_mode(&mut self, path: &str, data: &[u8], mode: u32) {
        let h = Self::header(path, tar::EntryType::Regular, mode, data.len() as u64);
        self.0.append(&h, data).unwrap();
    }

    fn dir(mut self, path: &str, mode: u32) -> Self {
        let h = Self::header(path, tar::EntryType::Directory, mode, 0);
        self.0.append(&h, &[][..]).unwrap();
        self
    }

    fn link(mut self, ty: tar::EntryType, path: &str, target: &str) -> Self {
        let mut h = Self::header(path, ty, 0o777, 0);
        h.set_link_name_literal(target).unwrap();
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }

    fn symlink(self, path: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, path, target)
    }

    fn hardlink(self, path: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, path, target)
    }

    fn device(mut self, path: &str, ty: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(path, ty, 0o666, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }

    /// A PAX extended header for the next entry: records of `"<len> <key>=<value>\n"`, where
    /// len counts the whole record including its own digits.
    fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (key, value) in records {
            let rest = key.len() + value.len() + 3; // space, '=', newline
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend(format!("{len} {key}=").as_bytes());
            data.extend(*value);
            data.push(b'\n');
        }
        let h = Self::header("PaxHeader", tar::EntryType::XHeader, 0o644, data.len() as u64);
        self.0.append(&h, &data[..]).unwrap();
        self
    }

    /// A GNU sparse file of `real_size` bytes: holes, then `data` at its end.
    fn sparse(mut self, path: &str, real_size: u64, data: &[u8]) -> Self {
        let mut h = Self::header(path, tar::EntryType::GNUSparse, 0o644, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(real_size);
        gnu.sparse[0].set_offset(real_size - data.len() as u64);
        gnu.sparse[0].set_length(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn apply_all(layers: &[Vec<u8>]) -> Result<Tree, LayerError> {
    let mut tree = Tree::new();
    let mut a = Applier::new(&mut tree, Limits::default());
    for l in layers {
        a.apply(&mut &l[..])?;
    }
    Ok(tree)
}

/// The node at `path` (not following a final symlink), if present.
fn get<'t>(tree: &'t mut Tree, path: &str) -> Option<&'t Node> {
    let comps = clean(path.as_bytes());
    if comps.is_empty() {
        return Some(tree.node(ROOT));
    }
    let (_, id) = path::lookup_nofollow(tree, &comps).ok()?;
    Some(tree.node(id))
}

fn content(tree: &mut Tree, path: &str) -> Option<Vec<u8>> {
    match &get(tree, path)?.kind {
        Kind::File(d) => Some(d.clone()),
        _ => None,
    }
}

fn names(tree: &Tree, dir: NodeId) -> Vec<String> {
    tree.children(dir).map(|(n, _)| lossy(n)).collect()
}

#[test]
fn files_dirs_and_modes_land_in_the_tree() {
    let mut tb = TarBuf::new().dir("./bin/", 0o755);
    tb.file_mode("./bin/su", b"elf", 0o4755);
    let mut t = apply_all(&[tb.dir("tmp", 0o1777).bytes()]).unwrap();
    assert_eq!(content(&mut t, "bin/su").unwrap(), b"elf");
    assert_eq!(get(&mut t, "bin/su").unwrap().meta.mode, 0o4755);
    assert_eq!(get(&mut t, "tmp").unwrap().meta.mode, 0o1777);
    assert_eq!(get(&mut t, "bin/su").unwrap().meta.mtime, 1_700_000_000);
}

#[test]
fn missing_parents_are_created() {
    let mut t = apply_all(&[TarBuf::new().file("a/b/c", b"x").bytes()]).unwrap();
    assert_eq!(content(&mut t, "a/b/c").unwrap(), b"x");
    assert!(matches!(get(&mut t, "a/b").unwrap().kind, Kind::Dir(_)));
}

#[test]
fn later_entries_replace_earlier_ones() {
    let lower = TarBuf::new().file("f", b"old").dir("d", 0o700).file("d/x", b"1").file("g", b"file").bytes();
    let upper = TarBuf::new().file("f", b"new").dir("d", 0o755).symlink("g", "f").bytes();
    let mut t = apply_all(&[lower, upper]).unwrap();
    assert_eq!(content(&mut t, "f").unwrap(), b"new");
    // Directory over directory merges: new mode, old contents kept.
    assert_eq!(get(&mut t, "d").unwrap().meta.mode, 0o755);
    assert_eq!(content(&mut t, "d/x").unwrap(), b"1");
    assert_eq!(get(&mut t, "g").unwrap().kind, Kind::Symlink(b"f".to_vec()));
}

#[test]
fn a_file_over_a_directory_replaces_it_whole() {
    let lower = TarBuf::new().dir("d", 0o755).file("d/x", b"1").bytes();
    let upper = TarBuf::new().file("d", b"now a file").bytes();
    let mut t = apply_all(&[lower, upper]).unwrap();
    assert_eq!(content(&mut t, "d").unwrap(), b"now a file");
}

#[test]
fn whiteouts_delete_lower_entries_only() {
    let lower =
        TarBuf::new().file("etc/a", b"a").file("etc/b", b"b").dir("etc/sub", 0o755).file("etc/sub/x", b"").bytes();
    let upper = TarBuf::new()
        .file("etc/.wh.a", b"")
        .file("etc/.wh.sub", b"")
        .file("etc/.wh.nothing", b"")
        .file("etc/new", b"n")
        .file("etc/.wh.new", b"") // same layer: spared
        .bytes();
    let t = apply_all(&[lower, upper]).unwrap();
    let etc = path::child(&t, ROOT, b"etc").unwrap();
    assert_eq!(names(&t, etc), ["b", "new"]);
}

#[test]
fn opaque_dirs_hide_lower_contents_but_keep_this_layers() {
    let lower = TarBuf::new().file("d/old", b"").dir("d/sub", 0o755).file("d/sub/deep", b"").bytes();
    // The marker comes after an entry of its own layer: order inside the layer must not matter.
    let upper = TarBuf::new().file("d/sub/mine", b"").file("d/.wh..wh..opq", b"").file("d/new", b"").bytes();
    let t = apply_all(&[lower, upper]).unwrap();
    let d = path::child(&t, ROOT, b"d").unwrap();
    assert_eq!(names(&t, d), ["new", "sub"]);
    let sub = path::child(&t, d, b"sub").unwrap();
    assert_eq!(names(&t, sub), ["mine"]);
}

#[test]
fn hardlinks_share_a_node() {
    let layer = TarBuf::new().file("bin/busybox", b"bb").hardlink("bin/sh", "./bin/busybox").bytes();
    let mut t = apply_all(&[layer]).unwrap();
    let bin = path::child(&t, ROOT, b"bin").unwrap();
    assert_eq!(path::child(&t, bin, b"sh"), path::child(&t, bin, b"busybox"));
    assert_eq!(content(&mut t, "bin/sh").unwrap(), b"bb");
    let counts = t.link_counts();
    assert_eq!(counts[path::child(&t, bin, b"sh").unwrap()], 2);
}

#[test]
fn hardlink_to_a_lower_layer_file_works_and_missing_target_fails() {
    let lower = TarBuf::new().file("a", b"data").bytes();
    let upper = TarBuf::new().hardlink("b", "a").bytes();
    let mut t = apply_all(&[lower, upper]).unwrap();
    assert_eq!(content(&mut t, "b").unwrap(), b"data");
    let err = apply_all(&[TarBuf::new().hardlink("b", "nope").bytes()]).unwrap_err();
    assert!(matches!(err, LayerError::MissingLinkTarget { .. }), "{err}");
    assert!(err.to_string().contains("\"nope\""), "{err}");
}

#[test]
fn symlinked_parents_are_followed_inside_the_root() {
    // An absolute symlink to "/../.." and `..` entries must land inside the tree.
    let layer = TarBuf::new()
        .symlink("escape", "/../../../")
        .file("escape/etc/owned", b"inside")
        .symlink("lib", "usr/lib")
        .file("lib/libc.so", b"c")
        .file("../../outside", b"clamped")
        .bytes();
    let mut t = apply_all(&[layer]).unwrap();
    assert_eq!(content(&mut t, "etc/owned").unwrap(), b"inside");
    assert_eq!(content(&mut t, "usr/lib/libc.so").unwrap(), b"c");
    assert_eq!(content(&mut t, "outside").unwrap(), b"clamped");
    assert_eq!(get(&mut t, "lib").unwrap().kind, Kind::Symlink(b"usr/lib".to_vec()));
}

#[test]
fn a_file_as_a_parent_is_an_error_naming_the_entry() {
    let err = apply_all(&[TarBuf::new().file("f", b"").file("f/x", b"").bytes()]).unwrap_err();
    assert!(err.to_string().contains("\"f/x\"") && err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn devices_and_fifos() {
    let layer = TarBuf::new()
        .device("dev/null", tar::EntryType::Char, 1, 3)
        .device("dev/sda", tar::EntryType::Block, 8, 0)
        .device("run/fifo", tar::EntryType::Fifo, 0, 0)
        .bytes();
    let mut t = apply_all(&[layer]).unwrap();
    assert_eq!(get(&mut t, "dev/null").unwrap().kind, Kind::CharDev { major: 1, minor: 3 });
    assert_eq!(get(&mut t, "dev/sda").unwrap().kind, Kind::BlockDev { major: 8, minor: 0 });
    assert_eq!(get(&mut t, "run/fifo").unwrap().kind, Kind::Fifo);
}

#[test]
fn pax_xattrs_ids_and_times() {
    let layer = TarBuf::new()
        .pax(&[
            ("SCHILY.xattr.security.capability", &b"\x01\x00\x00\x02"[..]),
            ("SCHILY.xattr.user.note", b"hi"),
            ("uid", b"3000000000"),
            ("mtime", b"1700000000.5"),
        ])
        .file("bin/ping", b"p")
        .bytes();
    let mut t = apply_all(&[layer]).unwrap();
    let meta = &get(&mut t, "bin/ping").unwrap().meta;
    assert_eq!(meta.xattrs.get(&b"security.capability"[..]).unwrap(), b"\x01\x00\x00\x02");
    assert_eq!(meta.xattrs.get(&b"user.note"[..]).unwrap(), b"hi");
    assert_eq!(meta.uid, 3_000_000_000);
    assert_eq!((meta.mtime, meta.mtime_nsec), (1_700_000_000, 500_000_000));
}

#[test]
fn root_entry_sets_root_metadata() {
    let mut t = apply_all(&[TarBuf::new().dir("./", 0o700).bytes()]).unwrap();
    assert_eq!(get(&mut t, "/").unwrap().meta.mode, 0o700);
}

#[test]
fn gzip_multi_member_zstd_and_plain_layers() {
    let tar1 = TarBuf::new().file("a", b"1").bytes();
    // Two gzip members: the tar split across them.
    let (first, second) = tar1.split_at(512);
    let mut multi = gzip(first);
    multi.extend(gzip(second));
    let z = zstd::encode_all(&TarBuf::new().file("b", b"2").bytes()[..], 3).unwrap();
    let plain = TarBuf::new().file("c", b"3").bytes();
    let mut tree = Tree::new();
    let mut a = Applier::new(&mut tree, Limits::default());
    assert_eq!(a.apply(&mut &multi[..]).unwrap().compression, Compression::Gzip);
    assert_eq!(a.apply(&mut &z[..]).unwrap().compression, Compression::Zstd);
    let applied = a.apply(&mut &plain[..]).unwrap();
    assert_eq!(applied.compression, Compression::Plain);
    // The diff id hashes the uncompressed stream.
    assert_eq!(applied.diff_id, <[u8; 32]>::from(Sha256::digest(&plain)));
    assert_eq!(content(&mut tree, "a").unwrap(), b"1");
    assert_eq!(content(&mut tree, "b").unwrap(), b"2");
    assert_eq!(content(&mut tree, "c").unwrap(), b"3");
}

#[test]
fn truncated_gzip_is_a_corrupt_layer() {
    let gz = gzip(&TarBuf::new().file("a", &[7u8; 5000]).bytes());
    let err = apply_all(&[gz[..gz.len() / 2].to_vec()]).unwrap_err();
    assert!(matches!(err, LayerError::Corrupt(_)), "{err}");
    assert!(err.to_string().ends_with("the image is corrupt; fetch or export it again"), "{err}");
}

#[test]
fn xz_is_unsupported_not_corrupt() {
    let err = apply_all(&[vec![0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2]]).unwrap_err();
    assert!(matches!(err, LayerError::Unsupported(_)), "{err}");
    assert!(err.to_string().starts_with("xz-compressed layers are not supported"), "{err}");
}

#[test]
fn an_entry_the_stream_ends_inside_is_named() {
    // A header claiming 1 MiB, 1 KiB of it, and no more stream.
    let mut layer = TarBuf::new().file("a", b"a").bytes();
    layer.truncate(layer.len() - 1024); // drop the end-of-archive blocks
    let mut h = TarBuf::header("big", tar::EntryType::Regular, 0o644, 1 << 20);
    h.set_cksum();
    layer.extend_from_slice(h.as_bytes());
    layer.extend_from_slice(&[1u8; 1024]);
    let err = apply_all(&[layer]).unwrap_err();
    assert!(matches!(&err, LayerError::BadEntry { path, .. } if path == "big"), "{err}");
    assert!(err.to_string().contains("the layer ends after 1024 of its 1048576 bytes"), "{err}");
}

#[test]
fn gnu_sparse_files_unpack_with_their_holes_and_count_them() {
    let layer = TarBuf::new().sparse("var/log/lastlog", 10_000, b"end").bytes();
    let mut t = apply_all(std::slice::from_ref(&layer)).unwrap();
    let data = content(&mut t, "var/log/lastlog").unwrap();
    assert_eq!(data.len(), 10_000);
    assert!(data.ends_with(b"end") && data[..9_997].iter().all(|&b| b == 0));
    // The holes count against the limit before any of them is made.
    let mut tree = Tree::new();
    let huge = TarBuf::new().sparse("huge", 1 << 40, b"end").bytes();
    let err = Applier::new(&mut tree, Limits::default()).apply(&mut &huge[..]).unwrap_err();
    assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
}

#[test]
fn device_numbers_linux_cannot_hold_are_refused_with_the_entry() {
    for (major, minor) in [(4096, 0), (1, 1 << 20)] {
        let err =
            apply_all(&[TarBuf::new().device("dev/odd", tar::EntryType::Char, major, minor).bytes()]).unwrap_err();
        assert!(matches!(&err, LayerError::BadEntry { path, .. } if path == "dev/odd"), "{err}");
        assert!(err.to_string().contains(&format!("{major}:{minor} does not fit")), "{err}");
    }
    let mut t =
        apply_all(&[TarBuf::new().device("dev/max", tar::EntryType::Block, 4095, (1 << 20) - 1).bytes()]).unwrap();
    assert_eq!(get(&mut t, "dev/max").unwrap().kind, Kind::BlockDev { major: 4095, minor: (1 << 20) - 1 });
}

#[test]
fn a_layer_exactly_at_the_size_limit_passes_with_its_padding() {
    // 200 bytes of content, then the end blocks and GNU tar's padding to a 10 KiB record.
    let mut layer = TarBuf::new().file("a", &[1u8; 100]).file("b", &[2u8; 100]).bytes();
    layer.resize(10240, 0);
    let mut tree = Tree::new();
    Applier::new(&mut tree, Limits { max_unpacked_bytes: 200, max_entries: 2 }).apply(&mut &layer[..]).unwrap();
    // A tail far beyond any padding still counts.
    layer.resize(10240 + (2 << 20), 0);
    let mut tree = Tree::new();
    let err =
        Applier::new(&mut tree, Limits { max_unpacked_bytes: 200, max_entries: 2 }).apply(&mut &layer[..]).unwrap_err();
    assert!(matches!(err, LayerError::TooLarge { limit: 200 }), "{err}");
}

#[test]
fn the_whole_blob_is_consumed() {
    let mut blob = gzip(&TarBuf::new().file("a", b"1").bytes());
    blob.extend(gzip(&[0u8; 4096])); // trailing zero blocks in a second member
    let mut r = &blob[..];
    let mut tree = Tree::new();
    Applier::new(&mut tree, Limits::default()).apply(&mut r).unwrap();
    assert!(r.is_empty());
}

#[test]
fn limits_are_enforced() {
    let layer = TarBuf::new().file("a", &[0u8; 100]).file("b", &[0u8; 100]).bytes();
    let mut tree = Tree::new();
    let err = Applier::new(&mut tree, Limits { max_unpacked_bytes: 150, max_entries: 10 })
        .apply(&mut &layer[..])
        .unwrap_err();
    assert!(matches!(err, LayerError::TooLarge { limit: 150 }), "{err}");
    assert!(err.to_string().contains("--max-unpacked-size"));
    let mut tree = Tree::new();
    let err = Applier::new(&mut tree, Limits { max_unpacked_bytes: 1000, max_entries: 1 })
        .apply(&mut &layer[..])
        .unwrap_err();
    assert!(matches!(err, LayerError::TooManyEntries { limit: 1 }), "{err}");
}
