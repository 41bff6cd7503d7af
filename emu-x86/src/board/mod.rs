//! The x86_64 board: RAM from address 0, a local APIC, an IOAPIC, the 8259 pair, the 8254 PIT,
//! the CMOS RTC, a 16550A UART on COM1 (the kernel console), an i8042 stub (reset), four
//! virtio-mmio devices (console = the init's channel, blk = the root image, 9p, rng), an MP
//! table, and direct Linux boot (see `boot.rs`).
//!
//! Ports and addresses:
//! - 0x20/0x21, 0xA0/0xA1 PIC; 0x40-0x43, 0x61 PIT; 0x70/0x71 RTC; 0x3F8-0x3FF UART;
//!   0x60/0x64 i8042 (writing 0xFE to 0x64 resets = [`Halt::Reboot`]); 0xCF9 reset control
//!   (bit 2 = reset); 0x80 POST code (ignored); 0x501 power-off: any write stops the machine
//!   with [`Halt::PowerOff`] (our own port, as QEMU's isa-debug-exit; Linux without ACPI has
//!   no power-off method of its own, it halts with interrupts off, which also powers off here).
//! - 0xFEB00000 + 4 KiB per virtio device, IRQs [`VIRTIO_IRQS`] (level, IOAPIC pin = IRQ);
//!   0xFEC00000 IOAPIC; 0xFEE00000 local APIC.
//!
//! Time: guest nanoseconds. During pre-boot they come from retired instructions
//! ([`NS_PER_INSN`]) plus idle time skipped; at run time from the host's monotonic clock. The
//! TSC counts guest nanoseconds (1 GHz), the APIC timer runs at 1 GHz before its divider.

pub mod boot;
pub mod dma;
pub mod ioapic;
pub mod lapic;
pub mod mptable;
pub mod pic;
pub mod pit;
pub mod rtc;
pub mod uart;

use crate::{Bus, Cpu, Exit};
use devices::VirtioSet;
use dma::DmaWatch;
use emu_core::session::{Halt, Machine, Slice};
use emu_core::{DevCtx, GuestClock, GuestRam, Host, KernelLog, MmioDevice};
use ioapic::Ioapic;
use lapic::Lapic;
use pic::Pic;
use pit::Pit;
use rtc::Rtc;
use std::path::PathBuf;
use uart::Uart;

/// The x86 command line lacks the virtio announcements: the board appends them.
pub use emu_core::BootImage;

pub const VIRTIO_BASE: u64 = 0xfeb0_0000;
pub const VIRTIO_STRIDE: u64 = 0x1000;
/// ISA IRQ (= IOAPIC pin) of each virtio slot, in [`VirtioSet`] order: console, blk, 9p, rng.
pub const VIRTIO_IRQS: [u8; NUM_SLOTS] = [5, 6, 7, 10];
const NUM_SLOTS: usize = VirtioSet::SLOTS;
const UART_IRQ: u8 = 4;
/// ISA IRQ0 (the PIT) arrives on IOAPIC pin 2, as on PCs.
const PIT_PIN: usize = 2;
pub const MPTABLE_ADDR: u64 = boot::BIOS_AREA;
pub const POWER_OFF_PORT: u16 = 0x501;

/// Pre-boot's virtual clock: guest nanoseconds per retired instruction (a 100 MIPS CPU).
pub const NS_PER_INSN: u64 = 10;
/// Instructions per slice.
const SLICE: u64 = 200_000;
/// The date the RTC shows at guest time 0 during pre-boot (2024-01-01 UTC); the init sets the
/// real time from the run request.
const PREBOOT_EPOCH_SECS: u64 = 1_704_067_200;

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(transparent)]
    Boot(#[from] boot::BootError),
}

/// Everything on the bus except the CPU.
pub struct System {
    pub ram: GuestRam,
    lapic: Lapic,
    ioapic: Ioapic,
    pic: Pic,
    pit: Pit,
    rtc: Rtc,
    uart: Uart,
    pub virtio: VirtioSet,
    dma: [DmaWatch; NUM_SLOTS],
    /// RAM ranges devices wrote, for the CPU's decode cache.
    dma_written: Vec<(u64, u64)>,
    /// Last levels seen of the virtio and UART lines.
    virtio_lines: [bool; NUM_SLOTS],
    uart_line: bool,
    /// The guest kernel's console output, kept for error reports.
    pub console_log: KernelLog,
    pub halted: Option<Halt>,
}

impl System {
    fn virtio(&mut self, slot: usize) -> (&mut dyn MmioDevice, &mut GuestRam, &mut DmaWatch) {
        (self.virtio.slot(slot), &mut self.ram, &mut self.dma[slot])
    }

    fn deliver(&mut self, msg: Option<ioapic::Message>) {
        if let Some((v, level)) = msg {
            self.lapic.accept(v, level);
        }
    }

    /// Drives an ISA IRQ line into both interrupt controllers.
    fn set_isa_line(&mut self, irq: u8, level: bool) {
        self.pic.set_line(irq, level);
        let pin = if irq == 0 { PIT_PIN } else { irq as usize };
        let m = self.ioapic.set_line(pin, level);
        self.deliver(m);
    }

    /// Samples the device lines, forwards level-triggered EOIs to the IOAPIC and collects
    /// DMA-written ranges.
    fn sync(&mut self) {
        for (slot, level) in self.virtio.irq_levels().into_iter().enumerate() {
            if level != self.virtio_lines[slot] {
                self.virtio_lines[slot] = level;
                self.set_isa_line(VIRTIO_IRQS[slot], level);
            }
        }
        let u = self.uart.irq();
        if u != self.uart_line {
            self.uart_line = u;
            self.set_isa_line(UART_IRQ, u);
        }
        while !self.lapic.eoi_out.is_empty() {
            let mut out = Vec::new();
            for v in std::mem::take(&mut self.lapic.eoi_out) {
                self.ioapic.eoi(v, &mut out);
            }
            for m in out {
                self.deliver(Some(m));
            }
        }
        let System { ram, dma, dma_written, .. } = self;
        for d in dma.iter_mut() {
            d.collect(ram, |a, l| dma_written.push((a, l)));
        }
    }

    /// Timers due at `now` raise their interrupts.
    fn tick(&mut self, now: u64) {
        self.lapic.tick(now);
        if self.pit.tick(now) {
            self.set_isa_line(0, true);
            self.set_isa_line(0, false);
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        match (self.lapic.next_deadline(), self.pit.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn interrupt_pending(&self) -> bool {
        self.lapic.pending().is_some() || (self.lapic.extint_open() && self.pic.intr())
    }

    fn log_console(&mut self, host: &mut dyn Host) {
        if self.uart.out.is_empty() {
            return;
        }
        let out = std::mem::take(&mut self.uart.out);
        host.console_log(&out);
        self.console_log.push(&out);
    }
}

/// The bus as the CPU sees it during one `Cpu::run`.
struct BusView<'a> {
    sys: &'a mut System,
    host: &'a mut dyn Host,
    clock: GuestClock,
    /// What the instructions retired before this run are worth on the virtual clock: it does
    /// not move within a run.
    retired_ns: u64,
    want_exit: bool,
}

impl BusView<'_> {
    fn now(&mut self) -> u64 {
        self.clock.now(self.retired_ns, self.host)
    }

    /// After a device access: with the virtual clock, end the run so time catches up with the
    /// instructions retired before the next access; always when devices wrote RAM.
    fn accessed(&mut self) {
        self.sys.sync();
        if self.clock.is_virtual() || !self.sys.dma_written.is_empty() || self.sys.halted.is_some() {
            self.want_exit = true;
        }
    }

    fn unix_secs(&mut self) -> u64 {
        if self.clock.is_virtual() {
            PREBOOT_EPOCH_SECS + self.now() / 1_000_000_000
        } else {
            self.host.wall_clock_ns() / 1_000_000_000
        }
    }

    fn port_in8(&mut self, port: u16) -> u8 {
        let now = self.now();
        match port {
            0x20 | 0x21 | 0xa0 | 0xa1 => self.sys.pic.read(port),
            0x40..=0x43 | 0x61 => self.sys.pit.read(port, now),
            0x70 | 0x71 => {
                let t = self.unix_secs();
                self.sys.rtc.read(port, t)
            }
            0x3f8..=0x3ff => self.sys.uart.read(port - uart::BASE),
            0x60 | 0x64 | 0x4d0 | 0x4d1 => 0,
            _ => 0xff,
        }
    }

    fn port_out8(&mut self, port: u16, v: u8) {
        let now = self.now();
        match port {
            0x20 | 0x21 | 0xa0 | 0xa1 => self.sys.pic.write(port, v),
            0x40..=0x43 | 0x61 => self.sys.pit.write(port, v, now),
            0x70 | 0x71 => self.sys.rtc.write(port, v),
            0x3f8..=0x3ff => {
                self.sys.uart.write(port - uart::BASE, v);
                self.sys.log_console(self.host);
            }
            0x64 if v == 0xfe => self.sys.halted = Some(Halt::Reboot),
            0xcf9 if v & 4 != 0 => self.sys.halted = Some(Halt::Reboot),
            POWER_OFF_PORT => self.sys.halted = Some(Halt::PowerOff),
            _ => {}
        }
    }
}

impl Bus for BusView<'_> {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.sys.ram
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> u64 {
        let v = if addr.wrapping_sub(lapic::BASE) < lapic::SIZE {
            let now = self.now();
            if size == 4 {
                self.sys.lapic.read(addr - lapic::BASE, now) as u64
            } else {
                0
            }
        } else if addr.wrapping_sub(ioapic::BASE) < ioapic::SIZE {
            self.sys.ioapic.read(addr - ioapic::BASE) as u64
        } else if addr.wrapping_sub(VIRTIO_BASE) < NUM_SLOTS as u64 * VIRTIO_STRIDE {
            let off = addr - VIRTIO_BASE;
            let (dev, ram, _) = self.sys.virtio((off / VIRTIO_STRIDE) as usize);
            let mut ctx = DevCtx { ram, host: &mut *self.host };
            dev.read(&mut ctx, off % VIRTIO_STRIDE, size)
        } else {
            u64::MAX >> (64 - 8 * size as u32)
        };
        self.accessed();
        v
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) {
        if addr.wrapping_sub(lapic::BASE) < lapic::SIZE {
            let now = self.now();
            if size == 4 {
                self.sys.lapic.write(addr - lapic::BASE, value as u32, now);
            }
        } else if addr.wrapping_sub(ioapic::BASE) < ioapic::SIZE {
            let mut out = Vec::new();
            self.sys.ioapic.write(addr - ioapic::BASE, value as u32, &mut out);
            for m in out {
                self.sys.deliver(Some(m));
            }
        } else if addr.wrapping_sub(VIRTIO_BASE) < NUM_SLOTS as u64 * VIRTIO_STRIDE {
            let off = addr - VIRTIO_BASE;
            let (dev, ram, watch) = self.sys.virtio((off / VIRTIO_STRIDE) as usize);
            watch.on_write(off % VIRTIO_STRIDE, value, ram);
            let mut ctx = DevCtx { ram, host: &mut *self.host };
            dev.write(&mut ctx, off % VIRTIO_STRIDE, size, value);
        }
        self.accessed();
    }

    fn io_in(&mut self, port: u16, size: u8) -> u32 {
        let mut v = 0u32;
        for i in 0..size as u16 {
            v |= (self.port_in8(port.wrapping_add(i)) as u32) << (8 * i);
        }
        self.accessed();
        v
    }

    fn io_out(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..size as u16 {
            self.port_out8(port.wrapping_add(i), (value >> (8 * i)) as u8);
        }
        self.accessed();
    }

    fn interrupt_pending(&mut self) -> bool {
        self.sys.interrupt_pending()
    }

    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        if let Some(v) = self.sys.lapic.acknowledge() {
            return Some(v);
        }
        if self.sys.lapic.extint_open() {
            return self.sys.pic.acknowledge();
        }
        None
    }

    fn rdmsr(&mut self, msr: u32) -> Option<u64> {
        match msr {
            crate::msr::APIC_BASE => Some(self.sys.lapic.apic_base),
            crate::msr::TSC_DEADLINE => Some(self.sys.lapic.tsc_deadline),
            _ => None,
        }
    }

    fn wrmsr(&mut self, msr: u32, value: u64) -> bool {
        match msr {
            crate::msr::APIC_BASE => {
                // The base stays where the MP table says; only the enable bit matters.
                self.sys.lapic.apic_base = lapic::BASE | (value & (1 << 11)) | (1 << 8);
                true
            }
            crate::msr::TSC_DEADLINE => {
                self.sys.lapic.set_tsc_deadline(value);
                // Let the run loop shorten its budget to the new deadline.
                self.want_exit = true;
                true
            }
            _ => false,
        }
    }

    fn tsc(&mut self) -> u64 {
        self.now()
    }

    fn exit_requested(&mut self) -> bool {
        std::mem::take(&mut self.want_exit)
    }
}

pub struct X86Machine {
    pub cpu: Cpu,
    pub sys: System,
    /// Guest time in nanoseconds.
    clock: GuestClock,
}

/// `virtio_mmio.device=` arguments announcing the board's virtio devices, in slot order.
pub fn virtio_cmdline() -> String {
    (0..NUM_SLOTS)
        .map(|i| format!("virtio_mmio.device=4K@{:#x}:{}", VIRTIO_BASE + i as u64 * VIRTIO_STRIDE, VIRTIO_IRQS[i]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kernel command line: the kernel log goes to the UART (ttyS0); the virtio console is the
/// only hvc, hvc0, the init's channel. `panic=-1` turns a kernel panic into an immediate
/// reboot, which ends the run with an error. The board appends the virtio-mmio device
/// announcements.
pub const CMDLINE: &str = "console=ttyS0 c2w_chan=hvc0 quiet panic=-1";

/// The machine for a bundle (it takes the root image), as the VM binary and the bench example
/// build it ([`emu_core::vm::BuildFn`]).
pub fn from_bundle(b: &mut emu_core::bundle::Bundle) -> Result<Box<dyn Machine>, String> {
    emu_core::vm::build_machine(b, CMDLINE, X86Machine::new)
}

impl X86Machine {
    pub fn new(boot: BootImage) -> Result<Self, BoardError> {
        let ram_size = boot.memory_mib << 20;
        let mut ram = GuestRam::new(0, ram_size as usize);
        let mut cpu = Cpu::new(ram_size);
        cpu.features.tsc_deadline = true;
        let cmdline = format!("{} {}", boot.cmdline, virtio_cmdline());
        boot::load_linux(&mut ram, &mut cpu, boot.kernel, boot.initrd, &cmdline)?;

        let (sig, _, _, features) = cpu.cpuid(1, 0);
        let mut routes = vec![mptable::Route { irq: 0, pin: PIT_PIN as u8, level: false }];
        routes.extend((1..16u8).filter(|&i| i != 2).map(|irq| mptable::Route {
            irq,
            pin: irq,
            level: VIRTIO_IRQS.contains(&irq),
        }));
        let table =
            mptable::build(MPTABLE_ADDR as u32, lapic::BASE as u32, ioapic::BASE as u32, sig, features, &routes);
        ram.write(MPTABLE_ADDR, &table).ok_or(boot::BootError::TooSmall(boot.memory_mib))?;

        let sys = System {
            ram,
            lapic: Lapic::default(),
            ioapic: Ioapic::default(),
            pic: Pic::default(),
            pit: Pit::default(),
            rtc: Rtc::default(),
            uart: Uart::default(),
            virtio: VirtioSet::new(boot.rootfs, proto::P9_TAG),
            dma: Default::default(),
            dma_written: Vec::new(),
            virtio_lines: [false; NUM_SLOTS],
            uart_line: false,
            console_log: KernelLog::default(),
            halted: None,
        };
        Ok(Self { cpu, sys, clock: GuestClock::new(1) })
    }

    /// What the retired instructions are worth on the virtual clock, in nanoseconds.
    fn retired_ns(&self) -> u64 {
        self.cpu.icount * NS_PER_INSN
    }

    fn apply_dma(&mut self) {
        for (addr, len) in self.sys.dma_written.drain(..) {
            self.cpu.invalidate_ram(addr, len);
        }
    }

    fn poll_devices(&mut self, host: &mut dyn Host) {
        let sys = &mut self.sys;
        let mut ctx = DevCtx { ram: &mut sys.ram, host };
        sys.virtio.poll(&mut ctx);
        sys.sync();
        self.apply_dma();
    }
}

impl Machine for X86Machine {
    fn run_slice(&mut self, host: &mut dyn Host) -> Slice {
        if let Some(h) = &self.sys.halted {
            return Slice::Halted(h.clone());
        }
        self.poll_devices(host);
        let end = self.cpu.icount + SLICE;
        // Each pass runs the CPU up to the next device access (virtual clock), deadline or the
        // end of the slice; the bound keeps a guest that only ever skips time from spinning here.
        for _ in 0..10_000 {
            let now = self.clock.now(self.retired_ns(), host);
            self.sys.tick(now);
            self.sys.sync();
            let pending = self.sys.interrupt_pending();
            self.cpu.set_irq_line(pending);
            let deadline = self.sys.next_deadline();
            if self.cpu.halted && !pending {
                // Pre-boot skips at least a nanosecond, so this loop makes progress even when the
                // deadline has passed but its interrupt is masked.
                let wake = match deadline {
                    Some(d) if self.clock.is_virtual() => Some(d.max(now.saturating_add(1))),
                    d => d,
                };
                match self.clock.idle(self.retired_ns(), wake, host) {
                    Some(slice) => return slice,
                    None => continue,
                }
            }
            let left = end.saturating_sub(self.cpu.icount);
            if left == 0 {
                break;
            }
            let budget = match deadline {
                Some(d) if self.clock.is_virtual() => left.min(d.saturating_sub(now).div_ceil(NS_PER_INSN).max(1)),
                _ => left,
            };
            let retired_ns = self.retired_ns();
            let mut bus =
                BusView { sys: &mut self.sys, host: &mut *host, clock: self.clock, retired_ns, want_exit: false };
            let exit = self.cpu.run(&mut bus, budget);
            self.apply_dma();
            match exit {
                Exit::Budget | Exit::Device | Exit::Halt => {}
                // HLT with interrupts off: how Linux stops a machine it cannot power off.
                Exit::Dead => self.sys.halted = Some(Halt::PowerOff),
                // Real hardware resets; here it only ever means a guest (or emulator) bug, and
                // Linux resets through the i8042 first, so say what happened instead.
                Exit::TripleFault => {
                    self.sys.halted = Some(Halt::Fatal(format!("triple fault (rip {:#x})", self.cpu.rip)))
                }
            }
            if let Some(h) = &self.sys.halted {
                return Slice::Halted(h.clone());
            }
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
        self.clock.use_host(self.retired_ns(), host);
    }

    fn console_tail(&self) -> String {
        self.sys.console_log.tail(20)
    }

    fn instructions(&self) -> u64 {
        self.cpu.icount
    }

    fn drop_caches(&mut self) {
        self.cpu.clear_decoded();
    }
}
