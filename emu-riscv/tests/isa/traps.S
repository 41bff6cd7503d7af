/* Privileged traps: illegal instructions (mtval = the bits), ECALL from each mode, EBREAK,
 * MRET/SRET and the MPP/MPIE/SPP/SPIE/MPRV stacks, delegation through medeleg, vectored
 * mtvec/stvec for exceptions, CSR privilege and read-only checks, TVM/TW/TSR, the WARL
 * fields of medeleg/mideleg/mepc/mtvec, misa and mhartid. */
#include "macros.h"

/* reg = (src >> shift) & mask */
.macro FIELD reg, src, shift, mask
    srli \reg, \src, \shift
    andi \reg, \reg, \mask
.endm

    PROLOGUE

    /* --- Illegal instructions in M-mode: mtval = the instruction bits, mepc = its address. */
    la a6, 1f
    lwu a6, 0(a6)
    EXPECT_TRAP_TVAL 1, CAUSE_ILLEGAL, a6, 1: .word 0x0000000b   /* custom-0 */
    la a6, 1f
    lwu a6, 0(a6)
    EXPECT_TRAP_TVAL 2, CAUSE_ILLEGAL, a6, 1: csrr a0, 0x7b0     /* dcsr: debug mode only */
    la a6, 1b
    CHECKR 3, s4, a6
    la a6, 1f
    lwu a6, 0(a6)
    EXPECT_TRAP_TVAL 4, CAUSE_ILLEGAL, a6, 1: csrw cycle, a0     /* read-only CSR */
    EXPECT_TRAP 5, CAUSE_ILLEGAL, csrrwi zero, mhartid, 0
    EXPECT_TRAP 6, CAUSE_ILLEGAL, csrrsi a0, mvendorid, 1
    NO_TRAP 7, csrrs a0, cycle, zero                            /* read-only: reads are fine */
    NO_TRAP 8, csrrsi a0, mhartid, 0
    CHECK 9, a0, 0
    EXPECT_TRAP 10, CAUSE_ILLEGAL, .word 0x30200073 | (1 << 7)  /* mret with rd != 0 */

    /* --- ECALL and EBREAK from M: mepc = the instruction, tval = 0 / the pc. */
    li s3, -1
    la a6, 1f
    EXPECT_TRAP 12, CAUSE_ECALL_M, 1: ecall
    CHECKR 13, s4, a6
    CHECK 14, s3, 0
    FIELD a0, s5, 11, 3
    CHECK 15, a0, 3             /* MPP = M */
    la a6, 1f
    EXPECT_TRAP_TVAL 16, CAUSE_BREAKPOINT, a6, 1: ebreak

    /* --- ECALL from S and from U (nothing delegated): MPP tells where from. */
    li gp, 20
    ENTER_MODE 1, 1f
1:  TO_M 2f
2:  CHECK 21, s2, CAUSE_ECALL_S
    FIELD a0, s5, 11, 3
    CHECK 22, a0, 1
    li gp, 23
    ENTER_MODE 0, 1f
1:  TO_M 2f
2:  CHECK 24, s2, CAUSE_ECALL_U
    FIELD a0, s5, 11, 3
    CHECK 25, a0, 0

    /* --- MRET: MIE = MPIE, MPIE = 1, MPP = U; MPRV kept only when returning to M. */
    li t1, MPP_MASK | MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPRV
    csrs mstatus, t1            /* MPP = M, MPIE = 1, MIE = 1, MPRV = 1 */
    li t1, MSTATUS_MPIE
    csrc mstatus, t1            /* MPIE = 0 */
    la t1, 1f
    csrw mepc, t1
    mret
1:  csrr a1, mstatus
    FIELD a0, a1, 3, 1
    CHECK 30, a0, 0             /* MIE = old MPIE */
    FIELD a0, a1, 7, 1
    CHECK 31, a0, 1             /* MPIE = 1 */
    FIELD a0, a1, 11, 3
    CHECK 32, a0, 0             /* MPP = U */
    FIELD a0, a1, 17, 1
    CHECK 33, a0, 1             /* MPRV stays: returned to M */
    /* Returning to S clears MPRV; MIE there comes from MPIE. */
    li gp, 34
    li t1, MSTATUS_MPIE | MSTATUS_MPRV
    csrs mstatus, t1
    ENTER_MODE 1, 1f
1:  TO_M 2f
2:  FIELD a0, s5, 17, 1
    CHECK 35, a0, 0             /* MPRV cleared by the MRET to S */
    FIELD a0, s5, 7, 1
    CHECK 36, a0, 1             /* MPIE at the ECALL = MIE in S = 1 */
    FIELD a0, s5, 3, 1
    CHECK 37, a0, 0             /* MIE cleared by the trap */

    /* --- SRET: SIE = SPIE, SPIE = 1, SPP = U, to the mode in SPP. */
    li gp, 40
    li t1, MSTATUS_SPIE | MSTATUS_SPP
    csrs mstatus, t1
    li t1, MSTATUS_SIE
    csrc mstatus, t1
    ENTER_MODE 1, 1f
1:  li t1, MSTATUS_SPP      /* in S: SPP = U, SPIE = 1, return to U */
    csrc sstatus, t1
    la t1, 2f
    csrw sepc, t1
    sret
2:  TO_M 3f                 /* in U */
3:  CHECK 41, s2, CAUSE_ECALL_U
    FIELD a0, s5, 1, 1
    CHECK 42, a0, 1             /* SIE = old SPIE */
    FIELD a0, s5, 5, 1
    CHECK 43, a0, 1             /* SPIE = 1 */
    FIELD a0, s5, 8, 1
    CHECK 44, a0, 0             /* SPP = U */
    /* SRET with SPP = S and SPIE = 0, executed in M-mode: goes to S, SIE = 0, and clears MPRV. */
    li gp, 45
    li t1, MSTATUS_SPP | MSTATUS_SIE | MSTATUS_MPRV
    csrs mstatus, t1
    li t1, MSTATUS_SPIE
    csrc mstatus, t1
    la t1, 1f
    csrw sepc, t1
    sret
1:  TO_M 2f
2:  CHECK 46, s2, CAUSE_ECALL_S
    FIELD a0, s5, 1, 1
    CHECK 47, a0, 0
    FIELD a0, s5, 5, 1
    CHECK 48, a0, 1
    FIELD a0, s5, 17, 1
    CHECK 49, a0, 0

    /* --- xRET and privileged CSRs from lower modes are illegal. */
    li gp, 50
    ENTER_MODE 1, 1f
1:  EXPECT_TRAP 51, CAUSE_ILLEGAL, mret
    EXPECT_TRAP 52, CAUSE_ILLEGAL, csrr a0, mstatus
    EXPECT_TRAP 53, CAUSE_ILLEGAL, csrr a0, mscratch
    NO_TRAP 54, csrr a0, sstatus
    FIELD a1, a0, 11, 3
    CHECK 55, a1, 0             /* MPP is not visible in sstatus */
    li a1, 2
    srli a0, a0, 32
    andi a0, a0, 3
    CHECKR 56, a0, a1           /* UXL = 64 */
    TO_M 2f
2:  li gp, 58
    ENTER_MODE 0, 1f
1:  EXPECT_TRAP 59, CAUSE_ILLEGAL, sret
    EXPECT_TRAP 60, CAUSE_ILLEGAL, csrr a0, sstatus
    EXPECT_TRAP 61, CAUSE_ILLEGAL, wfi
    EXPECT_TRAP 62, CAUSE_ILLEGAL, sfence.vma
    EXPECT_TRAP 63, CAUSE_ILLEGAL, mret
    TO_M 2f
2:

    /* --- TVM, TW, TSR trap the S-mode instructions they guard. */
    li t1, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
    csrs mstatus, t1
    li gp, 65
    ENTER_MODE 1, 1f
1:  EXPECT_TRAP 66, CAUSE_ILLEGAL, csrr a0, satp
    EXPECT_TRAP 67, CAUSE_ILLEGAL, csrw satp, zero
    EXPECT_TRAP 68, CAUSE_ILLEGAL, sfence.vma
    EXPECT_TRAP 69, CAUSE_ILLEGAL, wfi
    EXPECT_TRAP 70, CAUSE_ILLEGAL, sret
    TO_M 2f
2:  li t1, MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
    csrc mstatus, t1
    li gp, 71
    ENTER_MODE 1, 1f
1:  NO_TRAP 72, csrr a0, satp
    NO_TRAP 73, sfence.vma
    TO_M 2f
2:

    /* --- Delegation: medeleg routes U/S exceptions to S; M's own stay in M. */
    li t1, -1
    csrw medeleg, t1
    csrr a0, medeleg
    CHECK 80, a0, 0xb3ff        /* ECALL from M (11) cannot be delegated */
    csrw mideleg, t1
    csrr a0, mideleg
    CHECK 81, a0, 0x222         /* SSI, STI, SEI */
    csrw mideleg, zero
    li t1, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_ECALL_U) | (1 << CAUSE_BREAKPOINT)
    csrw medeleg, t1
    /* In M: not delegated even though the bit is set. */
    li s8, -1
    EXPECT_TRAP 82, CAUSE_ILLEGAL, .word 0x0000000b
    CHECK 83, s8, -1
    /* In U: illegal instruction goes to S with stval = the bits, SPP = U. */
    li gp, 84
    ENTER_MODE 0, 1f
1:  li s8, -1
    la s1, 2f
    la a6, 3f
3:  .word 0x0000000b
    j fail
2:  CHECK 85, s8, CAUSE_ILLEGAL
    lwu a5, 0(a6)
    CHECKR 86, s9, a5
    CHECKR 87, s10, a6
    FIELD a0, s11, 8, 1
    CHECK 88, a0, 0
    /* ECALL from U delegated, EBREAK from U delegated. */
    la s1, 2f
    ecall
2:  CHECK 89, s8, CAUSE_ECALL_U
    la s1, 2f
    la a6, 3f
3:  ebreak
2:  CHECK 90, s8, CAUSE_BREAKPOINT
    CHECKR 91, s9, a6
    TO_M 2f                     /* ECALL from U -> S handler -> ECALL from S -> M */
2:  CHECK 92, s2, CAUSE_ECALL_S
    /* In S: delegated illegal instruction stays in S with SPP = S. */
    li gp, 93
    ENTER_MODE 1, 1f
1:  li s8, -1
    li s2, -1
    la s1, 2f
    .word 0x0000000b
    j fail
2:  CHECK 94, s2, -1            /* the M handler did not run */
    CHECK 95, s8, CAUSE_ILLEGAL
    FIELD a0, s11, 8, 1
    CHECK 96, a0, 1
    /* ECALL from S is not delegated here: M handler. */
    TO_M 2f
2:  CHECK 97, s2, CAUSE_ECALL_S
    csrw medeleg, zero

    /* --- Vectored mtvec/stvec: exceptions still go to the base. */
    la t1, mtrap
    ori t1, t1, 1
    csrw mtvec, t1
    csrr a0, mtvec
    CHECKR 100, a0, t1
    EXPECT_TRAP 101, CAUSE_ECALL_M, ecall
    li t1, 1 << CAUSE_ECALL_U
    csrw medeleg, t1
    la t1, strap
    ori t1, t1, 1
    csrw stvec, t1
    li gp, 102
    ENTER_MODE 0, 1f
1:  li s8, -1
    la s1, 2f
    ecall
2:  CHECK 103, s8, CAUSE_ECALL_U
    TO_M 3f
3:  csrw medeleg, zero
    la t1, strap
    csrw stvec, t1
    la t1, mtrap
    csrw mtvec, t1
    /* Reserved mode 2 is not kept. */
    ori t1, t1, 2
    csrw mtvec, t1
    csrr a0, mtvec
    andi a0, a0, 3
    li gp, 104
    li t1, 2
    beq a0, t1, fail
    la t1, mtrap
    csrw mtvec, t1

    /* --- WARL: mepc/sepc bit 0 is zero; misa says RV64 ACDFIMSU; hart 0. */
    li t1, 0x80001233
    csrw mepc, t1
    csrr a0, mepc
    CHECK 110, a0, 0x80001232
    csrw sepc, t1
    csrr a0, sepc
    CHECK 111, a0, 0x80001232
    csrr a0, misa
    CHECK 112, a0, (2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
    csrr a0, mhartid
    CHECK 113, a0, 0
    /* mstatus.MPP = 2 (reserved) is not kept. */
    li t1, MPP_MASK
    csrc mstatus, t1
    li t1, 2 << 11
    csrs mstatus, t1
    csrr a0, mstatus
    FIELD a0, a0, 11, 3
    li gp, 114
    li t1, 2
    beq a0, t1, fail

    j pass
    EPILOGUE
