// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// ppo.c: the PPO inner step (Schulman et al. 2017). Several epochs over the
// valid rows of one batch, in shuffled minibatches, each an inner-optimizer
// step on the clipped surrogate. Rows are gathered into contiguous scratch so
// that a minibatch costs one forward and one backward of its own rows.

#include <math.h>
#include <string.h>

#include "metarl.h"

// Clipped-surrogate loss (with the entropy bonus) and gradient of m gathered
// rows; returns the loss.
static double clipped_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                                const double* obs, const double* act, const double* adv,
                                const double* old_logp, int m, double clip, double* grad) {
  int nact = pol->sizes[pol->nlayer];
  memset(grad, 0, sizeof(double) * pol->nparam);
  mrl_policy_forward(pol, params, work, obs, m);
  const double* logstd = params + pol->logstd_off;
  double* glogstd = grad + pol->logstd_off;
  double inv_var[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) inv_var[j] = exp(-2 * logstd[j]);
  double loss = 0, scale = 1.0 / m;
  for (int r = 0; r < m; r++) {
    const double* a = act + (size_t)r * nact;
    const double* mean = work->mean + (size_t)r * nact;
    double* dmean = work->dmean + (size_t)r * nact;
    double lp = mrl_policy_logprob(pol, params, work, a, r);
    double ratio = exp(lp - old_logp[r]), A = adv[r];
    double clipped = ratio < 1 - clip ? 1 - clip : ratio > 1 + clip ? 1 + clip : ratio;
    double unclipped_term = ratio * A, clipped_term = clipped * A;
    // the min picks the clipped term (zero gradient) when it is strictly smaller
    int flat = clipped_term < unclipped_term;
    loss -= scale * (flat ? clipped_term : unclipped_term);
    double w = flat ? 0 : -scale * ratio * A;  // d loss / d log pi
    for (int j = 0; j < nact; j++) {
      double d = a[j] - mean[j];
      dmean[j] = w * d * inv_var[j];
      glogstd[j] += w * (d * d * inv_var[j] - 1);
    }
  }
  mrl_policy_backward(pol, params, work, work->dmean, grad);
  return loss + mrl_entropy_bonus(pol, params, grad);
}

void mrl_ppo_step(const mrlConfig* cfg, mrlLearner* ln, double lr, uint64_t seed,
                  uint64_t iteration, uint64_t key) {
  const mrlPolicy* pol = ln->pol;
  const mrlBatch* b = ln->batch;
  int rows = b->nenv * b->horizon, nobs = b->nobs, nact = b->nact;
  MRL_ASSERT(ln->old_logp);

  // log pi_old of every valid row, at the theta the batch was sampled with
  mrl_policy_forward(pol, ln->theta, ln->work, b->obs, rows);
  int nvalid = 0;
  for (int r = 0; r < rows; r++) {
    if (b->valid[r] <= 0) continue;
    ln->old_logp[r] = mrl_policy_logprob(pol, ln->theta, ln->work, b->act + (size_t)r * nact, r);
    ln->rows[nvalid++] = r;
  }
  if (nvalid == 0) return;
  int nmb = cfg->inner.ppo_minibatches < nvalid ? cfg->inner.ppo_minibatches : nvalid;
  double* mb_adv = ln->mb_aux;
  double* mb_old = ln->mb_aux + rows;
  for (int epoch = 0; epoch < cfg->inner.ppo_epochs; epoch++) {
    if (nmb > 1) {  // Fisher-Yates from a stream keyed by what it shuffles
      mrlRng rng;
      mrl_rng_init(&rng, seed, MRL_RNG_MINIBATCH, iteration, key, epoch);
      mrl_rng_shuffle(&rng, ln->rows, nvalid);
    }
    for (int mb = 0; mb < nmb; mb++) {
      int lo = (int)((long)nvalid * mb / nmb), hi = (int)((long)nvalid * (mb + 1) / nmb);
      int m = hi - lo;
      for (int i = 0; i < m; i++) {
        int r = ln->rows[lo + i];
        memcpy(ln->mb_obs + (size_t)i * nobs, b->obs + (size_t)r * nobs, sizeof(double) * nobs);
        memcpy(ln->mb_act + (size_t)i * nact, b->act + (size_t)r * nact, sizeof(double) * nact);
        mb_adv[i] = b->adv[r];
        mb_old[i] = ln->old_logp[r];
      }
      clipped_loss_grad(pol, ln->theta, ln->work, ln->mb_obs, ln->mb_act, mb_adv, mb_old, m,
                        cfg->inner.ppo_clip, ln->grad);
      mrl_optim_step(&ln->optim, ln->theta, ln->grad, lr);
    }
  }
}
