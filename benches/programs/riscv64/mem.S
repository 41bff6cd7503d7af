/* Memory-bound under paging: S-mode with Sv39 on, a load-add-store at the start of each of
 * PAGES consecutive 4 KiB pages, REPS times over. The emulator's TLB is direct-mapped with
 * 1024 entries per access kind: PAGES=64 hits every time after the first pass, PAGES=2048 puts
 * 2 pages on every entry, which a sweep alternates between: it misses (a page-table walk) on
 * every access.
 * a0 = the sum of every value read; page j is read as 0, 1, ..., REPS-1. */
#include "bench.h"
#ifndef PAGES
#define PAGES 64
#endif
#ifndef REPS
#define REPS 4096
#endif
#define PT_ROOT 0x80100000
#define PT_L1 0x80101000
#define PT_L0 0x80102000            /* four level-0 tables: up to 2048 pages */
#define DATA_PA 0x80400000
#define DATA_VA 0x40000000
#define LEAF 0xcf                   /* V R W X A D */
#define DATA_LEAF 0xc7              /* V R W A D */
    .globl _start
_start:
    /* Zero the six page-table pages (RAM starts zeroed; this keeps reruns honest). */
    li t0, PT_ROOT
    li t1, PT_ROOT + 6 * 4096
1:  sd zero, 0(t0)
    addi t0, t0, 8
    bltu t0, t1, 1b
    /* root[2]: identity gigapage over RAM (code, stack, page tables); root[1] -> L1. */
    li t0, PT_ROOT
    li t1, ((0x80000000 >> 12) << 10) | LEAF
    sd t1, 16(t0)
    li t1, ((PT_L1 >> 12) << 10) | 1
    sd t1, 8(t0)
    /* L1[0..4] -> the level-0 tables. */
    li t0, PT_L1
    li t1, PT_L0
    li t2, 4
    li t4, 4096
2:  srli t3, t1, 12
    slli t3, t3, 10
    ori t3, t3, 1
    sd t3, 0(t0)
    addi t0, t0, 8
    add t1, t1, t4
    addi t2, t2, -1
    bnez t2, 2b
    /* 2048 data pages: DATA_VA + i*4096 -> DATA_PA + i*4096. Zero each page's first word. */
    li t0, PT_L0
    li t1, DATA_PA >> 12
    li t2, 2048
3:  slli t3, t1, 10
    ori t3, t3, DATA_LEAF
    sd t3, 0(t0)
    slli t5, t1, 12
    sd zero, 0(t5)
    addi t0, t0, 8
    addi t1, t1, 1
    addi t2, t2, -1
    bnez t2, 3b
    li t0, (8 << 60) | (PT_ROOT >> 12)
    csrw satp, t0
    sfence.vma
    /* Drop to S-mode. */
    li t0, MPP_MASK
    csrc mstatus, t0
    li t0, MPP_S
    csrs mstatus, t0
    la t0, s_main
    csrw mepc, t0
    mret

s_main:
    li s0, REPS
    li a0, 0
    li t3, 4096
outer:
    li t0, DATA_VA
    li t1, PAGES
inner:
    ld t2, 0(t0)
    add a0, a0, t2
    addi t2, t2, 1
    sd t2, 0(t0)
    add t0, t0, t3
    addi t1, t1, -1
    bnez t1, inner
    addi s0, s0, -1
    bnez s0, outer
    DONE
