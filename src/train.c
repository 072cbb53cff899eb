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
  mrlLearner** learners;  // (nworker)
  double* task_params;    // (meta_batch, ntask)
  double* results;        // (meta_batch, nparam) per-task update direction
  double* returns;        // (meta_batch, steps + 1) per-task mean returns
  long* task_steps;       // (meta_batch) env steps per task
  double* mean_result;    // (nparam)
  int iteration;          // iterations done
  long total_steps;
  double start_time;
};


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
  tr->mean_result = mrl_alloc(sizeof(double) * n);
  tr->start_time = mrl_now();
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
  tr->task_steps[job] = mrl_inner_adapt(cfg, ln, task, tr->phi, k, cfg->seed, tr->iteration, job,
                                        need_query, returns);
  if (cfg->outer.algo == MRL_OUTER_REPTILE) {
    for (int i = 0; i < n; i++) result[i] = ln->theta[i] - tr->phi[i];
  } else {
    // fomaml: gradient at theta_k on the query batch; joint: k = 0, at phi
    double t0 = mrl_now();
    mrl_pg_loss_grad(&tr->pol, ln->theta, ln->work, ln->batch, result);
    ln->phase_seconds[MRL_PHASE_OUTER] += mrl_now() - t0;
  }
  if (k < cfg->inner.steps) {  // joint: no adaptation, "after" equals "before"
    for (int s = k + 1; s < nret; s++) returns[s] = returns[k];
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
  double before[MRL_NPHASE] = {0};
  for (int w = 0; w < nworker; w++) {
    for (int p = 0; p < MRL_NPHASE; p++) before[p] += tr->learners[w]->phase_seconds[p];
  }
  mrl_pool_run(tr->pool, m, task_job, tr);
  double t0 = mrl_now();

  // reduce in task order: the same additions in the same order for any threads
  memset(tr->mean_result, 0, sizeof(double) * n);
  long steps = 0;
  for (int j = 0; j < m; j++) {
    const double* r = tr->results + (size_t)j * n;
    for (int i = 0; i < n; i++) tr->mean_result[i] += r[i];
    steps += tr->task_steps[j];
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

  tr->total_steps += steps;
  for (int p = 0; p < MRL_NPHASE; p++) {
    row->phase_seconds[p] = -before[p];
    for (int w = 0; w < nworker; w++) row->phase_seconds[p] += tr->learners[w]->phase_seconds[p];
  }
  row->phase_seconds[MRL_PHASE_OUTER] += mrl_now() - t0;
  row->phase_seconds[MRL_PHASE_LOG] = 0;  // the caller's
  row->iteration = tr->iteration;
  row->total_env_steps = tr->total_steps;
  mean_std(tr->returns, m, nret, &row->return_pre, &row->std_pre);
  mean_std(tr->returns + nret - 1, m, nret, &row->return_post, &row->std_post);
  row->step_size = step;
  row->seconds = mrl_now() - tr->start_time;
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
  char path[MRL_STRLEN * 4];
  snprintf(path, sizeof(path), "%s/progress.csv", rundir);
  FILE* csv = fopen(path, "w");
  if (!csv) {
    mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    mrl_trainer_free(tr);
    return MRL_EXIT_RUNTIME;
  }
  fprintf(csv,
          "Iteration,TotalEnvSteps,AverageReturnPre,AverageReturnPost,StdReturnPre,"
          "StdReturnPost,OuterStepSize,Time\n");
  fflush(csv);

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
  while (tr->iteration < cfg->outer.iterations) {
    mrlProgress row;
    if (mrl_trainer_iterate(tr, &row, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
      break;
    }
    fprintf(csv, "%d,%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f\n", row.iteration, row.total_env_steps,
            row.return_pre, row.return_post, row.std_pre, row.std_post, row.step_size, row.seconds);
    fflush(csv);
    if (out) {
      fprintf(out, "iter %5d  steps %10ld  return pre %9.3f  post %9.3f  step %.4g  %7.1fs\n",
              row.iteration, row.total_env_steps, row.return_pre, row.return_post, row.step_size,
              row.seconds);
      fflush(out);
    }
    int last = tr->iteration == cfg->outer.iterations;
    if (last || interrupted || tr->iteration % cfg->log.checkpoint_every == 0) {
      if (save_checkpoints(rundir, tr, err, errlen)) {
        code = MRL_EXIT_RUNTIME;
        break;
      }
    }
    if (interrupted) {
      mrl_error(err, errlen, "interrupted at iteration %d; checkpoint saved in %s/checkpoints",
                tr->iteration, rundir);
      code = MRL_EXIT_INTERRUPTED;
      break;
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (fclose(csv) && code == MRL_EXIT_OK) {
    mrl_error(err, errlen, "cannot finish '%s/progress.csv': %s", rundir, strerror(errno));
    code = MRL_EXIT_RUNTIME;
  }
  mrl_trainer_free(tr);
  return code;
}
