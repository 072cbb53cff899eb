// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// family.c: the registry of task families and the split-keyed task sampler.

#include <string.h>

#include "envs.h"

typedef mrlFamily* (*FamilyMaker)(const mrlConfig* cfg, char* err, size_t errlen);

const char* const mrl_family_names[] = {"point_nav", "sine", "mujoco", NULL};
const char* const mrl_family_docs[] = {
    "2-D point navigation to a goal in a box (MAML paper); task = goal",
    "sine-wave regression (Reptile paper), supervised: MSE, 1 point per episode",
    "any MJCF robot (env.model): slope, body-parameter, velocity, direction or goal tasks", NULL};
static const FamilyMaker makers[] = {mrl_point_nav_make, mrl_sine_make, mrl_mujoco_make};

mrlFamily* mrl_family_make(const mrlConfig* cfg, char* err, size_t errlen) {
  for (int i = 0; mrl_family_names[i]; i++) {
    if (!strcmp(cfg->env.name, mrl_family_names[i])) return makers[i](cfg, err, errlen);
  }
  mrl_error(err, errlen, "env.name: unknown task family '%s' (see `metarl envs`)", cfg->env.name);
  return NULL;
}

void mrl_family_free(mrlFamily* fam) {
  if (fam) fam->free(fam);
}

// Train and test tasks come from separate streams; the test split is keyed by
// its own seed alone, so it is the same for every training seed.
void mrl_task_sample(const mrlFamily* fam, const mrlConfig* cfg, int test, uint64_t iteration,
                     uint64_t index, double* task) {
  mrlRng rng;
  if (test) {
    mrl_rng_init(&rng, cfg->task.test_seed, MRL_RNG_TASK_TEST, 0, index, 0);
  } else {
    mrl_rng_init(&rng, cfg->seed, MRL_RNG_TASK_TRAIN, iteration, index, 0);
  }
  fam->sample_task(fam, &rng, task);
  // task.direction_balanced: every meta-batch of even size holds as many
  // goals of each direction, so no iteration's outer step leans on a chance
  // majority. The draw above is still taken, leaving the other slots as they were.
  if (!test && cfg->task.direction && cfg->task.direction_balanced && fam->task_names) {
    for (int k = 0; k < fam->ntask; k++) {
      if (!strcmp(fam->task_names[k], "direction")) task[k] = (index & 1) ? 1 : -1;
    }
  }
}
