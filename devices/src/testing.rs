//! Test helpers: a hand-driven virtio driver (the `Bench`) that writes registers, rings and
//! descriptors itself, so tests can build any queue a hostile guest could, and the glue that
//! lets the independent `virtio-drivers` crate drive a device model ([`drivers`]).

pub mod drivers;

use crate::device::VirtioDevice;
use crate::mmio::VirtioMmio;
use crate::spec::status;
use emu_core::{DevCtx, FakeHost, GuestRam, MmioDevice};

pub const RAM_BASE: u64 = 0x8000_0000;
const RAM_SIZE: usize = 4 << 20;
/// Buffers handed out by [`Bench::alloc`] start here; the rings live below.
const HEAP_START: u64 = RAM_BASE + 0x10_0000;

pub const F_NEXT: u16 = 1;
pub const F_WRITE: u16 = 2;
pub const F_INDIRECT: u16 = 4;

/// Register offsets, as a driver would use them.
pub mod reg {
    pub const DEVICE_FEATURES: u64 = 0x10;
    pub const DEVICE_FEATURES_SEL: u64 = 0x14;
    pub const DRIVER_FEATURES: u64 = 0x20;
    pub const DRIVER_FEATURES_SEL: u64 = 0x24;
    pub const QUEUE_SEL: u64 = 0x30;
    pub const QUEUE_NUM_MAX: u64 = 0x34;
    pub const QUEUE_NUM: u64 = 0x38;
    pub const QUEUE_READY: u64 = 0x44;
    pub const QUEUE_NOTIFY: u64 = 0x50;
    pub const INTERRUPT_STATUS: u64 = 0x60;
    pub const INTERRUPT_ACK: u64 = 0x64;
    pub const STATUS: u64 = 0x70;
    pub const QUEUE_DESC_LOW: u64 = 0x80;
    pub const QUEUE_DESC_HIGH: u64 = 0x84;
    pub const QUEUE_DRIVER_LOW: u64 = 0x90;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x94;
    pub const QUEUE_DEVICE_LOW: u64 = 0xa0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0xa4;
    pub const CONFIG: u64 = 0x100;
}

/// The driver's view of one split virtqueue it laid out in RAM.
pub struct Ring {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    next_desc: u16,
    avail_idx: u16,
    used_seen: u16,
}

impl Ring {
    pub fn set_desc(&self, ram: &mut GuestRam, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
        write_desc(ram, self.desc + 16 * index as u64, addr, len, flags, next);
    }

    /// Puts `head` in the available ring and publishes it.
    pub fn offer(&mut self, ram: &mut GuestRam, head: u16) {
        let slot = self.avail + 4 + 2 * (self.avail_idx % self.size) as u64;
        ram.write_u16(slot, head).unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        ram.write_u16(self.avail + 2, self.avail_idx).unwrap();
    }

    /// Writes `bufs` (address, length, device-writable) as a chain of consecutive descriptors
    /// and returns its head (not yet offered).
    pub fn add_chain(&mut self, ram: &mut GuestRam, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.next_desc;
        for (i, &(addr, len, writable)) in bufs.iter().enumerate() {
            let index = (head as usize + i) as u16 % self.size;
            let last = i + 1 == bufs.len();
            let flags = if writable { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
            self.set_desc(ram, index, addr, len, flags, (index + 1) % self.size);
        }
        self.next_desc = (head as usize + bufs.len()) as u16 % self.size;
        head
    }

    /// Used entries (id, len) the device published since the last call.
    pub fn take_used(&mut self, ram: &GuestRam) -> Vec<(u32, u32)> {
        let idx = ram.read_u16(self.used + 2).unwrap();
        let mut out = Vec::new();
        while self.used_seen != idx {
            let slot = self.used + 4 + 8 * (self.used_seen % self.size) as u64;
            out.push((ram.read_u32(slot).unwrap(), ram.read_u32(slot + 4).unwrap()));
            self.used_seen = self.used_seen.wrapping_add(1);
        }
        out
    }
}

pub fn write_desc(ram: &mut GuestRam, at: u64, addr: u64, len: u32, flags: u16, next: u16) {
    ram.write_u64(at, addr).unwrap();
    ram.write_u32(at + 8, len).unwrap();
    ram.write_u16(at + 12, flags).unwrap();
    ram.write_u16(at + 14, next).unwrap();
}

/// A device model behind its transport, with RAM and a fake host, driven by hand.
pub struct Bench<D> {
    pub ram: GuestRam,
    pub host: FakeHost,
    pub mmio: VirtioMmio<D>,
    pub rings: Vec<Ring>,
    heap: u64,
    ring_area: u64,
}

impl<D: VirtioDevice> Bench<D> {
    pub fn new(dev: D) -> Self {
        Self {
            ram: GuestRam::new(RAM_BASE, RAM_SIZE),
            host: FakeHost::default(),
            mmio: VirtioMmio::new(dev),
            rings: Vec::new(),
            heap: HEAP_START,
            ring_area: RAM_BASE,
        }
    }

    /// Negotiates every offered feature, enables every queue with `size` entries and sets
    /// DRIVER_OK.
    pub fn started(dev: D, size: u16) -> Self {
        let mut b = Self::new(dev);
        assert!(b.negotiate(b.mmio.offered_features()));
        for q in 0..b.mmio.device().num_queues() {
            let ring = b.setup_queue(q as u32, size);
            assert_eq!(b.read(reg::QUEUE_READY), 1);
            b.rings.push(ring);
        }
        b.set_status(status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK);
        b
    }

    pub fn read(&mut self, offset: u64) -> u32 {
        self.read_sized(offset, 4) as u32
    }

    pub fn read_sized(&mut self, offset: u64, size: u8) -> u64 {
        let mut ctx = DevCtx { ram: &mut self.ram, host: &mut self.host };
        self.mmio.read(&mut ctx, offset, size)
    }

    pub fn write(&mut self, offset: u64, value: u32) {
        self.write_sized(offset, 4, value as u64);
    }

    pub fn write_sized(&mut self, offset: u64, size: u8, value: u64) {
        let mut ctx = DevCtx { ram: &mut self.ram, host: &mut self.host };
        self.mmio.write(&mut ctx, offset, size, value);
    }

    pub fn poll(&mut self) {
        let mut ctx = DevCtx { ram: &mut self.ram, host: &mut self.host };
        self.mmio.poll(&mut ctx);
    }

    pub fn set_status(&mut self, s: u32) {
        self.write(reg::STATUS, s);
    }

    /// Steps 1-5 of driver initialisation; true when the device kept FEATURES_OK.
    pub fn negotiate(&mut self, features: u64) -> bool {
        self.set_status(0);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER);
        self.write(reg::DRIVER_FEATURES_SEL, 0);
        self.write(reg::DRIVER_FEATURES, features as u32);
        self.write(reg::DRIVER_FEATURES_SEL, 1);
        self.write(reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        self.read(reg::STATUS) & status::FEATURES_OK != 0
    }

    /// Lays out rings for queue `q` with `size` entries and writes the queue registers,
    /// ending with QueueReady = 1. The caller checks whether the device accepted it.
    pub fn setup_queue(&mut self, q: u32, size: u16) -> Ring {
        let n = size.max(1) as u64;
        let desc = self.ring_area;
        let avail = desc + 16 * n;
        let used = (avail + 6 + 2 * n + 3) & !3;
        self.ring_area = (used + 6 + 8 * n + 0xfff) & !0xfff;
        assert!(self.ring_area <= HEAP_START, "ring area full");
        self.write(reg::QUEUE_SEL, q);
        self.write(reg::QUEUE_NUM, size as u32);
        for (lo, hi, addr) in [
            (reg::QUEUE_DESC_LOW, reg::QUEUE_DESC_HIGH, desc),
            (reg::QUEUE_DRIVER_LOW, reg::QUEUE_DRIVER_HIGH, avail),
            (reg::QUEUE_DEVICE_LOW, reg::QUEUE_DEVICE_HIGH, used),
        ] {
            self.write(lo, addr as u32);
            self.write(hi, (addr >> 32) as u32);
        }
        self.write(reg::QUEUE_READY, 1);
        Ring { size, desc, avail, used, next_desc: 0, avail_idx: 0, used_seen: 0 }
    }

    /// Reserves `len` bytes of RAM (16-byte aligned).
    pub fn alloc(&mut self, len: u64) -> u64 {
        let at = self.heap;
        self.heap = (self.heap + len + 15) & !15;
        assert!(self.heap <= self.ram.end(), "bench heap full");
        at
    }

    /// Copies `data` into fresh RAM and returns its address.
    pub fn put(&mut self, data: &[u8]) -> u64 {
        let at = self.alloc(data.len() as u64);
        self.ram.write(at, data).unwrap();
        at
    }

    /// Adds a chain to queue `q`, offers it and notifies; returns the head.
    pub fn submit(&mut self, q: usize, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.rings[q].add_chain(&mut self.ram, bufs);
        self.rings[q].offer(&mut self.ram, head);
        self.write(reg::QUEUE_NOTIFY, q as u32);
        head
    }

    pub fn take_used(&mut self, q: usize) -> Vec<(u32, u32)> {
        self.rings[q].take_used(&self.ram)
    }
}
