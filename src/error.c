// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// error.c: error messages, fatal invariants, checked allocation and MuJoCo's
// error handlers.

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <mujoco/mujoco.h>

#include "metarl.h"

int mrl_error(char* err, size_t errlen, const char* fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void mrl_fatal(const char* file, int line, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "metarl: internal error at %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

void* mrl_alloc(size_t nbytes) {
  void* p = calloc(1, nbytes ? nbytes : 1);
  if (!p) mrl_fatal(__FILE__, __LINE__, "out of memory (%zu bytes)", nbytes);
  return p;
}

// MuJoCo's default error handler waits for Enter and writes MUJOCO_LOG.TXT in
// the current folder; ours prints one line and exits with a runtime failure.
static void mujoco_error(const char* msg) {
  fprintf(stderr, "metarl: MuJoCo error: %s\n", msg);
  exit(MRL_EXIT_RUNTIME);
}

static atomic_long mrl_mujoco_warnings;

// Counted, and only the first printed: a diverging simulation can warn at
// every step of every episode.
static void mujoco_warning(const char* msg) {
  if (atomic_fetch_add(&mrl_mujoco_warnings, 1) == 0) {
    fprintf(stderr, "metarl: MuJoCo warning (further ones are counted, not printed): %s\n", msg);
  }
}

long mrl_mujoco_warning_count(void) {
  return atomic_load(&mrl_mujoco_warnings);
}

void mrl_install_mujoco_handlers(void) {
  mju_user_error = mujoco_error;
  mju_user_warning = mujoco_warning;
}
