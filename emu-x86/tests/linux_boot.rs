//! Boots the committed Linux kernel (guest/kernel/x86_64/bzImage) on the x86_64 board with no
//! initramfs and no root device: the kernel must come up through its whole platform setup
//! (MP table, TSC calibration against the PIT, LAPIC/IOAPIC timer check, UART, virtio-mmio
//! probes, the root filesystem attempt) to its "no root" panic, which `panic=-1` turns into a
//! reboot the board must see. The virtual clock makes the run deterministic.

use emu_core::session::{Halt, Machine, Slice};
use emu_core::FakeHost;
use emu_x86::board::{BootImage, X86Machine};

const KERNEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest/kernel/x86_64/bzImage");

#[test]
fn kernel_boots_to_its_no_root_panic_and_reboots() {
    let kernel = std::fs::read(KERNEL).expect("the committed x86_64 kernel");
    let mut m = X86Machine::new(BootImage {
        kernel: &kernel,
        initrd: &[],
        rootfs: vec![0; 4096],
        memory_mib: 128,
        cmdline: "console=ttyS0 panic=-1 loglevel=7",
    })
    .expect("machine");
    let mut host = FakeHost::default();
    let mut end = None;
    while m.instructions() < 2_000_000_000 {
        if let Slice::Halted(h) = m.run_slice(&mut host) {
            end = Some(h);
            break;
        }
    }
    let log = String::from_utf8_lossy(&host.console).into_owned();
    assert_eq!(end, Some(Halt::Reboot), "console:\n{}", m.console_tail());
    for want in [
        "Command line: console=ttyS0 panic=-1 loglevel=7 virtio_mmio.device=4K@0xfeb00000:5",
        "found SMP MP-table at [mem 0x000f0000-0x000f000f]",
        "IOAPIC[0]: apic_id 1",
        "serial8250: ttyS0 at I/O 0x3f8 (irq = 4",
        "virtio_blk virtio1: [vda] 8 512-byte logical blocks",
        "Kernel panic - not syncing",
    ] {
        assert!(log.contains(want), "no {want:?} in the console log:\n{log}");
    }
    assert!(!log.contains("IO-APIC + timer doesn't work"), "{log}");
    // The TSC runs at 1 GHz of guest time; calibration against the PIT must see that.
    let mhz: f64 = log
        .split("tsc: Detected ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no TSC calibration in the console log:\n{log}"));
    assert!((995.0..1005.0).contains(&mhz), "TSC calibrated at {mhz} MHz");
}
