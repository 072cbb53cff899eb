// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// inner.c: the inner loop. The vanilla policy-gradient surrogate and the
// supervised MSE loss with their gradients, and the adaptation of an
// initialization to one task (vpg or ppo steps, see ppo.c).

#include <math.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "metarl.h"


const char* const mrl_phase_names[MRL_NPHASE] = {"sampling", "advantage", "inner update",
                                                 "outer update", "logging"};

double mrl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}


// Shared start of the losses: zero grad, forward every row of the batch;
// returns the number of valid rows (0: nothing to learn from, no forward).
static long loss_begin(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                       const mrlBatch* b, double* grad) {
  int rows = b->nenv * b->horizon;
  long valid = 0;
  for (int r = 0; r < rows; r++) valid += b->valid[r] > 0;
  memset(grad, 0, sizeof(double) * pol->nparam);
  if (valid) mrl_policy_forward(pol, params, work, b->obs, rows);
  return valid;
}

// L = -(1/M) sum_r A_r log pi(a_r | s_r) - c H over the M valid rows. Per row,
// dlogpi/dmean = (a - mean) / std^2 and dlogpi/dlogstd = z^2 - 1 with
// z = (a - mean) / std. Invalid rows carry A = 0 and add nothing.
double mrl_pg_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const mrlBatch* b, double* grad) {
  int rows = b->nenv * b->horizon, nact = b->nact;
  long valid = loss_begin(pol, params, work, b, grad);
  if (valid == 0) return 0;
  const double* logstd = params + pol->logstd_off;
  double* glogstd = grad + pol->logstd_off;
  double inv_var[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) inv_var[j] = exp(-2 * logstd[j]);
  double loss = 0, scale = 1.0 / valid;
  for (int r = 0; r < rows; r++) {
    double w = -b->adv[r] * scale;
    const double* a = b->act + (size_t)r * nact;
    const double* mean = work->mean + (size_t)r * nact;
    double* dmean = work->dmean + (size_t)r * nact;
    if (b->valid[r] <= 0) {
      memset(dmean, 0, sizeof(double) * nact);
      continue;
    }
    double lp = 0;
    for (int j = 0; j < nact; j++) {
      double d = a[j] - mean[j];
      double z2 = d * d * inv_var[j];
      lp += -0.5 * z2 - logstd[j] - 0.9189385332046727;
      dmean[j] = w * d * inv_var[j];
      glogstd[j] += w * (z2 - 1);
    }
    loss += w * lp;
  }
  mrl_policy_backward(pol, params, work, work->dmean, grad);
  return loss + mrl_entropy_bonus(pol, params, grad);
}

double mrl_mse_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                         const mrlBatch* b, double* grad) {
  int rows = b->nenv * b->horizon, nact = b->nact;
  long valid = loss_begin(pol, params, work, b, grad);
  if (valid == 0) return 0;
  double loss = 0, scale = 1.0 / valid;
  for (int r = 0; r < rows; r++) {
    const double* y = b->act + (size_t)r * nact;
    const double* mean = work->mean + (size_t)r * nact;
    double* dmean = work->dmean + (size_t)r * nact;
    for (int j = 0; j < nact; j++) {
      double d = b->valid[r] > 0 ? mean[j] - y[j] : 0;
      loss += scale * d * d;
      dmean[j] = 2 * scale * d;
    }
  }
  mrl_policy_backward(pol, params, work, work->dmean, grad);
  return loss;
}

double mrl_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                     const mrlBatch* b, double* grad) {
  if (b->supervised) return mrl_mse_loss_grad(pol, params, work, b, grad);
  return mrl_pg_loss_grad(pol, params, work, b, grad);
}

mrlLearner* mrl_learner_make(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                             int nenv) {
  // OpenBLAS runs single-threaded: parallelism is across tasks, its own
  // threads would oversubscribe the cores, allocate per call and could change
  // the order of additions
  openblas_set_num_threads(1);
  mrlLearner* ln = mrl_alloc(sizeof(mrlLearner));
  int T = fam->horizon;
  size_t rows = (size_t)nenv * T;
  ln->fam = fam;
  ln->pol = pol;
  ln->env = fam->env_make(fam, nenv);
  ln->work = mrl_policy_work_make(pol, nenv * T);
  ln->own_batch = mrl_batch_make(nenv, T, fam->nobs, fam->nact);
  ln->batch = ln->own_batch;
  ln->baseline = mrl_baseline_make(fam->nobs, nenv * T);
  if (cfg->rl.baseline == MRL_BASELINE_MLP) {
    ln->baseline->vf = mrl_value_make(cfg, fam->nobs, nenv * T);
  }
  mrl_optim_init(&ln->optim, cfg->inner.optim, pol->nparam, cfg->inner.lr);
  ln->theta = mrl_alloc(sizeof(double) * pol->nparam);
  ln->grad = mrl_alloc(sizeof(double) * pol->nparam);
  if (cfg->inner.step == MRL_INNER_PPO) {
    ln->old_logp = mrl_alloc(sizeof(double) * rows);
    ln->rows = mrl_alloc(sizeof(int) * rows);
    ln->mb_obs = mrl_alloc(sizeof(double) * rows * fam->nobs);
    ln->mb_act = mrl_alloc(sizeof(double) * rows * fam->nact);
    ln->mb_aux = mrl_alloc(sizeof(double) * 2 * rows);
  }
  return ln;
}

void mrl_learner_keep(mrlLearner* ln, int nsaved, int grad_sum) {
  MRL_ASSERT(ln->nsaved == 0 && !ln->grad_sum);
  int n = ln->pol->nparam;
  const mrlBatch* b = ln->own_batch;
  ln->nsaved = nsaved;
  if (nsaved > 0) {
    ln->saved = mrl_alloc(sizeof(mrlBatch*) * nsaved);
    for (int s = 0; s < nsaved; s++) {
      ln->saved[s] = mrl_batch_make(b->nenv, b->horizon, b->nobs, b->nact);
    }
    ln->thetas = mrl_alloc(sizeof(double) * (size_t)nsaved * n);
    ln->scratch = mrl_alloc(sizeof(double) * 3 * n);
  }
  if (grad_sum) ln->grad_sum = mrl_alloc(sizeof(double) * n);
}

void mrl_learner_lend(mrlLearner* ln, int nsaved, mrlBatch** saved, double* thetas) {
  MRL_ASSERT(ln->lent || ln->nsaved == 0);
  ln->lent = 1;
  ln->nsaved = nsaved;
  ln->saved = saved;
  ln->thetas = thetas;
  if (!ln->scratch) ln->scratch = mrl_alloc(sizeof(double) * 3 * ln->pol->nparam);
}

void mrl_learner_free(mrlLearner* ln) {
  if (!ln) return;
  ln->fam->env_free(ln->env);
  mrl_policy_work_free(ln->work);
  mrl_batch_free(ln->own_batch);
  if (!ln->lent) {
    for (int s = 0; s < ln->nsaved; s++) mrl_batch_free(ln->saved[s]);
    free(ln->saved);
    free(ln->thetas);
  }
  free(ln->scratch);
  free(ln->grad_sum);
  free(ln->old_logp);
  free(ln->rows);
  free(ln->mb_obs);
  free(ln->mb_act);
  free(ln->mb_aux);
  mrl_baseline_free(ln->baseline);
  mrl_optim_free(&ln->optim);
  free(ln->theta);
  free(ln->grad);
  free(ln);
}

double mrl_combo_weight(mrlComboMode mode, int s, int k) {
  switch (mode) {
  case MRL_COMBO_LAST:
    return s == k;
  case MRL_COMBO_SUM:
    return 1;
  case MRL_COMBO_MEAN:
    return 1.0 / (k + 1);
  case MRL_COMBO_FIRST:
    return s == 0;
  }
  return 0;
}

double mrl_inner_lr(const mrlConfig* cfg, int s) {
  return s > 0 && cfg->inner.later_lr > 0 ? cfg->inner.later_lr : cfg->inner.lr;
}

long mrl_inner_adapt(const mrlConfig* cfg, mrlLearner* ln, const double* task, const double* phi,
                     int k, uint64_t seed, uint64_t iteration, uint64_t task_key,
                     int query_advantages, double* returns) {
  const mrlFamily* fam = ln->fam;
  const mrlPolicy* pol = ln->pol;
  int n = pol->nparam;
  long steps = 0;
  fam->set_task(ln->env, task);
  memcpy(ln->theta, phi, sizeof(double) * n);
  mrl_optim_reset(&ln->optim);
  // every task's value network starts from the same weights: a task's
  // baseline must not depend on which tasks this worker adapted before
  if (ln->baseline->vf) mrl_value_reset(ln->baseline->vf, iteration, task_key);
  // rl.baseline_fit previous: the first step's advantages have no baseline,
  // whatever this worker fitted for another task
  mrl_baseline_forget(ln->baseline);
  int combo = ln->grad_sum && cfg->outer.algo == MRL_OUTER_COMBO;
  if (combo) memset(ln->grad_sum, 0, sizeof(double) * n);
  for (int s = 0; s <= k; s++) {
    double t0 = mrl_now();
    // a saved slot keeps this step's batch and theta for the outer loop
    ln->batch = s < ln->nsaved ? ln->saved[s] : ln->own_batch;
    if (s < ln->nsaved) memcpy(ln->thetas + (size_t)s * n, ln->theta, sizeof(double) * n);
    int key_step = (!cfg->inner.resample && s > 0 && s < k) ? 0 : s;
    steps += mrl_sample(fam, ln->env, pol, ln->theta, ln->work, ln->batch, seed, iteration,
                        task_key * 4096 + key_step);
    returns[s] = mrl_batch_mean_return(ln->batch);
    if (ln->mean_length || ln->full_fraction) {
      double len, full;
      mrl_batch_lengths(ln->batch, &len, &full);
      if (ln->mean_length) ln->mean_length[s] = len;
      if (ln->full_fraction) ln->full_fraction[s] = full;
    }
    if (s == 0 && ln->obs_stats) mrl_obs_stats(ln->batch, ln->obs_stats);
    double t1 = mrl_now();
    ln->phase_seconds[MRL_PHASE_SAMPLE] += t1 - t0;
    // statistics fit the query batch's baseline too (its ExplainedVariance);
    // the batch is not used after, so the parameters stay the same
    if (s == k && !query_advantages && !combo && !ln->stats) break;
    int fitted = !ln->batch->supervised;
    if (fitted && mrl_advantages(cfg, ln->baseline, ln->batch)) ln->baseline_failures++;
    double t2 = mrl_now();
    ln->phase_seconds[MRL_PHASE_ADVANTAGE] += t2 - t1;
    if (ln->stats) mrl_batch_stats(pol, ln->theta, ln->batch, cfg->rl.gamma, fitted, &ln->stats[s]);
    if (s == k && !combo) break;
    if (cfg->inner.step == MRL_INNER_PPO && !ln->batch->supervised && s < k) {
      mrl_ppo_step(cfg, ln, mrl_inner_lr(cfg, s), seed, iteration, task_key * 4096 + s);
      ln->phase_seconds[MRL_PHASE_INNER] += mrl_now() - t2;
      continue;
    }
    mrl_loss_grad(pol, ln->theta, ln->work, ln->batch, ln->grad);
    if (combo) {
      double w = mrl_combo_weight(cfg->outer.combo, s, k);
      for (int i = 0; i < n; i++) ln->grad_sum[i] += w * ln->grad[i];
    }
    // inner.learn_lr: sgd with a learned rate per tensor; inner.adapt context: on c alone
    if (s < k && (pol->lr_off || pol->adapt_context)) {
      mrl_policy_inner_axpy(pol, ln->theta, mrl_inner_lr(cfg, s), ln->grad, ln->theta);
    } else if (s < k) {
      mrl_optim_step(&ln->optim, ln->theta, ln->grad, mrl_inner_lr(cfg, s));
    }
    ln->phase_seconds[MRL_PHASE_INNER] += mrl_now() - t2;
  }
  return steps;
}
