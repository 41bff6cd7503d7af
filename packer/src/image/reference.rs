//! Registry image references: `[host[:port]/]path[:tag][@sha256:...]`, with Docker's
//! conventions for names without a host: they live on the default registry, and a
//! one-component name there lives under `library/`.
//!
//! c2w names no registry itself: the default registry is the API host in the
//! `C2W_DEFAULT_REGISTRY` environment variable, and a short name without it is an error that
//! says so.

use std::fmt;

use super::{Digest, ImageError};

/// The environment variable naming the registry API host for names without a host.
pub const DEFAULT_REGISTRY_ENV: &str = "C2W_DEFAULT_REGISTRY";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` the registry API is reached at.
    pub host: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `s`, resolving a name without a host against `$C2W_DEFAULT_REGISTRY`.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let default = std::env::var(DEFAULT_REGISTRY_ENV).ok().filter(|h| !h.is_empty());
        Self::parse_with_default(s, default.as_deref())
    }

    /// Parses `s`; a name without a host lives on `default_registry`.
    pub fn parse_with_default(s: &str, default_registry: Option<&str>) -> Result<Self, ImageError> {
        let invalid =
            |reason: &str| ImageError::Invalid { what: format!("image reference {s:?}"), reason: reason.into() };
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (s, None),
        };
        // A tag is a colon after the last slash (a colon before it is a registry port).
        let (name, tag) = match name.rfind(':') {
            Some(i) if !name[i..].contains('/') => (&name[..i], Some(name[i + 1..].to_string())),
            _ => (name, None),
        };
        let (host, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first, rest),
            _ => ("", name),
        };
        if path.is_empty() {
            return Err(invalid("no repository name"));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(invalid("bad tag"));
            }
        }
        for comp in path.split('/') {
            let ok = !comp.is_empty()
                && comp.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && comp.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid("repository names are lowercase letters, digits and . _ - separated by /"));
            }
        }
        let on_default = host.is_empty();
        let host = match (on_default, default_registry) {
            (false, _) => host.to_string(),
            (true, Some(d)) => d.to_string(),
            (true, None) => {
                return Err(invalid(&format!(
                    "it names no registry host: write HOST/NAME:TAG (e.g. 127.0.0.1:5000/{path}), or set \
                     {DEFAULT_REGISTRY_ENV} to the registry API host to use for such names"
                )))
            }
        };
        let repository = if on_default && !path.contains('/') { format!("library/{path}") } else { path.to_string() };
        let tag = if tag.is_none() && digest.is_none() { Some("latest".into()) } else { tag };
        Ok(Self { host, repository, tag, digest })
    }

    /// What to ask the manifests endpoint for: the digest when there is one (it pins the
    /// content), else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// Plain HTTP only for registries on this machine; everything else over TLS.
    pub fn scheme(&self) -> &'static str {
        let host = match self.host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.host,
        };
        if ["localhost", "127.0.0.1", "[::1]"].contains(&host) {
            "http"
        } else {
            "https"
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn short_names_use_the_default_registry() {
        let d = |s: &str| Reference::parse_with_default(s, Some("registry.example")).unwrap();
        let r = d("alpine:3.20");
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("registry.example", "library/alpine", Some("3.20"))
        );
        assert_eq!(d("alpine").tag.as_deref(), Some("latest"));
        assert_eq!(d("user/app:1").repository, "user/app");
        assert_eq!(d("alpine").scheme(), "https");
        assert_eq!(d("other.example/busybox").repository, "busybox");
        let err = Reference::parse_with_default("alpine:3.20", None).unwrap_err().to_string();
        assert!(err.contains("names no registry host") && err.contains(DEFAULT_REGISTRY_ENV), "{err}");
    }

    #[test]
    fn hosts_ports_and_digests() {
        let r = p("127.0.0.1:5000/x:y");
        assert_eq!((r.host.as_str(), r.repository.as_str(), r.tag.as_deref()), ("127.0.0.1:5000", "x", Some("y")));
        assert_eq!(r.scheme(), "http");
        assert_eq!(p("localhost/a/b").scheme(), "http");
        assert_eq!(p("registry.example/o/r:t").scheme(), "https");
        let d = Digest::of(b"m");
        let r = p(&format!("localhost:5000/name@{d}"));
        assert_eq!((r.tag.as_deref(), r.manifest_ref()), (None, d.to_string()));
        let r = p(&format!("localhost:5000/name:tag@{d}"));
        assert_eq!((r.tag.as_deref(), r.manifest_ref()), (Some("tag"), d.to_string()));
        assert_eq!(p("localhost:5000/ns/repo").tag.as_deref(), Some("latest"));
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in ["Alpine", "alpine:", "a//b", "alpine@sha256:zz", ":tag", "x:bad/tag/"] {
            assert!(Reference::parse_with_default(bad, Some("registry.example")).is_err(), "{bad}");
        }
    }
}
