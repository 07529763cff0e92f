/*
 * Thread pool of lq_matmul_ctx. A job is published under the mutex with a
 * new generation number; workers run it once per generation and the last
 * one to finish wakes the caller.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "pool.h"

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
    uint64_t generation;
    int running;          /* workers still in the current job */
    bool stop;
    lq_pool_job job;
    void *arg;
};

static void *worker_main(void *p) {
    worker *self = p;
    lq_pool *pool = self->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        while (!pool->stop && pool->generation == seen)
            pthread_cond_wait(&pool->wake, &pool->mutex);
        if (pool->stop)
            break;
        seen = pool->generation;
        lq_pool_job job = pool->job;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mutex);
        job(arg, self->index, pool->nthreads);
        pthread_mutex_lock(&pool->mutex);
        if (--pool->running == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mutex);
    return NULL;
}

lq_pool *lq_pool_new(int nthreads) {
    if (nthreads < 1)
        return NULL;
    lq_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->nthreads = nthreads;
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
    pool->stop = true;
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
        pthread_mutex_lock(&pool->mutex);
        pool->job = job;
        pool->arg = arg;
        pool->running = pool->nthreads - 1;
        pool->generation++;
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    job(arg, 0, pool->nthreads);
    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->mutex);
        while (pool->running > 0)
            pthread_cond_wait(&pool->done, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}
