//! Split virtqueues (virtio 1.2 §2.7), read and written straight in guest RAM.
//!
//! Everything here is guest-controlled: ring addresses, indices, descriptor tables. A chain that
//! makes no sense (a loop, an index past the table, a buffer outside RAM, a readable buffer after
//! a writable one, a bad indirect table) is completed at once with used length 0 and never
//! reaches the device model, which therefore only sees chains whose every buffer lies in RAM.

use emu_core::GuestRam;

const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;
const DESC_F_INDIRECT: u16 = 4;
const AVAIL_F_NO_INTERRUPT: u16 = 1;
const DESC_SIZE: u64 = 16;
/// The largest indirect table accepted, in descriptors. Linux sizes its tables by the request's
/// segment count, which the devices here cap well below this.
pub const MAX_INDIRECT: u32 = 1024;

/// One buffer of a chain: guest physical address and length, known to lie inside RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub addr: u64,
    pub len: u32,
}

/// Why a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("descriptor index {index} is outside its table of {table_len}")]
    BadIndex { index: u32, table_len: u32 },
    #[error("the chain is longer than its table (a loop)")]
    Loop,
    #[error("buffer {addr:#x}+{len:#x} is not inside guest RAM")]
    OutsideRam { addr: u64, len: u32 },
    #[error("a device-readable buffer follows a device-writable one")]
    ReadableAfterWritable,
    #[error("indirect descriptor not allowed here or malformed")]
    BadIndirect,
}

/// Why a queue could not be made ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue size {size} is not a power of two between 1 and {max}")]
    BadSize { size: u16, max: u16 },
    #[error("the {0} ring is misaligned or not inside guest RAM")]
    BadRing(&'static str),
}

/// A descriptor chain the device may work on: device-readable buffers first, then writable ones.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    head: u16,
    segs: Vec<Segment>,
    readable: usize,
    readable_len: u64,
    writable_len: u64,
}

impl Chain {
    /// The head index, to hand back with [`Virtqueue::push`].
    pub fn head(&self) -> u16 {
        self.head
    }

    pub fn readable(&self) -> &[Segment] {
        &self.segs[..self.readable]
    }

    pub fn writable(&self) -> &[Segment] {
        &self.segs[self.readable..]
    }

    /// Total bytes of the device-readable part.
    pub fn readable_len(&self) -> u64 {
        self.readable_len
    }

    /// Total bytes of the device-writable part.
    pub fn writable_len(&self) -> u64 {
        self.writable_len
    }

    /// Calls `f` with each RAM slice of the readable part from byte `offset` on, at most `max`
    /// bytes in all. Returns the number of bytes visited.
    pub fn for_each_readable(&self, ram: &GuestRam, offset: u64, max: u64, mut f: impl FnMut(&[u8])) -> u64 {
        let mut done = 0;
        for (addr, len) in pieces(self.readable(), offset, max) {
            let Some(s) = ram.slice(addr, len) else { break };
            f(s);
            done += len as u64;
        }
        done
    }

    /// Calls `f` with each RAM slice of the writable part from byte `offset` on, at most `max`
    /// bytes in all. Returns the number of bytes visited.
    pub fn for_each_writable(&self, ram: &mut GuestRam, offset: u64, max: u64, mut f: impl FnMut(&mut [u8])) -> u64 {
        let mut done = 0;
        for (addr, len) in pieces(self.writable(), offset, max) {
            let Some(s) = ram.slice_mut(addr, len) else { break };
            f(s);
            done += len as u64;
        }
        done
    }

    /// Copies readable bytes from `offset` into `buf`; returns how many there were.
    pub fn read(&self, ram: &GuestRam, offset: u64, buf: &mut [u8]) -> usize {
        let mut pos = 0;
        self.for_each_readable(ram, offset, buf.len() as u64, |s| {
            buf[pos..pos + s.len()].copy_from_slice(s);
            pos += s.len();
        });
        pos
    }

    /// The readable part (at most `limit` bytes of it) as one vector.
    pub fn read_to_vec(&self, ram: &GuestRam, limit: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.readable_len.min(limit as u64) as usize);
        self.for_each_readable(ram, 0, limit as u64, |s| out.extend_from_slice(s));
        out
    }

    /// Copies `data` into the writable part from `offset`; returns how many bytes fit.
    pub fn write(&self, ram: &mut GuestRam, offset: u64, data: &[u8]) -> usize {
        let mut pos = 0;
        self.for_each_writable(ram, offset, data.len() as u64, |s| {
            let n = s.len();
            s.copy_from_slice(&data[pos..pos + n]);
            pos += n;
        });
        pos
    }
}

/// The (addr, len) pieces of `segs` that cover bytes `[offset, offset + max)` of their
/// concatenation.
fn pieces(segs: &[Segment], mut offset: u64, mut max: u64) -> impl Iterator<Item = (u64, usize)> + '_ {
    segs.iter().filter_map(move |s| {
        let len = s.len as u64;
        if offset >= len {
            offset -= len;
            return None;
        }
        if max == 0 {
            return None;
        }
        let n = (len - offset).min(max);
        let piece = (s.addr + offset, n as usize);
        offset = 0;
        max -= n;
        Some(piece)
    })
}

/// One split virtqueue, as the driver configured it through the transport.
#[derive(Debug, Clone, Default)]
pub struct Virtqueue {
    /// QueueNumMax: the largest size the driver may choose.
    pub max_size: u16,
    /// QueueNum, as written by the driver.
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    ready: bool,
    indirect: bool,
    last_avail: u16,
    next_used: u16,
    interrupt: bool,
}

impl Virtqueue {
    pub fn new(max_size: u16) -> Self {
        Self { max_size, ..Self::default() }
    }

    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Back to the state after reset: not ready, no addresses, indices at zero.
    pub fn reset(&mut self) {
        *self = Self::new(self.max_size);
    }

    /// Marks the queue not ready, keeping its configuration (QueueReady = 0).
    pub fn disable(&mut self) {
        self.ready = false;
    }

    /// Checks the configuration and makes the queue ready (QueueReady = 1). `indirect` tells
    /// whether VIRTIO_F_INDIRECT_DESC was negotiated.
    pub fn enable(&mut self, ram: &GuestRam, indirect: bool) -> Result<(), QueueError> {
        let size = self.size;
        if size == 0 || !size.is_power_of_two() || size > self.max_size {
            return Err(QueueError::BadSize { size, max: self.max_size });
        }
        let n = size as u64;
        let ring_ok = |addr: u64, align: u64, len: u64| addr.is_multiple_of(align) && ram.offset(addr, len).is_some();
        if !ring_ok(self.desc, 16, n * DESC_SIZE) {
            return Err(QueueError::BadRing("descriptor"));
        }
        // flags, idx, ring[n], used_event
        if !ring_ok(self.avail, 2, 6 + 2 * n) {
            return Err(QueueError::BadRing("available"));
        }
        // flags, idx, ring[n] of {id, len}, avail_event
        if !ring_ok(self.used, 4, 6 + 8 * n) {
            return Err(QueueError::BadRing("used"));
        }
        self.indirect = indirect;
        self.last_avail = 0;
        self.next_used = 0;
        self.interrupt = false;
        self.ready = true;
        Ok(())
    }

    /// Whether the driver has made buffers available that the device has not taken yet.
    pub fn has_available(&self, ram: &GuestRam) -> bool {
        self.ready && ram.read_u16(self.avail + 2).is_some_and(|idx| idx != self.last_avail)
    }

    /// Takes the next available chain. Malformed chains are completed with length 0 on the way
    /// (and logged); `None` when the driver has made nothing more available.
    pub fn pop(&mut self, ram: &mut GuestRam) -> Option<Chain> {
        loop {
            if !self.has_available(ram) {
                return None;
            }
            let slot = self.avail + 4 + 2 * (self.last_avail % self.size) as u64;
            let head = ram.read_u16(slot)?;
            self.last_avail = self.last_avail.wrapping_add(1);
            match self.walk(ram, head) {
                Ok(chain) => return Some(chain),
                Err(e) => {
                    log::warn!("virtqueue: refusing descriptor chain {head}: {e}");
                    self.push(ram, head, 0);
                }
            }
        }
    }

    /// Returns a chain to the driver with `len` bytes written into its writable part.
    pub fn push(&mut self, ram: &mut GuestRam, head: u16, len: u32) {
        if !self.ready {
            return;
        }
        let slot = self.used + 4 + 8 * (self.next_used % self.size) as u64;
        // The rings were checked to lie in RAM when the queue was enabled; a failed write here
        // cannot happen, and ignoring it would be the right answer anyway.
        let _ = ram.write_u32(slot, head as u32);
        let _ = ram.write_u32(slot + 4, len);
        self.next_used = self.next_used.wrapping_add(1);
        let _ = ram.write_u16(self.used + 2, self.next_used);
        let flags = ram.read_u16(self.avail).unwrap_or(0);
        if flags & AVAIL_F_NO_INTERRUPT == 0 {
            self.interrupt = true;
        }
    }

    /// Whether a used buffer notification is due since the last call.
    pub fn take_interrupt(&mut self) -> bool {
        std::mem::take(&mut self.interrupt)
    }

    /// Follows the chain at `head`, checking every descriptor.
    fn walk(&self, ram: &GuestRam, head: u16) -> Result<Chain, ChainError> {
        let mut chain = Chain { head, ..Chain::default() };
        let mut table = self.desc;
        let mut table_len = self.size as u32;
        let mut index = head as u32;
        let mut in_indirect = false;
        let mut seen = 0u32;
        loop {
            if index >= table_len {
                return Err(ChainError::BadIndex { index, table_len });
            }
            seen += 1;
            if seen > table_len {
                return Err(ChainError::Loop);
            }
            let (addr, len, flags, next) = read_desc(ram, table + index as u64 * DESC_SIZE)
                .ok_or(ChainError::OutsideRam { addr: table, len: table_len * DESC_SIZE as u32 })?;
            if flags & DESC_F_INDIRECT != 0 {
                // A table ends its chain (no NEXT) and may not point to another table.
                let entries = len / DESC_SIZE as u32;
                if !self.indirect
                    || in_indirect
                    || flags & DESC_F_NEXT != 0
                    || !len.is_multiple_of(DESC_SIZE as u32)
                    || entries == 0
                    || entries > MAX_INDIRECT
                    || !addr.is_multiple_of(DESC_SIZE)
                {
                    return Err(ChainError::BadIndirect);
                }
                if ram.offset(addr, len as u64).is_none() {
                    return Err(ChainError::OutsideRam { addr, len });
                }
                table = addr;
                table_len = entries;
                index = 0;
                seen = 0;
                in_indirect = true;
                continue;
            }
            let writable = flags & DESC_F_WRITE != 0;
            if !writable && chain.writable_len > 0 {
                return Err(ChainError::ReadableAfterWritable);
            }
            // Zero-length buffers carry nothing, wherever they point; dropping them keeps every
            // segment non-empty.
            if len > 0 {
                if ram.offset(addr, len as u64).is_none() {
                    return Err(ChainError::OutsideRam { addr, len });
                }
                chain.segs.push(Segment { addr, len });
                if writable {
                    chain.writable_len += len as u64;
                } else {
                    chain.readable += 1;
                    chain.readable_len += len as u64;
                }
            }
            if flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            index = next as u32;
        }
    }
}

fn read_desc(ram: &GuestRam, at: u64) -> Option<(u64, u32, u16, u16)> {
    let d = ram.slice(at, DESC_SIZE as usize)?;
    Some((
        u64::from_le_bytes(d[0..8].try_into().ok()?),
        u32::from_le_bytes(d[8..12].try_into().ok()?),
        u16::from_le_bytes(d[12..14].try_into().ok()?),
        u16::from_le_bytes(d[14..16].try_into().ok()?),
    ))
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
