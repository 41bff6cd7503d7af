/* Self-checking test macros for the FP assembly tests. Each check sets gp to its test
 * number first; a mismatch jumps to `fail`, which leaves that number in a0 and stops with
 * WFI. `pass` leaves a0 = 0. */

#define FS_MASK (3 << 13)

.macro ENABLE_FP
    li t0, FS_MASK
    csrs mstatus, t0
.endm

.macro CHECK_FLAGS want
    frflags t1
    li t2, \want
    bne t1, t2, fail
    fsflags x0
.endm

/* Double op with a rounding mode: fd = op(a, b). */
.macro TD_RM num, op, rm, a, b, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    li t0, \b
    fmv.d.x ft1, t0
    \op ft2, ft0, ft1, \rm
    fmv.x.d t1, ft2
    li t2, \want
    bne t1, t2, fail
    CHECK_FLAGS \flags
.endm

/* Double op without a rounding mode (fmin, fmax, fsgnj*). */
.macro TD num, op, a, b, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    li t0, \b
    fmv.d.x ft1, t0
    \op ft2, ft0, ft1
    fmv.x.d t1, ft2
    li t2, \want
    bne t1, t2, fail
    CHECK_FLAGS \flags
.endm

/* Double fused op: fd = op(a, b, c). */
.macro TD3 num, op, rm, a, b, c, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    li t0, \b
    fmv.d.x ft1, t0
    li t0, \c
    fmv.d.x ft3, t0
    \op ft2, ft0, ft1, ft3, \rm
    fmv.x.d t1, ft2
    li t2, \want
    bne t1, t2, fail
    CHECK_FLAGS \flags
.endm

/* Double unary op with a rounding mode (fsqrt.d). */
.macro TD1 num, op, rm, a, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    \op ft2, ft0, \rm
    fmv.x.d t1, ft2
    li t2, \want
    bne t1, t2, fail
    CHECK_FLAGS \flags
.endm

/* Checks that a single result in ft2 is NaN-boxed and equals `want` (32 bits). */
.macro CHECK_S want
    fmv.x.d t1, ft2
    srli t3, t1, 32
    li t2, 0xffffffff
    bne t3, t2, fail
    slli t1, t1, 32
    srli t1, t1, 32
    li t2, \want
    bne t1, t2, fail
.endm

/* Single op with a rounding mode. */
.macro TS_RM num, op, rm, a, b, want, flags
    li gp, \num
    li t0, \a
    fmv.w.x ft0, t0
    li t0, \b
    fmv.w.x ft1, t0
    \op ft2, ft0, ft1, \rm
    CHECK_S \want
    CHECK_FLAGS \flags
.endm

.macro TS3 num, op, rm, a, b, c, want, flags
    li gp, \num
    li t0, \a
    fmv.w.x ft0, t0
    li t0, \b
    fmv.w.x ft1, t0
    li t0, \c
    fmv.w.x ft3, t0
    \op ft2, ft0, ft1, ft3, \rm
    CHECK_S \want
    CHECK_FLAGS \flags
.endm

/* Double source, integer result: a0 = op(a). `rm` may be empty for compares/fclass. */
.macro TX_D num, op, rm, a, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    \op a0, ft0, \rm
    li t2, \want
    bne a0, t2, fail
    CHECK_FLAGS \flags
.endm

/* Double classification: a0 = fclass.d(a). */
.macro TCLASS_D num, a, want
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    fclass.d a0, ft0
    li t2, \want
    bne a0, t2, fail
    CHECK_FLAGS 0
.endm

/* Double compare: a0 = op(a, b). */
.macro TCMP_D num, op, a, b, want, flags
    li gp, \num
    li t0, \a
    fmv.d.x ft0, t0
    li t0, \b
    fmv.d.x ft1, t0
    \op a0, ft0, ft1
    li t2, \want
    bne a0, t2, fail
    CHECK_FLAGS \flags
.endm

.macro EPILOGUE
pass:
    li a0, 0
1:  wfi
    j 1b
fail:
    mv a0, gp
2:  wfi
    j 2b
.endm
