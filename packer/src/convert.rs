//! The conversion pipeline behind `c2w`: resolve the image, apply its layers to a tree, write
//! the root filesystem image, build the module, and write OUTPUT atomically (no partial file
//! on any failure).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::arch::Arch;
use crate::config::ConfigInfo;
use crate::erofs;
use crate::image::{self, Digest, ImageError, ImageSource, Resolved};
use crate::layers::{Applier, LayerError, Limits};
use crate::snapshot::{self, ModuleInputs};
use crate::tree::Tree;

#[derive(Debug, Clone)]
pub struct Options {
    pub image: String,
    pub output: PathBuf,
    pub arch: Arch,
    pub memory_mib: u64,
    pub snapshot: bool,
    pub limits: Limits,
}

/// The VM is a wasm32 module: everything it holds lives in one linear memory of at most 4 GiB.
const WASM32_MEMORY: u64 = 4 << 30;

/// The largest root filesystem image a module can hold. The VM keeps the image as one block of
/// its memory (emu-core's `Bundle::rootfs`, moved whole into the virtio-blk disk), and one
/// block on wasm32 is under 2 GiB: Rust refuses any allocation over `isize::MAX` (2 GiB - 1)
/// on 32-bit targets, and wasi-libc's allocator gave at most 2 GiB - 14 KiB when measured
/// under wasmtime. 1 MiB below 2 GiB leaves the allocator its margin.
pub const MAX_ROOT_IMAGE: u64 = (2 << 30) - (1 << 20);

/// The default, and the most, `--max-unpacked-size`. The image holds every file's bytes and
/// more (inodes, directories), so files adding up to over 2 GiB can only give an image the VM
/// cannot hold; refusing them while unpacking keeps c2w from building such a tree in memory
/// at all (the tree, then the image, then the VM's own copy) before it fails.
pub const MAX_UNPACKED_SIZE: u64 = 2 << 30;

/// What the VM needs in its memory besides the root image and guest RAM: its stack and
/// statics, the kernel and initrd (read before the RAM is allocated), the emulator's decode
/// caches (the x86 one is bounded at 8192 blocks of 64 instructions, about 20 MiB) and the 9p
/// buffers (2 MiB). A snapshotted riscv64 busybox module had 7.7 MiB of memory beyond its guest
/// RAM and its 1.5 MiB root image (at --memory 64 and 256 alike); this leaves room to spare.
const VM_OVERHEAD: u64 = 64 << 20;

/// A progress line for the user: the long steps say what they are doing.
fn progress(msg: &str) {
    eprintln!("c2w: {msg}");
}

pub fn convert(opts: &Options) -> Result<()> {
    check_output(&opts.output)?;
    let (tree, config) = load_image(&opts.image, opts.arch, opts.limits)?;
    let rootfs =
        erofs::write_image(&tree).with_context(|| format!("{}: writing the root filesystem image", opts.image))?;
    drop(tree);
    check_fits(rootfs.len() as u64, opts.memory_mib).map_err(|e| anyhow!("{}: {e}", opts.image))?;
    progress(&format!("wrote root image ({})", human(rootfs.len() as u64)));
    if opts.snapshot {
        progress(&format!("pre-booting the {} machine (this takes a while)", opts.arch));
    } else {
        progress("building the module (no pre-boot snapshot)");
    }
    let module = snapshot::build_module(&ModuleInputs {
        arch: opts.arch,
        rootfs: &rootfs,
        config: &config.run,
        memory_mib: opts.memory_mib,
        snapshot: opts.snapshot,
    })?;
    write_atomically(&opts.output, &module)?;
    progress(&format!("wrote {} ({})", opts.output.display(), human(module.len() as u64)));
    Ok(())
}

/// Resolves IMAGE for `arch` and applies its layers: the container's root tree and config.
pub fn load_image(spec: &str, arch: Arch, limits: Limits) -> Result<(Tree, ConfigInfo)> {
    let mut source = image::open(spec).map_err(|e| about_image(spec, None, e))?;
    progress(&format!("reading {spec} for linux/{arch}"));
    let resolved = source.resolve(arch).map_err(|e| about_image(spec, None, e))?;
    let tree = apply_layers(source.as_mut(), &resolved, limits)?;
    Ok((tree, resolved.config))
}

/// Makes an error about image `name` name it exactly once, at the front where it can, with
/// `what` (a layer) after the name. The image sources name the image in most of their errors,
/// as `NAME: ...` or as `blob DIGEST of NAME`, but not in all (an unreadable file, a registry
/// manifest that does not match its digest); adding the name to all of them named it twice.
fn about_image(name: &str, what: Option<&str>, error: impl Into<anyhow::Error>) -> anyhow::Error {
    let msg = format!("{:#}", error.into());
    let what = what.map(|w| format!("{w}: ")).unwrap_or_default();
    match msg.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")) {
        Some(rest) => anyhow!("{name}: {what}{rest}"),
        None if msg.contains(name) => anyhow!("{what}{msg}"),
        None => anyhow!("{name}: {what}{msg}"),
    }
}

/// Refuses a root image the VM cannot hold, alone or beside `memory_mib` of guest RAM.
fn check_fits(image: u64, memory_mib: u64) -> Result<()> {
    if image > MAX_ROOT_IMAGE {
        bail!(
            "its root filesystem image is {} ({image} bytes), more than a module can hold ({} MiB): the VM keeps \
             the image as one block of its 32-bit (wasm32) memory, which cannot be larger",
            human(image),
            MAX_ROOT_IMAGE >> 20
        );
    }
    let room = WASM32_MEMORY - VM_OVERHEAD - image;
    if memory_mib << 20 > room {
        bail!(
            "its root filesystem image ({}) and --memory {memory_mib} MiB of guest RAM do not fit together in the \
             VM's 4 GiB of 32-bit (wasm32) memory; convert with --memory {} or less",
            human(image),
            room >> 20
        );
    }
    Ok(())
}

/// The unpacked-size error. Below [`MAX_UNPACKED_SIZE`] the flag raises the limit; at it,
/// nothing can, and the error says why.
fn unpacked_too_large(limit: u64) -> String {
    if limit >= MAX_UNPACKED_SIZE {
        format!(
            "the image unpacks to more than {}, the most --max-unpacked-size allows: the VM keeps the root \
             filesystem image as one block of its 32-bit (wasm32) memory, which cannot hold more",
            human(limit)
        )
    } else {
        format!(
            "the image unpacks to more than {limit} bytes; raise --max-unpacked-size (at most 2G) if it is meant to"
        )
    }
}

/// Streams every layer into one tree, checking each blob against its descriptor and, where
/// the config lists them, its uncompressed content against the diff id.
pub fn apply_layers(source: &mut dyn ImageSource, resolved: &Resolved, limits: Limits) -> Result<Tree> {
    let name = source.name().to_string();
    let diff_ids = &resolved.config.diff_ids;
    if !diff_ids.is_empty() && diff_ids.len() != resolved.layers.len() {
        bail!(
            "{name}: the config lists {} layers but the manifest {}; the image is corrupt",
            diff_ids.len(),
            resolved.layers.len()
        );
    }
    let mut tree = Tree::new();
    let mut applier = Applier::new(&mut tree, limits);
    let n = resolved.layers.len();
    for (i, layer) in resolved.layers.iter().enumerate() {
        let size = layer.size.map(|s| format!(", {}", human(s))).unwrap_or_default();
        progress(&format!("applying layer {}/{n} ({}{size})", i + 1, short(&layer.blob)));
        // "layer 2/3 (BLOB)", or "layer 2/3" where the error names the blob itself.
        let about = |e: anyhow::Error| {
            let blob_named = format!("{e:#}").contains(&layer.blob);
            let what = if blob_named {
                format!("layer {}/{n}", i + 1)
            } else {
                format!("layer {}/{n} ({})", i + 1, layer.blob)
            };
            about_image(&name, Some(&what), e)
        };
        let mut blob = source.open_layer(layer).map_err(|e| about(e.into()))?;
        let applied = match applier.apply(&mut blob) {
            Ok(a) => a,
            // A blob that does not match its descriptor is the better diagnosis than whatever
            // parse error its bytes caused.
            Err(e) => match blob.finish() {
                Err(bad @ (ImageError::Digest { .. } | ImageError::Size { .. })) => return Err(about(bad.into())),
                _ => {
                    return Err(about(match e {
                        LayerError::TooLarge { limit } => anyhow!(unpacked_too_large(limit)),
                        e => e.into(),
                    }))
                }
            },
        };
        blob.finish().map_err(|e| about(e.into()))?;
        if let Some(expected) = diff_ids.get(i) {
            let actual = Digest::from_hash(applied.diff_id);
            if actual.as_str() != expected {
                return Err(about(anyhow!(
                    "uncompressed it hashes to {actual}, but the config says {expected}: the image is corrupt; fetch or export it again"
                )));
            }
        }
    }
    log::info!("{name}: {} bytes of files unpacked", applier.unpacked_bytes());
    Ok(tree)
}

/// Sizes for progress lines: `812 KiB`, `3.4 MiB`.
fn human(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{} KiB", b.div_ceil(1 << 10)),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
    }
}

/// `sha256:0123456789ab...` -> `sha256:0123456789ab` for progress lines.
fn short(blob: &str) -> &str {
    match blob.strip_prefix("sha256:") {
        Some(_) if blob.len() > 19 => &blob[..19],
        _ => blob,
    }
}

/// Fails early, before any slow step, if OUTPUT cannot be written where asked.
fn check_output(output: &Path) -> Result<()> {
    if output.is_dir() {
        bail!("{} is a directory; give the output file name, e.g. {}/out.wasm", output.display(), output.display());
    }
    let dir = parent_dir(output);
    if !dir.is_dir() {
        bail!("cannot write {}: directory {} does not exist", output.display(), dir.display());
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so readers
/// see the old file or the whole new one, and a failure leaves nothing behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let file_name = path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.c2w-{}.tmp", file_name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f: File = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_errors_name_the_image_once_and_first() {
        let name = "oci:/x/img";
        let cases = [
            // Named at the front by the source: the layer goes after the name, not before it.
            (
                format!("{name}: blob sha256:ab is missing from the layout"),
                "oci:/x/img: layer 1/2: blob sha256:ab is missing from the layout",
            ),
            // Named inside: kept where it is.
            (
                format!("blob sha256:ab of {name} does not match"),
                "layer 1/2: blob sha256:ab of oci:/x/img does not match",
            ),
            // Not named: the name goes in front.
            ("cannot read index.json: denied".to_string(), "oci:/x/img: layer 1/2: cannot read index.json: denied"),
        ];
        for (msg, want) in cases {
            assert_eq!(about_image(name, Some("layer 1/2"), anyhow!(msg)).to_string(), want);
        }
        // A chain of causes is kept, on the same line.
        let chained = anyhow!("denied").context("cannot read index.json");
        assert_eq!(about_image(name, None, chained).to_string(), "oci:/x/img: cannot read index.json: denied");
    }

    #[test]
    fn a_root_image_must_fit_the_vms_memory() {
        check_fits(MAX_ROOT_IMAGE, 256).unwrap();
        let err = check_fits(MAX_ROOT_IMAGE + 4096, 32).unwrap_err().to_string();
        assert!(err.contains("(2146439168 bytes), more than a module can hold (2047 MiB)"), "{err}");
        // Beside the most guest RAM, less room is left: 4096 - 2047 - 64 MiB.
        let room = WASM32_MEMORY - VM_OVERHEAD - (2047 << 20);
        check_fits(room, 2047).unwrap();
        let err = check_fits(room + 4096, 2047).unwrap_err().to_string();
        assert!(err.contains("--memory 2047 MiB") && err.ends_with("convert with --memory 2046 or less"), "{err}");
    }

    #[test]
    fn the_unpacked_size_error_says_whether_the_flag_can_help() {
        let below = unpacked_too_large(10239);
        assert_eq!(
            below,
            "the image unpacks to more than 10239 bytes; raise --max-unpacked-size (at most 2G) if it is meant to"
        );
        let at = unpacked_too_large(MAX_UNPACKED_SIZE);
        assert!(at.starts_with("the image unpacks to more than 2.00 GiB, the most --max-unpacked-size allows"), "{at}");
        assert!(!at.contains("raise"), "{at}");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out.wasm");
        fs::write(&out, b"old").unwrap();
        write_atomically(&out, b"new").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"new");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        let err = write_atomically(&d.path().join("missing/out.wasm"), b"x").unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
    }

    #[test]
    fn output_checks_come_first() {
        let d = tempfile::tempdir().unwrap();
        assert!(check_output(d.path()).unwrap_err().to_string().contains("is a directory"));
        assert!(check_output(&d.path().join("no/x.wasm")).unwrap_err().to_string().contains("does not exist"));
        check_output(&d.path().join("x.wasm")).unwrap();
        check_output(Path::new("relative.wasm")).unwrap();
    }
}
