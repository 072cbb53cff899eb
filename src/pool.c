// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// pool.c: a fixed pool of worker threads that run the jobs of one batch
// (the tasks of a meta-batch) and return when all are done. Jobs are handed
// out dynamically; determinism comes from each job writing only its own slot
// and drawing only from streams keyed by its job, never by its worker.

#include <pthread.h>
#include <unistd.h>

#include "metarl.h"

struct mrlPool_ {
  int nthreads;
  pthread_t* threads;
  pthread_mutex_t lock;
  pthread_cond_t work_ready;  // a new batch or shutdown
  pthread_cond_t work_done;   // the last job of a batch finished
  long generation;            // batches started
  int shutdown;
  // the current batch
  mrlPoolFn fn;
  void* ctx;
  int njobs, next_job, running;
};

typedef struct {
  mrlPool* pool;
  int worker;
} ThreadArg;

static void* thread_main(void* p) {
  ThreadArg arg = *(ThreadArg*)p;
  free(p);
  mrlPool* pool = arg.pool;
  long seen = 0;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    while (!pool->shutdown && pool->generation == seen) {
      pthread_cond_wait(&pool->work_ready, &pool->lock);
    }
    if (pool->shutdown) break;
    seen = pool->generation;
    while (pool->next_job < pool->njobs) {
      int job = pool->next_job++;
      pool->running++;
      pthread_mutex_unlock(&pool->lock);
      pool->fn(pool->ctx, arg.worker, job);
      pthread_mutex_lock(&pool->lock);
      pool->running--;
    }
    if (pool->running == 0) pthread_cond_broadcast(&pool->work_done);
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

int mrl_pool_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

mrlPool* mrl_pool_make(int nthreads) {
  mrlPool* pool = mrl_alloc(sizeof(mrlPool));
  pool->nthreads = nthreads > 0 ? nthreads : mrl_pool_default_threads();
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->work_ready, NULL);
  pthread_cond_init(&pool->work_done, NULL);
  if (pool->nthreads > 1) {
    pool->threads = mrl_alloc(sizeof(pthread_t) * pool->nthreads);
    for (int i = 0; i < pool->nthreads; i++) {
      ThreadArg* arg = mrl_alloc(sizeof(ThreadArg));
      arg->pool = pool;
      arg->worker = i;
      if (pthread_create(&pool->threads[i], NULL, thread_main, arg)) {
        mrl_fatal(__FILE__, __LINE__, "cannot start worker thread %d", i);
      }
    }
  }
  return pool;
}

int mrl_pool_size(const mrlPool* pool) {
  return pool->nthreads;
}

void mrl_pool_run(mrlPool* pool, int njobs, mrlPoolFn fn, void* ctx) {
  if (pool->nthreads == 1) {  // no thread hand-off for a single worker
    for (int j = 0; j < njobs; j++) fn(ctx, 0, j);
    return;
  }
  pthread_mutex_lock(&pool->lock);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->njobs = njobs;
  pool->next_job = 0;
  pool->running = 0;
  pool->generation++;
  pthread_cond_broadcast(&pool->work_ready);
  while (pool->next_job < pool->njobs || pool->running > 0) {
    pthread_cond_wait(&pool->work_done, &pool->lock);
  }
  pthread_mutex_unlock(&pool->lock);
}

void mrl_pool_free(mrlPool* pool) {
  if (!pool) return;
  if (pool->threads) {
    pthread_mutex_lock(&pool->lock);
    pool->shutdown = 1;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++) pthread_join(pool->threads[i], NULL);
    free(pool->threads);
  }
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->work_ready);
  pthread_cond_destroy(&pool->work_done);
  free(pool);
}
