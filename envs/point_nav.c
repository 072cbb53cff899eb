// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// point_nav.c: 2-D point navigation, the smallest task family of the MAML
// paper. A point starts at the origin and moves by its action times
// env.action_scale, clipped to [-0.1, 0.1] per axis (the paper's code scaled
// the policy's [-1, 1] onto those bounds: scale 0.1; the default 1 moves by
// the action itself); the reward is minus the distance to the task's goal
// after the move. A task is a goal drawn uniformly from the box
// [task.goal_low, task.goal_high]^2. The observation is the position only:
// the policy must infer the goal from rewards (env.obs_task appends the goal:
// the oracle).

#include <math.h>

#include "envs.h"

typedef struct {
  double goal_low, goal_high, action_scale;
  int obs_task;  // env.obs_task: the goal follows the position in obs
} PointNavFamily;

typedef struct {
  int nenv;
  double action_scale;
  int obs_task;
  double goal[2];
  double* pos;  // (nenv, 2)
} PointNavEnv;

static const char* const task_names[] = {"goal_x", "goal_y"};

static void sample_task(const mrlFamily* fam, mrlRng* rng, double* task) {
  const PointNavFamily* pf = fam->data;
  for (int i = 0; i < 2; i++) {
    task[i] = pf->goal_low + (pf->goal_high - pf->goal_low) * mrl_rng_uniform(rng);
  }
}

static int describe_task(const mrlFamily* fam, const double* task, char* buf, size_t n) {
  (void)fam;
  return snprintf(buf, n, "goal=(%.3f, %.3f)", task[0], task[1]);
}

static mrlEnv* env_make(const mrlFamily* fam, int nenv) {
  const PointNavFamily* pf = fam->data;
  PointNavEnv* env = mrl_alloc(sizeof(PointNavEnv));
  env->nenv = nenv;
  env->action_scale = pf->action_scale;
  env->obs_task = pf->obs_task;
  env->pos = mrl_alloc(sizeof(double) * 2 * nenv);
  return (mrlEnv*)env;
}

static void env_free(mrlEnv* e) {
  PointNavEnv* env = (PointNavEnv*)e;
  if (!env) return;
  free(env->pos);
  free(env);
}

static void set_task(mrlEnv* e, const double* task) {
  PointNavEnv* env = (PointNavEnv*)e;
  env->goal[0] = task[0];
  env->goal[1] = task[1];
}

static void reset(mrlEnv* e, int i, mrlRng* rng, double* obs) {
  (void)rng;  // the start is always the origin, as in the MAML paper
  PointNavEnv* env = (PointNavEnv*)e;
  double* p = env->pos + 2 * i;
  p[0] = p[1] = 0;
  obs[0] = obs[1] = 0;
  if (env->obs_task) obs[2] = env->goal[0], obs[3] = env->goal[1];
}

static void step(mrlEnv* e, int i, const double* act, double* obs, double* reward, int* done) {
  PointNavEnv* env = (PointNavEnv*)e;
  double* p = env->pos + 2 * i;
  for (int k = 0; k < 2; k++) {
    double a = env->action_scale * act[k];
    if (!(a >= -0.1)) a = -0.1;  // also maps NaN to a bound
    if (a > 0.1) a = 0.1;
    p[k] += a;
    obs[k] = p[k];
  }
  double dx = p[0] - env->goal[0], dy = p[1] - env->goal[1];
  *reward = -sqrt(dx * dx + dy * dy);
  if (env->obs_task) obs[2] = env->goal[0], obs[3] = env->goal[1];
  // the MAML point env ends an episode once the goal is reached
  *done = fabs(dx) < 0.01 && fabs(dy) < 0.01;
}

static void family_free(mrlFamily* fam) {
  free(fam->data);
  free(fam);
}

mrlFamily* mrl_point_nav_make(const mrlConfig* cfg, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  mrlFamily* fam = mrl_alloc(sizeof(mrlFamily));
  PointNavFamily* pf = mrl_alloc(sizeof(PointNavFamily));
  pf->goal_low = cfg->task.goal_low;
  pf->goal_high = cfg->task.goal_high;
  pf->action_scale = cfg->env.action_scale;
  pf->obs_task = cfg->env.obs_task;
  fam->name = "point_nav";
  fam->nobs = cfg->env.obs_task ? 4 : 2;
  fam->nact = 2;
  fam->ntask = 2;
  fam->horizon = cfg->env.horizon;
  fam->data = pf;
  fam->sample_task = sample_task;
  fam->describe_task = describe_task;
  fam->task_names = task_names;
  fam->env_make = env_make;
  fam->env_free = env_free;
  fam->set_task = set_task;
  fam->reset = reset;
  fam->step = step;
  fam->free = family_free;
  return fam;
}
