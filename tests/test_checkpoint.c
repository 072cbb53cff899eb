// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_checkpoint.c: checkpoints round-trip bit for bit, and every damaged or
// mismatched file is refused with a message instead of being loaded.

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

static char dir[256];
static mrlPolicy pol;
static double params[4096], loaded[4096];

// The config of pol: a (16, 8) policy; tests add the key whose mismatch they check.
static void pol_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = 16;
  cfg->policy.hidden[1] = 8;
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/metarl-ckpt-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  mrlConfig cfg;
  pol_config(&cfg);
  mrl_policy_setup(&pol, &cfg, 3, 2);
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, params);
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static void path_of(char* out, const char* name) {
  snprintf(out, 512, "%s/%s", dir, name);
}

static void save_ok(const char* path) {
  char err[MRL_ERRLEN];
  cr_assert_eq(mrl_checkpoint_save(path, &pol, params, 42, err, sizeof(err)), 0, "%s", err);
}

// Load must fail and its message must contain `expect`.
static void load_fails(const mrlPolicy* p, const char* path, const char* expect) {
  char err[MRL_ERRLEN] = "";
  int it = -1;
  cr_assert_eq(mrl_checkpoint_load(path, p, loaded, &it, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, expect), "message '%s' lacks '%s'", err, expect);
}

static long file_size(const char* path) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  return st.st_size;
}

TestSuite(checkpoint, .init = setup, .fini = teardown);

Test(checkpoint, round_trip_is_bit_exact) {
  char path[512];
  path_of(path, "a.ckpt");
  save_ok(path);
  char err[MRL_ERRLEN];
  int it = 0;
  cr_assert_eq(mrl_checkpoint_load(path, &pol, loaded, &it, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(it, 42);
  cr_assert_eq(memcmp(params, loaded, sizeof(double) * pol.nparam), 0);
  char tmp[600];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  cr_assert_neq(access(tmp, F_OK), 0, "temporary file left behind");
}

Test(checkpoint, missing_file) {
  char path[512];
  path_of(path, "none.ckpt");
  load_fails(&pol, path, "No such file");
}

Test(checkpoint, truncated_at_every_length) {
  char path[512], cut[512];
  path_of(path, "a.ckpt");
  path_of(cut, "cut.ckpt");
  save_ok(path);
  long size = file_size(path);
  FILE* f = fopen(path, "rb");
  unsigned char* buf = malloc(size);
  cr_assert_eq(fread(buf, 1, size, f), (size_t)size);
  fclose(f);
  for (long n = 0; n < size; n += n < 64 ? 1 : 97) {
    f = fopen(cut, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    char err[MRL_ERRLEN];
    cr_assert_eq(mrl_checkpoint_load(cut, &pol, loaded, NULL, err, sizeof(err)), -1,
                 "accepted a file cut at %ld bytes", n);
  }
  free(buf);
}

Test(checkpoint, every_bit_flip_is_detected_in_the_header_and_some_in_the_body) {
  char path[512], bad[512];
  path_of(path, "a.ckpt");
  path_of(bad, "bad.ckpt");
  save_ok(path);
  long size = file_size(path);
  FILE* f = fopen(path, "rb");
  unsigned char* buf = malloc(size);
  cr_assert_eq(fread(buf, 1, size, f), (size_t)size);
  fclose(f);
  for (long byte = 0; byte < size; byte += byte < 64 ? 1 : 61) {
    for (int bit = 0; bit < 8; bit += 3) {
      buf[byte] ^= (unsigned char)(1u << bit);
      f = fopen(bad, "wb");
      fwrite(buf, 1, size, f);
      fclose(f);
      char err[MRL_ERRLEN];
      cr_assert_eq(mrl_checkpoint_load(bad, &pol, loaded, NULL, err, sizeof(err)), -1,
                   "accepted a flip of bit %d of byte %ld", bit, byte);
      buf[byte] ^= (unsigned char)(1u << bit);
    }
  }
  free(buf);
}

Test(checkpoint, other_policy_shape_is_refused) {
  char path[512];
  path_of(path, "a.ckpt");
  save_ok(path);
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = 16;
  cfg.policy.hidden[1] = 9;
  mrlPolicy other;
  mrl_policy_setup(&other, &cfg, 3, 2);
  load_fails(&other, path, "layer 2 has size 8; the policy has 9");
  cfg.policy.nhidden = 1;
  mrl_policy_setup(&other, &cfg, 3, 2);
  load_fails(&other, path, "has 3 layers; the policy has 2");
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[1] = 8;
  cfg.policy.activation = MRL_ACT_RELU;
  mrl_policy_setup(&other, &cfg, 3, 2);
  load_fails(&other, path, "another activation");
}

Test(checkpoint, not_a_checkpoint) {
  char path[512];
  path_of(path, "x.ckpt");
  FILE* f = fopen(path, "w");
  fprintf(f, "seed: 1\n");
  fclose(f);
  load_fails(&pol, path, "not a metarl checkpoint");
}

Test(checkpoint, non_finite_parameters_are_never_saved) {
  char path[512];
  path_of(path, "a.ckpt");
  save_ok(path);
  long before = file_size(path);
  params[3] = NAN;
  char err[MRL_ERRLEN];
  cr_assert_eq(mrl_checkpoint_save(path, &pol, params, 43, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "not finite"));
  cr_assert_eq(file_size(path), before);
  int it = 0;
  cr_assert_eq(mrl_checkpoint_load(path, &pol, loaded, &it, err, sizeof(err)), 0);
  cr_assert_eq(it, 42, "the previous checkpoint is intact");
}

// A write that cannot finish (a full disk, here a file-size limit) fails with
// a message and leaves the previous checkpoint as it was.
Test(checkpoint, failed_write_keeps_previous) {
  char path[512];
  path_of(path, "a.ckpt");
  save_ok(path);
  long before = file_size(path);
  signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of a signal
  struct rlimit old, lim;
  cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 100;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  params[0] += 1;
  char err[MRL_ERRLEN];
  int rc = mrl_checkpoint_save(path, &pol, params, 43, err, sizeof(err));
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  cr_assert_eq(rc, -1);
  cr_assert_not_null(strstr(err, "previous checkpoint kept"), "%s", err);
  cr_assert_eq(file_size(path), before);
  int it = 0;
  cr_assert_eq(mrl_checkpoint_load(path, &pol, loaded, &it, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(it, 42);
  char tmp[600];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  cr_assert_neq(access(tmp, F_OK), 0, "temporary file left behind");
}

Test(checkpoint, unwritable_folder) {
  char path[512];
  path_of(path, "missing-dir/a.ckpt");
  char err[MRL_ERRLEN];
  cr_assert_eq(mrl_checkpoint_save(path, &pol, params, 1, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "cannot write checkpoint"), "%s", err);
}

// The mismatch tests below: a policy with one more parameter block than `pol`
// (cfg turns on its key). pol's checkpoint is refused by it with a message
// holding `without`; then `with` is filled by its initialization (seed 2).
static void extended_policy(const mrlConfig* cfg, mrlPolicy* ext, double* with,
                            const char* without) {
  char path[512];
  path_of(path, "a.ckpt");
  save_ok(path);  // pol: none of the blocks
  mrl_policy_setup(ext, cfg, 3, 2);
  load_fails(ext, path, without);
  mrlRng rng;
  mrl_rng_init(&rng, 2, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(ext, &rng, with);
}

// ext's checkpoint of `with` loads back bit for bit, and pol refuses it with a
// message holding `with_key`.
static void round_trip_and_refuse(const mrlPolicy* ext, const double* with, const char* with_key) {
  static double back[2048];
  char path[512], err[MRL_ERRLEN];
  path_of(path, "b.ckpt");
  cr_assert_eq(mrl_checkpoint_save(path, ext, with, 3, err, sizeof(err)), 0, "%s", err);
  int it = -1;
  cr_assert_eq(mrl_checkpoint_load(path, ext, back, &it, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(memcmp(with, back, sizeof(double) * ext->nparam), 0);
  load_fails(&pol, path, with_key);
}

// A checkpoint with or without the observation statistics of policy.obs_norm
// loaded by the other kind of policy: refused, saying which key to set.
Test(checkpoint, obs_norm_mismatch_is_refused_with_the_key_to_set) {
  mrlConfig cfg;
  pol_config(&cfg);
  cfg.policy.obs_norm = 1;
  mrlPolicy normed;
  static double with[2048];
  extended_policy(&cfg, &normed, with, "saved without policy.obs_norm");
  // the statistics round-trip bit-exactly too
  with[normed.norm_off] = 0.125;
  with[normed.norm_off + 3] = 7.5;
  with[normed.nparam - 1] = 4096;
  round_trip_and_refuse(&normed, with, "saved with policy.obs_norm");
}

// The same for the step-size block of inner.learn_lr.
Test(checkpoint, learn_lr_mismatch_is_refused_with_the_key_to_set) {
  mrlConfig cfg;
  pol_config(&cfg);
  cfg.inner.learn_lr = 1;
  mrlPolicy rated;
  static double with[2048];
  extended_policy(&cfg, &rated, with, "saved without inner.learn_lr");
  cr_assert_eq(rated.nparam, pol.nparam + MRL_LR_BLOCK_LEN(7));  // 3 layers: 7 tensors
  round_trip_and_refuse(&rated, with, "saved with inner.learn_lr");
}

// The same for policy.context's block, which round-trips like every entry.
Test(checkpoint, context_mismatch_is_refused_with_the_key_to_set) {
  mrlConfig cfg;
  pol_config(&cfg);
  cfg.policy.context = 5;
  mrlPolicy ctx;
  static double with[2048];
  extended_policy(&cfg, &ctx, with, "saved without policy.context");
  cr_assert_eq(ctx.nparam, pol.nparam + 5 * (1 + 16));
  for (int i = 0; i < 5; i++) with[ctx.ctx_off + i] = 0.25 * (i + 1);  // an adapted context
  round_trip_and_refuse(&ctx, with, "saved with policy.context");
}

// A warm start of a policy with policy.context from a checkpoint saved without
// one (a pretrain stage's, say): every other entry is the checkpoint's, at its
// offset past the context's block (observation statistics here), the block
// keeps its initialization (c = 0, W_c drawn), and the policy's means are the
// checkpoint policy's to the bit. Any other shape is still refused, and a
// failed warm start leaves the parameters alone.
Test(checkpoint, warm_start_without_the_context_keeps_the_policy) {
  mrlConfig cfg;
  pol_config(&cfg);
  cfg.policy.obs_norm = 1;
  mrlPolicy plain, ctx;
  mrl_policy_setup(&plain, &cfg, 3, 2);
  static double saved[2048], fresh[2048], warm[2048];
  mrlRng rng;
  mrl_rng_init(&rng, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&plain, &rng, saved);
  for (int i = 0; i < plain.nparam; i++) saved[i] += 0.01 * (i % 7);  // trained: biases not 0
  double* stats = saved + plain.norm_off;
  stats[0] = 0.5, stats[1] = -1, stats[2] = 2;  // the means, then the variances, then count
  stats[3] = 4, stats[4] = 0.25, stats[5] = 1, stats[6] = 100;
  char path[512], err[MRL_ERRLEN] = "";
  path_of(path, "plain.ckpt");
  cr_assert_eq(mrl_checkpoint_save(path, &plain, saved, 7, err, sizeof(err)), 0, "%s", err);

  cfg.policy.context = 4;
  cfg.inner.adapt = MRL_ADAPT_CONTEXT;
  mrl_policy_setup(&ctx, &cfg, 3, 2);
  mrl_rng_init(&rng, 4, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&ctx, &rng, fresh);
  memcpy(warm, fresh, sizeof(double) * ctx.nparam);
  int it = -1;
  cr_assert_eq(mrl_checkpoint_load(path, &ctx, loaded, &it, err, sizeof(err)), -1);  // exact: no
  cr_assert_eq(mrl_checkpoint_load_warm(path, &ctx, warm, err, sizeof(err)), 0, "%s", err);
  int block = 4 * (1 + 16);
  cr_assert_eq(ctx.nparam, plain.nparam + block);
  cr_assert_eq(memcmp(warm, saved, sizeof(double) * ctx.ctx_off), 0);
  cr_assert_eq(memcmp(warm + ctx.ctx_off, fresh + ctx.ctx_off, sizeof(double) * block), 0);
  cr_assert_eq(memcmp(warm + ctx.norm_off, stats, sizeof(double) * 7), 0);
  double wc = 0;
  for (int i = 0; i < 4; i++) cr_assert_eq(warm[ctx.ctx_off + i], 0.0);
  for (int i = 4; i < block; i++) wc += fabs(warm[ctx.ctx_off + i]);
  cr_assert_gt(wc, 0, "W_c is drawn, or the inner step's gradient never reaches c");

  double obs[5 * 3];
  for (int i = 0; i < 15; i++) obs[i] = 0.3 * i - 2;
  mrlPolicyWork* a = mrl_policy_work_make(&plain, 5);
  mrlPolicyWork* b = mrl_policy_work_make(&ctx, 5);
  mrl_policy_forward(&plain, saved, a, obs, 5);
  mrl_policy_forward(&ctx, warm, b, obs, 5);
  cr_assert_eq(memcmp(a->mean, b->mean, sizeof(double) * 5 * 2), 0,
               "c = 0 must leave the checkpoint's policy as it was");
  mrl_policy_work_free(a);
  mrl_policy_work_free(b);

  // another shape: refused, with the parameters as they were
  mrlConfig wide;
  pol_config(&wide);
  wide.policy.hidden[0] = 12;
  wide.policy.context = 4;
  wide.inner.adapt = MRL_ADAPT_CONTEXT;
  mrlPolicy other;
  mrl_policy_setup(&other, &wide, 3, 2);
  memcpy(warm, fresh, sizeof(double) * other.nparam);
  cr_assert_eq(mrl_checkpoint_load_warm(path, &other, warm, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "layer 1 has size 16; the policy has 12"), "%s", err);
  cr_assert_eq(memcmp(warm, fresh, sizeof(double) * other.nparam), 0);
  // and a policy without a context warm-starts only from its own shape
  cr_assert_eq(mrl_checkpoint_load_warm(path, &pol, loaded, err, sizeof(err)), -1);
  cr_assert_not_null(strstr(err, "saved with policy.obs_norm"), "%s", err);
}

// rl.vf_shared's value network rides in the same file: back bit for bit,
// refused when its size differs from the config's or a number is not finite.
Test(checkpoint, value_network_round_trips_and_mismatches_are_refused) {
  char path[512], err[MRL_ERRLEN] = "";
  path_of(path, "v.ckpt");
  double value[7] = {0.5, -1.25, 3, 1e-300, -0.0, 2, 7}, back[8];
  cr_assert_eq(
      mrl_checkpoint_save_state(path, &pol, params, 3, 99, NULL, value, 7, err, sizeof(err)), 0,
      "%s", err);
  int it = 0;
  long steps = 0;
  cr_assert_eq(
      mrl_checkpoint_load_state(path, &pol, loaded, &it, &steps, NULL, back, 7, err, sizeof(err)),
      0, "%s", err);
  cr_assert_eq(memcmp(value, back, sizeof value), 0);
  cr_assert_eq(memcmp(params, loaded, sizeof(double) * pol.nparam), 0);
  cr_assert_eq(it, 3);
  cr_assert_eq(steps, 99);
  // a reader without a value network skips it
  cr_assert_eq(mrl_checkpoint_load(path, &pol, loaded, &it, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(
      mrl_checkpoint_load_state(path, &pol, loaded, &it, &steps, NULL, back, 8, err, sizeof(err)),
      -1);
  cr_assert(strstr(err, "value network of 7 numbers; this config's has 8"), "%s", err);
  save_ok(path);  // none in the file
  cr_assert_eq(
      mrl_checkpoint_load_state(path, &pol, loaded, &it, &steps, NULL, back, 7, err, sizeof(err)),
      -1);
  cr_assert(strstr(err, "holds no value network"), "%s", err);
  value[2] = NAN;
  cr_assert_eq(
      mrl_checkpoint_save_state(path, &pol, params, 3, 99, NULL, value, 7, err, sizeof(err)), -1);
  cr_assert(strstr(err, "value-network number 2 is not finite"), "%s", err);
}
