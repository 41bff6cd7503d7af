//! The riscv64 board: RAM at 0x8000_0000, CLINT, PLIC, four virtio-mmio devices, the SBI in
//! the machine, and Linux boot (Image + initrd + generated device tree).

use crate::clint::{self, Clint};
use crate::csr::irq;
use crate::fdt::FdtWriter;
use crate::hart::{Bus, Exit, Hart, PRV_S};
use crate::plic::{self, Plic};
use crate::sbi::{self, SbiEffect};
use devices::VirtioSet;
use emu_core::session::{Halt, Machine, Slice};
use emu_core::{DevCtx, GuestClock, GuestRam, Host, KernelLog, MmioDevice};
use std::path::PathBuf;

pub use emu_core::BootImage;

pub const RAM_BASE: u64 = 0x8000_0000;
pub const VIRTIO_BASE: u64 = 0x1000_1000;
pub const VIRTIO_STRIDE: u64 = 0x1000;
/// virtio slots, in [`VirtioSet`] order; slot i uses PLIC source i + 1.
const NUM_SLOTS: u64 = VirtioSet::SLOTS as u64;

/// The timebase: 10 MHz, as QEMU's virt machine.
pub const TIMEBASE_HZ: u64 = 10_000_000;
/// The guest clock counts timebase ticks.
const NS_PER_TICK: u64 = 1_000_000_000 / TIMEBASE_HZ;
/// Pre-boot runs on a virtual clock: this many instructions make one timer tick.
const INSNS_PER_TICK: u64 = 10;
/// Instructions per slice between looks at the clock and the devices.
const SLICE: u64 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("the kernel is not a RISC-V Linux Image (bad header)")]
    BadKernel,
    #[error("guest RAM of {0} MiB is too small for the kernel, initrd and device tree")]
    TooSmall(u64),
}

/// Everything on the bus except the hart.
pub struct System {
    pub ram: GuestRam,
    pub clint: Clint,
    pub plic: Plic,
    pub virtio: VirtioSet,
    /// The guest kernel's console output (SBI putchar), kept for error reports.
    pub console_log: KernelLog,
    pub halted: Option<Halt>,
    mtime: u64,
}

pub struct RiscvMachine {
    pub hart: Hart,
    pub sys: System,
    /// Guest time in timebase ticks.
    clock: GuestClock,
}

/// The bus as the hart sees it during a slice: the system plus the host for device I/O.
struct BusView<'a> {
    sys: &'a mut System,
    host: &'a mut dyn Host,
}

impl BusView<'_> {
    fn virtio(&mut self, slot: u64) -> (&mut dyn MmioDevice, DevCtx<'_>) {
        let sys = &mut *self.sys;
        (sys.virtio.slot(slot as usize), DevCtx { ram: &mut sys.ram, host: &mut *self.host })
    }
}

impl System {
    /// MTIP and MSIP as the CLINT drives them at the current time.
    fn clint_bits(&self) -> u64 {
        let mti = if self.mtime >= self.clint.mtimecmp { irq::MTI } else { 0 };
        let msi = if self.clint.msip { irq::MSI } else { 0 };
        mti | msi
    }

    /// Samples every device's interrupt line into the PLIC.
    fn sync_irqs(&mut self) {
        for (slot, level) in self.virtio.irq_levels().into_iter().enumerate() {
            self.plic.set_level(1 + slot as u32, level);
        }
    }
}

impl Bus for BusView<'_> {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.sys.ram
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> Option<u64> {
        if addr.wrapping_sub(clint::BASE) < clint::SIZE {
            return Some(self.sys.clint.read(addr - clint::BASE, size, self.sys.mtime));
        }
        if addr.wrapping_sub(plic::BASE) < plic::SIZE {
            return Some(self.sys.plic.read(addr - plic::BASE) as u64);
        }
        let off = addr.wrapping_sub(VIRTIO_BASE);
        if off < NUM_SLOTS * VIRTIO_STRIDE {
            let (dev, mut ctx) = self.virtio(off / VIRTIO_STRIDE);
            let v = dev.read(&mut ctx, off % VIRTIO_STRIDE, size);
            self.sys.sync_irqs();
            return Some(v);
        }
        None
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) -> Option<()> {
        if addr.wrapping_sub(clint::BASE) < clint::SIZE {
            self.sys.clint.write(addr - clint::BASE, size, value);
            return Some(());
        }
        if addr.wrapping_sub(plic::BASE) < plic::SIZE {
            self.sys.plic.write(addr - plic::BASE, value as u32);
            return Some(());
        }
        let off = addr.wrapping_sub(VIRTIO_BASE);
        if off < NUM_SLOTS * VIRTIO_STRIDE {
            let (dev, mut ctx) = self.virtio(off / VIRTIO_STRIDE);
            dev.write(&mut ctx, off % VIRTIO_STRIDE, size, value);
            self.sys.sync_irqs();
            return Some(());
        }
        None
    }

    fn external_interrupts(&mut self) -> u64 {
        self.sys.plic.mip_bits() | self.sys.clint_bits()
    }

    fn driven_interrupts(&self) -> u64 {
        irq::MEI | irq::SEI | irq::MTI | irq::MSI
    }
}

/// The kernel command line: hvc0 is the SBI console (kernel log); the virtio console is hvc1,
/// the init's channel. `panic=-1` turns a kernel panic into an immediate reboot, which ends the
/// run with an error.
pub const CMDLINE: &str = "console=hvc0 c2w_chan=hvc1 quiet panic=-1";

/// The machine for a bundle (it takes the root image), as the VM binary and the bench example
/// build it ([`emu_core::vm::BuildFn`]).
pub fn from_bundle(b: &mut emu_core::bundle::Bundle) -> Result<Box<dyn Machine>, String> {
    emu_core::vm::build_machine(b, CMDLINE, RiscvMachine::new)
}

impl RiscvMachine {
    pub fn new(boot: BootImage) -> Result<Self, BootError> {
        let ram_size = boot.memory_mib << 20;
        let mut ram = GuestRam::new(RAM_BASE, ram_size as usize);
        // Linux riscv Image header: text_offset at 8, image_size at 16, magic at 0x30/0x38.
        let k = boot.kernel;
        if k.len() < 64 || &k[0x30..0x38] != b"RISCV\0\0\0" {
            return Err(BootError::BadKernel);
        }
        let text_offset = u64::from_le_bytes(k[8..16].try_into().unwrap());
        let image_size = u64::from_le_bytes(k[16..24].try_into().unwrap()).max(k.len() as u64);
        let kernel_addr = RAM_BASE + text_offset;
        let kernel_end = kernel_addr + image_size;
        // The device tree goes 2 MiB below the top of RAM, the initrd right under it.
        let dtb_addr = RAM_BASE + ram_size - (2 << 20);
        let initrd_addr = (dtb_addr - boot.initrd.len() as u64) & !0xfff;
        if initrd_addr <= kernel_end + (16 << 20) {
            return Err(BootError::TooSmall(boot.memory_mib));
        }
        ram.write(kernel_addr, k).ok_or(BootError::TooSmall(boot.memory_mib))?;
        ram.write(initrd_addr, boot.initrd).ok_or(BootError::TooSmall(boot.memory_mib))?;
        let dtb = device_tree(ram_size, boot.cmdline, initrd_addr, initrd_addr + boot.initrd.len() as u64);
        ram.write(dtb_addr, &dtb).ok_or(BootError::TooSmall(boot.memory_mib))?;

        let mut hart = Hart::new();
        hart.pc = kernel_addr;
        hart.x[10] = 0; // hart id
        hart.x[11] = dtb_addr;
        // What M-mode firmware would leave behind: traps and interrupts delegated to S-mode,
        // counters and Sstc enabled, then a jump to S-mode.
        hart.csr.medeleg = crate::fatal::MEDELEG;
        hart.csr.mideleg = irq::S_MASK;
        hart.csr.mcounteren = 7;
        // OpenSBI also opens cycle/time/instret to user mode at hart init, and Linux relies on
        // it: glibc's vDSO clock_gettime reads `time` directly.
        hart.csr.scounteren = 7;
        hart.csr.menvcfg = 1 << 63;
        hart.csr.mie = irq::S_MASK;
        hart.sbi_in_machine = true;
        hart.set_priv(PRV_S);

        let sys = System {
            ram,
            clint: Clint::default(),
            plic: Plic::default(),
            virtio: VirtioSet::new(boot.rootfs, proto::P9_TAG),
            console_log: KernelLog::default(),
            halted: None,
            mtime: 0,
        };
        Ok(Self { hart, sys, clock: GuestClock::new(NS_PER_TICK) })
    }

    /// What the retired instructions are worth on the virtual clock, in ticks.
    fn retired_ticks(&self) -> u64 {
        self.hart.instret / INSNS_PER_TICK
    }

    fn update_timers(&mut self, host: &mut dyn Host) {
        let now = self.clock.now(self.retired_ticks(), host);
        self.hart.mtime = now;
        self.sys.mtime = now;
        self.hart.update_stip();
        self.hart.csr.mip = (self.hart.csr.mip & !(irq::MTI | irq::MSI)) | self.sys.clint_bits();
    }

    /// The next timer event; a compare value of all ones is how a guest leaves a timer off.
    fn next_deadline_ticks(&self) -> Option<u64> {
        Some(self.hart.csr.stimecmp.min(self.sys.clint.mtimecmp)).filter(|&d| d != u64::MAX)
    }

    fn poll_devices(&mut self, host: &mut dyn Host) {
        let sys = &mut self.sys;
        let mut ctx = DevCtx { ram: &mut sys.ram, host };
        sys.virtio.poll(&mut ctx);
        sys.sync_irqs();
        self.hart.csr.mip = (self.hart.csr.mip & !(irq::MEI | irq::SEI)) | sys.plic.mip_bits();
    }
}

impl Machine for RiscvMachine {
    fn run_slice(&mut self, host: &mut dyn Host) -> Slice {
        if let Some(h) = &self.sys.halted {
            return Slice::Halted(h.clone());
        }
        self.poll_devices(host);
        self.update_timers(host);
        if self.hart.wfi {
            if self.hart.interrupt_waiting() {
                self.hart.wfi = false;
            } else {
                let deadline = self.next_deadline_ticks();
                if let Some(slice) = self.clock.idle(self.retired_ticks(), deadline, host) {
                    return slice;
                }
                // Pre-boot skipped to the deadline: the timer fires and the hart runs on.
                self.update_timers(host);
                self.hart.wfi = false;
            }
        }
        let mut bus = BusView { sys: &mut self.sys, host };
        match self.hart.run(&mut bus, SLICE) {
            Exit::Budget | Exit::Device => {}
            Exit::Wfi => {}
            Exit::Sbi => match sbi::handle(&mut self.hart) {
                SbiEffect::None => {}
                SbiEffect::ConsoleByte(b) => {
                    self.sys.console_log.push(&[b]);
                    host.console_log(&[b]);
                }
                SbiEffect::Shutdown => self.sys.halted = Some(Halt::PowerOff),
                SbiEffect::Reboot => self.sys.halted = Some(Halt::Reboot),
            },
        }
        if let Some(why) = crate::fatal::trap_loop(&self.hart) {
            self.sys.halted = Some(Halt::Fatal(why));
        }
        if let Some(h) = &self.sys.halted {
            return Slice::Halted(h.clone());
        }
        Slice::Ran
    }

    fn drain_channel(&mut self, out: &mut Vec<u8>) {
        self.sys.virtio.drain_channel(out);
    }

    fn feed_channel(&mut self, data: &[u8]) {
        self.sys.virtio.feed_channel(data);
    }

    fn channel_backlog(&self) -> usize {
        self.sys.virtio.channel_backlog()
    }

    fn set_shares(&mut self, shares: Vec<(String, PathBuf)>) {
        self.sys.virtio.set_shares(shares);
    }

    fn use_host_clock(&mut self, host: &mut dyn Host) {
        self.clock.use_host(self.retired_ticks(), host);
    }

    fn console_tail(&self) -> String {
        self.sys.console_log.tail(20)
    }

    fn instructions(&self) -> u64 {
        self.hart.instret
    }

    fn drop_caches(&mut self) {
        self.hart.clear_decoded();
    }
}

/// The device tree Linux boots from.
pub fn device_tree(ram_size: u64, cmdline: &str, initrd_start: u64, initrd_end: u64) -> Vec<u8> {
    const CPU_INTC: u32 = 1;
    const PLIC_PHANDLE: u32 = 2;
    let mut w = FdtWriter::default();
    w.begin_node("");
    w.prop_u32("#address-cells", 2);
    w.prop_u32("#size-cells", 2);
    w.prop_str("compatible", "c2w,riscv-virtio");
    w.prop_str("model", "c2w riscv64");

    w.begin_node("chosen");
    w.prop_str("bootargs", cmdline);
    w.prop_u64("linux,initrd-start", initrd_start);
    w.prop_u64("linux,initrd-end", initrd_end);
    w.end_node();

    w.begin_node("cpus");
    w.prop_u32("#address-cells", 1);
    w.prop_u32("#size-cells", 0);
    w.prop_u32("timebase-frequency", TIMEBASE_HZ as u32);
    w.begin_node("cpu@0");
    w.prop_str("device_type", "cpu");
    w.prop_u32("reg", 0);
    w.prop_str("status", "okay");
    w.prop_str("compatible", "riscv");
    w.prop_str("riscv,isa", "rv64imafdc_zicsr_zifencei_zicntr_sstc");
    w.prop_str("mmu-type", "riscv,sv48");
    w.begin_node("interrupt-controller");
    w.prop_u32("#interrupt-cells", 1);
    w.prop_empty("interrupt-controller");
    w.prop_str("compatible", "riscv,cpu-intc");
    w.prop_u32("phandle", CPU_INTC);
    w.end_node();
    w.end_node();
    w.end_node();

    w.begin_node(&format!("memory@{RAM_BASE:x}"));
    w.prop_str("device_type", "memory");
    w.prop_reg(RAM_BASE, ram_size);
    w.end_node();

    w.begin_node("soc");
    w.prop_u32("#address-cells", 2);
    w.prop_u32("#size-cells", 2);
    w.prop_str("compatible", "simple-bus");
    w.prop_empty("ranges");

    w.begin_node(&format!("clint@{:x}", clint::BASE));
    w.prop_strs("compatible", &["sifive,clint0", "riscv,clint0"]);
    w.prop_reg(clint::BASE, clint::SIZE);
    w.prop_u32s("interrupts-extended", &[CPU_INTC, 3, CPU_INTC, 7]);
    w.end_node();

    w.begin_node(&format!("plic@{:x}", plic::BASE));
    w.prop_strs("compatible", &["sifive,plic-1.0.0", "riscv,plic0"]);
    w.prop_reg(plic::BASE, plic::SIZE);
    w.prop_u32("#address-cells", 0);
    w.prop_u32("#interrupt-cells", 1);
    w.prop_empty("interrupt-controller");
    w.prop_u32s("interrupts-extended", &[CPU_INTC, 11, CPU_INTC, 9]);
    w.prop_u32("riscv,ndev", plic::NUM_SOURCES - 1);
    w.prop_u32("phandle", PLIC_PHANDLE);
    w.end_node();

    for slot in 0..NUM_SLOTS {
        let base = VIRTIO_BASE + slot * VIRTIO_STRIDE;
        w.begin_node(&format!("virtio_mmio@{base:x}"));
        w.prop_str("compatible", "virtio,mmio");
        w.prop_reg(base, VIRTIO_STRIDE);
        w.prop_u32("interrupt-parent", PLIC_PHANDLE);
        w.prop_u32("interrupts", 1 + slot as u32);
        w.end_node();
    }
    w.end_node();
    w.end_node();
    w.finish()
}
