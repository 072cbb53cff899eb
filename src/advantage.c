// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// advantage.c: discounted returns, the linear feature baseline of rllab and
// ProMP (ridge regression of returns on [o, o^2, t, t^2, t^3, 1]) and GAE.

#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "metarl.h"

mrlBaseline* mrl_baseline_make(int nobs, int maxrows) {
  mrlBaseline* bl = mrl_alloc(sizeof(mrlBaseline));
  bl->nfeat = 2 * nobs + 4;
  bl->feat = mrl_alloc(sizeof(double) * (size_t)maxrows * bl->nfeat);
  bl->gram = mrl_alloc(sizeof(double) * bl->nfeat * bl->nfeat);
  bl->gram0 = mrl_alloc(sizeof(double) * bl->nfeat * bl->nfeat);
  bl->rhs = mrl_alloc(sizeof(double) * bl->nfeat);
  bl->coef = mrl_alloc(sizeof(double) * bl->nfeat);
  bl->maxrows = maxrows;
  return bl;
}

void mrl_baseline_free(mrlBaseline* bl) {
  if (!bl) return;
  free(bl->feat);
  free(bl->gram);
  free(bl->gram0);
  free(bl->rhs);
  free(bl->coef);
  free(bl);
}

void mrl_returns(mrlBatch* b, double gamma) {
  int n = b->nenv;
  for (int i = 0; i < n; i++) {
    double g = 0;
    for (int t = b->horizon - 1; t >= 0; t--) {
      size_t r = (size_t)t * n + i;
      g = t < b->len[i] ? b->rew[r] + gamma * g : 0;
      b->ret[r] = g;
    }
  }
}

// Features of one row: clipped observation, its square, time polynomials.
static void features(const double* obs, int nobs, int t, double* f) {
  for (int k = 0; k < nobs; k++) {
    double o = obs[k] > 10 ? 10 : obs[k] < -10 ? -10 : obs[k];
    f[k] = o;
    f[nobs + k] = o * o;
  }
  double s = t / 100.0;
  f[2 * nobs] = s;
  f[2 * nobs + 1] = s * s;
  f[2 * nobs + 2] = s * s * s;
  f[2 * nobs + 3] = 1;
}

static int all_finite(const double* x, int n) {
  for (int i = 0; i < n; i++) {
    if (!isfinite(x[i])) return 0;
  }
  return 1;
}

int mrl_baseline_fit_predict(mrlBaseline* bl, mrlBatch* b) {
  int n = b->nenv, nobs = b->nobs, nf = bl->nfeat;
  int rows = 0;
  double* rhs = bl->rhs;  // F^T R
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      features(b->obs + ((size_t)t * n + i) * nobs, nobs, t, bl->feat + (size_t)rows * nf);
      rows++;
    }
  }
  MRL_ASSERT(rows <= bl->maxrows);
  // F^T F and F^T R over the valid rows, in row order
  double* gram0 = bl->gram0;
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, nf, rows, 1.0, bl->feat, nf, 0.0, gram0, nf);
  memset(rhs, 0, sizeof(double) * nf);
  int row = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      cblas_daxpy(nf, b->ret[(size_t)t * n + i], bl->feat + (size_t)row * nf, 1, rhs, 1);
      row++;
    }
  }
  int ok = 0;
  for (double reg = 1e-5; reg < 1e5 && !ok; reg *= 10) {
    memcpy(bl->gram, gram0, sizeof(double) * nf * nf);
    for (int k = 0; k < nf; k++) bl->gram[k * nf + k] += reg;
    memcpy(bl->coef, rhs, sizeof(double) * nf);
    // the row-major upper triangle is the column-major lower one; the
    // column-major call needs no transposed copies (LAPACKE allocates those)
    lapack_int info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', nf, 1, bl->gram, nf, bl->coef, nf);
    ok = info == 0 && all_finite(bl->coef, nf);
  }
  if (!ok) memset(bl->coef, 0, sizeof(double) * nf);
  row = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      size_t r = (size_t)t * n + i;
      if (t >= b->len[i]) {
        b->baseline[r] = 0;
        continue;
      }
      b->baseline[r] = cblas_ddot(nf, bl->feat + (size_t)row * nf, 1, bl->coef, 1);
      row++;
    }
  }
  return ok ? 0 : -1;
}

void mrl_gae(mrlBatch* b, double gamma, double lambda, int normalize) {
  int n = b->nenv;
  double sum = 0, sumsq = 0;
  long count = 0;
  for (int i = 0; i < n; i++) {
    double gae = 0;
    for (int t = b->horizon - 1; t >= 0; t--) {
      size_t r = (size_t)t * n + i;
      if (t >= b->len[i]) {
        b->adv[r] = 0;
        continue;
      }
      double next = t + 1 < b->len[i] ? b->baseline[r + n] : 0;
      double delta = b->rew[r] + gamma * next - b->baseline[r];
      gae = delta + gamma * lambda * gae;
      b->adv[r] = gae;
      sum += gae;
      sumsq += gae * gae;
      count++;
    }
  }
  if (!normalize || count == 0) return;
  double mean = sum / count;
  double var = sumsq / count - mean * mean;
  double inv = 1.0 / (sqrt(var > 0 ? var : 0) + 1e-8);
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      size_t r = (size_t)t * n + i;
      if (t < b->len[i]) b->adv[r] = (b->adv[r] - mean) * inv;
    }
  }
}

int mrl_advantages(const mrlConfig* cfg, mrlBaseline* bl, mrlBatch* b) {
  mrl_returns(b, cfg->rl.gamma);
  int rc = 0;
  if (cfg->rl.baseline == MRL_BASELINE_LINEAR) {
    rc = mrl_baseline_fit_predict(bl, b);
  } else {
    memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
  }
  mrl_gae(b, cfg->rl.gamma, cfg->rl.gae_lambda, cfg->rl.normalize_advantages);
  return rc;
}
