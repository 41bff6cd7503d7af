//! virtio-rng (entropy device): fills the guest's writable buffers from the host's randomness.

use crate::device::VirtioDevice;
use crate::queue::Virtqueue;
use crate::spec::device_id;
use emu_core::DevCtx;

/// Bytes given per request at most; Linux asks for far less.
const MAX_REQUEST: u64 = 64 * 1024;

#[derive(Default)]
pub struct Rng;

impl Rng {
    pub fn new() -> Self {
        Self
    }
}

impl VirtioDevice for Rng {
    fn device_id(&self) -> u32 {
        device_id::ENTROPY
    }

    fn features(&self) -> u64 {
        0
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn config(&self) -> &[u8] {
        &[]
    }

    fn notify(&mut self, queue: usize, queues: &mut [Virtqueue], ctx: &mut DevCtx) {
        let Some(q) = queues.get_mut(queue) else { return };
        while let Some(chain) = q.pop(ctx.ram) {
            let host = &mut *ctx.host;
            let n = chain.for_each_writable(ctx.ram, 0, MAX_REQUEST, |s| host.random(s));
            q.push(ctx.ram, chain.head(), n as u32);
        }
    }
}

#[cfg(test)]
#[path = "rng_tests.rs"]
mod tests;
