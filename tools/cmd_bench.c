/* quant bench: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant bench: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
