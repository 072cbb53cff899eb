// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// evaluate.c: the meta-test protocol. An initialization is adapted on the
// held-out tasks of the test split (fixed by task.test_seed, never drawn in
// training) for 0..K inner steps; the mean return after each step is what
// "adapts quickly" means. Every initialization sees the same tasks and the
// same exploration-noise streams, so differences come from the parameters.
// Under MPI each rank adapts a contiguous block of the tasks and the per-task
// curves are gathered to every rank (dist.c); rank 0 writes and prints.
// Episode lengths are recorded next to the returns: for tasks that end when
// the robot falls, they say whether it stays up.

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

typedef struct {
  const mrlConfig* cfg;
  const mrlFamily* fam;
  const double* params;
  mrlLearner** learners;
  int nstep;
  uint64_t seed;
  mrlAdaptCurve* curve;
  int first;        // this rank's first task
  int train_split;  // 1: the run's training tasks in place of the held-out ones
} EvalJob;

// Task j of the evaluated split: held-out task j, or the j-th task the run
// trained on (its meta-batches in order), which a choice of meta-test settings
// may look at without touching the test split.
static void split_task(const mrlFamily* fam, const mrlConfig* cfg, int train_split, int j,
                       double* task) {
  if (train_split) {
    int batch = cfg->outer.meta_batch;
    mrl_task_sample(fam, cfg, 0, (uint64_t)(j / batch), (uint64_t)(j % batch), task);
  } else {
    mrl_task_sample(fam, cfg, 1, 0, (uint64_t)j, task);
  }
}

static void eval_job(void* ctx, int worker, int job) {
  EvalJob* ej = ctx;
  job += ej->first;
  double* task = mrl_alloc(sizeof(double) * ej->fam->ntask);
  split_task(ej->fam, ej->cfg, ej->train_split, job, task);
  // the learner is this worker's alone for the job: point it at task job's slots
  mrlLearner* ln = ej->learners[worker];
  size_t row = (size_t)job * ej->nstep;
  ln->mean_length = ej->curve->mean_length ? ej->curve->mean_length + row : NULL;
  ln->full_fraction = ej->curve->full_fraction ? ej->curve->full_fraction + row : NULL;
  mrl_inner_adapt(ej->cfg, ln, task, ej->params, ej->nstep - 1, ej->seed, 0, job, 0,
                  ej->curve->returns + row);
  free(task);
}

void mrl_eval_adapt(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                    const double* params, int ntask, int nstep, int neps, uint64_t seed,
                    mrlAdaptCurve* curve) {
  mrl_eval_adapt_from(cfg, fam, pol, params, NULL, ntask, nstep, neps, seed, curve);
}

// mrl_eval_adapt_from on the split train_split names (see split_task).
static void adapt_split(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                        const double* params, const double* value_state, int ntask, int nstep,
                        int neps, uint64_t seed, int train_split, mrlAdaptCurve* curve) {
  mrlPool* pool = mrl_pool_make(mrl_dist_threads(cfg->threads));
  int nworker = mrl_pool_size(pool);
  int begin, end;
  mrl_dist_range(ntask, mrl_dist_rank(), mrl_dist_size(), &begin, &end);
  EvalJob ej = {cfg, fam, params, NULL, nstep, seed, curve, begin, train_split};
  ej.learners = mrl_alloc(sizeof(mrlLearner*) * nworker);
  for (int w = 0; w < nworker; w++) {
    ej.learners[w] = mrl_learner_make(cfg, fam, pol, neps);
    mrlValueNet* vf = ej.learners[w]->baseline->vf;
    if (value_state && vf && vf->shared) mrl_value_load_state(vf, value_state);
  }
  curve->ntask = ntask;
  curve->nstep = nstep;
  mrl_pool_run(pool, end - begin, eval_job, &ej);
  mrl_dist_gather_tasks(curve->returns, sizeof(double) * nstep, ntask);
  if (curve->mean_length) mrl_dist_gather_tasks(curve->mean_length, sizeof(double) * nstep, ntask);
  if (curve->full_fraction) {
    mrl_dist_gather_tasks(curve->full_fraction, sizeof(double) * nstep, ntask);
  }
  mrl_pool_free(pool);
  for (int w = 0; w < nworker; w++) mrl_learner_free(ej.learners[w]);
  free(ej.learners);
}

void mrl_eval_adapt_from(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                         const double* params, const double* value_state, int ntask, int nstep,
                         int neps, uint64_t seed, mrlAdaptCurve* curve) {
  adapt_split(cfg, fam, pol, params, value_state, ntask, nstep, neps, seed, 0, curve);
}

void mrl_curve_stats(const mrlAdaptCurve* curve, int step, double* mean, double* ci95) {
  double s = 0, ss = 0;
  int n = curve->ntask;
  for (int j = 0; j < n; j++) s += curve->returns[(size_t)j * curve->nstep + step];
  *mean = s / n;
  for (int j = 0; j < n; j++) {
    double d = curve->returns[(size_t)j * curve->nstep + step] - *mean;
    ss += d * d;
  }
  double se = n > 1 ? sqrt(ss / (n - 1) / n) : 0;
  *ci95 = 1.96 * se;
}

void mrl_eval_meta_test(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                        const double* params, const double* value_state, int ntask, int nstep,
                        int neps, uint64_t seed, double* pre, double* post, double* post_sem) {
  mrlAdaptCurve curve = {.returns = mrl_alloc(sizeof(double) * ntask * nstep)};  // no lengths
  mrl_eval_adapt_from(cfg, fam, pol, params, value_state, ntask, nstep, neps, seed, &curve);
  double* x = mrl_alloc(sizeof(double) * ntask);
  for (int j = 0; j < ntask; j++) x[j] = curve.returns[(size_t)j * nstep];
  *pre = mrl_stats_mean(x, ntask);
  for (int j = 0; j < ntask; j++) x[j] = curve.returns[(size_t)j * nstep + nstep - 1];
  *post = mrl_stats_mean(x, ntask);
  *post_sem = mrl_stats_sem(x, ntask);
  free(x);
  free(curve.returns);
}

//------------------------------- metarl eval --------------------------------

#define MAX_INITS 34  // the run, up to 32 compared runs, the random init

// One initialization under evaluation.
typedef struct {
  char name[MRL_STRLEN];  // label in the table, the CSV and the figures
  char source[4096];      // run directory, or "" for the random init
  char algo[32];          // outer.algo of its run, or "random"
  int iteration;          // of its checkpoint
  // what its policy reads: the evaluated run's config and family, but for a
  // compared run trained on another observation (env.obs_task, env.obs_com,
  // policy.obs_norm) or with inner.learn_lr or policy.context, those keys from its own config
  // and a family made for it
  mrlConfig cfg;
  mrlFamily* fam;  // the run's, or its own (freed with it)
  mrlPolicy pol;
  double* params;         // (pol.nparam)
  mrlAdaptCurve curve;    // (ntask, nstep)
  mrlSummary* summary;    // (nstep)
  mrlSummary* paired;     // (nstep) the run's return minus this one's, task by task (not the run)
  double* value_state;    // rl.vf_shared of both configs: its value network, else NULL
  double* mean_length;    // (nstep) mean over tasks of curve.mean_length
  double* full_fraction;  // (nstep) mean over tasks of curve.full_fraction
  double* repeat_mean;    // (repeats, nstep) each eval seed's mean return over tasks
} Init;

// The header row of a printed table: "step" and one column per initialization.
static void print_table_header(FILE* out, const Init* inits, int ninit) {
  fprintf(out, "%-5s", "step");
  for (int c = 0; c < ninit; c++) fprintf(out, "  %-26.26s", inits[c].name);
  fprintf(out, "\n");
}

// One row per step of "mean [interval]" cells: each init's return, or with
// paired its difference from the run's (signed).
static void print_interval_table(FILE* out, const Init* inits, int ninit, int nstep, int paired) {
  print_table_header(out, inits, ninit);
  for (int s = 0; s < nstep; s++) {
    fprintf(out, "%-5d", s);
    for (int c = 0; c < ninit; c++) {
      const mrlSummary* m = paired ? &inits[c].paired[s] : &inits[c].summary[s];
      char cell[96];
      if (paired) {
        snprintf(cell, sizeof(cell), "%+.2f [%+.2f, %+.2f]", m->mean, m->ci_low, m->ci_high);
      } else {
        snprintf(cell, sizeof(cell), "%.2f [%.2f, %.2f]", m->mean, m->ci_low, m->ci_high);
      }
      fprintf(out, "  %-26s", cell);
    }
    fprintf(out, "\n");
  }
}

// One row per step of "sd [min, max]" cells: the spread of the mean return
// over tasks across eval seeds, i.e. how far one seed's table could have moved.
static void print_repeat_spread(FILE* out, const Init* inits, int ninit, int nstep, int repeats) {
  fprintf(out,
          "\nmean return over tasks per eval seed: standard deviation [lowest, highest] of the "
          "%d seeds' means\n",
          repeats);
  print_table_header(out, inits, ninit);
  double* x = mrl_alloc(sizeof(double) * repeats);
  for (int s = 0; s < nstep; s++) {
    fprintf(out, "%-5d", s);
    for (int c = 0; c < ninit; c++) {
      double lo = INFINITY, hi = -INFINITY;
      for (int k = 0; k < repeats; k++) {
        x[k] = inits[c].repeat_mean[(size_t)k * nstep + s];
        lo = fmin(lo, x[k]);
        hi = fmax(hi, x[k]);
      }
      double sd = mrl_stats_sem(x, repeats) * sqrt(repeats);
      char cell[96];
      snprintf(cell, sizeof(cell), "sd %.2f [%.2f, %.2f]", sd, lo, hi);
      fprintf(out, "  %-26s", cell);
    }
    fprintf(out, "\n");
  }
  free(x);
  fprintf(out,
          "(the table above averages each task over the seeds; per seed: repeat_means in "
          "summary.json)\n");
}

// The last path component of a run directory, without trailing slashes.
static void run_name(const char* dir, char* name, size_t n) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", dir);
  size_t len = strlen(buf);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
  const char* slash = strrchr(buf, '/');
  snprintf(name, n, "%s", slash && slash[1] ? slash + 1 : buf);
}

// Load rundir/config.yaml into cfg; exit-code style.
static int load_run_config(const char* rundir, mrlConfig* cfg, char* err, size_t errlen) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof(path), "%s/config.yaml", rundir);
  if (stat(rundir, &st) || !S_ISDIR(st.st_mode) || stat(path, &st)) {
    return mrl_error(err, errlen, "'%s' is not a run directory (no config.yaml in it)", rundir);
  }
  mrl_config_default(cfg);
  if (mrl_config_load(cfg, path, err, errlen) || mrl_config_check(cfg, err, errlen)) return -1;
  return 0;
}

// Load rundir's latest checkpoint for policy pol (and rl.vf_shared's value
// network into value, nvalue numbers, unless value is NULL).
static int load_latest(const char* rundir, const mrlPolicy* pol, double* params, int* iteration,
                       double* value, int nvalue, char* err, size_t errlen) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
  if (stat(path, &st)) {
    return mrl_error(err, errlen,
                     "run '%s' has no checkpoint (no checkpoints/latest.ckpt): it is written "
                     "every log.checkpoint_every iterations and at the end of training",
                     rundir);
  }
  return mrl_checkpoint_load_state(path, pol, params, iteration, NULL, NULL, value, nvalue, err,
                                   errlen);
}

typedef struct {
  const mrlConfig* cfg;
  const mrlFamily* fam;
  const Init* inits;
  int ninit, ntask, nstep, neps, repeats;
  uint64_t seed;
  int train_split;
} Results;

static int write_adaptation_csv(FILE* f, const Results* r) {
  const mrlFamily* fam = r->fam;
  fprintf(f, "init,task");
  for (int k = 0; k < fam->ntask; k++) fprintf(f, ",%s", fam->task_names[k]);
  fprintf(f, ",step,return,episodes,mean_length,full_fraction,repeats\n");
  double* task = mrl_alloc(sizeof(double) * fam->ntask);
  for (int c = 0; c < r->ninit; c++) {
    for (int j = 0; j < r->ntask; j++) {
      split_task(fam, r->cfg, r->train_split, j, task);
      for (int s = 0; s < r->nstep; s++) {
        fprintf(f, "%s,%d", r->inits[c].name, j);
        for (int k = 0; k < fam->ntask; k++) fprintf(f, ",%.17g", task[k]);
        const mrlAdaptCurve* cv = &r->inits[c].curve;
        size_t at = (size_t)j * r->nstep + s;
        fprintf(f, ",%d,%.17g,%d,%.17g,%.17g,%d\n", s, cv->returns[at], r->neps,
                cv->mean_length[at], cv->full_fraction[at], r->repeats);
      }
    }
  }
  free(task);
  return ferror(f) ? -1 : 0;
}

static int write_summary_json(FILE* f, const Results* r) {
  fprintf(f, "{\n  \"env\": ");
  mrl_json_string(f, r->cfg->env.name);
  fprintf(f,
          ",\n  \"tasks\": %d,\n  \"steps\": %d,\n  \"episodes\": %d,\n  \"inner_lr\": %.17g,\n"
          "  \"inner_later_lr\": %.17g,\n"
          "  \"split\": \"%s\",\n  \"test_seed\": %llu,\n  \"eval_seed\": %llu,\n"
          "  \"repeats\": %d,\n  \"bootstrap_resamples\": %d,\n  \"inits\": [",
          r->ntask, r->nstep - 1, r->neps, r->cfg->inner.lr, mrl_inner_lr(r->cfg, 1),
          r->train_split ? "train" : "test", (unsigned long long)r->cfg->task.test_seed,
          (unsigned long long)r->seed, r->repeats, MRL_BOOTSTRAP_RESAMPLES);
  for (int c = 0; c < r->ninit; c++) {
    const Init* in = &r->inits[c];
    fprintf(f, "%s\n    {\"name\": ", c ? "," : "");
    mrl_json_string(f, in->name);
    fprintf(f, ", \"algo\": ");
    mrl_json_string(f, in->algo);
    fprintf(f, ", \"run\": ");
    mrl_json_string(f, in->source);
    fprintf(f, ", \"iteration\": %d,\n     \"steps\": [", in->iteration);
    for (int s = 0; s < r->nstep; s++) {
      const mrlSummary* m = &in->summary[s];
      fprintf(f,
              "%s\n       {\"step\": %d, \"n\": %d, \"mean\": %.17g, \"stderr\": %.17g, "
              "\"ci95_low\": %.17g, \"ci95_high\": %.17g, \"iqm\": %.17g,\n"
              "        \"mean_length\": %.17g, \"full_fraction\": %.17g,\n"
              "        \"repeat_means\": [",
              s ? "," : "", s, m->n, m->mean, m->sem, m->ci_low, m->ci_high, m->iqm,
              in->mean_length[s], in->full_fraction[s]);
      for (int k = 0; k < r->repeats; k++) {
        fprintf(f, "%s%.17g", k ? ", " : "", in->repeat_mean[(size_t)k * r->nstep + s]);
      }
      fprintf(f, "]}");
    }
    fprintf(f, "]");
    if (c > 0) {  // the run's return minus this one's, task by task
      fprintf(f, ",\n     \"run_minus_this\": [");
      for (int s = 0; s < r->nstep; s++) {
        const mrlSummary* m = &in->paired[s];
        fprintf(f,
                "%s\n       {\"step\": %d, \"n\": %d, \"mean\": %.17g, \"stderr\": %.17g, "
                "\"ci95_low\": %.17g, \"ci95_high\": %.17g}",
                s ? "," : "", s, m->n, m->mean, m->sem, m->ci_low, m->ci_high);
      }
      fprintf(f, "]");
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n  ]\n}\n");
  return ferror(f) ? -1 : 0;
}

// Write `name` through a temporary file in rundir itself (not in eval/, so
// that even a killed process leaves nothing partial there): *tmp gets its
// name, renamed into eval/ by the caller once both files are complete.
static int write_temp(const char* rundir, const char* name, char* tmp, size_t tmplen,
                      int (*fill)(FILE*, const Results*), const Results* r, char* err,
                      size_t errlen) {
  snprintf(tmp, tmplen, "%s/.eval-%s.tmp.%ld", rundir, name, (long)getpid());
  FILE* f = fopen(tmp, "w");
  if (!f) return mrl_error(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
  int bad = fill(f, r);
  bad |= fflush(f) != 0;
  bad |= fsync(fileno(f)) != 0;
  bad |= fclose(f) != 0;
  if (bad) {
    int e = errno;
    unlink(tmp);
    return mrl_error(err, errlen, "cannot write '%s': %s", tmp, strerror(e));
  }
  return 0;
}

int mrl_eval_run(const char* rundir, const mrlEvalOptions* opt, FILE* out, char* err,
                 size_t errlen) {
  mrlConfig cfg, other;
  int bad = load_run_config(rundir, &cfg, err, errlen) ? MRL_EXIT_USAGE : 0;
  if (mrl_dist_agree(bad, err, errlen)) return MRL_EXIT_USAGE;
  int ntask = opt->tasks > 0 ? opt->tasks : cfg.eval.tasks;
  int nstep = (opt->steps >= 0 ? opt->steps : cfg.eval.steps) + 1;
  int neps = opt->episodes > 0 ? opt->episodes : cfg.eval.episodes;
  if (opt->lr > 0) cfg.inner.lr = opt->lr;
  if (opt->later_lr > 0) cfg.inner.later_lr = opt->later_lr;
  if (opt->threads >= 0) cfg.threads = opt->threads;
  int repeats = opt->repeats > 0 ? opt->repeats : 1;
  if (opt->ncompare < 0 || opt->ncompare + 2 > MAX_INITS) {
    mrl_error(err, errlen, "at most %d --compare runs", MAX_INITS - 2);
    return MRL_EXIT_USAGE;
  }

  mrlFamily* fam = mrl_family_make(&cfg, err, errlen);
  if (mrl_dist_agree(fam ? 0 : MRL_EXIT_USAGE, err, errlen)) {
    mrl_family_free(fam);
    return MRL_EXIT_USAGE;
  }
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  int ninit = opt->ncompare + 2, code = MRL_EXIT_OK;
  Init* inits = mrl_alloc(sizeof(Init) * ninit);
  for (int c = 0; c < ninit; c++) {
    inits[c].cfg = cfg;
    inits[c].fam = fam;
    inits[c].pol = pol;
    inits[c].curve.returns = mrl_alloc(sizeof(double) * ntask * nstep);
    inits[c].summary = mrl_alloc(sizeof(mrlSummary) * nstep);
    inits[c].paired = mrl_alloc(sizeof(mrlSummary) * nstep);
    inits[c].curve.mean_length = mrl_alloc(sizeof(double) * ntask * nstep);
    inits[c].curve.full_fraction = mrl_alloc(sizeof(double) * ntask * nstep);
    inits[c].mean_length = mrl_alloc(sizeof(double) * nstep);
    inits[c].full_fraction = mrl_alloc(sizeof(double) * nstep);
    inits[c].repeat_mean = mrl_alloc(sizeof(double) * repeats * nstep);
  }

  // every initialization is checked before anything runs or is written
  for (int c = 0; c < ninit - 1 && code == MRL_EXIT_OK; c++) {
    const char* dir = c == 0 ? rundir : opt->compare[c - 1];
    Init* in = &inits[c];
    snprintf(in->source, sizeof(in->source), "%s", dir);
    run_name(dir, in->name, sizeof(in->name));
    const mrlConfig* rc = &cfg;
    if (c > 0) {
      if (load_run_config(dir, &other, err, errlen)) {
        char msg[MRL_ERRLEN];
        snprintf(msg, sizeof(msg), "%s", err);
        mrl_error(err, errlen, "--compare: %s", msg);
        code = MRL_EXIT_USAGE;
        break;
      }
      rc = &other;
      if (strcmp(other.env.name, cfg.env.name)) {
        mrl_error(err, errlen,
                  "--compare '%s' is a run of env '%s', but '%s' is a run of env '%s': "
                  "compare runs of the same task family",
                  dir, other.env.name, rundir, cfg.env.name);
        code = MRL_EXIT_USAGE;
        break;
      }
      in->cfg.env.obs_task = other.env.obs_task;
      in->cfg.env.obs_com = other.env.obs_com;
      in->cfg.policy.obs_norm = other.policy.obs_norm;
      in->cfg.inner.learn_lr = other.inner.learn_lr;  // its policy's vector holds its rates
      in->cfg.policy.context = other.policy.context;  // and its context, if any
      if (other.inner.adapt != cfg.inner.adapt) {
        // one step size cannot serve an inner loop on c and one on every parameter
        mrl_error(
            err, errlen,
            "--compare '%s' adapts %s in its inner steps, but '%s' adapts %s: evaluate "
            "each run on its own",
            dir, other.inner.adapt == MRL_ADAPT_CONTEXT ? "its context alone" : "every parameter",
            rundir, cfg.inner.adapt == MRL_ADAPT_CONTEXT ? "its context alone" : "every parameter");
        code = MRL_EXIT_USAGE;
        break;
      }
      if (in->cfg.env.obs_task != cfg.env.obs_task || in->cfg.env.obs_com != cfg.env.obs_com) {
        char msg[MRL_ERRLEN];
        in->fam = mrl_family_make(&in->cfg, msg, sizeof(msg));
        if (!in->fam) {
          in->fam = fam;
          mrl_error(err, errlen, "--compare '%s': %s", dir, msg);
          code = MRL_EXIT_USAGE;
          break;
        }
      }
      mrlPolicy op;
      mrl_policy_setup(&op, &other, in->fam->nobs, fam->nact);
      mrl_policy_setup(&in->pol, &in->cfg, in->fam->nobs, fam->nact);
      int same = op.nlayer == pol.nlayer && op.activation == pol.activation;
      for (int l = 1; same && l <= pol.nlayer; l++) same = op.sizes[l] == pol.sizes[l];
      if (!same) {
        char a[128] = "", b[128] = "";
        for (int l = 1; l < pol.nlayer; l++) {
          snprintf(a + strlen(a), sizeof(a) - strlen(a), "%s%d", l > 1 ? "," : "", pol.sizes[l]);
        }
        for (int l = 1; l < op.nlayer; l++) {
          snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%d", l > 1 ? "," : "", op.sizes[l]);
        }
        mrl_error(err, errlen,
                  "--compare '%s' has policy hidden=[%s] %s, but '%s' has hidden=[%s] %s: "
                  "compare runs of the same policy shape",
                  dir, b, op.activation == MRL_ACT_TANH ? "tanh" : "relu", rundir, a,
                  pol.activation == MRL_ACT_TANH ? "tanh" : "relu");
        code = MRL_EXIT_USAGE;
        break;
      }
    }
    snprintf(in->algo, sizeof(in->algo), "%s", mrl_outer_algo_name(rc->outer.algo));
    in->params = mrl_alloc(sizeof(double) * in->pol.nparam);
    // its value network, when both it and the adapting config carry one
    int nvalue = 0;
    if (cfg.rl.vf_shared && rc->rl.vf_shared) {
      nvalue = mrl_value_state_len(&cfg, in->fam->nobs);
      in->value_state = mrl_alloc(sizeof(double) * nvalue);
    }
    if (load_latest(dir, &in->pol, in->params, &in->iteration, in->value_state, nvalue, err,
                    errlen)) {
      code = MRL_EXIT_USAGE;
      break;
    }
    for (int d = 0; d < c; d++) {  // two runs of one name: tell them apart
      if (!strcmp(inits[d].name, in->name)) {
        size_t len = strlen(in->name);
        snprintf(in->name + (len < MRL_STRLEN - 8 ? len : MRL_STRLEN - 8), 8, "#%d", (c + 1) % 100);
      }
    }
  }

  // a rank that cannot read a run must not leave the others in a collective
  code = mrl_dist_agree(code, err, errlen);
  int root = mrl_dist_rank() == 0;
  if (code == MRL_EXIT_OK) {
    Init* rnd = &inits[ninit - 1];
    snprintf(rnd->name, sizeof(rnd->name), "random");
    snprintf(rnd->algo, sizeof(rnd->algo), "random");
    mrlRng rng;
    mrl_rng_init(&rng, opt->seed, MRL_RNG_EVAL, 0, 0, 0);
    rnd->params = mrl_alloc(sizeof(double) * pol.nparam);
    mrl_policy_init(&pol, &rng, rnd->params);
    double* x = mrl_alloc(sizeof(double) * ntask);
    size_t ncell = (size_t)ntask * nstep;
    mrlAdaptCurve one = {.returns = mrl_alloc(sizeof(double) * ncell),
                         .mean_length = mrl_alloc(sizeof(double) * ncell),
                         .full_fraction = mrl_alloc(sizeof(double) * ncell)};
    for (int c = 0; c < ninit; c++) {
      mrlAdaptCurve* cv = &inits[c].curve;
      cv->ntask = ntask;
      cv->nstep = nstep;
      memset(cv->returns, 0, sizeof(double) * ncell);
      memset(cv->mean_length, 0, sizeof(double) * ncell);
      memset(cv->full_fraction, 0, sizeof(double) * ncell);
      // each repeat is exactly the evaluation --seed (seed + k) would run; the
      // per-task numbers are summed in repeat order and divided once, so one
      // repeat gives the bits of a plain evaluation (0 + x = x, x / 1 = x)
      for (int k = 0; k < repeats; k++) {
        adapt_split(&inits[c].cfg, inits[c].fam, &inits[c].pol, inits[c].params,
                    inits[c].value_state, ntask, nstep, neps, opt->seed + (uint64_t)k,
                    opt->train_split, &one);
        for (size_t i = 0; i < ncell; i++) {
          cv->returns[i] += one.returns[i];
          cv->mean_length[i] += one.mean_length[i];
          cv->full_fraction[i] += one.full_fraction[i];
        }
        for (int s = 0; s < nstep; s++) {
          for (int j = 0; j < ntask; j++) x[j] = one.returns[(size_t)j * nstep + s];
          inits[c].repeat_mean[(size_t)k * nstep + s] = mrl_stats_mean(x, ntask);
        }
      }
      for (size_t i = 0; i < ncell; i++) {
        cv->returns[i] /= repeats;
        cv->mean_length[i] /= repeats;
        cv->full_fraction[i] /= repeats;
      }
      for (int s = 0; s < nstep; s++) {  // over tasks in task order
        for (int j = 0; j < ntask; j++) x[j] = cv->returns[(size_t)j * nstep + s];
        mrl_stats_summarize(x, ntask, opt->seed, &inits[c].summary[s]);
        for (int j = 0; j < ntask; j++) x[j] = cv->mean_length[(size_t)j * nstep + s];
        inits[c].mean_length[s] = mrl_stats_mean(x, ntask);
        for (int j = 0; j < ntask; j++) x[j] = cv->full_fraction[(size_t)j * nstep + s];
        inits[c].full_fraction[s] = mrl_stats_mean(x, ntask);
      }
    }
    // paired over the same tasks and noise streams: the task-to-task spread,
    // which widens each interval above, cancels in the differences
    for (int c = 1; c < ninit; c++) {
      for (int s = 0; s < nstep; s++) {
        for (int j = 0; j < ntask; j++) {
          size_t at = (size_t)j * nstep + s;
          x[j] = inits[0].curve.returns[at] - inits[c].curve.returns[at];
        }
        mrl_stats_summarize(x, ntask, opt->seed, &inits[c].paired[s]);
      }
    }
    free(x);
    free(one.returns);
    free(one.mean_length);
    free(one.full_fraction);
  }

  // both files through temporaries, renamed only when both are complete
  char dir[4096], csv_path[4200], json_path[4200], csv_tmp[4300] = "", json_tmp[4300] = "";
  Results res = {&cfg, fam, inits, ninit, ntask, nstep, neps, repeats, opt->seed, opt->train_split};
  const char* csv_name = opt->train_split ? "adaptation_train.csv" : "adaptation.csv";
  const char* json_name = opt->train_split ? "summary_train.json" : "summary.json";
  snprintf(dir, sizeof(dir), "%s/eval", rundir);
  snprintf(csv_path, sizeof(csv_path), "%s/%s", dir, csv_name);
  snprintf(json_path, sizeof(json_path), "%s/%s", dir, json_name);
  if (code == MRL_EXIT_OK && root) {  // rank 0 writes for the job
    if (mkdir(dir, 0755) && errno != EEXIST) {
      mrl_error(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
      code = MRL_EXIT_RUNTIME;
    } else if (write_temp(rundir, csv_name, csv_tmp, sizeof(csv_tmp), write_adaptation_csv, &res,
                          err, errlen)) {
      code = MRL_EXIT_RUNTIME;
    } else if (write_temp(rundir, json_name, json_tmp, sizeof(json_tmp), write_summary_json, &res,
                          err, errlen)) {
      unlink(csv_tmp);
      code = MRL_EXIT_RUNTIME;
    } else if (rename(csv_tmp, csv_path) || rename(json_tmp, json_path)) {
      mrl_error(err, errlen, "cannot rename into '%s': %s", dir, strerror(errno));
      unlink(csv_tmp);
      unlink(json_tmp);
      code = MRL_EXIT_RUNTIME;
    }
  }

  if (code == MRL_EXIT_OK && out && root) {
    if (opt->train_split) {
      fprintf(out, "%s: the run's first %d training tasks (seed %llu, meta-batches of %d)",
              cfg.env.name, ntask, (unsigned long long)cfg.seed, cfg.outer.meta_batch);
    } else {
      fprintf(out, "%s: %d held-out tasks (task.test_seed %llu)", cfg.env.name, ntask,
              (unsigned long long)cfg.task.test_seed);
    }
    fprintf(out, ", %d episodes per step, inner lr %g", neps, cfg.inner.lr);
    if (mrl_inner_lr(&cfg, 1) != cfg.inner.lr)
      fprintf(out, " (%g from step 2)", mrl_inner_lr(&cfg, 1));
    if (cfg.inner.adapt == MRL_ADAPT_CONTEXT) fprintf(out, " on the context alone");
    if (repeats > 1) {
      fprintf(out, ", eval seeds %llu..%llu (%d adaptations per task, averaged)\n",
              (unsigned long long)opt->seed, (unsigned long long)(opt->seed + repeats - 1),
              repeats);
    } else {
      fprintf(out, ", eval seed %llu\n", (unsigned long long)opt->seed);
    }
    for (int c = 0; c < ninit; c++) {
      if (inits[c].source[0]) {
        fprintf(out, "  %-20s %s, checkpoint of iteration %d (%s)", inits[c].name, inits[c].algo,
                inits[c].iteration, inits[c].source);
        const mrlConfig* ic = &inits[c].cfg;
        if (inits[c].fam != fam || ic->policy.obs_norm != cfg.policy.obs_norm) {
          fprintf(out,
                  ", its own observation (env.obs_task %s, env.obs_com %s, policy.obs_norm %s)",
                  ic->env.obs_task ? "true" : "false", ic->env.obs_com ? "true" : "false",
                  ic->policy.obs_norm ? "true" : "false");
        }
        const mrlPolicy* ip = &inits[c].pol;
        if (ip->lr_off) {  // inner.learn_lr: what its inner steps multiply the step size by
          fprintf(out, ", learned step multipliers (W, b of each layer, log-std)");
          for (int j = 0; j < MRL_POLICY_NTENSOR(ip); j++) {
            fprintf(out, " %.3g", exp(inits[c].params[ip->lr_off + j]));
          }
        }
        fprintf(out, "\n");
      } else {
        fprintf(out, "  %-20s a random initialization (policy.init_log_std %g)\n", inits[c].name,
                cfg.policy.init_log_std);
      }
    }
    print_interval_table(out, inits, ninit, nstep, 0);
    fprintf(out,
            "(mean return over tasks [95%% bootstrap interval]; per task: %s; with standard "
            "errors and interquartile means: %s)\n",
            csv_path, json_path);
    if (repeats > 1) print_repeat_spread(out, inits, ninit, nstep, repeats);
    fprintf(out, "\n%s minus each other initialization, task by task\n", inits[0].name);
    print_interval_table(out, inits + 1, ninit - 1, nstep, 1);
    fprintf(out,
            "(mean difference [95%% bootstrap interval]: an interval above 0 says %s is ahead on "
            "these tasks)\n",
            inits[0].name);
    // a supervised family's "episode" is one point: its length says nothing
    if (!fam->supervised) {
      fprintf(out,
              "\nmean episode length (fraction of full-horizon episodes), horizon %d env steps\n",
              fam->horizon);
      print_table_header(out, inits, ninit);
      for (int s = 0; s < nstep; s++) {
        fprintf(out, "%-5d", s);
        for (int c = 0; c < ninit; c++) {
          char cell[96];
          snprintf(cell, sizeof(cell), "%.1f (%.2f)", inits[c].mean_length[s],
                   inits[c].full_fraction[s]);
          fprintf(out, "  %-26s", cell);
        }
        fprintf(out, "\n");
      }
      fprintf(out,
              "(means over tasks; per task: the mean_length and full_fraction columns of "
              "%s)\n",
              csv_name);
    }
  }
  for (int c = 0; c < ninit; c++) {
    if (inits[c].fam != fam) mrl_family_free(inits[c].fam);
    free(inits[c].params);
    free(inits[c].value_state);
    free(inits[c].curve.returns);
    free(inits[c].summary);
    free(inits[c].paired);
    free(inits[c].curve.mean_length);
    free(inits[c].curve.full_fraction);
    free(inits[c].mean_length);
    free(inits[c].full_fraction);
    free(inits[c].repeat_mean);
  }
  free(inits);
  mrl_family_free(fam);
  return code;
}
