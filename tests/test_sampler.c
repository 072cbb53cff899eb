// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_sampler.c: the sampler's contracts: episodes in lockstep into
// time-major buffers, masks after termination, reproducible noise, and no
// heap allocation at all once set up (malloc is counted here by wrapping
// glibc's allocator for the whole process).

#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "metarl.h"

static atomic_long allocations;

#if defined(__SANITIZE_ADDRESS__)
#define MRL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MRL_ASAN 1
#endif
#endif

#ifdef MRL_ASAN
// AddressSanitizer owns malloc (a wrapper of glibc's would hand it blocks it
// never made): count through its allocation hook instead.
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                              void (*free_hook)(const volatile void*));

static void count_allocation(const volatile void* p, size_t n) {
  (void)p;
  (void)n;
  atomic_fetch_add(&allocations, 1);
}

static void ignore_free(const volatile void* p) {
  (void)p;
}

__attribute__((constructor)) static void install_hook(void) {
  // (both hooks must be given, or none is installed)
  if (!__sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free)) abort();
}
#else
// Every allocation of the process goes through these (the executable's
// definitions take precedence over libc's for MuJoCo and OpenBLAS too).
extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);

void* malloc(size_t n) {
  atomic_fetch_add(&allocations, 1);
  return __libc_malloc(n);
}

void* calloc(size_t n, size_t size) {
  atomic_fetch_add(&allocations, 1);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t n) {
  atomic_fetch_add(&allocations, 1);
  return __libc_realloc(p, n);
}
#endif

typedef struct {
  mrlConfig cfg;
  mrlFamily* fam;
  mrlPolicy pol;
  double* params;
  mrlLearner* ln;
  double task[64];
} Setup;

// Load config (NULL: the defaults) with an optional key=value override.
static void setup_family_with(Setup* s, const char* config, const char* override) {
  char err[MRL_ERRLEN];
  mrl_config_default(&s->cfg);
  if (config) {
    cr_assert_eq(mrl_config_load(&s->cfg, config, err, sizeof err), 0, "%s", err);
  }
  if (override) {
    cr_assert_eq(mrl_config_override(&s->cfg, override, err, sizeof err), 0, "%s", err);
  }
  s->fam = mrl_family_make(&s->cfg, err, sizeof err);
  cr_assert_not_null(s->fam, "%s", err);
  mrl_policy_setup(&s->pol, &s->cfg, s->fam->nobs, s->fam->nact);
  s->params = mrl_alloc(sizeof(double) * s->pol.nparam);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&s->pol, &rng, s->params);
  s->ln = mrl_learner_make(&s->cfg, s->fam, &s->pol, 6);
  mrl_task_sample(s->fam, &s->cfg, 0, 0, 0, s->task);
  s->fam->set_task(s->ln->env, s->task);
}

static void setup_family(Setup* s, const char* config) {
  setup_family_with(s, config, NULL);
}

static void teardown_family(Setup* s) {
  mrl_learner_free(s->ln);
  free(s->params);
  mrl_family_free(s->fam);
}

static void check_no_allocation(const char* config) {
  Setup s;
  setup_family(&s, config);
  mrl_sample(s.fam, s.ln->env, &s.pol, s.params, s.ln->work, s.ln->batch, 1, 0, 0);  // warm-up
  long before = atomic_load(&allocations);
  for (int k = 0; k < 3; k++) {
    s.fam->set_task(s.ln->env, s.task);
    mrl_sample(s.fam, s.ln->env, &s.pol, s.params, s.ln->work, s.ln->batch, 1, 0, (uint64_t)k);
    mrl_advantages(&s.cfg, s.ln->baseline, s.ln->batch);
    mrl_pg_loss_grad(&s.pol, s.params, s.ln->work, s.ln->batch, s.ln->grad);
  }
  long during = atomic_load(&allocations) - before;
  cr_assert_eq(during, 0, "%ld allocations in the sampling, advantage and gradient loop", during);
  teardown_family(&s);
}

Test(sampler, counter_sees_allocations) {
  long before = atomic_load(&allocations);
  void* p = mrl_alloc(16);
  free(p);
  cr_assert_eq(atomic_load(&allocations), before + 1, "the wrapper counts");
}

Test(sampler, no_allocation_point_nav) {
  check_no_allocation(NULL);
}

Test(sampler, no_allocation_mujoco_slope_walker) {
  check_no_allocation(METARL_SOURCE_DIR "/configs/slope_walker_200.yaml");
}

Test(sampler, lockstep_layout_and_masks) {
  Setup s;
  setup_family(&s, METARL_SOURCE_DIR "/configs/slope_walker_200.yaml");
  long steps = mrl_sample(s.fam, s.ln->env, &s.pol, s.params, s.ln->work, s.ln->batch, 1, 0, 0);
  const mrlBatch* b = s.ln->batch;
  long total = 0;
  for (int i = 0; i < b->nenv; i++) {
    total += b->len[i];
    double ret = 0;
    for (int t = 0; t < b->horizon; t++) {
      double valid = b->valid[(size_t)t * b->nenv + i];
      cr_assert_eq(valid, t < b->len[i] ? 1.0 : 0.0, "episode %d step %d", i, t);
      if (valid) ret += b->rew[(size_t)t * b->nenv + i];
    }
    cr_assert_eq(ret, b->ep_return[i]);
    // the walker's episodes end by a fall, never at the horizon, unless they
    // ran all of it without one
    if (b->len[i] < b->horizon) cr_assert_eq(b->truncated[i], 0, "episode %d", i);
    cr_assert_eq(b->v_final[i], 0);
  }
  cr_assert_eq(total, steps);
  cr_assert(total < (long)b->nenv * b->horizon, "the random walker falls: episodes end early");
  teardown_family(&s);
}

// Over a horizon of 3 steps no walker falls: every episode is cut by the
// time limit, and its last observation lands in obs_final.
Test(sampler, time_limit_marks_episodes_truncated) {
  Setup s;
  setup_family_with(&s, METARL_SOURCE_DIR "/configs/slope_walker_200.yaml", "env.horizon=3");
  mrl_sample(s.fam, s.ln->env, &s.pol, s.params, s.ln->work, s.ln->batch, 1, 0, 0);
  const mrlBatch* b = s.ln->batch;
  for (int i = 0; i < b->nenv; i++) {
    cr_assert_eq(b->len[i], 3);
    cr_assert_eq(b->truncated[i], 1, "episode %d", i);
    double norm = 0;
    for (int k = 0; k < b->nobs; k++) norm += fabs(b->obs_final[(size_t)i * b->nobs + k]);
    cr_assert(norm > 0, "episode %d: no final observation", i);
  }
  teardown_family(&s);
}

// Episode i's noise depends on (seed, iteration, task key, i) only: a batch
// of 6 episodes starts like a batch of 3 with the same keys.
Test(sampler, episode_streams_do_not_depend_on_batch_size) {
  Setup s;
  setup_family(&s, NULL);
  mrlLearner* small = mrl_learner_make(&s.cfg, s.fam, &s.pol, 3);
  s.fam->set_task(small->env, s.task);
  mrl_sample(s.fam, s.ln->env, &s.pol, s.params, s.ln->work, s.ln->batch, 4, 2, 9);
  mrl_sample(s.fam, small->env, &s.pol, s.params, small->work, small->batch, 4, 2, 9);
  for (int i = 0; i < 3; i++) cr_assert_eq(s.ln->batch->ep_return[i], small->batch->ep_return[i]);
  cr_assert_neq(s.ln->batch->ep_return[0], s.ln->batch->ep_return[1]);
  mrl_learner_free(small);
  teardown_family(&s);
}

// env.obs_task (the oracle's observation): point_nav's goal follows the
// position after every reset and step; the sine family's amplitude and phase
// follow the input x, and the prediction's target is unchanged.
Test(sampler, obs_task_appends_the_goal_and_the_wave) {
  Setup s;
  setup_family_with(&s, NULL, "env.obs_task=true");
  cr_assert_eq(s.fam->nobs, 4);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_INIT, 0, 0, 0);
  double obs[4] = {-1, -1, -1, -1}, rew;
  int done;
  s.fam->reset(s.ln->env, 0, &rng, obs);
  cr_assert(obs[0] == 0 && obs[1] == 0 && obs[2] == s.task[0] && obs[3] == s.task[1]);
  obs[2] = obs[3] = -1;
  s.fam->step(s.ln->env, 0, (double[]){0.05, -0.02}, obs, &rew, &done);
  cr_assert_float_eq(obs[0], 0.05, 1e-15);
  cr_assert(obs[2] == s.task[0] && obs[3] == s.task[1], "the goal after a step");
  teardown_family(&s);

  char err[MRL_ERRLEN];
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cr_assert_eq(mrl_config_override(&cfg, "env.name=sine", err, sizeof err), 0, "%s", err);
  cr_assert_eq(mrl_config_override(&cfg, "env.obs_task=true", err, sizeof err), 0, "%s", err);
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof err);
  cr_assert_not_null(fam, "%s", err);
  cr_assert_eq(fam->nobs, 3);
  mrlEnv* env = fam->env_make(fam, 2);
  double task[2] = {2.5, 1.0}, x[3], y;
  fam->set_task(env, task);
  fam->reset(env, 1, &rng, x);
  fam->target(env, 1, &y);
  cr_assert(x[1] == 2.5 && x[2] == 1.0, "obs (%g, %g, %g)", x[0], x[1], x[2]);
  cr_assert_float_eq(y, 2.5 * sin(x[0] + 1.0), 1e-15);
  fam->env_free(env);
  mrl_family_free(fam);
}

// point_nav moves by env.action_scale x action, clipped to +-0.1 per axis:
// with the paper's scale 0.1 an action of 0.5 moves 0.05 and one of 3 stops at
// the bound; with the default scale 1 an action of 0.05 moves 0.05.
Test(sampler, point_nav_moves_by_scaled_action_within_bounds) {
  Setup s;
  setup_family_with(&s, NULL, "env.action_scale=0.1");
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_INIT, 0, 0, 0);
  double obs[2], rew;
  int done;
  s.fam->reset(s.ln->env, 0, &rng, obs);
  s.fam->step(s.ln->env, 0, (double[]){0.5, -3}, obs, &rew, &done);
  cr_assert_float_eq(obs[0], 0.05, 1e-15);
  cr_assert_float_eq(obs[1], -0.1, 1e-15);
  double dx = obs[0] - s.task[0], dy = obs[1] - s.task[1];
  cr_assert_float_eq(rew, -sqrt(dx * dx + dy * dy), 1e-15);
  teardown_family(&s);

  setup_family(&s, NULL);
  s.fam->reset(s.ln->env, 0, &rng, obs);
  s.fam->step(s.ln->env, 0, (double[]){0.05, 0.5}, obs, &rew, &done);
  cr_assert_float_eq(obs[0], 0.05, 1e-15);
  cr_assert_float_eq(obs[1], 0.1, 1e-15);
  teardown_family(&s);
}
