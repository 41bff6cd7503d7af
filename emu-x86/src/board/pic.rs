//! The 8259A pair (master at 0x20, slave at 0xA0 cascaded on IRQ2). Linux probes it, programs
//! it and masks it when the IOAPIC takes over; its INTR only reaches the CPU through LINT0 in
//! virtual-wire mode (or with the local APIC disabled). Edge-triggered inputs.

#[derive(Default, Clone, Copy)]
struct Chip {
    irr: u8,
    isr: u8,
    imr: u8,
    /// Input levels, for edge detection.
    lines: u8,
    base: u8,
    /// Initialization step: 0 = ready, 2..=4 = expecting ICW2..ICW4.
    init_step: u8,
    needs_icw4: bool,
    auto_eoi: bool,
    read_isr: bool,
}

impl Chip {
    fn set_line(&mut self, irq: u8, level: bool) {
        let m = 1 << irq;
        if level && self.lines & m == 0 {
            self.irr |= m;
        }
        if level {
            self.lines |= m;
        } else {
            self.lines &= !m;
        }
    }

    /// Highest-priority requested and unmasked IRQ not blocked by one in service.
    fn pending(&self) -> Option<u8> {
        let req = self.irr & !self.imr;
        (0..8).find(|i| req & (1 << i) != 0).filter(|&i| (0..=i).all(|j| self.isr & (1 << j) == 0))
    }

    fn ack(&mut self, irq: u8) {
        self.irr &= !(1 << irq);
        if !self.auto_eoi {
            self.isr |= 1 << irq;
        }
    }

    fn read(&self, port: u16) -> u8 {
        if port & 1 == 1 {
            self.imr
        } else if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    fn write(&mut self, port: u16, v: u8) {
        if port & 1 == 0 {
            if v & 0x10 != 0 {
                // ICW1: start initialization.
                *self = Chip { lines: self.lines, init_step: 2, needs_icw4: v & 1 != 0, ..Chip::default() };
            } else if v & 0x18 == 0 {
                // OCW2: non-specific (0x20) or specific (0x60 | irq) EOI.
                match v & 0xe0 {
                    0x20 => {
                        if let Some(i) = (0..8).find(|i| self.isr & (1 << i) != 0) {
                            self.isr &= !(1 << i);
                        }
                    }
                    0x60 => self.isr &= !(1 << (v & 7)),
                    _ => {}
                }
            } else if v & 0x18 == 0x08 && v & 2 != 0 {
                // OCW3: select IRR or ISR for reads.
                self.read_isr = v & 1 != 0;
            }
            return;
        }
        match self.init_step {
            2 => {
                self.base = v & 0xf8;
                self.init_step = 3;
            }
            3 => self.init_step = if self.needs_icw4 { 4 } else { 0 },
            4 => {
                self.auto_eoi = v & 2 != 0;
                self.init_step = 0;
            }
            _ => self.imr = v,
        }
    }
}

#[derive(Default)]
pub struct Pic {
    master: Chip,
    slave: Chip,
}

impl Pic {
    /// Sets ISA IRQ `irq` (0..16) to `level`.
    pub fn set_line(&mut self, irq: u8, level: bool) {
        match irq {
            0..=7 => self.master.set_line(irq, level),
            8..=15 => {
                self.slave.set_line(irq - 8, level);
                let cascade = self.slave.pending().is_some();
                self.master.set_line(2, cascade);
            }
            _ => {}
        }
    }

    /// The INTR output.
    pub fn intr(&self) -> bool {
        self.master.pending().is_some()
    }

    /// INTA: the vector of the highest-priority request.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let irq = self.master.pending()?;
        self.master.ack(irq);
        if irq == 2 {
            let s = self.slave.pending();
            return match s {
                Some(si) => {
                    self.slave.ack(si);
                    self.master.set_line(2, self.slave.pending().is_some());
                    Some(self.slave.base + si)
                }
                // Spurious IRQ 15.
                None => Some(self.slave.base + 7),
            };
        }
        Some(self.master.base + irq)
    }

    pub fn read(&mut self, port: u16) -> u8 {
        if port & 0x80 != 0 {
            self.slave.read(port)
        } else {
            self.master.read(port)
        }
    }

    pub fn write(&mut self, port: u16, v: u8) {
        if port & 0x80 != 0 {
            self.slave.write(port, v);
            let cascade = self.slave.pending().is_some();
            self.master.set_line(2, cascade);
        } else {
            self.master.write(port, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(p: &mut Pic) {
        for (port, v) in
            [(0x20, 0x11), (0x21, 0x30), (0x21, 4), (0x21, 1), (0xa0, 0x11), (0xa1, 0x38), (0xa1, 2), (0xa1, 1)]
        {
            p.write(port, v);
        }
    }

    #[test]
    fn probe_mask_readback_and_vectors() {
        let mut p = Pic::default();
        p.write(0x21, 0xfb);
        assert_eq!(p.read(0x21), 0xfb);
        init(&mut p);
        p.write(0x21, 0);
        p.write(0xa1, 0);
        p.set_line(0, true);
        assert!(p.intr());
        assert_eq!(p.acknowledge(), Some(0x30));
        assert!(!p.intr());
        p.set_line(0, true); // no new edge
        assert!(!p.intr());
        p.write(0x20, 0x20);
        p.set_line(9, true);
        assert_eq!(p.acknowledge(), Some(0x39));
        p.write(0xa1, 0xff);
        p.set_line(10, true);
        assert!(!p.intr());
        p.write(0x0a, 0x0b);
    }
}
