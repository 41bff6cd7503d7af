//! Per-run freshness: every run resumes the same snapshot, so the kernel RNG and the wall
//! clock must be brought up to date from the host before the container starts.

use crate::fail::{Context, Fail};
use crate::sys;
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;

/// `_IOW('R', 0x03, int[2])`: mix bytes into the input pool and credit them as entropy. The
/// asm-generic ioctl encoding is the same on riscv64 and x86_64.
const RNDADDENTROPY: libc::c_ulong = 0x4008_5203;
/// `_IO('R', 0x07)`: reseed the CRNG from the input pool now. Without it the restored CRNG
/// would keep serving its snapshotted key until its next scheduled reseed.
const RNDRESEEDCRNG: libc::c_ulong = 0x5207;

/// Mixes `seed` into the kernel RNG, credits it, and forces a CRNG reseed.
pub fn reseed_rng(seed: &[u8]) -> Result<(), Fail> {
    if seed.is_empty() {
        return Ok(());
    }
    let dev = OpenOptions::new().write(true).open("/dev/urandom").context(|| "opening /dev/urandom".into())?;
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; } built in u32 words
    // so the kernel sees it aligned.
    let words = seed.len().div_ceil(4);
    let mut info = vec![0u32; 2 + words];
    info[0] = (seed.len() * 8) as u32;
    info[1] = seed.len() as u32;
    for (i, chunk) in seed.chunks(4).enumerate() {
        let mut w = [0u8; 4];
        w[..chunk.len()].copy_from_slice(chunk);
        info[2 + i] = u32::from_ne_bytes(w);
    }
    // SAFETY: `info` is a complete rand_pool_info whose buf_size matches its buffer.
    sys::check(unsafe { libc::ioctl(dev.as_raw_fd(), RNDADDENTROPY as _, info.as_ptr()) })
        .context(|| "adding the run's seed to the kernel RNG (RNDADDENTROPY)".into())?;
    // SAFETY: an argument-less ioctl.
    if let Err(e) = sys::check(unsafe { libc::ioctl(dev.as_raw_fd(), RNDRESEEDCRNG as _) }) {
        // ENODATA: the CRNG is not initialised yet; it will seed from the pool when it is.
        if e.raw_os_error() != Some(libc::ENODATA) {
            return Err(Fail::io("reseeding the kernel CRNG (RNDRESEEDCRNG)", e));
        }
    }
    Ok(())
}

/// Sets CLOCK_REALTIME; 0 means the host did not say, and the clock is left alone.
pub fn set_clock(unix_time_ns: u64) -> Result<(), Fail> {
    if unix_time_ns == 0 {
        return Ok(());
    }
    let ts =
        libc::timespec { tv_sec: (unix_time_ns / 1_000_000_000) as _, tv_nsec: (unix_time_ns % 1_000_000_000) as _ };
    // SAFETY: a valid timespec.
    sys::check(unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) }).context(|| "setting the clock".into())?;
    Ok(())
}
