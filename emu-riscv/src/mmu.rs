//! Address translation (Sv39, Sv48) and the software TLB.
//!
//! The TLB is direct-mapped, one array per access kind, and maps a virtual page (tagged with
//! the effective privilege) straight to an offset into guest RAM, so a hit costs one compare
//! and a slice access. The compare also rejects misaligned accesses (as QEMU's does): the
//! address is masked with the page mask plus the access's alignment bits, which are zero in
//! every tag, so a misaligned access (rare, and possibly crossing the page) takes the slow
//! path and an aligned one needs no page-crossing check. Only RAM pages are cached; MMIO always takes the slow path. Entries for
//! stores are only made once the PTE's D bit is set, so a hit never needs to update the PTE.
//! The whole TLB is flushed on satp writes, SFENCE.VMA and mstatus changes that alter
//! permissions (MPRV, MPP, SUM, MXR).

use crate::csr::mstatus;
use crate::hart::{Bus, Exception, Hart, PRV_M, PRV_S, PRV_U};

/// Entries per access kind. 256 missed often in gzip's hash tables; 1024 costs 48 KiB.
const TLB_SIZE: usize = 1024;
/// Flushes are counted in the tags (bits 6..=11, below the page number), so a flush is O(1)
/// and the arrays are only cleared when the count wraps.
const TLB_EPOCHS: u64 = 64;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Fetch,
    Load,
    Store,
}

#[derive(Clone, Copy, Default)]
pub(crate) struct TlbEntry {
    /// Page-aligned virtual address | [`tag_bits`] of the privilege; 0 = empty.
    tag: u64,
    /// Index of the physical page in guest RAM ([`emu_core::GuestRam::pages`]).
    page: usize,
}

pub(crate) struct Tlb {
    read: [TlbEntry; TLB_SIZE],
    write: [TlbEntry; TLB_SIZE],
    exec: [TlbEntry; TLB_SIZE],
    /// Flushes modulo [`TLB_EPOCHS`]: part of every tag.
    epoch: u64,
}

impl Default for Tlb {
    fn default() -> Self {
        let e = TlbEntry::default();
        Self { read: [e; TLB_SIZE], write: [e; TLB_SIZE], exec: [e; TLB_SIZE], epoch: 0 }
    }
}

#[inline]
fn tlb_index(vaddr: u64) -> usize {
    ((vaddr >> 12) as usize) & (TLB_SIZE - 1)
}

/// The low bits of a TLB tag: the flush epoch, the privilege and a valid bit, above bit 2 so
/// that the alignment bits of an 8-byte access stay clear.
#[inline]
pub(crate) fn tag_bits(prv: u8, epoch: u64) -> u64 {
    (epoch << 6) | ((prv as u64) << 4) | 8
}

/// The tag an aligned access of `size` bytes at `vaddr` hits; misaligned addresses keep low
/// bits that no tag has.
#[inline(always)]
fn access_tag(vaddr: u64, size: u8, bits: u64) -> u64 {
    (vaddr & (!0xfff | (size as u64 - 1))) | bits
}

#[inline(always)]
fn read_le(s: &[u8], off: usize, size: u8) -> u64 {
    match size {
        1 => s[off] as u64,
        2 => u16::from_le_bytes([s[off], s[off + 1]]) as u64,
        // s[off..][..n] checks off <= len and n <= len - off; s[off..off + n] would also
        // check off + n for overflow.
        4 => u32::from_le_bytes(s[off..][..4].try_into().unwrap()) as u64,
        _ => u64::from_le_bytes(s[off..][..8].try_into().unwrap()),
    }
}

/// Reads an aligned value of `size` bytes at `vaddr`'s offset in `page`. Masking the offset
/// to the alignment (a no-op for the aligned addresses the TLB lets through) lets the compiler
/// see that the access stays inside the page.
#[inline(always)]
fn read_aligned(page: &[u8; 4096], vaddr: u64, size: u8) -> u64 {
    match size {
        1 => page[(vaddr & 0xfff) as usize] as u64,
        2 => u16::from_le_bytes(*page[(vaddr & 0xffe) as usize..].first_chunk().unwrap()) as u64,
        4 => u32::from_le_bytes(*page[(vaddr & 0xffc) as usize..].first_chunk().unwrap()) as u64,
        _ => u64::from_le_bytes(*page[(vaddr & 0xff8) as usize..].first_chunk().unwrap()),
    }
}

#[inline(always)]
fn write_aligned(page: &mut [u8; 4096], vaddr: u64, size: u8, v: u64) {
    match size {
        1 => page[(vaddr & 0xfff) as usize] = v as u8,
        2 => *page[(vaddr & 0xffe) as usize..].first_chunk_mut().unwrap() = (v as u16).to_le_bytes(),
        4 => *page[(vaddr & 0xffc) as usize..].first_chunk_mut().unwrap() = (v as u32).to_le_bytes(),
        _ => *page[(vaddr & 0xff8) as usize..].first_chunk_mut().unwrap() = v.to_le_bytes(),
    }
}

#[inline(always)]
fn write_le(s: &mut [u8], off: usize, size: u8, v: u64) {
    match size {
        1 => s[off] = v as u8,
        2 => s[off..off + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => s[off..][..4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => s[off..][..8].copy_from_slice(&v.to_le_bytes()),
    }
}

fn page_fault(access: Access, vaddr: u64) -> Exception {
    match access {
        Access::Fetch => Exception::InstructionPageFault(vaddr),
        Access::Load => Exception::LoadPageFault(vaddr),
        Access::Store => Exception::StorePageFault(vaddr),
    }
}

fn access_fault(access: Access, vaddr: u64) -> Exception {
    match access {
        Access::Fetch => Exception::InstructionAccessFault(vaddr),
        Access::Load => Exception::LoadAccessFault(vaddr),
        Access::Store => Exception::StoreAccessFault(vaddr),
    }
}

impl Hart {
    pub fn flush_tlb(&mut self) {
        let epoch = (self.tlb.epoch + 1) % TLB_EPOCHS;
        if epoch == 0 {
            self.tlb = Tlb::default();
        }
        self.tlb.epoch = epoch;
        self.update_ls_priv();
    }

    #[inline(always)]
    fn tlb_tag(&self, vaddr: u64, prv: u8) -> u64 {
        (vaddr & !0xfff) | tag_bits(prv, self.tlb.epoch)
    }

    /// The flush epoch for [`tag_bits`].
    #[inline(always)]
    pub(crate) fn tlb_epoch(&self) -> u64 {
        self.tlb.epoch
    }

    /// Translates a virtual address for `access` at the relevant effective privilege.
    pub fn translate<B: Bus>(&mut self, bus: &mut B, vaddr: u64, access: Access) -> Result<u64, Exception> {
        let prv = if access == Access::Fetch { self.prv } else { self.ls_priv };
        let mode = self.csr.satp >> 60;
        if prv == PRV_M || mode == 0 {
            return Ok(vaddr);
        }
        let levels: u32 = if mode == 9 { 4 } else { 3 };
        let va_bits = 12 + 9 * levels;
        // The address must be sign-extended from its top translated bit.
        let top = (vaddr as i64) >> (va_bits - 1);
        if top != 0 && top != -1 {
            return Err(page_fault(access, vaddr));
        }
        let mut table = (self.csr.satp & ((1 << 44) - 1)) << 12;
        let s = self.csr.mstatus;
        for level in (0..levels).rev() {
            let vpn = (vaddr >> (12 + 9 * level)) & 0x1ff;
            let pte_addr = table + vpn * 8;
            let ram = bus.ram();
            let Some(pte) = ram.read_u64(pte_addr) else {
                return Err(access_fault(access, vaddr));
            };
            let (v, r, w, x, u, a, d) =
                (pte & 1 != 0, pte & 2 != 0, pte & 4 != 0, pte & 8 != 0, pte & 16 != 0, pte & 64 != 0, pte & 128 != 0);
            // Reserved bits (63:54: Svpbmt/Svnapot are not implemented) and W without R.
            if !v || (!r && w) || pte >> 54 != 0 {
                return Err(page_fault(access, vaddr));
            }
            let ppn = (pte >> 10) & ((1 << 44) - 1);
            if !r && !x {
                table = ppn << 12;
                continue;
            }
            // Leaf: permissions.
            let allowed = match access {
                Access::Fetch => x,
                Access::Load => r || (x && s & mstatus::MXR != 0),
                Access::Store => w,
            };
            let user_ok = match prv {
                PRV_U => u,
                PRV_S => !u || (access != Access::Fetch && s & mstatus::SUM != 0),
                _ => true,
            };
            if !allowed || !user_ok {
                return Err(page_fault(access, vaddr));
            }
            // A superpage's low PPN bits must be zero.
            let low_mask = (1u64 << (9 * level)) - 1;
            if ppn & low_mask != 0 {
                return Err(page_fault(access, vaddr));
            }
            // The hardware updates A and D (allowed by the privileged spec; Linux accepts it).
            let new_pte = pte | 64 | if access == Access::Store { 128 } else { 0 };
            if new_pte != pte || (!a) || (access == Access::Store && !d) {
                let ram = bus.ram();
                if ram.write_u64(pte_addr, new_pte).is_none() {
                    return Err(access_fault(access, vaddr));
                }
            }
            let page_off_mask = (1u64 << (12 + 9 * level)) - 1;
            return Ok(((ppn << 12) & !page_off_mask) | (vaddr & page_off_mask));
        }
        Err(page_fault(access, vaddr))
    }

    /// The RAM offset of the page holding instruction address `vaddr`, if the fetch TLB has it
    /// (the interpreter's fast way into a new page).
    #[inline(always)]
    pub(crate) fn fetch_page_cached(&self, vaddr: u64) -> Option<usize> {
        let e = self.tlb.exec[tlb_index(vaddr)];
        (e.tag == (vaddr & !0xfff) | self.fetch_tag).then_some(e.page << 12)
    }

    /// Translates an instruction address to an offset in RAM (instructions execute only from
    /// RAM).
    #[inline]
    pub(crate) fn translate_fetch<B: Bus>(&mut self, bus: &mut B, vaddr: u64) -> Result<usize, Exception> {
        if let Some(page) = self.fetch_page_cached(vaddr) {
            return Ok(page + (vaddr & 0xfff) as usize);
        }
        let (idx, tag) = (tlb_index(vaddr), (vaddr & !0xfff) | self.fetch_tag);
        let paddr = self.translate(bus, vaddr, Access::Fetch)?;
        let ram = bus.ram();
        let page = paddr & !0xfff;
        match ram.offset(page, 4096) {
            Some(off) => {
                self.tlb.exec[idx] = TlbEntry { tag, page: off >> 12 };
                Ok(off + (vaddr & 0xfff) as usize)
            }
            None => Err(Exception::InstructionAccessFault(vaddr)),
        }
    }

    /// Loads `size` bytes (zero-extended). Misaligned accesses are performed (the execution
    /// environment supports them), split at page boundaries.
    #[inline(always)]
    pub fn load<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8) -> Result<u64, Exception> {
        match self.load_hit(bus.ram().pages(), self.ls_tag, vaddr, size) {
            Some(v) => Ok(v),
            None => self.load_slow(bus, vaddr, size),
        }
    }

    /// A load the TLB has the RAM page for, aligned: [`Hart::load`]'s fast path, for callers
    /// that hold guest RAM's pages and [`Hart::ls_tag`] in locals (the interpreter loop).
    /// None: take [`Hart::load_slow`].
    #[inline(always)]
    pub(crate) fn load_hit(&self, pages: &[[u8; 4096]], ls_tag: u64, vaddr: u64, size: u8) -> Option<u64> {
        let e = self.tlb.read[tlb_index(vaddr)];
        if e.tag != access_tag(vaddr, size, ls_tag) {
            return None;
        }
        pages.get(e.page).map(|page| read_aligned(page, vaddr, size))
    }

    /// The same for a store: whether it was done.
    #[inline(always)]
    pub(crate) fn store_hit(&self, pages: &mut [[u8; 4096]], ls_tag: u64, vaddr: u64, size: u8, v: u64) -> bool {
        let e = self.tlb.write[tlb_index(vaddr)];
        if e.tag != access_tag(vaddr, size, ls_tag) {
            return false;
        }
        match pages.get_mut(e.page) {
            Some(page) => {
                write_aligned(page, vaddr, size, v);
                true
            }
            None => false,
        }
    }

    pub(crate) fn load_slow<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8) -> Result<u64, Exception> {
        if (vaddr & 0xfff) + size as u64 > 4096 {
            let mut v = 0u64;
            for k in 0..size as u64 {
                v |= self.load(bus, vaddr.wrapping_add(k), 1)? << (8 * k);
            }
            return Ok(v);
        }
        let paddr = self.translate(bus, vaddr, Access::Load)?;
        let ram = bus.ram();
        if let Some(off) = ram.offset(paddr & !0xfff, 4096) {
            let tag = self.tlb_tag(vaddr, self.ls_priv);
            self.tlb.read[tlb_index(vaddr)] = TlbEntry { tag, page: off >> 12 };
            return Ok(read_le(ram.as_slice(), off + (paddr & 0xfff) as usize, size));
        }
        self.phys_load(bus, paddr, size).ok_or(Exception::LoadAccessFault(vaddr))
    }

    #[inline(always)]
    pub fn store<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, v: u64) -> Result<(), Exception> {
        if self.store_hit(bus.ram().pages_mut(), self.ls_tag, vaddr, size, v) {
            return Ok(());
        }
        self.store_slow(bus, vaddr, size, v)
    }

    pub(crate) fn store_slow<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, v: u64) -> Result<(), Exception> {
        if (vaddr & 0xfff) + size as u64 > 4096 {
            // Check both pages before writing anything, so a fault leaves memory unchanged.
            let last = vaddr.wrapping_add(size as u64 - 1);
            self.translate(bus, vaddr, Access::Store)?;
            self.translate(bus, last, Access::Store)?;
            for k in 0..size as u64 {
                self.store(bus, vaddr.wrapping_add(k), 1, v >> (8 * k))?;
            }
            return Ok(());
        }
        let paddr = self.translate(bus, vaddr, Access::Store)?;
        let ram = bus.ram();
        if let Some(off) = ram.offset(paddr & !0xfff, 4096) {
            let tag = self.tlb_tag(vaddr, self.ls_priv);
            self.tlb.write[tlb_index(vaddr)] = TlbEntry { tag, page: off >> 12 };
            write_le(ram.as_mut_slice(), off + (paddr & 0xfff) as usize, size, v);
            if self.reservation.is_some_and(|r| r & !7 == paddr & !7) {
                self.reservation = None;
            }
            return Ok(());
        }
        self.phys_store(bus, paddr, size, v).ok_or(Exception::StoreAccessFault(vaddr))
    }

    pub(crate) fn phys_load<B: Bus>(&mut self, bus: &mut B, paddr: u64, size: u8) -> Option<u64> {
        let ram = bus.ram();
        if let Some(off) = ram.offset(paddr, size as u64) {
            return Some(read_le(ram.as_slice(), off, size));
        }
        let v = bus.mmio_read(paddr, size);
        self.sync_external_interrupts(bus);
        v
    }

    fn sync_external_interrupts<B: Bus>(&mut self, bus: &mut B) {
        let mask = bus.driven_interrupts();
        let ext = bus.external_interrupts();
        self.csr.mip = (self.csr.mip & !mask) | (ext & mask);
    }

    pub(crate) fn phys_store<B: Bus>(&mut self, bus: &mut B, paddr: u64, size: u8, v: u64) -> Option<()> {
        let ram = bus.ram();
        if let Some(off) = ram.offset(paddr, size as u64) {
            write_le(ram.as_mut_slice(), off, size, v);
            return Some(());
        }
        let r = bus.mmio_write(paddr, size, v);
        self.sync_external_interrupts(bus);
        r
    }
}

#[allow(dead_code)]
const _: () = assert!(PRV_U == 0);
