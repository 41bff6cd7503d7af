//! Both CPUs' hot loops on fixed guest programs (benches/programs/<arch>/, the same work on
//! each): guest instructions per second, criterion's elements being retired instructions.
//! Each iteration runs a whole program from reset on a fresh machine (the set-up is not
//! timed) and checks its result, so a broken emulator fails instead of looking fast.

use benches::asm::Arch;
use benches::programs::{self, Loaded};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;

/// Times `run` on fresh machines from `machine`, after one checked run that counts the
/// instructions.
fn bench<M>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    loaded: &Loaded,
    machine: impl Fn() -> M,
    run: impl Fn(&mut M) -> Result<u64, programs::RunError>,
) {
    let insns = run(&mut machine()).unwrap_or_else(|e| panic!("{e}"));
    group.throughput(Throughput::Elements(insns));
    group.bench_function(loaded.name, |b| {
        b.iter_batched_ref(&machine, |m| black_box(run(m).unwrap_or_else(|e| panic!("{e}"))), BatchSize::LargeInput)
    });
}

fn hot_loops(c: &mut Criterion) {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-programs");
    for arch in [Arch::Riscv64, Arch::X86_64] {
        let mut group = c.benchmark_group(arch.name());
        group.sample_size(20);
        for program in programs::all(arch) {
            let loaded = program.load(&out_dir).unwrap_or_else(|e| panic!("{e}"));
            match arch {
                Arch::Riscv64 => bench(&mut group, &loaded, || loaded.machine(), |(hart, bus)| loaded.run(hart, bus)),
                Arch::X86_64 => {
                    bench(&mut group, &loaded, || loaded.x86_machine(), |(cpu, bus)| loaded.run_x86(cpu, bus))
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, hot_loops);
criterion_main!(benches);
