// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// main.c: the metarl command line. Parses arguments, turns every boundary
// error into one line on stderr and an exit code (0 done, 1 runtime failure,
// 2 usage or config error, 130 interrupted after saving a checkpoint).

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mujoco/mujoco.h>

#include "metarl.h"
#include "mrl_build_info.h"

typedef struct {
  const char* name;
  const char* synopsis;
  const char* help;
  int (*run)(int argc, char** argv);  // NULL: delivered in a later version
} Command;

static int cmd_train(int argc, char** argv);
static int cmd_eval(int argc, char** argv);
static int cmd_envs(int argc, char** argv);
static int cmd_bench(int argc, char** argv);
static int cmd_plot(int argc, char** argv);
static int cmd_view(int argc, char** argv);
static int cmd_record(int argc, char** argv);

static const Command commands[] = {
    {"train",
     "train CONFIG.yaml [key=value ...] [--out DIR] [--quiet] | train --resume RUN_DIR "
     "[--threads N] [--iterations N]",
     "Meta-train the initialization described by CONFIG.yaml. key=value pairs override\n"
     "config keys (same checks as the file). Writes a new run directory\n"
     "<log.dir>/<name>-<YYYYmmdd-HHMMSS>/ (or DIR, which must not exist) with config.yaml,\n"
     "meta.json, progress.csv and checkpoints/. SIGINT/SIGTERM save a checkpoint, exit 130.\n"
     "--resume RUN_DIR continues an interrupted run from its latest checkpoint with its own\n"
     "config.yaml (no other config or override), appending to its progress.csv; the result\n"
     "is bit-identical to a run never interrupted. --threads N (0: one per core) replaces\n"
     "the run's thread count, which changes the speed only. --iterations N sets the run's\n"
     "outer.iterations to N (at least the iterations done; config.yaml is rewritten), so a\n"
     "finished run trains on: bit-identical to a run started with outer.iterations=N. Refused\n"
     "where the total shapes the steps taken (reptile with outer.eps_start != eps_end).\n"
     "A config with `pretrain: STAGE.yaml` trains STAGE.yaml first into RUN_DIR/pretrain\n"
     "(with this run's seed and threads; pretrain.key=value overrides its keys), then itself\n"
     "from the stage's final policy; --resume goes on within whichever stage was stopped.\n",
     cmd_train},
    {"eval",
     "eval RUN_DIR [--compare RUN_DIR ...] [--tasks N] [--steps K] [--episodes N] [--lr X]\n"
     "                    [--later-lr X] [--seed S] [--repeats R] [--split test|train]\n"
     "                    [--threads N]",
     "Adapt the run's latest checkpoint, the latest checkpoint of each --compare run (same\n"
     "env family and policy shape) and a random initialization on N held-out tasks (the test\n"
     "split, fixed by task.test_seed) for 0..K inner steps of N episodes each, all with the\n"
     "run's inner-loop settings (--lr: the meta-test step size; --later-lr: that of steps 2, 3,\n"
     "...; the MAML paper's protocol took half the first). Prints the mean return after\n"
     "each step with a 95% bootstrap interval and, unless the family is supervised, the mean\n"
     "episode length with the fraction of episodes that ran the full horizon; writes\n"
     "RUN_DIR/eval/adaptation.csv (per task: return, mean_length, full_fraction) and\n"
     "RUN_DIR/eval/summary.json (mean, standard error, bootstrap interval, interquartile mean\n"
     "of the return, mean_length and full_fraction per initialization and step; for each\n"
     "other initialization the same of the run's return minus its own, task by task), both\n"
     "or neither; prints those paired differences too. Defaults come from the run's eval.*\n"
     "keys. After --compare, further run directories are compared too. --repeats R adapts\n"
     "every initialization R times on each task, with eval seeds S..S+R-1 (the streams of R\n"
     "separate evaluations), and reports the per-task means: one eval seed's table moves by\n"
     "the episodes drawn, and R seeds average that out (the spread of the seeds' means is\n"
     "printed and written too). --split train adapts on the run's own training tasks (the\n"
     "first N of its meta-batches, in order) in place of the held-out ones and writes\n"
     "eval/adaptation_train.csv and eval/summary_train.json: choose --lr there, then\n"
     "measure it on the test split, which the choice never saw.\n",
     cmd_eval},
    {"view",
     "view RUN_DIR [--task key=value,...] [--steps K] [--episodes N] [--checkpoint FILE]\n"
     "           [--task-index J] [--seed S] [--width W --height H]\n"
     "           [--frames N --screenshot FILE]\n"
     "           view --random CONFIG [--task key=value,...]",
     "Watch a policy adapt in a MuJoCo window: held-out task J (default 0) with the --task\n"
     "keys applied (slope, heading, velocity, direction, goal_x, goal_y, mass, inertia,\n"
     "friction, damping, gear; a multiplier key sets every multiplier of its kind), one\n"
     "episode of the initialization, K live inner steps of N episodes (default: the run's\n"
     "eval.steps and eval.episodes; the same streams as `metarl eval`), then episodes of the\n"
     "adapted policy (mean actions). --random CONFIG shows random actions on a sampled task.\n"
     "--frames N renders N frames (one env step each), writes --screenshot FILE and exits.\n"
     "Keys: Space pause, Right step, Backspace restart, = - speed, [ ] cameras, Esc free\n"
     "camera, F1 help, Ctrl+P screenshot, Ctrl+Q quit, N next task, A adapted/initial policy,\n"
     "R re-adapt; mouse: left-drag rotate, right-drag move, scroll zoom. Needs a display.\n",
     cmd_view},
    {"record",
     "record RUN_DIR --out FILE.mp4 [--task key=value,...] [--steps K] [--episodes N]\n"
     "           [--checkpoint FILE] [--task-index J] [--seed S] [--width W --height H] [--fps F]\n"
     "           [--side-by-side] [--frames DIR]",
     "Record adaptation to a task as an H.264 MP4, headless (OSMesa, ffmpeg): an episode of\n"
     "the initialization, then one of the policy adapted by K inner steps (or both side by\n"
     "side), each env.horizon + 1 frames long (an ended episode holds its last frame), at\n"
     "1 / (timestep * frame_skip) frames per second unless --fps. Task and adaptation as in\n"
     "`view`. --frames DIR also writes numbered PNG frames (needs no ffmpeg). Default size\n"
     "640x480 (even numbers).\n",
     cmd_record},
    {"plot", "plot RUN_DIR [RUN_DIR ...] [--out DIR] [--param NAME]",
     "Draw PNG and SVG figures with PLplot into DIR (default: FIRST_RUN_DIR/plots):\n"
     "learning.*: average return before and after adaptation against env steps, one color\n"
     "per run (held-out meta-test returns as points), learning-time.*: the same against\n"
     "wall-clock minutes; for each run evaluated by `metarl eval`:\n"
     "adaptation.*: return against adaptation step per initialization with 95% bands, and\n"
     "tasks.*: each held-out task's return after the last step against task parameter NAME\n"
     "or, for a stem such as mass, the geometric mean of the mass_* multipliers (default: the\n"
     "parameter that varies; the norm of goal_x, goal_y). With several runs, the eval figures\n"
     "are named adaptation-RUN.* and tasks-RUN.*. Prints the files written.\n",
     cmd_plot},
    {"bench", "bench [NAME|CONFIG.yaml] [key=value ...] [--seconds S] [--threads N] [--json FILE]",
     "Measure, for one family (default slope_walker): raw physics (mj_step with random\n"
     "controls) against the sampler (policy, observations, rewards, storage) in env steps\n"
     "per second, at 1 and N threads; the time of each phase of meta-iterations; peak\n"
     "memory. Prints a table; --json also writes the figures.\n",
     cmd_bench},
    {"envs", "envs [NAME|CONFIG.yaml ...] [--tasks N]",
     "List the env kinds and the task families (configs/*.yaml) with their observation,\n"
     "action and task sizes; with --tasks N, describe N sampled training tasks of each.\n",
     cmd_envs},
};
enum { NCOMMAND = sizeof(commands) / sizeof(commands[0]) };

static void usage(FILE* f) {
  fprintf(f,
          "metarl %s: meta-reinforcement learning on MuJoCo\n\n"
          "usage: metarl <command> [arguments]\n\ncommands:\n",
          MRL_VERSION);
  for (int i = 0; i < NCOMMAND; i++) {
    fprintf(f, "  %-8s %s%s\n", commands[i].name, commands[i].synopsis,
            commands[i].run ? "" : "   (not yet available)");
  }
  fprintf(f,
          "\n  metarl help COMMAND   details of a command\n"
          "  metarl help config    every config key with its type and default\n"
          "  metarl --version      version, git commit and MuJoCo version\n");
}

// Under MPI every rank parses the same arguments: rank 0 alone reports.
static int usage_error(const char* fmt, const char* arg) {
  if (mrl_dist_rank() != 0) return MRL_EXIT_USAGE;
  fprintf(stderr, "metarl: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n");
  usage(stderr);
  return MRL_EXIT_USAGE;
}

static const Command* find_command(const char* name) {
  for (int i = 0; i < NCOMMAND; i++) {
    if (!strcmp(commands[i].name, name)) return &commands[i];
  }
  return NULL;
}

// Strict integer of a flag value: the whole string, within [lo, hi].
static int parse_long(const char* flag, const char* s, long lo, long hi, long* out) {
  char* end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || errno || v < lo || v > hi) {
    if (mrl_dist_rank() == 0)
      fprintf(stderr, "metarl: %s needs an integer in [%ld, %ld]%s%s%s\n", flag, lo, hi,
              s ? ", got '" : " after it", s ? s : "", s ? "'" : "");
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_double(const char* flag, const char* s, double* out) {
  char* end;
  double v = s ? strtod(s, &end) : 0;
  if (!s || !*s || *end || !(v > 0) || v > 1e6) {
    if (mrl_dist_rank() == 0)
      fprintf(stderr, "metarl: %s needs a positive number%s%s%s\n", flag,
              s ? ", got '" : " after it", s ? s : "", s ? "'" : "");
    return -1;
  }
  *out = v;
  return 0;
}

// Whether the checkpoint at path fits cfg's policy (read into a throwaway copy):
// with iteration (which gets its iteration) as a run's own checkpoint, of its
// shape; with iteration NULL as a warm start (policy.init_from), which may also
// be the same policy without policy.context (mrl_checkpoint_load_warm).
// Returns 0, or -1 with why.
static int checkpoint_fits(const mrlConfig* cfg, const mrlFamily* fam, const char* path,
                           int* iteration, char* why, size_t whylen) {
  mrlPolicy pol;
  mrl_policy_setup(&pol, cfg, fam->nobs, fam->nact);
  double* params = mrl_alloc(sizeof(double) * pol.nparam);
  int bad = iteration ? mrl_checkpoint_load(path, &pol, params, iteration, why, whylen)
                      : mrl_checkpoint_load_warm(path, &pol, params, why, whylen);
  free(params);
  return bad;
}

// Whether the pretrain stage in stagedir is over: the run in rundir has a
// checkpoint of its own, or the stage's latest holds all of its iterations.
// Run by rank 0 alone.
static int stage_done(const mrlConfig* stage, const char* stagedir, const char* rundir) {
  char path[4096 + 64], why[MRL_ERRLEN];
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
  if (access(path, F_OK) == 0) return 1;
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", stagedir);
  if (access(path, F_OK)) return 0;
  mrlFamily* fam = mrl_family_make(stage, why, sizeof(why));
  if (!fam) return 0;  // training the stage reports it
  int iteration = 0;
  int bad = checkpoint_fits(stage, fam, path, &iteration, why, sizeof(why));
  mrl_family_free(fam);
  return !bad && iteration >= stage->outer.iterations;
}

// Train cfg end to end into rundir and report the outcome; returns the exit
// code. A config with a pretrain stage trains the stage (its config in stage)
// into rundir/pretrain first, unless that is over, then cfg from the stage's
// final policy. Under MPI every rank trains; errors are the same on every rank
// by then (see mrl_dist_agree) and rank 0 reports them, and only rank 0
// prints progress.
static int run_training(const mrlConfig* cfg, const mrlConfig* stage, const char* rundir,
                        int quiet) {
  char err[MRL_ERRLEN], stagedir[4096 + 16];
  int root = mrl_dist_rank() == 0, code = MRL_EXIT_OK;
  quiet |= !root;
  FILE* out = quiet ? NULL : stdout;
  static mrlConfig job;
  memcpy(&job, cfg, sizeof(job));
  if (cfg->pretrain[0]) {
    snprintf(stagedir, sizeof(stagedir), "%s/pretrain", rundir);
    int done = root ? stage_done(stage, stagedir, rundir) : 0;
    mrl_dist_bcast(&done, sizeof(done), 0);
    if (!done) code = mrl_train_run(stage, stagedir, out, err, sizeof(err));
    // the stage's final policy starts this run (a resumed run goes on from its own)
    memset(job.pretrain, 0, sizeof(job.pretrain));
    memset(job.policy.init_from, 0, sizeof(job.policy.init_from));
    if (code == MRL_EXIT_OK &&
        snprintf(job.policy.init_from, sizeof(job.policy.init_from), "%s/checkpoints/latest.ckpt",
                 stagedir) >= (int)sizeof(job.policy.init_from)) {
      mrl_error(err, sizeof(err), "run directory '%s': path too long for its pretrain stage",
                rundir);
      code = MRL_EXIT_USAGE;
    }
  }
  if (code == MRL_EXIT_OK) code = mrl_train_run(&job, rundir, out, err, sizeof(err));
  if (code != MRL_EXIT_OK) {
    if (root) fprintf(stderr, "metarl: %s\n", err);
  } else if (!quiet && cfg->pretrain[0] && cfg->inner.adapt != stage->inner.adapt) {
    // eval --compare adapts every run with one step size: not a context and every parameter
    printf(
        "done: %s (evaluate with: metarl eval %s; its pretrain stage adapts other parameters: "
        "metarl eval %s)\n",
        rundir, rundir, stagedir);
  } else if (!quiet && cfg->pretrain[0]) {
    printf("done: %s (evaluate against its pretrain stage with: metarl eval %s --compare %s)\n",
           rundir, rundir, stagedir);
  } else if (!quiet) {
    printf("done: %s (evaluate with: metarl eval %s)\n", rundir, rundir);
  }
  return code;
}

// train --resume RUN_DIR: the run's own config, its latest checkpoint, and
// for a run with a pretrain stage the stage's config (RUN_DIR/pretrain) into
// stage; such a run stopped within its stage has no checkpoint of its own
// yet. Fills cfg; iterations > 0 (--iterations) becomes the run's
// outer.iterations, in config.yaml too, once the checkpoint shows no more
// done. Returns -1 to go on training, else an exit code.
static int resume_setup(const char* rundir, long iterations, mrlConfig* cfg, mrlConfig* stage) {
  char err[MRL_ERRLEN], path[4096 + 32], ckpt[4096 + 32];
  snprintf(ckpt, sizeof(ckpt), "%s/checkpoints/latest.ckpt", rundir);
  snprintf(path, sizeof(path), "%s/config.yaml", rundir);
  mrl_config_default(cfg);
  int loaded = mrl_config_load(cfg, path, err, sizeof(err)) == 0;
  int own = access(ckpt, F_OK) == 0;
  if (!own) {
    char staged[4096 + 64];
    snprintf(staged, sizeof(staged), "%s/pretrain/checkpoints/latest.ckpt", rundir);
    if (!loaded || !cfg->pretrain[0] || access(staged, F_OK)) {
      fprintf(stderr, "metarl: train --resume: no checkpoint to resume in '%s' (%s missing)\n",
              rundir, ckpt);
      return MRL_EXIT_USAGE;
    }
  }
  if (!loaded || mrl_config_check(cfg, err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  if (cfg->pretrain[0]) {
    snprintf(path, sizeof(path), "%s/pretrain/config.yaml", rundir);
    mrl_config_default(stage);
    if (mrl_config_load(stage, path, err, sizeof(err)) ||
        mrl_config_check(stage, err, sizeof(err))) {
      fprintf(stderr, "metarl: pretrain stage: %s\n", err);
      return MRL_EXIT_USAGE;
    }
  }
  if (iterations <= 0 || iterations == cfg->outer.iterations) return -1;
  // Reptile's step size runs from eps_start to eps_end over the planned
  // iterations: another total would have taken other steps already
  if (cfg->outer.algo == MRL_OUTER_REPTILE && cfg->outer.eps_start != cfg->outer.eps_end) {
    fprintf(stderr,
            "metarl: train --resume --iterations: %s anneals reptile's step size from "
            "outer.eps_start to outer.eps_end over its outer.iterations (%d), so another total "
            "would have taken other steps; train a new run with outer.iterations=%ld\n",
            rundir, cfg->outer.iterations, iterations);
    return MRL_EXIT_USAGE;
  }
  // the checkpoint's iteration, read as training will read it
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof(err));
  if (!fam) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  int done = 0;
  int bad = own && checkpoint_fits(cfg, fam, ckpt, &done, err, sizeof(err));
  mrl_family_free(fam);
  if (bad) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  if (iterations < done) {
    fprintf(stderr, "metarl: train --resume --iterations %ld: %s has done %d iterations already\n",
            iterations, rundir, done);
    return MRL_EXIT_USAGE;
  }
  cfg->outer.iterations = (int)iterations;
  if (mrl_rundir_write_config(rundir, cfg, err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_RUNTIME;
  }
  return -1;
}

// Report a message about the key it starts with ("env.model: ..."): at the
// file:line:column that set the key, or at the override that did. prefix is
// the overrides' ("pretrain." for a pretrain stage's config, else "").
static void report_config_error(const char* path, const char* prefix, int argc, char** argv,
                                const char* msg) {
  char key[128], where[4096 + 64];
  size_t n = 0, plen = strlen(prefix);
  while (n < sizeof(key) - 1 &&
         (isalnum((unsigned char)msg[n]) || msg[n] == '_' || msg[n] == '.')) {
    key[n] = msg[n];
    n++;
  }
  key[n] = 0;
  for (int i = 2; i < argc && n; i++) {
    if (!strncmp(argv[i], prefix, plen) && !strncmp(argv[i] + plen, key, n) &&
        argv[i][plen + n] == '=') {
      fprintf(stderr, "metarl: override '%s': %s\n", argv[i], msg);
      return;
    }
  }
  if (n && mrl_config_locate(path, key, where, sizeof(where)) == 0) {
    fprintf(stderr, "metarl: %s: %s\n", where, msg);
  } else {
    fprintf(stderr, "metarl: %s: %s\n", path, msg);
  }
}

#define STAGE_PREFIX "pretrain."  // command-line overrides of a pretrain stage's config

// "17-64-64-6 tanh, 9030 parameters": a policy's shape, for messages.
static void describe_policy(const mrlPolicy* pol, char* buf, size_t n) {
  size_t used = 0;
  for (int l = 0; l <= pol->nlayer && used < n; l++) {
    used += (size_t)snprintf(buf + used, n - used, "%s%d", l ? "-" : "", pol->sizes[l]);
  }
  if (used < n) {
    snprintf(buf + used, n - used, " %s, %d parameters",
             pol->activation == MRL_ACT_RELU ? "relu" : "tanh", pol->nparam);
  }
}

// The pretrain stage of cfg (whose pretrain is set), into stage: the file
// cfg->pretrain names, relative to the folder of config_path (to the working
// directory when an override named it), then cfg's seed and threads, then the
// command line's pretrain.KEY=VALUE overrides. The stage must be a plain run
// (no stage of its own) whose policy has cfg's shape (or cfg's without
// policy.context), so that its final checkpoint can start cfg. Returns -1 to
// go on, else an exit code after printing the error. Run by rank 0 alone.
static int stage_setup(const mrlConfig* cfg, const mrlFamily* fam, const char* config_path,
                       int argc, char** argv, mrlConfig* stage) {
  char path[4096], err[MRL_ERRLEN], msg[MRL_ERRLEN + 64];
  int by_override = 0;
  for (int i = 2; i < argc; i++) by_override |= !strncmp(argv[i], "pretrain=", 9);
  const char* slash = strrchr(config_path, '/');
  int dirlen =
      (by_override || cfg->pretrain[0] == '/' || !slash) ? 0 : (int)(slash - config_path + 1);
  snprintf(path, sizeof(path), "%.*s%s", dirlen, config_path, cfg->pretrain);
  mrl_config_default(stage);
  if (mrl_config_load(stage, path, err, sizeof(err))) {
    snprintf(msg, sizeof(msg), "pretrain: %s", err);
    report_config_error(config_path, "", argc, argv, msg);
    return MRL_EXIT_USAGE;
  }
  // one seed and one thread count for the whole run
  stage->seed = cfg->seed;
  stage->threads = cfg->threads;
  for (int i = 2; i < argc; i++) {
    if (strncmp(argv[i], STAGE_PREFIX, strlen(STAGE_PREFIX))) continue;
    if (mrl_config_override(stage, argv[i] + strlen(STAGE_PREFIX), err, sizeof(err))) {
      fprintf(stderr, "metarl: pretrain stage (%s): %s\n", path, err);
      return MRL_EXIT_USAGE;
    }
  }
  if (stage->pretrain[0]) {
    snprintf(
        msg, sizeof(msg),
        "pretrain: the stage '%.300s' has a pretrain stage of its own ('%.200s'); a run has one "
        "stage at most",
        path, stage->pretrain);
    report_config_error(config_path, "", argc, argv, msg);
    return MRL_EXIT_USAGE;
  }
  mrlFamily* sfam = NULL;
  if (mrl_config_check(stage, err, sizeof(err)) ||
      !(sfam = mrl_family_make(stage, err, sizeof(err)))) {
    report_config_error(path, STAGE_PREFIX, argc, argv, err);
    return MRL_EXIT_USAGE;
  }
  int code = -1;
  mrlPolicy mine, theirs, base;
  mrl_policy_setup(&mine, cfg, fam->nobs, fam->nact);
  mrl_policy_setup(&theirs, stage, sfam->nobs, sfam->nact);
  // a stage without policy.context starts a run with one: c = 0 leaves the
  // stage's policy as it was (mrl_checkpoint_load_warm)
  mrl_policy_without_context(&mine, &base);
  const mrlPolicy* startable = theirs.ncontext ? &mine : &base;
  int same = startable->nlayer == theirs.nlayer && startable->activation == theirs.activation &&
             startable->nparam == theirs.nparam;
  for (int l = 0; same && l <= theirs.nlayer; l++) same = startable->sizes[l] == theirs.sizes[l];
  if (!same) {
    char a[256], b[256];
    describe_policy(&theirs, a, sizeof(a));
    describe_policy(&mine, b, sizeof(b));
    snprintf(msg, sizeof(msg),
             "pretrain: the stage '%.300s' trains a policy of %s, this config one of %s: the "
             "stage's policy cannot start this run",
             path, a, b);
    report_config_error(config_path, "", argc, argv, msg);
    code = MRL_EXIT_USAGE;
  } else if (mrl_train_check_ranks(stage, sfam, mrl_dist_size(), err, sizeof(err))) {
    fprintf(stderr, "metarl: pretrain stage (%s): %s\n", path, err);
    code = MRL_EXIT_USAGE;
  } else if (stage->policy.init_from[0] &&
             checkpoint_fits(stage, sfam, stage->policy.init_from, NULL, err, sizeof(err))) {
    snprintf(msg, sizeof(msg), "policy.init_from: %s", err);
    report_config_error(path, STAGE_PREFIX, argc, argv, msg);
    code = MRL_EXIT_USAGE;
  }
  mrl_family_free(sfam);
  return code;
}

// Parse the command line, check the config and create (or, with --resume,
// find) the run directory: cfg, rundir (4096 bytes) and quiet get the job,
// and stage the config of its pretrain stage if it has one (whose run
// directory is rundir/pretrain). Returns -1 to go on training, else an exit
// code. Run by rank 0 alone.
static int train_setup(int argc, char** argv, mrlConfig* job, mrlConfig* stage, char* rundir,
                       int* quiet_out) {
  const char* resume = NULL;
  int quiet_resume = 0, nother = 0;
  long threads = -1, iterations = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--resume")) {
      if (++i == argc) return usage_error("%s needs a run directory", "--resume");
      resume = argv[i];
    } else if (!strcmp(argv[i], "--quiet")) {
      quiet_resume = 1;
    } else if (!strcmp(argv[i], "--threads")) {
      if (parse_long("--threads", i + 1 < argc ? argv[i + 1] : NULL, 0, 256, &threads)) {
        return MRL_EXIT_USAGE;
      }
      i++;
    } else if (!strcmp(argv[i], "--iterations")) {
      if (parse_long("--iterations", i + 1 < argc ? argv[i + 1] : NULL, 1, 10000000, &iterations)) {
        return MRL_EXIT_USAGE;
      }
      i++;
    } else {
      nother++;
    }
  }
  if (threads >= 0 && !resume) {
    return usage_error("train: --threads goes with --resume (%s)", "a new run takes threads=N");
  }
  if (iterations && !resume) {
    return usage_error("train: --iterations goes with --resume (%s)",
                       "a new run takes outer.iterations=N");
  }
  if (resume) {
    if (nother)
      return usage_error("train --resume RUN_DIR takes no config, override or --out (%s)",
                         "the run's config.yaml is used");
    *quiet_out = quiet_resume;
    snprintf(rundir, 4096, "%s", resume);
    int code = resume_setup(resume, iterations, job, stage);
    // the thread count changes the speed, never the bits: the one key a
    // resumed run may change (its config.yaml keeps the first run's)
    if (threads >= 0) job->threads = stage->threads = (int)threads;
    return code;
  }
  const char* config_path = NULL;
  const char* out = NULL;
  int quiet = 0;
  static mrlConfig cfg;
  char err[MRL_ERRLEN];
  // first pass: flags and the config path; overrides apply after the file
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--out")) {
      if (++i == argc) return usage_error("%s needs a directory", "--out");
      out = argv[i];
    } else if (!strcmp(argv[i], "--quiet")) {
      quiet = 1;
    } else if (argv[i][0] == '-') {
      return usage_error("train: unknown flag '%s'", argv[i]);
    } else if (!strchr(argv[i], '=')) {
      if (config_path && strchr(argv[i], '.') && !strchr(argv[i], '/') &&
          !strstr(argv[i], ".yaml")) {  // "inner.lr" alone: an override without its value
        return usage_error("train: '%s' is not an override: write key=value", argv[i]);
      }
      if (config_path) return usage_error("train: more than one config file ('%s')", argv[i]);
      config_path = argv[i];
    }
  }
  if (!config_path) return usage_error("train: %s", "missing CONFIG.yaml");
  mrl_config_default(&cfg);
  if (mrl_config_load(&cfg, config_path, err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  int staged_overrides = 0;  // pretrain.KEY=VALUE: the stage's, applied by stage_setup
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--out")) {
      i++;
    } else if (!strncmp(argv[i], STAGE_PREFIX, strlen(STAGE_PREFIX)) && strchr(argv[i], '=')) {
      staged_overrides = 1;
    } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
      if (mrl_config_override(&cfg, argv[i], err, sizeof(err))) {
        fprintf(stderr, "metarl: %s\n", err);
        return MRL_EXIT_USAGE;
      }
    }
  }
  // the family is made once here so that a bad model, body or randomizer is
  // a config error before any run directory exists
  mrlFamily* fam = NULL;
  if (mrl_config_check(&cfg, err, sizeof(err)) ||
      !(fam = mrl_family_make(&cfg, err, sizeof(err)))) {
    report_config_error(config_path, "", argc, argv, err);
    return MRL_EXIT_USAGE;
  }
  // so is a warm start that is no checkpoint of this policy
  if (cfg.policy.init_from[0]) {
    char why[MRL_ERRLEN - 32];  // room for the key in err
    if (checkpoint_fits(&cfg, fam, cfg.policy.init_from, NULL, why, sizeof(why))) {
      mrl_family_free(fam);
      snprintf(err, sizeof(err), "policy.init_from: %s", why);
      report_config_error(config_path, "", argc, argv, err);
      return MRL_EXIT_USAGE;
    }
  }
  if (staged_overrides && !cfg.pretrain[0]) {
    mrl_family_free(fam);
    return usage_error("train: pretrain.KEY=VALUE overrides a pretrain stage, and %s has none",
                       config_path);
  }
  int code = cfg.pretrain[0] ? stage_setup(&cfg, fam, config_path, argc, argv, stage) : -1;
  mrl_family_free(fam);
  if (code >= 0) return code;
  // the run's config.yaml names the stage's own, beside it in the run directory
  if (cfg.pretrain[0]) {
    memset(cfg.pretrain, 0, sizeof(cfg.pretrain));
    snprintf(cfg.pretrain, sizeof(cfg.pretrain), "pretrain/config.yaml");
  }
  if (mrl_rundir_create(&cfg, out, argc, argv, rundir, 4096, err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_RUNTIME;
  }
  if (cfg.pretrain[0]) {
    char stagedir[4096 + 16], made[4096];
    snprintf(stagedir, sizeof(stagedir), "%s/pretrain", rundir);
    // the run reads the stage's checkpoint by a path that must fit policy.init_from
    if (strlen(stagedir) + strlen("/checkpoints/latest.ckpt") >= MRL_STRLEN) {
      mrl_rundir_discard(rundir);
      fprintf(stderr,
              "metarl: run directory '%s': path too long for a pretrain stage (%d bytes "
              "at most with /pretrain/checkpoints/latest.ckpt)\n",
              rundir, MRL_STRLEN - 1);
      return MRL_EXIT_USAGE;
    }
    if (mrl_rundir_create(stage, stagedir, argc, argv, made, sizeof(made), err, sizeof(err))) {
      mrl_rundir_discard(rundir);  // whole or absent
      fprintf(stderr, "metarl: %s\n", err);
      return MRL_EXIT_RUNTIME;
    }
  }
  *job = cfg;
  *quiet_out = quiet;
  return -1;
}

// Under MPI, rank 0 reads the config and creates the run directory (its
// timestamped name is rank 0's clock), then hands the outcome, the config and
// the directory to every rank: a config error is printed once, and the other
// ranks need neither the config file nor the run directory.
static int cmd_train(int argc, char** argv) {
  static mrlConfig cfg, stage;
  char rundir[4096] = "";
  int quiet = 0, code = -1;
  if (mrl_dist_rank() == 0) code = train_setup(argc, argv, &cfg, &stage, rundir, &quiet);
  mrl_dist_bcast(&code, sizeof(code), 0);
  if (code >= 0) return code;
  mrl_dist_bcast(&cfg, sizeof(cfg), 0);
  if (cfg.pretrain[0]) mrl_dist_bcast(&stage, sizeof(stage), 0);
  mrl_dist_bcast(rundir, sizeof(rundir), 0);
  mrl_dist_bcast(&quiet, sizeof(quiet), 0);
  return run_training(&cfg, &stage, rundir, quiet);
}

static int cmd_eval(int argc, char** argv) {
  const char* rundir = NULL;
  mrlEvalOptions opt = {0, -1, 0, 0, -1, 1, 0, NULL, 0, 1, 0};
  const char** compare = calloc((size_t)argc, sizeof(char*));
  int in_compare = 0, code = MRL_EXIT_USAGE;
  for (int i = 2; i < argc; i++) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    long v;
    if (!strcmp(flag, "--tasks")) {
      if (parse_long(flag, value, 1, 100000, &v)) goto done;
      opt.tasks = (int)v;
      i++;
    } else if (!strcmp(flag, "--steps")) {
      if (parse_long(flag, value, 0, 1000, &v)) goto done;
      opt.steps = (int)v;
      i++;
    } else if (!strcmp(flag, "--episodes")) {
      if (parse_long(flag, value, 1, 100000, &v)) goto done;
      opt.episodes = (int)v;
      i++;
    } else if (!strcmp(flag, "--threads")) {
      if (parse_long(flag, value, 0, 256, &v)) goto done;
      opt.threads = (int)v;
      i++;
    } else if (!strcmp(flag, "--seed")) {
      if (parse_long(flag, value, 0, 0x7fffffffL, &v)) goto done;
      opt.seed = (uint64_t)v;
      i++;
    } else if (!strcmp(flag, "--repeats")) {
      if (parse_long(flag, value, 1, 1000, &v)) goto done;
      opt.repeats = (int)v;
      i++;
    } else if (!strcmp(flag, "--lr")) {
      if (parse_double(flag, value, &opt.lr)) goto done;
      i++;
    } else if (!strcmp(flag, "--later-lr")) {
      if (parse_double(flag, value, &opt.later_lr)) goto done;
      i++;
    } else if (!strcmp(flag, "--split")) {
      if (!value) {
        usage_error("%s needs 'test' (the held-out tasks) or 'train' (the run's own) after it",
                    flag);
        goto done;
      }
      if (strcmp(value, "test") && strcmp(value, "train")) {
        usage_error(
            "--split needs 'test' (the held-out tasks) or 'train' (the run's own), got '%s'",
            value);
        goto done;
      }
      opt.train_split = !strcmp(value, "train");
      i++;
    } else if (!strcmp(flag, "--compare")) {
      if (!value || value[0] == '-') {
        usage_error("%s needs a run directory", flag);
        goto done;
      }
      compare[opt.ncompare++] = value;
      in_compare = 1;
      i++;
    } else if (flag[0] == '-') {
      usage_error("eval: unknown flag '%s'", flag);
      goto done;
    } else if (in_compare) {
      compare[opt.ncompare++] = flag;
    } else if (rundir) {
      usage_error("eval: more than one run directory ('%s'; compare runs follow --compare)", flag);
      goto done;
    } else {
      rundir = flag;
    }
  }
  if (!rundir) {
    usage_error("eval: %s", "missing RUN_DIR");
    goto done;
  }
  opt.compare = compare;
  char err[MRL_ERRLEN];
  code = mrl_eval_run(rundir, &opt, stdout, err, sizeof(err));
  // under MPI, load errors are agreed on every rank and write errors are rank 0's
  if (code != MRL_EXIT_OK && mrl_dist_rank() == 0) fprintf(stderr, "metarl: %s\n", err);
done:
  free(compare);
  return code;
}

static int cmd_plot(int argc, char** argv) {
  const char** runs = calloc((size_t)argc, sizeof(char*));
  const char* outdir = NULL;
  const char* param = NULL;
  int nrun = 0, code = MRL_EXIT_USAGE;
  for (int i = 2; i < argc; i++) {
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "--param")) {
      if (!value) {
        usage_error("%s needs a value", argv[i]);
        goto done;
      }
      *(argv[i][2] == 'o' ? &outdir : &param) = value;
      i++;
    } else if (argv[i][0] == '-') {
      usage_error("plot: unknown flag '%s'", argv[i]);
      goto done;
    } else {
      runs[nrun++] = argv[i];
    }
  }
  if (nrun == 0) {
    usage_error("plot: %s", "missing RUN_DIR");
    goto done;
  }
  char dir[4096], err[MRL_ERRLEN];
  if (!outdir) {
    snprintf(dir, sizeof(dir), "%s/plots", runs[0]);
    outdir = dir;
  }
  code = mrl_plot_runs(runs, nrun, outdir, param, stdout, err, sizeof(err));
  if (code != MRL_EXIT_OK) fprintf(stderr, "metarl: %s\n", err);
done:
  free(runs);
  return code;
}

// A family is a config: NAME means configs/NAME.yaml (here, then in the
// source tree), anything else a path.
static int load_family_config(const char* name, mrlConfig* cfg, char* path, size_t pathlen,
                              char* err, size_t errlen) {
  snprintf(path, pathlen, "%s", name);
  if (!strchr(name, '/') && !strstr(name, ".yaml")) {
    snprintf(path, pathlen, "configs/%s.yaml", name);
    if (access(path, R_OK)) snprintf(path, pathlen, "%s/configs/%s.yaml", METARL_SOURCE_DIR, name);
  }
  mrl_config_default(cfg);
  if (mrl_config_load(cfg, path, err, errlen)) return -1;
  char msg[MRL_ERRLEN];
  if (mrl_config_check(cfg, msg, sizeof(msg))) return mrl_error(err, errlen, "%s: %s", path, msg);
  return 0;
}

// One line per family, and ntasks sampled training tasks in words.
static int print_family(const char* name, int ntasks) {
  static mrlConfig cfg;
  char path[4096], err[MRL_ERRLEN];
  if (load_family_config(name, &cfg, path, sizeof(path), err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  if (!fam) {
    fprintf(stderr, "metarl: %s: %s\n", path, err);
    return MRL_EXIT_USAGE;
  }
  // the parameters that vary between two tasks' draws
  double* a = mrl_alloc(sizeof(double) * fam->ntask);
  double* b = mrl_alloc(sizeof(double) * fam->ntask);
  mrl_task_sample(fam, &cfg, 0, 0, 0, a);
  mrl_task_sample(fam, &cfg, 0, 0, 1, b);
  int nvary = 0;
  for (int k = 0; k < fam->ntask; k++) nvary += a[k] != b[k];
  printf("%-20s %-9s obs %3d  act %2d  horizon %4d  task parameters %d (%d vary)\n", cfg.name,
         fam->name, fam->nobs, fam->nact, fam->horizon, fam->ntask, nvary);
  for (int t = 0; t < ntasks; t++) {
    char words[1024];
    mrl_task_sample(fam, &cfg, 0, 0, t, a);
    fam->describe_task(fam, a, words, sizeof(words));
    printf("  task %d: %s\n", t, words);
  }
  free(a);
  free(b);
  mrl_family_free(fam);
  return MRL_EXIT_OK;
}

static int cmd_envs(int argc, char** argv) {
  long ntasks = 0;
  int nnames = 0, code = MRL_EXIT_OK;
  const char* names[64];
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--tasks")) {
      if (parse_long("--tasks", i + 1 < argc ? argv[i + 1] : NULL, 1, 1000, &ntasks)) {
        return MRL_EXIT_USAGE;
      }
      i++;
    } else if (argv[i][0] == '-') {
      return usage_error("envs: unknown flag '%s'", argv[i]);
    } else if (nnames < 64) {
      names[nnames++] = argv[i];
    }
  }
  for (int i = 0; i < nnames; i++) {
    if (print_family(names[i], (int)ntasks)) code = MRL_EXIT_USAGE;
  }
  if (nnames) return code;
  printf("env kinds (env.name):\n");
  for (int i = 0; mrl_family_names[i]; i++) {
    printf("  %-10s %s\n", mrl_family_names[i], mrl_family_docs[i]);
  }
  printf("\nfamilies (configs/*.yaml in %s):\n", METARL_SOURCE_DIR);
  struct dirent** list;
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/configs", METARL_SOURCE_DIR);
  int n = scandir(dir, &list, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    size_t len = strlen(list[i]->d_name);
    if (len > 5 && !strcmp(list[i]->d_name + len - 5, ".yaml")) {
      char path[4096 + 256];
      snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
      if (print_family(path, (int)ntasks)) code = MRL_EXIT_USAGE;
    }
    free(list[i]);
  }
  if (n > 0) free(list);
  return code;
}


static int cmd_bench(int argc, char** argv) {
  static mrlConfig cfg;
  mrlBenchOptions opt = {3.0, 0, NULL};
  const char* name = "slope_walker";
  char path[4096], err[MRL_ERRLEN];
  int named = 0;
  for (int i = 2; i < argc; i++) {  // flags and the family first; overrides after
    long v;
    if (!strcmp(argv[i], "--seconds")) {
      if (parse_double("--seconds", i + 1 < argc ? argv[i + 1] : NULL, &opt.seconds)) {
        return MRL_EXIT_USAGE;
      }
      i++;
    } else if (!strcmp(argv[i], "--threads")) {
      if (parse_long("--threads", i + 1 < argc ? argv[i + 1] : NULL, 1, 256, &v)) {
        return MRL_EXIT_USAGE;
      }
      opt.threads = (int)v;
      i++;
    } else if (!strcmp(argv[i], "--json")) {
      if (++i == argc) return usage_error("%s needs a file", "--json");
      opt.json = argv[i];
    } else if (argv[i][0] == '-') {
      return usage_error("bench: unknown flag '%s'", argv[i]);
    } else if (!strchr(argv[i], '=')) {
      if (named++) return usage_error("bench: more than one family ('%s')", argv[i]);
      name = argv[i];
    }
  }
  if (load_family_config(name, &cfg, path, sizeof(path), err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") || !strcmp(argv[i], "--threads") ||
        !strcmp(argv[i], "--json")) {
      i++;
    } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
      if (mrl_config_override(&cfg, argv[i], err, sizeof(err)) ||
          mrl_config_check(&cfg, err, sizeof(err))) {
        fprintf(stderr, "metarl: %s\n", err);
        return MRL_EXIT_USAGE;
      }
    }
  }
  int code = mrl_bench_run(&cfg, &opt, stdout, err, sizeof(err));
  if (code != MRL_EXIT_OK) fprintf(stderr, "metarl: %s\n", err);
  return code;
}

// view and record live in the GL module metarl_render.so, opened only here:
// the executable itself links no GL library, so training runs without one.
// Looked up next to the executable (the build tree), then where it installs.
static int run_render_module(const char* entry, int argc, char** argv) {
  // next to the executable (build tree), <prefix>/<libdir>/metarl/ relative to
  // it (any install prefix), then the configured install path
  char exe[4096], paths[3][4096 + 128], error[1024] = "";
  int npath = 0;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    char* slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(paths[npath++], sizeof(paths[0]), "%s/metarl_render.so", exe);
    snprintf(paths[npath++], sizeof(paths[0]), "%s/../%s", exe, METARL_RENDER_MODULE_REL);
  }
  snprintf(paths[npath++], sizeof(paths[0]), "%s", METARL_RENDER_MODULE);
  void* lib = NULL;
  for (int i = 0; i < npath && !lib; i++) {
    lib = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
    // a module that exists but cannot load (a missing GL library) says why
    const char* e = lib ? NULL : dlerror();
    if (e && (!error[0] || !access(paths[i], F_OK))) snprintf(error, sizeof(error), "%s", e);
  }
  if (!lib) {
    fprintf(stderr,
            "metarl %s: cannot load the renderer (%s); it needs libglfw3, libosmesa6 and "
            "zlib (scripts/setup installs them)\n",
            argv[1], error);
    return MRL_EXIT_USAGE;
  }
  int (*run)(int, char**) = (int (*)(int, char**))dlsym(lib, entry);
  if (!run) {
    fprintf(stderr, "metarl %s: metarl_render.so has no %s\n", argv[1], entry);
    return MRL_EXIT_RUNTIME;
  }
  return run(argc, argv);  // the module stays loaded: MuJoCo keeps its GL pointers
}

static int cmd_view(int argc, char** argv) {
  return run_render_module("mrl_view_main", argc, argv);
}

static int cmd_record(int argc, char** argv) {
  return run_render_module("mrl_record_main", argc, argv);
}

static int cmd_help(int argc, char** argv) {
  if (argc < 3) {
    usage(stdout);
    return MRL_EXIT_OK;
  }
  if (!strcmp(argv[2], "config")) {
    mrl_config_print_reference(stdout);
    return MRL_EXIT_OK;
  }
  const Command* c = find_command(argv[2]);
  if (!c) return usage_error("help: unknown command '%s'", argv[2]);
  printf("usage: metarl %s\n\n%s", c->synopsis, c->help);
  if (!c->run) printf("\nNot available in metarl %s yet.\n", MRL_VERSION);
  return MRL_EXIT_OK;
}

int main(int argc, char** argv) {
  mrl_install_mujoco_handlers();
  // a file-size limit (ulimit -f) makes write() fail with EFBIG, reported
  // like a full disk, instead of killing the run before it can say so
  signal(SIGXFSZ, SIG_IGN);

  if (argc < 2) {
    usage(stderr);
    return MRL_EXIT_USAGE;
  }
  const char* name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
    return cmd_help(argc, argv);
  }
  if (!strcmp(name, "--version")) {
    printf("metarl %s (commit %s, MuJoCo %d)\n", MRL_VERSION, MRL_GIT_COMMIT, mj_version());
    return MRL_EXIT_OK;
  }
  const Command* c = find_command(name);
  if (!c) return usage_error("unknown command '%s'", name);
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      char* help_argv[] = {argv[0], "help", (char*)name};
      return cmd_help(3, help_argv);
    }
  }
  if (!c->run) {
    fprintf(stderr, "metarl %s: not available in metarl %s yet (see README, Roadmap)\n", name,
            MRL_VERSION);
    return MRL_EXIT_USAGE;
  }
  // train and eval run as one rank of an MPI job when started by a launcher
  if (c->run != cmd_train && c->run != cmd_eval) return c->run(argc, argv);
  char err[MRL_ERRLEN];
  if (mrl_dist_init(&argc, &argv, err, sizeof(err))) {
    fprintf(stderr, "metarl: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  int code = c->run(argc, argv);
  mrl_dist_finalize();
  return code;
}
