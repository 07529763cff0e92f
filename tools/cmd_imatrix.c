/* quant imatrix: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_imatrix(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant imatrix: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
