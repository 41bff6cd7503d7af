//! The virtio-9p transport: each request chain carries one 9P T-message in its readable part;
//! the R-message from [`crate::P9Server`] goes into its writable part.

use crate::device::VirtioDevice;
use crate::p9::{Server, Share};
use crate::queue::Virtqueue;
use crate::spec::device_id;
use emu_core::DevCtx;

/// VIRTIO_9P_MOUNT_TAG: the configuration space holds the mount tag.
const F_MOUNT_TAG: u64 = 1;
/// Largest T-message read from a chain. Linux's virtio transport caps msize at 500 KiB.
const MAX_REQUEST: usize = 1 << 20;

pub struct P9 {
    server: Server,
    /// struct virtio_9p_config: u16 tag_len, then the tag bytes.
    config: Vec<u8>,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl P9 {
    /// A device that announces itself to the guest under mount tag `tag`.
    pub fn new(tag: &str) -> Self {
        let tag = &tag.as_bytes()[..tag.len().min(u16::MAX as usize)];
        let mut config = Vec::with_capacity(2 + tag.len());
        config.extend_from_slice(&(tag.len() as u16).to_le_bytes());
        config.extend_from_slice(tag);
        Self { server: Server::new(), config, request: Vec::new(), response: Vec::new() }
    }

    /// The host directories the guest may attach to.
    pub fn set_shares(&mut self, shares: Vec<Share>) {
        self.server.set_shares(shares);
    }
}

impl VirtioDevice for P9 {
    fn device_id(&self) -> u32 {
        device_id::P9
    }

    fn features(&self) -> u64 {
        F_MOUNT_TAG
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn config(&self) -> &[u8] {
        &self.config
    }

    fn notify(&mut self, queue: usize, queues: &mut [Virtqueue], ctx: &mut DevCtx) {
        let Some(q) = queues.get_mut(queue) else { return };
        while let Some(chain) = q.pop(ctx.ram) {
            self.request.clear();
            chain.for_each_readable(ctx.ram, 0, MAX_REQUEST as u64, |s| self.request.extend_from_slice(s));
            self.server.handle(&self.request, &mut self.response);
            let n = chain.write(ctx.ram, 0, &self.response);
            if n < self.response.len() {
                log::warn!("virtio-9p: {}-byte reply cut to the {n} bytes the driver offered", self.response.len());
            }
            q.push(ctx.ram, chain.head(), n as u32);
        }
    }
}

#[cfg(test)]
#[path = "virtio_9p_tests.rs"]
mod tests;
