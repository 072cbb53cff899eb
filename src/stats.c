// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// stats.c: summary statistics of evaluation results (mean, standard error,
// percentile-bootstrap interval, interquartile mean) and of sampled batches
// (garage's AverageReturn, StdReturn, ... columns). The bootstrap draws from
// a keyed stream, so an interval is the same on every machine and thread count.

#include <math.h>
#include <string.h>

#include "metarl.h"

double mrl_stats_mean(const double* x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return n > 0 ? s / n : NAN;
}

double mrl_stats_sem(const double* x, int n) {
  if (n < 2) return 0;
  double m = mrl_stats_mean(x, n), ss = 0;
  for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  return sqrt(ss / (n - 1) / n);
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

double mrl_stats_iqm(const double* x, int n) {
  if (n <= 0) return NAN;
  double* y = mrl_alloc(sizeof(double) * n);
  memcpy(y, x, sizeof(double) * n);
  qsort(y, n, sizeof(double), cmp_double);
  int cut = n / 4;
  double m = mrl_stats_mean(y + cut, n - 2 * cut);
  free(y);
  return m;
}

// Quantile q of sorted y (n) with linear interpolation (numpy's default).
static double quantile(const double* y, int n, double q) {
  double pos = q * (n - 1);
  int i = (int)floor(pos);
  if (i >= n - 1) return y[n - 1];
  double f = pos - i;
  return y[i] + f * (y[i + 1] - y[i]);
}

void mrl_stats_bootstrap_ci(const double* x, int n, int nresample, double level, uint64_t seed,
                            double* lo, double* hi) {
  if (n <= 0 || nresample <= 0) {
    *lo = *hi = NAN;
    return;
  }
  double* means = mrl_alloc(sizeof(double) * nresample);
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_EVAL, 0, 0, 0);
  for (int b = 0; b < nresample; b++) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[mrl_rng_u64(&rng) % (uint64_t)n];
    means[b] = s / n;
  }
  qsort(means, nresample, sizeof(double), cmp_double);
  double alpha = 1 - level;
  *lo = quantile(means, nresample, alpha / 2);
  *hi = quantile(means, nresample, 1 - alpha / 2);
  free(means);
}

void mrl_stats_summarize(const double* x, int n, uint64_t seed, mrlSummary* s) {
  s->n = n;
  s->mean = mrl_stats_mean(x, n);
  s->sem = mrl_stats_sem(x, n);
  s->iqm = mrl_stats_iqm(x, n);
  mrl_stats_bootstrap_ci(x, n, MRL_BOOTSTRAP_RESAMPLES, 0.95, seed, &s->ci_low, &s->ci_high);
}

//------------------------------ batch statistics -----------------------------

void mrl_batch_lengths(const mrlBatch* b, double* mean_length, double* full_fraction) {
  double sum = 0, full = 0;
  for (int i = 0; i < b->nenv; i++) {
    sum += b->len[i];
    full += b->len[i] == b->horizon;
  }
  *mean_length = sum / b->nenv;
  *full_fraction = full / b->nenv;
}

void mrl_batch_stats(const mrlPolicy* pol, const double* params, const mrlBatch* b, double gamma,
                     int fitted, mrlBatchStats* s) {
  int n = b->nenv;
  s->ntraj = n;
  s->sum_return = s->sumsq_return = s->sum_disc_return = 0;
  s->max_return = -INFINITY;
  s->min_return = INFINITY;
  for (int i = 0; i < n; i++) {
    double r = b->ep_return[i], disc = 0, g = 1;
    s->sum_return += r;
    s->sumsq_return += r * r;
    if (r > s->max_return) s->max_return = r;
    if (r < s->min_return) s->min_return = r;
    for (int t = 0; t < b->len[i]; t++, g *= gamma) disc += g * b->rew[(size_t)t * n + i];
    s->sum_disc_return += disc;
  }
  s->entropy = mrl_policy_entropy(pol, params);
  s->explained_variance = NAN;
  if (!fitted) return;
  double sr = 0, srr = 0, se = 0, see = 0;
  long m = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      size_t r = (size_t)t * n + i;
      double e = b->ret[r] - b->baseline[r];
      sr += b->ret[r];
      srr += b->ret[r] * b->ret[r];
      se += e;
      see += e * e;
      m++;
    }
  }
  if (m == 0) return;
  double var_ret = srr / m - (sr / m) * (sr / m);
  double var_err = see / m - (se / m) * (se / m);
  // garage's convention: 0 when the returns do not vary
  s->explained_variance = var_ret > 1e-12 ? 1 - var_err / var_ret : 0;
}

void mrl_return_stats_pool(const mrlBatchStats* s, int n, int stride, mrlReturnStats* out) {
  double ntraj = 0, sum = 0, sumsq = 0, disc = 0, ent = 0, ev = 0;
  double mx = -INFINITY, mn = INFINITY;
  int nev = 0;
  for (int j = 0; j < n; j++) {
    const mrlBatchStats* b = s + (size_t)j * stride;
    ntraj += b->ntraj;
    sum += b->sum_return;
    sumsq += b->sumsq_return;
    disc += b->sum_disc_return;
    ent += b->entropy;
    if (b->max_return > mx) mx = b->max_return;
    if (b->min_return < mn) mn = b->min_return;
    if (!isnan(b->explained_variance)) {
      ev += b->explained_variance;
      nev++;
    }
  }
  out->ntraj = ntraj;
  out->average = ntraj > 0 ? sum / ntraj : NAN;
  double var = ntraj > 0 ? sumsq / ntraj - out->average * out->average : NAN;
  out->std = var > 0 ? sqrt(var) : 0;
  out->max = mx;
  out->min = mn;
  out->average_discounted = ntraj > 0 ? disc / ntraj : NAN;
  out->entropy = n > 0 ? ent / n : NAN;
  out->explained_variance = nev > 0 ? ev / nev : NAN;
}
