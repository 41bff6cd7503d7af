//! Differential test against this machine's CPU: random instructions per class, random
//! register, flag, XMM and memory state, run natively (in a forked child, at fixed addresses)
//! and in emu-x86; general registers (but RSP), defined RFLAGS bits, XMM registers and the data
//! area must match, and so must "it faulted".
//!
//! Most classes are single random encodings of a list of mnemonics; the generated ones
//! (`stringdiff`, `x87diff`, `mmxdiff`) build short programs, and "x87-specials" runs every
//! pair of special x87 operands through a fixed list of instructions.
//!
//! `EMU_X86_DIFF_CASES=N` sets the cases per class (default 2000; x87-specials is exhaustive
//! and not scaled); `EMU_X86_DIFF_SEED` the seed; `EMU_X86_DIFF_CLASS` runs only the named
//! class.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;
mod mmxdiff;
mod stringdiff;
mod x87diff;

use common::{machine, TestBus, HANDLERS};
use emu_x86::{Bus, Cpu, Exit};
use iced_x86::{Code, Encoder, Instruction, MemoryOperand, Mnemonic as M, OpCodeOperandKind as K, Register};
use std::arch::global_asm;

/// Code and data live at the same virtual addresses natively and in the emulator (identity
/// mapped there).
const CODE: u64 = 0x70_0000;
const DATA: u64 = 0x71_0000;
const DATA_LEN: usize = 512;

#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct State {
    gpr: [u64; 16],
    rflags: u64,
    pad: u64,
    xmm: [u128; 16],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Outcome {
    state: State,
    data: [u8; DATA_LEN],
    /// 0 = ran to the end; else the signal that stopped it.
    signal: i32,
}

global_asm!(
    ".globl c2w_emu_x86_diff_trampoline",
    "c2w_emu_x86_diff_trampoline:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "stmxcsr [rsp]",
    "push rdi",
    "push rsi",
    "movdqu xmm0, [rdi+144]",
    "movdqu xmm1, [rdi+160]",
    "movdqu xmm2, [rdi+176]",
    "movdqu xmm3, [rdi+192]",
    "movdqu xmm4, [rdi+208]",
    "movdqu xmm5, [rdi+224]",
    "movdqu xmm6, [rdi+240]",
    "movdqu xmm7, [rdi+256]",
    "movdqu xmm8, [rdi+272]",
    "movdqu xmm9, [rdi+288]",
    "movdqu xmm10, [rdi+304]",
    "movdqu xmm11, [rdi+320]",
    "movdqu xmm12, [rdi+336]",
    "movdqu xmm13, [rdi+352]",
    "movdqu xmm14, [rdi+368]",
    "movdqu xmm15, [rdi+384]",
    "push qword ptr [rdi+128]",
    "popfq",
    "mov rax, [rdi]",
    "mov rcx, [rdi+8]",
    "mov rdx, [rdi+16]",
    "mov rbx, [rdi+24]",
    "mov rbp, [rdi+40]",
    "mov rsi, [rdi+48]",
    "mov r8, [rdi+64]",
    "mov r9, [rdi+72]",
    "mov r10, [rdi+80]",
    "mov r11, [rdi+88]",
    "mov r12, [rdi+96]",
    "mov r13, [rdi+104]",
    "mov r14, [rdi+112]",
    "mov r15, [rdi+120]",
    "mov rdi, [rdi+56]",
    "call qword ptr [rsp]",
    "pushfq",
    "xchg rdi, [rsp+16]",
    "mov [rdi], rax",
    "mov [rdi+8], rcx",
    "mov [rdi+16], rdx",
    "mov [rdi+24], rbx",
    "mov [rdi+40], rbp",
    "mov [rdi+48], rsi",
    "mov [rdi+64], r8",
    "mov [rdi+72], r9",
    "mov [rdi+80], r10",
    "mov [rdi+88], r11",
    "mov [rdi+96], r12",
    "mov [rdi+104], r13",
    "mov [rdi+112], r14",
    "mov [rdi+120], r15",
    "mov rax, [rsp+16]",
    "mov [rdi+56], rax",
    "mov rax, [rsp]",
    "mov [rdi+128], rax",
    "movdqu [rdi+144], xmm0",
    "movdqu [rdi+160], xmm1",
    "movdqu [rdi+176], xmm2",
    "movdqu [rdi+192], xmm3",
    "movdqu [rdi+208], xmm4",
    "movdqu [rdi+224], xmm5",
    "movdqu [rdi+240], xmm6",
    "movdqu [rdi+256], xmm7",
    "movdqu [rdi+272], xmm8",
    "movdqu [rdi+288], xmm9",
    "movdqu [rdi+304], xmm10",
    "movdqu [rdi+320], xmm11",
    "movdqu [rdi+336], xmm12",
    "movdqu [rdi+352], xmm13",
    "movdqu [rdi+368], xmm14",
    "movdqu [rdi+384], xmm15",
    "add rsp, 24",
    "ldmxcsr [rsp]",
    "add rsp, 8",
    "cld",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
);

extern "C" {
    fn c2w_emu_x86_diff_trampoline(state: *mut State, code: u64);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value biased towards edge cases.
    fn value(&mut self) -> u64 {
        match self.below(8) {
            0 => [0, 1, u64::MAX, 0x80, 0x8000, 0x8000_0000, 1 << 63, 0x7f][self.below(8) as usize],
            1 => self.below(64),
            2 => (self.next() as i8) as i64 as u64,
            3 => self.next() & 0xffff_ffff,
            _ => self.next(),
        }
    }
    fn float_bits(&mut self) -> u128 {
        let f32s = [
            0u32,
            0x8000_0000,
            0x3f80_0000,
            0xbf80_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000,
            0x7f80_0001,
            0x0000_0001,
            0x4b00_0000,
        ];
        let f64s = [
            0u64,
            1 << 63,
            0x3ff0_0000_0000_0000,
            0x7ff0_0000_0000_0000,
            0x7ff8_0000_0000_0000,
            0x7ff0_0000_0000_0001,
            1,
            0x4330_0000_0000_0000,
            0xc1e0_0000_0000_0000,
        ];
        let mut v = 0u128;
        match self.below(4) {
            0 => {
                for k in 0..4 {
                    let x = if self.below(2) == 0 {
                        f32s[self.below(f32s.len() as u64) as usize]
                    } else {
                        // Ordinary numbers of modest exponent.
                        ((self.next() as f32) / 1e9).to_bits()
                    };
                    v |= (x as u128) << (32 * k);
                }
            }
            1 => {
                for k in 0..2 {
                    let x = if self.below(2) == 0 {
                        f64s[self.below(f64s.len() as u64) as usize]
                    } else {
                        ((self.next() as i64 as f64) / 1e6).to_bits()
                    };
                    v |= (x as u128) << (64 * k);
                }
            }
            _ => v = self.next() as u128 | (self.next() as u128) << 64,
        }
        v
    }
}

const ARITH: u64 = 0x8d5;
const CF: u64 = 1;
const PF: u64 = 4;
const AF: u64 = 0x10;
const ZF: u64 = 0x40;
const SF: u64 = 0x80;
const OF: u64 = 0x800;

/// The RFLAGS bits an instruction defines (or leaves alone), i.e. the ones to compare.
fn defined_flags(m: M) -> u64 {
    match m {
        M::And | M::Or | M::Xor | M::Test => ARITH & !AF,
        M::Shl | M::Sal | M::Shr | M::Sar | M::Shld | M::Shrd => CF | ZF | SF | PF,
        M::Rol | M::Ror | M::Rcl | M::Rcr => ARITH & !OF,
        M::Mul | M::Imul => CF | OF,
        M::Div | M::Idiv => 0,
        M::Bt | M::Bts | M::Btr | M::Btc => CF | ZF,
        M::Bsf | M::Bsr => ZF,
        M::Lzcnt => CF | ZF,
        _ => ARITH,
    }
}

/// The flags a shift or rotate defines beyond `defined_flags` for its actual count: OF for a
/// count of 1 (AF is never defined); all of them for a masked count of 0, which changes none.
fn shift_count_flags(c: &Case) -> u64 {
    use iced_x86::OpKind;
    let shifts = [M::Shl, M::Sal, M::Shr, M::Sar, M::Shld, M::Shrd, M::Rol, M::Ror, M::Rcl, M::Rcr];
    if c.loose.is_some() || !shifts.contains(&c.mnemonic) {
        return 0;
    }
    let i = iced_x86::Decoder::with_ip(64, &c.bytes, CODE, iced_x86::DecoderOptions::NONE).decode();
    let last = i.op_count() - 1;
    let count = match i.op_kind(last) {
        OpKind::Immediate8 => i.immediate8() as u64,
        OpKind::Register if i.op_register(last) == Register::CL => c.init.gpr[1],
        _ => return 0,
    };
    let bits = 8 * if i.op0_kind() == OpKind::Memory { i.memory_size().size() } else { i.op0_register().size() };
    match count & if bits == 64 { 63 } else { 31 } {
        0 => ARITH,
        1 => OF,
        _ => 0,
    }
}

fn gpr(width: u32, n: u64) -> Register {
    let base = match width {
        8 => Register::AL,
        16 => Register::AX,
        32 => Register::EAX,
        _ => Register::RAX,
    } as u32;
    // Skip the stack pointer (its 8-bit slot is SPL with a REX prefix, AH without).
    let n = if n == 4 { 3 } else { n } as u32;
    let idx = if width == 8 && n >= 4 { n + 4 } else { n };
    unsafe { std::mem::transmute::<u8, Register>((base + idx) as u8) }
}

fn xmm(n: u64) -> Register {
    unsafe { std::mem::transmute::<u8, Register>((Register::XMM0 as u32 + n as u32) as u8) }
}

fn mm(n: u64) -> Register {
    unsafe { std::mem::transmute::<u8, Register>((Register::MM0 as u32 + n as u32) as u8) }
}

#[derive(Clone, Copy)]
enum Op {
    R(Register),
    M(MemoryOperand),
    I(i32),
    Q(u64),
}

struct Case {
    bytes: Vec<u8>,
    mnemonic: M,
    code: Code,
    init: State,
    data: [u8; DATA_LEN],
    /// How the data area is compared, if not byte for byte.
    loose: Option<x87diff::Loose>,
}

/// 16-bit SHLD/SHRD: counts (mod 32) above 16 leave result and flags undefined, and this
/// machine's CPU and Intel's (which the emulator follows) differ there, so only counts whose low
/// five bits are 0..=16 are generated.
fn short_double_shift(code: Code) -> bool {
    matches!(code.mnemonic(), M::Shld | M::Shrd) && code.op_code().operand_size() == 16
}

/// A count for `short_double_shift` encodings: 0..=16 in the low five bits, random above them
/// (the instruction masks them off).
fn short_count(rng: &mut Rng) -> u64 {
    rng.below(17) | rng.next() & !31
}

/// Registers a memory operand uses, with the values they must hold.
type Bases = Vec<(Register, u64)>;

/// Builds a random instance of `code`, or None if its operands are not ones we generate. Its
/// memory operand is base + disp8 unless `shapes`.
fn instance(rng: &mut Rng, code: Code, shapes: bool) -> Option<(Vec<u8>, Bases)> {
    let oc = code.op_code();
    let mut ops = Vec::new();
    let mut base = Bases::new();
    // A memory operand inside the data area, in one of the shapes the emulator's micro-ops
    // tell apart: base + disp8, base + index * scale + disp, index * scale + disp32,
    // RIP-relative (code and data are at the same addresses natively and in the emulator).
    let mem = |rng: &mut Rng, base: &mut Bases| {
        let pick = |rng: &mut Rng| gpr(64, [3u64, 5, 6, 7, 8, 9, 12, 13][rng.below(8) as usize]);
        let b = pick(rng);
        let mut m = MemoryOperand {
            segment_prefix: Register::None,
            base: b,
            index: Register::None,
            scale: 1,
            displacement: rng.below(64) as i64,
            displ_size: 1,
            is_broadcast: false,
        };
        match if shapes { rng.below(8) } else { 7 } {
            0 | 1 => {
                let x = loop {
                    let x = pick(rng);
                    if x != b {
                        break x;
                    }
                };
                m.index = x;
                m.scale = 1 << rng.below(4);
                base.push((x, rng.below(16)));
                base.push((b, DATA + rng.below(256)));
            }
            2 => {
                m.base = Register::None;
                m.index = b;
                m.scale = 1 << rng.below(4);
                m.displacement = (DATA + rng.below(256)) as i64;
                m.displ_size = 4;
                base.push((b, rng.below(16)));
            }
            3 => {
                m.base = Register::RIP;
                m.displacement = (DATA + rng.below(256)) as i64;
                m.displ_size = 4;
            }
            _ => base.push((b, DATA + rng.below(256))),
        }
        Op::M(m)
    };
    for n in 0..oc.op_count() {
        let w = |k: K| match k {
            K::r8_or_mem | K::r8_reg | K::r8_opcode => 8,
            K::r16_or_mem | K::r16_reg | K::r16_opcode => 16,
            K::r32_or_mem | K::r32_reg | K::r32_opcode => 32,
            _ => 64,
        };
        let k = oc.op_kind(n);
        let op = match k {
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem => {
                if rng.below(2) == 0 {
                    mem(rng, &mut base)
                } else {
                    Op::R(gpr(w(k), rng.below(16)))
                }
            }
            K::mem => mem(rng, &mut base),
            K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r32_reg
            | K::r32_opcode
            | K::r64_reg
            | K::r64_opcode => Op::R(gpr(w(k), rng.below(16))),
            K::xmm_or_mem => {
                if rng.below(2) == 0 {
                    mem(rng, &mut base)
                } else {
                    Op::R(xmm(rng.below(16)))
                }
            }
            K::xmm_reg | K::xmm_rm => Op::R(xmm(rng.below(16))),
            K::mm_or_mem => {
                if rng.below(2) == 0 {
                    mem(rng, &mut base)
                } else {
                    Op::R(mm(rng.below(8)))
                }
            }
            K::mm_reg | K::mm_rm => Op::R(mm(rng.below(8))),
            K::imm8 if short_double_shift(code) => Op::I(short_count(rng) as i8 as i32),
            K::imm8 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => Op::I(rng.next() as i8 as i32),
            K::imm16 => Op::I(rng.next() as i16 as i32),
            K::imm32 | K::imm32sex64 => Op::I(rng.value() as i32),
            K::imm64 => Op::Q(rng.value()),
            K::imm8_const_1 => Op::I(1),
            K::al => Op::R(Register::AL),
            K::ax => Op::R(Register::AX),
            K::eax => Op::R(Register::EAX),
            K::rax => Op::R(Register::RAX),
            K::cl => Op::R(Register::CL),
            _ => return None,
        };
        ops.push(op);
    }
    let ins = match ops.as_slice() {
        [] => Instruction::with(code),
        [Op::R(a)] => Instruction::with1(code, *a).ok()?,
        [Op::M(a)] => Instruction::with1(code, *a).ok()?,
        [Op::I(a)] => Instruction::with1(code, *a).ok()?,
        [Op::R(a), Op::R(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::R(a), Op::M(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::M(a), Op::R(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::R(a), Op::I(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::R(a), Op::Q(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::M(a), Op::I(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Op::R(a), Op::R(b), Op::I(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        [Op::R(a), Op::M(b), Op::I(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        [Op::M(a), Op::R(b), Op::I(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        [Op::R(a), Op::R(b), Op::R(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        [Op::M(a), Op::R(b), Op::R(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        _ => return None,
    };
    let mut enc = Encoder::new(64);
    enc.encode(&ins, CODE).ok()?;
    Some((enc.take_buffer(), base))
}

fn codes_for(class: &[M]) -> Vec<Code> {
    Code::values()
        .filter(|c| {
            let oc = c.op_code();
            class.contains(&c.mnemonic())
                && emu_x86::advertised(*c, false)
                && oc.encoding() == iced_x86::EncodingKind::Legacy
                && oc.mode64()
                // MMX forms have their own class (`mmxdiff`), with the x87 state compared.
                && !(0..oc.op_count()).any(|n| matches!(oc.op_kind(n), K::mm_or_mem | K::mm_reg | K::mm_rm))
        })
        .collect()
}

fn make_cases(rng: &mut Rng, class: &[M], n: usize) -> Vec<Case> {
    let codes = codes_for(class);
    assert!(!codes.is_empty(), "no encodings for {class:?}");
    let mut cases = Vec::with_capacity(n);
    while cases.len() < n {
        let code = codes[rng.below(codes.len() as u64) as usize];
        let Some((bytes, base)) = instance(rng, code, true) else { continue };
        let mut init = State::default();
        for r in init.gpr.iter_mut() {
            *r = rng.value();
        }
        for (r, v) in base {
            init.gpr[r as usize - Register::RAX as usize] = v;
        }
        if short_double_shift(code) {
            // The CL forms' count (CX may also be an operand; its value is then this one).
            init.gpr[1] = short_count(rng);
        }
        if matches!(code.mnemonic(), M::Bt | M::Bts | M::Btr | M::Btc) {
            // Keep register bit offsets into memory inside the data area.
            for r in init.gpr.iter_mut() {
                if *r < DATA || *r >= DATA + 512 {
                    *r &= 0x3ff;
                }
            }
        }
        init.rflags = (rng.next() & ARITH) | 0x202;
        for x in init.xmm.iter_mut() {
            *x = rng.float_bits();
        }
        let mut data = [0u8; DATA_LEN];
        for b in data.iter_mut() {
            *b = rng.next() as u8;
        }
        cases.push(Case { bytes, mnemonic: code.mnemonic(), code, init, data, loose: None });
    }
    cases
}

/// Runs every case natively in forked children (a crash ends one child; the next resumes after
/// the crashing case).
fn run_native(cases: &[Case]) -> Vec<Outcome> {
    unsafe {
        let len = std::mem::size_of::<Outcome>() * cases.len() + 64;
        let shared = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(shared, libc::MAP_FAILED);
        let progress = shared as *mut u64;
        let out = (shared as *mut u8).add(64) as *mut Outcome;
        let code = libc::mmap(
            CODE as *mut _,
            4096,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        assert_eq!(code as u64, CODE, "cannot map the code page");
        let data = libc::mmap(
            DATA as *mut _,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        assert_eq!(data as u64, DATA, "cannot map the data page");
        let mut start = 0;
        while start < cases.len() {
            let pid = libc::fork();
            if pid == 0 {
                for (k, c) in cases.iter().enumerate().skip(start) {
                    *progress = k as u64;
                    std::ptr::copy_nonoverlapping(c.bytes.as_ptr(), CODE as *mut u8, c.bytes.len());
                    *((CODE as *mut u8).add(c.bytes.len())) = 0xc3;
                    std::ptr::copy_nonoverlapping(c.data.as_ptr(), DATA as *mut u8, DATA_LEN);
                    let o = &mut *out.add(k);
                    o.state = c.init;
                    o.signal = 0;
                    c2w_emu_x86_diff_trampoline(&mut o.state, CODE);
                    std::ptr::copy_nonoverlapping(DATA as *const u8, o.data.as_mut_ptr(), DATA_LEN);
                }
                libc::_exit(0);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            if libc::WIFSIGNALED(status) {
                let k = *progress as usize;
                (*out.add(k)).signal = libc::WTERMSIG(status);
                start = k + 1;
            } else {
                start = cases.len();
            }
        }
        let v = std::slice::from_raw_parts(out, cases.len()).to_vec();
        libc::munmap(shared, len);
        libc::munmap(code, 4096);
        libc::munmap(data, 4096);
        v
    }
}

/// Runs a case in the emulator; returns the final state, data and the exception vector if one
/// was raised.
fn run_emu(cpu: &mut Cpu, bus: &mut TestBus, c: &Case) -> (State, [u8; DATA_LEN], Option<u8>) {
    bus.write(CODE, &c.bytes);
    bus.write(CODE + c.bytes.len() as u64, &[0xf4]);
    cpu.invalidate_ram(CODE, 4096);
    bus.write(DATA, &c.data);
    cpu.gpr = c.init.gpr;
    cpu.gpr[4] = common::KSTACK_TOP;
    cpu.set_rflags(c.init.rflags & !0x200);
    cpu.xmm = c.init.xmm;
    cpu.mxcsr = 0x1f80;
    cpu.rip = CODE;
    cpu.halted = false;
    let e = cpu.run(bus, 100);
    assert!(matches!(e, Exit::Halt | Exit::Dead), "{:?}: {e:?}", c.code);
    let h = cpu.rip - 1;
    let vector = (HANDLERS..HANDLERS + 256).contains(&h).then(|| (h - HANDLERS) as u8);
    let mut s = State { gpr: cpu.gpr, rflags: cpu.rflags(), pad: 0, xmm: cpu.xmm };
    s.gpr[4] = 0;
    let mut data = [0u8; DATA_LEN];
    bus.ram().read(DATA, &mut data).unwrap();
    (s, data, vector)
}

fn class_rng(name: &str) -> (Rng, usize) {
    let n: usize = std::env::var("EMU_X86_DIFF_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let seed: u64 = std::env::var("EMU_X86_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    (Rng(seed ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))), n)
}

fn check_class(name: &str, class: &[M]) {
    let (mut rng, n) = class_rng(name);
    let cases = make_cases(&mut rng, class, n);
    check_cases(name, &cases);
}

/// A class whose cases come from a generator function (whole programs, not single encodings).
fn check_generated_class(name: &str, make: fn(&mut Rng) -> Case) {
    let (mut rng, n) = class_rng(name);
    let cases: Vec<Case> = (0..n).map(|_| make(&mut rng)).collect();
    check_cases(name, &cases);
}

fn check_cases(name: &str, cases: &[Case]) {
    let native = run_native(cases);
    let (mut cpu, mut bus) = machine();
    // Only the code and data pages are mapped around them, as natively.
    for va in (0x60_0000..0x80_0000u64).step_by(4096) {
        if va != CODE && va != DATA {
            bus.unmap(va);
        }
    }
    let mut failures = Vec::new();
    for (c, nat) in cases.iter().zip(&native) {
        let (emu, mut data, vector) = run_emu(&mut cpu, &mut bus, c);
        let dis = if c.loose.is_some() {
            x87diff::disassemble(&c.bytes, &c.data)
        } else {
            format!("{:?} {:02x?}", c.code, c.bytes)
        };
        if nat.signal != 0 || vector.is_some() {
            // Both must fault, with matching kinds: SIGFPE = #DE, SIGILL = #UD, SIGSEGV/SIGBUS =
            // #GP or #PF.
            let ok = matches!(
                (nat.signal, vector),
                (libc::SIGFPE, Some(0)) | (libc::SIGILL, Some(6)) | (libc::SIGSEGV | libc::SIGBUS, Some(13 | 14))
            );
            if !ok {
                failures.push(format!("{dis}: native signal {} vs emulator vector {vector:?}", nat.signal));
            }
            continue;
        }
        let mut want = nat.state;
        want.gpr[4] = 0;
        let mask = defined_flags(c.mnemonic) | shift_count_flags(c) | 0x400;
        let mut diffs = Vec::new();
        for r in 0..16 {
            if want.gpr[r] != emu.gpr[r] {
                diffs.push(format!("r{r}: native {:#x} emu {:#x} (was {:#x})", want.gpr[r], emu.gpr[r], c.init.gpr[r]));
            }
        }
        if (want.rflags ^ emu.rflags) & mask != 0 {
            diffs.push(format!(
                "rflags: native {:#x} emu {:#x} (was {:#x}, compared {mask:#x})",
                want.rflags, emu.rflags, c.init.rflags
            ));
        }
        for r in 0..16 {
            if want.xmm[r] != emu.xmm[r] {
                diffs.push(format!(
                    "xmm{r}: native {:#034x} emu {:#034x} (was {:#034x})",
                    want.xmm[r], emu.xmm[r], c.init.xmm[r]
                ));
            }
        }
        if let Some(l) = &c.loose {
            l.compare(&nat.data, &mut data, &mut diffs);
        }
        if nat.data != data {
            let k = (0..DATA_LEN).find(|&k| nat.data[k] != data[k]).unwrap();
            diffs.push(format!("memory differs from byte {k}"));
        }
        if !diffs.is_empty() {
            failures.push(format!("{dis}: {}", diffs.join("; ")));
        }
    }
    if !failures.is_empty() {
        let shown: Vec<_> = failures.iter().take(15).cloned().collect();
        panic!("{name}: {} of {} cases differ:\n{}", failures.len(), cases.len(), shown.join("\n"));
    }
}

// The native runs use fixed addresses, so the classes run one after another in one test.
#[test]
fn differential_against_host_cpu() {
    let classes: &[(&str, &[M])] = &[
        (
            "alu",
            &[M::Add, M::Or, M::Adc, M::Sbb, M::And, M::Sub, M::Xor, M::Cmp, M::Test, M::Inc, M::Dec, M::Neg, M::Not],
        ),
        ("shift", &[M::Rol, M::Ror, M::Rcl, M::Rcr, M::Shl, M::Sal, M::Shr, M::Sar, M::Shld, M::Shrd]),
        ("muldiv", &[M::Mul, M::Imul, M::Div, M::Idiv]),
        ("bits", &[M::Bt, M::Bts, M::Btr, M::Btc, M::Bsf, M::Bsr, M::Popcnt, M::Lzcnt, M::Bswap]),
        ("xchg", &[M::Xchg, M::Xadd, M::Cmpxchg, M::Cmpxchg8b, M::Cmpxchg16b]),
        (
            "moves",
            &[
                M::Mov,
                M::Movzx,
                M::Movsx,
                M::Movsxd,
                M::Lea,
                M::Cbw,
                M::Cwde,
                M::Cdqe,
                M::Cwd,
                M::Cdq,
                M::Cqo,
                M::Cmove,
                M::Cmovne,
                M::Cmovb,
                M::Cmovbe,
                M::Cmovl,
                M::Cmovle,
                M::Cmovs,
                M::Cmovp,
                M::Cmovo,
                M::Seta,
                M::Setae,
                M::Setg,
                M::Setge,
                M::Setno,
                M::Setnp,
                M::Setns,
                M::Sete,
                M::Lahf,
                M::Sahf,
                M::Clc,
                M::Stc,
                M::Cmc,
            ],
        ),
        (
            "sse-int",
            &[
                M::Pxor,
                M::Por,
                M::Pand,
                M::Pandn,
                M::Paddb,
                M::Paddw,
                M::Paddd,
                M::Paddq,
                M::Psubb,
                M::Psubw,
                M::Psubd,
                M::Psubq,
                M::Paddsb,
                M::Paddsw,
                M::Paddusb,
                M::Paddusw,
                M::Psubsb,
                M::Psubusw,
                M::Pmullw,
                M::Pmulhw,
                M::Pmulhuw,
                M::Pmuludq,
                M::Pmaddwd,
                M::Pavgb,
                M::Pavgw,
                M::Psadbw,
                M::Pminub,
                M::Pmaxub,
                M::Pminsw,
                M::Pmaxsw,
                M::Pcmpeqb,
                M::Pcmpeqw,
                M::Pcmpeqd,
                M::Pcmpgtb,
                M::Pcmpgtw,
                M::Pcmpgtd,
                M::Psllw,
                M::Pslld,
                M::Psllq,
                M::Psrlw,
                M::Psrld,
                M::Psrlq,
                M::Psraw,
                M::Psrad,
                M::Pslldq,
                M::Psrldq,
                M::Pmovmskb,
                M::Pshufd,
                M::Pshuflw,
                M::Pshufhw,
                M::Punpcklbw,
                M::Punpckhbw,
                M::Punpcklwd,
                M::Punpckhwd,
                M::Punpckldq,
                M::Punpckhdq,
                M::Punpcklqdq,
                M::Punpckhqdq,
                M::Packsswb,
                M::Packuswb,
                M::Packssdw,
                M::Pextrw,
                M::Pinsrw,
                M::Movdqa,
                M::Movdqu,
                M::Movd,
                M::Movq,
            ],
        ),
        (
            "sse-fp",
            &[
                M::Addps,
                M::Addss,
                M::Addpd,
                M::Addsd,
                M::Subps,
                M::Subsd,
                M::Mulps,
                M::Mulsd,
                M::Divps,
                M::Divsd,
                M::Divss,
                M::Minps,
                M::Minsd,
                M::Maxps,
                M::Maxss,
                M::Sqrtps,
                M::Sqrtsd,
                M::Cmpps,
                M::Cmpsd,
                M::Cmpss,
                M::Comiss,
                M::Ucomisd,
                M::Cvtsi2sd,
                M::Cvtsi2ss,
                M::Cvttsd2si,
                M::Cvtsd2si,
                M::Cvttss2si,
                M::Cvtss2sd,
                M::Cvtsd2ss,
                M::Cvtps2pd,
                M::Cvtpd2ps,
                M::Cvtdq2ps,
                M::Cvtdq2pd,
                M::Cvttps2dq,
                M::Cvtps2dq,
                M::Cvttpd2dq,
                M::Shufps,
                M::Shufpd,
                M::Unpcklps,
                M::Unpckhpd,
                M::Andps,
                M::Andnpd,
                M::Orps,
                M::Xorpd,
                M::Movaps,
                M::Movups,
                M::Movss,
                M::Movsd,
                M::Movhlps,
                M::Movlhps,
                M::Movlps,
                M::Movhpd,
                M::Movmskps,
                M::Movmskpd,
            ],
        ),
    ];
    let only = std::env::var("EMU_X86_DIFF_CLASS").ok();
    let mut failed = Vec::new();
    for (name, class) in classes {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| check_class(name, class)) {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("{msg}");
            failed.push(*name);
        }
    }
    type Make = fn(&mut Rng) -> Case;
    let generated: &[(&str, Make)] = &[
        ("string", stringdiff::case),
        ("x87", x87diff::sequence),
        ("x87-trans", x87diff::transcendental),
        ("mmx", mmxdiff::case),
    ];
    for (name, make) in generated {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| check_generated_class(name, *make)) {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("{msg}");
            failed.push(*name);
        }
    }
    // Exhaustive, so not scaled by EMU_X86_DIFF_CASES (the seed varies the control words).
    if only.as_deref().is_none_or(|o| o == "x87-specials") {
        let (mut rng, _) = class_rng("x87-specials");
        let cases = x87diff::specials(&mut rng);
        if let Err(e) = std::panic::catch_unwind(|| check_cases("x87-specials", &cases)) {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("{msg}");
            failed.push("x87-specials");
        }
    }
    assert!(failed.is_empty(), "classes with differences: {failed:?}");
}
