//! Layer compression, detected from the first bytes rather than trusted from the media type
//! (docker archives carry no media types, and registries mislabel layers now and then).

use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Gzip,
    Zstd,
}

/// Compressions we recognise but do not read, with a name for the error message.
fn unsupported(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else {
        None
    }
}

/// Wraps `raw` in the decoder its magic bytes call for. Gzip goes through `MultiGzDecoder`:
/// a layer may be several concatenated gzip members, and a plain `GzDecoder` would silently
/// stop after the first.
pub fn decoder<'a, R: Read + 'a>(mut raw: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let head = &head[..got];
    if let Some(name) = unsupported(head) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{name}-compressed layers are not supported (only plain tar, gzip and zstd)"),
        ));
    }
    let stream = Cursor::new(head.to_vec()).chain(raw);
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        (Compression::Gzip, Box::new(MultiGzDecoder::new(stream)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        (Compression::Zstd, Box::new(zstd::stream::read::Decoder::new(stream)?))
    } else {
        (Compression::Plain, Box::new(stream))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (Compression, Vec<u8>) {
        let (c, mut r) = decoder(bytes).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (c, out)
    }

    #[test]
    fn plain_passes_through_including_tiny_inputs() {
        assert_eq!(read_all(b"hello world"), (Compression::Plain, b"hello world".to_vec()));
        assert_eq!(read_all(b"hi"), (Compression::Plain, b"hi".to_vec()));
        assert_eq!(read_all(b""), (Compression::Plain, vec![]));
    }

    #[test]
    fn gzip_reads_every_member() {
        let mut two = gz(b"first ");
        two.extend(gz(b"second"));
        assert_eq!(read_all(&two), (Compression::Gzip, b"first second".to_vec()));
    }

    #[test]
    fn zstd_is_detected() {
        let z = zstd::encode_all(&b"zstd data"[..], 3).unwrap();
        assert_eq!(read_all(&z), (Compression::Zstd, b"zstd data".to_vec()));
    }

    #[test]
    fn xz_is_refused_by_name() {
        let err = decoder(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2][..]).err().unwrap();
        assert!(err.to_string().contains("xz-compressed"), "{err}");
    }
}
