//! 9p read and write throughput: a 9P2000.L client that talks to the virtio-9p model through
//! [`Driver`], one request per notification as v9fs does for a synchronous read or write.
//! Messages are encoded here from the protocol (size[4] type[1] tag[2] body).

use crate::driver::{Driver, DriverError};
use devices::{Share, P9};
use std::path::PathBuf;

const TVERSION: u8 = 100;
const TATTACH: u8 = 104;
const TWALK: u8 = 110;
const TLOPEN: u8 = 12;
const TLCREATE: u8 = 14;
const TREAD: u8 = 116;
const TWRITE: u8 = 118;
const TCLUNK: u8 = 120;
const RLERROR: u8 = 7;
const NOFID: u32 = !0;
const HEADER: usize = 7;
/// Linux open flags as 9P2000.L carries them.
pub const O_RDONLY: u32 = 0;
pub const O_RDWR: u32 = 2;
pub const O_CREAT: u32 = 0o100;
pub const O_TRUNC: u32 = 0o1000;
const ROOT_FID: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum P9Error {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("9p type {ty}: the server answered errno {errno}")]
    Errno { ty: u8, errno: u32 },
    #[error("9p type {ty}: bad reply (type {got}, {len} bytes)")]
    BadReply { ty: u8, got: u8, len: u32 },
    #[error("short {op}: {got} of {want} bytes")]
    Short { op: &'static str, got: u32, want: u32 },
}

/// A field-by-field message body.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn s(mut self, v: &str) -> Self {
        self.0.extend_from_slice(&(v.len() as u16).to_le_bytes());
        self.0.extend_from_slice(v.as_bytes());
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// A client attached to one share (the host directory `root`).
pub struct P9Client {
    pub driver: Driver<P9>,
    request: u64,
    response: u64,
    msize: u32,
    next_fid: u32,
    used: Vec<(u32, u32)>,
}

impl P9Client {
    /// Negotiates `msize` and attaches to `root` (aname "bench").
    pub fn attach(root: PathBuf, msize: u32) -> Result<Self, P9Error> {
        let mut dev = P9::new("bench");
        dev.set_shares(vec![Share { aname: "bench".into(), root }]);
        let ram = 2 * msize as usize + (1 << 20);
        let mut driver = Driver::start(dev, 8, ram)?;
        let request = driver.alloc(msize as u64)?;
        let response = driver.alloc(msize as u64)?;
        let mut c = Self { driver, request, response, msize, next_fid: ROOT_FID + 1, used: Vec::new() };
        c.call(TVERSION, &Body::default().u32(msize).s("9P2000.L").0, 0)?;
        c.call(TATTACH, &Body::default().u32(ROOT_FID).u32(NOFID).s("root").s("bench").u32(0).0, 0)?;
        Ok(c)
    }

    /// Largest payload of one Tread/Twrite.
    pub fn iounit(&self) -> u32 {
        self.msize - 24
    }

    /// Sends one T-message whose body is `body` followed by `extra` bytes already in RAM after
    /// it (the data of a Twrite); returns the reply's length. The reply stays in RAM.
    fn call(&mut self, ty: u8, body: &[u8], extra: u32) -> Result<u32, P9Error> {
        let len = (HEADER + body.len()) as u32 + extra;
        let mut head = Vec::with_capacity(HEADER + body.len());
        head.extend_from_slice(&len.to_le_bytes());
        head.push(ty);
        head.extend_from_slice(&1u16.to_le_bytes());
        head.extend_from_slice(body);
        self.driver.ram.write(self.request, &head).expect("request buffer in RAM");
        self.driver.add(&[(self.request, len, false), (self.response, self.msize, true)]);
        self.driver.notify();
        self.driver.take_used(&mut self.used);
        let written = match self.used.as_slice() {
            [(_, n)] => *n,
            other => return Err(DriverError::Completions { got: other.len(), want: 1 }.into()),
        };
        let reply = self.driver.ram.slice(self.response, HEADER + 4).expect("response buffer in RAM");
        let got = reply[4];
        if got == RLERROR {
            let errno = u32::from_le_bytes(reply[HEADER..HEADER + 4].try_into().expect("4 bytes"));
            return Err(P9Error::Errno { ty, errno });
        }
        if got != ty + 1 || (written as usize) < HEADER {
            return Err(P9Error::BadReply { ty, got, len: written });
        }
        Ok(written)
    }

    fn new_fid(&mut self) -> u32 {
        self.next_fid += 1;
        self.next_fid
    }

    /// Opens `name` in the share root with Linux `flags`; returns its fid.
    pub fn open(&mut self, name: &str, flags: u32) -> Result<u32, P9Error> {
        let fid = self.new_fid();
        self.call(TWALK, &Body::default().u32(ROOT_FID).u32(fid).u16(1).s(name).0, 0)?;
        // Rwalk nwqid[2]: a walk that stopped early leaves the fid unused.
        let walked = self.driver.ram.read_u16(self.response + HEADER as u64).expect("response buffer in RAM");
        if walked != 1 {
            return Err(P9Error::Short { op: "walk", got: walked as u32, want: 1 });
        }
        self.call(TLOPEN, &Body::default().u32(fid).u32(flags).0, 0)?;
        Ok(fid)
    }

    /// Creates (or truncates) `name` in the share root, open read-write; returns its fid.
    pub fn create(&mut self, name: &str) -> Result<u32, P9Error> {
        let fid = self.new_fid();
        self.call(TWALK, &Body::default().u32(ROOT_FID).u32(fid).u16(0).0, 0)?;
        self.call(TLCREATE, &Body::default().u32(fid).s(name).u32(O_RDWR | O_CREAT | O_TRUNC).u32(0o644).u32(0).0, 0)?;
        Ok(fid)
    }

    pub fn clunk(&mut self, fid: u32) -> Result<(), P9Error> {
        self.call(TCLUNK, &Body::default().u32(fid).0, 0).map(|_| ())
    }

    /// Reads `len` bytes from `fid` at offset 0 in iounit-sized Treads; `sink` sees the data.
    pub fn read(&mut self, fid: u32, len: u64, mut sink: impl FnMut(&[u8])) -> Result<u64, P9Error> {
        let mut off = 0;
        while off < len {
            let want = (len - off).min(self.iounit() as u64) as u32;
            self.call(TREAD, &Body::default().u32(fid).u64(off).u32(want).0, 0)?;
            let count_at = self.response + HEADER as u64;
            let got = self.driver.ram.read_u32(count_at).expect("response buffer in RAM");
            if got != want {
                return Err(P9Error::Short { op: "read", got, want });
            }
            sink(self.driver.ram.slice(count_at + 4, got as usize).expect("response buffer in RAM"));
            off += got as u64;
        }
        Ok(len)
    }

    /// Writes `len` bytes to `fid` from offset 0 in iounit-sized Twrites. The payload is
    /// `pattern` (at most iounit bytes), put in the request buffer once, as a guest's page
    /// cache would already hold the data.
    pub fn write(&mut self, fid: u32, len: u64, pattern: &[u8]) -> Result<u64, P9Error> {
        // Twrite body: fid[4] offset[8] count[4], then the data.
        let data_at = self.request + HEADER as u64 + 16;
        let chunk = (pattern.len() as u32).min(self.iounit());
        self.driver.ram.write(data_at, &pattern[..chunk as usize]).expect("request buffer in RAM");
        let mut off = 0;
        while off < len {
            let want = (len - off).min(chunk as u64) as u32;
            self.call(TWRITE, &Body::default().u32(fid).u64(off).u32(want).0, want)?;
            let got = self.driver.ram.read_u32(self.response + HEADER as u64).expect("response buffer in RAM");
            if got != want {
                return Err(P9Error::Short { op: "write", got, want });
            }
            off += got as u64;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("c2w-bench-9p-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_host_file_whole() {
        let dir = share("read");
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("f"), &data).unwrap();
        let mut c = P9Client::attach(dir.clone(), 128 << 10).unwrap();
        let fid = c.open("f", O_RDONLY).unwrap();
        let mut got = Vec::new();
        c.read(fid, data.len() as u64, |d| got.extend_from_slice(d)).unwrap();
        assert!(got == data, "the data read differs from the file");
        c.clunk(fid).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_reach_the_host_file() {
        let dir = share("write");
        let mut c = P9Client::attach(dir.clone(), 64 << 10).unwrap();
        let fid = c.create("out").unwrap();
        let pattern: Vec<u8> = (0..c.iounit()).map(|i| (i % 13) as u8).collect();
        let len = 3 * pattern.len() as u64 + 100;
        c.write(fid, len, &pattern).unwrap();
        c.clunk(fid).unwrap();
        let got = std::fs::read(dir.join("out")).unwrap();
        assert_eq!(got.len() as u64, len);
        assert!(got.chunks(pattern.len()).all(|c| c == &pattern[..c.len()]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_errno() {
        let dir = share("missing");
        let mut c = P9Client::attach(dir.clone(), 64 << 10).unwrap();
        let err = c.open("nope", O_RDONLY).unwrap_err();
        assert!(matches!(err, P9Error::Errno { ty: TWALK, .. } | P9Error::Short { op: "walk", .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
