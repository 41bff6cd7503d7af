//! The riscv64 VM: the binary that becomes out.wasm (see `emu_core::vm`).

emu_core::vm_entry!(emu_riscv::machine::from_bundle);
