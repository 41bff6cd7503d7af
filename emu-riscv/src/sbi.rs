//! The Supervisor Binary Interface, implemented by the machine itself (no M-mode firmware):
//! base, timer, IPI, RFENCE, HSM, system reset, and the legacy console calls the kernel's
//! early console and hvc0 use.

use crate::csr::irq;
use crate::hart::Hart;

const EXT_BASE: u64 = 0x10;
const EXT_TIMER: u64 = 0x5449_4d45;
const EXT_IPI: u64 = 0x73_5049;
const EXT_RFENCE: u64 = 0x5246_4e43;
const EXT_HSM: u64 = 0x48_534d;
const EXT_SRST: u64 = 0x5352_5354;
const LEGACY_SET_TIMER: u64 = 0;
const LEGACY_PUTCHAR: u64 = 1;
const LEGACY_GETCHAR: u64 = 2;
const LEGACY_CLEAR_IPI: u64 = 3;
const LEGACY_SEND_IPI: u64 = 4;
const LEGACY_REMOTE_FENCE_I: u64 = 5;
const LEGACY_REMOTE_SFENCE: u64 = 6;
const LEGACY_REMOTE_SFENCE_ASID: u64 = 7;
const LEGACY_SHUTDOWN: u64 = 8;

const ERR_NOT_SUPPORTED: i64 = -2;
const ERR_INVALID_PARAM: i64 = -3;
const ERR_ALREADY_AVAILABLE: i64 = -6;

/// What an SBI call asks of the machine beyond the hart's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbiEffect {
    None,
    ConsoleByte(u8),
    Shutdown,
    Reboot,
}

/// Handles the ECALL at `hart.pc` and steps past it.
pub fn handle(hart: &mut Hart) -> SbiEffect {
    let (eid, fid) = (hart.x[17], hart.x[16]);
    let (a0, a1) = (hart.x[10], hart.x[11]);
    let mut effect = SbiEffect::None;
    let mut legacy_ret: Option<i64> = None;
    let (err, val): (i64, u64) = match eid {
        LEGACY_SET_TIMER => {
            set_timer(hart, a0);
            legacy_ret = Some(0);
            (0, 0)
        }
        LEGACY_PUTCHAR => {
            effect = SbiEffect::ConsoleByte(a0 as u8);
            legacy_ret = Some(0);
            (0, 0)
        }
        LEGACY_GETCHAR => {
            legacy_ret = Some(-1);
            (0, 0)
        }
        LEGACY_CLEAR_IPI => {
            hart.csr.mip &= !irq::SSI;
            legacy_ret = Some(0);
            (0, 0)
        }
        LEGACY_SEND_IPI => {
            hart.csr.mip |= irq::SSI;
            legacy_ret = Some(0);
            (0, 0)
        }
        LEGACY_REMOTE_FENCE_I | LEGACY_REMOTE_SFENCE | LEGACY_REMOTE_SFENCE_ASID => {
            if eid == LEGACY_REMOTE_FENCE_I {
                hart.flush_decoded();
            }
            hart.flush_tlb();
            legacy_ret = Some(0);
            (0, 0)
        }
        LEGACY_SHUTDOWN => {
            effect = SbiEffect::Shutdown;
            (0, 0)
        }
        EXT_BASE => match fid {
            0 => (0, 1 << 24),    // spec version 1.0
            1 => (0, 0x63_32_77), // implementation id: "c2w"
            2 => (0, 1),
            3 => {
                let known = matches!(a0, EXT_BASE | EXT_TIMER | EXT_IPI | EXT_RFENCE | EXT_HSM | EXT_SRST)
                    || a0 <= LEGACY_SHUTDOWN;
                (0, known as u64)
            }
            4..=6 => (0, 0), // mvendorid, marchid, mimpid
            _ => (ERR_NOT_SUPPORTED, 0),
        },
        EXT_TIMER if fid == 0 => {
            set_timer(hart, a0);
            (0, 0)
        }
        EXT_IPI if fid == 0 => {
            // hart_mask a0 relative to hart_mask_base a1 (all ones = every hart).
            if a1 == u64::MAX || (a1 == 0 && a0 & 1 != 0) {
                hart.csr.mip |= irq::SSI;
            }
            (0, 0)
        }
        EXT_RFENCE if fid <= 6 => {
            // fid 0 is remote FENCE.I; the others are SFENCE.VMA variants.
            if fid == 0 {
                hart.flush_decoded();
            }
            hart.flush_tlb();
            (0, 0)
        }
        EXT_HSM => match fid {
            0 => (ERR_ALREADY_AVAILABLE, 0), // hart_start: the only hart is running
            1 => (ERR_NOT_SUPPORTED, 0),     // hart_stop of the last hart
            2 => {
                if a0 == 0 {
                    (0, 0) // STARTED
                } else {
                    (ERR_INVALID_PARAM, 0)
                }
            }
            3 => (0, 0), // hart_suspend: return immediately (allowed for retentive suspend)
            _ => (ERR_NOT_SUPPORTED, 0),
        },
        EXT_SRST if fid == 0 => {
            effect = if a0 == 0 { SbiEffect::Shutdown } else { SbiEffect::Reboot };
            (0, 0)
        }
        _ => (ERR_NOT_SUPPORTED, 0),
    };
    match legacy_ret {
        Some(v) => hart.x[10] = v as u64,
        None => {
            hart.x[10] = err as u64;
            hart.x[11] = val;
        }
    }
    hart.pc = hart.pc.wrapping_add(4);
    hart.instret = hart.instret.wrapping_add(1);
    effect
}

fn set_timer(hart: &mut Hart, when: u64) {
    hart.csr.stimecmp = when;
    hart.update_stip();
}
