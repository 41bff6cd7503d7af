//! The prebuilt pieces c2w carries inside itself, per target arch: the VM (wasm32-wasip1), the
//! guest init (a static Linux binary) and the kernel. build.rs finds them at build time; a c2w
//! built without them (a fresh `cargo build`) still works for everything else and says how to
//! get them when asked to convert.

use crate::arch::Arch;

/// What build.rs found for one arch.
#[allow(dead_code)] // which variants get built depends on what build.rs found
enum Pieces {
    Present {
        vm: &'static [u8],
        init: &'static [u8],
        kernel: &'static [u8],
    },
    /// The pieces that were missing, with the paths looked at.
    Missing(&'static str),
}

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The pieces for one arch.
#[derive(Debug, Clone, Copy)]
pub struct Artifacts {
    /// The VM module, not yet pre-initialised.
    pub vm: &'static [u8],
    /// The guest init, which becomes `/init` in the initramfs.
    pub init: &'static [u8],
    /// The kernel image the VM boots.
    pub kernel: &'static [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("this c2w was built without the {arch} VM (missing: {missing}); build it with `make build`")]
pub struct NotEmbedded {
    pub arch: Arch,
    pub missing: &'static str,
}

/// The embedded pieces for `arch`, or which ones this build lacks.
pub fn artifacts(arch: Arch) -> Result<Artifacts, NotEmbedded> {
    let pieces = match arch {
        Arch::Riscv64 => RISCV64,
        Arch::Amd64 => AMD64,
    };
    match pieces {
        Pieces::Present { vm, init, kernel } => Ok(Artifacts { vm, init, kernel }),
        Pieces::Missing(missing) => Err(NotEmbedded { arch, missing }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_arch_is_either_complete_or_explains_what_is_missing() {
        for arch in [Arch::Riscv64, Arch::Amd64] {
            match artifacts(arch) {
                Ok(a) => {
                    // A real wasm module, a real ELF init, a non-trivial kernel.
                    assert_eq!(&a.vm[..4], b"\0asm", "{arch} VM is not wasm");
                    assert_eq!(&a.init[..4], b"\x7fELF", "{arch} init is not ELF");
                    assert!(a.kernel.len() > 64 * 1024, "{arch} kernel is only {} bytes", a.kernel.len());
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&format!("without the {arch} VM")), "{msg}");
                    assert!(msg.contains("make build"), "{msg}");
                    assert!(!e.missing.is_empty());
                }
            }
        }
    }
}
