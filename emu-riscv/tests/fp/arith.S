/* RV64F/D computational instructions: rounding modes, flags, NaN rules, conversions.
 * Self-checking: ends in WFI with a0 = 0, or a0 = the number of the failed check. */
#include "macros.h"

#define ONE       0x3ff0000000000000
#define ONE_UP    0x3ff0000000000001
#define TWO_M53   0x3ca0000000000000
#define DMAX      0x7fefffffffffffff
#define DMIN      0x0010000000000000
#define DINF      0x7ff0000000000000
#define DNAN      0x7ff8000000000000
#define DSNAN     0x7ff0000000000001
#define NEG_ZERO  0x8000000000000000
#define NV 0x10
#define DZ 0x08
#define OF 0x04
#define UF 0x02
#define NX 0x01

    .text
    .globl _start
_start:
    ENABLE_FP
    fscsr x0

    /* Addition in all five modes: 1 + 2^-53 is exactly half an ulp above 1. */
    TD_RM 1, fadd.d, rne, ONE, TWO_M53, ONE, NX
    TD_RM 2, fadd.d, rtz, ONE, TWO_M53, ONE, NX
    TD_RM 3, fadd.d, rdn, ONE, TWO_M53, ONE, NX
    TD_RM 4, fadd.d, rup, ONE, TWO_M53, ONE_UP, NX
    TD_RM 5, fadd.d, rmm, ONE, TWO_M53, ONE_UP, NX
    TD_RM 6, fadd.d, rne, 0x3ff8000000000000, 0x3ff8000000000000, 0x4008000000000000, 0
    TD_RM 7, fsub.d, rdn, ONE, ONE, NEG_ZERO, 0
    TD_RM 8, fsub.d, rne, ONE, ONE, 0, 0

    /* Overflow, underflow, exact subnormals. */
    TD_RM 10, fmul.d, rne, DMAX, 0x4000000000000000, DINF, OF|NX
    TD_RM 11, fmul.d, rtz, DMAX, 0x4000000000000000, DMAX, OF|NX
    TD_RM 12, fmul.d, rne, DMIN, 0x3fe0000000000000, 0x0008000000000000, 0
    TD_RM 13, fmul.d, rne, DMIN, DMIN, 0, UF|NX
    TD_RM 14, fmul.d, rup, DMIN, DMIN, 1, UF|NX

    /* Division and square root. */
    TD_RM 20, fdiv.d, rne, ONE, 0, DINF, DZ
    TD_RM 21, fdiv.d, rne, 0, 0, DNAN, NV
    TD_RM 22, fdiv.d, rne, ONE, 0x4008000000000000, 0x3fd5555555555555, NX
    TD_RM 23, fdiv.d, rup, ONE, 0x4008000000000000, 0x3fd5555555555556, NX
    TD1 24, fsqrt.d, rne, 0x4010000000000000, 0x4000000000000000, 0
    TD1 25, fsqrt.d, rne, 0xbff0000000000000, DNAN, NV
    TD1 26, fsqrt.d, rne, 0x4000000000000000, 0x3ff6a09e667f3bcd, NX
    TD1 27, fsqrt.d, rne, NEG_ZERO, NEG_ZERO, 0

    /* Fused multiply-add rounds once; inf * 0 is invalid even with a quiet NaN addend. */
    TD3 30, fmsub.d, rne, 0x3ff0000000400000, 0x3ff0000000400000, 0x3ff0000000800000, 0x3c30000000000000, 0
    TD3 31, fmadd.d, rne, DINF, 0, DNAN, DNAN, NV
    TD3 32, fnmadd.d, rne, 0x4000000000000000, 0x4008000000000000, ONE, 0xc01c000000000000, 0
    TD3 33, fnmsub.d, rne, 0x4000000000000000, 0x4008000000000000, ONE, 0xc014000000000000, 0

    /* fmin/fmax (IEEE 754-2019), sign injection. */
    TD 40, fmin.d, 0, NEG_ZERO, NEG_ZERO, 0
    TD 41, fmax.d, NEG_ZERO, 0, 0, 0
    TD 42, fmin.d, DNAN, ONE, ONE, 0
    TD 43, fmax.d, DSNAN, ONE, ONE, NV
    TD 44, fmax.d, DNAN, DNAN, DNAN, 0
    TD 45, fsgnjn.d, ONE, ONE, 0xbff0000000000000, 0
    TD 46, fsgnjx.d, 0xbff0000000000000, 0xbff0000000000000, ONE, 0

    /* Comparisons: FEQ quiet, FLT/FLE signaling. */
    TCMP_D 50, feq.d, DNAN, ONE, 0, 0
    TCMP_D 51, flt.d, DNAN, ONE, 0, NV
    TCMP_D 52, fle.d, NEG_ZERO, 0, 1, 0
    TCMP_D 53, feq.d, DSNAN, DSNAN, 0, NV
    TCMP_D 54, flt.d, ONE, 0x4000000000000000, 1, 0

    TCLASS_D 55, 0xfff0000000000000, 1
    TCLASS_D 56, NEG_ZERO, 8
    TCLASS_D 57, 1, 0x20
    TCLASS_D 58, DSNAN, 0x100
    TCLASS_D 59, DNAN, 0x200

    /* Float to integer: saturation, NV without NX, rounding modes. */
    TX_D 60, fcvt.w.d, rtz, DNAN, 0x7fffffff, NV
    TX_D 61, fcvt.w.d, rtz, 0xc1e65a0bc0000000, 0xffffffff80000000, NV
    TX_D 62, fcvt.wu.d, rtz, 0xbff0000000000000, 0, NV
    TX_D 63, fcvt.l.d, rne, 0x4004000000000000, 2, NX
    TX_D 64, fcvt.l.d, rmm, 0x4004000000000000, 3, NX
    TX_D 65, fcvt.lu.d, rtz, 0x43f0000000000000, 0xffffffffffffffff, NV
    TX_D 66, fcvt.w.d, rtz, 0xc006000000000000, 0xfffffffffffffffe, NX
    TX_D 67, fcvt.wu.d, rtz, 0x41e65a0bc0000000, 0xffffffffb2d05e00, 0

    /* Integer to float. */
    li gp, 70
    li t0, -1
    fcvt.s.lu ft2, t0, rtz
    CHECK_S 0x5f7fffff
    CHECK_FLAGS NX
    li gp, 71
    fcvt.d.w ft2, t0
    fmv.x.d t1, ft2
    li t2, 0xbff0000000000000
    bne t1, t2, fail
    CHECK_FLAGS 0

    /* Single precision and NaN boxing. */
    TS_RM 80, fadd.s, rne, 0x3f800000, 0x33800000, 0x3f800000, NX
    TS_RM 81, fadd.s, rup, 0x3f800000, 0x33800000, 0x3f800001, NX
    TS_RM 82, fdiv.s, rne, 0x3f800000, 0, 0x7f800000, DZ
    TS3 83, fmadd.s, rne, 0x40000000, 0x40400000, 0x3f800000, 0x40e00000, 0
    li gp, 84
    li t0, ONE
    fmv.d.x ft0, t0              /* a double is not a boxed single */
    fadd.s ft2, ft0, ft0
    CHECK_S 0x7fc00000
    CHECK_FLAGS 0
    li gp, 85
    fmv.x.w a0, ft0              /* transfers ignore boxing: the low 32 bits, sign-extended */
    bnez a0, fail
    li gp, 86
    li t0, 0x3fb999999999999a    /* 0.1 */
    fmv.d.x ft0, t0
    fcvt.s.d ft2, ft0
    CHECK_S 0x3dcccccd
    CHECK_FLAGS NX
    li gp, 87
    fcvt.d.s ft3, ft2
    fcvt.s.d ft4, ft3
    feq.s a0, ft4, ft2
    beqz a0, fail
    CHECK_FLAGS 0

    /* Dynamic rounding mode from frm. */
    li gp, 90
    fsrmi 3
    frrm a0
    li t2, 3
    bne a0, t2, fail
    li t0, ONE
    fmv.d.x ft0, t0
    li t0, TWO_M53
    fmv.d.x ft1, t0
    fadd.d ft2, ft0, ft1, dyn
    fmv.x.d t1, ft2
    li t2, ONE_UP
    bne t1, t2, fail
    frcsr a0                     /* frm = 3, NX */
    li t2, (3 << 5) | NX
    bne a0, t2, fail
    fscsr x0

    /* Loads and stores, including the compressed forms. */
    li gp, 100
    la s0, data
    la sp, stack_top
    c.fld fs0, 0(s0)             /* 1.5 */
    c.fsd fs0, 8(s0)
    ld t1, 8(s0)
    li t2, 0x3ff8000000000000
    bne t1, t2, fail
    li gp, 101
    c.fsdsp fs0, 16(sp)
    c.fldsp fs1, 16(sp)
    feq.d a0, fs0, fs1
    beqz a0, fail
    li gp, 102
    flw ft2, 24(s0)              /* 0x3dcccccd: loads box */
    CHECK_S 0x3dcccccd
    fsw ft2, 28(s0)
    lwu t1, 28(s0)
    li t2, 0x3dcccccd
    bne t1, t2, fail
    li gp, 103
    li t0, 0x123456789abcdef0
    fmv.d.x ft5, t0
    fsw ft5, 32(s0)              /* stores the low 32 bits of an unboxed register as is */
    lwu t1, 32(s0)
    li t2, 0x9abcdef0
    bne t1, t2, fail

    /* Leave a known state for the harness: fa0 = 1.5, fflags = UF|NX (tiny product). */
    fld fa0, 0(s0)
    li t0, 1
    fmv.d.x ft0, t0
    fmul.d ft0, ft0, ft0
    j pass

    EPILOGUE

    .data
    .balign 8
data:
    .dword 0x3ff8000000000000
    .dword 0
    .dword 0
    .word 0x3dcccccd
    .word 0
    .dword 0
    .balign 16
    .space 256
stack_top:
    .space 64
