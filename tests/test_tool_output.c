/*
 * What the quant tool does with its standard output and error:
 *
 *  - on a terminal (a pseudo-terminal here, from forkpty), quant quantize's
 *    progress bar is erased ("\r" ESC [ K) before each plan line, so every
 *    line starts at column 0 and the screen ends up holding exactly the plan
 *    lines a dry run prints, error messages included; off a terminal no bar
 *    character is written at all;
 *  - a reader that closes the pipe early (head) stops every command quietly:
 *    killed by SIGPIPE like git and ls, or, when SIGPIPE is ignored, exit
 *    status 141, with no message and no output or temporary file left;
 *  - a write error that is not a closed pipe (/dev/full) is an error:
 *    exit status 1 and a message;
 *  - --help and the manual pages say so.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define BF16_MODEL "models/tiny-llama-bf16.gguf"
#define Q8_MODEL "models/tiny-llama-q8_0-ref.gguf"
#define TENSOR_COUNT 57
#define ERASE_LINE "\r\033[K"
#define MAX_ARGS 32

/* ---- running the tool --------------------------------------------------- */

/* A growable, NUL-terminated byte buffer. */
typedef struct byte_buffer {
    char *data;
    size_t len, cap;
} byte_buffer;

static void buffer_append(byte_buffer *t, const char *bytes, size_t n) {
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->data = realloc(t->data, t->cap);
        ck_assert_ptr_nonnull(t->data);
    }
    memcpy(t->data + t->len, bytes, n);
    t->len += n;
    t->data[t->len] = '\0';
}

/* Everything readable from fd until end of file (or EIO: a pseudo-terminal
 * whose other side closed). */
static byte_buffer read_until_end(int fd) {
    byte_buffer t = {0};
    buffer_append(&t, "", 0);
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0)
            buffer_append(&t, chunk, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    return t;
}

/* An anonymous temporary file for a child's standard error. */
static int capture_file(void) {
    char name[] = "/tmp/lq-output-test.XXXXXX";
    int fd = mkstemp(name);
    ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
    unlink(name);
    return fd;
}

static char *rewind_and_read(int fd) {
    lseek(fd, 0, SEEK_SET);
    byte_buffer t = read_until_end(fd);
    close(fd);
    return t.data;
}

/* In a forked child: run quant with args (NULL-terminated, without the
 * program name); never returns. */
static void exec_quant(const char *const *args) {
    const char *argv[MAX_ARGS + 2] = {tu_quant_exe()};
    for (int i = 0; args[i]; i++) {
        if (i == MAX_ARGS)
            _exit(126);
        argv[i + 1] = args[i];
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

static int wait_for(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_msg(errno == EINTR, "waitpid: %s", strerror(errno));
    return status;
}

typedef enum pipe_reader {
    READER_READS_THEN_CLOSES, /* head: reads a few bytes, then goes away */
    NO_READER_AT_ALL,         /* closed before the tool starts */
} pipe_reader;

/* Run quant with its standard output into a pipe that `reader` closes;
 * SIGPIPE ignored in the child if asked (as a parent that ignores it would
 * leave it). Returns the wait status; *err gets its standard error. */
static int run_into_closed_pipe(const char *const *args, pipe_reader reader,
                                bool ignore_sigpipe, char **err) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    /* a small pipe: output larger than it cannot all be written before the
     * reader goes, so every run meets the closed pipe */
    ck_assert_msg(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 0, "F_SETPIPE_SZ: %s", strerror(errno));
    if (reader == NO_READER_AT_ALL)
        close(fds[0]);
    const int err_fd = capture_file();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGPIPE, ignore_sigpipe ? SIG_IGN : SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (reader == READER_READS_THEN_CLOSES)
            close(fds[0]);
        dup2(fds[1], 1);
        dup2(err_fd, 2);
        exec_quant(args);
    }
    close(fds[1]);
    if (reader == READER_READS_THEN_CLOSES) {
        char few[16];
        ssize_t got;
        while ((got = read(fds[0], few, sizeof few)) < 0 && errno == EINTR) {
        }
        ck_assert_msg(got > 0, "nothing to read before closing the pipe");
        close(fds[0]);
    }
    int status = wait_for(pid);
    *err = rewind_and_read(err_fd);
    return status;
}

/* Stopped as the issue asks: death by SIGPIPE, or with SIGPIPE ignored exit
 * status 141; no error message either way. */
static void assert_stopped_quietly(const char *what, int status, bool sigpipe_ignored,
                                   const char *err) {
    if (sigpipe_ignored)
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 141,
                      "%s, SIGPIPE ignored: %s %d, expected exit status 141\nstderr: %s", what,
                      WIFEXITED(status) ? "exit status" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), err);
    else
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
                      "%s: %s %d, expected death by SIGPIPE\nstderr: %s", what,
                      WIFEXITED(status) ? "exit status" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), err);
    ck_assert_msg(strstr(err, "error") == NULL && strstr(err, "cannot write") == NULL,
                  "%s: a closed pipe gave a message:\n%s", what, err);
}

/* ---- a terminal ----------------------------------------------------------- */

/* The lines a terminal shows after receiving `raw`: bytes are put at the
 * cursor, "\r" returns to column 0, "\n" ends the line, ESC [ K erases from
 * the cursor to the end of the line. Any other control byte or sequence
 * fails the test: the tool has no business sending it. The last, unended
 * line (where a bar left on the screen would be) is kept too. */
typedef struct screen {
    char **lines;
    int count;
} screen;

static void screen_add(screen *s, const char *line, size_t len) {
    s->lines = realloc(s->lines, sizeof *s->lines * (size_t)(s->count + 1));
    ck_assert_ptr_nonnull(s->lines);
    s->lines[s->count] = strndup(line, len);
    ck_assert_ptr_nonnull(s->lines[s->count]);
    s->count++;
}

static screen render(const char *raw) {
    screen s = {0};
    char line[1024];
    size_t len = 0, col = 0;
    for (const char *p = raw; *p; p++) {
        if (*p == '\r') {
            col = 0;
        } else if (*p == '\n') {
            screen_add(&s, line, len);
            len = col = 0;
        } else if (*p == '\033') {
            ck_assert_msg(p[1] == '[' && p[2] == 'K', "unexpected escape sequence at byte %ld",
                          (long)(p - raw));
            len = col;
            p += 2;
        } else {
            ck_assert_msg((unsigned char)*p >= 0x20, "control byte 0x%02x at byte %ld",
                          (unsigned char)*p, (long)(p - raw));
            ck_assert_msg(col < sizeof line, "line longer than %zu", sizeof line);
            line[col++] = *p;
            if (col > len)
                len = col;
        }
    }
    if (len > 0)
        screen_add(&s, line, len);
    return s;
}

static void screen_free(screen *s) {
    for (int i = 0; i < s->count; i++)
        free(s->lines[i]);
    free(s->lines);
}

/* Run quant on a pseudo-terminal (standard output and error both on it, as
 * in an interactive shell); returns the wait status, *raw every byte the
 * terminal received. */
static int run_on_terminal(const char *const *args, char **raw) {
    int master = -1;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    ck_assert_msg(pid >= 0, "forkpty: %s", strerror(errno));
    if (pid == 0) {
        setenv("TERM", "xterm", 1);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        exec_quant(args);
    }
    byte_buffer t = read_until_end(master);
    close(master);
    *raw = t.data;
    return wait_for(pid);
}

/* The lines of a text, without their "\n". */
static screen split_lines(const char *out) {
    screen s = {0};
    for (const char *p = out; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        screen_add(&s, p, len);
        p += len + (end ? 1 : 0);
    }
    return s;
}

static bool is_plan_line(const char *line) {
    int index, count;
    return sscanf(line, "[%d/%d]", &index, &count) == 2 && count == TENSOR_COUNT;
}

START_TEST(test_bar_kept_below_the_plan_lines) {
    char *model = tu_shared_path(BF16_MODEL), *dir = tu_make_tmpdir();
    char *output = tu_join_path(dir, "q4_0.gguf");
    /* the lines the screen must show: those of a dry run, off a terminal */
    char *planned = NULL, *err = NULL;
    int rc = tu_run_quantf(&planned, &err, "quantize --dry-run '%s' '%s' q4_0", model, output);
    ck_assert_msg(rc == 0, "dry run: exit %d: %s", rc, err);
    screen want = split_lines(planned);
    ck_assert_int_eq(want.count, TENSOR_COUNT + 1); /* and the total */

    const char *args[] = {"quantize", "-t", "2", model, output, "q4_0", NULL};
    char *raw = NULL;
    int status = run_on_terminal(args, &raw);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d:\n%s", status, raw);
    /* the bar was drawn, or this proves nothing */
    ck_assert_msg(strstr(raw, "ETA") && strstr(raw, "] 100.0%"), "no bar on the terminal:\n%s",
                  raw);
    /* every plan line after the first (drawn before any bar) comes right
     * after the bar was erased */
    for (int i = 2; i <= TENSOR_COUNT; i++) {
        char head[32];
        snprintf(head, sizeof head, "[%4d/%4d]", i, TENSOR_COUNT);
        const char *at = strstr(raw, head);
        ck_assert_msg(at != NULL, "plan line %d missing", i);
        ck_assert_msg(at - raw >= 4 && strncmp(at - 4, ERASE_LINE, 4) == 0,
                      "plan line %d does not follow an erased bar: ...%.*s", i,
                      (int)(at - raw < 60 ? at - raw : 60), at - (at - raw < 60 ? at - raw : 60));
    }
    screen shown = render(raw);
    int plan_lines = 0;
    for (int i = 0; i < shown.count; i++) {
        ck_assert_msg(strstr(shown.lines[i], "ETA") == NULL && strstr(shown.lines[i], "##") == NULL,
                      "bar text left on screen line %d: '%s'", i, shown.lines[i]);
        if (strstr(shown.lines[i], "/  57]") == NULL)
            continue;
        ck_assert_msg(plan_lines < TENSOR_COUNT && is_plan_line(shown.lines[i]),
                      "not a plan line at column 0: '%s'", shown.lines[i]);
        ck_assert_str_eq(shown.lines[i], want.lines[plan_lines]);
        plan_lines++;
    }
    ck_assert_int_eq(plan_lines, TENSOR_COUNT);
    /* then the total, as in the dry run, and where it was written */
    ck_assert_int_ge(shown.count, TENSOR_COUNT + 2);
    ck_assert_str_eq(shown.lines[TENSOR_COUNT], want.lines[TENSOR_COUNT]);
    ck_assert_msg(strncmp(shown.lines[TENSOR_COUNT + 1], "wrote ", 6) == 0, "'%s'",
                  shown.lines[TENSOR_COUNT + 1]);
    screen_free(&shown);
    screen_free(&want);
    free(raw), free(planned), free(err);
    tu_rmtree(dir);
    free(output), free(dir), free(model);
}
END_TEST

/* Two F32 tensors: a norm (kept as it is, so its plan line and a bar come
 * first), then a matrix with a NaN, which fails the run. */
static void write_model_failing_second(const char *path) {
    enum { COLS = 256, ROWS = 16 };
    lq_gguf_writer *w = lq_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(lq_gguf_writer_set_str(w, "general.architecture", "llama"), LQ_OK);
    int64_t ne_norm[1] = {COLS}, ne_matrix[2] = {COLS, ROWS};
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", LQ_TYPE_F32, 1,
                                               ne_norm), 0);
    ck_assert_int_eq(lq_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", LQ_TYPE_F32, 2,
                                               ne_matrix), 1);
    static float norm[COLS], matrix[COLS * ROWS];
    tu_rng rng = {3};
    for (int i = 0; i < COLS; i++)
        norm[i] = 1.0f;
    for (int i = 0; i < COLS * ROWS; i++)
        matrix[i] = (float)tu_rng_gauss(&rng);
    matrix[5 * COLS + 9] = NAN;
    const void *data[2] = {norm, matrix};
    lq_gguf_error e;
    ck_assert_msg(lq_gguf_write_file(w, path, data, &e) == LQ_OK, "%s", e.message);
    lq_gguf_writer_free(w);
}

START_TEST(test_error_erases_the_bar) {
    char *dir = tu_make_tmpdir();
    char *input = tu_join_path(dir, "nan.gguf"), *output = tu_join_path(dir, "out.gguf");
    write_model_failing_second(input);
    const char *args[] = {"quantize", "--pure", input, output, "q8_0", NULL};
    char *raw = NULL;
    int status = run_on_terminal(args, &raw);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d:\n%s", status, raw);
    ck_assert_msg(strstr(raw, "ETA") != NULL, "no bar before the error:\n%s", raw);
    screen shown = render(raw);
    int errors = 0;
    for (int i = 0; i < shown.count; i++) {
        ck_assert_msg(strstr(shown.lines[i], "ETA") == NULL, "bar text left: '%s'",
                      shown.lines[i]);
        if (strstr(shown.lines[i], "error:")) {
            ck_assert_msg(strncmp(shown.lines[i], "quant quantize: error: ", 23) == 0,
                          "the error does not start at column 0: '%s'", shown.lines[i]);
            ck_assert_ptr_nonnull(strstr(shown.lines[i], "blk.0.ffn_down.weight"));
            errors++;
        }
    }
    ck_assert_int_eq(errors, 1);
    ck_assert_int_eq(access(output, F_OK), -1);
    screen_free(&shown);
    free(raw);
    tu_rmtree(dir);
    free(input), free(output), free(dir);
}
END_TEST

START_TEST(test_no_bar_off_a_terminal) {
    char *model = tu_shared_path(BF16_MODEL), *dir = tu_make_tmpdir();
    char *out = NULL, *err = NULL;
    int rc = tu_run_quantf(&out, &err, "quantize -t 2 '%s' '%s/q4_0.gguf' q4_0", model, dir);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(out, "[  57/  57]") != NULL, "no plan lines:\n%s", out);
    const char *streams[2] = {out, err};
    for (int i = 0; i < 2; i++)
        ck_assert_msg(!strchr(streams[i], '\r') && !strchr(streams[i], '\033') &&
                          !strstr(streams[i], "ETA") && !strstr(streams[i], "##"),
                      "bar characters in %s:\n%s", i ? "stderr" : "stdout", streams[i]);
    free(out), free(err);
    tu_rmtree(dir);
    free(dir), free(model);
}
END_TEST

/* ---- a closed pipe -------------------------------------------------------- */

START_TEST(test_info_into_closed_pipe) {
    char *model = tu_shared_path(BF16_MODEL);
    const char *args[] = {"info", "--all", model, NULL};
    for (int ignored = 0; ignored < 2; ignored++) {
        char *err = NULL;
        int status = run_into_closed_pipe(args, READER_READS_THEN_CLOSES, ignored, &err);
        assert_stopped_quietly("info --all | head", status, ignored, err);
        ck_assert_str_eq(err, "");
        free(err);
    }
    free(model);
}
END_TEST

/* quantize and repack stop at the closed pipe and leave nothing behind:
 * no output, no temporary file. */
static void check_writer_stops(const char *command, const char *model_rel, const char *type) {
    char *model = tu_shared_path(model_rel);
    for (int ignored = 0; ignored < 2; ignored++) {
        char *dir = tu_make_tmpdir(), *output = tu_join_path(dir, "out.gguf");
        const char *args[] = {command, "-t", "2", model, output, type, NULL};
        char *err = NULL;
        int status = run_into_closed_pipe(args, READER_READS_THEN_CLOSES, ignored, &err);
        assert_stopped_quietly(command, status, ignored, err);
        ck_assert_msg(tu_count_dir_entries(dir) == 0, "%s left files in %s", command, dir);
        free(err);
        tu_rmtree(dir);
        free(output), free(dir);
    }
    free(model);
}

START_TEST(test_quantize_into_closed_pipe) {
    check_writer_stops("quantize", BF16_MODEL, "q4_0");
    /* a dry run stops too */
    char *model = tu_shared_path(BF16_MODEL);
    const char *args[] = {"quantize", "--dry-run", model, "/nonexistent/out.gguf", "q4_0", NULL};
    char *err = NULL;
    int status = run_into_closed_pipe(args, READER_READS_THEN_CLOSES, false, &err);
    assert_stopped_quietly("quantize --dry-run", status, false, err);
    free(err), free(model);
}
END_TEST

START_TEST(test_repack_into_closed_pipe) {
    check_writer_stops("repack", Q8_MODEL, NULL);
}
END_TEST

/* The other commands print less than a pipe holds, so the pipe has no
 * reader from the start: their first flush meets it. */
START_TEST(test_every_command_into_closed_pipe) {
    char *model = tu_shared_path(BF16_MODEL), *text = tu_shared_path("text/test.txt");
    char *dir = tu_make_tmpdir(), *imatrix = tu_join_path(dir, "imatrix.dat");
    const char *const commands[][16] = {
        {"--help", NULL},
        {"--version", NULL},
        {"info", model, NULL},
        {"info", "--json", model, NULL},
        {"quantize", "--help", NULL},
        {"demo", "--rows", "16", "--cols", "256", "-t", "2", NULL},
        {"bench", "--rows", "32", "--cols", "512", "--repeat", "1", "-t", "2", "q4_0", "q8_0",
         NULL},
        {"bench", "matmul", "--rows", "64", "--cols", "512", "--stream-mb", "1", "--repeat", "1",
         "-t", "2", "q4_0", "q8_0", NULL},
        {"perplexity", "-m", model, "-f", text, "-c", "128", "--chunks", "3", "-t", "2", NULL},
        {"imatrix", "-m", model, "-f", text, "-o", imatrix, "-c", "128", "--chunks", "3", "-t",
         "2", NULL},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *err = NULL;
        int status = run_into_closed_pipe(commands[i], NO_READER_AT_ALL, false, &err);
        assert_stopped_quietly(commands[i][0], status, false, err);
        free(err);
    }
    /* imatrix stopped before writing its file */
    ck_assert_int_eq(access(imatrix, F_OK), -1);
    tu_rmtree(dir);
    free(imatrix), free(dir), free(text), free(model);
}
END_TEST

/* ---- other write errors ------------------------------------------------- */

START_TEST(test_full_disk_is_an_error) {
    ck_assert_msg(access("/dev/full", W_OK) == 0, "/dev/full is needed");
    char *model = tu_shared_path(BF16_MODEL), *dir = tu_make_tmpdir();
    const char *const commands[] = {
        "info '%s' > /dev/full",
        "info --all --json '%s' > /dev/full",
        "quantize -t 2 '%s' '%s/out.gguf' q4_0 > /dev/full",
        "quantize --dry-run '%s' '%s/out.gguf' q4_0 > /dev/full",
        "--help > /dev/full",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *err = NULL;
        int rc = tu_run_quantf(NULL, &err, commands[i], model, dir);
        ck_assert_msg(rc == 1, "%s: exit %d, expected 1\n%s", commands[i], rc, err);
        ck_assert_msg(strstr(err, ": error: cannot write the output: No space left on device"),
                      "%s: message:\n%s", commands[i], err);
        /* one message, not one per attempt */
        ck_assert_msg(strstr(strstr(err, "cannot write") + 1, "cannot write") == NULL,
                      "%s: the error is reported twice:\n%s", commands[i], err);
        free(err);
    }
    ck_assert_int_eq(tu_count_dir_entries(dir), 0);
    tu_rmtree(dir);
    free(dir), free(model);
}
END_TEST

/* ---- the documentation ---------------------------------------------------- */

/* --help and the manual page of every command describe the closed pipe. */
START_TEST(test_help_and_manuals_tell) {
    const char *source = getenv("LQ_SOURCE_DIR");
    ck_assert_msg(source != NULL, "LQ_SOURCE_DIR is not set (meson sets it)");
    const char *const pages[][2] = {
        {"--help", "quant.1"},           {"demo --help", "quant-demo.1"},
        {"info --help", "quant-info.1"}, {"quantize --help", "quant-quantize.1"},
        {"repack --help", "quant-repack.1"}, {"imatrix --help", "quant-imatrix.1"},
        {"perplexity --help", "quant-perplexity.1"}, {"bench --help", "quant-bench.1"},
        {"bench matmul --help", "quant-bench.1"}, {"bench model --help", "quant-bench.1"},
        {"generate --help", "quant-generate.1"},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char *out = NULL;
        ck_assert_int_eq(tu_run_quant(pages[i][0], &out, NULL), 0);
        ck_assert_msg(strstr(out, "A closed output pipe") && strstr(out, "SIGPIPE") &&
                          strstr(out, "exits with 141 if SIGPIPE is ignored"),
                      "quant %s does not describe a closed pipe:\n%s", pages[i][0], out);
        free(out);
        char rel[64];
        snprintf(rel, sizeof rel, "man/%s", pages[i][1]);
        char *path = tu_join_path(source, rel);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
        byte_buffer page = read_until_end(fileno(f));
        fclose(f);
        const char *section = strstr(page.data, ".SH EXIT STATUS");
        ck_assert_msg(section != NULL, "%s: no EXIT STATUS", path);
        ck_assert_msg(strstr(section, "A closed pipe on standard output") &&
                          strstr(section, "dies of SIGPIPE") &&
                          strstr(section, "if SIGPIPE is ignored it exits with status\n141"),
                      "%s: EXIT STATUS does not describe a closed pipe", path);
        free(page.data);
        free(path);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_output");
    TCase *terminal = tcase_create("terminal");
    tcase_set_timeout(terminal, 300);
    tcase_add_test(terminal, test_bar_kept_below_the_plan_lines);
    tcase_add_test(terminal, test_error_erases_the_bar);
    tcase_add_test(terminal, test_no_bar_off_a_terminal);
    suite_add_tcase(s, terminal);
    TCase *pipes = tcase_create("pipes");
    tcase_set_timeout(pipes, 600);
    tcase_add_test(pipes, test_info_into_closed_pipe);
    tcase_add_test(pipes, test_quantize_into_closed_pipe);
    tcase_add_test(pipes, test_repack_into_closed_pipe);
    tcase_add_test(pipes, test_every_command_into_closed_pipe);
    tcase_add_test(pipes, test_full_disk_is_an_error);
    tcase_add_test(pipes, test_help_and_manuals_tell);
    suite_add_tcase(s, pipes);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
