/*
 * A fixed pool of worker threads owned by one lq_matmul_ctx: threads are
 * created once and woken for each job; the calling thread takes part as
 * thread 0. One job at a time.
 */
#ifndef LIBQUANT_KERNELS_POOL_H
#define LIBQUANT_KERNELS_POOL_H

/* Runs on every thread; ithread in [0, nthreads). */
typedef void (*lq_pool_job)(void *arg, int ithread, int nthreads);

typedef struct lq_pool lq_pool;

/* NULL if a thread or the memory could not be created. */
lq_pool *lq_pool_new(int nthreads);
void lq_pool_free(lq_pool *pool);
int lq_pool_threads(const lq_pool *pool);
/* Run job on all threads and return when every one has finished. */
void lq_pool_run(lq_pool *pool, lq_pool_job job, void *arg);

#endif
