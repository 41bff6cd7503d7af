/* mstatus.FS gating, FS dirtiness, FP load/store faults and reserved rounding modes.
 * A trap handler records mcause/mtval in s2/s3 and resumes at the address in s1.
 * Self-checking: ends in WFI with a0 = 0, or a0 = the number of the failed check. */
#include "macros.h"

#define SD_BIT 63

/* Runs `insn` expecting a trap with cause `cause`. */
.macro EXPECT_TRAP num, cause, insn:vararg
    li gp, \num
    li s2, -1
    la s1, 9f
    \insn
    j fail                       /* no trap */
9:
    li t2, \cause
    bne s2, t2, fail
.endm

    .text
    .globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, FS_MASK
    csrc mstatus, t0             /* FS = Off */

    /* With FS = Off every FP instruction and FP CSR access is illegal. */
    EXPECT_TRAP 1, 2, fadd.d ft0, ft1, ft2
    li gp, 2
    la t0, 1f
    j 2f
1:  fadd.d ft0, ft1, ft2         /* mtval = the instruction bits */
2:  la s1, 3f
    jr t0
3:  lwu t1, 1b
    bne s3, t1, fail
    EXPECT_TRAP 3, 2, fld ft0, 0(sp)
    EXPECT_TRAP 4, 2, fsd ft0, 0(sp)
    EXPECT_TRAP 5, 2, frflags a0
    EXPECT_TRAP 6, 2, fsrmi 1
    EXPECT_TRAP 7, 2, csrr a0, fcsr
    EXPECT_TRAP 8, 2, fmv.x.d a0, ft0
    EXPECT_TRAP 9, 2, fcvt.d.w ft0, a0
    la sp, stack_top
    EXPECT_TRAP 10, 2, c.fldsp ft0, 0(sp)
    li t1, 0x2002                /* mtval = the 16 bits of c.fldsp ft0, 0(sp) */
    bne s3, t1, fail
    EXPECT_TRAP 11, 2, fmadd.s ft0, ft1, ft2, ft3

    /* FS = Initial: an FP instruction makes it Dirty, and SD reads as set. */
    li gp, 20
    li t0, 1 << 13
    csrs mstatus, t0
    fmv.d.x ft0, x0
    csrr t1, mstatus
    srli t2, t1, 13
    andi t2, t2, 3
    li t3, 3
    bne t2, t3, fail
    srli t2, t1, SD_BIT
    beqz t2, fail
    li gp, 21
    csrr t1, sstatus             /* SD is visible in sstatus too */
    bgez t1, fail

    /* FS = Clean: writing fflags through the CSR makes it Dirty. */
    li gp, 22
    li t0, FS_MASK
    csrc mstatus, t0
    li t0, 2 << 13
    csrs mstatus, t0
    csrr t1, mstatus
    bltz t1, fail                /* Clean: SD clear */
    fsflags x0
    csrr t1, mstatus
    bgez t1, fail
    srli t2, t1, 13
    andi t2, t2, 3
    li t3, 3
    bne t2, t3, fail

    /* FS = Clean: a load into an f register makes it Dirty. */
    li gp, 23
    li t0, FS_MASK
    csrc mstatus, t0
    li t0, 2 << 13
    csrs mstatus, t0
    fld ft0, 0(sp)
    csrr t1, mstatus
    bgez t1, fail

    /* Reserved rounding modes: static 5 and 6, and DYN with frm 5..7. */
    EXPECT_TRAP 30, 2, .word 0x022050d3    /* fadd.d ft1, ft0, ft2 with rm = 5 */
    EXPECT_TRAP 31, 2, .word 0x022060d3    /* rm = 6 */
    li t0, 5
    fsrm t0
    EXPECT_TRAP 32, 2, fadd.d ft1, ft0, ft2, dyn
    li t0, 7
    fsrm t0
    EXPECT_TRAP 33, 2, fcvt.w.d a0, ft0, dyn
    li gp, 34
    fsrmi 0
    fadd.d ft1, ft0, ft2, dyn    /* valid again */

    /* Loads and stores outside RAM: access faults with the address, no register change. */
    li t0, 0x3ff0000000000000
    fmv.d.x ft4, t0
    li a1, 0x1000
    EXPECT_TRAP 40, 5, fld ft4, 0(a1)
    bne s3, a1, fail
    fmv.x.d t1, ft4
    bne t1, t0, fail
    EXPECT_TRAP 41, 7, fsd ft4, 8(a1)
    addi t2, a1, 8
    bne s3, t2, fail
    EXPECT_TRAP 42, 5, flw ft4, 4(a1)

    j pass

    .balign 4                    /* mtvec's base is 4-byte aligned */
handler:
    csrr s2, mcause
    csrr s3, mtval
    csrw mepc, s1
    mret

    EPILOGUE

    .data
    .balign 16
    .space 64
stack_top:
    .space 64
