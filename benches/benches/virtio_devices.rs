//! The device paths: virtio-blk read and 9p read/write throughput (bytes per second),
//! driven through the virtio-mmio transport by benches' hand-written driver.

use benches::blk_read::BlkReader;
use benches::nine_p::{P9Client, O_RDONLY};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;

const DISK: usize = 16 << 20;
const FILE: u64 = 16 << 20;
/// The msize Linux 6.1's v9fs asks for by default over virtio.
const MSIZE: u32 = 128 << 10;

fn blk(c: &mut Criterion) {
    let mut group = c.benchmark_group("virtio-blk");
    group.throughput(Throughput::Bytes(DISK as u64));
    group.sample_size(20);
    for (request, depth) in [(4u32 << 10, 64u16), (64 << 10, 16), (512 << 10, 4)] {
        let disk: Vec<u8> = (0..DISK).map(|i| (i / 512) as u8).collect();
        let mut reader = BlkReader::new(disk, request, depth).unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(format!("read {} KiB x{depth}", request >> 10), |b| {
            b.iter(|| {
                black_box(
                    reader
                        .read_all(|_, d| {
                            black_box(d);
                        })
                        .unwrap_or_else(|e| panic!("{e}")),
                )
            })
        });
    }
    group.finish();
}

fn nine_p(c: &mut Criterion) {
    let share = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-9p-share");
    std::fs::create_dir_all(&share).expect("share directory");
    let data: Vec<u8> = (0..FILE).map(|i| (i % 251) as u8).collect();
    std::fs::write(share.join("in"), &data).expect("input file");
    let mut client = P9Client::attach(share.clone(), MSIZE).unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("virtio-9p");
    group.throughput(Throughput::Bytes(FILE));
    group.sample_size(20);

    let fid = client.open("in", O_RDONLY).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function(format!("read msize {} KiB", MSIZE >> 10), |b| {
        b.iter(|| {
            black_box(
                client
                    .read(fid, FILE, |d| {
                        black_box(d);
                    })
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
    client.clunk(fid).unwrap_or_else(|e| panic!("{e}"));

    let fid = client.create("out").unwrap_or_else(|e| panic!("{e}"));
    let pattern = &data[..client.iounit() as usize];
    group.bench_function(format!("write msize {} KiB", MSIZE >> 10), |b| {
        b.iter(|| black_box(client.write(fid, FILE, pattern).unwrap_or_else(|e| panic!("{e}"))))
    });
    client.clunk(fid).unwrap_or_else(|e| panic!("{e}"));
    group.finish();
    let _ = std::fs::remove_dir_all(&share);
}

criterion_group!(benches, blk, nine_p);
criterion_main!(benches);
