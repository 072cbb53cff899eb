// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// sampler.c: the hot path. All episodes of one task advance in lockstep so
// that the policy runs once per time step on a contiguous batch; buffers are
// time-major and allocated once, so the step loop never allocates.

#include <math.h>
#include <string.h>

#include "metarl.h"

mrlBatch* mrl_batch_make(int nenv, int horizon, int nobs, int nact) {
  mrlBatch* b = mrl_alloc(sizeof(mrlBatch));
  size_t rows = (size_t)nenv * horizon;
  b->nenv = nenv;
  b->horizon = horizon;
  b->nobs = nobs;
  b->nact = nact;
  b->obs = mrl_alloc(sizeof(double) * rows * nobs);
  b->act = mrl_alloc(sizeof(double) * rows * nact);
  b->rew = mrl_alloc(sizeof(double) * rows);
  b->valid = mrl_alloc(sizeof(double) * rows);
  b->ret = mrl_alloc(sizeof(double) * rows);
  b->baseline = mrl_alloc(sizeof(double) * rows);
  b->adv = mrl_alloc(sizeof(double) * rows);
  b->len = mrl_alloc(sizeof(int) * nenv);
  b->truncated = mrl_alloc(sizeof(int) * nenv);
  b->v_final = mrl_alloc(sizeof(double) * nenv);
  b->ep_return = mrl_alloc(sizeof(double) * nenv);
  b->obs_final = mrl_alloc(sizeof(double) * nenv * nobs);
  b->noise = mrl_alloc(sizeof(mrlRng) * nenv);
  return b;
}

void mrl_batch_free(mrlBatch* b) {
  if (!b) return;
  free(b->obs);
  free(b->act);
  free(b->rew);
  free(b->valid);
  free(b->ret);
  free(b->baseline);
  free(b->adv);
  free(b->len);
  free(b->truncated);
  free(b->v_final);
  free(b->ep_return);
  free(b->obs_final);
  free(b->noise);
  free(b);
}

// A supervised family: episode i is one input point with its label (in act);
// its "return" is minus the squared error of the prediction, so that logs and
// evaluation read the same way as for control tasks (higher is better).
static long sample_points(const mrlFamily* fam, mrlEnv* env, const mrlPolicy* pol,
                          const double* params, mrlPolicyWork* work, mrlBatch* b, uint64_t seed,
                          uint64_t iteration, uint64_t task_key) {
  int n = b->nenv, nobs = b->nobs, nact = b->nact;
  MRL_ASSERT(b->horizon == 1 && fam->target);
  for (int i = 0; i < n; i++) {
    mrlRng rng;
    mrl_rng_init(&rng, seed, MRL_RNG_RESET, iteration, task_key, i);
    fam->reset(env, i, &rng, b->obs + (size_t)i * nobs);
    fam->target(env, i, b->act + (size_t)i * nact);
    b->len[i] = 1;
    b->truncated[i] = 0;
    b->v_final[i] = 0;
    b->valid[i] = 1;
  }
  mrl_policy_forward(pol, params, work, b->obs, n);
  for (int i = 0; i < n; i++) {
    double se = 0;
    for (int j = 0; j < nact; j++) {
      double d = work->mean[(size_t)i * nact + j] - b->act[(size_t)i * nact + j];
      se += d * d;
    }
    b->rew[i] = b->ep_return[i] = -se;
    b->adv[i] = 0;
  }
  return n;
}

long mrl_sample(const mrlFamily* fam, mrlEnv* env, const mrlPolicy* pol, const double* params,
                mrlPolicyWork* work, mrlBatch* b, uint64_t seed, uint64_t iteration,
                uint64_t task_key) {
  int n = b->nenv, T = b->horizon, nobs = b->nobs, nact = b->nact;
  b->supervised = fam->supervised;
  if (fam->supervised)
    return sample_points(fam, env, pol, params, work, b, seed, iteration, task_key);
  const double* logstd = params + pol->logstd_off;
  double std[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) std[j] = exp(logstd[j]);

  for (int i = 0; i < n; i++) {
    mrlRng reset_rng;
    mrl_rng_init(&reset_rng, seed, MRL_RNG_RESET, iteration, task_key, i);
    mrl_rng_init(&b->noise[i], seed, MRL_RNG_ACTION, iteration, task_key, i);
    fam->reset(env, i, &reset_rng, b->obs + (size_t)i * nobs);
    b->len[i] = T;
    b->truncated[i] = 1;
    b->v_final[i] = 0;
    b->ep_return[i] = 0;
  }

  long steps = 0;
  int alive = n;
  for (int t = 0; t < T; t++) {
    double* obs_t = b->obs + (size_t)t * n * nobs;
    double* act_t = b->act + (size_t)t * n * nact;
    double* rew_t = b->rew + (size_t)t * n;
    double* valid_t = b->valid + (size_t)t * n;
    double* obs_next = t + 1 < T ? obs_t + (size_t)n * nobs : b->obs_final;
    if (alive > 0) mrl_policy_forward(pol, params, work, obs_t, n);
    for (int i = 0; i < n; i++) {
      double* a = act_t + (size_t)i * nact;
      double* o = obs_next + (size_t)i * nobs;
      if (b->len[i] <= t) {  // episode over: keep rows defined and masked out
        memset(a, 0, sizeof(double) * nact);
        memset(o, 0, sizeof(double) * nobs);
        rew_t[i] = 0;
        valid_t[i] = 0;
        continue;
      }
      const double* mean = work->mean + (size_t)i * nact;
      for (int j = 0; j < nact; j++) a[j] = mean[j] + std[j] * mrl_rng_normal(&b->noise[i]);
      int done = 0;
      fam->step(env, i, a, o, &rew_t[i], &done);
      valid_t[i] = 1;
      b->ep_return[i] += rew_t[i];
      steps++;
      if (done) {
        b->len[i] = t + 1;
        b->truncated[i] = 0;
        alive--;
      }
    }
  }
  return steps;
}

double mrl_batch_mean_return(const mrlBatch* b) {
  double sum = 0;
  for (int i = 0; i < b->nenv; i++) sum += b->ep_return[i];
  return sum / b->nenv;
}

void mrl_obs_stats(const mrlBatch* b, double* stats) {
  int n = b->nenv, nobs = b->nobs;
  double* mean = stats + 1;
  double* m2 = stats + 1 + nobs;
  memset(stats, 0, sizeof(double) * MRL_OBS_STATS_LEN(nobs));
  long count = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      const double* o = b->obs + ((size_t)t * n + i) * nobs;
      for (int k = 0; k < nobs; k++) mean[k] += o[k];
      count++;
    }
  }
  if (count == 0) return;
  for (int k = 0; k < nobs; k++) mean[k] /= count;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      const double* o = b->obs + ((size_t)t * n + i) * nobs;
      for (int k = 0; k < nobs; k++) m2[k] += (o[k] - mean[k]) * (o[k] - mean[k]);
    }
  }
  stats[0] = (double)count;
}
