/* RV64A: LR/SC success, failure and reservation loss; every AMO in both widths including
 * signed/unsigned min/max and word sign extension; misaligned and unmapped atomics trap. */
#include "macros.h"

/* mem(a5) = init (word or doubleword per `w`); rd = amo(mem, src); checks rd and mem. */
.macro AMO_W num, op, init, src, old, new
    li t1, \init
    sw t1, 0(a5)
    li t2, \src
    \op a2, t2, (a5)
    CHECK \num, a2, \old
    lw a2, 0(a5)
    CHECK \num+1, a2, \new
.endm
.macro AMO_D num, op, init, src, old, new
    li t1, \init
    sd t1, 0(a5)
    li t2, \src
    \op a2, t2, (a5)
    CHECK \num, a2, \old
    ld a2, 0(a5)
    CHECK \num+1, a2, \new
.endm

    PROLOGUE
    la a0, words

    /* LR/SC success: sc writes 0 to rd and stores. LR.W sign-extends. */
    li a1, 0x80000001
    sw a1, 0(a0)
    lr.w a2, (a0)
    CHECK 1, a2, 0xffffffff80000001
    li a3, 0x12345678
    sc.w a4, a3, (a0)
    CHECK 2, a4, 0
    lw a2, 0(a0)
    CHECK 3, a2, 0x12345678
    /* The reservation is used up: a second SC fails and does not store. */
    li a3, 0x55
    sc.w a4, a3, (a0)
    CHECK 4, a4, 1
    lw a2, 0(a0)
    CHECK 5, a2, 0x12345678
    /* SC to another address than the reserved one fails... */
    addi a5, a0, 8
    lr.d a2, (a0)
    sc.d a4, a3, (a5)
    CHECK 6, a4, 1
    ld a2, 8(a0)
    CHECK 7, a2, 0
    /* ... and also consumed the reservation. */
    sc.d a4, a3, (a0)
    CHECK 8, a4, 1
    /* A trap between LR and SC loses the reservation. */
    lr.d a2, (a0)
    la s1, 1f
    ecall
1:  sc.d a4, a3, (a0)
    CHECK 9, a4, 1
    /* LR.D/SC.D success. */
    lr.d a2, (a0)
    li a3, -2
    sc.d a4, a3, (a0)
    CHECK 10, a4, 0
    ld a2, 0(a0)
    CHECK 11, a2, -2

    /* AMO*.W on the word at 24(a0), between guard words that must stay untouched. */
    li a1, -1
    sd a1, 16(a0)
    sd a1, 32(a0)
    sw a1, 28(a0)
    addi a5, a0, 24
    AMO_W 20, amoadd.w, 0x7fffffff, 1, 0x7fffffff, 0xffffffff80000000
    AMO_W 22, amoswap.w, 0x80000000, 5, 0xffffffff80000000, 5
    AMO_W 24, amoxor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfffffffff0f0f0f0
    AMO_W 26, amoand.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0x0f000f00
    AMO_W 28, amoor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfffffffffff0fff0
    AMO_W 30, amomin.w, 0xffffffff, 1, -1, -1
    AMO_W 32, amomin.w, 1, 0xffffffff, 1, -1
    AMO_W 34, amominu.w, 0xffffffff, 1, -1, 1
    AMO_W 36, amominu.w, 1, 0xffffffff, 1, 1
    AMO_W 38, amomax.w, 0xffffffff, 1, -1, 1
    AMO_W 40, amomax.w, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
    AMO_W 42, amomaxu.w, 0xffffffff, 1, -1, -1
    AMO_W 44, amomaxu.w, 0x7fffffff, 0x80000000, 0x7fffffff, 0xffffffff80000000
    /* .W AMOs ignore the upper half of rs2. */
    li t1, 5
    sw t1, 0(a5)
    li t2, 0x00000001fffffffe   /* -2 as a word */
    amomin.w a2, t2, (a5)
    lw a2, 0(a5)
    CHECK 46, a2, -2
    ld a2, 16(a0)
    CHECK 47, a2, -1
    lw a2, 28(a0)
    CHECK 48, a2, -1
    ld a2, 32(a0)
    CHECK 49, a2, -1

    /* AMO*.D */
    addi a5, a0, 40
    AMO_D 50, amoadd.d, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000
    AMO_D 52, amoswap.d, 7, -9, 7, -9
    AMO_D 54, amoxor.d, 0xff00, 0x0ff0, 0xff00, 0xf0f0
    AMO_D 56, amoand.d, 0xff00, 0x0ff0, 0xff00, 0x0f00
    AMO_D 58, amoor.d, 0xff00, 0x0ff0, 0xff00, 0xfff0
    AMO_D 60, amomin.d, -1, 1, -1, -1
    AMO_D 62, amominu.d, -1, 1, -1, 1
    AMO_D 64, amomax.d, 0x8000000000000000, 1, 0x8000000000000000, 1
    AMO_D 66, amomaxu.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
    /* rd = rs2: rd gets the old value, memory the sum with the original rs2. */
    li t1, 10
    sd t1, 0(a5)
    li a2, 3
    amoadd.d a2, a2, (a5)
    CHECK 68, a2, 10
    ld a2, 0(a5)
    CHECK 69, a2, 13
    /* rd = x0: memory still updated. */
    li a2, 4
    amoadd.d zero, a2, (a5)
    ld a2, 0(a5)
    CHECK 70, a2, 17

    /* Misaligned atomics trap (LR as a load, SC/AMO as a store/AMO), tval = the address. */
    addi a5, a0, 2
    EXPECT_TRAP_TVAL 80, CAUSE_MISALIGNED_LOAD, a5, lr.w a2, (a5)
    addi a5, a0, 4
    EXPECT_TRAP_TVAL 81, CAUSE_MISALIGNED_LOAD, a5, lr.d a2, (a5)
    EXPECT_TRAP_TVAL 82, CAUSE_MISALIGNED_STORE, a5, sc.d a2, a3, (a5)
    EXPECT_TRAP_TVAL 83, CAUSE_MISALIGNED_STORE, a5, amoadd.d a2, a3, (a5)
    addi a5, a0, 1
    EXPECT_TRAP_TVAL 84, CAUSE_MISALIGNED_STORE, a5, amoswap.w a2, a3, (a5)
    /* Unmapped physical address: access faults. */
    li a5, 0x1000
    EXPECT_TRAP_TVAL 85, CAUSE_LOAD_ACCESS, a5, lr.d a2, (a5)
    EXPECT_TRAP_TVAL 86, CAUSE_STORE_ACCESS, a5, amoor.d a2, a3, (a5)
    /* An SC without a reservation fails without touching memory, so no access fault. */
    NO_TRAP 87, sc.w a2, a3, (a5)
    CHECK 88, a2, 1

    j pass
    EPILOGUE

    .data
    .align 6
words:
    .space 64
