//! The x87 classes of the differential test: each case is a short program (FNINIT, FLDCW with
//! a random precision and rounding control, loads of random 80-bit/64-bit/32-bit/integer
//! values, random x87 instructions, FNSAVE of the whole FPU state), run natively and in the
//! emulator; the data area (stores, FNSAVE image) is compared exactly except the last
//! instruction/data pointer fields, which the emulator does not track. The transcendental
//! class compares results within `ULPS` units in the last place and ignores C1 (the
//! rounding direction) there.

use super::{Case, Rng, State, DATA, DATA_LEN};
use iced_x86::{Code, Encoder, Instruction, MemoryOperand, MemorySize, Mnemonic as M, Register};

/// Transcendental results may differ from this machine's by this many ulps.
pub const ULPS: u64 = 2;

/// Data layout (offsets from DATA, addressed through RBX).
const CW: i64 = 0;
const CW2: i64 = 2;
const FSW_OUT: i64 = 8;
/// Slots of 16 bytes holding random values, read and written by the instructions.
const SLOTS: i64 = 16;
const NSLOTS: u64 = 20;
const ENV: i64 = 336;
const BCD: i64 = 368;
const SAVE: i64 = 384;

/// The parts of the data area compared loosely.
pub struct Loose {
    /// Byte ranges not compared (instruction and data pointers).
    ignore: Vec<(usize, usize)>,
    /// Offsets of extended results compared within `ULPS`.
    approx: Vec<usize>,
    /// Offsets of status words whose C1 is not compared.
    no_c1: Vec<usize>,
}

impl Loose {
    pub fn compare(&self, native: &[u8; DATA_LEN], emu: &mut [u8; DATA_LEN], diffs: &mut Vec<String>) {
        for &(a, b) in &self.ignore {
            emu[a..b].copy_from_slice(&native[a..b]);
        }
        let s = SAVE as usize;
        if self.approx.is_empty() && native[s..s + 108] != emu[s..s + 108] {
            diffs.push(save_diff(&native[s..s + 108], &emu[s..s + 108]));
            emu[s..s + 108].copy_from_slice(&native[s..s + 108]);
        }
        for &o in &self.no_c1 {
            emu[o + 1] = (emu[o + 1] & !2) | (native[o + 1] & 2);
            if emu[o..o + 2] != native[o..o + 2] {
                diffs.push(format!("fsw native {:02x?} emu {:02x?}", &native[o..o + 2], &emu[o..o + 2]));
            }
        }
        for &o in &self.approx {
            let (n, e) = (ext(&native[o..o + 10]), ext(&emu[o..o + 10]));
            match (key(n), key(e)) {
                (Some(a), Some(b)) if a.abs_diff(b) <= ULPS as u128 => {
                    emu[o..o + 10].copy_from_slice(&native[o..o + 10])
                }
                _ if n == e => {}
                _ => {
                    let (x, y) = (ext(&native[16..26]), ext(&native[32..42]));
                    diffs.push(format!(
                        "result at {o}: native {:04x}:{:016x} emu {:04x}:{:016x} (x {:04x}:{:016x} y {:04x}:{:016x})",
                        n.0, n.1, e.0, e.1, x.0, x.1, y.0, y.1
                    ))
                }
            }
        }
    }
}

/// The instruction sequence, by iced code name, with the initial value of the floating-point
/// memory operands the instructions read.
pub fn disassemble(bytes: &[u8], data: &[u8; DATA_LEN]) -> String {
    let mut d = iced_x86::Decoder::with_ip(64, bytes, super::CODE, iced_x86::DecoderOptions::NONE);
    let mut v = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        let disp = if i.memory_base() == Register::RBX {
            let o = i.memory_displacement64() as usize;
            let le = |n: usize| data[o..o + n].iter().rev().map(|b| format!("{b:02x}")).collect::<String>();
            match i.memory_size() {
                _ if matches!(i.mnemonic(), M::Fst | M::Fstp) => format!("[{o}]"),
                MemorySize::Float32 => format!("[{o}]={}", le(4)),
                MemorySize::Float64 => format!("[{o}]={}", le(8)),
                MemorySize::Float80 => {
                    let (se, sig) = ext(&data[o..o + 10]);
                    format!("[{o}]={se:04x}:{sig:016x}")
                }
                _ => format!("[{o}]"),
            }
        } else {
            String::new()
        };
        if i.code() != Code::Fldz || v.len() > 9 {
            v.push(format!("{:?}{disp}", i.code()));
        }
    }
    v.join(" ")
}

/// The fields of two FNSAVE images that differ.
fn save_diff(n: &[u8], e: &[u8]) -> String {
    let w = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let mut out = Vec::new();
    for (name, o) in [("fcw", 0), ("fsw", 4), ("ftw", 8)] {
        if w(n, o) != w(e, o) || n[o + 2..o + 4] != e[o + 2..o + 4] {
            out.push(format!(
                "{name} native {:04x}({:02x?}) emu {:04x}({:02x?})",
                w(n, o),
                &n[o + 2..o + 4],
                w(e, o),
                &e[o + 2..o + 4]
            ));
        }
    }
    for k in 0..8 {
        let o = 28 + 10 * k;
        if n[o..o + 10] != e[o..o + 10] {
            let (a, b) = (ext(&n[o..o + 10]), ext(&e[o..o + 10]));
            out.push(format!("st{k} native {:04x}:{:016x} emu {:04x}:{:016x}", a.0, a.1, b.0, b.1));
        }
    }
    out.join(", ")
}

fn ext(b: &[u8]) -> (u16, u64) {
    (u16::from_le_bytes([b[8], b[9]]), u64::from_le_bytes(b[..8].try_into().unwrap()))
}

/// A key in which adjacent finite extended values differ by 1 (sign-magnitude folded).
fn key((se, sig): (u16, u64)) -> Option<i128> {
    let e = (se & 0x7fff) as i128;
    if e == 0x7fff {
        return None;
    }
    let mag = if e == 0 { sig as i128 } else { e << 63 | (sig & !(1 << 63)) as i128 };
    Some(if se & 0x8000 != 0 { -mag } else { mag })
}

/// A random extended value, biased towards the interesting ones.
fn f80(rng: &mut Rng) -> (u16, u64) {
    let sign = (rng.below(2) as u16) << 15;
    let j = 1u64 << 63;
    match rng.below(16) {
        0 => (sign, 0),
        1 => (sign | 0x7fff, j),
        2 => (sign | 0x7fff, j | 1 << 62 | rng.next() >> (2 + rng.below(62))),
        3 => (sign | 0x7fff, j | (rng.next() >> 2).max(1)),
        4 => (sign, rng.next() >> (1 + rng.below(63))),
        5 => (sign, j | rng.next()),
        6 => (sign | rng.below(0x7fff) as u16, rng.next() >> 1),
        7 => (sign | (rng.below(0x7ffe) + 1) as u16, j | rng.next()),
        8 => (sign | [1, 2, 0x7ffe, 0x7ffd][rng.below(4) as usize], j | rng.next()),
        9 => (sign | (0x3fff + rng.below(64)) as u16, j | (rng.next() << rng.below(64) >> 1 << 1)),
        _ => {
            // Modest exponents, sometimes short significands (exact or tie cases).
            let e = 0x3fff - 8 + rng.below(24) as u16;
            let s = j | rng.next() >> 1;
            let s = if rng.below(3) == 0 { s >> 40 << 40 } else { s };
            (sign | e, s)
        }
    }
}

fn mem(disp: i64) -> MemoryOperand {
    MemoryOperand::with_base_displ(Register::RBX, disp)
}

fn st(i: u64) -> Register {
    [
        Register::ST0,
        Register::ST1,
        Register::ST2,
        Register::ST3,
        Register::ST4,
        Register::ST5,
        Register::ST6,
        Register::ST7,
    ][i as usize & 7]
}

fn control_word(rng: &mut Rng) -> u16 {
    let pc = [0u16, 2, 3, 3][rng.below(4) as usize];
    let rc = rng.below(4) as u16;
    0x7f | pc << 8 | rc << 10
}

fn fill_data(rng: &mut Rng) -> [u8; DATA_LEN] {
    let mut data = [0u8; DATA_LEN];
    for b in data.iter_mut() {
        *b = rng.next() as u8;
    }
    data[CW as usize..CW as usize + 2].copy_from_slice(&control_word(rng).to_le_bytes());
    data[CW2 as usize..CW2 as usize + 2].copy_from_slice(&control_word(rng).to_le_bytes());
    for k in 0..NSLOTS as usize {
        let o = SLOTS as usize + 16 * k;
        match rng.below(3) {
            0 | 1 => {
                let (se, sig) = f80(rng);
                data[o..o + 8].copy_from_slice(&sig.to_le_bytes());
                data[o + 8..o + 10].copy_from_slice(&se.to_le_bytes());
            }
            _ => {
                let v = rng.float_bits();
                data[o..o + 16].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    // 18 valid BCD digits and a sign.
    for k in 0..9 {
        data[BCD as usize + k] = (rng.below(10) << 4 | rng.below(10)) as u8;
    }
    data[BCD as usize + 9] = (rng.below(2) as u8) << 7;
    data
}

fn slot(rng: &mut Rng) -> MemoryOperand {
    mem(SLOTS + 16 * rng.below(NSLOTS) as i64 + [0, 0, 0, 4, 8][rng.below(5) as usize] * (rng.below(2) as i64))
}

/// One random x87 instruction (not FLDENV/FRSTOR, whose images would be random).
fn random_op(rng: &mut Rng) -> Instruction {
    use Code as C;
    let i = rng.below(8);
    let s = st(i);
    let m = slot(rng);
    let r = match rng.below(21) {
        0 => {
            let c = [
                C::Fadd_st0_sti,
                C::Fsub_st0_sti,
                C::Fsubr_st0_sti,
                C::Fmul_st0_sti,
                C::Fdiv_st0_sti,
                C::Fdivr_st0_sti,
            ][rng.below(6) as usize];
            Instruction::with2(c, Register::ST0, s)
        }
        1 => {
            let c = [
                C::Fadd_sti_st0,
                C::Fsub_sti_st0,
                C::Fsubr_sti_st0,
                C::Fmul_sti_st0,
                C::Fdiv_sti_st0,
                C::Fdivr_sti_st0,
                C::Faddp_sti_st0,
                C::Fsubp_sti_st0,
                C::Fsubrp_sti_st0,
                C::Fmulp_sti_st0,
                C::Fdivp_sti_st0,
                C::Fdivrp_sti_st0,
            ][rng.below(12) as usize];
            Instruction::with2(c, s, Register::ST0)
        }
        2 | 3 => {
            let c = [
                C::Fadd_m32fp,
                C::Fsub_m32fp,
                C::Fsubr_m32fp,
                C::Fmul_m32fp,
                C::Fdiv_m32fp,
                C::Fdivr_m32fp,
                C::Fadd_m64fp,
                C::Fsub_m64fp,
                C::Fsubr_m64fp,
                C::Fmul_m64fp,
                C::Fdiv_m64fp,
                C::Fdivr_m64fp,
                C::Fiadd_m16int,
                C::Fisub_m32int,
                C::Fisubr_m16int,
                C::Fimul_m32int,
                C::Fidiv_m16int,
                C::Fidivr_m32int,
                C::Fcom_m32fp,
                C::Fcomp_m64fp,
                C::Ficom_m16int,
                C::Ficomp_m32int,
            ][rng.below(22) as usize];
            Instruction::with1(c, m)
        }
        4 => Ok(Instruction::with(
            [
                C::Fchs,
                C::Fabs,
                C::Fsqrt,
                C::Frndint,
                C::Fscale,
                C::Fxtract,
                C::Fprem,
                C::Fprem1,
                C::Fxam,
                C::Ftst,
                C::Fcompp,
                C::Fucompp,
                C::Fincstp,
                C::Fdecstp,
                C::Fnop,
                C::Fld1,
                C::Fldz,
                C::Fldpi,
                C::Fldl2e,
                C::Fldl2t,
                C::Fldlg2,
                C::Fldln2,
            ][rng.below(22) as usize],
        )),
        5 | 6 => {
            let c = [
                C::Fcom_st0_sti,
                C::Fcomp_st0_sti,
                C::Fucom_st0_sti,
                C::Fucomp_st0_sti,
                C::Fcomi_st0_sti,
                C::Fcomip_st0_sti,
                C::Fucomi_st0_sti,
                C::Fucomip_st0_sti,
                C::Fxch_st0_sti,
                C::Fcmovb_st0_sti,
                C::Fcmove_st0_sti,
                C::Fcmovbe_st0_sti,
                C::Fcmovu_st0_sti,
                C::Fcmovnb_st0_sti,
                C::Fcmovne_st0_sti,
                C::Fcmovnbe_st0_sti,
                C::Fcmovnu_st0_sti,
            ][rng.below(17) as usize];
            Instruction::with2(c, Register::ST0, s)
        }
        7 => Instruction::with1([C::Fld_sti, C::Fst_sti, C::Fstp_sti, C::Ffree_sti][rng.below(4) as usize], s),
        8..=10 => {
            let c = [
                C::Fld_m32fp,
                C::Fld_m64fp,
                C::Fld_m80fp,
                C::Fild_m16int,
                C::Fild_m32int,
                C::Fild_m64int,
                C::Fst_m32fp,
                C::Fstp_m32fp,
                C::Fst_m64fp,
                C::Fstp_m64fp,
                C::Fstp_m80fp,
                C::Fist_m16int,
                C::Fist_m32int,
                C::Fistp_m16int,
                C::Fistp_m32int,
                C::Fistp_m64int,
                C::Fbstp_m80bcd,
                C::Fnstsw_m2byte,
                C::Fnstcw_m2byte,
            ][rng.below(19) as usize];
            Instruction::with1(c, m)
        }
        11 => Instruction::with1(C::Fbld_m80bcd, mem(BCD)),
        12 => Instruction::with1(C::Fldcw_m2byte, mem(CW2)),
        13 => Instruction::with1(C::Fnstenv_m28byte, mem(ENV)),
        14 => Instruction::with1(C::Fnstsw_AX, Register::AX),
        _ => {
            // The common arithmetic on the top two registers.
            let c = [C::Faddp_sti_st0, C::Fmulp_sti_st0, C::Fdivp_sti_st0, C::Fsubp_sti_st0, C::Fdivrp_sti_st0]
                [rng.below(5) as usize];
            Instruction::with2(c, Register::ST1, Register::ST0)
        }
    };
    r.expect("x87 instruction")
}

fn encode(list: &[Instruction]) -> Vec<u8> {
    let mut enc = Encoder::new(64);
    let mut ip = super::CODE;
    for i in list {
        ip += enc.encode(i, ip).expect("encodable") as u64;
    }
    enc.take_buffer()
}

fn init_state(rng: &mut Rng) -> State {
    let mut init = State::default();
    for r in init.gpr.iter_mut() {
        *r = rng.value();
    }
    init.gpr[3] = DATA;
    init.rflags = (rng.next() & super::ARITH) | 0x202;
    init
}

/// FNINIT, zeros in all physical registers (empty ones are saved too), FNINIT, FLDCW.
fn start() -> Vec<Instruction> {
    let mut v = vec![Instruction::with(Code::Fninit)];
    v.extend((0..8).map(|_| Instruction::with(Code::Fldz)));
    v.push(Instruction::with(Code::Fninit));
    v.push(Instruction::with1(Code::Fldcw_m2byte, mem(CW)).unwrap());
    v
}

fn load_slots(rng: &mut Rng, list: &mut Vec<Instruction>, n: u64) {
    for _ in 0..n {
        let m = mem(SLOTS + 16 * rng.below(NSLOTS) as i64);
        let c = match rng.below(8) {
            0 => Code::Fld_m64fp,
            1 => Code::Fild_m32int,
            _ => Code::Fld_m80fp,
        };
        list.push(Instruction::with1(c, m).unwrap());
    }
}

/// The "x87" class: random loads, 1-5 random instructions, FNSAVE.
pub fn sequence(rng: &mut Rng) -> Case {
    let mut list = start();
    let loads = rng.below(9);
    load_slots(rng, &mut list, loads);
    for _ in 0..1 + rng.below(5) {
        list.push(random_op(rng));
    }
    list.push(Instruction::with1(Code::Fnsave_m108byte, mem(SAVE)).unwrap());
    let s = SAVE as usize;
    let e = ENV as usize;
    Case {
        bytes: encode(&list),
        mnemonic: M::Fcomi,
        code: Code::Fnsave_m108byte,
        init: init_state(rng),
        data: fill_data(rng),
        loose: Some(Loose { ignore: vec![(s + 12, s + 28), (e + 12, e + 28)], approx: vec![], no_c1: vec![] }),
    }
}

/// Extended values of every class (both signs are used): zero, denormal, pseudo-denormal,
/// smallest normal, ordinary numbers, a large one, infinity, QNaN, SNaN, unnormal.
const SPECIALS: [(u16, u64); 11] = [
    (0, 0),
    (0, 1),
    (0, 0x8000_0000_0000_0001),
    (1, 1 << 63),
    (0x3fff, 1 << 63),
    (0x4000, 0xc000_0000_0000_0000),
    (0x4045, 0x8000_0000_0000_0001),
    (0x7fff, 1 << 63),
    (0x7fff, 0xc000_0000_0000_0001),
    (0x7fff, 0x8000_0000_0000_0001),
    (0x3fff, 0x4000_0000_0000_0000),
];

/// The "x87-specials" class: every pair of `SPECIALS` (signed) as ST(0) and ST(1) through each
/// of these instructions (the unary ones once per ST(0)); FNSAVE. Exhaustive, so rare operand
/// combinations are always covered (FSCALE of a denormal by an infinity once missed its DE);
/// the random control word (precision, rounding) comes from `rng`.
pub fn specials(rng: &mut Rng) -> Vec<Case> {
    use Code as C;
    let binary = [
        C::Fscale,
        C::Fprem,
        C::Fprem1,
        C::Fadd_st0_sti,
        C::Fsub_st0_sti,
        C::Fmul_st0_sti,
        C::Fdiv_st0_sti,
        C::Fdivr_st0_sti,
        C::Fcom_st0_sti,
        C::Fucom_st0_sti,
        C::Fcomi_st0_sti,
        C::Fucomi_st0_sti,
    ];
    let unary = [C::Fsqrt, C::Fxtract, C::Frndint, C::Ftst, C::Fxam, C::Fchs, C::Fabs];
    let values: Vec<(u16, u64)> = SPECIALS.iter().flat_map(|&(e, m)| [(e, m), (e | 0x8000, m)]).collect();
    let mut cases = Vec::new();
    for code in binary {
        let ins = match code.op_code().op_count() {
            0 => Instruction::with(code),
            _ => Instruction::with2(code, Register::ST0, Register::ST1).unwrap(),
        };
        for &a in &values {
            for &b in &values {
                cases.push(pair_case(rng, ins, Some(a), b));
            }
        }
    }
    for code in unary {
        let ins = Instruction::with(code);
        // Also once on an empty ST(0): a stack underflow.
        for a in values.iter().map(|&a| Some(a)).chain([None]) {
            cases.push(pair_case(rng, ins, a, (0, 0)));
        }
    }
    // Memory operands of every single/double class (denormals are reported from memory, the
    // way the missed DE was first suspected to be) against every ST(0), empty included.
    let f32s = [0u64, 1, 0x7f_ffff, 0x80_0000, 0x3f80_0000, 0x7f80_0000, 0x7fc0_0000, 0x7f80_0001];
    let f64s = [0u64, 1, 0x10_0000_0000_0000, 0x3ff0_0000_0000_0000, 0x7ff0_0000_0000_0000, 0x7ff0_0000_0000_0001];
    let single = [C::Fadd_m32fp, C::Fsub_m32fp, C::Fmul_m32fp, C::Fdiv_m32fp, C::Fcom_m32fp, C::Fld_m32fp];
    let double = [C::Fadd_m64fp, C::Fsubr_m64fp, C::Fmul_m64fp, C::Fdivr_m64fp, C::Fcomp_m64fp, C::Fld_m64fp];
    for (codes, bits, sign) in [(&single, &f32s[..], 1u64 << 31), (&double, &f64s[..], 1 << 63)] {
        for &code in codes {
            let ins = Instruction::with1(code, mem(SLOTS + 16)).unwrap();
            for m in bits.iter().flat_map(|&m| [m, m | sign]) {
                for a in values.iter().map(|&a| Some(a)).chain([None]) {
                    let mut c = pair_case(rng, ins, a, (0, 0));
                    // The operand replaces ST(1)'s slot, which is then not loaded.
                    c.bytes = encode(&case_list(ins, a, None));
                    let o = SLOTS as usize + 16;
                    c.data[o..o + 8].copy_from_slice(&m.to_le_bytes());
                    cases.push(c);
                }
            }
        }
    }
    cases
}

/// FLD b, FLD a (so ST(0) = a, ST(1) = b; without a, ST(0) is empty), the instruction, FNSAVE.
fn pair_case(rng: &mut Rng, ins: Instruction, a: Option<(u16, u64)>, b: (u16, u64)) -> Case {
    let mut data = fill_data(rng);
    for (o, (se, sig)) in [(SLOTS as usize, a.unwrap_or_default()), (SLOTS as usize + 16, b)] {
        data[o..o + 8].copy_from_slice(&sig.to_le_bytes());
        data[o + 8..o + 10].copy_from_slice(&se.to_le_bytes());
    }
    let s = SAVE as usize;
    Case {
        bytes: encode(&case_list(ins, a, Some(b))),
        mnemonic: M::Fcomi,
        code: ins.code(),
        init: init_state(rng),
        data,
        loose: Some(Loose { ignore: vec![(s + 12, s + 28)], approx: vec![], no_c1: vec![] }),
    }
}

/// The program of `pair_case`: the loads of the values present (b from slot 1, then a from
/// slot 0), `ins`, FNSAVE.
fn case_list(ins: Instruction, a: Option<(u16, u64)>, b: Option<(u16, u64)>) -> Vec<Instruction> {
    let mut list = start();
    for (o, v) in [(SLOTS + 16, b), (SLOTS, a)] {
        if v.is_some() {
            list.push(Instruction::with1(Code::Fld_m80fp, mem(o)).unwrap());
        }
    }
    list.push(ins);
    list.push(Instruction::with1(Code::Fnsave_m108byte, mem(SAVE)).unwrap());
    list
}

/// Values of the form the transcendental instructions are documented for.
fn arg(rng: &mut Rng, lo_exp: u16, hi_exp: u16, sign: bool) -> (u16, u64) {
    let e = lo_exp + rng.below((hi_exp - lo_exp) as u64 + 1) as u16;
    let s = if sign && rng.below(2) == 0 { 0x8000 } else { 0 };
    (s | e, 1 << 63 | rng.next())
}

/// The "x87-trans" class: one transcendental instruction on suitable random arguments.
pub fn transcendental(rng: &mut Rng) -> Case {
    let mut data = fill_data(rng);
    let mut put = |o: usize, (se, sig): (u16, u64)| {
        data[o..o + 8].copy_from_slice(&sig.to_le_bytes());
        data[o + 8..o + 10].copy_from_slice(&se.to_le_bytes());
    };
    let (x_slot, y_slot) = (SLOTS as usize, SLOTS as usize + 16);
    let special = rng.below(16) == 0;
    let code =
        [Code::F2xm1, Code::Fyl2x, Code::Fyl2xp1, Code::Fpatan, Code::Fsin, Code::Fcos, Code::Fsincos, Code::Fptan]
            [rng.below(8) as usize];
    let x = if special {
        let (se, sig) = f80(rng);
        // Out-of-range arguments (undefined results, inexact host reduction) are kept small.
        let ranged = matches!(code, Code::Fsin | Code::Fcos | Code::Fsincos | Code::Fptan | Code::Fyl2xp1);
        if ranged && (se & 0x7fff) > 0x3ffe && (se & 0x7fff) != 0x7fff {
            (se & 0x8000 | 0x3ffe, sig)
        } else {
            (se, sig)
        }
    } else {
        match code {
            Code::F2xm1 => arg(rng, 0x3fff - 64, 0x3ffe, true),
            Code::Fyl2x => arg(rng, 0x3fff - 200, 0x3fff + 200, false),
            Code::Fyl2xp1 => arg(rng, 0x3fff - 64, 0x3ffc, true),
            Code::Fpatan => arg(rng, 0x3fff - 100, 0x3fff + 100, true),
            // The host reduces larger arguments with a short pi, so it is itself several
            // ulps off there (the emulator reduces with a 128-bit pi).
            _ => arg(rng, 0x3fff - 40, 0x3ffe, true),
        }
    };
    let y = if special { f80(rng) } else { arg(rng, 0x3fff - 30, 0x3fff + 30, true) };
    put(x_slot, x);
    put(y_slot, y);
    let mut list = start();
    list.push(Instruction::with1(Code::Fld_m80fp, mem(y_slot as i64)).unwrap());
    list.push(Instruction::with1(Code::Fld_m80fp, mem(x_slot as i64)).unwrap());
    list.push(Instruction::with(code));
    list.push(Instruction::with1(Code::Fnstsw_m2byte, mem(FSW_OUT)).unwrap());
    list.push(Instruction::with1(Code::Fstp_m80fp, mem(SAVE)).unwrap());
    list.push(Instruction::with1(Code::Fstp_m80fp, mem(SAVE + 16)).unwrap());
    list.push(Instruction::with(Code::Fninit));
    let s = SAVE as usize;
    Case {
        bytes: encode(&list),
        mnemonic: M::Fcomi,
        code,
        init: init_state(rng),
        data,
        loose: Some(Loose { ignore: vec![], approx: vec![s, s + 16], no_c1: vec![FSW_OUT as usize] }),
    }
}
