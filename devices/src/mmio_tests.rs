//! virtio-mmio transport tests: registers, negotiation, queue setup rules, reset, and the
//! accesses a broken driver makes.

use super::*;
use crate::testing::{reg, Bench};
use crate::{Blk, Console};

const ACK_DRIVER: u32 = status::ACKNOWLEDGE | status::DRIVER;
const ALL_OK: u32 = ACK_DRIVER | status::FEATURES_OK | status::DRIVER_OK;

#[test]
fn identity_registers() {
    let mut b = Bench::new(Blk::new(vec![0; 4096], true));
    assert_eq!(b.read(0x00), 0x7472_6976);
    assert_eq!(b.read(0x04), 2);
    assert_eq!(b.read(0x08), 2);
    assert_eq!(b.read(0x0c), VENDOR);
    b.write(reg::DEVICE_FEATURES_SEL, 1);
    assert_eq!(b.read(reg::DEVICE_FEATURES) & 1, 1, "VIRTIO_F_VERSION_1");
    b.write(reg::DEVICE_FEATURES_SEL, 0);
    let low = b.read(reg::DEVICE_FEATURES);
    assert_ne!(low & (1 << 5), 0, "VIRTIO_BLK_F_RO");
    assert_ne!(low & (1 << 28), 0, "VIRTIO_F_INDIRECT_DESC");
    b.write(reg::DEVICE_FEATURES_SEL, 7);
    assert_eq!(b.read(reg::DEVICE_FEATURES), 0);
    b.write(reg::QUEUE_SEL, 0);
    assert_eq!(b.read(reg::QUEUE_NUM_MAX), 256);
    b.write(reg::QUEUE_SEL, 1);
    assert_eq!(b.read(reg::QUEUE_NUM_MAX), 0, "blk has one queue");
}

#[test]
fn odd_access_sizes_and_offsets_are_harmless() {
    let mut b = Bench::new(Console::new());
    assert_eq!(b.read_sized(0x00, 1), 0);
    assert_eq!(b.read_sized(0x02, 4), 0);
    assert_eq!(b.read_sized(0x00, 8), 0);
    assert_eq!(b.read(0xf8), 0);
    b.write_sized(reg::STATUS, 2, ACK_DRIVER as u64);
    assert_eq!(b.read(reg::STATUS), 0);
    b.write(0x0e8, 0xffff_ffff);
    b.write_sized(0x1000_0000, 8, u64::MAX);
    assert_eq!(b.read_sized(u64::MAX - 3, 4), 0);
    assert!(!b.mmio.irq_level());
}

#[test]
fn config_space_reads_any_width_and_zero_past_the_end() {
    let mut b = Bench::new(Blk::new(vec![0; 3 * 512 + 1], true));
    assert_eq!(b.read_sized(reg::CONFIG, 8), 4, "capacity rounds up to whole sectors");
    assert_eq!(b.read_sized(reg::CONFIG, 4), 4);
    assert_eq!(b.read_sized(reg::CONFIG + 4, 4), 0);
    assert_eq!(b.read_sized(reg::CONFIG + 20, 4), 512, "blk_size");
    assert_eq!(b.read_sized(reg::CONFIG + 21, 1), 2);
    assert_eq!(b.read_sized(reg::CONFIG + 0xe00, 4), 0);
    b.write_sized(reg::CONFIG, 4, 0xffff_ffff);
    assert_eq!(b.read_sized(reg::CONFIG, 4), 4, "config is read-only");
}

#[test]
fn features_without_version_1_or_unknown_ones_are_refused() {
    let mut b = Bench::new(Console::new());
    assert!(!b.negotiate(0));
    assert!(!b.negotiate(feature::VERSION_1 | 1 << 40));
    assert!(!b.negotiate(feature::VERSION_1 | feature::EVENT_IDX));
    assert!(b.negotiate(feature::VERSION_1));
    // Once FEATURES_OK stands, the features are frozen.
    b.write(reg::DRIVER_FEATURES_SEL, 0);
    b.write(reg::DRIVER_FEATURES, feature::INDIRECT_DESC as u32);
    assert_eq!(b.mmio.driver_features, feature::VERSION_1);
    // DRIVER_OK without FEATURES_OK does not take.
    let mut b = Bench::new(Console::new());
    b.set_status(ACK_DRIVER | status::DRIVER_OK);
    assert_eq!(b.read(reg::STATUS), ACK_DRIVER);
}

#[test]
fn bad_queue_sizes_leave_the_queue_not_ready() {
    let mut b = Bench::new(Console::new());
    assert!(b.negotiate(feature::VERSION_1));
    for size in [0u16, 3, 6, 257, 512] {
        b.setup_queue(0, size);
        assert_eq!(b.read(reg::QUEUE_READY), 0, "size {size}");
    }
    b.setup_queue(0, 4);
    assert_eq!(b.read(reg::QUEUE_READY), 1);
}

#[test]
fn rings_outside_ram_leave_the_queue_not_ready() {
    let mut b = Bench::new(Console::new());
    assert!(b.negotiate(feature::VERSION_1));
    b.write(reg::QUEUE_SEL, 0);
    b.write(reg::QUEUE_NUM, 4);
    b.write(reg::QUEUE_DESC_LOW, 0x1000);
    b.write(reg::QUEUE_DRIVER_LOW, 0x2000);
    b.write(reg::QUEUE_DEVICE_LOW, 0x3000);
    b.write(reg::QUEUE_READY, 1);
    assert_eq!(b.read(reg::QUEUE_READY), 0);
}

#[test]
fn queue_registers_are_frozen_while_ready() {
    let mut b = Bench::started(Console::new(), 4);
    b.write(reg::QUEUE_SEL, 1);
    b.write(reg::QUEUE_NUM, 8);
    b.write(reg::QUEUE_DESC_LOW, 0);
    assert_eq!(b.read(reg::QUEUE_NUM), 4);
    assert_eq!(b.read(reg::QUEUE_DESC_LOW) as u64, b.rings[1].desc & 0xffff_ffff);
    // Selecting a queue that does not exist reads zeros and ignores writes.
    b.write(reg::QUEUE_SEL, 9);
    assert_eq!(b.read(reg::QUEUE_NUM_MAX), 0);
    b.write(reg::QUEUE_READY, 1);
    assert_eq!(b.read(reg::QUEUE_READY), 0);
}

#[test]
fn notify_of_a_queue_that_is_not_ready_does_nothing() {
    let mut b = Bench::new(Console::new());
    assert!(b.negotiate(feature::VERSION_1));
    let mut rx = b.setup_queue(0, 4);
    // The transmit queue is laid out but never made ready.
    b.write(reg::QUEUE_SEL, 1);
    b.write(reg::QUEUE_NUM, 4);
    b.set_status(ALL_OK);
    let buf = b.put(b"hi");
    let head = rx.add_chain(&mut b.ram, &[(buf, 2, false)]);
    rx.offer(&mut b.ram, head);
    for q in [1, 2, 1000, u32::MAX] {
        b.write(reg::QUEUE_NOTIFY, q);
    }
    assert!(b.mmio.device_mut().take_output().is_empty());
    assert!(!b.mmio.irq_level());
}

#[test]
fn buffers_posted_before_driver_ok_are_served_at_driver_ok() {
    let mut b = Bench::new(Console::new());
    b.mmio.device_mut().push_input(b"early");
    assert!(b.negotiate(feature::VERSION_1));
    let mut rx = b.setup_queue(0, 4);
    let buf = b.alloc(16);
    let head = rx.add_chain(&mut b.ram, &[(buf, 16, true)]);
    rx.offer(&mut b.ram, head);
    b.write(reg::QUEUE_NOTIFY, 0);
    assert!(rx.take_used(&b.ram).is_empty(), "served before DRIVER_OK");
    b.set_status(ALL_OK);
    assert_eq!(rx.take_used(&b.ram), vec![(head as u32, 5)]);
    assert_eq!(b.ram.slice(buf, 5).unwrap(), b"early");
    assert!(b.mmio.irq_level());
}

#[test]
fn interrupts_are_acknowledged_bit_by_bit() {
    let mut b = Bench::started(Console::new(), 4);
    let buf = b.put(b"x");
    b.submit(1, &[(buf, 1, false)]);
    assert!(b.mmio.irq_level());
    assert_eq!(b.read(reg::INTERRUPT_STATUS), interrupt::USED_BUFFER);
    b.write(reg::INTERRUPT_ACK, interrupt::CONFIG_CHANGE);
    assert!(b.mmio.irq_level());
    b.write(reg::INTERRUPT_ACK, interrupt::USED_BUFFER);
    assert!(!b.mmio.irq_level());
}

#[test]
fn reset_clears_the_transport_but_keeps_host_data() {
    let mut b = Bench::started(Console::new(), 4);
    let buf = b.put(b"out");
    b.submit(1, &[(buf, 3, false)]);
    b.mmio.device_mut().push_input(b"in");
    assert!(b.mmio.irq_level());
    b.set_status(0);
    assert_eq!(b.read(reg::STATUS), 0);
    assert!(!b.mmio.irq_level());
    for q in 0..2 {
        b.write(reg::QUEUE_SEL, q);
        assert_eq!(b.read(reg::QUEUE_READY), 0);
        assert_eq!(b.read(reg::QUEUE_NUM), 0);
    }
    assert_eq!(b.mmio.device_mut().take_output(), b"out");
    assert_eq!(b.mmio.device().pending_input(), 2);
    // Polling a reset device touches nothing.
    b.poll();
    assert_eq!(b.mmio.device().pending_input(), 2);
}

#[test]
fn a_hostile_chain_fails_and_the_device_goes_on() {
    let mut b = Bench::started(Console::new(), 4);
    // A writable buffer on the transmit queue before a readable one: refused.
    let buf = b.put(b"ok");
    let bad = b.submit(1, &[(buf, 2, true), (buf, 2, false)]);
    assert_eq!(b.take_used(1), vec![(bad as u32, 0)]);
    let good = b.submit(1, &[(buf, 2, false)]);
    assert_eq!(b.take_used(1), vec![(good as u32, 0)]);
    assert_eq!(b.mmio.device_mut().take_output(), b"ok");
    // The write flag on a transmit buffer is otherwise the driver's business: nothing is read.
    let only_w = b.submit(1, &[(buf, 2, true)]);
    assert_eq!(b.take_used(1), vec![(only_w as u32, 0)]);
    assert!(b.mmio.device_mut().take_output().is_empty());
}
