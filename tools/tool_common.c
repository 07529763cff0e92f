/* Code shared by the quant subcommands. */
#include "tool_common.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

static void vreport(const char *command, const char *kind, const char *fmt, va_list ap) {
    fflush(stdout);
    fprintf(stderr, "quant %s: %s", command, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void tool_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(command, "error: ", fmt, ap);
    va_end(ap);
}

void tool_warn(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(command, "warning: ", fmt, ap);
    va_end(ap);
}

int tool_usage_error(const char *command, void (*print_help)(FILE *), const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(command, "error: ", fmt, ap);
    va_end(ap);
    print_help(stderr);
    return 2;
}

bool tool_parse_int(const char *text, long long min, long long max, long long *out) {
    if (!text || !*text)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool tool_parse_size(const char *text, uint64_t *out) {
    if (!text || !*text)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || v <= 0)
        return false;
    double scale = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': scale = 1024.0; end++; break;
    case 'm': case 'M': scale = 1024.0 * 1024; end++; break;
    case 'g': case 'G': scale = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': scale = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: return false;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v * scale > 1.8e19)
        return false;
    *out = (uint64_t)(v * scale);
    return *out > 0;
}

int tool_parse_type(const char *command, const char *text) {
    int type = lq_type_from_name(text);
    if (type >= 0)
        return type;
    tool_error(command, "unknown type '%s'; valid types:", text);
    int column = 0;
    for (int i = 0; i < lq_type_count(); i++) {
        const lq_type_info *info = lq_type_at(i);
        if (!(lq_type_caps(info->type) & LQ_CAP_ENCODE))
            continue;
        column += fprintf(stderr, "%s%s", column ? " " : "  ", info->name);
        if (column > 70) {
            fputc('\n', stderr);
            column = 0;
        }
    }
    if (column)
        fputc('\n', stderr);
    return -1;
}

int tool_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

typedef struct parallel_job {
    tool_task_fn fn;
    void *ctx;
    int64_t ntasks;
    atomic_llong next;
} parallel_job;

static void *parallel_worker(void *arg) {
    parallel_job *job = arg;
    for (;;) {
        int64_t task = atomic_fetch_add(&job->next, 1);
        if (task >= job->ntasks)
            break;
        job->fn(job->ctx, task);
    }
    return NULL;
}

void tool_parallel_for(int nthreads, int64_t ntasks, tool_task_fn fn, void *ctx) {
    parallel_job job = {fn, ctx, ntasks, 0};
    if (nthreads > ntasks)
        nthreads = (int)(ntasks > 0 ? ntasks : 1);
    if (nthreads < 1)
        nthreads = 1;
    pthread_t *threads = NULL;
    int started = 0;
    if (nthreads > 1) {
        threads = malloc(sizeof(pthread_t) * (size_t)(nthreads - 1));
        for (int t = 0; threads && t < nthreads - 1; t++)
            if (pthread_create(&threads[t], NULL, parallel_worker, &job) == 0)
                started++;
    }
    parallel_worker(&job); /* the caller works too; fewer threads is fine */
    for (int t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
}

const char *tool_format_bytes(uint64_t bytes, char *buf) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, 32, u ? "%.2f %s" : "%.0f %s", v, units[u]);
    return buf;
}

const char *tool_format_shape(const lq_gguf_tensor *t, char *buf) {
    int len = snprintf(buf, 96, "[");
    for (int d = 0; d < t->n_dims && len < 80; d++)
        len += snprintf(buf + len, (size_t)(96 - len), "%s%lld", d ? " x " : "",
                        (long long)t->ne[d]);
    snprintf(buf + len, (size_t)(96 - len), "]");
    return buf;
}

bool tool_tensor_bytes(const char *command, const lq_gguf_tensor *t, int type,
                       uint64_t *bytes) {
    int64_t size = lq_tensor_size(type, lq_gguf_tensor_rows(t), t->ne[0]);
    if (size < 0) {
        tool_error(command, "tensor '%s': %s", t->name, lq_error_message((int)size));
        return false;
    }
    *bytes = (uint64_t)size;
    return true;
}

int tool_declare_tensor(lq_gguf_writer *w, const lq_gguf_tensor *t, int type, bool by_shard) {
    int64_t index = lq_gguf_writer_add_tensor(w, t->name, type, t->n_dims, t->ne);
    if (index < 0)
        return (int)index;
    return by_shard ? lq_gguf_writer_set_tensor_shard(w, index, t->shard) : LQ_OK;
}

double tool_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tool_fill_gaussian(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i += 2) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((double)(seed >> 11) + 1) * 0x1p-53;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (double)(seed >> 11) * 0x1p-53, r = sqrt(-2 * log(u1));
        x[i] = (float)(r * cos(2 * M_PI * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
}

/* ---- standard output ---------------------------------------------------- */

void tool_output_begin(void) {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
}

typedef enum output_state { OUTPUT_FINE, OUTPUT_CLOSED, OUTPUT_FAILED } output_state;

/* A pipe whose reader is gone polls as POLLERR at its write end (a socket
 * shut down or a hung-up terminal as POLLHUP); files and devices never do.
 * Asked after a failed write, this tells a closed pipe from a full disk
 * even when stdio reported the failure long after errno was overwritten. */
static bool reader_gone(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

/* Flushes stdout; *error_number gets the failed flush's errno (0 when the
 * failure happened in an earlier write and was only recorded). */
static output_state flush_stdout(int *error_number) {
    errno = 0;
    const int flushed = fflush(stdout);
    const int flush_errno = errno;
    *error_number = 0;
    if (flushed == 0 && !ferror(stdout))
        return OUTPUT_FINE;
    if ((flushed != 0 && flush_errno == EPIPE) || reader_gone(STDOUT_FILENO))
        return OUTPUT_CLOSED;
    *error_number = flushed != 0 ? flush_errno : 0;
    return OUTPUT_FAILED;
}

static void report_write_error(const char *command, int error_number) {
    if (error_number)
        tool_error(command, "cannot write the output: %s", strerror(error_number));
    else
        tool_error(command, "cannot write the output");
}

bool tool_output_ok(const char *command) {
    int error_number;
    switch (flush_stdout(&error_number)) {
    case OUTPUT_FINE:
        return true;
    case OUTPUT_CLOSED:
        return false; /* the error flag stays: tool_output_end sees it too */
    case OUTPUT_FAILED:
        report_write_error(command, error_number);
        /* reported once: tool_output_end must not say it again */
        clearerr(stdout);
        return false;
    }
    return false;
}

/* The write that met the closed pipe left a SIGPIPE pending (blocked since
 * tool_output_begin): unblocking delivers it, and the process ends as if
 * nothing had been blocked. Only if the parent had it ignored do we get
 * past this, to exit quietly. */
static int stop_for_closed_pipe(void) {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
        raise(SIGPIPE); /* when the pending signal went to another thread */
    return QUANT_EXIT_CLOSED_PIPE;
}

int tool_output_end(const char *command, int status) {
    int error_number;
    switch (flush_stdout(&error_number)) {
    case OUTPUT_FINE:
        return status;
    case OUTPUT_CLOSED:
        return stop_for_closed_pipe();
    case OUTPUT_FAILED:
        report_write_error(command, error_number);
        return QUANT_EXIT_ERROR;
    }
    return status;
}

/* ---- progress bar -------------------------------------------------------- */

#define PROGRESS_WIDTH 30
/* Carriage return, then ESC [ K: erase from the cursor to the end of line. */
#define ERASE_LINE "\r\033[K"

void tool_progress_start(tool_progress *p, uint64_t total) {
    const char *term = getenv("TERM");
    *p = (tool_progress){.enabled = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0),
                         .total = total, .start = tool_now()};
}

void tool_progress_update(tool_progress *p, uint64_t done) {
    if (!p->enabled)
        return;
    const double fraction = p->total ? (double)(done < p->total ? done : p->total) /
                                           (double)p->total : 1.0;
    const int filled = (int)(fraction * PROGRESS_WIDTH);
    const double elapsed = tool_now() - p->start;
    const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
    /* erase first: the previous bar may have been longer */
    fprintf(stderr, ERASE_LINE "[%.*s%*s] %5.1f%%  ETA %4.0f s", filled,
            "##############################", PROGRESS_WIDTH - filled, "", 100.0 * fraction,
            eta);
    fflush(stderr);
    p->shown = true;
}

void tool_progress_clear(tool_progress *p) {
    if (!p->shown)
        return;
    /* whatever the command printed on stdout before is on the screen before
     * the bar goes */
    fflush(stdout);
    fputs(ERASE_LINE, stderr);
    fflush(stderr);
    p->shown = false;
}
