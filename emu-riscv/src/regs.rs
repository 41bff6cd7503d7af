//! The integer register file, laid out for the interpreter loop.
//!
//! It has 256 slots, so a `u8` register number indexes it with no bounds check and no mask
//! (under wasm both are instructions on every register access). Slots 0..32 are x0..x31; slot 0
//! is never written, so x0 reads as zero without a store after every write. The block builder
//! points the inline integer instructions whose destination is x0 at [`SINK`], which nothing
//! reads ([`crate::blocks`]); the rest is padding.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Where writes to x0 go (a slot nothing reads).
pub(crate) const SINK: u8 = 32;

#[derive(Clone)]
pub struct Regs([u64; 256]);

impl Regs {
    /// x0..x31.
    pub fn arch(&self) -> &[u64; 32] {
        self.0.first_chunk().expect("256 slots")
    }

    pub fn arch_mut(&mut self) -> &mut [u64; 32] {
        self.0.first_chunk_mut().expect("256 slots")
    }

    /// Register `r` (a register number, or [`SINK`]).
    #[inline(always)]
    pub(crate) fn get(&self, r: u8) -> u64 {
        self.0[r as usize]
    }

    /// Writes register `r`, which must not be 0 (x0 stays zero because nothing writes slot
    /// 0; writes meant for it go to [`SINK`]).
    #[inline(always)]
    pub(crate) fn set(&mut self, r: u8, v: u64) {
        debug_assert!(r != 0, "x0 written");
        self.0[r as usize] = v;
    }
}

impl Default for Regs {
    fn default() -> Self {
        Self([0; 256])
    }
}

impl From<[u64; 32]> for Regs {
    /// The registers with these values, except that x0 is zero whatever `x[0]` says.
    fn from(x: [u64; 32]) -> Self {
        let mut r = Self::default();
        r.0[1..32].copy_from_slice(&x[1..]);
        r
    }
}

/// Architectural registers only: x1..x31 (x0 is always zero). Writing x0 through here is
/// refused, so the zero cannot be lost.
impl Index<usize> for Regs {
    type Output = u64;
    fn index(&self, r: usize) -> &u64 {
        &self.arch()[r]
    }
}

impl IndexMut<usize> for Regs {
    fn index_mut(&mut self, r: usize) -> &mut u64 {
        assert!((1..32).contains(&r), "x{r} is not a writable register");
        &mut self.0[r]
    }
}

/// Compares x0..x31 (what [`SINK`] holds is not state).
impl PartialEq for Regs {
    fn eq(&self, other: &Self) -> bool {
        self.arch() == other.arch()
    }
}

impl Eq for Regs {}

impl fmt::Debug for Regs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.arch().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x0_stays_zero_and_the_sink_is_not_state() {
        let mut r = Regs::from([7; 32]);
        assert_eq!(r[0], 0);
        assert_eq!(r[31], 7);
        r.set(SINK, 99);
        assert_eq!(r.get(0), 0);
        assert_eq!(r, Regs::from([7; 32]));
        r.set(5, 1);
        assert_eq!(r[5], 1);
    }

    #[test]
    #[should_panic(expected = "x0 is not a writable register")]
    fn writing_x0_by_index_is_refused() {
        let mut r = Regs::default();
        r[0] = 1;
    }
}
