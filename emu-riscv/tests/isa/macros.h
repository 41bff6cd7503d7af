/* Conventions of the ISA test programs (run by tests/isa.rs).
 *
 * gp   the number of the check under way; a mismatch jumps to `fail`, which reports it
 * t5   the value a check got, t6 the value it wanted (shown by the harness on failure)
 * t0   scratch, clobbered by the trap handlers
 * s1   where the trap handlers resume: the M handler returns there in the mode that trapped
 *      (plain M-mode when a7 = TO_M_MAGIC), the S handler in the mode that trapped
 * s2-s5 the M handler's record: mcause, mtval, mepc, mstatus at the trap; s6 counts traps
 * s8-s11 the S handler's record: scause, stval, sepc, sstatus; s7 counts traps
 * An interrupt also clears its enable bit in mie (sie), so the source need not be silenced
 * before the handler returns.
 * A program ends by writing 0 (pass) or gp (fail) to the harness's tohost word, from M-mode.
 */

#define TOHOST 0x10000000
#define TO_M_MAGIC 0x4d
#define MPP_MASK (3 << 11)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SIE (1 << 1)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)

#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15
#define INTR (1 << 63)

/* PTE bits */
#define PTE_V 0x01
#define PTE_R 0x02
#define PTE_W 0x04
#define PTE_X 0x08
#define PTE_U 0x10
#define PTE_G 0x20
#define PTE_A 0x40
#define PTE_D 0x80

/* reg == want (an immediate) */
.macro CHECK num, reg, want
    li gp, \num
    mv t5, \reg
    li t6, \want
    bne t5, t6, fail
.endm

/* reg == other register */
.macro CHECKR num, reg, other
    li gp, \num
    mv t5, \reg
    mv t6, \other
    bne t5, t6, fail
.endm

/* Runs `insn` expecting a trap to the M handler with mcause `cause`; continues after it. */
.macro EXPECT_TRAP num, cause, insn:vararg
    li gp, \num
    li s2, -1
    la s1, 8f
    \insn
    j fail
8:  mv t5, s2
    li t6, \cause
    bne t5, t6, fail
.endm

/* Same, and the trap value must be `tval` (a register). */
.macro EXPECT_TRAP_TVAL num, cause, tval, insn:vararg
    EXPECT_TRAP \num, \cause, \insn
    mv t5, s3
    mv t6, \tval
    bne t5, t6, fail
.endm

/* Runs `insn` expecting no trap. */
.macro NO_TRAP num, insn:vararg
    li gp, \num
    la s1, fail
    \insn
.endm

/* From M-mode: continue at `label` in privilege `mode` (0 = U, 1 = S, 3 = M). */
.macro ENTER_MODE mode, label
    li t0, MPP_MASK
    csrc mstatus, t0
    li t0, (\mode << 11)
    csrs mstatus, t0
    la t0, \label
    csrw mepc, t0
    mret
.endm

/* From any mode: continue at `label` in M-mode (through ECALL; the S handler passes it on). */
.macro TO_M label
    la s1, \label
    li a7, TO_M_MAGIC
    ecall
.endm

/* table[index] = a PTE for the page at `target` (a symbol) with `flags`. */
.macro PTE table, index, target, flags
    la t0, \target
    srli t0, t0, 12
    slli t0, t0, 10
    li t1, \flags
    or t0, t0, t1
    la t1, \table
    li t2, (\index) * 8
    add t1, t1, t2
    sd t0, 0(t1)
.endm

/* table[index] = a PTE for physical address `pa` (an immediate) with `flags`. */
.macro PTE_PA table, index, pa, flags
    li t0, ((\pa) >> 12) << 10 | (\flags)
    la t1, \table
    li t2, (\index) * 8
    add t1, t1, t2
    sd t0, 0(t1)
.endm

/* The handlers, pass and fail. Place once, after the tests. */
.macro EPILOGUE
    .align 6
mtrap:
    csrr s2, mcause
    csrr s3, mtval
    csrr s4, mepc
    csrr s5, mstatus
    addi s6, s6, 1
    bgez s2, 1f
    li t0, 1
    sll t0, t0, s2
    csrc mie, t0
1:  li t0, TO_M_MAGIC
    bne a7, t0, 2f
    /* TO_M: plain M-mode (MPRV off) at the physical address (bit 30 clears the U alias). */
    li a7, 0
    li t0, MPP_MASK
    csrs mstatus, t0
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    li t0, 1 << 30
    not t0, t0
    and s1, s1, t0
2:  csrw mepc, s1
    mret

    .align 6
strap:
    csrr s8, scause
    csrr s9, stval
    csrr s10, sepc
    csrr s11, sstatus
    addi s7, s7, 1
    bgez s8, 1f
    li t0, 1
    sll t0, t0, s8
    csrc sie, t0
1:  li t0, TO_M_MAGIC
    bne a7, t0, 2f
    ecall
2:  csrw sepc, s1
    sret

pass:
    li gp, 0
fail:
    la s1, report
    li a7, TO_M_MAGIC
    ecall
report:
    li t0, TOHOST
    sw gp, 0(t0)
3:  j 3b
.endm

/* Every program starts here: handlers installed, M-mode, nothing delegated. */
.macro PROLOGUE
    .text
    .option nopic               /* la is pc-relative: no GOT loads (they would translate under MPRV) */
    .globl _start
_start:
    la t0, mtrap
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li s6, 0
    li s7, 0
    li a7, 0
.endm
