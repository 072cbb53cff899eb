// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// metarl.h: the public API of metarl, a C toolkit for meta-reinforcement
// learning. Grouped under banners in the order data flows through a run:
// errors, config, random streams, envs, policy, sampler, advantages,
// optimizers, training, evaluation, checkpoints, run directories.
//
// Conventions (after MuJoCo): types mrlX, functions mrl_<module>_<verb>,
// a const description (mrlPolicy, mrlFamily) apart from mutable per-worker
// state (mrlPolicyWork, mrlEnv). Buffers carry their shape in a comment.
// Boundary functions return 0 on success and -1 on failure, with a one-line
// message in the caller's `err` buffer (MRL_ERRLEN bytes).

#ifndef METARL_H_
#define METARL_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>  // free() releases what mrl_alloc returns

#ifdef __cplusplus
extern "C" {
#endif

#define MRL_VERSION "0.1.0"

//---------------------------------- errors ----------------------------------

#define MRL_ERRLEN 1024  // size of every error-message buffer

// exit codes of the metarl executable
enum {
  MRL_EXIT_OK = 0,            // done
  MRL_EXIT_RUNTIME = 1,       // runtime failure
  MRL_EXIT_USAGE = 2,         // usage or configuration error
  MRL_EXIT_INTERRUPTED = 130  // interrupted after saving a checkpoint
};

// Format a message into err (errlen bytes, always NUL-terminated); returns -1
// so that callers can write `return mrl_error(err, errlen, "...")`.
int mrl_error(char* err, size_t errlen, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Stop the process on a broken internal invariant, naming file and line.
void mrl_fatal(const char* file, int line, const char* fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
#define MRL_ASSERT(cond)                                               \
  do {                                                                 \
    if (!(cond)) mrl_fatal(__FILE__, __LINE__, "assertion %s", #cond); \
  } while (0)

// Allocation that cannot fail silently: stops with file and line on OOM.
// Memory is zeroed. Free with free().
void* mrl_alloc(size_t nbytes);

// Install MuJoCo's error and warning handlers (never waits for Enter, never
// writes MUJOCO_LOG.TXT). Call once at start-up, before any MuJoCo call.
void mrl_install_mujoco_handlers(void);

// MuJoCo warnings raised so far in this process (counted, not printed).
long mrl_mujoco_warning_count(void);

//---------------------------------- config ----------------------------------

#define MRL_MAXLAYERS 8  // hidden layers of the policy, at most
#define MRL_STRLEN 256   // string config values, at most (with NUL)

typedef enum { MRL_ACT_TANH = 0, MRL_ACT_RELU } mrlActivation;
typedef enum { MRL_INNER_VPG = 0, MRL_INNER_PPO } mrlInnerStep;
// Which parameters the inner step moves: every one, or policy.context's c alone.
typedef enum { MRL_ADAPT_ALL = 0, MRL_ADAPT_CONTEXT } mrlInnerAdapt;
// trpo is an outer optimizer only (inner.optim accepts sgd | adam)
typedef enum { MRL_OPT_SGD = 0, MRL_OPT_ADAM, MRL_OPT_TRPO } mrlOptimKind;
typedef enum {
  MRL_OUTER_REPTILE = 0,
  MRL_OUTER_FOMAML,
  MRL_OUTER_JOINT,
  MRL_OUTER_MAML,
  MRL_OUTER_COMBO
} mrlOuterAlgo;
// combo: weights of the k + 1 gradients g_1..g_{k+1} (g_{k+1}: the query gradient at theta_k)
typedef enum {
  MRL_COMBO_LAST = 0,  // g_{k+1} alone: FOMAML
  MRL_COMBO_SUM,       // g_1 + ... + g_{k+1}: Reptile with k + 1 SGD steps, as a gradient
  MRL_COMBO_MEAN,      // the sum / (k + 1)
  MRL_COMBO_FIRST      // g_1 alone: joint training
} mrlComboMode;
typedef enum { MRL_BASELINE_LINEAR = 0, MRL_BASELINE_ZERO, MRL_BASELINE_MLP } mrlBaselineKind;
// Which batch the linear baseline of a batch's advantages was fitted on: that
// batch, the previous step's of the same task (rllab's order, none first), or
// the other half of the batch's episodes (cross-fitting).
typedef enum { MRL_FIT_BATCH = 0, MRL_FIT_PREVIOUS, MRL_FIT_CROSS } mrlBaselineFit;
typedef enum {
  MRL_REWARD_FORWARD = 0,  // forward_weight * velocity along the surface
  MRL_REWARD_TARGET_VEL,   // -|velocity - task target velocity|
  MRL_REWARD_DIRECTION,    // forward_weight * task direction (+-1) * velocity
  MRL_REWARD_GOAL          // -distance of the root to the task goal (x, y)
} mrlRewardMode;
typedef enum {
  MRL_VELOCITY_ROOT = 0,  // the root body frame's displacement over the step / its duration
  MRL_VELOCITY_COM        // the root subtree's centre-of-mass velocity after the step
} mrlVelocityKind;
typedef enum { MRL_RAND_ELEMENT = 0, MRL_RAND_BODY } mrlRandGroup;

// The whole configuration of a run: one field per YAML key. Defaults and
// documentation live in the key table of config.c (the single source of
// truth, also printed by `metarl help config`).
typedef struct {
  char name[MRL_STRLEN];  // name:             run name (default: config file stem)
  uint64_t seed;          // seed:             master seed of every random stream
  int threads;  // threads:          worker threads (0: one per core, shared by the ranks of a node)
  char pretrain[MRL_STRLEN];  // pretrain:    config trained first into RUN/pretrain ("": none)

  struct {
    char name[MRL_STRLEN];       // env.name:         task family (see `metarl envs`)
    int horizon;                 // env.horizon:      max steps of an episode
    char model[MRL_STRLEN];      // env.model:      MJCF file of a mujoco family
    char root_body[MRL_STRLEN];  // env.root_body:  body whose motion is progress
    int frame_skip;              // env.frame_skip: physics steps per env step
    double action_scale;         // env.action_scale: point_nav moves by this x action
    int terminate_unhealthy;     // env.terminate_unhealthy: end episodes out of bounds
    double healthy_z_low;        // env.healthy_z_low:  min root height over the surface
    double healthy_z_high;       // env.healthy_z_high: max root height over the surface
    double healthy_angle;        // env.healthy_angle:  max root tilt from the surface normal
    double reset_noise;          // env.reset_noise:    uniform noise on qpos, qvel at reset
    double obs_vel_clip;         // env.obs_vel_clip:   joint velocities clipped to +-this
    int obs_com;                 // env.obs_com:        the root subtree's centre of mass appended
    int obs_task;                // env.obs_task:       the task's drawn parameters appended
    int sync_positions;          // env.sync_positions: positions recomputed after each step
    double timestep;             // env.timestep:       physics step, s (0: the model's)
  } env;

  struct {
    mrlRewardMode mode;        // reward.mode: forward | target_velocity | direction | goal
    double forward_weight;     // reward.forward_weight: weight of the velocity term
    double alive_bonus;        // reward.alive_bonus:    per step while healthy
    double ctrl_cost;          // reward.ctrl_cost:      weight of |action|^2
    mrlVelocityKind velocity;  // reward.velocity:    root | com
  } reward;

  struct {
    double goal_low;                   // task.goal_low:    point_nav goal box, lower bound per axis
    double goal_high;                  // task.goal_high:   point_nav goal box, upper bound per axis
    uint64_t test_seed;                // task.test_seed:   seed of the fixed held-out test split
    double slope_low, slope_high;      // task.slope_*:    floor tilt, degrees (+: uphill)
    double heading_low, heading_high;  // task.heading_*:  uphill direction, degrees from +x
    double velocity_low, velocity_high;  // task.velocity_*: target velocity
    int direction;                       // task.direction:  draw a direction +-1 per task
    int direction_balanced;  // task.direction_balanced: training directions alternate by index
    // log-uniform multipliers base^U(-range, range); base 1 or range 0: off
    double mass_base, mass_range;          // task.mass_*:     body_mass
    double inertia_base, inertia_range;    // task.inertia_*:  body_inertia
    double friction_base, friction_range;  // task.friction_*: geom_friction (sliding)
    double damping_base, damping_range;    // task.damping_*:  dof_damping
    double gear_base, gear_range;          // task.gear_*:     actuator_gear (strength)
    mrlRandGroup body_rand;                // task.body_rand:  element | body multipliers
  } task;

  struct {
    int nhidden;                 // number of entries in policy.hidden
    int hidden[MRL_MAXLAYERS];   // policy.hidden:       hidden layer sizes, e.g. [64, 64]
    mrlActivation activation;    // policy.activation:   tanh | relu
    double init_log_std;         // policy.init_log_std: initial log standard deviation
    double output_init;          // policy.output_init:  scale of the output layer's initial weights
    int obs_norm;                // policy.obs_norm:     running mean/std of the observations
    int context;                 // policy.context:      context inputs of the first layer (CAVIA)
    char init_from[MRL_STRLEN];  // policy.init_from: checkpoint that starts training ("": fresh)
  } policy;

  struct {
    double gamma;                  // rl.gamma:       discount
    double gae_lambda;             // rl.gae_lambda:  GAE lambda
    mrlBaselineKind baseline;      // rl.baseline:    linear | zero | mlp
    mrlBaselineFit baseline_fit;   // rl.baseline_fit: batch | previous | cross
    int normalize_advantages;      // rl.normalize_advantages: bool
    int bootstrap_time_limit;      // rl.bootstrap_time_limit: bool
    double entropy_coef;           // rl.entropy_coef: weight of the entropy bonus in the PG losses
    int vf_nhidden;                // number of entries in rl.vf_hidden
    int vf_hidden[MRL_MAXLAYERS];  // rl.vf_hidden: hidden layer sizes of the mlp baseline
    int vf_epochs;                 // rl.vf_epochs: passes over each batch (mlp baseline)
    int vf_minibatches;            // rl.vf_minibatches: minibatches per pass (mlp baseline)
    double vf_lr;                  // rl.vf_lr: Adam step size of the mlp baseline
    int vf_shared;                 // rl.vf_shared: one value network carried across iterations
  } rl;

  struct {
    mrlInnerStep step;     // inner.step:       vpg
    mrlInnerAdapt adapt;   // inner.adapt:      all | context
    mrlOptimKind optim;    // inner.optim:      sgd | adam
    double lr;             // inner.lr:         inner step size
    double later_lr;       // inner.later_lr:   step size of inner steps 2, 3, ... (0: inner.lr)
    int steps;             // inner.steps:      adaptation steps k
    int episodes;          // inner.episodes:   episodes per adaptation step
    double ppo_clip;       // inner.ppo_clip:   PPO clip range of the probability ratio
    int ppo_epochs;        // inner.ppo_epochs: PPO passes over the batch per inner step
    int ppo_minibatches;   // inner.ppo_minibatches: PPO minibatches per pass
    int resample;          // inner.resample:   bool; false: steps 1..k-1 redraw step 0's streams
    int learn_lr;          // inner.learn_lr:   bool; a learned step multiplier per tensor (maml)
    double learn_lr_step;  // inner.learn_lr_step: Adam step size of the log-multipliers
  } inner;

  struct {
    mrlOuterAlgo algo;        // outer.algo:       reptile | fomaml | joint | maml | combo
    mrlOptimKind optim;       // outer.optim:      sgd | adam | trpo (all but plain reptile)
    double lr;                // outer.lr:         outer step size (fomaml, joint)
    double eps_start;         // outer.eps_start:  reptile step size at iteration 0
    double eps_end;           // outer.eps_end:    reptile step size at the last iteration
    int meta_batch;           // outer.meta_batch: tasks per meta-iteration
    int iterations;           // outer.iterations: meta-iterations
    int reptile_as_gradient;  // outer.reptile_as_gradient: bool; (phi - theta_k) to outer.optim
    mrlComboMode combo;       // outer.combo:      last | sum | mean | first
    double worst_fraction;    // outer.worst_fraction: (0, 1]; outer objective over the worst tasks
    double max_kl;            // outer.max_kl:     trpo: bound on the mean KL of a step
    int cg_iters;             // outer.cg_iters:   trpo: conjugate-gradient iterations (0: x = g)
    int cg_subsample;         // outer.cg_subsample: trpo: every q-th row in CG products
    double cg_damping;        // outer.cg_damping: trpo: F + damping I
    int fisher_float32;       // outer.fisher_float32: bool; the MAML code's float32 probe
    double hvp_step;          // outer.hvp_step:   maml: norm of the finite-difference probe
    int hvp_freeze_relu;      // outer.hvp_freeze_relu: bool; one ReLU pattern for both probes
    int hvp_lvc;              // outer.hvp_lvc: bool; keep the score-function Hessian term
  } outer;

  struct {
    int tasks;        // eval.tasks:       held-out tasks
    int steps;        // eval.steps:       adaptation steps K
    int episodes;     // eval.episodes:    episodes per step
    int every;        // eval.every:       meta-test every this many iterations (0: off)
    int train_tasks;  // eval.train_tasks: held-out tasks of the meta-test during training
  } eval;

  struct {
    char dir[MRL_STRLEN];  // log.dir:          parent folder of run directories
    int checkpoint_every;  // log.checkpoint_every: iterations between checkpoints
  } log;
} mrlConfig;

// Fill cfg with the documented default of every key.
void mrl_config_default(mrlConfig* cfg);

// Load a YAML file over cfg's current values (call mrl_config_default first).
// Follows `extends: base.yaml` (relative to the file's folder) before applying
// the file's own keys. Strict: unknown keys, wrong types, out-of-range values
// and malformed YAML fail with "file:line:column: message" in err. Sets
// cfg->name to the file stem unless the file sets `name`.
int mrl_config_load(mrlConfig* cfg, const char* path, char* err, size_t errlen);

// Apply one "key=value" override (value in YAML syntax, e.g. "[64, 64]") with
// the same checks as a file.
int mrl_config_override(mrlConfig* cfg, const char* assignment, char* err, size_t errlen);

// Cross-key checks that no single key can make (e.g. env.name is a known
// family). Called after loading and overriding.
int mrl_config_check(const mrlConfig* cfg, char* err, size_t errlen);

// Write every key with its value as YAML that mrl_config_load reads back to
// an identical struct. Returns 0, or -1 on a write error.
int mrl_config_write(const mrlConfig* cfg, FILE* f);

// Where the value of `key` in effect after loading path comes from: the
// "file:line:column" of that value in path or its `extends` chain. Returns 0,
// or -1 if no file sets the key (the default, or an override, is in effect).
int mrl_config_locate(const char* path, const char* key, char* where, size_t n);

// Print the key reference (key, type, default, description) to f.
void mrl_config_print_reference(FILE* f);

// The config name of an outer algorithm ("reptile", "maml", ...), as
// outer.algo spells it; "?" for a value outside the enum.
const char* mrl_outer_algo_name(mrlOuterAlgo algo);

//------------------------------ random streams ------------------------------

// Counter-based random streams: every number is a pure function of
// (seed, purpose, iteration, task, env, counter), so what a thread or rank
// draws does not depend on scheduling.
typedef enum {
  MRL_RNG_INIT = 1,    // policy initialization
  MRL_RNG_TASK_TRAIN,  // training task parameters
  MRL_RNG_TASK_TEST,   // held-out task parameters (keyed by task.test_seed)
  MRL_RNG_RESET,       // initial states of episodes
  MRL_RNG_ACTION,      // exploration noise
  MRL_RNG_EVAL,        // evaluation-only draws
  MRL_RNG_MINIBATCH,   // PPO minibatch shuffles
  MRL_RNG_VALUE        // the mlp baseline's initialization and shuffles
} mrlRngPurpose;

typedef struct {
  uint64_t key;      // hash of (seed, purpose, iteration, task, env)
  uint64_t counter;  // index of the next draw
} mrlRng;

// Start the stream keyed by (seed, purpose, iteration, task, env).
void mrl_rng_init(mrlRng* rng, uint64_t seed, mrlRngPurpose purpose, uint64_t iteration,
                  uint64_t task, uint64_t env);
uint64_t mrl_rng_u64(mrlRng* rng);    // uniform 64-bit integer
double mrl_rng_uniform(mrlRng* rng);  // uniform in [0, 1), 53 bits
double mrl_rng_normal(mrlRng* rng);   // standard normal (Box-Muller)
// Shuffle a (n) in place by Fisher-Yates, one draw per position n-1..1.
void mrl_rng_shuffle(mrlRng* rng, int* a, int n);

//----------------------------------- envs -----------------------------------

typedef struct mrlFamily_ mrlFamily;

// Per-worker mutable state of nenv episodes of one task run in lockstep.
typedef struct mrlEnv_ mrlEnv;

// A task family: a constant description shared by all workers, plus the
// functions that make worker state and run episodes. Envs write into rows
// of caller-owned buffers and never allocate after make.
struct mrlFamily_ {
  const char* name;  // registry name, e.g. "point_nav"
  int nobs;          // observation size
  int nact;          // action size
  int ntask;         // task-parameter vector size
  int horizon;       // episode length limit
  void* data;        // family-specific constants

  // Draw one task's parameters (ntask) from rng.
  void (*sample_task)(const mrlFamily* fam, mrlRng* rng, double* task);
  // Describe a task in words, e.g. "goal=(0.12, -0.40)"; returns snprintf's count.
  int (*describe_task)(const mrlFamily* fam, const double* task, char* buf, size_t n);
  // Names of the task parameters (ntask), for CSV headers.
  const char* const* task_names;

  // Worker state for nenv parallel episodes.
  mrlEnv* (*env_make)(const mrlFamily* fam, int nenv);
  void (*env_free)(mrlEnv* env);
  // Apply task parameters to every episode of the worker.
  void (*set_task)(mrlEnv* env, const double* task);
  // Reset episode i; writes its first observation obs (nobs).
  void (*reset)(mrlEnv* env, int i, mrlRng* rng, double* obs);
  // Step episode i with action act (nact); writes obs (nobs), the reward and
  // whether the episode ended (failure or goal, not the horizon).
  void (*step)(mrlEnv* env, int i, const double* act, double* obs, double* reward, int* done);
  // Release the family.
  void (*free)(mrlFamily* fam);

  // Supervised (regression) families only, 0 and NULL otherwise: an
  // "episode" is one input point drawn by reset (horizon 1, no steps); the
  // policy mean is the prediction and the loss is the mean squared error.
  int supervised;
  // Label y (nact) of the point episode i was last reset to.
  void (*target)(mrlEnv* env, int i, double* y);
};

// Make the family named cfg->env.name, configured from cfg. NULL with a
// message in err for an unknown name or a family that cannot be made (e.g. an
// MJCF file that does not load).
mrlFamily* mrl_family_make(const mrlConfig* cfg, char* err, size_t errlen);
// Release a family from mrl_family_make (NULL: nothing to do).
void mrl_family_free(mrlFamily* fam);

// Known family names, NULL-terminated, and a one-line description of each.
extern const char* const mrl_family_names[];
extern const char* const mrl_family_docs[];

// Draw the parameters of task `index` of a split: the training split at
// meta-iteration `iteration` (stream keyed by cfg->seed), or the test split
// (iteration ignored, stream keyed by cfg->task.test_seed). With
// task.direction_balanced a training task's direction is -1 for an even index
// and +1 for an odd one; every other slot is the same as without it.
void mrl_task_sample(const mrlFamily* fam, const mrlConfig* cfg, int test, uint64_t iteration,
                     uint64_t index, double* task);

//---------------------------------- policy ----------------------------------

// Gaussian MLP policy: mean = MLP(obs), state-independent log-std. All
// parameters live in one flat vector, layer by layer: W (out, in) row-major,
// then b (out); then the log-std (nact). With policy.obs_norm the vector ends
// with the observation statistics at norm_off: mean (nobs), variance (nobs),
// count (1); the MLP sees clip((obs - mean) / sqrt(variance + 1e-8), +-10).
// With policy.context (CAVIA's context, Zintgraf et al. 2019) the log-std is
// followed at ctx_off by a context vector c (ncontext) and its input weights
// W_c (sizes[1], ncontext): the first layer reads [obs, c], computed as the
// bias b_1 + W_c c, once per forward. c starts at 0; with inner.adapt context
// the inner step moves c alone and the outer step learns everything else
// (and c's start).
// No gradient touches them (their entries stay 0): the trainer merges the
// observations of each meta-iteration into them (mrl_obs_norm_merge), so
// checkpoints, eval, view and record use the statistics trained with.
typedef struct {
  int nlayer;                    // weight layers = hidden layers + 1
  int sizes[MRL_MAXLAYERS + 2];  // nobs, hidden..., nact
  mrlActivation activation;      // of hidden layers; the output is linear
  int nparam;                    // length of the flat vector
  int woff[MRL_MAXLAYERS + 1];   // offset of W of each layer
  int boff[MRL_MAXLAYERS + 1];   // offset of b of each layer
  int logstd_off;                // offset of the log-std
  double init_log_std;
  double output_init;  // the output layer's weights start at this times Glorot's
  int obs_norm;        // 1: observation statistics at norm_off
  int norm_off;        // offset of the observation statistics (obs_norm)
  int lr_off;          // inner.learn_lr: offset of the step-size block (0: none)
  int ncontext;        // policy.context: context inputs (0: none)
  int ctx_off;  // offset of the context c (ncontext), then its weights W_c (sizes[1], ncontext)
  int adapt_context;  // inner.adapt context: the inner step moves c alone
  // rl.entropy_coef, carried here so that every policy-gradient loss (VPG,
  // PPO's clipped surrogate, TRPO's surrogate) subtracts the same bonus
  double entropy_coef;
} mrlPolicy;

// Scratch of one worker: activations for a batch of up to maxbatch rows.
typedef struct {
  int maxbatch;
  int batch;                       // rows of the last forward
  const double* input;             // (batch, nobs) input of the last forward (caller-owned)
  double* act;                     // per layer l = 1..nlayer: (maxbatch, sizes[l]) outputs
  int act_off[MRL_MAXLAYERS + 2];  // offset in act of layer l's block
  double* grad_act;                // 2 x (maxbatch, widest layer): ping-pong backprop buffers
  double* dmean;                   // (maxbatch, nact) scratch for dL/dmean
  double* mean;                    // (batch, nact) output of the last forward (a view into act)
  double* mean_probe;              // (maxbatch, nact) scratch: maml.c keeps one probe's means
  double* norm_input;              // (maxbatch, nobs) normalized observations (obs_norm), or NULL
  double* ctx_bias;  // (2 sizes[1]) policy.context: b_1 + W_c c, then dL/db_1, or NULL
  // ReLU on/off pattern of the hidden layers, at act's offsets: written by
  // every forward, read by the backward; with freeze_pattern set, a forward
  // applies the stored pattern instead (the same rows must be forwarded), so
  // that two nearby parameter vectors are differenced on one smooth piece.
  // Unused with tanh. freeze_pattern is 0 after mrl_policy_work_make; whoever
  // sets it clears it again (maml.c does, around one gradient)
  unsigned char* pattern;  // (maxbatch, sizes[l]) per hidden layer l
  int freeze_pattern;
} mrlPolicyWork;

// Lay out an MLP nin -> hidden... -> nout (activation on the hidden layers)
// in pol: sizes, offsets and nparam, with nout trailing log-std entries; no
// observation statistics, output_init 1, every other field 0. The policy
// (mrl_policy_setup) and the mlp baseline (value.c) share this layout, and
// with it mrl_policy_init, mrl_policy_forward and mrl_policy_backward.
void mrl_mlp_layout(mrlPolicy* pol, int nin, const int* hidden, int nhidden, int nout,
                    mrlActivation activation);

// Describe the policy of cfg for an env of nobs/nact.
void mrl_policy_setup(mrlPolicy* pol, const mrlConfig* cfg, int nobs, int nact);

// Length of policy.context's block at ctx_off: c (ncontext), then W_c
// (sizes[1], ncontext); 0 without a context.
#define MRL_CONTEXT_LEN(pol) ((pol)->ncontext * (1 + (pol)->sizes[1]))

// The same policy without policy.context's block (c and W_c): every other
// block at its offset less the block's length, as mrl_policy_setup lays it
// out for policy.context 0. A policy without a context is copied as it is.
void mrl_policy_without_context(const mrlPolicy* pol, mrlPolicy* base);

// Initialize params (nparam): Glorot-uniform weights (the output layer's
// scaled by output_init), zero biases, the log-std at init_log_std.
// Deterministic in rng.
void mrl_policy_init(const mrlPolicy* pol, mrlRng* rng, double* params);

// Scratch for forwards and backwards of up to maxbatch rows of pol (zeroed;
// never fails: stops on out-of-memory like mrl_alloc).
mrlPolicyWork* mrl_policy_work_make(const mrlPolicy* pol, int maxbatch);
// Release work (NULL: nothing to do).
void mrl_policy_work_free(mrlPolicyWork* work);

// Forward a batch obs (batch, nobs), 1 <= batch <= work->maxbatch (asserted);
// the mean lands in work->mean (batch, nact). obs must stay untouched until the
// backward (work->input points to it, or to its normalized copy). Writes the
// ReLU pattern, or applies the stored one while work->freeze_pattern is set.
void mrl_policy_forward(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const double* obs, int batch);

// Backward from dL/dmean (batch, nact) through the last forward; ADDS the
// gradient of the MLP parameters into grad (nparam). The log-std gradient is
// the caller's (it does not flow through the MLP).
void mrl_policy_backward(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                         const double* dmean, double* grad);

// Length of the per-batch observation statistics of mrl_obs_stats.
#define MRL_OBS_STATS_LEN(nobs) (2 * (nobs) + 1)

// inner.learn_lr (Meta-SGD's idea with one rate per tensor, as in MAML++):
// the vector ends with a block at lr_off: one log-multiplier per parameter
// tensor (each layer's W, each layer's b, the log-std, in that order; the
// inner SGD step of tensor j is lr * exp(entry j)), then their Adam moments m
// and v and its step count. No policy gradient touches the block (its entries
// stay 0): the meta-gradient fills the multipliers' entries, which the
// trainer takes out of the outer step's gradient and gives to
// mrl_policy_lr_meta_step after that step, so checkpoints, eval, view and record
// adapt with the multipliers trained.
#define MRL_POLICY_NTENSOR(pol) (2 * (pol)->nlayer + 1)
#define MRL_MAX_NTENSOR (2 * (MRL_MAXLAYERS + 1) + 1)
#define MRL_LR_BLOCK_LEN(ntensor) (3 * (ntensor) + 1)

// The slice [*off, *off + *len) of tensor j (0 <= j < MRL_POLICY_NTENSOR).
void mrl_policy_tensor(const mrlPolicy* pol, int j, int* off, int* len);

// The inner step's update: y -= c * exp(params[lr_off + j]) * x on each
// tensor j with inner.learn_lr, y -= c * x on the context c alone with
// inner.adapt context, else y -= c * x over the whole vector. params only
// supplies the multipliers and may be y itself (the block is not written).
void mrl_policy_inner_axpy(const mrlPolicy* pol, const double* params, double c, const double* x,
                           double* y);

// One Adam step of size `step` on the log-multipliers of params along dmult
// (MRL_POLICY_NTENSOR entries: the multipliers' part of a mean
// meta-gradient), with the moments kept in params. A no-op without
// inner.learn_lr.
void mrl_policy_lr_meta_step(const mrlPolicy* pol, double step, double* params,
                             const double* dmult);

// Merge observation statistics (count, mean (nobs), sum of squared deviations
// (nobs), as mrl_obs_stats writes them) into the running statistics of params
// (Chan et al.'s pairwise update). A no-op without policy.obs_norm or with
// count 0. Merging in a fixed order gives the same bits on every run.
void mrl_obs_norm_merge(const mrlPolicy* pol, double* params, const double* stats);

// Differential entropy of the policy's Gaussian, summed over the actions
// (nats; the same in every state): sum_j log_std_j + 0.5 log(2 pi e).
double mrl_policy_entropy(const mrlPolicy* pol, const double* params);

// Add the entropy bonus -pol->entropy_coef * entropy to a policy-gradient
// loss: returns the term and ADDS its gradient (-entropy_coef on every
// log-std) into grad. It keeps the action noise from collapsing while the
// mean is still poor; being linear in the log-std it has no curvature, so
// MAML's Hessian-vector products do not change. 0 with the coefficient 0.
double mrl_entropy_bonus(const mrlPolicy* pol, const double* params, double* grad);

// Log-likelihood of the action act (nact) of row `row` of the last forward.
double mrl_policy_logprob(const mrlPolicy* pol, const double* params, const mrlPolicyWork* work,
                          const double* act, int row);

//---------------------------------- sampler ---------------------------------

// Episodes of one task, stored time-major so that the rows of all episodes at
// one step are contiguous: one batched policy call per step.
typedef struct {
  int nenv;     // episodes
  int horizon;  // T
  int nobs, nact;
  double* obs;        // (T, nenv, nobs)
  double* act;        // (T, nenv, nact) actions taken (before env clipping)
  double* rew;        // (T, nenv)
  double* valid;      // (T, nenv) 1 while the episode runs, then 0
  double* ret;        // (T, nenv) discounted return-to-go
  double* baseline;   // (T, nenv) value predictions
  double* adv;        // (T, nenv) advantages (0 on invalid rows)
  int* len;           // (nenv) episode lengths
  int* truncated;     // (nenv) 1: the episode ran to the horizon without ending
  double* v_final;    // (nenv) value of the state after a truncated episode's last step (else 0)
  double* ep_return;  // (nenv) undiscounted returns
  double* obs_final;  // (nenv, nobs) observation after the last step (scratch)
  mrlRng* noise;      // (nenv) action-noise streams (scratch)
  int supervised;     // set by mrl_sample: act holds labels, the loss is MSE
} mrlBatch;

// A zeroed batch of nenv episodes of up to horizon steps (stops on
// out-of-memory like mrl_alloc). Release it with mrl_batch_free (NULL: nothing).
mrlBatch* mrl_batch_make(int nenv, int horizon, int nobs, int nact);
void mrl_batch_free(mrlBatch* b);

// Statistics of the observations of the valid rows of b, in row order:
// stats (MRL_OBS_STATS_LEN(nobs)) = count, mean (nobs), sum of squared
// deviations from the mean (nobs).
void mrl_obs_stats(const mrlBatch* b, double* stats);

// Run batch->nenv episodes of the task loaded in env with policy params in
// lockstep. Reset and action noise come from streams keyed by
// (seed, purpose, iteration, task, episode). Returns the env steps taken.
long mrl_sample(const mrlFamily* fam, mrlEnv* env, const mrlPolicy* pol, const double* params,
                mrlPolicyWork* work, mrlBatch* batch, uint64_t seed, uint64_t iteration,
                uint64_t task_key);

// Mean undiscounted episode return of a batch.
double mrl_batch_mean_return(const mrlBatch* b);

// Statistics of one sampled batch (one task, one adaptation step), for logs.
// Sums rather than means, so that batches pool exactly in task order.
typedef struct {
  int ntraj;                  // episodes
  double sum_return;          // sum over episodes of the undiscounted return
  double sumsq_return;        // sum over episodes of its square
  double max_return;          // best episode
  double min_return;          // worst episode
  double sum_disc_return;     // sum over episodes of the discounted return from t = 0
  double entropy;             // differential entropy of the Gaussian policy (nats per action)
  double explained_variance;  // 1 - Var(ret - baseline) / Var(ret) over valid rows; NaN if unfit
} mrlBatchStats;

// Fill s from batch b sampled with params. fitted: b->ret and b->baseline hold
// returns-to-go and baseline predictions (else explained_variance is NaN).
void mrl_batch_stats(const mrlPolicy* pol, const double* params, const mrlBatch* b, double gamma,
                     int fitted, mrlBatchStats* s);

// Episode lengths of batch b: *mean_length gets the mean of b->len over its
// episodes (env steps; 1 for a supervised family's points) and *full_fraction
// the fraction of episodes that ran the whole horizon (len == b->horizon,
// whether or not the last step also ended the episode). Sums in episode
// order: the same bits for the same batch.
void mrl_batch_lengths(const mrlBatch* b, double* mean_length, double* full_fraction);

//-------------------------------- advantages --------------------------------

typedef struct mrlValueNet mrlValueNet;

// Scratch for the linear feature baseline (features [o, o^2, t, t^2, t^3, 1];
// the time features are 0 when time_features is 0), and the value network of
// rl.baseline=mlp when there is one.
typedef struct {
  int nfeat;          // 2 nobs + 4
  int time_features;  // 1 (mrl_baseline_make's default): the value depends on t
  int maxrows;        // valid rows the scratch can hold
  double* feat;       // (T nenv, nfeat)
  double* gram;       // (nfeat, nfeat) Gram matrix, then its Cholesky factor
  double* gram0;      // (nfeat, nfeat) F^T F before regularization
  double* rhs;        // (2, nfeat): F^T R; the features of one final state (bootstrap)
  double* coef;       // (nfeat)
  int have_coef;      // coef holds a fit (rl.baseline_fit previous; 0: predict 0)
  mrlValueNet* vf;  // rl.baseline mlp: set by the owner (mrl_value_make), freed with bl; else NULL
} mrlBaseline;

// Scratch of the baseline for observations of nobs and up to maxrows rows
// (with time features, no value network; stops on out-of-memory like
// mrl_alloc). Release it with mrl_baseline_free (NULL: nothing to do), which
// also frees bl->vf.
mrlBaseline* mrl_baseline_make(int nobs, int maxrows);
void mrl_baseline_free(mrlBaseline* bl);

// Discounted returns-to-go of every valid row into batch->ret; a truncated
// episode's return continues with batch->v_final after its last step.
void mrl_returns(mrlBatch* batch, double gamma);

// Fit the ridge-regression baseline on batch->ret and write its predictions to
// batch->baseline (regularization 1e-5, raised tenfold while not finite).
// Returns 0, or -1 if no finite fit exists (predictions are then 0).
int mrl_baseline_fit_predict(mrlBaseline* bl, mrlBatch* batch);

// Passes of mrl_baseline_fit_bootstrapped at most.
#define MRL_BOOTSTRAP_PASSES 100

// Returns bootstrapped at the time limit (rl.bootstrap_time_limit): the
// baseline, without time features, and batch->v_final (its value of the state
// after each truncated episode's last step) fitted together by repeating
// {returns with v_final; fit; v_final = V(obs_final)} until v_final changes by
// at most 1e-9 of its size (at most MRL_BOOTSTRAP_PASSES passes); v_final is
// clipped to [min(0, r_min), max(0, r_max)] / (1 - gamma) (r over the batch's
// valid rows; times the horizon for gamma 1), the values such rewards allow. Writes
// batch->ret, batch->baseline and batch->v_final. Returns 0, or -1 if no
// finite fit exists: then v_final and the baseline are 0 and ret the
// truncated returns.
int mrl_baseline_fit_bootstrapped(mrlBaseline* bl, mrlBatch* batch, double gamma);

// GAE(gamma, lambda) from rewards and batch->baseline into batch->adv; the
// value after the last step of an episode is 0, or batch->v_final for a
// truncated one. Optionally normalizes the
// advantages of valid rows to mean 0 and standard deviation 1.
void mrl_gae(mrlBatch* batch, double gamma, double lambda, int normalize);

// rl.baseline_fit previous: the advantages of batch use the coefficients of
// the previous call's fit (a zero baseline if there was none since
// mrl_baseline_forget), then the baseline is fitted on batch for the next
// call (returns are written first). Returns 0, or -1 if this fit failed (the
// next call then predicts 0).
int mrl_baseline_predict_fit(mrlBaseline* bl, mrlBatch* batch);

// Drop the coefficients mrl_baseline_predict_fit keeps: its next call predicts 0.
void mrl_baseline_forget(mrlBaseline* bl);

// rl.baseline_fit cross: the baseline of the episodes of even index fitted on
// the odd ones and the other way round, so no episode's return shapes its own
// baseline (a batch of one episode: mrl_baseline_fit_predict). Returns 0, or
// -1 if a half's fit failed (that half's predictions are then 0).
int mrl_baseline_crossfit_predict(mrlBaseline* bl, mrlBatch* batch);

// Everything above in order, as the config says (rl.baseline mlp: bl->vf, which
// must be set). Returns 0, or -1 if the baseline fit failed (non-finite
// returns or features, or a diverged value network): the advantages then use
// a zero baseline.
int mrl_advantages(const mrlConfig* cfg, mrlBaseline* bl, mrlBatch* batch);

// Policy-gradient surrogate L = -(1/nvalid) sum A log pi(a|s) - c H of a
// batch (c H the entropy bonus of mrl_entropy_bonus; no rows: L = 0 and a
// zero gradient): returns L and writes dL/dparams into grad (nparam,
// overwritten).
double mrl_pg_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const mrlBatch* batch, double* grad);

// Mean squared error L = (1/n) sum |mean(x) - y|^2 of a supervised batch
// (labels y in batch->act); returns L, writes dL/dparams (the log-std part 0).
double mrl_mse_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                         const mrlBatch* batch, double* grad);

// The inner-loop loss of a batch: MSE if batch->supervised, else the
// policy-gradient surrogate. The function every gradient in metarl goes through.
double mrl_loss_grad(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                     const mrlBatch* batch, double* grad);

//--------------------------------- optimizers --------------------------------

typedef struct {
  mrlOptimKind kind;
  int n;  // parameters
  double lr;
  double beta1, beta2, epsilon;  // Adam
  long t;                        // steps taken
  double* m;                     // (n) first moment (Adam)
  double* v;                     // (n) second moment (Adam)
} mrlOptim;

// kind sgd or adam (trpo is not a first-order rule: see mrl_trpo_step) over n
// parameters; Adam gets zeroed moments (beta1 0.9, beta2 0.999, epsilon 1e-8).
void mrl_optim_init(mrlOptim* opt, mrlOptimKind kind, int n, double lr);
// Release the moments (opt itself is the caller's); opt->m and opt->v become NULL.
void mrl_optim_free(mrlOptim* opt);
void mrl_optim_reset(mrlOptim* opt);  // zero moments and step count
// params -= step(grad) with the optimizer's rule and learning rate lr.
void mrl_optim_step(mrlOptim* opt, double* params, const double* grad, double lr);

//------------------------------- value network ------------------------------

// The learned baseline of rl.baseline=mlp: V(o, t) = MLP([o, t / horizon])
// with tanh hidden layers rl.vf_hidden and a linear output, fitted to the
// returns of each batch by Adam (rl.vf_lr) on 0.5 (V - R)^2 over rl.vf_epochs
// passes of rl.vf_minibatches shuffled minibatches. Every task starts from
// one seeded initialization (mrl_value_reset, called by mrl_inner_adapt) and
// the weights and Adam's moments carry from one inner step of the task to the
// next. Inputs and targets are standardized by the means and standard
// deviations of the first batch after a reset (inputs then clipped to +-10).
//
// With rl.vf_shared the initialization is not fixed: it is the shared value
// network the trainer carries from iteration to iteration (the mean of the
// tasks' fitted weights, mrl_value_merge), saved in the checkpoint; its
// standardization is the trainer's too, and each batch's advantages use the
// values predicted before the fit to that batch, so that the baseline has
// not already seen the returns it is subtracted from.
struct mrlValueNet {
  mrlPolicy net;             // the MLP's layout (its single log-std entry is unused)
  mrlPolicyWork* work;       // activations for up to maxrows rows
  mrlOptim optim;            // Adam
  double* init;              // (nparam) the seeded initialization every task starts from
  double* params;            // (nparam) current weights
  double* grad;              // (nparam) scratch
  double* x;                 // (maxrows, nin) inputs of the batch being fitted
  double* y;                 // (maxrows) its targets
  double* mb_x;              // (maxrows, nin) one minibatch, gathered
  double* mb_y;              // (maxrows)
  int* order;                // (maxrows) shuffled row order
  double* in_mean;           // (nin) standardization of the inputs
  double* in_scale;          // (nin) 1 / std (1 for a constant column)
  double out_mean, out_std;  // of the targets
  int nin, maxrows, epochs, minibatches;
  double lr;
  uint64_t seed, iteration, task_key;  // key the shuffle streams
  int fits;                            // successful fits since the last reset
  int shared;                          // rl.vf_shared
  int have_shared_stats;               // shared: the trainer's standardization is set
  double* batch_stats;                 // (MRL_VALUE_STATS_LEN) of the first batch since reset
};

// Standardization as one vector: input means (nin), input 1/std (nin),
// target mean, target std (0: not set yet).
#define MRL_VALUE_STATS_LEN(nin) (2 * (nin) + 2)
// The shared state of rl.vf_shared: the weights, then the standardization.
#define MRL_VALUE_STATE_LEN(vf) ((vf)->net.nparam + MRL_VALUE_STATS_LEN((vf)->nin))

// The value network of cfg for observations of nobs, fitting up to maxrows
// rows at a time (stops on out-of-memory like mrl_alloc); reset for
// (iteration 0, task 0). Release it with mrl_value_free (NULL: nothing to do).
mrlValueNet* mrl_value_make(const mrlConfig* cfg, int nobs, int maxrows);
void mrl_value_free(mrlValueNet* vf);

// MRL_VALUE_STATE_LEN of the value network cfg makes for observations of nobs.
int mrl_value_state_len(const mrlConfig* cfg, int nobs);

// Back to the seeded initialization with zeroed Adam moments, for the task
// (iteration, task_key) that keys the next fits' shuffles.
void mrl_value_reset(mrlValueNet* vf, uint64_t iteration, uint64_t task_key);

// Fit vf to batch->ret of the valid rows (warm-started from its current
// weights) and write its predictions to batch->baseline (0 on invalid rows):
// those of the fitted weights, or with vf->shared those of the weights before
// the fit. Returns 0, or -1 with a zero baseline if a return or observation
// is not finite (weights untouched) or the fit diverged (vf is reset).
int mrl_value_fit_predict(mrlValueNet* vf, mrlBatch* batch);

// rl.vf_shared: the initial shared state: vf's seeded weights, no
// standardization yet (state: MRL_VALUE_STATE_LEN(vf)).
void mrl_value_initial_state(const mrlValueNet* vf, double* state);

// rl.vf_shared: start every later task from state (weights and
// standardization; a state without standardization leaves each task to
// standardize by its first batch, as without rl.vf_shared).
void mrl_value_load_state(mrlValueNet* vf, const double* state);

// rl.vf_shared: the task just adapted, for mrl_value_merge: its weights and
// the standardization of its first batch (zeroed if no fit succeeded).
void mrl_value_task_slot(const mrlValueNet* vf, double* slot);

// rl.vf_shared: the next shared state from the m task slots (those with ok[j]
// and a successful fit, in task order): the mean of their weights, and
// standardization moved a tenth of the way toward the mean of their first
// batches' (the first merge takes that mean whole). The weights are rescaled so that
// the network predicts the same values under the new standardization. No
// usable slot: state is unchanged. vf gives the layout only.
void mrl_value_merge(const mrlValueNet* vf, double* state, const double* slots, const int* ok,
                     int m);

// 0.5 mean squared error of vf's predictions on m standardized rows x (m,
// nin) against y (m), and its gradient into grad (nparam, overwritten).
double mrl_value_loss_grad(mrlValueNet* vf, const double* x, const double* y, int m, double* grad);

//-------------------------------- inner loop --------------------------------

// Phases of a meta-iteration, for the time breakdown of `metarl bench`.
typedef enum {
  MRL_PHASE_SAMPLE = 0,  // env steps and policy forward (mrl_sample)
  MRL_PHASE_ADVANTAGE,   // returns, baseline fit, GAE
  MRL_PHASE_INNER,       // inner gradients and steps
  MRL_PHASE_OUTER,       // outer gradients, reduction, update
  MRL_PHASE_LOG,         // progress rows and checkpoints
  MRL_NPHASE
} mrlPhase;
extern const char* const mrl_phase_names[MRL_NPHASE];

// Monotonic wall-clock seconds.
double mrl_now(void);


// Everything one worker needs to adapt a policy to one task: its own env
// instances, policy scratch, trajectory buffers, baseline and optimizer.
typedef struct {
  const mrlFamily* fam;
  const mrlPolicy* pol;
  mrlEnv* env;          // nenv episodes
  mrlPolicyWork* work;  // maxbatch = nenv * horizon
  mrlBatch* batch;      // the last sampled batch
  mrlBaseline* baseline;
  mrlOptim optim;  // inner optimizer, reset per task
  double* theta;   // (nparam) adapted parameters
  double* grad;    // (nparam) scratch gradient
  // Kept for second-order MAML and combo: batch s and theta_s of every inner
  // step s = 0..nsaved-1 (the query batch is saved[k]); batch points into it.
  int nsaved;           // inner.steps + 1 when the outer loop needs them, else 0
  mrlBatch* own_batch;  // the batch used when a step has no saved slot
  mrlBatch** saved;     // (nsaved) batches
  double* thetas;       // (nsaved, nparam) parameters each batch was sampled with
  int lent;             // saved and thetas belong to the caller (mrl_learner_lend)
  double* grad_sum;     // (nparam) combo: weighted sum of the inner gradients
  // PPO scratch, over the valid rows of a batch
  double* old_logp;                  // (nenv T) log pi_old(a|s) per row
  int* rows;                         // (nenv T) valid row indices, shuffled per epoch
  double* mb_obs;                    // (nenv T, nobs) minibatch gathered
  double* mb_act;                    // (nenv T, nact)
  double* mb_aux;                    // (2, nenv T) minibatch advantages, then old log-probs
  double* scratch;                   // (3, nparam) MAML's Hessian-vector products
  double phase_seconds[MRL_NPHASE];  // wall time spent per phase, accumulated
  long baseline_failures;            // baseline fits that failed, accumulated
  // logging (set by the caller; never read by the update, so never perturbs it)
  mrlBatchStats* stats;   // (k + 1) or NULL: statistics of each sampled batch
  double* mean_length;    // (k + 1) or NULL: each sampled batch's mean episode length
  double* full_fraction;  // (k + 1) or NULL: and its full-horizon fraction (mrl_batch_lengths)
  // set by the trainer with policy.obs_norm (read by the update only through
  // mrl_obs_norm_merge, after the meta-iteration)
  double* obs_stats;  // (MRL_OBS_STATS_LEN(nobs)) or NULL: mrl_obs_stats of the first batch
} mrlLearner;

// A learner of nenv episodes per batch for fam and pol (which must outlive
// it), with cfg's inner optimizer and, for inner.step ppo, PPO scratch. Sets
// OpenBLAS to one thread, process-wide. Stops on out-of-memory like mrl_alloc.
mrlLearner* mrl_learner_make(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                             int nenv);

// Make the learner keep every batch and theta of up to nsaved - 1 inner steps
// (MAML) and, if grad_sum, the combo sum of the inner gradients. Call once
// after mrl_learner_make.
void mrl_learner_keep(mrlLearner* ln, int nsaved, int grad_sum);
// Keep the next adaptation's batches and thetas in caller-owned slots instead:
// saved (nsaved) batches made for this learner's nenv and horizon, thetas
// (nsaved, nparam); the learner never frees them. For the TRPO outer step,
// which needs every task's batches after all tasks are adapted. Call before
// each mrl_inner_adapt whose batches are to be kept; the learner must not
// have been given owned slots by mrl_learner_keep.
void mrl_learner_lend(mrlLearner* ln, int nsaved, mrlBatch** saved, double* thetas);
// Release the learner and what it owns (not lent slots); NULL: nothing to do.
void mrl_learner_free(mrlLearner* ln);

// Adapt from phi to `task` with k inner steps: each samples the learner's
// nenv episodes at the current theta and takes one step on them (vpg or ppo,
// with inner.optim). Then samples one more batch at the adapted theta (the
// query batch), with advantages when query_advantages or ln->stats (which
// then gets each batch's statistics). returns (k + 1) gets each batch's mean
// return; ln->mean_length and ln->full_fraction, when set, each batch's
// mrl_batch_lengths. Streams are keyed by (seed, iteration, task_key * 4096 +
// step); with inner.resample false, steps 1..k-1 reuse step 0's key (a
// supervised family then sees the same points: a fixed support set). When
// ln->nsaved > k, every batch and theta_s stays in ln->saved and ln->thetas,
// and ln->grad_sum gets sum_s w_s g_s for outer.combo (the query gradient
// included). Returns env steps taken.
long mrl_inner_adapt(const mrlConfig* cfg, mrlLearner* ln, const double* task, const double* phi,
                     int k, uint64_t seed, uint64_t iteration, uint64_t task_key,
                     int query_advantages, double* returns);

// Step size of inner step s (0-based): inner.lr for the first,
// inner.later_lr (when > 0) for the others.
double mrl_inner_lr(const mrlConfig* cfg, int s);

// One PPO inner step on ln->batch (advantages computed): inner.ppo_epochs
// passes over the valid rows in inner.ppo_minibatches shuffled minibatches
// (shuffles keyed by (seed, MINIBATCH, iteration, key, epoch)), each an
// inner.optim step of size lr on the clipped surrogate
// -(1/M) sum min(r A, clip(r, 1 - c, 1 + c) A) - entropy bonus,
// r = pi_theta / pi_old.
// Updates ln->theta.
void mrl_ppo_step(const mrlConfig* cfg, mrlLearner* ln, double lr, uint64_t seed,
                  uint64_t iteration, uint64_t key);

// Scratch of the pooled PPO step for up to nbatch batches of rows rows each.
typedef struct {
  mrlBatch** batches;  // (nbatch) the caller's list of the step's batches
  double* old_logp;    // (nbatch * rows)
  int* list;           // (nbatch * rows) shuffled valid rows
  double* mb_obs;      // (nbatch * rows, nobs)
  double* mb_act;      // (nbatch * rows, nact)
  double* mb_aux;      // (2 nbatch * rows) advantages and old log-probabilities
  double* grad;        // (nparam)
  mrlPolicyWork* work;
} mrlPpoPool;
mrlPpoPool* mrl_ppo_pool_make(const mrlPolicy* pol, int nbatch, int rows);
void mrl_ppo_pool_free(mrlPpoPool* pp);

// Joint training's PPO update (outer.algo=joint, inner.step=ppo): the epochs
// and minibatches of mrl_ppo_step over the valid rows of all nbatch batches
// at once (each batch's advantages computed, and normalized, by its own
// task), every minibatch an opt step of size lr on theta. Shuffles are keyed
// by (seed, MINIBATCH, iteration, 2^62, epoch): the same bits for any thread
// count. nbatch 0: nothing to do.
void mrl_ppo_pooled_step(const mrlConfig* cfg, const mrlPolicy* pol, mrlPpoPool* pp,
                         mrlBatch* const* batches, int nbatch, double* theta, mrlOptim* opt,
                         double lr, uint64_t seed, uint64_t iteration);

// Weight of inner gradient s (0..k) in outer.combo's sum (k + 1 gradients).
double mrl_combo_weight(mrlComboMode mode, int s, int k);

// Second-order MAML meta-gradient of one task, after mrl_inner_adapt with
// k SGD VPG (or supervised) steps and ln->nsaved > k (asserted): the gradient
// of the query loss L_q(theta_k(phi)) with
// theta_{s+1} = theta_s - lr_s grad L_s(theta_s), lr_s = mrl_inner_lr(cfg, s),
// and every batch held fixed (the sampling-distribution term of the
// policy-gradient Hessian is dropped, as in the original MAML code, unless
// outer.hvp_lvc keeps it in ProMP's form, see mrl_inner_step_jacobian):
//   g = (I - lr_0 H_0)(I - lr_1 H_1) ... (I - lr_{k-1} H_{k-1}) grad L_q(theta_k),
// each H_s v by mrl_inner_step_jacobian (central differences of gradients of
// L_s at theta_s +- h v/|v|, h = outer.hvp_step; with outer.hvp_freeze_relu
// both gradients use the ReLU pattern of the first, so H_s is the Hessian
// automatic differentiation gives, ReLU'' = 0). With inner.learn_lr, lr_s is
// per tensor (times its multiplier) and g's multiplier entries get the exact
// dL_q/d(log-multiplier j) = sum_s (grad of L_q at theta_{s+1}) . (theta_{s+1}
// - theta_s) over tensor j. Writes g (nparam); uses ln->work and ln->scratch.
// Memory O(nparam); cost 2k + 1 gradients (3k + 1 with outer.hvp_lvc).
void mrl_maml_meta_grad(const mrlConfig* cfg, mrlLearner* ln, int k, double* g);

// v <- J v (transpose 0) or J^T v (1), J = I - lr M H the Jacobian of one
// inner SGD step theta - lr M grad L(theta): H the Hessian of the loss of
// batch b at theta, M = I, or with inner.learn_lr the diagonal of the
// multipliers read from theta, or with inner.adapt context 1 on the context c
// and 0 elsewhere (then J^T v = v - lr H M v: reverse mode must ask for the
// transpose). H u is a central difference of two gradients at
// theta +- h u/|u| (h = outer.hvp_step). With
// outer.hvp_freeze_relu the second gradient reuses the first one's ReLU
// pattern (work->freeze_pattern is set for it and cleared after). With
// outer.hvp_lvc (policy-gradient batches) H also has ProMP's low-variance
// score-function term, -(1/M) sum_r A_r grad log pi_r grad log pi_r^T over
// the batch's M valid rows, the Hessian of -(1/M) sum A pi/pi_old at theta;
// its product costs one more gradient. v = 0 is left as it is. scratch:
// (3, nparam); work's last forward is overwritten.
void mrl_inner_step_jacobian(const mrlConfig* cfg, const mrlPolicy* pol, mrlPolicyWork* work,
                             double lr, const double* theta, const mrlBatch* b, int transpose,
                             double* v, double* scratch);

//----------------------------------- threads --------------------------------

typedef struct mrlPool_ mrlPool;
typedef void (*mrlPoolFn)(void* ctx, int worker, int job);

int mrl_pool_default_threads(void);  // online cores (1 if unknown)
// A pool of nthreads workers (<= 0: one per core); 1 runs jobs in the caller.
// Stops the process (mrl_fatal) if a thread cannot be started.
mrlPool* mrl_pool_make(int nthreads);
int mrl_pool_size(const mrlPool* pool);  // its workers (>= 1)
// Run fn(ctx, worker, job) for job = 0..njobs-1 and wait for all; worker is
// in [0, size) and no two concurrent calls share it.
void mrl_pool_run(mrlPool* pool, int njobs, mrlPoolFn fn, void* ctx);
// Stop and join the workers (no run may be in progress); NULL: nothing to do.
void mrl_pool_free(mrlPool* pool);

//-------------------------------- distributed -------------------------------

// A job of R MPI ranks (dist.c): the tasks of every batch are split into
// contiguous blocks by task index, each rank fills the slots of its block,
// every slot is gathered to every rank in task order and every rank reduces
// them identically, so the parameters are the same bits for any rank count.
// Built without MPI, or started without a launcher, the process is rank 0 of
// 1 and every function below does the single-process thing.

// Start MPI if metarl was built with it and the process was started by an MPI
// launcher (mpirun, mpiexec, srun: detected from the variables they set;
// METARL_MPI=1 forces MPI_Init, METARL_MPI=0 prevents it); otherwise the
// process is rank 0 of 1. Also reads the test-only METARL_FAULT_INJECT. Call
// once from the main thread before any other mrl_dist_ function. Returns 0,
// or -1 with err.
int mrl_dist_init(int* argc, char*** argv, char* err, size_t errlen);
// Finish MPI if mrl_dist_init started it; afterwards the process is 1 rank.
void mrl_dist_finalize(void);
int mrl_dist_rank(void);     // this process's rank, 0..size-1
int mrl_dist_size(void);     // ranks in the job (1 without MPI)
int mrl_dist_has_mpi(void);  // 1 if built with MPI

// Worker threads of a pool: requested if > 0, else the online cores divided
// by the ranks running on this node (at least 1), so that `threads: 0` fills
// a node once whatever the number of ranks placed on it.
int mrl_dist_threads(int requested);

// Tasks [*begin, *end) of `rank` among `size` ranks for ntask tasks:
// contiguous blocks in task order whose sizes differ by at most one (a rank
// may get none when ntask < size).
void mrl_dist_range(int ntask, int rank, int size, int* begin, int* end);

// Collective. base holds ntask slots of `bytes` bytes each, task j at
// base + j * bytes; this rank has filled the slots of its range
// (mrl_dist_range with this rank and size). On return every rank holds every
// slot, byte for byte as its owner wrote it.
void mrl_dist_gather_tasks(void* base, size_t bytes, int ntask);

// Collective: root's nbytes at buf, copied to buf on every rank.
void mrl_dist_bcast(void* buf, size_t nbytes, int root);

// Collective: the largest v over the ranks.
int mrl_dist_max(int v);

// Collective agreement on an outcome: each rank passes its code (0: success)
// and its message in err. Returns, on every rank, the code of the lowest
// failing rank (0 if none) and puts its message in err, prefixed with
// "rank r of R: " when r > 0. Ranks that fail alone call this before leaving,
// so that no other rank waits for them in a later collective.
int mrl_dist_agree(int code, char* err, size_t errlen);

// 64-bit FNV-1a hash of n bytes.
uint64_t mrl_fnv1a(const void* data, size_t n);

// Collective: compare the FNV-1a hash of params (n) across ranks. Returns 0
// if every rank holds the same bytes, else -1 on every rank with err naming
// the ranks that differ from rank 0 and both checksums.
int mrl_dist_check_same(const double* params, int n, int iteration, char* err, size_t errlen);

// Print "metarl: rank r of R: <message>" on stderr and end the whole job with
// exit code `code` (MPI_Abort); with one process, print and exit(code). For a
// failure on one rank where the others cannot be told in a collective.
void mrl_dist_abort(int code, const char* fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

// Fault injection, for the tests of failure handling only. With
// METARL_FAULT_INJECT=RANK:ITERATION:KIND set, rank RANK at meta-iteration
// ITERATION (after computing its tasks, before the gather) does KIND:
//   error:   raises an error (mrl_dist_abort: message, MPI_Abort);
//   kill:    dies at once (SIGKILL), like a crashed node;
//   perturb: the trainer changes the last bit of phi[0] on that rank, which
//            the parameter checksum must catch.
typedef enum { MRL_FAULT_NONE = 0, MRL_FAULT_ERROR, MRL_FAULT_KILL, MRL_FAULT_PERTURB } mrlFault;
// Called by the trainer at every iteration: acts out error and kill, returns
// the kind due now on this rank (MRL_FAULT_NONE almost always).
mrlFault mrl_dist_fault(int iteration);

// Meta-iterations between parameter checksums across ranks (also checked
// before every checkpoint and at the end of training).
#define MRL_DIST_CHECK_EVERY 10

//------------------------------------ trpo ----------------------------------

// One task's part of the TRPO outer step (trpo.c): the policy whose change is
// bounded is theta_k(phi'), reached from a candidate phi' by k inner SGD steps
// on the task's stored batches (k = 0: phi' itself), judged on the valid rows
// of the query batch batches[k] by importance weights against theta_k(phi).
typedef struct {
  const mrlPolicy* pol;
  int k;                     // inner steps between phi' and the bounded policy
  const mrlConfig* cfg;      // borrowed: their step sizes (mrl_inner_lr)
  mrlBatch* const* batches;  // (k + 1) borrowed: batch s sampled by theta_s
  const double* thetas;      // (k + 1, nparam) borrowed: theta_s at phi
  int supervised;            // the query batch holds labels: the surrogate is the MSE
  // the conjugate-gradient products see every cg_subsample-th valid row only
  // (the curvature estimate; the line search uses every row)
  int k_max;                    // inner steps at most (cg_batches made)
  int cg_rows;                  // rows of cg_obs_used
  const double* cg_obs_used;    // obs or cg_obs
  mrlBatch* const* cg_support;  // batches or cg_batches
  mrlBatch** cg_batches;        // (k_max) owned: thinned copies of the support batches
  double* cg_obs;               // (maxrows, nobs) owned: every q-th row of obs
  int maxrows, rows;            // capacity, valid rows of the query batch stored
  double* obs;                  // (maxrows, nobs) their observations
  double* act;                  // (maxrows, nact) actions (labels when supervised)
  double* adv;                  // (maxrows) advantages
  double* mean_old;             // (maxrows, nact) policy mean at theta_k
  double* logp_old;             // (maxrows) log pi_theta_k(a|s)
  double* scratch;              // (maxrows, nact)
  double* vecs;                 // (6, nparam) scratch
} mrlTrustSet;

// A trust set for pol (borrowed, must outlive it). maxrows: rows of one batch
// (episodes x horizon); k_max: inner steps at most. Stops on out-of-memory.
mrlTrustSet* mrl_trust_make(const mrlPolicy* pol, int maxrows, int k_max);
// Release ts and what it owns (not the borrowed batches); NULL: nothing to do.
void mrl_trust_free(mrlTrustSet* ts);
// Set ts up for one task after its adaptation: k inner steps, batches and
// thetas as the learner kept them (both must stay untouched until the outer
// step is done); copies the query batch's valid rows (at most maxrows) and
// computes their means and log-probabilities at theta_k. work is scratch.
void mrl_trust_load(mrlTrustSet* ts, const mrlConfig* cfg, int k, mrlBatch* const* batches,
                    const double* thetas, mrlPolicyWork* work);
// out = J^T F J v: the Hessian at phi of the task's mean KL in the direction v
// (F the Fisher matrix of theta_k on the stored rows, their mean; J the
// Jacobian of the k inner steps, by maml.c's Hessian-vector products).
void mrl_trust_product(mrlTrustSet* ts, const mrlConfig* cfg, mrlPolicyWork* work, const double* v,
                       double* out);
// The task's importance-weighted surrogate -(1/M) sum ratio A minus the
// entropy bonus (the MSE when supervised) and mean KL(pi_old || pi_new) of theta_k(p), exact.
void mrl_trust_eval(mrlTrustSet* ts, mrlPolicyWork* work, const double* p, double* surrogate,
                    double* kl);

// What a TRPO step did: kl, the mean KL of the step taken (0 when rejected);
// the mean surrogate at phi and at the new phi (after = before when rejected);
// backtracks, the index of the last candidate tried (0: the full step; 15
// when every candidate was rejected). The three doubles are NaN and backtracks
// -1 when no candidate was tried (no task with ok, or x^T A x of mrl_trpo_step
// not positive and finite: a zero gradient, say); progress.csv leaves them empty.
typedef struct {
  double kl, surrogate_before, surrogate_after;
  int backtracks;
} mrlTrpoStats;

// The direction a float32 central difference at phi +- eps v sees, eps =
// fl(1e-8 / |phi|) as the MAML code's Fisher products take it: seen[i] =
// (fl(phi_i + eps v_i) - fl(phi_i - eps v_i)) / 2 eps, every operand rounded to
// float. About v_i where phi_i is 0; exactly 0 where the rounding swallows
// eps v_i (|phi_i| large against it). outer.fisher_float32 makes TRPO's products
// those of seen (the damping term keeps v).
void mrl_trpo_float32_probe(const double* phi, const double* v, int n, double* seen);

// The TRPO step on phi along g, the mean loss gradient of the tasks with
// ok[j] and chosen[j] (chosen NULL: every task with ok[j]; ntask in all; this
// rank holds sets[begin..end-1], the others come by MPI gathers in task
// order): x = CG(A, g) with A = mean J^T F J + damping I over the ok tasks and
// cg_iters iterations (0: x = g), full step -sqrt(2 max_kl / x^T A x) x,
// shrunk by 0.8 up to 15 times until the mean KL of the ok tasks is <= max_kl
// and, if check_surrogate, the mean surrogate of the chosen ones is below its
// value at phi (stats report that surrogate). Rejected (phi unchanged,
// returns 0) if none fits, or if x^T A x is not positive and finite;
// else updates phi and returns the multiple of x taken. stats gets what the
// step did (mrlTrpoStats). Collective under MPI: every rank calls it, with or
// without tasks. work (one per pool worker) is scratch. The same bits for any
// threads/ranks.
double mrl_trpo_step(const mrlConfig* cfg, const mrlPolicy* pol, mrlTrustSet** sets, const int* ok,
                     const int* chosen, int ntask, int begin, int end, int check_surrogate,
                     mrlPolicyWork** work, mrlPool* pool, double* phi, const double* g,
                     mrlTrpoStats* stats);

//--------------------------------- training ---------------------------------

// Returns of a set of episodes, under garage's column names.
typedef struct {
  double average;             // AverageReturn
  double std;                 // StdReturn (population, over episodes)
  double max, min;            // MaxReturn, MinReturn
  double average_discounted;  // AverageDiscountedReturn (from t = 0, rl.gamma)
  double ntraj;               // NumTrajs
  double entropy;             // Entropy: mean over tasks of the policy entropy
  double explained_variance;  // ExplainedVariance: mean over tasks of the baseline's
} mrlReturnStats;

// Pool per-task batch statistics s (n, stride apart) in task order.
void mrl_return_stats_pool(const mrlBatchStats* s, int n, int stride, mrlReturnStats* out);

// One row of progress.csv.
typedef struct {
  int iteration;
  long total_env_steps;
  double return_pre;         // mean return before adaptation (at phi)
  double return_post;        // mean return after k inner steps
  double std_pre, std_post;  // across tasks
  double step_size;          // outer step size used
  // outer.optim trpo, progress.csv's Outer/MeanKL, Outer/LossBefore,
  // Outer/LossAfter, Outer/Backtracks: mrlTrpoStats of the step (the means over
  // tasks of the KL and surrogate of the bounded policies: theta_k(phi') for
  // maml, phi' on the first batch otherwise). NaN (empty cells) with another
  // optimizer or when no step was attempted (no finite task or mean direction)
  double trpo_kl, trpo_loss_before, trpo_loss_after, trpo_backtracks;
  double seconds;  // wall-clock since start
  // seconds per phase of this iteration: sampling, advantage and inner update
  // summed over workers; outer update adds the main thread's reduction and
  // step; logging is the writing of the previous row and its checkpoint
  double phase_seconds[MRL_NPHASE];
  // rllab/garage-style statistics pooled over every episode of the meta-batch
  mrlReturnStats pre;   // batches at phi
  mrlReturnStats post;  // query batches at the adapted parameters
  // held-out meta-test (eval.every): valid only on rows where it ran
  int metatest;              // 1 if the meta-test ran after this iteration
  double metatest_pre;       // mean return over eval.train_tasks before adaptation
  double metatest_post;      // after eval.steps adaptation steps
  double metatest_post_sem;  // standard error of metatest_post over tasks
  double time_metatest;      // seconds
  int ranks;                 // MPI ranks of the job (1 without MPI)
  // numerical events: no NaN or Inf ever reaches phi
  int skipped_tasks;      // Numerics/SkippedTasks: tasks left out (non-finite result or return)
  int baseline_failures;  // Numerics/BaselineFailures: failed fits (zero baseline used instead)
  int skipped_update;     // Numerics/SkippedUpdate: 1 if phi was left as it was
} mrlProgress;

typedef struct mrlTrainer_ mrlTrainer;

// Whether cfg can train on nrank MPI ranks: joint training with pooled PPO
// epochs runs in one process. Returns 0, or -1 with the reason in err.
int mrl_train_check_ranks(const mrlConfig* cfg, const mrlFamily* fam, int nrank, char* err,
                          size_t errlen);

// Set up training from a checked config (copied): family, policy, phi
// initialized from the seed, worker threads, this rank's block of tasks.
// NULL with a message in err if the family cannot be made.
mrlTrainer* mrl_trainer_make(const mrlConfig* cfg, char* err, size_t errlen);
// Stop the workers and release everything; NULL: nothing to do.
void mrl_trainer_free(mrlTrainer* tr);

// Run one meta-iteration; fills row. Deterministic in (seed, iteration)
// whatever the thread count. A task whose update direction or returns are not
// finite is left out of the mean (row->skipped_tasks); if no task is left, or
// the outer step would make phi non-finite, phi and the outer optimizer stay
// as they were (row->skipped_update). Fails after MRL_MAX_SKIPPED_UPDATES
// skipped updates in a row: the run has diverged.
int mrl_trainer_iterate(mrlTrainer* tr, mrlProgress* row, char* err, size_t errlen);
#define MRL_MAX_SKIPPED_UPDATES 10

// The meta-parameters phi (nparam) and the policy description.
double* mrl_trainer_params(mrlTrainer* tr);
const mrlPolicy* mrl_trainer_policy(const mrlTrainer* tr);
int mrl_trainer_iteration(const mrlTrainer* tr);  // iterations done
// The task family the workers' envs come from (its functions are called
// through this table at every step).
mrlFamily* mrl_trainer_family(mrlTrainer* tr);

// The outer optimizer (sgd or adam state; trpo keeps none), the total env
// steps so far.
mrlOptim* mrl_trainer_outer_optim(mrlTrainer* tr);
long mrl_trainer_total_steps(const mrlTrainer* tr);
// rl.vf_shared: the value network carried across iterations
// (MRL_VALUE_STATE_LEN doubles, mrl_trainer_value_len), else NULL and 0.
const double* mrl_trainer_value_state(const mrlTrainer* tr);
int mrl_trainer_value_len(const mrlTrainer* tr);
// Save the trainer's state to path (mrl_checkpoint_save_state: phi, outer
// optimizer, iteration, env steps, rl.vf_shared's value network). Returns 0,
// or -1 with err (a previous file at path is then left whole).
int mrl_trainer_save(const mrlTrainer* tr, const char* path, char* err, size_t errlen);
// Restore a checkpoint's state (mrl_checkpoint_load_state: phi, outer
// optimizer, iteration, env steps, value network) into a fresh trainer. Returns 0, or -1
// with err if the file cannot be read, does not fit the policy or the outer
// optimizer, or its iteration is outside 0..outer.iterations; phi may then
// be overwritten already.
int mrl_trainer_restore(mrlTrainer* tr, const char* path, char* err, size_t errlen);

// Train cfg end to end into run directory rundir (progress.csv, checkpoints),
// printing a line per iteration to out (may be NULL). If rundir already holds
// checkpoints/latest.ckpt (a run interrupted earlier, `metarl train --resume`),
// continues from it: phi, the outer optimizer, the iteration and the env-step
// count are restored, progress.csv rows from that iteration on are dropped and
// new rows appended, so the result is bit-identical to an uninterrupted run.
// A progress.csv begun by an older metarl (other columns) is rewritten under
// today's header, each kept row moved by column name (cells it lacks empty).
// Checkpoints every log.checkpoint_every iterations, at the end and on
// SIGINT, SIGTERM or SIGUSR1 (then exit MRL_EXIT_INTERRUPTED). Returns an
// exit code (2: the trainer, checkpoint or policy.init_from is unusable;
// 1: a runtime failure), the same on every rank, with its message in err.
int mrl_train_run(const mrlConfig* cfg, const char* rundir, FILE* out, char* err, size_t errlen);

//--------------------------------- evaluation -------------------------------

// Adaptation of one initialization on the held-out split: per task j and
// step k (k = 0..K inner steps taken), the mean return of the batch sampled
// after k steps and, when asked for, its episode lengths.
typedef struct {
  int ntask, nstep;  // tasks, K + 1
  double* returns;   // (ntask, nstep) per-task mean return
  // added after 0.1.0; NULL: not recorded
  double* mean_length;    // (ntask, nstep) or NULL: mean episode length (env steps)
  double* full_fraction;  // (ntask, nstep) or NULL: fraction of episodes with len == horizon
} mrlAdaptCurve;

// Adapt params on ntask test tasks for nstep-1 inner steps of neps episodes
// each, using cfg->threads workers; curve->returns must be sized (ntask,
// nstep), and so must curve->mean_length and curve->full_fraction unless NULL
// (then they are left alone). Task j's values come from its own streams and
// land in row j: the same bits for any thread or rank count.
void mrl_eval_adapt(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                    const double* params, int ntask, int nstep, int neps, uint64_t seed,
                    mrlAdaptCurve* curve);

// mrl_eval_adapt with rl.vf_shared's value network: every task's starts from
// value_state (MRL_VALUE_STATE_LEN; NULL, or a config without rl.vf_shared:
// the seeded network, as mrl_eval_adapt).
void mrl_eval_adapt_from(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                         const double* params, const double* value_state, int ntask, int nstep,
                         int neps, uint64_t seed, mrlAdaptCurve* curve);

// Mean over tasks of the return after `step` steps, and the half-width of its
// normal 95% confidence interval (1.96 standard errors).
void mrl_curve_stats(const mrlAdaptCurve* curve, int step, double* mean, double* ci95);

// Options of `metarl eval`; a negative or zero field means "the run's config".
typedef struct {
  int tasks;      // held-out tasks (<= 0: eval.tasks)
  int steps;      // adaptation steps K (< 0: eval.steps)
  int episodes;   // episodes per step (<= 0: eval.episodes)
  double lr;      // meta-test inner step size (<= 0: inner.lr)
  int threads;    // worker threads (< 0: the run's threads)
  uint64_t seed;  // seed of the evaluation's sampling streams
  // added after 0.1.0
  int ncompare;                // other runs whose latest checkpoints are compared
  const char* const* compare;  // (ncompare) their run directories
  double later_lr;             // step size of steps 2, 3, ... (<= 0: the run's inner.later_lr)
  int repeats;  // adaptations per task, with eval seeds seed, seed + 1, ... (<= 0: 1)
  // 1: adapt on the run's own training tasks in place of the held-out split, to
  // choose meta-test settings (a step size, say) without looking at the test tasks
  int train_split;
} mrlEvalOptions;

// Evaluate the run in rundir: its latest checkpoint, each compare run's latest
// checkpoint (same env family and policy shape, else exit 2) and a random
// initialization, all adapted with rundir's inner-loop settings on the same
// held-out tasks and noise streams (with opt->train_split, on rundir's
// training tasks instead: task j is slot j % outer.meta_batch of meta-iteration
// j / outer.meta_batch, and the files are adaptation_train.csv and
// summary_train.json, so a held-out evaluation is never overwritten); each
// compared run observes what it was trained on (env.obs_task, env.obs_com,
// policy.obs_norm of its own config). Writes
// rundir/eval/adaptation.csv (per init, task and step: return, episodes, mean_length,
// full_fraction) and rundir/eval/summary.json (per init and step: the statistics of the returns
// over tasks and the mean over tasks of mean_length and full_fraction)
// atomically (both or neither) and prints to out the table of returns and,
// unless the family is supervised, a table of episode lengths. With repeats
// R > 1 every init adapts R times on each task, with eval seeds seed .. seed +
// R - 1 (the same streams as R separate evaluations), and each per-task number
// is the mean of the R adaptations; the files then also hold each eval seed's
// mean over tasks, and a table of their spread is printed. Returns an exit
// code; on exit 2 nothing is written.
int mrl_eval_run(const char* rundir, const mrlEvalOptions* opt, FILE* out, char* err,
                 size_t errlen);

//----------------------------------- bench ----------------------------------

typedef struct {
  double seconds;    // per measurement
  int threads;       // the N of "1 and N threads" (0: one per core)
  const char* json;  // also write the figures here (NULL: no)
} mrlBenchOptions;

// Measure physics against sampler throughput at 1 and N threads, the phases
// of meta-iterations and peak memory for cfg's family; print a table to out.
// Returns an exit code.
int mrl_bench_run(const mrlConfig* cfg, const mrlBenchOptions* opt, FILE* out, char* err,
                  size_t errlen);

// Meta-test during training: the mean return over the first ntask held-out
// tasks after 0 and nstep-1 inner steps of neps episodes, and the standard
// error of the latter; value_state as in mrl_eval_adapt_from. Deterministic
// in seed; touches nothing but its outputs.
void mrl_eval_meta_test(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                        const double* params, const double* value_state, int ntask, int nstep,
                        int neps, uint64_t seed, double* pre, double* post, double* post_sem);

//--------------------------------- statistics -------------------------------

// Summary of a sample, as summary.json reports it per initialization and step.
typedef struct {
  int n;           // sample size
  double mean;     // arithmetic mean
  double sem;      // standard error of the mean (sample std / sqrt(n); 0 if n < 2)
  double ci_low;   // 95% percentile-bootstrap confidence interval of the mean
  double ci_high;  //
  double iqm;      // interquartile mean (mean of the middle half, floor(n/4) cut each side)
} mrlSummary;

#define MRL_BOOTSTRAP_RESAMPLES 10000  // resamples of every bootstrap interval

double mrl_stats_mean(const double* x, int n);  // NaN if n <= 0
double mrl_stats_sem(const double* x, int n);   // as mrlSummary.sem: 0 if n < 2
// Interquartile mean: sorts a copy, drops floor(n/4) values at each end (as
// scipy.stats.trim_mean(x, 0.25), used by rliable) and averages the rest.
double mrl_stats_iqm(const double* x, int n);
// Percentile bootstrap interval of the mean at `level` (e.g. 0.95): nresample
// resamples with replacement drawn from the stream keyed by seed; quantiles
// interpolated linearly between order statistics. Deterministic in seed.
void mrl_stats_bootstrap_ci(const double* x, int n, int nresample, double level, uint64_t seed,
                            double* lo, double* hi);
// All of the above (95% interval, MRL_BOOTSTRAP_RESAMPLES resamples).
void mrl_stats_summarize(const double* x, int n, uint64_t seed, mrlSummary* s);

//---------------------------------- logging ---------------------------------

// CRC-32C (Castagnoli), as TFRecord files use it; "123456789" gives 0xE3069283.
uint32_t mrl_crc32c(const void* data, size_t n);
// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t mrl_crc32c_mask(uint32_t crc);

// A TensorBoard event file: TFRecords of Event protocol buffers.
typedef struct mrlEvents_ mrlEvents;

// Create dir/events.out.tfevents.<unix time>.<host> and write the
// file_version record "brain.Event:2". path (may be NULL) gets the file name.
// NULL with a message in err if the file cannot be created or written.
mrlEvents* mrl_events_open(const char* dir, char* path, size_t pathlen, char* err, size_t errlen);
// One Event at (wall_time, step) holding a scalar summary value per tag; NaN
// values are left out. Flushed. Returns 0, or -1 on a write error.
int mrl_events_scalars(mrlEvents* ev, double wall_time, int64_t step, const char* const* tags,
                       const double* values, int n);
// Close the file; returns 0, or -1 if a write failed.
int mrl_events_close(mrlEvents* ev);

// The training log: progress.csv, the TensorBoard event file and the lines
// (or, on a terminal, the progress bar) on out.
typedef struct mrlLog_ mrlLog;

// Column names of progress.csv, in order, and their count.
extern const char* const mrl_progress_columns[];
extern const int mrl_progress_ncolumns;

// Split a CSV line (modified in place: each comma becomes a NUL) into
// fields, pointers into line, at most max of them; returns how many (0 only if
// max <= 0; an empty line is one empty field). Past max fields the rest of the
// line is dropped, so a count of max may hide more. The line ending is not
// stripped: remove it first, or the last field keeps it. No quoting: metarl's
// CSV cells are names and numbers.
int mrl_csv_split(char* line, char** fields, int max);

// Values of row in the order of mrl_progress_columns (NaN where empty).
void mrl_progress_values(const mrlProgress* row, double* values);

// Open the log of a run of total_iterations into rundir; out may be NULL.
// append: continue progress.csv (a resumed run), which must already start
// with today's header, instead of starting it with the header; a new event
// file is created either way. NULL with a message in err if a file cannot be
// opened or written.
mrlLog* mrl_log_open(const char* rundir, int total_iterations, int append, FILE* out, char* err,
                     size_t errlen);
// Append row to progress.csv (NaN values as empty cells; flushed) and the
// event file, and show it on out. Returns 0, or -1 with err on a write error.
int mrl_log_write(mrlLog* log, const mrlProgress* row, char* err, size_t errlen);
// Finish the progress bar, close the files; returns 0 or -1 with err.
int mrl_log_close(mrlLog* log, char* err, size_t errlen);

//----------------------------------- plots ----------------------------------

#define MRL_PLOT_WIDTH 1200  // pixels of every PNG figure
#define MRL_PLOT_HEIGHT 600  //

// Plot the runs: outdir/learning.{png,svg} (returns before and after
// adaptation against env steps, one color per run), outdir/learning-time.*
// (the same against wall-clock time, when every row has its Time) and, for
// each run with eval/summary.json and eval/adaptation.csv,
// outdir/adaptation[-RUN].{png,svg} (return against adaptation step per
// initialization with 95% bands) and outdir/tasks[-RUN].{png,svg} (return
// after the last step against task parameter `param`, NULL: the only one, or
// the norm of several); -RUN, the run directory's name, only with several
// runs. A run with a pretrain stage (RUN/pretrain) is drawn from the stage's
// last env step and second on, where its training began, and says so on out.
// Creates outdir if needed. Lists the files written on out. Returns an exit
// code (2: bad or missing input; 1: outdir cannot be created).
int mrl_plot_runs(const char* const* rundirs, int nrun, const char* outdir, const char* param,
                  FILE* out, char* err, size_t errlen);

//--------------------------------- checkpoints -------------------------------

// Write params atomically (temporary file, fsync, rename) to path with a
// header (magic, format version, policy shape, iteration) and a checksum.
// Same as mrl_checkpoint_save_state with no optimizer and 0 env steps.
// Returns 0, or -1 with err (a previous file at path is then left whole),
// also for a non-finite parameter, which is never saved.
int mrl_checkpoint_save(const char* path, const mrlPolicy* pol, const double* params, int iteration,
                        char* err, size_t errlen);

// Read a checkpoint written for the same policy shape; params (nparam),
// iteration (may be NULL). The training state beyond the parameters is
// skipped. Returns 0, or -1 with err for a missing, foreign, corrupted or
// other-version file, another shape or non-finite values; params may then be
// overwritten already.
int mrl_checkpoint_load(const char* path, const mrlPolicy* pol, double* params, int* iteration,
                        char* err, size_t errlen);

// A warm start (policy.init_from, a pretrain stage's final policy): read a
// checkpoint of pol's shape, or one of the same policy without
// policy.context (mrl_policy_without_context), whose entries fill params
// around the context's block; that block keeps what params held (from
// mrl_policy_init: c = 0, so the checkpoint's policy acts unchanged, and W_c
// drawn fresh, so that the inner step's gradient reaches c). Returns 0, or
// -1 with err as mrl_checkpoint_load; params is then left as it was.
int mrl_checkpoint_load_warm(const char* path, const mrlPolicy* pol, double* params, char* err,
                             size_t errlen);

// Everything an outer loop needs to resume: params, iteration, total env
// steps, the outer optimizer (kind, step count, Adam moments; opt may be
// NULL: none) and rl.vf_shared's value network (nvalue numbers; value NULL:
// none). Random streams are keyed by iteration and need no state.
int mrl_checkpoint_save_state(const char* path, const mrlPolicy* pol, const double* params,
                              int iteration, long total_steps, const mrlOptim* opt,
                              const double* value, int nvalue, char* err, size_t errlen);

// Read what mrl_checkpoint_save_state wrote (format version 2 or 3). opt,
// when not NULL, must be initialized with the checkpoint's kind and size
// (else an error says so). value, when not NULL, must find exactly nvalue
// finite value-network numbers in the file (else an error says so); NULL
// skips them.
int mrl_checkpoint_load_state(const char* path, const mrlPolicy* pol, double* params,
                              int* iteration, long* total_steps, mrlOptim* opt, double* value,
                              int nvalue, char* err, size_t errlen);

//-------------------------------- run directories ---------------------------

// Write s to f as a JSON string literal: quotes, backslash escapes, control
// characters as \u00XX (for meta.json and eval/summary.json).
void mrl_json_string(FILE* f, const char* s);

// Create a fresh run directory: out if given (must not exist), else
// <cfg->log.dir>/<cfg->name>-<YYYYmmdd-HHMMSS>[-N]. Writes config.yaml,
// meta.json (argv is the command line) and checkpoints/. path gets the
// directory (MRL_STRLEN*2 bytes).
int mrl_rundir_create(const mrlConfig* cfg, const char* out, int argc, char** argv, char* path,
                      size_t pathlen, char* err, size_t errlen);

// Remove what mrl_rundir_create put in path (config.yaml, meta.json, an
// empty checkpoints/) and path itself if that leaves it empty; anything else
// in it stays. For a run set up in several directories of which one failed.
void mrl_rundir_discard(const char* path);

// Replace rundir's config.yaml with cfg's (a temporary file, fsynced, renamed
// over it: a crash leaves the old or the new file). Returns 0, or -1 with err
// and the old file in place.
int mrl_rundir_write_config(const char* rundir, const mrlConfig* cfg, char* err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif  // METARL_H_
