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
            std::fs::read(&path).map_err(|source| BundleError::Read { path: path.display().to_string(), source })
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
