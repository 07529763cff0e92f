/* Helpers shared by the Check tests. */
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* These helpers also run before the Check runner starts (test discovery),
 * where ck_assert cannot report: they fail loudly on their own. */
static void fatal(const char *fmt, const char *arg) {
    fprintf(stderr, "test setup: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(EXIT_FAILURE);
}

const char *tu_shared_dir(void) {
    const char *dir = getenv("LQ_SHARED_DIR");
    if (!dir || !*dir)
        fatal("%s is not set (run the tests through meson test)", "LQ_SHARED_DIR");
    return dir;
}

char *tu_shared_path(const char *rel) { return tu_join_path(tu_shared_dir(), rel); }

const char *tu_quant_exe(void) {
    const char *exe = getenv("LQ_QUANT");
    if (!exe || !*exe)
        ck_abort_msg("LQ_QUANT is not set (run the tests through meson test)");
    return exe;
}

char *tu_make_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base) + 32;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/lqtest.XXXXXX", base);
    ck_assert_msg(mkdtemp(p) != NULL, "mkdtemp: %s", strerror(errno));
    return p;
}

char *tu_join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        fatal("%s", "out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int tu_count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

void tu_rmtree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child)
            break;
        snprintf(child, n, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            tu_rmtree(child);
        else
            unlink(child);
        free(child);
    }
    closedir(d);
    rmdir(path);
}

static char *slurp_fd(int fd) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return buf;
}

/* Capture through unlinked temporary files: no pipe deadlocks, any size. */
int tu_run(const char *cmdline, char **out, char **err) {
    char out_name[] = "/tmp/lqrun-out.XXXXXX";
    char err_name[] = "/tmp/lqrun-err.XXXXXX";
    int out_fd = mkstemp(out_name);
    int err_fd = mkstemp(err_name);
    ck_assert_msg(out_fd >= 0 && err_fd >= 0, "mkstemp failed");
    unlink(out_name);
    unlink(err_name);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = slurp_fd(out_fd);
    if (err)
        *err = slurp_fd(err_fd);
    close(out_fd);
    close(err_fd);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int tu_run_quant(const char *args, char **out, char **err) {
    const char *exe = tu_quant_exe();
    size_t n = strlen(exe) + strlen(args) + 4;
    char *cmd = malloc(n);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, n, "'%s' %s", exe, args);
    int rc = tu_run(cmd, out, err);
    free(cmd);
    return rc;
}

int tu_run_quantf(char **out, char **err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *args = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!args)
        fatal("cannot format the arguments of quant (%s)", fmt);
    va_start(ap, fmt);
    vsnprintf(args, (size_t)len + 1, fmt, ap);
    va_end(ap);
    int rc = tu_run_quant(args, out, err);
    free(args);
    return rc;
}

lq_gguf *tu_open_model(const char *path) {
    lq_gguf *g = NULL;
    lq_gguf_error err;
    int st = lq_gguf_open_model(path, &g, &err);
    ck_assert_msg(st == LQ_OK, "%s", err.message);
    return g;
}

bool tu_gguf_values_equal(const lq_gguf_value *a, const lq_gguf_value *b) {
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case LQ_GGUF_STRING:
        return a->v.str.len == b->v.str.len &&
               memcmp(a->v.str.data, b->v.str.data, a->v.str.len) == 0;
    case LQ_GGUF_ARRAY:
        if (a->v.arr.elem_type != b->v.arr.elem_type || a->v.arr.count != b->v.arr.count)
            return false;
        for (uint64_t i = 0; i < a->v.arr.count; i++)
            if (!tu_gguf_values_equal(&a->v.arr.items[i], &b->v.arr.items[i]))
                return false;
        return true;
    case LQ_GGUF_F32:
    case LQ_GGUF_F64:
        return memcmp(&a->v.f64, &b->v.f64, sizeof a->v.f64) == 0;
    default:
        /* the integers share one 64-bit member of the union */
        return a->v.u64 == b->v.u64;
    }
}

void tu_assert_same_tensors(const lq_gguf *a, const lq_gguf *b) {
    ck_assert_int_eq(lq_gguf_tensor_count(a), lq_gguf_tensor_count(b));
    for (int64_t i = 0; i < lq_gguf_tensor_count(a); i++) {
        const lq_gguf_tensor *ta = lq_gguf_tensor_at(a, i), *tb = lq_gguf_tensor_at(b, i);
        ck_assert_str_eq(ta->name, tb->name);
        ck_assert_msg(ta->type == tb->type, "%s: %s vs %s", ta->name, lq_type_name(ta->type),
                      lq_type_name(tb->type));
        ck_assert_int_eq(ta->n_dims, tb->n_dims);
        ck_assert_mem_eq(ta->ne, tb->ne, sizeof ta->ne);
        ck_assert_uint_eq(ta->size, tb->size);
        ck_assert_msg(memcmp(ta->data, tb->data, ta->size) == 0, "%s: bytes differ", ta->name);
    }
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tu_name_list tu_vector_files(void) {
    tu_name_list list = {NULL, 0};
    char *dir_path = tu_shared_path("vectors");
    DIR *d = opendir(dir_path);
    if (!d)
        fatal("cannot open the vectors folder %s", dir_path);
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        if (list.count == cap) {
            cap = cap ? 2 * cap : 64;
            list.names = realloc(list.names, (size_t)cap * sizeof(char *));
            if (!list.names)
                fatal("%s", "out of memory");
        }
        list.names[list.count++] = strdup(e->d_name);
    }
    closedir(d);
    free(dir_path);
    qsort(list.names, (size_t)list.count, sizeof(char *), compare_names);
    if (list.count == 0)
        fatal("no vector files in %s/vectors", tu_shared_dir());
    return list;
}

void tu_name_list_free(tu_name_list *l) {
    for (int i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

lq_gguf *tu_open_vector_file(const char *file) {
    char rel[256];
    snprintf(rel, sizeof rel, "vectors/%s", file);
    char *path = tu_shared_path(rel);
    lq_gguf *g = NULL;
    lq_gguf_error err;
    if (lq_gguf_open(path, &g, &err) != LQ_OK)
        fatal("cannot open a vector file: %s", err.message);
    free(path);
    return g;
}

const lq_gguf_tensor *tu_expected_decoding(const lq_gguf *g, const char *name) {
    char key[96];
    snprintf(key, sizeof key, "%s.deq", name);
    const lq_gguf_tensor *deq = lq_gguf_find_tensor(g, key);
    if (deq)
        return deq;
    const char *suffix = strstr(name, ".repacked");
    if (!suffix)
        return NULL;
    snprintf(key, sizeof key, "%.*s.deq", (int)(suffix - name), name);
    return lq_gguf_find_tensor(g, key);
}

int tu_type_selected(const char *type_name) {
    const char *sel = getenv("LQ_TEST_TYPES");
    if (!sel || !*sel)
        return 1;
    size_t n = strlen(type_name);
    const char *p = sel;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncasecmp(p, type_name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

double tu_quant_error(const float *x, const float *decoded, int64_t nrows,
                      int64_t ncols, const float *weights) {
    double total = 0.0;
    for (int64_t r = 0; r < nrows; r++) {
        double num = 0.0, den = 0.0;
        for (int64_t c = 0; c < ncols; c++) {
            double w = weights ? (double)weights[c] : 1.0;
            double xv = x[r * ncols + c];
            double diff = xv - (double)decoded[r * ncols + c];
            num += w * diff * diff;
            den += w * xv * xv;
        }
        if (den > 0.0)
            total += num / den;
    }
    return sqrt(total);
}

uint64_t tu_rng_next(tu_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double tu_rng_uniform(tu_rng *r) {
    return (double)(tu_rng_next(r) >> 11) * 0x1p-53;
}

double tu_rng_gauss(tu_rng *r) {
    double u1 = tu_rng_uniform(r), u2 = tu_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
