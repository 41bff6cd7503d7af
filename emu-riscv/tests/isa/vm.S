/* Virtual memory: Sv39 and Sv48 walks, page faults with tval = the faulting address,
 * permissions (R/W/X, W without R, reserved PTE bits), U pages from S with and without SUM,
 * S pages from U, MXR, superpages (aligned works, misaligned PPN faults), non-canonical
 * addresses, A/D bits (this hart updates them in hardware: Svadu behaviour, never a fault
 * for A = 0 or D = 0), SFENCE.VMA, MPRV, a page-table walk outside RAM (access fault), a
 * delegated page fault, and satp's WARL mode field. */
#include "macros.h"

#define U_ALIAS 0x40000000      /* root39[3] maps VA 0xc000_0000 to PA 0x8000_0000 with U */
#define FULL (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define NONLEAF PTE_V

/* From M-mode: continue in U-mode at `label`, executing through the U alias. */
.macro ENTER_U label
    li t0, MPP_MASK
    csrc mstatus, t0
    la t0, \label
    li t1, U_ALIAS
    add t0, t0, t1
    csrw mepc, t0
    mret
.endm

.macro SET_SATP mode, root
    la t1, \root
    srli t1, t1, 12
    li t2, (\mode) << 60
    or t1, t1, t2
    csrw satp, t1
    sfence.vma
.endm

    PROLOGUE

    /* Page tables (built in M-mode, bare). */
    PTE_PA root39, 2, 0x80000000, FULL                  /* S: identity gigapage */
    PTE_PA root39, 3, 0x80000000, FULL | PTE_U          /* U: alias at 0xc000_0000 */
    PTE root39, 0, l1, NONLEAF
    PTE_PA root39, 256, 0x80000000, FULL                /* VA 0x40_0000_0000: Sv48 only */
    PTE l1, 0, l0, NONLEAF
    PTE_PA l1, 1, 0x80001000, FULL                      /* misaligned megapage at 0x20_0000 */
    PTE_PA l1, 2, 0x80200000, FULL                      /* megapage 0x40_0000 -> 0x8020_0000 */
    PTE_PA l1, 3, 0x00001000, NONLEAF                   /* next level outside RAM: 0x60_0000 */
    PTE l0, 1, pg_ur, PTE_V | PTE_R | PTE_U | PTE_A
    PTE l0, 2, pg_srw, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    PTE l0, 3, pg_x, PTE_V | PTE_X | PTE_A
    PTE l0, 5, pg_ad, PTE_V | PTE_R | PTE_W             /* A = D = 0 */
    PTE l0, 6, pg_w, PTE_V | PTE_W | PTE_A | PTE_D      /* W without R: reserved */
    PTE l0, 7, pg_urw, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    PTE l0, 8, remap1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    PTE l0, 9, pg_srw, PTE_V | PTE_R | PTE_A | (1 << 60) /* reserved bit 60 */
    PTE l0, 11, pg_code, PTE_V | PTE_R | PTE_X | PTE_A   /* 0xc000 after it is unmapped */
    PTE root48, 0, root39, NONLEAF
    PTE_PA root48, 1, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D          /* terapage at 0x80_0000_0000 */
    PTE_PA root48, 2, 0x80000000, PTE_V | PTE_R | PTE_A                 /* misaligned terapage */

    /* Contents. */
    li t1, 0x1111
    la t2, pg_ur
    sd t1, 0(t2)
    li t1, 0x2222
    la t2, pg_srw
    sd t1, 0(t2)
    li t1, 0x5555
    la t2, pg_ad
    sd t1, 0(t2)
    li t1, 0x7777
    la t2, pg_urw
    sd t1, 0(t2)
    li t1, 0x8881
    la t2, remap1
    sd t1, 0(t2)
    li t1, 0x8882
    la t2, remap2
    sd t1, 0(t2)
    li t1, 0x4444
    li t2, 0x80200010
    sd t1, 0(t2)

    /* satp is WARL: Sv57 (10) and other modes are not taken; Sv39 is. */
    SET_SATP 10, root39
    csrr a0, satp
    CHECK 1, a0, 0
    SET_SATP 8, root39
    csrr a0, satp
    srli a0, a0, 60
    CHECK 2, a0, 8

    /* M-mode ignores satp: still bare. */
    li a1, 0x2000
    EXPECT_TRAP 3, CAUSE_LOAD_ACCESS, ld a0, 0(a1)

    li gp, 4
    jal ra, s_mode_checks

    /* --- MPRV: M-mode loads and stores translate as MPP; fetches do not. */
    li t1, MPP_MASK
    csrc mstatus, t1
    li t1, (1 << 11) | MSTATUS_MPRV     /* MPP = S */
    csrs mstatus, t1
    li a1, 0x2000
    NO_TRAP 60, ld a0, 0(a1)
    CHECK 61, a0, 0x2222
    li a1, 0x1000
    EXPECT_TRAP_TVAL 62, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)   /* U page, SUM = 0 */
    /* The trap set MPP = M and its MRET MPP = U; MPRV stayed on. */
    csrr t1, mstatus
    srli t1, t1, 11
    andi t1, t1, 3
    CHECK 59, t1, 0
    li t1, MSTATUS_SUM | (1 << 11)
    csrs mstatus, t1
    NO_TRAP 63, ld a0, 0(a1)
    CHECK 64, a0, 0x1111
    li t1, MSTATUS_SUM | MPP_MASK
    csrc mstatus, t1                    /* MPP = U */
    li a1, 0x2000
    EXPECT_TRAP_TVAL 65, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)   /* S page from U */
    li a1, 0x7000
    li a0, 0x7778
    NO_TRAP 66, sd a0, 0(a1)
    li t1, MSTATUS_MPRV
    csrc mstatus, t1
    la a1, pg_urw
    ld a0, 0(a1)
    CHECK 67, a0, 0x7778
    /* A trap taken with MPRV set leaves it set; MPRV with MPP = M is bare. */
    li t1, MPP_MASK | MSTATUS_MPRV
    csrs mstatus, t1
    la a1, pg_srw
    NO_TRAP 68, ld a0, 0(a1)
    CHECK 69, a0, 0x2222
    li t1, MSTATUS_MPRV
    csrc mstatus, t1

    /* --- U-mode through the U alias. */
    li gp, 70
    ENTER_U u_mode_checks
u_done:

    /* --- A delegated page fault: stval = the address, to the S handler. */
    li t1, (1 << CAUSE_LOAD_PAGE)
    csrw medeleg, t1
    li gp, 80
    li t0, MPP_MASK
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  li s8, -1
    li s2, -1
    li a1, 0x4008
    la s1, 2f
    ld a0, 0(a1)
    j fail
2:  CHECK 81, s8, CAUSE_LOAD_PAGE
    CHECK 82, s9, 0x4008
    CHECK 83, s2, -1
    TO_M 3f
3:  csrw medeleg, zero

    /* --- Sv48: the same tables one level down, plus what only Sv48 can map. */
    SET_SATP 9, root48
    csrr a0, satp
    srli a0, a0, 60
    CHECK 90, a0, 9
    li gp, 91
    jal ra, s_mode_sv48_checks

    csrw satp, zero
    j pass

/* ------------------------------------------------------------------------------------------
 * S-mode checks under Sv39; entered from M with ra = the return address (in M).
 */
s_mode_checks:
    mv s0, ra
    li t0, MPP_MASK
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:
    /* Plain loads and stores; faults on an invalid PTE with tval = the address. */
    li a1, 0x2000
    NO_TRAP 10, ld a0, 0(a1)
    CHECK 11, a0, 0x2222
    li a0, 0x2223
    NO_TRAP 12, sd a0, 8(a1)
    la a2, pg_srw
    ld a0, 8(a2)                /* the identity map reaches the same page */
    CHECK 13, a0, 0x2223
    li a1, 0x4010
    EXPECT_TRAP_TVAL 14, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    EXPECT_TRAP_TVAL 15, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    EXPECT_TRAP_TVAL 16, CAUSE_FETCH_PAGE, a1, jalr ra, 0(a1)
    CHECKR 17, s4, a1           /* mepc = the target */
    /* Misaligned accesses whose second half faults (0x3000 is execute-only) report an
     * address in the faulting page; the store writes nothing. */
    li a1, 0x2ffc
    li a3, 0x3000
    EXPECT_TRAP 18, CAUSE_LOAD_PAGE, ld a0, 0(a1)
    li gp, 19
    bltu s3, a3, fail
    li a0, -1
    EXPECT_TRAP 26, CAUSE_STORE_PAGE, sd a0, 0(a1)
    li gp, 27
    bltu s3, a3, fail
    lwu a0, 0(a1)
    CHECK 28, a0, 0

    /* U page from S: faults without SUM, loads/stores with SUM, never executes. */
    li a1, 0x1000
    EXPECT_TRAP_TVAL 20, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li t1, MSTATUS_SUM
    csrs sstatus, t1
    NO_TRAP 21, ld a0, 0(a1)
    CHECK 22, a0, 0x1111
    EXPECT_TRAP_TVAL 23, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)  /* not writable */
    li a1, 0x7000
    NO_TRAP 24, sd a0, 8(a1)
    la a1, 1f
    li t1, U_ALIAS
    add a1, a1, t1
    EXPECT_TRAP_TVAL 25, CAUSE_FETCH_PAGE, a1, jalr ra, 0(a1)
1:  li t1, MSTATUS_SUM
    csrc sstatus, t1

    /* Execute-only page: fetch works; loads fault unless MXR; stores always fault. */
    li a1, 0x3000
    li gp, 30
    jalr ra, 0(a1)              /* pg_x holds a RET */
    EXPECT_TRAP_TVAL 31, CAUSE_LOAD_PAGE, a1, lw a0, 0(a1)
    li t1, MSTATUS_MXR
    csrs sstatus, t1
    NO_TRAP 32, lw a0, 0(a1)
    CHECK 33, a0, 0x8082           /* c.ret */
    EXPECT_TRAP_TVAL 34, CAUSE_STORE_PAGE, a1, sw a0, 0(a1)
    li t1, MSTATUS_MXR
    csrc sstatus, t1
    li a1, 0x2000
    EXPECT_TRAP_TVAL 35, CAUSE_FETCH_PAGE, a1, jalr ra, 0(a1)  /* not executable */

    /* Reserved encodings: W without R, reserved bits 63:54. */
    li a1, 0x6000
    EXPECT_TRAP_TVAL 36, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    EXPECT_TRAP_TVAL 37, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, 0x9000
    EXPECT_TRAP_TVAL 38, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)

    /* Superpages: aligned works, misaligned PPN faults; non-canonical addresses fault. */
    li a1, 0x400010
    NO_TRAP 40, ld a0, 0(a1)
    CHECK 41, a0, 0x4444
    li a1, 0x200008
    EXPECT_TRAP_TVAL 42, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0x4000000000         /* bit 38 set, 63:39 clear */
    EXPECT_TRAP_TVAL 43, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0x600000             /* its level-0 table is outside RAM */
    EXPECT_TRAP_TVAL 44, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    EXPECT_TRAP_TVAL 45, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)

    /* A and D: set by the hart on first access / first store, no fault. */
    la a2, l0
    ld a3, 5*8(a2)
    andi a3, a3, PTE_A | PTE_D
    CHECK 46, a3, 0
    li a1, 0x5000
    NO_TRAP 47, ld a0, 0(a1)
    CHECK 48, a0, 0x5555
    ld a3, 5*8(a2)
    andi a3, a3, PTE_A | PTE_D
    CHECK 49, a3, PTE_A
    NO_TRAP 50, sd a0, 8(a1)
    ld a3, 5*8(a2)
    andi a3, a3, PTE_A | PTE_D
    CHECK 51, a3, PTE_A | PTE_D

    /* SFENCE.VMA makes a changed PTE take effect. */
    li a1, 0x8000
    ld a0, 0(a1)
    CHECK 52, a0, 0x8881
    PTE l0, 8, remap2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sfence.vma
    ld a0, 0(a1)
    CHECK 53, a0, 0x8882
    li t1, 0x8000
    sfence.vma t1, zero         /* the one-address form */
    PTE l0, 8, remap1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sfence.vma t1, zero
    ld a0, 0(a1)
    CHECK 54, a0, 0x8881

    /* Atomics need write permission (a store page fault, even for a failing SC); LR needs
     * read permission. */
    li t1, MSTATUS_SUM
    csrs sstatus, t1
    li a1, 0x1000               /* U, read-only */
    EXPECT_TRAP_TVAL 55, CAUSE_STORE_PAGE, a1, amoadd.d a0, a0, (a1)
    EXPECT_TRAP_TVAL 56, CAUSE_STORE_PAGE, a1, sc.d a0, a0, (a1)
    NO_TRAP 57, lr.d a0, (a1)
    CHECK 58, a0, 0x1111
    li t1, MSTATUS_SUM
    csrc sstatus, t1
    li a1, 0x3000               /* execute-only */
    EXPECT_TRAP_TVAL 59, CAUSE_LOAD_PAGE, a1, lr.w a0, (a1)

    /* Fetch across a page boundary into an unmapped page: mepc = the instruction,
     * tval = the start of the page that faulted. */
    li a1, 0xbffc               /* c.nop, then the first half of a 4-byte instruction */
    li a2, 0xc000
    EXPECT_TRAP_TVAL 65, CAUSE_FETCH_PAGE, a2, jalr ra, 0(a1)
    li a1, 0xbffe
    CHECKR 66, s4, a1
    li a1, 0xbff8               /* three c.nops run, then the same straddling fetch */
    la s1, 1f
    jalr ra, 0(a1)
    j fail
1:  CHECK 67, s2, CAUSE_FETCH_PAGE
    CHECK 68, s3, 0xc000
    CHECK 69, s4, 0xbffe

    mv ra, s0
    TO_M 1f
1:  ret

/* ------------------------------------------------------------------------------------------
 * U-mode checks, running at the U alias; return to M at u_done.
 */
u_mode_checks:
    li a1, 0x1000
    NO_TRAP 71, ld a0, 0(a1)
    CHECK 72, a0, 0x1111
    EXPECT_TRAP_TVAL 73, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, 0x2000
    EXPECT_TRAP_TVAL 74, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0x7000
    NO_TRAP 75, ld a0, 8(a1)
    CHECK 76, a0, 0x1111        /* stored by S with SUM (check 24) */
    la a1, 1f
    li t1, U_ALIAS
    sub a1, a1, t1              /* the same code through the S-only identity map */
    EXPECT_TRAP_TVAL 77, CAUSE_FETCH_PAGE, a1, jalr ra, 0(a1)
1:  TO_M u_done

/* ------------------------------------------------------------------------------------------
 * S-mode checks under Sv48.
 */
s_mode_sv48_checks:
    mv s0, ra
    li t0, MPP_MASK
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, 1f
    csrw mepc, t0
    mret
1:  li a1, 0x2000
    NO_TRAP 92, ld a0, 0(a1)
    CHECK 93, a0, 0x2222
    li a1, 0x4000
    EXPECT_TRAP_TVAL 94, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0x400010
    NO_TRAP 95, ld a0, 0(a1)
    CHECK 96, a0, 0x4444
    /* Canonical in Sv48 (not in Sv39): VA 0x40_0000_0000 maps PA 0x8000_0000. */
    la a2, pg_srw
    li t1, 0x4000000000 - 0x80000000
    add a1, a2, t1
    NO_TRAP 97, ld a0, 0(a1)
    CHECK 98, a0, 0x2222
    /* A terapage: VA 0x80_0000_0000 + x -> PA x. */
    li t1, 0x8000000000
    add a1, a2, t1
    NO_TRAP 99, ld a0, 0(a1)
    CHECK 100, a0, 0x2222
    /* A misaligned terapage and a non-canonical address fault. */
    li a1, 0x10000000000
    EXPECT_TRAP_TVAL 101, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0x800000000000       /* bit 47 set, 63:48 clear */
    EXPECT_TRAP_TVAL 102, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 0xffff800000000000   /* canonical, but root48[256] is invalid */
    EXPECT_TRAP_TVAL 103, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    mv ra, s0
    TO_M 2f
2:  ret

    EPILOGUE

    .data
    .align 12
root39: .space 4096
l1:     .space 4096
l0:     .space 4096
root48: .space 4096
pg_ur:  .space 4096
pg_srw: .space 4096
pg_x:   ret
    .align 12
pg_ad:  .space 4096
pg_w:   .space 4096
pg_urw: .space 4096
remap1: .space 4096
remap2: .space 4096
pg_code:
    .space 4096 - 8
    .option norvc
    .half 0x0001, 0x0001        /* c.nop, c.nop */
    .half 0x0001                /* c.nop */
    .half 0x0513                /* the low half of addi a0, zero, ... */
