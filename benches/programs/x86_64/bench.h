/* Conventions of the x86_64 benchmark programs (benches/src/programs.rs runs them).
 * A program starts in 64-bit mode at CPL 0 at 0x10_0000 with interrupts off, the first
 * 32 MiB of RAM identity-mapped in 4 KiB pages (writable, executable) and RSP at STACK_TOP. It
 * does a fixed amount of work, leaves its result in RAX (checked against a Rust model, so a
 * broken emulator cannot pass as a fast one) and stops with HLT. Loop counts may be overridden
 * with -D. The work is the same as the riscv64 programs', so one model serves both. */
#define STACK_TOP 0x80000
/* Data areas: below the 16 MiB of pages the memory program sweeps. */
#define DATA 0x1000000
#define FP_DATA 0x200000

    .intel_syntax noprefix

.macro DONE
    hlt
1:  jmp 1b
.endm
