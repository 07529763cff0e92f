/* Helpers shared by the Check tests. */
#ifndef QUANT_TESTUTIL_H
#define QUANT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "quant_gguf.h"

/* The reference data directory: $LQ_SHARED_DIR (set by meson from the
 * shared_dir option). Aborts the test with a clear message if unset. */
const char *tu_shared_dir(void);
/* malloc'd "<shared>/<rel>" */
char *tu_shared_path(const char *rel);
/* The built quant executable ($LQ_QUANT). */
const char *tu_quant_exe(void);
/* A fresh private temporary directory (malloc'd path), removed by
 * tu_rmtree(). */
char *tu_make_tmpdir(void);
void tu_rmtree(const char *path);
/* malloc'd "<dir>/<name>" (safe before the Check runner starts). */
char *tu_join_path(const char *dir, const char *name);
/* Entries of a directory, "." and ".." aside (inside a test). */
int tu_count_dir_entries(const char *dir);

/* Run a shell command line; capture stdout and stderr into malloc'd,
 * NUL-terminated strings (either pointer may be NULL to discard).
 * Returns the exit status, or 128 + signal number if it was killed. */
int tu_run(const char *cmdline, char **out, char **err);
/* Same, with "<quant exe> " prepended to args. */
int tu_run_quant(const char *args, char **out, char **err);
/* Same, with the arguments formatted printf-style. */
int tu_run_quantf(char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open a model (a single file or any shard of a split one); fails the
 * running test with the reader's message if it cannot. */
lq_gguf *tu_open_model(const char *path);
/* Same type and value; arrays element by element, floats bit for bit. */
bool tu_gguf_values_equal(const lq_gguf_value *a, const lq_gguf_value *b);
/* Asserts the same tensors in the same order, with the same types, shapes
 * and bytes. */
void tu_assert_same_tensors(const lq_gguf *a, const lq_gguf *b);

/* A list of vector files: sorted basenames of the .gguf files in <shared>/vectors. */
typedef struct tu_name_list {
    char **names;
    int count;
} tu_name_list;
tu_name_list tu_vector_files(void);
void tu_name_list_free(tu_name_list *l);
/* Open <shared>/vectors/<file>; exits the process on failure (usable before
 * the Check runner starts, where ck_assert cannot report). */
lq_gguf *tu_open_vector_file(const char *file);
/* The reference decoding of a quantized tensor of a vector file: its own
 * "<name>.deq", or for a repacked tensor without one, the decoding of the
 * tensor it was repacked from (a repack is lossless). NULL if neither. */
const lq_gguf_tensor *tu_expected_decoding(const lq_gguf *g, const char *name);

/* Is this type selected by $LQ_TEST_TYPES (comma list; unset = all)? */
int tu_type_selected(const char *type_name);

/* Error as the vectors README defines it: sqrt(sum over rows of
 * |x_r - d_r|^2 / |x_r|^2), or with weights w:
 * sqrt(sum over rows of sum_c w_c (x-d)^2 / sum_c w_c x^2). w may be NULL. */
double tu_quant_error(const float *x, const float *decoded, int64_t nrows,
                      int64_t ncols, const float *weights);

/* Deterministic pseudo-random numbers (splitmix64). */
typedef struct tu_rng {
    uint64_t state;
} tu_rng;
uint64_t tu_rng_next(tu_rng *r);
double tu_rng_uniform(tu_rng *r);  /* [0, 1) */
double tu_rng_gauss(tu_rng *r);

#endif
