// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_config.c: YAML configuration: defaults, every key through a file and
// through write -> load, the exact message (file:line:column) of each class
// of bad input, extends, overrides and the cross-key checks.
//
// Every test that writes YAML does so in its own mkdtemp folder under /tmp,
// removed afterwards. Needs only the library.

#define _XOPEN_SOURCE 700  // mkdtemp, nftw, open_memstream

#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

//---------------------------------- helpers ----------------------------------

static char g_dir[64];  // this test's temporary folder

static void make_dir(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/metarl-test-config-XXXXXX");
  cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_dir(void) {
  if (g_dir[0]) nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = make_dir, .fini = remove_dir);

// Absolute path of rel inside the test folder (one of 16 rotating buffers).
static const char* tpath(const char* rel) {
  static char bufs[16][PATH_MAX];
  static int next;
  char* buf = bufs[next++ % 16];
  snprintf(buf, PATH_MAX, "%s/%s", g_dir, rel);
  return buf;
}

// Write text to rel inside the test folder; returns its absolute path.
static const char* put(const char* rel, const char* text) {
  const char* path = tpath(rel);
  FILE* f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
  return path;
}

static void make_subdir(const char* rel) {
  cr_assert_eq(mkdir(tpath(rel), 0700), 0, "mkdir %s: %s", rel, strerror(errno));
}

// Load text as x.yaml over the defaults: must fail with exactly
// "<path>:<tail>" and leave the config untouched.
static void expect_error(const char* text, const char* tail) {
  const char* path = put("x.yaml", text);
  mrlConfig cfg, before;
  mrl_config_default(&cfg);
  memcpy(&before, &cfg, sizeof cfg);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_load(&cfg, path, err, sizeof err), -1, "loaded:\n%s", text);
  char want[MRL_ERRLEN + PATH_MAX];
  snprintf(want, sizeof want, "%s:%s", path, tail);
  cr_assert_str_eq(err, want, "input:\n%s", text);
  cr_assert(memcmp(&cfg, &before, sizeof cfg) == 0, "a failed load changed the config");
}

// Load text as x.yaml: must fail with a message that starts with
// "<path>:<prefix>" and contains `part`.
static void expect_error_part(const char* text, const char* prefix, const char* part) {
  const char* path = put("x.yaml", text);
  mrlConfig cfg;
  mrl_config_default(&cfg);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_load(&cfg, path, err, sizeof err), -1, "loaded:\n%s", text);
  char want[MRL_ERRLEN + PATH_MAX];
  snprintf(want, sizeof want, "%s:%s", path, prefix);
  cr_assert(!strncmp(err, want, strlen(want)), "got '%s', want prefix '%s'", err, want);
  cr_assert_not_null(strstr(err, part), "got '%s', want '%s' in it", err, part);
}

// Load text as x.yaml over the defaults; must succeed.
static void load_text(mrlConfig* cfg, const char* text) {
  const char* path = put("x.yaml", text);
  mrl_config_default(cfg);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_load(cfg, path, err, sizeof err), 0, "%s\ninput:\n%s", err, text);
}

// Apply an override that must fail with exactly `want`, leaving cfg untouched.
static void expect_override_error(const char* assignment, const char* want) {
  mrlConfig cfg, before;
  mrl_config_default(&cfg);
  memcpy(&before, &cfg, sizeof cfg);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_override(&cfg, assignment, err, sizeof err), -1, "%s", assignment);
  cr_assert_str_eq(err, want);
  cr_assert(memcmp(&cfg, &before, sizeof cfg) == 0, "a failed override changed the config");
}

static void override_ok(mrlConfig* cfg, const char* assignment) {
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_override(cfg, assignment, err, sizeof err), 0, "%s: %s", assignment, err);
}

// Every key, as documented in metarl.h.
// clang-format off
static const char* const kAllKeys[] = {
  "name", "seed", "threads", "env.name", "env.horizon", "task.goal_low", "task.goal_high",
  "task.test_seed", "policy.hidden", "policy.activation", "policy.init_log_std", "policy.output_init", "policy.init_from", "reward.velocity", "env.obs_com", "env.obs_task", "env.sync_positions", "env.timestep", "rl.gamma",
  "rl.gae_lambda", "rl.baseline", "rl.normalize_advantages", "inner.step", "inner.optim",
  "inner.lr", "inner.later_lr", "inner.steps", "inner.episodes", "outer.algo", "outer.optim", "outer.lr",
  "outer.eps_start", "outer.eps_end", "outer.meta_batch", "outer.iterations", "eval.tasks",
  "eval.steps", "eval.episodes", "log.dir", "log.checkpoint_every", NULL};
// clang-format on

// Set a string field with a zeroed tail, as the loader does, so that configs
// compare equal bytewise.
static void set_str(char* field, const char* value) {
  memset(field, 0, MRL_STRLEN);
  snprintf(field, MRL_STRLEN, "%s", value);
}

// A config in which every field (but inner.step, whose only value is vpg)
// differs from its default, with values that are hard to round-trip.
static void fill_unusual(mrlConfig* c) {
  mrl_config_default(c);
  set_str(c->name,
          "run \"q\" \\ tab\t nl\n ctl\x01 del\x7f nel\xc2\x85 ls\xe2\x80\xa8 "
          "\xc3\xbcnicode #x: y, [z] 'single' ~ null");
  c->seed = UINT64_MAX;
  c->threads = 256;
  set_str(c->env.name, "true");  // a string that looks like a bool
  c->env.horizon = 100000;
  c->task.goal_low = -1.0 / 3.0;
  c->task.goal_high = 0.1 + 0.2;  // 0.30000000000000004
  c->task.test_seed = 0;
  c->env.obs_com = 1;
  c->env.obs_task = 1;
  c->env.sync_positions = 1;
  c->policy.nhidden = MRL_MAXLAYERS;
  for (int i = 0; i < MRL_MAXLAYERS; i++) c->policy.hidden[i] = i == 0 ? 1 : 4096 - i;
  c->policy.activation = MRL_ACT_RELU;
  c->policy.init_log_std = -10.0;
  c->policy.obs_norm = 1;
  c->rl.gamma = nextafter(1.0, 0.0);
  c->rl.gae_lambda = 4.9406564584124654e-324;  // smallest subnormal
  c->rl.baseline = MRL_BASELINE_ZERO;
  c->rl.normalize_advantages = 0;
  c->inner.optim = MRL_OPT_ADAM;
  c->inner.lr = 100.0;
  c->inner.steps = 1000;
  c->inner.episodes = 99999;
  c->outer.algo = MRL_OUTER_JOINT;
  c->outer.optim = MRL_OPT_SGD;
  c->outer.lr = 1.7976931348623157e308;
  c->outer.eps_start = 10.0;
  c->outer.eps_end = 2.5e-7;
  c->outer.meta_batch = 3;
  c->outer.iterations = 10000000;
  c->outer.hvp_freeze_relu = 1;
  c->eval.tasks = 1;
  c->eval.steps = 0;
  c->eval.episodes = 7;
  set_str(c->log.dir, "/tmp/some dir/with: colon # and hash");
  c->log.checkpoint_every = 1;
}

// Write cfg to rel, load it over fresh defaults into out.
static void write_and_load(const mrlConfig* cfg, const char* rel, mrlConfig* out) {
  const char* path = tpath(rel);
  FILE* f = fopen(path, "w");
  cr_assert_not_null(f);
  cr_assert_eq(mrl_config_write(cfg, f), 0);
  cr_assert_eq(fclose(f), 0);
  mrl_config_default(out);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_load(out, path, err, sizeof err), 0, "%s", err);
}

//---------------------------------- defaults ---------------------------------

Test(config, defaults_have_documented_values) {
  mrlConfig c;
  memset(&c, 0xab, sizeof c);
  mrl_config_default(&c);
  cr_assert_str_eq(c.name, "");
  cr_assert_eq(c.seed, 1);
  cr_assert_eq(c.threads, 0);
  cr_assert_str_eq(c.env.name, "point_nav");
  cr_assert_eq(c.env.horizon, 100);
  cr_assert_eq(c.task.goal_low, -0.5);
  cr_assert_eq(c.task.goal_high, 0.5);
  cr_assert_eq(c.task.test_seed, 1000);
  cr_assert_eq(c.policy.nhidden, 2);
  cr_assert_eq(c.policy.hidden[0], 64);
  cr_assert_eq(c.policy.hidden[1], 64);
  for (int i = 2; i < MRL_MAXLAYERS; i++) cr_assert_eq(c.policy.hidden[i], 0);
  cr_assert_eq(c.policy.activation, MRL_ACT_TANH);
  cr_assert_eq(c.policy.init_log_std, 0.0);
  cr_assert_eq(c.rl.gamma, 0.99);
  cr_assert_eq(c.rl.gae_lambda, 1.0);
  cr_assert_eq(c.rl.baseline, MRL_BASELINE_LINEAR);
  cr_assert_eq(c.rl.normalize_advantages, 1);
  cr_assert_eq(c.rl.vf_nhidden, 2);
  cr_assert_eq(c.rl.vf_hidden[0], 32);
  cr_assert_eq(c.rl.vf_hidden[1], 32);
  cr_assert_eq(c.rl.vf_epochs, 10);
  cr_assert_eq(c.rl.vf_minibatches, 32);
  cr_assert_eq(c.rl.vf_lr, 0.003);
  cr_assert_eq(c.inner.step, MRL_INNER_VPG);
  cr_assert_eq(c.inner.optim, MRL_OPT_SGD);
  cr_assert_eq(c.inner.lr, 0.1);
  cr_assert_eq(c.inner.steps, 1);
  cr_assert_eq(c.inner.episodes, 20);
  cr_assert_eq(c.outer.algo, MRL_OUTER_REPTILE);
  cr_assert_eq(c.outer.optim, MRL_OPT_ADAM);
  cr_assert_eq(c.outer.lr, 0.001);
  cr_assert_eq(c.outer.eps_start, 1.0);
  cr_assert_eq(c.outer.eps_end, 0.0);
  cr_assert_eq(c.outer.meta_batch, 20);
  cr_assert_eq(c.outer.iterations, 100);
  cr_assert_eq(c.eval.tasks, 40);
  cr_assert_eq(c.eval.steps, 3);
  cr_assert_eq(c.eval.episodes, 20);
  cr_assert_str_eq(c.log.dir, "runs");
  cr_assert_eq(c.log.checkpoint_every, 10);

  // deterministic bytes, padding included, whatever was there before
  mrlConfig d;
  memset(&d, 0x5a, sizeof d);
  mrl_config_default(&d);
  cr_assert(memcmp(&c, &d, sizeof c) == 0);

  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
}

Test(config, empty_file_gives_defaults_and_file_stem_as_name) {
  static const char* const kEmpty[] = {"",
                                       "\n\n",
                                       "# only a comment\n",
                                       "---\n",
                                       "--- ~\n",
                                       "---\n...\n",
                                       "inner:\n  # every key commented out\n"};
  mrlConfig want;
  mrl_config_default(&want);
  snprintf(want.name, sizeof want.name, "x");
  for (size_t i = 0; i < sizeof kEmpty / sizeof kEmpty[0]; i++) {
    mrlConfig c;
    load_text(&c, kEmpty[i]);
    cr_assert_str_eq(c.name, "x");
    cr_assert(memcmp(&c, &want, sizeof c) == 0, "not the defaults for '%s'", kEmpty[i]);
  }

  // stem: the last extension goes, a leading dot stays
  mrlConfig c;
  char err[MRL_ERRLEN];
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, put("my.run.yaml", ""), err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.name, "my.run");
  cr_assert_eq(mrl_config_load(&c, put(".hidden", ""), err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.name, ".hidden");
}

Test(config, name_from_file_wins_over_stem) {
  mrlConfig c;
  load_text(&c, "name: my_run\n");
  cr_assert_str_eq(c.name, "my_run");
  load_text(&c, "name: \"\"\n");  // empty: the stem
  cr_assert_str_eq(c.name, "x");
}

//------------------------------- every key ----------------------------------

Test(config, file_setting_every_key) {
  mrlConfig c;
  load_text(&c,
            "# every key, none at its default (inner.step has one value only)\n"
            "name: walker-1\n"
            "seed: 18446744073709551615\n"
            "threads: 4\n"
            "env:\n"
            "  name: 'some family'\n"
            "  horizon: 200\n"
            "task:\n"
            "  goal_low: -2\n"
            "  goal_high: 1.5e0\n"
            "  test_seed: 7\n"
            "policy:\n"
            "  hidden:\n"
            "    - 100\n"
            "    - 50\n"
            "    - 25\n"
            "  activation: relu\n"
            "  init_log_std: -0.5\n"
            "rl:\n"
            "  gamma: .95\n"
            "  gae_lambda: 0.97\n"
            "  baseline: zero\n"
            "  normalize_advantages: no\n"
            "inner:\n"
            "  step: vpg\n"
            "  optim: adam\n"
            "  lr: 0.05\n"
            "  steps: 5\n"
            "  episodes: 10\n"
            "outer:\n"
            "  algo: fomaml\n"
            "  optim: sgd\n"
            "  lr: 3e-4\n"
            "  eps_start: +0.5\n"
            "  eps_end: 0.25\n"
            "  meta_batch: 40\n"
            "  iterations: 500\n"
            "eval:\n"
            "  tasks: 10\n"
            "  steps: 4\n"
            "  episodes: 5\n"
            "log:\n"
            "  dir: /var/tmp/runs\n"
            "  checkpoint_every: 25\n");
  cr_assert_str_eq(c.name, "walker-1");
  cr_assert_eq(c.seed, UINT64_MAX);
  cr_assert_eq(c.threads, 4);
  cr_assert_str_eq(c.env.name, "some family");
  cr_assert_eq(c.env.horizon, 200);
  cr_assert_eq(c.task.goal_low, -2.0);
  cr_assert_eq(c.task.goal_high, 1.5);
  cr_assert_eq(c.task.test_seed, 7);
  cr_assert_eq(c.policy.nhidden, 3);
  cr_assert_eq(c.policy.hidden[0], 100);
  cr_assert_eq(c.policy.hidden[1], 50);
  cr_assert_eq(c.policy.hidden[2], 25);
  cr_assert_eq(c.policy.hidden[3], 0);
  cr_assert_eq(c.policy.activation, MRL_ACT_RELU);
  cr_assert_eq(c.policy.init_log_std, -0.5);
  cr_assert_eq(c.rl.gamma, 0.95);
  cr_assert_eq(c.rl.gae_lambda, 0.97);
  cr_assert_eq(c.rl.baseline, MRL_BASELINE_ZERO);
  cr_assert_eq(c.rl.normalize_advantages, 0);
  cr_assert_eq(c.inner.step, MRL_INNER_VPG);
  cr_assert_eq(c.inner.optim, MRL_OPT_ADAM);
  cr_assert_eq(c.inner.lr, 0.05);
  cr_assert_eq(c.inner.steps, 5);
  cr_assert_eq(c.inner.episodes, 10);
  cr_assert_eq(c.outer.algo, MRL_OUTER_FOMAML);
  cr_assert_eq(c.outer.optim, MRL_OPT_SGD);
  cr_assert_eq(c.outer.lr, 3e-4);
  cr_assert_eq(c.outer.eps_start, 0.5);
  cr_assert_eq(c.outer.eps_end, 0.25);
  cr_assert_eq(c.outer.meta_batch, 40);
  cr_assert_eq(c.outer.iterations, 500);
  cr_assert_eq(c.eval.tasks, 10);
  cr_assert_eq(c.eval.steps, 4);
  cr_assert_eq(c.eval.episodes, 5);
  cr_assert_str_eq(c.log.dir, "/var/tmp/runs");
  cr_assert_eq(c.log.checkpoint_every, 25);
}

Test(config, every_key_round_trips_through_write_and_load) {
  mrlConfig c, def;
  fill_unusual(&c);
  mrl_config_default(&def);

  // every field is away from its default, so a key the writer forgot shows
#define DIFFERS(field) cr_assert(memcmp(&c.field, &def.field, sizeof c.field), #field)
  DIFFERS(name);
  DIFFERS(seed);
  DIFFERS(threads);
  DIFFERS(env.name);
  DIFFERS(env.horizon);
  DIFFERS(task.goal_low);
  DIFFERS(task.goal_high);
  DIFFERS(task.test_seed);
  DIFFERS(policy.nhidden);
  DIFFERS(policy.hidden);
  DIFFERS(policy.activation);
  DIFFERS(policy.init_log_std);
  DIFFERS(policy.obs_norm);
  DIFFERS(rl.gamma);
  DIFFERS(rl.gae_lambda);
  DIFFERS(rl.baseline);
  DIFFERS(rl.normalize_advantages);
  DIFFERS(inner.optim);
  DIFFERS(inner.lr);
  DIFFERS(inner.steps);
  DIFFERS(inner.episodes);
  DIFFERS(outer.algo);
  DIFFERS(outer.optim);
  DIFFERS(outer.lr);
  DIFFERS(outer.eps_start);
  DIFFERS(outer.eps_end);
  DIFFERS(outer.meta_batch);
  DIFFERS(outer.iterations);
  DIFFERS(eval.tasks);
  DIFFERS(eval.steps);
  DIFFERS(eval.episodes);
  DIFFERS(log.dir);
  DIFFERS(log.checkpoint_every);
#undef DIFFERS

  mrlConfig back;
  write_and_load(&c, "out.yaml", &back);
  cr_assert(memcmp(&c, &back, sizeof c) == 0, "write -> load changed the config");
  cr_assert_str_eq(back.name, c.name);
  cr_assert_str_eq(back.log.dir, c.log.dir);

  // and once more from the written file: a fixed point
  mrlConfig again;
  write_and_load(&back, "out2.yaml", &again);
  cr_assert(memcmp(&back, &again, sizeof c) == 0);
}

Test(config, defaults_and_signed_zero_round_trip) {
  mrlConfig c, back;
  mrl_config_default(&c);
  snprintf(c.name, sizeof c.name, "defaults");
  write_and_load(&c, "d.yaml", &back);
  cr_assert(memcmp(&c, &back, sizeof c) == 0);

  c.task.goal_low = -0.0;
  c.policy.init_log_std = -0.0;
  c.rl.gamma = 0.1;
  c.inner.lr = 1e-300;
  c.policy.nhidden = 1;
  c.policy.hidden[0] = 4096;
  c.policy.hidden[1] = 0;
  write_and_load(&c, "z.yaml", &back);
  cr_assert(memcmp(&c, &back, sizeof c) == 0);
  cr_assert(signbit(back.task.goal_low));
}

Test(config, write_layout_is_nested_with_a_header) {
  mrlConfig c;
  mrl_config_default(&c);
  snprintf(c.name, sizeof c.name, "run");
  char* text = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&text, &len);
  cr_assert_not_null(f);
  cr_assert_eq(mrl_config_write(&c, f), 0);
  fclose(f);
  cr_assert_eq(text[0], '#', "no header comment: %s", text);
  cr_assert_not_null(strstr(text, "\nname: \"run\"\nseed: 1\nthreads: 0\n"), "%s", text);
  cr_assert_not_null(strstr(text,
                            "\ninner:\n  step: vpg\n  optim: sgd\n  lr: 0.1\n  later_lr: 0.0\n"
                            "  steps: 1\n  episodes: 20\n"),
                     "%s", text);
  cr_assert_not_null(strstr(text, "\npolicy:\n  hidden: [64, 64]\n  activation: tanh\n"), "%s",
                     text);
  cr_assert_not_null(strstr(text, "\n  normalize_advantages: true\n"), "%s", text);
  cr_assert_not_null(strstr(text, "\n  gamma: 0.99\n"), "%s", text);
  cr_assert_not_null(strstr(text, "\nlog:\n  dir: \"runs\"\n  checkpoint_every: 10\n"), "%s", text);

  // every key once, as "leaf: " inside its section's block (or at the top)
  for (int i = 0; kAllKeys[i]; i++) {
    const char* dot = strchr(kAllKeys[i], '.');
    char line[128];
    if (!dot) {
      snprintf(line, sizeof line, "\n%s: ", kAllKeys[i]);
      cr_assert_not_null(strstr(text, line), "no %s in:\n%s", kAllKeys[i], text);
      continue;
    }
    snprintf(line, sizeof line, "\n%.*s:\n", (int)(dot - kAllKeys[i]), kAllKeys[i]);
    const char* sec = strstr(text, line);
    cr_assert_not_null(sec, "no section for %s", kAllKeys[i]);
    const char* end = strstr(sec + 1, "\n\n");
    if (!end) end = text + len;
    snprintf(line, sizeof line, "\n  %s: ", dot + 1);
    const char* at = strstr(sec, line);
    cr_assert(at && at < end, "no %s in its section:\n%s", kAllKeys[i], text);
  }
  free(text);
}

Test(config, write_reports_a_failing_stream) {
  FILE* f = fopen("/dev/full", "w");
  if (!f) cr_skip_test("no /dev/full");
  mrlConfig c;
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_write(&c, f), -1);
  fclose(f);
}

Test(config, reference_lists_every_key_with_default_and_doc) {
  char* text = NULL;
  size_t len = 0;
  FILE* f = open_memstream(&text, &len);
  cr_assert_not_null(f);
  mrl_config_print_reference(f);
  fclose(f);
  int lines = 0;
  for (int i = 0; kAllKeys[i]; i++) {
    char start[64];
    snprintf(start, sizeof start, "\n%s ", kAllKeys[i]);
    const char* at = strstr(text, start);
    cr_assert_not_null(at, "key %s missing from:\n%s", kAllKeys[i], text);
    lines++;
  }
  cr_assert_eq(lines, 40);
  const char* lr = strstr(text, "\ninner.lr ");
  const char* eol = strchr(lr + 1, '\n');
  char row[256];
  snprintf(row, sizeof row, "%.*s", (int)(eol - lr - 1), lr + 1);
  cr_assert_not_null(strstr(row, " float "), "%s", row);
  cr_assert_not_null(strstr(row, " 0.1 "), "%s", row);
  cr_assert_not_null(strstr(row, "(0, 10000]"), "%s", row);
  cr_assert_not_null(strstr(row, "inner step size"), "%s", row);
  cr_assert_not_null(strstr(text, "reptile|fomaml|joint|maml|combo"), "%s", text);
  cr_assert_not_null(strstr(text, "[64, 64]"), "%s", text);
  free(text);
}

//------------------------------- unknown keys --------------------------------

Test(config, unknown_key_suggests_the_closest) {
  expect_error("inner:\n  lr: 0.2\n  lrr: 0.3\n",
               "3:3: unknown key 'inner.lrr' (did you mean 'inner.lr'?)");
  expect_error("outer:\n  itertions: 5\n",
               "2:3: unknown key 'outer.itertions' (did you mean 'outer.iterations'?)");
  expect_error("seeed: 3\n", "1:1: unknown key 'seeed' (did you mean 'seed'?)");
  // the right leaf in the wrong section
  expect_error("inner:\n  gamma: 0.9\n",
               "2:3: unknown key 'inner.gamma' (did you mean 'rl.gamma'?)");
}

Test(config, unknown_section_suggests_the_closest) {
  expect_error("seed: 3\ninnr:\n  lr: 0.2\n", "2:1: unknown key 'innr' (did you mean 'inner'?)");
  expect_error("polcy: {hidden: [3]}\n", "1:1: unknown key 'polcy' (did you mean 'policy'?)");
  expect_error("extend: base.yaml\n", "1:1: unknown key 'extend' (did you mean 'extends'?)");
}

Test(config, unknown_key_without_close_match_has_no_suggestion) {
  expect_error("banana: 1\n", "1:1: unknown key 'banana'");
  expect_error("outer:\n  zzzzzz: 1\n", "2:3: unknown key 'outer.zzzzzz'");
}

Test(config, dotted_key_in_a_file_explains_nesting) {
  expect_error("inner.lr: 0.2\n",
               "1:1: unknown key 'inner.lr' (write it nested: 'inner:' then "
               "'  lr: ...' on the next line)");
}

//-------------------------------- wrong types --------------------------------

Test(config, wrong_type_number) {
  expect_error("rl:\n  gamma: 0.9\ninner:\n  lr: abc\n",
               "4:7: inner.lr: expected a number, got 'abc'");
  expect_error("inner:\n  lr: 0x10\n", "2:7: inner.lr: expected a number, got '0x10'");
  expect_error("inner:\n  lr: 1.2.3\n", "2:7: inner.lr: expected a number, got '1.2.3'");
  expect_error("inner:\n  lr: \"0.1\"\n",
               "2:7: inner.lr: expected a number, got the quoted string '0.1' "
               "(remove the quotes)");
}

Test(config, wrong_type_integer_rejects_fractions_and_junk) {
  expect_error("inner:\n  steps: 1.5\n", "2:10: inner.steps: expected an integer, got '1.5'");
  expect_error("inner:\n  steps: 10x\n", "2:10: inner.steps: expected an integer, got '10x'");
  expect_error("inner:\n  steps: 1e2\n", "2:10: inner.steps: expected an integer, got '1e2'");
  expect_error("threads: ''\n",
               "1:10: threads: expected an integer, got the quoted string '' "
               "(remove the quotes)");
  expect_error("threads:\n", "1:9: threads: expected an integer, got ''");
  expect_error("seed: -1\n", "1:7: seed: expected a non-negative integer, got '-1'");
}

Test(config, bool_accepts_yaml_spellings_only) {
  static const char* const kTrue[] = {"true", "yes", "on", "True", "YES", "On"};
  static const char* const kFalse[] = {"false", "no", "off", "False", "NO", "Off"};
  for (int i = 0; i < 6; i++) {
    char text[128];
    mrlConfig c;
    snprintf(text, sizeof text, "rl:\n  normalize_advantages: %s\n", kFalse[i]);
    load_text(&c, text);
    cr_assert_eq(c.rl.normalize_advantages, 0, "%s", kFalse[i]);
    override_ok(&c, "rl.normalize_advantages=false");
    snprintf(text, sizeof text, "rl:\n  normalize_advantages: %s\n", kTrue[i]);
    load_text(&c, text);
    cr_assert_eq(c.rl.normalize_advantages, 1, "%s", kTrue[i]);
  }
  expect_error("rl:\n  normalize_advantages: maybe\n",
               "2:25: rl.normalize_advantages: expected true or false, got 'maybe'");
  expect_error("rl:\n  normalize_advantages: 1\n",
               "2:25: rl.normalize_advantages: expected true or false, got '1'");
}

Test(config, enum_lists_allowed_values) {
  expect_error("outer:\n  algo: mammal\n",
               "2:9: outer.algo: expected one of reptile, fomaml, joint, maml, combo, got "
               "'mammal'");
  expect_error("policy:\n  activation: Tanh\n",
               "2:15: policy.activation: expected one of tanh, relu, got 'Tanh'");
  expect_error("inner:\n  step: trpo\n", "2:9: inner.step: expected one of vpg, ppo, got 'trpo'");
  // trpo is an outer optimizer only
  expect_error("inner:\n  optim: trpo\n",
               "2:10: inner.optim: expected one of sgd, adam, got 'trpo'");
  mrlConfig c;
  load_text(&c, "outer:\n  algo: \"joint\"\n");  // quoted names are fine
  cr_assert_eq(c.outer.algo, MRL_OUTER_JOINT);
}

Test(config, mapping_list_and_scalar_in_the_wrong_place) {
  expect_error("inner:\n  lr:\n    value: 1\n", "3:5: inner.lr: expected a number, got a mapping");
  expect_error("seed: [1, 2]\n", "1:7: seed: expected a non-negative integer, got a list");
  expect_error("inner: 5\n", "1:8: inner: expected a mapping of inner.* keys, got '5'");
  expect_error("inner: [lr]\n", "1:8: inner: expected a mapping of inner.* keys, got a list");
  expect_error("name: {a: 1}\n", "1:7: name: expected a string, got a mapping");
  expect_error("- a\n- b\n", "1:1: expected a mapping of keys at the top level, got a list");
  expect_error("just text\n", "1:1: expected a mapping of keys at the top level, got 'just text'");
  expect_error("? [a, b]\n: 1\n", "1:3: expected a key name, got a list");
}

Test(config, hidden_list_checks_shape_and_every_entry) {
  expect_error("policy:\n  hidden: 64\n",
               "2:11: policy.hidden: expected a list of integers like [64, 64], got '64'");
  expect_error("policy:\n  hidden: []\n", "2:11: policy.hidden: must have 1 to 8 entries, got 0");
  expect_error("policy:\n  hidden: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
               "2:11: policy.hidden: must have 1 to 8 entries, got 9");
  expect_error("policy:\n  hidden: [64, 0]\n", "2:16: policy.hidden[1]: must be >= 1, got 0");
  expect_error("policy:\n  hidden: [64, 4097]\n",
               "2:16: policy.hidden[1]: must be <= 4096, got 4097");
  expect_error("policy:\n  hidden:\n    - 64\n    - abc\n",
               "4:7: policy.hidden[1]: expected an integer, got 'abc'");
  expect_error("policy:\n  hidden: [[1]]\n",
               "2:12: policy.hidden[0]: expected an integer, got a list");
  mrlConfig c;
  load_text(&c, "policy:\n  hidden: [1, 2, 3, 4, 5, 6, 7, 8]\n");
  cr_assert_eq(c.policy.nhidden, 8);
  cr_assert_eq(c.policy.hidden[7], 8);
}

//-------------------------------- out of range -------------------------------

Test(config, out_of_range_names_the_bound) {
  expect_error("inner:\n  lr: -0.1\n", "2:7: inner.lr: must be > 0, got -0.1");
  expect_error("inner:\n  lr: 0\n", "2:7: inner.lr: must be > 0, got 0");
  expect_error("inner:\n  lr: 10000.5\n", "2:7: inner.lr: must be <= 10000, got 10000.5");
  expect_error("rl:\n  gamma: 1.5\n", "2:10: rl.gamma: must be <= 1, got 1.5");
  expect_error("threads: 257\n", "1:10: threads: must be <= 256, got 257");
  expect_error("env:\n  horizon: 0\n", "2:12: env.horizon: must be >= 1, got 0");
  expect_error("env:\n  horizon: 99999999999999999999\n",
               "2:12: env.horizon: must be <= 100000, got 99999999999999999999");
  expect_error("outer:\n  lr: -1e-9\n", "2:7: outer.lr: must be > 0, got -1e-9");
  expect_error("policy:\n  init_log_std: -11\n",
               "2:17: policy.init_log_std: must be >= -10, got -11");
  expect_error("seed: 18446744073709551616\n",
               "1:7: seed: must be <= 18446744073709551615, got 18446744073709551616");

  // the bounds themselves, where inclusive
  mrlConfig c;
  load_text(&c,
            "inner:\n  lr: 10000\n  steps: 0\nrl:\n  gamma: 0\n  gae_lambda: 1\n"
            "threads: 256\nouter:\n  eps_start: 10\n");
  cr_assert_eq(c.inner.lr, 10000.0);
  cr_assert_eq(c.threads, 256);
}

Test(config, non_finite_numbers_are_rejected) {
  static const char* const kBad[] = {"nan",  ".nan",  "NaN",      "inf",   "-inf",
                                     ".inf", "-.Inf", "infinity", "1e999", "-1e999"};
  for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
    char text[64], tail[128];
    snprintf(text, sizeof text, "task:\n  goal_low: %s\n", kBad[i]);
    snprintf(tail, sizeof tail, "2:13: task.goal_low: must be a finite number, got '%s'", kBad[i]);
    expect_error(text, tail);
  }
}

Test(config, number_spellings) {
  mrlConfig c;
  load_text(&c,
            "task:\n  goal_low: -.5\n  goal_high: 5.\nouter:\n  lr: 1E+2\n"
            "  eps_end: +0\nrl:\n  gamma: 1e-3\n");
  cr_assert_eq(c.task.goal_low, -0.5);
  cr_assert_eq(c.task.goal_high, 5.0);
  cr_assert_eq(c.outer.lr, 100.0);
  cr_assert_eq(c.outer.eps_end, 0.0);
  cr_assert_eq(c.rl.gamma, 1e-3);
  load_text(&c, "seed: 18446744073709551615\nthreads: +3\n");
  cr_assert_eq(c.seed, UINT64_MAX);
  cr_assert_eq(c.threads, 3);
}

Test(config, strings_longer_than_the_buffer_are_rejected) {
  char text[600], tail[128];
  char longest[MRL_STRLEN];
  memset(longest, 'a', MRL_STRLEN - 1);
  longest[MRL_STRLEN - 1] = 0;
  mrlConfig c;
  snprintf(text, sizeof text, "name: %s\n", longest);
  load_text(&c, text);
  cr_assert_str_eq(c.name, longest);

  snprintf(text, sizeof text, "log:\n  dir: %sb\n", longest);
  snprintf(tail, sizeof tail, "2:8: log.dir: at most %d bytes, got %d", MRL_STRLEN - 1, MRL_STRLEN);
  expect_error(text, tail);
  expect_error("log:\n  dir: ''\n", "2:8: log.dir: must not be empty");
  expect_error("env:\n  name:\n", "2:8: env.name: must not be empty");

  char assign[600], want[800];
  snprintf(assign, sizeof assign, "name=%sb", longest);
  snprintf(want, sizeof want, "override '%s': name: at most %d bytes, got %d", assign,
           MRL_STRLEN - 1, MRL_STRLEN);
  expect_override_error(assign, want);
}

//--------------------------- malformed and missing ---------------------------

Test(config, malformed_yaml_gives_libyaml_problem_and_position) {
  expect_error("inner:\n  lr: [0.1\nouter:\n  lr: 1\n",
               "3:6: did not find expected ',' or ']' "
               "(while parsing a flow sequence at line 2, column 7)");
  expect_error_part("inner:\n\tlr: 1\n", "2:1: ", "found character that cannot start any token");
  expect_error_part("name: \"abc\n", "2:1: ", "found unexpected end of stream");
  expect_error_part("a: b\n c: d\n", "2:3: ", "mapping values are not allowed");
  expect_error_part("name: *nothing\n", "1:7: ", "found undefined alias");
  expect_error("name: \"\xff\"\n", "1:8: invalid leading UTF-8 octet (0xff)");
  expect_error("seed: 1\n---\nseed: 2\n",
               "2:1: more than one YAML document ('---'): a config is one mapping");
}

Test(config, missing_or_unreadable_file) {
  mrlConfig c, before;
  mrl_config_default(&c);
  memcpy(&before, &c, sizeof c);
  char err[MRL_ERRLEN], want[MRL_ERRLEN];
  const char* path = tpath("nope.yaml");
  cr_assert_eq(mrl_config_load(&c, path, err, sizeof err), -1);
  snprintf(want, sizeof want, "cannot read config '%s': No such file or directory", path);
  cr_assert_str_eq(err, want);

  cr_assert_eq(mrl_config_load(&c, g_dir, err, sizeof err), -1);
  snprintf(want, sizeof want, "cannot read config '%s': Is a directory", g_dir);
  cr_assert_str_eq(err, want);
  cr_assert(memcmp(&c, &before, sizeof c) == 0);

  // a short error buffer is still terminated
  char small[16];
  cr_assert_eq(mrl_config_load(&c, path, small, sizeof small), -1);
  cr_assert_eq(strlen(small), sizeof small - 1);
}

Test(config, duplicate_keys_are_errors) {
  expect_error("inner:\n  lr: 0.1\n  steps: 2\n  lr: 0.2\n",
               "4:3: duplicate key 'inner.lr' (first at line 2)");
  expect_error("inner:\n  lr: 0.1\nseed: 2\ninner:\n  steps: 2\n",
               "4:1: duplicate key 'inner' (first at line 1)");
  expect_error("seed: 1\nseed: 2\n", "2:1: duplicate key 'seed' (first at line 1)");
  expect_error("inner: {lr: 0.1, lr: 0.2}\n", "1:18: duplicate key 'inner.lr' (first at line 1)");
}

Test(config, failed_load_keeps_earlier_values) {
  mrlConfig c;
  char err[MRL_ERRLEN];
  load_text(&c, "inner:\n  lr: 0.2\n");
  mrlConfig before;
  memcpy(&before, &c, sizeof c);
  const char* bad = put("bad.yaml", "inner:\n  lr: 0.3\n  steps: many\n");
  cr_assert_eq(mrl_config_load(&c, bad, err, sizeof err), -1);
  cr_assert(memcmp(&c, &before, sizeof c) == 0);
  cr_assert_eq(c.inner.lr, 0.2);
}

Test(config, anchors_and_flow_style_work) {
  mrlConfig c;
  load_text(&c, "inner: {lr: &rate 0.2, steps: 2}\nouter: {lr: *rate}\n");
  cr_assert_eq(c.inner.lr, 0.2);
  cr_assert_eq(c.inner.steps, 2);
  cr_assert_eq(c.outer.lr, 0.2);
}

//---------------------------------- extends ----------------------------------

Test(config, extends_applies_base_first_then_own_keys) {
  put("base.yaml", "name: from_base\ninner:\n  lr: 0.2\n  steps: 3\nouter:\n  lr: 0.5\n");
  // extends after the keys: still applied first
  const char* child = put("child.yaml", "inner:\n  lr: 0.3\nextends: base.yaml\n");
  mrlConfig c;
  char err[MRL_ERRLEN];
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, child, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.lr, 0.3);
  cr_assert_eq(c.inner.steps, 3);
  cr_assert_eq(c.outer.lr, 0.5);
  cr_assert_str_eq(c.name, "from_base");  // name is inherited like any key

  put("base2.yaml", "inner:\n  steps: 4\n");
  const char* child2 = put("child2.yaml", "extends: base2.yaml\n");
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, child2, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.steps, 4);
  cr_assert_str_eq(c.name, "child2");  // no name anywhere: the stem of the file loaded
}

Test(config, extends_chain_overrides_in_order) {
  put("c.yaml", "inner:\n  lr: 0.1\n  steps: 1\n  episodes: 1\n");
  put("b.yaml", "extends: c.yaml\ninner:\n  steps: 2\n  episodes: 2\n");
  const char* a = put("a.yaml", "extends: b.yaml\ninner:\n  episodes: 3\n");
  mrlConfig c;
  char err[MRL_ERRLEN];
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, a, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.lr, 0.1);
  cr_assert_eq(c.inner.steps, 2);
  cr_assert_eq(c.inner.episodes, 3);
}

Test(config, extends_is_relative_to_the_including_file_not_the_cwd) {
  make_subdir("sub");
  make_subdir("sub/deep");
  put("sub/base.yaml", "inner:\n  steps: 7\n");
  put("sub/deep/mid.yaml", "extends: ../base.yaml\nouter:\n  meta_batch: 9\n");
  put("sub/deep/child.yaml", "extends: mid.yaml\n");
  char err[MRL_ERRLEN];
  mrlConfig c;

  // an absolute path, from an unrelated working directory
  cr_assert_eq(chdir("/"), 0);
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, tpath("sub/deep/child.yaml"), err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.steps, 7);
  cr_assert_eq(c.outer.meta_batch, 9);

  // a relative path resolves against the working directory, the rest follows the files
  cr_assert_eq(chdir(g_dir), 0);
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, "sub/deep/child.yaml", err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.steps, 7);
  cr_assert_str_eq(c.name, "child");

  // an error inside a base names that file as it was reached
  put("sub/base.yaml", "inner:\n  stepz: 7\n");
  cr_assert_eq(mrl_config_load(&c, "sub/deep/child.yaml", err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "sub/deep/../base.yaml:2:3: unknown key 'inner.stepz' "
                   "(did you mean 'inner.steps'?)");
  cr_assert_eq(chdir("/"), 0);
}

Test(config, extends_missing_base_points_at_the_extends_line) {
  char want[MRL_ERRLEN];
  snprintf(want, sizeof want,
           "1:10: extends: cannot read config '%s/nope.yaml': No such file or directory", g_dir);
  expect_error("extends: nope.yaml\n", want);
  expect_error("extends: [a.yaml]\n", "1:10: extends: expected a file name, got a list");
  expect_error("extends:\n", "1:9: extends: expected a file name, got nothing");
  expect_error("extends: a.yaml\nextends: b.yaml\n",
               "2:1: duplicate key 'extends' (first at line 1)");
}

Test(config, extends_cycle_is_an_error) {
  const char* a = put("a.yaml", "extends: b.yaml\n");
  const char* b = put("b.yaml", "seed: 2\nextends: a.yaml\n");
  mrlConfig c;
  char err[MRL_ERRLEN], want[MRL_ERRLEN + 4 * PATH_MAX];
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, a, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s:2:10: extends cycle: %s -> %s -> %s", b, a, b, a);
  cr_assert_str_eq(err, want);

  const char* self = put("self.yaml", "extends: self.yaml\n");
  cr_assert_eq(mrl_config_load(&c, self, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s:1:10: extends cycle: %s -> %s", self, self, self);
  cr_assert_str_eq(err, want);
}

Test(config, extends_depth_is_limited_to_eight) {
  // f0 -> f1 -> ... -> f8: eight hops load
  char name[32], text[64];
  for (int i = 0; i < 8; i++) {
    snprintf(name, sizeof name, "f%d.yaml", i);
    snprintf(text, sizeof text, "extends: f%d.yaml\n", i + 1);
    put(name, text);
  }
  put("f8.yaml", "inner:\n  steps: 8\n");
  mrlConfig c;
  char err[MRL_ERRLEN], want[MRL_ERRLEN + PATH_MAX];
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_load(&c, tpath("f0.yaml"), err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.inner.steps, 8);

  // nine hops do not
  put("f8.yaml", "extends: f9.yaml\n");
  put("f9.yaml", "inner:\n  steps: 9\n");
  cr_assert_eq(mrl_config_load(&c, tpath("f0.yaml"), err, sizeof err), -1);
  snprintf(want, sizeof want, "%s:1:10: extends: more than 8 nested files", tpath("f8.yaml"));
  cr_assert_str_eq(err, want);
  cr_assert_eq(c.inner.steps, 8);
}

//--------------------------------- overrides ---------------------------------

Test(config, override_sets_scalars_lists_and_strings) {
  mrlConfig c;
  mrl_config_default(&c);
  override_ok(&c, "inner.lr=0.05");
  cr_assert_eq(c.inner.lr, 0.05);
  override_ok(&c, "policy.hidden=[32,32]");
  cr_assert_eq(c.policy.nhidden, 2);
  cr_assert_eq(c.policy.hidden[0], 32);
  cr_assert_eq(c.policy.hidden[1], 32);
  override_ok(&c, "policy.hidden=[8, 16, 32]");
  cr_assert_eq(c.policy.nhidden, 3);
  cr_assert_eq(c.policy.hidden[2], 32);
  override_ok(&c, "policy.hidden=[5]");  // shorter again: the tail is cleared
  cr_assert_eq(c.policy.nhidden, 1);
  cr_assert_eq(c.policy.hidden[1], 0);
  cr_assert_eq(c.policy.hidden[2], 0);
  override_ok(&c, "rl.normalize_advantages=off");
  cr_assert_eq(c.rl.normalize_advantages, 0);
  override_ok(&c, " inner.steps = 4 ");
  cr_assert_eq(c.inner.steps, 4);
  override_ok(&c, "outer.algo=fomaml");
  cr_assert_eq(c.outer.algo, MRL_OUTER_FOMAML);
  override_ok(&c, "seed=18446744073709551615");
  cr_assert_eq(c.seed, UINT64_MAX);
  override_ok(&c, "name=my run");
  cr_assert_str_eq(c.name, "my run");
  override_ok(&c, "log.dir='/tmp/a=b c'");  // split at the first '=' only
  cr_assert_str_eq(c.log.dir, "/tmp/a=b c");
  // empty means the file's stem, which an override has not: the resolved
  // config.yaml would load back under another name
  expect_override_error("name=",
                        "override 'name=': name: must not be empty (leave it out to use "
                        "the config file's stem)");
  expect_override_error("name=#x",
                        "override 'name=#x': name: must not be empty (leave it out to "
                        "use the config file's stem)");

  // an override equals the same value set in a file
  mrlConfig f;
  load_text(&f, "inner:\n  lr: 0.05\n");
  mrlConfig o;
  mrl_config_default(&o);
  snprintf(o.name, sizeof o.name, "x");
  override_ok(&o, "inner.lr=0.05");
  cr_assert(memcmp(&f, &o, sizeof f) == 0);
}

Test(config, override_unknown_key_suggests) {
  expect_override_error("inner.lrr=0.1",
                        "override 'inner.lrr=0.1': unknown key 'inner.lrr' "
                        "(did you mean 'inner.lr'?)");
  expect_override_error("seeed=1",
                        "override 'seeed=1': unknown key 'seeed' "
                        "(did you mean 'seed'?)");
  expect_override_error("foo.bar=1", "override 'foo.bar=1': unknown key 'foo.bar'");
  expect_override_error("inner=3",
                        "override 'inner=3': 'inner' is a section, not a key: "
                        "set one of its keys, e.g. 'inner.step=...'");
  expect_override_error("extends=a.yaml",
                        "override 'extends=a.yaml': 'extends' works only in a config file");
  expect_override_error("inner.lr",
                        "override 'inner.lr': expected key=value, e.g. "
                        "inner.lr=0.05");
  expect_override_error("=3", "override '=3': missing key before '='");
}

Test(config, override_bad_values) {
  expect_override_error("inner.lr=abc",
                        "override 'inner.lr=abc': inner.lr: expected a number, got 'abc'");
  expect_override_error("inner.lr=-0.1",
                        "override 'inner.lr=-0.1': inner.lr: must be > 0, "
                        "got -0.1");
  expect_override_error("inner.lr=",
                        "override 'inner.lr=': inner.lr: expected a number, "
                        "got ''");
  expect_override_error("inner.lr=nan",
                        "override 'inner.lr=nan': inner.lr: must be a finite "
                        "number, got 'nan'");
  expect_override_error("inner.lr={a: 1}",
                        "override 'inner.lr={a: 1}': inner.lr: expected a number, "
                        "got a mapping");
  expect_override_error("outer.algo=mammal",
                        "override 'outer.algo=mammal': outer.algo: expected one of reptile, "
                        "fomaml, joint, maml, combo, got 'mammal'");
  expect_override_error("policy.hidden=64",
                        "override 'policy.hidden=64': policy.hidden: expected a list of "
                        "integers like [64, 64], got '64'");
  expect_override_error("policy.hidden=[32,abc]",
                        "override 'policy.hidden=[32,abc]': policy.hidden[1]: expected an "
                        "integer, got 'abc'");
  expect_override_error("policy.hidden=[32,0]",
                        "override 'policy.hidden=[32,0]': policy.hidden[1]: must be >= 1, "
                        "got 0");
  expect_override_error("policy.hidden=[32,",
                        "override 'policy.hidden=[32,': bad YAML value: did not find "
                        "expected node content (while parsing a flow node)");
  expect_override_error("seed=1\n---\n2",
                        "override 'seed=1\n---\n2': more than one YAML document ('---'): "
                        "a config is one mapping");
}

//---------------------------------- check ------------------------------------

Test(config, check_cross_key_errors_name_both_keys) {
  mrlConfig c;
  char err[MRL_ERRLEN] = "";
  mrl_config_default(&c);
  c.task.goal_low = 0.5;
  c.task.goal_high = 0.5;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "task.goal_low (0.5) must be < task.goal_high (0.5)");

  mrl_config_default(&c);
  c.inner.steps = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "inner.steps: must be >= 1 when outer.algo is reptile, got 0 "
                   "(the Reptile update would be zero)");
  c.outer.algo = MRL_OUTER_FOMAML;  // fine for fomaml: the gradient at phi
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);
  c.outer.eps_start = 0;
  c.outer.eps_end = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "outer.eps_start and outer.eps_end: must not both be 0 when "
                   "outer.algo is reptile (the meta-parameters would never move)");

  mrl_config_default(&c);
  c.rl.bootstrap_time_limit = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.rl.baseline = MRL_BASELINE_ZERO;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "rl.bootstrap_time_limit needs a value to bootstrap with: set "
                   "rl.baseline=linear");

  mrl_config_default(&c);
  c.rl.vf_shared = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "rl.vf_shared carries the value network of rl.baseline=mlp: set "
                   "rl.baseline=mlp or rl.vf_shared=false");
  c.rl.baseline = MRL_BASELINE_MLP;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
}

// The algorithms that cannot run with some inner loops or optimizers say so.
Test(config, check_algorithm_combinations) {
  mrlConfig c;
  char err[MRL_ERRLEN] = "";
  mrl_config_default(&c);
  c.outer.algo = MRL_OUTER_MAML;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.inner.optim = MRL_OPT_ADAM;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "inner.optim=sgd"), "%s", err);
  c.inner.optim = MRL_OPT_SGD;
  c.inner.step = MRL_INNER_PPO;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "inner.step=vpg"), "%s", err);
  c.outer.algo = MRL_OUTER_COMBO;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "combo"), "%s", err);
  c.outer.algo = MRL_OUTER_FOMAML;  // ppo is fine under a first-order outer loop
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);
  c.outer.optim = MRL_OPT_TRPO;  // plain reptile has no gradient for trpo
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "trpo needs a gradient"), "%s", err);
  c.outer.reptile_as_gradient = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.outer.optim = MRL_OPT_ADAM;  // as a gradient, eps does not matter
  c.outer.eps_start = c.outer.eps_end = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);  // learned step sizes need maml's meta-gradient
  c.inner.learn_lr = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "inner.learn_lr learns the step sizes through maml's meta-gradient: set "
                   "outer.algo=maml or inner.learn_lr=false");
  c.outer.algo = MRL_OUTER_MAML;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);  // CAVIA's context: adapted by maml or fomaml, with sgd vpg steps
  c.inner.adapt = MRL_ADAPT_CONTEXT;
  c.outer.algo = MRL_OUTER_MAML;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "set policy.context"), "%s", err);
  c.policy.context = 8;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.outer.algo = MRL_OUTER_FOMAML;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.outer.algo = MRL_OUTER_REPTILE;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "outer.algo=maml or fomaml, or inner.adapt=all"), "%s", err);
  c.outer.algo = MRL_OUTER_FOMAML;
  c.inner.step = MRL_INNER_PPO;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "inner.adapt=context takes sgd steps"), "%s", err);
  c.inner.step = MRL_INNER_VPG;
  c.outer.algo = MRL_OUTER_MAML;
  c.inner.learn_lr = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "inner.learn_lr has no multiplier for policy.context"), "%s", err);

  mrl_config_default(&c);  // the score-function term is one of maml's products
  c.outer.hvp_lvc = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "outer.hvp_lvc is a term of maml's Hessian-vector products: set "
                   "outer.algo=maml or outer.hvp_lvc=false");
  c.outer.algo = MRL_OUTER_MAML;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);  // pooled joint PPO has no per-task slots to choose from
  c.outer.worst_fraction = 0.5;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.outer.algo = MRL_OUTER_JOINT;
  c.inner.step = MRL_INNER_PPO;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err,
                   "outer.worst_fraction weights tasks in the outer step, and joint training "
                   "with inner.step=ppo pools every task's batch: set outer.worst_fraction=1");
  c.outer.optim = MRL_OPT_TRPO;  // joint TRPO keeps a trust set per task
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);

  mrl_config_default(&c);  // a fit kept for the next step is the linear baseline's
  c.rl.baseline_fit = MRL_FIT_PREVIOUS;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  c.rl.baseline = MRL_BASELINE_MLP;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "rl.baseline_fit=previous"), "%s", err);
  c.rl.baseline = MRL_BASELINE_LINEAR;
  c.rl.bootstrap_time_limit = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "rl.bootstrap_time_limit=false"), "%s", err);

  mrl_config_default(&c);  // balancing needs directions to balance
  c.task.direction_balanced = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "task.direction_balanced: needs task.direction: true");
  c.task.direction = 1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
}

Test(config, check_env_name_is_a_known_family) {
  mrlConfig c;
  char err[MRL_ERRLEN] = "";
  mrl_config_default(&c);
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), 0, "%s", err);
  snprintf(c.env.name, sizeof c.env.name, "pointnav");
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  const char* want =
      "env.name: unknown task family 'pointnav' (did you mean 'point_nav'?); "
      "known: ";
  cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
  cr_assert_not_null(strstr(err, "point_nav"), "%s", err);
  snprintf(c.env.name, sizeof c.env.name, "qqqqqqqqqqqq");
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  want = "env.name: unknown task family 'qqqqqqqqqqqq'; known: ";
  cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
  cr_assert_null(strstr(err, "did you mean"), "%s", err);
}

Test(config, check_validates_values_set_in_code) {
  mrlConfig c;
  char err[MRL_ERRLEN] = "";
  mrl_config_default(&c);
  c.inner.lr = -1;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "inner.lr: must be > 0, got -1");

  mrl_config_default(&c);
  c.inner.lr = NAN;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "inner.lr: must be a finite number, got nan");

  mrl_config_default(&c);
  c.policy.nhidden = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "policy.hidden: must have 1 to 8 entries, got 0");

  mrl_config_default(&c);
  c.policy.hidden[1] = 5000;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "policy.hidden[1]: must be <= 4096, got 5000");

  mrl_config_default(&c);
  c.policy.activation = (mrlActivation)7;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "policy.activation: expected one of tanh, relu, got enum value 7");

  mrl_config_default(&c);
  c.rl.normalize_advantages = 2;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "rl.normalize_advantages: must be 0 or 1 (false or true), got 2");

  mrl_config_default(&c);
  c.log.dir[0] = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "log.dir: must not be empty");

  mrl_config_default(&c);
  c.eval.episodes = 0;
  cr_assert_eq(mrl_config_check(&c, err, sizeof err), -1);
  cr_assert_str_eq(err, "eval.episodes: must be >= 1, got 0");

  // a config loaded from a file checks clean
  mrlConfig u;
  fill_unusual(&u);
  snprintf(u.env.name, sizeof u.env.name, "point_nav");
  cr_assert_eq(mrl_config_check(&u, err, sizeof err), 0, "%s", err);
}

// Every outer algorithm's name is the one outer.algo accepts for it, so eval
// and the logs name a run the way its config does.
Test(config, outer_algo_names_round_trip) {
  const mrlOuterAlgo all[] = {MRL_OUTER_REPTILE, MRL_OUTER_FOMAML, MRL_OUTER_JOINT, MRL_OUTER_MAML,
                              MRL_OUTER_COMBO};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    mrlConfig cfg;
    mrl_config_default(&cfg);
    char assignment[64], err[MRL_ERRLEN];
    snprintf(assignment, sizeof(assignment), "outer.algo=%s", mrl_outer_algo_name(all[i]));
    cr_assert_eq(mrl_config_override(&cfg, assignment, err, sizeof(err)), 0, "%s: %s", assignment,
                 err);
    cr_assert_eq(cfg.outer.algo, all[i], "%s", assignment);
  }
  cr_assert_str_eq(mrl_outer_algo_name(MRL_OUTER_MAML), "maml");
  cr_assert_str_eq(mrl_outer_algo_name((mrlOuterAlgo)99), "?");
}
