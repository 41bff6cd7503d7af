//! The IOAPIC (82093AA-like, version 0x11, 24 pins, MMIO at 0xFEC00000): a redirection table
//! turning pin levels into interrupt messages for the local APIC. Edge pins send one message
//! per rising edge; level pins send one while asserted and not waiting for EOI (remote IRR).

pub const BASE: u64 = 0xfec0_0000;
pub const SIZE: u64 = 0x1000;
pub const PINS: usize = 24;

const MASKED: u64 = 1 << 16;
const LEVEL: u64 = 1 << 15;
const REMOTE_IRR: u64 = 1 << 14;

/// An interrupt message for the local APIC: (vector, level-triggered).
pub type Message = (u8, bool);

pub struct Ioapic {
    id: u32,
    index: u32,
    redir: [u64; PINS],
    lines: [bool; PINS],
}

impl Default for Ioapic {
    fn default() -> Self {
        Self {
            id: (crate::board::mptable::IOAPIC_ID as u32) << 24,
            index: 0,
            redir: [MASKED; PINS],
            lines: [false; PINS],
        }
    }
}

impl Ioapic {
    fn deliverable(&self, pin: usize) -> Option<Message> {
        let r = self.redir[pin];
        // Fixed and lowest-priority delivery reach the one CPU; ExtINT/NMI/SMI/INIT do not.
        let mode = (r >> 8) & 7;
        (r & MASKED == 0 && mode <= 1).then_some((r as u8, r & LEVEL != 0))
    }

    /// Sets the level of `pin`; returns the message it sends, if any.
    pub fn set_line(&mut self, pin: usize, level: bool) -> Option<Message> {
        let old = std::mem::replace(self.lines.get_mut(pin)?, level);
        if self.redir[pin] & LEVEL != 0 {
            self.service_level(pin)
        } else if level && !old {
            self.deliverable(pin)
        } else {
            None
        }
    }

    /// A level pin that is asserted, unmasked and not awaiting EOI sends its message.
    fn service_level(&mut self, pin: usize) -> Option<Message> {
        if !self.lines[pin] || self.redir[pin] & REMOTE_IRR != 0 {
            return None;
        }
        let msg = self.deliverable(pin)?;
        self.redir[pin] |= REMOTE_IRR;
        Some(msg)
    }

    /// The local APIC broadcast an EOI for `vector`: level pins with that vector may send again.
    pub fn eoi(&mut self, vector: u8, out: &mut Vec<Message>) {
        for pin in 0..PINS {
            let r = self.redir[pin];
            if r & LEVEL != 0 && r as u8 == vector && r & REMOTE_IRR != 0 {
                self.redir[pin] &= !REMOTE_IRR;
                out.extend(self.service_level(pin));
            }
        }
    }

    pub fn read(&mut self, offset: u64) -> u32 {
        match offset {
            0x00 => self.index,
            0x10 => match self.index {
                0 => self.id,
                1 => ((PINS as u32 - 1) << 16) | 0x11,
                2 => self.id,
                i @ 0x10..=0x3f => {
                    let r = self.redir[((i - 0x10) / 2) as usize];
                    if i & 1 == 0 {
                        r as u32
                    } else {
                        (r >> 32) as u32
                    }
                }
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Writes a register; an unmasked or retriggered level pin may send a message.
    pub fn write(&mut self, offset: u64, value: u32, out: &mut Vec<Message>) {
        match offset {
            0x00 => self.index = value & 0xff,
            0x10 => match self.index {
                0 => self.id = value & 0x0f00_0000,
                i @ 0x10..=0x3f => {
                    let pin = ((i - 0x10) / 2) as usize;
                    let r = &mut self.redir[pin];
                    if i & 1 == 0 {
                        // Delivery status and remote IRR are read-only.
                        let keep = *r & (REMOTE_IRR | (1 << 12));
                        *r = (*r & !0xffff_ffff) | (value as u64 & !(REMOTE_IRR | (1 << 12))) | keep;
                        if *r & LEVEL == 0 {
                            *r &= !REMOTE_IRR;
                        }
                    } else {
                        *r = (*r & 0xffff_ffff) | ((value as u64) << 32);
                    }
                    if self.redir[pin] & LEVEL != 0 {
                        out.extend(self.service_level(pin));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(io: &mut Ioapic, pin: u32, low: u32) -> Vec<Message> {
        let mut out = Vec::new();
        io.write(0, 0x10 + 2 * pin, &mut out);
        io.write(0x10, low, &mut out);
        out
    }

    #[test]
    fn edge_pins_send_on_rising_edges_only() {
        let mut io = Ioapic::default();
        assert_eq!(io.set_line(2, true), None); // masked
        io.set_line(2, false);
        program(&mut io, 2, 0x30);
        assert_eq!(io.set_line(2, true), Some((0x30, false)));
        assert_eq!(io.set_line(2, true), None);
        io.set_line(2, false);
        assert_eq!(io.set_line(2, true), Some((0x30, false)));
        assert_eq!(io.set_line(99, true), None);
    }

    #[test]
    fn level_pins_wait_for_eoi() {
        let mut io = Ioapic::default();
        assert!(program(&mut io, 5, 0x41 | LEVEL as u32).is_empty());
        assert_eq!(io.set_line(5, true), Some((0x41, true)));
        assert_eq!(io.set_line(5, true), None);
        io.write(0, 0x1a, &mut Vec::new());
        assert_ne!(io.read(0x10) as u64 & REMOTE_IRR, 0);
        let mut out = Vec::new();
        io.eoi(0x41, &mut out);
        assert_eq!(out, vec![(0x41, true)]); // still asserted: sent again
        io.set_line(5, false);
        out.clear();
        io.eoi(0x41, &mut out);
        assert!(out.is_empty());
        // Unmasking an asserted level pin delivers.
        program(&mut io, 6, 0x42 | (LEVEL | MASKED) as u32);
        io.set_line(6, true);
        assert_eq!(program(&mut io, 6, 0x42 | LEVEL as u32), vec![(0x42, true)]);
        io.write(0, 1, &mut Vec::new());
        assert_eq!(io.read(0x10), 0x17_0011);
    }
}
