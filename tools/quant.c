/* `quant`: one command, many subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "quant.h"
#include "tool_common.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"demo", cmd_demo, "quantize a built-in synthetic model and print a table"},
    {"info", cmd_info, "print a GGUF file's metadata and tensors"},
    {"quantize", cmd_quantize, "quantize a GGUF model (type mixes, imatrix)"},
    {"repack", cmd_repack, "interleave rows for fast CPU kernels, or undo it"},
    {"imatrix", cmd_imatrix, "compute an importance matrix"},
    {"perplexity", cmd_perplexity, "perplexity and KL-divergence of a model"},
    {"generate", cmd_generate, "continue a prompt with a model"},
    {"bench", cmd_bench, "measure codec and kernel speed"},
};

#define SUBCOMMAND_COUNT (sizeof subcommands / sizeof subcommands[0])

static void print_usage(FILE *out) {
    fprintf(out, "usage: quant <command> [options] [arguments]\n\ncommands:\n");
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        fprintf(out, "  %-11s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n'quant <command> --help' describes a command; "
                 "'man quant-<command>' has the details.\n\n" QUANT_HELP_EXIT_STATUS);
}

static int run_command(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return QUANT_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        print_usage(stdout);
        return QUANT_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("quant (libquant) %s\n", lq_version());
        return QUANT_EXIT_OK;
    }
    for (size_t i = 0; i < SUBCOMMAND_COUNT; i++)
        if (strcmp(name, subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "quant: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return QUANT_EXIT_USAGE;
}

int main(int argc, char **argv) {
    /* A closed pipe (quant info ... | head) must stop the command quietly,
     * but only after it removed its temporary files: SIGPIPE waits until
     * tool_output_end. */
    tool_output_begin();
    const int status = run_command(argc, argv);
    return tool_output_end(argc >= 2 ? argv[1] : "", status);
}
