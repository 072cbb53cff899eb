// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// config.c: YAML configuration files (libyaml) to a typed mrlConfig.
//
// One static key table, kKeys, is the single source of truth: defaults,
// parsing, validation, writing, the reference printout and the did-you-mean
// suggestions all walk it. Adding a key means adding a field to mrlConfig and
// one row to kKeys, nothing else.
//
// Files nest keys by section (`inner:` then `  lr: 0.1`); name, seed and
// threads sit at the top level next to `extends: base.yaml`. Loading works on
// a copy of the caller's struct that is committed only on success, so a
// failed load or override leaves the config untouched.

#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <yaml.h>

#include "metarl.h"

// Enum and bool fields are stored through int pointers.
_Static_assert(sizeof(mrlActivation) == sizeof(int), "enum size");
_Static_assert(sizeof(mrlInnerStep) == sizeof(int), "enum size");
_Static_assert(sizeof(mrlOptimKind) == sizeof(int), "enum size");
_Static_assert(sizeof(mrlOuterAlgo) == sizeof(int), "enum size");
_Static_assert(sizeof(mrlBaselineKind) == sizeof(int), "enum size");
_Static_assert(sizeof(mrlComboMode) == sizeof(int), "enum size");

#define MAX_EXTENDS 8        // `extends` hops from the file given to load, at most
#define MAX_FILE (16 << 20)  // bytes of one config file, at most
#define MAX_PATH 4096        // bytes of a resolved `extends` path, with NUL
#define SHOWLEN 80           // bytes of a value echoed in a message, at most

//-------------------------------- key table ---------------------------------

typedef enum {
  KEY_INT = 0,  // int in [lo, hi]
  KEY_U64,      // uint64_t, any value
  KEY_DOUBLE,   // finite double in [lo, hi]
  KEY_BOOL,     // int 0 or 1
  KEY_STRING,   // char[MRL_STRLEN]; lo is the minimum length in bytes
  KEY_ENUM,     // int: index into names
  KEY_INTLIST   // int[MRL_MAXLAYERS] plus an int count; every entry in [lo, hi]
} keyType;

enum { OPEN_LO = 1, OPEN_HI = 2 };  // the bound itself is not allowed

typedef struct {
  const char* name;             // dotted key, e.g. "inner.lr"; a section's keys are adjacent
  keyType type;                 // how the value is stored and parsed
  size_t offset;                // of the value in mrlConfig
  size_t count_offset;          // KEY_INTLIST: of the entry count
  double lo, hi;                // range (-INFINITY, INFINITY: unbounded)
  int open;                     // OPEN_LO | OPEN_HI
  const char* const* names;     // KEY_ENUM: allowed values in enum order, NULL-terminated
  double def;                   // default of KEY_INT, KEY_DOUBLE, KEY_BOOL, KEY_ENUM (index)
  uint64_t def_u64;             // default of KEY_U64
  const char* def_str;          // default of KEY_STRING
  int def_list[MRL_MAXLAYERS];  // default of KEY_INTLIST
  int def_len;                  // entries in def_list
  const char* doc;              // one line for `metarl help config`
} keyInfo;

// Allowed values, in the order of the C enums of metarl.h.
static const char* const kActivation[] = {"tanh", "relu", NULL};
static const char* const kInnerStep[] = {"vpg", "ppo", NULL};
static const char* const kInnerAdapt[] = {"all", "context", NULL};
static const char* const kOptim[] = {"sgd", "adam", NULL};
static const char* const kOuterOptim[] = {"sgd", "adam", "trpo", NULL};
static const char* const kOuterAlgo[] = {"reptile", "fomaml", "joint", "maml", "combo", NULL};

const char* mrl_outer_algo_name(mrlOuterAlgo algo) {
  int n = (int)(sizeof(kOuterAlgo) / sizeof(kOuterAlgo[0])) - 1;
  return (int)algo >= 0 && (int)algo < n ? kOuterAlgo[algo] : "?";
}
static const char* const kCombo[] = {"last", "sum", "mean", "first", NULL};
static const char* const kBaseline[] = {"linear", "zero", "mlp", NULL};
static const char* const kBaselineFit[] = {"batch", "previous", "cross", NULL};
static const char* const kRewardMode[] = {"forward", "target_velocity", "direction", "goal", NULL};
static const char* const kRandGroup[] = {"element", "body", NULL};
static const char* const kVelocity[] = {"root", "com", NULL};

// One row per key: kept as laid out by hand.
// clang-format off
#define OFF(field) offsetof(mrlConfig, field)
#define INT_KEY(key, field, dflt, lo_, hi_, doc_) \
  {.name = key, .type = KEY_INT, .offset = OFF(field), .lo = lo_, .hi = hi_, .def = dflt, \
   .doc = doc_}
#define U64_KEY(key, field, dflt, doc_) \
  {.name = key, .type = KEY_U64, .offset = OFF(field), .def_u64 = dflt, .doc = doc_}
#define DBL_KEY(key, field, dflt, lo_, hi_, open_, doc_) \
  {.name = key, .type = KEY_DOUBLE, .offset = OFF(field), .lo = lo_, .hi = hi_, \
   .open = open_, .def = dflt, .doc = doc_}
#define BOOL_KEY(key, field, dflt, doc_) \
  {.name = key, .type = KEY_BOOL, .offset = OFF(field), .def = dflt, .doc = doc_}
#define STR_KEY(key, field, dflt, minlen, doc_) \
  {.name = key, .type = KEY_STRING, .offset = OFF(field), .lo = minlen, .def_str = dflt, \
   .doc = doc_}
#define ENUM_KEY(key, field, values, dflt, doc_) \
  {.name = key, .type = KEY_ENUM, .offset = OFF(field), .names = values, .def = dflt, \
   .doc = doc_}

static const keyInfo kKeys[] = {
  STR_KEY("name", name, "", 0, "run name (empty: the config file's stem)"),
  U64_KEY("seed", seed, 1, "master seed of every random stream"),
  INT_KEY("threads", threads, 0, 0, 256, "worker threads (0: one per core, divided among the MPI ranks of a node)"),
  STR_KEY("pretrain", pretrain, "", 0,
          "config trained first, into RUN/pretrain, whose final policy starts this run (a path "
          "relative to the folder of the config given to train, or to the working directory when "
          "an override sets it; the stage takes this run's seed and threads and the "
          "pretrain.KEY=VALUE overrides; empty: no stage)"),

  STR_KEY("env.name", env.name, "point_nav", 1, "task family (see `metarl envs`)"),
  INT_KEY("env.horizon", env.horizon, 100, 1, 100000, "max steps of an episode"),
  STR_KEY("env.model", env.model, "", 0, "MJCF file of a mujoco family (relative: cwd, then source tree)"),
  STR_KEY("env.root_body", env.root_body, "torso", 1, "body whose motion is progress (mujoco)"),
  INT_KEY("env.frame_skip", env.frame_skip, 1, 1, 1000, "physics steps per env step (mujoco)"),
  DBL_KEY("env.action_scale", env.action_scale, 1, 0, 100, OPEN_LO,
          "point_nav: the move is this x action, clipped to +-0.1 (0.1 maps [-1, 1] onto the bounds)"),
  BOOL_KEY("env.terminate_unhealthy", env.terminate_unhealthy, 0,
           "end an episode when the root leaves the healthy bounds"),
  DBL_KEY("env.healthy_z_low", env.healthy_z_low, -1e9, -INFINITY, INFINITY, 0,
          "min root height over the surface"),
  DBL_KEY("env.healthy_z_high", env.healthy_z_high, 1e9, -INFINITY, INFINITY, 0,
          "max root height over the surface"),
  DBL_KEY("env.healthy_angle", env.healthy_angle, 4, 0, 4, OPEN_LO,
          "max root tilt from the surface normal, radians (>= pi: off)"),
  DBL_KEY("env.reset_noise", env.reset_noise, 0.005, 0, 10, 0,
          "uniform noise on qpos and qvel at reset"),
  DBL_KEY("env.obs_vel_clip", env.obs_vel_clip, 10, 0, INFINITY, OPEN_LO,
          "joint velocities in the observation clipped to +-this"),
  BOOL_KEY("env.obs_com", env.obs_com, 0,
           "append the root subtree's centre of mass (world x, y, z) to the observation, as rllab's "
           "cheetah and ant do (mujoco)"),
  BOOL_KEY("env.obs_task", env.obs_task, 0,
           "append the task's drawn parameters (goal, velocity, direction, slope, multipliers) "
           "to the observation: the policy sees its task, as the MAML paper's oracle does"),
  BOOL_KEY("env.sync_positions", env.sync_positions, 0,
           "recompute positions after each step so that the reward, the health check and the "
           "observation see the state the action reached (false: MuJoCo's positions from the "
           "step's start, one physics step late, as in earlier runs) (mujoco)"),
  DBL_KEY("env.timestep", env.timestep, 0, 0, 1, 0,
          "physics step in seconds, replacing the model's (0: the model's own) (mujoco)"),

  ENUM_KEY("reward.mode", reward.mode, kRewardMode, MRL_REWARD_FORWARD,
           "velocity term: forward, target_velocity, direction or goal"),
  DBL_KEY("reward.forward_weight", reward.forward_weight, 1.0, -INFINITY, INFINITY, 0,
          "weight of the velocity term (forward, direction)"),
  DBL_KEY("reward.alive_bonus", reward.alive_bonus, 0.0, -INFINITY, INFINITY, 0,
          "reward per step while healthy"),
  DBL_KEY("reward.ctrl_cost", reward.ctrl_cost, 0.0, 0, INFINITY, 0, "weight of |action|^2"),
  ENUM_KEY("reward.velocity", reward.velocity, kVelocity, MRL_VELOCITY_ROOT,
           "the velocity the reward reads: root (the root body's displacement over the step "
           "over its duration) or com (the root subtree's centre-of-mass velocity after the step, "
           "as rllab's get_body_comvel; positions brought up to date as env.sync_positions does) "
           "(mujoco)"),

  DBL_KEY("task.goal_low", task.goal_low, -0.5, -INFINITY, INFINITY, 0,
          "point_nav goal box, lower bound per axis"),
  DBL_KEY("task.goal_high", task.goal_high, 0.5, -INFINITY, INFINITY, 0,
          "point_nav goal box, upper bound per axis"),
  U64_KEY("task.test_seed", task.test_seed, 1000, "seed of the fixed held-out test split"),
  DBL_KEY("task.slope_low", task.slope_low, 0, -80, 80, 0, "floor tilt, degrees (+: uphill)"),
  DBL_KEY("task.slope_high", task.slope_high, 0, -80, 80, 0, "floor tilt, upper bound"),
  DBL_KEY("task.heading_low", task.heading_low, 0, -360, 360, 0,
          "uphill direction, degrees from +x (3-D robots)"),
  DBL_KEY("task.heading_high", task.heading_high, 0, -360, 360, 0, "uphill direction, upper bound"),
  DBL_KEY("task.velocity_low", task.velocity_low, 0, -100, 100, 0,
          "target velocity, lower bound (reward.mode target_velocity)"),
  DBL_KEY("task.velocity_high", task.velocity_high, 0, -100, 100, 0, "target velocity, upper bound"),
  BOOL_KEY("task.direction", task.direction, 0,
           "draw a direction +-1 per task (reward.mode direction)"),
  BOOL_KEY("task.direction_balanced", task.direction_balanced, 0,
           "training tasks alternate -1, +1 by index (the held-out split stays drawn)"),
  DBL_KEY("task.mass_base", task.mass_base, 1, 1, 100, 0, "body_mass x base^U(-range, range)"),
  DBL_KEY("task.mass_range", task.mass_range, 0, 0, 20, 0, "exponent range of the mass multiplier"),
  DBL_KEY("task.inertia_base", task.inertia_base, 1, 1, 100, 0, "body_inertia multiplier base"),
  DBL_KEY("task.inertia_range", task.inertia_range, 0, 0, 20, 0, "exponent range, inertia"),
  DBL_KEY("task.friction_base", task.friction_base, 1, 1, 100, 0, "geom_friction multiplier base"),
  DBL_KEY("task.friction_range", task.friction_range, 0, 0, 20, 0, "exponent range, friction"),
  DBL_KEY("task.damping_base", task.damping_base, 1, 1, 100, 0, "dof_damping multiplier base"),
  DBL_KEY("task.damping_range", task.damping_range, 0, 0, 20, 0, "exponent range, damping"),
  DBL_KEY("task.gear_base", task.gear_base, 1, 1, 100, 0, "actuator_gear multiplier base"),
  DBL_KEY("task.gear_range", task.gear_range, 0, 0, 20, 0, "exponent range, gear"),
  ENUM_KEY("task.body_rand", task.body_rand, kRandGroup, MRL_RAND_ELEMENT,
           "one multiplier per element, or per body"),

  {.name = "policy.hidden", .type = KEY_INTLIST, .offset = OFF(policy.hidden),
   .count_offset = OFF(policy.nhidden), .lo = 1, .hi = 4096, .def_list = {64, 64},
   .def_len = 2, .doc = "hidden layer sizes"},
  ENUM_KEY("policy.activation", policy.activation, kActivation, MRL_ACT_TANH,
           "activation of the hidden layers"),
  DBL_KEY("policy.init_log_std", policy.init_log_std, 0.0, -10, 2, 0,
          "initial log standard deviation of the actions"),
  DBL_KEY("policy.output_init", policy.output_init, 0.01, 0, 10, 0,
          "scale of the output layer's Glorot-uniform initial weights (0.01: action means near 0; "
          "1: rllab's)"),
  BOOL_KEY("policy.obs_norm", policy.obs_norm, 0,
           "normalize observations by their running mean and std (kept in the checkpoint)"),
  INT_KEY("policy.context", policy.context, 0, 0, 4096,
          "context inputs of the first layer (CAVIA): a vector c, 0 at the start, and its input "
          "weights at the end of the parameters; inner.adapt=context adapts c alone"),
  STR_KEY("policy.init_from", policy.init_from, "", 0,
          "checkpoint whose parameters start training, e.g. a joint-training run's latest.ckpt "
          "(same policy shape, or the same without policy.context; empty: the seeded "
          "initialization)"),

  DBL_KEY("rl.gamma", rl.gamma, 0.99, 0, 1, 0, "discount"),
  DBL_KEY("rl.gae_lambda", rl.gae_lambda, 1.0, 0, 1, 0, "GAE lambda"),
  ENUM_KEY("rl.baseline", rl.baseline, kBaseline, MRL_BASELINE_LINEAR,
           "value baseline of the advantages: linear (ridge regression on [o, o^2, t, t^2, t^3]), "
           "zero, or mlp (a value network fitted to each batch, rl.vf_*)"),
  ENUM_KEY("rl.baseline_fit", rl.baseline_fit, kBaselineFit, MRL_FIT_BATCH,
           "linear baseline: fitted on the batch whose advantages it gives (batch: ProMP, "
           "garage), or on the previous step's batch of the same task, none for the first step "
           "(previous: rllab's order, which the MAML code's meta-test ran), or on the other "
           "half of the batch's episodes (cross: even on odd, odd on even)"),
  BOOL_KEY("rl.normalize_advantages", rl.normalize_advantages, 1,
           "scale advantages to mean 0, std 1 per batch"),
  BOOL_KEY("rl.bootstrap_time_limit", rl.bootstrap_time_limit, 0,
           "continue the returns of episodes cut by env.horizon with the baseline's value "
           "(a time-free linear baseline) instead of ending them there"),
  DBL_KEY("rl.entropy_coef", rl.entropy_coef, 0.0, 0, 10, 0,
          "weight c of the entropy bonus: every policy-gradient loss subtracts c times the "
          "policy's entropy (nats, summed over the actions)"),
  {.name = "rl.vf_hidden", .type = KEY_INTLIST, .offset = OFF(rl.vf_hidden),
   .count_offset = OFF(rl.vf_nhidden), .lo = 1, .hi = 4096, .def_list = {32, 32},
   .def_len = 2, .doc = "mlp baseline: hidden layer sizes (tanh) of the value network"},
  INT_KEY("rl.vf_epochs", rl.vf_epochs, 10, 1, 1000,
          "mlp baseline: passes over each batch when fitting the value network"),
  INT_KEY("rl.vf_minibatches", rl.vf_minibatches, 32, 1, 1000,
          "mlp baseline: shuffled minibatches per pass (Adam steps per pass)"),
  DBL_KEY("rl.vf_lr", rl.vf_lr, 3e-3, 0, 1, OPEN_LO, "mlp baseline: Adam step size"),
  BOOL_KEY("rl.vf_shared", rl.vf_shared, 0,
           "mlp baseline: carry one value network across iterations (the mean of the tasks' "
           "fits, saved in the checkpoint) and compute advantages before fitting each batch"),

  ENUM_KEY("inner.step", inner.step, kInnerStep, MRL_INNER_VPG, "inner-loop learner"),
  ENUM_KEY("inner.optim", inner.optim, kOptim, MRL_OPT_SGD, "inner-loop optimizer"),
  DBL_KEY("inner.lr", inner.lr, 0.1, 0, 1e4, OPEN_LO, "inner step size"),
  DBL_KEY("inner.later_lr", inner.later_lr, 0, 0, 1e4, 0,
          "step size of inner steps 2, 3, ... (0: inner.lr)"),
  INT_KEY("inner.steps", inner.steps, 1, 0, 1000, "adaptation steps k per task"),
  INT_KEY("inner.episodes", inner.episodes, 20, 1, 100000, "episodes per adaptation step"),
  DBL_KEY("inner.ppo_clip", inner.ppo_clip, 0.2, 0, 1, OPEN_LO,
          "ppo: clip range of the probability ratio"),
  INT_KEY("inner.ppo_epochs", inner.ppo_epochs, 4, 1, 1000, "ppo: passes over the batch per step"),
  INT_KEY("inner.ppo_minibatches", inner.ppo_minibatches, 1, 1, 1000,
          "ppo: shuffled minibatches per pass"),
  BOOL_KEY("inner.resample", inner.resample, 1,
           "fresh data every inner step (false: steps 1..k-1 reuse step 0's streams)"),
  ENUM_KEY("inner.adapt", inner.adapt, kInnerAdapt, MRL_ADAPT_ALL,
           "parameters the inner step moves: all, or policy.context's vector alone (CAVIA; "
           "vpg steps, sgd, outer.algo maml or fomaml)"),
  BOOL_KEY("inner.learn_lr", inner.learn_lr, 0,
           "maml: learn a multiplier of the inner step size per parameter tensor (kept in the "
           "checkpoint; eval, view and record adapt with it)"),
  DBL_KEY("inner.learn_lr_step", inner.learn_lr_step, 0.01, 0, 10, OPEN_LO,
          "inner.learn_lr: Adam step size of the log-multipliers"),

  ENUM_KEY("outer.algo", outer.algo, kOuterAlgo, MRL_OUTER_REPTILE, "meta-learning algorithm"),
  ENUM_KEY("outer.optim", outer.optim, kOuterOptim, MRL_OPT_ADAM,
           "outer optimizer (all but plain reptile)"),
  DBL_KEY("outer.lr", outer.lr, 0.001, 0, INFINITY, OPEN_LO, "outer step size (sgd, adam)"),
  DBL_KEY("outer.eps_start", outer.eps_start, 1.0, 0, 10, 0,
          "reptile step size at iteration 0"),
  DBL_KEY("outer.eps_end", outer.eps_end, 0.0, 0, 10, 0,
          "reptile step size at the last iteration"),
  INT_KEY("outer.meta_batch", outer.meta_batch, 20, 1, 100000, "tasks per meta-iteration"),
  INT_KEY("outer.iterations", outer.iterations, 100, 1, 10000000, "meta-iterations"),
  BOOL_KEY("outer.reptile_as_gradient", outer.reptile_as_gradient, 0,
           "reptile: feed phi - theta_k to outer.optim as a gradient"),
  ENUM_KEY("outer.combo", outer.combo, kCombo, MRL_COMBO_LAST,
           "combo: which inner gradients make the outer gradient"),
  DBL_KEY("outer.worst_fraction", outer.worst_fraction, 1, 0, 1, OPEN_LO,
          "the outer step's objective is the mean over this fraction of the meta-batch, the "
          "tasks adapted worst (1: every task)"),
  DBL_KEY("outer.max_kl", outer.max_kl, 0.01, 0, 10, OPEN_LO, "trpo: KL bound of a step"),
  INT_KEY("outer.cg_iters", outer.cg_iters, 10, 0, 1000,
          "trpo: conjugate-gradient iterations (0: step along the gradient itself)"),
  INT_KEY("outer.cg_subsample", outer.cg_subsample, 1, 1, 1000,
          "trpo: every q-th row in the conjugate-gradient products (the line search uses all)"),
  DBL_KEY("outer.cg_damping", outer.cg_damping, 1e-5, 0, 10, 0,
          "trpo: damping added to the Fisher matrix"),
  BOOL_KEY("outer.fisher_float32", outer.fisher_float32, 0,
           "trpo: the MAML code's Fisher products, a probe of 1e-8/|phi| added to float32 "
           "parameters: only the directions its rounding leaves count (false: exact products)"),
  DBL_KEY("outer.hvp_step", outer.hvp_step, 1e-5, 0, 1, OPEN_LO,
          "maml: finite-difference step of Hessian-vector products"),
  BOOL_KEY("outer.hvp_freeze_relu", outer.hvp_freeze_relu, 0,
           "maml: both gradients of a Hessian-vector product on one ReLU on/off pattern (false: "
           "the difference also counts the kinks between the probes)"),
  BOOL_KEY("outer.hvp_lvc", outer.hvp_lvc, 0,
           "maml: keep the inner step's score-function Hessian term in ProMP's low-variance "
           "form, -(1/M) sum A grad log pi grad log pi^T (false: dropped, as in the MAML code)"),

  INT_KEY("eval.tasks", eval.tasks, 40, 1, 100000, "held-out test tasks"),
  INT_KEY("eval.steps", eval.steps, 3, 0, 1000, "adaptation steps K at evaluation"),
  INT_KEY("eval.episodes", eval.episodes, 20, 1, 100000, "episodes per evaluation step"),
  INT_KEY("eval.every", eval.every, 10, 0, 10000000,
          "meta-iterations between held-out meta-tests in training (0: off)"),
  INT_KEY("eval.train_tasks", eval.train_tasks, 10, 1, 100000,
          "held-out tasks of the meta-test in training"),

  STR_KEY("log.dir", log.dir, "runs", 1, "parent folder of run directories"),
  INT_KEY("log.checkpoint_every", log.checkpoint_every, 10, 1, 10000000,
          "meta-iterations between checkpoints"),
};

// clang-format on

#define NKEYS ((int)(sizeof(kKeys) / sizeof(kKeys[0])))

// The key named exactly `name`, or NULL.
static const keyInfo* find_key(const char* name) {
  for (int i = 0; i < NKEYS; i++) {
    if (!strcmp(kKeys[i].name, name)) return &kKeys[i];
  }
  return NULL;
}

// Length of the section prefix of a dotted key ("inner.lr" -> 5; "seed" -> 0).
static size_t section_len(const char* key) {
  const char* dot = strchr(key, '.');
  return dot ? (size_t)(dot - key) : 0;
}

// The first key of section `name` (e.g. "inner" -> inner.step), or NULL if no
// key lives in that section.
static const keyInfo* section_first(const char* name) {
  size_t n = strlen(name);
  for (int i = 0; i < NKEYS; i++) {
    if (n && section_len(kKeys[i].name) == n && !strncmp(kKeys[i].name, name, n)) {
      return &kKeys[i];
    }
  }
  return NULL;
}

// The part of a dotted key after its section.
static const char* leaf_of(const char* key) {
  const char* dot = strrchr(key, '.');
  return dot ? dot + 1 : key;
}

// The field of key k in cfg.
static void* field_of(mrlConfig* cfg, const keyInfo* k) {
  return (char*)cfg + k->offset;
}

// The same, read-only.
static const void* cfield_of(const mrlConfig* cfg, const keyInfo* k) {
  return (const char*)cfg + k->offset;
}

// Number of allowed values of an enum key.
static int enum_count(const keyInfo* k) {
  int n = 0;
  while (k->names[n]) n++;
  return n;
}

//------------------------------ text utilities -------------------------------

// Print v with the fewest of 15, 16 or 17 significant digits that read back to
// the same bits: "0.1" rather than "0.10000000000000001", and "%.17g" (always
// exact) when nothing shorter is.
static void format_double(double v, char* buf, size_t n) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    double back = strtod(buf, NULL);
    if (!isfinite(v) || memcmp(&back, &v, sizeof v) == 0) break;
  }
}

// format_double, plus ".0" on integral values so that they read as floats.
static void format_float(double v, char* buf, size_t n) {
  format_double(v, buf, n);
  if (isfinite(v) && strspn(buf, "-0123456789") == strlen(buf)) {
    size_t len = strlen(buf);
    if (len + 2 < n) memcpy(buf + len, ".0", 3);
  }
}

// Copy s into buf for an error message: at most SHOWLEN bytes, control bytes
// as '?', "..." when cut, so that a message stays on one line.
static const char* show(const char* s, char* buf, size_t n) {
  size_t len = strlen(s), i = 0, j = 0;
  size_t cut = len > SHOWLEN ? SHOWLEN : len;
  while (i < cut && j + 4 < n) {
    unsigned char c = (unsigned char)s[i++];
    buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  if (i < len && j + 4 <= n) {
    memcpy(buf + j, "...", 3);
    j += 3;
  }
  buf[j] = 0;
  return buf;
}

// Decode one UTF-8 code point at s; returns its byte count, or 0 if s does not
// start a valid sequence.
static int utf8_decode(const unsigned char* s, uint32_t* cp) {
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
  if (!n || s[0] > 0xf4) return 0;
  uint32_t c = s[0] & (0x7f >> n);
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kMin[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  *cp = c;
  return n;
}

// Write s as a YAML double-quoted scalar into buf. Escapes whatever libyaml
// would refuse or fold in a quoted scalar: quotes, backslashes, control and
// C1 characters, YAML line breaks (U+0085, U+2028, U+2029) and non-characters.
// Bytes that are not UTF-8 are copied as they are (libyaml will refuse them).
static void quote_string(const char* s, char* buf, size_t n) {
  size_t j = 0;
  const unsigned char* p = (const unsigned char*)s;
  buf[j++] = '"';
  while (*p && j + 8 < n) {
    uint32_t c;
    int len = utf8_decode(p, &c);
    if (!len) {
      buf[j++] = (char)*p++;
      continue;
    }
    if (c == '"' || c == '\\') {
      buf[j++] = '\\';
      buf[j++] = (char)c;
    } else if (c == '\n') {
      memcpy(buf + j, "\\n", 2);
      j += 2;
    } else if (c == '\t') {
      memcpy(buf + j, "\\t", 2);
      j += 2;
    } else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
      j += (size_t)snprintf(buf + j, n - j, "\\x%02x", (unsigned)c);
    } else if (c == 0x2028 || c == 0x2029 || c == 0xfeff || c == 0xfffe || c == 0xffff) {
      j += (size_t)snprintf(buf + j, n - j, "\\u%04x", (unsigned)c);
    } else {
      memcpy(buf + j, p, (size_t)len);
      j += (size_t)len;
    }
    p += len;
  }
  buf[j++] = '"';
  buf[j] = 0;
}

// Optimal-string-alignment distance (edits, adjacent swaps count as one),
// case-insensitive; strings longer than 63 bytes count as far from anything.
static int edit_distance(const char* a, const char* b) {
  int na = (int)strlen(a), nb = (int)strlen(b);
  if (na > 63 || nb > 63) return INT_MAX / 2;
  int d[64][64];
  for (int i = 0; i <= na; i++) d[i][0] = i;
  for (int j = 0; j <= nb; j++) d[0][j] = j;
  for (int i = 1; i <= na; i++) {
    for (int j = 1; j <= nb; j++) {
      int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
      int best = d[i - 1][j - 1] + (ca != cb);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best) {
        best = d[i - 2][j - 2] + 1;
      }
      d[i][j] = best;
    }
  }
  return d[na][nb];
}

// How close `given` is to `cand`, or -1 if not reasonably close. Either the
// whole names are a few edits apart (about one per four characters), or the
// last components nearly match ("inner.gamma" -> "rl.gamma"), which scores
// one more than the leaf distance.
static int closeness(const char* given, const char* cand) {
  int len = (int)strlen(given);
  int best = -1;
  int full = edit_distance(given, cand);
  if (full <= (len / 4 > 1 ? len / 4 : 1)) best = full;
  const char* gleaf = leaf_of(given);
  const char* cleaf = leaf_of(cand);
  if (cleaf != cand) {
    int leaf = edit_distance(gleaf, cleaf);
    if (leaf <= (int)strlen(gleaf) / 4 && (best < 0 || leaf + 1 < best)) best = leaf + 1;
  }
  return best;
}

// Whether candidate cand (closeness score) beats the best so far: a lower
// score, or on a tie a length closer to the given name ("stepz" -> "steps",
// not "step").
static int better(const char* given, const char* cand, int score, int* bestscore, int* bestdiff) {
  if (score < 0) return 0;
  int diff = abs((int)strlen(given) - (int)strlen(cand));
  if (score < *bestscore || (score == *bestscore && diff < *bestdiff)) {
    *bestscore = score;
    *bestdiff = diff;
    return 1;
  }
  return 0;
}

// Write into out the known name closest to `given` and return 1, or return 0
// if none is reasonably close. Candidates are the dotted keys, plus the
// section names and "extends" when `toplevel` (a key at the top of a file).
static int suggest(const char* given, int toplevel, char* out, size_t n) {
  int bestscore = INT_MAX, bestdiff = INT_MAX;
  for (int i = 0; i < NKEYS; i++) {
    if (better(given, kKeys[i].name, closeness(given, kKeys[i].name), &bestscore, &bestdiff)) {
      snprintf(out, n, "%s", kKeys[i].name);
    }
  }
  if (toplevel) {
    char section[64];
    for (int i = 0; i < NKEYS; i++) {
      size_t len = section_len(kKeys[i].name);
      if (!len || len >= sizeof section) continue;
      memcpy(section, kKeys[i].name, len);
      section[len] = 0;
      if (better(given, section, closeness(given, section), &bestscore, &bestdiff)) {
        snprintf(out, n, "%s", section);
      }
    }
    if (better(given, "extends", closeness(given, "extends"), &bestscore, &bestdiff)) {
      snprintf(out, n, "extends");
    }
  }
  return bestscore != INT_MAX;
}

//------------------------------ error messages -------------------------------

// Where a value came from, for messages: a file (with libyaml marks) or an
// override given on the command line.
typedef struct {
  const char* file;    // file named in messages, or NULL for an override
  const char* assign;  // the override "key=value", when file is NULL
  char* err;
  size_t errlen;
} errCtx;

// Format "FILE:LINE:COLUMN: message" (1-based; "FILE: message" without a
// mark) or "override 'key=value': message" into the caller's err; returns -1.
static int fail(const errCtx* ec, const yaml_mark_t* mark, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const errCtx* ec, const yaml_mark_t* mark, const char* fmt, ...) {
  char msg[MRL_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!ec->file) return mrl_error(ec->err, ec->errlen, "override '%s': %s", ec->assign, msg);
  if (!mark) return mrl_error(ec->err, ec->errlen, "%s: %s", ec->file, msg);
  return mrl_error(ec->err, ec->errlen, "%s:%zu:%zu: %s", ec->file, mark->line + 1,
                   mark->column + 1, msg);
}

// Report libyaml's problem with its position. `text` is the parsed input,
// used to turn the byte offset of a reader (encoding) error into a position.
static int yaml_fail(const errCtx* ec, const yaml_parser_t* p, const char* text, size_t len) {
  if (p->error == YAML_MEMORY_ERROR) return fail(ec, NULL, "out of memory while parsing YAML");
  const char* problem = p->problem ? p->problem : "malformed YAML";
  const char* what = ec->file ? "" : "bad YAML value: ";
  if (p->error == YAML_READER_ERROR) {
    yaml_mark_t mark = {0, 0, 0};
    for (size_t i = 0; i < p->problem_offset && i < len; i++) {
      if (text[i] == '\n') {
        mark.line++;
        mark.column = 0;
      } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
        mark.column++;  // count characters, as libyaml's marks do
      }
    }
    if (p->problem_value >= 0) {
      return fail(ec, &mark, "%s%s (0x%x)", what, problem, (unsigned)p->problem_value);
    }
    return fail(ec, &mark, "%s%s", what, problem);
  }
  if (p->context && !ec->file) return fail(ec, NULL, "%s%s (%s)", what, problem, p->context);
  if (p->context) {
    return fail(ec, &p->problem_mark, "%s%s (%s at line %zu, column %zu)", what, problem,
                p->context, p->context_mark.line + 1, p->context_mark.column + 1);
  }
  return fail(ec, &p->problem_mark, "%s%s", what, problem);
}

//------------------------------ parsing values -------------------------------

// A plain scalar that YAML reads as null: empty, "~" or "null".
static int is_null(const yaml_node_t* node) {
  if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
    return 0;
  }
  const char* s = (const char*)node->data.scalar.value;
  return !strcmp(s, "") || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL");
}

// What a node is, for "got ..." in messages: the quoted scalar, or its kind.
static const char* node_shown(const yaml_node_t* node, char* buf, size_t n) {
  if (node->type == YAML_MAPPING_NODE) return "a mapping";
  if (node->type == YAML_SEQUENCE_NODE) return "a list";
  char tmp[SHOWLEN + 8];
  snprintf(buf, n, "'%s'", show((const char*)node->data.scalar.value, tmp, sizeof tmp));
  return buf;
}

// "an integer", "one of tanh, relu", ...: what a key of this type accepts.
static const char* type_expected(const keyInfo* k, keyType type, char* buf, size_t n) {
  switch (type) {
  case KEY_INT:
    return "an integer";
  case KEY_U64:
    return "a non-negative integer";
  case KEY_DOUBLE:
    return "a number";
  case KEY_BOOL:
    return "true or false";
  case KEY_STRING:
    return "a string";
  case KEY_INTLIST:
    return "a list of integers like [64, 64]";
  case KEY_ENUM: {
    size_t j = (size_t)snprintf(buf, n, "one of");
    for (int i = 0; k->names[i] && j < n; i++) {
      j += (size_t)snprintf(buf + j, n - j, "%s %s", i ? "," : "", k->names[i]);
    }
    return buf;
  }
  }
  return "a value";
}

// Digits with an optional sign, nothing else: no fraction, exponent or junk.
static int is_integer_text(const char* s, int allow_minus) {
  if (*s == '+' || (allow_minus && *s == '-')) s++;
  if (!isdigit((unsigned char)*s)) return 0;
  while (isdigit((unsigned char)*s)) s++;
  return *s == 0;
}

// A decimal number: [+-] (digits [. digits] | . digits) [e [+-] digits].
// strtod alone would also take hex floats, "nan", "inf" and "infinity".
static int is_number_text(const char* s) {
  int digits = 0;
  if (*s == '+' || *s == '-') s++;
  while (isdigit((unsigned char)*s)) s++, digits++;
  if (*s == '.') {
    s++;
    while (isdigit((unsigned char)*s)) s++, digits++;
  }
  if (!digits) return 0;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
  }
  return *s == 0;
}

// A spelling of infinity or NaN: C's (inf, infinity, nan) or YAML's (.inf, .nan).
static int is_nonfinite_text(const char* s) {
  if (*s == '+' || *s == '-') s++;
  if (*s == '.') s++;
  return !strcasecmp(s, "inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "nan");
}

// Check v against the key's range; on failure write "LABEL: must be >= LO,
// got GOT" (naming the bound that is violated) into msg and return -1.
static int check_range(const keyInfo* k, const char* label, double v, const char* got, char* msg,
                       size_t n) {
  char bound[64];
  if (v < k->lo || (v == k->lo && (k->open & OPEN_LO))) {
    format_double(k->lo, bound, sizeof bound);
    snprintf(msg, n, "%s: must be %s %s, got %s", label, (k->open & OPEN_LO) ? ">" : ">=", bound,
             got);
    return -1;
  }
  if (v > k->hi || (v == k->hi && (k->open & OPEN_HI))) {
    format_double(k->hi, bound, sizeof bound);
    snprintf(msg, n, "%s: must be %s %s, got %s", label, (k->open & OPEN_HI) ? "<" : "<=", bound,
             got);
    return -1;
  }
  return 0;
}

// Parse the scalar `node` as a value of `type` for key k (labelled `label` in
// messages), check it and store it at dst. On failure write the message
// (without location) into msg and return -1.
static int parse_scalar(const keyInfo* k, keyType type, const char* label, const yaml_node_t* node,
                        void* dst, char* msg, size_t n) {
  const char* s = (const char*)node->data.scalar.value;
  size_t len = node->data.scalar.length;
  int plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  char shown[SHOWLEN + 8], expected[256];
  show(s, shown, sizeof shown);
  if (strlen(s) != len) {
    snprintf(msg, n, "%s: the value contains a NUL character", label);
    return -1;
  }

  // numbers and booleans in quotes are strings in YAML: refuse rather than guess
  if (!plain && type != KEY_STRING && type != KEY_ENUM) {
    snprintf(msg, n, "%s: expected %s, got the quoted string '%s' (remove the quotes)", label,
             type_expected(k, type, expected, sizeof expected), shown);
    return -1;
  }

  switch (type) {
  case KEY_INT: {
    if (!is_integer_text(s, 1)) break;
    long long v = strtoll(s, NULL, 10);  // clamps on overflow: the range check reports it
    if (check_range(k, label, (double)v, shown, msg, n)) return -1;
    *(int*)dst = (int)v;
    return 0;
  }
  case KEY_U64: {
    if (!is_integer_text(s, 0)) break;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE) {
      snprintf(msg, n, "%s: must be <= %" PRIu64 ", got %s", label, UINT64_MAX, shown);
      return -1;
    }
    *(uint64_t*)dst = (uint64_t)v;
    return 0;
  }
  case KEY_DOUBLE: {
    if (is_nonfinite_text(s)) {
      snprintf(msg, n, "%s: must be a finite number, got '%s'", label, shown);
      return -1;
    }
    if (!is_number_text(s)) break;
    double v = strtod(s, NULL);
    if (!isfinite(v)) {  // overflow, e.g. 1e999
      snprintf(msg, n, "%s: must be a finite number, got '%s'", label, shown);
      return -1;
    }
    if (check_range(k, label, v, shown, msg, n)) return -1;
    *(double*)dst = v;
    return 0;
  }
  case KEY_BOOL: {
    static const char* const kTrue[] = {"true", "yes", "on"};
    static const char* const kFalse[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
      if (!strcasecmp(s, kTrue[i])) {
        *(int*)dst = 1;
        return 0;
      }
      if (!strcasecmp(s, kFalse[i])) {
        *(int*)dst = 0;
        return 0;
      }
    }
    break;
  }
  case KEY_STRING: {
    if (plain && is_null(node)) len = 0;  // `name:` or `name: ~` is the empty string
    if (len > MRL_STRLEN - 1) {
      snprintf(msg, n, "%s: at most %d bytes, got %zu", label, MRL_STRLEN - 1, len);
      return -1;
    }
    if ((double)len < k->lo) {
      snprintf(msg, n, "%s: must not be empty", label);
      return -1;
    }
    memset(dst, 0, MRL_STRLEN);  // zero the tail: equal configs compare equal bytewise
    memcpy(dst, s, len);
    return 0;
  }
  case KEY_ENUM: {
    for (int i = 0; k->names[i]; i++) {
      if (!strcmp(s, k->names[i])) {
        *(int*)dst = i;
        return 0;
      }
    }
    break;
  }
  case KEY_INTLIST:
    break;
  }
  snprintf(msg, n, "%s: expected %s, got '%s'", label,
           type_expected(k, type, expected, sizeof expected), shown);
  return -1;
}

// Parse `node` (of document doc) as the value of key k and store it in cfg.
static int set_key(const errCtx* ec, const keyInfo* k, yaml_document_t* doc, yaml_node_t* node,
                   mrlConfig* cfg) {
  char msg[MRL_ERRLEN], expected[256], got[SHOWLEN + 16];
  if (k->type != KEY_INTLIST) {
    if (node->type != YAML_SCALAR_NODE) {
      return fail(ec, &node->start_mark, "%s: expected %s, got %s", k->name,
                  type_expected(k, k->type, expected, sizeof expected),
                  node_shown(node, got, sizeof got));
    }
    if (parse_scalar(k, k->type, k->name, node, field_of(cfg, k), msg, sizeof msg)) {
      return fail(ec, &node->start_mark, "%s", msg);
    }
    return 0;
  }

  // int list: every entry checked with its own position
  if (node->type != YAML_SEQUENCE_NODE) {
    return fail(ec, &node->start_mark, "%s: expected %s, got %s", k->name,
                type_expected(k, k->type, expected, sizeof expected),
                node_shown(node, got, sizeof got));
  }
  yaml_node_item_t* items = node->data.sequence.items.start;
  long count = node->data.sequence.items.top - items;
  if (count < 1 || count > MRL_MAXLAYERS) {
    return fail(ec, &node->start_mark, "%s: must have 1 to %d entries, got %ld", k->name,
                MRL_MAXLAYERS, count);
  }
  int* list = (int*)field_of(cfg, k);
  memset(list, 0, MRL_MAXLAYERS * sizeof(int));
  for (long i = 0; i < count; i++) {
    yaml_node_t* item = yaml_document_get_node(doc, items[i]);
    char label[64];
    snprintf(label, sizeof label, "%s[%ld]", k->name, i);
    if (item->type != YAML_SCALAR_NODE) {
      return fail(ec, &item->start_mark, "%s: expected an integer, got %s", label,
                  node_shown(item, got, sizeof got));
    }
    if (parse_scalar(k, KEY_INT, label, item, &list[i], msg, sizeof msg)) {
      return fail(ec, &item->start_mark, "%s", msg);
    }
  }
  *(int*)((char*)cfg + k->count_offset) = (int)count;
  return 0;
}

// Report an unknown key at the mark of its name, with the closest known name.
static int unknown_key(const errCtx* ec, const yaml_mark_t* mark, const char* key, int toplevel) {
  char shown[SHOWLEN + 8], best[64];
  show(key, shown, sizeof shown);
  if (toplevel && find_key(key)) {
    // a dotted key at the top of a file: files nest keys by section
    size_t n = section_len(key);
    return fail(ec, mark,
                "unknown key '%s' (write it nested: '%.*s:' then '  %s: ...' "
                "on the next line)",
                shown, (int)n, key, leaf_of(key));
  }
  if (suggest(key, toplevel, best, sizeof best)) {
    return fail(ec, mark, "unknown key '%s' (did you mean '%s'?)", shown, best);
  }
  return fail(ec, mark, "unknown key '%s'", shown);
}

//------------------------------- loading files -------------------------------

// State of one mrl_config_load across the chain of `extends`.
typedef struct {
  int name_set;  // some file of the chain set `name`
  int depth;     // index in chain of the file being loaded
  struct {
    dev_t dev;
    ino_t ino;
    const char* path;
  } chain[MAX_EXTENDS + 1];  // the file being loaded and the files that extend it
  char* err;
  size_t errlen;
} loadState;

// Read the whole file at path into a new buffer (*text, *len bytes, NUL
// added) and stat it. Returns 0 or an errno value.
static int read_file(const char* path, char** text, size_t* len, struct stat* st) {
  FILE* f = fopen(path, "rb");
  if (!f) return errno;
  if (fstat(fileno(f), st)) {
    int e = errno;
    fclose(f);
    return e;
  }
  if (S_ISDIR(st->st_mode)) {
    fclose(f);
    return EISDIR;
  }
  size_t cap = 4096, n = 0, got;
  char* buf = mrl_alloc(cap);
  while ((got = fread(buf + n, 1, cap - 1 - n, f)) > 0) {
    n += got;
    if (n == cap - 1) {
      if (cap > MAX_FILE) {
        free(buf);
        fclose(f);
        return EFBIG;
      }
      char* bigger = realloc(buf, 2 * cap);
      if (!bigger) mrl_fatal(__FILE__, __LINE__, "out of memory (%zu bytes)", 2 * cap);
      buf = bigger;
      cap *= 2;
    }
  }
  int e = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (e) {
    free(buf);
    return e;
  }
  buf[n] = 0;
  *text = buf;
  *len = n;
  return 0;
}

// Parse text as exactly one YAML document into doc. An empty stream gives a
// document without a root node. Returns 0, or -1 with a message.
static int parse_document(const errCtx* ec, const char* text, size_t len, yaml_document_t* doc) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return fail(ec, NULL, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char*)text, len);
  if (!yaml_parser_load(&parser, doc)) {  // libyaml frees doc on failure
    int rc = yaml_fail(ec, &parser, text, len);
    yaml_parser_delete(&parser);
    return rc;
  }
  yaml_document_t next;
  if (!yaml_parser_load(&parser, &next)) {
    int rc = yaml_fail(ec, &parser, text, len);
    yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return rc;
  }
  int extra = yaml_document_get_root_node(&next) != NULL;
  yaml_mark_t mark = next.start_mark;
  yaml_document_delete(&next);
  yaml_parser_delete(&parser);
  if (extra) {
    yaml_document_delete(doc);
    return fail(ec, &mark, "more than one YAML document ('---'): a config is one mapping");
  }
  return 0;
}

// The key of a mapping pair as a C string, or NULL (with a message) if it is
// not a scalar.
static const char* pair_key(const errCtx* ec, yaml_document_t* doc, yaml_node_pair_t* pair,
                            yaml_node_t** keynode) {
  yaml_node_t* kn = yaml_document_get_node(doc, pair->key);
  *keynode = kn;
  if (kn->type != YAML_SCALAR_NODE) {
    char got[SHOWLEN + 16];
    fail(ec, &kn->start_mark, "expected a key name, got %s", node_shown(kn, got, sizeof got));
    return NULL;
  }
  return (const char*)kn->data.scalar.value;
}

// Fail if pair i of the mapping has the same key as an earlier pair.
// `prefix` is the section ("" at the top level), for the message.
static int check_duplicate(const errCtx* ec, yaml_document_t* doc, yaml_node_pair_t* pairs, long i,
                           const char* prefix) {
  yaml_node_t* kn = yaml_document_get_node(doc, pairs[i].key);
  for (long j = 0; j < i; j++) {
    yaml_node_t* other = yaml_document_get_node(doc, pairs[j].key);
    if (other->type == YAML_SCALAR_NODE &&
        !strcmp((const char*)other->data.scalar.value, (const char*)kn->data.scalar.value)) {
      char shown[SHOWLEN + 8];
      show((const char*)kn->data.scalar.value, shown, sizeof shown);
      return fail(ec, &kn->start_mark, "duplicate key '%s%s%s' (first at line %zu)", prefix,
                  *prefix ? "." : "", shown, other->start_mark.line + 1);
    }
  }
  return 0;
}

// Apply the keys of a section mapping ("inner:" ...) to cfg.
static int apply_section(const errCtx* ec, yaml_document_t* doc, const char* section,
                         yaml_node_t* node, mrlConfig* cfg) {
  yaml_node_pair_t* pairs = node->data.mapping.pairs.start;
  long npair = node->data.mapping.pairs.top - pairs;
  for (long i = 0; i < npair; i++) {
    yaml_node_t* kn;
    const char* leaf = pair_key(ec, doc, &pairs[i], &kn);
    if (!leaf || check_duplicate(ec, doc, pairs, i, section)) return -1;
    char dotted[MRL_ERRLEN];
    snprintf(dotted, sizeof dotted, "%s.%s", section, leaf);
    const keyInfo* k = find_key(dotted);
    if (!k) return unknown_key(ec, &kn->start_mark, dotted, 0);
    if (set_key(ec, k, doc, yaml_document_get_node(doc, pairs[i].value), cfg)) return -1;
  }
  return 0;
}

// Apply the top-level mapping of a file (all but `extends`) to cfg.
static int apply_root(loadState* ls, const errCtx* ec, yaml_document_t* doc, yaml_node_t* root,
                      mrlConfig* cfg) {
  yaml_node_pair_t* pairs = root->data.mapping.pairs.start;
  long npair = root->data.mapping.pairs.top - pairs;
  for (long i = 0; i < npair; i++) {
    yaml_node_t* kn;
    const char* key = pair_key(ec, doc, &pairs[i], &kn);
    if (!key || check_duplicate(ec, doc, pairs, i, "")) return -1;
    yaml_node_t* value = yaml_document_get_node(doc, pairs[i].value);
    if (!strcmp(key, "extends")) continue;  // applied first, by load_file

    const keyInfo* k = find_key(key);
    if (k && !section_len(k->name)) {
      if (set_key(ec, k, doc, value, cfg)) return -1;
      if (k->offset == offsetof(mrlConfig, name)) ls->name_set = 1;
    } else if (!strchr(key, '.') && section_first(key)) {
      if (is_null(value)) continue;  // `inner:` with every key commented out
      if (value->type != YAML_MAPPING_NODE) {
        char got[SHOWLEN + 16];
        return fail(ec, &value->start_mark, "%s: expected a mapping of %s.* keys, got %s", key, key,
                    node_shown(value, got, sizeof got));
      }
      if (apply_section(ec, doc, key, value, cfg)) return -1;
    } else {
      return unknown_key(ec, &kn->start_mark, key, 1);
    }
  }
  return 0;
}

static int load_file(loadState* ls, mrlConfig* cfg, const char* path, const errCtx* from,
                     const yaml_mark_t* from_mark);

// Find `extends` in the root mapping and load that file (relative to the
// folder of `path`) into cfg.
static int load_base(loadState* ls, const errCtx* ec, yaml_document_t* doc, yaml_node_t* root,
                     const char* path, mrlConfig* cfg) {
  yaml_node_pair_t* pairs = root->data.mapping.pairs.start;
  long npair = root->data.mapping.pairs.top - pairs;
  for (long i = 0; i < npair; i++) {
    yaml_node_t* kn = yaml_document_get_node(doc, pairs[i].key);
    if (kn->type != YAML_SCALAR_NODE || strcmp((const char*)kn->data.scalar.value, "extends")) {
      continue;
    }
    for (long j = i + 1; j < npair; j++) {  // a second `extends` is reported before loading
      kn = yaml_document_get_node(doc, pairs[j].key);
      if (kn->type == YAML_SCALAR_NODE && !strcmp((const char*)kn->data.scalar.value, "extends")) {
        return check_duplicate(ec, doc, pairs, j, "");
      }
    }
    yaml_node_t* value = yaml_document_get_node(doc, pairs[i].value);
    char got[SHOWLEN + 16];
    if (value->type != YAML_SCALAR_NODE || is_null(value) || !value->data.scalar.length) {
      return fail(ec, &value->start_mark, "extends: expected a file name, got %s",
                  value->type == YAML_SCALAR_NODE && !value->data.scalar.length
                      ? "nothing"
                      : node_shown(value, got, sizeof got));
    }
    const char* base = (const char*)value->data.scalar.value;
    if (ls->depth + 1 > MAX_EXTENDS) {
      return fail(ec, &value->start_mark, "extends: more than %d nested files", MAX_EXTENDS);
    }

    // relative to the including file's folder, never to the working directory
    char resolved[MAX_PATH];
    const char* slash = strrchr(path, '/');
    int dirlen = (base[0] == '/' || !slash) ? 0 : (int)(slash - path + 1);
    if (snprintf(resolved, sizeof resolved, "%.*s%s", dirlen, path, base) >= (int)sizeof resolved) {
      return fail(ec, &value->start_mark, "extends: path too long");
    }
    ls->depth++;
    int rc = load_file(ls, cfg, resolved, ec, &value->start_mark);
    ls->depth--;
    return rc;
  }
  return 0;
}

// Load the file at path into cfg: its base first, then its own keys. `from`
// and `from_mark` locate the `extends` that named it (NULL for the file given
// to mrl_config_load).
static int load_file(loadState* ls, mrlConfig* cfg, const char* path, const errCtx* from,
                     const yaml_mark_t* from_mark) {
  char* text = NULL;
  size_t len = 0;
  struct stat st;
  int e = read_file(path, &text, &len, &st);
  if (e) {
    if (from)
      return fail(from, from_mark, "extends: cannot read config '%s': %s", path, strerror(e));
    return mrl_error(ls->err, ls->errlen, "cannot read config '%s': %s", path, strerror(e));
  }

  // the same file (device and inode) already up the chain: a cycle
  for (int i = 0; i < ls->depth; i++) {
    if (ls->chain[i].dev == st.st_dev && ls->chain[i].ino == st.st_ino) {
      char cycle[MRL_ERRLEN];
      size_t j = 0;
      for (int m = i; m < ls->depth && j < sizeof cycle; m++) {
        j += (size_t)snprintf(cycle + j, sizeof cycle - j, "%s -> ", ls->chain[m].path);
      }
      if (j < sizeof cycle) snprintf(cycle + j, sizeof cycle - j, "%s", path);
      free(text);
      return fail(from, from_mark, "extends cycle: %s", cycle);
    }
  }
  ls->chain[ls->depth].dev = st.st_dev;
  ls->chain[ls->depth].ino = st.st_ino;
  ls->chain[ls->depth].path = path;

  errCtx ec = {path, NULL, ls->err, ls->errlen};
  yaml_document_t doc;
  if (parse_document(&ec, text, len, &doc)) {
    free(text);
    return -1;
  }
  int rc = 0;
  yaml_node_t* root = yaml_document_get_root_node(&doc);
  if (root && !is_null(root)) {
    if (root->type != YAML_MAPPING_NODE) {
      char got[SHOWLEN + 16];
      rc = fail(&ec, &root->start_mark, "expected a mapping of keys at the top level, got %s",
                node_shown(root, got, sizeof got));
    } else {
      rc = load_base(ls, &ec, &doc, root, path, cfg);
      if (!rc) rc = apply_root(ls, &ec, &doc, root, cfg);
    }
  }
  yaml_document_delete(&doc);
  free(text);
  return rc;
}

//------------------------------- public API ----------------------------------

// Zero cfg, then set every key to its default from the table.
void mrl_config_default(mrlConfig* cfg) {
  memset(cfg, 0, sizeof *cfg);  // padding and string tails too: configs compare bytewise
  for (int i = 0; i < NKEYS; i++) {
    const keyInfo* k = &kKeys[i];
    void* dst = field_of(cfg, k);
    switch (k->type) {
    case KEY_INT:
    case KEY_BOOL:
    case KEY_ENUM:
      *(int*)dst = (int)k->def;
      break;
    case KEY_U64:
      *(uint64_t*)dst = k->def_u64;
      break;
    case KEY_DOUBLE:
      *(double*)dst = k->def;
      break;
    case KEY_STRING:
      snprintf((char*)dst, MRL_STRLEN, "%s", k->def_str);
      break;
    case KEY_INTLIST:
      memcpy(dst, k->def_list, sizeof k->def_list);
      *(int*)((char*)cfg + k->count_offset) = k->def_len;
      break;
    }
  }
}

// Load path (and its `extends` chain) over a copy of cfg; commit on success.
int mrl_config_load(mrlConfig* cfg, const char* path, char* err, size_t errlen) {
  loadState ls;
  memset(&ls, 0, sizeof ls);
  ls.err = err;
  ls.errlen = errlen;
  mrlConfig tmp;
  memcpy(&tmp, cfg, sizeof tmp);
  if (load_file(&ls, &tmp, path, NULL, NULL)) return -1;

  // no name given: the stem of the file, e.g. configs/point.yaml -> point
  if (!ls.name_set || !tmp.name[0]) {
    const char* slash = strrchr(path, '/');
    const char* base = slash ? slash + 1 : path;
    const char* dot = strrchr(base, '.');
    size_t n = (dot && dot != base) ? (size_t)(dot - base) : strlen(base);
    if (n > MRL_STRLEN - 1) n = MRL_STRLEN - 1;
    memset(tmp.name, 0, sizeof tmp.name);
    memcpy(tmp.name, base, n);
  }
  memcpy(cfg, &tmp, sizeof tmp);  // memcpy, not assignment: padding bytes too
  return 0;
}

// Split "key=value" at the first '=', parse the value as a YAML document and
// set the key on a copy of cfg; commit on success.
int mrl_config_override(mrlConfig* cfg, const char* assignment, char* err, size_t errlen) {
  errCtx ec = {NULL, assignment, err, errlen};
  const char* eq = strchr(assignment, '=');
  if (!eq) return fail(&ec, NULL, "expected key=value, e.g. inner.lr=0.05");

  // the key, without surrounding blanks
  const char* a = assignment;
  const char* b = eq;
  while (a < b && isspace((unsigned char)*a)) a++;
  while (b > a && isspace((unsigned char)b[-1])) b--;
  char key[MRL_ERRLEN];
  snprintf(key, sizeof key, "%.*s", (int)(b - a), a);
  if (!key[0]) return fail(&ec, NULL, "missing key before '='");

  const keyInfo* k = find_key(key);
  if (!k) {
    const keyInfo* first = strchr(key, '.') ? NULL : section_first(key);
    if (first) {
      return fail(&ec, NULL, "'%s' is a section, not a key: set one of its keys, e.g. '%s=...'",
                  key, first->name);
    }
    if (!strcmp(key, "extends")) return fail(&ec, NULL, "'extends' works only in a config file");
    return unknown_key(&ec, NULL, key, 0);
  }

  const char* value = eq + 1;
  yaml_document_t doc;
  if (parse_document(&ec, value, strlen(value), &doc)) return -1;
  yaml_node_t* root = yaml_document_get_root_node(&doc);
  yaml_node_t empty;  // `key=` is an empty (null) scalar, as `key:` in a file
  if (!root) {
    memset(&empty, 0, sizeof empty);
    empty.type = YAML_SCALAR_NODE;
    empty.data.scalar.value = (yaml_char_t*)"";
    empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    root = &empty;
  }
  mrlConfig tmp;
  memcpy(&tmp, cfg, sizeof tmp);
  int rc = set_key(&ec, k, &doc, root, &tmp);
  yaml_document_delete(&doc);
  // an empty name means "the config file's stem", which only loading can
  // give: kept, the resolved config.yaml would load back under another name
  // (found by fuzz/fuzz_config)
  if (!rc && k->offset == offsetof(mrlConfig, name) && !tmp.name[0]) {
    rc = fail(&ec, NULL, "name: must not be empty (leave it out to use the config file's stem)");
  }
  if (!rc) memcpy(cfg, &tmp, sizeof tmp);
  return rc;
}

// Check the stored value of key k; on failure write the message into msg.
static int check_stored(const keyInfo* k, const mrlConfig* cfg, char* msg, size_t n) {
  const void* src = cfield_of(cfg, k);
  char got[64];
  switch (k->type) {
  case KEY_INT: {
    int v = *(const int*)src;
    snprintf(got, sizeof got, "%d", v);
    return check_range(k, k->name, v, got, msg, n);
  }
  case KEY_U64:
    return 0;
  case KEY_DOUBLE: {
    double v = *(const double*)src;
    format_double(v, got, sizeof got);
    if (!isfinite(v)) {
      snprintf(msg, n, "%s: must be a finite number, got %s", k->name, got);
      return -1;
    }
    return check_range(k, k->name, v, got, msg, n);
  }
  case KEY_BOOL: {
    int v = *(const int*)src;
    if (v == 0 || v == 1) return 0;
    snprintf(msg, n, "%s: must be 0 or 1 (false or true), got %d", k->name, v);
    return -1;
  }
  case KEY_ENUM: {
    int v = *(const int*)src;
    if (v >= 0 && v < enum_count(k)) return 0;
    char expected[256];
    snprintf(msg, n, "%s: expected %s, got enum value %d", k->name,
             type_expected(k, k->type, expected, sizeof expected), v);
    return -1;
  }
  case KEY_STRING: {
    const char* s = (const char*)src;
    if (!memchr(s, 0, MRL_STRLEN)) {
      snprintf(msg, n, "%s: not NUL-terminated within %d bytes", k->name, MRL_STRLEN);
      return -1;
    }
    if ((double)strlen(s) < k->lo) {
      snprintf(msg, n, "%s: must not be empty", k->name);
      return -1;
    }
    return 0;
  }
  case KEY_INTLIST: {
    int count = *(const int*)((const char*)cfg + k->count_offset);
    if (count < 1 || count > MRL_MAXLAYERS) {
      snprintf(msg, n, "%s: must have 1 to %d entries, got %d", k->name, MRL_MAXLAYERS, count);
      return -1;
    }
    for (int i = 0; i < count; i++) {
      int v = ((const int*)src)[i];
      char label[64];
      snprintf(label, sizeof label, "%s[%d]", k->name, i);
      snprintf(got, sizeof got, "%d", v);
      if (check_range(k, label, v, got, msg, n)) return -1;
    }
    return 0;
  }
  }
  return 0;
}

// Every key against its table row, then the checks that involve two keys.
int mrl_config_check(const mrlConfig* cfg, char* err, size_t errlen) {
  char msg[MRL_ERRLEN];

  // every key on its own, for configs built or changed in code
  for (int i = 0; i < NKEYS; i++) {
    if (check_stored(&kKeys[i], cfg, msg, sizeof msg)) return mrl_error(err, errlen, "%s", msg);
  }

  // keys that are wrong only together with another key
  if (!(cfg->task.goal_low < cfg->task.goal_high)) {
    char lo[64], hi[64];
    format_double(cfg->task.goal_low, lo, sizeof lo);
    format_double(cfg->task.goal_high, hi, sizeof hi);
    return mrl_error(err, errlen, "task.goal_low (%s) must be < task.goal_high (%s)", lo, hi);
  }
  // a run starts from one policy: the stage's, or the checkpoint's
  if (cfg->pretrain[0] && cfg->policy.init_from[0]) {
    return mrl_error(err, errlen,
                     "pretrain: a run starts from its pretrain stage or from policy.init_from, "
                     "not both (policy.init_from is '%.200s')",
                     cfg->policy.init_from);
  }
  if (cfg->task.direction_balanced && !cfg->task.direction) {
    return mrl_error(err, errlen, "task.direction_balanced: needs task.direction: true");
  }
  // low/high pairs: an empty range is a mistake, a point range is allowed
  static const struct {
    const char* name;
    size_t lo, hi;
  } ranges[] = {
      {"task.slope", offsetof(mrlConfig, task.slope_low), offsetof(mrlConfig, task.slope_high)},
      {"task.heading", offsetof(mrlConfig, task.heading_low),
       offsetof(mrlConfig, task.heading_high)},
      {"task.velocity", offsetof(mrlConfig, task.velocity_low),
       offsetof(mrlConfig, task.velocity_high)},
      {"env.healthy_z", offsetof(mrlConfig, env.healthy_z_low),
       offsetof(mrlConfig, env.healthy_z_high)},
  };
  for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
    double lo = *(const double*)((const char*)cfg + ranges[r].lo);
    double hi = *(const double*)((const char*)cfg + ranges[r].hi);
    if (lo > hi) {
      char a[64], b[64];
      format_double(lo, a, sizeof a);
      format_double(hi, b, sizeof b);
      return mrl_error(err, errlen, "%s_low (%s) must be <= %s_high (%s)", ranges[r].name, a,
                       ranges[r].name, b);
    }
  }
  if (cfg->rl.baseline_fit != MRL_FIT_BATCH &&
      (cfg->rl.baseline != MRL_BASELINE_LINEAR || cfg->rl.bootstrap_time_limit)) {
    return mrl_error(err, errlen,
                     "rl.baseline_fit=%s chooses the rows of a linear baseline's fit: "
                     "set rl.baseline=linear and rl.bootstrap_time_limit=false, or "
                     "rl.baseline_fit=batch",
                     kBaselineFit[cfg->rl.baseline_fit]);
  }
  if (cfg->rl.bootstrap_time_limit && cfg->rl.baseline != MRL_BASELINE_LINEAR) {
    return mrl_error(err, errlen,
                     "rl.bootstrap_time_limit needs a value to bootstrap with: set "
                     "rl.baseline=linear");
  }
  if (cfg->rl.vf_shared && cfg->rl.baseline != MRL_BASELINE_MLP) {
    return mrl_error(err, errlen,
                     "rl.vf_shared carries the value network of rl.baseline=mlp: set "
                     "rl.baseline=mlp or rl.vf_shared=false");
  }
  if (cfg->outer.algo == MRL_OUTER_REPTILE && cfg->inner.steps == 0) {
    return mrl_error(err, errlen,
                     "inner.steps: must be >= 1 when outer.algo is reptile, "
                     "got 0 (the Reptile update would be zero)");
  }
  if (cfg->outer.algo == MRL_OUTER_MAML &&
      (cfg->inner.optim != MRL_OPT_SGD || cfg->inner.step != MRL_INNER_VPG)) {
    return mrl_error(err, errlen,
                     "outer.algo maml differentiates through SGD steps on the vpg loss: set "
                     "inner.step=vpg and inner.optim=sgd (or use fomaml or reptile)");
  }
  if (cfg->outer.hvp_lvc && cfg->outer.algo != MRL_OUTER_MAML) {
    return mrl_error(err, errlen,
                     "outer.hvp_lvc is a term of maml's Hessian-vector products: set "
                     "outer.algo=maml or outer.hvp_lvc=false");
  }
  if (cfg->inner.learn_lr && cfg->outer.algo != MRL_OUTER_MAML) {
    return mrl_error(err, errlen,
                     "inner.learn_lr learns the step sizes through maml's meta-gradient: set "
                     "outer.algo=maml or inner.learn_lr=false");
  }
  if (cfg->inner.adapt == MRL_ADAPT_CONTEXT &&
      (cfg->outer.algo != MRL_OUTER_MAML && cfg->outer.algo != MRL_OUTER_FOMAML)) {
    return mrl_error(err, errlen,
                     "inner.adapt=context trains the network through the adapted context's "
                     "gradient, which reptile, joint and combo do not follow: set outer.algo=maml "
                     "or fomaml, or inner.adapt=all");
  }
  if (cfg->inner.adapt == MRL_ADAPT_CONTEXT &&
      (cfg->inner.step != MRL_INNER_VPG || cfg->inner.optim != MRL_OPT_SGD)) {
    return mrl_error(err, errlen,
                     "inner.adapt=context takes sgd steps on the vpg loss: set inner.step=vpg and "
                     "inner.optim=sgd");
  }
  if (cfg->inner.adapt == MRL_ADAPT_CONTEXT && cfg->policy.context == 0) {
    return mrl_error(err, errlen,
                     "inner.adapt=context adapts the policy's context, and policy.context is 0: "
                     "set policy.context to its size (e.g. 50)");
  }
  if (cfg->inner.learn_lr && cfg->policy.context > 0) {
    return mrl_error(err, errlen,
                     "inner.learn_lr has no multiplier for policy.context's parameters: set "
                     "inner.learn_lr=false or policy.context=0");
  }
  if (cfg->outer.worst_fraction < 1 && cfg->outer.algo == MRL_OUTER_JOINT &&
      cfg->inner.step == MRL_INNER_PPO && cfg->outer.optim != MRL_OPT_TRPO) {
    return mrl_error(err, errlen,
                     "outer.worst_fraction weights tasks in the outer step, and joint training "
                     "with inner.step=ppo pools every task's batch: set outer.worst_fraction=1");
  }
  if (cfg->outer.algo == MRL_OUTER_COMBO && cfg->inner.step != MRL_INNER_VPG) {
    return mrl_error(err, errlen,
                     "outer.algo combo sums the inner gradients of vpg steps: set inner.step=vpg");
  }
  if (cfg->outer.algo == MRL_OUTER_REPTILE && !cfg->outer.reptile_as_gradient &&
      cfg->outer.optim == MRL_OPT_TRPO) {
    return mrl_error(err, errlen,
                     "outer.optim trpo needs a gradient: use it with fomaml, maml, joint or combo "
                     "(or reptile with outer.reptile_as_gradient=true)");
  }
  if (cfg->outer.algo == MRL_OUTER_REPTILE && !cfg->outer.reptile_as_gradient &&
      cfg->outer.eps_start == 0 && cfg->outer.eps_end == 0) {
    return mrl_error(err, errlen,
                     "outer.eps_start and outer.eps_end: must not both be 0 when "
                     "outer.algo is reptile (the meta-parameters would never move)");
  }

  // env.name: the registry is defined with the task families
  for (int i = 0; mrl_family_names[i]; i++) {
    if (!strcmp(cfg->env.name, mrl_family_names[i])) return 0;
  }
  char known[MRL_ERRLEN / 2], shown[SHOWLEN + 8], hint[128] = "";
  size_t j = 0;
  int best = INT_MAX;
  known[0] = 0;
  for (int i = 0; mrl_family_names[i] && j < sizeof known; i++) {
    j += (size_t)snprintf(known + j, sizeof known - j, "%s%s", i ? ", " : "", mrl_family_names[i]);
    int score = closeness(cfg->env.name, mrl_family_names[i]);
    if (score >= 0 && score < best) {
      best = score;
      snprintf(hint, sizeof hint, " (did you mean '%s'?)", mrl_family_names[i]);
    }
  }
  return mrl_error(err, errlen, "env.name: unknown task family '%s'%s; known: %s",
                   show(cfg->env.name, shown, sizeof shown), hint, known);
}

// The YAML text of key k's value in cfg, as mrl_config_write prints it.
static void format_value(const keyInfo* k, const mrlConfig* cfg, char* buf, size_t n) {
  const void* src = cfield_of(cfg, k);
  switch (k->type) {
  case KEY_INT:
    snprintf(buf, n, "%d", *(const int*)src);
    break;
  case KEY_U64:
    snprintf(buf, n, "%" PRIu64, *(const uint64_t*)src);
    break;
  case KEY_DOUBLE:
    format_float(*(const double*)src, buf, n);
    break;
  case KEY_BOOL:
    snprintf(buf, n, "%s", *(const int*)src ? "true" : "false");
    break;
  case KEY_STRING: {
    char s[MRL_STRLEN];
    snprintf(s, sizeof s, "%s", (const char*)src);  // bounded even if not terminated
    quote_string(s, buf, n);
    break;
  }
  case KEY_ENUM: {
    int v = *(const int*)src;
    if (v >= 0 && v < enum_count(k)) {
      snprintf(buf, n, "%s", k->names[v]);
    } else {
      snprintf(buf, n, "%d", v);  // invalid: loading it reports the key
    }
    break;
  }
  case KEY_INTLIST: {
    int count = *(const int*)((const char*)cfg + k->count_offset);
    if (count < 0) count = 0;
    if (count > MRL_MAXLAYERS) count = MRL_MAXLAYERS;
    size_t j = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < count && j < n; i++) {
      j += (size_t)snprintf(buf + j, n - j, "%s%d", i ? ", " : "", ((const int*)src)[i]);
    }
    if (j < n) snprintf(buf + j, n - j, "]");
    break;
  }
  }
}

// A header comment, then every key in table order, one section block each.
int mrl_config_write(const mrlConfig* cfg, FILE* f) {
  char value[4 * MRL_STRLEN + 16];  // a string, every byte escaped as \xNN, plus quotes
  fprintf(f, "# metarl %s config: every key (`metarl help config` describes them)\n", MRL_VERSION);
  const char* section = "";
  size_t seclen = 0;
  for (int i = 0; i < NKEYS; i++) {
    const keyInfo* k = &kKeys[i];
    size_t n = section_len(k->name);
    if (n != seclen || strncmp(k->name, section, n)) {
      section = k->name;
      seclen = n;
      fprintf(f, "\n%.*s:\n", (int)n, k->name);
    }
    format_value(k, cfg, value, sizeof value);
    fprintf(f, "%s%s: %s\n", n ? "  " : "", leaf_of(k->name), value);
  }
  return (fflush(f) || ferror(f)) ? -1 : 0;
}

// The values key k accepts, for the reference: "[0, 1]", "(0, 100]", "1..4096".
static void format_allowed(const keyInfo* k, char* buf, size_t n) {
  char lo[32], hi[32];
  format_double(k->lo, lo, sizeof lo);
  format_double(k->hi, hi, sizeof hi);
  switch (k->type) {
  case KEY_INT:
    snprintf(buf, n, "%s..%s", lo, hi);
    break;
  case KEY_U64:
    snprintf(buf, n, "0..2^64-1");
    break;
  case KEY_BOOL:
    snprintf(buf, n, "true|false");
    break;
  case KEY_STRING:
    snprintf(buf, n, "%s%d bytes", k->lo >= 1 ? "1.." : "0..", MRL_STRLEN - 1);
    break;
  case KEY_INTLIST:
    snprintf(buf, n, "1..%d entries, each %s..%s", MRL_MAXLAYERS, lo, hi);
    break;
  case KEY_ENUM: {
    size_t j = 0;
    buf[0] = 0;
    for (int i = 0; k->names[i] && j < n; i++) {
      j += (size_t)snprintf(buf + j, n - j, "%s%s", i ? "|" : "", k->names[i]);
    }
    break;
  }
  case KEY_DOUBLE:
    if (isinf(k->lo) && isinf(k->hi)) {
      snprintf(buf, n, "any finite");
    } else if (isinf(k->hi)) {
      snprintf(buf, n, "%s %s", (k->open & OPEN_LO) ? ">" : ">=", lo);
    } else if (isinf(k->lo)) {
      snprintf(buf, n, "%s %s", (k->open & OPEN_HI) ? "<" : "<=", hi);
    } else {
      snprintf(buf, n, "%c%s, %s%c", (k->open & OPEN_LO) ? '(' : '[', lo, hi,
               (k->open & OPEN_HI) ? ')' : ']');
    }
    break;
  }
}

// One row per key (key, type, default, allowed values, description) and a
// short note on the file layout.
void mrl_config_print_reference(FILE* f) {
  static const char* const kTypeName[] = {"int",    "uint64", "float",   "bool",
                                          "string", "enum",   "int list"};
  mrlConfig def;
  mrl_config_default(&def);
  fprintf(f, "%-23s %-8s %-11s %-26s %s\n", "KEY", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION");
  for (int i = 0; i < NKEYS; i++) {
    const keyInfo* k = &kKeys[i];
    char value[4 * MRL_STRLEN + 16], allowed[160];
    format_value(k, &def, value, sizeof value);
    format_allowed(k, allowed, sizeof allowed);
    fprintf(f, "%-23s %-8s %-11s %-26s %s\n", k->name, kTypeName[k->type], value, allowed, k->doc);
  }
  fprintf(f,
          "\nFiles nest keys by section (a line 'inner:', then '  lr: 0.1'). A top-level\n"
          "'extends: base.yaml' loads that file (relative to this one's folder) first.\n"
          "Override any key on the command line as key=value, e.g. policy.hidden=[32,32].\n");
}

// Search path and then its `extends` chain for the file that sets `key`; the
// first file that sets it is the one whose value won (a file's own keys are
// applied after its base's).
int mrl_config_locate(const char* path, const char* key, char* where, size_t n) {
  const keyInfo* k = find_key(key);
  if (!k) return -1;
  size_t slen = section_len(k->name);
  char section[64] = "";
  if (slen) snprintf(section, sizeof section, "%.*s", (int)slen, k->name);
  const char* leaf = leaf_of(k->name);
  char current[MAX_PATH], msg[MRL_ERRLEN];
  snprintf(current, sizeof current, "%s", path);
  for (int depth = 0; depth <= MAX_EXTENDS; depth++) {
    char* text = NULL;
    size_t len = 0;
    struct stat st;
    if (read_file(current, &text, &len, &st)) return -1;
    errCtx ec = {current, NULL, msg, sizeof msg};
    yaml_document_t doc;
    if (parse_document(&ec, text, len, &doc)) {
      free(text);
      return -1;
    }
    free(text);
    yaml_node_t* root = yaml_document_get_root_node(&doc);
    int found = 0;
    char next[MAX_PATH] = "";
    if (root && root->type == YAML_MAPPING_NODE) {
      for (yaml_node_pair_t* p = root->data.mapping.pairs.start;
           p < root->data.mapping.pairs.top && !found; p++) {
        yaml_node_t* kn = yaml_document_get_node(&doc, p->key);
        yaml_node_t* vn = yaml_document_get_node(&doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) continue;
        const char* name = (const char*)kn->data.scalar.value;
        if (!strcmp(name, "extends") && vn->type == YAML_SCALAR_NODE) {
          const char* base = (const char*)vn->data.scalar.value;
          const char* slash = strrchr(current, '/');
          int dirlen = (base[0] == '/' || !slash) ? 0 : (int)(slash - current + 1);
          snprintf(next, sizeof next, "%.*s%s", dirlen, current, base);
        } else if (!slen && !strcmp(name, leaf)) {
          snprintf(where, n, "%s:%zu:%zu", current, vn->start_mark.line + 1,
                   vn->start_mark.column + 1);
          found = 1;
        } else if (slen && !strcmp(name, section) && vn->type == YAML_MAPPING_NODE) {
          for (yaml_node_pair_t* q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top;
               q++) {
            yaml_node_t* qk = yaml_document_get_node(&doc, q->key);
            yaml_node_t* qv = yaml_document_get_node(&doc, q->value);
            if (qk->type == YAML_SCALAR_NODE && !strcmp((const char*)qk->data.scalar.value, leaf)) {
              snprintf(where, n, "%s:%zu:%zu", current, qv->start_mark.line + 1,
                       qv->start_mark.column + 1);
              found = 1;
              break;
            }
          }
        }
      }
    }
    yaml_document_delete(&doc);
    if (found) return 0;
    if (!next[0]) return -1;
    snprintf(current, sizeof current, "%s", next);
  }
  return -1;
}
