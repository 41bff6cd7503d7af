//! Little-endian 9P field decoding and encoding.

use super::consts::{errno, HEADER_LEN};
use super::Errno;

/// A qid: the server's unique identity of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

/// Reads fields from a message body; any read past the end is a protocol error.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(Errno(errno::EPROTO))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Errno> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, Errno> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A 9P string: len[2] then that many bytes (not validated here).
    pub fn string(&mut self) -> Result<&'a [u8], Errno> {
        let len = self.u16()?;
        self.bytes(usize::from(len))
    }
}

/// Builds one R-message in place; `finish` patches the size field.
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Clears `buf` and writes the header of an R-message of type `ty`.
    pub fn start(buf: &'a mut Vec<u8>, ty: u8, tag: u16) -> Self {
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        buf.push(ty);
        buf.extend_from_slice(&tag.to_le_bytes());
        Writer { buf }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a 9P string; fails if it does not fit the 16-bit length.
    pub fn string(&mut self, s: &[u8]) -> Result<(), Errno> {
        let len = u16::try_from(s.len()).map_err(|_| Errno(errno::ENAMETOOLONG))?;
        self.u16(len);
        self.buf.extend_from_slice(s);
        Ok(())
    }

    pub fn qid(&mut self, q: Qid) {
        self.u8(q.ty);
        self.u32(q.version);
        self.u64(q.path);
    }

    /// Bytes written so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Direct access for payloads read straight into the message (Rread, Rreaddir).
    pub fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    pub fn finish(&mut self) {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        debug_assert!(self.buf.len() >= HEADER_LEN);
    }
}
