//! The riscv64 hart's hot loops on fixed guest programs (benches/programs/): guest
//! instructions per second, criterion's elements being retired instructions. Each iteration
//! runs a whole program from reset on fresh RAM (the set-up is not timed) and checks its
//! result, so a broken emulator fails instead of looking fast.

use benches::programs;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;

fn hot_loops(c: &mut Criterion) {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-programs");
    let mut group = c.benchmark_group("riscv64");
    group.sample_size(20);
    for program in programs::all() {
        let loaded = program.load(&out_dir).unwrap_or_else(|e| panic!("{e}"));
        // One run to count the instructions (and to check the result before timing).
        let (mut hart, mut bus) = loaded.machine();
        let insns = loaded.run(&mut hart, &mut bus).unwrap_or_else(|e| panic!("{e}"));
        group.throughput(Throughput::Elements(insns));
        group.bench_function(program.name, |b| {
            b.iter_batched_ref(
                || loaded.machine(),
                |(hart, bus)| black_box(loaded.run(hart, bus).unwrap_or_else(|e| panic!("{e}"))),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, hot_loops);
criterion_main!(benches);
