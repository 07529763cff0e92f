/* quant info: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_info(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant info: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
