//! virtio devices: the virtio-mmio transport ([`VirtioMmio`]), split virtqueues ([`queue`]),
//! and the device models, each arch-neutral and talking to the world only through
//! [`emu_core::Host`].

pub mod blk;
pub mod console;
pub mod device;
pub mod mmio;
pub mod p9;
pub mod queue;
pub mod rng;
pub mod spec;
pub mod virtio_9p;
pub mod virtio_set;

#[cfg(test)]
mod testing;

pub use blk::Blk;
pub use console::Console;
pub use device::VirtioDevice;
pub use mmio::VirtioMmio;
pub use p9::{Server as P9Server, Share};
pub use rng::Rng;
pub use virtio_9p::P9;
pub use virtio_set::VirtioSet;
