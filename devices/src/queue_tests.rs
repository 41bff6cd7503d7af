//! Split virtqueue tests: well-formed chains, and every kind of descriptor table a hostile or
//! broken driver can write.

use super::*;
use crate::testing::{write_desc, F_INDIRECT, F_NEXT, F_WRITE, RAM_BASE};

const RAM_SIZE: usize = 1 << 20;
const DESC: u64 = RAM_BASE;
const AVAIL: u64 = RAM_BASE + 0x1000;
const USED: u64 = RAM_BASE + 0x2000;
const BUF: u64 = RAM_BASE + 0x10000;
const TABLE: u64 = RAM_BASE + 0x8000;

fn setup(size: u16, indirect: bool) -> (GuestRam, Virtqueue) {
    let ram = GuestRam::new(RAM_BASE, RAM_SIZE);
    let mut q = Virtqueue::new(256);
    q.size = size;
    q.desc = DESC;
    q.avail = AVAIL;
    q.used = USED;
    q.enable(&ram, indirect).unwrap();
    (ram, q)
}

/// Appends `heads` to the available ring.
fn offer(ram: &mut GuestRam, size: u16, heads: &[u16]) {
    let mut idx = ram.read_u16(AVAIL + 2).unwrap();
    for &h in heads {
        ram.write_u16(AVAIL + 4 + 2 * (idx % size) as u64, h).unwrap();
        idx = idx.wrapping_add(1);
    }
    ram.write_u16(AVAIL + 2, idx).unwrap();
}

fn used_idx(ram: &GuestRam) -> u16 {
    ram.read_u16(USED + 2).unwrap()
}

fn used_entry(ram: &GuestRam, i: u16, size: u16) -> (u32, u32) {
    let slot = USED + 4 + 8 * (i % size) as u64;
    (ram.read_u32(slot).unwrap(), ram.read_u32(slot + 4).unwrap())
}

fn desc(ram: &mut GuestRam, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
    write_desc(ram, DESC + 16 * i as u64, addr, len, flags, next);
}

/// Offers the chain at head 0 alone and expects the queue to refuse it.
fn assert_refused(ram: &mut GuestRam, q: &mut Virtqueue) {
    offer(ram, q.size, &[0]);
    let before = used_idx(ram);
    assert!(q.pop(ram).is_none(), "a malformed chain reached the device");
    assert_eq!(used_idx(ram), before.wrapping_add(1));
    assert_eq!(used_entry(ram, before, q.size), (0, 0));
}

#[test]
fn chain_gathers_readable_and_scatters_writable() {
    let (mut ram, mut q) = setup(8, false);
    ram.write(BUF, b"abcd").unwrap();
    ram.write(BUF + 0x100, b"efg").unwrap();
    desc(&mut ram, 0, BUF, 4, F_NEXT, 5);
    desc(&mut ram, 5, BUF + 0x100, 3, F_NEXT, 2);
    desc(&mut ram, 2, BUF + 0x200, 4, F_WRITE | F_NEXT, 3);
    desc(&mut ram, 3, BUF + 0x300, 4, F_WRITE, 0);
    offer(&mut ram, 8, &[0]);
    let chain = q.pop(&mut ram).unwrap();
    assert_eq!(chain.head(), 0);
    assert_eq!((chain.readable_len(), chain.writable_len()), (7, 8));
    assert_eq!(chain.read_to_vec(&ram, usize::MAX), b"abcdefg");
    let mut mid = [0u8; 3];
    assert_eq!(chain.read(&ram, 3, &mut mid), 3);
    assert_eq!(&mid, b"def");
    // Scatter across the two writable buffers, starting inside the first.
    assert_eq!(chain.write(&mut ram, 2, b"123456789"), 6);
    assert_eq!(ram.slice(BUF + 0x200, 4).unwrap(), &[0, 0, b'1', b'2']);
    assert_eq!(ram.slice(BUF + 0x300, 4).unwrap(), b"3456");
    assert!(q.pop(&mut ram).is_none());
    q.push(&mut ram, chain.head(), 6);
    assert_eq!(used_idx(&ram), 1);
    assert_eq!(used_entry(&ram, 0, 8), (0, 6));
    assert!(q.take_interrupt());
    assert!(!q.take_interrupt());
}

#[test]
fn descriptor_loops_are_refused() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, BUF, 4, F_NEXT, 1);
    desc(&mut ram, 1, BUF, 4, F_NEXT, 0);
    assert_refused(&mut ram, &mut q);
    desc(&mut ram, 0, BUF, 4, F_NEXT, 0);
    assert_refused(&mut ram, &mut q);
}

#[test]
fn indices_outside_the_table_are_refused() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, BUF, 4, F_NEXT, 4);
    assert_refused(&mut ram, &mut q);
    desc(&mut ram, 0, BUF, 4, F_NEXT, u16::MAX);
    assert_refused(&mut ram, &mut q);
    // A head past the table is given back as it came.
    offer(&mut ram, 4, &[300]);
    assert!(q.pop(&mut ram).is_none());
    assert_eq!(used_entry(&ram, used_idx(&ram) - 1, 4), (300, 0));
}

#[test]
fn buffers_outside_ram_and_huge_lengths_are_refused() {
    let (mut ram, mut q) = setup(4, false);
    let end = RAM_BASE + RAM_SIZE as u64;
    for (addr, len) in [(0, 16), (RAM_BASE - 8, 16), (end - 4, 16), (end, 1), (u64::MAX - 2, 8), (BUF, u32::MAX)] {
        desc(&mut ram, 0, addr, len, 0, 0);
        assert_refused(&mut ram, &mut q);
        desc(&mut ram, 0, BUF, 4, F_NEXT, 1);
        desc(&mut ram, 1, addr, len, F_WRITE, 0);
        assert_refused(&mut ram, &mut q);
    }
    // The very last byte of RAM is fine.
    desc(&mut ram, 0, end - 1, 1, F_WRITE, 0);
    offer(&mut ram, 4, &[0]);
    assert_eq!(q.pop(&mut ram).unwrap().writable_len(), 1);
}

#[test]
fn zero_length_buffers_are_dropped() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, 0xdead_0000_0000, 0, F_NEXT, 1);
    desc(&mut ram, 1, BUF, 4, F_WRITE, 0);
    offer(&mut ram, 4, &[0]);
    let chain = q.pop(&mut ram).unwrap();
    assert!(chain.readable().is_empty());
    assert_eq!(chain.writable(), &[Segment { addr: BUF, len: 4 }]);
}

#[test]
fn readable_after_writable_is_refused() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, BUF, 4, F_WRITE | F_NEXT, 1);
    desc(&mut ram, 1, BUF + 16, 4, 0, 0);
    assert_refused(&mut ram, &mut q);
}

#[test]
fn the_queue_goes_on_after_a_refused_chain() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, BUF, 4, F_NEXT, 0);
    desc(&mut ram, 1, BUF, 4, F_WRITE, 0);
    offer(&mut ram, 4, &[0, 1]);
    let chain = q.pop(&mut ram).unwrap();
    assert_eq!(chain.head(), 1);
    assert_eq!(used_entry(&ram, 0, 4), (0, 0));
}

#[test]
fn indirect_tables_are_followed() {
    let (mut ram, mut q) = setup(4, true);
    ram.write(BUF, b"hdr!").unwrap();
    write_desc(&mut ram, TABLE, BUF, 4, F_NEXT, 2);
    write_desc(&mut ram, TABLE + 32, BUF + 0x100, 8, F_WRITE | F_NEXT, 1);
    write_desc(&mut ram, TABLE + 16, BUF + 0x200, 1, F_WRITE, 0);
    desc(&mut ram, 0, TABLE, 48, F_INDIRECT, 0);
    offer(&mut ram, 4, &[0]);
    let chain = q.pop(&mut ram).unwrap();
    assert_eq!((chain.readable_len(), chain.writable_len()), (4, 9));
    assert_eq!(chain.read_to_vec(&ram, 64), b"hdr!");
}

#[test]
fn bad_indirect_tables_are_refused() {
    let (mut ram, mut q) = setup(4, true);
    write_desc(&mut ram, TABLE, BUF, 4, 0, 0);
    // Table length not a multiple of 16, empty, or too long.
    for len in [20, 0, (MAX_INDIRECT + 1) * 16] {
        desc(&mut ram, 0, TABLE, len, F_INDIRECT, 0);
        assert_refused(&mut ram, &mut q);
    }
    // INDIRECT together with NEXT.
    desc(&mut ram, 0, TABLE, 16, F_INDIRECT | F_NEXT, 1);
    assert_refused(&mut ram, &mut q);
    // Table outside RAM, or hanging over its end.
    desc(&mut ram, 0, 0x1000, 16, F_INDIRECT, 0);
    assert_refused(&mut ram, &mut q);
    desc(&mut ram, 0, RAM_BASE + RAM_SIZE as u64 - 16, 32, F_INDIRECT, 0);
    assert_refused(&mut ram, &mut q);
    // A table pointing to another table.
    write_desc(&mut ram, TABLE, TABLE, 16, F_INDIRECT, 0);
    desc(&mut ram, 0, TABLE, 16, F_INDIRECT, 0);
    assert_refused(&mut ram, &mut q);
    // A loop inside the table.
    write_desc(&mut ram, TABLE, BUF, 4, F_NEXT, 1);
    write_desc(&mut ram, TABLE + 16, BUF, 4, F_NEXT, 0);
    desc(&mut ram, 0, TABLE, 32, F_INDIRECT, 0);
    assert_refused(&mut ram, &mut q);
    // Index past the table's end.
    write_desc(&mut ram, TABLE, BUF, 4, F_NEXT, 2);
    assert_refused(&mut ram, &mut q);
}

#[test]
fn indirect_without_the_feature_is_refused() {
    let (mut ram, mut q) = setup(4, false);
    write_desc(&mut ram, TABLE, BUF, 4, 0, 0);
    desc(&mut ram, 0, TABLE, 16, F_INDIRECT, 0);
    assert_refused(&mut ram, &mut q);
}

#[test]
fn a_runaway_available_index_stays_bounded() {
    let (mut ram, mut q) = setup(4, false);
    // Garbage everywhere: every descriptor loops to itself.
    for i in 0..4 {
        desc(&mut ram, i, BUF, 4, F_NEXT, i);
    }
    ram.write_u16(AVAIL + 2, 40_000).unwrap();
    assert!(q.pop(&mut ram).is_none());
    assert_eq!(used_idx(&ram), 40_000);
}

#[test]
fn no_interrupt_flag_suppresses_the_interrupt() {
    let (mut ram, mut q) = setup(4, false);
    ram.write_u16(AVAIL, 1).unwrap();
    q.push(&mut ram, 0, 0);
    assert!(!q.take_interrupt());
    ram.write_u16(AVAIL, 0).unwrap();
    q.push(&mut ram, 0, 0);
    assert!(q.take_interrupt());
}

#[test]
fn enable_checks_size_and_rings() {
    let ram = GuestRam::new(RAM_BASE, RAM_SIZE);
    let good = |size: u16| {
        let mut q = Virtqueue::new(256);
        (q.size, q.desc, q.avail, q.used) = (size, DESC, AVAIL, USED);
        q
    };
    for size in [0, 3, 100, 512] {
        let mut q = good(size);
        assert!(matches!(q.enable(&ram, false), Err(QueueError::BadSize { .. })), "size {size}");
        assert!(!q.ready());
    }
    let mut q = good(8);
    q.desc = DESC + 8;
    assert_eq!(q.enable(&ram, false), Err(QueueError::BadRing("descriptor")));
    let mut q = good(8);
    q.avail = 0x10;
    assert_eq!(q.enable(&ram, false), Err(QueueError::BadRing("available")));
    let mut q = good(8);
    q.used = RAM_BASE + RAM_SIZE as u64 - 8;
    assert_eq!(q.enable(&ram, false), Err(QueueError::BadRing("used")));
    let mut q = good(8);
    q.used = USED + 2;
    assert_eq!(q.enable(&ram, false), Err(QueueError::BadRing("used")));
    let mut q = good(256);
    assert!(q.enable(&ram, false).is_ok());
}

#[test]
fn a_queue_that_is_not_ready_yields_nothing() {
    let (mut ram, mut q) = setup(4, false);
    desc(&mut ram, 0, BUF, 4, 0, 0);
    offer(&mut ram, 4, &[0]);
    q.disable();
    assert!(q.pop(&mut ram).is_none());
    q.push(&mut ram, 0, 0);
    assert_eq!(used_idx(&ram), 0);
}
