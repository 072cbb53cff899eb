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

// For the viewer and recorder (src/render.h): the root body and the floor
// plane's geom id (-1: none) of a mujoco family.
int mrl_mujoco_root(const mrlFamily* fam);
int mrl_mujoco_floor(const mrlFamily* fam);
// The floor's unit normal (world frame) under a worker's current task.
void mrl_mujoco_env_normal(const mrlEnv* env, double normal[3]);
// Set the task parameters named by a viewer key in task (ntask): slope and
// heading (degrees), velocity, direction (+-1), goal_x, goal_y, or a
// multiplier kind (mass, inertia, friction, damping, gear: every multiplier of
// that kind gets value). -1 with a message if the family has no such
// parameter (e.g. no target velocity in its reward, no mass multipliers) or
// the value is out of range.
int mrl_mujoco_task_set(const mrlFamily* fam, double* task, const char* key, double value,
                        char* err, size_t errlen);

#endif  // METARL_ENVS_H_
