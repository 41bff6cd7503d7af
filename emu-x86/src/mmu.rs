//! 4-level paging and the software TLB.
//!
//! The TLB is direct-mapped, one array per access kind, and maps a virtual page (tagged with
//! user/supervisor) straight to the page's offset in guest RAM, so a hit costs one compare.
//! Only RAM pages are cached; MMIO always takes the slow path. Write entries are made only once
//! the PTE's D bit is set, and never for pages holding decoded code (see `dcache.rs`), so a store
//! that hits the TLB needs neither a PTE update nor a code check.

use crate::bus::Bus;
use crate::cpu::{cr0, cr4, efer, Cpu};
use crate::fault::Fault;

/// Entries per access kind. 1024 rather than 256: fewer misses in gzip's tables and fewer
/// unlucky address-layout conflicts (host instruction counts then vary less from run to run),
/// and no slower to flush in the workloads measured.
const TLB_SIZE: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Read,
    Write,
    Exec,
}

#[derive(Clone, Copy, Default)]
pub(crate) struct TlbEntry {
    /// Page-aligned virtual address | user << 1 | 1 (valid); 0 = empty.
    tag: u64,
    /// Offset of the physical page in guest RAM.
    ram_off: usize,
    global: bool,
}

pub(crate) struct Tlb {
    read: [TlbEntry; TLB_SIZE],
    write: [TlbEntry; TLB_SIZE],
    exec: [TlbEntry; TLB_SIZE],
}

impl Default for Tlb {
    fn default() -> Self {
        let e = TlbEntry::default();
        Self { read: [e; TLB_SIZE], write: [e; TLB_SIZE], exec: [e; TLB_SIZE] }
    }
}

#[inline]
fn tlb_index(vaddr: u64) -> usize {
    ((vaddr >> 12) as usize) & (TLB_SIZE - 1)
}

#[inline]
fn tlb_tag(vaddr: u64, user: bool) -> u64 {
    (vaddr & !0xfff) | user_tag(user)
}

/// The low bits of a TLB tag for accesses with `user` privilege (see [`Cpu::utag`]).
#[inline]
pub(crate) fn user_tag(user: bool) -> u64 {
    ((user as u64) << 1) | 1
}

#[inline(always)]
pub(crate) fn read_le(s: &[u8], off: usize, size: u8) -> u64 {
    match size {
        1 => s[off] as u64,
        2 => u16::from_le_bytes([s[off], s[off + 1]]) as u64,
        4 => u32::from_le_bytes(s[off..off + 4].try_into().unwrap()) as u64,
        _ => u64::from_le_bytes(s[off..off + 8].try_into().unwrap()),
    }
}

#[inline(always)]
pub(crate) fn write_le(s: &mut [u8], off: usize, size: u8, v: u64) {
    match size {
        1 => s[off] = v as u8,
        2 => s[off..off + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => s[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => s[off..off + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

#[inline]
pub(crate) fn canonical(v: u64) -> bool {
    ((v as i64) << 16 >> 16) as u64 == v
}

/// Physical address bits reported by CPUID 0x80000008 (and so the reserved-bit boundary).
pub const PHYS_BITS: u32 = 40;
const ADDR_MASK: u64 = ((1u64 << PHYS_BITS) - 1) & !0xfff;

const P: u64 = 1;
const RW: u64 = 2;
const US: u64 = 4;
const A: u64 = 1 << 5;
const D: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const G: u64 = 1 << 8;
const NX: u64 = 1 << 63;

// #PF error code bits.
const PF_P: u32 = 1;
const PF_W: u32 = 2;
const PF_U: u32 = 4;
const PF_RSVD: u32 = 8;
const PF_I: u32 = 16;

impl Cpu {
    /// Empties the TLB; with `global` false, entries for global pages survive (CR3 writes).
    pub fn flush_tlb(&mut self, global: bool) {
        let keep_global = !global && self.cr4 & cr4::PGE != 0;
        for arr in [&mut self.tlb.read, &mut self.tlb.write, &mut self.tlb.exec] {
            for e in arr.iter_mut() {
                if !(keep_global && e.global) {
                    e.tag = 0;
                }
            }
        }
    }

    /// INVLPG: drops every entry for the page of `vaddr`.
    pub(crate) fn flush_page(&mut self, vaddr: u64) {
        let i = tlb_index(vaddr);
        for arr in [&mut self.tlb.read, &mut self.tlb.write, &mut self.tlb.exec] {
            if arr[i].tag & !0xfff == vaddr & !0xfff {
                arr[i].tag = 0;
            }
        }
    }

    /// Drops write entries that point at RAM page `ram_off` (it now holds decoded code).
    pub(crate) fn unmap_writes_to(&mut self, ram_off: usize) {
        for e in self.tlb.write.iter_mut() {
            if e.ram_off == ram_off {
                e.tag = 0;
            }
        }
    }

    /// Translates `vaddr` for `access` with `user` privilege; updates A/D bits.
    pub fn translate<B: Bus>(&mut self, bus: &mut B, vaddr: u64, access: Access, user: bool) -> Result<u64, Fault> {
        Ok(self.walk(bus, vaddr, access, user)?.0)
    }

    /// Returns the physical address and whether the mapping is global.
    fn walk<B: Bus>(&mut self, bus: &mut B, vaddr: u64, access: Access, user: bool) -> Result<(u64, bool), Fault> {
        if !canonical(vaddr) {
            return Err(Fault::GP(0));
        }
        if self.cr0 & cr0::PG == 0 {
            return Ok((vaddr, false));
        }
        let nxe = self.efer & efer::NXE != 0;
        let write = access == Access::Write;
        let mut code = if write { PF_W } else { 0 } | if user { PF_U } else { 0 };
        if access == Access::Exec && nxe {
            code |= PF_I;
        }
        let pf = |c: u32| Fault::PF { addr: vaddr, code: c };
        // Bits 51..PHYS_BITS are reserved; 52..62 are free for software.
        let mut reserved = ((1u64 << 52) - 1) & !((1u64 << PHYS_BITS) - 1);
        if !nxe {
            reserved |= NX;
        }
        let mut table = self.cr3 & ADDR_MASK;
        let (mut all_rw, mut all_us, mut nx) = (true, true, false);
        let mut level = 4;
        loop {
            let idx = (vaddr >> (12 + 9 * (level - 1))) & 0x1ff;
            let pte_addr = table + idx * 8;
            let Some(pte) = bus.ram().read_u64(pte_addr) else {
                return Err(pf(code | PF_RSVD));
            };
            if pte & P == 0 {
                return Err(pf(code));
            }
            let large = pte & PS != 0 && (level == 2 || level == 3);
            let mut rsv = reserved;
            if level == 4 {
                rsv |= PS;
            }
            if large {
                // The low address bits of a large page frame must be zero (bit 12 is PAT).
                rsv |= ((1u64 << (12 + 9 * (level - 1))) - 1) & !0x1fff;
            }
            if pte & rsv != 0 {
                return Err(pf(code | PF_P | PF_RSVD));
            }
            all_rw &= pte & RW != 0;
            all_us &= pte & US != 0;
            nx |= nxe && pte & NX != 0;
            let leaf = level == 1 || large;
            // Set A (and D on a leaf being written); write back only on change.
            let mut new = pte | A;
            if leaf && write {
                new |= D;
            }
            if leaf {
                // Permissions are checked before A/D are set.
                let denied = (user && !all_us)
                    || (write && !all_rw && (user || self.cr0 & cr0::WP != 0))
                    || (access == Access::Exec && nx);
                if denied {
                    return Err(pf(code | PF_P));
                }
            }
            if new != pte {
                bus.ram().write_u64(pte_addr, new);
            }
            if leaf {
                let page_mask = (1u64 << (12 + 9 * (level - 1))) - 1;
                let frame = if large { pte & ADDR_MASK & !page_mask } else { pte & ADDR_MASK };
                let global = pte & G != 0 && self.cr4 & cr4::PGE != 0;
                return Ok((frame | (vaddr & page_mask), global));
            }
            table = pte & ADDR_MASK;
            level -= 1;
        }
    }

    #[inline]
    pub(crate) fn user_mode(&self) -> bool {
        self.cpl() == 3
    }

    /// Translates an instruction address to an offset in RAM (code runs only from RAM).
    #[inline]
    pub(crate) fn fetch_ram_off<B: Bus>(&mut self, bus: &mut B, vaddr: u64) -> Result<usize, Fault> {
        let user = self.user_mode();
        let idx = tlb_index(vaddr);
        let tag = tlb_tag(vaddr, user);
        let e = self.tlb.exec[idx];
        if e.tag == tag {
            return Ok(e.ram_off + (vaddr & 0xfff) as usize);
        }
        let (paddr, global) = self.walk(bus, vaddr, Access::Exec, user)?;
        match bus.ram().offset(paddr & !0xfff, 4096) {
            Some(off) => {
                self.tlb.exec[idx] = TlbEntry { tag, ram_off: off, global };
                Ok(off + (vaddr & 0xfff) as usize)
            }
            // Executing from MMIO or unbacked space: treat as a machine check would; Linux
            // never does it, so report it as #GP rather than emulating device fetches.
            None => Err(Fault::GP(0)),
        }
    }

    /// The RAM offset of the page of `vaddr` if the fetch TLB has it for the privilege in
    /// [`Cpu::utag`] (the run loop's page crossings).
    #[inline(always)]
    pub(crate) fn fetch_tlb_hit(&self, vaddr: u64) -> Option<usize> {
        let e = &self.tlb.exec[tlb_index(vaddr)];
        (e.tag == (vaddr & !0xfff) | self.utag).then_some(e.ram_off)
    }

    /// The RAM offset of the page of `vaddr` if the read (or write) TLB has it for the current
    /// privilege: the page is RAM, accessible, and (for writes) dirty and free of decoded code.
    #[inline]
    pub(crate) fn tlb_ram(&self, vaddr: u64, write: bool) -> Option<usize> {
        let arr = if write { &self.tlb.write } else { &self.tlb.read };
        let e = &arr[tlb_index(vaddr)];
        (e.tag == tlb_tag(vaddr, self.user_mode())).then_some(e.ram_off)
    }

    /// The run loop's load: `size` (1, 2, 4, 8) bytes at `vaddr` with the privilege in
    /// [`Cpu::utag`], if the TLB has the page and the access does not cross its end. At least 8
    /// bytes before the end it reads 8 bytes and masks them, which needs neither a bounds check
    /// nor a branch on the size. `None`: the caller takes the slow path.
    #[inline(always)]
    pub(crate) fn ld_fast<B: Bus>(&self, bus: &mut B, vaddr: u64, size: u8) -> Option<u64> {
        let e = &self.tlb.read[tlb_index(vaddr)];
        let po = (vaddr & 0xfff) as usize;
        if e.tag == (vaddr & !0xfff) | self.utag {
            let page = bus.ram().pages().get(e.ram_off >> 12)?;
            if po <= 4088 {
                let v = u64::from_le_bytes(page[po..po + 8].try_into().unwrap());
                return Some(v & crate::flags::mask(size));
            }
            if po + size as usize <= 4096 {
                return Some(read_le(page, po, size));
            }
        }
        None
    }

    /// The run loop's store (see [`Cpu::ld_fast`]): whether it was done.
    #[inline(always)]
    pub(crate) fn st_fast<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, v: u64) -> bool {
        let e = &self.tlb.write[tlb_index(vaddr)];
        let po = (vaddr & 0xfff) as usize;
        if e.tag == (vaddr & !0xfff) | self.utag && po + size as usize <= 4096 {
            if let Some(page) = bus.ram().pages_mut().get_mut(e.ram_off >> 12) {
                write_le(page, po, size, v);
                return true;
            }
        }
        false
    }

    /// Loads `size` (1, 2, 4, 8) bytes at `vaddr` with the current privilege.
    #[inline]
    pub(crate) fn read<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8) -> Result<u64, Fault> {
        let user = self.user_mode();
        self.read_as(bus, vaddr, size, user)
    }

    #[inline]
    pub(crate) fn write<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, v: u64) -> Result<(), Fault> {
        let user = self.user_mode();
        self.write_as(bus, vaddr, size, v, user)
    }

    #[inline]
    pub(crate) fn read_as<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, user: bool) -> Result<u64, Fault> {
        let idx = tlb_index(vaddr);
        let e = self.tlb.read[idx];
        let in_page = (vaddr & 0xfff) as usize;
        if e.tag == tlb_tag(vaddr, user) && in_page + size as usize <= 4096 {
            return Ok(read_le(bus.ram().as_slice(), e.ram_off + in_page, size));
        }
        self.read_slow(bus, vaddr, size, user)
    }

    fn read_slow<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, user: bool) -> Result<u64, Fault> {
        if (vaddr & 0xfff) + size as u64 > 4096 {
            let mut v = 0u64;
            for k in 0..size as u64 {
                v |= self.read_as(bus, vaddr.wrapping_add(k), 1, user)? << (8 * k);
            }
            return Ok(v);
        }
        let (paddr, global) = self.walk(bus, vaddr, Access::Read, user)?;
        let ram = bus.ram();
        if let Some(off) = ram.offset(paddr & !0xfff, 4096) {
            let tag = tlb_tag(vaddr, user);
            self.tlb.read[tlb_index(vaddr)] = TlbEntry { tag, ram_off: off, global };
            return Ok(read_le(ram.as_slice(), off + (paddr & 0xfff) as usize, size));
        }
        let v = bus.mmio_read(paddr, size);
        self.after_device_access(bus);
        Ok(v)
    }

    #[inline]
    pub(crate) fn write_as<B: Bus>(
        &mut self,
        bus: &mut B,
        vaddr: u64,
        size: u8,
        v: u64,
        user: bool,
    ) -> Result<(), Fault> {
        let idx = tlb_index(vaddr);
        let e = self.tlb.write[idx];
        let in_page = (vaddr & 0xfff) as usize;
        if e.tag == tlb_tag(vaddr, user) && in_page + size as usize <= 4096 {
            write_le(bus.ram().as_mut_slice(), e.ram_off + in_page, size, v);
            return Ok(());
        }
        self.write_slow(bus, vaddr, size, v, user)
    }

    fn write_slow<B: Bus>(&mut self, bus: &mut B, vaddr: u64, size: u8, v: u64, user: bool) -> Result<(), Fault> {
        if (vaddr & 0xfff) + size as u64 > 4096 {
            // Check both pages before writing anything, so a fault leaves memory unchanged.
            let last = vaddr.wrapping_add(size as u64 - 1);
            self.walk(bus, vaddr, Access::Write, user)?;
            self.walk(bus, last, Access::Write, user)?;
            for k in 0..size as u64 {
                self.write_as(bus, vaddr.wrapping_add(k), 1, v >> (8 * k), user)?;
            }
            return Ok(());
        }
        let (paddr, global) = self.walk(bus, vaddr, Access::Write, user)?;
        if let Some(off) = bus.ram().offset(paddr & !0xfff, 4096) {
            self.code_written(off);
            let tag = tlb_tag(vaddr, user);
            self.tlb.write[tlb_index(vaddr)] = TlbEntry { tag, ram_off: off, global };
            write_le(bus.ram().as_mut_slice(), off + (paddr & 0xfff) as usize, size, v);
            return Ok(());
        }
        bus.mmio_write(paddr, size, v);
        self.after_device_access(bus);
        Ok(())
    }

    /// A store is about to change RAM page `ram_off`: forget code decoded from it.
    #[inline]
    pub(crate) fn code_written(&mut self, ram_off: usize) {
        if self.dcache.invalidate_page(ram_off) {
            // The running block may be the one just modified.
            self.stop_block = true;
        }
    }

    /// Checks that `[vaddr, vaddr+len)` is writable (for multi-part stores that must not fault
    /// half-way: FXSAVE, 16-byte stores, string ops).
    pub(crate) fn probe_write<B: Bus>(&mut self, bus: &mut B, vaddr: u64, len: u64) -> Result<(), Fault> {
        let user = self.user_mode();
        let mut page = vaddr & !0xfff;
        let last = vaddr.wrapping_add(len - 1) & !0xfff;
        loop {
            let a = if page < vaddr { vaddr } else { page };
            self.walk(bus, a, Access::Write, user)?;
            if page == last {
                return Ok(());
            }
            page = page.wrapping_add(4096);
        }
    }

    pub(crate) fn read128<B: Bus>(&mut self, bus: &mut B, vaddr: u64) -> Result<u128, Fault> {
        let lo = self.read(bus, vaddr, 8)?;
        let hi = self.read(bus, vaddr.wrapping_add(8), 8)?;
        Ok(lo as u128 | (hi as u128) << 64)
    }

    pub(crate) fn write128<B: Bus>(&mut self, bus: &mut B, vaddr: u64, v: u128) -> Result<(), Fault> {
        if (vaddr & 0xfff) > 0xff0 {
            self.probe_write(bus, vaddr, 16)?;
        }
        self.write(bus, vaddr, 8, v as u64)?;
        self.write(bus, vaddr.wrapping_add(8), 8, (v >> 64) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_addresses() {
        assert!(canonical(0x0000_7fff_ffff_ffff));
        assert!(canonical(0xffff_8000_0000_0000));
        assert!(!canonical(0x0000_8000_0000_0000));
        assert!(!canonical(0xfff0_0000_0000_0000));
    }
}
