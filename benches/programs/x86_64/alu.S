/* ALU-bound: integer add/xor/rotate/imul/sub/compare in a tight loop, no memory traffic. */
#include "bench.h"
#ifndef ITERS
#define ITERS 200000
#endif
    .globl _start
_start:
    mov rcx, ITERS
    mov rax, 1                          /* a0 */
    movabs rbx, 0x9e3779b97f4a7c15      /* a1 */
    xor edx, edx                        /* a2 */
1:  add rdx, rax
    xor rax, rbx
    rol rax, 13
    mov rsi, rax
    imul rsi, rbx
    add rdx, rsi
    sub rbx, rdx
    cmp rbx, rdx                        /* CF = a1 < a2 */
    adc rax, 0
    dec rcx
    jnz 1b
    mov rax, rdx
    DONE
