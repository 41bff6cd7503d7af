//! Builds test images from Rust: tar layers, OCI layouts, oci-archives and docker-archives,
//! the same shapes the acceptance fixtures (shared/acceptance/mkimage.py) write.
#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn sha(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

/// A layer as a list of entries.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Self {
        Self(tar::Builder::new(Vec::new()))
    }

    fn header(ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    /// The uncompressed tar stream.
    pub fn tar(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An image config JSON for `arch` listing the diff ids of `tars`.
pub fn config(arch: &str, tars: &[Vec<u8>], run: Value) -> Vec<u8> {
    let diff_ids: Vec<String> = tars.iter().map(|t| sha(t)).collect();
    serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux", "config": run,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap()
}

pub fn descriptor(media_type: &str, blob: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha(blob), "size": blob.len()})
}

/// An OCI image manifest over a config and gzip layer blobs.
pub fn manifest(config: &[u8], blobs: &[Vec<u8>]) -> Vec<u8> {
    let layers: Vec<Value> =
        blobs.iter().map(|b| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", b)).collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers,
    }))
    .unwrap()
}

/// One image of a layout: its blobs and the index entry naming it.
pub struct Image {
    pub blobs: Vec<Vec<u8>>,
    pub entry: Value,
    pub manifest: Vec<u8>,
    pub layer_blobs: Vec<Vec<u8>>,
    pub config: Vec<u8>,
}

/// An image for `arch` from layer tar streams (gzipped here), with a platform and tag on its
/// index entry like mkimage.py writes.
pub fn image(arch: &str, tars: &[Vec<u8>], run: Value, tag: Option<&str>) -> Image {
    let layer_blobs: Vec<Vec<u8>> = tars.iter().map(|t| gzip(t)).collect();
    let config = config(arch, tars, run);
    let manifest = manifest(&config, &layer_blobs);
    let mut entry = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    entry["platform"] = json!({"architecture": arch, "os": "linux"});
    if let Some(t) = tag {
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": t});
    }
    let mut blobs = vec![config.clone(), manifest.clone()];
    blobs.extend(layer_blobs.iter().cloned());
    Image { blobs, entry, manifest, layer_blobs, config }
}

pub fn write_layout(dir: &Path, images: &[&Image]) {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let entries: Vec<&Value> = images.iter().map(|i| &i.entry).collect();
    let index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    for img in images {
        for b in &img.blobs {
            let hex = &sha(b)["sha256:".len()..];
            fs::write(dir.join("blobs/sha256").join(hex), b).unwrap();
        }
    }
}

/// Tars a directory tree (for oci-archive) with relative names.
pub fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

/// A `docker save` tarball: manifest.json, `<hex>.json` config, `<hex>/layer.tar` layers
/// (gzipped when asked).
pub fn write_docker_archive(out: &Path, arch: &str, tars: &[Vec<u8>], run: Value, gzip_layers: bool) {
    write_docker_archive_with(out, config(arch, tars, run), tars, gzip_layers)
}

pub fn write_docker_archive_with(out: &Path, config: Vec<u8>, tars: &[Vec<u8>], gzip_layers: bool) {
    let cname = format!("{}.json", &sha(&config)[7..]);
    let mut files: Vec<(String, Vec<u8>)> = vec![(cname.clone(), config)];
    let mut names = Vec::new();
    for t in tars {
        let n = format!("{}/layer.tar", &sha(t)[7..]);
        files.push((n.clone(), if gzip_layers { gzip(t) } else { t.clone() }));
        names.push(n);
    }
    let manifest = json!([{"Config": cname, "RepoTags": ["test:latest"], "Layers": names}]);
    files.push(("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()));
    let mut b = tar::Builder::new(fs::File::create(out).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap();
}

/// The file at `path` in a tree, if it is a regular file.
pub fn file(tree: &packer::tree::Tree, path: &str) -> Option<Vec<u8>> {
    use packer::tree::{Kind, ROOT};
    let mut node = ROOT;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        node = tree.children(node).find(|(n, _)| *n == comp.as_bytes())?.1;
    }
    match &tree.node(node).kind {
        Kind::File(d) => Some(d.clone()),
        _ => None,
    }
}
