//! virtio-blk served from memory: the disk is a byte vector, copied straight to and from the
//! guest's buffers in RAM.

use crate::device::VirtioDevice;
use crate::queue::{Chain, Virtqueue};
use crate::spec::device_id;
use emu_core::{DevCtx, GuestRam};

pub const SECTOR_SIZE: u64 = 512;

const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_BLK_SIZE: u64 = 1 << 6;
const F_FLUSH: u64 = 1 << 9;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// struct virtio_blk_outhdr: type, reserved, sector.
const HEADER_LEN: u64 = 16;
/// Data segments per request (the header and status descriptors come on top).
const SEG_MAX: u32 = 126;
const ID_LEN: usize = 20;
const ID: &[u8] = b"c2w-disk";
/// struct virtio_blk_config up to and including the topology fields.
const CONFIG_LEN: usize = 32;

pub struct Blk {
    data: Vec<u8>,
    read_only: bool,
    config: [u8; CONFIG_LEN],
}

impl Blk {
    /// A disk holding `data`, padded with zeros to whole sectors.
    pub fn new(mut data: Vec<u8>, read_only: bool) -> Self {
        let rem = data.len() as u64 % SECTOR_SIZE;
        if rem != 0 {
            data.resize(data.len() + (SECTOR_SIZE - rem) as usize, 0);
        }
        let mut config = [0u8; CONFIG_LEN];
        config[0..8].copy_from_slice(&(data.len() as u64 / SECTOR_SIZE).to_le_bytes());
        config[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        config[20..24].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        Self { data, read_only, config }
    }

    /// The disk contents (including what the guest wrote).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn capacity_sectors(&self) -> u64 {
        self.data.len() as u64 / SECTOR_SIZE
    }

    /// The disk range `[sector * 512, + len)` when it is inside the disk and whole sectors.
    fn range(&self, sector: u64, len: u64) -> Option<std::ops::Range<usize>> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return None;
        }
        let start = sector.checked_mul(SECTOR_SIZE)?;
        let end = start.checked_add(len)?;
        (end <= self.data.len() as u64).then_some(start as usize..end as usize)
    }

    /// Serves one request; returns its status and the bytes written before the status byte.
    fn serve(&mut self, chain: &Chain, ram: &mut GuestRam) -> (u8, u64) {
        let mut hdr = [0u8; HEADER_LEN as usize];
        if chain.read(ram, 0, &mut hdr) < hdr.len() {
            return (S_IOERR, 0);
        }
        let kind = u32::from_le_bytes(hdr[0..4].try_into().unwrap_or_default());
        let sector = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or_default());
        // Everything writable but the final status byte is data.
        let data_in = chain.writable_len() - 1;
        let data_out = chain.readable_len() - HEADER_LEN;
        match kind {
            T_IN => {
                // A read whose buffers point the wrong way would silently do nothing.
                if data_out != 0 {
                    return (S_IOERR, 0);
                }
                let Some(r) = self.range(sector, data_in) else { return (S_IOERR, 0) };
                let n = chain.write(ram, 0, &self.data[r]);
                (S_OK, n as u64)
            }
            T_OUT => {
                if self.read_only || data_in != 0 {
                    return (S_IOERR, 0);
                }
                let Some(r) = self.range(sector, data_out) else { return (S_IOERR, 0) };
                let disk = &mut self.data[r];
                let mut pos = 0;
                chain.for_each_readable(ram, HEADER_LEN, data_out, |s| {
                    disk[pos..pos + s.len()].copy_from_slice(s);
                    pos += s.len();
                });
                (S_OK, 0)
            }
            T_FLUSH => (S_OK, 0),
            T_GET_ID => {
                let mut id = [0u8; ID_LEN];
                id[..ID.len()].copy_from_slice(ID);
                let n = chain.write(ram, 0, &id[..(data_in as usize).min(ID_LEN)]);
                (S_OK, n as u64)
            }
            _ => (S_UNSUPP, 0),
        }
    }
}

impl VirtioDevice for Blk {
    fn device_id(&self) -> u32 {
        device_id::BLOCK
    }

    fn features(&self) -> u64 {
        let ro = if self.read_only { F_RO } else { 0 };
        F_SEG_MAX | F_BLK_SIZE | F_FLUSH | ro
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn notify(&mut self, queue: usize, queues: &mut [Virtqueue], ctx: &mut DevCtx) {
        let Some(q) = queues.get_mut(queue) else { return };
        while let Some(chain) = q.pop(ctx.ram) {
            // Without a header and a status byte there is nobody to tell about a failure.
            if chain.writable_len() == 0 || chain.readable_len() < HEADER_LEN {
                log::warn!("virtio-blk: request without header or status byte");
                let status = if chain.writable_len() > 0 { 1 } else { 0 };
                if status == 1 {
                    chain.write(ctx.ram, chain.writable_len() - 1, &[S_IOERR]);
                }
                q.push(ctx.ram, chain.head(), status);
                continue;
            }
            let (status, written) = self.serve(&chain, ctx.ram);
            chain.write(ctx.ram, chain.writable_len() - 1, &[status]);
            q.push(ctx.ram, chain.head(), (written + 1).min(u32::MAX as u64) as u32);
        }
    }
}

#[cfg(test)]
#[path = "blk_tests.rs"]
mod tests;
