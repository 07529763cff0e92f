/*
 * examples/quantize_tensor.c as a user builds it: the build is installed
 * (meson install --destdir into a temporary directory), the example is
 * compiled with nothing but what `pkg-config --cflags --libs libquant`
 * gives for that installation, linked to its shared library (soname
 * libquant.so.1, version 0.2.0) and run on the tiny model; its output must
 * be a sensible error. The README shows the example: its copy must equal
 * the file.
 *
 * The environment comes from meson: LQ_SOURCE_DIR, LQ_BUILD_DIR, LQ_MESON
 * (the meson command), LQ_CC (the C compiler) and LQ_EXAMPLE_FLAGS (the
 * sanitizer flags the library was built with, which its users need too).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define EXAMPLE "examples/quantize_tensor.c"
/* The README line before the example's copy. */
#define README_MARKER "<!-- " EXAMPLE ", kept equal to the file by tests/test_example.c -->\n"

static const char *need_env(const char *name) {
    const char *value = getenv(name);
    ck_assert_msg(value && *value, "%s is not set (meson sets it)", name);
    return value;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    char *data = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, (size_t)size, f), (size_t)size);
    data[size] = '\0';
    fclose(f);
    return data;
}

/* Runs a shell command line that must succeed; returns its stdout. */
static char *run_ok(const char *cmdline) {
    char *out = NULL, *err = NULL;
    int rc = tu_run(cmdline, &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s\n%s%s", rc, cmdline, out, err);
    free(err);
    return out;
}

/* malloc'd path without its last component */
static char *parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    ck_assert_msg(slash != NULL && slash != path, "no parent directory in '%s'", path);
    char *parent = strndup(path, (size_t)(slash - path));
    ck_assert_ptr_nonnull(parent);
    return parent;
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

START_TEST(test_installed_example_runs) {
    const char *source = need_env("LQ_SOURCE_DIR"), *build = need_env("LQ_BUILD_DIR");
    const char *meson = need_env("LQ_MESON"), *cc = need_env("LQ_CC");
    const char *flags = getenv("LQ_EXAMPLE_FLAGS");
    char *dir = tu_make_tmpdir(), *root = tu_join_path(dir, "root");
    char cmd[4096];

    snprintf(cmd, sizeof cmd, "%s install -C '%s' --no-rebuild --quiet --destdir '%s'", meson,
             build, root);
    free(run_ok(cmd));

    /* the installation's pkg-config file; its directory's parent is libdir */
    snprintf(cmd, sizeof cmd, "find '%s' -name libquant.pc", root);
    char *pc = run_ok(cmd);
    chomp(pc);
    ck_assert_msg(*pc && !strchr(pc, '\n'), "not one libquant.pc: '%s'", pc);
    char *pc_dir = parent_dir(pc), *lib_dir = parent_dir(pc_dir);
    /* pkg-config sees this installation only, with its paths under root */
    char pkg_config[2048];
    snprintf(pkg_config, sizeof pkg_config,
             "PKG_CONFIG_LIBDIR='%s' PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR='%s' pkg-config",
             pc_dir, root);

    snprintf(cmd, sizeof cmd, "%s --modversion libquant", pkg_config);
    char *version = run_ok(cmd);
    chomp(version);
    ck_assert_str_eq(version, LQ_EXPECTED_VERSION);
    char *soname = tu_join_path(lib_dir, "libquant.so.1");
    ck_assert_msg(access(soname, F_OK) == 0, "%s is not installed", soname);

    char *exe = tu_join_path(dir, "quantize_tensor");
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror %s '%s/" EXAMPLE "' -o '%s' "
             "$(%s --cflags --libs libquant) -lm",
             cc, flags ? flags : "", source, exe, pkg_config);
    free(run_ok(cmd));

    /* it runs against the installed library */
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH='%s' ldd '%s'", lib_dir, exe);
    char *libs = run_ok(cmd);
    ck_assert_msg(strstr(libs, soname) != NULL, "not linked to %s:\n%s", soname, libs);
    char *model = tu_shared_path("models/tiny-llama-bf16.gguf");
    const char *const runs[][3] = {
        {"", "blk.0.ffn_down.weight", "q4_K"},
        {"blk.0.attn_q.weight iq4_k", "blk.0.attn_q.weight", "iq4_k"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH='%s' '%s' '%s' %s", lib_dir, exe, model,
                 runs[i][0]);
        char *out = run_ok(cmd);
        char name[128], from[32], to[32];
        long long cols, rows;
        double bpw, error;
        ck_assert_msg(sscanf(out, "%127s [%lld x %lld] %31s -> %31[^:]: %lf bits per weight, "
                                  "matmul relative error %lf",
                             name, &cols, &rows, from, to, &bpw, &error) == 7,
                      "unexpected output: %s", out);
        ck_assert_str_eq(name, runs[i][1]);
        ck_assert_str_eq(from, "bf16");
        ck_assert_str_eq(to, runs[i][2]);
        ck_assert_double_eq_tol(bpw, 4.5, 0.01);
        /* 4.5 bits: a few percent, never zero, never garbage */
        ck_assert_msg(error > 1e-4 && error < 0.1, "%s: relative error %g", runs[i][2], error);
        free(out);
    }
    free(model), free(libs), free(exe), free(soname), free(version);
    free(lib_dir), free(pc_dir), free(pc);
    tu_rmtree(dir);
    free(root), free(dir);
}
END_TEST

START_TEST(test_readme_shows_the_example) {
    char *readme_path = tu_join_path(need_env("LQ_SOURCE_DIR"), "README.md");
    char *example_path = tu_join_path(need_env("LQ_SOURCE_DIR"), EXAMPLE);
    char *readme = read_file(readme_path), *example = read_file(example_path);
    const char *marker = strstr(readme, README_MARKER);
    ck_assert_msg(marker != NULL, "README.md has no line '%s'", README_MARKER);
    const char *fence = "```c\n";
    const char *copy = marker + strlen(README_MARKER);
    ck_assert_msg(strncmp(copy, fence, strlen(fence)) == 0, "no ```c block after the marker");
    copy += strlen(fence);
    const char *end = strstr(copy, "\n```\n");
    ck_assert_msg(end != NULL, "the ```c block is not closed");
    const size_t copy_len = (size_t)(end - copy) + 1; /* with its last newline */
    ck_assert_msg(copy_len == strlen(example) && memcmp(copy, example, copy_len) == 0,
                  "the README's copy of " EXAMPLE " differs from the file");
    free(readme), free(example), free(readme_path), free(example_path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("example");
    TCase *tc = tcase_create("example");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_installed_example_runs);
    tcase_add_test(tc, test_readme_shows_the_example);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
