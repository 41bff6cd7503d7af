//! Server tests against a temporary host directory, through the test client.

use std::fs;
use std::path::{Path, PathBuf};

use super::consts::errno::*;
use super::consts::*;
use super::test_client::*;
use super::wire::Qid;
use super::{Server, Share};

/// A temporary directory holding `share/` (the shared root) and things outside it.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        // TMPDIR first: under WASI std has no temp_dir, and the runner maps one in.
        let base = std::env::var_os("TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
        #[cfg(unix)]
        let dir = base.join(format!("p9-test-{}-{name}", std::process::id()));
        #[cfg(not(unix))]
        let dir = base.join(format!("p9-test-{name}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("share")).unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        fs::write(dir.join("outside/passwd"), b"outside secret").unwrap();
        fs::write(dir.join("secret"), b"parent secret").unwrap();
        TempDir(dir)
    }
    fn share(&self) -> PathBuf {
        self.0.join("share")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const ROOT: u32 = 0;

/// The host path of `rel` under the temp dir as an absolute symlink target. WASI runtimes
/// refuse to create absolute symlinks, so there the same place is spelt relative to the share.
fn absolute(tmp: &TempDir, rel: &str) -> PathBuf {
    if cfg!(unix) {
        tmp.0.join(rel)
    } else {
        Path::new("../../").join(tmp.0.file_name().unwrap()).join(rel)
    }
}

/// Plants a host symlink (through the server's own host shim, so this runs on WASI too).
fn symlink(target: impl AsRef<Path>, link: PathBuf) {
    super::hostfs::symlink(target.as_ref().as_os_str(), &link).unwrap();
}

/// A server with one share "s" at `tmp/share`, negotiated at `msize`, root attached as fid 0.
fn setup(name: &str, msize: u32) -> (TempDir, Server) {
    let tmp = TempDir::new(name);
    let mut s = Server::new();
    s.set_shares(vec![Share { aname: "s".into(), root: tmp.share() }]);
    let r = call(&mut s, TVERSION, body().u32(msize).s(b"9P2000.L"));
    let mut rd = r.reader();
    assert_eq!(rd.u32().unwrap(), msize);
    assert_eq!(rd.string().unwrap(), b"9P2000.L");
    let r = call(&mut s, TATTACH, body().u32(ROOT).u32(!0).s(b"root").s(b"s").u32(0));
    assert_eq!(read_qid(&mut r.reader()).ty, QTDIR);
    (tmp, s)
}

fn walk_body(fid: u32, newfid: u32, names: &[&str]) -> Body {
    let mut b = body().u32(fid).u32(newfid).u16(names.len() as u16);
    for n in names {
        b = b.s(n.as_bytes());
    }
    b
}

fn walk(s: &mut Server, fid: u32, newfid: u32, names: &[&str]) -> Vec<Qid> {
    let r = call(s, TWALK, walk_body(fid, newfid, names));
    let mut rd = r.reader();
    let n = rd.u16().unwrap();
    (0..n).map(|_| read_qid(&mut rd)).collect()
}

fn lopen(s: &mut Server, fid: u32, flags: u32) -> Qid {
    read_qid(&mut call(s, TLOPEN, body().u32(fid).u32(flags)).reader())
}

fn lcreate(s: &mut Server, fid: u32, name: &str, flags: u32, mode: u32) -> Qid {
    read_qid(&mut call(s, TLCREATE, body().u32(fid).s(name.as_bytes()).u32(flags).u32(mode).u32(0)).reader())
}

fn write(s: &mut Server, fid: u32, offset: u64, data: &[u8]) -> u32 {
    let r = call(s, TWRITE, body().u32(fid).u64(offset).u32(data.len() as u32).raw(data));
    r.reader().u32().unwrap()
}

fn read(s: &mut Server, fid: u32, offset: u64, count: u32) -> Vec<u8> {
    let r = call(s, TREAD, body().u32(fid).u64(offset).u32(count));
    let mut rd = r.reader();
    let n = rd.u32().unwrap();
    rd.bytes(n as usize).unwrap().to_vec()
}

/// (qid, mode, size) from Tgetattr.
fn getattr(s: &mut Server, fid: u32) -> (Qid, u32, u64) {
    let r = call(s, TGETATTR, body().u32(fid).u64(GETATTR_BASIC));
    let mut rd = r.reader();
    assert_eq!(rd.u64().unwrap(), GETATTR_BASIC);
    let qid = read_qid(&mut rd);
    let mode = rd.u32().unwrap();
    let (uid, gid) = (rd.u32().unwrap(), rd.u32().unwrap());
    assert_eq!((uid, gid), (0, 0));
    let _nlink = rd.u64().unwrap();
    let _rdev = rd.u64().unwrap();
    let size = rd.u64().unwrap();
    (qid, mode, size)
}

fn readlink(s: &mut Server, fid: u32) -> Vec<u8> {
    call(s, TREADLINK, body().u32(fid)).reader().string().unwrap().to_vec()
}

fn clunk(s: &mut Server, fid: u32) {
    call(s, TCLUNK, body().u32(fid));
}

/// All entries of directory fid (already opened), reading `count` bytes per Treaddir.
fn readdir_all(s: &mut Server, fid: u32, count: u32) -> (Vec<(Vec<u8>, u8)>, usize) {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut calls = 0;
    loop {
        let r = call(s, TREADDIR, body().u32(fid).u64(offset).u32(count));
        calls += 1;
        let mut rd = r.reader();
        let n = rd.u32().unwrap() as usize;
        assert!(n <= count as usize);
        let data = rd.bytes(n).unwrap();
        if data.is_empty() {
            return (out, calls);
        }
        let mut e = super::wire::Reader::new(data);
        while let Ok(ty) = e.u8() {
            let _qid_rest = (e.u32().unwrap(), e.u64().unwrap());
            offset = e.u64().unwrap();
            let dtype = e.u8().unwrap();
            out.push((e.string().unwrap().to_vec(), dtype));
            let _ = ty;
        }
    }
}

#[test]
fn version_attach_walk_getattr() {
    let (tmp, mut s) = setup("basic", 8192);
    fs::write(tmp.share().join("hello.txt"), b"hi there").unwrap();
    // Other dialects are refused by name; msize is capped at the server's maximum.
    let r = call(&mut s, TVERSION, body().u32(u32::MAX).s(b"9P2000.u"));
    let mut rd = r.reader();
    assert_eq!(rd.u32().unwrap(), super::MAX_MSIZE);
    assert_eq!(rd.string().unwrap(), b"unknown");
    // Tversion resets the session: the old root fid is gone.
    assert_eq!(call_err(&mut s, TGETATTR, body().u32(ROOT).u64(0)), EBADF);
    call(&mut s, TVERSION, body().u32(8192).s(b"9P2000.L"));
    assert_eq!(call_err(&mut s, TATTACH, body().u32(ROOT).u32(!0).s(b"").s(b"nope").u32(0)), ENOENT);
    call(&mut s, TATTACH, body().u32(ROOT).u32(!0).s(b"").s(b"s").u32(0));

    let qids = walk(&mut s, ROOT, 1, &["hello.txt"]);
    assert_eq!(qids.len(), 1);
    assert_eq!(qids[0].ty, QTFILE);
    let (qid, mode, size) = getattr(&mut s, 1);
    assert_eq!(qid, qids[0]);
    assert_eq!(mode & S_IFMT, S_IFREG);
    assert_eq!(size, 8);
    // nwname 0 clones; the clone names the same file.
    assert!(walk(&mut s, 1, 2, &[]).is_empty());
    assert_eq!(getattr(&mut s, 2).0, qid);
    let (root_qid, root_mode, _) = getattr(&mut s, ROOT);
    assert_eq!(root_qid.ty, QTDIR);
    assert_eq!(root_mode & S_IFMT, S_IFDIR);
    // A missing first name is an error; a missing later name is a short walk.
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 3, &["missing"])), ENOENT);
    fs::create_dir(tmp.share().join("d")).unwrap();
    assert_eq!(walk(&mut s, ROOT, 3, &["d", "missing"]).len(), 1);
    assert_eq!(call_err(&mut s, TGETATTR, body().u32(3).u64(0)), EBADF, "short walk leaves newfid unused");
    // Walking from a file fails.
    assert_eq!(call_err(&mut s, TWALK, walk_body(1, 3, &["x"])), ENOTDIR);
}

#[test]
fn create_write_read_back() {
    let (tmp, mut s) = setup("rw", 8192);
    walk(&mut s, ROOT, 1, &[]);
    let qid = lcreate(&mut s, 1, "new.txt", O_RDWR, 0o640);
    assert_eq!(qid.ty, QTFILE);
    assert_eq!(write(&mut s, 1, 0, b"hello world"), 11);
    assert_eq!(write(&mut s, 1, 11, b"!"), 1);
    assert_eq!(read(&mut s, 1, 0, 100), b"hello world!");
    assert_eq!(read(&mut s, 1, 6, 5), b"world");
    assert_eq!(read(&mut s, 1, 100, 5), b"");
    // Ranges past the largest file offset are refused.
    assert_eq!(call_err(&mut s, TREAD, body().u32(1).u64(u64::MAX).u32(10)), EINVAL);
    assert_eq!(call_err(&mut s, TWRITE, body().u32(1).u64(u64::MAX - 1).u32(3).raw(b"abc")), EINVAL);
    assert_eq!(fs::read(tmp.share().join("new.txt")).unwrap(), b"hello world!");
    call(&mut s, TFSYNC, body().u32(1).u32(0));
    clunk(&mut s, 1);
    // Reopen read-only by walking; writes through it fail, reads work.
    walk(&mut s, ROOT, 2, &["new.txt"]);
    lopen(&mut s, 2, O_RDONLY);
    assert_eq!(read(&mut s, 2, 0, 5), b"hello");
    call_err(&mut s, TWRITE, body().u32(2).u64(0).u32(1).raw(b"x"));
    // Opening twice and reading unopened fids fail.
    assert_eq!(call_err(&mut s, TLOPEN, body().u32(2).u32(O_RDONLY)), EINVAL);
    walk(&mut s, ROOT, 3, &["new.txt"]);
    assert_eq!(call_err(&mut s, TREAD, body().u32(3).u64(0).u32(1)), EBADF);
    // Exclusive create of an existing name fails.
    walk(&mut s, ROOT, 4, &[]);
    let e = call_err(&mut s, TLCREATE, body().u32(4).s(b"new.txt").u32(O_RDWR | O_EXCL).u32(0o644).u32(0));
    assert_eq!(e, EEXIST);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(tmp.share().join("new.txt")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}

#[test]
fn mkdir_and_readdir_across_calls() {
    let (tmp, mut s) = setup("readdir", 8192);
    let r = call(&mut s, TMKDIR, body().u32(ROOT).s(b"sub").u32(0o755).u32(0));
    assert_eq!(read_qid(&mut r.reader()).ty, QTDIR);
    assert!(tmp.share().join("sub").is_dir());
    let mut expected: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
    for i in 0..60 {
        let name = format!("file-with-a-longish-name-{i:03}");
        fs::write(tmp.share().join("sub").join(&name), b"x").unwrap();
        expected.push(name.into_bytes());
    }
    fs::create_dir(tmp.share().join("sub/inner")).unwrap();
    expected.push(b"inner".to_vec());
    walk(&mut s, ROOT, 1, &["sub"]);
    lopen(&mut s, 1, O_RDONLY);
    let (entries, calls) = readdir_all(&mut s, 1, 200);
    assert!(calls > 5, "small count forces many calls, got {calls}");
    let mut names: Vec<_> = entries.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    assert!(entries.iter().any(|(n, t)| n == b"inner" && *t == DT_DIR));
    assert!(entries.iter().any(|(n, t)| n == b"file-with-a-longish-name-000" && *t == DT_REG));
    // Reading again from 0 starts over.
    let (again, _) = readdir_all(&mut s, 1, 8000);
    assert_eq!(again.len(), expected.len());
    // Readdir needs an opened directory.
    walk(&mut s, ROOT, 2, &["sub"]);
    assert_eq!(call_err(&mut s, TREADDIR, body().u32(2).u64(0).u32(100)), EBADF);
}

#[test]
fn rename_unlink_link_remove() {
    let (tmp, mut s) = setup("rename", 8192);
    let share = tmp.share();
    fs::write(share.join("a"), b"A").unwrap();
    fs::create_dir(share.join("dir")).unwrap();
    walk(&mut s, ROOT, 1, &["a"]);
    walk(&mut s, ROOT, 2, &["dir"]);
    // Trename moves fid 1's file into dir; the fid follows it.
    call(&mut s, TRENAME, body().u32(1).u32(2).s(b"b"));
    assert!(!share.join("a").exists());
    assert_eq!(fs::read(share.join("dir/b")).unwrap(), b"A");
    assert_eq!(getattr(&mut s, 1).2, 1);
    // Trenameat renames dir itself; fids inside follow.
    call(&mut s, TRENAMEAT, body().u32(ROOT).s(b"dir").u32(ROOT).s(b"dir2"));
    assert!(share.join("dir2/b").exists());
    assert_eq!(getattr(&mut s, 1).2, 1);
    lopen(&mut s, 1, O_RDONLY);
    assert_eq!(read(&mut s, 1, 0, 10), b"A");
    // Hard link.
    call(&mut s, TLINK, body().u32(ROOT).u32(1).s(b"hard"));
    assert_eq!(fs::read(share.join("hard")).unwrap(), b"A");
    // Unlinkat: files, directories with AT_REMOVEDIR, and the mismatches.
    assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(ROOT).s(b"hard").u32(AT_REMOVEDIR)), ENOTDIR);
    call(&mut s, TUNLINKAT, body().u32(ROOT).s(b"hard").u32(0));
    assert!(!share.join("hard").exists());
    assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(ROOT).s(b"dir2").u32(0)), EISDIR);
    assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(ROOT).s(b"dir2").u32(AT_REMOVEDIR)), ENOTEMPTY);
    assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(ROOT).s(b"gone").u32(0)), ENOENT);
    // The open fid keeps answering getattr after its file is unlinked.
    call(&mut s, TUNLINKAT, body().u32(2).s(b"b").u32(0));
    assert_eq!(getattr(&mut s, 1).2, 1);
    call(&mut s, TUNLINKAT, body().u32(ROOT).s(b"dir2").u32(AT_REMOVEDIR));
    assert!(!share.join("dir2").exists());
    // Tremove removes and clunks; the root cannot be removed.
    fs::write(share.join("c"), b"").unwrap();
    walk(&mut s, ROOT, 3, &["c"]);
    call(&mut s, TREMOVE, body().u32(3));
    assert!(!share.join("c").exists());
    assert_eq!(call_err(&mut s, TCLUNK, body().u32(3)), EBADF);
    walk(&mut s, ROOT, 4, &[]);
    assert_eq!(call_err(&mut s, TREMOVE, body().u32(4)), EBUSY);
    assert!(share.exists());
}

#[test]
fn symlink_and_readlink() {
    let (tmp, mut s) = setup("symlink", 8192);
    let r = call(&mut s, TSYMLINK, body().u32(ROOT).s(b"lnk").s(b"../some/target").u32(0));
    assert_eq!(read_qid(&mut r.reader()).ty, QTSYMLINK);
    assert_eq!(fs::read_link(tmp.share().join("lnk")).unwrap(), Path::new("../some/target"));
    let qids = walk(&mut s, ROOT, 1, &["lnk"]);
    assert_eq!(qids[0].ty, QTSYMLINK);
    assert_eq!(readlink(&mut s, 1), b"../some/target");
    assert_eq!(getattr(&mut s, 1).1 & S_IFMT, S_IFLNK);
    // Readlink of a non-link fails.
    assert_eq!(call_err(&mut s, TREADLINK, body().u32(ROOT)), EINVAL);
    assert_eq!(call_err(&mut s, TSYMLINK, body().u32(ROOT).s(b"lnk").s(b"x").u32(0)), EEXIST);
}

/// Modes: natively the host's own; on a host without modes (WASI) rwx for everyone, so that
/// a script or binary in a shared directory runs, and the host decides what may be written.
#[test]
fn modes_are_the_hosts_or_rwx_where_the_host_has_none() {
    let (tmp, mut s) = setup("modes", 8192);
    let share = tmp.share();
    let files = [("script.sh", 0o755), ("data", 0o644), ("ro", 0o444), ("private", 0o600)];
    for (name, mode) in files {
        fs::write(share.join(name), b"#!/bin/sh\necho hi\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(share.join(name), fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
    }
    fs::create_dir(share.join("d")).unwrap();
    symlink("script.sh", share.join("lnk"));

    for (fid, (name, mode)) in (1..).zip(files) {
        walk(&mut s, ROOT, fid, &[name]);
        let reported = getattr(&mut s, fid).1;
        if cfg!(unix) {
            assert_eq!(reported, S_IFREG | mode, "{name}");
        } else {
            assert_eq!(reported, S_IFREG | 0o777, "{name}");
        }
        // The no-modes policy itself, on this host's real metadata (so natively too): the
        // host's mode bits play no part.
        let meta = fs::symlink_metadata(share.join(name)).unwrap();
        assert_eq!(super::hostfs::modeless_attr(&meta).mode, S_IFREG | 0o777, "{name}");
    }
    for (name, ty) in [("d", S_IFDIR), ("lnk", S_IFLNK)] {
        let meta = fs::symlink_metadata(share.join(name)).unwrap();
        assert_eq!(super::hostfs::modeless_attr(&meta).mode, ty | 0o777, "{name}");
    }
    let meta = fs::symlink_metadata(share.join("data")).unwrap();
    let a = super::hostfs::modeless_attr(&meta);
    assert_eq!((a.size, a.nlink, a.blocks), (18, 1, 1));
}

#[test]
fn setattr_truncate_mode_times() {
    let (tmp, mut s) = setup("setattr", 8192);
    let path = tmp.share().join("f");
    fs::write(&path, b"0123456789").unwrap();
    walk(&mut s, ROOT, 1, &["f"]);
    let setattr = |valid: u32, mode: u32, size: u64, t: u64| {
        body().u32(1).u32(valid).u32(mode).u32(0).u32(0).u64(size).u64(t).u64(0).u64(t).u64(0)
    };
    call(&mut s, TSETATTR, setattr(SETATTR_SIZE, 0, 4, 0));
    assert_eq!(fs::read(&path).unwrap(), b"0123");
    assert_eq!(getattr(&mut s, 1).2, 4);
    call(&mut s, TSETATTR, setattr(SETATTR_SIZE, 0, 100, 0));
    assert_eq!(fs::metadata(&path).unwrap().len(), 100);
    let t = 1_000_000_000;
    call(&mut s, TSETATTR, setattr(SETATTR_MTIME | SETATTR_MTIME_SET | SETATTR_ATIME | SETATTR_ATIME_SET, 0, 0, t));
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), t);
    // Times beyond what the host can represent are refused, not a panic.
    let far = setattr(SETATTR_MTIME | SETATTR_MTIME_SET, 0, 0, u64::MAX);
    assert_eq!(call_err(&mut s, TSETATTR, far), EINVAL);
    // Directories take times too.
    let dir_times = body().u32(ROOT).u32(SETATTR_MTIME | SETATTR_MTIME_SET).raw(&[0; 36]).u64(t).u64(0);
    call(&mut s, TSETATTR, dir_times);
    let mtime = fs::metadata(tmp.share()).unwrap().modified().unwrap();
    assert_eq!(mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(), t);
    // Ownership changes are accepted and ignored.
    call(&mut s, TSETATTR, setattr(0x2 | 0x4, 0, 0, 0));
    #[cfg(unix)]
    {
        call(&mut s, TSETATTR, setattr(SETATTR_MODE, 0o600, 0, 0));
        assert_eq!(getattr(&mut s, 1).1 & 0o7777, 0o600);
    }
    // Truncating a directory fails.
    assert_eq!(call_err(&mut s, TSETATTR, body().u32(ROOT).u32(SETATTR_SIZE).raw(&[0; 52])), EISDIR);
}

#[test]
fn statfs_xattr_locks_mknod() {
    let (_tmp, mut s) = setup("statfs", 8192);
    let r = call(&mut s, TSTATFS, body().u32(ROOT));
    let mut rd = r.reader();
    assert_eq!(rd.u32().unwrap(), V9FS_MAGIC);
    assert_eq!(rd.u32().unwrap(), 4096);
    assert!(rd.u64().unwrap() > 0);
    // Listing xattrs gives an empty list; reading one gives ENODATA; setting is unsupported.
    let r = call(&mut s, TXATTRWALK, body().u32(ROOT).u32(1).s(b""));
    assert_eq!(r.reader().u64().unwrap(), 0);
    assert_eq!(read(&mut s, 1, 0, 100), b"");
    assert_eq!(call_err(&mut s, TXATTRWALK, body().u32(ROOT).u32(2).s(b"user.x")), ENODATA);
    assert_eq!(call_err(&mut s, TXATTRCREATE, body().u32(ROOT).s(b"user.x").u64(1).u32(0)), EOPNOTSUPP);
    // Locks are granted.
    let r = call(&mut s, TLOCK, body().u32(ROOT).u8(1).u32(0).u64(0).u64(10).u32(42).s(b"guest"));
    assert_eq!(r.reader().u8().unwrap(), LOCK_SUCCESS);
    let r = call(&mut s, TGETLOCK, body().u32(ROOT).u8(1).u64(5).u64(10).u32(42).s(b"guest"));
    let mut rd = r.reader();
    assert_eq!(rd.u8().unwrap(), LOCK_TYPE_UNLCK);
    assert_eq!((rd.u64().unwrap(), rd.u64().unwrap(), rd.u32().unwrap()), (5, 10, 42));
    assert_eq!(rd.string().unwrap(), b"guest");
    assert_eq!(call_err(&mut s, TMKNOD, body().u32(ROOT).s(b"n").u32(0o10644).u32(0).u32(0).u32(0)), EPERM);
    call(&mut s, TFLUSH, body().u16(7));
}

#[test]
fn dotdot_stays_at_root() {
    let (_tmp, mut s) = setup("dotdot", 8192);
    let root = getattr(&mut s, ROOT).0;
    let qids = walk(&mut s, ROOT, 1, &["..", "..", ".."]);
    assert!(qids.iter().all(|q| *q == root));
    assert_eq!(getattr(&mut s, 1).0, root);
    // "secret" exists next to the share on the host, not in it.
    assert_eq!(walk(&mut s, ROOT, 2, &["..", "secret"]).len(), 1);
    assert_eq!(call_err(&mut s, TCLUNK, body().u32(2)), EBADF);
    assert_eq!(call_err(&mut s, TWALK, walk_body(1, 2, &["secret"])), ENOENT);
    // ".." from a subdirectory goes back up, and no further.
    call(&mut s, TMKDIR, body().u32(ROOT).s(b"d").u32(0o755).u32(0));
    let qids = walk(&mut s, ROOT, 3, &["d", "..", "..", "d"]);
    assert_eq!(qids.len(), 4);
    assert_eq!(qids[1], root);
    assert_eq!(qids[2], root);
    assert_eq!(qids[3].ty, QTDIR);
    // Names that are not a single component are refused.
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 4, &["../secret"])), ENOENT);
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 4, &["d/.."])), ENOENT);
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 4, &["d\0"])), ENOENT);
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 4, &[""])), ENOENT);
}

#[test]
fn names_with_slash_or_nul_are_refused() {
    let (tmp, mut s) = setup("names", 8192);
    for bad in [&b"../escape"[..], b"a/b", b"/abs", b"x\0y", b"..", b".", b""] {
        walk(&mut s, ROOT, 1, &[]);
        let e = call_err(&mut s, TLCREATE, body().u32(1).s(bad).u32(O_RDWR).u32(0o644).u32(0));
        assert_eq!(e, EINVAL, "lcreate {bad:?}");
        clunk(&mut s, 1);
        assert_eq!(call_err(&mut s, TMKDIR, body().u32(ROOT).s(bad).u32(0o755).u32(0)), EINVAL);
        assert_eq!(call_err(&mut s, TSYMLINK, body().u32(ROOT).s(bad).s(b"t").u32(0)), EINVAL);
        assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(ROOT).s(bad).u32(0)), EINVAL);
        assert_eq!(call_err(&mut s, TRENAMEAT, body().u32(ROOT).s(bad).u32(ROOT).s(b"z")), EINVAL);
    }
    assert!(!tmp.0.join("escape").exists());
    assert_eq!(fs::read(tmp.0.join("secret")).unwrap(), b"parent secret");
}

#[test]
fn host_symlinks_are_never_followed() {
    let (tmp, mut s) = setup("escape", 8192);
    let share = tmp.share();
    symlink(absolute(&tmp, "outside"), share.join("abs_escape"));
    symlink("../outside", share.join("escape"));
    symlink(absolute(&tmp, "outside/passwd"), share.join("abs_file"));
    #[cfg(unix)]
    symlink("/etc", share.join("etc"));
    for link in ["escape", "abs_escape", "etc"] {
        if cfg!(not(unix)) && link == "etc" {
            continue;
        }
        // Walking to the link gives a symlink qid; walking through it stops there.
        let qids = walk(&mut s, ROOT, 1, &[link, "passwd"]);
        assert_eq!(qids.len(), 1, "{link}");
        assert_eq!(qids[0].ty, QTSYMLINK);
        assert_eq!(call_err(&mut s, TGETATTR, body().u32(1).u64(0)), EBADF);
        walk(&mut s, ROOT, 1, &[link]);
        assert_eq!(getattr(&mut s, 1).1 & S_IFMT, S_IFLNK);
        // It cannot be opened, listed, or created in.
        assert_eq!(call_err(&mut s, TLOPEN, body().u32(1).u32(O_RDONLY)), ELOOP);
        let e = call_err(&mut s, TLCREATE, body().u32(1).s(b"planted").u32(O_RDWR).u32(0o644).u32(0));
        assert_eq!(e, ENOTDIR);
        assert_eq!(call_err(&mut s, TMKDIR, body().u32(1).s(b"planted").u32(0o755).u32(0)), ENOTDIR);
        assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(1).s(b"passwd").u32(0)), ENOTDIR);
        assert_eq!(call_err(&mut s, TRENAMEAT, body().u32(1).s(b"passwd").u32(ROOT).s(b"stolen")), ENOTDIR);
        assert_eq!(call_err(&mut s, TWALK, walk_body(1, 2, &["passwd"])), ENOTDIR);
        clunk(&mut s, 1);
    }
    assert_eq!(
        {
            walk(&mut s, ROOT, 1, &["escape"]);
            readlink(&mut s, 1)
        },
        b"../outside"
    );
    clunk(&mut s, 1);
    // An absolute link to a file outside: readable as link text, never as the file.
    walk(&mut s, ROOT, 1, &["abs_file"]);
    assert_eq!(readlink(&mut s, 1), absolute(&tmp, "outside/passwd").as_os_str().as_encoded_bytes());
    assert_eq!(call_err(&mut s, TLOPEN, body().u32(1).u32(O_RDWR)), ELOOP);
    let trunc = body().u32(1).u32(SETATTR_SIZE).u32(0).u32(0).u32(0).u64(0).raw(&[0; 32]);
    assert_eq!(call_err(&mut s, TSETATTR, trunc), EINVAL);
    call(&mut s, TSETATTR, body().u32(1).u32(SETATTR_MODE).u32(0o777).u32(0).u32(0).u64(0).raw(&[0; 32]));
    // Creating over the link's name without O_EXCL does not write through it.
    walk(&mut s, ROOT, 2, &[]);
    let e = call_err(&mut s, TLCREATE, body().u32(2).s(b"abs_file").u32(O_RDWR | O_TRUNC).u32(0o644).u32(0));
    assert_eq!(e, ELOOP);
    // A hard link of the link is a link, not the outside file.
    call(&mut s, TLINK, body().u32(ROOT).u32(1).s(b"hard")).reader();
    assert!(fs::symlink_metadata(share.join("hard")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(tmp.0.join("outside/passwd")).unwrap(), b"outside secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(tmp.0.join("outside/passwd")).unwrap().permissions().mode();
        assert_ne!(mode & 0o777, 0o777);
    }
    assert!(!tmp.0.join("outside/planted").exists());
}

/// A directory the guest walked into is swapped on the host for a symlink to the outside:
/// the old fid must not reach through it.
#[test]
fn directory_swapped_for_symlink_is_not_followed() {
    let (tmp, mut s) = setup("swap", 8192);
    let share = tmp.share();
    fs::create_dir(share.join("d")).unwrap();
    fs::write(share.join("d/passwd"), b"inside").unwrap();
    walk(&mut s, ROOT, 1, &["d", "passwd"]);
    walk(&mut s, ROOT, 2, &["d"]);
    fs::rename(share.join("d"), share.join("d_old")).unwrap();
    symlink(absolute(&tmp, "outside"), share.join("d"));
    assert_eq!(call_err(&mut s, TGETATTR, body().u32(1).u64(0)), ELOOP);
    assert_eq!(call_err(&mut s, TLOPEN, body().u32(1).u32(O_RDWR)), ELOOP);
    assert_eq!(call_err(&mut s, TREMOVE, body().u32(1)), ELOOP);
    assert_eq!(call_err(&mut s, TUNLINKAT, body().u32(2).s(b"passwd").u32(0)), ENOTDIR);
    assert_eq!(fs::read(tmp.0.join("outside/passwd")).unwrap(), b"outside secret");
}

#[test]
fn replies_fit_msize() {
    let (tmp, mut s) = setup("msize", 4096);
    fs::write(tmp.share().join("big"), vec![7u8; 100_000]).unwrap();
    walk(&mut s, ROOT, 1, &["big"]);
    lopen(&mut s, 1, O_RDONLY);
    let data = read(&mut s, 1, 0, 1_000_000);
    assert_eq!(data.len(), 4096 - IO_HEADER_LEN);
    for i in 0..200 {
        fs::write(tmp.share().join(format!("n{i}")), b"").unwrap();
    }
    walk(&mut s, ROOT, 2, &[]);
    lopen(&mut s, 2, O_RDONLY);
    let (entries, calls) = readdir_all(&mut s, 2, u32::MAX);
    assert_eq!(entries.len(), 203);
    assert!(calls > 1);
    // Too small an msize is refused.
    assert_eq!(call_err(&mut s, TVERSION, body().u32(100).s(b"9P2000.L")), EINVAL);
}

/// Valid messages whose every truncation must be refused without touching anything.
fn sample_messages() -> Vec<Vec<u8>> {
    vec![
        msg(TVERSION, body().u32(8192).s(b"9P2000.L")),
        msg(TATTACH, body().u32(9).u32(!0).s(b"u").s(b"s").u32(0)),
        msg(TWALK, walk_body(ROOT, 9, &["d", "f"])),
        msg(TLCREATE, body().u32(ROOT).s(b"new").u32(O_RDWR).u32(0o644).u32(0)),
        msg(TMKDIR, body().u32(ROOT).s(b"newdir").u32(0o755).u32(0)),
        msg(TSYMLINK, body().u32(ROOT).s(b"sl").s(b"t").u32(0)),
        msg(TRENAMEAT, body().u32(ROOT).s(b"d").u32(ROOT).s(b"e")),
        msg(TUNLINKAT, body().u32(ROOT).s(b"d").u32(AT_REMOVEDIR)),
        msg(TSETATTR, body().u32(ROOT).u32(SETATTR_MTIME).raw(&[0; 52])),
        msg(TXATTRWALK, body().u32(ROOT).u32(9).s(b"")),
        msg(TLOCK, body().u32(ROOT).u8(0).u32(0).u64(0).u64(0).u32(1).s(b"c")),
        msg(TGETLOCK, body().u32(ROOT).u8(0).u64(0).u64(0).u32(1).s(b"c")),
        msg(TLINK, body().u32(ROOT).u32(ROOT).s(b"l")),
        msg(TREADDIR, body().u32(ROOT).u64(0).u32(100)),
        msg(TREAD, body().u32(ROOT).u64(0).u32(100)),
        msg(TWRITE, body().u32(ROOT).u64(0).u32(3).raw(b"abc")),
        msg(TGETATTR, body().u32(ROOT).u64(0)),
        msg(TCLUNK, body().u32(ROOT)),
        msg(TFLUSH, body().u16(1)),
    ]
}

#[test]
fn every_truncation_is_refused() {
    let (tmp, mut s) = setup("trunc", 8192);
    fs::create_dir(tmp.share().join("d")).unwrap();
    for m in sample_messages() {
        for n in 0..m.len() {
            // As sent: the size field no longer matches.
            let r = send_raw(&mut s, &m[..n]);
            assert_eq!(r.errno(), Some(EPROTO), "type {} cut at {n}", m[4]);
            // With the size field patched to the cut length, so the body itself is short.
            if n >= 4 {
                let mut cut = m[..n].to_vec();
                cut[..4].copy_from_slice(&(n as u32).to_le_bytes());
                assert_eq!(send_raw(&mut s, &cut).errno(), Some(EPROTO), "type {} body cut at {n}", m[4]);
            }
        }
    }
    // Nothing was created, and the root fid survived.
    let mut names: Vec<_> = fs::read_dir(tmp.share()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["d"]);
    getattr(&mut s, ROOT);
}

#[test]
fn bogus_sizes_types_and_fids() {
    let (tmp, mut s) = setup("bogus", 8192);
    let good = msg(TGETATTR, body().u32(ROOT).u64(0));
    for size in [0u32, 6, 7, good.len() as u32 - 1, good.len() as u32 + 1, u32::MAX] {
        let mut m = good.clone();
        m[..4].copy_from_slice(&size.to_le_bytes());
        let r = send_raw(&mut s, &m);
        assert_eq!(r.errno(), Some(EPROTO), "size {size}");
        assert_eq!(r.tag, 1, "tag echoed");
    }
    assert_eq!(send_raw(&mut s, &[]).tag, NOTAG);
    // Unknown, reply-typed and legacy 9P2000 message types.
    for ty in [0u8, 6, 7, 101, 105, 112, 114, 124, 125, 255] {
        assert_eq!(send_raw(&mut s, &msg(ty, body().u32(ROOT))).errno(), Some(EOPNOTSUPP), "type {ty}");
    }
    // Unknown fids.
    let unknown = 77;
    for m in [
        msg(TWALK, walk_body(unknown, 78, &[])),
        msg(TLOPEN, body().u32(unknown).u32(0)),
        msg(TLCREATE, body().u32(unknown).s(b"x").u32(O_RDWR).u32(0o644).u32(0)),
        msg(TREAD, body().u32(unknown).u64(0).u32(1)),
        msg(TWRITE, body().u32(unknown).u64(0).u32(1).raw(b"x")),
        msg(TCLUNK, body().u32(unknown)),
        msg(TREMOVE, body().u32(unknown)),
        msg(TGETATTR, body().u32(unknown).u64(0)),
        msg(TSETATTR, body().u32(unknown).u32(0).raw(&[0; 52])),
        msg(TREADDIR, body().u32(unknown).u64(0).u32(100)),
        msg(TMKDIR, body().u32(unknown).s(b"x").u32(0o755).u32(0)),
        msg(TSYMLINK, body().u32(unknown).s(b"x").s(b"y").u32(0)),
        msg(TREADLINK, body().u32(unknown)),
        msg(TLINK, body().u32(ROOT).u32(unknown).s(b"x")),
        msg(TRENAME, body().u32(unknown).u32(ROOT).s(b"x")),
        msg(TRENAMEAT, body().u32(unknown).s(b"x").u32(ROOT).s(b"y")),
        msg(TUNLINKAT, body().u32(unknown).s(b"x").u32(0)),
        msg(TSTATFS, body().u32(unknown)),
        msg(TFSYNC, body().u32(unknown).u32(0)),
        msg(TXATTRWALK, body().u32(unknown).u32(78).s(b"")),
        msg(TLOCK, body().u32(unknown).u8(0).u32(0).u64(0).u64(0).u32(1).s(b"c")),
        msg(TGETLOCK, body().u32(unknown).u8(0).u64(0).u64(0).u32(1).s(b"c")),
    ] {
        assert_eq!(send_raw(&mut s, &m).errno(), Some(EBADF), "type {}", m[4]);
    }
    // Fid reuse: attaching or walking onto a fid in use.
    walk(&mut s, ROOT, 1, &[]);
    assert_eq!(call_err(&mut s, TATTACH, body().u32(1).u32(!0).s(b"").s(b"s").u32(0)), EBADF);
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 1, &[])), EBADF);
    assert_eq!(call_err(&mut s, TXATTRWALK, body().u32(ROOT).u32(1).s(b"")), EBADF);
    // Too many walk names.
    let names = ["d"; 17];
    assert_eq!(call_err(&mut s, TWALK, walk_body(ROOT, 2, &names)), EINVAL);
    // Bad open mode bits.
    fs::write(tmp.share().join("f"), b"").unwrap();
    walk(&mut s, ROOT, 2, &["f"]);
    assert_eq!(call_err(&mut s, TLOPEN, body().u32(2).u32(3)), EINVAL);
}

/// Random bytes after a valid header, for every message type: always one well-formed reply.
#[test]
fn random_messages_never_panic() {
    let (tmp, mut s) = setup("fuzz", 8192);
    fs::write(tmp.share().join("f"), b"data").unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let ty = (next() % 130) as u8;
        let len = (next() % 40) as usize;
        // Small fid numbers and short strings make many messages reach the handlers.
        let mut b = body();
        for _ in 0..len {
            let v = next();
            b = match v % 4 {
                0 => b.u32((v >> 8) as u32 % 4),
                1 => b.s(&[b'f'; 1][..((v >> 8) % 2) as usize]),
                _ => b.u8((v >> 8) as u8),
            };
        }
        let _ = send_raw(&mut s, &msg(ty, b));
    }
    assert_eq!(fs::read(tmp.0.join("secret")).unwrap(), b"parent secret");
}
