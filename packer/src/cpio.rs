//! The initramfs: a newc ("070701") cpio archive, the format the Linux kernel unpacks at boot.
//!
//! The initramfs holds only the c2w init and the few nodes it needs before it mounts the
//! container root: `/dev/console` must exist before the kernel opens it for init's stdio
//! (devtmpfs is not mounted yet at that point), and the mount points exist so the init does
//! not have to create them. Every entry has mtime 0 and owner root, so the archive (and with it
//! the snapshot) depends only on its inputs.

const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &str = "TRAILER!!!";

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CpioError {
    #[error("cpio entry name {0:?} is empty, absolute, or contains a NUL byte")]
    BadName(String),
    #[error("cpio entry {name:?} is {len} bytes; newc holds at most 4 GiB - 1 per file")]
    TooLarge { name: String, len: usize },
}

/// Builds a newc archive in memory, entry by entry.
#[derive(Default)]
pub struct CpioWriter {
    buf: Vec<u8>,
    next_ino: u32,
}

struct Header {
    mode: u32,
    nlink: u32,
    filesize: u32,
    rdev_major: u32,
    rdev_minor: u32,
}

impl CpioWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory; `path` is relative (`dev`, `dev/pts`), parents first.
    pub fn dir(&mut self, path: &str, perm: u32) -> Result<(), CpioError> {
        let h = Header { mode: S_IFDIR | (perm & 0o7777), nlink: 2, filesize: 0, rdev_major: 0, rdev_minor: 0 };
        self.entry(path, h, &[])
    }

    /// A regular file with contents `data`.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<(), CpioError> {
        let filesize =
            u32::try_from(data.len()).map_err(|_| CpioError::TooLarge { name: path.to_string(), len: data.len() })?;
        let h = Header { mode: S_IFREG | (perm & 0o7777), nlink: 1, filesize, rdev_major: 0, rdev_minor: 0 };
        self.entry(path, h, data)
    }

    /// A character device node `major:minor`.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<(), CpioError> {
        let h = Header { mode: S_IFCHR | (perm & 0o7777), nlink: 1, filesize: 0, rdev_major: major, rdev_minor: minor };
        self.entry(path, h, &[])
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        let h = Header { mode: 0, nlink: 1, filesize: 0, rdev_major: 0, rdev_minor: 0 };
        self.write_entry(TRAILER, 0, &h, &[]);
        self.buf
    }

    fn entry(&mut self, path: &str, h: Header, data: &[u8]) -> Result<(), CpioError> {
        if path.is_empty() || path.starts_with('/') || path.contains('\0') || path == TRAILER {
            return Err(CpioError::BadName(path.to_string()));
        }
        // Inode numbers only need to be distinct (the kernel links equal ones as hardlinks).
        self.next_ino += 1;
        self.write_entry(path, self.next_ino, &h, data);
        Ok(())
    }

    fn write_entry(&mut self, name: &str, ino: u32, h: &Header, data: &[u8]) {
        let namesize = name.len() as u32 + 1;
        let fields = [ino, h.mode, 0, 0, h.nlink, 0, h.filesize, 0, 0, h.rdev_major, h.rdev_minor, namesize, 0];
        self.buf.extend_from_slice(MAGIC);
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad4();
        self.buf.extend_from_slice(data);
        self.pad4();
    }

    fn pad4(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

/// The c2w initramfs: `/init` (the guest init binary) and the nodes it needs before the
/// container root is mounted.
pub fn initramfs(init: &[u8]) -> Result<Vec<u8>, CpioError> {
    let mut w = CpioWriter::new();
    for dir in ["dev", "proc", "sys", "mnt"] {
        w.dir(dir, 0o755)?;
    }
    // 5:1 is the Linux console device (Documentation/admin-guide/devices.txt).
    w.char_dev("dev/console", 0o600, 5, 1)?;
    w.file("init", 0o755, init)?;
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_LEN: usize = 110;

    /// One parsed entry: name, mode, rdev, data.
    #[derive(Debug, PartialEq)]
    struct Entry {
        name: String,
        mode: u32,
        rdev: (u32, u32),
        data: Vec<u8>,
    }

    /// An independent reader of the format, strict about magic, padding and the trailer.
    fn parse(mut buf: &[u8]) -> Vec<Entry> {
        let total = buf.len();
        let mut out = Vec::new();
        loop {
            let offset = total - buf.len();
            assert_eq!(offset % 4, 0, "entry at unaligned offset {offset}");
            assert_eq!(&buf[..6], MAGIC);
            let field = |i: usize| {
                let s = std::str::from_utf8(&buf[6 + i * 8..14 + i * 8]).unwrap();
                u32::from_str_radix(s, 16).unwrap()
            };
            let (mode, filesize, rdev, namesize) = (field(1), field(6) as usize, (field(9), field(10)), field(11));
            let name_end = HEADER_LEN + namesize as usize;
            assert_eq!(buf[name_end - 1], 0, "name not NUL-terminated");
            let name = String::from_utf8(buf[HEADER_LEN..name_end - 1].to_vec()).unwrap();
            let data_start = name_end.next_multiple_of(4);
            let data = buf[data_start..data_start + filesize].to_vec();
            buf = &buf[(data_start + filesize).next_multiple_of(4)..];
            if name == TRAILER {
                assert!(buf.is_empty(), "bytes after the trailer");
                return out;
            }
            out.push(Entry { name, mode, rdev, data });
        }
    }

    #[test]
    fn initramfs_holds_init_and_the_early_nodes() {
        let init = b"\x7fELF pretend init, odd length".to_vec();
        let archive = initramfs(&init).unwrap();
        assert_eq!(archive.len() % 4, 0);
        let entries = parse(&archive);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "proc", "sys", "mnt", "dev/console", "init"]);
        let init_entry = &entries[5];
        assert_eq!(init_entry.mode, S_IFREG | 0o755);
        assert_eq!(init_entry.data, init);
        let console = &entries[4];
        assert_eq!(console.mode, S_IFCHR | 0o600);
        assert_eq!(console.rdev, (5, 1));
        assert!(entries[..4].iter().all(|e| e.mode == S_IFDIR | 0o755 && e.data.is_empty()));
    }

    #[test]
    fn padding_is_right_for_every_name_and_data_length() {
        for name_len in 1..9 {
            for data_len in 0..9 {
                let mut w = CpioWriter::new();
                let name = "n".repeat(name_len);
                let data = vec![0xa5; data_len];
                w.file(&name, 0o644, &data).unwrap();
                w.dir("after", 0o700).unwrap();
                let entries = parse(&w.finish());
                assert_eq!(entries.len(), 2);
                assert_eq!((entries[0].name.as_str(), &entries[0].data), (name.as_str(), &data));
                assert_eq!(entries[1].name, "after");
            }
        }
    }

    #[test]
    fn refuses_names_the_kernel_would_misread() {
        let mut w = CpioWriter::new();
        for bad in ["", "/init", "a\0b", TRAILER] {
            assert_eq!(w.dir(bad, 0o755), Err(CpioError::BadName(bad.to_string())));
        }
    }

    #[test]
    fn gnu_cpio_lists_the_archive() {
        // An independent implementation, when the host has one; the parser above covers the rest.
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-i", "-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("cpio not installed; skipped");
            return;
        };
        let archive = initramfs(b"#!/bin/sh\n").unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "cpio failed: {}", String::from_utf8_lossy(&out.stderr));
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 6, "{listing}");
        assert!(lines[4].starts_with("crw-------") && lines[4].contains("5,") && lines[4].ends_with("dev/console"));
        assert!(lines[5].starts_with("-rwxr-xr-x") && lines[5].ends_with(" init"), "{listing}");
    }
}
