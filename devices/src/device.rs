//! What a virtio device model provides to the transport.

use crate::queue::Virtqueue;
use emu_core::DevCtx;

/// A virtio device model. The transport ([`crate::VirtioMmio`]) owns the virtqueues, handles
/// feature negotiation and status, and calls the model when the driver notifies a queue.
pub trait VirtioDevice {
    /// The virtio device ID (virtio 1.2 §5).
    fn device_id(&self) -> u32;
    /// Device-type feature bits offered. The transport adds the transport-level ones
    /// (VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC).
    fn features(&self) -> u64;
    /// How many virtqueues the device has.
    fn num_queues(&self) -> usize;
    /// QueueNumMax of every queue.
    fn queue_max_size(&self) -> u16 {
        256
    }
    /// The device configuration space (read at transport offset 0x100 on).
    fn config(&self) -> &[u8];
    /// The driver wrote the configuration space. Ignored unless a device says otherwise.
    fn write_config(&mut self, _offset: usize, _data: &[u8]) {}
    /// The driver reset the device: forget per-driver state.
    fn reset(&mut self) {}
    /// The driver made buffers available on `queue` (or the device just became live and the
    /// queue may hold buffers posted earlier). `queues` are all the device's queues.
    fn notify(&mut self, queue: usize, queues: &mut [Virtqueue], ctx: &mut DevCtx);
    /// A chance to move host-side input into the guest without a notification.
    fn poll(&mut self, _queues: &mut [Virtqueue], _ctx: &mut DevCtx) {}
}
