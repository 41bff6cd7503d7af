//! A 16550A UART at 0x3F8 (COM1, IRQ4): the kernel console (ttyS0). Transmission is instant:
//! bytes go to the board's console log; there is no receive path except loopback (stdin
//! reaches the guest through the virtio channel, not here). Enough of the register file for
//! Linux's 8250 probe (scratch, loopback MSR, FIFO detection) and its THRE interrupt test.

pub const BASE: u16 = 0x3f8;

const IER_RDI: u8 = 0x01;
const IER_THRI: u8 = 0x02;
const LSR_DR: u8 = 0x01;
const LSR_THRE_TEMT: u8 = 0x60;
const MCR_LOOP: u8 = 0x10;

#[derive(Default)]
pub struct Uart {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    dll: u8,
    dlm: u8,
    /// A received byte (loopback only).
    rbr: Option<u8>,
    /// The "THR empty" interrupt is pending (cleared by reading IIR or writing THR).
    thre_pending: bool,
    /// Bytes transmitted and not yet collected by the board.
    pub out: Vec<u8>,
}

impl Uart {
    fn dlab(&self) -> bool {
        self.lcr & 0x80 != 0
    }

    /// The IRQ4 line.
    pub fn irq(&self) -> bool {
        (self.ier & IER_THRI != 0 && self.thre_pending) || (self.ier & IER_RDI != 0 && self.rbr.is_some())
    }

    fn iir(&self) -> u8 {
        let fifo = if self.fcr & 1 != 0 { 0xc0 } else { 0 };
        let id = if self.ier & IER_RDI != 0 && self.rbr.is_some() {
            0x04
        } else if self.ier & IER_THRI != 0 && self.thre_pending {
            0x02
        } else {
            0x01
        };
        fifo | id
    }

    pub fn read(&mut self, reg: u16) -> u8 {
        match reg {
            0 if self.dlab() => self.dll,
            0 => self.rbr.take().unwrap_or(0),
            1 if self.dlab() => self.dlm,
            1 => self.ier,
            2 => {
                let v = self.iir();
                if v & 0x0f == 0x02 {
                    self.thre_pending = false;
                }
                v
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => LSR_THRE_TEMT | if self.rbr.is_some() { LSR_DR } else { 0 },
            6 => {
                if self.mcr & MCR_LOOP != 0 {
                    // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
                    let m = self.mcr;
                    ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)
                } else {
                    0xb0 // CTS, DSR, DCD
                }
            }
            7 => self.scr,
            _ => 0xff,
        }
    }

    pub fn write(&mut self, reg: u16, v: u8) {
        match reg {
            0 if self.dlab() => self.dll = v,
            0 => {
                if self.mcr & MCR_LOOP != 0 {
                    self.rbr = Some(v);
                } else {
                    self.out.push(v);
                }
                self.thre_pending = true;
            }
            1 if self.dlab() => self.dlm = v,
            1 => {
                // Enabling THRI with the transmitter empty raises the interrupt at once.
                if v & IER_THRI != 0 && self.ier & IER_THRI == 0 {
                    self.thre_pending = true;
                }
                self.ier = v & 0x0f;
            }
            2 => self.fcr = v & 0xc9,
            3 => self.lcr = v,
            4 => self.mcr = v & 0x1f,
            7 => self.scr = v,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_loopback_and_thre_interrupt() {
        let mut u = Uart::default();
        u.write(7, 0xa5);
        assert_eq!(u.read(7), 0xa5);
        u.write(4, 0x1a); // loopback, RTS, OUT2
        assert_eq!(u.read(6) & 0xf0, 0x90);
        u.write(0, b'x');
        assert_eq!(u.read(5) & LSR_DR, LSR_DR);
        assert_eq!(u.read(0), b'x');
        u.write(4, 0x08);
        u.write(2, 0x01);
        assert_eq!(u.read(2) >> 6, 3); // 16550A FIFO
        assert!(!u.irq());
        u.write(1, IER_THRI);
        assert!(u.irq());
        assert_eq!(u.read(2) & 0x0f, 0x02);
        assert!(!u.irq());
        u.write(0, b'h');
        u.write(0, b'i');
        assert_eq!(u.out, b"hi");
        assert!(u.irq());
        u.write(3, 0x80);
        u.write(0, 1);
        assert_eq!(u.read(0), 1);
        assert_eq!(u.out, b"hi");
    }
}
