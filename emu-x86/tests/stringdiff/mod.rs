//! The string class of the differential test: one MOVS, STOS, LODS, SCAS or CMPS (byte, word,
//! dword or qword), without a prefix or with REP/REPE (F3) or REPNE (F2), with 64-bit or
//! 32-bit (0x67) addresses, sometimes a no-op segment override on the source, and sometimes
//! run with DF = 1 (the program brackets it with STD and CLD, as the trampoline's callers
//! expect DF = 0). RSI, RDI and RCX are chosen so every element the instruction can touch lies
//! in the data area, and the data is shaped so REPE/REPNE stop at varied places. Registers,
//! flags and the data area are compared as in the other classes.

use super::{Case, Rng, State, ARITH, DATA, DATA_LEN};
use iced_x86::{Code, Encoder, Instruction, Register, RepPrefixKind as Rep};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Scas,
    Cmps,
}

/// The instruction for `kind` and element size, with its prefixes.
fn build(kind: Kind, size: usize, a32: bool, seg: Register, rep: Rep) -> Instruction {
    let asz = if a32 { 32 } else { 64 };
    let k = size.trailing_zeros() as usize;
    let i = match kind {
        Kind::Movs => {
            [Instruction::with_movsb, Instruction::with_movsw, Instruction::with_movsd, Instruction::with_movsq][k](
                asz, seg, rep,
            )
        }
        Kind::Lods => {
            [Instruction::with_lodsb, Instruction::with_lodsw, Instruction::with_lodsd, Instruction::with_lodsq][k](
                asz, seg, rep,
            )
        }
        Kind::Cmps => {
            [Instruction::with_cmpsb, Instruction::with_cmpsw, Instruction::with_cmpsd, Instruction::with_cmpsq][k](
                asz, seg, rep,
            )
        }
        Kind::Stos => {
            [Instruction::with_stosb, Instruction::with_stosw, Instruction::with_stosd, Instruction::with_stosq][k](
                asz, rep,
            )
        }
        Kind::Scas => {
            [Instruction::with_scasb, Instruction::with_scasw, Instruction::with_scasd, Instruction::with_scasq][k](
                asz, rep,
            )
        }
    };
    i.expect("string instruction")
}

/// The data-area offset of a pointer register for `n` elements of `size` bytes stepping up
/// (`down` false) or down from it, with every element inside the area.
fn place(rng: &mut Rng, n: usize, size: usize, down: bool) -> usize {
    let span = n.max(1) * size;
    let mut lo = rng.below((DATA_LEN - span + 1) as u64) as usize;
    if rng.below(2) == 0 {
        lo &= !(size - 1);
    }
    if down {
        lo + span - size
    } else {
        lo
    }
}

/// A pointer register's value for data offset `off`: with 32-bit addresses the upper half is
/// random (the instruction must ignore it and clear it when it writes the register).
fn pointer(rng: &mut Rng, off: usize, a32: bool) -> u64 {
    let hi = if a32 && rng.below(4) != 0 { rng.next() & !0xffff_ffff } else { 0 };
    hi | (DATA + off as u64)
}

pub fn case(rng: &mut Rng) -> Case {
    let kind = [Kind::Movs, Kind::Stos, Kind::Lods, Kind::Scas, Kind::Cmps][rng.below(5) as usize];
    let size = 1usize << rng.below(4);
    let a32 = rng.below(4) == 0;
    let down = rng.below(4) == 0;
    let compares = matches!(kind, Kind::Scas | Kind::Cmps);
    let rep = match rng.below(8) {
        0..=2 => Rep::None,
        // F2 on MOVS/STOS/LODS repeats like F3.
        3..=5 => Rep::Repe,
        6 if !compares => Rep::Repe,
        _ => Rep::Repne,
    };
    // Segment overrides other than FS/GS do nothing in 64-bit mode; FS/GS bases differ between
    // this process and the emulator, so they are not generated.
    let seg = if matches!(kind, Kind::Movs | Kind::Lods | Kind::Cmps) && rng.below(4) == 0 {
        [Register::ES, Register::CS, Register::SS, Register::DS][rng.below(4) as usize]
    } else {
        Register::None
    };
    let max = DATA_LEN / size;
    // Elements the instruction may process: RCX for REP forms (often small), else one.
    let n = match rep {
        Rep::None => 1,
        _ if rng.below(4) == 0 => rng.below(4) as usize,
        _ => rng.below(max as u64 + 1) as usize,
    };

    let mut init = State::default();
    for r in init.gpr.iter_mut() {
        *r = rng.value();
    }
    init.rflags = (rng.next() & ARITH) | 0x202;
    let mut data = [0u8; DATA_LEN];
    for b in data.iter_mut() {
        *b = rng.next() as u8;
    }
    let uses_si = matches!(kind, Kind::Movs | Kind::Lods | Kind::Cmps);
    let uses_di = !matches!(kind, Kind::Lods);
    let (si, di) = (place(rng, n, size, down), place(rng, n, size, down));
    if uses_si {
        init.gpr[6] = pointer(rng, si, a32);
    }
    if uses_di {
        init.gpr[7] = pointer(rng, di, a32);
    }
    if rep != Rep::None {
        let hi = if a32 { rng.next() & !0xffff_ffff } else { 0 };
        init.gpr[1] = hi | n as u64;
    }
    if compares {
        shape(rng, &mut data, &init, kind, size, n, down, si, di);
    }

    let mut list = Vec::new();
    if down {
        list.push(Instruction::with(Code::Std));
    }
    let insn = build(kind, size, a32, seg, rep);
    list.push(insn);
    if down {
        list.push(Instruction::with(Code::Cld));
    }
    let mut enc = Encoder::new(64);
    let mut ip = super::CODE;
    for i in &list {
        ip += enc.encode(i, ip).expect("encodable") as u64;
    }
    // All arithmetic flags are compared (`defined_flags`' default): MOVS/STOS/LODS must leave
    // them alone, SCAS/CMPS set them all as a subtraction does.
    Case { bytes: enc.take_buffer(), mnemonic: insn.mnemonic(), code: insn.code(), init, data, loose: None }
}

/// Makes the compared elements equal up to a random point and different after it (or the
/// other way round), so REPE and REPNE stop at varied places; a flipped byte anywhere in the
/// element varies the flags of the deciding comparison.
#[allow(clippy::too_many_arguments)]
fn shape(
    rng: &mut Rng,
    data: &mut [u8; DATA_LEN],
    init: &State,
    kind: Kind,
    size: usize,
    n: usize,
    down: bool,
    si: usize,
    di: usize,
) {
    let mode = rng.below(4);
    if mode == 0 {
        return;
    }
    let switch = rng.below(n as u64 + 1) as usize;
    for k in 0..n.max(1) {
        let at = |base: usize| if down { base - k * size } else { base + k * size };
        let want: Vec<u8> = match kind {
            Kind::Scas => init.gpr[0].to_le_bytes()[..size].to_vec(),
            _ => data[at(si)..at(si) + size].to_vec(),
        };
        // Mode 1: equal, then different (REPE stops); mode 2: different, then equal (REPNE
        // stops); mode 3: all equal.
        let equal = match mode {
            1 => k < switch,
            2 => k >= switch,
            _ => true,
        };
        let d = at(di);
        data[d..d + size].copy_from_slice(&want);
        if !equal {
            let b = rng.below(size as u64) as usize;
            data[d + b] ^= (rng.below(255) + 1) as u8;
        }
    }
}
