/* RV64M: the high multiplies, and division by zero and signed overflow (defined results,
 * no trap), in both widths. */
#include "macros.h"
    PROLOGUE

    li a0, -1
    li a1, -1
    mul a2, a0, a1
    CHECK 1, a2, 1
    mulh a2, a0, a1
    CHECK 2, a2, 0
    mulhu a2, a0, a1
    CHECK 3, a2, 0xfffffffffffffffe
    mulhsu a2, a0, a1           /* -1 * (2^64 - 1) */
    CHECK 4, a2, -1
    mulhsu a2, a1, a0
    CHECK 5, a2, -1
    li a0, 0x8000000000000000
    li a1, 0x8000000000000000
    mulh a2, a0, a1             /* 2^126 */
    CHECK 6, a2, 0x4000000000000000
    mulhu a2, a0, a1
    CHECK 7, a2, 0x4000000000000000
    mulhsu a2, a0, a1           /* -2^63 * 2^63 */
    CHECK 8, a2, 0xc000000000000000
    li a1, 2
    mulhsu a2, a0, a1
    CHECK 9, a2, -1
    li a0, 0x123456789abcdef0
    li a1, 0x0fedcba987654321
    mulhu a2, a0, a1
    CHECK 10, a2, 0x0121fa00ad77d742
    mul a2, a0, a1
    CHECK 11, a2, 0x2236d88fe5618cf0

    /* Division by zero: quotient all ones, remainder the dividend. */
    li a0, 42
    div a2, a0, zero
    CHECK 20, a2, -1
    divu a2, a0, zero
    CHECK 21, a2, -1
    rem a2, a0, zero
    CHECK 22, a2, 42
    remu a2, a0, zero
    CHECK 23, a2, 42
    li a0, -42
    rem a2, a0, zero
    CHECK 24, a2, -42

    /* Signed overflow: quotient the dividend, remainder zero. */
    li a0, 0x8000000000000000
    li a1, -1
    div a2, a0, a1
    CHECKR 30, a2, a0
    rem a2, a0, a1
    CHECK 31, a2, 0
    /* Rounding toward zero; the remainder takes the dividend's sign. */
    li a0, -7
    li a1, 2
    div a2, a0, a1
    CHECK 32, a2, -3
    rem a2, a0, a1
    CHECK 33, a2, -1
    divu a2, a0, a1
    CHECK 34, a2, 0x7ffffffffffffffc

    /* W-forms: 32-bit operands, sign-extended results. */
    li a0, 0x00000000ffffffff   /* -1 as a word */
    li a1, 0x7fffffff00000002
    mulw a2, a0, a1
    CHECK 40, a2, -2
    li a0, 0x10000
    mulw a2, a0, a0             /* 2^32 wraps to 0 */
    CHECK 41, a2, 0
    li a0, 0x8000
    li a1, 0x10000
    mulw a2, a0, a1             /* 2^31: negative as a word */
    CHECK 42, a2, 0xffffffff80000000
    li a0, 0xffffffff80000000
    li a1, -1
    divw a2, a0, a1
    CHECK 43, a2, 0xffffffff80000000
    remw a2, a0, a1
    CHECK 44, a2, 0
    li a0, 0x1234567800000007
    divw a2, a0, zero
    CHECK 45, a2, -1
    divuw a2, a0, zero
    CHECK 46, a2, -1
    remw a2, a0, zero
    CHECK 47, a2, 7
    li a0, 0x80000007
    remuw a2, a0, zero          /* the dividend's word, sign-extended */
    CHECK 48, a2, 0xffffffff80000007
    li a1, 2
    divuw a2, a0, a1
    CHECK 49, a2, 0x40000003
    li a0, 0xfffffffe           /* 4294967294 */
    li a1, 0x100000001          /* 1 as a word */
    divuw a2, a0, a1
    CHECK 50, a2, 0xfffffffffffffffe
    li a0, -7
    li a1, 2
    remw a2, a0, a1
    CHECK 51, a2, -1
    remuw a2, a0, a1
    CHECK 52, a2, 1

    j pass
    EPILOGUE
