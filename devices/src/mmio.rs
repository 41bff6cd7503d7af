//! The virtio-mmio transport, version 2 ("modern", virtio 1.2 §4.2.2).
//!
//! Registers are 32 bits wide; any other access size to them reads 0 and writes nothing. The
//! configuration space from 0x100 takes 1, 2, 4 and 8 byte accesses.

use crate::device::VirtioDevice;
use crate::queue::Virtqueue;
use crate::spec::{feature, interrupt, status};
use emu_core::{DevCtx, MmioDevice};

const MAGIC_VALUE: u64 = 0x00;
const VERSION: u64 = 0x04;
const DEVICE_ID: u64 = 0x08;
const VENDOR_ID: u64 = 0x0c;
const DEVICE_FEATURES: u64 = 0x10;
const DEVICE_FEATURES_SEL: u64 = 0x14;
const DRIVER_FEATURES: u64 = 0x20;
const DRIVER_FEATURES_SEL: u64 = 0x24;
const QUEUE_SEL: u64 = 0x30;
const QUEUE_NUM_MAX: u64 = 0x34;
const QUEUE_NUM: u64 = 0x38;
const QUEUE_READY: u64 = 0x44;
const QUEUE_NOTIFY: u64 = 0x50;
const INTERRUPT_STATUS: u64 = 0x60;
const INTERRUPT_ACK: u64 = 0x64;
const STATUS: u64 = 0x70;
const QUEUE_DESC_LOW: u64 = 0x80;
const QUEUE_DESC_HIGH: u64 = 0x84;
const QUEUE_DRIVER_LOW: u64 = 0x90;
const QUEUE_DRIVER_HIGH: u64 = 0x94;
const QUEUE_DEVICE_LOW: u64 = 0xa0;
const QUEUE_DEVICE_HIGH: u64 = 0xa4;
const CONFIG_GENERATION: u64 = 0xfc;
const CONFIG: u64 = 0x100;

/// "virt" in little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// Vendor ID reported to the driver: "c2w" (any value is allowed; Linux does not look).
pub const VENDOR: u32 = 0x0077_3263;
/// Feature bits every device gets from the transport.
const TRANSPORT_FEATURES: u64 = feature::VERSION_1 | feature::INDIRECT_DESC;

/// A virtio device model behind a virtio-mmio register block.
pub struct VirtioMmio<D> {
    dev: D,
    queues: Vec<Virtqueue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
}

impl<D: VirtioDevice> VirtioMmio<D> {
    pub fn new(dev: D) -> Self {
        let queues = (0..dev.num_queues()).map(|_| Virtqueue::new(dev.queue_max_size())).collect();
        Self {
            dev,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
        }
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The interrupt line: high while any InterruptStatus bit is set.
    pub fn irq_level(&self) -> bool {
        self.interrupt_status != 0
    }

    /// Every feature bit offered to the driver.
    pub fn offered_features(&self) -> u64 {
        self.dev.features() | TRANSPORT_FEATURES
    }

    fn live(&self) -> bool {
        self.status & status::DRIVER_OK != 0 && self.status & status::DEVICE_NEEDS_RESET == 0
    }

    fn selected_queue(&mut self) -> Option<&mut Virtqueue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.dev.reset();
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
    }

    fn set_status(&mut self, ctx: &mut DevCtx, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let old = self.status;
        let mut new = value;
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let unknown = self.driver_features & !self.offered_features();
            if unknown != 0 || self.driver_features & feature::VERSION_1 == 0 {
                // Reading FEATURES_OK back as clear is how the driver learns of the refusal.
                log::warn!("virtio: driver features {:#x} refused", self.driver_features);
                new &= !status::FEATURES_OK;
            }
        }
        if new & status::DRIVER_OK != 0 && new & status::FEATURES_OK == 0 {
            new &= !status::DRIVER_OK;
        }
        self.status = new;
        if new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0 {
            // Drivers may post buffers before going live; the device only now looks at them.
            for q in 0..self.queues.len() {
                self.run_notify(ctx, q);
            }
        }
    }

    fn run_notify(&mut self, ctx: &mut DevCtx, queue: usize) {
        if !self.live() || !self.queues.get(queue).is_some_and(Virtqueue::ready) {
            return;
        }
        self.dev.notify(queue, &mut self.queues, ctx);
        self.collect_interrupts();
    }

    fn collect_interrupts(&mut self) {
        let mut any = false;
        for q in &mut self.queues {
            any |= q.take_interrupt();
        }
        if any {
            self.interrupt_status |= interrupt::USED_BUFFER;
        }
    }

    fn read_register(&mut self, offset: u64) -> u32 {
        match offset {
            MAGIC_VALUE => MAGIC,
            VERSION => 2,
            DEVICE_ID => self.dev.device_id(),
            VENDOR_ID => VENDOR,
            DEVICE_FEATURES => match self.device_features_sel {
                0 => self.offered_features() as u32,
                1 => (self.offered_features() >> 32) as u32,
                _ => 0,
            },
            QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| q.max_size as u32),
            QUEUE_NUM => self.selected_queue().map_or(0, |q| q.size as u32),
            QUEUE_READY => self.selected_queue().map_or(0, |q| q.ready() as u32),
            INTERRUPT_STATUS => self.interrupt_status,
            STATUS => self.status,
            QUEUE_DESC_LOW => self.selected_queue().map_or(0, |q| q.desc as u32),
            QUEUE_DESC_HIGH => self.selected_queue().map_or(0, |q| (q.desc >> 32) as u32),
            QUEUE_DRIVER_LOW => self.selected_queue().map_or(0, |q| q.avail as u32),
            QUEUE_DRIVER_HIGH => self.selected_queue().map_or(0, |q| (q.avail >> 32) as u32),
            QUEUE_DEVICE_LOW => self.selected_queue().map_or(0, |q| q.used as u32),
            QUEUE_DEVICE_HIGH => self.selected_queue().map_or(0, |q| (q.used >> 32) as u32),
            // The configuration never changes under the driver.
            CONFIG_GENERATION => 0,
            _ => 0,
        }
    }

    fn write_register(&mut self, ctx: &mut DevCtx, offset: u64, value: u32) {
        match offset {
            DEVICE_FEATURES_SEL => self.device_features_sel = value,
            DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            // Features are fixed once FEATURES_OK was set.
            DRIVER_FEATURES if self.status & status::FEATURES_OK == 0 => match self.driver_features_sel {
                0 => self.driver_features = set_low(self.driver_features, value),
                1 => self.driver_features = set_high(self.driver_features, value),
                _ => {}
            },
            QUEUE_SEL => self.queue_sel = value,
            QUEUE_NUM => self.configure_queue(|q| q.size = value.min(u16::MAX as u32) as u16),
            QUEUE_DESC_LOW => self.configure_queue(|q| q.desc = set_low(q.desc, value)),
            QUEUE_DESC_HIGH => self.configure_queue(|q| q.desc = set_high(q.desc, value)),
            QUEUE_DRIVER_LOW => self.configure_queue(|q| q.avail = set_low(q.avail, value)),
            QUEUE_DRIVER_HIGH => self.configure_queue(|q| q.avail = set_high(q.avail, value)),
            QUEUE_DEVICE_LOW => self.configure_queue(|q| q.used = set_low(q.used, value)),
            QUEUE_DEVICE_HIGH => self.configure_queue(|q| q.used = set_high(q.used, value)),
            QUEUE_READY => {
                let indirect = self.driver_features & feature::INDIRECT_DESC != 0;
                let Some(q) = self.queues.get_mut(self.queue_sel as usize) else { return };
                if value == 0 {
                    q.disable();
                } else if !q.ready() {
                    if let Err(e) = q.enable(ctx.ram, indirect) {
                        // The queue stays not ready, which the driver sees when it reads back.
                        log::warn!("virtio: queue {} not enabled: {e}", self.queue_sel);
                    }
                }
            }
            QUEUE_NOTIFY => self.run_notify(ctx, value as usize),
            INTERRUPT_ACK => self.interrupt_status &= !value,
            STATUS => self.set_status(ctx, value),
            _ => {}
        }
    }

    /// Queue configuration may only change while the queue is not ready.
    fn configure_queue(&mut self, f: impl FnOnce(&mut Virtqueue)) {
        if let Some(q) = self.selected_queue() {
            if !q.ready() {
                f(q);
            }
        }
    }
}

fn set_low(v: u64, low: u32) -> u64 {
    (v & !0xffff_ffff) | low as u64
}

fn set_high(v: u64, high: u32) -> u64 {
    (v & 0xffff_ffff) | (high as u64) << 32
}

impl<D: VirtioDevice> MmioDevice for VirtioMmio<D> {
    fn read(&mut self, _ctx: &mut DevCtx, offset: u64, size: u8) -> u64 {
        if offset >= CONFIG {
            let config = self.dev.config();
            let mut bytes = [0u8; 8];
            let n = (size as usize).min(8);
            for (i, b) in bytes[..n].iter_mut().enumerate() {
                let at = (offset - CONFIG) as usize + i;
                *b = config.get(at).copied().unwrap_or(0);
            }
            return u64::from_le_bytes(bytes);
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return 0;
        }
        self.read_register(offset) as u64
    }

    fn write(&mut self, ctx: &mut DevCtx, offset: u64, size: u8, value: u64) {
        if offset >= CONFIG {
            let n = (size as usize).min(8);
            let bytes = value.to_le_bytes();
            self.dev.write_config((offset - CONFIG) as usize, &bytes[..n]);
            return;
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return;
        }
        self.write_register(ctx, offset, value as u32);
    }

    fn irq_level(&self) -> bool {
        VirtioMmio::irq_level(self)
    }

    fn poll(&mut self, ctx: &mut DevCtx) {
        if self.live() {
            self.dev.poll(&mut self.queues, ctx);
            self.collect_interrupts();
        }
    }
}

#[cfg(test)]
#[path = "mmio_tests.rs"]
mod tests;
