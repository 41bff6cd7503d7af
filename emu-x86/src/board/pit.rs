//! The 8254 PIT (ports 0x40-0x43) and the port 0x61 gate/status bits of channel 2. Linux
//! calibrates the TSC against channel 2 and uses channel 0 (IRQ0) as its first clock event
//! device and to check the IOAPIC timer route. Counts are derived from guest nanoseconds, so
//! reads are exact at any time and nothing ticks in between.

pub const HZ: u64 = 1_193_182;

fn ticks(ns: u64) -> u64 {
    (ns as u128 * HZ as u128 / 1_000_000_000) as u64
}

/// The first nanosecond at which `ticks(ns) >= t`.
fn tick_ns(t: u64) -> u64 {
    (t as u128 * 1_000_000_000).div_ceil(HZ as u128) as u64
}

#[derive(Clone, Copy, Default)]
struct Channel {
    mode: u8,
    /// 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
    rw: u8,
    reload: u32,
    /// Tick at which counting from `reload` began; None = no count written (or gate low).
    start: Option<u64>,
    gate: bool,
    latch: Option<u16>,
    status_latch: Option<u8>,
    read_msb: bool,
    write_msb: bool,
    lsb: u8,
    /// Channel 0: the tick of the last IRQ edge delivered.
    last_edge: u64,
}

impl Channel {
    fn period(&self) -> u64 {
        if self.reload == 0 {
            0x1_0000
        } else {
            self.reload as u64
        }
    }

    fn count(&self, t: u64) -> u16 {
        let Some(s) = self.start else { return self.reload as u16 };
        let e = t.saturating_sub(s);
        let p = self.period();
        match self.mode {
            2 | 3 => (p - e % p) as u16,
            _ => (p.wrapping_sub(e) & 0xffff) as u16,
        }
    }

    fn out(&self, t: u64) -> bool {
        let Some(s) = self.start else { return self.mode != 0 };
        let e = t.saturating_sub(s);
        let p = self.period();
        match self.mode {
            0 => e >= p,
            2 => e % p != p - 1,
            3 => e % p < p.div_ceil(2),
            _ => true,
        }
    }

    /// Ticks (absolute) of IRQ edges: the terminal count in mode 0, the start of each period in
    /// modes 2 and 3. The first edge after tick `after`.
    fn next_edge(&self, after: u64) -> Option<u64> {
        let s = self.start?;
        let p = self.period();
        match self.mode {
            0 => (s + p > after).then_some(s + p),
            2 | 3 => Some(s + ((after.saturating_sub(s)) / p + 1) * p),
            _ => None,
        }
    }

    fn write_count(&mut self, v: u8, t: u64) {
        let load = |c: &mut Channel, val: u32| {
            c.reload = val;
            c.start = c.gate.then_some(t);
            c.last_edge = t;
        };
        match self.rw {
            1 => load(self, v as u32),
            2 => load(self, (v as u32) << 8),
            _ => {
                if self.write_msb {
                    let val = self.lsb as u32 | ((v as u32) << 8);
                    load(self, val);
                } else {
                    self.lsb = v;
                    if self.mode == 0 {
                        // Writing the first byte in mode 0 stops the count.
                        self.start = None;
                    }
                }
                self.write_msb = !self.write_msb;
            }
        }
    }

    fn read(&mut self, t: u64) -> u8 {
        if let Some(s) = self.status_latch.take() {
            return s;
        }
        let v = self.latch.unwrap_or_else(|| self.count(t));
        let (byte, done) = match self.rw {
            1 => (v as u8, true),
            2 => ((v >> 8) as u8, true),
            _ => {
                let b = if self.read_msb { (v >> 8) as u8 } else { v as u8 };
                self.read_msb = !self.read_msb;
                (b, !self.read_msb)
            }
        };
        if done {
            self.latch = None;
        }
        byte
    }
}

pub struct Pit {
    ch: [Channel; 3],
    speaker: u8,
}

impl Default for Pit {
    fn default() -> Self {
        let mut ch = [Channel::default(); 3];
        ch[0].gate = true;
        ch[1].gate = true;
        for c in &mut ch {
            c.rw = 3;
        }
        Self { ch, speaker: 0 }
    }
}

impl Pit {
    pub fn read(&mut self, port: u16, now: u64) -> u8 {
        let t = ticks(now);
        match port {
            0x40..=0x42 => self.ch[(port - 0x40) as usize].read(t),
            0x61 => {
                let c2 = &self.ch[2];
                let refresh = ((now / 15_085) & 1) as u8; // toggles every 15 us
                (self.speaker & 3) | (refresh << 4) | ((c2.out(t) as u8) << 5)
            }
            _ => 0xff,
        }
    }

    pub fn write(&mut self, port: u16, v: u8, now: u64) {
        let t = ticks(now);
        match port {
            0x40..=0x42 => self.ch[(port - 0x40) as usize].write_count(v, t),
            0x43 => {
                let sel = (v >> 6) as usize;
                if sel == 3 {
                    // Read-back: bits 1-3 select channels; bit 5 clear = latch count, bit 4
                    // clear = latch status.
                    for i in 0..3 {
                        if v & (2 << i) != 0 {
                            let c = &mut self.ch[i];
                            if v & 0x10 == 0 {
                                c.status_latch = Some(((c.out(t) as u8) << 7) | (c.rw << 4) | (c.mode << 1));
                            }
                            if v & 0x20 == 0 && c.latch.is_none() {
                                c.latch = Some(c.count(t));
                            }
                        }
                    }
                    return;
                }
                let c = &mut self.ch[sel];
                let rw = (v >> 4) & 3;
                if rw == 0 {
                    if c.latch.is_none() {
                        c.latch = Some(c.count(t));
                        c.read_msb = false;
                    }
                    return;
                }
                c.rw = rw;
                c.mode = match (v >> 1) & 7 {
                    6 => 2,
                    7 => 3,
                    m => m,
                };
                c.start = None;
                c.latch = None;
                c.read_msb = false;
                c.write_msb = false;
            }
            0x61 => {
                self.speaker = v & 3;
                let c = &mut self.ch[2];
                let gate = v & 1 != 0;
                if gate && !c.gate {
                    // A rising gate (re)starts the count from the reload value.
                    c.start = Some(t);
                } else if !gate {
                    c.start = None;
                }
                c.gate = gate;
            }
            _ => {}
        }
    }

    /// Whether channel 0 produced an IRQ0 edge since the last call (several collapse into one).
    pub fn tick(&mut self, now: u64) -> bool {
        let t = ticks(now);
        let c = &mut self.ch[0];
        match c.next_edge(c.last_edge) {
            Some(e) if e <= t => {
                c.last_edge = t;
                true
            }
            _ => false,
        }
    }

    /// When channel 0 next raises IRQ0.
    pub fn next_deadline(&self) -> Option<u64> {
        let c = &self.ch[0];
        c.next_edge(c.last_edge).map(tick_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel2_one_shot_as_linux_calibrates() {
        let mut p = Pit::default();
        p.write(0x61, 1, 0); // gate on, speaker off
        p.write(0x43, 0xb0, 0); // channel 2, LSB/MSB, mode 0
        p.write(0x42, 0xff, 0);
        p.write(0x42, 0xff, 0);
        assert_eq!(p.read(0x61, 0) & 0x20, 0);
        // 1 ms later: 1193 ticks gone.
        let lsb = p.read(0x42, 1_000_000);
        let msb = p.read(0x42, 1_000_000);
        assert_eq!(u16::from_le_bytes([lsb, msb]), 0xffff - 1193);
        // Terminal count after 65535 ticks (~54.9 ms) raises OUT2.
        assert_eq!(p.read(0x61, 54_000_000) & 0x20, 0);
        assert_eq!(p.read(0x61, 55_000_000) & 0x20, 0x20);
    }

    #[test]
    fn channel0_periodic_irq_and_latch() {
        let mut p = Pit::default();
        p.write(0x43, 0x34, 0); // channel 0, LSB/MSB, mode 2
        p.write(0x40, (11932u16 & 0xff) as u8, 0);
        p.write(0x40, (11932u16 >> 8) as u8, 0);
        let d = p.next_deadline().unwrap();
        assert!((9_999_000..=10_001_000).contains(&d), "{d}");
        assert!(!p.tick(d - 1000));
        assert!(p.tick(d));
        assert!(!p.tick(d));
        // Three periods late: one edge.
        assert!(p.tick(d + 30_000_000));
        assert!(p.next_deadline().unwrap() > d + 30_000_000);
        p.write(0x43, 0x00, 15_000_000); // latch channel 0
        let lsb = p.read(0x40, 20_000_000);
        let msb = p.read(0x40, 20_000_000);
        let v = u16::from_le_bytes([lsb, msb]);
        assert!((5960..=5970).contains(&v), "{v}");
    }
}
