/* Branchy: a 64-bit LCG decides three data-dependent branches per iteration. */
#include "bench.h"
#ifndef ITERS
#define ITERS 200000
#endif
    .globl _start
_start:
    li t0, ITERS
    li s0, 12345                    /* LCG state */
    li s1, 6364136223846793005
    li s2, 1442695040888963407
    li a0, 0
    li a1, 0
    li t3, 4
loop:
    mul s0, s0, s1
    add s0, s0, s2
    srli t1, s0, 33
    andi t2, t1, 1
    beqz t2, 1f
    addi a0, a0, 1
1:  andi t2, t1, 2
    bnez t2, 2f
    addi a1, a1, 3
2:  andi t2, t1, 12
    bltu t2, t3, 3f
    xor a0, a0, t1
3:  addi t0, t0, -1
    bnez t0, loop
    add a0, a0, a1
    DONE
