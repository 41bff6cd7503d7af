//! Fuzzing harnesses: each function takes arbitrary bytes and drives one parser or interpreter
//! that meets untrusted input (an image, the guest). The property is always the same: no
//! panic, no hang (every loop is bounded by a budget), whatever the bytes.
//!
//! The same functions back the cargo-fuzz targets (fuzz_targets/) and the stable fixed-seed
//! loops (tests/fixed_seed.rs).

use devices::queue::Virtqueue;
use devices::{P9Server, Share};
use emu_core::GuestRam;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A layer stream (plain, gzip or zstd, as detected) applied to an empty tree, with small
/// limits so a hostile size field cannot make a run slow.
pub fn layers(data: &[u8]) {
    use packer::layers::{Applier, Limits};
    let mut tree = packer::tree::Tree::new();
    let mut applier = Applier::new(&mut tree, Limits { max_unpacked_bytes: 4 << 20, max_entries: 2000 });
    let _ = applier.apply(&mut Cursor::new(data));
    // A second layer over the first exercises whiteouts and replacement against a real tree.
    let _ = applier.apply(&mut Cursor::new(data));
}

/// OCI/Docker manifest, index and image-config JSON.
pub fn oci_json(data: &[u8]) {
    use packer::image::manifest::Document;
    for media in
        [None, Some("application/vnd.oci.image.index.v1+json"), Some("application/vnd.oci.image.manifest.v1+json")]
    {
        let _ = Document::parse("fuzz", data, media);
    }
    let _ = packer::config::ConfigInfo::parse(data);
}

/// Guest RAM for the device harnesses.
const RAM_BASE: u64 = 0x1000;
const RAM_SIZE: usize = 64 << 10;

/// Fills `ram` with `src` repeated (left as is if `src` is empty). Whole-chunk copies rather
/// than a byte-wise iterator: under libFuzzer's comparison tracing the byte loop over 64 KiB
/// (1 MiB for x86) cost a large share of each run of the CPU targets.
fn fill_cycled(ram: &mut [u8], src: &[u8]) {
    if src.is_empty() {
        return;
    }
    for chunk in ram.chunks_mut(src.len()) {
        chunk.copy_from_slice(&src[..chunk.len()]);
    }
}

fn u64_at(data: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, byte) in b.iter_mut().enumerate() {
        *byte = data.get(i + k).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// A virtqueue whose descriptor table, rings and buffers are the input: the first 32 bytes
/// pick the queue size and ring addresses (mostly inside RAM, sometimes not), the rest fills
/// RAM. Chains are popped, read, written and returned until the queue runs dry or a budget
/// ends.
pub fn virtqueue(data: &[u8]) {
    let mut ram = GuestRam::new(RAM_BASE, RAM_SIZE);
    if let Some(s) = ram.slice_mut(RAM_BASE, RAM_SIZE) {
        fill_cycled(s, data.get(32..).unwrap_or_default());
    }
    let addr = |v: u64| if v & 0x8000_0000 != 0 { v } else { RAM_BASE + (v % RAM_SIZE as u64) };
    let mut q = Virtqueue::new(256);
    q.size = (u64_at(data, 0) as u16) % 300;
    q.desc = addr(u64_at(data, 2) & 0xffff_ffff);
    q.avail = addr(u64_at(data, 10) & 0xffff_ffff);
    q.used = addr(u64_at(data, 18) & 0xffff_ffff);
    let indirect = data.get(26).is_some_and(|b| b & 1 != 0);
    if q.enable(&ram, indirect).is_err() {
        return;
    }
    for _ in 0..1000 {
        let Some(chain) = q.pop(&mut ram) else { break };
        let got = chain.read_to_vec(&ram, 1 << 16);
        let _ = chain.write(&mut ram, 0, &got[..got.len().min(64)]);
        let len = chain.writable_len().min(u32::MAX as u64) as u32;
        q.push(&mut ram, chain.head(), len);
        let _ = q.take_interrupt();
    }
}

/// A 9P2000.L server over a scratch share: the input is split into messages (each prefixed
/// by a one-byte length class, so structured messages and raw garbage both occur), and each
/// is handled in turn. Messages may create and remove files in the scratch share only.
pub fn p9(data: &[u8]) {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        let parent = std::env::temp_dir().join("c2w-fuzz-p9");
        remove_dead_scratch(&parent);
        let dir = parent.join(std::process::id().to_string());
        let _ = std::fs::create_dir_all(dir.join("sub"));
        let _ = std::fs::write(dir.join("file"), b"hello");
        dir
    });
    let mut server = P9Server::new();
    server.set_shares(vec![Share { aname: "0".into(), root: root.clone() }]);
    let mut resp = Vec::new();
    // A valid handshake first, so later messages reach the real operations.
    server.handle(&msg(100, 0xffff, &[&8192u32.to_le_bytes(), &wire_str("9P2000.L")]), &mut resp);
    server.handle(
        &msg(
            104,
            1,
            &[&0u32.to_le_bytes(), &u32::MAX.to_le_bytes(), &wire_str(""), &wire_str("0"), &0u32.to_le_bytes()],
        ),
        &mut resp,
    );
    let mut rest = data;
    for _ in 0..64 {
        let Some((&class, tail)) = rest.split_first() else { break };
        let n = (class as usize).min(tail.len());
        let (body, tail) = tail.split_at(n);
        rest = tail;
        if class & 0x80 != 0 && body.len() >= 3 {
            // A well-framed message: real size field, type and tag from the input.
            server.handle(&msg(body[0], u16::from_le_bytes([body[1], body[2]]), &[&body[3..]]), &mut resp);
        } else {
            server.handle(body, &mut resp);
        }
    }
}

/// Removes the scratch shares of fuzzing processes that are gone (a process cannot clean up
/// after itself: libFuzzer ends it with `exit`). Each share is named by its process id; only
/// where /proc tells which processes are alive.
fn remove_dead_scratch(parent: &std::path::Path) {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|pid| pid.parse::<u32>().is_ok() && !proc.join(pid).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn wire_str(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u16).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

fn msg(kind: u8, tag: u16, parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut m = ((7 + body.len()) as u32).to_le_bytes().to_vec();
    m.push(kind);
    m.extend_from_slice(&tag.to_le_bytes());
    m.extend_from_slice(&body);
    m
}

/// RAM-only bus for the RISC-V hart: MMIO is unmapped (access faults).
struct RvBus(GuestRam);

impl emu_riscv::Bus for RvBus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.0
    }
    fn mmio_read(&mut self, _addr: u64, _size: u8) -> Option<u64> {
        None
    }
    fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) -> Option<()> {
        None
    }
}

/// The RISC-V hart on random code: the input is RAM (code and data) and the first bytes pick
/// the privilege, delegation, trap vectors, paging mode and whether the FPU is on. A budget
/// bounds the run.
pub fn riscv_hart(data: &[u8]) {
    use emu_riscv::hart::{PRV_M, PRV_S, PRV_U};
    const BASE: u64 = 0x8000_0000;
    let mut ram = GuestRam::new(BASE, RAM_SIZE);
    if let Some(s) = ram.slice_mut(BASE, RAM_SIZE) {
        fill_cycled(s, data.get(16..).unwrap_or_default());
    }
    // One hart per thread, reset for each input: a new one allocates and fills megabytes of
    // decoded-block storage (inputs per second: +44% under libFuzzer).
    thread_local! {
        static HART: std::cell::RefCell<Option<emu_riscv::Hart>> = const { std::cell::RefCell::new(None) };
    }
    let mut hart = HART.take().map(emu_riscv::Hart::reset).unwrap_or_default();
    let ctl = u64_at(data, 0);
    hart.pc = BASE + (ctl >> 8) % 4096 * 2;
    hart.csr.mtvec = BASE + (u64_at(data, 8) % RAM_SIZE as u64);
    hart.csr.stvec = BASE + ((u64_at(data, 8) >> 20) % RAM_SIZE as u64);
    hart.csr.medeleg = if ctl & 4 != 0 { emu_riscv::fatal::MEDELEG } else { 0 };
    if ctl & 8 != 0 {
        // Sv39 with the root table somewhere in RAM: random PTEs.
        hart.csr.satp = (8 << 60) | ((BASE >> 12) + (ctl >> 20) % 16);
    }
    if ctl & 16 != 0 {
        // The FPU on, so FP instructions run instead of trapping.
        hart.csr.mstatus |= emu_riscv::csr::mstatus::FS;
    }
    hart.set_priv([PRV_M, PRV_S, PRV_U, PRV_S][(ctl & 3) as usize]);
    let mut bus = RvBus(ram);
    for _ in 0..4 {
        let _ = hart.run(&mut bus, 5_000);
        hart.wfi = false;
    }
    HART.set(Some(hart));
}

/// RAM-only bus for the x86 CPU (ports read all ones, MMIO is unmapped).
struct X86Bus(GuestRam);

impl emu_x86::Bus for X86Bus {
    fn ram(&mut self) -> &mut GuestRam {
        &mut self.0
    }
}

/// The x86 CPU on random code from reset (real mode), or in long mode with the input as page
/// tables, descriptor tables and code. A budget bounds the run.
pub fn x86_cpu(data: &[u8]) {
    const SIZE: usize = 1 << 20;
    let mut ram = GuestRam::new(0, SIZE);
    if let Some(s) = ram.slice_mut(0, SIZE) {
        fill_cycled(s, data.get(16..).unwrap_or_default());
    }
    // One CPU per thread, reset for each input, as in riscv_hart (inputs per second: +83% in
    // the fixed-seed loop; under libFuzzer running the input dominates).
    thread_local! {
        static CPU: std::cell::RefCell<Option<emu_x86::Cpu>> = const { std::cell::RefCell::new(None) };
    }
    let mut cpu = CPU.take().map(emu_x86::Cpu::reset).unwrap_or_else(|| emu_x86::Cpu::new(SIZE as u64));
    let ctl = u64_at(data, 0);
    if ctl & 1 != 0 {
        cpu.enter_long_mode(((ctl >> 8) % 256) << 12, 0x10, 0x18);
        cpu.gdtr = emu_x86::TableReg { base: (ctl >> 16) % SIZE as u64, limit: 0xff };
        cpu.idtr = emu_x86::TableReg { base: (ctl >> 24) % SIZE as u64, limit: 0xfff };
        cpu.rip = (ctl >> 32) % SIZE as u64;
    } else {
        cpu.seg[emu_x86::CS] = emu_x86::Segment { selector: 0, base: 0, limit: 0xffff, attr: 0x9b };
        cpu.rip = (ctl >> 8) & 0xffff;
    }
    let mut bus = X86Bus(ram);
    for _ in 0..4 {
        let _ = cpu.run(&mut bus, 5_000);
        cpu.halted = false;
    }
    CPU.set(Some(cpu));
}

#[cfg(test)]
mod tests {
    use super::fill_cycled;

    /// The chunked fill puts the same bytes in RAM as repeating the input byte by byte (so
    /// corpora saved before the change replay the same runs), including a partial last copy
    /// and an empty input that leaves RAM untouched.
    #[test]
    fn fill_cycled_repeats_the_input() {
        for len in [0usize, 1, 3, 16, 100, 4096, 5000] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let mut ram = vec![0xaau8; 4096];
            fill_cycled(&mut ram, &src);
            let mut want = vec![0xaau8; 4096];
            for (d, b) in want.iter_mut().zip(src.iter().cycle()) {
                *d = *b;
            }
            assert_eq!(ram, want, "input of {len} bytes");
        }
    }
}
