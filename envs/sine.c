// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// sine.c: sine-wave regression, the supervised family of the Reptile paper
// (Nichol et al. 2018) and of MAML. A task is y = A sin(x + b) with
// A ~ U[0.1, 5] and b ~ U[0, 2 pi]; an "episode" is one input x ~ U[-5, 5]
// with its label, so a batch of inner.episodes = 10 is the paper's 10 points.
// The policy mean (nobs 1, nact 1) is the prediction and the loss is the mean
// squared error: the same outer-loop code runs on a problem with no
// policy-gradient noise. env.horizon is ignored (always 1). env.obs_task
// appends A and b to the input x (the oracle).

#include <math.h>

#include "envs.h"

typedef struct {
  int nenv;
  int obs_task;  // env.obs_task: obs is (x, A, b)
  double amp, phase;
  double* x;  // (nenv) the point each episode was reset to
} SineEnv;

static const char* const task_names[] = {"amplitude", "phase"};

static void sample_task(const mrlFamily* fam, mrlRng* rng, double* task) {
  (void)fam;
  task[0] = 0.1 + 4.9 * mrl_rng_uniform(rng);
  task[1] = 2 * M_PI * mrl_rng_uniform(rng);
}

static int describe_task(const mrlFamily* fam, const double* task, char* buf, size_t n) {
  (void)fam;
  return snprintf(buf, n, "y=%.3f sin(x + %.3f)", task[0], task[1]);
}

static mrlEnv* env_make(const mrlFamily* fam, int nenv) {
  SineEnv* env = mrl_alloc(sizeof(SineEnv));
  env->nenv = nenv;
  env->obs_task = fam->nobs == 3;
  env->x = mrl_alloc(sizeof(double) * nenv);
  return (mrlEnv*)env;
}

static void env_free(mrlEnv* e) {
  SineEnv* env = (SineEnv*)e;
  if (!env) return;
  free(env->x);
  free(env);
}

static void set_task(mrlEnv* e, const double* task) {
  SineEnv* env = (SineEnv*)e;
  env->amp = task[0];
  env->phase = task[1];
}

static void observe(const SineEnv* env, int i, double* obs) {
  obs[0] = env->x[i];
  if (env->obs_task) obs[1] = env->amp, obs[2] = env->phase;
}

static void reset(mrlEnv* e, int i, mrlRng* rng, double* obs) {
  SineEnv* env = (SineEnv*)e;
  env->x[i] = -5 + 10 * mrl_rng_uniform(rng);
  observe(env, i, obs);
}

static void target(mrlEnv* e, int i, double* y) {
  SineEnv* env = (SineEnv*)e;
  y[0] = env->amp * sin(env->x[i] + env->phase);
}

// Never called by the sampler (supervised families take no steps); defined
// so that the table has no NULL entry for a generic caller.
static void step(mrlEnv* e, int i, const double* act, double* obs, double* reward, int* done) {
  SineEnv* env = (SineEnv*)e;
  double y = env->amp * sin(env->x[i] + env->phase), d = act[0] - y;
  observe(env, i, obs);
  *reward = -d * d;
  *done = 1;
}

static void family_free(mrlFamily* fam) {
  free(fam);
}

mrlFamily* mrl_sine_make(const mrlConfig* cfg, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  mrlFamily* fam = mrl_alloc(sizeof(mrlFamily));
  fam->name = "sine";
  fam->nobs = cfg->env.obs_task ? 3 : 1;  // env_make reads the option back from it
  fam->nact = 1;
  fam->ntask = 2;
  fam->horizon = 1;
  fam->sample_task = sample_task;
  fam->describe_task = describe_task;
  fam->task_names = task_names;
  fam->env_make = env_make;
  fam->env_free = env_free;
  fam->set_task = set_task;
  fam->reset = reset;
  fam->step = step;
  fam->free = family_free;
  fam->supervised = 1;
  fam->target = target;
  return fam;
}
