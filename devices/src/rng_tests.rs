//! virtio-rng tests: entropy through `virtio-drivers`, and requests without writable room.

use super::*;
use crate::testing::drivers::{install_ram, RamHal, RamTransport};
use crate::testing::Bench;
use emu_core::{FakeHost, Host};
use virtio_drivers::device::rng::VirtIORng;

#[test]
fn virtio_drivers_gets_host_randomness() {
    install_ram(1 << 20);
    let (transport, _dev) = RamTransport::new(Rng::new());
    let mut rng = VirtIORng::<RamHal, _>::new(transport).unwrap();
    let mut got = [0u8; 100];
    assert_eq!(rng.request_entropy(&mut got).unwrap(), 100);
    let mut more = [0u8; 37];
    assert_eq!(rng.request_entropy(&mut more).unwrap(), 37);
    // Exactly the host's bytes, in order (the fake host is a seeded generator).
    let mut want = [0u8; 137];
    FakeHost::default().random(&mut want);
    assert_eq!(&got[..], &want[..100]);
    assert_eq!(&more[..], &want[100..]);
}

#[test]
fn requests_are_capped_and_readable_buffers_get_nothing() {
    let mut b = Bench::started(Rng::new(), 4);
    let r = b.put(&[0xaa; 16]);
    let h = b.submit(0, &[(r, 16, false)]);
    assert_eq!(b.take_used(0), vec![(h as u32, 0)]);
    assert_eq!(b.ram.slice(r, 16).unwrap(), &[0xaa; 16]);
    let big = b.alloc(2 * MAX_REQUEST);
    let h = b.submit(0, &[(big, 2 * MAX_REQUEST as u32, true)]);
    assert_eq!(b.take_used(0), vec![(h as u32, MAX_REQUEST as u32)]);
    assert!(b.mmio.irq_level());
}
