// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_eval.c: `metarl eval` through its library entry point. A briefly
// trained point_nav run adapts ahead of a random initialization after one
// step; compared runs are checked before anything runs; the files appear
// whole or not at all; and the meta-test during training changes no bit of
// the parameters.

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

// Per-init returns at `step` from adaptation.csv (point_nav: init, task,
// goal_x, goal_y, step, return, episodes).
static int returns_at(const char* csv, const char* init, int step, double* out) {
  FILE* f = fopen(csv, "r");
  cr_assert_not_null(f);
  char line[512];
  int n = 0;
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert_str_eq(line, "init,task,goal_x,goal_y,step,return,episodes\n");
  while (fgets(line, sizeof(line), f)) {
    char name[128];
    int task, s, eps;
    double gx, gy, ret;
    cr_assert_eq(
        sscanf(line, "%127[^,],%d,%lf,%lf,%d,%lf,%d", name, &task, &gx, &gy, &s, &ret, &eps), 7,
        "%s", line);
    if (!strcmp(name, init) && s == step) out[n++] = ret;
  }
  fclose(f);
  return n;
}

Test(eval, meta_learned_ahead_of_random_after_one_step, .init = setup, .fini = teardown,
     .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  char run[4096], err[MRL_ERRLEN];
  train_run(&cfg, "pn", run, sizeof(run));
  mrlEvalOptions opt = {20, 1, 10, 0, 2, 5, 0, NULL};
  cr_assert_eq(mrl_eval_run(run, &opt, NULL, err, sizeof(err)), 0, "%s", err);
  char csv[4300], json[4300], dir[4200];
  snprintf(dir, sizeof(dir), "%s/eval", run);
  snprintf(csv, sizeof(csv), "%s/adaptation.csv", dir);
  snprintf(json, sizeof(json), "%s/summary.json", dir);
  cr_assert_eq(count_entries(dir), 2, "eval/ holds exactly the two files, no temporaries");
  // config.yaml, meta.json, checkpoints/, progress.csv, the event file, eval/
  cr_assert_eq(count_entries(run), 6, "no temporary left in the run directory");
  double meta[20], rnd[20];
  cr_assert_eq(returns_at(csv, "pn", 1, meta), 20);
  cr_assert_eq(returns_at(csv, "random", 1, rnd), 20);
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
  snprintf(want, sizeof(want), "\"ci95_low\": %.17g, \"ci95_high\": %.17g, \"iqm\": %.17g}",
           m.ci_low, m.ci_high, m.iqm);
  cr_assert_not_null(strstr(text, want), "%s not in\n%s", want, text);
}

Test(eval, compare_runs_checked_before_anything_is_written, .init = setup, .fini = teardown,
     .timeout = 120) {
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
  mrlEvalOptions opt = {3, 1, 2, 0, 1, 1, 2, other_shape};
  cr_assert_eq(mrl_eval_run(a, &opt, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "hidden=[32,16]"), "%s", err);
  cr_assert_not_null(strstr(err, "hidden=[32,32]"), "%s", err);
  cr_assert_eq(count_entries(evaldir), -1, "nothing written: %s", evaldir);

  const char* missing[] = {"/nonexistent/run"};
  mrlEvalOptions opt2 = {3, 1, 2, 0, 1, 1, 1, missing};
  cr_assert_eq(mrl_eval_run(a, &opt2, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "not a run directory"), "%s", err);
  cr_assert_eq(count_entries(evaldir), -1);

  // a run without a checkpoint
  char ckpt[4200];
  snprintf(ckpt, sizeof(ckpt), "%s/checkpoints/latest.ckpt", c);
  cr_assert_eq(unlink(ckpt), 0);
  mrlEvalOptions opt3 = {3, 1, 2, 0, 1, 1, 0, NULL};
  cr_assert_eq(mrl_eval_run(c, &opt3, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "has no checkpoint"), "%s", err);
  snprintf(evaldir, sizeof(evaldir), "%s/eval", c);
  cr_assert_eq(count_entries(evaldir), -1);

  // the same shape compares: three inits, the joint run named by its folder
  const char* same[] = {b};
  mrlEvalOptions opt4 = {3, 1, 2, 0, 1, 1, 1, same};
  cr_assert_eq(mrl_eval_run(a, &opt4, NULL, err, sizeof(err)), 0, "%s", err);
  snprintf(evaldir, sizeof(evaldir), "%s/eval/summary.json", a);
  const char* text = slurp(evaldir);
  cr_assert_not_null(strstr(text, "{\"name\": \"a\", \"algo\": \"reptile\""), "%s", text);
  cr_assert_not_null(strstr(text, "{\"name\": \"b\", \"algo\": \"joint\""), "%s", text);
  cr_assert_not_null(strstr(text, "{\"name\": \"random\", \"algo\": \"random\""), "%s", text);
}

// Statistics and the meta-test read the parameters and never write them.
Test(eval, meta_test_in_training_changes_no_bit, .init = setup, .fini = teardown, .timeout = 120) {
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
