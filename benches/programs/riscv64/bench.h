/* Conventions of the benchmark programs (benches/src/programs.rs runs them).
 * A program starts in M-mode at 0x8000_0000 with 16 MiB of RAM, does a fixed amount of work,
 * leaves its result in a0 (checked against a Rust model, so a broken emulator cannot pass as a
 * fast one) and stops in WFI. Loop counts may be overridden with -D. */
#define RAM_TOP 0x81000000
#define STACK_TOP 0x80100000
#define MSTATUS_FS (3 << 13)
#define MPP_MASK (3 << 11)
#define MPP_S (1 << 11)

.macro DONE
    wfi
1:  j 1b
.endm
