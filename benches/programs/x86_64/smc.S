/* Self-modifying code: every iteration rewrites the immediate of an `add rax, imm32` in place
 * and calls it, so each call executes freshly written code (x86 needs no fence: the decoded
 * instruction cache must notice the store). */
#include "bench.h"
#ifndef ITERS
#define ITERS 100000
#endif
    .globl _start
_start:
    xor eax, eax
    mov rbx, 1
    mov r12, ITERS + 1
    lea r13, [rip + patch]
1:  mov rcx, rbx
    and ecx, 0x7ff
    mov dword ptr [r13 + 2], ecx
    call r13
    inc rbx
    cmp rbx, r12
    jne 1b
    DONE

patch:
    .byte 0x48, 0x05                    /* add rax, imm32 */
    .long 0
    ret
