/* A deliberately wrong expectation: the harness must see check 7 fail. */
#include "macros.h"
    .text
    .globl _start
_start:
    ENABLE_FP
    TD_RM 7, fadd.d, rne, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0
    j pass
    EPILOGUE
