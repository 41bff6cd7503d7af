//! The platform-level interrupt controller (SiFive PLIC layout), two contexts for hart 0:
//! context 0 = M-mode (MEIP), context 1 = S-mode (SEIP). Sources are level-triggered lines.

pub const BASE: u64 = 0x0c00_0000;
pub const SIZE: u64 = 0x400_0000;
pub const NUM_SOURCES: u32 = 32;

#[derive(Debug, Clone, Default)]
pub struct Plic {
    priority: [u32; NUM_SOURCES as usize],
    /// Line levels as last reported by the devices.
    level: u32,
    pending: u32,
    /// Claimed and not yet completed.
    in_service: u32,
    enable: [u32; 2],
    threshold: [u32; 2],
}

impl Plic {
    /// Sets the level of source `src` (1..31).
    pub fn set_level(&mut self, src: u32, high: bool) {
        if src == 0 || src >= NUM_SOURCES {
            return;
        }
        let bit = 1 << src;
        if high {
            self.level |= bit;
            if self.in_service & bit == 0 {
                self.pending |= bit;
            }
        } else {
            self.level &= !bit;
            self.pending &= !bit;
        }
    }

    fn best(&self, ctx: usize) -> u32 {
        let cand = self.pending & self.enable[ctx] & !self.in_service;
        let mut best = 0;
        let mut best_prio = self.threshold[ctx];
        for src in 1..NUM_SOURCES {
            if cand & (1 << src) != 0 && self.priority[src as usize] > best_prio {
                best = src;
                best_prio = self.priority[src as usize];
            }
        }
        best
    }

    /// The external interrupt bits for mip: MEIP (bit 11) and SEIP (bit 9).
    pub fn mip_bits(&self) -> u64 {
        let mut v = 0;
        if self.best(0) != 0 {
            v |= 1 << 11;
        }
        if self.best(1) != 0 {
            v |= 1 << 9;
        }
        v
    }

    pub fn read(&mut self, offset: u64) -> u32 {
        match offset {
            0..=0x7f => self.priority[(offset / 4) as usize],
            0x1000 => self.pending,
            0x2000 => self.enable[0],
            0x2080 => self.enable[1],
            0x20_0000 => self.threshold[0],
            0x20_1000 => self.threshold[1],
            0x20_0004 | 0x20_1004 => {
                let ctx = ((offset >> 12) & 1) as usize;
                let src = self.best(ctx);
                if src != 0 {
                    self.pending &= !(1 << src);
                    self.in_service |= 1 << src;
                }
                src
            }
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u64, value: u32) {
        match offset {
            4..=0x7f => self.priority[(offset / 4) as usize] = value & 7,
            0x2000 => self.enable[0] = value & !1,
            0x2080 => self.enable[1] = value & !1,
            0x20_0000 => self.threshold[0] = value & 7,
            0x20_1000 => self.threshold[1] = value & 7,
            0x20_0004 | 0x20_1004 if value < NUM_SOURCES => {
                let bit = 1 << value;
                self.in_service &= !bit;
                // A level-triggered line still high raises the interrupt again.
                if self.level & bit != 0 {
                    self.pending |= bit;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_complete_cycle() {
        let mut p = Plic::default();
        p.write(4 * 3, 1);
        p.write(0x2080, 1 << 3);
        p.set_level(3, true);
        assert_eq!(p.mip_bits(), 1 << 9);
        assert_eq!(p.read(0x20_1004), 3);
        assert_eq!(p.mip_bits(), 0, "claimed interrupts are not pending");
        p.write(0x20_1004, 3);
        assert_eq!(p.mip_bits(), 1 << 9, "line still high: pending again");
        p.set_level(3, false);
        assert_eq!(p.mip_bits(), 0);
    }
}
