// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_mujoco_env.c: the MuJoCo locomotion env on small models: each
// randomizer moves the physics the expected way, the slope tilts the floor,
// observations hold no task parameter (unless env.obs_task appends the drawn
// ones), trajectories are reproducible and
// tasks apply without residue, divergence ends an episode cleanly.

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envs.h"
#include "metarl.h"

#define DEG (3.14159265358979323846 / 180)

// Task slots: slope, heading, velocity, direction, goal x, goal y, then the
// multipliers of the randomized kinds in the order mass, inertia, friction,
// damping, gear (mujoco_env.c).
enum { SLOPE, HEADING, VELOCITY, DIRECTION, GOAL_X, GOAL_Y, FIRST_MULT };

static mrlConfig config_for(const char* model) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  snprintf(cfg.env.name, sizeof cfg.env.name, "mujoco");
  snprintf(cfg.env.model, sizeof cfg.env.model, "tests/models/%s", model);
  cfg.env.horizon = 50;
  cfg.env.reset_noise = 0;
  return cfg;
}

static mrlFamily* make(const mrlConfig* cfg) {
  char err[MRL_ERRLEN] = "";
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof err);
  cr_assert_not_null(fam, "%s", err);
  return fam;
}

// Neutral task: no slope, every multiplier 1.
static void neutral(const mrlFamily* fam, double* task) {
  for (int k = 0; k < fam->ntask; k++) task[k] = k < FIRST_MULT ? 0 : 1;
  task[DIRECTION] = 1;
}

// Run n steps of episode 0 with a constant action; returns the last obs.
static void run(const mrlFamily* fam, mrlEnv* env, const double* task, const double* act, int n,
                double* obs) {
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->set_task(env, task);
  fam->reset(env, 0, &rng, obs);
  for (int t = 0; t < n; t++) {
    double r;
    int done;
    fam->step(env, 0, act, obs, &r, &done);
  }
}

Test(mujoco_env, heavier_body_accelerates_less) {
  mrlConfig cfg = config_for("slider.xml");
  cfg.task.mass_base = 2;
  cfg.task.mass_range = 1;
  mrlFamily* fam = make(&cfg);
  cr_assert_eq(fam->ntask, FIRST_MULT + 2, "one mass slot per body");
  mrlEnv* env = fam->env_make(fam, 1);
  double task[16], obs[16], act[2] = {1, 0};
  mjModel* m = mrl_mujoco_env_model(env);
  mjData* d = mrl_mujoco_env_data(env, 0);
  double v[2];
  for (int heavy = 0; heavy < 2; heavy++) {
    neutral(fam, task);
    task[FIRST_MULT] = heavy ? 2.0 : 1.0;  // the torso (body 1)
    run(fam, env, task, act, 10, obs);
    cr_assert_float_eq(m->body_mass[1], heavy ? 2.0 : 1.0, 1e-12);
    v[heavy] = d->qvel[0];
  }
  cr_assert(v[0] > 0 && v[1] > 0);
  cr_assert(fabs(v[0] / v[1] - 2) < 1e-6, "twice the mass, half the velocity: %g vs %g", v[0],
            v[1]);
  fam->env_free(env);
  mrl_family_free(fam);
}

Test(mujoco_env, stronger_gear_accelerates_joint_more) {
  mrlConfig cfg = config_for("slider.xml");
  cfg.task.gear_base = 2;
  cfg.task.gear_range = 1;
  mrlFamily* fam = make(&cfg);
  mrlEnv* env = fam->env_make(fam, 1);
  double task[16], obs[16], act[2] = {0, 1};
  mjData* d = mrl_mujoco_env_data(env, 0);
  double w[2];
  for (int strong = 0; strong < 2; strong++) {
    neutral(fam, task);
    task[FIRST_MULT + 1] = strong ? 1.5 : 1.0;  // the second actuator drives the hinge
    run(fam, env, task, act, 5, obs);
    w[strong] = d->qvel[1];
  }
  cr_assert(w[0] > 0);
  cr_assert(fabs(w[1] / w[0] - 1.5) < 1e-6, "1.5x gear, 1.5x speed: %g vs %g", w[1], w[0]);
  fam->env_free(env);
  mrl_family_free(fam);
}

Test(mujoco_env, damping_and_friction_scale_their_fields) {
  mrlConfig cfg = config_for("slider.xml");
  cfg.task.damping_base = 1.3;
  cfg.task.damping_range = 3;
  cfg.task.friction_base = 1.5;
  cfg.task.friction_range = 3;
  cfg.task.body_rand = MRL_RAND_BODY;
  mrlFamily* fam = make(&cfg);
  const mjModel* pristine = mrl_mujoco_model(fam);
  mrlEnv* env = fam->env_make(fam, 1);
  mjModel* m = mrl_mujoco_env_model(env);
  double task[32];
  mrlRng rng;
  mrl_rng_init(&rng, 5, MRL_RNG_TASK_TRAIN, 0, 0, 0);
  fam->sample_task(fam, &rng, task);
  fam->set_task(env, task);
  // slots: friction per geom (3 geoms), then damping per dof (2 dofs)
  for (int g = 0; g < m->ngeom; g++) {
    double x = task[FIRST_MULT + g];
    cr_assert(x >= pow(1.5, -3) - 1e-12 && x <= pow(1.5, 3) + 1e-12);
    cr_assert_float_eq(m->geom_friction[3 * g], pristine->geom_friction[3 * g] * x, 1e-12);
  }
  for (int v = 0; v < m->nv; v++) {
    double x = task[FIRST_MULT + m->ngeom + v];
    cr_assert_float_eq(m->dof_damping[v], pristine->dof_damping[v] * x, 1e-12);
  }
  fam->env_free(env);
  mrl_family_free(fam);
}

// On a frictionless tilted plane a free ball slides downhill along the slope.
static void slide(double slope_deg, double heading_deg, double* displacement) {
  mrlConfig cfg = config_for("ball_on_plane.xml");
  cfg.task.slope_low = -30;
  cfg.task.slope_high = 30;
  mrlFamily* fam = make(&cfg);
  mrlEnv* env = fam->env_make(fam, 1);
  double task[8], obs[64], act[1] = {0};
  neutral(fam, task);
  task[SLOPE] = slope_deg;
  task[HEADING] = heading_deg;
  mjData* d = mrl_mujoco_env_data(env, 0);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->set_task(env, task);
  fam->reset(env, 0, &rng, obs);
  double start[3];
  memcpy(start, d->qpos, sizeof start);
  for (int t = 0; t < 40; t++) {
    double r;
    int done;
    fam->step(env, 0, act, obs, &r, &done);
    cr_assert_eq(done, 0);
  }
  for (int a = 0; a < 3; a++) displacement[a] = d->qpos[a] - start[a];
  fam->env_free(env);
  mrl_family_free(fam);
}

Test(mujoco_env, ball_slides_downhill_on_a_frictionless_slope) {
  double dx[3];
  slide(20, 0, dx);  // uphill is +x
  cr_assert(dx[0] < -0.05, "slid %g along x", dx[0]);
  cr_assert(fabs(dx[1]) < 1e-9);
  cr_assert(fabs(dx[2] / dx[0] - tan(20 * DEG)) < 1e-3, "along the surface: dz/dx = %g",
            dx[2] / dx[0]);
  slide(20, 90, dx);  // uphill is +y
  cr_assert(dx[1] < -0.05 && fabs(dx[0]) < 1e-9, "slid (%g, %g)", dx[0], dx[1]);
  slide(-20, 0, dx);  // downhill toward +x
  cr_assert(dx[0] > 0.05);
  slide(0, 0, dx);  // flat: stays
  cr_assert(fabs(dx[0]) < 1e-9 && fabs(dx[2]) < 1e-2, "flat: moved (%g, %g)", dx[0], dx[2]);
}

Test(mujoco_env, observation_has_declared_size_and_no_task_parameter) {
  mrlConfig cfg = config_for("ball_on_plane.xml");
  cfg.task.slope_low = -20;
  cfg.task.slope_high = 20;
  cfg.task.mass_base = 1.5;
  cfg.task.mass_range = 3;
  mrlFamily* fam = make(&cfg);
  const mjModel* m = mrl_mujoco_model(fam);
  // height over the surface, the quaternion, the hinge; all velocities
  cr_assert_eq(fam->nobs, 1 + (m->nq - 3) + m->nv);
  mrlEnv* env = fam->env_make(fam, 1);
  double task[8], obs_a[64], obs_b[64];
  mrlRng rng;
  neutral(fam, task);
  task[SLOPE] = -15;
  task[FIRST_MULT] = 0.4;
  fam->set_task(env, task);
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->reset(env, 0, &rng, obs_a);
  task[SLOPE] = 15;
  task[FIRST_MULT] = 3;
  fam->set_task(env, task);
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->reset(env, 0, &rng, obs_b);
  for (int k = 0; k < fam->nobs; k++) {
    cr_assert(fabs(obs_a[k] - obs_b[k]) < 1e-9, "obs[%d] differs across tasks: %g vs %g", k,
              obs_a[k], obs_b[k]);
  }
  fam->env_free(env);
  mrl_family_free(fam);
}

// The slope walker itself: same seed, same trajectory; and task A after task
// B gives A's trajectory bit for bit (no residue of B in the worker's model).
Test(mujoco_env, trajectories_reproduce_and_tasks_leave_no_residue) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  char err[MRL_ERRLEN];
  cr_assert_eq(
      mrl_config_load(&cfg, METARL_SOURCE_DIR "/configs/slope_walker_200.yaml", err, sizeof err), 0,
      "%s", err);
  mrlFamily* fam = make(&cfg);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  double* params = mrl_alloc(sizeof(double) * pol.nparam);
  mrlRng rng;
  mrl_rng_init(&rng, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, params);
  mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, 4);
  int rows = 4 * fam->horizon;
  double* first = mrl_alloc(sizeof(double) * rows * fam->nobs);
  double task_a[64], task_b[64];
  mrl_task_sample(fam, &cfg, 1, 0, 0, task_a);
  mrl_task_sample(fam, &cfg, 1, 0, 1, task_b);
  fam->set_task(ln->env, task_a);
  long n1 = mrl_sample(fam, ln->env, &pol, params, ln->work, ln->batch, 7, 0, 0);
  memcpy(first, ln->batch->obs, sizeof(double) * rows * fam->nobs);
  double ret_a = mrl_batch_mean_return(ln->batch);
  fam->set_task(ln->env, task_b);
  mrl_sample(fam, ln->env, &pol, params, ln->work, ln->batch, 7, 0, 0);
  double ret_b = mrl_batch_mean_return(ln->batch);
  fam->set_task(ln->env, task_a);
  long n2 = mrl_sample(fam, ln->env, &pol, params, ln->work, ln->batch, 7, 0, 0);
  cr_assert_eq(n1, n2);
  cr_assert_eq(memcmp(first, ln->batch->obs, sizeof(double) * rows * fam->nobs), 0);
  cr_assert_eq(mrl_batch_mean_return(ln->batch), ret_a);
  cr_assert_neq(ret_a, ret_b, "two tasks, two outcomes");
  for (int r = 0; r < rows * fam->nobs; r++) cr_assert(isfinite(ln->batch->obs[r]));
  free(first);
  free(params);
  mrl_learner_free(ln);
  mrl_family_free(fam);
}

Test(mujoco_env, diverging_simulation_ends_the_episode_cleanly) {
  mrl_install_mujoco_handlers();  // count warnings instead of printing each
  long warnings = mrl_mujoco_warning_count();
  mrlConfig cfg = config_for("unstable.xml");
  mrlFamily* fam = make(&cfg);
  mrlEnv* env = fam->env_make(fam, 2);
  double task[8], obs[16], act[1] = {1};
  neutral(fam, task);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->set_task(env, task);
  fam->reset(env, 0, &rng, obs);
  int done = 0, t = 0;
  double r = 0;
  for (; t < 20 && !done; t++) fam->step(env, 0, act, obs, &r, &done);
  cr_assert_eq(done, 1, "the episode must end");
  cr_assert(isfinite(r));
  for (int k = 0; k < fam->nobs; k++) cr_assert(isfinite(obs[k]));
  cr_assert_eq(mrl_mujoco_diverged(env), 1);
  cr_assert_eq(mrl_mujoco_warning_count(), warnings + 1, "MuJoCo's bad-qacc warning, counted");
  fam->env_free(env);
  mrl_family_free(fam);
}

static void make_fails(const mrlConfig* cfg, const char* expect) {
  char err[MRL_ERRLEN] = "";
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof err);
  cr_assert_null(fam);
  cr_assert_not_null(strstr(err, expect), "'%s' lacks '%s'", err, expect);
}

Test(mujoco_env, bad_models_are_config_errors) {
  mrlConfig cfg = config_for("missing.xml");
  make_fails(&cfg, "env.model: cannot read MJCF file 'tests/models/missing.xml'");
  cfg = config_for("slider.xml");
  snprintf(cfg.env.root_body, sizeof cfg.env.root_body, "pelvis");
  make_fails(&cfg, "env.root_body: no body 'pelvis'");
  cfg = config_for("slider.xml");
  cfg.env.model[0] = 0;
  make_fails(&cfg, "env.model: a mujoco family needs an MJCF file");
  // an MJCF that does not compile
  char path[] = "/tmp/metarl-bad-XXXXXX.xml";
  int fd = mkstemps(path, 4);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, "<mujoco><worldbody><body><geom type='sphere'/></body>", 52), 52);
  close(fd);
  cfg = config_for("slider.xml");
  snprintf(cfg.env.model, sizeof cfg.env.model, "%s", path);
  make_fails(&cfg, "does not compile");
  unlink(path);
}

// Two envs, one per variant of a config, on the neutral task and reset from
// the same stream: the side-by-side comparisons of an env option.
typedef struct {
  mrlFamily *fa, *fb;
  mrlEnv *ea, *eb;
} Pair;

// Two families' envs on one task (NULL: the neutral one), reset from the same stream.
static Pair pair_reset_on(const mrlConfig* a, const mrlConfig* b, const double* on, double* oa,
                          double* ob) {
  Pair p = {make(a), make(b), NULL, NULL};
  p.ea = p.fa->env_make(p.fa, 1);
  p.eb = p.fb->env_make(p.fb, 1);
  double task[64];
  neutral(p.fa, task);
  if (on) memcpy(task, on, sizeof(double) * p.fa->ntask);
  p.fa->set_task(p.ea, task);
  p.fb->set_task(p.eb, task);
  mrlRng ra, rb;
  mrl_rng_init(&ra, 4, MRL_RNG_RESET, 0, 0, 0);
  mrl_rng_init(&rb, 4, MRL_RNG_RESET, 0, 0, 0);
  p.fa->reset(p.ea, 0, &ra, oa);
  p.fb->reset(p.eb, 0, &rb, ob);
  return p;
}

static Pair pair_reset(const mrlConfig* a, const mrlConfig* b, double* oa, double* ob) {
  return pair_reset_on(a, b, NULL, oa, ob);
}

// The half-cheetah with reset noise, rewarded by mode.
static mrlConfig noisy_cheetah(mrlRewardMode mode) {
  mrlConfig cfg = config_for("../../envs/models/half_cheetah.xml");
  cfg.reward.mode = mode;
  cfg.env.reset_noise = 0.1;
  return cfg;
}

// Step t of a pair: both envs take the same smooth action; their rewards out.
static void pair_step(const Pair* p, int t, double* oa, double* ob, double* r_a, double* r_b) {
  double act[6];
  int d_a, d_b;
  for (int u = 0; u < 6; u++) act[u] = sin(0.3 * t + u);
  p->fa->step(p->ea, 0, act, oa, r_a, &d_a);
  p->fb->step(p->eb, 0, act, ob, r_b, &d_b);
}

static void pair_free(Pair* p) {
  p->fa->env_free(p->ea);
  p->fb->env_free(p->eb);
  mrl_family_free(p->fa);
  mrl_family_free(p->fb);
}

// reset restarts an episode without mj_resetData (mujoco_env.c, restart): the
// data of an episode reset after 60 steps of another holds, field for field,
// what a fresh one reset from the same stream holds -- the state, the solver's
// warm start, the controls and the accelerations mj_forward derives from them.
Test(mujoco_env, reset_leaves_nothing_of_the_last_episode) {
  mrlConfig cfg = noisy_cheetah(MRL_REWARD_FORWARD);
  double oa[64], ob[64];
  Pair p = pair_reset(&cfg, &cfg, oa, ob);
  for (int t = 0; t < 60; t++) {
    double r_a, r_b;
    pair_step(&p, t, oa, ob, &r_a, &r_b);
  }
  mrlEnv* fresh = p.fa->env_make(p.fa, 1);
  double task[64];
  neutral(p.fa, task);
  p.fa->set_task(fresh, task);
  mrlRng ra, rb;
  mrl_rng_init(&ra, 9, MRL_RNG_RESET, 0, 0, 0);
  mrl_rng_init(&rb, 9, MRL_RNG_RESET, 0, 0, 0);
  p.fb->reset(p.eb, 0, &ra, ob);
  p.fa->reset(fresh, 0, &rb, oa);
  cr_assert_eq(memcmp(oa, ob, sizeof(double) * p.fa->nobs), 0, "the first observation");
  const mjModel* m = mrl_mujoco_env_model(fresh);
  const mjData *used = mrl_mujoco_env_data(p.eb, 0), *clean = mrl_mujoco_env_data(fresh, 0);
  cr_assert_eq(used->time, clean->time);
#define SAME(field, n) \
  cr_assert_eq(memcmp(used->field, clean->field, sizeof(mjtNum) * (n)), 0, #field " differs")
  SAME(qpos, m->nq);
  SAME(qvel, m->nv);
  SAME(act, m->na);
  SAME(qacc_warmstart, m->nv);
  SAME(ctrl, m->nu);
  SAME(qfrc_applied, m->nv);
  SAME(xfrc_applied, 6 * m->nbody);
  SAME(qacc, m->nv);
  SAME(xpos, 3 * m->nbody);
#undef SAME
  p.fa->env_free(fresh);
  pair_free(&p);
}

// env.obs_com appends the root subtree's centre of mass of the state reached
// (a fresh mj_forward of a copy of it agrees) and changes nothing else: the
// rest of the observation and every reward keep their bits.
Test(mujoco_env, obs_com_appends_the_current_centre_of_mass_only) {
  mrlConfig plain = noisy_cheetah(MRL_REWARD_DIRECTION), com = plain;
  com.env.obs_com = 1;
  double oa[64], ob[64];
  Pair p = pair_reset(&plain, &com, oa, ob);
  mrlFamily *fa = p.fa, *fb = p.fb;
  mrlEnv* eb = p.eb;
  cr_assert_eq(fb->nobs, fa->nobs + 3);
  const mjModel* m = mrl_mujoco_env_model(eb);
  mjData* copy = mj_makeData(m);
  int root = mrl_mujoco_root(fb);
  double moved = 0;
  for (int t = 0; t < 40; t++) {
    double r_a, r_b;
    pair_step(&p, t, oa, ob, &r_a, &r_b);
    cr_assert_eq(r_a, r_b, "step %d: the reward changed", t);
    cr_assert_eq(memcmp(oa, ob, sizeof(double) * fa->nobs), 0, "step %d: the observation", t);
    mj_copyData(copy, m, mrl_mujoco_env_data(eb, 0));
    mj_forward(m, copy);
    for (int k = 0; k < 3; k++) {
      cr_assert_float_eq(ob[fa->nobs + k], copy->subtree_com[3 * root + k], 1e-12,
                         "step %d: centre of mass %d", t, k);
    }
    moved = fmax(moved, fabs(ob[fa->nobs]));
  }
  cr_assert(moved > 0.01, "the centre of mass never moved (%g)", moved);
  mj_deleteData(copy);
  pair_free(&p);
}

// env.obs_task appends the task parameters the family draws, one per
// multiplier group and no constant, and changes nothing else: on the
// goal-velocity cheetah the goal follows the plain observation, bit for bit;
// on a slope family with per-body mass draws, the slope and one mass per body.
// A family that draws nothing has nothing to show: a config error.
Test(mujoco_env, obs_task_appends_the_drawn_task_parameters_only) {
  mrlConfig plain = noisy_cheetah(MRL_REWARD_TARGET_VEL), shown = plain;
  plain.task.velocity_high = 2;
  shown.task.velocity_high = 2;
  shown.env.obs_task = 1;
  double oa[64], ob[64], task[64];
  mrlFamily* probe = make(&plain);
  neutral(probe, task);
  task[VELOCITY] = 1.25;
  mrl_family_free(probe);
  Pair p = pair_reset_on(&plain, &shown, task, oa, ob);
  cr_assert_eq(p.fb->nobs, p.fa->nobs + 1);
  for (int t = 0; t <= 20; t++) {
    double r_a, r_b;
    cr_assert_eq(memcmp(oa, ob, sizeof(double) * p.fa->nobs), 0, "step %d: the observation", t);
    cr_assert_eq(ob[p.fa->nobs], 1.25, "step %d: the goal velocity", t);
    ob[p.fa->nobs] = -1;  // each step writes it again
    pair_step(&p, t, oa, ob, &r_a, &r_b);
    cr_assert_eq(r_a, r_b, "step %d: the reward changed", t);
  }
  pair_free(&p);

  mrlConfig cfg = noisy_cheetah(MRL_REWARD_FORWARD);
  cfg.task.slope_low = -20;
  cfg.task.slope_high = 20;
  cfg.task.mass_base = 1.5;
  cfg.task.mass_range = 3;
  cfg.task.friction_base = 1.5;
  cfg.task.friction_range = 3;
  cfg.task.body_rand = MRL_RAND_BODY;
  mrlFamily* fa = make(&cfg);
  cfg.env.obs_task = 1;
  mrlFamily* fb = make(&cfg);
  const mjModel* m = mrl_mujoco_model(fb);
  // the slope, then a mass per body but the world, then a friction per body
  // that has geoms (the floor's included; the torso has two: one draw)
  int bodies_with_geoms = 0;
  for (int b = 0; b < m->nbody; b++) {
    for (int g = 0; g < m->ngeom; g++) {
      if (m->geom_bodyid[g] == b) {
        bodies_with_geoms++;
        break;
      }
    }
  }
  cr_assert(bodies_with_geoms < m->ngeom, "no body with two geoms: grouping untested");
  int nshown = 1 + (m->nbody - 1) + bodies_with_geoms;
  cr_assert_eq(fb->nobs, fa->nobs + nshown, "%d appended, %d expected", fb->nobs - fa->nobs,
               nshown);
  mrlEnv* env = fb->env_make(fb, 1);
  mrlRng rng;
  mrl_rng_init(&rng, 3, MRL_RNG_TASK_TRAIN, 0, 0, 0);
  fb->sample_task(fb, &rng, task);
  fb->set_task(env, task);
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fb->reset(env, 0, &rng, ob);
  const double* tail = ob + fa->nobs;
  cr_assert_eq(tail[0], task[SLOPE]);
  for (int k = 1; k < nshown; k++) {
    int found = 0;  // each appended value is one of the task's multipliers
    for (int j = FIRST_MULT; j < fb->ntask; j++) found |= tail[k] == task[j];
    cr_assert(found, "appended value %d (%g) is no multiplier of the task", k, tail[k]);
    cr_assert_neq(tail[k], tail[k - 1], "values %d and %d repeat one draw", k - 1, k);
  }
  fb->env_free(env);
  mrl_family_free(fa);
  mrl_family_free(fb);

  cfg = config_for("slider.xml");
  cfg.env.obs_task = 1;
  make_fails(&cfg, "env.obs_task: this family draws no task parameter");
}

// Root x and height above the flat floor of the state in d, from a fresh
// mj_forward of a copy (what the positions of the state reached are).
static void fresh_root(const mjModel* m, const mjData* d, mjData* copy, int root, double* x,
                       double* z) {
  mj_copyData(copy, m, d);
  mj_forward(m, copy);
  *x = copy->xpos[3 * root];
  *z = copy->xpos[3 * root + 2];
}

// env.sync_positions: the reward is the root's displacement during the action's
// own step and obs[0] the height of the state reached; without it both lag one
// physics step (the reward of step t is the synced reward of step t - 1, bit
// for bit). The dynamics are the same either way.
Test(mujoco_env, sync_positions_rewards_the_action_s_own_motion) {
  // reward = velocity along +x: no control cost
  mrlConfig lag = noisy_cheetah(MRL_REWARD_FORWARD), sync = lag;
  sync.env.sync_positions = 1;
  double oa[64], ob[64];
  Pair p = pair_reset(&lag, &sync, oa, ob);
  mrlFamily* fb = p.fb;
  mrlEnv *ea = p.ea, *eb = p.eb;
  const mjModel* m = mrl_mujoco_env_model(eb);
  mjData* copy = mj_makeData(m);
  int root = mrl_mujoco_root(fb);
  double x_before, z, synced_before = 0;
  fresh_root(m, mrl_mujoco_env_data(eb, 0), copy, root, &x_before, &z);
  for (int t = 0; t < 40; t++) {
    double r_a, r_b, x;
    pair_step(&p, t, oa, ob, &r_a, &r_b);
    const mjData *da = mrl_mujoco_env_data(ea, 0), *db = mrl_mujoco_env_data(eb, 0);
    cr_assert_eq(memcmp(da->qpos, db->qpos, sizeof(mjtNum) * m->nq), 0, "step %d: qpos", t);
    cr_assert_eq(memcmp(da->qvel, db->qvel, sizeof(mjtNum) * m->nv), 0, "step %d: qvel", t);
    fresh_root(m, db, copy, root, &x, &z);
    cr_assert_float_eq(r_b, (x - x_before) / m->opt.timestep, 1e-9, "step %d: synced reward", t);
    cr_assert_float_eq(ob[0], z, 1e-12, "step %d: synced root height", t);
    cr_assert(t == 0 ? r_a == 0 : r_a == synced_before, "step %d: the lagging reward %.17g", t,
              r_a);
    cr_assert(fabs(r_b) > 0, "step %d: the synced reward is 0", t);
    synced_before = r_b;
    x_before = x;
  }
  mj_deleteData(copy);
  pair_free(&p);
}

// reward.velocity com: the reward's velocity is the root subtree's momentum
// over its mass at the state reached (rllab's get_body_comvel), summed here by
// hand from a fresh mj_forward with the task's masses (a heavier torso); the
// dynamics and the observation are those of env.sync_positions.
Test(mujoco_env, com_velocity_is_the_subtree_momentum_over_its_mass) {
  mrlConfig root = noisy_cheetah(MRL_REWARD_FORWARD), com = root;
  root.env.sync_positions = 1;
  com.reward.velocity = MRL_VELOCITY_COM;
  double task[64], oa[64], ob[64];
  mrlFamily* probe = make(&root);
  neutral(probe, task);
  mrl_family_free(probe);
  task[FIRST_MULT] = 1.5;
  Pair p = pair_reset_on(&root, &com, task, oa, ob);
  mrlFamily* fa = p.fa;
  mrlEnv *ea = p.ea, *eb = p.eb;
  const mjModel* m = mrl_mujoco_env_model(eb);
  mjData* copy = mj_makeData(m);
  double max_gap = 0;
  for (int t = 0; t < 40; t++) {
    double r_a, r_b;
    pair_step(&p, t, oa, ob, &r_a, &r_b);
    const mjData *da = mrl_mujoco_env_data(ea, 0), *db = mrl_mujoco_env_data(eb, 0);
    cr_assert_eq(memcmp(da->qpos, db->qpos, sizeof(mjtNum) * m->nq), 0, "step %d: qpos", t);
    cr_assert_eq(memcmp(da->qvel, db->qvel, sizeof(mjtNum) * m->nv), 0, "step %d: qvel", t);
    cr_assert_eq(memcmp(oa, ob, sizeof(double) * fa->nobs), 0, "step %d: obs", t);
    mj_copyData(copy, m, db);
    mj_forward(m, copy);
    double momentum = 0, mass = 0, v6[6];
    for (int b = 1; b < m->nbody; b++) {  // the torso (body 1) holds every other body
      mj_objectVelocity(m, copy, mjOBJ_BODY, b, v6, 0);
      momentum += m->body_mass[b] * v6[3];
      mass += m->body_mass[b];
    }
    cr_assert_float_eq(r_b, momentum / mass, 1e-9, "step %d: com velocity %.17g", t, r_b);
    max_gap = fmax(max_gap, fabs(r_b - r_a));
  }
  cr_assert_gt(max_gap, 0.05, "the com and root velocities never differed");
  mj_deleteData(copy);
  pair_free(&p);
}

// task.direction_balanced: training directions alternate by index, every
// other slot is the drawn one, and the held-out split is untouched.
Test(mujoco_env, balanced_directions_alternate_in_training_only) {
  mrlConfig drawn = noisy_cheetah(MRL_REWARD_DIRECTION), balanced;
  drawn.task.direction = 1;
  drawn.task.mass_base = 1.5;
  drawn.task.mass_range = 1;
  balanced = drawn;
  balanced.task.direction_balanced = 1;
  mrlFamily* fam = make(&drawn);
  double a[64], b[64];
  int changed = 0, sum = 0;
  for (int i = 0; i < 40; i++) {
    mrl_task_sample(fam, &drawn, 0, 7, i, a);
    mrl_task_sample(fam, &balanced, 0, 7, i, b);
    cr_assert_eq(b[DIRECTION], i % 2 ? 1 : -1, "training task %d", i);
    changed += a[DIRECTION] != b[DIRECTION];
    sum += (int)b[DIRECTION];
    a[DIRECTION] = b[DIRECTION];
    cr_assert_eq(memcmp(a, b, sizeof(double) * fam->ntask), 0, "training task %d: other slots", i);
    mrl_task_sample(fam, &drawn, 1, 0, i, a);
    mrl_task_sample(fam, &balanced, 1, 0, i, b);
    cr_assert_eq(memcmp(a, b, sizeof(double) * fam->ntask), 0, "test task %d", i);
  }
  cr_assert_eq(sum, 0);
  cr_assert_gt(changed, 0, "the drawn directions already alternate: the test shows nothing");
  mrl_family_free(fam);
}

// env.timestep replaces the model's physics step in each task's copy of the
// model, and the velocity reward divides by it.
Test(mujoco_env, timestep_replaces_the_model_s) {
  mrlConfig cfg = config_for("../../envs/models/half_cheetah.xml");
  cfg.reward.mode = MRL_REWARD_FORWARD;
  cfg.env.timestep = 0.02;
  cfg.env.sync_positions = 1;
  mrlFamily* fam = make(&cfg);
  mrlEnv* env = fam->env_make(fam, 1);
  double task[64], obs[64], act[6] = {1, -1, 1, -1, 1, -1}, x0, x1, z, r;
  neutral(fam, task);
  task[FIRST_MULT] = 1.5;  // a heavier torso: the task rewrites the model copy
  fam->set_task(env, task);
  const mjModel* m = mrl_mujoco_env_model(env);
  cr_assert_eq(m->opt.timestep, 0.02);
  mjData* copy = mj_makeData(m);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_RESET, 0, 0, 0);
  fam->reset(env, 0, &rng, obs);
  int root = mrl_mujoco_root(fam), done;
  fresh_root(m, mrl_mujoco_env_data(env, 0), copy, root, &x0, &z);
  for (int t = 0; t < 5; t++) {
    fam->step(env, 0, act, obs, &r, &done);
    fresh_root(m, mrl_mujoco_env_data(env, 0), copy, root, &x1, &z);
    cr_assert_float_eq(r, (x1 - x0) / 0.02, 1e-9, "step %d", t);
    x0 = x1;
  }
  cr_assert(fabs(r) > 1e-3, "the root did not move");
  mj_deleteData(copy);
  fam->env_free(env);
  mrl_family_free(fam);
}
