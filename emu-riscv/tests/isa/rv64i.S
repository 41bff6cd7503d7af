/* RV64I: shifts by large amounts, W-forms and their sign extension, compares, LUI/AUIPC,
 * JALR, x0, load extension, misaligned loads and stores (performed, also across a page
 * boundary), and access faults on unmapped physical addresses. */
#include "macros.h"
    PROLOGUE

    /* Shift amounts use only their low 6 bits (5 for the W-forms). */
    li a0, 1
    li a1, 67
    sll a2, a0, a1
    CHECK 1, a2, 8
    li a0, -16
    li a1, 0x7fffffffffffff42   /* low 6 bits: 2 */
    sra a2, a0, a1
    CHECK 2, a2, -4
    srl a2, a0, a1
    CHECK 3, a2, 0x3ffffffffffffffc
    slli a2, a0, 63
    CHECK 4, a2, 0
    li a0, 1
    slli a2, a0, 63
    srai a3, a2, 63
    CHECK 5, a3, -1
    srli a3, a2, 63
    CHECK 6, a3, 1

    /* W-forms: 32-bit result, sign-extended; upper source bits ignored. */
    li a0, 0x7fffffff
    addiw a1, a0, 1
    CHECK 10, a1, 0xffffffff80000000
    li a0, 0x1234567880000000
    addiw a1, a0, 0             /* sext.w */
    CHECK 11, a1, 0xffffffff80000000
    li a0, 0x7fffffff
    li a2, 1
    addw a1, a0, a2
    CHECK 12, a1, 0xffffffff80000000
    li a0, 0
    li a2, 0x80000000
    subw a1, a0, a2
    CHECK 13, a1, 0xffffffff80000000
    li a0, 1
    li a2, 31
    sllw a1, a0, a2
    CHECK 14, a1, 0xffffffff80000000
    li a2, 33                   /* low 5 bits: 1 */
    sllw a1, a0, a2
    CHECK 15, a1, 2
    li a0, 0xffffffff80000000
    srlw a1, a0, zero
    CHECK 16, a1, 0xffffffff80000000
    li a2, 1
    srlw a1, a0, a2
    CHECK 17, a1, 0x40000000
    srliw a1, a0, 31
    CHECK 18, a1, 1
    li a2, 31
    sraw a1, a0, a2
    CHECK 19, a1, -1
    li a0, 0x100000000
    sraw a1, a0, zero
    CHECK 20, a1, 0
    li a0, 0xabcdef0012345678
    sraiw a1, a0, 4
    CHECK 21, a1, 0x01234567
    li a0, 0x00000000f0000000
    sraiw a1, a0, 4
    CHECK 22, a1, 0xffffffffff000000
    slliw a1, a0, 4
    CHECK 23, a1, 0
    li a0, 0x87654321
    slliw a1, a0, 0
    CHECK 24, a1, 0xffffffff87654321

    /* Compares. */
    li a0, -1
    li a2, 1
    slt a1, a0, a2
    CHECK 30, a1, 1
    sltu a1, a0, a2
    CHECK 31, a1, 0
    sltiu a1, a2, -1            /* immediate sign-extended, then compared unsigned */
    CHECK 32, a1, 1
    slti a1, a0, -2
    CHECK 33, a1, 0

    /* LUI sign-extends; AUIPC adds to its own pc. */
    lui a0, 0x80000
    CHECK 40, a0, 0xffffffff80000000
1:  auipc a0, 0
    la a1, 1b
    CHECKR 41, a0, a1
3:  auipc a0, 0xfffff           /* -4096 */
    la a1, 3b
    sub a0, a0, a1
    CHECK 42, a0, -4096

    /* JALR clears bit 0 of the target and links before jumping (rd = rs1 works). */
    la a0, 2f
    addi a0, a0, 1
    jalr a0, 0(a0)
4:  j fail
2:  la a1, 4b                   /* the link: the address after the jalr */
    CHECKR 50, a0, a1

    /* x0 stays zero. */
    addi x0, x0, 5
    lui x0, 1
    CHECK 51, x0, 0

    /* Load widths and extension. */
    la a0, data
    lb a1, 0(a0)
    CHECK 60, a1, 0xffffffffffffff80
    lbu a1, 0(a0)
    CHECK 61, a1, 0x80
    lh a1, 0(a0)
    CHECK 62, a1, 0xffffffffffff9180
    lhu a1, 0(a0)
    CHECK 63, a1, 0x9180
    lw a1, 0(a0)
    CHECK 64, a1, 0xffffffffb3a29180
    lwu a1, 0(a0)
    CHECK 65, a1, 0xb3a29180
    ld a1, 0(a0)
    CHECK 66, a1, 0xf7e6d5c4b3a29180

    /* Misaligned loads and stores are performed (not trapped). */
    NO_TRAP 70, ld a1, 1(a0)
    CHECK 71, a1, 0x08f7e6d5c4b3a291
    NO_TRAP 72, lw a1, 3(a0)
    CHECK 73, a1, 0xffffffffe6d5c4b3
    NO_TRAP 74, lhu a1, 7(a0)
    CHECK 75, a1, 0x08f7
    li a2, 0x1122334455667788
    NO_TRAP 76, sd a2, 17(a0)
    ld a1, 17(a0)
    CHECKR 77, a1, a2
    lbu a1, 16(a0)
    CHECK 78, a1, 0
    lbu a1, 25(a0)
    CHECK 79, a1, 0
    /* Across a page boundary. */
    la a0, page2
    li a2, 0x0102030405060708
    NO_TRAP 80, sd a2, -3(a0)
    ld a1, -3(a0)
    CHECKR 81, a1, a2
    lw a1, -2(a0)
    CHECK 82, a1, 0x04050607
    ld a1, 0(a0)
    CHECK 83, a1, 0x0102030405

    /* Access faults: nothing at physical 0. tval = the address. */
    li a0, 3
    EXPECT_TRAP_TVAL 90, CAUSE_LOAD_ACCESS, a0, lw a1, 0(a0)
    EXPECT_TRAP_TVAL 91, CAUSE_STORE_ACCESS, a0, sd a1, 0(a0)
    li a0, 0x2000
    EXPECT_TRAP_TVAL 92, 1, a0, jalr ra, 0(a0)
    CHECKR 93, s4, a0           /* mepc = the target */

    /* FENCE and FENCE.I are accepted. */
    NO_TRAP 95, fence
    NO_TRAP 96, fence.i

    /* Self-modifying code: a rewritten instruction runs in its new form after FENCE.I, also
     * when the old form already ran (and sits in any decode cache). */
    li s0, 0
1:  li a0, 0
    la a1, 2f
    jalr ra, 0(a1)
    bnez s0, 3f
    CHECK 97, a0, 1
    la a1, 2f
    li a2, 0x02a00513           /* addi a0, zero, 42 */
    sw a2, 0(a1)
    fence.i
    li s0, 1
    j 1b
3:  CHECK 98, a0, 42

    j pass

    .option norvc
2:  addi a0, zero, 1
    ret
    .option rvc
    EPILOGUE

    .data
    .align 12
data:
    .byte 0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x08
    .align 12
    .space 4096 - 16
    .align 12
page2:
    .space 64
