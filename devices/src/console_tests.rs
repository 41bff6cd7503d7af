//! virtio-console tests: byte-exact transfer both ways through `virtio-drivers`, and receive
//! buffers that are too small, wrongly directed or missing.

use super::*;
use crate::testing::drivers::{install_ram, poll_device, RamHal, RamTransport};
use crate::testing::Bench;
use virtio_drivers::device::console::VirtIOConsole;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

#[test]
fn virtio_drivers_sends_bytes_unchanged() {
    install_ram(1 << 20);
    let (transport, dev) = RamTransport::new(Console::new());
    let mut console = VirtIOConsole::<RamHal, _>::new(transport).unwrap();
    let data = pattern(10_000);
    console.send_bytes(&data[..1]).unwrap();
    console.send_bytes(&data[1..5000]).unwrap();
    console.send(data[5000]).unwrap();
    console.send_bytes(&data[5001..]).unwrap();
    assert_eq!(dev.borrow_mut().device_mut().take_output(), data);
    assert!(dev.borrow_mut().device_mut().take_output().is_empty());
}

#[test]
fn virtio_drivers_receives_every_byte_in_order() {
    install_ram(1 << 20);
    let (transport, dev) = RamTransport::new(Console::new());
    let mut console = VirtIOConsole::<RamHal, _>::new(transport).unwrap();
    assert_eq!(console.recv(true).unwrap(), None);
    // More than one receive buffer (a page) holds, every byte value.
    let data = pattern(3 * 4096 + 123);
    dev.borrow_mut().device_mut().push_input(&data);
    assert_eq!(dev.borrow().device().pending_input(), data.len());
    let mut got = Vec::new();
    for _ in 0..100_000 {
        match console.recv(true).unwrap() {
            Some(b) => got.push(b),
            None if got.len() == data.len() => break,
            // The driver posted its next buffer; the machine's run loop would poll.
            None => poll_device(&dev),
        }
    }
    assert_eq!(got, data);
    assert_eq!(dev.borrow().device().pending_input(), 0);
}

#[test]
fn input_waits_for_buffers_and_splits_across_them() {
    let mut b = Bench::started(Console::new(), 4);
    b.mmio.device_mut().push_input(b"abcdefgh");
    // No receive buffer yet: nothing moves, nothing is lost.
    b.poll();
    assert_eq!(b.mmio.device().pending_input(), 8);
    let (x, y) = (b.alloc(3), b.alloc(3));
    let hx = b.submit(0, &[(x, 3, true)]);
    let hy = b.submit(0, &[(y, 1, true), (y + 1, 2, true)]);
    assert_eq!(b.take_used(0), vec![(hx as u32, 3), (hy as u32, 3)]);
    assert_eq!(b.ram.slice(x, 3).unwrap(), b"abc");
    assert_eq!(b.ram.slice(y, 3).unwrap(), b"def");
    assert_eq!(b.mmio.device().pending_input(), 2);
    // More input behind the rest, after the queue's storage has wrapped around.
    b.mmio.device_mut().push_input(b"ijklmnop");
    let z = b.alloc(64);
    let hz = b.submit(0, &[(z, 64, true)]);
    assert_eq!(b.take_used(0), vec![(hz as u32, 10)]);
    assert_eq!(b.ram.slice(z, 10).unwrap(), b"ghijklmnop");
    // A buffer posted while nothing is pending stays with the device until input comes.
    let w = b.alloc(8);
    let hw = b.submit(0, &[(w, 8, true)]);
    assert!(b.take_used(0).is_empty());
    b.mmio.device_mut().push_input(b"late");
    b.poll();
    assert_eq!(b.take_used(0), vec![(hw as u32, 4)]);
    assert_eq!(b.ram.slice(w, 4).unwrap(), b"late");
    assert!(b.mmio.irq_level());
}

#[test]
fn receive_buffers_the_device_cannot_write_lose_no_input() {
    let mut b = Bench::started(Console::new(), 4);
    b.mmio.device_mut().push_input(b"keep");
    let r = b.alloc(8);
    let hr = b.submit(0, &[(r, 8, false)]);
    assert_eq!(b.take_used(0), vec![(hr as u32, 0)]);
    let bad = b.submit(0, &[(0x10, 8, true)]);
    assert_eq!(b.take_used(0), vec![(bad as u32, 0)]);
    assert_eq!(b.mmio.device().pending_input(), 4);
    let w = b.alloc(8);
    b.submit(0, &[(w, 8, true)]);
    assert_eq!(b.ram.slice(w, 4).unwrap(), b"keep");
}

#[test]
fn transmit_gathers_segments_in_order() {
    let mut b = Bench::started(Console::new(), 8);
    let (p, q, r) = (b.put(b"one "), b.put(b""), b.put(b"two"));
    let h = b.submit(1, &[(p, 4, false), (q, 0, false), (r, 3, false)]);
    assert_eq!(b.take_used(1), vec![(h as u32, 0)]);
    assert_eq!(b.mmio.device_mut().take_output(), b"one two");
}
