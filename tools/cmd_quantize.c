/* quant quantize: not implemented yet. */
#include <stdio.h>

#include "commands.h"

int cmd_quantize(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "quant quantize: not implemented yet\n");
    return QUANT_EXIT_ERROR;
}
