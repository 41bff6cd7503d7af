//! OCI image layouts (`oci:DIR[:TAG]`) and tar archives of them (`oci-archive:FILE[:TAG]`):
//! `index.json` names the images, `blobs/sha256/<hex>` holds every blob.

use std::io::Read;
use std::path::Path;

use super::files::{DirFiles, Files, TarFiles};
use super::manifest::{Descriptor, Document};
use super::select::{self, Store};
use super::{read_document, Digest, ImageError, ImageSource, LayerDesc, LayerStream, Resolved, Verified, MAX_DOCUMENT};
use crate::arch::Arch;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd and buildkit put the full image name here, next to the bare tag in REF_NAME.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

pub struct Layout {
    name: String,
    files: Box<dyn Files>,
    tag: Option<String>,
}

impl Layout {
    pub fn open_dir(name: &str, dir: &str, tag: Option<&str>) -> Result<Self, ImageError> {
        let path = Path::new(dir);
        if !path.is_dir() {
            return Err(ImageError::NotFound(format!(
                "{name}: {dir} is not a directory; oci: takes an OCI image layout directory (oci:DIR[:TAG])"
            )));
        }
        Ok(Self { name: name.into(), files: Box::new(DirFiles::new(path)), tag: tag.map(String::from) })
    }

    pub fn open_archive(name: &str, file: &str, tag: Option<&str>) -> Result<Self, ImageError> {
        let files = TarFiles::index(Path::new(file))?;
        Ok(Self { name: name.into(), files: Box::new(files), tag: tag.map(String::from) })
    }

    fn blob_path(digest: &Digest) -> String {
        format!("blobs/sha256/{}", digest.hex())
    }

    /// Reads a small blob, checked against its descriptor.
    fn small_blob(&self, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let digest = desc.digest()?;
        if desc.size > MAX_DOCUMENT {
            return Err(ImageError::Invalid {
                what: format!("blob {digest}"),
                reason: format!("{} bytes is too large", desc.size),
            });
        }
        let (r, _) = self.open_blob(&digest)?;
        let blob = format!("{digest} of {}", self.name);
        let bytes = read_document(r, &format!("blob {blob}"))?;
        super::digest::verify_bytes(&blob, &bytes, Some(&digest), Some(desc.size))?;
        Ok(bytes)
    }

    fn open_blob(&self, digest: &Digest) -> Result<(Box<dyn Read + '_>, u64), ImageError> {
        self.files.open(&Self::blob_path(digest))?.ok_or_else(|| {
            ImageError::NotFound(format!(
                "{}: blob {digest} is missing from the layout: the image is incomplete; fetch or export it again",
                self.name
            ))
        })
    }

    /// The index entry the user means: by tag, or the only one, or the one for `arch`.
    fn pick<'d>(&self, manifests: &'d [Descriptor], arch: Arch) -> Result<&'d Descriptor, ImageError> {
        let tags: Vec<&str> =
            manifests.iter().filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str)).collect();
        let candidates: Vec<&Descriptor> = match &self.tag {
            Some(tag) => manifests.iter().filter(|d| tag_matches(d, tag)).collect(),
            None => manifests.iter().collect(),
        };
        match candidates.as_slice() {
            [] if self.tag.is_some() => Err(ImageError::NotFound(format!(
                "{}: no image tagged {:?} in the layout (tags: {})",
                self.name,
                self.tag.as_deref().unwrap_or(""),
                if tags.is_empty() { "none".into() } else { tags.join(", ") }
            ))),
            [] => Err(ImageError::NotFound(format!("{}: the layout's index.json lists no images", self.name))),
            [one] => Ok(one),
            many => {
                if let Some(d) = many.iter().find(|d| select::platform_matches(d, arch)) {
                    return Ok(d);
                }
                if many.iter().all(|d| d.platform.is_some()) {
                    let found: Vec<String> = many.iter().map(|d| d.platform_name()).collect();
                    return Err(select::wrong_platform(&self.name, arch, &found));
                }
                Err(ImageError::NotFound(format!(
                    "{}: the layout holds {} images; name one with :TAG (tags: {})",
                    self.name,
                    many.len(),
                    tags.join(", ")
                )))
            }
        }
    }
}

fn tag_matches(d: &Descriptor, tag: &str) -> bool {
    let ref_name = d.annotations.get(REF_NAME);
    ref_name.is_some_and(|r| r == tag || r.ends_with(&format!(":{tag}")))
        || d.annotations.get(CONTAINERD_NAME).is_some_and(|n| n == tag)
}

impl Store for Layout {
    fn manifest(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
        self.small_blob(desc)
    }
    fn config(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError> {
        self.small_blob(desc)
    }
}

impl ImageSource for Layout {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&mut self, arch: Arch) -> Result<Resolved, ImageError> {
        let (r, _) = self.files.open("index.json")?.ok_or_else(|| {
            ImageError::NotFound(format!("{}: no index.json: this is not an OCI image layout", self.name))
        })?;
        let bytes = read_document(r, "index.json")?;
        let index = match Document::parse(&format!("{} index.json", self.name), &bytes, None)? {
            Document::Index(i) => i,
            Document::Manifest(_) => {
                return Err(ImageError::Invalid {
                    what: format!("{} index.json", self.name),
                    reason: "it is a manifest, not an index".into(),
                })
            }
        };
        let desc = self.pick(&index.manifests, arch)?.clone();
        let name = self.name.clone();
        select::resolve_descriptor(self, &name, &desc, arch, 0)
    }

    fn open_layer(&mut self, layer: &LayerDesc) -> Result<LayerStream<'_>, ImageError> {
        let digest = layer
            .digest
            .clone()
            .ok_or_else(|| ImageError::Invalid { what: layer.blob.clone(), reason: "no digest".into() })?;
        let (r, actual) = self.open_blob(&digest)?;
        let blob = format!("{digest} of {}", self.name);
        // The file's size is known up front: a wrong one is refused before a byte is unpacked,
        // and named as such rather than as whatever the unpacking made of it.
        if let Some(expected) = layer.size.filter(|&s| s != actual) {
            return Err(ImageError::Size { blob, expected, actual });
        }
        Ok(Verified::new(r, blob, Some(digest), layer.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layout directory holding `blob` under its digest (no index: only blobs are read).
    fn layout_with(blob: &[u8]) -> (tempfile::TempDir, Layout, Digest) {
        let dir = tempfile::tempdir().unwrap();
        let digest = Digest::of(blob);
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(dir.path().join("blobs/sha256").join(digest.hex()), blob).unwrap();
        let layout = Layout::open_dir("oci:test", dir.path().to_str().unwrap(), None).unwrap();
        (dir, layout, digest)
    }

    #[test]
    fn a_layer_of_the_wrong_size_is_refused_before_it_is_read() {
        let (_dir, mut layout, digest) = layout_with(b"hello");
        let layer = |size| LayerDesc { blob: digest.to_string(), digest: Some(digest.clone()), size: Some(size) };
        for size in [4, 6] {
            let err = layout.open_layer(&layer(size)).err().unwrap();
            assert!(matches!(err, ImageError::Size { expected, actual: 5, .. } if expected == size), "{err}");
            assert!(err.to_string().contains(&format!("blob {digest} of oci:test is 5 bytes")), "{err}");
        }
        layout.open_layer(&layer(5)).unwrap().finish().unwrap();
    }

    #[test]
    fn manifests_and_configs_that_do_not_match_name_the_image() {
        let (dir, layout, digest) = layout_with(b"{}");
        std::fs::write(dir.path().join("blobs/sha256").join(digest.hex()), b"[]").unwrap();
        let desc: Descriptor =
            serde_json::from_value(serde_json::json!({"digest": digest.as_str(), "size": 2})).unwrap();
        let err = layout.small_blob(&desc).unwrap_err();
        assert!(matches!(err, ImageError::Digest { .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("blob {digest} of oci:test does not match")), "{err}");

        std::fs::remove_file(dir.path().join("blobs/sha256").join(digest.hex())).unwrap();
        let err = layout.small_blob(&desc).unwrap_err().to_string();
        assert!(err.contains("is missing from the layout") && err.ends_with("fetch or export it again"), "{err}");
    }
}
