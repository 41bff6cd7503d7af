//! Hostile and corrupt images through the real `c2w` binary. Every test crafts its image as an
//! OCI layout in a fresh temporary directory and runs c2w with its working directory, TMPDIR
//! and HOME inside that directory. Then:
//!
//! - a refused image exits 1 with exactly one `c2w: error:` line that names the image exactly
//!   once (and the blob, and the fix, where there is one) and leaves no output or temporary
//!   file;
//! - an accepted image (converted with `--no-snapshot`, to stay fast) writes out.wasm and
//!   nothing else, and where names aim outside the root, the root filesystem inside out.wasm
//!   is unpacked with `fsck.erofs --extract` to show where they landed instead;
//! - either way, every file under the temporary directory is as it was (the `outside/`
//!   directory that names aim at, the sentinel in it), and none of the host paths outside the
//!   temporary directory that crafted names aim at exist.

mod common;
#[path = "common/crafted.rs"]
mod crafted;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{sha, write_layout, Image};
use crafted::*;
use serde_json::json;
use sha2::Digest as _;

/// A c2w run that takes longer than this is killed and fails its test: a hostile header must
/// never make c2w allocate or read for minutes.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh temporary directory laid out for one hostile image:
/// `img/` (the layout), `work/` (c2w's cwd; out.wasm goes here), `tmp/` and `home/` (c2w's
/// TMPDIR and HOME), `outside/sentinel` (what `..`, absolute and symlinked names aim at), and
/// `check/` (made after the run, for the unpacked root filesystem).
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Unique to this sandbox: names crafted to land beside it or at `/` carry it.
    unique: String,
}

struct Outcome {
    status: ExitStatus,
    stderr: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for sub in ["img", "work", "tmp", "home", "outside"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        fs::write(root.join("outside/sentinel"), b"untouched").unwrap();
        let unique = format!("c2w-escape-{}", root.file_name().unwrap().to_string_lossy().trim_start_matches('.'));
        Self { _dir: dir, root, unique }
    }

    fn layout(&self) -> PathBuf {
        self.root.join("img")
    }

    fn spec(&self) -> String {
        format!("oci:{}", self.layout().display())
    }

    fn outside(&self) -> String {
        self.root.join("outside").display().to_string()
    }

    /// The directory holding the sandbox: `../../` from c2w's cwd.
    fn beside(&self) -> &Path {
        self.root.parent().unwrap()
    }

    fn write(&self, images: &[&Image]) {
        write_layout(&self.layout(), images);
    }

    /// The blob file of `bytes` in the layout.
    fn blob_path(&self, bytes: &[u8]) -> PathBuf {
        self.layout().join("blobs/sha256").join(&sha(bytes)["sha256:".len()..])
    }

    /// Host paths outside the sandbox that the crafted names in these tests aim at.
    fn escapes(&self) -> Vec<PathBuf> {
        let u = &self.unique;
        vec![
            self.beside().join(format!("{u}-dotdot")),
            self.beside().join(format!("{u}-through")),
            Path::new("/").join(format!("{u}-deep")),
            Path::new("/").join(format!("{u}-up")),
        ]
    }

    /// Runs `c2w FLAGS oci:<layout> out.wasm` in `work/`, killing it after [`TIMEOUT`], and
    /// checks what every run must leave true: nothing under the sandbox changed but (on
    /// success) `work/out.wasm`, and no escape path exists.
    fn run(&self, flags: &[&str]) -> Outcome {
        let before = listing(&self.root);
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_c2w"))
            .args(flags)
            .arg(self.spec())
            .arg("out.wasm")
            .current_dir(self.root.join("work"))
            .env("TMPDIR", self.root.join("tmp"))
            .env("HOME", self.root.join("home"))
            .env_remove("C2W_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read stderr on a thread so a chatty child cannot block on a full pipe.
        let mut pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            pipe.read_to_string(&mut s).unwrap();
            s
        });
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > TIMEOUT {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("c2w {flags:?} on {} ran for over {TIMEOUT:?}", self.spec());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = reader.join().unwrap();

        let mut after = listing(&self.root);
        if status.success() {
            assert!(after.remove("work/out.wasm").is_some(), "exit 0 without out.wasm; stderr: {stderr}");
        }
        assert_eq!(before, after, "c2w changed the sandbox (status {status}); stderr: {stderr}");
        for p in self.escapes() {
            assert!(!p.exists(), "c2w wrote {} outside its sandbox", p.display());
        }
        Outcome { status, stderr }
    }

    /// Runs c2w on an image it must refuse; returns its one error line, which names the image
    /// (as the user spelt it) exactly once.
    fn refuse(&self, flags: &[&str]) -> String {
        let out = self.run(flags);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
        let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("c2w: error: ")).collect();
        assert_eq!(errors.len(), 1, "stderr: {}", out.stderr);
        assert_eq!(out.stderr.lines().last(), Some(errors[0]), "stderr: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "stderr: {}", out.stderr);
        let line = errors[0].to_string();
        assert_eq!(line.matches(&self.spec()).count(), 1, "the error does not name the image once: {line}");
        line
    }

    /// Runs c2w (without a snapshot) on an image it must convert; returns the root filesystem
    /// image inside out.wasm, written to `check/rootfs.erofs` and checked by fsck.erofs.
    fn accept(&self, flags: &[&str]) -> PathBuf {
        let mut all = vec!["--no-snapshot"];
        all.extend_from_slice(flags);
        let out = self.run(&all);
        assert!(out.status.success(), "stderr: {}", out.stderr);
        assert!(!out.stderr.contains("error"), "stderr: {}", out.stderr);
        let module = fs::read(self.root.join("work/out.wasm")).unwrap();
        let check = self.root.join("check");
        fs::create_dir_all(&check).unwrap();
        let image = check.join("rootfs.erofs");
        let found = root_image_in_module(&module, &mut |candidate| {
            fs::write(&image, candidate).unwrap();
            erofs_tool("fsck.erofs", &[image.as_os_str()]).is_ok()
        });
        assert!(found.is_some(), "no root filesystem image found in out.wasm");
        image
    }

    /// Unpacks a root image into `check/tree` (regular files, directories, symlinks only:
    /// device nodes would need privileges).
    fn extract(&self, image: &Path) -> PathBuf {
        let tree = self.root.join("check/tree");
        let mut arg = std::ffi::OsString::from("--extract=");
        arg.push(&tree);
        erofs_tool("fsck.erofs", &[arg.as_os_str(), "--no-preserve".as_ref(), image.as_os_str()]).unwrap();
        tree
    }
}

/// Every path under `root` with what it is: `dir`, `link -> TARGET`, or `file SIZE SHA256`.
fn listing(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_dir() {
                walk(root, &path, out);
                "dir".to_string()
            } else if meta.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_file() {
                format!("file {} {:x}", meta.len(), sha2::Sha256::digest(fs::read(&path).unwrap()))
            } else {
                format!("special {:?}", meta.file_type())
            };
            out.insert(rel, what);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Runs an erofs-utils tool: its stdout if it exits 0 and reports no `<E>` (fsck.erofs 1.5
/// exits 0 on some errors, so the exit status alone proves nothing).
fn erofs_tool(tool: &str, args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || stdout.contains("<E>") || stderr.contains("<E>") {
        return Err(format!("{tool} {args:?}: {stdout}{stderr}"));
    }
    Ok(stdout)
}

/// `dump.erofs --path=PATH`: the inode's description.
fn dump_path(image: &Path, path: &str) -> String {
    let arg = format!("--path={path}");
    erofs_tool("dump.erofs", &[arg.as_ref(), image.as_os_str()]).unwrap()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    String::from_utf8(fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A path inside the unpacked tree for an absolute container path.
fn inside(tree: &Path, container_path: &str) -> PathBuf {
    tree.join(container_path.trim_start_matches('/'))
}

fn one_layer(tar: &[u8]) -> Image {
    image_of(&[gzip_layer(tar)])
}

/// Text that compresses, but not to nothing: long enough to corrupt in the middle.
fn text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"the quick brown fox jumps over the lazy dog "[(i * 7 + i / 45) % 44]).collect()
}

// ---- Blobs against their descriptors ----

#[test]
fn a_layer_whose_bytes_do_not_match_its_digest_is_named() {
    let s = Sandbox::new();
    let img = one_layer(&RawTar::new().file("etc/motd", b"hello").finish());
    s.write(&[&img]);
    // Same length, one byte changed, in the file its digest names.
    let mut tampered = img.layer_blobs[0].clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x55;
    fs::write(s.blob_path(&img.layer_blobs[0]), &tampered).unwrap();
    let line = s.refuse(&[]);
    let digest = sha(&img.layer_blobs[0]);
    assert!(line.contains(&format!("blob {digest}")) && line.contains("does not match its digest"), "{line}");
    assert!(line.contains(&format!("it hashes to {}", sha(&tampered))), "{line}");
    assert!(line.ends_with("the image is corrupt; fetch or export it again"), "{line}");
}

#[test]
fn a_layer_longer_or_shorter_than_its_descriptor_is_named() {
    for delta in [-1i64, 1] {
        let s = Sandbox::new();
        let layer = gzip_layer(&RawTar::new().file("etc/motd", b"hello").finish());
        let real = layer.bytes.len() as u64;
        let mut img = image_of(std::slice::from_ref(&layer));
        // The manifest gives the right digest and a wrong size.
        let mut man: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
        man["layers"][0]["size"] = json!(real.checked_add_signed(delta).unwrap());
        img = image_with_manifest(img.config.clone(), serde_json::to_vec(&man).unwrap(), std::slice::from_ref(&layer));
        s.write(&[&img]);
        let line = s.refuse(&[]);
        assert!(line.contains(&format!("blob {}", sha(&layer.bytes))), "{line}");
        assert!(line.contains(&format!("is {real} bytes, but its descriptor says {}", real as i64 + delta)), "{line}");
        assert!(line.ends_with("fetch or export it again"), "{line}");
    }
}

#[test]
fn a_manifest_or_config_that_does_not_match_its_digest_is_named_with_the_image() {
    for tamper_config in [false, true] {
        let s = Sandbox::new();
        let img = one_layer(&RawTar::new().file("a", b"b").finish());
        s.write(&[&img]);
        let victim = if tamper_config { &img.config } else { &img.manifest };
        // Valid JSON of the same length: only the digest can tell.
        let tampered = String::from_utf8(victim.clone()).unwrap().replacen("\"linux\"", "\"LINUX\"", 1);
        let tampered = if tampered.as_bytes() == victim.as_slice() {
            String::from_utf8(victim.clone()).unwrap().replacen("\"schemaVersion\":2", "\"schemaVersion\":3", 1)
        } else {
            tampered
        };
        assert_ne!(tampered.as_bytes(), victim.as_slice());
        fs::write(s.blob_path(victim), &tampered).unwrap();
        let line = s.refuse(&[]);
        assert!(line.contains(&format!("blob {} of {}", sha(victim), s.spec())), "{line}");
        assert!(line.contains("does not match its digest"), "{line}");
        assert!(line.ends_with("fetch or export it again"), "{line}");
    }
}

#[test]
fn missing_blobs_and_a_manifest_without_a_config_are_named() {
    // The config blob is gone.
    let s = Sandbox::new();
    let img = one_layer(&RawTar::new().file("a", b"b").finish());
    s.write(&[&img]);
    fs::remove_file(s.blob_path(&img.config)).unwrap();
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("blob {} is missing from the layout", sha(&img.config))), "{line}");
    assert!(line.ends_with("fetch or export it again"), "{line}");

    // A layer blob is gone.
    let s = Sandbox::new();
    s.write(&[&img]);
    fs::remove_file(s.blob_path(&img.layer_blobs[0])).unwrap();
    let line = s.refuse(&[]);
    // Named once, in front, then the layer, then what is wrong with it (this used to repeat the
    // image's name after the layer).
    let blob = sha(&img.layer_blobs[0]);
    assert_eq!(
        line,
        format!(
            "c2w: error: {}: layer 1/1: blob {blob} is missing from the layout: the image is incomplete; fetch or export it again",
            s.spec()
        )
    );

    // The manifest names no config at all.
    let s = Sandbox::new();
    let mut man: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    man.as_object_mut().unwrap().remove("config");
    let man = serde_json::to_vec(&man).unwrap();
    s.write(&[&image_with_manifest(img.config.clone(), man.clone(), &[gzip_layer(&[])])]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("manifest {}", sha(&man))) && line.contains("missing field `config`"), "{line}");
}

// ---- Names that aim outside the root ----

#[test]
fn dotdot_absolute_and_symlinked_names_land_inside_the_root() {
    let s = Sandbox::new();
    let (u, outside, beside) = (&s.unique, s.outside(), s.beside().display().to_string());
    let lower = RawTar::new()
        .file(&format!("../../{u}-dotdot"), b"dotdot")
        .file(&format!("{}{u}-deep", "../".repeat(16)), b"deep")
        .file(&format!("{outside}/abs-file"), b"absolute")
        .file(&format!("{outside}/doomed"), b"whited out below")
        .symlink("link", &outside)
        .file("link/via-link", b"through an absolute symlink")
        .symlink("up", "../../../../../..")
        .file(&format!("up/{u}-up"), b"through a relative symlink")
        .symlink("beside", &beside)
        .file(&format!("beside/{u}-through"), b"through a symlink to the host dir")
        .finish();
    // Whiteouts through the same paths: they delete from the image, never from the host.
    let upper = RawTar::new().file("link/.wh.doomed", b"").file(&format!("{outside}/.wh.sentinel"), b"").finish();
    s.write(&[&image_of(&[gzip_layer(&lower), gzip_layer(&upper)])]);
    let tree = s.extract(&s.accept(&[]));

    assert_eq!(read(tree.join(format!("{u}-dotdot"))), "dotdot");
    assert_eq!(read(tree.join(format!("{u}-deep"))), "deep");
    assert_eq!(read(tree.join(format!("{u}-up"))), "through a relative symlink");
    assert_eq!(read(inside(&tree, &format!("{outside}/abs-file"))), "absolute");
    assert_eq!(read(inside(&tree, &format!("{outside}/via-link"))), "through an absolute symlink");
    assert_eq!(read(inside(&tree, &format!("{beside}/{u}-through"))), "through a symlink to the host dir");
    assert!(!inside(&tree, &format!("{outside}/doomed")).exists(), "whiteout through a symlink not applied");
    assert_eq!(fs::read_link(tree.join("link")).unwrap(), Path::new(&outside));
    assert_eq!(read(s.root.join("outside/sentinel")), "untouched");
}

#[test]
fn a_symlink_loop_is_refused_with_the_entry() {
    let s = Sandbox::new();
    let tar = RawTar::new().symlink("a", "b").symlink("b", "a").file("a/x", b"").finish();
    let img = one_layer(&tar);
    s.write(&[&img]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer 1/1 ({})", sha(&img.layer_blobs[0]))), "{line}");
    assert!(line.contains("entry \"a/x\"") && line.contains("too many levels of symbolic links"), "{line}");
}

// ---- Entries ----

#[test]
fn hardlinks_to_targets_not_in_the_image_are_refused() {
    // Missing outright, an absolute host path, and a path through a symlink to the host's /etc:
    // all resolve in the image only, and none is there.
    let cases = [("hl", "nope"), ("hl", "/etc/passwd"), ("hl", "etc-link/passwd"), ("hl", "../../../etc/hostname")];
    for (name, target) in cases {
        let s = Sandbox::new();
        let tar = RawTar::new().symlink("etc-link", "/etc").hardlink(name, target).finish();
        let img = one_layer(&tar);
        s.write(&[&img]);
        let line = s.refuse(&[]);
        assert!(line.contains(&format!("layer 1/1 ({})", sha(&img.layer_blobs[0]))), "{line}");
        assert!(
            line.contains(&format!("hardlink \"{name}\" points to \"{target}\", which is not in the image")),
            "{line}"
        );
    }
    // A hardlink to a directory is refused too.
    let s = Sandbox::new();
    s.write(&[&one_layer(&RawTar::new().dir("d").hardlink("hl", "d").finish())]);
    let line = s.refuse(&[]);
    assert!(line.contains("entry \"hl\": hardlink to a directory"), "{line}");
}

#[test]
fn duplicate_entries_take_the_last_one() {
    let s = Sandbox::new();
    let tar = RawTar::new()
        .file("dup", b"first")
        .file("./dup", b"second")
        .file("/dup", b"third")
        .dir("d")
        .file("d/inner", b"gone with the dir")
        .file("d", b"a file replaces the dir")
        .file("f", b"a dir replaces the file")
        .dir("f")
        .file("f/x", b"x")
        .hardlink("hl", "dup")
        .finish();
    s.write(&[&one_layer(&tar)]);
    let tree = s.extract(&s.accept(&[]));
    assert_eq!(read(tree.join("dup")), "third");
    assert_eq!(read(tree.join("hl")), "third");
    assert_eq!(read(tree.join("d")), "a file replaces the dir");
    assert_eq!(read(tree.join("f/x")), "x");
}

#[test]
fn device_nodes_stay_in_the_image() {
    let s = Sandbox::new();
    let outside = s.outside();
    let tar = RawTar::new()
        .node("dev/null", tar::EntryType::Char, 1, 3)
        .node("dev/sda", tar::EntryType::Block, 8, 0)
        .node("run/fifo", tar::EntryType::Fifo, 0, 0)
        // Aimed at the host: a device node in the directory outside.
        .node(&format!("{outside}/mem"), tar::EntryType::Char, 1, 1)
        .finish();
    s.write(&[&one_layer(&tar)]);
    let image = s.accept(&[]);
    let null = dump_path(&image, "/dev/null");
    assert!(null.contains("char dev"), "{null}");
    assert!(dump_path(&image, "/dev/sda").contains("block dev"));
    assert!(dump_path(&image, "/run/fifo").contains("fifo"));
    assert!(dump_path(&image, &format!("{outside}/mem")).contains("char dev"));

    // A device number Linux cannot hold is refused with the entry it came from.
    let s = Sandbox::new();
    let img = one_layer(&RawTar::new().node("dev/odd", tar::EntryType::Char, 5000, 1).finish());
    s.write(&[&img]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer 1/1 ({})", sha(&img.layer_blobs[0]))), "{line}");
    assert!(line.contains("entry \"dev/odd\"") && line.contains("5000:1"), "{line}");
}

#[test]
fn huge_sparse_files_and_lying_sizes_are_refused_quickly() {
    // 64 GiB of holes around 512 bytes of data, and 3 GiB (more than the VM's wasm32 memory can
    // hold as one root image, less than the 16 GiB that used to be the default): over the
    // default limit, refused before a byte of it is made, saying the flag cannot help.
    for size in [64u64 << 30, 3 << 30] {
        let s = Sandbox::new();
        let img = one_layer(&RawTar::new().file("ok", b"ok").sparse("var/log/lastlog", size, &[1u8; 512]).finish());
        s.write(&[&img]);
        let started = Instant::now();
        let line = s.refuse(&[]);
        assert!(line.contains(&format!("layer 1/1 ({})", sha(&img.layer_blobs[0]))), "{line}");
        assert!(
            line.contains("the image unpacks to more than 2.00 GiB, the most --max-unpacked-size allows")
                && line.ends_with("(wasm32) memory, which cannot hold more"),
            "{line}"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    }

    // A small sparse file is unpacked whole, holes as zeros.
    let s = Sandbox::new();
    s.write(&[&one_layer(&RawTar::new().sparse("sparse", 64 << 10, b"tail").finish())]);
    let tree = s.extract(&s.accept(&[]));
    let content = fs::read(tree.join("sparse")).unwrap();
    assert_eq!(content.len(), 64 << 10);
    assert!(content.ends_with(b"tail") && content[..content.len() - 4].iter().all(|&b| b == 0));

    // 4 GiB of holes under a 1G limit: the same.
    let s = Sandbox::new();
    s.write(&[&one_layer(&RawTar::new().sparse("big", 4 << 30, &[1u8; 512]).finish())]);
    let line = s.refuse(&["--max-unpacked-size", "1G"]);
    assert!(line.contains("more than 1073741824 bytes; raise --max-unpacked-size (at most 2G)"), "{line}");

    // A header claiming 1 GiB (under the limit) with 1 KiB behind it, and the layer ends:
    // corrupt, not a wait for bytes that never come (and no 1 GiB buffer).
    let s = Sandbox::new();
    let img = one_layer(&RawTar::new().file("a", b"a").truncated_file("huge", 1 << 30, &[7u8; 1024]));
    s.write(&[&img]);
    let started = Instant::now();
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer 1/1 ({})", sha(&img.layer_blobs[0]))), "{line}");
    assert!(line.contains("entry \"huge\"") && line.contains("ends after 1024 of its 1073741824 bytes"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

// ---- Compression ----

/// The image's one layer, `bytes` under `media_type`, with a descriptor that matches it: the
/// failure can only come from unpacking.
fn corrupt_layer_is_refused(bytes: Vec<u8>, media_type: &str, diff_id_of: &[u8], expect: &str) {
    let s = Sandbox::new();
    let blob = Blob { bytes, media_type: media_type.into(), diff_id: sha(diff_id_of) };
    s.write(&[&image_of(std::slice::from_ref(&blob))]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer 1/1 ({})", sha(&blob.bytes))), "{line}");
    assert!(line.contains(expect), "{line}");
}

#[test]
fn truncated_and_corrupt_gzip_and_zstd_layers_are_refused() {
    let tar = RawTar::new().file("big", &text(200_000)).finish();
    let gz = gzip_layer(&tar).bytes;
    let zst = zstd_layer(&tar).bytes;
    let fix = "the image is corrupt; fetch or export it again";
    let cut = |b: &[u8]| b[..b.len() / 2].to_vec();
    let flip = |b: &[u8]| {
        let mut b = b.to_vec();
        let mid = b.len() / 2;
        for x in &mut b[mid..mid + 16] {
            *x ^= 0xa5;
        }
        b
    };
    corrupt_layer_is_refused(cut(&gz), OCI_GZIP, &tar, fix);
    corrupt_layer_is_refused(flip(&gz), OCI_GZIP, &tar, fix);
    corrupt_layer_is_refused(cut(&zst), OCI_ZSTD, &tar, fix);
    corrupt_layer_is_refused(flip(&zst), OCI_ZSTD, &tar, fix);
    // A zstd magic followed by garbage, and a plain tar whose header checksum is wrong.
    corrupt_layer_is_refused([&[0x28, 0xb5, 0x2f, 0xfd][..], &[0xff; 64]].concat(), OCI_ZSTD, &tar, fix);
    let mut bad_header = tar.clone();
    bad_header[0] ^= 1; // the name, which the checksum covers
    corrupt_layer_is_refused(bad_header, OCI_TAR, &tar, fix);
}

// ---- Media types and platforms ----

#[test]
fn unknown_media_types_are_refused_by_name() {
    let tar = RawTar::new().file("a", b"b").finish();
    let layer = gzip_layer(&tar);

    // A layer type c2w does not know.
    let s = Sandbox::new();
    let weird = Blob { media_type: "application/vnd.example.weird".into(), ..layer.clone() };
    s.write(&[&image_of(&[weird])]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer {} has media type \"application/vnd.example.weird\"", sha(&layer.bytes))));
    assert!(line.contains("which c2w cannot unpack"), "{line}");

    // A config that is not an image config: an artifact.
    let s = Sandbox::new();
    let img = image_of(std::slice::from_ref(&layer));
    let mut man: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    man["config"]["mediaType"] = json!("application/vnd.example.artifact.config.v1+json");
    s.write(&[&image_with_manifest(
        img.config.clone(),
        serde_json::to_vec(&man).unwrap(),
        std::slice::from_ref(&layer),
    )]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("config {} has media type", sha(&img.config))), "{line}");
    assert!(line.contains("this is not a container image"), "{line}");

    // An index entry whose media type is neither a manifest nor an index.
    let s = Sandbox::new();
    let mut img = image_of(std::slice::from_ref(&layer));
    img.entry["mediaType"] = json!("text/html");
    s.write(&[&img]);
    let line = s.refuse(&[]);
    let want = format!("{}: manifest {} has media type \"text/html\"", s.spec(), sha(&img.manifest));
    assert!(line.contains(&want), "{line}");

    // An xz-compressed layer under a tar media type.
    let s = Sandbox::new();
    let xz = Blob { bytes: [&[0xfd, b'7', b'z', b'X', b'Z', 0][..], &[0u8; 32]].concat(), ..layer.clone() };
    s.write(&[&image_of(std::slice::from_ref(&xz))]);
    let line = s.refuse(&[]);
    assert!(line.contains(&format!("layer 1/1 ({})", sha(&xz.bytes))), "{line}");
    assert!(line.contains("xz-compressed layers are not supported (only plain tar, gzip and zstd)"), "{line}");
}

#[test]
fn an_index_without_the_platform_names_what_it_has() {
    let tar = RawTar::new().file("a", b"b").finish();
    let for_platform = |arch: &str| {
        let mut img = image_of(&[gzip_layer(&tar)]);
        img.entry["platform"] = json!({"architecture": arch, "os": "linux"});
        img
    };

    // index.json itself lists arm64 and s390x.
    let s = Sandbox::new();
    s.write(&[&for_platform("arm64"), &for_platform("s390x")]);
    let line = s.refuse(&[]);
    assert!(
        line.ends_with("has no linux/amd64 variant (it has linux/arm64, linux/s390x); c2w converts linux/amd64 and linux/riscv64 images"),
        "{line}"
    );

    // index.json names one nested index, which lists arm64 and riscv64.
    let s = Sandbox::new();
    let (arm, rv) = (for_platform("arm64"), for_platform("riscv64"));
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [arm.entry, rv.entry],
    }))
    .unwrap();
    let mut top = for_platform("amd64");
    top.entry = common::descriptor("application/vnd.oci.image.index.v1+json", &nested);
    top.blobs = [arm.blobs.clone(), rv.blobs.clone(), vec![nested]].concat();
    s.write(&[&top]);
    let line = s.refuse(&[]);
    assert!(line.ends_with("has no linux/amd64 variant (it has linux/arm64, linux/riscv64); use --target-arch riscv64"));

    // An index that lists nothing.
    let s = Sandbox::new();
    s.write(&[]);
    let line = s.refuse(&[]);
    assert!(line.ends_with("the layout's index.json lists no images"), "{line}");
}

// ---- Limits ----

#[test]
fn limits_name_their_flag_and_the_flag_raises_them() {
    let mut tar = RawTar::new();
    for i in 0..10 {
        tar = tar.file(&format!("f{i}"), &[b'x'; 1024]);
    }
    let s = Sandbox::new();
    s.write(&[&one_layer(&tar.finish())]);

    let line = s.refuse(&["--max-entries", "9"]);
    assert!(line.ends_with("the image has more than 9 entries; raise --max-entries if it is meant to"), "{line}");
    let line = s.refuse(&["--max-unpacked-size", "10239"]);
    assert!(
        line.ends_with(
            "the image unpacks to more than 10239 bytes; raise --max-unpacked-size (at most 2G) if it is meant to"
        ),
        "{line}"
    );
    // Exactly at both limits converts.
    let tree = s.extract(&s.accept(&["--max-entries", "10", "--max-unpacked-size", "10K"]));
    for i in 0..10 {
        assert_eq!(fs::read(tree.join(format!("f{i}"))).unwrap(), [b'x'; 1024]);
    }
}
