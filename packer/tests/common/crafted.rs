//! Builders for hostile images, used by malicious_images.rs: tar streams written header by
//! header (so names can hold `..` and absolute paths, sizes can lie, and GNU sparse maps can
//! claim terabytes), layer blobs in any compression under any media type, and a way back from
//! an out.wasm to the root filesystem image inside it.
//!
//! Included with `#[path]` from the test file rather than from common/mod.rs, so the other
//! test binaries do not compile it.

use serde_json::{json, Value};

use crate::common::{descriptor, gzip, sha, Image};

const BLOCK: usize = 512;

/// A tar stream built from raw headers. The `tar` crate's own builder refuses `..` and
/// absolute names; a hostile image is exactly the one that has them.
pub struct RawTar(Vec<u8>);

impl Default for RawTar {
    fn default() -> Self {
        Self::new()
    }
}

impl RawTar {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// A GNU header with `name` copied byte for byte into the 100-byte name field.
    fn header(name: &str, ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        assert!(name.len() <= 100, "{name} does not fit a plain tar name field");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h
    }

    fn push(&mut self, mut h: tar::Header, data: &[u8]) {
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(BLOCK), 0);
    }

    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        let h = Self::header(name, tar::EntryType::Regular, 0o644, data.len() as u64);
        self.push(h, data);
        self
    }

    pub fn dir(mut self, name: &str) -> Self {
        let h = Self::header(name, tar::EntryType::Directory, 0o755, 0);
        self.push(h, &[]);
        self
    }

    fn link(mut self, ty: tar::EntryType, name: &str, target: &str) -> Self {
        let mut h = Self::header(name, ty, 0o777, 0);
        h.set_link_name_literal(target).unwrap();
        self.push(h, &[]);
        self
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, name, target)
    }

    /// A character or block device, or a fifo.
    pub fn node(mut self, name: &str, ty: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(name, ty, 0o666, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.push(h, &[]);
        self
    }

    /// A GNU sparse file of `real_size` bytes whose only data is `data`, at its very end:
    /// a few hundred bytes in the layer that unpack to `real_size`.
    pub fn sparse(mut self, name: &str, real_size: u64, data: &[u8]) -> Self {
        let mut h = Self::header(name, tar::EntryType::GNUSparse, 0o644, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(real_size);
        gnu.sparse[0].set_offset(real_size - data.len() as u64);
        gnu.sparse[0].set_length(data.len() as u64);
        self.push(h, data);
        self
    }

    /// A header that claims `claimed` bytes of content followed by only `data`, and the end of
    /// the stream: what a cut-off download or a lying header looks like.
    pub fn truncated_file(mut self, name: &str, claimed: u64, data: &[u8]) -> Vec<u8> {
        let mut h = Self::header(name, tar::EntryType::Regular, 0o644, claimed);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0
    }

    /// The stream with its two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 2 * BLOCK]);
        self.0
    }
}

/// A layer blob as it sits in the layout, with the media type its descriptor gives and the
/// diff id (sha256 of the uncompressed tar) the config lists for it.
#[derive(Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub diff_id: String,
}

pub const OCI_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

pub fn gzip_layer(tar: &[u8]) -> Blob {
    Blob { bytes: gzip(tar), media_type: OCI_GZIP.into(), diff_id: sha(tar) }
}

pub fn zstd_layer(tar: &[u8]) -> Blob {
    Blob { bytes: zstd::encode_all(tar, 3).unwrap(), media_type: OCI_ZSTD.into(), diff_id: sha(tar) }
}

/// An amd64 image over `layers` exactly as given (bytes, media types, diff ids): every
/// descriptor matches its blob, so whatever fails is what the blob holds.
pub fn image_of(layers: &[Blob]) -> Image {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let layer_descs: Vec<Value> = layers.iter().map(|l| descriptor(&l.media_type, &l.bytes)).collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": layer_descs,
    }))
    .unwrap();
    image_with_manifest(config, manifest, layers)
}

/// The layout pieces for a hand-edited manifest: its index entry and every blob.
pub fn image_with_manifest(config: Vec<u8>, manifest: Vec<u8>, layers: &[Blob]) -> Image {
    let mut entry = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    entry["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let layer_blobs: Vec<Vec<u8>> = layers.iter().map(|l| l.bytes.clone()).collect();
    let mut blobs = vec![config.clone(), manifest.clone()];
    blobs.extend(layer_blobs.iter().cloned());
    Image { blobs, entry, manifest, layer_blobs, config }
}

/// The EROFS image inside a module that c2w built with `--no-snapshot`.
///
/// c2w has no option to write the root image alone. Without a snapshot, the VM's init export
/// has loaded the bundle (the root image among it) into linear memory and wizer wrote that
/// memory out as data segments; the image is found again by its superblock magic (at 1024)
/// and rebuilt from the segments that cover it. Every candidate is offered to `accept` (the
/// kernel inside the module also holds the magic, as a constant); the first it takes wins.
pub fn root_image_in_module(module: &[u8], accept: &mut dyn FnMut(&[u8]) -> bool) -> Option<Vec<u8>> {
    const MAGIC: [u8; 4] = 0xE0F5_E1E2u32.to_le_bytes();
    const SUPER_OFFSET: u64 = 1024;
    let segments = data_segments(module);
    // Rebuilds `len` bytes of memory from `at`; what no segment covers is zero.
    let memory = |at: u64, len: u64| -> Vec<u8> {
        let mut out = vec![0u8; len as usize];
        for &(offset, ref bytes) in &segments {
            let (lo, hi) = (offset.max(at), (offset + bytes.len() as u64).min(at + len));
            if lo < hi {
                out[(lo - at) as usize..(hi - at) as usize]
                    .copy_from_slice(&bytes[(lo - offset) as usize..(hi - offset) as usize]);
            }
        }
        out
    };
    for (offset, bytes) in &segments {
        for i in 0..bytes.len().saturating_sub(MAGIC.len() - 1) {
            if bytes[i..i + 4] != MAGIC {
                continue;
            }
            let Some(start) = (offset + i as u64).checked_sub(SUPER_OFFSET) else { continue };
            let sb = memory(start + SUPER_OFFSET, 128);
            let blocks = u32::from_le_bytes(sb[36..40].try_into().unwrap());
            // 4 KiB blocks and a size that fits the module's memory, or it is not our image.
            if sb[12] != 12 || blocks == 0 || u64::from(blocks) > (1 << 20) {
                continue;
            }
            let image = memory(start, u64::from(blocks) * 4096);
            if accept(&image) {
                return Some(image);
            }
        }
    }
    None
}

/// The active data segments of a wasm module: (memory offset, bytes).
fn data_segments(module: &[u8]) -> Vec<(u64, Vec<u8>)> {
    assert_eq!(&module[..4], b"\0asm", "not a wasm module");
    let mut segments = Vec::new();
    let mut p = 8;
    while p < module.len() {
        let id = module[p];
        p += 1;
        let size = leb(module, &mut p) as usize;
        let end = p + size;
        if id == 11 {
            let mut q = p;
            for _ in 0..leb(module, &mut q) {
                let flags = leb(module, &mut q);
                if flags == 1 {
                    // passive: no offset, not in memory until copied there
                    let len = leb(module, &mut q) as usize;
                    q += len;
                    continue;
                }
                if flags == 2 {
                    leb(module, &mut q); // memory index
                }
                let opcode = module[q];
                q += 1;
                assert!(opcode == 0x41 || opcode == 0x42, "data offset is not a constant ({opcode:#x})");
                // i32.const offsets are signed LEB128 of an unsigned address.
                let offset = if opcode == 0x41 {
                    u64::from(sleb(module, &mut q) as i32 as u32)
                } else {
                    sleb(module, &mut q) as u64
                };
                assert_eq!(module[q], 0x0b, "data offset expression does not end");
                q += 1;
                let len = leb(module, &mut q) as usize;
                segments.push((offset, module[q..q + len].to_vec()));
                q += len;
            }
        }
        p = end;
    }
    segments
}

fn leb(b: &[u8], p: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = b[*p];
        *p += 1;
        value |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return value;
        }
    }
}

fn sleb(b: &[u8], p: &mut usize) -> i64 {
    let (mut value, mut shift) = (0i64, 0);
    loop {
        let byte = b[*p];
        *p += 1;
        value |= i64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            if shift < 64 && byte & 0x40 != 0 {
                value |= -1 << shift;
            }
            return value;
        }
    }
}
