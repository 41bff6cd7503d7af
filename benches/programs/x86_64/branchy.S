/* Branchy: a 64-bit LCG decides three data-dependent branches per iteration. */
#include "bench.h"
#ifndef ITERS
#define ITERS 200000
#endif
    .globl _start
_start:
    mov rcx, ITERS
    mov r8, 12345                       /* LCG state */
    movabs r9, 6364136223846793005
    movabs r10, 1442695040888963407
    xor eax, eax                        /* a0 */
    xor edx, edx                        /* a1 */
1:  imul r8, r9
    add r8, r10
    mov r11, r8
    shr r11, 33
    test r11, 1
    jz 2f
    inc rax
2:  test r11, 2
    jnz 3f
    add rdx, 3
3:  mov rsi, r11
    and rsi, 12
    cmp rsi, 4
    jb 4f
    xor rax, r11
4:  dec rcx
    jnz 1b
    add rax, rdx
    DONE
