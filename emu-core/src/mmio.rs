//! The bus/device interface.

use crate::{GuestRam, Host};

/// What a device may use while it handles an access: guest RAM (for DMA, i.e. virtqueues) and
/// the host (clock, randomness, files).
pub struct DevCtx<'a> {
    pub ram: &'a mut GuestRam,
    pub host: &'a mut dyn Host,
}

/// A memory-mapped device. `offset` is relative to the device's base; `size` is 1, 2, 4 or 8.
/// Devices must tolerate any access a guest can make (bad offsets, odd sizes): they ignore
/// writes and read zero where the access means nothing, and never panic.
pub trait MmioDevice {
    fn read(&mut self, ctx: &mut DevCtx, offset: u64, size: u8) -> u64;
    fn write(&mut self, ctx: &mut DevCtx, offset: u64, size: u8, value: u64);
    /// Level of the device's interrupt line, sampled by the machine after every access and
    /// every [`MmioDevice::poll`].
    fn irq_level(&self) -> bool;
    /// Gives the device a chance to move host-side input into the guest (console input, for
    /// example). Called by the machine's run loop when it is woken or idle.
    fn poll(&mut self, _ctx: &mut DevCtx) {}
}
