//! The conversion pipeline behind `c2w`: resolve the image, apply its layers to a tree, write
//! the root filesystem image, build the module, and write OUTPUT atomically (no partial file
//! on any failure).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::arch::Arch;
use crate::config::ConfigInfo;
use crate::erofs;
use crate::image::{self, Digest, ImageError, ImageSource, Resolved};
use crate::layers::{Applier, Limits};
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
    let mut source = image::open(spec)?;
    progress(&format!("reading {spec} for linux/{arch}"));
    let resolved = source.resolve(arch)?;
    let tree = apply_layers(source.as_mut(), &resolved, limits)?;
    Ok((tree, resolved.config))
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
        let context = || format!("{name}: layer {}/{n} ({})", i + 1, layer.blob);
        let mut blob = source.open_layer(layer).with_context(context)?;
        let applied = match applier.apply(&mut blob) {
            Ok(a) => a,
            // A blob that does not match its descriptor is the better diagnosis than whatever
            // parse error its bytes caused.
            Err(e) => match blob.finish() {
                Err(bad @ (ImageError::Digest { .. } | ImageError::Size { .. })) => return Err(bad.into()),
                _ => return Err(anyhow::Error::new(e).context(context())),
            },
        };
        blob.finish()?;
        if let Some(expected) = diff_ids.get(i) {
            let actual = Digest::from_hash(applied.diff_id);
            if actual.as_str() != expected {
                bail!(
                    "{}: uncompressed it hashes to {actual}, but the config says {expected}: the image is corrupt; fetch or export it again",
                    context()
                );
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
