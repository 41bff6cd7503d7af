//! The bundle the packer hands a VM at pre-boot time: a directory (preopened as `/c2w` under
//! wizer) holding `kernel`, `initrd`, `rootfs`, `config` and `options`.

use proto::ImageConfig;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("bad image config in the bundle: {0}")]
    Config(proto::DecodeError),
    #[error("bad option line {0:?} in the bundle")]
    Option(String),
}

pub struct Bundle {
    pub kernel: Vec<u8>,
    pub initrd: Vec<u8>,
    pub rootfs: Vec<u8>,
    pub config: ImageConfig,
    pub memory_mib: u64,
    /// Boot to the init's Ready at pre-boot time (false: boot when the module starts).
    pub snapshot: bool,
}

impl Bundle {
    /// Zeroes and frees the kernel and initrd once they are in guest RAM, so that they do not
    /// linger in the snapshot of linear memory as garbage.
    pub fn scrub_boot_files(&mut self) {
        for buf in [&mut self.kernel, &mut self.initrd] {
            buf.fill(0);
            // The zeroing is the point: keep it from being dropped as a dead store before free.
            std::hint::black_box(&buf[..]);
            *buf = Vec::new();
        }
    }

    pub fn load(dir: &Path) -> Result<Self, BundleError> {
        let read = |name: &str| {
            let path = dir.join(name);
            read_chunked(&path).map_err(|source| BundleError::Read { path: path.display().to_string(), source })
        };
        let config = ImageConfig::decode(&read("config")?).map_err(BundleError::Config)?;
        let mut b = Bundle {
            kernel: read("kernel")?,
            initrd: read("initrd")?,
            rootfs: read("rootfs")?,
            config,
            memory_mib: 256,
            snapshot: true,
        };
        let options = String::from_utf8_lossy(&read("options")?).into_owned();
        for line in options.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = || BundleError::Option(line.to_string());
            let (k, v) = line.split_once('=').ok_or_else(bad)?;
            match k {
                "memory_mib" => b.memory_mib = v.parse().map_err(|_| bad())?,
                "snapshot" => b.snapshot = v == "1",
                _ => return Err(bad()),
            }
        }
        Ok(b)
    }
}

/// Bytes asked of the host per read call. `std::fs::read` asks for the whole file at once, and
/// wasmtime refuses a single read of 128 MiB or more (its hostcall fuel), which failed every
/// root image that large at pre-boot.
const READ_CHUNK: usize = 16 << 20;

/// Reads a whole file, at most [`READ_CHUNK`] bytes per read call, into a buffer of exactly
/// its size (a root image may take half of a wasm32 address space: no doubling on the way).
fn read_chunked(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = usize::try_from(file.metadata()?.len()).map_err(|_| std::io::ErrorKind::OutOfMemory)?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(size).map_err(|_| std::io::ErrorKind::OutOfMemory)?;
    buf.resize(size, 0);
    let mut at = 0;
    while at < size {
        let n = file.read(&mut buf[at..size.min(at + READ_CHUNK)])?;
        if n == 0 {
            buf.truncate(at);
            return Ok(buf);
        }
        at += n;
    }
    // The file grew since its size was read: take the rest too.
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn chunked_reads_give_the_whole_file() {
        let dir = std::env::temp_dir().join(format!("c2w-bundle-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [0, 1, READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1, 2 * READ_CHUNK + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
            let path = dir.join("f");
            std::fs::write(&path, &data).unwrap();
            let got = read_chunked(&path).unwrap();
            assert!(got == data, "length {len}");
            assert_eq!(got.capacity(), len);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
