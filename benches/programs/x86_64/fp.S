/* FP loop: repeated daxpy y[i] = a*x[i] + y[i] over 512 doubles (SSE2 scalar: movsd, mulsd,
 * addsd), then the sum of y converted to an integer. With x[i] = i and a = 0.5 every value is
 * exact. */
#include "bench.h"
#ifndef REPS
#define REPS 400
#endif
#define LEN 512
#define X FP_DATA
#define Y (X + 8 * LEN)
    .globl _start
_start:
    /* x[i] = i, y[i] = 0 */
    mov rdi, X
    mov rsi, Y
    xor ecx, ecx
1:  cvtsi2sd xmm0, rcx
    movsd [rdi + rcx * 8], xmm0
    mov qword ptr [rsi + rcx * 8], 0
    inc rcx
    cmp rcx, LEN
    jne 1b
    mov eax, 1
    cvtsi2sd xmm2, rax
    mov eax, 2
    cvtsi2sd xmm3, rax
    divsd xmm2, xmm3                    /* a = 0.5 */
    mov r8, REPS
2:  xor ecx, ecx
3:  movsd xmm0, [rdi + rcx * 8]
    mulsd xmm0, xmm2
    addsd xmm0, [rsi + rcx * 8]
    movsd [rsi + rcx * 8], xmm0
    inc rcx
    cmp rcx, LEN
    jne 3b
    dec r8
    jnz 2b
    /* rax = (long) sum(y) */
    xorpd xmm1, xmm1
    xor ecx, ecx
4:  addsd xmm1, [rsi + rcx * 8]
    inc rcx
    cmp rcx, LEN
    jne 4b
    cvttsd2si rax, xmm1
    DONE
