//! A tiny 9P2000.L client for the tests: encodes T-messages, decodes R-messages.

use super::consts::*;
use super::wire::{Qid, Reader};
use super::Server;

/// Builds a T-message body field by field; `msg` adds the header.
#[derive(Default)]
pub struct Body(pub Vec<u8>);

impl Body {
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn s(mut self, v: &[u8]) -> Self {
        self = self.u16(v.len() as u16);
        self.0.extend_from_slice(v);
        self
    }
    pub fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
}

pub fn body() -> Body {
    Body::default()
}

/// A complete T-message of type `ty` with tag 1.
pub fn msg(ty: u8, body: Body) -> Vec<u8> {
    let mut m = ((HEADER_LEN + body.0.len()) as u32).to_le_bytes().to_vec();
    m.push(ty);
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&body.0);
    m
}

/// A decoded reply: its type and body.
pub struct Reply {
    pub ty: u8,
    pub tag: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.body)
    }

    /// The errno of an Rlerror, or None for any other reply.
    pub fn errno(&self) -> Option<u32> {
        (self.ty == RLERROR).then(|| self.reader().u32().unwrap())
    }
}

pub fn read_qid(r: &mut Reader) -> Qid {
    Qid { ty: r.u8().unwrap(), version: r.u32().unwrap(), path: r.u64().unwrap() }
}

/// Sends raw bytes; checks the reply's framing is well formed.
pub fn send_raw(server: &mut Server, request: &[u8]) -> Reply {
    let mut resp = vec![0xaa; 3]; // garbage that `handle` must clear
    server.handle(request, &mut resp);
    assert!(resp.len() >= HEADER_LEN, "reply too short: {resp:?}");
    let size = u32::from_le_bytes(resp[..4].try_into().unwrap()) as usize;
    assert_eq!(size, resp.len(), "size field matches reply length");
    assert!(size <= server.msize as usize, "reply {size} exceeds msize");
    Reply { ty: resp[4], tag: u16::from_le_bytes([resp[5], resp[6]]), body: resp[HEADER_LEN..].to_vec() }
}

/// Sends a message and expects success: an R-message of type `ty` + 1.
pub fn call(server: &mut Server, ty: u8, b: Body) -> Reply {
    let reply = send_raw(server, &msg(ty, b));
    assert_eq!(reply.errno(), None, "T-message {ty} failed");
    assert_eq!(reply.ty, ty + 1);
    assert_eq!(reply.tag, 1);
    reply
}

/// Sends a message and expects Rlerror; returns the errno.
pub fn call_err(server: &mut Server, ty: u8, b: Body) -> u32 {
    let reply = send_raw(server, &msg(ty, b));
    reply.errno().unwrap_or_else(|| panic!("T-message {ty} succeeded (reply type {})", reply.ty))
}
