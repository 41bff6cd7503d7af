//! virtio-console with one port (no VIRTIO_CONSOLE_F_MULTIPORT): receiveq 0, transmitq 1.
//!
//! This is the byte channel between the VM and the guest init, so nothing may be lost or
//! changed: guest output is kept until [`Console::take_output`], host input is kept until the
//! guest has posted receive buffers for it.

use crate::device::VirtioDevice;
use crate::queue::Virtqueue;
use crate::spec::device_id;
use emu_core::DevCtx;
use std::collections::VecDeque;

const RECEIVEQ: usize = 0;
const TRANSMITQ: usize = 1;
/// struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr; none of their features
/// are offered, so all zero.
const CONFIG: [u8; 12] = [0; 12];
/// Bytes taken from one transmit buffer at most. Linux sends a page at a time; the cap only
/// stops a broken driver from describing all of RAM hundreds of times over.
const MAX_TRANSMIT: u64 = 16 << 20;

#[derive(Default)]
pub struct Console {
    output: Vec<u8>,
    input: VecDeque<u8>,
}

impl Console {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes the guest transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Queues bytes for the guest; they go into its receive buffers on the next notify or poll.
    pub fn push_input(&mut self, data: &[u8]) {
        self.input.extend(data);
    }

    /// Bytes queued for the guest and not delivered yet.
    pub fn pending_input(&self) -> usize {
        self.input.len()
    }

    fn transmit(&mut self, q: &mut Virtqueue, ctx: &mut DevCtx) {
        while let Some(chain) = q.pop(ctx.ram) {
            if chain.readable_len() > MAX_TRANSMIT {
                log::warn!("virtio-console: transmit buffer of {} bytes cut", chain.readable_len());
            }
            chain.for_each_readable(ctx.ram, 0, MAX_TRANSMIT, |s| self.output.extend_from_slice(s));
            q.push(ctx.ram, chain.head(), 0);
        }
    }

    fn receive(&mut self, q: &mut Virtqueue, ctx: &mut DevCtx) {
        // Only take a buffer when there is something to put in it.
        while !self.input.is_empty() {
            let Some(chain) = q.pop(ctx.ram) else { break };
            let (a, b) = self.input.as_slices();
            let mut n = chain.write(ctx.ram, 0, a);
            if n == a.len() {
                n += chain.write(ctx.ram, n as u64, b);
            }
            self.input.drain(..n);
            q.push(ctx.ram, chain.head(), n as u32);
        }
    }
}

impl VirtioDevice for Console {
    fn device_id(&self) -> u32 {
        device_id::CONSOLE
    }

    fn features(&self) -> u64 {
        0
    }

    fn num_queues(&self) -> usize {
        2
    }

    fn config(&self) -> &[u8] {
        &CONFIG
    }

    fn notify(&mut self, queue: usize, queues: &mut [Virtqueue], ctx: &mut DevCtx) {
        match (queue, queues.get_mut(queue)) {
            (TRANSMITQ, Some(q)) => self.transmit(q, ctx),
            (RECEIVEQ, Some(q)) => self.receive(q, ctx),
            _ => {}
        }
    }

    fn poll(&mut self, queues: &mut [Virtqueue], ctx: &mut DevCtx) {
        if let Some(q) = queues.get_mut(RECEIVEQ) {
            self.receive(q, ctx);
        }
    }
}

#[cfg(test)]
#[path = "console_tests.rs"]
mod tests;
