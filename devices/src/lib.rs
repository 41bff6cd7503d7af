//! virtio devices.
pub mod p9;
