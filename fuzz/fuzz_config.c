// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// fuzz_config.c: libFuzzer target of the config loader. The input is YAML
// text, then optionally a NUL and NUL-separated key=value overrides:
//   "inner:\n  lr: 0.1\n" "\0" "outer.algo=maml" "\0" "policy.hidden=[8]"
// The YAML goes through mrl_config_load (from a file: the loader reads files
// and follows `extends`), each override through mrl_config_override, then
// mrl_config_check. A config that passes must survive mrl_config_write and a
// reload bit for bit (the resolved config.yaml of a run is loaded by --resume).
// Anything else than a clean error return is a finding.

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metarl.h"

static char dir[64];
static char yaml_path[128], resolved_path[128];

// Write n bytes to path, or abort: a harness failure, not a finding.
static void write_file(const char* path, const uint8_t* data, size_t n) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
    perror(path);
    abort();
  }
}

// tmpfs if there is one: the target writes (and checkpoint saves fsync) a
// file per input, which costs nothing in memory and a lot on a disk.
static const char* scratch_folder(void) {
  return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

// At exit (libFuzzer has no teardown): leave nothing in the scratch folder.
static void remove_scratch(void) {
  unlink(yaml_path);
  unlink(resolved_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  // `extends: /dev/stdin` would wait for a terminal
  if (!freopen("/dev/null", "rb", stdin)) abort();
  snprintf(dir, sizeof(dir), "%s/metarl-fuzz-config-XXXXXX", scratch_folder());
  if (!mkdtemp(dir)) abort();
  atexit(remove_scratch);
  snprintf(yaml_path, sizeof(yaml_path), "%s/fuzz.yaml", dir);
  snprintf(resolved_path, sizeof(resolved_path), "%s/resolved.yaml", dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = memchr(data, 0, size);
  size_t yaml_len = nul ? (size_t)(nul - data) : size;
  write_file(yaml_path, data, yaml_len);

  static mrlConfig cfg, again;  // static: about 3 kB each, keep the stack small
  char err[MRL_ERRLEN];
  mrl_config_default(&cfg);
  if (mrl_config_load(&cfg, yaml_path, err, sizeof(err))) {
    if (!err[0]) abort();  // every failure has a message
    return 0;
  }

  // the overrides: NUL-terminated copies of each piece after the YAML
  size_t pos = yaml_len + 1;
  while (nul && pos <= size) {
    const uint8_t* end = memchr(data + pos, 0, size - pos);
    size_t len = end ? (size_t)(end - (data + pos)) : size - pos;
    char* assignment = malloc(len + 1);
    memcpy(assignment, data + pos, len);
    assignment[len] = 0;
    int rc = mrl_config_override(&cfg, assignment, err, sizeof(err));
    free(assignment);
    if (rc) {
      if (!err[0]) abort();
      return 0;
    }
    pos += len + 1;
  }
  if (mrl_config_check(&cfg, err, sizeof(err))) {
    if (!err[0]) abort();
    return 0;
  }

  // round trip: what a run writes as config.yaml loads back identically
  FILE* f = fopen(resolved_path, "wb");
  if (!f || mrl_config_write(&cfg, f) || fclose(f)) abort();
  mrl_config_default(&again);
  if (mrl_config_load(&again, resolved_path, err, sizeof(err))) {
    fprintf(stderr, "resolved config does not load back: %s\n", err);
    abort();
  }
  if (memcmp(&cfg, &again, sizeof(cfg))) {
    fprintf(stderr, "resolved config loads back different\n");
    abort();
  }
  return 0;
}
