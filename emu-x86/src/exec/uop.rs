//! Micro-ops: the hot instruction forms, pre-digested at decode time so the run loop
//! (`fast.rs`) dispatches once on a small enum and finds its operands in a few bytes, instead
//! of asking iced's `Instruction` about operand kinds, registers and sizes on every execution.
//!
//! Everything not listed here, and every unusual variant of what is (32-bit addressing, segment
//! registers, 16-bit stack operations...), becomes [`Op::Slow`]: the loop hands the stored iced
//! `Instruction` to the generic executor (`Cpu::exec`), which implements every instruction and
//! is the reference the micro-ops are tested against.
//!
//! The most common operations come in 64-bit and 32-bit variants besides the one for any size,
//! so their masks and register merges are constants. [`liveness`] marks flag results that are
//! overwritten before anything could observe them, which the loop then does not compute.

use crate::flags::{ARITH, CF, OF};
use iced_x86::{Code, Instruction, Mnemonic as M, OpKind, Register};

/// What a micro-op does. `r0`/`r1` are its register operands, `size` its operand size in bytes;
/// `M` forms have a memory operand described by the `ea`, `base`, `index` and `disp` fields.
/// A `64` or `32` suffix fixes the size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Op {
    /// Through `Cpu::exec` with the stored instruction; `aux` 1 if it ends its block.
    #[default]
    Slow,
    /// The end of a block that does not end in a branch: execution goes on at `po`.
    End,
    Nop,
    MovRR64,
    MovRR32,
    MovRR,
    /// `r0 = imm | disp << 32` (the full 64-bit immediate).
    MovRI64,
    MovRI32,
    MovRI,
    MovRM64,
    MovRM32,
    MovRM,
    MovMR64,
    MovMR32,
    MovMR,
    MovMI,
    /// Zero/sign extension from `aux` bytes.
    MovzxRR,
    /// MOVZX r32, byte and r32, word memory (the commonest: `size` 4, `aux` 1 or 2).
    MovzxRM32,
    MovzxRM,
    MovsxRR,
    MovsxRM,
    Lea64,
    Lea32,
    Lea,
    /// Two-operand arithmetic; `aux` is an [`alu`] operation.
    AluRR64,
    AluRR32,
    AluRR,
    AluRI64,
    AluRI32,
    AluRI,
    AluRM64,
    AluRM32,
    AluRM,
    AluMR,
    AluMI,
    /// CMP and TEST of memory with a register (`r1`) or an immediate: [`Op::AluMR`] and
    /// [`Op::AluMI`] without the store.
    CmpMR,
    CmpMI,
    TestMR,
    TestMI,
    /// The commonest ALU operations on 64-bit and 32-bit registers, each its own micro-op (no
    /// second dispatch on `aux`).
    AddRR64,
    OrRR64,
    AndRR64,
    SubRR64,
    XorRR64,
    CmpRR64,
    TestRR64,
    AddRR32,
    OrRR32,
    AndRR32,
    SubRR32,
    XorRR32,
    CmpRR32,
    TestRR32,
    AddRI64,
    OrRI64,
    AndRI64,
    SubRI64,
    XorRI64,
    CmpRI64,
    TestRI64,
    AddRI32,
    OrRI32,
    AndRI32,
    SubRI32,
    XorRI32,
    CmpRI32,
    TestRI32,
    /// INC/DEC/NEG/NOT; `aux` is a [`unary`] operation.
    UnR64,
    UnR32,
    UnR,
    UnM,
    /// SHL/SHR/SAR (`aux` a [`shift`] operation) by `imm`, or by CL if `r1` is not
    /// [`NO_REG`].
    ShiftR64,
    ShiftR32,
    ShiftR,
    ShiftM,
    /// ROL/ROR (`aux` a [`shift`] operation), the count as for [`Op::ShiftR`].
    RotR64,
    RotR32,
    RotR,
    PushR,
    PushI,
    PopR,
    /// Near branches: a direct target is `imm` (an offset from the page base).
    CallRel,
    CallR,
    CallM,
    /// RET and RET imm16 (`imm` bytes more are popped).
    Ret,
    JmpRel,
    JmpR,
    JmpM,
    /// Condition code `aux`.
    Jcc,
    /// JE/JNE (`aux` 4 or 5): ZF alone decides.
    Jz,
    CmovRR,
    CmovRM,
    SetR,
    SetM,
    XchgRR,
    ImulRR,
    ImulRM,
    /// `r0 = r1 * imm`.
    ImulRRI,
    Cdqe,
    Cqo,
    Cdq,
    /// 16-byte SSE moves; `aux` is 1 when the memory operand must be aligned.
    XmmRR,
    XmmRM,
    XmmMR,
    Pxor,
    Leave,
    /// SSE2 lane operation [`SSE_LANE_OPS`]`[aux]`: XMM `r0` = op(XMM `r0`, XMM `r1` or the
    /// 16-byte memory operand if `size` is 16).
    SseLane,
    /// PSHUFD XMM `r0`, XMM `r1` or memory (`size` 16), order `imm`.
    Pshufd,
    /// PMOVMSKB GPR `r0` (of `size` bytes), XMM `r1`.
    Pmovmskb,
    /// MOVD/MOVQ: `size` (4 or 8) bytes between XMM and a GPR or memory; `aux` is a set of
    /// [`movx`] bits.
    MovX,
}

/// The SSE2 lane operations [`Op::SseLane`] does (through `sse::int_op`, as the generic
/// executor): the ones C libraries' string functions use.
pub(crate) const SSE_LANE_OPS: [M; 15] = [
    M::Pcmpeqb,
    M::Pcmpeqw,
    M::Pcmpeqd,
    M::Por,
    M::Pand,
    M::Pandn,
    M::Pxor,
    M::Pminub,
    M::Pmaxub,
    M::Psubb,
    M::Paddb,
    M::Punpcklbw,
    M::Punpcklwd,
    M::Punpckldq,
    M::Punpcklqdq,
];

/// [`Op::MovX`] operand bits.
pub(crate) mod movx {
    /// The destination is XMM `r0` (else GPR `r0` or memory).
    pub const TO_XMM: u8 = 1;
    /// The other operand is memory (else GPR `r1`, or for `TO_XMM | FROM_XMM` XMM `r1`).
    pub const MEM: u8 = 2;
    /// XMM to XMM (MOVQ xmm, xmm: the low quadword, the rest zeroed).
    pub const FROM_XMM: u8 = 4;
}

/// [`Op::AluRR`] ... operations, in the order of the x86 ALU opcodes, then TEST.
pub(crate) mod alu {
    pub const ADD: u8 = 0;
    pub const OR: u8 = 1;
    pub const ADC: u8 = 2;
    pub const SBB: u8 = 3;
    pub const AND: u8 = 4;
    pub const SUB: u8 = 5;
    pub const XOR: u8 = 6;
    pub const CMP: u8 = 7;
    pub const TEST: u8 = 8;
}

pub(crate) mod unary {
    pub const INC: u8 = 0;
    pub const DEC: u8 = 1;
    pub const NEG: u8 = 2;
    pub const NOT: u8 = 3;
}

pub(crate) mod shift {
    pub const SHL: u8 = 0;
    pub const SHR: u8 = 1;
    pub const SAR: u8 = 2;
    pub const ROL: u8 = 3;
    pub const ROR: u8 = 4;
}

/// Effective-address shapes ([`Uop::ea`]): a kind, plus a segment base to add. The loop
/// computes the two commonest (`BD` and `RIP` without a segment) inline.
pub(crate) mod ea {
    /// base + disp
    pub const BD: u8 = 0;
    /// RIP-relative: the page's virtual base + disp (the target's offset from it)
    pub const RIP: u8 = 1;
    /// base + (index << scale) + disp
    pub const BID: u8 = 2;
    /// (index << scale) + disp
    pub const ID: u8 = 3;
    /// disp (absolute)
    pub const D: u8 = 4;
    pub const KIND: u8 = 7;
    /// The FS or GS base is added.
    pub const FS: u8 = 8;
    pub const GS: u8 = 16;
}

/// "No register" in `r1` (the shifts by an immediate count).
pub(crate) const NO_REG: u8 = 0xff;

/// [`Uop::fl`]: the flags this micro-op writes are dead (see [`liveness`]).
pub(crate) const DEAD: u8 = 1;

/// A decoded instruction for the run loop (20 bytes).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Uop {
    pub op: Op,
    pub size: u8,
    /// Register operands: the GPR number, plus 16 for AH/CH/DH/BH (bits 8..15 of 0..3).
    pub r0: u8,
    pub r1: u8,
    pub base: u8,
    /// Index register, and the scale (a shift) in bits 4..5.
    pub index: u8,
    pub ea: u8,
    pub aux: u8,
    /// Offset of the instruction in its page.
    pub po: u16,
    pub len: u8,
    pub fl: u8,
    pub disp: i32,
    pub imm: i32,
}

impl Uop {
    /// Offset of the next instruction from the page base.
    #[inline(always)]
    pub fn next_po(&self) -> u64 {
        self.po as u64 + self.len as u64
    }

    /// Whether the micro-op ends its block (the loop leaves it with a `break`). A conditional
    /// branch may leave it, but is not its end.
    pub fn ends_block(&self) -> bool {
        use Op::*;
        matches!(self.op, End | CallRel | CallR | CallM | Ret | JmpRel | JmpR | JmpM)
            || (self.op == Slow && self.aux != 0)
    }
}

/// The micro-op register number of a general-purpose register of any width.
fn gpr(r: Register) -> Option<u8> {
    let n = r as u32;
    Some(match n {
        53..=68 => n - 53,
        37..=52 => n - 37,
        21..=36 => n - 21,
        1..=4 => n - 1,
        5..=8 => (n - 5) | 16,
        9..=20 => n - 5,
        _ => return None,
    } as u8)
}

/// The number of an XMM register.
fn xmm(r: Register) -> Option<u8> {
    r.is_xmm().then(|| (r as u32 - Register::XMM0 as u32) as u8)
}

fn gpr_size(r: Register) -> u8 {
    match r as u32 {
        53..=68 => 8,
        37..=52 => 4,
        21..=36 => 2,
        _ => 1,
    }
}

/// The variant of an operation for operand size `size`.
fn sized(size: u8, op64: Op, op32: Op, op: Op) -> Op {
    match size {
        8 => op64,
        4 => op32,
        _ => op,
    }
}

/// The micro-op of its own for ALU operation `a` in form `op`, if there is one.
fn specialized(a: u8, op: Op) -> Op {
    match (op, a) {
        (Op::AluRR64, alu::ADD) => Op::AddRR64,
        (Op::AluRR64, alu::OR) => Op::OrRR64,
        (Op::AluRR64, alu::AND) => Op::AndRR64,
        (Op::AluRR64, alu::SUB) => Op::SubRR64,
        (Op::AluRR64, alu::XOR) => Op::XorRR64,
        (Op::AluRR64, alu::CMP) => Op::CmpRR64,
        (Op::AluRR64, alu::TEST) => Op::TestRR64,
        (Op::AluRR32, alu::ADD) => Op::AddRR32,
        (Op::AluRR32, alu::OR) => Op::OrRR32,
        (Op::AluRR32, alu::AND) => Op::AndRR32,
        (Op::AluRR32, alu::SUB) => Op::SubRR32,
        (Op::AluRR32, alu::XOR) => Op::XorRR32,
        (Op::AluRR32, alu::CMP) => Op::CmpRR32,
        (Op::AluRR32, alu::TEST) => Op::TestRR32,
        (Op::AluRI64, alu::ADD) => Op::AddRI64,
        (Op::AluRI64, alu::OR) => Op::OrRI64,
        (Op::AluRI64, alu::AND) => Op::AndRI64,
        (Op::AluRI64, alu::SUB) => Op::SubRI64,
        (Op::AluRI64, alu::XOR) => Op::XorRI64,
        (Op::AluRI64, alu::CMP) => Op::CmpRI64,
        (Op::AluRI64, alu::TEST) => Op::TestRI64,
        (Op::AluRI32, alu::ADD) => Op::AddRI32,
        (Op::AluRI32, alu::OR) => Op::OrRI32,
        (Op::AluRI32, alu::AND) => Op::AndRI32,
        (Op::AluRI32, alu::SUB) => Op::SubRI32,
        (Op::AluRI32, alu::XOR) => Op::XorRI32,
        (Op::AluRI32, alu::CMP) => Op::CmpRI32,
        (Op::AluRI32, alu::TEST) => Op::TestRI32,
        _ => op,
    }
}

fn is_imm(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// Fills in the memory operand of `u`; `None` if it is not one the loop handles (32-bit
/// addressing, 64-bit absolute displacements).
fn mem(i: &Instruction, u: &mut Uop) -> Option<()> {
    let base = i.memory_base();
    let index = i.memory_index();
    let seg = match i.memory_segment() {
        Register::FS => ea::FS,
        Register::GS => ea::GS,
        _ => 0,
    };
    if base == Register::RIP {
        // iced gives the target relative to the page (ip is the page offset), which is what
        // `disp` holds: the address is the page's virtual base + disp.
        u.disp = i32::try_from(i.memory_displacement64() as i64).ok()?;
        u.ea = ea::RIP | seg;
        return Some(());
    }
    let r64 = |r: Register| (Register::RAX as u32..=Register::R15 as u32).contains(&(r as u32));
    if (base != Register::None && !r64(base)) || (index != Register::None && !r64(index)) {
        return None;
    }
    u.disp = i32::try_from(i.memory_displacement64() as i64).ok()?;
    u.base = (base as u32).wrapping_sub(Register::RAX as u32) as u8 & 15;
    u.index = ((index as u32).wrapping_sub(Register::RAX as u32) as u8 & 15)
        | (i.memory_index_scale().trailing_zeros() as u8) << 4;
    u.ea = seg
        | match (base != Register::None, index != Register::None) {
            (true, false) => ea::BD,
            (true, true) => ea::BID,
            (false, true) => ea::ID,
            (false, false) => ea::D,
        };
    Some(())
}

/// The micro-op for `i` ([`Op::Slow`] if it has none).
pub(crate) fn translate(i: &Instruction) -> Uop {
    let mut u = Uop { po: i.ip() as u16, len: i.len() as u8, ..Uop::default() };
    match fast(i, &mut u) {
        Some(op) => u.op = op,
        None => u = Uop { po: i.ip() as u16, len: i.len() as u8, ..Uop::default() },
    }
    u
}

fn alu_op(m: M) -> Option<u8> {
    Some(match m {
        M::Add => alu::ADD,
        M::Or => alu::OR,
        M::Adc => alu::ADC,
        M::Sbb => alu::SBB,
        M::And => alu::AND,
        M::Sub => alu::SUB,
        M::Xor => alu::XOR,
        M::Cmp => alu::CMP,
        M::Test => alu::TEST,
        _ => return None,
    })
}

fn is_cmov(m: M) -> bool {
    matches!(
        m,
        M::Cmovo
            | M::Cmovno
            | M::Cmovb
            | M::Cmovae
            | M::Cmove
            | M::Cmovne
            | M::Cmovbe
            | M::Cmova
            | M::Cmovs
            | M::Cmovns
            | M::Cmovp
            | M::Cmovnp
            | M::Cmovl
            | M::Cmovge
            | M::Cmovle
            | M::Cmovg
    )
}

fn is_setcc(m: M) -> bool {
    matches!(
        m,
        M::Seto
            | M::Setno
            | M::Setb
            | M::Setae
            | M::Sete
            | M::Setne
            | M::Setbe
            | M::Seta
            | M::Sets
            | M::Setns
            | M::Setp
            | M::Setnp
            | M::Setl
            | M::Setge
            | M::Setle
            | M::Setg
    )
}

fn fast(i: &Instruction, u: &mut Uop) -> Option<Op> {
    use OpKind::{Memory as Mem, Register as Reg};
    let m = i.mnemonic();
    let n = i.op_count();
    let k0 = if n > 0 { i.op0_kind() } else { OpKind::Register };
    let k1 = if n > 1 { i.op1_kind() } else { OpKind::Register };
    // Register operands (None for non-GPRs, which keeps them off the fast forms).
    let g0 = if n > 0 && k0 == Reg { gpr(i.op0_register()) } else { None };
    let g1 = if n > 1 && k1 == Reg { gpr(i.op1_register()) } else { None };
    let rsize = || gpr_size(i.op0_register());
    let msize = || i.memory_size().size() as u8;
    if i.code() == Code::INVALID {
        return None;
    }
    if let Some(a) = alu_op(m) {
        u.aux = a;
        return match (k0, k1) {
            (Reg, Reg) => {
                u.r0 = g0?;
                u.r1 = g1?;
                u.size = rsize();
                Some(specialized(a, sized(u.size, Op::AluRR64, Op::AluRR32, Op::AluRR)))
            }
            (Reg, k) if is_imm(k) => {
                u.r0 = g0?;
                u.size = rsize();
                u.imm = i.immediate(1) as i32;
                Some(specialized(a, sized(u.size, Op::AluRI64, Op::AluRI32, Op::AluRI)))
            }
            (Reg, Mem) => {
                u.r0 = g0?;
                u.size = rsize();
                mem(i, u)?;
                Some(sized(u.size, Op::AluRM64, Op::AluRM32, Op::AluRM))
            }
            (Mem, Reg) => {
                u.r1 = g1?;
                u.size = msize();
                mem(i, u)?;
                Some(match a {
                    alu::CMP => Op::CmpMR,
                    alu::TEST => Op::TestMR,
                    _ => Op::AluMR,
                })
            }
            (Mem, k) if is_imm(k) => {
                u.size = msize();
                u.imm = i.immediate(1) as i32;
                mem(i, u)?;
                Some(match a {
                    alu::CMP => Op::CmpMI,
                    alu::TEST => Op::TestMI,
                    _ => Op::AluMI,
                })
            }
            _ => None,
        };
    }
    match m {
        M::Mov => match (k0, k1) {
            (Reg, Reg) => {
                u.r0 = g0?;
                u.r1 = g1?;
                u.size = rsize();
                Some(sized(u.size, Op::MovRR64, Op::MovRR32, Op::MovRR))
            }
            (Reg, k) if is_imm(k) => {
                u.r0 = g0?;
                u.size = rsize();
                let v = i.immediate(1);
                u.imm = v as i32;
                u.disp = (v >> 32) as i32;
                Some(sized(u.size, Op::MovRI64, Op::MovRI32, Op::MovRI))
            }
            (Reg, Mem) => {
                u.r0 = g0?;
                u.size = rsize();
                mem(i, u)?;
                Some(sized(u.size, Op::MovRM64, Op::MovRM32, Op::MovRM))
            }
            (Mem, Reg) => {
                u.r1 = g1?;
                u.size = msize();
                mem(i, u)?;
                Some(sized(u.size, Op::MovMR64, Op::MovMR32, Op::MovMR))
            }
            (Mem, k) if is_imm(k) => {
                u.size = msize();
                u.imm = i.immediate(1) as i32;
                mem(i, u)?;
                Some(Op::MovMI)
            }
            _ => None,
        },
        M::Movzx | M::Movsx | M::Movsxd => {
            u.r0 = g0?;
            u.size = rsize();
            let zx = m == M::Movzx;
            match k1 {
                Reg => {
                    u.r1 = g1?;
                    u.aux = gpr_size(i.op1_register());
                    Some(if zx { Op::MovzxRR } else { Op::MovsxRR })
                }
                Mem => {
                    u.aux = msize();
                    mem(i, u)?;
                    Some(match (zx, u.size) {
                        (true, 4) => Op::MovzxRM32,
                        (true, _) => Op::MovzxRM,
                        _ => Op::MovsxRM,
                    })
                }
                _ => None,
            }
        }
        M::Lea => {
            u.r0 = g0?;
            u.size = rsize();
            mem(i, u)?;
            // LEA computes the offset only.
            u.ea &= ea::KIND;
            Some(sized(u.size, Op::Lea64, Op::Lea32, Op::Lea))
        }
        M::Inc | M::Dec | M::Neg | M::Not => {
            u.aux = match m {
                M::Inc => unary::INC,
                M::Dec => unary::DEC,
                M::Neg => unary::NEG,
                _ => unary::NOT,
            };
            match k0 {
                Reg => {
                    u.r0 = g0?;
                    u.size = rsize();
                    Some(sized(u.size, Op::UnR64, Op::UnR32, Op::UnR))
                }
                Mem => {
                    u.size = msize();
                    mem(i, u)?;
                    Some(Op::UnM)
                }
                _ => None,
            }
        }
        M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror => {
            u.aux = match m {
                M::Shl | M::Sal => shift::SHL,
                M::Shr => shift::SHR,
                M::Sar => shift::SAR,
                M::Rol => shift::ROL,
                _ => shift::ROR,
            };
            match k1 {
                Reg if i.op1_register() == Register::CL => u.r1 = 1,
                OpKind::Immediate8 => {
                    u.r1 = NO_REG;
                    u.imm = i.immediate8() as i32;
                }
                _ => return None,
            }
            let rot = matches!(m, M::Rol | M::Ror);
            match k0 {
                Reg => {
                    u.r0 = g0?;
                    u.size = rsize();
                    Some(if rot {
                        sized(u.size, Op::RotR64, Op::RotR32, Op::RotR)
                    } else {
                        sized(u.size, Op::ShiftR64, Op::ShiftR32, Op::ShiftR)
                    })
                }
                Mem if !rot => {
                    u.size = msize();
                    mem(i, u)?;
                    Some(Op::ShiftM)
                }
                _ => None,
            }
        }
        M::Push if i.stack_pointer_increment() == -8 => match k0 {
            Reg => {
                u.r0 = g0?;
                Some(Op::PushR)
            }
            k if is_imm(k) => {
                u.imm = i.immediate(0) as i32;
                Some(Op::PushI)
            }
            _ => None,
        },
        M::Pop if i.stack_pointer_increment() == 8 && k0 == Reg => {
            u.r0 = g0?;
            Some(Op::PopR)
        }
        M::Call | M::Jmp => {
            let call = m == M::Call;
            match k0 {
                OpKind::NearBranch64 => {
                    u.imm = i32::try_from(i.near_branch64() as i64).ok()?;
                    Some(if call { Op::CallRel } else { Op::JmpRel })
                }
                Reg if rsize() == 8 => {
                    u.r0 = g0?;
                    Some(if call { Op::CallR } else { Op::JmpR })
                }
                Mem if msize() == 8 => {
                    mem(i, u)?;
                    Some(if call { Op::CallM } else { Op::JmpM })
                }
                _ => None,
            }
        }
        M::Ret if i.code() == Code::Retnq || i.code() == Code::Retnq_imm16 => {
            u.imm = if n > 0 { (i.immediate(0) & 0xffff) as i32 } else { 0 };
            Some(Op::Ret)
        }
        _ if i.is_jcc_short_or_near() && k0 == OpKind::NearBranch64 => {
            u.aux = i.condition_code() as u8 - 1;
            u.imm = i32::try_from(i.near_branch64() as i64).ok()?;
            Some(if u.aux >> 1 == 2 { Op::Jz } else { Op::Jcc })
        }
        _ if is_cmov(m) => {
            u.aux = i.condition_code() as u8 - 1;
            u.r0 = g0?;
            u.size = rsize();
            match k1 {
                Reg => {
                    u.r1 = g1?;
                    Some(Op::CmovRR)
                }
                Mem => {
                    mem(i, u)?;
                    Some(Op::CmovRM)
                }
                _ => None,
            }
        }
        _ if is_setcc(m) => {
            u.aux = i.condition_code() as u8 - 1;
            u.size = 1;
            match k0 {
                Reg => {
                    u.r0 = g0?;
                    Some(Op::SetR)
                }
                Mem => {
                    mem(i, u)?;
                    Some(Op::SetM)
                }
                _ => None,
            }
        }
        M::Xchg if k0 == Reg && k1 == Reg => {
            u.r0 = g0?;
            u.r1 = g1?;
            u.size = rsize();
            Some(Op::XchgRR)
        }
        M::Imul if n >= 2 => {
            u.r0 = g0?;
            u.size = rsize();
            match (k1, n) {
                (Reg, 2) => {
                    u.r1 = g1?;
                    Some(Op::ImulRR)
                }
                (Mem, 2) => {
                    mem(i, u)?;
                    Some(Op::ImulRM)
                }
                (Reg, 3) => {
                    u.r1 = g1?;
                    u.imm = i.immediate(2) as i32;
                    Some(Op::ImulRRI)
                }
                _ => None,
            }
        }
        M::Nop | M::Pause | M::Endbr64 | M::Prefetchnta | M::Prefetcht0 | M::Prefetcht1 | M::Prefetcht2 => {
            Some(Op::Nop)
        }
        M::Cdqe => Some(Op::Cdqe),
        M::Cqo => Some(Op::Cqo),
        M::Cdq => Some(Op::Cdq),
        M::Leave if i.code() == Code::Leaveq => Some(Op::Leave),
        M::Movaps | M::Movapd | M::Movdqa | M::Movups | M::Movupd | M::Movdqu => {
            let x = |r: Register| r.is_xmm().then(|| (r as u32 - Register::XMM0 as u32) as u8);
            u.aux = matches!(m, M::Movaps | M::Movapd | M::Movdqa) as u8;
            match (k0, k1) {
                (Reg, Reg) => {
                    u.r0 = x(i.op0_register())?;
                    u.r1 = x(i.op1_register())?;
                    Some(Op::XmmRR)
                }
                (Reg, Mem) => {
                    u.r0 = x(i.op0_register())?;
                    mem(i, u)?;
                    Some(Op::XmmRM)
                }
                (Mem, Reg) => {
                    u.r1 = x(i.op1_register())?;
                    mem(i, u)?;
                    Some(Op::XmmMR)
                }
                _ => None,
            }
        }
        _ if SSE_LANE_OPS.contains(&m) && n == 2 && k0 == Reg && i.op0_register().is_xmm() && k1 != Reg => {
            // The register-register PXOR has its own micro-op (below).
            u.aux = SSE_LANE_OPS.iter().position(|&x| x == m)? as u8;
            u.r0 = xmm(i.op0_register())?;
            if k1 != Mem || msize() != 16 {
                return None;
            }
            u.size = 16;
            mem(i, u)?;
            Some(Op::SseLane)
        }
        _ if SSE_LANE_OPS.contains(&m) && m != M::Pxor && n == 2 && k0 == Reg && k1 == Reg => {
            u.aux = SSE_LANE_OPS.iter().position(|&x| x == m)? as u8;
            u.r0 = xmm(i.op0_register())?;
            u.r1 = xmm(i.op1_register())?;
            Some(Op::SseLane)
        }
        M::Pshufd if n == 3 && k0 == Reg => {
            u.r0 = xmm(i.op0_register())?;
            u.imm = i.immediate8() as i32;
            match k1 {
                Reg => u.r1 = xmm(i.op1_register())?,
                Mem if msize() == 16 => {
                    u.size = 16;
                    mem(i, u)?;
                }
                _ => return None,
            }
            Some(Op::Pshufd)
        }
        M::Pmovmskb if k0 == Reg && k1 == Reg => {
            u.r0 = g0?;
            u.size = rsize();
            u.r1 = xmm(i.op1_register())?;
            Some(Op::Pmovmskb)
        }
        M::Movd | M::Movq if n == 2 => {
            let (r0x, r1x) = (k0 == Reg && i.op0_register().is_xmm(), k1 == Reg && i.op1_register().is_xmm());
            match (k0, k1) {
                (Reg, Reg) if r0x && r1x => {
                    u.r0 = xmm(i.op0_register())?;
                    u.r1 = xmm(i.op1_register())?;
                    u.size = 8;
                    u.aux = movx::TO_XMM | movx::FROM_XMM;
                }
                (Reg, Reg) if r0x => {
                    u.r0 = xmm(i.op0_register())?;
                    u.r1 = g1?;
                    u.size = gpr_size(i.op1_register());
                    u.aux = movx::TO_XMM;
                }
                (Reg, Reg) if r1x => {
                    u.r0 = g0?;
                    u.r1 = xmm(i.op1_register())?;
                    u.size = rsize();
                }
                (Reg, Mem) if r0x => {
                    u.r0 = xmm(i.op0_register())?;
                    u.size = msize();
                    u.aux = movx::TO_XMM | movx::MEM;
                    mem(i, u)?;
                }
                (Mem, Reg) if r1x => {
                    u.r1 = xmm(i.op1_register())?;
                    u.size = msize();
                    u.aux = movx::MEM;
                    mem(i, u)?;
                }
                _ => return None,
            }
            if u.size != 4 && u.size != 8 {
                return None;
            }
            Some(Op::MovX)
        }
        M::Pxor if k0 == Reg && k1 == Reg && i.op0_register().is_xmm() && i.op1_register().is_xmm() => {
            u.r0 = (i.op0_register() as u32 - Register::XMM0 as u32) as u8;
            u.r1 = (i.op1_register() as u32 - Register::XMM0 as u32) as u8;
            Some(Op::Pxor)
        }
        _ => None,
    }
}

/// How a micro-op uses the arithmetic flags: the flags it reads (or must find right, as an
/// instruction that may fault does: the exception frame saves them), the flags it always
/// overwrites, and the flags it may write. `dead_ok`: it can skip its flag update when nothing
/// reads the flags it writes (only register-only operations, which cannot fault or end a run
/// of the loop early, so the flags are never seen half-way).
struct FlagUse {
    reads: u64,
    kills: u64,
    writes: u64,
    dead_ok: bool,
}

fn flag_use(u: &Uop) -> FlagUse {
    use Op::*;
    let all = FlagUse { reads: ARITH, kills: 0, writes: 0, dead_ok: false };
    let none = FlagUse { reads: 0, kills: 0, writes: 0, dead_ok: false };
    let w = |kills: u64, writes: u64| FlagUse { reads: 0, kills, writes, dead_ok: true };
    match u.op {
        AluRR64 | AluRR32 | AluRR | AluRI64 | AluRI32 | AluRI | AddRR64 | OrRR64 | AndRR64 | SubRR64 | XorRR64
        | CmpRR64 | TestRR64 | AddRR32 | OrRR32 | AndRR32 | SubRR32 | XorRR32 | CmpRR32 | TestRR32 | AddRI64
        | OrRI64 | AndRI64 | SubRI64 | XorRI64 | CmpRI64 | TestRI64 | AddRI32 | OrRI32 | AndRI32 | SubRI32
        | XorRI32 | CmpRI32 | TestRI32 => {
            if u.aux == alu::ADC || u.aux == alu::SBB {
                FlagUse { reads: ARITH, kills: ARITH, writes: ARITH, dead_ok: true }
            } else {
                w(ARITH, ARITH)
            }
        }
        UnR64 | UnR32 | UnR => match u.aux {
            unary::INC | unary::DEC => w(ARITH & !CF, ARITH & !CF),
            unary::NEG => w(ARITH, ARITH),
            _ => none,
        },
        ShiftR64 | ShiftR32 | ShiftR | RotR64 | RotR32 | RotR => {
            let fl = if matches!(u.op, RotR64 | RotR32 | RotR) { CF | OF } else { ARITH };
            if u.r1 != NO_REG {
                // By CL: a zero count changes nothing.
                w(0, fl)
            } else if u.imm & if u.size == 8 { 63 } else { 31 } != 0 {
                w(fl, fl)
            } else {
                none
            }
        }
        ImulRR | ImulRRI => w(ARITH, ARITH),
        MovRR64 | MovRR32 | MovRR | MovRI64 | MovRI32 | MovRI | MovzxRR | MovsxRR | Lea64 | Lea32 | Lea | XchgRR
        | Cdqe | Cqo | Cdq | Nop => none,
        _ => all,
    }
}

/// Marks the micro-ops of a block whose flag results are dead: overwritten, on the way to the
/// block's end, before any micro-op reads them (or may fault). Everything is live at the end.
pub(crate) fn liveness(block: &mut [Uop]) {
    let mut live = ARITH;
    for u in block.iter_mut().rev() {
        let f = flag_use(u);
        if f.dead_ok && f.writes & live == 0 {
            u.fl |= DEAD;
        }
        live = (live & !f.kills) | f.reads;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    fn block(bytes: &[u8]) -> Vec<Uop> {
        let mut d = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
        let mut v: Vec<Uop> = std::iter::from_fn(|| d.can_decode().then(|| translate(&d.decode()))).collect();
        liveness(&mut v);
        v
    }

    #[test]
    fn dead_flags() {
        // add eax, 1; xor ecx, ecx; cmp edx, 5; jne: only the CMP's flags are live.
        let b = block(&[0x83, 0xc0, 0x01, 0x31, 0xc9, 0x83, 0xfa, 0x05, 0x75, 0x00]);
        assert_eq!(b.iter().map(|u| u.fl & DEAD).collect::<Vec<_>>(), [DEAD, DEAD, 0, 0]);
        // add eax, 1; mov ebx, [rcx]; cmp edx, 5: the load may fault, so the ADD's flags live.
        let b = block(&[0x83, 0xc0, 0x01, 0x8b, 0x19, 0x83, 0xfa, 0x05]);
        assert_eq!(b[0].fl & DEAD, 0);
        // ror eax, 3; inc ecx; add edx, 1: INC keeps CF, so ROR's CF is overwritten by the ADD only.
        let b = block(&[0xc1, 0xc8, 0x03, 0xff, 0xc1, 0x83, 0xc2, 0x01]);
        assert_eq!(b.iter().map(|u| u.fl & DEAD).collect::<Vec<_>>(), [DEAD, DEAD, 0]);
        // add eax, 1; inc ecx (end): CF of the ADD is live through the INC.
        let b = block(&[0x83, 0xc0, 0x01, 0xff, 0xc1]);
        assert_eq!(b[0].fl & DEAD, 0);
        // shl eax, cl; sub edx, 1: a shift by CL may change nothing, so it kills nothing.
        let b = block(&[0xd3, 0xe0, 0x83, 0xea, 0x01, 0x0f, 0x94, 0xc0]);
        assert_eq!(b[0].fl & DEAD, DEAD);
        let b = block(&[0x83, 0xea, 0x01, 0xd3, 0xe0, 0x0f, 0x94, 0xc0]);
        assert_eq!(b[0].fl & DEAD, 0);
    }
}
