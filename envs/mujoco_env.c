// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// mujoco_env.c: one locomotion env for every MJCF robot, configured from
// YAML (env.*, reward.*, task.*). A task is a vector of parameters: the
// floor's slope and heading, a target velocity or direction, a goal, and
// log-uniform multipliers of body mass, inertia, geom friction, joint damping
// and actuator gear. A task is applied by copying the pristine model into the
// worker's model, scaling fields, tilting the floor and mj_setConst; never by
// recompiling XML.
//
// Progress, height and tilt are measured relative to the floor's surface:
// velocity along the surface's forward direction (world +x projected on the
// plane), height along the plane's normal, tilt of the root's z axis from the
// normal. The observation holds the root's height over the surface and its
// orientation, the other joint positions and the clipped velocities; no task
// parameter unless env.obs_task appends the drawn ones (an oracle), and the
// root's position along the floor only inside the centre of mass that
// env.obs_com appends (rllab's cheetah and ant observe it).

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mujoco/mujoco.h>

#include "envs.h"

#ifndef METARL_SOURCE_DIR
#define METARL_SOURCE_DIR "."
#endif

#define DEG (3.14159265358979323846 / 180)

// What a task parameter scales.
typedef enum {
  SLOT_SLOPE = 0,  // floor tilt, degrees
  SLOT_HEADING,    // uphill direction, degrees
  SLOT_VELOCITY,   // target velocity
  SLOT_DIRECTION,  // +-1
  SLOT_GOAL_X,
  SLOT_GOAL_Y,
  SLOT_MASS,      // multiplier of body_mass[elem]
  SLOT_INERTIA,   // multiplier of body_inertia[3 elem ..]
  SLOT_FRICTION,  // multiplier of geom_friction[3 elem]
  SLOT_DAMPING,   // multiplier of dof_damping[elem]
  SLOT_GEAR       // multiplier of actuator_gear[6 elem]
} SlotKind;

typedef struct {
  SlotKind kind;
  int elem;   // model element the multiplier applies to
  int group;  // slots of one group share one draw (task.body_rand: body)
  char name[64];
} Slot;

typedef struct {
  mrlConfig cfg;   // the keys this family reads
  mjModel* model;  // pristine compiled model (never changed)
  int floor;       // geom id of the floor plane
  int root;        // body id of the root
  int nslot;
  Slot* slots;         // (nslot) task-parameter layout
  const char** names;  // (nslot) slot names, for CSV headers
  int first_multiplier;
  // observation layout: qpos indices kept (root height is written apart)
  int nkeep;
  int* keep;           // (nkeep) qpos indices copied into the observation
  int height_slot;     // index in obs of the root height (always 0)
  int nobs;            // observation length: 1 + nkeep + nv (+ 3 with env.obs_com,
                       // + nshown with env.obs_task)
  int nshown;          // env.obs_task: the task parameters appended to obs,
  int* shown;          // (nshown) their slots, those the family draws
  int root_z_qpos;     // qpos index that lifts the root along world z (-1: none)
  int root_quat_qpos;  // qpos index of a free root's quaternion (-1: none)
} MujocoFamily;

typedef struct {
  const MujocoFamily* mf;
  int nenv;
  mjModel* model;     // this worker's copy, with the current task applied
  mjData** data;      // (nenv)
  double* prev_root;  // (nenv, 3) root position before the step
  int* bad_before;    // (nenv) bad-qacc warning count before the step
  // the current task
  double normal[3];   // floor normal
  double forward[3];  // unit forward direction on the surface
  double target_velocity, direction, goal[2];
  double* task;           // (ntask) the current task, for env.obs_task
  double flat_clearance;  // lowest geom bound over a flat floor at reset
  long diverged;          // episodes ended by a diverging simulation
} MujocoEnv;

static int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// env.model relative to the working directory, else to the source tree.
static int resolve_model(const char* given, char* out, size_t n) {
  if (given[0] == '/' || file_exists(given)) {
    snprintf(out, n, "%s", given);
    return file_exists(out);
  }
  snprintf(out, n, "%s/%s", METARL_SOURCE_DIR, given);
  return file_exists(out);
}

// Multiplier slots of one kind: one per element, grouped per body if asked.
static void add_multipliers(MujocoFamily* mf, SlotKind kind, int count, const int* bodyid,
                            const char* prefix, int type, int* ngroup) {
  const mjModel* m = mf->model;
  for (int e = 0; e < count; e++) {
    Slot* s = &mf->slots[mf->nslot++];
    s->kind = kind;
    s->elem = e;
    s->group = *ngroup + e;
    if (mf->cfg.task.body_rand == MRL_RAND_BODY && bodyid) {
      // first slot of this kind on the same body owns the group
      s->group = -1;
      for (int j = mf->nslot - 2; j >= 0 && mf->slots[j].kind == kind; j--) {
        if (bodyid[mf->slots[j].elem] == bodyid[e]) s->group = mf->slots[j].group;
      }
      if (s->group < 0) s->group = *ngroup + e;
    }
    const char* nm = mj_id2name(m, type, e);
    char fallback[32];
    if (!nm) {
      snprintf(fallback, sizeof fallback, "%d", e);
      nm = fallback;
    }
    snprintf(s->name, sizeof s->name, "%s_%s", prefix, nm);
  }
  *ngroup += count;
}

static void family_free(mrlFamily* fam) {
  if (!fam) return;
  MujocoFamily* mf = fam->data;
  if (mf) {
    mj_deleteModel(mf->model);
    free(mf->slots);
    free(mf->names);
    free(mf->shown);
    free(mf->keep);
    free(mf);
  }
  free(fam);
}

static void sample_task(const mrlFamily* fam, mrlRng* rng, double* task);
static int describe_task(const mrlFamily* fam, const double* task, char* buf, size_t n);
static mrlEnv* env_make(const mrlFamily* fam, int nenv);
static void env_free(mrlEnv* e);
static void set_task(mrlEnv* e, const double* task);
static void reset(mrlEnv* e, int i, mrlRng* rng, double* obs);
static void step(mrlEnv* e, int i, const double* act, double* obs, double* reward, int* done);

// Whether task slot k differs between tasks: a scalar drawn from a range and
// read by the reward or the floor, or the first multiplier of its group (the
// others repeat its draw). env.obs_task appends these and no constant.
static int drawn(const MujocoFamily* mf, int k) {
  const mrlConfig* c = &mf->cfg;
  const Slot* s = &mf->slots[k];
  switch (s->kind) {
  case SLOT_SLOPE:
    return c->task.slope_low < c->task.slope_high;
  case SLOT_HEADING:
    return c->task.heading_low < c->task.heading_high;
  case SLOT_VELOCITY:
    return c->reward.mode == MRL_REWARD_TARGET_VEL && c->task.velocity_low < c->task.velocity_high;
  case SLOT_DIRECTION:
    return c->reward.mode == MRL_REWARD_DIRECTION && c->task.direction;
  case SLOT_GOAL_X:
  case SLOT_GOAL_Y:
    return c->reward.mode == MRL_REWARD_GOAL && c->task.goal_low < c->task.goal_high;
  default:
    for (int j = mf->first_multiplier; j < k; j++) {
      if (mf->slots[j].kind == s->kind && mf->slots[j].group == s->group) return 0;
    }
    return 1;  // multiplier slots exist only for the randomized kinds
  }
}

mrlFamily* mrl_mujoco_make(const mrlConfig* cfg, char* err, size_t errlen) {
  if (!cfg->env.model[0]) {
    mrl_error(err, errlen, "env.model: a mujoco family needs an MJCF file");
    return NULL;
  }
  char path[4096], xmlerr[1024] = "";
  if (!resolve_model(cfg->env.model, path, sizeof path)) {
    mrl_error(err, errlen,
              "env.model: cannot read MJCF file '%s' (looked in the working "
              "directory and in %s)",
              cfg->env.model, METARL_SOURCE_DIR);
    return NULL;
  }
  // found but unreadable (permissions, a folder): say so, not MuJoCo's
  // "XML_ERROR_FILE_NOT_FOUND" compile error
  FILE* f = fopen(path, "rb");
  if (!f || fgetc(f) == EOF) {
    int e = !f ? errno : ferror(f) ? errno : 0;
    if (f) fclose(f);
    mrl_error(err, errlen, "env.model: cannot read MJCF file '%s': %s", path,
              e ? strerror(e) : "empty file");
    return NULL;
  }
  fclose(f);
  mjModel* m = mj_loadXML(path, NULL, xmlerr, sizeof xmlerr);
  if (!m) {
    for (char* p = xmlerr; *p; p++) {
      if (*p == '\n') *p = ' ';
    }
    mrl_error(err, errlen, "env.model: '%s' does not compile: %s", path, xmlerr);
    return NULL;
  }
  if (cfg->env.timestep > 0) m->opt.timestep = cfg->env.timestep;  // every task copies it
  MujocoFamily* mf = mrl_alloc(sizeof(MujocoFamily));
  mf->cfg = *cfg;
  mf->model = m;
  mrlFamily* fam = mrl_alloc(sizeof(mrlFamily));
  fam->data = mf;
  fam->free = family_free;

  mf->root = mj_name2id(m, mjOBJ_BODY, cfg->env.root_body);
  if (mf->root <= 0) {
    mrl_error(err, errlen, "env.root_body: no body '%s' in '%s'", cfg->env.root_body, path);
    family_free(fam);
    return NULL;
  }
  mf->floor = -1;
  for (int g = 0; g < m->ngeom; g++) {
    if (m->geom_type[g] == mjGEOM_PLANE && m->geom_bodyid[g] == 0) {
      mf->floor = g;
      break;
    }
  }
  int tilts = cfg->task.slope_low != 0 || cfg->task.slope_high != 0;
  if (mf->floor < 0 && tilts) {
    mrl_error(err, errlen,
              "task.slope_low/high: '%s' has no plane geom in the world body "
              "to tilt",
              path);
    family_free(fam);
    return NULL;
  }
  if (m->nu == 0) {
    mrl_error(err, errlen, "env.model: '%s' has no actuators to control", path);
    family_free(fam);
    return NULL;
  }

  // observation: every qpos but the root's position along the floor, whose
  // height is written separately; then every qvel
  mf->keep = mrl_alloc(sizeof(int) * m->nq);
  mf->root_z_qpos = mf->root_quat_qpos = -1;
  for (int q = 0; q < m->nq; q++) mf->keep[q] = 1;
  for (int j = 0; j < m->njnt; j++) {
    if (m->jnt_bodyid[j] != mf->root) continue;
    int a = m->jnt_qposadr[j];
    if (m->jnt_type[j] == mjJNT_FREE) {
      mf->keep[a] = mf->keep[a + 1] = mf->keep[a + 2] = 0;
      mf->root_z_qpos = a + 2;
      mf->root_quat_qpos = a + 3;
    } else if (m->jnt_type[j] == mjJNT_SLIDE) {
      mf->keep[a] = 0;  // along the floor, or the height (written apart)
      const mjtNum* ax = m->jnt_axis + 3 * j;
      if (fabs(ax[2]) > 0.9) mf->root_z_qpos = a;
    }
  }
  int nkeep = 0;
  for (int q = 0; q < m->nq; q++) {
    if (mf->keep[q]) mf->keep[nkeep++] = q;
  }
  mf->nkeep = nkeep;

  // task parameters: scalars, then multipliers of the randomized kinds
  int maxslot = 6 + 2 * m->nbody + m->ngeom + m->nv + m->nu;
  mf->slots = mrl_alloc(sizeof(Slot) * maxslot);
  static const char* const scalar_names[] = {"slope_deg", "heading_deg", "target_velocity",
                                             "direction", "goal_x",      "goal_y"};
  for (int k = 0; k < 6; k++) {
    Slot* s = &mf->slots[mf->nslot++];
    s->kind = (SlotKind)k;
    s->group = k;
    snprintf(s->name, sizeof s->name, "%s", scalar_names[k]);
  }
  mf->first_multiplier = mf->nslot;
  int ngroup = 6;
  const mrlConfig* c = cfg;
  // bodies 1..nbody-1 (the world body has no mass)
  if (c->task.mass_base > 1 && c->task.mass_range > 0) {
    int before = mf->nslot;
    add_multipliers(mf, SLOT_MASS, m->nbody, NULL, "mass", mjOBJ_BODY, &ngroup);
    // drop the world body's slot
    memmove(&mf->slots[before], &mf->slots[before + 1], sizeof(Slot) * (mf->nslot - before - 1));
    mf->nslot--;
  }
  if (c->task.inertia_base > 1 && c->task.inertia_range > 0) {
    int before = mf->nslot;
    add_multipliers(mf, SLOT_INERTIA, m->nbody, NULL, "inertia", mjOBJ_BODY, &ngroup);
    memmove(&mf->slots[before], &mf->slots[before + 1], sizeof(Slot) * (mf->nslot - before - 1));
    mf->nslot--;
  }
  if (c->task.friction_base > 1 && c->task.friction_range > 0) {
    add_multipliers(mf, SLOT_FRICTION, m->ngeom, m->geom_bodyid, "friction", mjOBJ_GEOM, &ngroup);
  }
  if (c->task.damping_base > 1 && c->task.damping_range > 0) {
    int* dof_body = mrl_alloc(sizeof(int) * (m->nv + 1));
    for (int d = 0; d < m->nv; d++) dof_body[d] = m->dof_bodyid[d];
    int before = mf->nslot;
    add_multipliers(mf, SLOT_DAMPING, m->nv, dof_body, "damping", mjOBJ_DOF, &ngroup);
    for (int sidx = before; sidx < mf->nslot; sidx++) {  // name dofs by their joint
      const char* jn = mj_id2name(m, mjOBJ_JOINT, m->dof_jntid[mf->slots[sidx].elem]);
      snprintf(mf->slots[sidx].name, sizeof mf->slots[sidx].name, "damping_%s_%d", jn ? jn : "dof",
               mf->slots[sidx].elem);
    }
    free(dof_body);
  }
  if (c->task.gear_base > 1 && c->task.gear_range > 0) {
    int* act_body = mrl_alloc(sizeof(int) * (m->nu + 1));
    for (int u = 0; u < m->nu; u++) {
      int j = m->actuator_trnid[2 * u];
      act_body[u] = m->actuator_trntype[u] == mjTRN_JOINT && j >= 0 ? m->jnt_bodyid[j] : -1 - u;
    }
    add_multipliers(mf, SLOT_GEAR, m->nu, act_body, "gear", mjOBJ_ACTUATOR, &ngroup);
    free(act_body);
  }
  mf->names = mrl_alloc(sizeof(char*) * mf->nslot);
  for (int k = 0; k < mf->nslot; k++) mf->names[k] = mf->slots[k].name;

  if (cfg->env.obs_task) {
    mf->shown = mrl_alloc(sizeof(int) * mf->nslot);
    for (int k = 0; k < mf->nslot; k++) {
      if (drawn(mf, k)) mf->shown[mf->nshown++] = k;
    }
    if (mf->nshown == 0) {
      mrl_error(err, errlen,
                "env.obs_task: this family draws no task parameter to observe (every task "
                "is the same)");
      family_free(fam);
      return NULL;
    }
  }
  fam->name = "mujoco";
  mf->nobs = 1 + nkeep + m->nv + (cfg->env.obs_com ? 3 : 0) + mf->nshown;
  fam->nobs = mf->nobs;
  fam->nact = m->nu;
  fam->ntask = mf->nslot;
  fam->horizon = cfg->env.horizon;
  fam->task_names = mf->names;
  fam->sample_task = sample_task;
  fam->describe_task = describe_task;
  fam->env_make = env_make;
  fam->env_free = env_free;
  fam->set_task = set_task;
  fam->reset = reset;
  fam->step = step;
  return fam;
}

const mjModel* mrl_mujoco_model(const mrlFamily* fam) {
  return ((const MujocoFamily*)fam->data)->model;
}

static double uniform(mrlRng* rng, double lo, double hi) {
  return lo + (hi - lo) * mrl_rng_uniform(rng);
}

// Draws in a fixed order (scalars, then one per group), so a task depends
// only on its stream.
static void sample_task(const mrlFamily* fam, mrlRng* rng, double* task) {
  const MujocoFamily* mf = fam->data;
  const mrlConfig* c = &mf->cfg;
  task[SLOT_SLOPE] = uniform(rng, c->task.slope_low, c->task.slope_high);
  task[SLOT_HEADING] = uniform(rng, c->task.heading_low, c->task.heading_high);
  // every draw is taken, used or not, so that enabling one parameter does not
  // shift the others' draws
  task[SLOT_VELOCITY] = uniform(rng, c->task.velocity_low, c->task.velocity_high);
  task[SLOT_DIRECTION] = c->task.direction ? (mrl_rng_uniform(rng) < 0.5 ? -1 : 1) : 1;
  task[SLOT_GOAL_X] = uniform(rng, c->task.goal_low, c->task.goal_high);
  task[SLOT_GOAL_Y] = uniform(rng, c->task.goal_low, c->task.goal_high);
  if (c->reward.mode != MRL_REWARD_GOAL) task[SLOT_GOAL_X] = task[SLOT_GOAL_Y] = 0;
  for (int k = mf->first_multiplier; k < mf->nslot; k++) {
    const Slot* s = &mf->slots[k];
    double base = 1, range = 0;
    switch (s->kind) {
    case SLOT_MASS:
      base = c->task.mass_base, range = c->task.mass_range;
      break;
    case SLOT_INERTIA:
      base = c->task.inertia_base, range = c->task.inertia_range;
      break;
    case SLOT_FRICTION:
      base = c->task.friction_base, range = c->task.friction_range;
      break;
    case SLOT_DAMPING:
      base = c->task.damping_base, range = c->task.damping_range;
      break;
    case SLOT_GEAR:
      base = c->task.gear_base, range = c->task.gear_range;
      break;
    default:
      break;
    }
    // a grouped slot reuses the draw of its group's first slot
    int owner = -1;
    for (int j = mf->first_multiplier; j < k; j++) {
      if (mf->slots[j].kind == s->kind && mf->slots[j].group == s->group) {
        owner = j;
        break;
      }
    }
    task[k] = owner >= 0 ? task[owner] : pow(base, uniform(rng, -range, range));
  }
}

static int describe_task(const mrlFamily* fam, const double* task, char* buf, size_t n) {
  const MujocoFamily* mf = fam->data;
  const mrlConfig* c = &mf->cfg;
  size_t len = 0;
#define PUT(...)                                                     \
  do {                                                               \
    int w = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__); \
    if (w > 0) len += (size_t)w;                                     \
  } while (0)
  if (c->task.slope_low != c->task.slope_high || c->task.slope_low != 0) {
    PUT("slope %+.1f deg", task[SLOT_SLOPE]);
  }
  const char* sep = len ? ", " : "";
  if (c->task.heading_low != c->task.heading_high) {
    PUT("%sheading %.0f deg", sep, task[SLOT_HEADING]);
    sep = ", ";
  }
  if (c->reward.mode == MRL_REWARD_TARGET_VEL) {
    PUT("%starget velocity %.2f", sep, task[SLOT_VELOCITY]);
    sep = ", ";
  }
  if (c->reward.mode == MRL_REWARD_DIRECTION) {
    PUT("%sdirection %+.0f", sep, task[SLOT_DIRECTION]);
    sep = ", ";
  }
  if (c->reward.mode == MRL_REWARD_GOAL) {
    PUT("%sgoal (%.2f, %.2f)", sep, task[SLOT_GOAL_X], task[SLOT_GOAL_Y]);
    sep = ", ";
  }
  static const char* const kind_names[] = {"",     "",        "",         "",        "",    "",
                                           "mass", "inertia", "friction", "damping", "gear"};
  for (int kind = SLOT_MASS; kind <= SLOT_GEAR; kind++) {
    double lo = INFINITY, hi = -INFINITY, logsum = 0;
    int count = 0;
    for (int k = mf->first_multiplier; k < mf->nslot; k++) {
      if ((int)mf->slots[k].kind != kind) continue;
      lo = fmin(lo, task[k]);
      hi = fmax(hi, task[k]);
      logsum += log(task[k]);
      count++;
    }
    if (count) {
      PUT("%s%s x%.2f [%.2f..%.2f]", sep, kind_names[kind], exp(logsum / count), lo, hi);
      sep = ", ";
    }
  }
#undef PUT
  return (int)len;
}

static mrlEnv* env_make(const mrlFamily* fam, int nenv) {
  const MujocoFamily* mf = fam->data;
  MujocoEnv* env = mrl_alloc(sizeof(MujocoEnv));
  env->mf = mf;
  env->nenv = nenv;
  env->model = mj_copyModel(NULL, mf->model);
  env->data = mrl_alloc(sizeof(mjData*) * nenv);
  for (int i = 0; i < nenv; i++) env->data[i] = mj_makeData(env->model);
  env->prev_root = mrl_alloc(sizeof(double) * 3 * nenv);
  env->bad_before = mrl_alloc(sizeof(int) * nenv);
  env->task = mrl_alloc(sizeof(double) * mf->nslot);
  env->normal[2] = 1;
  env->forward[0] = 1;
  env->direction = 1;
  return (mrlEnv*)env;
}

static void env_free(mrlEnv* e) {
  MujocoEnv* env = (MujocoEnv*)e;
  if (!env) return;
  for (int i = 0; i < env->nenv; i++) mj_deleteData(env->data[i]);
  mj_deleteModel(env->model);
  free(env->data);
  free(env->prev_root);
  free(env->bad_before);
  free(env->task);
  free(env);
}

long mrl_mujoco_diverged(const mrlEnv* e) {
  return ((const MujocoEnv*)e)->diverged;
}

mjModel* mrl_mujoco_env_model(mrlEnv* e) {
  return ((MujocoEnv*)e)->model;
}

mjData* mrl_mujoco_env_data(mrlEnv* e, int i) {
  return ((MujocoEnv*)e)->data[i];
}

// Lowest point of the robot's geoms (bounding spheres) along the normal n.
static double clearance(const mjModel* m, const mjData* d, int floor, const double* n) {
  double lo = INFINITY;
  for (int g = 0; g < m->ngeom; g++) {
    if (g == floor || m->geom_bodyid[g] == 0) continue;
    const mjtNum* p = d->geom_xpos + 3 * g;
    lo = fmin(lo, p[0] * n[0] + p[1] * n[1] + p[2] * n[2] - m->geom_rbound[g]);
  }
  return lo;
}

static void set_task(mrlEnv* e, const double* task) {
  MujocoEnv* env = (MujocoEnv*)e;
  const MujocoFamily* mf = env->mf;
  mjModel* m = env->model;
  mj_copyModel(m, mf->model);  // reuses the buffer: no allocation
  memcpy(env->task, task, sizeof(double) * mf->nslot);
  for (int k = mf->first_multiplier; k < mf->nslot; k++) {
    int el = mf->slots[k].elem;
    double x = task[k];
    switch (mf->slots[k].kind) {
    case SLOT_MASS:
      m->body_mass[el] *= x;
      break;
    case SLOT_INERTIA:
      for (int a = 0; a < 3; a++) m->body_inertia[3 * el + a] *= x;
      break;
    case SLOT_FRICTION:
      m->geom_friction[3 * el] *= x;
      break;
    case SLOT_DAMPING:
      m->dof_damping[el] *= x;
      break;
    case SLOT_GEAR:
      m->actuator_gear[6 * el] *= x;
      break;
    default:
      break;
    }
  }
  // the floor: rotate the plane so that its uphill direction is the heading
  double slope = task[SLOT_SLOPE] * DEG, heading = task[SLOT_HEADING] * DEG;
  double n[3] = {-sin(slope) * cos(heading), -sin(slope) * sin(heading), cos(slope)};
  memcpy(env->normal, n, sizeof n);
  if (mf->floor >= 0) {
    // rotation taking +z to n: axis (sin h, -cos h, 0), angle slope
    mjtNum* q = m->geom_quat + 4 * mf->floor;
    q[0] = cos(slope / 2);
    q[1] = sin(slope / 2) * sin(heading);
    q[2] = -sin(slope / 2) * cos(heading);
    q[3] = 0;
    // a plane compiled with a null pose follows its body's frame and would
    // ignore geom_quat
    m->geom_sameframe[mf->floor] = 0;
  }
  // forward: world +x projected on the plane
  double f[3] = {1 - n[0] * n[0], -n[0] * n[1], -n[0] * n[2]};
  double fn = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
  for (int a = 0; a < 3; a++) env->forward[a] = f[a] / fn;
  env->target_velocity = task[SLOT_VELOCITY];
  env->direction = task[SLOT_DIRECTION];
  env->goal[0] = task[SLOT_GOAL_X];
  env->goal[1] = task[SLOT_GOAL_Y];
  mj_setConst(m, env->data[0]);
  // the clearance the robot has over a flat floor at its initial pose: on a
  // slope it is lifted to keep the same clearance over the tilted plane
  mjData* d = env->data[0];
  mj_resetData(m, d);
  mj_kinematics(m, d);
  double up[3] = {0, 0, 1};
  env->flat_clearance = clearance(m, d, mf->floor, up);
}

static int finite_state(const mjModel* m, const mjData* d) {
  for (int q = 0; q < m->nq; q++) {
    if (!isfinite(d->qpos[q])) return 0;
  }
  for (int v = 0; v < m->nv; v++) {
    if (!isfinite(d->qvel[v])) return 0;
  }
  return 1;
}

static double root_height(const MujocoEnv* env, const mjData* d) {
  const mjtNum* p = d->xpos + 3 * env->mf->root;
  return p[0] * env->normal[0] + p[1] * env->normal[1] + p[2] * env->normal[2];
}

// The root within its height bounds over the surface and its tilt bound.
static int healthy(const MujocoEnv* env, const mjData* d) {
  const mrlConfig* c = &env->mf->cfg;
  double h = root_height(env, d);
  const mjtNum* xmat = d->xmat + 9 * env->mf->root;  // the root's z axis is column 2
  double cos_tilt = xmat[2] * env->normal[0] + xmat[5] * env->normal[1] + xmat[8] * env->normal[2];
  double tilt = acos(cos_tilt > 1 ? 1 : cos_tilt < -1 ? -1 : cos_tilt);
  return h > c->env.healthy_z_low && h < c->env.healthy_z_high && tilt < c->env.healthy_angle;
}

static void observe(const MujocoEnv* env, const mjData* d, double* obs) {
  const MujocoFamily* mf = env->mf;
  const mjModel* m = env->model;
  double clip = mf->cfg.env.obs_vel_clip;
  obs[0] = root_height(env, d);
  for (int k = 0; k < mf->nkeep; k++) obs[1 + k] = d->qpos[mf->keep[k]];
  double* v = obs + 1 + mf->nkeep;
  for (int k = 0; k < m->nv; k++) {
    double x = d->qvel[k];
    v[k] = x > clip ? clip : x < -clip ? -clip : x;
  }
}

// env.obs_com: the root subtree's centre of mass after the rest of obs.
// after_step: d was just stepped, so its centre of mass is that of the step's
// start, and without env.sync_positions so are its positions: they are brought
// up to date here, after the rest is observed (the rest keeps its bits); the
// next mj_step recomputes them from the same state, so the dynamics and the
// rewards do not change.
static void observe_com(const MujocoEnv* env, mjData* d, int after_step, double* obs) {
  const mjModel* m = env->model;
  if (!env->mf->cfg.env.obs_com) return;
  if (after_step && env->mf->cfg.reward.velocity != MRL_VELOCITY_COM) {  // com: step() did both
    if (!env->mf->cfg.env.sync_positions) mj_kinematics(m, d);
    mj_comPos(m, d);
  }
  memcpy(obs + 1 + env->mf->nkeep + m->nv, d->subtree_com + 3 * env->mf->root, sizeof(double) * 3);
}

// env.obs_task: the task's drawn parameters, last in obs.
static void observe_task(const MujocoEnv* env, double* obs) {
  const MujocoFamily* mf = env->mf;
  double* t = obs + mf->nobs - mf->nshown;
  for (int k = 0; k < mf->nshown; k++) t[k] = env->task[mf->shown[k]];
}

// mj_resetData for an episode's start, without its clearing of the whole
// buffer (about 800 kB for the cheetah: 13% of its physics at one step per
// action, measured with 20 episodes' data interleaved). Only the inputs of the
// computation -- mjData's state, warm start, controls, mocap and user data --
// are set to their reset values; everything else is recomputed by mj_forward
// before it is read. A test checks an episode restarted after another against
// one from fresh data, bit for bit.
static void restart(const mjModel* m, mjData* d) {
  d->time = 0;
  d->pstack = 0;
  mju_copy(d->qpos, m->qpos0, m->nq);
  mju_zero(d->qvel, m->nv);
  mju_zero(d->act, m->na);
  mju_zero(d->qacc_warmstart, m->nv);
  mju_zero(d->ctrl, m->nu);
  mju_zero(d->qfrc_applied, m->nv);
  mju_zero(d->xfrc_applied, 6 * m->nbody);
  for (int b = 0; b < m->nbody; b++) {
    int id = m->body_mocapid[b];
    if (id < 0) continue;
    mju_copy3(d->mocap_pos + 3 * id, m->body_pos + 3 * b);
    mju_copy4(d->mocap_quat + 4 * id, m->body_quat + 4 * b);
  }
  mju_zero(d->userdata, m->nuserdata);
}

static void reset(mrlEnv* e, int i, mrlRng* rng, double* obs) {
  MujocoEnv* env = (MujocoEnv*)e;
  const MujocoFamily* mf = env->mf;
  const mjModel* m = env->model;
  mjData* d = env->data[i];
  restart(m, d);
  double noise = mf->cfg.env.reset_noise;
  for (int q = 0; q < m->nq; q++) {
    if (mf->root_quat_qpos >= 0 && q >= mf->root_quat_qpos && q < mf->root_quat_qpos + 4) {
      continue;  // keep the free root's quaternion a unit quaternion
    }
    d->qpos[q] += noise * (2 * mrl_rng_uniform(rng) - 1);
  }
  for (int v = 0; v < m->nv; v++) d->qvel[v] += noise * (2 * mrl_rng_uniform(rng) - 1);
  mj_kinematics(m, d);
  double lift = env->flat_clearance - clearance(m, d, mf->floor, env->normal);
  if (lift > 0 && mf->root_z_qpos >= 0) {
    d->qpos[mf->root_z_qpos] += lift / env->normal[2];
  }
  mj_forward(m, d);
  memcpy(env->prev_root + 3 * i, d->xpos + 3 * mf->root, sizeof(double) * 3);
  env->bad_before[i] = d->warning[mjWARN_BADQACC].number;
  observe(env, d, obs);
  observe_com(env, d, 0, obs);  // mj_forward left the positions current
  observe_task(env, obs);
}

// After the physics steps: mj_step integrates last, so its positions are those
// it started from. With env.sync_positions the reward's displacement, the
// health check and obs[0] use those of the state reached, as rllab's envs
// (which call forward after the step) do; without it they lag one physics step
// (the earlier runs). reward.velocity com needs them current too, and the
// subtree's momentum over its mass (subtree_linvel; mj_setConst keeps the
// subtree masses of a task's scaled bodies).
static void bring_up_to_date(const mrlConfig* c, const mjModel* m, mjData* d) {
  int com = c->reward.velocity == MRL_VELOCITY_COM;
  if (c->env.sync_positions || com) mj_kinematics(m, d);
  if (com) {
    mj_comPos(m, d);
    mj_comVel(m, d);
    mj_subtreeVel(m, d);
  }
}

static void step(mrlEnv* e, int i, const double* act, double* obs, double* reward, int* done) {
  MujocoEnv* env = (MujocoEnv*)e;
  const MujocoFamily* mf = env->mf;
  const mrlConfig* c = &mf->cfg;
  const mjModel* m = env->model;
  mjData* d = env->data[i];
  double ctrl_sq = 0;
  for (int u = 0; u < m->nu; u++) {
    double a = act[u];
    if (m->actuator_ctrllimited[u]) {
      double lo = m->actuator_ctrlrange[2 * u], hi = m->actuator_ctrlrange[2 * u + 1];
      if (!(a >= lo)) a = lo;  // also maps NaN to a bound
      if (a > hi) a = hi;
    } else if (!isfinite(a)) {
      a = 0;
    }
    d->ctrl[u] = a;
    ctrl_sq += a * a;
  }
  for (int k = 0; k < c->env.frame_skip; k++) mj_step(m, d);
  bring_up_to_date(c, m, d);

  // a diverging simulation (MuJoCo resets it on a bad acceleration) ends the
  // episode as terminated; nothing non-finite leaves the env
  if (d->warning[mjWARN_BADQACC].number != env->bad_before[i] || !finite_state(m, d)) {
    env->diverged++;
    memset(obs, 0, sizeof(double) * mf->nobs);
    *reward = 0;
    *done = 1;
    return;
  }
  const mjtNum* p = d->xpos + 3 * mf->root;
  double* prev = env->prev_root + 3 * i;
  const double* f = env->forward;
  double vel;
  if (c->reward.velocity == MRL_VELOCITY_COM) {
    const mjtNum* v = d->subtree_linvel + 3 * mf->root;
    vel = v[0] * f[0] + v[1] * f[1] + v[2] * f[2];
  } else {
    double dt = m->opt.timestep * c->env.frame_skip;
    vel = ((p[0] - prev[0]) * f[0] + (p[1] - prev[1]) * f[1] + (p[2] - prev[2]) * f[2]) / dt;
  }
  memcpy(prev, p, sizeof(double) * 3);

  double r = -c->reward.ctrl_cost * ctrl_sq;
  switch (c->reward.mode) {
  case MRL_REWARD_FORWARD:
    r += c->reward.forward_weight * vel;
    break;
  case MRL_REWARD_TARGET_VEL:
    r -= fabs(vel - env->target_velocity);
    break;
  case MRL_REWARD_DIRECTION:
    r += c->reward.forward_weight * env->direction * vel;
    break;
  case MRL_REWARD_GOAL:
    r -= hypot(p[0] - env->goal[0], p[1] - env->goal[1]);
    break;
  }
  int ok = healthy(env, d);
  if (ok) r += c->reward.alive_bonus;
  *reward = r;
  *done = c->env.terminate_unhealthy && !ok;
  observe(env, d, obs);
  observe_com(env, d, 1, obs);
  observe_task(env, obs);
}

int mrl_mujoco_physics_step(mrlEnv* e, int i, mrlRng* rng) {
  MujocoEnv* env = (MujocoEnv*)e;
  const mrlConfig* c = &env->mf->cfg;
  const mjModel* m = env->model;
  mjData* d = env->data[i];
  for (int u = 0; u < m->nu; u++) {
    const mjtNum* range = m->actuator_ctrlrange + 2 * u;
    d->ctrl[u] = range[0] + (range[1] - range[0]) * mrl_rng_uniform(rng);
  }
  for (int k = 0; k < c->env.frame_skip; k++) mj_step(m, d);
  bring_up_to_date(c, m, d);  // as step() does
  return c->env.terminate_unhealthy && !healthy(env, d);
}

int mrl_mujoco_root(const mrlFamily* fam) {
  return ((const MujocoFamily*)fam->data)->root;
}

int mrl_mujoco_floor(const mrlFamily* fam) {
  return ((const MujocoFamily*)fam->data)->floor;
}

void mrl_mujoco_env_normal(const mrlEnv* e, double normal[3]) {
  memcpy(normal, ((const MujocoEnv*)e)->normal, sizeof(double) * 3);
}

// The keys of mrl_mujoco_task_set this family has, for error messages.
static void task_keys(const MujocoFamily* mf, char* buf, size_t n) {
  static const char* const kinds[] = {"mass", "inertia", "friction", "damping", "gear"};
  const mrlConfig* c = &mf->cfg;
  int len = snprintf(buf, n, "%s", mf->floor >= 0 ? "slope, heading" : "");
  const char* extra = c->reward.mode == MRL_REWARD_TARGET_VEL  ? "velocity"
                      : c->reward.mode == MRL_REWARD_DIRECTION ? "direction"
                      : c->reward.mode == MRL_REWARD_GOAL      ? "goal_x, goal_y"
                                                               : NULL;
  if (extra && len >= 0 && (size_t)len < n) {
    len += snprintf(buf + len, n - len, "%s%s", len ? ", " : "", extra);
  }
  for (int kind = SLOT_MASS; kind <= SLOT_GEAR; kind++) {
    int has = 0;
    for (int k = mf->first_multiplier; k < mf->nslot; k++) has |= (int)mf->slots[k].kind == kind;
    if (has && len >= 0 && (size_t)len < n) {
      len += snprintf(buf + len, n - len, "%s%s", len ? ", " : "", kinds[kind - SLOT_MASS]);
    }
  }
}

int mrl_mujoco_task_set(const mrlFamily* fam, double* task, const char* key, double value,
                        char* err, size_t errlen) {
  const MujocoFamily* mf = fam->data;
  const mrlConfig* c = &mf->cfg;
  static const char* const kinds[] = {"mass", "inertia", "friction", "damping", "gear"};
  char keys[256];
  task_keys(mf, keys, sizeof keys);
  if (!isfinite(value)) return mrl_error(err, errlen, "task key '%s': not a finite number", key);
  if (!strcmp(key, "slope") || !strcmp(key, "heading")) {
    if (mf->floor < 0) {
      return mrl_error(err, errlen, "task key '%s': the model has no floor plane (keys: %s)", key,
                       keys);
    }
    if (!strcmp(key, "slope") && fabs(value) >= 80) {
      return mrl_error(err, errlen, "task key 'slope': %g degrees is not in (-80, 80)", value);
    }
    task[!strcmp(key, "slope") ? SLOT_SLOPE : SLOT_HEADING] = value;
    return 0;
  }
  struct {
    const char* key;
    SlotKind slot;
    mrlRewardMode mode;
  } scalars[] = {{"velocity", SLOT_VELOCITY, MRL_REWARD_TARGET_VEL},
                 {"direction", SLOT_DIRECTION, MRL_REWARD_DIRECTION},
                 {"goal_x", SLOT_GOAL_X, MRL_REWARD_GOAL},
                 {"goal_y", SLOT_GOAL_Y, MRL_REWARD_GOAL}};
  for (int i = 0; i < 4; i++) {
    if (strcmp(key, scalars[i].key)) continue;
    if (c->reward.mode != scalars[i].mode) {
      return mrl_error(err, errlen,
                       "task key '%s': this family's reward does not use it (keys: %s)", key, keys);
    }
    if (scalars[i].slot == SLOT_DIRECTION && value != 1 && value != -1) {
      return mrl_error(err, errlen, "task key 'direction': must be 1 or -1, got %g", value);
    }
    task[scalars[i].slot] = value;
    return 0;
  }
  for (int kind = SLOT_MASS; kind <= SLOT_GEAR; kind++) {
    if (strcmp(key, kinds[kind - SLOT_MASS])) continue;
    if (!(value > 0) || value > 1e3) {
      return mrl_error(err, errlen, "task key '%s': a multiplier in (0, 1000], got %g", key, value);
    }
    int count = 0;
    for (int k = mf->first_multiplier; k < mf->nslot; k++) {
      if ((int)mf->slots[k].kind == kind) {
        task[k] = value;
        count++;
      }
    }
    if (!count) {
      return mrl_error(err, errlen,
                       "task key '%s': this family does not randomize %s (task.%s_base/range; "
                       "keys: %s)",
                       key, key, key, keys);
    }
    return 0;
  }
  return mrl_error(err, errlen, "unknown task key '%s' (keys of this family: %s)", key, keys);
}
