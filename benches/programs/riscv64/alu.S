/* ALU-bound: integer add/xor/shift/or/mul/sub/sltu in a tight loop, no memory traffic. */
#include "bench.h"
#ifndef ITERS
#define ITERS 200000
#endif
    .globl _start
_start:
    li t0, ITERS
    li a0, 1
    li a1, 0x9e3779b97f4a7c15
    li a2, 0
loop:
    add a2, a2, a0
    xor a0, a0, a1
    slli a3, a0, 13
    srli a4, a0, 51
    or a0, a3, a4
    mul a5, a0, a1
    add a2, a2, a5
    sub a1, a1, a2
    sltu a6, a1, a2
    add a0, a0, a6
    addi t0, t0, -1
    bnez t0, loop
    mv a0, a2
    DONE
