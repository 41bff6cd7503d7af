//! virtio-9p transport tests: the mount tag through `virtio-drivers`, and requests carried to
//! the server and back.

use super::*;
use crate::testing::drivers::{install_ram, RamHal, RamTransport};
use crate::testing::Bench;
use virtio_drivers::device::virtio_9p::VirtIO9p;

#[test]
fn virtio_drivers_reads_the_mount_tag() {
    install_ram(1 << 20);
    let (transport, _dev) = RamTransport::new(P9::new("c2w-share"));
    let p9 = VirtIO9p::<RamHal, _>::new(transport).unwrap();
    assert_eq!(p9.mount_tag(), "c2w-share");
}

#[test]
fn config_space_holds_the_tag_length_then_the_tag() {
    let p9 = P9::new("abc");
    assert_eq!(p9.config(), &[3, 0, b'a', b'b', b'c']);
    assert_eq!(p9.features(), F_MOUNT_TAG);
}

/// A Tversion message: size[4] type[1]=100 tag[2]=NOTAG msize[4] version[s].
fn tversion(msize: u32) -> Vec<u8> {
    let version = b"9P2000.L";
    let mut m = Vec::new();
    m.extend_from_slice(&(4 + 1 + 2 + 4 + 2 + version.len() as u32).to_le_bytes());
    m.push(100);
    m.extend_from_slice(&0xffffu16.to_le_bytes());
    m.extend_from_slice(&msize.to_le_bytes());
    m.extend_from_slice(&(version.len() as u16).to_le_bytes());
    m.extend_from_slice(version);
    m
}

#[test]
fn a_request_spread_over_buffers_reaches_the_server_whole() {
    let mut b = Bench::started(P9::new("t"), 8);
    let msg = tversion(8192);
    let (x, y) = (b.put(&msg[..5]), b.put(&msg[5..]));
    let resp = b.alloc(256);
    let head = b.submit(0, &[(x, 5, false), (y, msg.len() as u32 - 5, false), (resp, 256, true)]);
    let used = b.take_used(0);
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].0, head as u32);
    // Whatever the server answered went into the writable buffer, length and all.
    let mut want = Vec::new();
    b.mmio.device_mut().server.handle(&msg, &mut want);
    assert!(want.len() > 7, "the server gave no reply");
    assert_eq!(used[0].1 as usize, want.len());
    assert_eq!(b.ram.slice(resp, want.len()).unwrap(), &want[..]);
}

#[test]
fn virtio_drivers_negotiates_a_version_through_the_server() {
    install_ram(1 << 20);
    let (transport, _dev) = RamTransport::new(P9::new("c2w"));
    let mut p9 = VirtIO9p::<RamHal, _>::new(transport).unwrap();
    let mut resp = [0u8; 256];
    let n = p9.request(&tversion(8192), &mut resp).unwrap() as usize;
    // Rversion: size[4] type[1]=101 tag[2] msize[4] version[s]
    assert_eq!(resp[4], 101, "reply {:?}", &resp[..n]);
    assert_eq!(u16::from_le_bytes([resp[5], resp[6]]), 0xffff);
    assert!(u32::from_le_bytes(resp[7..11].try_into().unwrap()) <= 8192);
    assert_eq!(&resp[13..n], b"9P2000.L");
}
