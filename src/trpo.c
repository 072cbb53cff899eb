// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// trpo.c: the TRPO outer step (Schulman et al. 2015, as MAML-TRPO uses it).
// The Fisher matrix of the Gaussian policy at phi is never formed: conjugate
// gradient needs only products F v. For a Gaussian with state-independent
// log-std, F = mean over rows of J^T diag(1/std^2) J (the mean's part, J the
// Jacobian of the mean in the parameters) plus 2 I on the log-std. J v is a
// central difference of two forward passes (the network is smooth, so the
// error is O(h^2)); J^T u is one backward pass.
//
// The rows are the observations each task's first batch visited at phi (one
// set per task, reduced in task order for determinism). For fomaml, maml and
// combo this bounds the KL of the initialization phi itself; MAML-TRPO bounds
// the KL of the adapted policies instead, which needs the Hessian through the
// inner step; metarl takes the simpler bound (documented in the README).
// The line search shrinks the step until the exact mean KL is within
// outer.max_kl; it does not re-evaluate the loss, since for the meta-learners
// that would need new episodes after adaptation.

#include <math.h>
#include <string.h>

#include "metarl.h"

#define JV_STEP 1e-6  // norm of the parameter probe of J v
#define BACKTRACK 0.8
#define MAX_BACKTRACKS 15

mrlFisherData* mrl_fisher_make(const mrlPolicy* pol, int maxrows) {
  mrlFisherData* fd = mrl_alloc(sizeof(mrlFisherData));
  int nobs = pol->sizes[0], nact = pol->sizes[pol->nlayer];
  fd->pol = pol;
  fd->maxrows = maxrows;
  fd->obs = mrl_alloc(sizeof(double) * (size_t)maxrows * nobs);
  fd->mean_old = mrl_alloc(sizeof(double) * (size_t)maxrows * nact);
  fd->scratch = mrl_alloc(sizeof(double) * (size_t)maxrows * nact);
  return fd;
}

void mrl_fisher_free(mrlFisherData* fd) {
  if (!fd) return;
  free(fd->obs);
  free(fd->mean_old);
  free(fd->scratch);
  free(fd);
}

void mrl_fisher_add(mrlFisherData* fd, const mrlBatch* b) {
  int rows = b->nenv * b->horizon, nobs = b->nobs;
  for (int r = 0; r < rows && fd->rows < fd->maxrows; r++) {
    if (b->valid[r] <= 0) continue;
    memcpy(fd->obs + (size_t)fd->rows * nobs, b->obs + (size_t)r * nobs, sizeof(double) * nobs);
    fd->rows++;
  }
}

void mrl_fisher_set_old(mrlFisherData* fd, const double* phi, mrlPolicyWork* work) {
  if (fd->rows == 0) return;
  int nact = fd->pol->sizes[fd->pol->nlayer];
  mrl_policy_forward(fd->pol, phi, work, fd->obs, fd->rows);
  memcpy(fd->mean_old, work->mean, sizeof(double) * fd->rows * nact);
}

void mrl_fisher_mean_product(const mrlFisherData* fd, const double* phi, mrlPolicyWork* work,
                             const double* v, double* out, double* probe) {
  const mrlPolicy* pol = fd->pol;
  int n = pol->nparam, nact = pol->sizes[pol->nlayer], rows = fd->rows;
  if (rows == 0) return;
  double norm = 0;
  for (int i = 0; i < pol->logstd_off; i++) norm += v[i] * v[i];
  norm = sqrt(norm);
  if (norm == 0) return;
  double h = JV_STEP / norm;
  for (int i = 0; i < n; i++) probe[i] = phi[i] + h * v[i];
  mrl_policy_forward(pol, probe, work, fd->obs, rows);
  memcpy(fd->scratch, work->mean, sizeof(double) * rows * nact);
  for (int i = 0; i < n; i++) probe[i] = phi[i] - h * v[i];
  mrl_policy_forward(pol, probe, work, fd->obs, rows);
  double inv_var[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) inv_var[j] = exp(-2 * phi[pol->logstd_off + j]);
  // u = diag(1/std^2) J v, into scratch; then J^T u through a forward at phi
  for (int r = 0; r < rows; r++) {
    for (int j = 0; j < nact; j++) {
      size_t q = (size_t)r * nact + j;
      fd->scratch[q] = (fd->scratch[q] - work->mean[q]) / (2 * h) * inv_var[j];
    }
  }
  mrl_policy_forward(pol, phi, work, fd->obs, rows);
  mrl_policy_backward(pol, phi, work, fd->scratch, out);
}

double mrl_fisher_kl_sum(const mrlFisherData* fd, const double* phi, const double* pnew,
                         mrlPolicyWork* work) {
  const mrlPolicy* pol = fd->pol;
  int nact = pol->sizes[pol->nlayer], rows = fd->rows;
  if (rows == 0) return 0;
  mrl_policy_forward(pol, pnew, work, fd->obs, rows);
  double kl = 0;
  for (int j = 0; j < nact; j++) {
    double lo = phi[pol->logstd_off + j], ln = pnew[pol->logstd_off + j];
    double var_old = exp(2 * lo), inv_var_new = exp(-2 * ln);
    double per_row = ln - lo + 0.5 * var_old * inv_var_new - 0.5;
    double sq = 0;
    for (int r = 0; r < rows; r++) {
      double d = fd->mean_old[(size_t)r * nact + j] - work->mean[(size_t)r * nact + j];
      sq += d * d;
    }
    kl += rows * per_row + 0.5 * inv_var_new * sq;
  }
  return kl;
}

typedef struct {
  mrlFisherData** sets;
  mrlPolicyWork** work;  // per worker
  const double* phi;
  const double* v;  // product: the direction; kl: the new parameters
  double* out;      // (nset, nparam) per-set products
  double* probes;   // (nworker, nparam)
  double* kl;       // (nset)
  int nparam;
} TrpoJob;

static void fvp_job(void* ctx, int worker, int job) {
  TrpoJob* tj = ctx;
  double* out = tj->out + (size_t)job * tj->nparam;
  memset(out, 0, sizeof(double) * tj->nparam);
  mrl_fisher_mean_product(tj->sets[job], tj->phi, tj->work[worker], tj->v, out,
                          tj->probes + (size_t)worker * tj->nparam);
}

static void kl_job(void* ctx, int worker, int job) {
  TrpoJob* tj = ctx;
  tj->kl[job] = mrl_fisher_kl_sum(tj->sets[job], tj->phi, tj->v, tj->work[worker]);
}

static void set_old_job(void* ctx, int worker, int job) {
  TrpoJob* tj = ctx;
  mrl_fisher_set_old(tj->sets[job], tj->phi, tj->work[worker]);
}

// out = (F + damping I) v, sets reduced in order.
static void fvp(TrpoJob* tj, mrlPool* pool, int nset, long rows, double damping, const double* v,
                double* out, const mrlPolicy* pol) {
  int n = pol->nparam;
  tj->v = v;
  mrl_pool_run(pool, nset, fvp_job, tj);
  memset(out, 0, sizeof(double) * n);
  for (int j = 0; j < nset; j++) {
    const double* o = tj->out + (size_t)j * n;
    for (int i = 0; i < n; i++) out[i] += o[i];
  }
  for (int i = 0; i < n; i++) out[i] = out[i] / rows + damping * v[i];
  for (int i = pol->logstd_off; i < n; i++) out[i] += 2 * v[i];
}

static double dot(const double* a, const double* b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

double mrl_trpo_step(const mrlConfig* cfg, mrlFisherData** sets, int nset, mrlPolicyWork** work,
                     mrlPool* pool, double* phi, const double* g, double* kl_out) {
  const mrlPolicy* pol = sets[0]->pol;
  int n = pol->nparam, nworker = mrl_pool_size(pool);
  long rows = 0;
  for (int j = 0; j < nset; j++) rows += sets[j]->rows;
  *kl_out = 0;
  if (rows == 0) return 0;
  TrpoJob tj = {sets, work, phi, NULL, NULL, NULL, NULL, n};
  tj.out = mrl_alloc(sizeof(double) * (size_t)nset * n);
  tj.probes = mrl_alloc(sizeof(double) * (size_t)nworker * n);
  tj.kl = mrl_alloc(sizeof(double) * nset);
  double* x = mrl_alloc(sizeof(double) * 6 * n);
  double *r = x + n, *p = x + 2 * n, *Ap = x + 3 * n, *step = x + 4 * n, *pnew = x + 5 * n;
  mrl_pool_run(pool, nset, set_old_job, &tj);

  // conjugate gradient on (F + damping I) x = g, from x = 0
  memcpy(r, g, sizeof(double) * n);
  memcpy(p, g, sizeof(double) * n);
  double rr = dot(r, r, n);
  for (int it = 0; it < cfg->outer.cg_iters && rr > 1e-20; it++) {
    fvp(&tj, pool, nset, rows, cfg->outer.cg_damping, p, Ap, pol);
    double pAp = dot(p, Ap, n);
    if (!(pAp > 0)) break;
    double alpha = rr / pAp;
    for (int i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * Ap[i];
    }
    double rr_new = dot(r, r, n);
    for (int i = 0; i < n; i++) p[i] = r[i] + rr_new / rr * p[i];
    rr = rr_new;
  }

  // largest step along -x with quadratic KL model 0.5 s^2 x^T F x = max_kl
  fvp(&tj, pool, nset, rows, cfg->outer.cg_damping, x, Ap, pol);
  double xFx = dot(x, Ap, n), scale = 0;
  if (xFx > 0 && isfinite(xFx)) {
    double full = sqrt(2 * cfg->outer.max_kl / xFx);
    for (int i = 0; i < n; i++) step[i] = -full * x[i];
    double frac = 1;
    for (int b = 0; b <= MAX_BACKTRACKS; b++, frac *= BACKTRACK) {
      for (int i = 0; i < n; i++) pnew[i] = phi[i] + frac * step[i];
      tj.v = pnew;
      mrl_pool_run(pool, nset, kl_job, &tj);
      double kl = 0;
      for (int j = 0; j < nset; j++) kl += tj.kl[j];
      kl /= rows;
      if (isfinite(kl) && kl <= cfg->outer.max_kl) {
        memcpy(phi, pnew, sizeof(double) * n);
        *kl_out = kl;
        scale = frac * full;
        break;
      }
    }
  }
  free(tj.out);
  free(tj.probes);
  free(tj.kl);
  free(x);
  return scale;
}
