// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// inner.c: the inner loop. The vanilla policy-gradient surrogate and its
// gradient, and the adaptation of an initialization to one task.

#include <math.h>
#include <string.h>
#include <time.h>

#include "metarl.h"

// L = -(1/M) sum_r A_r log pi(a_r | s_r) over the M valid rows. Per row,
// dlogpi/dmean = (a - mean) / std^2 and dlogpi/dlogstd = z^2 - 1 with
// z = (a - mean) / std. Invalid rows carry A = 0 and add nothing.
double mrl_pg_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const mrlBatch* b, double* grad) {
  int rows = b->nenv * b->horizon, nact = b->nact;
  long valid = 0;
  for (int r = 0; r < rows; r++) valid += b->valid[r] > 0;
  memset(grad, 0, sizeof(double) * pol->nparam);
  if (valid == 0) return 0;
  mrl_policy_forward(pol, params, work, b->obs, rows);
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
  return loss;
}

mrlLearner* mrl_learner_make(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                             int nenv) {
  mrlLearner* ln = mrl_alloc(sizeof(mrlLearner));
  int T = fam->horizon;
  ln->fam = fam;
  ln->pol = pol;
  ln->env = fam->env_make(fam, nenv);
  ln->work = mrl_policy_work_make(pol, nenv * T);
  ln->batch = mrl_batch_make(nenv, T, fam->nobs, fam->nact);
  ln->baseline = mrl_baseline_make(fam->nobs, nenv * T);
  mrl_optim_init(&ln->optim, cfg->inner.optim, pol->nparam, cfg->inner.lr);
  ln->theta = mrl_alloc(sizeof(double) * pol->nparam);
  ln->grad = mrl_alloc(sizeof(double) * pol->nparam);
  return ln;
}

void mrl_learner_free(mrlLearner* ln) {
  if (!ln) return;
  ln->fam->env_free(ln->env);
  mrl_policy_work_free(ln->work);
  mrl_batch_free(ln->batch);
  mrl_baseline_free(ln->baseline);
  mrl_optim_free(&ln->optim);
  free(ln->theta);
  free(ln->grad);
  free(ln);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

long mrl_inner_adapt(const mrlConfig* cfg, mrlLearner* ln, const double* task, const double* phi,
                     int k, uint64_t seed, uint64_t iteration, uint64_t task_key,
                     int query_advantages, double* returns) {
  const mrlFamily* fam = ln->fam;
  const mrlPolicy* pol = ln->pol;
  long steps = 0;
  fam->set_task(ln->env, task);
  memcpy(ln->theta, phi, sizeof(double) * pol->nparam);
  mrl_optim_reset(&ln->optim);
  for (int s = 0; s <= k; s++) {
    double t0 = now_seconds();
    steps += mrl_sample(fam, ln->env, pol, ln->theta, ln->work, ln->batch, seed, iteration,
                        task_key * 4096 + s);
    double t1 = now_seconds();
    ln->seconds[0] += t1 - t0;
    returns[s] = mrl_batch_mean_return(ln->batch);
    // statistics fit the query batch's baseline too (its ExplainedVariance);
    // the batch is not used after, so the parameters stay the same
    if (s == k && !query_advantages && !ln->stats) break;
    mrl_advantages(cfg, ln->baseline, ln->batch);
    double t2 = now_seconds();
    ln->seconds[1] += t2 - t1;
    if (ln->stats) {
      mrl_batch_stats(pol, ln->theta, ln->batch, cfg->rl.gamma, 1, &ln->stats[s]);
    }
    if (s == k) break;
    double t3 = now_seconds();
    mrl_pg_loss_grad(pol, ln->theta, ln->work, ln->batch, ln->grad);
    mrl_optim_step(&ln->optim, ln->theta, ln->grad, cfg->inner.lr);
    ln->seconds[2] += now_seconds() - t3;
  }
  return steps;
}
