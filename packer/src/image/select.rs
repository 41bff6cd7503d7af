//! From a manifest document to a [`Resolved`] image, the same for layouts and registries:
//! pick the `linux/<arch>` entry of an index (always the requested arch, never the host's),
//! read and check the config, list the layers.

use super::manifest::{Descriptor, Document, Manifest};
use super::{Digest, ImageError, LayerDesc, Resolved};
use crate::arch::Arch;
use crate::config::ConfigInfo;

/// Indexes nest (an index entry may itself be an index); this bounds a hostile cycle.
const MAX_DEPTH: u32 = 4;

/// Where manifests and config blobs come from; each fetch is checked against its descriptor.
pub trait Store {
    fn manifest(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError>;
    fn config(&mut self, desc: &Descriptor) -> Result<Vec<u8>, ImageError>;
}

pub fn platform_matches(desc: &Descriptor, arch: Arch) -> bool {
    // Variants (v8 for arm64 and the like) do not apply to amd64 and riscv64: ignored.
    desc.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch.oci_name())
}

/// The error for an image that exists, but not for `arch`: names what it has and, when c2w
/// can convert one of those, the flag that picks it.
pub fn wrong_platform(image: &str, arch: Arch, found: &[String]) -> ImageError {
    let supported = found.iter().find_map(|p| p.strip_prefix("linux/").and_then(|a| a.parse::<Arch>().ok()));
    let fix = match supported {
        Some(a) => format!("; use --target-arch {a}"),
        None => "; c2w converts linux/amd64 and linux/riscv64 images".into(),
    };
    let msg = match found {
        [one] => format!("image {image} is {one}, not linux/{arch}{fix}"),
        _ => format!("image {image} has no linux/{arch} variant (it has {}){fix}", found.join(", ")),
    };
    ImageError::Platform(msg)
}

/// Picks the `linux/<arch>` manifest of an index.
pub fn pick_platform<'d>(image: &str, manifests: &'d [Descriptor], arch: Arch) -> Result<&'d Descriptor, ImageError> {
    if let Some(d) = manifests.iter().find(|d| platform_matches(d, arch)) {
        return Ok(d);
    }
    let found: Vec<String> = manifests
        .iter()
        .filter(|d| d.platform.as_ref().is_some_and(|p| p.os != "unknown"))
        .map(Descriptor::platform_name)
        .collect();
    Err(wrong_platform(image, arch, &found))
}

pub fn resolve_document(
    store: &mut dyn Store,
    image: &str,
    doc: Document,
    arch: Arch,
    depth: u32,
) -> Result<Resolved, ImageError> {
    match doc {
        Document::Index(index) => {
            if depth >= MAX_DEPTH {
                return Err(ImageError::Invalid {
                    what: format!("image {image}"),
                    reason: "indexes nest too deeply".into(),
                });
            }
            let desc = pick_platform(image, &index.manifests, arch)?;
            resolve_descriptor(store, image, desc, arch, depth + 1)
        }
        Document::Manifest(m) => resolve_manifest(store, image, &m, arch),
    }
}

pub fn resolve_descriptor(
    store: &mut dyn Store,
    image: &str,
    desc: &Descriptor,
    arch: Arch,
    depth: u32,
) -> Result<Resolved, ImageError> {
    let bytes = store.manifest(desc)?;
    let doc = Document::parse(&format!("{image}: manifest {}", desc.digest), &bytes, desc.media_type.as_deref())?;
    resolve_document(store, image, doc, arch, depth)
}

fn resolve_manifest(store: &mut dyn Store, image: &str, m: &Manifest, arch: Arch) -> Result<Resolved, ImageError> {
    m.check_media_types(image)?;
    let bytes = store.config(&m.config)?;
    let config = ConfigInfo::parse(&bytes).map_err(|e| ImageError::Invalid {
        what: format!("config {} of {image}", m.config.digest),
        reason: e.to_string(),
    })?;
    check_arch(image, &config, arch)?;
    let layers = m
        .layers
        .iter()
        .map(|l| Ok(LayerDesc { blob: l.digest.clone(), digest: Some(Digest::parse(&l.digest)?), size: Some(l.size) }))
        .collect::<Result<Vec<_>, ImageError>>()?;
    Ok(Resolved { config, layers })
}

/// A single-platform image must be for the requested arch.
pub fn check_arch(image: &str, config: &ConfigInfo, arch: Arch) -> Result<(), ImageError> {
    if config.architecture.is_empty() && config.os.is_empty() {
        log::warn!("image {image} does not say its platform; assuming linux/{arch}");
        return Ok(());
    }
    if config.architecture != arch.oci_name() || (config.os != "linux" && !config.os.is_empty()) {
        return Err(wrong_platform(image, arch, &[config.platform()]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(os: &str, arch: &str) -> Descriptor {
        serde_json::from_value(serde_json::json!({
            "digest": "sha256:00", "size": 1, "platform": {"os": os, "architecture": arch}
        }))
        .unwrap()
    }

    #[test]
    fn the_requested_arch_is_picked_never_the_hosts() {
        let list = [desc("linux", "amd64"), desc("linux", "arm64"), desc("linux", "riscv64")];
        assert_eq!(pick_platform("i", &list, Arch::Riscv64).unwrap().platform_name(), "linux/riscv64");
        assert_eq!(pick_platform("i", &list, Arch::Amd64).unwrap().platform_name(), "linux/amd64");
    }

    #[test]
    fn a_missing_platform_names_what_there_is() {
        let list = [desc("linux", "amd64"), desc("linux", "arm64"), desc("unknown", "unknown")];
        let err = pick_platform("alpine", &list, Arch::Riscv64).unwrap_err().to_string();
        assert_eq!(
            err,
            "image alpine has no linux/riscv64 variant (it has linux/amd64, linux/arm64); use --target-arch amd64"
        );
    }

    /// Serves the same document for every manifest.
    struct OneDocument(&'static [u8]);

    impl Store for OneDocument {
        fn manifest(&mut self, _: &Descriptor) -> Result<Vec<u8>, ImageError> {
            Ok(self.0.to_vec())
        }
        fn config(&mut self, _: &Descriptor) -> Result<Vec<u8>, ImageError> {
            Ok(self.0.to_vec())
        }
    }

    #[test]
    fn a_manifest_that_is_not_one_names_the_image() {
        let mut d = desc("linux", "amd64");
        d.media_type = Some("text/html".into());
        let err = resolve_descriptor(&mut OneDocument(b"{}"), "oci:x", &d, Arch::Amd64, 0).unwrap_err();
        assert!(err.to_string().starts_with("oci:x: manifest sha256:00 has media type \"text/html\""), "{err}");
    }

    #[test]
    fn a_single_manifest_of_another_arch_is_refused() {
        let c = ConfigInfo::parse(br#"{"architecture":"amd64","os":"linux"}"#).unwrap();
        let err = check_arch("x", &c, Arch::Riscv64).unwrap_err().to_string();
        assert_eq!(err, "image x is linux/amd64, not linux/riscv64; use --target-arch amd64");
        let c = ConfigInfo::parse(br#"{"architecture":"arm64","os":"linux"}"#).unwrap();
        let err = check_arch("x", &c, Arch::Amd64).unwrap_err().to_string();
        assert!(err.contains("c2w converts linux/amd64 and linux/riscv64"), "{err}");
    }
}
