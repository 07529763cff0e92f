/* Code shared by the quant subcommands. */
#ifndef QUANT_TOOLS_COMMON_H
#define QUANT_TOOLS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quant.h"
#include "quant_gguf.h"

/* "quant <command>: message\n" on stderr. */
void tool_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tool_warn(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A usage error: the message, then the command's help, on stderr; returns
 * QUANT_EXIT_USAGE's value (2). */
int tool_usage_error(const char *command, void (*print_help)(FILE *), const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Strict integer parsing: the whole string, within [min, max]. */
bool tool_parse_int(const char *text, long long min, long long max, long long *out);
/* Sizes such as "2G", "500M", "4096" (K/M/G/T are powers of 1024). */
bool tool_parse_size(const char *text, uint64_t *out);
/* Type name lookup (case-insensitive) that prints the valid names on failure. */
int tool_parse_type(const char *command, const char *text);

/* Number of online CPUs (at least 1). */
int tool_cpu_count(void);

/* Run fn(ctx, task) for task in [0, ntasks) on up to nthreads threads
 * (the calling thread included). Tasks are handed out in order; fn must be
 * thread-safe. */
typedef void (*tool_task_fn)(void *ctx, int64_t task);
void tool_parallel_for(int nthreads, int64_t ntasks, tool_task_fn fn, void *ctx);

/* Human-readable byte count ("12.34 MiB"). buf must hold 32 bytes. */
const char *tool_format_bytes(uint64_t bytes, char *buf);

/* Shape as "[4096 x 11008]" (n_dims entries). buf must hold 96 bytes. */
const char *tool_format_shape(const lq_gguf_tensor *t, char *buf);

/* The bytes of tensor t stored as `type` in *bytes, or false after an error
 * message when its shape does not fit the type. */
bool tool_tensor_bytes(const char *command, const lq_gguf_tensor *t, int type,
                       uint64_t *bytes);

/* Declare tensor t in w as `type`; with by_shard in the shard it was read
 * from (a status code). */
int tool_declare_tensor(lq_gguf_writer *w, const lq_gguf_tensor *t, int type, bool by_shard);

/* Monotonic seconds. */
double tool_now(void);

/* n deterministic standard Gaussian values from `seed` (Box-Muller). */
void tool_fill_gaussian(float *x, size_t n, uint64_t seed);

/* ---- standard output ---------------------------------------------------- */

/* A reader that closes its end of the pipe (quant info MODEL | head) has
 * had what it wanted: the command stops quietly, as git and ls do. So that
 * it can first remove its temporary files, SIGPIPE is blocked from the
 * start (tool_output_begin) and a closed pipe shows as a failed write;
 * tool_output_end then lets the pending SIGPIPE end the process (exit
 * status 128 + 13 = 141 in the shell), or, when the parent had SIGPIPE
 * ignored, returns QUANT_EXIT_CLOSED_PIPE (141) without a message. Any other
 * write error (a full disk, an I/O error) is an error with a message and
 * exit status 1. */
void tool_output_begin(void);
/* Flushes standard output: true while it takes what is written. False when
 * a write failed; after a closed pipe without a message, after another
 * error with "quant COMMAND: error: cannot write the output: REASON". Either
 * way the command should stop and return QUANT_EXIT_ERROR. */
bool tool_output_ok(const char *command);
/* The process's exit status once the command returned `status`: flushes
 * standard output and handles its failure as described above (a closed
 * pipe may not return). */
int tool_output_end(const char *command, int status);

/* ---- progress bar -------------------------------------------------------- */

/* A progress bar on standard error, drawn only when that is a terminal (not
 * a "dumb" one), so files and pipes never receive bar characters. While
 * shown, the bar is the terminal's last line: before anything else is
 * printed, tool_progress_clear() erases it ("\r" then "erase to the end of
 * the line", ESC [ K), so that every line starts at column 0 above it, and
 * the next tool_progress_update() draws it again. */
typedef struct tool_progress {
    bool enabled; /* standard error is a terminal */
    bool shown;   /* the bar is on the screen now */
    uint64_t total;
    double start; /* tool_now() at tool_progress_start */
} tool_progress;

void tool_progress_start(tool_progress *p, uint64_t total);
/* Draw the bar at `done` of total units, with the estimated time left. */
void tool_progress_update(tool_progress *p, uint64_t done);
/* Erase the bar if it is shown (a no-op otherwise). */
void tool_progress_clear(tool_progress *p);

#endif
