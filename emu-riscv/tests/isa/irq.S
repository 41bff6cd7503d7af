/* Interrupts and counters: CLINT mtimecmp and Sstc stimecmp waking WFI (with and without a
 * trap), interrupt priority (MEI > MSI > MTI > SEI > SSI > STI, M-level before S-level),
 * vectored mtvec/stvec, M-level interrupts preempting lower modes regardless of MIE,
 * delegated interrupts not taken in M-mode, software-written STIP/SSIP/SEIP, stimecmp access
 * rules (menvcfg.STCE, mcounteren.TM), and mcounteren/scounteren gating of
 * cycle/time/instret with minstret/mcycle writes. */
#include "macros.h"

#define CLINT_MSIP 0x02000000
#define CLINT_MTIMECMP 0x02004000
#define CLINT_MTIME 0x0200bff8
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define STCE (1 << 63)

/* mtimecmp = mtime + delta (a register); clobbers t1, t2. */
.macro ARM_MTIMER delta
    li t1, CLINT_MTIME
    ld t2, 0(t1)
    add t2, t2, \delta
    li t1, CLINT_MTIMECMP
    sd t2, 0(t1)
.endm

.macro DISARM_MTIMER
    li t1, CLINT_MTIMECMP
    li t2, -1
    sd t2, 0(t1)
.endm

.macro SET_MSIP value
    li t1, CLINT_MSIP
    li t2, \value
    sw t2, 0(t1)
.endm

    PROLOGUE

    /* --- The CLINT timer wakes WFI; with MIE = 0 no trap is taken. */
    li a0, 100
    ARM_MTIMER a0
    li t1, 1 << IRQ_MTI
    csrw mie, t1
    mv a5, s6
    li gp, 1
    wfi
    CHECKR 2, s6, a5            /* no trap */
    csrr a0, mip
    andi a0, a0, 1 << IRQ_MTI
    CHECK 3, a0, 1 << IRQ_MTI
    li t1, CLINT_MTIME
    ld a0, 0(t1)
    li t1, CLINT_MTIMECMP
    ld a1, 0(t1)
    li gp, 4
    bltu a0, a1, fail           /* woke no earlier than the deadline */
    csrr a2, time
    li gp, 5
    bltu a2, a0, fail           /* time CSR = mtime */
    DISARM_MTIMER
    csrr a0, mip
    andi a0, a0, 1 << IRQ_MTI
    CHECK 6, a0, 0

    /* --- ... and with MIE = 1 it traps, mepc = the instruction after WFI. */
    li a0, 50
    ARM_MTIMER a0
    li t1, 1 << IRQ_MTI
    csrw mie, t1
    la s1, 2f
    li s2, 0
    csrs mstatus, MSTATUS_MIE
    wfi
1:  j fail
2:  CHECK 10, s2, INTR | IRQ_MTI
    la a0, 1b
    CHECKR 11, s4, a0
    CHECK 12, s3, 0             /* mtval = 0 for interrupts */
    DISARM_MTIMER
    csrc mstatus, MSTATUS_MIE

    /* --- MTIP is not writable by software. */
    li t1, 1 << IRQ_MTI
    csrs mip, t1
    csrr a0, mip
    andi a0, a0, 1 << IRQ_MTI
    CHECK 13, a0, 0

    /* --- Priority within M: MSI before MTI (the last trap is MTI after both ran). */
    SET_MSIP 1
    li a0, 0
    ARM_MTIMER a0
    li t1, (1 << IRQ_MSI) | (1 << IRQ_MTI)
    csrw mie, t1
    csrr a0, mip
    CHECK 20, a0, (1 << IRQ_MSI) | (1 << IRQ_MTI)
    mv a5, s6
    la s1, 1f
    csrs mstatus, MSTATUS_MIE
    nop
1:  csrc mstatus, MSTATUS_MIE
    sub a5, s6, a5
    CHECK 21, a5, 2
    CHECK 22, s2, INTR | IRQ_MTI
    SET_MSIP 0
    DISARM_MTIMER
    /* MEI (software-set SEIP is the only external source here: SEI before SSI before STI). */

    /* --- Vectored mtvec: an interrupt goes to base + 4 * cause; exceptions to base. */
    la t1, mvec
    ori t1, t1, 1
    csrw mtvec, t1
    SET_MSIP 1
    li t1, 1 << IRQ_MSI
    csrw mie, t1
    li a6, -1
    la s1, 1f
    csrs mstatus, MSTATUS_MIE
    nop
1:  csrc mstatus, MSTATUS_MIE
    CHECK 30, a6, IRQ_MSI
    CHECK 31, s2, INTR | IRQ_MSI
    SET_MSIP 0
    li a6, -1
    EXPECT_TRAP 32, CAUSE_ECALL_M, ecall
    CHECK 33, a6, 0
    la t1, mtrap
    csrw mtvec, t1

    /* --- M-level interrupts preempt S and U whatever mstatus.MIE says. */
    SET_MSIP 1
    li t1, 1 << IRQ_MSI
    csrw mie, t1
    li t1, MSTATUS_MIE | MSTATUS_MPIE
    csrc mstatus, t1
    li s2, 0
    la s1, 2f
    li gp, 40
    ENTER_MODE 0, 1f
1:  j fail
2:  CHECK 41, s2, INTR | IRQ_MSI
    srli a0, s5, 11
    andi a0, a0, 3
    CHECK 42, a0, 0             /* taken from U */
    TO_M 3f
3:  SET_MSIP 0

    /* --- Delegated interrupts: to S in S/U; never taken in M, even with SIE = 1. */
    li t1, (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI)
    csrw mideleg, t1
    csrw mie, t1
    csrs mstatus, MSTATUS_SIE | MSTATUS_MIE
    li t1, 1 << IRQ_SSI
    csrs mip, t1
    mv a5, s7
    mv a4, s6
    nop
    nop
    CHECKR 50, s7, a5
    CHECKR 51, s6, a4
    csrc mstatus, MSTATUS_MIE
    /* In S with SIE = 1: taken at once. Priority SEI > SSI > STI. */
    li t1, (1 << IRQ_SEI) | (1 << IRQ_STI)
    csrs mip, t1                /* SEIP, STIP writable by M (STCE = 0) */
    li s7, 0
    la s1, 2f
    li t1, MSTATUS_SPIE
    csrs mstatus, t1
    li gp, 52
    ENTER_MODE 1, 1f
1:  j fail
2:  CHECK 53, s7, 3             /* three traps... */
    CHECK 54, s8, INTR | IRQ_STI /* ...the last STI */
    li t1, 1 << 8
    and a0, s11, t1
    CHECK 55, a0, 1 << 8        /* SPP = S */
    /* sip shows the delegated pending bits; SSIP is writable from S. */
    csrr a0, sip
    CHECK 56, a0, (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI)
    csrc sip, 1 << IRQ_SSI
    csrr a0, sip
    CHECK 57, a0, (1 << IRQ_STI) | (1 << IRQ_SEI)
    li t1, 1 << IRQ_STI
    csrc sip, t1                /* STIP is read-only in sip */
    csrr a0, sip
    CHECK 58, a0, (1 << IRQ_STI) | (1 << IRQ_SEI)
    /* SIE = 0 in S: not taken. */
    csrc sstatus, MSTATUS_SIE
    li t1, 1 << IRQ_SSI
    csrs sie, t1
    csrs sip, 1 << IRQ_SSI
    mv a5, s7
    nop
    CHECKR 59, s7, a5
    /* In U: taken even with SIE = 0. */
    la t1, 1f
    csrw sepc, t1
    li t1, MSTATUS_SPP
    csrc sstatus, t1
    la s1, 2f
    sret
1:  j fail
2:  CHECK 60, s8, INTR | IRQ_SSI
    TO_M 3f
3:  li t1, (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI)
    csrc mip, t1
    /* An M-level interrupt wins over a pending S-level one, in S. */
    li t1, (1 << IRQ_SSI) | (1 << IRQ_MSI)
    csrw mie, t1
    li t1, 1 << IRQ_SSI
    csrs mip, t1
    SET_MSIP 1
    li s2, 0
    li s8, 0
    la s1, 2f
    li gp, 61
    ENTER_MODE 1, 1f
1:  j fail
2:  CHECK 62, s2, INTR | IRQ_MSI
    CHECK 63, s8, 0
    TO_M 3f
3:  SET_MSIP 0
    li t1, 1 << IRQ_SSI
    csrc mip, t1

    /* --- STIP written by M-mode stays set while STCE = 0 (stimecmp does not drive it). */
    csrw mie, zero
    li t1, 1 << IRQ_STI
    csrs mip, t1
    li a0, 300                  /* spans several of the harness's timer updates */
1:  addi a0, a0, -1
    bnez a0, 1b
    csrr a0, mip
    andi a0, a0, 1 << IRQ_STI
    CHECK 70, a0, 1 << IRQ_STI
    li t1, 1 << IRQ_STI
    csrc mip, t1

    /* --- stimecmp: S-mode access needs menvcfg.STCE and mcounteren.TM; U never. */
    csrw mcounteren, zero
    li gp, 71
    ENTER_MODE 1, 1f
1:  EXPECT_TRAP 72, CAUSE_ILLEGAL, csrr a0, stimecmp
    TO_M 2f
2:  li t1, STCE
    csrs menvcfg, t1
    li gp, 73
    ENTER_MODE 1, 1f
1:  EXPECT_TRAP 74, CAUSE_ILLEGAL, csrr a0, stimecmp    /* TM = 0 */
    TO_M 2f
2:  csrwi mcounteren, 2
    li gp, 75
    ENTER_MODE 1, 1f
1:  NO_TRAP 76, csrr a0, stimecmp
    CHECK 77, a0, -1
    TO_M 2f
2:  li gp, 78
    ENTER_MODE 0, 1f
1:  EXPECT_TRAP 79, CAUSE_ILLEGAL, csrr a0, stimecmp
    TO_M 2f
2:

    /* --- Sstc: stimecmp raises STIP; in S it wakes WFI and traps to the S handler. */
    li t1, 1 << IRQ_STI
    csrw mideleg, t1
    csrw mie, t1
    li s7, 0
    li gp, 80
    ENTER_MODE 1, 1f
1:  csrr a0, time
    addi a0, a0, 100
    csrw stimecmp, a0
    csrr a1, sip
    andi a1, a1, 1 << IRQ_STI
    CHECK 81, a1, 0
    la s1, 2f
    csrs sstatus, MSTATUS_SIE
    wfi
3:  j fail
2:  CHECK 82, s8, INTR | IRQ_STI
    la a0, 3b
    CHECKR 83, s10, a0
    csrr a0, time
    csrr a1, stimecmp
    li gp, 84
    bltu a0, a1, fail
    /* Moving stimecmp into the future clears STIP. */
    li a0, -1
    csrw stimecmp, a0
    csrr a1, sip
    andi a1, a1, 1 << IRQ_STI
    CHECK 85, a1, 0
    /* Vectored stvec: STI at base + 4 * 5. */
    la t1, svec
    ori t1, t1, 1
    csrw stvec, t1
    csrr a0, time
    addi a0, a0, 20
    csrw stimecmp, a0
    li t1, 1 << IRQ_STI
    csrs sie, t1
    li a6, -1
    la s1, 2f
    wfi
    j fail
2:  CHECK 86, a6, IRQ_STI
    CHECK 87, s8, INTR | IRQ_STI
    la t1, strap
    csrw stvec, t1
    csrc sstatus, MSTATUS_SIE
    TO_M 3f
3:  csrw mideleg, zero
    csrw mie, zero
    li t1, STCE
    csrc menvcfg, t1

    /* --- Counters: gating by mcounteren (S) and both enables (U). */
    csrw mcounteren, zero
    csrw scounteren, zero
    li gp, 90
    ENTER_MODE 1, 1f
1:  EXPECT_TRAP 91, CAUSE_ILLEGAL, rdcycle a0
    EXPECT_TRAP 92, CAUSE_ILLEGAL, rdtime a0
    EXPECT_TRAP 93, CAUSE_ILLEGAL, rdinstret a0
    TO_M 2f
2:  csrwi mcounteren, 5         /* CY, IR */
    li gp, 94
    ENTER_MODE 1, 1f
1:  NO_TRAP 95, rdcycle a0
    NO_TRAP 96, rdinstret a0
    EXPECT_TRAP 97, CAUSE_ILLEGAL, rdtime a0
    csrwi scounteren, 2         /* TM only: U still needs mcounteren.TM */
    TO_M 2f
2:  li gp, 98
    ENTER_MODE 0, 1f
1:  EXPECT_TRAP 99, CAUSE_ILLEGAL, rdtime a0
    EXPECT_TRAP 100, CAUSE_ILLEGAL, rdcycle a0
    TO_M 2f
2:  csrwi mcounteren, 7
    csrwi scounteren, 1
    li gp, 101
    ENTER_MODE 0, 1f
1:  NO_TRAP 102, rdcycle a0
    EXPECT_TRAP 103, CAUSE_ILLEGAL, rdinstret a0
    EXPECT_TRAP 104, CAUSE_ILLEGAL, csrr a0, hpmcounter3
    TO_M 2f
2:  csrwi mcounteren, 0
    csrwi scounteren, 0

    /* --- instret counts retired instructions; a write is seen as written by the next one. */
    csrr a0, instret
    csrr a1, instret
    sub a1, a1, a0
    CHECK 110, a1, 1
    csrr a0, minstret
    nop
    nop
    csrr a1, minstret
    sub a1, a1, a0
    CHECK 111, a1, 3
    li a0, 1000
    csrw minstret, a0
    csrr a1, minstret
    csrr a2, instret
    CHECK 112, a1, 1000
    CHECK 113, a2, 1001
    /* mcycle is its own counter: writing it leaves minstret alone, and vice versa. */
    li a0, 0x100000
    csrw mcycle, a0
    csrr a1, mcycle
    csrr a2, minstret
    CHECK 114, a1, 0x100000
    li gp, 115
    li t1, 0x1000
    bgeu a2, t1, fail
    csrr a1, cycle
    li gp, 116
    li t1, 0x100000
    bltu a1, t1, fail

    j pass

    /* Vector tables: entry i sets a6 = i and goes to the common handler. */
    .option norvc               /* 4-byte entries */
    .align 6
mvec:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
    j mvec\n
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11
mvec\n: li a6, \n
    j mtrap
    .endr

    .align 6
svec:
    .irp n, 0,1,2,3,4,5,6,7,8,9
    j svec\n
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9
svec\n: li a6, \n
    j strap
    .endr
    .option rvc

    EPILOGUE
