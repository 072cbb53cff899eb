// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// rng.c: counter-based random streams. A stream is a 64-bit key hashed from
// (seed, purpose, iteration, task, env); draw n is a hash of (key, n). No
// draw depends on another stream's draws, so results do not depend on which
// thread or process runs a task, or in which order.

#include <math.h>

#include "metarl.h"

// SplitMix64's finalizer: a bijective avalanche mix of 64 bits.
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fold one more component into a key; the golden-ratio increment keeps
// (a, b) and (b, a) apart.
static uint64_t fold(uint64_t key, uint64_t value) {
  return mix64(key + 0x9e3779b97f4a7c15ULL + mix64(value ^ 0xd1b54a32d192ed03ULL));
}

void mrl_rng_init(mrlRng* rng, uint64_t seed, mrlRngPurpose purpose, uint64_t iteration,
                  uint64_t task, uint64_t env) {
  uint64_t key = mix64(seed);
  key = fold(key, (uint64_t)purpose);
  key = fold(key, iteration);
  key = fold(key, task);
  key = fold(key, env);
  rng->key = key;
  rng->counter = 0;
}

// Two rounds of mixing over (key, counter): one round alone would make
// streams whose keys differ by a multiple of the increment overlap.
uint64_t mrl_rng_u64(mrlRng* rng) {
  uint64_t n = rng->counter++;
  return mix64(mix64(rng->key + n * 0x9e3779b97f4a7c15ULL) ^ rng->key);
}

double mrl_rng_uniform(mrlRng* rng) {
  return (double)(mrl_rng_u64(rng) >> 11) * 0x1.0p-53;
}

void mrl_rng_shuffle(mrlRng* rng, int* a, int n) {
  for (int i = n - 1; i > 0; i--) {  // Fisher-Yates
    int j = (int)(mrl_rng_u64(rng) % (uint64_t)(i + 1));
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

// Box-Muller with both uniforms drawn fresh, so each normal costs exactly two
// counters and no state is cached between calls.
double mrl_rng_normal(mrlRng* rng) {
  double u1 = 1.0 - mrl_rng_uniform(rng);  // (0, 1]: log is finite
  double u2 = mrl_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
