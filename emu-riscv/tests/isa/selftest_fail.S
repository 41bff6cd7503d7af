/* A deliberately wrong expectation: the harness must see check 3 fail. */
#include "macros.h"
    PROLOGUE
    li a0, 5
    CHECK 1, a0, 5
    addi a0, a0, 1
    CHECK 3, a0, 5
    j pass
    EPILOGUE
