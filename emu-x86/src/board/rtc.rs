//! The CMOS RTC (ports 0x70 index / 0x71 data): the time of day the kernel reads once at
//! boot. Never busy (UIP = 0), so the kernel does not spin waiting for an update; no alarms or
//! periodic interrupts. The board supplies the time: a fixed date plus guest time during
//! pre-boot (so the snapshot is reproducible), the host's wall clock at run time.

pub struct Rtc {
    index: u8,
    /// Register B: 24-hour mode, BCD (Linux may switch to binary).
    reg_b: u8,
    /// Battery-backed RAM bytes 0x0e..0x80 as written.
    nvram: [u8; 128],
}

impl Default for Rtc {
    fn default() -> Self {
        Self { index: 0, reg_b: 0x02, nvram: [0; 128] }
    }
}

/// (year, month, day, weekday 1 = Sunday) of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    let weekday = ((days + 4).rem_euclid(7) + 1) as u32; // 1970-01-01 was a Thursday
    (y, m, d, weekday)
}

impl Rtc {
    pub fn write(&mut self, port: u16, v: u8) {
        if port == 0x70 {
            self.index = v & 0x7f;
            return;
        }
        match self.index {
            0x0b => self.reg_b = v & !0x80,
            i @ 0x0e..=0x7f => self.nvram[i as usize] = v,
            _ => {}
        }
    }

    /// A data-port read at `unix_secs`.
    pub fn read(&mut self, port: u16, unix_secs: u64) -> u8 {
        if port == 0x70 {
            return self.index;
        }
        let secs = unix_secs as i64;
        let (y, mo, d, wd) = civil(secs.div_euclid(86_400));
        let tod = secs.rem_euclid(86_400);
        let (h, mi, s) = ((tod / 3600) as u32, ((tod / 60) % 60) as u32, (tod % 60) as u32);
        let enc = |v: u32| -> u8 {
            if self.reg_b & 0x04 != 0 {
                v as u8
            } else {
                (((v / 10) << 4) | (v % 10)) as u8
            }
        };
        match self.index {
            0x00 => enc(s),
            0x02 => enc(mi),
            0x04 => {
                if self.reg_b & 0x02 != 0 {
                    enc(h)
                } else {
                    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
                    enc(h12) | if h >= 12 { 0x80 } else { 0 }
                }
            }
            0x06 => enc(wd),
            0x07 => enc(d),
            0x08 => enc(mo),
            0x09 => enc((y % 100) as u32),
            0x32 => enc((y / 100) as u32),
            0x0a => 0x26, // 32.768 kHz base, 1024 Hz rate, UIP clear
            0x0b => self.reg_b,
            0x0c => 0,
            0x0d => 0x80, // valid RAM and time
            i => self.nvram[i as usize],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(r: &mut Rtc, idx: u8, t: u64) -> u8 {
        r.write(0x70, idx);
        r.read(0x71, t)
    }

    #[test]
    fn bcd_time_of_a_known_date() {
        let mut r = Rtc::default();
        // 2024-02-29 13:45:07 UTC, a Thursday.
        let t = 1_709_214_307;
        assert_eq!(read(&mut r, 0, t), 0x07);
        assert_eq!(read(&mut r, 2, t), 0x45);
        assert_eq!(read(&mut r, 4, t), 0x13);
        assert_eq!(read(&mut r, 6, t), 5);
        assert_eq!(read(&mut r, 7, t), 0x29);
        assert_eq!(read(&mut r, 8, t), 0x02);
        assert_eq!(read(&mut r, 9, t), 0x24);
        assert_eq!(read(&mut r, 0x32, t), 0x20);
        assert_eq!(read(&mut r, 0x0a, t) & 0x80, 0);
        // Binary mode.
        r.write(0x70, 0x0b);
        r.write(0x71, 0x06);
        assert_eq!(read(&mut r, 4, t), 13);
        r.write(0x70, 0x20);
        r.write(0x71, 0x5a);
        assert_eq!(read(&mut r, 0x20, t), 0x5a);
    }
}
