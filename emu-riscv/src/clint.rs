//! The core-local interruptor (SiFive CLINT layout): msip, mtimecmp, mtime for hart 0.
//! mtime itself is the machine's clock; the CLINT only exposes it.

pub const BASE: u64 = 0x0200_0000;
pub const SIZE: u64 = 0x1_0000;

#[derive(Debug, Clone)]
pub struct Clint {
    pub msip: bool,
    pub mtimecmp: u64,
}

impl Default for Clint {
    fn default() -> Self {
        Self { msip: false, mtimecmp: u64::MAX }
    }
}

impl Clint {
    pub fn read(&self, offset: u64, size: u8, mtime: u64) -> u64 {
        let (reg, shift) = match offset & !7 {
            0x0000 => (self.msip as u64, 0),
            0x4000 => (self.mtimecmp, 0),
            0xbff8 => (mtime, 0),
            _ => return 0,
        };
        let v = (reg >> shift) >> ((offset & 7) * 8);
        match size {
            4 => v & 0xffff_ffff,
            8 => v,
            _ => v & ((1 << (size * 8)) - 1),
        }
    }

    /// Returns true when mtime was written (the machine owns the clock and ignores it: the
    /// guest cannot move time).
    pub fn write(&mut self, offset: u64, size: u8, value: u64) {
        let merge = |old: u64| -> u64 {
            let sh = (offset & 7) * 8;
            let mask = if size == 8 { u64::MAX } else { ((1u64 << (size * 8)) - 1) << sh };
            (old & !mask) | ((value << sh) & mask)
        };
        match offset & !7 {
            0x0000 => self.msip = value & 1 != 0,
            0x4000 => self.mtimecmp = merge(self.mtimecmp),
            _ => {}
        }
    }
}
