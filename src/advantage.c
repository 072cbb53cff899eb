// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// advantage.c: discounted returns, the linear feature baseline of rllab and
// ProMP (ridge regression of returns on [o, o^2, t, t^2, t^3, 1]) and GAE;
// optionally the returns of episodes cut by the time limit bootstrapped with
// the baseline's value of their last state. (The learned baseline of
// rl.baseline=mlp is value.c's.)

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
  bl->rhs = mrl_alloc(sizeof(double) * 2 * bl->nfeat);
  bl->coef = mrl_alloc(sizeof(double) * bl->nfeat);
  bl->maxrows = maxrows;
  bl->time_features = 1;
  return bl;
}

void mrl_baseline_free(mrlBaseline* bl) {
  if (!bl) return;
  free(bl->feat);
  free(bl->gram);
  free(bl->gram0);
  free(bl->rhs);
  free(bl->coef);
  mrl_value_free(bl->vf);
  free(bl);
}

void mrl_returns(mrlBatch* b, double gamma) {
  int n = b->nenv;
  for (int i = 0; i < n; i++) {
    double g = b->truncated[i] ? b->v_final[i] : 0;
    for (int t = b->horizon - 1; t >= 0; t--) {
      size_t r = (size_t)t * n + i;
      g = t < b->len[i] ? b->rew[r] + gamma * g : 0;
      b->ret[r] = g;
    }
  }
}

// Features of one row: clipped observation, its square, time polynomials
// (0 without time features).
static void features(const mrlBaseline* bl, const double* obs, int nobs, int t, double* f) {
  for (int k = 0; k < nobs; k++) {
    double o = obs[k] > 10 ? 10 : obs[k] < -10 ? -10 : obs[k];
    f[k] = o;
    f[nobs + k] = o * o;
  }
  double s = bl->time_features ? t / 100.0 : 0;
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

// Whether row (t, i) is one a fit uses: valid, and outside the held-out half
// (episodes of parity fold; fold -1: none held out).
static int fit_row(const mrlBatch* b, int t, int i, int fold) {
  return t < b->len[i] && i % 2 != fold;
}

// Features of the rows fit_row(fold) takes into bl->feat and F^T F into
// bl->gram0; returns their number.
static int fit_features_fold(mrlBaseline* bl, const mrlBatch* b, int fold) {
  int n = b->nenv, nobs = b->nobs, nf = bl->nfeat;
  int rows = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (!fit_row(b, t, i, fold)) continue;
      features(bl, b->obs + ((size_t)t * n + i) * nobs, nobs, t, bl->feat + (size_t)rows * nf);
      rows++;
    }
  }
  MRL_ASSERT(rows <= bl->maxrows);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, nf, rows, 1.0, bl->feat, nf, 0.0, bl->gram0,
              nf);
  return rows;
}

static int fit_features(mrlBaseline* bl, const mrlBatch* b) { return fit_features_fold(bl, b, -1); }

// Ridge coefficients for the returns b->ret of the rows of fit_features_fold
// (the same fold) into bl->coef; returns 1, or 0 (coefficients 0) if no
// finite fit exists.
static int fit_solve_fold(mrlBaseline* bl, const mrlBatch* b, int fold) {
  int n = b->nenv, nf = bl->nfeat;
  double* rhs = bl->rhs;  // F^T R, in row order
  memset(rhs, 0, sizeof(double) * nf);
  int row = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (!fit_row(b, t, i, fold)) continue;
      cblas_daxpy(nf, b->ret[(size_t)t * n + i], bl->feat + (size_t)row * nf, 1, rhs, 1);
      row++;
    }
  }
  int ok = 0;
  for (double reg = 1e-5; reg < 1e5 && !ok; reg *= 10) {
    memcpy(bl->gram, bl->gram0, sizeof(double) * nf * nf);
    for (int k = 0; k < nf; k++) bl->gram[k * nf + k] += reg;
    memcpy(bl->coef, rhs, sizeof(double) * nf);
    // the row-major upper triangle is the column-major lower one; the
    // column-major call needs no transposed copies (LAPACKE allocates those)
    lapack_int info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', nf, 1, bl->gram, nf, bl->coef, nf);
    ok = info == 0 && all_finite(bl->coef, nf);
  }
  if (!ok) memset(bl->coef, 0, sizeof(double) * nf);
  return ok;
}

static int fit_solve(mrlBaseline* bl, const mrlBatch* b) { return fit_solve_fold(bl, b, -1); }

// Predictions of bl->coef on the valid rows into b->baseline (0 elsewhere).
static void fit_predict(const mrlBaseline* bl, mrlBatch* b) {
  int n = b->nenv, nf = bl->nfeat;
  int row = 0;
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
}

int mrl_baseline_fit_predict(mrlBaseline* bl, mrlBatch* b) {
  fit_features(bl, b);
  int ok = fit_solve(bl, b);
  fit_predict(bl, b);
  return ok ? 0 : -1;
}

int mrl_baseline_predict_fit(mrlBaseline* bl, mrlBatch* b) {
  fit_features(bl, b);
  if (bl->have_coef) {
    fit_predict(bl, b);
  } else {
    memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
  }
  int ok = fit_solve(bl, b);
  bl->have_coef = ok;
  return ok ? 0 : -1;
}

void mrl_baseline_forget(mrlBaseline* bl) { bl->have_coef = 0; }

int mrl_baseline_crossfit_predict(mrlBaseline* bl, mrlBatch* b) {
  int n = b->nenv, nobs = b->nobs, nf = bl->nfeat;
  if (n < 2) return mrl_baseline_fit_predict(bl, b);  // no other half to fit on
  double* f = bl->rhs + nf;  // features of one row (rhs has room for 2 nf)
  int ok = 1;
  for (int fold = 0; fold < 2; fold++) {
    fit_features_fold(bl, b, fold);
    ok &= fit_solve_fold(bl, b, fold);
    for (int t = 0; t < b->horizon; t++) {
      for (int i = fold; i < n; i += 2) {
        size_t r = (size_t)t * n + i;
        if (t >= b->len[i]) {
          b->baseline[r] = 0;
          continue;
        }
        features(bl, b->obs + r * nobs, nobs, t, f);
        b->baseline[r] = cblas_ddot(nf, f, 1, bl->coef, 1);
      }
    }
  }
  return ok ? 0 : -1;
}

int mrl_baseline_fit_bootstrapped(mrlBaseline* bl, mrlBatch* b, double gamma) {
  int n = b->nenv, nobs = b->nobs, nf = bl->nfeat;
  // The value of a state must not depend on the clock when the clock's end is
  // not the end of the task: no time features.
  bl->time_features = 0;
  double* f = bl->rhs + nf;  // features of one final state (rhs has room for 2 nf)
  memset(b->v_final, 0, sizeof(double) * n);
  // A value outside what rewards of the batch's range can add up to, or an
  // early end (0), is an extrapolation of the linear fit; left alone it can
  // feed on itself from pass to pass. Clip to that range.
  double rmin = 0, rmax = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      rmin = fmin(rmin, b->rew[(size_t)t * n + i]);
      rmax = fmax(rmax, b->rew[(size_t)t * n + i]);
    }
  }
  double reach = gamma < 1 ? 1 / (1 - gamma) : b->horizon;
  double vlo = rmin * reach, vhi = rmax * reach;
  fit_features(bl, b);
  int ok = 0;
  // Fitted value iteration: each pass propagates the values of the final
  // states into the returns; the fit pools all rows, so a pass shrinks the
  // error by about the mean of gamma^(T - t) over the rows (0.43 at T = 200,
  // gamma = 0.99). Converges in about 25 passes to 1e-9.
  for (int pass = 0; pass < MRL_BOOTSTRAP_PASSES; pass++) {
    mrl_returns(b, gamma);
    ok = fit_solve(bl, b);
    if (!ok) break;
    double change = 0, scale = 1;
    for (int i = 0; i < n; i++) {
      if (!b->truncated[i]) continue;
      features(bl, b->obs_final + (size_t)i * nobs, nobs, b->horizon, f);
      double v = cblas_ddot(nf, f, 1, bl->coef, 1);
      v = v < vlo ? vlo : v > vhi ? vhi : v;  // NaN stays NaN: caught below
      change = fmax(change, fabs(v - b->v_final[i]));
      scale = fmax(scale, fabs(v));
      b->v_final[i] = v;
    }
    if (!all_finite(b->v_final, n)) {
      ok = 0;
      break;
    }
    if (change <= 1e-9 * scale) break;
  }
  if (!ok) {  // no finite values: the truncated returns and a zero baseline
    memset(b->v_final, 0, sizeof(double) * n);
    memset(bl->coef, 0, sizeof(double) * nf);
  }
  mrl_returns(b, gamma);
  fit_predict(bl, b);
  bl->time_features = 1;
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
      double next = t + 1 < b->len[i] ? b->baseline[r + n] : b->truncated[i] ? b->v_final[i] : 0;
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
  if (cfg->rl.bootstrap_time_limit && cfg->rl.baseline == MRL_BASELINE_LINEAR) {
    int rc = mrl_baseline_fit_bootstrapped(bl, b, cfg->rl.gamma);
    mrl_gae(b, cfg->rl.gamma, cfg->rl.gae_lambda, cfg->rl.normalize_advantages);
    return rc;
  }
  memset(b->v_final, 0, sizeof(double) * b->nenv);
  mrl_returns(b, cfg->rl.gamma);
  int rc = 0;
  if (cfg->rl.baseline == MRL_BASELINE_LINEAR && cfg->rl.baseline_fit == MRL_FIT_PREVIOUS) {
    rc = mrl_baseline_predict_fit(bl, b);
  } else if (cfg->rl.baseline == MRL_BASELINE_LINEAR && cfg->rl.baseline_fit == MRL_FIT_CROSS) {
    rc = mrl_baseline_crossfit_predict(bl, b);
  } else if (cfg->rl.baseline == MRL_BASELINE_LINEAR) {
    rc = mrl_baseline_fit_predict(bl, b);
  } else if (cfg->rl.baseline == MRL_BASELINE_MLP) {
    MRL_ASSERT(bl->vf);
    rc = mrl_value_fit_predict(bl->vf, b);
  } else {
    memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
  }
  mrl_gae(b, cfg->rl.gamma, cfg->rl.gae_lambda, cfg->rl.normalize_advantages);
  return rc;
}
