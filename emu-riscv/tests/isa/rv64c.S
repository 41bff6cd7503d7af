/* RV64C: immediates of the compressed forms at their extremes (C.LUI, C.ADDI16SP, C.ADDIW,
 * C.ADDI4SPN, C.LI, C.ANDI, shifts), links and branches, stack-relative loads and stores,
 * reserved encodings (illegal, mtval = the 16 bits), C.EBREAK, and 32-bit instructions at
 * 2-byte alignment, one straddling a page boundary. */
#include "macros.h"

/* Expects an illegal-instruction trap on the halfword `bits`, with mtval = bits. */
.macro ILLEGAL16 num, bits
    li a6, \bits
    EXPECT_TRAP_TVAL \num, CAUSE_ILLEGAL, a6, .half \bits
.endm

    PROLOGUE
    .option rvc

    c.lui a0, 1
    CHECK 1, a0, 0x1000
    c.lui a0, 0x1f
    CHECK 2, a0, 0x1f000
    c.lui a0, 0xfffff
    CHECK 3, a0, 0xfffffffffffff000
    c.lui a0, 0xfffe0
    CHECK 4, a0, 0xfffffffffffe0000

    la sp, stack_top
    mv a1, sp
    c.addi16sp sp, -512
    sub a2, a1, sp
    CHECK 10, a2, 512
    c.addi16sp sp, 496
    sub a2, a1, sp
    CHECK 11, a2, 16
    c.addi16sp sp, 16
    CHECKR 12, sp, a1

    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK 20, a0, 0xffffffff80000000
    li a0, 0x123456789
    c.addiw a0, 0               /* sext.w */
    CHECK 21, a0, 0x23456789
    li a0, 0
    c.addiw a0, -32
    CHECK 22, a0, -32
    li a0, 0x7fffffff
    li a1, 1
    c.addw a0, a1
    CHECK 23, a0, 0xffffffff80000000
    li a0, 0x80000000
    li a1, 1
    c.subw a0, a1
    CHECK 24, a0, 0x7fffffff
    li a0, 0
    li a1, 0x80000000
    c.subw a0, a1
    CHECK 25, a0, 0xffffffff80000000

    c.addi4spn a0, sp, 1020
    sub a0, a0, sp
    CHECK 30, a0, 1020
    c.addi4spn a0, sp, 4
    sub a0, a0, sp
    CHECK 31, a0, 4

    c.li a0, -32
    CHECK 40, a0, -32
    c.li a0, 31
    CHECK 41, a0, 31
    li a0, -1
    c.andi a0, -32
    CHECK 42, a0, -32
    li a0, 0xff
    c.andi a0, 31
    CHECK 43, a0, 31
    li a0, -1
    c.srli a0, 63
    CHECK 44, a0, 1
    li a0, 0x8000000000000000
    c.srai a0, 32
    CHECK 45, a0, 0xffffffff80000000
    li a0, 1
    c.slli a0, 63
    CHECK 46, a0, 0x8000000000000000
    li a0, 3
    c.slli a0, 32
    CHECK 47, a0, 0x300000000
    li a0, 5
    li a1, 7
    c.add a0, a1
    CHECK 48, a0, 12
    c.mv a0, a1
    CHECK 49, a0, 7
    li a0, 0x0f0f
    li a1, 0x00ff
    c.and a0, a1
    CHECK 50, a0, 0x000f
    li a0, 0x0f0f
    c.or a0, a1
    CHECK 51, a0, 0x0fff
    li a0, 0x0f0f
    c.xor a0, a1
    CHECK 52, a0, 0x0ff0
    li a0, 3
    c.sub a0, a1
    CHECK 53, a0, 3-255

    /* C.JALR links pc + 2; C.JR jumps. */
    la a0, 1f
    c.jalr a0
2:  j fail
1:  la a1, 2b
    CHECKR 60, ra, a1
    la a0, 3f
    c.jr a0
    j fail
3:  li a0, 0
    c.beqz a0, 4f
    j fail
4:  c.bnez a0, fail
    li a0, -1
    c.bnez a0, 5f
    j fail
5:

    /* Stack-relative loads and stores at their largest offsets; C.LW sign-extends. */
    addi sp, sp, -512
    li a0, 0x1122334455667788
    c.sdsp a0, 504(sp)
    c.ldsp a1, 504(sp)
    CHECKR 70, a1, a0
    li a0, 0x87654321
    c.swsp a0, 252(sp)
    c.lwsp a1, 252(sp)
    CHECK 71, a1, 0xffffffff87654321
    mv a2, sp
    c.lw a1, 124(a2)
    CHECK 72, a1, 0
    c.sw a0, 124(a2)
    c.lw a1, 124(a2)
    CHECK 73, a1, 0xffffffff87654321
    li a0, -3
    c.sd a0, 248(a2)
    c.ld a1, 248(a2)
    CHECK 74, a1, -3
    addi sp, sp, 512

    /* Reserved encodings: illegal, mtval = the 16 bits. */
    ILLEGAL16 80, 0x0000        /* all zeros */
    ILLEGAL16 81, 0x0008        /* C.ADDI4SPN, nzuimm = 0 */
    ILLEGAL16 82, 0x6101        /* C.ADDI16SP, nzimm = 0 */
    ILLEGAL16 83, 0x6501        /* C.LUI, nzimm = 0 */
    ILLEGAL16 84, 0x2005        /* C.ADDIW, rd = 0 */
    ILLEGAL16 85, 0x4002        /* C.LWSP, rd = 0 */
    ILLEGAL16 86, 0x6002        /* C.LDSP, rd = 0 */
    ILLEGAL16 87, 0x8002        /* C.JR, rs1 = 0 */
    ILLEGAL16 88, 0x9c41        /* reserved quadrant-1 arithmetic */
    ILLEGAL16 89, 0x8000        /* reserved quadrant-0 opcode */
    /* An instruction that is illegal only at run time (C.FLDSP with FS off) also reports
     * its own 16 bits, not the 32-bit form it expands to. */
    li t1, MSTATUS_FS
    csrc mstatus, t1
    li a6, 0x2002
    EXPECT_TRAP_TVAL 91, CAUSE_ILLEGAL, a6, c.fldsp ft0, 0(sp)

    /* C.EBREAK: a breakpoint with tval = mepc = its address. */
    la a6, 6f
    EXPECT_TRAP_TVAL 92, CAUSE_BREAKPOINT, a6, 6: c.ebreak
    CHECKR 93, s4, a6

    /* 32-bit instructions at 2-byte alignment, one across a page boundary. */
    la a0, straddle
    jr a0
back:
    CHECK 95, a1, 77

    j pass
    EPILOGUE

    .balign 4096
    .skip 4092
straddle:
    c.nop                       /* ends at 4094: the next instruction straddles the page */
    .option norvc
    addi a1, zero, 77
    .option rvc
    j back

    .data
    .balign 16
    .space 1024
stack_top:
