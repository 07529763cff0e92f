/* Subcommands of the `quant` tool. Each returns the process exit status:
 * 0 success, 1 error, 2 usage error; main() turns a closed standard output
 * into a quiet stop (tool_output_end). */
#ifndef QUANT_TOOLS_COMMANDS_H
#define QUANT_TOOLS_COMMANDS_H

#define QUANT_EXIT_OK 0
#define QUANT_EXIT_ERROR 1
#define QUANT_EXIT_USAGE 2
/* Standard output's reader closed the pipe while SIGPIPE was ignored (with
 * SIGPIPE at its default the process dies of it instead, which shells also
 * report as 141): see tool_output_end. */
#define QUANT_EXIT_CLOSED_PIPE 141

/* The end of every --help (the manual pages say the same). */
#define QUANT_HELP_EXIT_STATUS                                                    \
    "exit status: 0 success, 1 error, 2 usage error. A closed output pipe\n"      \
    "(quant ... | head) is not an error: the command stops quietly and dies of\n" \
    "SIGPIPE (shell status 141), or exits with 141 if SIGPIPE is ignored; any\n"  \
    "other failure to write standard output (a full disk) is an error (1).\n"

int cmd_demo(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_repack(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* quant bench matmul, quant bench --bandwidth (cmd_bench_matmul.c) */
int cmd_bench_matmul(int argc, char **argv);
int cmd_bench_bandwidth(int nthreads);
/* quant bench model (cmd_bench_model.c) */
int cmd_bench_model(int argc, char **argv);

#endif
