//! The riscv64 VM: the binary that becomes out.wasm (see `emu_core::vm`).

use emu_core::bundle::Bundle;
use emu_core::session::Machine;
use emu_riscv::machine::{BootImage, RiscvMachine};

/// hvc0 is the SBI console (kernel log); the virtio console is hvc1, the init's channel.
/// `panic=-1` turns a kernel panic into an immediate reboot, which ends the run with an error.
const CMDLINE: &str = "console=hvc0 c2w_chan=hvc1 quiet panic=-1";

fn build(b: &mut Bundle) -> Result<Box<dyn Machine>, String> {
    let cmdline = emu_core::vm::kernel_cmdline(CMDLINE, b.snapshot);
    let m = RiscvMachine::new(BootImage {
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
