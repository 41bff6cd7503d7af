//! A minimal virtio-mmio driver, written by hand, that drives a device model the way the
//! device tests do: register writes on the transport, split-ring descriptors in guest RAM,
//! and notifications that the model serves synchronously. One queue; what it lacks (indirect
//! descriptors, event index, interrupts) no bench needs.

use devices::spec::status;
use devices::{VirtioDevice, VirtioMmio};
use emu_core::{DevCtx, FakeHost, GuestRam, MmioDevice};

pub const RAM_BASE: u64 = 0x8000_0000;

/// virtio-mmio register offsets (virtio 1.x, §4.2.2).
mod reg {
    pub const DRIVER_FEATURES: u64 = 0x20;
    pub const DRIVER_FEATURES_SEL: u64 = 0x24;
    pub const QUEUE_SEL: u64 = 0x30;
    pub const QUEUE_NUM: u64 = 0x38;
    pub const QUEUE_READY: u64 = 0x44;
    pub const QUEUE_NOTIFY: u64 = 0x50;
    pub const INTERRUPT_STATUS: u64 = 0x60;
    pub const INTERRUPT_ACK: u64 = 0x64;
    pub const STATUS: u64 = 0x70;
    pub const QUEUE_DESC: u64 = 0x80;
    pub const QUEUE_DRIVER: u64 = 0x90;
    pub const QUEUE_DEVICE: u64 = 0xa0;
}

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the device refused the features it offered")]
    Features,
    #[error("the device did not accept queue 0")]
    Queue,
    #[error("out of driver RAM")]
    NoRam,
    #[error("the device completed {got} chains, expected {want}")]
    Completions { got: usize, want: usize },
}

/// One device model behind its transport, with its own RAM and a fake host.
pub struct Driver<D> {
    pub ram: GuestRam,
    pub host: FakeHost,
    pub mmio: VirtioMmio<D>,
    size: u16,
    desc: u64,
    avail: u64,
    used: u64,
    next_desc: u16,
    avail_idx: u16,
    used_seen: u16,
    heap: u64,
}

impl<D: VirtioDevice> Driver<D> {
    /// Resets the device, accepts every offered feature, sets up queue 0 with `size`
    /// entries at the start of `ram_size` bytes of RAM, and sets DRIVER_OK.
    pub fn start(dev: D, size: u16, ram_size: usize) -> Result<Self, DriverError> {
        let n = size as u64;
        let desc = RAM_BASE;
        let avail = desc + 16 * n;
        let used = (avail + 6 + 2 * n + 3) & !3;
        let heap = (used + 6 + 8 * n + 0xfff) & !0xfff;
        let mut d = Driver {
            ram: GuestRam::new(RAM_BASE, ram_size),
            host: FakeHost::default(),
            mmio: VirtioMmio::new(dev),
            size,
            desc,
            avail,
            used,
            next_desc: 0,
            avail_idx: 0,
            used_seen: 0,
            heap,
        };
        let features = d.mmio.offered_features();
        d.write(reg::STATUS, 0);
        d.write(reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        for (sel, half) in [(0, features as u32), (1, (features >> 32) as u32)] {
            d.write(reg::DRIVER_FEATURES_SEL, sel);
            d.write(reg::DRIVER_FEATURES, half);
        }
        d.write(reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        if d.read(reg::STATUS) & status::FEATURES_OK == 0 {
            return Err(DriverError::Features);
        }
        d.write(reg::QUEUE_SEL, 0);
        d.write(reg::QUEUE_NUM, size as u32);
        for (at, addr) in [(reg::QUEUE_DESC, desc), (reg::QUEUE_DRIVER, avail), (reg::QUEUE_DEVICE, used)] {
            d.write(at, addr as u32);
            d.write(at + 4, (addr >> 32) as u32);
        }
        d.write(reg::QUEUE_READY, 1);
        if d.read(reg::QUEUE_READY) != 1 {
            return Err(DriverError::Queue);
        }
        d.write(reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK);
        Ok(d)
    }

    fn read(&mut self, offset: u64) -> u32 {
        let mut ctx = DevCtx { ram: &mut self.ram, host: &mut self.host };
        self.mmio.read(&mut ctx, offset, 4) as u32
    }

    fn write(&mut self, offset: u64, value: u32) {
        let mut ctx = DevCtx { ram: &mut self.ram, host: &mut self.host };
        self.mmio.write(&mut ctx, offset, 4, value as u64);
    }

    /// Reserves `len` bytes of RAM (16-byte aligned) for buffers.
    pub fn alloc(&mut self, len: u64) -> Result<u64, DriverError> {
        let at = self.heap;
        let end = (at + len + 15) & !15;
        if end > self.ram.end() {
            return Err(DriverError::NoRam);
        }
        self.heap = end;
        Ok(at)
    }

    /// Makes `bufs` (address, length, device-writable) a descriptor chain and offers it,
    /// without notifying. The caller keeps at most `size` chains' worth of descriptors out.
    pub fn add(&mut self, bufs: &[(u64, u32, bool)]) -> u16 {
        let head = self.next_desc;
        for (i, &(addr, len, writable)) in bufs.iter().enumerate() {
            let index = (head as usize + i) as u16 % self.size;
            let last = i + 1 == bufs.len();
            let flags = if writable { F_WRITE } else { 0 } | if last { 0 } else { F_NEXT };
            let at = self.desc + 16 * index as u64;
            let ram = &mut self.ram;
            ram.write_u64(at, addr).expect("ring in RAM");
            ram.write_u32(at + 8, len).expect("ring in RAM");
            ram.write_u16(at + 12, flags).expect("ring in RAM");
            ram.write_u16(at + 14, (index + 1) % self.size).expect("ring in RAM");
        }
        self.next_desc = (head as usize + bufs.len()) as u16 % self.size;
        let slot = self.avail + 4 + 2 * (self.avail_idx % self.size) as u64;
        self.ram.write_u16(slot, head).expect("ring in RAM");
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.ram.write_u16(self.avail + 2, self.avail_idx).expect("ring in RAM");
        head
    }

    /// Notifies queue 0 (the model serves it now) and acknowledges the interrupt.
    pub fn notify(&mut self) {
        self.write(reg::QUEUE_NOTIFY, 0);
        let isr = self.read(reg::INTERRUPT_STATUS);
        self.write(reg::INTERRUPT_ACK, isr);
    }

    /// The (head, written length) of each chain the device completed since the last call.
    pub fn take_used(&mut self, out: &mut Vec<(u32, u32)>) {
        out.clear();
        let idx = self.ram.read_u16(self.used + 2).expect("ring in RAM");
        while self.used_seen != idx {
            let slot = self.used + 4 + 8 * (self.used_seen % self.size) as u64;
            out.push((
                self.ram.read_u32(slot).expect("ring in RAM"),
                self.ram.read_u32(slot + 4).expect("ring in RAM"),
            ));
            self.used_seen = self.used_seen.wrapping_add(1);
        }
    }
}
