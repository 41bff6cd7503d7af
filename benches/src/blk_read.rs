//! virtio-blk read throughput: reads a whole disk image through the device model in
//! fixed-size requests, `depth` requests per notification, as a guest's block layer would.

use crate::driver::{Driver, DriverError};
use devices::Blk;

const T_IN: u32 = 0;
const S_OK: u8 = 0;
const SECTOR: u64 = 512;

#[derive(Debug, thiserror::Error)]
pub enum BlkError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("request for sector {sector} failed with status {status}")]
    Status { sector: u64, status: u8 },
    #[error("request for sector {sector} wrote {got} bytes, expected {want}")]
    Short { sector: u64, got: u32, want: u32 },
}

/// One request's buffers in driver RAM: header, data, status byte.
struct Slot {
    header: u64,
    data: u64,
    status: u64,
}

pub struct BlkReader {
    pub driver: Driver<Blk>,
    slots: Vec<Slot>,
    request_len: u32,
    disk_len: u64,
    used: Vec<(u32, u32)>,
}

impl BlkReader {
    /// A read-only disk holding `disk`, read `request_len` bytes (a multiple of 512) at a time
    /// with `depth` requests in flight.
    pub fn new(disk: Vec<u8>, request_len: u32, depth: u16) -> Result<Self, BlkError> {
        let disk_len = disk.len() as u64;
        let ram = (depth as usize) * (request_len as usize + 64) + (1 << 20);
        let mut driver = Driver::start(Blk::new(disk, true), depth * 4, ram)?;
        let mut slots = Vec::new();
        for _ in 0..depth {
            slots.push(Slot {
                header: driver.alloc(16)?,
                data: driver.alloc(request_len as u64)?,
                status: driver.alloc(1)?,
            });
        }
        Ok(Self { driver, slots, request_len, disk_len, used: Vec::new() })
    }

    /// Reads the whole disk once; `sink` sees each request's data (sector, bytes). Returns
    /// the bytes read.
    pub fn read_all(&mut self, mut sink: impl FnMut(u64, &[u8])) -> Result<u64, BlkError> {
        let per_request = self.request_len as u64 / SECTOR;
        let sectors = self.disk_len / SECTOR;
        let mut sector = 0;
        while sector < sectors {
            let mut batch = Vec::with_capacity(self.slots.len());
            for slot in &self.slots {
                if sector >= sectors {
                    break;
                }
                let n = per_request.min(sectors - sector);
                let ram = &mut self.driver.ram;
                ram.write_u32(slot.header, T_IN).expect("slot in RAM");
                ram.write_u32(slot.header + 4, 0).expect("slot in RAM");
                ram.write_u64(slot.header + 8, sector).expect("slot in RAM");
                ram.write(slot.status, &[0xff]).expect("slot in RAM");
                batch.push((sector, n, slot.data, slot.status));
                let bufs = [(slot.header, 16, false), (slot.data, (n * SECTOR) as u32, true), (slot.status, 1, true)];
                self.driver.add(&bufs);
                sector += n;
            }
            self.driver.notify();
            self.driver.take_used(&mut self.used);
            if self.used.len() != batch.len() {
                return Err(DriverError::Completions { got: self.used.len(), want: batch.len() }.into());
            }
            for (&(_, written), &(sector, n, data, status_at)) in self.used.iter().zip(&batch) {
                let want = (n * SECTOR) as u32 + 1;
                if written != want {
                    return Err(BlkError::Short { sector, got: written, want });
                }
                let status = self.driver.ram.slice(status_at, 1).expect("slot in RAM")[0];
                if status != S_OK {
                    return Err(BlkError::Status { sector, status });
                }
                sink(sector, self.driver.ram.slice(data, (n * SECTOR) as usize).expect("slot in RAM"));
            }
        }
        Ok(self.disk_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_whole_disk_in_order() {
        let disk: Vec<u8> = (0..3u64 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
        let mut r = BlkReader::new(disk.clone(), 64 << 10, 8).unwrap();
        for _ in 0..2 {
            let mut got = Vec::new();
            let n = r.read_all(|sector, data| {
                assert_eq!(sector * 512, got.len() as u64);
                got.extend_from_slice(data);
            });
            assert_eq!(n.unwrap(), disk.len() as u64);
            assert!(got == disk, "the data read differs from the disk");
        }
    }
}
