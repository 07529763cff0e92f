/* Subcommands of the `quant` tool. Each returns the process exit status:
 * 0 success, 1 error, 2 usage error. */
#ifndef QUANT_TOOLS_COMMANDS_H
#define QUANT_TOOLS_COMMANDS_H

#define QUANT_EXIT_OK 0
#define QUANT_EXIT_ERROR 1
#define QUANT_EXIT_USAGE 2

int cmd_demo(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_repack(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bench(int argc, char **argv);
/* quant bench matmul, quant bench --bandwidth (cmd_bench_matmul.c) */
int cmd_bench_matmul(int argc, char **argv);
int cmd_bench_bandwidth(int nthreads);

#endif
