// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// ppo.c: the PPO inner step (Schulman et al. 2017). Several epochs over the
// valid rows of one batch, in shuffled minibatches, each an inner-optimizer
// step on the clipped surrogate. Rows are gathered into contiguous scratch so
// that a minibatch costs one forward and one backward of its own rows. The
// same epochs over the pooled batches of a meta-batch are joint training's
// PPO update (outer.algo=joint with inner.step=ppo).

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

// Epochs of shuffled minibatches over the valid rows of nbatch batches of one
// shape (advantages computed), each an opt step of size lr on theta. Row r of
// batch j is index j * rows + r in the shuffled list, so one batch shuffles as
// its rows alone. Scratch: old_logp and list (nbatch * rows), mb_obs, mb_act
// and mb_aux (2 per minibatch row), work (one batch, and the largest
// minibatch), grad (nparam).
static void ppo_epochs(const mrlConfig* cfg, const mrlPolicy* pol, mrlPolicyWork* work,
                       mrlBatch* const* batches, int nbatch, double* theta, mrlOptim* opt,
                       double lr, uint64_t seed, uint64_t iteration, uint64_t key, double* old_logp,
                       int* list, double* mb_obs, double* mb_act, double* mb_aux, double* grad) {
  const mrlBatch* b0 = batches[0];
  int rows = b0->nenv * b0->horizon, nobs = b0->nobs, nact = b0->nact;
  // log pi_old of every valid row, at the theta the batches were sampled with
  int nvalid = 0;
  for (int j = 0; j < nbatch; j++) {
    const mrlBatch* b = batches[j];
    mrl_policy_forward(pol, theta, work, b->obs, rows);
    for (int r = 0; r < rows; r++) {
      if (b->valid[r] <= 0) continue;
      size_t at = (size_t)j * rows + r;
      old_logp[at] = mrl_policy_logprob(pol, theta, work, b->act + (size_t)r * nact, r);
      list[nvalid++] = (int)at;
    }
  }
  if (nvalid == 0) return;
  int nmb = cfg->inner.ppo_minibatches < nvalid ? cfg->inner.ppo_minibatches : nvalid;
  int most = (nvalid + nmb - 1) / nmb;  // rows of the largest minibatch
  double* mb_adv = mb_aux;
  double* mb_old = mb_aux + most;
  for (int epoch = 0; epoch < cfg->inner.ppo_epochs; epoch++) {
    if (nmb > 1) {  // Fisher-Yates from a stream keyed by what it shuffles
      mrlRng rng;
      mrl_rng_init(&rng, seed, MRL_RNG_MINIBATCH, iteration, key, epoch);
      mrl_rng_shuffle(&rng, list, nvalid);
    }
    for (int mb = 0; mb < nmb; mb++) {
      int lo = (int)((long)nvalid * mb / nmb), hi = (int)((long)nvalid * (mb + 1) / nmb);
      int m = hi - lo;
      for (int i = 0; i < m; i++) {
        int at = list[lo + i], r = at % rows;
        const mrlBatch* b = batches[at / rows];
        memcpy(mb_obs + (size_t)i * nobs, b->obs + (size_t)r * nobs, sizeof(double) * nobs);
        memcpy(mb_act + (size_t)i * nact, b->act + (size_t)r * nact, sizeof(double) * nact);
        mb_adv[i] = b->adv[r];
        mb_old[i] = old_logp[at];
      }
      clipped_loss_grad(pol, theta, work, mb_obs, mb_act, mb_adv, mb_old, m, cfg->inner.ppo_clip,
                        grad);
      mrl_optim_step(opt, theta, grad, lr);
    }
  }
}

void mrl_ppo_step(const mrlConfig* cfg, mrlLearner* ln, double lr, uint64_t seed,
                  uint64_t iteration, uint64_t key) {
  MRL_ASSERT(ln->old_logp);
  mrlBatch* const batches[1] = {ln->batch};
  ppo_epochs(cfg, ln->pol, ln->work, batches, 1, ln->theta, &ln->optim, lr, seed, iteration, key,
             ln->old_logp, ln->rows, ln->mb_obs, ln->mb_act, ln->mb_aux, ln->grad);
}

mrlPpoPool* mrl_ppo_pool_make(const mrlPolicy* pol, int nbatch, int rows) {
  mrlPpoPool* pp = mrl_alloc(sizeof(mrlPpoPool));
  size_t total = (size_t)nbatch * rows;
  int nobs = pol->sizes[0], nact = pol->sizes[pol->nlayer];
  pp->batches = mrl_alloc(sizeof(mrlBatch*) * nbatch);
  pp->old_logp = mrl_alloc(sizeof(double) * total);
  pp->list = mrl_alloc(sizeof(int) * total);
  pp->mb_obs = mrl_alloc(sizeof(double) * total * nobs);
  pp->mb_act = mrl_alloc(sizeof(double) * total * nact);
  pp->mb_aux = mrl_alloc(sizeof(double) * 2 * total);
  pp->grad = mrl_alloc(sizeof(double) * pol->nparam);
  pp->work = mrl_policy_work_make(pol, (int)total);
  return pp;
}

void mrl_ppo_pool_free(mrlPpoPool* pp) {
  if (!pp) return;
  free(pp->batches);
  free(pp->old_logp);
  free(pp->list);
  free(pp->mb_obs);
  free(pp->mb_act);
  free(pp->mb_aux);
  free(pp->grad);
  mrl_policy_work_free(pp->work);
  free(pp);
}

void mrl_ppo_pooled_step(const mrlConfig* cfg, const mrlPolicy* pol, mrlPpoPool* pp,
                         mrlBatch* const* batches, int nbatch, double* theta, mrlOptim* opt,
                         double lr, uint64_t seed, uint64_t iteration) {
  if (nbatch == 0) return;
  // key: apart from every task's own steps (task_key * 4096 + step, task_key < 2^31)
  uint64_t key = UINT64_C(1) << 62;
  ppo_epochs(cfg, pol, pp->work, batches, nbatch, theta, opt, lr, seed, iteration, key,
             pp->old_logp, pp->list, pp->mb_obs, pp->mb_act, pp->mb_aux, pp->grad);
}
