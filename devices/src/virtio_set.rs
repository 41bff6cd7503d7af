//! The four virtio devices every c2w machine has, and the channel and share plumbing over them
//! that the machines hand to the session.

use crate::{Blk, Console, Rng, Share, VirtioMmio, P9};
use emu_core::{DevCtx, MmioDevice};
use std::path::PathBuf;

/// Console (the init's channel), blk (the root image), 9p (the shares) and rng, each behind
/// its virtio-mmio registers. Slot numbers are the order a machine lays them out in.
pub struct VirtioSet {
    pub console: VirtioMmio<Console>,
    pub blk: VirtioMmio<Blk>,
    pub p9: VirtioMmio<P9>,
    pub rng: VirtioMmio<Rng>,
}

impl VirtioSet {
    pub const CONSOLE: usize = 0;
    pub const BLK: usize = 1;
    pub const P9: usize = 2;
    pub const RNG: usize = 3;
    pub const SLOTS: usize = 4;

    /// The devices for a guest whose root filesystem is `rootfs` (read-only) and whose 9p
    /// device announces itself as `p9_tag`.
    pub fn new(rootfs: Vec<u8>, p9_tag: &str) -> Self {
        Self {
            console: VirtioMmio::new(Console::new()),
            blk: VirtioMmio::new(Blk::new(rootfs, true)),
            p9: VirtioMmio::new(P9::new(p9_tag)),
            rng: VirtioMmio::new(Rng::new()),
        }
    }

    /// The device in `slot`; any slot past the last is the last (callers bound it by
    /// [`Self::SLOTS`] when decoding the address).
    pub fn slot(&mut self, slot: usize) -> &mut dyn MmioDevice {
        match slot {
            Self::CONSOLE => &mut self.console,
            Self::BLK => &mut self.blk,
            Self::P9 => &mut self.p9,
            _ => &mut self.rng,
        }
    }

    /// Every device's interrupt line, by slot.
    pub fn irq_levels(&self) -> [bool; Self::SLOTS] {
        [self.console.irq_level(), self.blk.irq_level(), self.p9.irq_level(), self.rng.irq_level()]
    }

    /// Polls the console (channel input waiting for the guest's receive buffers) and 9p; blk and
    /// rng only ever act when the guest notifies them.
    pub fn poll(&mut self, ctx: &mut DevCtx) {
        self.console.poll(ctx);
        self.p9.poll(ctx);
    }

    /// Moves the bytes the guest wrote to the channel into `out`.
    pub fn drain_channel(&mut self, out: &mut Vec<u8>) {
        out.extend(self.console.device_mut().take_output());
    }

    /// Queues bytes for the guest to read from the channel.
    pub fn feed_channel(&mut self, data: &[u8]) {
        self.console.device_mut().push_input(data);
    }

    /// Bytes queued for the guest that it has not taken yet.
    pub fn channel_backlog(&self) -> usize {
        self.console.device().pending_input()
    }

    /// Shares for the 9p device: (aname, host root).
    pub fn set_shares(&mut self, shares: Vec<(String, PathBuf)>) {
        let shares = shares.into_iter().map(|(aname, root)| Share { aname, root }).collect();
        self.p9.device_mut().set_shares(shares);
    }
}
