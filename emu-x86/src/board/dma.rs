//! Finds the guest RAM a virtio device wrote, so the CPU's decoded-instruction cache can forget
//! it (device writes bypass the CPU's store path). The board watches the driver program each
//! queue's descriptor table and used ring (virtio-mmio registers), and after the device ran it
//! walks the chains the device returned in the used ring: their device-writable buffers are
//! what changed.

use emu_core::GuestRam;

const QUEUE_SEL: u64 = 0x30;
const QUEUE_NUM: u64 = 0x38;
const QUEUE_READY: u64 = 0x44;
const STATUS: u64 = 0x70;
const QUEUE_DESC_LOW: u64 = 0x80;
const QUEUE_DESC_HIGH: u64 = 0x84;
const QUEUE_DEVICE_LOW: u64 = 0xa0;
const QUEUE_DEVICE_HIGH: u64 = 0xa4;

const DESC_NEXT: u16 = 1;
const DESC_WRITE: u16 = 2;
const DESC_INDIRECT: u16 = 4;
const MAX_QUEUES: usize = 8;

#[derive(Default, Clone, Copy)]
struct Queue {
    num: u16,
    desc: u64,
    used: u64,
    ready: bool,
    /// Used-ring index up to which chains were already looked at.
    seen: u16,
}

#[derive(Default)]
pub struct DmaWatch {
    sel: usize,
    queues: [Queue; MAX_QUEUES],
}

impl DmaWatch {
    /// Follows a driver register write to the device.
    pub fn on_write(&mut self, offset: u64, value: u64, ram: &GuestRam) {
        let v = value & 0xffff_ffff;
        if offset == QUEUE_SEL {
            self.sel = v as usize;
            return;
        }
        if offset == STATUS && v == 0 {
            self.queues = [Queue::default(); MAX_QUEUES];
            return;
        }
        let Some(q) = self.queues.get_mut(self.sel) else { return };
        match offset {
            QUEUE_NUM => q.num = v as u16,
            QUEUE_DESC_LOW => q.desc = (q.desc & !0xffff_ffff) | v,
            QUEUE_DESC_HIGH => q.desc = (q.desc & 0xffff_ffff) | (v << 32),
            QUEUE_DEVICE_LOW => q.used = (q.used & !0xffff_ffff) | v,
            QUEUE_DEVICE_HIGH => q.used = (q.used & 0xffff_ffff) | (v << 32),
            QUEUE_READY => {
                q.ready = v == 1;
                q.seen = ram.read_u16(q.used.wrapping_add(2)).unwrap_or(0);
            }
            _ => {}
        }
    }

    /// Calls `written(addr, len)` for every device-writable buffer of chains the device put in
    /// a used ring since the last call.
    pub fn collect(&mut self, ram: &GuestRam, mut written: impl FnMut(u64, u64)) {
        for q in self.queues.iter_mut().filter(|q| q.ready && q.num != 0) {
            let Some(idx) = ram.read_u16(q.used.wrapping_add(2)) else { continue };
            let n = idx.wrapping_sub(q.seen).min(q.num);
            for k in 0..n {
                let slot = q.seen.wrapping_add(k) % q.num;
                if let Some(head) = ram.read_u32(q.used.wrapping_add(4 + 8 * slot as u64)) {
                    walk(ram, q.desc, q.num as u32, head, &mut written);
                }
            }
            q.seen = idx;
        }
    }
}

fn walk(ram: &GuestRam, table: u64, size: u32, head: u32, written: &mut impl FnMut(u64, u64)) {
    let (mut table, mut size, mut i) = (table, size, head);
    let mut indirect_done = false;
    for _ in 0..=size.max(1) * 2 {
        if i >= size {
            return;
        }
        let d = table.wrapping_add(16 * i as u64);
        let (Some(addr), Some(len), Some(flags), Some(next)) = (
            ram.read_u64(d),
            ram.read_u32(d.wrapping_add(8)),
            ram.read_u16(d.wrapping_add(12)),
            ram.read_u16(d.wrapping_add(14)),
        ) else {
            return;
        };
        if flags & DESC_INDIRECT != 0 && !indirect_done {
            indirect_done = true;
            table = addr;
            size = len / 16;
            i = 0;
            continue;
        }
        if flags & DESC_WRITE != 0 {
            written(addr, len as u64);
        }
        if flags & DESC_NEXT == 0 {
            return;
        }
        i = next as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_writable_buffers_of_used_chains() {
        let mut ram = GuestRam::new(0, 1 << 20);
        let mut w = DmaWatch::default();
        let (desc, used) = (0x1000u64, 0x3000u64);
        for (off, v) in
            [(QUEUE_SEL, 0), (QUEUE_NUM, 4), (QUEUE_DESC_LOW, desc), (QUEUE_DEVICE_LOW, used), (QUEUE_READY, 1)]
        {
            w.on_write(off, v, &ram);
        }
        // Chain 0 -> 1: a readable header, then a writable 512-byte buffer at 0x8000.
        let put = |ram: &mut GuestRam, i: u64, addr: u64, len: u32, flags: u16, next: u16| {
            ram.write_u64(desc + 16 * i, addr).unwrap();
            ram.write_u32(desc + 16 * i + 8, len).unwrap();
            ram.write_u16(desc + 16 * i + 12, flags).unwrap();
            ram.write_u16(desc + 16 * i + 14, next).unwrap();
        };
        put(&mut ram, 0, 0x7000, 16, DESC_NEXT, 1);
        put(&mut ram, 1, 0x8000, 512, DESC_WRITE, 0);
        // Chain 2: indirect table at 0x5000 with one writable buffer.
        put(&mut ram, 2, 0x5000, 16, DESC_INDIRECT, 0);
        ram.write_u64(0x5000, 0x9000).unwrap();
        ram.write_u32(0x5008, 64).unwrap();
        ram.write_u16(0x500c, DESC_WRITE).unwrap();
        let mut got = Vec::new();
        w.collect(&ram, |a, l| got.push((a, l)));
        assert!(got.is_empty());
        ram.write_u32(used + 4, 0).unwrap();
        ram.write_u32(used + 12, 2).unwrap();
        ram.write_u16(used + 2, 2).unwrap();
        w.collect(&ram, |a, l| got.push((a, l)));
        assert_eq!(got, vec![(0x8000, 512), (0x9000, 64)]);
        got.clear();
        w.collect(&ram, |a, l| got.push((a, l)));
        assert!(got.is_empty());
        // A looping chain ends.
        put(&mut ram, 3, 0xa000, 8, DESC_WRITE | DESC_NEXT, 3);
        ram.write_u32(used + 20, 3).unwrap();
        ram.write_u16(used + 2, 3).unwrap();
        w.collect(&ram, |a, l| got.push((a, l)));
        assert!(got.len() <= 10 && !got.is_empty());
        // Addresses at the top of the address space neither panic nor report anything.
        let mut h = DmaWatch::default();
        for (off, v) in [(QUEUE_NUM, 4), (QUEUE_DESC_LOW, 0xffff_fff8), (QUEUE_DESC_HIGH, 0xffff_ffff)] {
            h.on_write(off, v, &ram);
        }
        for (off, v) in [(QUEUE_DEVICE_LOW, 0xffff_fffe), (QUEUE_DEVICE_HIGH, 0xffff_ffff), (QUEUE_READY, 1)] {
            h.on_write(off, v, &ram);
        }
        got.clear();
        h.collect(&ram, |a, l| got.push((a, l)));
        assert!(got.is_empty());
    }
}
