//! The guest clock every machine keeps: virtual during pre-boot, the host's at run time.
//!
//! Pre-boot must be deterministic (its end state is snapshotted), so guest time then comes from
//! retired instructions plus the idle time skipped: a guest that waits for a timer gets there at
//! once, for free. [`GuestClock::use_host`] switches to the host's monotonic clock for the run,
//! carrying on from the virtual time reached, so the guest never sees time go backwards.
//!
//! The clock counts in the machine's own guest unit (RISC-V: timer ticks at its timebase; x86:
//! nanoseconds). The machine converts at its edge: it says how many host nanoseconds one unit
//! lasts, and what its retired instructions are worth in units.

use crate::session::{Halt, Slice};
use crate::Host;

/// How long an idle guest with no timer armed waits before the machine looks again (input can
/// still wake it sooner).
const NO_DEADLINE_WAIT_NS: u64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Guest time = `skipped` + what the retired instructions are worth.
    Virtual { skipped: u64 },
    /// Guest time = `base` + host time since `origin_ns`, in units.
    Host { base: u64, origin_ns: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestClock {
    mode: Mode,
    ns_per_unit: u64,
}

impl GuestClock {
    /// A virtual clock at time 0 counting units of `ns_per_unit` host nanoseconds.
    pub fn new(ns_per_unit: u64) -> Self {
        assert!(ns_per_unit > 0, "a guest clock unit lasts at least a nanosecond");
        Self { mode: Mode::Virtual { skipped: 0 }, ns_per_unit }
    }

    /// Whether time still comes from retired instructions (pre-boot).
    pub fn is_virtual(&self) -> bool {
        matches!(self.mode, Mode::Virtual { .. })
    }

    /// Guest time now, in units. `retired` is what the instructions retired so far are worth in
    /// units (the machine's conversion); only the virtual clock uses it.
    pub fn now(&self, retired: u64, host: &mut dyn Host) -> u64 {
        match self.mode {
            Mode::Virtual { skipped } => skipped + retired,
            Mode::Host { base, origin_ns } => base + host.monotonic_ns().saturating_sub(origin_ns) / self.ns_per_unit,
        }
    }

    /// Switches to the host's monotonic clock, starting from the time reached.
    pub fn use_host(&mut self, retired: u64, host: &mut dyn Host) {
        let base = self.now(retired, host);
        self.mode = Mode::Host { base, origin_ns: host.monotonic_ns() };
    }

    /// The guest is idle until `deadline` (guest units; `None`: no timer armed). The virtual
    /// clock jumps there and returns `None`, for the machine to run on; it returns a fatal halt
    /// when no deadline can ever wake the guest, since no input arrives before the run. The
    /// host clock returns the [`Slice::Idle`] to wait for, on the host's clock.
    pub fn idle(&mut self, retired: u64, deadline: Option<u64>, host: &mut dyn Host) -> Option<Slice> {
        match &mut self.mode {
            Mode::Virtual { skipped } => {
                let Some(deadline) = deadline else {
                    return Some(Slice::Halted(Halt::Fatal(
                        "the guest waits for an interrupt that can never come".into(),
                    )));
                };
                *skipped += deadline.saturating_sub(*skipped + retired);
                None
            }
            Mode::Host { base, origin_ns } => {
                let deadline_ns = match deadline {
                    Some(d) => origin_ns.saturating_add(d.saturating_sub(*base).saturating_mul(self.ns_per_unit)),
                    None => host.monotonic_ns() + NO_DEADLINE_WAIT_NS,
                };
                Some(Slice::Idle { deadline_ns })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FakeHost;

    fn host_at(now_ns: u64) -> FakeHost {
        FakeHost { now_ns, ..Default::default() }
    }

    #[test]
    fn virtual_time_is_retired_plus_skipped_and_ignores_the_host() {
        let mut host = host_at(5_000);
        let mut c = GuestClock::new(100);
        assert!(c.is_virtual());
        assert_eq!(c.now(7, &mut host), 7);
        host.now_ns = 9_000_000;
        assert_eq!(c.now(7, &mut host), 7);
        assert_eq!(c.idle(7, Some(50), &mut host), None);
        assert_eq!(c.now(7, &mut host), 50);
        assert_eq!(c.now(10, &mut host), 53);
    }

    #[test]
    fn idle_skip_never_moves_time_back() {
        let mut host = host_at(0);
        let mut c = GuestClock::new(1);
        // A deadline already passed skips nothing.
        assert_eq!(c.idle(1_000, Some(400), &mut host), None);
        assert_eq!(c.now(1_000, &mut host), 1_000);
        // One exactly now skips nothing either.
        assert_eq!(c.idle(1_000, Some(1_000), &mut host), None);
        assert_eq!(c.now(1_000, &mut host), 1_000);
        // Skips add up across idles.
        assert_eq!(c.idle(1_000, Some(1_500), &mut host), None);
        assert_eq!(c.idle(1_200, Some(2_000), &mut host), None);
        assert_eq!(c.now(1_200, &mut host), 2_000);
    }

    #[test]
    fn virtual_idle_without_a_deadline_is_fatal() {
        let mut host = host_at(0);
        let mut c = GuestClock::new(1);
        match c.idle(3, None, &mut host) {
            Some(Slice::Halted(Halt::Fatal(why))) => assert!(why.contains("never come"), "{why}"),
            other => panic!("expected a fatal halt, got {other:?}"),
        }
        assert_eq!(c.now(3, &mut host), 3);
    }

    #[test]
    fn switch_to_host_clock_continues_from_virtual_time() {
        let mut host = host_at(1_000_000_000);
        let mut c = GuestClock::new(100);
        assert_eq!(c.idle(40, Some(5_000), &mut host), None);
        let before = c.now(40, &mut host);
        assert_eq!(before, 5_000);
        c.use_host(40, &mut host);
        assert!(!c.is_virtual());
        // No host time has passed: the same guest time, and retired instructions no longer count.
        assert_eq!(c.now(40, &mut host), before);
        assert_eq!(c.now(1_000_000, &mut host), before);
        // Host time advances it at one unit per 100 ns, rounding down.
        host.now_ns += 250;
        assert_eq!(c.now(0, &mut host), before + 2);
        host.now_ns += 1_000_000;
        assert_eq!(c.now(0, &mut host), before + 10_002);
    }

    #[test]
    fn host_time_before_the_origin_does_not_go_backwards() {
        let mut host = host_at(10_000);
        let mut c = GuestClock::new(1);
        c.use_host(77, &mut host);
        host.now_ns = 3;
        assert_eq!(c.now(0, &mut host), 77);
    }

    #[test]
    fn switching_twice_keeps_time_continuous() {
        let mut host = host_at(0);
        let mut c = GuestClock::new(10);
        c.use_host(100, &mut host);
        host.now_ns = 1_000;
        assert_eq!(c.now(0, &mut host), 200);
        c.use_host(0, &mut host);
        assert_eq!(c.now(0, &mut host), 200);
        host.now_ns = 1_100;
        assert_eq!(c.now(0, &mut host), 210);
    }

    #[test]
    fn host_idle_converts_the_deadline_to_host_nanoseconds() {
        let mut host = host_at(2_000);
        let mut c = GuestClock::new(100);
        c.use_host(500, &mut host);
        // Deadline 30 units after the base: 3000 ns after the switch.
        assert_eq!(c.idle(0, Some(530), &mut host), Some(Slice::Idle { deadline_ns: 5_000 }));
        // Time passing does not move a fixed deadline.
        host.now_ns = 4_000;
        assert_eq!(c.idle(0, Some(530), &mut host), Some(Slice::Idle { deadline_ns: 5_000 }));
        // A deadline before the base is due at once (the switch instant, already past).
        assert_eq!(c.idle(0, Some(100), &mut host), Some(Slice::Idle { deadline_ns: 2_000 }));
        // No timer armed: look again in a second.
        assert_eq!(c.idle(0, None, &mut host), Some(Slice::Idle { deadline_ns: 1_000_004_000 }));
        // A far deadline saturates instead of wrapping.
        assert_eq!(c.idle(0, Some(u64::MAX - 1), &mut host), Some(Slice::Idle { deadline_ns: u64::MAX }));
        // Idling on the host clock never skips guest time.
        assert_eq!(c.now(0, &mut host), 500 + 20);
    }
}
