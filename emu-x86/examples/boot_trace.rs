//! Boots a bundle directory on the x86_64 board and reports where the CPU stopped: a bring-up
//! aid. `cargo run --release -p emu-x86 --example boot_trace -- DIR [MAX_SLICES]`

use emu_core::bundle::Bundle;
use emu_core::session::{Machine, Slice};
use emu_core::StdHost;
use emu_x86::board::{BootImage, X86Machine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: boot_trace DIR [MAX_SLICES]");
    let max: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut b = Bundle::load(std::path::Path::new(dir)).expect("bundle");
    let extra = std::env::var("C2W_KERNEL_ARGS").unwrap_or_default();
    let cmdline = format!("console=ttyS0 c2w_chan=hvc0 panic=-1 {extra}");
    let mut m = X86Machine::new(BootImage {
        kernel: &b.kernel,
        initrd: &b.initrd,
        rootfs: std::mem::take(&mut b.rootfs),
        memory_mib: b.memory_mib,
        cmdline: &cmdline,
    })
    .expect("machine");
    let mut host = StdHost::new();
    let t0 = std::time::Instant::now();
    let trace = std::env::var_os("TRACE").is_some();
    for i in 0..max {
        let s = m.run_slice(&mut host);
        if trace {
            eprintln!("slice {i}: {s:?} rip {:#x} icount {} halted {}", m.cpu.rip, m.cpu.icount, m.cpu.halted);
        }
        if let Slice::Halted(h) = s {
            eprintln!("halted {h:?} after slice {i}");
            break;
        }
    }
    let c = &m.cpu;
    eprintln!(
        "rip {:#x} icount {} halted {} rflags {:#x} cr0 {:#x} cr3 {:#x} cr4 {:#x} efer {:#x} time {:?}",
        c.rip,
        c.icount,
        c.halted,
        c.rflags(),
        c.cr0,
        c.cr3,
        c.cr4,
        c.efer,
        t0.elapsed()
    );
    for (i, r) in c.gpr.iter().enumerate() {
        eprint!("r{i}={r:#x} ");
    }
    eprintln!();
    // DUMP=PHYS:LEN,... writes those RAM bytes to /tmp/dump-PHYS.bin (for objdump).
    for spec in std::env::var("DUMP").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        let (a, l) = spec.split_once(':').expect("PHYS:LEN");
        let a = u64::from_str_radix(a.trim_start_matches("0x"), 16).expect("hex address");
        let l: usize = l.parse().expect("length");
        if let Some(bytes) = m.sys.ram.slice(a, l) {
            std::fs::write(format!("/tmp/dump-{a:x}.bin"), bytes).expect("write dump");
        }
    }
}
