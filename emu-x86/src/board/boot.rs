//! Direct Linux boot with the 64-bit boot protocol (Documentation/x86/boot.rst), no BIOS:
//! the protected-mode part of a bzImage at 1 MiB, the zero page (`boot_params`) with an e820
//! map, the command line and the initrd, identity page tables and a GDT, and the CPU put in long
//! mode at the 64-bit entry point (`code32_start + 0x200`) with RSI = the zero page.

use crate::Cpu;

/// RSI's index in [`Cpu::gpr`].
const GPR_RSI: usize = 6;
use emu_core::GuestRam;

/// Where the loader puts its own structures (all below 640 KiB, none used by the kernel before
/// it has read them).
pub const GDT_ADDR: u64 = 0x1000;
pub const PML4_ADDR: u64 = 0x9000;
pub const ZERO_PAGE_ADDR: u64 = 0x1_0000;
pub const CMDLINE_ADDR: u64 = 0x2_0000;
/// The protected-mode kernel's load address (the protocol's default `code32_start`).
pub const KERNEL_ADDR: u64 = 0x10_0000;
/// Top of conventional memory; from here to 1 MiB is reserved (EBDA, VGA hole, BIOS area,
/// where the MP table lives).
pub const LOW_RAM_END: u64 = 0x9_fc00;
pub const BIOS_AREA: u64 = 0xf_0000;

const BOOT_CS: u16 = 0x10;
const BOOT_DS: u16 = 0x18;
/// Page tables identity-map this much with 2 MiB pages: all of RAM and the MMIO window below
/// 4 GiB.
const IDENTITY_GIB: u64 = 4;

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("the kernel is not an x86 bzImage (no HdrS setup header)")]
    NotBzImage,
    #[error("the bzImage boot protocol {0:#x} is too old (2.12 or later is needed for 64-bit entry)")]
    OldProtocol(u16),
    #[error("the bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)")]
    No64BitEntry,
    #[error("guest RAM of {0} MiB is too small for the kernel and the initrd")]
    TooSmall(u64),
    #[error("the kernel command line is {0} bytes, longer than the kernel accepts ({1})")]
    CmdlineTooLong(usize, usize),
}

/// e820 memory types.
const E820_RAM: u32 = 1;
const E820_RESERVED: u32 = 2;

/// What the loader placed where (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub entry: u64,
    pub initrd_addr: u64,
    pub kernel_end: u64,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// Loads `kernel` (a bzImage), `initrd` and `cmdline` into `ram` (based at 0) and prepares
/// `cpu` to enter it.
pub fn load_linux(
    ram: &mut GuestRam,
    cpu: &mut Cpu,
    kernel: &[u8],
    initrd: &[u8],
    cmdline: &str,
) -> Result<Placement, BootError> {
    let mib = ram.size() >> 20;
    let too_small = || BootError::TooSmall(mib);
    if kernel.len() < 0x300 || &kernel[0x202..0x206] != b"HdrS" || u16_at(kernel, 0x1fe) != 0xaa55 {
        return Err(BootError::NotBzImage);
    }
    let version = u16_at(kernel, 0x206);
    if version < 0x20c {
        return Err(BootError::OldProtocol(version));
    }
    if u16_at(kernel, 0x236) & 1 == 0 {
        return Err(BootError::No64BitEntry);
    }
    let setup_sects = match kernel[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let pm_off = (setup_sects + 1) * 512;
    if pm_off >= kernel.len() {
        return Err(BootError::NotBzImage);
    }
    let pm = &kernel[pm_off..];
    // The decompressor works in [pref_address, pref_address + init_size); keep the initrd
    // clear of it as well as of the loaded image.
    let pref = u64::from_le_bytes(kernel[0x258..0x260].try_into().unwrap());
    let init_size = u32_at(kernel, 0x260) as u64;
    let kernel_end = (KERNEL_ADDR + pm.len() as u64).max(pref.saturating_add(init_size));
    ram.write(KERNEL_ADDR, pm).ok_or_else(too_small)?;

    let cmdline_max = if version >= 0x206 { u32_at(kernel, 0x238) as usize } else { 255 };
    if cmdline.len() > cmdline_max || cmdline.len() >= 4096 {
        return Err(BootError::CmdlineTooLong(cmdline.len(), cmdline_max.min(4095)));
    }
    let mut cl = cmdline.as_bytes().to_vec();
    cl.push(0);
    ram.write(CMDLINE_ADDR, &cl).ok_or_else(too_small)?;

    // The initrd goes as high as the kernel allows, page aligned.
    let initrd_max = (u32_at(kernel, 0x22c) as u64).min(ram.size() - 1);
    let initrd_addr = (initrd_max + 1).saturating_sub(initrd.len() as u64) & !0xfff;
    if initrd_addr < kernel_end + (8 << 20) {
        return Err(too_small());
    }
    // No initrd: the zero page says address 0, size 0.
    let initrd_addr = if initrd.is_empty() { 0 } else { initrd_addr };
    if !initrd.is_empty() {
        ram.write(initrd_addr, initrd).ok_or_else(too_small)?;
    }

    // The zero page: the setup header as the image has it, then what the loader fills in.
    let mut zp = vec![0u8; 4096];
    let hdr_end = (0x202 + kernel[0x201] as usize).min(kernel.len()).min(0x290);
    zp[0x1f1..hdr_end].copy_from_slice(&kernel[0x1f1..hdr_end]);
    zp[0x210] = 0xff; // type_of_loader: undefined
    zp[0x211] |= 0x01 | 0x80; // LOADED_HIGH, CAN_USE_HEAP
    zp[0x211] &= !0x40; // no KEEP_SEGMENTS
    zp[0x224..0x226].copy_from_slice(&(0xfe00u16).to_le_bytes()); // heap_end_ptr
    zp[0x214..0x218].copy_from_slice(&(KERNEL_ADDR as u32).to_le_bytes());
    zp[0x218..0x21c].copy_from_slice(&(initrd_addr as u32).to_le_bytes());
    zp[0x21c..0x220].copy_from_slice(&(initrd.len() as u32).to_le_bytes());
    zp[0x228..0x22c].copy_from_slice(&(CMDLINE_ADDR as u32).to_le_bytes());
    let ram_end = ram.size();
    let e820 = [
        (0, LOW_RAM_END, E820_RAM),
        (LOW_RAM_END, 0xa_0000 - LOW_RAM_END, E820_RESERVED),
        (BIOS_AREA, 0x10_0000 - BIOS_AREA, E820_RESERVED),
        (0x10_0000, ram_end - 0x10_0000, E820_RAM),
    ];
    zp[0x1e8] = e820.len() as u8;
    for (i, (addr, size, ty)) in e820.iter().enumerate() {
        let o = 0x2d0 + 20 * i;
        zp[o..o + 8].copy_from_slice(&addr.to_le_bytes());
        zp[o + 8..o + 16].copy_from_slice(&size.to_le_bytes());
        zp[o + 16..o + 20].copy_from_slice(&ty.to_le_bytes());
    }
    ram.write(ZERO_PAGE_ADDR, &zp).ok_or_else(too_small)?;

    // GDT: null, null, 64-bit code at 0x10, data at 0x18 (the protocol's __BOOT_CS/__BOOT_DS).
    let gdt: [u64; 4] = [0, 0, 0x00af_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        ram.write_u64(GDT_ADDR + 8 * i as u64, *d).ok_or_else(too_small)?;
    }
    // Identity map: PML4 -> one PDPT -> IDENTITY_GIB page directories of 2 MiB pages.
    let pdpt = PML4_ADDR + 0x1000;
    let pd0 = pdpt + 0x1000;
    ram.write_u64(PML4_ADDR, pdpt | 3).ok_or_else(too_small)?;
    for g in 0..IDENTITY_GIB {
        let pd = pd0 + g * 0x1000;
        ram.write_u64(pdpt + 8 * g, pd | 3).ok_or_else(too_small)?;
        for e in 0..512u64 {
            let phys = (g << 30) | (e << 21);
            ram.write_u64(pd + 8 * e, phys | 0x83).ok_or_else(too_small)?;
        }
    }

    cpu.enter_long_mode(PML4_ADDR, BOOT_CS, BOOT_DS);
    cpu.gdtr = crate::TableReg { base: GDT_ADDR, limit: (gdt.len() * 8 - 1) as u16 };
    let entry = KERNEL_ADDR + 0x200;
    cpu.rip = entry;
    cpu.gpr[GPR_RSI] = ZERO_PAGE_ADDR;
    Ok(Placement { entry, initrd_addr, kernel_end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage() -> Vec<u8> {
        let mut k = vec![0u8; 4 * 512 + 4096];
        k[0x1f1] = 3;
        k[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
        k[0x201] = 0x6a;
        k[0x202..0x206].copy_from_slice(b"HdrS");
        k[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        k[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        k[0x236..0x238].copy_from_slice(&1u16.to_le_bytes());
        k[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
        k[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
        k[0x260..0x264].copy_from_slice(&0x100_0000u32.to_le_bytes());
        k[4 * 512] = 0xf4; // first byte of the protected-mode kernel
        k
    }

    #[test]
    fn loads_kernel_zero_page_initrd_and_enters_long_mode() {
        let mut ram = GuestRam::new(0, 64 << 20);
        let mut cpu = Cpu::new(ram.size());
        let initrd = vec![7u8; 5000];
        let p = load_linux(&mut ram, &mut cpu, &fake_bzimage(), &initrd, "console=ttyS0").unwrap();
        assert_eq!(p.entry, 0x10_0200);
        assert_eq!(cpu.rip, 0x10_0200);
        assert_eq!(cpu.gpr[GPR_RSI], ZERO_PAGE_ADDR);
        assert_eq!(ram.slice(KERNEL_ADDR, 1).unwrap()[0], 0xf4);
        assert_eq!(p.initrd_addr % 4096, 0);
        assert!(p.initrd_addr + 5000 <= 64 << 20);
        assert_eq!(ram.read_u32(ZERO_PAGE_ADDR + 0x218), Some(p.initrd_addr as u32));
        assert_eq!(ram.read_u32(ZERO_PAGE_ADDR + 0x21c), Some(5000));
        assert_eq!(ram.slice(CMDLINE_ADDR, 14).unwrap(), b"console=ttyS0\0");
        assert_eq!(ram.slice(ZERO_PAGE_ADDR + 0x202, 4).unwrap(), b"HdrS");
        assert_eq!(ram.slice(ZERO_PAGE_ADDR + 0x1e8, 1).unwrap()[0], 4);
        // The last e820 entry covers RAM from 1 MiB to the end.
        let last = ZERO_PAGE_ADDR + 0x2d0 + 3 * 20;
        assert_eq!(ram.read_u64(last), Some(0x10_0000));
        assert_eq!(ram.read_u64(last + 8), Some((64 << 20) - 0x10_0000));
        // 2 MiB identity mapping of a high address.
        let pd3 = PML4_ADDR + 0x2000 + 3 * 0x1000;
        assert_eq!(ram.read_u64(pd3 + 8 * 511), Some(0xffe0_0000 | 0x83));
        assert_eq!(cpu.cr3, PML4_ADDR);
    }

    #[test]
    fn refuses_what_it_cannot_boot() {
        let mut ram = GuestRam::new(0, 64 << 20);
        let mut cpu = Cpu::new(ram.size());
        assert!(matches!(load_linux(&mut ram, &mut cpu, b"junk", &[], ""), Err(BootError::NotBzImage)));
        let mut k = fake_bzimage();
        k[0x236] = 0;
        assert!(matches!(load_linux(&mut ram, &mut cpu, &k, &[], ""), Err(BootError::No64BitEntry)));
        let long = "x".repeat(3000);
        assert!(matches!(
            load_linux(&mut ram, &mut cpu, &fake_bzimage(), &[], &long),
            Err(BootError::CmdlineTooLong(3000, 2047))
        ));
        let p = load_linux(&mut ram, &mut cpu, &fake_bzimage(), &[], "").unwrap();
        assert_eq!((p.initrd_addr, ram.read_u32(ZERO_PAGE_ADDR + 0x21c)), (0, Some(0)));
        let big = vec![0u8; 60 << 20];
        assert!(matches!(load_linux(&mut ram, &mut cpu, &fake_bzimage(), &big, ""), Err(BootError::TooSmall(64))));
    }
}
