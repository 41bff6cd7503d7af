/* Calls and returns: naive recursive Fibonacci, one stack frame per call. */
#include "bench.h"
#ifndef N
#define N 24
#endif
    .globl _start
_start:
    li sp, STACK_TOP
    li a0, N
    call fib
    DONE

/* a0 = fib(a0) */
fib:
    li t0, 2
    bltu a0, t0, 1f
    addi sp, sp, -16
    sd ra, 8(sp)
    sd a0, 0(sp)
    addi a0, a0, -1
    call fib
    ld t1, 0(sp)
    sd a0, 0(sp)
    addi a0, t1, -2
    call fib
    ld t1, 0(sp)
    add a0, a0, t1
    ld ra, 8(sp)
    addi sp, sp, 16
1:  ret
