//! The tail of the guest kernel's console, kept by every machine for error reports (what the
//! kernel printed before a panic or a power-off) and for telling guest faults apart.

/// How much of the console is kept; when it grows past this, the older half is dropped.
const KEEP: usize = 64 * 1024;

#[derive(Debug, Default, Clone)]
pub struct KernelLog {
    bytes: Vec<u8>,
}

impl KernelLog {
    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > KEEP {
            self.bytes.drain(..self.bytes.len() - KEEP / 2);
        }
    }

    /// The last `lines` lines of the last 4 KiB, as text.
    pub fn tail(&self, lines: usize) -> String {
        let text = String::from_utf8_lossy(&self.bytes[self.bytes.len().saturating_sub(4096)..]).into_owned();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_tail() {
        let mut log = KernelLog::default();
        for i in 0..20_000 {
            log.push(format!("line {i}\n").as_bytes());
        }
        assert!(log.bytes.len() <= KEEP);
        assert_eq!(log.tail(2), "line 19998\nline 19999");
        assert_eq!(KernelLog::default().tail(20), "");
    }
}
