/* Memory-bound under paging: a load-add-store at the start of each of PAGES consecutive 4 KiB
 * pages from DATA, REPS times over. The emulator's TLB is direct-mapped with 1024 entries per
 * access kind: PAGES=64 hits every time after the first pass, PAGES=2048 puts 2 pages on every
 * entry, which a sweep alternates between: it misses (a page walk) on every access.
 * rax = the sum of every value read; page j is read as 0, 1, ..., REPS-1. */
#include "bench.h"
#ifndef PAGES
#define PAGES 64
#endif
#ifndef REPS
#define REPS 4096
#endif
    .globl _start
_start:
    /* Zero each page's first word (RAM starts zeroed; this keeps reruns honest). */
    mov rdi, DATA
    mov rcx, PAGES
1:  mov qword ptr [rdi], 0
    add rdi, 4096
    dec rcx
    jnz 1b
    xor eax, eax
    mov r8, REPS
2:  mov rdi, DATA
    mov rcx, PAGES
3:  mov rdx, [rdi]
    add rax, rdx
    inc rdx
    mov [rdi], rdx
    add rdi, 4096
    dec rcx
    jnz 3b
    dec r8
    jnz 2b
    DONE
