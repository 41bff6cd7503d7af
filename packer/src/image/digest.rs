//! Content digests (`sha256:<64 hex>`) and a reader that checks a blob against its descriptor
//! while it streams.

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use super::ImageError;

/// A validated `sha256:` digest. Other algorithms are refused: every image tool writes
/// sha256, and a validated digest is also safe to use as a file name inside a layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| ImageError::Unsupported(format!("digest {s:?}: only sha256 digests are supported")))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ImageError::Invalid {
                what: format!("digest {s:?}"),
                reason: "not sha256 and 64 lowercase hex digits".into(),
            });
        }
        Ok(Self(s.to_string()))
    }

    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hash(Sha256::digest(bytes).into())
    }

    pub fn from_hash(hash: [u8; 32]) -> Self {
        Self(format!("sha256:{}", hex(&hash)))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a small in-memory blob (manifest, config) against its descriptor.
pub fn verify_bytes(blob: &str, bytes: &[u8], digest: Option<&Digest>, size: Option<u64>) -> Result<(), ImageError> {
    if let Some(size) = size {
        if bytes.len() as u64 != size {
            return Err(ImageError::Size { blob: blob.into(), expected: size, actual: bytes.len() as u64 });
        }
    }
    if let Some(digest) = digest {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(ImageError::Digest { blob: blob.into(), expected: digest.clone(), actual });
        }
    }
    Ok(())
}

/// Hashes and counts what passes through; refuses to read past the expected size (so a
/// hostile source cannot stream forever) and checks digest and size in [`Verified::finish`].
pub struct Verified<R> {
    inner: R,
    blob: String,
    digest: Option<Digest>,
    size: Option<u64>,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Verified<R> {
    /// `blob` names the blob in error messages.
    pub fn new(inner: R, blob: String, digest: Option<Digest>, size: Option<u64>) -> Self {
        Self { inner, blob, digest, size, hasher: Sha256::new(), count: 0 }
    }

    /// Reads whatever is left, then checks size and digest.
    pub fn finish(mut self) -> Result<(), ImageError> {
        io::copy(&mut self, &mut io::sink())
            .map_err(|e| ImageError::Io { what: format!("blob {}", self.blob), error: e })?;
        if let Some(size) = self.size {
            if self.count != size {
                return Err(ImageError::Size { blob: self.blob, expected: size, actual: self.count });
            }
        }
        if let Some(digest) = self.digest {
            let actual = Digest::from_hash(self.hasher.finalize().into());
            if actual != digest {
                return Err(ImageError::Digest { blob: self.blob, expected: digest, actual });
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if let Some(size) = self.size {
            if self.count > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob {} is longer than the {size} bytes its descriptor gives", self.blob),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_sha256_only() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(Digest::parse("sha512:abcd").is_err());
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse(&d.as_str().to_uppercase().replace("SHA256", "sha256")).is_err());
    }

    #[test]
    fn verified_reader_checks_digest_and_size() {
        let data = b"hello blob";
        let ok = Verified::new(&data[..], "b".into(), Some(Digest::of(data)), Some(data.len() as u64));
        ok.finish().unwrap();
        let bad = Verified::new(&data[..], "b".into(), Some(Digest::of(b"other")), None);
        assert!(matches!(bad.finish(), Err(ImageError::Digest { .. })));
        let short = Verified::new(&data[..], "b".into(), None, Some(100));
        assert!(matches!(short.finish(), Err(ImageError::Size { expected: 100, actual: 10, .. })));
        let mut long = Verified::new(&data[..], "b".into(), None, Some(4));
        let mut out = Vec::new();
        let err = long.read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("longer than the 4 bytes"), "{err}");
    }
}
