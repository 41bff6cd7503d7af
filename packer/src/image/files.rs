//! Named files of an image on the local disk: either a directory (an OCI layout) or a tar
//! archive of one (oci-archive, docker-archive). Archives are indexed once and then read in
//! place by offset: nothing is extracted, and no blob is held in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::ImageError;

/// An opened member file and its size.
pub type Opened<'a> = (Box<dyn Read + 'a>, u64);

pub trait Files {
    /// Opens `path` (relative, `/`-separated) with its size, or `None` if there is no such file.
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>, ImageError>;
}

pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }
}

impl Files for DirFiles {
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>, ImageError> {
        // Callers only pass fixed names and validated digests: no `..` can reach here.
        let full = self.root.join(path);
        let io_err = |e| ImageError::Io { what: full.display().to_string(), error: e };
        let file = match File::open(&full) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let size = file.metadata().map_err(io_err)?.len();
        Ok(Some((Box::new(BufReader::with_capacity(1 << 16, file)), size)))
    }
}

enum TarEntry {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A tar archive's member files, by normalised path.
pub struct TarFiles {
    path: PathBuf,
    entries: HashMap<String, TarEntry>,
}

/// `./a//b` -> `a/b`; `..` resolved lexically.
fn normalise(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

impl TarFiles {
    pub fn index(path: &Path) -> Result<Self, ImageError> {
        let what = path.display().to_string();
        let io_err = |e| ImageError::Io { what: what.clone(), error: e };
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ImageError::NotFound(format!("{what}: no such file")),
            _ => io_err(e),
        })?;
        let mut archive = tar::Archive::new(BufReader::new(file));
        let bad = |e: std::io::Error| ImageError::Invalid { what: format!("archive {what}"), reason: e.to_string() };
        let mut entries = HashMap::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = normalise(&String::from_utf8_lossy(&entry.path_bytes()));
            let ty = entry.header().entry_type();
            let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            if ty.is_file() || ty.is_contiguous() {
                entries.insert(name, TarEntry::File { offset: entry.raw_file_position(), size: entry.size() });
            } else if ty.is_symlink() || ty.is_hard_link() {
                let Some(target) = entry.link_name_bytes() else { continue };
                let target = String::from_utf8_lossy(&target).into_owned();
                // Symlinks are relative to their directory; hardlinks name an archive path.
                let target = if ty.is_symlink() && !target.starts_with('/') {
                    normalise(&format!("{parent}/{target}"))
                } else {
                    normalise(&target)
                };
                entries.insert(name, TarEntry::Link(target));
            }
        }
        Ok(Self { path: path.to_path_buf(), entries })
    }
}

impl Files for TarFiles {
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>, ImageError> {
        let mut name = normalise(path);
        for _ in 0..8 {
            match self.entries.get(&name) {
                None => return Ok(None),
                Some(TarEntry::Link(target)) => name = target.clone(),
                Some(&TarEntry::File { offset, size }) => {
                    let io_err = |e| ImageError::Io { what: format!("{} in {}", name, self.path.display()), error: e };
                    let mut file = File::open(&self.path).map_err(io_err)?;
                    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
                    return Ok(Some((Box::new(BufReader::with_capacity(1 << 16, file).take(size)), size)));
                }
            }
        }
        Err(ImageError::Invalid {
            what: format!("archive {}", self.path.display()),
            reason: format!("{path}: too many links"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_members_are_read_in_place_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "./x/layer.tar", &b"hello"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "y/layer.tar", "../x/layer.tar").unwrap();
        b.into_inner().unwrap();

        let files = TarFiles::index(&path).unwrap();
        for name in ["x/layer.tar", "y/layer.tar"] {
            let (mut r, size) = files.open(name).unwrap().unwrap();
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            assert_eq!((s.as_str(), size), ("hello", 5));
        }
        assert!(files.open("nope").unwrap().is_none());
    }
}
