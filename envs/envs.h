// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// envs.h: constructors of the task families, for the registry in family.c.

#ifndef METARL_ENVS_H_
#define METARL_ENVS_H_

#include "metarl.h"

#include <mujoco/mujoco.h>

// Each returns a family configured from cfg, or NULL with a message in err.
mrlFamily* mrl_point_nav_make(const mrlConfig* cfg, char* err, size_t errlen);
mrlFamily* mrl_sine_make(const mrlConfig* cfg, char* err, size_t errlen);
mrlFamily* mrl_mujoco_make(const mrlConfig* cfg, char* err, size_t errlen);

// The pristine compiled model of a mujoco family (for rendering and bench).
const mjModel* mrl_mujoco_model(const mrlFamily* fam);
// A mujoco worker's model (the current task applied) and episode i's data.
mjModel* mrl_mujoco_env_model(mrlEnv* env);
mjData* mrl_mujoco_env_data(mrlEnv* env, int i);
// Episodes of this worker ended by a diverging simulation, so far.
long mrl_mujoco_diverged(const mrlEnv* env);
// Physics alone, for `metarl bench`: random controls, frame_skip mj_steps on
// episode i; returns whether the env would end the episode there.
int mrl_mujoco_physics_step(mrlEnv* env, int i, mrlRng* rng);

#endif  // METARL_ENVS_H_
