//! The local APIC (xAPIC, MMIO at 0xFEE00000) of the one CPU: interrupt acceptance with
//! IRR/ISR/TMR and priorities, EOI (broadcast to the IOAPIC for level-triggered vectors), the
//! timer (one-shot, periodic, TSC-deadline), LVT, spurious vector register, self-IPIs.
//!
//! Time is in guest nanoseconds; the timer counts at 1 GHz before the divider, and the TSC is
//! the same nanosecond count, so a TSC deadline is a nanosecond deadline.

pub const BASE: u64 = 0xfee0_0000;
pub const SIZE: u64 = 0x1000;
/// APIC base MSR: BSP and global enable bits.
const MSR_BSP: u64 = 1 << 8;
const MSR_ENABLE: u64 = 1 << 11;

const VERSION: u32 = 0x0005_0014; // 6 LVT entries (max LVT index 5), version 0x14
const LVT_MASKED: u32 = 1 << 16;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_TSC_DEADLINE: u32 = 2 << 17;
const SVR_ENABLE: u32 = 1 << 8;

/// LVT slots in register order from 0x320; CMCI (0x2f0) is kept apart.
const LVT_TIMER: usize = 0;
const LVT_LINT0: usize = 3;
const NUM_LVT: usize = 6;

pub struct Lapic {
    pub apic_base: u64,
    id: u32,
    tpr: u32,
    ldr: u32,
    dfr: u32,
    svr: u32,
    esr: u32,
    icr: u64,
    lvt: [u32; NUM_LVT],
    lvt_cmci: u32,
    irr: [u32; 8],
    isr: [u32; 8],
    tmr: [u32; 8],
    timer_initial: u32,
    timer_divide: u32,
    /// When the current count was loaded (one-shot/periodic).
    timer_start: u64,
    /// Next expiry of the one-shot/periodic timer, if armed.
    timer_due: Option<u64>,
    /// IA32_TSC_DEADLINE; 0 = disarmed.
    pub tsc_deadline: u64,
    /// Vectors of level-triggered interrupts just EOIed, for the IOAPIC.
    pub eoi_out: Vec<u8>,
}

impl Default for Lapic {
    fn default() -> Self {
        Self {
            apic_base: BASE | MSR_BSP | MSR_ENABLE,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr: 0xffff_ffff,
            svr: 0xff,
            esr: 0,
            icr: 0,
            lvt: [LVT_MASKED; NUM_LVT],
            lvt_cmci: LVT_MASKED,
            irr: [0; 8],
            isr: [0; 8],
            tmr: [0; 8],
            timer_initial: 0,
            timer_divide: 0,
            timer_start: 0,
            timer_due: None,
            tsc_deadline: 0,
            eoi_out: Vec::new(),
        }
    }
}

fn highest(bits: &[u32; 8]) -> Option<u8> {
    (0..8).rev().find(|&i| bits[i] != 0).map(|i| (i * 32 + 31 - bits[i].leading_zeros() as usize) as u8)
}

fn set(bits: &mut [u32; 8], v: u8, on: bool) {
    let (i, m) = ((v >> 5) as usize, 1u32 << (v & 31));
    if on {
        bits[i] |= m;
    } else {
        bits[i] &= !m;
    }
}

fn test(bits: &[u32; 8], v: u8) -> bool {
    bits[(v >> 5) as usize] & (1 << (v & 31)) != 0
}

impl Lapic {
    /// Globally enabled (APIC base MSR) and software enabled (SVR).
    pub fn enabled(&self) -> bool {
        self.apic_base & MSR_ENABLE != 0 && self.svr & SVR_ENABLE != 0
    }

    /// Whether LINT0 passes the 8259's INTR through (virtual wire: ExtINT, unmasked), or the
    /// APIC is disabled altogether and INTR goes straight to the CPU.
    pub fn extint_open(&self) -> bool {
        if !self.enabled() {
            return true;
        }
        let l = self.lvt[LVT_LINT0];
        l & LVT_MASKED == 0 && (l >> 8) & 7 == 7
    }

    /// An interrupt message with `vector` arrives (from the IOAPIC, the timer, an IPI).
    pub fn accept(&mut self, vector: u8, level: bool) {
        if vector < 16 {
            self.esr |= 1 << 6; // received illegal vector
            return;
        }
        set(&mut self.irr, vector, true);
        set(&mut self.tmr, vector, level);
    }

    fn ppr(&self) -> u32 {
        let isrv = highest(&self.isr).map_or(0, |v| v as u32);
        if (self.tpr & 0xf0) >= (isrv & 0xf0) {
            self.tpr & 0xff
        } else {
            isrv & 0xf0
        }
    }

    /// The vector the CPU would take now, if any.
    pub fn pending(&self) -> Option<u8> {
        let v = highest(&self.irr)?;
        ((v as u32 & 0xf0) > (self.ppr() & 0xf0)).then_some(v)
    }

    /// INTA: the pending vector moves to in-service.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let v = self.pending()?;
        set(&mut self.irr, v, false);
        set(&mut self.isr, v, true);
        Some(v)
    }

    fn eoi(&mut self) {
        if let Some(v) = highest(&self.isr) {
            set(&mut self.isr, v, false);
            if test(&self.tmr, v) {
                self.eoi_out.push(v);
            }
        }
    }

    fn divisor(&self) -> u64 {
        let d = (self.timer_divide & 3) | ((self.timer_divide >> 1) & 4);
        if d == 7 {
            1
        } else {
            2 << d
        }
    }

    fn timer_mode(&self) -> u32 {
        self.lvt[LVT_TIMER] & (3 << 17)
    }

    fn current_count(&self, now: u64) -> u32 {
        if self.timer_initial == 0 || self.timer_mode() == TIMER_TSC_DEADLINE {
            return 0;
        }
        let elapsed = now.saturating_sub(self.timer_start) / self.divisor();
        let init = self.timer_initial as u64;
        if self.timer_mode() == TIMER_PERIODIC {
            (init - elapsed % init) as u32
        } else {
            init.saturating_sub(elapsed) as u32
        }
    }

    fn start_timer(&mut self, now: u64) {
        self.timer_start = now;
        self.timer_due = (self.timer_initial != 0 && self.timer_mode() != TIMER_TSC_DEADLINE)
            .then(|| now + self.timer_initial as u64 * self.divisor());
    }

    /// Fires the timer if it is due at `now`.
    pub fn tick(&mut self, now: u64) {
        let lvt = self.lvt[LVT_TIMER];
        let mut fire = false;
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            if self.tsc_deadline != 0 && now >= self.tsc_deadline {
                self.tsc_deadline = 0;
                fire = true;
            }
        } else if let Some(due) = self.timer_due {
            if now >= due {
                fire = true;
                if self.timer_mode() == TIMER_PERIODIC {
                    let period = self.timer_initial as u64 * self.divisor();
                    // Missed periods collapse into one interrupt.
                    let missed = (now - due) / period;
                    self.timer_start = due + missed * period;
                    self.timer_due = Some(self.timer_start + period);
                } else {
                    self.timer_due = None;
                }
            }
        }
        if fire && lvt & LVT_MASKED == 0 {
            self.accept(lvt as u8, false);
        }
    }

    /// When the timer next needs [`Lapic::tick`].
    pub fn next_deadline(&self) -> Option<u64> {
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            (self.tsc_deadline != 0).then_some(self.tsc_deadline)
        } else {
            self.timer_due
        }
    }

    pub fn set_tsc_deadline(&mut self, v: u64) {
        self.tsc_deadline = v;
    }

    pub fn read(&mut self, offset: u64, now: u64) -> u32 {
        let reg = (offset & 0xff0) as usize;
        let idx = (reg >> 4) & 7;
        match reg {
            0x20 => self.id << 24,
            0x30 => VERSION,
            0x80 => self.tpr,
            0x90 => 0,
            0xa0 => self.ppr(),
            0xd0 => self.ldr,
            0xe0 => self.dfr,
            0xf0 => self.svr,
            0x100..=0x170 => self.isr[idx],
            0x180..=0x1f0 => self.tmr[idx],
            0x200..=0x270 => self.irr[idx],
            0x280 => self.esr,
            0x2f0 => self.lvt_cmci,
            0x300 => self.icr as u32,
            0x310 => (self.icr >> 32) as u32,
            0x320..=0x370 => self.lvt[(reg - 0x320) >> 4],
            0x380 => self.timer_initial,
            0x390 => self.current_count(now),
            0x3e0 => self.timer_divide,
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u64, value: u32, now: u64) {
        let reg = (offset & 0xff0) as usize;
        match reg {
            0x20 => self.id = value >> 24,
            0x80 => self.tpr = value & 0xff,
            0xb0 => self.eoi(),
            0xd0 => self.ldr = value & 0xff00_0000,
            0xe0 => self.dfr = value | 0x0fff_ffff,
            0xf0 => {
                self.svr = value & 0x13ff;
                if value & SVR_ENABLE == 0 {
                    for l in &mut self.lvt {
                        *l |= LVT_MASKED;
                    }
                }
            }
            0x280 => self.esr = 0,
            0x2f0 => self.lvt_cmci = value & 0x1_07ff,
            0x300 => {
                self.icr = (self.icr & !0xffff_ffff) | (value & !(1 << 12)) as u64;
                self.send_ipi();
            }
            0x310 => self.icr = (self.icr & 0xffff_ffff) | ((value as u64) << 32),
            0x320..=0x370 => {
                let i = (reg - 0x320) >> 4;
                let mut v = value;
                if self.svr & SVR_ENABLE == 0 {
                    v |= LVT_MASKED;
                }
                let old_mode = self.timer_mode();
                self.lvt[i] = v;
                if i == LVT_TIMER && self.timer_mode() != old_mode {
                    // Switching modes stops the timer (and disarms a TSC deadline).
                    self.timer_due = None;
                    self.tsc_deadline = 0;
                }
            }
            0x380 => {
                self.timer_initial = value;
                self.start_timer(now);
            }
            0x3e0 => {
                // Keep the current count running at the old rate up to now, then the new one.
                let count = self.current_count(now);
                self.timer_divide = value & 0xb;
                if self.timer_due.is_some() {
                    self.timer_start = now;
                    self.timer_due = Some(now + count as u64 * self.divisor());
                }
            }
            _ => {}
        }
    }

    /// ICR: fixed-delivery IPIs to this CPU (self, all-including-self, or our own ID) are
    /// accepted; there is no other CPU, so the rest go nowhere.
    fn send_ipi(&mut self) {
        let lo = self.icr as u32;
        let mode = (lo >> 8) & 7;
        let shorthand = (lo >> 18) & 3;
        let dest = (self.icr >> 56) as u32;
        let to_self = match shorthand {
            0 => dest == self.id || dest == 0xff,
            1 | 2 => true,
            _ => false,
        };
        if to_self && mode == 0 {
            self.accept(lo as u8, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Lapic {
        let mut l = Lapic::default();
        l.write(0xf0, 0x1ff, 0);
        l
    }

    #[test]
    fn priority_ack_and_eoi() {
        let mut l = enabled();
        l.accept(0x31, false);
        l.accept(0x52, true);
        assert_eq!(l.pending(), Some(0x52));
        assert_eq!(l.acknowledge(), Some(0x52));
        // 0x31 is a lower class than the one in service.
        assert_eq!(l.pending(), None);
        l.write(0xb0, 0, 0);
        assert_eq!(l.eoi_out, vec![0x52]);
        assert_eq!(l.acknowledge(), Some(0x31));
        l.write(0xb0, 0, 0);
        assert_eq!(l.eoi_out, vec![0x52]);
        // TPR blocks classes at or below it.
        l.write(0x80, 0x40, 0);
        l.accept(0x45, false);
        assert_eq!(l.pending(), None);
        l.write(0x80, 0, 0);
        assert_eq!(l.pending(), Some(0x45));
    }

    #[test]
    fn one_shot_periodic_and_deadline_timers() {
        let mut l = enabled();
        l.write(0x3e0, 0xb, 0); // divide by 1
        l.write(0x320, 0xec, 0); // one-shot, vector 0xec
        l.write(0x380, 1000, 100);
        assert_eq!(l.read(0x390, 600), 500);
        assert_eq!(l.next_deadline(), Some(1100));
        l.tick(1099);
        assert_eq!(l.pending(), None);
        l.tick(1100);
        assert_eq!(l.acknowledge(), Some(0xec));
        assert_eq!(l.next_deadline(), None);
        l.write(0xb0, 0, 0);

        l.write(0x320, 0xec | TIMER_PERIODIC, 0);
        l.write(0x380, 100, 0);
        l.tick(350);
        assert_eq!(l.acknowledge(), Some(0xec));
        assert_eq!(l.next_deadline(), Some(400));
        l.write(0xb0, 0, 0);

        l.write(0x320, 0xef | TIMER_TSC_DEADLINE, 0);
        l.set_tsc_deadline(5000);
        l.tick(4999);
        assert_eq!(l.pending(), None);
        l.tick(5000);
        assert_eq!(l.pending(), Some(0xef));
        assert_eq!(l.next_deadline(), None);
    }

    #[test]
    fn self_ipi_and_masking() {
        let mut l = enabled();
        l.write(0x300, 0x4_0041, 0); // shorthand self, fixed, vector 0x41
        assert_eq!(l.pending(), Some(0x41));
        let mut d = Lapic::default(); // software disabled: LVT writes stay masked
        d.write(0x320, 0x30, 0);
        assert_eq!(d.read(0x320, 0) & LVT_MASKED, LVT_MASKED);
        assert!(d.extint_open());
        assert!(!l.extint_open());
    }
}
