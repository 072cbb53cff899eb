// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// fuzz_checkpoint.c: libFuzzer target of the checkpoint reader. The first
// byte of the input is a mode, the rest the file:
//   bit 0: recompute the trailing FNV-1a checksum before reading, so that
//          mutations reach the parser behind the checksum;
//   bit 1: read with an Adam optimizer (moments expected), else with none;
//   bit 2: read for the policy 3-[4]-2 instead of 2-[8,8]-2;
//   bit 3: read a value network of 5 numbers (rl.vf_shared), else none.
// A load must either fail with a message or return a state a run can resume
// from (finite parameters, Adam moments and value network, v >= 0, no
// negative count); a load of a version-3 file that keeps every block it read
// must save back to the same bytes.

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metarl.h"

static char dir[64];
static char ckpt_path[128], again_path[128];
static mrlPolicy pols[2];

static void write_file(const char* path, const uint8_t* data, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
    perror(path);
    abort();
  }
}

// The same FNV-1a as checkpoint.c (the format's checksum).
static uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// tmpfs if there is one: the target writes (and checkpoint saves fsync) a
// file per input, which costs nothing in memory and a lot on a disk.
static const char* scratch_folder(void) {
  return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

// At exit (libFuzzer has no teardown): leave nothing in the scratch folder.
static void remove_scratch(void) {
  unlink(ckpt_path);
  unlink(again_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof(dir), "%s/metarl-fuzz-ckpt-XXXXXX", scratch_folder());
  if (!mkdtemp(dir)) abort();
  atexit(remove_scratch);
  snprintf(ckpt_path, sizeof(ckpt_path), "%s/fuzz.ckpt", dir);
  snprintf(again_path, sizeof(again_path), "%s/again.ckpt", dir);
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = 8;
  cfg.policy.hidden[1] = 8;
  mrl_policy_setup(&pols[0], &cfg, 2, 2);
  cfg.policy.nhidden = 1;
  cfg.policy.hidden[0] = 4;
  mrl_policy_setup(&pols[1], &cfg, 3, 2);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0];
  size_t n = size - 1;
  uint8_t* file = malloc(n ? n : 1);
  memcpy(file, data + 1, n);
  if ((mode & 1) && n >= 8) {
    uint64_t sum = fnv1a(file, n - 8);
    memcpy(file + n - 8, &sum, 8);
  }
  write_file(ckpt_path, file, n);
  free(file);

  const mrlPolicy* pol = &pols[(mode >> 2) & 1];
  mrlOptim opt;
  mrl_optim_init(&opt, (mode & 2) ? MRL_OPT_ADAM : MRL_OPT_SGD, pol->nparam, 1e-3);
  double* params = malloc(sizeof(double) * pol->nparam);
  int iteration = -1;
  long steps = -1;
  char err[MRL_ERRLEN] = "";
  double value_buf[5];
  double* value = (mode & 8) ? value_buf : NULL;
  int nvalue = value ? 5 : 0;
  if (mrl_checkpoint_load_state(ckpt_path, pol, params, &iteration, &steps, &opt, value, nvalue,
                                err, sizeof(err))) {
    if (!err[0]) abort();  // every refusal says why
  } else {
    // what a run may resume from: finite parameters and moments, v >= 0,
    // no negative count
    for (int i = 0; i < pol->nparam; i++) {
      if (!isfinite(params[i])) abort();
      if (opt.m && (!isfinite(opt.m[i]) || !isfinite(opt.v[i]) || opt.v[i] < 0)) abort();
    }
    for (int i = 0; i < nvalue; i++) {
      if (!isfinite(value[i])) abort();
    }
    if (iteration < 0 || steps < 0 || opt.t < 0) abort();
    // what was read writes back to the same bytes (the checksum included),
    // unless it was version 2 (written back as 3) or a value block went unread
    uint32_t version = 0;
    memcpy(&version, data + 1 + 8, 4);
    if (mrl_checkpoint_save_state(again_path, pol, params, iteration, steps, &opt, value, nvalue,
                                  err, sizeof(err))) {
      fprintf(stderr, "loaded checkpoint does not save: %s\n", err);
      abort();
    }
    FILE* f = fopen(again_path, "rb");
    if (!f) abort();
    uint8_t* back = malloc(n + 1);
    size_t got = fread(back, 1, n + 1, f);
    fclose(f);
    uint8_t* orig = malloc(n ? n : 1);
    memcpy(orig, data + 1, n);
    if ((mode & 1) && n >= 8) {
      uint64_t sum = fnv1a(orig, n - 8);
      memcpy(orig + n - 8, &sum, 8);
    }
    int comparable = version == 3 && (value || got == n);
    if (comparable && (got != n || memcmp(back, orig, n))) {
      fprintf(stderr, "checkpoint read and written back differs (%zu vs %zu bytes)\n", got, n);
      abort();
    }
    free(back);
    free(orig);
  }
  free(params);
  mrl_optim_free(&opt);
  return 0;
}
