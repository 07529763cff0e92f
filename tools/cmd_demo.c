/* quant demo: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant demo: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
