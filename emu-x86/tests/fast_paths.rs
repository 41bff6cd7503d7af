//! The run loop's micro-ops and block chaining against the generic executor: random programs
//! (arithmetic, moves, shifts, SSE moves, flags consumers, forward branches, loops, calls and
//! returns through every kind of target, pushes and pops, instructions only the generic
//! executor implements, page faults a handler repairs, code across page boundaries) run on a
//! CPU using micro-ops and on one whose every instruction goes through `Cpu::exec`
//! ([`Cpu::set_reference_interpreter`]). Both run with the same budgets, and after every run
//! registers, RIP, RFLAGS, XMM, CR2, the retired-instruction count and the data, stack and code
//! pages must be identical.

mod common;

use common::{machine, TestBus, IDT, KERNEL_CS, KSTACK_TOP};
use emu_x86::{Bus, Cpu, Exit, GS};
use iced_x86::code_asm::*;
use iced_x86::BlockEncoderOptions;
use iced_x86::{Code, Instruction, MemoryOperand, Mnemonic as M, OpCodeOperandKind as K, Register as R};

const CODE: u64 = 0x20_0000;
/// The #PF handler: it points R13 at the data area and returns, so the faulting instruction
/// runs again and succeeds.
const PF_HANDLER: u64 = 0x1f_f000;
/// RIP-relative operands aim here (a page of its own, so stores to it do not touch code).
const RIPDATA: u64 = 0x21_0000;
const DATA: u64 = 0x30_0000;
/// Not mapped: R13 points here until the #PF handler repairs it.
const UNMAPPED: u64 = 0x50_0000;
/// GS base: GS-relative operands on RBX land in the data area too.
const GS_BASE: u64 = 0x100;
/// Offset in the data area of a code pointer for CALL/JMP through memory.
const FPTR: u64 = 0xff8;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn value(&mut self) -> u64 {
        match self.below(6) {
            0 => [0, 1, u64::MAX, 0x80, 0x8000, 0x8000_0000, 1 << 63, 0x7f][self.below(8) as usize],
            1 => self.below(64),
            2 => (self.next() as i8) as i64 as u64,
            3 => self.next() & 0xffff_ffff,
            _ => self.next(),
        }
    }
}

/// Registers random instructions may write: not RBX/R12/R13 (memory operands), RCX (loop
/// counter) or RSP.
const GPRS: [u32; 11] = [0, 2, 5, 6, 7, 8, 9, 10, 11, 14, 15];

fn gpr(rng: &mut Rng, width: u32) -> R {
    let n = GPRS[rng.below(GPRS.len() as u64) as usize];
    let base = match width {
        8 => {
            // AH and DH sometimes (they exist only without REX, which iced sorts out).
            if n < 4 && rng.below(4) == 0 {
                return [R::AH, R::DH][rng.below(2) as usize];
            }
            R::AL as u32 + if n >= 4 { n + 4 } else { n }
        }
        16 => R::AX as u32 + n,
        32 => R::EAX as u32 + n,
        _ => R::RAX as u32 + n,
    };
    unsafe { std::mem::transmute::<u8, R>(base as u8) }
}

fn xmm(rng: &mut Rng) -> R {
    unsafe { std::mem::transmute::<u8, R>((R::XMM0 as u32 + rng.below(16) as u32) as u8) }
}

/// A memory operand of one of the shapes the micro-ops distinguish; `align16` for operands
/// that must be 16-byte aligned.
fn mem(rng: &mut Rng, align16: bool) -> MemoryOperand {
    let m = |base, index, scale, displ: i64, seg| MemoryOperand {
        segment_prefix: seg,
        base,
        index,
        scale,
        displacement: displ,
        displ_size: if base == R::None && index == R::None { 4 } else { 1 },
        is_broadcast: false,
    };
    if align16 {
        return m(R::RBX, R::None, 1, (rng.below(0x70) * 16) as i64, R::None);
    }
    let d = rng.below(0x700) as i64;
    match rng.below(12) {
        0..=4 => m(R::RBX, R::None, 1, d, R::None),
        5 | 6 => m(R::RBX, R::R12, 1 << rng.below(4), rng.below(0x400) as i64, R::None),
        7 => m(R::None, R::R12, 8, (DATA + rng.below(0x400)) as i64, R::None),
        8 => m(R::RIP, R::None, 1, (RIPDATA + rng.below(0xff0)) as i64, R::None),
        9 => m(R::RBX, R::None, 1, d, R::GS),
        10 => m(R::None, R::None, 1, (DATA + rng.below(0x700)) as i64, R::None),
        _ => m(R::R13, R::None, 1, d, R::None),
    }
}

fn codes() -> Vec<Code> {
    let ccs = [M::Cmove, M::Cmovne, M::Cmovb, M::Cmovbe, M::Cmovl, M::Cmovle, M::Cmovs, M::Cmovp, M::Cmovo];
    let sets = [M::Seta, M::Setae, M::Setg, M::Setge, M::Setno, M::Setnp, M::Setns, M::Sete, M::Setb];
    let class: Vec<M> = [
        M::Add,
        M::Or,
        M::Adc,
        M::Sbb,
        M::And,
        M::Sub,
        M::Xor,
        M::Cmp,
        M::Test,
        M::Inc,
        M::Dec,
        M::Neg,
        M::Not,
        M::Mov,
        M::Movzx,
        M::Movsx,
        M::Movsxd,
        M::Lea,
        M::Shl,
        M::Shr,
        M::Sar,
        M::Rol,
        M::Ror,
        M::Rcl,
        M::Rcr,
        M::Shld,
        M::Imul,
        M::Mul,
        M::Xchg,
        M::Bt,
        M::Bts,
        M::Bsf,
        M::Bswap,
        M::Cdqe,
        M::Cqo,
        M::Cdq,
        M::Cwde,
        M::Xadd,
        M::Cmpxchg,
        M::Movaps,
        M::Movups,
        M::Movdqa,
        M::Movdqu,
        M::Pxor,
        M::Pcmpeqb,
        M::Pcmpeqw,
        M::Pcmpeqd,
        M::Por,
        M::Pand,
        M::Pandn,
        M::Pminub,
        M::Pmaxub,
        M::Psubb,
        M::Paddb,
        M::Punpcklbw,
        M::Punpcklwd,
        M::Punpckldq,
        M::Punpcklqdq,
        M::Pshufd,
        M::Pmovmskb,
        M::Movd,
        M::Movq,
        M::Nop,
        M::Lahf,
        M::Sahf,
        M::Clc,
        M::Stc,
        M::Cmc,
    ]
    .into_iter()
    .chain(ccs)
    .chain(sets)
    .collect();
    Code::values()
        .filter(|c| {
            let oc = c.op_code();
            class.contains(&c.mnemonic())
                && emu_x86::advertised(*c, false)
                && oc.encoding() == iced_x86::EncodingKind::Legacy
                && oc.mode64()
                && !(0..oc.op_count()).any(|n| matches!(oc.op_kind(n), K::mm_or_mem | K::mm_reg | K::mm_rm))
        })
        .collect()
}

/// A random instance of `code` with operands from the pools above.
fn instance(rng: &mut Rng, code: Code) -> Option<Instruction> {
    let oc = code.op_code();
    // Legacy SSE 16-byte operands must be aligned (MOVUPS/MOVDQU need not, but may be).
    let align16 = !matches!(code.mnemonic(), M::Movd | M::Movq | M::Movups | M::Movdqu);
    let mut ops = Vec::new();
    for n in 0..oc.op_count() {
        let w = |k: K| match k {
            K::r8_or_mem | K::r8_reg | K::r8_opcode => 8,
            K::r16_or_mem | K::r16_reg | K::r16_opcode => 16,
            K::r32_or_mem | K::r32_reg | K::r32_opcode => 32,
            _ => 64,
        };
        let k = oc.op_kind(n);
        ops.push(match k {
            K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem => {
                if rng.below(2) == 0 {
                    Err(mem(rng, false))
                } else {
                    Ok(gpr(rng, w(k)))
                }
            }
            K::mem => Err(mem(rng, false)),
            K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r32_reg
            | K::r32_opcode
            | K::r64_reg
            | K::r64_opcode => Ok(gpr(rng, w(k))),
            K::xmm_or_mem => {
                if rng.below(2) == 0 {
                    Err(mem(rng, align16))
                } else {
                    Ok(xmm(rng))
                }
            }
            K::xmm_reg | K::xmm_rm => Ok(xmm(rng)),
            K::al => Ok(R::AL),
            K::ax => Ok(R::AX),
            K::eax => Ok(R::EAX),
            K::rax => Ok(R::RAX),
            K::cl => Ok(R::CL),
            K::imm8 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => return imm_form(code, ops, rng_imm8(rng)),
            K::imm16 => return imm_form(code, ops, rng.next() as i16 as i64),
            K::imm32 | K::imm32sex64 => return imm_form(code, ops, rng.value() as i32 as i64),
            K::imm64 => return imm_form(code, ops, rng.value() as i64),
            K::imm8_const_1 => return imm_form(code, ops, 1),
            _ => return None,
        });
    }
    // A register bit offset into memory can reach anywhere.
    if matches!(code.mnemonic(), M::Bt | M::Bts) && matches!(ops.as_slice(), [Err(_), Ok(_)]) {
        return None;
    }
    let i = match ops.as_slice() {
        [] => Instruction::with(code),
        [Ok(a)] => Instruction::with1(code, *a).ok()?,
        [Err(a)] => Instruction::with1(code, *a).ok()?,
        [Ok(a), Ok(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Ok(a), Err(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Err(a), Ok(b)] => Instruction::with2(code, *a, *b).ok()?,
        [Ok(a), Ok(b), Ok(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        [Err(a), Ok(b), Ok(c)] => Instruction::with3(code, *a, *b, *c).ok()?,
        _ => return None,
    };
    Some(i)
}

fn rng_imm8(rng: &mut Rng) -> i64 {
    // Shift and rotate counts: mostly small, so results stay interesting.
    if rng.below(2) == 0 {
        rng.below(70) as i64
    } else {
        rng.next() as i8 as i64
    }
}

/// An instruction whose last operand is an immediate `imm` (the others already in `ops`).
fn imm_form(code: Code, ops: Vec<Result<R, MemoryOperand>>, imm: i64) -> Option<Instruction> {
    let i = match ops.as_slice() {
        [] => Instruction::with1(code, imm as i32).ok()?,
        [Ok(a)] if code.op_code().op_kind(1) == K::imm64 => Instruction::with2(code, *a, imm as u64).ok()?,
        [Ok(a)] => Instruction::with2(code, *a, imm as i32).ok()?,
        [Err(a)] => Instruction::with2(code, *a, imm as i32).ok()?,
        [Ok(a), Ok(b)] => Instruction::with3(code, *a, *b, imm as i32).ok()?,
        [Ok(a), Err(b)] => Instruction::with3(code, *a, *b, imm as i32).ok()?,
        [Err(a), Ok(b)] => Instruction::with3(code, *a, *b, imm as i32).ok()?,
        _ => return None,
    };
    Some(i)
}

/// Puts label `l` on a NOP (two labels may not share an instruction).
fn place(a: &mut CodeAssembler, l: &mut CodeLabel) {
    a.set_label(l).unwrap();
    a.nop().unwrap();
}

/// Emits `min` to `min + spread - 1` random straight-line instructions.
fn straight(a: &mut CodeAssembler, rng: &mut Rng, codes: &[Code], min: u64, spread: u64) {
    let n = min + rng.below(spread);
    let mut done = 0;
    while done < n {
        let code = codes[rng.below(codes.len() as u64) as usize];
        let Some(i) = instance(rng, code) else { continue };
        // AH/DH cannot be encoded together with anything that needs a REX prefix.
        if iced_x86::Encoder::new(64).encode(&i, CODE).is_err() {
            continue;
        }
        a.add_instruction(i).unwrap();
        done += 1;
    }
}

/// A random program, where its functions start (for the code pointer) and where its final
/// HLT is.
fn program(rng: &mut Rng, codes: &[Code]) -> (Vec<u8>, u64, u64) {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut funcs: Vec<CodeLabel> = (0..4).map(|_| a.create_label()).collect();
    // Called with an argument on the stack, which its RET 8 pops.
    let mut ret8 = a.create_label();
    while a.instructions().len() < 700 {
        match rng.below(24) {
            0 => {
                // A forward conditional branch over a few instructions.
                let mut l = a.create_label();
                let cc = rng.below(6);
                match cc {
                    0 => a.jne(l),
                    1 => a.je(l),
                    2 => a.jb(l),
                    3 => a.jl(l),
                    4 => a.jbe(l),
                    _ => a.jg(l),
                }
                .unwrap();
                straight(&mut a, rng, codes, 1, 4);
                place(&mut a, &mut l);
            }
            1 => {
                // A loop with RCX.
                let mut top = a.create_label();
                a.mov(ecx, 1 + rng.below(5) as u32).unwrap();
                a.set_label(&mut top).unwrap();
                straight(&mut a, rng, codes, 1, 6);
                a.dec(ecx).unwrap();
                a.jne(top).unwrap();
            }
            2 => {
                let f = funcs[rng.below(4) as usize];
                match rng.below(3) {
                    0 => a.call(f).unwrap(),
                    1 => {
                        a.lea(r11, ptr(f)).unwrap();
                        a.call(r11).unwrap();
                    }
                    _ => a.call(qword_ptr(rbx + FPTR)).unwrap(),
                }
            }
            3 => {
                let r = [rax, rdx, rsi, rdi, r8, r14][rng.below(6) as usize];
                if rng.below(3) == 0 {
                    a.push(rng.next() as i32).unwrap();
                } else {
                    a.push(r).unwrap();
                }
                straight(&mut a, rng, codes, 0, 3);
                let r = [rax, rdx, rsi, rdi, r9, r15][rng.below(6) as usize];
                a.pop(r).unwrap();
            }
            4 => {
                // An unconditional jump forward, directly, through a register or memory.
                let mut l = a.create_label();
                match rng.below(2) {
                    0 => a.jmp(l).unwrap(),
                    _ => {
                        a.lea(r10, ptr(l)).unwrap();
                        a.jmp(r10).unwrap();
                    }
                }
                straight(&mut a, rng, codes, 1, 3);
                place(&mut a, &mut l);
            }
            5 if rng.below(2) == 0 => {
                a.push(rng.next() as i32).unwrap();
                a.call(ret8).unwrap();
            }
            5 if rng.below(8) == 0 => {
                // Break R13: the next access through it faults and the handler repairs it.
                a.mov(r13, UNMAPPED).unwrap();
            }
            6 if rng.below(4) == 0 => {
                // A jump through memory, to just after it.
                let mut l = a.create_label();
                a.lea(r11, ptr(l)).unwrap();
                a.mov(qword_ptr(rbx + FPTR - 8), r11).unwrap();
                straight(&mut a, rng, codes, 0, 3);
                a.jmp(qword_ptr(rbx + FPTR - 8)).unwrap();
                place(&mut a, &mut l);
            }
            7 if rng.below(4) == 0 => {
                a.pushfq().unwrap();
                straight(&mut a, rng, codes, 0, 3);
                a.popfq().unwrap();
            }
            _ => straight(&mut a, rng, codes, 1, 4),
        }
    }
    let mut end = a.create_label();
    a.set_label(&mut end).unwrap();
    a.hlt().unwrap();
    for f in funcs.iter_mut() {
        a.set_label(f).unwrap();
        straight(&mut a, rng, codes, 1, 8);
        a.ret().unwrap();
    }
    a.set_label(&mut ret8).unwrap();
    straight(&mut a, rng, codes, 1, 4);
    a.ret_1(8).unwrap();
    let r = a.assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS).unwrap();
    let f0 = r.label_ip(&funcs[0]).unwrap();
    let hlt = r.label_ip(&end).unwrap();
    (r.inner.code_buffer, f0, hlt)
}

fn setup(rng_seed: u64, code: &[u8], f0: u64, reference: bool) -> (Cpu, TestBus) {
    let mut rng = Rng(rng_seed);
    let (mut cpu, mut bus) = machine();
    cpu.set_reference_interpreter(reference);
    bus.unmap(UNMAPPED);
    bus.write(CODE, code);
    // The #PF handler: R13 = RBX, drop the error code, return to the faulting instruction.
    let mut h = CodeAssembler::new(64).unwrap();
    h.mov(r13, rbx).unwrap();
    h.add(rsp, 8).unwrap();
    h.iretq().unwrap();
    bus.write(PF_HANDLER, &h.assemble(PF_HANDLER).unwrap());
    let lo = (PF_HANDLER & 0xffff) | ((KERNEL_CS as u64) << 16) | (0x8e << 40) | (((PF_HANDLER >> 16) & 0xffff) << 48);
    bus.ram.write_u64(IDT + 16 * 14, lo).unwrap();
    bus.ram.write_u64(IDT + 16 * 14 + 8, PF_HANDLER >> 32).unwrap();
    let data: Vec<u8> = (0..0x1000).map(|_| rng.next() as u8).collect();
    bus.write(DATA, &data);
    bus.ram.write_u64(DATA + FPTR, f0).unwrap();
    let rip_data: Vec<u8> = (0..0x1000).map(|_| rng.next() as u8).collect();
    bus.write(RIPDATA, &rip_data);
    for r in cpu.gpr.iter_mut() {
        *r = rng.value();
    }
    cpu.gpr[3] = DATA;
    cpu.gpr[12] = rng.below(64);
    cpu.gpr[13] = if rng.below(2) == 0 { DATA } else { UNMAPPED };
    cpu.gpr[4] = KSTACK_TOP;
    for x in cpu.xmm.iter_mut() {
        *x = rng.next() as u128 | (rng.next() as u128) << 64;
    }
    cpu.set_rflags(rng.next() & 0x8d5);
    cpu.seg[GS].base = GS_BASE;
    cpu.rip = CODE;
    (cpu, bus)
}

fn compare(what: &str, fast: &mut Cpu, fb: &mut TestBus, slow: &mut Cpu, sb: &mut TestBus) {
    assert_eq!(fast.rip, slow.rip, "{what}: rip");
    for r in 0..16 {
        assert_eq!(fast.gpr[r], slow.gpr[r], "{what}: r{r} (rip {:#x})", fast.rip);
    }
    assert_eq!(fast.rflags(), slow.rflags(), "{what}: rflags (rip {:#x})", fast.rip);
    assert_eq!(fast.icount, slow.icount, "{what}: icount");
    assert_eq!(fast.xmm, slow.xmm, "{what}: xmm");
    assert_eq!(fast.cr2, slow.cr2, "{what}: cr2");
    for (base, len) in [(DATA, 0x1000), (RIPDATA, 0x1000), (KSTACK_TOP - 0x1000, 0x1000), (CODE, 0x3000)] {
        let (mut a, mut b) = (vec![0; len], vec![0; len]);
        fb.ram().read(base, &mut a).unwrap();
        sb.ram().read(base, &mut b).unwrap();
        if a != b {
            let k = (0..len).find(|&k| a[k] != b[k]).unwrap();
            panic!("{what}: memory at {:#x} differs (rip {:#x})", base + k as u64, fast.rip);
        }
    }
}

#[test]
fn micro_ops_and_chaining_match_the_generic_executor() {
    let codes = codes();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let rounds: u64 = std::env::var("EMU_X86_FAST_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let (mut total, mut faults) = (0u64, 0u64);
    for round in 0..rounds {
        let (code, f0, hlt) = program(&mut rng, &codes);
        assert!(code.len() < 0x3000, "program too long");
        let seed = rng.next();
        let (mut fast, mut fb) = setup(seed, &code, f0, false);
        let (mut slow, mut sb) = setup(seed, &code, f0, true);
        let steps = [1u64, 7, 33, 100, 1000, 5000, 3, 17, 60, 250, 999, 2, 41, 5, 9, 13, 21, 4, 6];
        let mut done = 0;
        for (n, &step) in steps.iter().cycle().enumerate() {
            let (e_fast, e_slow) = (fast.run(&mut fb, step), slow.run(&mut sb, step));
            done += step;
            let what = format!("round {round}, run {n} (step {step}, {done} so far)");
            assert_eq!(e_fast, e_slow, "{what}: exit");
            compare(&what, &mut fast, &mut fb, &mut slow, &mut sb);
            if e_fast != Exit::Budget {
                // The program's final HLT, at CPL 0 with interrupts off.
                assert_eq!(e_fast, Exit::Dead, "{what}");
                assert_eq!(fast.rip, hlt + 1, "{what}");
                break;
            }
            assert!(n < 10_000, "{what}: does not finish");
        }
        total += fast.icount;
        faults += (fast.cr2 & !0xfff == UNMAPPED) as u64;
    }
    // The programs must run to their end (not stop at a handler) and some must have faulted.
    assert!(total > rounds * 500, "only {total} instructions");
    assert!(faults > 0, "no page faults exercised");
}
