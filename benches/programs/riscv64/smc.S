/* Self-modifying code: every iteration rewrites the immediate of an `addi a0, a0, imm` in
 * place, runs FENCE.I and calls it, so each call executes freshly written code (the decoded
 * instruction cache must be invalidated by the store). */
#include "bench.h"
#ifndef ITERS
#define ITERS 100000
#endif
#define ADDI_A0_A0 0x00050513          /* addi a0, a0, 0 */
    .globl _start
_start:
    li a0, 0
    li s0, 1
    li s1, ITERS + 1
    li s2, ADDI_A0_A0
    la s3, patch
loop:
    andi t0, s0, 0x7ff
    slli t0, t0, 20
    or t0, t0, s2
    sw t0, 0(s3)
    fence.i
    jalr ra, 0(s3)
    addi s0, s0, 1
    bne s0, s1, loop
    DONE

    .option push
    .option norvc
    .balign 4
patch:
    .word ADDI_A0_A0
    ret
    .option pop
