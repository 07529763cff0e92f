/*
 * Thread pool of lq_matmul_ctx. A job is published with a new generation
 * number; workers run it once per generation and the last one to finish
 * wakes the caller.
 *
 * Waiting spins for a short while (SPIN_NS, 2 ms) before it sleeps on a
 * condition variable: the calls of a forward pass follow each other within
 * microseconds to a millisecond or two, and waking a sleeping thread costs
 * tens of microseconds on bare metal but up to a millisecond on a virtual
 * machine whose idle vCPU was halted (measured: with a 200 us spin, 16
 * vectors x 4096 x 4096 ran at one thread's speed in half the runs, the
 * worker asleep at every call); a pool left idle must not burn its cores,
 * so past the spin everyone sleeps.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "pool.h"

enum { SPIN_NS = 2000 * 1000, SPIN_CHECK = 64 };

typedef struct worker {
    lq_pool *pool;
    int index;
    pthread_t thread;
} worker;

struct lq_pool {
    int nthreads;
    worker *workers; /* nthreads - 1 of them */
    int started;
    pthread_mutex_t mutex;
    pthread_cond_t wake;  /* a new job or stop */
    pthread_cond_t done;  /* the last worker finished */
    _Atomic uint64_t generation;
    _Atomic int running;  /* workers still in the current job */
    _Atomic bool stop;
    lq_pool_job job;      /* written before the generation is published */
    void *arg;
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spin until done(arg) or SPIN_NS pass; returns done(arg). */
static bool spin_until(bool (*done)(lq_pool *, uint64_t), lq_pool *pool, uint64_t value) {
    int64_t start = -1;
    for (int i = 1;; i++) {
        if (done(pool, value))
            return true;
        cpu_relax();
        if (i % SPIN_CHECK == 0) {
            int64_t t = now_ns();
            if (start < 0)
                start = t;
            else if (t - start > SPIN_NS)
                return done(pool, value);
        }
    }
}

static bool new_generation(lq_pool *pool, uint64_t seen) {
    return atomic_load_explicit(&pool->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&pool->stop, memory_order_acquire);
}

static bool all_finished(lq_pool *pool, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&pool->running, memory_order_acquire) == 0;
}

static void *worker_main(void *p) {
    worker *self = p;
    lq_pool *pool = self->pool;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(new_generation, pool, seen)) {
            pthread_mutex_lock(&pool->mutex);
            while (!new_generation(pool, seen))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire))
            break;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        pool->job(pool->arg, self->index, pool->nthreads);
        if (atomic_fetch_sub_explicit(&pool->running, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

lq_pool *lq_pool_new(int nthreads) {
    if (nthreads < 1)
        return NULL;
    lq_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->nthreads = nthreads;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->running, 0);
    atomic_init(&pool->stop, false);
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool);
        return NULL;
    }
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (nthreads > 1) {
        pool->workers = calloc((size_t)(nthreads - 1), sizeof *pool->workers);
        if (!pool->workers) {
            lq_pool_free(pool);
            return NULL;
        }
    }
    for (int i = 0; i < nthreads - 1; i++) {
        worker *w = &pool->workers[i];
        w->pool = pool;
        w->index = i + 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            lq_pool_free(pool);
            return NULL;
        }
        pool->started++;
    }
    return pool;
}

void lq_pool_free(lq_pool *pool) {
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store_explicit(&pool->stop, true, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 0; i < pool->started; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

int lq_pool_threads(const lq_pool *pool) { return pool->nthreads; }

void lq_pool_run(lq_pool *pool, lq_pool_job job, void *arg) {
    if (pool->nthreads > 1) {
        pool->job = job;
        pool->arg = arg;
        atomic_store_explicit(&pool->running, pool->nthreads - 1, memory_order_relaxed);
        pthread_mutex_lock(&pool->mutex);
        atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    job(arg, 0, pool->nthreads);
    if (pool->nthreads > 1 && !spin_until(all_finished, pool, 0)) {
        pthread_mutex_lock(&pool->mutex);
        while (!all_finished(pool, 0))
            pthread_cond_wait(&pool->done, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}
