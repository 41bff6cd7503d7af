//! Image sources: where an image's manifest, config and layer blobs come from. Every source
//! resolves to the same [`Resolved`] image for one platform and then streams its layers, each
//! checked against its descriptor as it goes.
//!
//! Sources, spelled as skopeo and podman spell them: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
//! `docker-archive:FILE[:REF]`, or a registry reference (`alpine:3.20`, `host:5000/x:y`,
//! `name@sha256:...`).

pub mod digest;
mod docker_archive;
mod files;
mod layout;
pub mod manifest;
pub mod reference;
mod registry;
mod select;

use std::io::{self, Read};
use std::path::Path;

use thiserror::Error;

use crate::arch::Arch;
use crate::config::ConfigInfo;
pub use digest::{Digest, Verified};

/// Largest manifest, index or config document read into memory.
pub const MAX_DOCUMENT: u64 = 16 << 20;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error("cannot read {what}: {error}")]
    Io { what: String, error: io::Error },
    #[error("{0}")]
    NotFound(String),
    #[error("{what} is not valid: {reason}")]
    Invalid { what: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Platform(String),
    #[error("blob {blob} does not match its digest {expected} (it hashes to {actual}): the image is corrupt; fetch or export it again")]
    Digest { blob: String, expected: Digest, actual: Digest },
    #[error("blob {blob} is {actual} bytes, but its descriptor says {expected}: the image is corrupt; fetch or export it again")]
    Size { blob: String, expected: u64, actual: u64 },
    #[error("{0}")]
    Registry(String),
}

/// One layer to apply, as its source names it.
#[derive(Debug, Clone)]
pub struct LayerDesc {
    /// How the source finds the blob (a digest, or a path inside an archive); also what error
    /// messages call it.
    pub blob: String,
    pub digest: Option<Digest>,
    pub size: Option<u64>,
}

/// An image resolved for one platform: its config and its layers, bottom first.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: ConfigInfo,
    pub layers: Vec<LayerDesc>,
}

/// A layer blob being streamed; [`Verified::finish`] checks it once it has been read.
pub type LayerStream<'a> = Verified<Box<dyn Read + 'a>>;

pub trait ImageSource {
    /// The image as the user named it, for messages.
    fn name(&self) -> &str;
    /// Picks the manifest for `linux/<arch>` and reads the config.
    fn resolve(&mut self, arch: Arch) -> Result<Resolved, ImageError>;
    fn open_layer(&mut self, layer: &LayerDesc) -> Result<LayerStream<'_>, ImageError>;
}

/// Opens the source an IMAGE argument names. Nothing is read yet beyond what is needed to
/// know the source exists (archives are indexed here).
pub fn open(spec: &str) -> Result<Box<dyn ImageSource>, ImageError> {
    if let Some(rest) = spec.strip_prefix("oci:") {
        let (dir, tag) = split_path_tag(rest);
        return Ok(Box::new(layout::Layout::open_dir(spec, dir, tag)?));
    }
    if let Some(rest) = spec.strip_prefix("oci-archive:") {
        let (file, tag) = split_path_tag(rest);
        return Ok(Box::new(layout::Layout::open_archive(spec, file, tag)?));
    }
    if let Some(rest) = spec.strip_prefix("docker-archive:") {
        let (file, tag) = split_path_tag(rest);
        return Ok(Box::new(docker_archive::DockerArchive::open(spec, file, tag)?));
    }
    for transport in ["docker-daemon:", "containers-storage:"] {
        if spec.starts_with(transport) {
            return Err(ImageError::Unsupported(format!(
                "{spec}: the {transport} transport is not supported; use oci:, oci-archive:, docker-archive: or a registry reference"
            )));
        }
    }
    let spec_ref = spec.strip_prefix("docker://").unwrap_or(spec);
    let reference = reference::Reference::parse(spec_ref)?;
    Ok(Box::new(registry::Registry::new(spec, reference)))
}

/// Splits `PATH[:TAG]`. A path that exists as written wins (it may contain a colon);
/// otherwise the part after the last colon is the tag, if it has no slash.
fn split_path_tag(s: &str) -> (&str, Option<&str>) {
    if Path::new(s).exists() {
        return (s, None);
    }
    match s.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => (path, (!tag.is_empty()).then_some(tag)),
        _ => (s, None),
    }
}

/// Reads a document (manifest, config) of bounded size.
fn read_document(mut r: impl Read, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    (&mut r)
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::Io { what: what.into(), error: e })?;
    if buf.len() as u64 > MAX_DOCUMENT {
        return Err(ImageError::Invalid { what: what.into(), reason: format!("larger than {MAX_DOCUMENT} bytes") });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_tag_split() {
        assert_eq!(split_path_tag("/no/such/dir:latest"), ("/no/such/dir", Some("latest")));
        assert_eq!(split_path_tag("/no/such/dir"), ("/no/such/dir", None));
        assert_eq!(split_path_tag("rel/dir:v1.2"), ("rel/dir", Some("v1.2")));
        let d = tempfile::tempdir().unwrap();
        let odd = d.path().join("with:colon");
        std::fs::create_dir(&odd).unwrap();
        let s = odd.to_str().unwrap();
        assert_eq!(split_path_tag(s), (s, None));
    }

    #[test]
    fn unsupported_transports_are_named() {
        let err = open("docker-daemon:alpine:3.20").err().unwrap();
        assert!(err.to_string().contains("docker-daemon: transport is not supported"), "{err}");
    }
}
