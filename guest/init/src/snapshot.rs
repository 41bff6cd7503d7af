//! Before the VM's pre-boot snapshot: free guest memory is made zero, so the snapshot (which
//! stores every non-zero byte of the VM's memory, guest RAM included) does not carry the
//! garbage of pages the kernel used during boot and freed (the unpacked initramfs, init
//! sections, boot-time allocations).
//!
//! How: map nearly all free memory anonymously, write a zero into every page (the kernel hands
//! out zero-filled pages, and the write forces each to be allocated rather than mapped to the
//! shared zero page), then unmap it: the pages go back to the free lists all zero. The page
//! cache is left alone, so files read during boot stay warm in the snapshot.

/// Memory left free while zeroing, so nothing else in the guest runs short meanwhile.
const MARGIN: usize = 16 << 20;

/// Zeroes most free guest memory (best effort: any failure leaves the snapshot as it was).
pub fn zero_free_memory() {
    // SAFETY: sysinfo fills the struct it is given; a zeroed sysinfo is a valid value.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut si) } != 0 {
        return;
    }
    let free = (si.freeram as usize).saturating_mul(si.mem_unit.max(1) as usize);
    let len = free.saturating_sub(MARGIN) & !0xfff;
    if len == 0 {
        return;
    }
    // SAFETY: an anonymous private mapping at an address the kernel picks; used only here.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return;
    }
    let base = p.cast::<u8>();
    for off in (0..len).step_by(4096) {
        // SAFETY: `off` is inside the mapping; volatile so the write (of the value the page
        // already holds) is not optimised away: it is what allocates the page.
        unsafe { std::ptr::write_volatile(base.add(off), 0) };
    }
    // SAFETY: unmaps exactly the mapping made above.
    unsafe { libc::munmap(p, len) };
}
