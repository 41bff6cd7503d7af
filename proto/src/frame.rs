//! Framing of the channel byte stream: `kind: u8, len: u32 LE, payload[len]`.

use crate::DecodeError;

/// Upper bound on one frame's payload; larger writes are split by the sender.
pub const MAX_FRAME_PAYLOAD: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    // host -> guest
    /// An encoded [`crate::RunRequest`].
    Request = 0x01,
    /// Bytes for the container's stdin.
    Stdin = 0x02,
    /// The host's stdin reached end of file.
    StdinEof = 0x03,
    // guest -> host
    /// The init is up and waiting for a request: the pre-boot snapshot point.
    Ready = 0x10,
    /// Bytes the container wrote to stdout.
    Stdout = 0x11,
    /// Bytes the container wrote to stderr.
    Stderr = 0x12,
    /// The container exited: payload is a little-endian i32 exit status (128+signal when killed).
    Exit = 0x13,
    /// The init could not run the request: payload is a UTF-8 message; the run exits non-zero.
    Error = 0x14,
    /// The init wants more stdin (it has consumed what it was sent).
    StdinWant = 0x15,
}

impl FrameKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        use FrameKind::*;
        Some(match v {
            0x01 => Request,
            0x02 => Stdin,
            0x03 => StdinEof,
            0x10 => Ready,
            0x11 => Stdout,
            0x12 => Stderr,
            0x13 => Exit,
            0x14 => Error,
            0x15 => StdinWant,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn new(kind: FrameKind, payload: impl Into<Vec<u8>>) -> Self {
        Self { kind, payload: payload.into() }
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(kind: FrameKind, payload: &[u8], out: &mut Vec<u8>) {
        out.push(kind as u8);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.payload.len());
        Self::encode_into(self.kind, &self.payload, &mut out);
        out
    }
}

/// Incremental decoder: feed it bytes as they arrive, take whole frames out.
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or an error when the
    /// stream is corrupt (unknown kind or oversized length); the stream cannot recover then.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let kind = FrameKind::from_u8(self.buf[0]).ok_or(DecodeError("unknown frame kind"))?;
        let len = u32::from_le_bytes(self.buf[1..5].try_into().unwrap()) as usize;
        if len > MAX_FRAME_PAYLOAD {
            return Err(DecodeError("frame too large"));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some(Frame { kind, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_across_split_reads() {
        let mut stream = Frame::new(FrameKind::Stdout, b"hello".to_vec()).encode();
        stream.extend(Frame::new(FrameKind::Exit, 7i32.to_le_bytes().to_vec()).encode());
        let mut dec = FrameDecoder::default();
        let mut got = vec![];
        for b in &stream {
            dec.push(std::slice::from_ref(b));
            while let Some(f) = dec.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload, b"hello");
        assert_eq!(got[1].kind, FrameKind::Exit);
    }

    #[test]
    fn corrupt_stream_is_an_error() {
        let mut dec = FrameDecoder::default();
        dec.push(&[0xee, 0, 0, 0, 0]);
        assert!(dec.next_frame().is_err());
        let mut dec = FrameDecoder::default();
        dec.push(&[0x11, 0xff, 0xff, 0xff, 0xff]);
        assert!(dec.next_frame().is_err());
    }
}
