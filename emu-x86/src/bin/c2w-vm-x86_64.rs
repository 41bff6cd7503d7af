//! The x86_64 VM: the binary that becomes out.wasm (see `emu_core::vm`).

emu_core::vm_entry!(emu_x86::board::from_bundle);
