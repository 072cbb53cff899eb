// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_resume.c: a run interrupted at iteration i and resumed from its
// checkpoint ends with the same bits as a run never interrupted: parameters,
// Adam moments and step count, env-step count; progress.csv gets each
// iteration once. A version-1 checkpoint (parameters only) is refused.

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

static char dir[256];

static void setup(void) {
  openblas_set_num_threads(1);
  snprintf(dir, sizeof(dir), "/tmp/metarl-resume-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(resume, .init = setup, .fini = teardown);

static void small_config(mrlConfig* cfg, mrlOuterAlgo algo) {
  mrl_config_default(cfg);
  cfg->seed = 9;
  cfg->threads = 2;
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = cfg->policy.hidden[1] = 16;
  cfg->policy.init_log_std = -1;
  cfg->env.horizon = 50;
  cfg->inner.lr = 0.3;
  cfg->inner.steps = 2;
  cfg->inner.episodes = 8;
  cfg->outer.algo = algo;
  cfg->outer.optim = MRL_OPT_ADAM;
  cfg->outer.lr = 0.01;
  cfg->outer.meta_batch = 4;
  cfg->outer.iterations = 6;
  cfg->log.checkpoint_every = 1;
}

static mrlTrainer* make(const mrlConfig* cfg) {
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  return tr;
}

static void run(mrlTrainer* tr, int iterations) {
  char err[MRL_ERRLEN];
  for (int i = 0; i < iterations; i++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
  }
}

static void check_trainer_resume(mrlOuterAlgo algo, int adam, int vf_shared, int learn_lr) {
  mrlConfig cfg;
  small_config(&cfg, algo);
  if (!adam) cfg.outer.optim = MRL_OPT_TRPO;
  if (vf_shared) {
    cfg.rl.baseline = MRL_BASELINE_MLP;
    cfg.rl.vf_shared = 1;
  }
  cfg.inner.learn_lr = learn_lr;
  char err[MRL_ERRLEN], path[512];
  snprintf(path, sizeof(path), "%s/mid.ckpt", dir);
  mrlTrainer* a = make(&cfg);
  run(a, 6);
  mrlTrainer* b = make(&cfg);
  run(b, 3);
  cr_assert_eq(mrl_trainer_save(b, path, err, sizeof(err)), 0, "%s", err);
  mrl_trainer_free(b);
  mrlTrainer* c = make(&cfg);
  cr_assert_eq(mrl_trainer_restore(c, path, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(mrl_trainer_iteration(c), 3);
  run(c, 3);
  int n = mrl_trainer_policy(a)->nparam;
  cr_assert_eq(memcmp(mrl_trainer_params(a), mrl_trainer_params(c), sizeof(double) * n), 0,
               "resumed parameters differ");
  cr_assert_eq(mrl_trainer_total_steps(a), mrl_trainer_total_steps(c));
  mrlOptim *oa = mrl_trainer_outer_optim(a), *oc = mrl_trainer_outer_optim(c);
  cr_assert_eq(oa->t, oc->t);
  if (adam) {
    cr_assert_eq(memcmp(oa->m, oc->m, sizeof(double) * n), 0);
    cr_assert_eq(memcmp(oa->v, oc->v, sizeof(double) * n), 0);
  }
  // without the optimizer state the run would differ: the test can fail
  // (plain reptile has no optimizer: its state is the iteration alone)
  if (adam && algo != MRL_OUTER_REPTILE) {
    mrlTrainer* d = make(&cfg);
    mrlOptim* od = mrl_trainer_outer_optim(d);
    cr_assert_eq(mrl_trainer_restore(d, path, err, sizeof(err)), 0, "%s", err);
    mrl_optim_reset(od);
    run(d, 3);
    cr_assert_neq(memcmp(mrl_trainer_params(a), mrl_trainer_params(d), sizeof(double) * n), 0);
    mrl_trainer_free(d);
  }
  // inner.learn_lr: the multipliers moved, and their Adam moments, saved in
  // the vector, are what makes the resumed steps the same (zeroed, they differ)
  if (learn_lr) {
    const mrlPolicy* pol = mrl_trainer_policy(a);
    int nt = MRL_POLICY_NTENSOR(pol);
    const double* rates = mrl_trainer_params(a) + pol->lr_off;
    for (int j = 0; j < nt; j++) cr_assert_neq(rates[j], 0, "multiplier %d never moved", j);
    cr_assert_eq(rates[3 * nt], 6, "Adam steps of the multipliers: %g", rates[3 * nt]);
    mrlTrainer* d = make(&cfg);
    cr_assert_eq(mrl_trainer_restore(d, path, err, sizeof(err)), 0, "%s", err);
    memset(mrl_trainer_params(d) + pol->lr_off + nt, 0, sizeof(double) * 2 * nt);
    run(d, 3);
    cr_assert_neq(memcmp(mrl_trainer_params(a), mrl_trainer_params(d), sizeof(double) * n), 0);
    mrl_trainer_free(d);
  }
  // the value network: saved, restored, and carried on to the same bits
  if (vf_shared) {
    int len = mrl_trainer_value_len(a);
    cr_assert_gt(len, 0);
    cr_assert_eq(
        memcmp(mrl_trainer_value_state(a), mrl_trainer_value_state(c), sizeof(double) * len), 0,
        "resumed value networks differ");
    mrlTrainer* d = make(&cfg);  // a fresh trainer's is the seeded one: the check can fail
    cr_assert_neq(
        memcmp(mrl_trainer_value_state(a), mrl_trainer_value_state(d), sizeof(double) * len), 0);
    cr_assert_eq(mrl_trainer_restore(d, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(
        memcmp(mrl_trainer_value_state(a), mrl_trainer_value_state(d), sizeof(double) * len),
        0);  // the one of iteration 3, not 6
    mrl_trainer_free(d);
    // a checkpoint without it cannot resume a run that carries one
    char plain[600];
    snprintf(plain, sizeof(plain), "%s/no-value.ckpt", dir);
    cr_assert_eq(mrl_checkpoint_save_state(plain, mrl_trainer_policy(a), mrl_trainer_params(a), 6,
                                           mrl_trainer_total_steps(a), mrl_trainer_outer_optim(a),
                                           NULL, 0, err, sizeof(err)),
                 0, "%s", err);
    d = make(&cfg);
    cr_assert_eq(mrl_trainer_restore(d, plain, err, sizeof(err)), -1);
    cr_assert(strstr(err, "holds no value network"), "%s", err);
    mrl_trainer_free(d);
  }
  mrl_trainer_free(a);
  mrl_trainer_free(c);
}

Test(resume, trainer_bit_identical_fomaml_adam) {
  check_trainer_resume(MRL_OUTER_FOMAML, 1, 0, 0);
}

Test(resume, trainer_bit_identical_maml_trpo) {
  check_trainer_resume(MRL_OUTER_MAML, 0, 0, 0);
}

Test(resume, trainer_bit_identical_maml_trpo_learned_step_sizes) {
  check_trainer_resume(MRL_OUTER_MAML, 0, 0, 1);
}

Test(resume, trainer_bit_identical_reptile) {
  check_trainer_resume(MRL_OUTER_REPTILE, 1, 0, 0);
}

Test(resume, trainer_bit_identical_shared_value) {
  check_trainer_resume(MRL_OUTER_FOMAML, 1, 1, 0);
}

static char* slurp(const char* path, long* len) {
  FILE* f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char* buf = mrl_alloc(*len + 1);
  cr_assert_eq(fread(buf, 1, *len, f), (size_t)*len);
  fclose(f);
  return buf;
}

// The Iteration column of progress.csv, in order; returns the row count.
static int iterations_of(const char* path, int* out, int max) {
  FILE* f = fopen(path, "r");
  cr_assert_not_null(f);
  char line[4096];
  int n = 0;
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert_not_null(strstr(line, "Iteration"), "header first: %s", line);
  while (fgets(line, sizeof(line), f) && n < max) out[n++] = atoi(line);
  fclose(f);
  return n;
}

static void make_rundir(const char* name, char* out) {
  snprintf(out, 512, "%s/%s", dir, name);
  char cmd[1100];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s/checkpoints'", out);
  cr_assert_eq(system(cmd), 0);
}

static void cell(const char* path, int row, const char* col, char* out, size_t len);
static void set_times(const char* path, int base);

// Sends SIGINT to the process once progress.csv holds 3 data rows.
static void* interrupter(void* arg) {
  const char* csv = arg;
  for (int tries = 0; tries < 20000; tries++) {
    FILE* f = fopen(csv, "r");
    int lines = 0;
    if (f) {
      for (int c; (c = fgetc(f)) != EOF;) lines += c == '\n';
      fclose(f);
    }
    if (lines >= 4) {
      kill(getpid(), SIGINT);
      return NULL;
    }
    usleep(1000);
  }
  return NULL;
}

// The whole path of `metarl train` then `metarl train --resume`: SIGINT
// saves and returns 130; the resumed run's final checkpoint (parameters,
// Adam state, iteration, env steps) is byte-identical to an uninterrupted
// one, and progress.csv lists every iteration exactly once.
Test(resume, interrupted_run_resumes_bit_identical, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  cfg.outer.iterations = 30;
  char err[MRL_ERRLEN], full[512], cut[512], path[1100];
  make_rundir("full", full);
  make_rundir("cut", cut);
  cr_assert_eq(mrl_train_run(&cfg, full, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);

  snprintf(path, sizeof(path), "%s/progress.csv", cut);
  pthread_t th;
  pthread_create(&th, NULL, interrupter, path);
  int code = mrl_train_run(&cfg, cut, NULL, err, sizeof(err));
  pthread_join(th, NULL);
  cr_assert_eq(code, MRL_EXIT_INTERRUPTED, "%s", err);
  int its[64];
  int rows = iterations_of(path, its, 64);
  cr_assert(rows >= 3 && rows < 30, "interrupted after %d rows", rows);
  // hours of training before the stop: Time goes on from them
  set_times(path, 10000);
  // a row written after the last checkpoint (a crash between the two): dropped on resume
  FILE* f = fopen(path, "a");
  fprintf(f, "%d,1,2,3,4,5,6,7\n", rows);
  fclose(f);

  cr_assert_eq(mrl_train_run(&cfg, cut, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);
  rows = iterations_of(path, its, 64);
  cr_assert_eq(rows, 30);
  for (int i = 0; i < rows; i++) cr_assert_eq(its[i], i, "row %d is iteration %d", i, its[i]);
  char t[64];
  double before = 0;
  for (int i = 0; i < rows; i++) {
    cell(path, i, "Time", t, sizeof(t));
    cr_assert_geq(atof(t), before, "Time went back at row %d: %s after %g", i, t, before);
    before = atof(t);
  }
  cr_assert_gt(before, 10000, "the resumed rows count the time before the stop");
  long la, lb;
  char a_path[1100], b_path[1100];
  snprintf(a_path, sizeof(a_path), "%s/checkpoints/latest.ckpt", full);
  snprintf(b_path, sizeof(b_path), "%s/checkpoints/latest.ckpt", cut);
  char* a = slurp(a_path, &la);
  char* b = slurp(b_path, &lb);
  cr_assert_eq(la, lb);
  cr_assert_eq(memcmp(a, b, la), 0, "resumed checkpoint differs from the uninterrupted one");
  free(a);
  free(b);
}

// Cell `col` (a column name) of data row `row` of a progress.csv, copied to
// out ("" when empty); the row must have exactly the header's fields.
static void cell(const char* path, int row, const char* col, char* out, size_t len) {
  FILE* f = fopen(path, "r");
  cr_assert_not_null(f);
  char line[8192];
  int at = -1, nhead = 0;
  cr_assert_not_null(fgets(line, sizeof(line), f));
  line[strcspn(line, "\n")] = 0;
  for (char *tok = line, *end;; tok = end + 1) {
    end = strchr(tok, ',');
    if (end) *end = 0;
    if (!strcmp(tok, col)) at = nhead;
    nhead++;
    if (!end) break;
  }
  cr_assert_geq(at, 0, "no column %s", col);
  for (int r = 0; r <= row; r++) cr_assert_not_null(fgets(line, sizeof(line), f), "no row %d", row);
  fclose(f);
  line[strcspn(line, "\n")] = 0;
  int nf = 0;
  for (char *tok = line, *end;; tok = end + 1) {
    end = strchr(tok, ',');
    if (end) *end = 0;
    if (nf++ == at) {
      size_t k = strlen(tok) < len ? strlen(tok) : len - 1;
      memcpy(out, tok, k);
      out[k] = 0;
    }
    if (!end) break;
  }
  cr_assert_eq(nf, nhead, "row %d has %d fields, the header %d", row, nf, nhead);
}

// Sets the Time column of every data row of a progress.csv to base + its row
// index: the training time a long run would have logged before its stop.
static void set_times(const char* path, int base) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd),
           "awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == \"Time\") c = i; "
           "print; next } { $c = %d + NR - 2; print }' '%s' > '%s.t' && mv '%s.t' '%s'",
           base, path, path, path, path);
  cr_assert_eq(system(cmd), 0, "could not rewrite the times");
}

// A run begun by an older metarl, whose progress.csv lacked the Outer/ columns
// and ordered the others differently, resumes with today's header: each kept
// row moves under it by name and the rows appended line up.
Test(resume, older_progress_columns_are_moved_under_the_new_header, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_MAML);
  cfg.outer.optim = MRL_OPT_TRPO;
  cfg.inner.steps = 1;
  cfg.outer.iterations = 3;
  char err[MRL_ERRLEN], run[512], path[1100], cmd[8192];
  make_rundir("old", run);
  cr_assert_eq(mrl_train_run(&cfg, run, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);
  snprintf(path, sizeof(path), "%s/progress.csv", run);
  char step_before[64], kl[64];
  cell(path, 1, "OuterStepSize", step_before, sizeof(step_before));
  cell(path, 1, "Outer/MeanKL", kl, sizeof(kl));
  cr_assert_gt(atof(kl), 0, "the TRPO step's KL is logged: '%s'", kl);
  cr_assert_leq(atof(kl), cfg.outer.max_kl);
  // the older layout: no Outer/ columns, Time before Iteration
  snprintf(cmd, sizeof(cmd),
           "awk -F, -v OFS=, '{ n = 0; for (i = 1; i <= NF; i++) if (i < 23 || i > 26) "
           "f[++n] = $i; t = f[2]; f[2] = f[1]; f[1] = t; s = f[1]; for (i = 2; i <= n; i++) "
           "s = s OFS f[i]; print s }' '%s' > '%s.old' && head -1 '%s.old' | grep -q "
           "'^TotalEnvSteps,Iteration,.*OuterStepSize,Time/Sampling' && mv '%s.old' '%s'",
           path, path, path, path, path);
  cr_assert_eq(system(cmd), 0, "could not write the older layout");
  set_times(path, 500);
  cfg.outer.iterations = 5;
  cr_assert_eq(mrl_train_run(&cfg, run, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);
  char got[64];
  cell(path, 1, "OuterStepSize", got, sizeof(got));
  cr_assert_str_eq(got, step_before, "an old row's value moved to another column");
  cell(path, 1, "Iteration", got, sizeof(got));
  cr_assert_str_eq(got, "1");
  cell(path, 1, "Outer/MeanKL", got, sizeof(got));
  cr_assert_str_eq(got, "", "a column the old row lacks stays empty");
  cell(path, 4, "Iteration", got, sizeof(got));
  cr_assert_str_eq(got, "4");
  cell(path, 4, "Outer/MeanKL", got, sizeof(got));
  cr_assert_gt(atof(got), 0, "the appended row is under today's header: '%s'", got);
  cell(path, 3, "Time", got, sizeof(got));
  cr_assert_gt(atof(got), 502, "Time goes on from the old rows' last: '%s'", got);
}

static uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A version-2 file (version 3 without the value-network block) still loads:
// made here from a version-3 file by dropping the block's count.
Test(resume, version_2_checkpoint_loads) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  mrlTrainer* a = make(&cfg);
  run(a, 2);
  char path[512], err[MRL_ERRLEN] = "";
  snprintf(path, sizeof(path), "%s/v2.ckpt", dir);
  cr_assert_eq(mrl_trainer_save(a, path, err, sizeof(err)), 0, "%s", err);
  static unsigned char buf[1 << 20];
  FILE* f = fopen(path, "rb");
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  uint32_t version = 2, nvalue;
  memcpy(&nvalue, buf + n - 12, 4);
  cr_assert_eq(nvalue, 0);
  memcpy(buf + 8, &version, 4);
  n -= 12;  // without the count and the checksum
  uint64_t sum = fnv1a(buf, n);
  memcpy(buf + n, &sum, 8);
  f = fopen(path, "wb");
  fwrite(buf, 1, n + 8, f);
  fclose(f);
  mrlTrainer* b = make(&cfg);
  cr_assert_eq(mrl_trainer_restore(b, path, err, sizeof(err)), 0, "%s", err);
  int np = mrl_trainer_policy(a)->nparam;
  cr_assert_eq(memcmp(mrl_trainer_params(a), mrl_trainer_params(b), sizeof(double) * np), 0);
  cr_assert_eq(mrl_trainer_iteration(b), 2);
  mrl_trainer_free(b);
  cfg.rl.baseline = MRL_BASELINE_MLP;  // it holds no value network for rl.vf_shared
  cfg.rl.vf_shared = 1;
  b = make(&cfg);
  cr_assert_eq(mrl_trainer_restore(b, path, err, sizeof(err)), -1);
  cr_assert(strstr(err, "holds no value network"), "%s", err);
  mrl_trainer_free(b);
  mrl_trainer_free(a);
}

// A well-formed version-1 file (metarl 0.1.0): refused, saying why.
Test(resume, version_1_checkpoint_refused) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, 2, 2);
  unsigned char buf[65536];
  unsigned char* p = buf;
  uint32_t u;
  memcpy(p, "MRLCKPT", 8);
  p += 8;
  u = 1;
  memcpy(p, &u, 4);
  p += 4;
  u = (uint32_t)pol.nlayer;
  memcpy(p, &u, 4);
  p += 4;
  for (int l = 0; l <= pol.nlayer; l++, p += 4) {
    u = (uint32_t)pol.sizes[l];
    memcpy(p, &u, 4);
  }
  u = (uint32_t)pol.activation;
  memcpy(p, &u, 4);
  p += 4;
  u = (uint32_t)pol.nparam;
  memcpy(p, &u, 4);
  p += 4;
  int64_t it = 5;
  memcpy(p, &it, 8);
  p += 8;
  memset(p, 0, sizeof(double) * pol.nparam);
  p += sizeof(double) * pol.nparam;
  uint64_t sum = fnv1a(buf, p - buf);
  memcpy(p, &sum, 8);
  p += 8;
  char path[512], err[MRL_ERRLEN] = "";
  snprintf(path, sizeof(path), "%s/v1.ckpt", dir);
  FILE* f = fopen(path, "wb");
  fwrite(buf, 1, p - buf, f);
  fclose(f);
  static double params[4096];
  cr_assert_eq(mrl_checkpoint_load(path, &pol, params, NULL, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "format version 1"), "%s", err);
  cr_assert_not_null(strstr(err, "cannot be resumed"), "%s", err);
}

// A checkpoint of an adam run does not load into a trpo trainer.
Test(resume, optimizer_mismatch_refused) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  char err[MRL_ERRLEN], path[512];
  snprintf(path, sizeof(path), "%s/adam.ckpt", dir);
  mrlTrainer* a = make(&cfg);
  cr_assert_eq(mrl_checkpoint_save_state(path, mrl_trainer_policy(a), mrl_trainer_params(a), 0, 0,
                                         mrl_trainer_outer_optim(a), NULL, 0, err, sizeof(err)),
               0, "%s", err);
  mrl_trainer_free(a);
  cfg.outer.optim = MRL_OPT_SGD;
  mrlTrainer* b = make(&cfg);
  cr_assert_eq(mrl_trainer_restore(b, path, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "another outer optimizer"), "%s", err);
  mrl_trainer_free(b);
}

// policy.init_from: a fresh run starts from the checkpoint's parameters (its
// first update is the one a trainer given those parameters makes), keeps a copy
// in checkpoints/init.ckpt, and a checkpoint of another policy shape is refused
// naming the key and the file.
Test(resume, init_from_starts_from_the_checkpoint, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg, MRL_OUTER_FOMAML);
  cfg.outer.iterations = 2;
  char err[MRL_ERRLEN], first[512], warm[512], src[1100], path[1100];
  make_rundir("first", first);
  make_rundir("warm", warm);
  cr_assert_eq(mrl_train_run(&cfg, first, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);
  snprintf(src, sizeof(src), "%s/checkpoints/latest.ckpt", first);

  mrlConfig wcfg = cfg;
  cr_assert_lt(strlen(src), sizeof(wcfg.policy.init_from));
  memcpy(wcfg.policy.init_from, src, strlen(src) + 1);
  wcfg.outer.iterations = 1;
  cr_assert_eq(mrl_train_run(&wcfg, warm, NULL, err, sizeof(err)), MRL_EXIT_OK, "%s", err);

  // the same first update by hand: a fresh trainer given the checkpoint's parameters
  mrlTrainer* t = make(&cfg);
  const mrlPolicy* pol = mrl_trainer_policy(t);
  int n = pol->nparam;
  double* start = mrl_alloc(sizeof(double) * n);
  double* got = mrl_alloc(sizeof(double) * n);
  cr_assert_eq(mrl_checkpoint_load(src, pol, start, NULL, err, sizeof(err)), 0, "%s", err);
  snprintf(path, sizeof(path), "%s/checkpoints/init.ckpt", warm);
  cr_assert_eq(mrl_checkpoint_load(path, pol, got, NULL, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(memcmp(start, got, sizeof(double) * n), 0, "init.ckpt is not the warm start");
  memcpy(mrl_trainer_params(t), start, sizeof(double) * n);
  run(t, 1);
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", warm);
  cr_assert_eq(mrl_checkpoint_load(path, pol, got, NULL, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(memcmp(mrl_trainer_params(t), got, sizeof(double) * n), 0,
               "the warm run did not start from the checkpoint");
  // and the seeded start is another one: the comparison can fail
  mrlTrainer* fresh = make(&cfg);
  run(fresh, 1);
  cr_assert_neq(memcmp(mrl_trainer_params(fresh), got, sizeof(double) * n), 0);
  mrl_trainer_free(fresh);
  mrl_trainer_free(t);
  free(start);
  free(got);

  // another policy shape: refused, naming the key and the file
  char wide[512];
  make_rundir("wide", wide);
  wcfg.policy.hidden[0] = 32;
  cr_assert_eq(mrl_train_run(&wcfg, wide, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "policy.init_from: checkpoint"), "%s", err);
  cr_assert_not_null(strstr(err, src), "%s", err);
}
