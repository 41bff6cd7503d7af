//! The x86_64 VM: the binary that becomes out.wasm (see `emu_core::vm`).

use emu_core::bundle::Bundle;
use emu_core::session::Machine;
use emu_x86::board::{BootImage, X86Machine};

/// The kernel log goes to the UART (ttyS0); the virtio console is the only hvc, hvc0, the
/// init's channel. `panic=-1` turns a kernel panic into an immediate reboot, which ends the run
/// with an error. The board appends the virtio-mmio device announcements.
const CMDLINE: &str = "console=ttyS0 c2w_chan=hvc0 quiet panic=-1";

fn build(b: &mut Bundle) -> Result<Box<dyn Machine>, String> {
    let cmdline = emu_core::vm::kernel_cmdline(CMDLINE, b.snapshot);
    let m = X86Machine::new(BootImage {
        kernel: &b.kernel,
        initrd: &b.initrd,
        rootfs: std::mem::take(&mut b.rootfs),
        memory_mib: b.memory_mib,
        cmdline: &cmdline,
    })
    .map_err(|e| e.to_string())?;
    Ok(Box::new(m))
}

emu_core::vm_entry!(build);
