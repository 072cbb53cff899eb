// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_numerics.c: no NaN or Inf ever reaches phi. A point_nav family whose
// step is wrapped to return NaN rewards on chosen tasks (this test only: the
// wrapper is installed through mrl_trainer_family) and huge learning rates
// force each numerical event; each must be counted in the progress row and
// leave phi finite, unchanged when the update is skipped. Last, Adam's step
// against the paper's formula, to the bit.

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

// The wrapped family: the task set last on this worker thread decides
// whether its rewards are NaN (goal x > nan_above).
static void (*orig_set_task)(mrlEnv* env, const double* task);
static void (*orig_step)(mrlEnv* env, int i, const double* act, double* obs, double* reward,
                         int* done);
static double nan_above;
static double reward_scale = 1;  // every reward times this
static _Thread_local double goal_x;

static void nan_set_task(mrlEnv* env, const double* task) {
  goal_x = task[0];
  orig_set_task(env, task);
}

static void nan_step(mrlEnv* env, int i, const double* act, double* obs, double* reward,
                     int* done) {
  orig_step(env, i, act, obs, reward, done);
  *reward *= reward_scale;
  if (goal_x > nan_above) *reward = NAN;
}

static void small_config(mrlConfig* cfg, mrlOuterAlgo algo) {
  mrl_config_default(cfg);
  cfg->seed = 5;
  cfg->threads = 2;
  cfg->policy.nhidden = 1;
  cfg->policy.hidden[0] = 16;
  cfg->inner.steps = 1;
  cfg->inner.episodes = 4;
  cfg->outer.algo = algo;
  cfg->outer.meta_batch = 6;
  cfg->outer.iterations = 20;
  cfg->eval.every = 0;
}

static mrlTrainer* make_nan_trainer(const mrlConfig* cfg, double above) {
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  mrlFamily* fam = mrl_trainer_family(tr);
  orig_set_task = fam->set_task;
  orig_step = fam->step;
  fam->set_task = nan_set_task;
  fam->step = nan_step;
  nan_above = above;
  return tr;
}

static int all_finite(const double* x, int n) {
  for (int i = 0; i < n; i++) {
    if (!isfinite(x[i])) return 0;
  }
  return 1;
}

// Tasks with goal x > 0 return NaN rewards: they are left out, counted with
// their failed baseline fits, and the others still move phi.
static void check_nan_tasks_skipped(mrlOuterAlgo algo, mrlOptimKind optim) {
  mrlConfig cfg;
  small_config(&cfg, algo);
  cfg.outer.optim = optim;
  mrlTrainer* tr = make_nan_trainer(&cfg, 0.0);
  int n = mrl_trainer_policy(tr)->nparam;
  double* before = malloc(sizeof(double) * n);
  char err[MRL_ERRLEN];
  int moved = 0;
  for (int it = 0; it < 4; it++) {
    int expect = 0;
    for (int j = 0; j < cfg.outer.meta_batch; j++) {
      double task[2];
      mrl_task_sample(mrl_trainer_family(tr), &cfg, 0, it, j, task);
      expect += task[0] > 0;
    }
    memcpy(before, mrl_trainer_params(tr), sizeof(double) * n);
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
    cr_assert(all_finite(mrl_trainer_params(tr), n), "non-finite phi at iteration %d", it);
    cr_assert_eq(row.skipped_tasks, expect, "iteration %d: %d tasks skipped, %d had NaN rewards",
                 it, row.skipped_tasks, expect);
    // every NaN task fails its baseline fit at least once (returns are NaN)
    cr_assert_geq(row.baseline_failures, expect);
    cr_assert_eq(row.skipped_update, expect == cfg.outer.meta_batch);
    if (expect < cfg.outer.meta_batch) {
      moved += memcmp(before, mrl_trainer_params(tr), sizeof(double) * n) != 0;
    }
  }
  cr_assert_gt(moved, 0, "the finite tasks never moved phi");
  free(before);
  mrl_trainer_free(tr);
}

Test(numerics, nan_reward_tasks_are_skipped_reptile) {
  check_nan_tasks_skipped(MRL_OUTER_REPTILE, MRL_OPT_ADAM);
}

Test(numerics, nan_reward_tasks_are_skipped_fomaml_adam) {
  check_nan_tasks_skipped(MRL_OUTER_FOMAML, MRL_OPT_ADAM);
}

Test(numerics, nan_reward_tasks_are_skipped_maml_trpo) {
  check_nan_tasks_skipped(MRL_OUTER_MAML, MRL_OPT_TRPO);
}

// Every task NaN: the update is skipped (phi bit for bit as it was) and, after
// MRL_MAX_SKIPPED_UPDATES in a row, the run stops with a message.
Test(numerics, all_tasks_nan_skip_then_stop) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  mrlTrainer* tr = make_nan_trainer(&cfg, -1.0);
  int n = mrl_trainer_policy(tr)->nparam;
  double* phi0 = malloc(sizeof(double) * n);
  memcpy(phi0, mrl_trainer_params(tr), sizeof(double) * n);
  char err[MRL_ERRLEN] = "";
  for (int it = 0; it < MRL_MAX_SKIPPED_UPDATES - 1; it++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(row.skipped_tasks, cfg.outer.meta_batch);
    cr_assert_eq(row.skipped_update, 1);
    cr_assert_eq(row.step_size, 0);
    cr_assert_eq(memcmp(phi0, mrl_trainer_params(tr), sizeof(double) * n), 0);
    cr_assert_eq(mrl_trainer_outer_optim(tr)->t, 0, "the outer optimizer stepped");
  }
  mrlProgress row;
  cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), -1);
  // as the README's Errors table prints it
  cr_assert_str_eq(err,
                   "iteration 9: 10 updates in a row were not finite (the inner or outer step "
                   "diverged: 0 of 6 tasks left); phi is left as it was: lower inner.lr or "
                   "outer.lr");
  cr_assert_eq(memcmp(phi0, mrl_trainer_params(tr), sizeof(double) * n), 0);
  free(phi0);
  mrl_trainer_free(tr);
}

// An outer step that overflows (sgd at the largest double, on a gradient of
// raw returns of about -50, so some component is above 1): undone, so phi and
// the optimizer are as they were, and counted.
Test(numerics, overflowing_outer_step_is_undone) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  cfg.outer.optim = MRL_OPT_SGD;
  cfg.outer.lr = DBL_MAX;
  cfg.rl.baseline = MRL_BASELINE_ZERO;
  cfg.rl.normalize_advantages = 0;
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(&cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  int n = mrl_trainer_policy(tr)->nparam;
  double* phi0 = malloc(sizeof(double) * n);
  memcpy(phi0, mrl_trainer_params(tr), sizeof(double) * n);
  mrlProgress row;
  cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(row.skipped_tasks, 0);
  cr_assert_eq(row.skipped_update, 1);
  cr_assert_eq(memcmp(phi0, mrl_trainer_params(tr), sizeof(double) * n), 0);
  free(phi0);
  mrl_trainer_free(tr);
}

// Rewards of 1e160 give a finite gradient whose square overflows Adam's
// second moment; phi would stay finite (the step is m / sqrt(inf) = 0) and
// then freeze, and the state could not be checkpointed. The step is undone.
Test(numerics, overflowing_adam_moment_is_undone) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  cfg.outer.optim = MRL_OPT_ADAM;
  cfg.inner.steps = 0;  // the gradient at phi: no inner step to diverge first
  cfg.rl.baseline = MRL_BASELINE_ZERO;
  cfg.rl.normalize_advantages = 0;
  mrlTrainer* tr = make_nan_trainer(&cfg, INFINITY);
  reward_scale = 1e160;
  int n = mrl_trainer_policy(tr)->nparam;
  double* phi0 = malloc(sizeof(double) * n);
  memcpy(phi0, mrl_trainer_params(tr), sizeof(double) * n);
  mrlProgress row;
  char err[MRL_ERRLEN] = "";
  int rc = mrl_trainer_iterate(tr, &row, err, sizeof(err));
  reward_scale = 1;
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(row.skipped_tasks, 0);
  cr_assert_eq(row.skipped_update, 1);
  cr_assert_eq(memcmp(phi0, mrl_trainer_params(tr), sizeof(double) * n), 0);
  mrlOptim* opt = mrl_trainer_outer_optim(tr);
  cr_assert_eq(opt->t, 0, "the outer optimizer stepped");
  cr_assert(all_finite(opt->m, n) && all_finite(opt->v, n));
  free(phi0);
  mrl_trainer_free(tr);
}

// A diverging inner step (a huge inner learning rate): every task's theta
// overflows, every task is left out, phi never sees it.
Test(numerics, diverging_inner_step_is_skipped) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_REPTILE);
  cfg.inner.lr = 1e300;
  cfg.inner.steps = 2;
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(&cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  int n = mrl_trainer_policy(tr)->nparam;
  int skipped = 0;
  for (int it = 0; it < 3; it++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
    cr_assert(all_finite(mrl_trainer_params(tr), n));
    skipped += row.skipped_tasks;
  }
  cr_assert_gt(skipped, 0, "no task diverged at inner.lr 1e300");
  mrl_trainer_free(tr);
}

// The three counters are progress.csv columns, after the garage ones.
Test(numerics, counters_are_progress_columns) {
  const char* want[] = {"Numerics/SkippedTasks", "Numerics/BaselineFailures",
                        "Numerics/SkippedUpdate"};
  int n = mrl_progress_ncolumns;
  for (int i = 0; i < 3; i++) cr_assert_str_eq(mrl_progress_columns[n - 3 + i], want[i]);
  mrlProgress row;
  memset(&row, 0, sizeof(row));
  row.skipped_tasks = 2;
  row.baseline_failures = 5;
  row.skipped_update = 1;
  double values[64];
  mrl_progress_values(&row, values);
  cr_assert_eq(values[n - 3], 2);
  cr_assert_eq(values[n - 2], 5);
  cr_assert_eq(values[n - 1], 1);
}

// Adam's step is the paper's efficient form (Kingma and Ba 2015, section 2:
// step lr sqrt(1 - b2^t) / (1 - b1^t), epsilon added to sqrt(v)) to the bit,
// on an odd length so the vectorized loop's tail is checked too.
Test(numerics, adam_step_is_the_papers_update_to_the_bit) {
  enum { N = 37 };
  mrlOptim opt;
  mrl_optim_init(&opt, MRL_OPT_ADAM, N, 0.01);
  double p[N], ref[N], m[N] = {0}, v[N] = {0}, g[N];
  for (int i = 0; i < N; i++) p[i] = ref[i] = 0.1 * i - 1.5;
  for (int t = 1; t <= 4; t++) {
    for (int i = 0; i < N; i++) g[i] = sin(0.7 * i * t) * (i % 5 ? 1.0 : 1e-9);
    mrl_optim_step(&opt, p, g, 0.01);
    double step = 0.01 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
    for (int i = 0; i < N; i++) {
      m[i] = 0.9 * m[i] + (1 - 0.9) * g[i];
      v[i] = 0.999 * v[i] + (1 - 0.999) * g[i] * g[i];
      ref[i] -= step * m[i] / (sqrt(v[i]) + 1e-8);
    }
    cr_assert_eq(memcmp(p, ref, sizeof(p)), 0, "step %d", t);
  }
  cr_assert_eq(opt.t, 4);
  mrl_optim_free(&opt);
}
