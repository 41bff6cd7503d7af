//! virtio-blk tests: sectors through `virtio-drivers` (which uses indirect descriptors), and
//! malformed requests built by hand.

use super::*;
use crate::testing::drivers::{install_ram, RamHal, RamTransport};
use crate::testing::Bench;
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::Error;

fn disk(sectors: usize) -> Vec<u8> {
    (0..sectors * 512).map(|i| (i / 512 + i * 13) as u8).collect()
}

#[test]
fn virtio_drivers_reads_and_writes_sectors() {
    install_ram(1 << 20);
    let (transport, dev) = RamTransport::new(Blk::new(disk(64), false));
    let mut blk = VirtIOBlk::<RamHal, _>::new(transport).unwrap();
    assert_eq!(blk.capacity(), 64);
    assert!(!blk.readonly());

    let mut buf = vec![0u8; 3 * 512];
    blk.read_blocks(5, &mut buf).unwrap();
    assert_eq!(buf, disk(64)[5 * 512..8 * 512]);

    let new: Vec<u8> = (0..2 * 512).map(|i| (i % 251) as u8).collect();
    blk.write_blocks(62, &new).unwrap();
    assert_eq!(&dev.borrow().device().data()[62 * 512..], &new[..]);
    let mut back = vec![0u8; 2 * 512];
    blk.read_blocks(62, &mut back).unwrap();
    assert_eq!(back, new);
    blk.flush().unwrap();

    let mut id = [0u8; 20];
    let n = blk.device_id(&mut id).unwrap();
    assert_eq!(&id[..n], b"c2w-disk");

    // Past the end: the device answers IOERR, the driver reports it, the device goes on.
    assert_eq!(blk.read_blocks(63, &mut back), Err(Error::IoError));
    assert_eq!(blk.write_blocks(64, &new[..512]), Err(Error::IoError));
    blk.read_blocks(0, &mut back).unwrap();
    assert_eq!(back, disk(64)[..1024]);
}

#[test]
fn virtio_drivers_sees_a_read_only_disk() {
    install_ram(1 << 20);
    let (transport, dev) = RamTransport::new(Blk::new(disk(8), true));
    let mut blk = VirtIOBlk::<RamHal, _>::new(transport).unwrap();
    assert!(blk.readonly());
    assert_eq!(blk.write_blocks(0, &[0xff; 512]), Err(Error::IoError));
    assert_eq!(dev.borrow().device().data(), &disk(8)[..]);
    let mut buf = [0u8; 512];
    blk.read_blocks(7, &mut buf).unwrap();
    assert_eq!(&buf[..], &disk(8)[7 * 512..]);
}

fn header(kind: u32, sector: u64) -> Vec<u8> {
    let mut h = kind.to_le_bytes().to_vec();
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&sector.to_le_bytes());
    h
}

/// Submits `bufs` to a fresh writable 16-sector disk and returns (used len, status byte).
fn request(b: &mut Bench<Blk>, bufs: &[(u64, u32, bool)], status_at: u64) -> (u32, u8) {
    let head = b.submit(0, bufs);
    let used = b.take_used(0);
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].0, head as u32);
    (used[0].1, b.ram.slice(status_at, 1).unwrap()[0])
}

#[test]
fn malformed_requests_fail_and_the_device_goes_on() {
    let mut b = Bench::started(Blk::new(disk(16), false), 8);
    let st = b.put(&[0xee]);
    let data = b.alloc(1024);
    let ok_hdr = b.put(&header(T_IN, 2));

    // A read whose data buffer is device-readable (wrong direction).
    assert_eq!(request(&mut b, &[(ok_hdr, 16, false), (data, 512, false), (st, 1, true)], st), (1, S_IOERR));
    // A write whose data buffer is device-writable.
    let w = b.put(&header(T_OUT, 2));
    assert_eq!(request(&mut b, &[(w, 16, false), (data, 512, true), (st, 1, true)], st), (1, S_IOERR));
    assert_eq!(b.mmio.device().data(), &disk(16)[..]);
    // Sector ranges past the end, overflowing, or not whole sectors.
    for (sector, len) in [(16, 512), (15, 1024), (u64::MAX, 512), (u64::MAX / 512, 1024), (0, 100)] {
        let h = b.put(&header(T_IN, sector));
        assert_eq!(request(&mut b, &[(h, 16, false), (data, len, true), (st, 1, true)], st), (1, S_IOERR));
    }
    // A short header.
    assert_eq!(request(&mut b, &[(ok_hdr, 8, false), (st, 1, true)], st), (1, S_IOERR));
    // An unknown request type.
    let u = b.put(&header(0x55, 0));
    assert_eq!(request(&mut b, &[(u, 16, false), (st, 1, true)], st), (1, S_UNSUPP));
    // No writable byte for the status: nothing to say but used length 0.
    let head = b.submit(0, &[(ok_hdr, 16, false), (data, 512, false)]);
    assert_eq!(b.take_used(0), vec![(head as u32, 0)]);
    // A status byte outside RAM: the chain is refused whole.
    let head = b.submit(0, &[(ok_hdr, 16, false), (data, 512, true), (0x20, 1, true)]);
    assert_eq!(b.take_used(0), vec![(head as u32, 0)]);

    // After all that, a good read of data spread over three buffers.
    let (used, status) =
        request(&mut b, &[(ok_hdr, 16, false), (data, 100, true), (data + 100, 924, true), (st, 1, true)], st);
    assert_eq!((used, status), (1025, S_OK));
    assert_eq!(b.ram.slice(data, 1024).unwrap(), &disk(16)[1024..2048]);
}

#[test]
fn writes_land_and_read_only_disks_refuse_them() {
    let mut b = Bench::started(Blk::new(disk(4), false), 4);
    let st = b.put(&[0xee]);
    let h = b.put(&header(T_OUT, 3));
    let data = b.put(&[0x5a; 512]);
    assert_eq!(request(&mut b, &[(h, 16, false), (data, 512, false), (st, 1, true)], st), (1, S_OK));
    assert_eq!(&b.mmio.device().data()[3 * 512..], &[0x5a; 512]);
    // The data may share the header's buffer.
    let mut both = header(T_OUT, 0);
    both.extend_from_slice(&[0x77; 512]);
    let hb = b.put(&both);
    assert_eq!(request(&mut b, &[(hb, 528, false), (st, 1, true)], st), (1, S_OK));
    assert_eq!(&b.mmio.device().data()[..512], &[0x77; 512]);

    let mut b = Bench::started(Blk::new(disk(4), true), 4);
    let st = b.put(&[0xee]);
    let h = b.put(&header(T_OUT, 0));
    let data = b.put(&[0x5a; 512]);
    assert_eq!(request(&mut b, &[(h, 16, false), (data, 512, false), (st, 1, true)], st), (1, S_IOERR));
    assert_eq!(b.mmio.device().data(), &disk(4)[..]);
    let f = b.put(&header(T_FLUSH, 0));
    assert_eq!(request(&mut b, &[(f, 16, false), (st, 1, true)], st), (1, S_OK));
}

#[test]
fn get_id_fits_the_buffer_given() {
    let mut b = Bench::started(Blk::new(disk(1), true), 4);
    let st = b.put(&[0xee]);
    let h = b.put(&header(T_GET_ID, 0));
    let id = b.alloc(4);
    assert_eq!(request(&mut b, &[(h, 16, false), (id, 4, true), (st, 1, true)], st), (5, S_OK));
    assert_eq!(b.ram.slice(id, 4).unwrap(), b"c2w-");
}

#[test]
fn odd_sized_images_are_padded_to_whole_sectors() {
    let blk = Blk::new(vec![1; 1000], true);
    assert_eq!(blk.capacity_sectors(), 2);
    assert_eq!(&blk.data()[1000..], &[0; 24]);
    assert_eq!(Blk::new(Vec::new(), true).capacity_sectors(), 0);
}
