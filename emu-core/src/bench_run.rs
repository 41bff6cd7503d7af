//! The interpreter benchmark behind each machine's `bench` example: boots a bundle, runs one
//! command, and reports guest instructions and their rate, separately for the boot and the
//! run. The examples build natively and for wasm32-wasip1 (run them with
//! `wasmtime run --dir BUNDLE::/b ... /b COMMAND...`).
//!
//! With `BENCH_CLOCK=virtual` the run keeps the pre-boot's virtual clock (guest time from
//! retired instructions), so the guest does the same work however fast the host runs: timer
//! interrupts come at the same instructions, which makes host instruction counts (cachegrind)
//! comparable between builds.

use crate::bundle::Bundle;
use crate::session::{self, Machine, RunArgs, Slice};
use crate::{Host, StdHost};
use std::path::PathBuf;
use std::time::Instant;

/// What a machine's example supplies: a machine booting the bundle (whose root image it may
/// take).
pub type Build = fn(&mut Bundle) -> Result<Box<dyn Machine>, String>;

/// The example's main: `bench BUNDLE_DIR [COMMAND...]`.
pub fn main(build: Build) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: bench BUNDLE_DIR [COMMAND...]");
        std::process::exit(2);
    };
    let fail = |what: String| -> ! {
        eprintln!("bench: {what}");
        std::process::exit(2)
    };
    let mut b = Bundle::load(std::path::Path::new(dir)).unwrap_or_else(|e| fail(e.to_string()));
    // As the native VM does: nothing is snapshotted here, so the guest need not prepare for it.
    b.snapshot = false;
    let mut m = build(&mut b).unwrap_or_else(|e| fail(e));
    let mut host = StdHost::new();
    let t0 = Instant::now();
    if let Err(e) = session::preboot(m.as_mut(), &mut host, 20_000_000_000) {
        eprintln!("bench: boot failed: {e}");
        std::process::exit(1);
    }
    let boot_s = t0.elapsed().as_secs_f64();
    let boot_n = m.instructions();
    let run_args = RunArgs::parse(&args[1..]).unwrap_or_else(|e| fail(e));
    let t1 = Instant::now();
    let code = if std::env::var("BENCH_CLOCK").is_ok_and(|v| v == "virtual") {
        session::run(&mut VirtualClock(m.as_mut()), &mut host, &b.config, &run_args, Vec::new(), &[])
    } else {
        session::run(m.as_mut(), &mut host, &b.config, &run_args, Vec::new(), &[])
    };
    let run_s = t1.elapsed().as_secs_f64();
    let run_n = m.instructions() - boot_n;
    let rate = |n: u64, s: f64| n as f64 / s / 1e6;
    eprintln!(
        "bench: boot {boot_n} insns {boot_s:.3} s ({:.1} M/s); run {run_n} insns {run_s:.3} s ({:.1} M/s); exit {code}",
        rate(boot_n, boot_s),
        rate(run_n, run_s)
    );
}

/// A machine whose clock stays virtual for the run.
struct VirtualClock<'a>(&'a mut dyn Machine);

impl Machine for VirtualClock<'_> {
    fn run_slice(&mut self, host: &mut dyn Host) -> Slice {
        self.0.run_slice(host)
    }
    fn drain_channel(&mut self, out: &mut Vec<u8>) {
        self.0.drain_channel(out)
    }
    fn feed_channel(&mut self, data: &[u8]) {
        self.0.feed_channel(data)
    }
    fn channel_backlog(&self) -> usize {
        self.0.channel_backlog()
    }
    fn set_shares(&mut self, shares: Vec<(String, PathBuf)>) {
        self.0.set_shares(shares)
    }
    fn use_host_clock(&mut self, _host: &mut dyn Host) {}
    fn console_tail(&self) -> String {
        self.0.console_tail()
    }
    fn instructions(&self) -> u64 {
        self.0.instructions()
    }
}
