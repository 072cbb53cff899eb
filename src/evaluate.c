// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// evaluate.c: the meta-test protocol. An initialization is adapted on the
// held-out tasks of the test split (fixed by task.test_seed, never drawn in
// training) for 0..K inner steps; the mean return after each step is what
// "adapts quickly" means. Every initialization sees the same tasks and the
// same exploration-noise streams, so differences come from the parameters.

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "metarl.h"

typedef struct {
  const mrlConfig* cfg;
  const mrlFamily* fam;
  const double* params;
  mrlLearner** learners;
  int nstep;
  uint64_t seed;
  mrlAdaptCurve* curve;
} EvalJob;

static void eval_job(void* ctx, int worker, int job) {
  EvalJob* ej = ctx;
  double* task = mrl_alloc(sizeof(double) * ej->fam->ntask);
  mrl_task_sample(ej->fam, ej->cfg, 1, 0, job, task);
  mrl_inner_adapt(ej->cfg, ej->learners[worker], task, ej->params, ej->nstep - 1, ej->seed, 0, job,
                  0, ej->curve->returns + (size_t)job * ej->nstep);
  free(task);
}

void mrl_eval_adapt(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                    const double* params, int ntask, int nstep, int neps, uint64_t seed,
                    mrlAdaptCurve* curve) {
  mrlPool* pool = mrl_pool_make(cfg->threads);
  int nworker = mrl_pool_size(pool);
  EvalJob ej = {cfg, fam, params, NULL, nstep, seed, curve};
  ej.learners = mrl_alloc(sizeof(mrlLearner*) * nworker);
  for (int w = 0; w < nworker; w++) ej.learners[w] = mrl_learner_make(cfg, fam, pol, neps);
  curve->ntask = ntask;
  curve->nstep = nstep;
  mrl_pool_run(pool, ntask, eval_job, &ej);
  mrl_pool_free(pool);
  for (int w = 0; w < nworker; w++) mrl_learner_free(ej.learners[w]);
  free(ej.learners);
}

void mrl_curve_stats(const mrlAdaptCurve* curve, int step, double* mean, double* ci95) {
  double s = 0, ss = 0;
  int n = curve->ntask;
  for (int j = 0; j < n; j++) s += curve->returns[(size_t)j * curve->nstep + step];
  *mean = s / n;
  for (int j = 0; j < n; j++) {
    double d = curve->returns[(size_t)j * curve->nstep + step] - *mean;
    ss += d * d;
  }
  double se = n > 1 ? sqrt(ss / (n - 1) / n) : 0;
  *ci95 = 1.96 * se;
}

int mrl_eval_run(const char* rundir, const mrlEvalOptions* opt, FILE* out, char* err,
                 size_t errlen) {
  char path[4096];
  mrlConfig cfg;
  mrl_config_default(&cfg);
  snprintf(path, sizeof(path), "%s/config.yaml", rundir);
  struct stat st;
  if (stat(rundir, &st) || !S_ISDIR(st.st_mode) || stat(path, &st)) {
    mrl_error(err, errlen, "'%s' is not a run directory (no config.yaml in it)", rundir);
    return MRL_EXIT_USAGE;
  }
  if (mrl_config_load(&cfg, path, err, errlen) || mrl_config_check(&cfg, err, errlen)) {
    return MRL_EXIT_USAGE;
  }
  int ntask = opt->tasks > 0 ? opt->tasks : cfg.eval.tasks;
  int nstep = (opt->steps >= 0 ? opt->steps : cfg.eval.steps) + 1;
  int neps = opt->episodes > 0 ? opt->episodes : cfg.eval.episodes;
  if (opt->lr > 0) cfg.inner.lr = opt->lr;
  if (opt->threads >= 0) cfg.threads = opt->threads;

  mrlFamily* fam = mrl_family_make(&cfg, err, errlen);
  if (!fam) return MRL_EXIT_USAGE;
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  double* inits = mrl_alloc(sizeof(double) * 2 * pol.nparam);
  int iteration = 0;
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
  if (mrl_checkpoint_load(path, &pol, inits, &iteration, err, errlen)) {
    free(inits);
    mrl_family_free(fam);
    return MRL_EXIT_USAGE;
  }
  mrlRng rng;
  mrl_rng_init(&rng, opt->seed, MRL_RNG_EVAL, 0, 0, 0);
  mrl_policy_init(&pol, &rng, inits + pol.nparam);
  const char* names[2] = {"meta-learned", "random"};

  mrlAdaptCurve curves[2];
  for (int c = 0; c < 2; c++) {
    curves[c].returns = mrl_alloc(sizeof(double) * ntask * nstep);
    mrl_eval_adapt(&cfg, fam, &pol, inits + (size_t)c * pol.nparam, ntask, nstep, neps, opt->seed,
                   &curves[c]);
  }

  // per-task results, for plots and statistics beyond the table
  int code = MRL_EXIT_OK;
  snprintf(path, sizeof(path), "%s/eval", rundir);
  if (mkdir(path, 0755) && errno != EEXIST) {
    mrl_error(err, errlen, "cannot create '%s': %s", path, strerror(errno));
    code = MRL_EXIT_RUNTIME;
  }
  snprintf(path, sizeof(path), "%s/eval/adaptation.csv", rundir);
  FILE* csv = code == MRL_EXIT_OK ? fopen(path, "w") : NULL;
  if (code == MRL_EXIT_OK && !csv) {
    mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    code = MRL_EXIT_RUNTIME;
  }
  if (csv) {
    fprintf(csv, "init,task");
    for (int k = 0; k < fam->ntask; k++) fprintf(csv, ",%s", fam->task_names[k]);
    fprintf(csv, ",step,return,episodes\n");
    double* task = mrl_alloc(sizeof(double) * fam->ntask);
    for (int c = 0; c < 2; c++) {
      for (int j = 0; j < ntask; j++) {
        mrl_task_sample(fam, &cfg, 1, 0, j, task);
        for (int s = 0; s < nstep; s++) {
          fprintf(csv, "%s,%d", names[c], j);
          for (int k = 0; k < fam->ntask; k++) fprintf(csv, ",%.17g", task[k]);
          fprintf(csv, ",%d,%.17g,%d\n", s, curves[c].returns[(size_t)j * nstep + s], neps);
        }
      }
    }
    free(task);
    if (fclose(csv)) {
      mrl_error(err, errlen, "cannot finish '%s': %s", path, strerror(errno));
      code = MRL_EXIT_RUNTIME;
    }
  }

  if (out) {
    fprintf(out,
            "%s: checkpoint of iteration %d, %d held-out tasks (task.test_seed %llu), "
            "%d episodes per step, inner lr %g, eval seed %llu\n",
            cfg.env.name, iteration, ntask, (unsigned long long)cfg.task.test_seed, neps,
            cfg.inner.lr, (unsigned long long)opt->seed);
    fprintf(out, "%-6s", "step");
    for (int c = 0; c < 2; c++) fprintf(out, "  %-24s", names[c]);
    fprintf(out, "\n");
    for (int s = 0; s < nstep; s++) {
      fprintf(out, "%-6d", s);
      for (int c = 0; c < 2; c++) {
        double mean, ci;
        mrl_curve_stats(&curves[c], s, &mean, &ci);
        char cell[64];
        snprintf(cell, sizeof(cell), "%.2f +- %.2f", mean, ci);
        fprintf(out, "  %-24s", cell);
      }
      fprintf(out, "\n");
    }
    fprintf(out, "(mean return over tasks +- 95%% confidence half-width; per task: %s)\n", path);
  }
  for (int c = 0; c < 2; c++) free(curves[c].returns);
  free(inits);
  mrl_family_free(fam);
  return code;
}
