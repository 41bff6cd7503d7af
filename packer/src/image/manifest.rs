//! The JSON documents of the OCI image spec and their Docker v2 equivalents: indexes (manifest
//! lists), manifests and descriptors, with the media types c2w reads.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::digest::Digest;
use super::ImageError;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

const CONFIG_TYPES: &[&str] =
    &["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

/// Layer media types whose content is a (possibly compressed) tar. The compression itself is
/// detected from the bytes.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// The Accept header for manifest requests: everything [`Document::parse`] understands.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn digest(&self) -> Result<Digest, ImageError> {
        Digest::parse(&self.digest)
    }

    pub fn platform_name(&self) -> String {
        match &self.platform {
            Some(p) => format!("{}/{}", p.os, p.architecture),
            None => "unknown platform".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone)]
pub enum Document {
    Index(Index),
    Manifest(Manifest),
}

/// Just enough of any manifest document to tell what it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

impl Document {
    /// Parses a manifest or index. The media type comes from the descriptor or the HTTP
    /// Content-Type when known, else from the document's own `mediaType`, else from its shape
    /// (the OCI spec makes `mediaType` optional).
    pub fn parse(what: &str, bytes: &[u8], media_type: Option<&str>) -> Result<Self, ImageError> {
        let invalid = |e: serde_json::Error| ImageError::Invalid { what: what.into(), reason: e.to_string() };
        let probe: Probe = serde_json::from_slice(bytes).map_err(invalid)?;
        let media_type = media_type
            .map(|m| m.split(';').next().unwrap_or("").trim().to_string())
            .filter(|m| !m.is_empty() && m != "application/json" && m != "application/octet-stream")
            .or(probe.media_type);
        let is_index = match media_type.as_deref() {
            Some(OCI_INDEX | DOCKER_LIST) => true,
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            Some(m) if DOCKER_SCHEMA1.contains(&m) => {
                return Err(ImageError::Unsupported(format!(
                    "{what} is a Docker schema 1 manifest, which c2w does not read; push or export the image again with a current tool"
                )))
            }
            Some(m) => return Err(ImageError::Unsupported(format!("{what} has media type {m:?}, which is not an image manifest or index"))),
            None if probe.schema_version == Some(1) => {
                return Err(ImageError::Unsupported(format!("{what} is a Docker schema 1 manifest, which c2w does not read")))
            }
            None => probe.manifests.is_some(),
        };
        Ok(if is_index {
            Document::Index(serde_json::from_slice(bytes).map_err(invalid)?)
        } else {
            Document::Manifest(serde_json::from_slice(bytes).map_err(invalid)?)
        })
    }
}

impl Manifest {
    /// Refuses configs and layers whose media type c2w cannot read, naming the blob.
    pub fn check_media_types(&self, image: &str) -> Result<(), ImageError> {
        if let Some(m) = &self.config.media_type {
            if !CONFIG_TYPES.contains(&m.as_str()) {
                return Err(ImageError::Unsupported(format!(
                    "{image}: config {} has media type {m:?}; this is not a container image (an artifact?)",
                    self.config.digest
                )));
            }
        }
        for layer in &self.layers {
            if let Some(m) = &layer.media_type {
                if !LAYER_TYPES.contains(&m.as_str()) {
                    return Err(ImageError::Unsupported(format!(
                        "{image}: layer {} has media type {m:?}, which c2w cannot unpack",
                        layer.digest
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_told_apart_by_type_or_shape() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(Document::parse("x", idx, None).unwrap(), Document::Index(_)));
        let man = br#"{"schemaVersion":2,"config":{"digest":"sha256:00","size":1},"layers":[]}"#;
        assert!(matches!(Document::parse("x", man, None).unwrap(), Document::Manifest(_)));
        assert!(matches!(Document::parse("x", man, Some(DOCKER_MANIFEST)).unwrap(), Document::Manifest(_)));
        let err = Document::parse("x", br#"{"schemaVersion":1,"fsLayers":[]}"#, None).unwrap_err();
        assert!(err.to_string().contains("schema 1"), "{err}");
        let err = Document::parse("x", man, Some("text/html")).unwrap_err();
        assert!(err.to_string().contains("text/html"), "{err}");
    }

    #[test]
    fn unknown_layer_media_types_are_refused() {
        let man = br#"{"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":1},
            "layers":[{"mediaType":"application/vnd.example.thing","digest":"sha256:11","size":1}]}"#;
        let Document::Manifest(m) = Document::parse("x", man, None).unwrap() else { panic!() };
        let err = m.check_media_types("img").unwrap_err();
        assert!(err.to_string().contains("application/vnd.example.thing"), "{err}");
    }
}
