//! Guest physical RAM: a plain boxed slice placed at a guest physical base address.

/// Guest RAM. Accessors take guest *physical* addresses and return `None` outside RAM, so a
/// guest-controlled address can never index out of bounds.
pub struct GuestRam {
    base: u64,
    bytes: Box<[u8]>,
}

impl GuestRam {
    /// Zeroed RAM of `size` bytes at guest physical `base`, which is page-aligned (so a
    /// physical page is a whole entry of [`GuestRam::pages`]).
    pub fn new(base: u64, size: usize) -> Self {
        assert!(base.is_multiple_of(4096), "guest RAM must start on a page boundary");
        Self { base, bytes: vec![0u8; size].into_boxed_slice() }
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn end(&self) -> u64 {
        self.base + self.size()
    }

    /// Host offset of guest physical `addr` when `[addr, addr+len)` lies inside RAM.
    #[inline]
    pub fn offset(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.wrapping_sub(self.base);
        if off < self.size() && len <= self.size() - off {
            Some(off as usize)
        } else {
            None
        }
    }

    #[inline]
    pub fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.base) < self.size()
    }

    /// RAM as whole 4 KiB pages (a partial page at the end is left out). Indexing a page
    /// array with an in-page offset masked to the access's alignment needs no bounds check,
    /// which is what the CPUs' TLB hit paths use.
    #[inline(always)]
    pub fn pages(&self) -> &[[u8; 4096]] {
        self.bytes.as_chunks::<4096>().0
    }

    #[inline(always)]
    pub fn pages_mut(&mut self) -> &mut [[u8; 4096]] {
        self.bytes.as_chunks_mut::<4096>().0
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    pub fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let off = self.offset(addr, len as u64)?;
        Some(&self.bytes[off..off + len])
    }

    pub fn slice_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let off = self.offset(addr, len as u64)?;
        Some(&mut self.bytes[off..off + len])
    }

    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
        buf.copy_from_slice(self.slice(addr, buf.len())?);
        Some(())
    }

    pub fn write(&mut self, addr: u64, data: &[u8]) -> Option<()> {
        self.slice_mut(addr, data.len())?.copy_from_slice(data);
        Some(())
    }

    pub fn read_u16(&self, addr: u64) -> Option<u16> {
        Some(u16::from_le_bytes(self.slice(addr, 2)?.try_into().unwrap()))
    }
    pub fn read_u32(&self, addr: u64) -> Option<u32> {
        Some(u32::from_le_bytes(self.slice(addr, 4)?.try_into().unwrap()))
    }
    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        Some(u64::from_le_bytes(self.slice(addr, 8)?.try_into().unwrap()))
    }
    pub fn write_u16(&mut self, addr: u64, v: u16) -> Option<()> {
        self.write(addr, &v.to_le_bytes())
    }
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Option<()> {
        self.write(addr, &v.to_le_bytes())
    }
    pub fn write_u64(&mut self, addr: u64, v: u64) -> Option<()> {
        self.write(addr, &v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_without_overflow() {
        let mut ram = GuestRam::new(0x8000_0000, 4096);
        assert!(ram.write_u64(0x8000_0ff8, 1).is_some());
        assert!(ram.write_u64(0x8000_0ffc, 1).is_none());
        assert!(ram.read_u32(0x7fff_fffe).is_none());
        assert!(ram.slice(u64::MAX, 2).is_none());
        assert!(ram.slice(0x8000_0000, usize::MAX).is_none());
        assert_eq!(ram.read_u64(0x8000_0ff8), Some(1));
    }
}
