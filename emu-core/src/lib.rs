//! What every c2w machine shares.
//!
//! - [`GuestRam`]: guest physical RAM, one contiguous host allocation.
//! - [`MmioDevice`]: the interface between a machine's bus and its devices.
//! - [`GuestClock`]: guest time, virtual during pre-boot and the host's at run time.
//! - [`BootImage`]: what a machine boots.
//! - [`Host`]: the one boundary to the outside world (clock, randomness, stdio, waiting).
//!   CPU and device code never touch std I/O or WASI directly, so it is deterministic given
//!   its inputs and runs the same natively and under a WASI runtime.

pub mod boot_image;
pub mod guest_clock;
pub mod host;
pub mod kernel_log;
pub mod mmio;
pub mod ram;

pub use boot_image::BootImage;
pub use guest_clock::GuestClock;
pub use host::{FakeHost, Host, StdHost};
pub use kernel_log::KernelLog;
pub use mmio::{DevCtx, MmioDevice};
pub use ram::GuestRam;
pub mod bench_run;
pub mod bundle;
pub mod exit_status;
pub mod preinit;
pub mod session;
pub mod vm;
