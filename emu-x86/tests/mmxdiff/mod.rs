//! The MMX class of the differential test: each case is a short program that zeroes the x87
//! registers, loads random x87 values and random MM registers, runs one random MMX (or
//! MMX-form SSE/SSE2) instruction, stores MM0-7 with MOVQ (mostly), sometimes runs EMMS, and
//! FNSAVEs the whole FPU state (which also leaves the host's FPU initialised). The data area
//! (stores, MM dump, FNSAVE image with its tag word and TOP) is compared byte for byte, the
//! FNSAVE instruction/data pointer fields excepted: the program zeroes them itself, as the
//! emulator does not track them.

use super::{instance, mm, Case, Rng, State, ARITH, DATA, DATA_LEN};
use iced_x86::{Code, Encoder, Instruction, MemoryOperand, Mnemonic as M, OpCodeOperandKind as K, Register};

/// Data layout (offsets from DATA). The random instruction's memory operand is at most
/// BASES + 63 + 16 bytes in.
const BASES: u64 = 128;
const MM_IN: i64 = 208;
const MM_OUT: i64 = 272;
const SAVE: i64 = 336;

/// An absolute memory operand (no base register, so the random instruction cannot move it).
fn abs(off: i64) -> MemoryOperand {
    MemoryOperand::with_base_displ_size(Register::None, DATA as i64 + off, 4)
}

/// Every encoding with an MM operand this CPU advertises, and EMMS.
fn codes() -> Vec<Code> {
    Code::values()
        .filter(|c| {
            let oc = c.op_code();
            let mm = (0..oc.op_count()).any(|n| matches!(oc.op_kind(n), K::mm_or_mem | K::mm_reg | K::mm_rm));
            (mm || *c == Code::Emms)
                && emu_x86::advertised(*c, false)
                && oc.encoding() == iced_x86::EncodingKind::Legacy
                && oc.mode64()
        })
        .collect()
}

/// The random instruction, its bytes, and the GPR its memory operand is based on.
fn random_insn(rng: &mut Rng, codes: &[Code]) -> (Code, Vec<u8>, Option<Register>) {
    loop {
        let code = codes[rng.below(codes.len() as u64) as usize];
        if code == Code::Maskmovq_rDI_mm_mm {
            let i = Instruction::with_maskmovq(64, mm(rng.below(8)), mm(rng.below(8)), Register::None).unwrap();
            let mut enc = Encoder::new(64);
            enc.encode(&i, super::CODE).unwrap();
            return (code, enc.take_buffer(), Some(Register::RDI));
        }
        if let Some((bytes, base)) = instance(rng, code, false) {
            return (code, bytes, base.first().map(|b| b.0));
        }
    }
}

pub fn case(rng: &mut Rng) -> Case {
    thread_local!(static CODES: Vec<Code> = codes());
    let (code, bytes, base) = CODES.with(|c| random_insn(rng, c));
    let mut list = vec![Instruction::with(Code::Fninit)];
    list.extend((0..8).map(|_| Instruction::with(Code::Fldz)));
    list.push(Instruction::with(Code::Fninit));
    // Some x87 values (random doubles) under the MM registers, and some MM registers loaded.
    for _ in 0..rng.below(4) {
        list.push(Instruction::with1(Code::Fld_m64fp, abs(MM_IN + 8 * rng.below(8) as i64)).unwrap());
    }
    for k in 0..8 {
        if rng.below(4) != 0 {
            list.push(Instruction::with2(Code::Movq_mm_mmm64, mm(k), abs(MM_IN + 8 * k as i64)).unwrap());
        }
    }
    let mut enc = Encoder::new(64);
    let mut ip = super::CODE;
    for i in &list {
        ip += enc.encode(i, ip).expect("encodable") as u64;
    }
    let mut out = enc.take_buffer();
    out.extend_from_slice(&bytes);
    let mut tail = Vec::new();
    if rng.below(3) != 0 {
        tail.extend(
            (0..8).map(|k| Instruction::with2(Code::Movq_mmm64_mm, abs(MM_OUT + 8 * k), mm(k as u64)).unwrap()),
        );
    }
    if rng.below(2) == 0 {
        tail.push(Instruction::with(Code::Emms));
    }
    tail.push(Instruction::with1(Code::Fnsave_m108byte, abs(SAVE)).unwrap());
    // FIP/FCS, FDP/FDS: not tracked by the emulator.
    for o in [12, 20] {
        tail.push(Instruction::with2(Code::Mov_rm64_imm32, abs(SAVE + o), 0).unwrap());
    }
    let mut enc = Encoder::new(64);
    let mut ip = super::CODE + out.len() as u64;
    for i in &tail {
        ip += enc.encode(i, ip).expect("encodable") as u64;
    }
    out.extend_from_slice(&enc.take_buffer());

    let mut init = State::default();
    for r in init.gpr.iter_mut() {
        *r = rng.value();
    }
    if let Some(b) = base {
        // Aligned half the time, for the 16-byte operand of CVTPD2PI.
        let off = if rng.below(2) == 0 { rng.below(BASES) & !15 } else { rng.below(BASES) };
        init.gpr[b as usize - Register::RAX as usize] = DATA + off;
    }
    init.rflags = (rng.next() & ARITH) | 0x202;
    for x in init.xmm.iter_mut() {
        *x = rng.float_bits();
    }
    let mut data = [0u8; DATA_LEN];
    for b in data.iter_mut() {
        *b = rng.next() as u8;
    }
    // MM inputs: edge lane values half the time.
    for k in 0..8 {
        let v = if rng.below(2) == 0 { rng.value() } else { rng.float_bits() as u64 };
        let o = MM_IN as usize + 8 * k;
        data[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
    Case { bytes: out, mnemonic: M::Emms, code, init, data, loose: None }
}
