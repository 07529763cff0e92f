/* quant repack: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_repack(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant repack: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
