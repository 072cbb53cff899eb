// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_eval.c: `metarl eval` through its library entry point. A briefly
// trained point_nav run adapts ahead of a random initialization after one
// step; compared runs are checked before anything runs; the files appear
// whole or not at all; the meta-test during training changes no bit of
// the parameters; and the episode lengths eval reports are those of the
// batches it samples, the same for any thread count.

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

static char tmpdir[64];

static void setup(void) {
  openblas_set_num_threads(1);
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/metarl_eval_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  cr_assert_eq(system(cmd), 0);
}

static void small_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  cfg->seed = 3;
  cfg->threads = 2;
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = 32;
  cfg->policy.hidden[1] = 32;
  cfg->policy.init_log_std = -1;
  cfg->inner.lr = 0.3;
  cfg->inner.steps = 2;
  cfg->inner.episodes = 10;
  cfg->outer.meta_batch = 8;
  cfg->outer.iterations = 40;
  cfg->eval.every = 0;
}

// The policy of cfg for fam in pol, and freshly initialized parameters drawn
// with seed (caller frees).
static double* fresh_params(const mrlConfig* cfg, const mrlFamily* fam, uint64_t seed,
                            mrlPolicy* pol) {
  mrl_policy_setup(pol, cfg, fam->nobs, fam->nact);
  double* params = mrl_alloc(sizeof(double) * pol->nparam);
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(pol, &rng, params);
  return params;
}

// Train cfg into tmpdir/name; the run directory lands in path.
static void train_run(const mrlConfig* cfg, const char* name, char* path, size_t n) {
  char out[256], err[MRL_ERRLEN];
  snprintf(out, sizeof(out), "%s/%s", tmpdir, name);
  char* argv[] = {"test"};
  cr_assert_eq(mrl_rundir_create(cfg, out, 1, argv, path, n, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(mrl_train_run(cfg, path, NULL, err, sizeof(err)), 0, "%s", err);
}

// Entries of dir other than . and .., or -1 if it does not exist.
static int count_entries(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent* de;
  while ((de = readdir(d))) n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
  closedir(d);
  return n;
}

static char* slurp(const char* path) {
  FILE* f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot read %s", path);
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

// Evaluate run with opt, which must succeed; what it printed (caller frees).
static char* eval_printed(const char* run, const mrlEvalOptions* opt) {
  char* printed = NULL;
  size_t printed_len = 0;
  char err[MRL_ERRLEN];
  FILE* out = open_memstream(&printed, &printed_len);
  cr_assert_not_null(out);
  cr_assert_eq(mrl_eval_run(run, opt, out, err, sizeof(err)), 0, "%s", err);
  fclose(out);
  return printed;
}

// Per-init returns, mean episode lengths and full-horizon fractions at `step`
// from adaptation.csv (point_nav: init, task, goal_x, goal_y, step, return,
// episodes, mean_length, full_fraction, repeats), in task order; every row's
// repeats must be `repeats`.
static int returns_at_repeats(const char* csv, const char* init, int step, int repeats,
                              double* ret_out, double* len_out, double* full_out) {
  FILE* f = fopen(csv, "r");
  cr_assert_not_null(f);
  char line[512];
  int n = 0;
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert_str_eq(line,
                   "init,task,goal_x,goal_y,step,return,episodes,mean_length,full_fraction,"
                   "repeats\n");
  while (fgets(line, sizeof(line), f)) {
    char name[128];
    int task, s, eps, rep;
    double gx, gy, ret, len, full;
    cr_assert_eq(sscanf(line, "%127[^,],%d,%lf,%lf,%d,%lf,%d,%lf,%lf,%d", name, &task, &gx, &gy, &s,
                        &ret, &eps, &len, &full, &rep),
                 10, "%s", line);
    cr_assert_eq(rep, repeats, "%s", line);
    if (strcmp(name, init) || s != step) continue;
    ret_out[n] = ret;
    if (len_out) len_out[n] = len;
    if (full_out) full_out[n] = full;
    n++;
  }
  fclose(f);
  return n;
}

static int returns_at(const char* csv, const char* init, int step, double* ret_out, double* len_out,
                      double* full_out) {
  return returns_at_repeats(csv, init, step, 1, ret_out, len_out, full_out);
}

// Checks of one (task, step) cell that hold for any batch: 1 <= length <=
// horizon, a fraction in [0, 1], all episodes full exactly when the mean
// length is the horizon.
static void check_lengths(double len, double full, int horizon) {
  cr_assert(len >= 1 && len <= horizon, "mean_length %.17g outside [1, %d]", len, horizon);
  cr_assert(full >= 0 && full <= 1, "full_fraction %.17g", full);
  cr_assert_eq(full == 1, len == horizon, "full_fraction %.17g, mean_length %.17g, horizon %d",
               full, len, horizon);
}

Test(eval, meta_learned_ahead_of_random_after_one_step, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  char run[4096];
  train_run(&cfg, "pn", run, sizeof(run));
  mrlEvalOptions opt = {20, 1, 10, 0, 2, 5, 0, NULL, 0, 1, 0};
  char* printed = eval_printed(run, &opt);
  char csv[4300], json[4300], dir[4200];
  snprintf(dir, sizeof(dir), "%s/eval", run);
  snprintf(csv, sizeof(csv), "%s/adaptation.csv", dir);
  snprintf(json, sizeof(json), "%s/summary.json", dir);
  cr_assert_eq(count_entries(dir), 2, "eval/ holds exactly the two files, no temporaries");
  // config.yaml, meta.json, checkpoints/, progress.csv, the event file, eval/
  cr_assert_eq(count_entries(run), 6, "no temporary left in the run directory");
  double meta[20], rnd[20], len[20], full[20];
  cr_assert_eq(returns_at(csv, "pn", 1, meta, len, full), 20);
  cr_assert_eq(returns_at(csv, "random", 1, rnd, NULL, NULL), 20);
  mrlSummary m, r;
  mrl_stats_summarize(meta, 20, 5, &m);
  mrl_stats_summarize(rnd, 20, 5, &r);
  cr_log_info("after 1 step: meta-learned %.2f [%.2f, %.2f], random %.2f [%.2f, %.2f]", m.mean,
              m.ci_low, m.ci_high, r.mean, r.ci_low, r.ci_high);
  cr_assert(m.ci_low > r.ci_high, "meta-learned %.2f [%.2f, %.2f] vs random %.2f [%.2f, %.2f]",
            m.mean, m.ci_low, m.ci_high, r.mean, r.ci_low, r.ci_high);
  // summary.json carries the same numbers, printed exactly
  const char* text = slurp(json);
  char want[256];
  snprintf(want, sizeof(want), "{\"step\": 1, \"n\": 20, \"mean\": %.17g, \"stderr\": %.17g",
           m.mean, m.sem);
  cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
  snprintf(want, sizeof(want), "\"ci95_low\": %.17g, \"ci95_high\": %.17g, \"iqm\": %.17g,",
           m.ci_low, m.ci_high, m.iqm);
  cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
  // episode lengths: per task in the CSV, their means over tasks in the JSON
  // and in the second printed table (point_nav ends at the goal)
  for (int j = 0; j < 20; j++) check_lengths(len[j], full[j], cfg.env.horizon);
  double mlen = mrl_stats_mean(len, 20), mfull = mrl_stats_mean(full, 20);
  snprintf(want, sizeof(want), "\"mean_length\": %.17g, \"full_fraction\": %.17g,", mlen, mfull);
  cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
  cr_log_info("after 1 step: mean episode length %.2f, full-horizon fraction %.3f", mlen, mfull);
  cr_assert_not_null(strstr(printed,
                            "\nmean episode length (fraction of full-horizon episodes), "
                            "horizon 100 env steps\nstep "),
                     "%s", printed);
  snprintf(want, sizeof(want), "\n1      %.1f (%.2f) ", mlen, mfull);  // step 1, column pn
  const char* table = strstr(printed, "\nmean episode length");
  cr_assert_not_null(strstr(table, want), "'%s' not in\n%s", want, printed);
  // the paired differences: the run minus the random init, task by task
  double diff[20];
  for (int j = 0; j < 20; j++) diff[j] = meta[j] - rnd[j];
  mrlSummary d;
  mrl_stats_summarize(diff, 20, 5, &d);
  cr_assert_gt(d.ci_high - d.ci_low, 0);
  snprintf(want, sizeof(want),
           "{\"step\": 1, \"n\": 20, \"mean\": %.17g, \"stderr\": %.17g, \"ci95_low\": %.17g, "
           "\"ci95_high\": %.17g}",
           d.mean, d.sem, d.ci_low, d.ci_high);
  const char* paired = strstr(text, "\"run_minus_this\": [");
  cr_assert_not_null(paired, "no paired differences in\n%s", text);
  cr_assert_not_null(strstr(paired, want), "%s not in\n%s", want, text);
  cr_assert_null(strstr(paired + 1, "\"run_minus_this\""), "one list: the random init's");
  snprintf(want, sizeof(want), "\n1      %+.2f [%+.2f, %+.2f] ", d.mean, d.ci_low, d.ci_high);
  table = strstr(printed, "\npn minus each other initialization, task by task\nstep   random");
  cr_assert_not_null(table, "%s", printed);
  cr_assert_not_null(strstr(table, want), "'%s' not in\n%s", want, printed);
  free(printed);
}

Test(eval, compare_runs_checked_before_anything_is_written, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 2;
  char a[4096], b[4096], c[4096], err[MRL_ERRLEN];
  train_run(&cfg, "a", a, sizeof(a));
  cfg.outer.algo = MRL_OUTER_JOINT;
  train_run(&cfg, "b", b, sizeof(b));
  cfg.policy.hidden[1] = 16;  // another shape
  train_run(&cfg, "c", c, sizeof(c));
  char evaldir[4200];
  snprintf(evaldir, sizeof(evaldir), "%s/eval", a);

  const char* other_shape[] = {b, c};
  mrlEvalOptions opt = {3, 1, 2, 0, 1, 1, 2, other_shape, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(a, &opt, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "hidden=[32,16]"), "%s", err);
  cr_assert_not_null(strstr(err, "hidden=[32,32]"), "%s", err);
  cr_assert_eq(count_entries(evaldir), -1, "nothing written: %s", evaldir);

  const char* missing[] = {"/nonexistent/run"};
  mrlEvalOptions opt2 = {3, 1, 2, 0, 1, 1, 1, missing, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(a, &opt2, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "not a run directory"), "%s", err);
  cr_assert_eq(count_entries(evaldir), -1);

  // a run without a checkpoint
  char ckpt[4200];
  snprintf(ckpt, sizeof(ckpt), "%s/checkpoints/latest.ckpt", c);
  cr_assert_eq(unlink(ckpt), 0);
  mrlEvalOptions opt3 = {3, 1, 2, 0, 1, 1, 0, NULL, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(c, &opt3, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "has no checkpoint"), "%s", err);
  snprintf(evaldir, sizeof(evaldir), "%s/eval", c);
  cr_assert_eq(count_entries(evaldir), -1);

  // the same shape compares: three inits, the joint run named by its folder
  const char* same[] = {b};
  mrlEvalOptions opt4 = {3, 1, 2, 0, 1, 1, 1, same, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(a, &opt4, NULL, err, sizeof(err)), 0, "%s", err);
  snprintf(evaldir, sizeof(evaldir), "%s/eval/summary.json", a);
  const char* text = slurp(evaldir);
  cr_assert_not_null(strstr(text, "{\"name\": \"a\", \"algo\": \"reptile\""), "%s", text);
  cr_assert_not_null(strstr(text, "{\"name\": \"b\", \"algo\": \"joint\""), "%s", text);
  cr_assert_not_null(strstr(text, "{\"name\": \"random\", \"algo\": \"random\""), "%s", text);
}

// Evaluate run `other` (labelled `name`) compared from run `base`, then on
// its own: it must score the same, task by task and step by step.
static void compared_scores_as_alone(const char* base, const char* other, const char* name) {
  char err[MRL_ERRLEN], csv[4200];
  const char* list[] = {other};
  mrlEvalOptions opt = {6, 1, 4, 0, 1, 1, 1, list, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(base, &opt, NULL, err, sizeof(err)), 0, "%s", err);
  double compared[2][6], alone[2][6];
  snprintf(csv, sizeof(csv), "%s/eval/adaptation.csv", base);
  for (int s = 0; s < 2; s++) {
    cr_assert_eq(returns_at(csv, name, s, compared[s], NULL, NULL), 6);
  }
  mrlEvalOptions own = {6, 1, 4, 0, 1, 1, 0, NULL, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(other, &own, NULL, err, sizeof(err)), 0, "%s", err);
  snprintf(csv, sizeof(csv), "%s/eval/adaptation.csv", other);
  for (int s = 0; s < 2; s++) {
    cr_assert_eq(returns_at(csv, name, s, alone[s], NULL, NULL), 6);
    for (int j = 0; j < 6; j++) {
      cr_assert_eq(compared[s][j], alone[s][j], "task %d step %d: %.17g compared, %.17g alone", j,
                   s, compared[s][j], alone[s][j]);
    }
  }
}

// A compared run trained on another observation (here the oracle's,
// env.obs_task) is evaluated with its own: in the comparison it scores, task
// by task and step by step, what it scores evaluated on its own -- the same
// tasks and noise streams. A run of another family is still refused.
Test(eval, a_compared_run_keeps_its_own_observation, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 3;
  char blind[4096], oracle[4096];
  train_run(&cfg, "blind", blind, sizeof(blind));
  cfg.outer.algo = MRL_OUTER_JOINT;
  cfg.env.obs_task = 1;
  train_run(&cfg, "oracle", oracle, sizeof(oracle));
  compared_scores_as_alone(blind, oracle, "oracle");
}

// The same for a run with learned inner step sizes (inner.learn_lr): compared
// from a run without them, it adapts with its own multipliers.
Test(eval, a_compared_run_keeps_its_learned_step_sizes, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 3;
  char plain[4096], rated[4096];
  train_run(&cfg, "plain", plain, sizeof(plain));
  cfg.outer.algo = MRL_OUTER_MAML;
  cfg.outer.optim = MRL_OPT_TRPO;
  cfg.inner.learn_lr = 1;
  cfg.inner.learn_lr_step = 0.1;
  train_run(&cfg, "rated", rated, sizeof(rated));
  compared_scores_as_alone(plain, rated, "rated");
}

// Statistics and the meta-test read the parameters and never write them.
Test(eval, meta_test_in_training_changes_no_bit, .init = setup, .fini = teardown, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 4;
  char a[4096], b[4096];
  train_run(&cfg, "off", a, sizeof(a));
  cfg.eval.every = 2;
  cfg.eval.train_tasks = 3;
  cfg.eval.episodes = 4;
  train_run(&cfg, "on", b, sizeof(b));
  char pa[4200], pb[4200];
  snprintf(pa, sizeof(pa), "%s/checkpoints/latest.ckpt", a);
  snprintf(pb, sizeof(pb), "%s/checkpoints/latest.ckpt", b);
  FILE* fa = fopen(pa, "rb");
  FILE* fb = fopen(pb, "rb");
  cr_assert(fa && fb);
  static unsigned char ba[1 << 20], bb[1 << 20];
  size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
  fclose(fa);
  fclose(fb);
  cr_assert(na > 0 && na == nb && !memcmp(ba, bb, na), "checkpoints differ");
}

// The walker with a random initialization falls in some episodes and not in
// others: the lengths mrl_eval_adapt reports per task and step are those of
// the batches mrl_inner_adapt samples with the same keys, counted here
// independently from their valid rows, and the same bits on 1 and 2 threads.
Test(eval, episode_lengths_are_those_of_the_sampled_batches, .init = setup, .fini = teardown,
     .timeout = 300) {
  enum { NTASK = 3, NSTEP = 3, NEPS = 4 };
  const uint64_t seed = 7;
  mrlConfig cfg;
  char err[MRL_ERRLEN];
  mrl_config_default(&cfg);
  cr_assert_eq(
      mrl_config_load(&cfg, METARL_SOURCE_DIR "/configs/slope_walker_200.yaml", err, sizeof(err)),
      0, "%s", err);
  cfg.env.horizon = 100;
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  int T = fam->horizon;
  mrlPolicy pol;
  double* params = fresh_params(&cfg, fam, 1, &pol);

  double ret[2][NTASK * NSTEP], len[2][NTASK * NSTEP], full[2][NTASK * NSTEP];
  for (int t = 0; t < 2; t++) {
    cfg.threads = t + 1;
    mrlAdaptCurve curve = {.returns = ret[t], .mean_length = len[t], .full_fraction = full[t]};
    mrl_eval_adapt(&cfg, fam, &pol, params, NTASK, NSTEP, NEPS, seed, &curve);
  }
  cr_assert(!memcmp(ret[0], ret[1], sizeof(ret[0])), "returns differ between 1 and 2 threads");
  cr_assert(!memcmp(len[0], len[1], sizeof(len[0])), "lengths differ between 1 and 2 threads");
  cr_assert(!memcmp(full[0], full[1], sizeof(full[0])), "fractions differ");

  // the same adaptations again, every batch kept (the streams eval uses:
  // seed, iteration 0, task key j)
  mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, NEPS);
  mrlBatch* saved[NSTEP];
  for (int s = 0; s < NSTEP; s++) saved[s] = mrl_batch_make(NEPS, T, fam->nobs, fam->nact);
  double* thetas = mrl_alloc(sizeof(double) * NSTEP * pol.nparam);
  double* task = mrl_alloc(sizeof(double) * fam->ntask);
  int early = 0, full_eps = 0;
  for (int j = 0; j < NTASK; j++) {
    mrl_task_sample(fam, &cfg, 1, 0, j, task);
    mrl_learner_lend(ln, NSTEP, saved, thetas);
    double r[NSTEP];
    mrl_inner_adapt(&cfg, ln, task, params, NSTEP - 1, seed, 0, j, 0, r);
    for (int s = 0; s < NSTEP; s++) {
      int at = j * NSTEP + s;
      cr_assert_eq(r[s], ret[0][at], "task %d step %d: not the batch eval sampled", j, s);
      const mrlBatch* b = saved[s];
      long sum = 0;
      int nfull = 0;
      for (int i = 0; i < NEPS; i++) {
        int steps = 0;  // an episode's rows are valid until it ends
        for (int k = 0; k < T; k++) steps += b->valid[(size_t)k * NEPS + i] != 0;
        sum += steps;
        nfull += steps == T;
        early += steps < T;
      }
      full_eps += nfull;
      cr_assert_eq(len[0][at], (double)sum / NEPS, "task %d step %d: mean_length %.17g, want %g", j,
                   s, len[0][at], (double)sum / NEPS);
      cr_assert_eq(full[0][at], (double)nfull / NEPS, "task %d step %d: full_fraction %.17g", j, s,
                   full[0][at]);
      check_lengths(len[0][at], full[0][at], T);
    }
  }
  cr_log_info("%d of %d episodes ended before the horizon", early, NTASK * NSTEP * NEPS);
  cr_assert_gt(early, 0, "no episode ended early: the test checks nothing about early ends");
  cr_assert_gt(full_eps, 0, "no episode ran the horizon: full_fraction is never exercised");
  for (int s = 0; s < NSTEP; s++) mrl_batch_free(saved[s]);
  free(thetas);
  free(task);
  mrl_learner_free(ln);
  free(params);
  mrl_family_free(fam);
}

// A supervised family's episodes are single points: eval writes their lengths
// (1, all "full") but prints no table of them.
Test(eval, no_length_table_for_a_supervised_family, .init = setup, .fini = teardown,
     .timeout = 60) {
  mrlConfig cfg;
  char run[4096], err[MRL_ERRLEN];
  mrl_config_default(&cfg);
  cr_assert_eq(
      mrl_config_load(&cfg, METARL_SOURCE_DIR "/configs/sine_reptile.yaml", err, sizeof(err)), 0,
      "%s", err);
  cfg.outer.iterations = 2;
  cfg.threads = 1;
  train_run(&cfg, "sine", run, sizeof(run));
  mrlEvalOptions opt = {3, 1, 4, 0, 1, 1, 0, NULL, 0, 1, 0};
  char* printed = eval_printed(run, &opt);
  cr_assert_not_null(strstr(printed, "mean return over tasks"), "%s", printed);
  cr_assert_null(strstr(printed, "episode length"), "%s", printed);
  char csv[4300];
  snprintf(csv, sizeof(csv), "%s/eval/adaptation.csv", run);
  const char* text = slurp(csv);
  cr_assert_not_null(strstr(text, ",step,return,episodes,mean_length,full_fraction,repeats\n"),
                     "%s", text);
  cr_assert_not_null(strstr(text, ",4,1,1,1\n"), "%s", text);
  free(printed);
}

// --repeats R is R evaluations with eval seeds S..S+R-1 in one: each per-task
// return is the mean of theirs (summed in seed order, divided once, so the bits
// are predictable), summary.json holds each seed's mean over tasks, and the
// spread of those means is printed; the random initialization is still drawn
// once, from S.
Test(eval, repeats_average_the_evaluations_of_consecutive_seeds, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 5;
  char run[4096], err[MRL_ERRLEN], csv[4300], json[4300];
  train_run(&cfg, "pn", run, sizeof(run));
  snprintf(csv, sizeof(csv), "%s/eval/adaptation.csv", run);
  snprintf(json, sizeof(json), "%s/eval/summary.json", run);
  enum { NT = 6, NS = 2, R = 3 };
  double one[R][NS][NT], sum[NS][NT] = {{0}}, len_sum[NT] = {0}, rnd[R][NT];
  for (int k = 0; k < R; k++) {
    mrlEvalOptions opt = {NT, NS - 1, 4, 0, 1, 5 + k, 0, NULL, 0, 1, 0};
    cr_assert_eq(mrl_eval_run(run, &opt, NULL, err, sizeof(err)), 0, "%s", err);
    double len[NT];
    for (int s = 0; s < NS; s++) {
      cr_assert_eq(returns_at(csv, "pn", s, one[k][s], s == 1 ? len : NULL, NULL), NT);
      for (int j = 0; j < NT; j++) sum[s][j] += one[k][s][j];
    }
    for (int j = 0; j < NT; j++) len_sum[j] += len[j];
    cr_assert_eq(returns_at(csv, "random", 0, rnd[k], NULL, NULL), NT);
  }
  cr_assert_neq(one[0][1][0], one[1][1][0], "eval seeds 5 and 6 drew the same episodes");
  mrlEvalOptions opt = {NT, NS - 1, 4, 0, 2, 5, 0, NULL, 0, R, 0};  // and on two threads
  char* printed = eval_printed(run, &opt);
  double got[NT], len[NT];
  for (int s = 0; s < NS; s++) {
    cr_assert_eq(returns_at_repeats(csv, "pn", s, R, got, len, NULL), NT);
    for (int j = 0; j < NT; j++) {
      cr_assert_eq(got[j], sum[s][j] / R, "task %d step %d: %.17g, want %.17g", j, s, got[j],
                   sum[s][j] / R);
      if (s == 1) cr_assert_eq(len[j], len_sum[j] / R, "task %d: mean_length %.17g", j, len[j]);
    }
  }
  const char* text = slurp(json);
  cr_assert_not_null(strstr(text, "\"eval_seed\": 5,\n  \"repeats\": 3,"), "%s", text);
  char want[512];
  snprintf(want, sizeof(want), "\"repeat_means\": [%.17g, %.17g, %.17g]}",
           mrl_stats_mean(one[0][1], NT), mrl_stats_mean(one[1][1], NT),
           mrl_stats_mean(one[2][1], NT));
  cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
  cr_assert_not_null(strstr(printed, "eval seeds 5..7 (3 adaptations per task, averaged)"), "%s",
                     printed);
  const char* spread =
      strstr(printed, "standard deviation [lowest, highest] of the 3 seeds' means\nstep   pn");
  cr_assert_not_null(spread, "%s", printed);
  double m[R], lo = INFINITY, hi = -INFINITY, ss = 0;
  for (int k = 0; k < R; k++) {
    m[k] = mrl_stats_mean(one[k][1], NT);
    lo = fmin(lo, m[k]);
    hi = fmax(hi, m[k]);
  }
  double mm = mrl_stats_mean(m, R);
  for (int k = 0; k < R; k++) ss += (m[k] - mm) * (m[k] - mm);
  snprintf(want, sizeof(want), "\n1      sd %.2f [%.2f, %.2f] ", sqrt(ss / (R - 1)), lo, hi);
  cr_assert_not_null(strstr(spread, want), "'%s' not in\n%s", want, printed);
  // the random init is drawn once, from seed 5: its first repeat is seed 5's
  // evaluation, its second is not seed 6's (whose random init differs)
  const char* random = strstr(text, "{\"name\": \"random\"");
  cr_assert_not_null(random, "%s", text);
  double r5 = mrl_stats_mean(rnd[0], NT), r6 = mrl_stats_mean(rnd[1], NT);
  snprintf(want, sizeof(want), "\"repeat_means\": [%.17g, ", r5);
  const char* first = strstr(random, want);
  cr_assert_not_null(first, "%s not in\n%s", want, random);
  double second;
  cr_assert_eq(sscanf(first + strlen(want), "%lf", &second), 1);
  cr_assert_neq(second, r6, "the random init was drawn again from seed 6");
  free(printed);
}

// inner.later_lr changes the steps after the first only: the returns before
// adaptation and after one step keep their bits, those after two do not; set
// equal to inner.lr it is the same as unset.
Test(eval, later_lr_changes_only_the_later_steps, .timeout = 60) {
  mrlConfig cfg;
  small_config(&cfg);
  char err[MRL_ERRLEN];
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrlPolicy pol;
  double* phi = fresh_params(&cfg, fam, 7, &pol);
  enum { NTASK = 3, NSTEP = 3 };
  double later[3] = {0, cfg.inner.lr, cfg.inner.lr / 4};
  double ret[3][NTASK * NSTEP];
  for (int v = 0; v < 3; v++) {
    cfg.inner.later_lr = later[v];
    mrlAdaptCurve curve = {.returns = ret[v]};
    mrl_eval_adapt(&cfg, fam, &pol, phi, NTASK, NSTEP, 5, 9, &curve);
  }
  cr_assert_eq(memcmp(ret[0], ret[1], sizeof(ret[0])), 0, "later_lr = lr must change nothing");
  int differ = 0;
  for (int j = 0; j < NTASK; j++) {
    for (int s = 0; s < 2; s++) {
      cr_assert_eq(ret[2][j * NSTEP + s], ret[0][j * NSTEP + s], "task %d step %d", j, s);
    }
    differ += ret[2][j * NSTEP + 2] != ret[0][j * NSTEP + 2];
  }
  cr_assert_eq(differ, NTASK, "a smaller later step must change every task's third batch");
  free(phi);
  mrl_family_free(fam);
}

// --split train adapts on the run's own training tasks: task j is slot
// j % meta_batch of meta-iteration j / meta_batch, the CSV names those tasks and
// holds what adapting there scores (checked on the random initialization,
// redrawn here from the eval seed), and the held-out evaluation's files stay
// as they were.
Test(eval, train_split_adapts_on_the_runs_training_tasks, .init = setup, .fini = teardown,
     .timeout = 300) {
  enum { NT = 10, NS = 2, NEPS = 4 };  // NT > meta_batch 8: two meta-iterations
  const uint64_t seed = 5;
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.iterations = 2;
  char run[4096], err[MRL_ERRLEN], dir[4200], csv[4300], train_csv[4300], json[4300];
  train_run(&cfg, "pn", run, sizeof(run));
  snprintf(dir, sizeof(dir), "%s/eval", run);
  snprintf(csv, sizeof(csv), "%s/adaptation.csv", dir);
  snprintf(train_csv, sizeof(train_csv), "%s/adaptation_train.csv", dir);
  snprintf(json, sizeof(json), "%s/summary_train.json", dir);
  mrlEvalOptions opt = {NT, NS - 1, NEPS, 0, 1, seed, 0, NULL, 0, 1, 0};
  cr_assert_eq(mrl_eval_run(run, &opt, NULL, err, sizeof(err)), 0, "%s", err);
  char* held_out = strdup(slurp(csv));
  opt.train_split = 1;
  char* printed = eval_printed(run, &opt);
  cr_assert_str_eq(slurp(csv), held_out, "the held-out adaptation.csv was rewritten");
  cr_assert_eq(count_entries(dir), 4, "both splits' two files, no temporaries");
  cr_assert_not_null(
      strstr(printed, "the run's first 10 training tasks (seed 3, meta-batches of 8)"), "%s",
      printed);
  cr_assert_not_null(strstr(printed, "columns of adaptation_train.csv)"), "%s", printed);
  cr_assert_not_null(strstr(slurp(json), "\"split\": \"train\","), "%s", slurp(json));

  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  double* params = mrl_alloc(sizeof(double) * pol.nparam);
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_EVAL, 0, 0, 0);  // eval's random initialization
  mrl_policy_init(&pol, &rng, params);
  mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, NEPS);
  double task[2], test_task[2], want[NT][NS], got[NT][NS], goal[NT][2];
  for (int j = 0; j < NT; j++) {
    int batch = cfg.outer.meta_batch;
    mrl_task_sample(fam, &cfg, 0, (uint64_t)(j / batch), (uint64_t)(j % batch), task);
    mrl_task_sample(fam, &cfg, 1, 0, (uint64_t)j, test_task);
    cr_assert(task[0] != test_task[0], "training task %d is held-out task %d", j, j);
    mrl_inner_adapt(&cfg, ln, task, params, NS - 1, seed, 0, (uint64_t)j, 0, want[j]);
    goal[j][0] = task[0];
    goal[j][1] = task[1];
  }
  FILE* f = fopen(train_csv, "r");
  cr_assert_not_null(f);
  char line[512];
  int n = 0;
  cr_assert_not_null(fgets(line, sizeof(line), f));
  while (fgets(line, sizeof(line), f)) {
    char name[128];
    int j, s;
    double gx, gy, ret;
    cr_assert_eq(sscanf(line, "%127[^,],%d,%lf,%lf,%d,%lf", name, &j, &gx, &gy, &s, &ret), 6);
    cr_assert(j >= 0 && j < NT && s >= 0 && s < NS, "%s", line);
    cr_assert(gx == goal[j][0] && gy == goal[j][1],
              "task %d: goal (%.17g, %.17g), want (%.17g, %.17g)", j, gx, gy, goal[j][0],
              goal[j][1]);
    if (strcmp(name, "random")) continue;
    got[j][s] = ret;
    n++;
  }
  fclose(f);
  cr_assert_eq(n, NT * NS);
  for (int j = 0; j < NT; j++) {
    for (int s = 0; s < NS; s++) {
      cr_assert_eq(got[j][s], want[j][s], "task %d step %d: %.17g, want %.17g", j, s, got[j][s],
                   want[j][s]);
    }
  }
  mrl_learner_free(ln);
  free(params);
  mrl_family_free(fam);
  free(held_out);
  free(printed);
}
