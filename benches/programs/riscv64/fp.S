/* FP loop: repeated daxpy y[i] = a*x[i] + y[i] over 512 doubles (fld, fmadd.d, fsd), then
 * the sum of y converted to an integer. With x[i] = i and a = 0.5 every value is exact. */
#include "bench.h"
#ifndef REPS
#define REPS 400
#endif
#define LEN 512
#define X 0x80200000
#define Y (X + 8 * LEN)
    .globl _start
_start:
    li t0, MSTATUS_FS
    csrs mstatus, t0
    /* x[i] = i, y[i] = 0 */
    li t0, X
    li t1, Y
    li t2, 0
    li t3, LEN
1:  fcvt.d.l ft0, t2
    fsd ft0, 0(t0)
    sd zero, 0(t1)
    addi t0, t0, 8
    addi t1, t1, 8
    addi t2, t2, 1
    bne t2, t3, 1b
    li t0, 1
    fcvt.d.l fa0, t0
    li t0, 2
    fcvt.d.l ft1, t0
    fdiv.d fa0, fa0, ft1            /* a = 0.5 */
    li s0, REPS
outer:
    li t0, X
    li t1, Y
    li t2, LEN
inner:
    fld ft0, 0(t0)
    fld ft1, 0(t1)
    fmadd.d ft1, fa0, ft0, ft1
    fsd ft1, 0(t1)
    addi t0, t0, 8
    addi t1, t1, 8
    addi t2, t2, -1
    bnez t2, inner
    addi s0, s0, -1
    bnez s0, outer
    /* a0 = (long) sum(y) */
    fcvt.d.l fa1, zero
    li t1, Y
    li t2, LEN
2:  fld ft1, 0(t1)
    fadd.d fa1, fa1, ft1
    addi t1, t1, 8
    addi t2, t2, -1
    bnez t2, 2b
    fcvt.l.d a0, fa1, rtz
    DONE
