// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// train.c: the outer loop. Each meta-iteration adapts phi to a meta-batch of
// training tasks on the worker threads, reduces the per-task results in task
// order (so the sum is the same whatever the thread count) and updates phi:
//   reptile: phi += eps_i * mean(theta_k - phi), eps annealed linearly;
//   fomaml:  phi -= outer step of mean(grad L(theta_k)) on the query batch;
//   joint:   phi -= outer step of mean(grad L(phi)) (pooled pre-training).

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "metarl.h"

struct mrlTrainer_ {
  mrlConfig cfg;
  mrlFamily* fam;
  mrlPolicy pol;
  double* phi;     // (nparam) meta-parameters
  mrlOptim outer;  // fomaml and joint
  mrlPool* pool;
  mrlLearner** learners;      // (nworker)
  double* task_params;        // (meta_batch, ntask)
  double* results;            // (meta_batch, nparam) per-task update direction
  double* returns;            // (meta_batch, steps + 1) per-task mean returns
  long* task_steps;           // (meta_batch) env steps per task
  mrlBatchStats* task_stats;  // (meta_batch, steps + 1) per-task batch statistics
  double* mean_result;        // (nparam)
  int iteration;              // iterations done
  long total_steps;
  double start_time;
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

mrlTrainer* mrl_trainer_make(const mrlConfig* cfg, char* err, size_t errlen) {
  mrlFamily* fam = mrl_family_make(cfg, err, errlen);
  if (!fam) return NULL;
  mrlTrainer* tr = mrl_alloc(sizeof(mrlTrainer));
  tr->cfg = *cfg;
  tr->fam = fam;
  mrl_policy_setup(&tr->pol, cfg, fam->nobs, fam->nact);
  int n = tr->pol.nparam, m = cfg->outer.meta_batch;
  tr->phi = mrl_alloc(sizeof(double) * n);
  mrlRng rng;
  mrl_rng_init(&rng, cfg->seed, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&tr->pol, &rng, tr->phi);
  mrl_optim_init(&tr->outer, cfg->outer.optim, n, cfg->outer.lr);
  tr->pool = mrl_pool_make(cfg->threads);
  int nworker = mrl_pool_size(tr->pool);
  tr->learners = mrl_alloc(sizeof(mrlLearner*) * nworker);
  for (int w = 0; w < nworker; w++) {
    tr->learners[w] = mrl_learner_make(cfg, fam, &tr->pol, cfg->inner.episodes);
  }
  tr->task_params = mrl_alloc(sizeof(double) * m * fam->ntask);
  tr->results = mrl_alloc(sizeof(double) * (size_t)m * n);
  tr->returns = mrl_alloc(sizeof(double) * m * (cfg->inner.steps + 1));
  tr->task_steps = mrl_alloc(sizeof(long) * m);
  tr->task_stats = mrl_alloc(sizeof(mrlBatchStats) * m * (cfg->inner.steps + 1));
  tr->mean_result = mrl_alloc(sizeof(double) * n);
  tr->start_time = now_seconds();
  return tr;
}

void mrl_trainer_free(mrlTrainer* tr) {
  if (!tr) return;
  int nworker = mrl_pool_size(tr->pool);
  mrl_pool_free(tr->pool);
  for (int w = 0; w < nworker; w++) mrl_learner_free(tr->learners[w]);
  free(tr->learners);
  mrl_optim_free(&tr->outer);
  mrl_family_free(tr->fam);
  free(tr->phi);
  free(tr->task_params);
  free(tr->results);
  free(tr->returns);
  free(tr->task_steps);
  free(tr->task_stats);
  free(tr->mean_result);
  free(tr);
}

double* mrl_trainer_params(mrlTrainer* tr) {
  return tr->phi;
}

const mrlPolicy* mrl_trainer_policy(const mrlTrainer* tr) {
  return &tr->pol;
}

int mrl_trainer_iteration(const mrlTrainer* tr) {
  return tr->iteration;
}

// One task of the meta-batch on one worker: writes only its own slots.
static void task_job(void* ctx, int worker, int job) {
  mrlTrainer* tr = ctx;
  const mrlConfig* cfg = &tr->cfg;
  mrlLearner* ln = tr->learners[worker];
  int n = tr->pol.nparam, k = cfg->outer.algo == MRL_OUTER_JOINT ? 0 : cfg->inner.steps;
  int nret = cfg->inner.steps + 1;
  double* task = tr->task_params + (size_t)job * tr->fam->ntask;
  double* result = tr->results + (size_t)job * n;
  double* returns = tr->returns + (size_t)job * nret;
  mrl_task_sample(tr->fam, cfg, 0, tr->iteration, job, task);
  int need_query = cfg->outer.algo != MRL_OUTER_REPTILE;
  mrlBatchStats* stats = tr->task_stats + (size_t)job * nret;
  ln->stats = stats;
  tr->task_steps[job] = mrl_inner_adapt(cfg, ln, task, tr->phi, k, cfg->seed, tr->iteration, job,
                                        need_query, returns);
  ln->stats = NULL;
  if (cfg->outer.algo == MRL_OUTER_REPTILE) {
    for (int i = 0; i < n; i++) result[i] = ln->theta[i] - tr->phi[i];
  } else {
    // fomaml: gradient at theta_k on the query batch; joint: k = 0, at phi
    mrl_pg_loss_grad(&tr->pol, ln->theta, ln->work, ln->batch, result);
  }
  if (k < cfg->inner.steps) {  // joint: no adaptation, "after" equals "before"
    for (int s = k + 1; s < nret; s++) {
      returns[s] = returns[k];
      stats[s] = stats[k];
    }
  }
}

static void mean_std(const double* x, int n, int stride, double* mean, double* std) {
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) s += x[(size_t)i * stride];
  *mean = s / n;
  for (int i = 0; i < n; i++) {
    double d = x[(size_t)i * stride] - *mean;
    ss += d * d;
  }
  *std = sqrt(ss / n);
}

// Reptile's step size: eps_i = (i/N) eps_end + (1 - i/N) eps_start.
static double reptile_eps(const mrlConfig* cfg, int iteration) {
  double frac = (double)iteration / cfg->outer.iterations;
  return frac * cfg->outer.eps_end + (1 - frac) * cfg->outer.eps_start;
}

int mrl_trainer_iterate(mrlTrainer* tr, mrlProgress* row, char* err, size_t errlen) {
  const mrlConfig* cfg = &tr->cfg;
  int n = tr->pol.nparam, m = cfg->outer.meta_batch, nret = cfg->inner.steps + 1;
  int nworker = mrl_pool_size(tr->pool);
  for (int w = 0; w < nworker; w++) memset(tr->learners[w]->seconds, 0, sizeof(double) * 3);
  mrl_pool_run(tr->pool, m, task_job, tr);
  double t_outer = now_seconds();

  // reduce in task order: the same additions in the same order for any threads
  memset(tr->mean_result, 0, sizeof(double) * n);
  for (int j = 0; j < m; j++) {
    const double* r = tr->results + (size_t)j * n;
    for (int i = 0; i < n; i++) tr->mean_result[i] += r[i];
    tr->total_steps += tr->task_steps[j];
  }
  for (int i = 0; i < n; i++) {
    tr->mean_result[i] /= m;
    if (!isfinite(tr->mean_result[i])) {
      return mrl_error(err, errlen,
                       "iteration %d: non-finite update (the inner or outer step diverged); "
                       "phi is left as it was: lower inner.lr or outer.lr",
                       tr->iteration);
    }
  }
  double step;
  if (cfg->outer.algo == MRL_OUTER_REPTILE) {
    step = reptile_eps(cfg, tr->iteration);
    for (int i = 0; i < n; i++) tr->phi[i] += step * tr->mean_result[i];
  } else {
    step = cfg->outer.lr;
    mrl_optim_step(&tr->outer, tr->phi, tr->mean_result, step);
  }

  row->iteration = tr->iteration;
  row->total_env_steps = tr->total_steps;
  mean_std(tr->returns, m, nret, &row->return_pre, &row->std_pre);
  mean_std(tr->returns + nret - 1, m, nret, &row->return_post, &row->std_post);
  row->step_size = step;
  mrl_return_stats_pool(tr->task_stats, m, nret, &row->pre);
  mrl_return_stats_pool(tr->task_stats + nret - 1, m, nret, &row->post);
  row->time_sampling = row->time_advantage = row->time_inner = 0;
  for (int w = 0; w < nworker; w++) {
    row->time_sampling += tr->learners[w]->seconds[0];
    row->time_advantage += tr->learners[w]->seconds[1];
    row->time_inner += tr->learners[w]->seconds[2];
  }
  row->time_outer = now_seconds() - t_outer;
  row->time_logging = 0;
  row->metatest = 0;
  row->seconds = now_seconds() - tr->start_time;
  tr->iteration++;
  return 0;
}

//------------------------------- the train job ------------------------------

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static int save_checkpoints(const char* rundir, mrlTrainer* tr, char* err, size_t errlen) {
  char path[MRL_STRLEN * 4];
  snprintf(path, sizeof(path), "%s/checkpoints/iter_%06d.ckpt", rundir, tr->iteration);
  if (mrl_checkpoint_save(path, &tr->pol, tr->phi, tr->iteration, err, errlen)) return -1;
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
  return mrl_checkpoint_save(path, &tr->pol, tr->phi, tr->iteration, err, errlen);
}

int mrl_train_run(const mrlConfig* cfg, const char* rundir, FILE* out, char* err, size_t errlen) {
  mrlTrainer* tr = mrl_trainer_make(cfg, err, errlen);
  if (!tr) return MRL_EXIT_USAGE;
  mrlLog* log = mrl_log_open(rundir, cfg->outer.iterations, out, err, errlen);
  if (!log) {
    mrl_trainer_free(tr);
    return MRL_EXIT_RUNTIME;
  }

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  interrupted = 0;

  if (out) {
    fprintf(out, "training %s (%s, %d params, %d threads) into %s\n", cfg->name, cfg->env.name,
            tr->pol.nparam, mrl_pool_size(tr->pool), rundir);
  }
  int code = MRL_EXIT_OK;
  double time_logging = 0;  // of the previous row
  while (tr->iteration < cfg->outer.iterations) {
    mrlProgress row;
    if (mrl_trainer_iterate(tr, &row, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
      break;
    }
    int last = tr->iteration == cfg->outer.iterations;
    // held-out meta-test: reads phi, draws from its own streams, changes nothing
    if (cfg->eval.every > 0 && (tr->iteration % cfg->eval.every == 0 || last)) {
      double t0 = now_seconds();
      // its own sampling streams, apart from every training iteration's
      mrlRng rng;
      mrl_rng_init(&rng, cfg->seed, MRL_RNG_EVAL, 0, 0, 0);
      mrl_eval_meta_test(cfg, tr->fam, &tr->pol, tr->phi, cfg->eval.train_tasks,
                         cfg->eval.steps + 1, cfg->eval.episodes, mrl_rng_u64(&rng),
                         &row.metatest_pre, &row.metatest_post, &row.metatest_post_sem);
      row.time_metatest = now_seconds() - t0;
      row.metatest = 1;
      row.seconds = now_seconds() - tr->start_time;
    }
    double t_log = now_seconds();
    row.time_logging = time_logging;
    if (mrl_log_write(log, &row, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
      break;
    }
    if (last || interrupted || tr->iteration % cfg->log.checkpoint_every == 0) {
      if (save_checkpoints(rundir, tr, err, errlen)) {
        code = MRL_EXIT_RUNTIME;
        break;
      }
    }
    time_logging = now_seconds() - t_log;
    if (interrupted) {
      mrl_error(err, errlen, "interrupted at iteration %d; checkpoint saved in %s/checkpoints",
                tr->iteration, rundir);
      code = MRL_EXIT_INTERRUPTED;
      break;
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  char close_err[MRL_ERRLEN];
  if (mrl_log_close(log, close_err, sizeof(close_err)) && code == MRL_EXIT_OK) {
    snprintf(err, errlen, "%s", close_err);
    code = MRL_EXIT_RUNTIME;
  }
  mrl_trainer_free(tr);
  return code;
}
