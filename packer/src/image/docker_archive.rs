//! `docker save` tarballs (`docker-archive:FILE[:REF]`): `manifest.json` lists each image's
//! config file and layer files. Layers carry no digest here; they are checked against the
//! config's diff ids once uncompressed (see convert.rs).

use std::path::Path;

use serde::Deserialize;

use super::files::{Files, TarFiles};
use super::{read_document, select, Digest, ImageError, ImageSource, LayerDesc, LayerStream, Resolved, Verified};
use crate::arch::Arch;
use crate::config::ConfigInfo;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub struct DockerArchive {
    name: String,
    files: TarFiles,
    tag: Option<String>,
}

impl DockerArchive {
    pub fn open(name: &str, file: &str, tag: Option<&str>) -> Result<Self, ImageError> {
        let files = TarFiles::index(Path::new(file))?;
        Ok(Self { name: name.into(), files, tag: tag.map(String::from) })
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, ImageError> {
        let (r, _) = self.files.open(path)?.ok_or_else(|| {
            ImageError::NotFound(format!(
                "{}: {path} is missing from the archive; is it a docker save tarball?",
                self.name
            ))
        })?;
        read_document(r, path)
    }

    fn pick<'e>(&self, entries: &'e [Entry]) -> Result<&'e Entry, ImageError> {
        let tags = || entries.iter().flat_map(|e| e.repo_tags.iter().flatten().cloned()).collect::<Vec<_>>().join(", ");
        match (&self.tag, entries) {
            (_, []) => Err(ImageError::NotFound(format!("{}: manifest.json lists no images", self.name))),
            (None, [one]) => Ok(one),
            (None, _) => Err(ImageError::NotFound(format!(
                "{}: the archive holds {} images; name one with docker-archive:FILE:REF (tags: {})",
                self.name,
                entries.len(),
                tags()
            ))),
            (Some(tag), _) => entries
                .iter()
                .find(|e| {
                    e.repo_tags.iter().flatten().any(|t| t == tag || t.rsplit_once(':').is_some_and(|(n, _)| n == tag))
                })
                .ok_or_else(|| {
                    ImageError::NotFound(format!(
                        "{}: no image tagged {tag:?} in the archive (tags: {})",
                        self.name,
                        tags()
                    ))
                }),
        }
    }
}

/// Newer `docker save` writes an OCI layout inside the archive: its layer paths are then
/// `blobs/sha256/<hex>`, and the digest is checkable.
fn digest_of_path(path: &str) -> Option<Digest> {
    let hex = path.trim_start_matches("./").strip_prefix("blobs/sha256/")?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

impl ImageSource for DockerArchive {
    fn name(&self) -> &str {
        &self.name
    }

    fn resolve(&mut self, arch: Arch) -> Result<Resolved, ImageError> {
        let bytes = self.read("manifest.json")?;
        let entries: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Invalid { what: format!("{} manifest.json", self.name), reason: e.to_string() })?;
        let entry = self.pick(&entries)?;
        let config_bytes = self.read(&entry.config)?;
        if let Some(d) = digest_of_path(&entry.config) {
            super::digest::verify_bytes(&entry.config, &config_bytes, Some(&d), None)?;
        }
        let config = ConfigInfo::parse(&config_bytes).map_err(|e| ImageError::Invalid {
            what: format!("{} config {}", self.name, entry.config),
            reason: e.to_string(),
        })?;
        select::check_arch(&self.name, &config, arch)?;
        let mut layers = Vec::new();
        for path in &entry.layers {
            let (_, size) = self.files.open(path)?.ok_or_else(|| {
                ImageError::NotFound(format!("{}: layer {path} is missing from the archive", self.name))
            })?;
            layers.push(LayerDesc { blob: path.clone(), digest: digest_of_path(path), size: Some(size) });
        }
        Ok(Resolved { config, layers })
    }

    fn open_layer(&mut self, layer: &LayerDesc) -> Result<LayerStream<'_>, ImageError> {
        let (r, _) = self.files.open(&layer.blob)?.ok_or_else(|| {
            ImageError::NotFound(format!("{}: layer {} is missing from the archive", self.name, layer.blob))
        })?;
        Ok(Verified::new(r, format!("{} of {}", layer.blob, self.name), layer.digest.clone(), layer.size))
    }
}
