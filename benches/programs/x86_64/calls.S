/* Calls and returns: naive recursive Fibonacci, pushes and pops around every call. */
#include "bench.h"
#ifndef N
#define N 24
#endif
    .globl _start
_start:
    mov rsp, STACK_TOP
    mov rdi, N
    call fib
    DONE

/* rax = fib(rdi) */
fib:
    cmp rdi, 2
    jae 1f
    mov rax, rdi
    ret
1:  push rdi
    dec rdi
    call fib
    pop rdi
    push rax
    sub rdi, 2
    call fib
    pop rcx
    add rax, rcx
    ret
