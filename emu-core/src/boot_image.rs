//! What a machine boots: the same inputs for every architecture.

/// A Linux kernel and what it boots with.
pub struct BootImage<'a> {
    /// The kernel in its architecture's boot format (RISC-V `Image`, x86 bzImage).
    pub kernel: &'a [u8],
    pub initrd: &'a [u8],
    /// The root filesystem image, served read-only by virtio-blk.
    pub rootfs: Vec<u8>,
    pub memory_mib: u64,
    /// The kernel command line. A machine may append its own device announcements (x86 adds
    /// its virtio-mmio devices).
    pub cmdline: &'a str,
}
