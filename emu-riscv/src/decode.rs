//! Instruction decoding: 16-bit compressed instructions are expanded to their 32-bit
//! equivalents, then every 32-bit instruction is decoded into an [`Insn`]: an operation code
//! plus pre-extracted register numbers and a sign-extended immediate, so execution never
//! re-parses bit fields.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    Illegal,
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    Fence,
    FenceI,
    Ecall,
    Ebreak,
    Sret,
    Mret,
    Wfi,
    SfenceVma,
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,
    LrW,
    ScW,
    LrD,
    ScD,
    /// Any other AMO: `imm` holds funct5, width in `rs3` (2 = word, 3 = doubleword).
    Amo,
    Flw,
    Fld,
    Fsw,
    Fsd,
    /// OP-FP and the fused multiply-adds: executed by [`crate::fpu::execute`] from `raw`.
    Fp,
    /// Never produced by [`decode`]: the first instruction of a rotate idiom fused by the block
    /// builder ([`crate::blocks`]): SRLI (RotR), SLLI (RotL), SRLIW (RotRw) or SLLIW (RotLw)
    /// with all its own fields, plus `rs2` and `rs3` = the destinations of the opposite shift
    /// and of the OR that follow it.
    RotR,
    RotL,
    RotRw,
    RotLw,
    /// Never produced by [`decode`]: an LD (LdLd) or SD (SdSd) followed by another, marked by
    /// the block builder so the interpreter does both in one dispatch (saving and restoring
    /// registers in prologues and epilogues are a sixth of a shell's instructions). The fields
    /// are the first instruction's; the second stays in place.
    LdLd,
    SdSd,
    /// Never produced by [`decode`]: the entry after a block's last instruction in the block
    /// arena ([`crate::blocks`]), so the interpreter needs no end test per instruction. `po` is
    /// the offset of the fall-through pc from the block's page (up to 4098).
    End,
}

/// A decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub rs3: u8,
    /// Instruction length in bytes (2 or 4).
    pub len: u8,
    /// Every RV64 immediate fits in 32 bits; i32 keeps an `Insn` at 16 bytes, so decoded
    /// instructions pack densely in the hart's decode cache.
    pub imm: i32,
    /// The instruction bits (16 of them when compressed): the trap value of an illegal
    /// instruction, and the input of the FP unit. In the block arena, control transfers (which
    /// need neither) hold their block link here instead ([`crate::blocks::link_target`]).
    pub raw: u32,
    /// The instruction's offset in its page, set by the block builder (0 from [`decode`]): the
    /// interpreter derives pc from it instead of carrying pc from instruction to instruction.
    pub po: u16,
}

impl Insn {
    pub const ILLEGAL: Insn = Insn { op: Op::Illegal, rd: 0, rs1: 0, rs2: 0, rs3: 0, len: 4, imm: 0, raw: 0, po: 0 };
}

#[inline]
fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1u32 << (hi - lo + 1)) - 1)
}

fn imm_i(i: u32) -> i64 {
    (i as i32 >> 20) as i64
}
fn imm_s(i: u32) -> i64 {
    (((i as i32 >> 25) << 5) | bits(i, 11, 7) as i32) as i64
}
fn imm_b(i: u32) -> i64 {
    let v = ((i as i32 >> 31) << 12) | ((bits(i, 7, 7) << 11) | (bits(i, 30, 25) << 5) | (bits(i, 11, 8) << 1)) as i32;
    v as i64
}
fn imm_u(i: u32) -> i64 {
    (i & 0xffff_f000) as i32 as i64
}
fn imm_j(i: u32) -> i64 {
    let v =
        ((i as i32 >> 31) << 20) | ((bits(i, 19, 12) << 12) | (bits(i, 20, 20) << 11) | (bits(i, 30, 21) << 1)) as i32;
    v as i64
}

/// Decodes one instruction from its first 32 bits (only the low 16 are used when compressed).
pub fn decode(bits32: u32) -> Insn {
    if bits32 & 3 != 3 {
        let half = bits32 as u16;
        let mut insn = match expand_compressed(half) {
            Some(full) => decode32(full),
            None => Insn { raw: half as u32, ..Insn::ILLEGAL },
        };
        insn.len = 2;
        // The trap value of an illegal compressed instruction is its own 16 bits, also for
        // those that decode but trap when executed (C.FLD and friends with mstatus.FS Off).
        // No compressed instruction executes from `raw` (OP-FP has no compressed forms).
        insn.raw = half as u32;
        return insn;
    }
    decode32(bits32)
}

fn decode32(i: u32) -> Insn {
    let rd = bits(i, 11, 7) as u8;
    let rs1 = bits(i, 19, 15) as u8;
    let rs2 = bits(i, 24, 20) as u8;
    let f3 = bits(i, 14, 12);
    let f7 = bits(i, 31, 25);
    // Immediates are at most 32 bits wide (U-type), so the narrowing is lossless.
    let mk = |op: Op, imm: i64| Insn { op, rd, rs1, rs2, rs3: 0, len: 4, imm: imm as i32, raw: i, po: 0 };
    let ill = Insn { raw: i, ..Insn::ILLEGAL };
    match i & 0x7f {
        0x37 => mk(Op::Lui, imm_u(i)),
        0x17 => mk(Op::Auipc, imm_u(i)),
        0x6f => mk(Op::Jal, imm_j(i)),
        0x67 if f3 == 0 => mk(Op::Jalr, imm_i(i)),
        0x63 => {
            let op = match f3 {
                0 => Op::Beq,
                1 => Op::Bne,
                4 => Op::Blt,
                5 => Op::Bge,
                6 => Op::Bltu,
                7 => Op::Bgeu,
                _ => return ill,
            };
            mk(op, imm_b(i))
        }
        0x03 => {
            let op = match f3 {
                0 => Op::Lb,
                1 => Op::Lh,
                2 => Op::Lw,
                3 => Op::Ld,
                4 => Op::Lbu,
                5 => Op::Lhu,
                6 => Op::Lwu,
                _ => return ill,
            };
            mk(op, imm_i(i))
        }
        0x23 => {
            let op = match f3 {
                0 => Op::Sb,
                1 => Op::Sh,
                2 => Op::Sw,
                3 => Op::Sd,
                _ => return ill,
            };
            mk(op, imm_s(i))
        }
        0x13 => {
            let shamt = bits(i, 25, 20) as i64;
            match f3 {
                0 => mk(Op::Addi, imm_i(i)),
                2 => mk(Op::Slti, imm_i(i)),
                3 => mk(Op::Sltiu, imm_i(i)),
                4 => mk(Op::Xori, imm_i(i)),
                6 => mk(Op::Ori, imm_i(i)),
                7 => mk(Op::Andi, imm_i(i)),
                1 if bits(i, 31, 26) == 0 => mk(Op::Slli, shamt),
                5 if bits(i, 31, 26) == 0 => mk(Op::Srli, shamt),
                5 if bits(i, 31, 26) == 0x10 => mk(Op::Srai, shamt),
                _ => ill,
            }
        }
        0x1b => {
            let shamt = bits(i, 24, 20) as i64;
            match (f3, f7) {
                (0, _) => mk(Op::Addiw, imm_i(i)),
                (1, 0) => mk(Op::Slliw, shamt),
                (5, 0) => mk(Op::Srliw, shamt),
                (5, 0x20) => mk(Op::Sraiw, shamt),
                _ => ill,
            }
        }
        0x33 => {
            let op = match (f7, f3) {
                (0, 0) => Op::Add,
                (0x20, 0) => Op::Sub,
                (0, 1) => Op::Sll,
                (0, 2) => Op::Slt,
                (0, 3) => Op::Sltu,
                (0, 4) => Op::Xor,
                (0, 5) => Op::Srl,
                (0x20, 5) => Op::Sra,
                (0, 6) => Op::Or,
                (0, 7) => Op::And,
                (1, 0) => Op::Mul,
                (1, 1) => Op::Mulh,
                (1, 2) => Op::Mulhsu,
                (1, 3) => Op::Mulhu,
                (1, 4) => Op::Div,
                (1, 5) => Op::Divu,
                (1, 6) => Op::Rem,
                (1, 7) => Op::Remu,
                _ => return ill,
            };
            mk(op, 0)
        }
        0x3b => {
            let op = match (f7, f3) {
                (0, 0) => Op::Addw,
                (0x20, 0) => Op::Subw,
                (0, 1) => Op::Sllw,
                (0, 5) => Op::Srlw,
                (0x20, 5) => Op::Sraw,
                (1, 0) => Op::Mulw,
                (1, 4) => Op::Divw,
                (1, 5) => Op::Divuw,
                (1, 6) => Op::Remw,
                (1, 7) => Op::Remuw,
                _ => return ill,
            };
            mk(op, 0)
        }
        0x0f => match f3 {
            0 => mk(Op::Fence, 0),
            1 => mk(Op::FenceI, 0),
            _ => ill,
        },
        0x73 => {
            let csr = bits(i, 31, 20) as i64;
            match f3 {
                0 => match i {
                    0x0000_0073 => mk(Op::Ecall, 0),
                    0x0010_0073 => mk(Op::Ebreak, 0),
                    0x1020_0073 => mk(Op::Sret, 0),
                    0x3020_0073 => mk(Op::Mret, 0),
                    0x1050_0073 => mk(Op::Wfi, 0),
                    _ if f7 == 0x09 && rd == 0 => mk(Op::SfenceVma, 0),
                    _ => ill,
                },
                1 => mk(Op::Csrrw, csr),
                2 => mk(Op::Csrrs, csr),
                3 => mk(Op::Csrrc, csr),
                5 => mk(Op::Csrrwi, csr),
                6 => mk(Op::Csrrsi, csr),
                7 => mk(Op::Csrrci, csr),
                _ => ill,
            }
        }
        0x2f => {
            let f5 = bits(i, 31, 27);
            let width = match f3 {
                2 => 2u8,
                3 => 3u8,
                _ => return ill,
            };
            let op = match (f5, width) {
                (0x02, 2) if rs2 == 0 => Op::LrW,
                (0x02, 3) if rs2 == 0 => Op::LrD,
                (0x03, 2) => Op::ScW,
                (0x03, 3) => Op::ScD,
                (0x00 | 0x01 | 0x04 | 0x08 | 0x0c | 0x10 | 0x14 | 0x18 | 0x1c, _) => Op::Amo,
                _ => return ill,
            };
            Insn { op, rd, rs1, rs2, rs3: width, len: 4, imm: f5 as i32, raw: i, po: 0 }
        }
        0x07 => match f3 {
            2 => mk(Op::Flw, imm_i(i)),
            3 => mk(Op::Fld, imm_i(i)),
            _ => ill,
        },
        0x27 => match f3 {
            2 => mk(Op::Fsw, imm_s(i)),
            3 => mk(Op::Fsd, imm_s(i)),
            _ => ill,
        },
        0x53 | 0x43 | 0x47 | 0x4b | 0x4f => mk(Op::Fp, 0),
        _ => ill,
    }
}

// --- RVC expansion -------------------------------------------------------------------------

fn r_type(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
    (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc
}
fn i_type(imm: i32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc
}
fn s_type(imm: i32, rs2: u32, rs1: u32, f3: u32, opc: u32) -> u32 {
    let imm = imm as u32;
    (bits(imm, 11, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (bits(imm, 4, 0) << 7) | opc
}
fn b_type(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    (bits(imm, 12, 12) << 31)
        | (bits(imm, 10, 5) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (f3 << 12)
        | (bits(imm, 4, 1) << 8)
        | (bits(imm, 11, 11) << 7)
        | 0x63
}
fn j_type(imm: i32, rd: u32) -> u32 {
    let imm = imm as u32;
    (bits(imm, 20, 20) << 31)
        | (bits(imm, 10, 1) << 21)
        | (bits(imm, 11, 11) << 20)
        | (bits(imm, 19, 12) << 12)
        | (rd << 7)
        | 0x6f
}
fn sext(v: u32, width: u32) -> i32 {
    let shift = 32 - width;
    ((v << shift) as i32) >> shift
}

/// Expands a 16-bit RV64C instruction to the 32-bit instruction it stands for, or None when
/// the encoding is reserved or illegal.
pub fn expand_compressed(c: u16) -> Option<u32> {
    let c = c as u32;
    let f3 = bits(c, 15, 13);
    let rd_p = bits(c, 4, 2) + 8; // rd'/rs2'
    let rs1_p = bits(c, 9, 7) + 8; // rs1'/rd'
    let rd = bits(c, 11, 7);
    let rs2 = bits(c, 6, 2);
    match (c & 3, f3) {
        (0, 0) => {
            // C.ADDI4SPN
            let nz = (bits(c, 10, 7) << 6) | (bits(c, 12, 11) << 4) | (bits(c, 5, 5) << 3) | (bits(c, 6, 6) << 2);
            if nz == 0 {
                return None;
            }
            Some(i_type(nz as i32, 2, 0, rd_p, 0x13))
        }
        (0, 1) => {
            // C.FLD
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
            Some(i_type(off as i32, rs1_p, 3, rd_p, 0x07))
        }
        (0, 2) => {
            // C.LW
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
            Some(i_type(off as i32, rs1_p, 2, rd_p, 0x03))
        }
        (0, 3) => {
            // C.LD
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
            Some(i_type(off as i32, rs1_p, 3, rd_p, 0x03))
        }
        (0, 5) => {
            // C.FSD
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
            Some(s_type(off as i32, rd_p, rs1_p, 3, 0x27))
        }
        (0, 6) => {
            // C.SW
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
            Some(s_type(off as i32, rd_p, rs1_p, 2, 0x23))
        }
        (0, 7) => {
            // C.SD
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
            Some(s_type(off as i32, rd_p, rs1_p, 3, 0x23))
        }
        (1, 0) => {
            // C.ADDI / C.NOP
            let imm = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
            Some(i_type(imm, rd, 0, rd, 0x13))
        }
        (1, 1) => {
            // C.ADDIW (rd != 0)
            if rd == 0 {
                return None;
            }
            let imm = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
            Some(i_type(imm, rd, 0, rd, 0x1b))
        }
        (1, 2) => {
            // C.LI
            let imm = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
            Some(i_type(imm, 0, 0, rd, 0x13))
        }
        (1, 3) => {
            if rd == 2 {
                // C.ADDI16SP
                let imm = sext(
                    (bits(c, 12, 12) << 9)
                        | (bits(c, 4, 3) << 7)
                        | (bits(c, 5, 5) << 6)
                        | (bits(c, 2, 2) << 5)
                        | (bits(c, 6, 6) << 4),
                    10,
                );
                if imm == 0 {
                    return None;
                }
                Some(i_type(imm, 2, 0, 2, 0x13))
            } else {
                // C.LUI
                let imm = sext((bits(c, 12, 12) << 17) | (bits(c, 6, 2) << 12), 18);
                if imm == 0 {
                    return None;
                }
                Some(((imm as u32) & 0xffff_f000) | (rd << 7) | 0x37)
            }
        }
        (1, 4) => {
            let shamt = (bits(c, 12, 12) << 5) | bits(c, 6, 2);
            match bits(c, 11, 10) {
                0 => Some(i_type(shamt as i32, rs1_p, 5, rs1_p, 0x13)), // C.SRLI
                1 => Some(i_type((shamt | 0x400) as i32, rs1_p, 5, rs1_p, 0x13)), // C.SRAI
                2 => {
                    let imm = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
                    Some(i_type(imm, rs1_p, 7, rs1_p, 0x13)) // C.ANDI
                }
                _ => {
                    let (f7, f3, opc) = match (bits(c, 12, 12), bits(c, 6, 5)) {
                        (0, 0) => (0x20, 0, 0x33), // C.SUB
                        (0, 1) => (0, 4, 0x33),    // C.XOR
                        (0, 2) => (0, 6, 0x33),    // C.OR
                        (0, 3) => (0, 7, 0x33),    // C.AND
                        (1, 0) => (0x20, 0, 0x3b), // C.SUBW
                        (1, 1) => (0, 0, 0x3b),    // C.ADDW
                        _ => return None,
                    };
                    Some(r_type(f7, rd_p, rs1_p, f3, rs1_p, opc))
                }
            }
        }
        (1, 5) => {
            // C.J
            let imm = sext(
                (bits(c, 12, 12) << 11)
                    | (bits(c, 11, 11) << 4)
                    | (bits(c, 10, 9) << 8)
                    | (bits(c, 8, 8) << 10)
                    | (bits(c, 7, 7) << 6)
                    | (bits(c, 6, 6) << 7)
                    | (bits(c, 5, 3) << 1)
                    | (bits(c, 2, 2) << 5),
                12,
            );
            Some(j_type(imm, 0))
        }
        (1, 6) | (1, 7) => {
            // C.BEQZ / C.BNEZ
            let imm = sext(
                (bits(c, 12, 12) << 8)
                    | (bits(c, 11, 10) << 3)
                    | (bits(c, 6, 5) << 6)
                    | (bits(c, 4, 3) << 1)
                    | (bits(c, 2, 2) << 5),
                9,
            );
            Some(b_type(imm, 0, rs1_p, if f3 == 6 { 0 } else { 1 }))
        }
        (2, 0) => {
            // C.SLLI
            let shamt = (bits(c, 12, 12) << 5) | bits(c, 6, 2);
            Some(i_type(shamt as i32, rd, 1, rd, 0x13))
        }
        (2, 1) => {
            // C.FLDSP
            let off = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
            Some(i_type(off as i32, 2, 3, rd, 0x07))
        }
        (2, 2) => {
            // C.LWSP
            if rd == 0 {
                return None;
            }
            let off = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
            Some(i_type(off as i32, 2, 2, rd, 0x03))
        }
        (2, 3) => {
            // C.LDSP
            if rd == 0 {
                return None;
            }
            let off = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
            Some(i_type(off as i32, 2, 3, rd, 0x03))
        }
        (2, 4) => {
            let bit12 = bits(c, 12, 12);
            match (bit12, rd, rs2) {
                (0, 0, _) => None,
                (0, _, 0) => Some(i_type(0, rd, 0, 0, 0x67)),      // C.JR
                (0, _, _) => Some(r_type(0, rs2, 0, 0, rd, 0x33)), // C.MV
                (1, 0, 0) => Some(0x0010_0073),                    // C.EBREAK
                (1, _, 0) => Some(i_type(0, rd, 0, 1, 0x67)),      // C.JALR
                _ => Some(r_type(0, rs2, rd, 0, rd, 0x33)),        // C.ADD
            }
        }
        (2, 5) => {
            // C.FSDSP
            let off = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
            Some(s_type(off as i32, rs2, 2, 3, 0x27))
        }
        (2, 6) => {
            // C.SWSP
            let off = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
            Some(s_type(off as i32, rs2, 2, 2, 0x23))
        }
        (2, 7) => {
            // C.SDSP
            let off = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
            Some(s_type(off as i32, rs2, 2, 3, 0x23))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_immediates() {
        // addi a0, a0, -1
        let i = decode(0xfff5_0513);
        assert_eq!((i.op, i.rd, i.rs1, i.imm), (Op::Addi, 10, 10, -1));
        // jal ra, -4  -> 0xffdff0ef
        let j = decode(0xffdf_f0ef);
        assert_eq!((j.op, j.rd, j.imm), (Op::Jal, 1, -4));
        // beq a0, a1, -8 : 0xfeb50ce3
        let b = decode(0xfeb5_0ce3);
        assert_eq!((b.op, b.imm), (Op::Beq, -8));
        // sd ra, 8(sp): 0x00113423
        let s = decode(0x0011_3423);
        assert_eq!((s.op, s.rs1, s.rs2, s.imm), (Op::Sd, 2, 1, 8));
    }

    #[test]
    fn expands_compressed() {
        // c.addi sp, -16 = 0x1141 -> addi sp, sp, -16
        assert_eq!(expand_compressed(0x1141), Some(0xff01_0113));
        // c.ret = c.jr ra = 0x8082 -> jalr x0, 0(ra)
        assert_eq!(expand_compressed(0x8082), Some(0x0000_8067));
        // c.sdsp ra, 8(sp) = 0xe406 -> sd ra, 8(sp)
        assert_eq!(expand_compressed(0xe406), Some(0x0011_3423));
        // c.li a0, 0 = 0x4501
        assert_eq!(expand_compressed(0x4501), Some(0x0000_0513));
        // all-zero halfword is illegal
        assert_eq!(expand_compressed(0), None);
        let i = decode(0);
        assert_eq!((i.op, i.len), (Op::Illegal, 2));
    }
}
