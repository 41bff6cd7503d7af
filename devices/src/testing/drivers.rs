//! The `virtio-drivers` crate as an independent driver for the device models.
//!
//! Its `Hal` hands out DMA memory from one [`GuestRam`] per test thread (physical address =
//! RAM base + offset), and bounces shared buffers through that RAM; its `Transport` is register
//! reads and writes on a [`VirtioMmio`], so a notify runs the device model synchronously.
//!
//! The driver writes the rings through raw pointers into the RAM while the device model takes
//! `&mut GuestRam` during register accesses; the two never overlap in time (one thread, the
//! driver is not running while the device is).

use crate::device::VirtioDevice;
use crate::mmio::VirtioMmio;
use crate::testing::reg;
use emu_core::{DevCtx, FakeHost, GuestRam, MmioDevice};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::rc::Rc;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};
use zerocopy::{FromBytes, Immutable, IntoBytes};

pub const RAM_BASE: u64 = 0x4000_0000;

struct Mem {
    ram: GuestRam,
    /// One flag per page: handed out or free.
    taken: Vec<bool>,
}

impl Mem {
    fn alloc(&mut self, pages: usize) -> Option<usize> {
        let pages = pages.max(1);
        let mut run = 0;
        for i in 0..self.taken.len() {
            run = if self.taken[i] { 0 } else { run + 1 };
            if run == pages {
                let first = i + 1 - pages;
                self.taken[first..=i].fill(true);
                let off = first * PAGE_SIZE;
                self.ram.as_mut_slice()[off..off + pages * PAGE_SIZE].fill(0);
                return Some(off);
            }
        }
        None
    }

    fn free(&mut self, paddr: PhysAddr, pages: usize) {
        let first = ((paddr - RAM_BASE) as usize) / PAGE_SIZE;
        self.taken[first..first + pages.max(1)].fill(false);
    }
}

thread_local! {
    static MEM: RefCell<Option<Mem>> = const { RefCell::new(None) };
}

/// Gives this test thread a fresh guest RAM of `size` bytes for DMA.
pub fn install_ram(size: usize) {
    let ram = GuestRam::new(RAM_BASE, size);
    MEM.with_borrow_mut(|m| *m = Some(Mem { ram, taken: vec![false; size / PAGE_SIZE] }));
}

fn with_mem<R>(f: impl FnOnce(&mut Mem) -> R) -> R {
    MEM.with_borrow_mut(|m| f(m.as_mut().expect("install_ram first")))
}

pub struct RamHal;

// SAFETY: DMA regions are distinct page runs of the thread's RAM, zeroed, page-aligned (the RAM
// allocation is page-aligned in practice and the driver never relies on host alignment beyond
// what u16/u32/u64 ring fields need, which a Vec<u8> allocation of this size gives).
unsafe impl Hal for RamHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        with_mem(|m| match m.alloc(pages) {
            Some(off) => {
                let ptr = NonNull::new(m.ram.as_mut_slice()[off..].as_mut_ptr()).unwrap();
                (RAM_BASE + off as u64, ptr)
            }
            None => (0, NonNull::dangling()),
        })
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        with_mem(|m| m.free(paddr, pages));
        0
    }

    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport maps BARs; these tests use their own transport.
        NonNull::dangling()
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        // SAFETY: the caller guarantees `buffer` is valid and not accessed elsewhere meanwhile.
        let src = unsafe { std::slice::from_raw_parts(buffer.as_ptr() as *const u8, len) };
        with_mem(|m| {
            let off = m.alloc(len.div_ceil(PAGE_SIZE)).expect("test RAM full");
            m.ram.as_mut_slice()[off..off + len].copy_from_slice(src);
            RAM_BASE + off as u64
        })
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let len = buffer.len();
        with_mem(|m| {
            if direction != BufferDirection::DriverToDevice {
                let off = (paddr - RAM_BASE) as usize;
                // SAFETY: as in `share`.
                let dst = unsafe { std::slice::from_raw_parts_mut(buffer.as_ptr() as *mut u8, len) };
                dst.copy_from_slice(&m.ram.as_slice()[off..off + len]);
            }
            m.free(paddr, len.div_ceil(PAGE_SIZE));
        });
    }
}

/// A virtio-mmio register block for `virtio-drivers`, backed by the device model.
pub struct RamTransport<D> {
    mmio: Rc<RefCell<VirtioMmio<D>>>,
    pub host: Rc<RefCell<FakeHost>>,
}

impl<D: VirtioDevice> RamTransport<D> {
    /// The transport, and a handle on the device for the test to look at.
    pub fn new(dev: D) -> (Self, Rc<RefCell<VirtioMmio<D>>>) {
        let mmio = Rc::new(RefCell::new(VirtioMmio::new(dev)));
        (Self { mmio: mmio.clone(), host: Rc::default() }, mmio)
    }

    fn read(&self, offset: u64, size: u8) -> u64 {
        with_mem(|m| {
            let mut host = self.host.borrow_mut();
            let mut ctx = DevCtx { ram: &mut m.ram, host: &mut *host };
            self.mmio.borrow_mut().read(&mut ctx, offset, size)
        })
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        with_mem(|m| {
            let mut host = self.host.borrow_mut();
            let mut ctx = DevCtx { ram: &mut m.ram, host: &mut *host };
            self.mmio.borrow_mut().write(&mut ctx, offset, size, value);
        })
    }

    fn read32(&self, offset: u64) -> u32 {
        self.read(offset, 4) as u32
    }

    fn write32(&self, offset: u64, value: u32) {
        self.write(offset, 4, value as u64);
    }
}

impl<D: VirtioDevice> Transport for RamTransport<D> {
    fn device_type(&self) -> DeviceType {
        DeviceType::try_from(self.read32(0x08)).expect("a known device type")
    }

    fn read_device_features(&mut self) -> u64 {
        self.write32(reg::DEVICE_FEATURES_SEL, 0);
        let low = self.read32(reg::DEVICE_FEATURES) as u64;
        self.write32(reg::DEVICE_FEATURES_SEL, 1);
        low | (self.read32(reg::DEVICE_FEATURES) as u64) << 32
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.write32(reg::DRIVER_FEATURES_SEL, 0);
        self.write32(reg::DRIVER_FEATURES, driver_features as u32);
        self.write32(reg::DRIVER_FEATURES_SEL, 1);
        self.write32(reg::DRIVER_FEATURES, (driver_features >> 32) as u32);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.write32(reg::QUEUE_SEL, queue as u32);
        self.read32(reg::QUEUE_NUM_MAX)
    }

    fn notify(&mut self, queue: u16) {
        self.write32(reg::QUEUE_NOTIFY, queue as u32);
    }

    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_truncate(self.read32(reg::STATUS))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.write32(reg::STATUS, status.bits());
    }

    fn set_guest_page_size(&mut self, _guest_page_size: u32) {}

    fn requires_legacy_layout(&self) -> bool {
        false
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        self.write32(reg::QUEUE_SEL, queue as u32);
        self.write32(reg::QUEUE_NUM, size);
        self.write32(reg::QUEUE_DESC_LOW, descriptors as u32);
        self.write32(reg::QUEUE_DESC_HIGH, (descriptors >> 32) as u32);
        self.write32(reg::QUEUE_DRIVER_LOW, driver_area as u32);
        self.write32(reg::QUEUE_DRIVER_HIGH, (driver_area >> 32) as u32);
        self.write32(reg::QUEUE_DEVICE_LOW, device_area as u32);
        self.write32(reg::QUEUE_DEVICE_HIGH, (device_area >> 32) as u32);
        self.write32(reg::QUEUE_READY, 1);
        assert_eq!(self.read32(reg::QUEUE_READY), 1, "device refused queue {queue}");
    }

    fn queue_unset(&mut self, queue: u16) {
        self.write32(reg::QUEUE_SEL, queue as u32);
        self.write32(reg::QUEUE_READY, 0);
        assert_eq!(self.read32(reg::QUEUE_READY), 0);
        for r in [
            reg::QUEUE_NUM,
            reg::QUEUE_DESC_LOW,
            reg::QUEUE_DESC_HIGH,
            reg::QUEUE_DRIVER_LOW,
            reg::QUEUE_DRIVER_HIGH,
            reg::QUEUE_DEVICE_LOW,
            reg::QUEUE_DEVICE_HIGH,
        ] {
            self.write32(r, 0);
        }
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.write32(reg::QUEUE_SEL, queue as u32);
        self.read32(reg::QUEUE_READY) != 0
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let status = self.read32(reg::INTERRUPT_STATUS);
        if status != 0 {
            self.write32(reg::INTERRUPT_ACK, status);
        }
        InterruptStatus::from_bits_truncate(status)
    }

    fn read_config_generation(&self) -> u32 {
        self.read32(0xfc)
    }

    fn read_config_space<T: FromBytes + IntoBytes>(&self, offset: usize) -> virtio_drivers::Result<T> {
        let mut value = T::new_zeroed();
        for (i, b) in value.as_mut_bytes().iter_mut().enumerate() {
            *b = self.read(reg::CONFIG + (offset + i) as u64, 1) as u8;
        }
        Ok(value)
    }

    fn write_config_space<T: IntoBytes + Immutable>(&mut self, offset: usize, value: T) -> virtio_drivers::Result<()> {
        for (i, b) in value.as_bytes().iter().enumerate() {
            self.write(reg::CONFIG + (offset + i) as u64, 1, *b as u64);
        }
        Ok(())
    }
}

/// Runs the device's `poll` (as the machine's run loop does) outside any register access.
pub fn poll_device<D: VirtioDevice>(mmio: &RefCell<VirtioMmio<D>>) {
    with_mem(|m| {
        let mut host = FakeHost::default();
        let mut ctx = DevCtx { ram: &mut m.ram, host: &mut host };
        mmio.borrow_mut().poll(&mut ctx);
    })
}
