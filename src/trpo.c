// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// trpo.c: the TRPO outer step (Schulman et al. 2015) as MAML-TRPO uses it.
// Each task of the meta-batch contributes a trust set: the policy whose
// change is bounded and whose surrogate must improve is theta_k(phi'), the
// result of the inner loop's k SGD steps from a candidate phi' on the task's
// own stored batches (k = 0: phi' itself). Nothing is sampled again: the
// query batch, sampled by theta_k(phi), is reused with importance weights,
//   surrogate(phi') = -(1/M) sum_rows pi_theta_k(phi')(a|s) / pi_old(a|s) A,
//   KL(phi')        =  (1/M) sum_rows KL(pi_old(.|s) || pi_theta_k(phi')(.|s)),
// and both are averaged over the tasks. Their gradient and Hessian at phi are
// the MAML meta-gradient and J^T F J, J = prod_s (I - lr H_s) the Jacobian of
// the inner steps (maml.c's products) and F the Fisher matrix at theta_k.
//
// F is never formed: conjugate gradient needs only products F u. For a
// Gaussian with state-independent log-std, F = mean over rows of
// Jm^T diag(1/std^2) Jm (Jm the Jacobian of the mean in the parameters) plus
// 2 I on the log-std. Jm u is a central difference of two forward passes
// (O(h^2) where the network is smooth; a ReLU unit that switches between the
// two probes adds a bounded error, of the order of its change of slope, not a
// spike: the mean itself is continuous); Jm^T w is one backward pass.
//
// The line search backtracks from the step that meets the KL bound on the
// quadratic model until the exact KL is within outer.max_kl and, when asked,
// the surrogate is below its value at phi (MAML-TRPO's rule); the first-order
// updates (fomaml, combo) have no surrogate for phi' and use k = 0 on their
// first batch, bounding the change of phi itself.
//
// Under MPI every rank computes its own tasks' slots (products, surrogates,
// KLs); the slots are gathered in task order and every rank reduces them the
// same way, so the step is the same bits for any rank and thread count.

#include <math.h>
#include <string.h>

#include "metarl.h"

#define JV_STEP 1e-6  // norm of the parameter probe of Jm u
#define BACKTRACK 0.8
#define MAX_BACKTRACKS 15

mrlTrustSet* mrl_trust_make(const mrlPolicy* pol, int maxrows, int k_max) {
  mrlTrustSet* ts = mrl_alloc(sizeof(mrlTrustSet));
  int nobs = pol->sizes[0], nact = pol->sizes[pol->nlayer];
  ts->pol = pol;
  ts->maxrows = maxrows;
  ts->k_max = k_max;
  ts->obs = mrl_alloc(sizeof(double) * (size_t)maxrows * nobs);
  ts->act = mrl_alloc(sizeof(double) * (size_t)maxrows * nact);
  ts->adv = mrl_alloc(sizeof(double) * maxrows);
  ts->mean_old = mrl_alloc(sizeof(double) * (size_t)maxrows * nact);
  ts->logp_old = mrl_alloc(sizeof(double) * maxrows);
  ts->scratch = mrl_alloc(sizeof(double) * (size_t)maxrows * nact);
  ts->vecs = mrl_alloc(sizeof(double) * 6 * pol->nparam);
  return ts;
}

void mrl_trust_free(mrlTrustSet* ts) {
  if (!ts) return;
  if (ts->cg_batches) {
    for (int s = 0; s < ts->k_max; s++) mrl_batch_free(ts->cg_batches[s]);
    free(ts->cg_batches);
  }
  free(ts->cg_obs);
  free(ts->obs);
  free(ts->act);
  free(ts->adv);
  free(ts->mean_old);
  free(ts->logp_old);
  free(ts->scratch);
  free(ts->vecs);
  free(ts);
}

// The rows the conjugate-gradient products see: every q-th valid row of the
// query batch and of each support batch (q = 1: the batches themselves).
static void thin(mrlTrustSet* ts, int q) {
  int nobs = ts->pol->sizes[0], nact = ts->pol->sizes[ts->pol->nlayer];
  ts->cg_rows = (ts->rows + q - 1) / q;
  ts->cg_support = ts->batches;
  ts->cg_obs_used = ts->obs;
  if (q == 1) return;
  if (!ts->cg_obs) {  // made on first use: q = 1 needs none of it
    ts->cg_obs = mrl_alloc(sizeof(double) * (size_t)ts->maxrows * nobs);
    ts->cg_batches = mrl_alloc(sizeof(mrlBatch*) * (ts->k_max > 0 ? ts->k_max : 1));
    for (int s = 0; s < ts->k_max; s++)
      ts->cg_batches[s] = mrl_batch_make(1, ts->maxrows, nobs, nact);
  }
  for (int i = 0; i < ts->cg_rows; i++) {
    memcpy(ts->cg_obs + (size_t)i * nobs, ts->obs + (size_t)i * q * nobs, sizeof(double) * nobs);
  }
  ts->cg_obs_used = ts->cg_obs;
  for (int s = 0; s < ts->k; s++) {
    const mrlBatch* b = ts->batches[s];
    mrlBatch* t = ts->cg_batches[s];
    int rows = b->nenv * b->horizon, kept = 0;
    for (int r = 0, valid = 0; r < rows; r++) {
      if (b->valid[r] <= 0 || valid++ % q) continue;
      memcpy(t->obs + (size_t)kept * nobs, b->obs + (size_t)r * nobs, sizeof(double) * nobs);
      memcpy(t->act + (size_t)kept * nact, b->act + (size_t)r * nact, sizeof(double) * nact);
      t->adv[kept] = b->adv[r];
      t->valid[kept] = 1;
      kept++;
    }
    t->horizon = kept;  // one row per kept step: the losses read nenv x horizon rows
    t->supervised = b->supervised;
  }
  ts->cg_support = ts->cg_batches;
}

void mrl_trust_load(mrlTrustSet* ts, const mrlConfig* cfg, int k, mrlBatch* const* batches,
                    const double* thetas, mrlPolicyWork* work) {
  const mrlPolicy* pol = ts->pol;
  int n = pol->nparam, nobs = pol->sizes[0], nact = pol->sizes[pol->nlayer];
  const mrlBatch* q = batches[k];
  ts->k = k;
  ts->cfg = cfg;
  ts->batches = batches;
  ts->thetas = thetas;
  ts->supervised = q->supervised;
  ts->rows = 0;
  int rows = q->nenv * q->horizon;
  for (int r = 0; r < rows && ts->rows < ts->maxrows; r++) {
    if (q->valid[r] <= 0) continue;
    int i = ts->rows++;
    memcpy(ts->obs + (size_t)i * nobs, q->obs + (size_t)r * nobs, sizeof(double) * nobs);
    memcpy(ts->act + (size_t)i * nact, q->act + (size_t)r * nact, sizeof(double) * nact);
    ts->adv[i] = q->adv[r];
  }
  thin(ts, cfg->outer.cg_subsample);
  if (ts->rows == 0) return;
  const double* theta_k = thetas + (size_t)k * n;
  mrl_policy_forward(pol, theta_k, work, ts->obs, ts->rows);
  memcpy(ts->mean_old, work->mean, sizeof(double) * ts->rows * nact);
  for (int i = 0; i < ts->rows; i++) {
    ts->logp_old[i] = mrl_policy_logprob(pol, theta_k, work, ts->act + (size_t)i * nact, i);
  }
}

// theta = theta_k(p): the k inner SGD steps from p on the stored batches
// (with p's multipliers under inner.learn_lr: the TRPO step leaves them).
static void adapt_from(const mrlTrustSet* ts, mrlPolicyWork* work, const double* p, double* theta,
                       double* grad) {
  int n = ts->pol->nparam;
  memcpy(theta, p, sizeof(double) * n);
  for (int s = 0; s < ts->k; s++) {
    mrl_loss_grad(ts->pol, theta, work, ts->batches[s], grad);
    mrl_policy_inner_axpy(ts->pol, theta, mrl_inner_lr(ts->cfg, s), grad, theta);
  }
}

// w = F u at theta (the mean over the rows of the products), u kept.
static void fisher_product(mrlTrustSet* ts, mrlPolicyWork* work, const double* theta,
                           const double* u, double* w, double* probe) {
  const mrlPolicy* pol = ts->pol;
  int n = pol->nparam, nact = pol->sizes[pol->nlayer], rows = ts->cg_rows;
  const double* obs = ts->cg_obs_used;
  memset(w, 0, sizeof(double) * n);
  for (int j = 0; j < nact; j++) w[pol->logstd_off + j] = 2 * u[pol->logstd_off + j];
  // the means read the MLP's entries [0, logstd_off) and policy.context's block
  int ctx_begin = pol->ctx_off, ctx_end = pol->ctx_off + MRL_CONTEXT_LEN(pol);
  double norm = 0;
  for (int i = 0; i < pol->logstd_off; i++) norm += u[i] * u[i];
  for (int i = ctx_begin; i < ctx_end; i++) norm += u[i] * u[i];
  norm = sqrt(norm);
  if (norm == 0) return;
  double h = JV_STEP / norm;
  for (int i = 0; i < n; i++) probe[i] = theta[i] + h * u[i];
  mrl_policy_forward(pol, probe, work, obs, rows);
  memcpy(ts->scratch, work->mean, sizeof(double) * rows * nact);
  for (int i = 0; i < n; i++) probe[i] = theta[i] - h * u[i];
  mrl_policy_forward(pol, probe, work, obs, rows);
  double inv_var[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) inv_var[j] = exp(-2 * theta[pol->logstd_off + j]);
  // diag(1/std^2) Jm u / rows into scratch, then Jm^T of it by a backward at theta
  for (int r = 0; r < rows; r++) {
    for (int j = 0; j < nact; j++) {
      size_t q = (size_t)r * nact + j;
      ts->scratch[q] = (ts->scratch[q] - work->mean[q]) / (2 * h) * inv_var[j] / rows;
    }
  }
  double* mean_part = probe;
  memset(mean_part, 0, sizeof(double) * n);
  mrl_policy_forward(pol, theta, work, obs, rows);
  mrl_policy_backward(pol, theta, work, ts->scratch, mean_part);
  for (int i = 0; i < pol->logstd_off; i++) w[i] = mean_part[i];
  for (int i = ctx_begin; i < ctx_end; i++) w[i] = mean_part[i];
}

void mrl_trust_product(mrlTrustSet* ts, const mrlConfig* cfg, mrlPolicyWork* work, const double* v,
                       double* out) {
  const mrlPolicy* pol = ts->pol;
  int n = pol->nparam;
  memset(out, 0, sizeof(double) * n);
  if (ts->rows == 0) return;
  double* u = ts->vecs;
  double* hvp_scratch = ts->vecs + n;  // 3 n
  double* probe = ts->vecs + 4 * n;
  // u = J v, the inner steps applied in order; out = F u; out = J^T out in reverse
  memcpy(u, v, sizeof(double) * n);
  for (int s = 0; s < ts->k; s++) {
    mrl_inner_step_jacobian(cfg, pol, work, mrl_inner_lr(cfg, s), ts->thetas + (size_t)s * n,
                            ts->cg_support[s], 0, u, hvp_scratch);
  }
  fisher_product(ts, work, ts->thetas + (size_t)ts->k * n, u, out, probe);
  for (int s = ts->k - 1; s >= 0; s--) {
    mrl_inner_step_jacobian(cfg, pol, work, mrl_inner_lr(cfg, s), ts->thetas + (size_t)s * n,
                            ts->cg_support[s], 1, out, hvp_scratch);
  }
}

void mrl_trust_eval(mrlTrustSet* ts, mrlPolicyWork* work, const double* p, double* surrogate,
                    double* kl) {
  const mrlPolicy* pol = ts->pol;
  int n = pol->nparam, nact = pol->sizes[pol->nlayer], rows = ts->rows;
  *surrogate = *kl = 0;
  if (rows == 0) return;
  double* theta = ts->vecs;
  adapt_from(ts, work, p, theta, ts->vecs + n);
  mrl_policy_forward(pol, theta, work, ts->obs, rows);
  const double* logstd_old = ts->thetas + (size_t)ts->k * n + pol->logstd_off;
  const double* logstd = theta + pol->logstd_off;
  // KL between diagonal Gaussians: the log-std part is the same on every row
  double kl_std = 0, inv_var[64];
  for (int j = 0; j < nact; j++) {
    inv_var[j] = exp(-2 * logstd[j]);
    kl_std += logstd[j] - logstd_old[j] + 0.5 * exp(2 * logstd_old[j]) * inv_var[j] - 0.5;
  }
  double surr = 0, sq = 0;
  for (int r = 0; r < rows; r++) {
    const double* mean = work->mean + (size_t)r * nact;
    const double* mean_old = ts->mean_old + (size_t)r * nact;
    const double* a = ts->act + (size_t)r * nact;
    for (int j = 0; j < nact; j++) {
      double d = mean_old[j] - mean[j];
      sq += 0.5 * inv_var[j] * d * d;
    }
    if (ts->supervised) {  // the loss itself: the MSE to the labels
      for (int j = 0; j < nact; j++) surr += (mean[j] - a[j]) * (mean[j] - a[j]);
    } else {
      surr -= exp(mrl_policy_logprob(pol, theta, work, a, r) - ts->logp_old[r]) * ts->adv[r];
    }
  }
  // the gradient TRPO steps along (mrl_loss_grad) has the entropy bonus: the
  // line search must judge the same objective
  *surrogate = surr / rows;
  if (!ts->supervised) *surrogate -= pol->entropy_coef * mrl_policy_entropy(pol, theta);
  *kl = kl_std + sq / rows;
}

//------------------------------- the step -----------------------------------

typedef struct {
  const mrlConfig* cfg;
  mrlTrustSet** sets;    // indexed by task; this rank's tasks set
  mrlPolicyWork** work;  // per worker
  int begin, nparam;
  const double* v;  // product: the direction; eval: the candidate phi'
  double* out;      // (ntask, nparam) per-task products
  double* evals;    // (ntask, 2) per-task surrogate and KL
} TrpoJob;

static void product_job(void* ctx, int worker, int job) {
  TrpoJob* tj = ctx;
  int j = tj->begin + job;
  mrl_trust_product(tj->sets[j], tj->cfg, tj->work[worker], tj->v,
                    tj->out + (size_t)j * tj->nparam);
}

static void eval_job(void* ctx, int worker, int job) {
  TrpoJob* tj = ctx;
  int j = tj->begin + job;
  mrl_trust_eval(tj->sets[j], tj->work[worker], tj->v, &tj->evals[2 * j], &tj->evals[2 * j + 1]);
}

typedef struct {
  mrlPool* pool;
  const int* ok;      // the finite tasks: the products and the KL
  const int* chosen;  // those of the objective: the surrogate (outer.worst_fraction)
  int ntask, nok, nchosen, end;
  const double* phi;  // outer.fisher_float32: the parameters the probe is added to, else NULL
  double* seen;       // (nparam) outer.fisher_float32: the direction the probe leaves
} TrpoTasks;

// outer.fisher_float32: the MAML code's Fisher products are central differences
// of the KL's gradient at float32 parameters phi +- eps v, eps = 1e-8 / |phi|,
// so they are the products of seen (mrl_trpo_float32_probe): to first order the
// differences are linear in it.
void mrl_trpo_float32_probe(const double* phi, const double* v, int n, double* seen) {
  float norm_sq = 0;
  for (int i = 0; i < n; i++) norm_sq += (float)phi[i] * (float)phi[i];
  float eps = (float)(1e-8 / ((double)sqrtf(norm_sq) + 1e-8));
  for (int i = 0; i < n; i++) {
    float p = (float)phi[i], d = eps * (float)v[i];
    float plus = p + d, minus = p - d;
    seen[i] = ((double)plus - (double)minus) / (2.0 * eps);
  }
}

// out = (mean over the finite tasks of J^T F J) v + damping v, in task order
// (outer.fisher_float32: J^T F J of what the float32 probe leaves of v).
static void product(TrpoJob* tj, const TrpoTasks* tt, double damping, const double* v,
                    double* out) {
  int n = tj->nparam;
  tj->v = v;
  if (tt->phi) {
    mrl_trpo_float32_probe(tt->phi, v, n, tt->seen);
    tj->v = tt->seen;
  }
  mrl_pool_run(tt->pool, tt->end - tj->begin, product_job, tj);
  mrl_dist_gather_tasks(tj->out, sizeof(double) * n, tt->ntask);
  memset(out, 0, sizeof(double) * n);
  for (int j = 0; j < tt->ntask; j++) {
    if (!tt->ok[j]) continue;
    const double* o = tj->out + (size_t)j * n;
    for (int i = 0; i < n; i++) out[i] += o[i];
  }
  for (int i = 0; i < n; i++) out[i] = out[i] / tt->nok + damping * v[i];
}

// The mean surrogate of the chosen tasks and mean KL of the finite tasks at
// candidate p.
static void evaluate(TrpoJob* tj, const TrpoTasks* tt, const double* p, double* surrogate,
                     double* kl) {
  tj->v = p;
  mrl_pool_run(tt->pool, tt->end - tj->begin, eval_job, tj);
  mrl_dist_gather_tasks(tj->evals, sizeof(double) * 2, tt->ntask);
  double s = 0, d = 0;
  for (int j = 0; j < tt->ntask; j++) {
    if (!tt->ok[j]) continue;
    if (tt->chosen[j]) s += tj->evals[2 * j];
    d += tj->evals[2 * j + 1];
  }
  *surrogate = s / tt->nchosen;
  *kl = d / tt->nok;
}

static double dot(const double* a, const double* b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

double mrl_trpo_step(const mrlConfig* cfg, const mrlPolicy* pol, mrlTrustSet** sets, const int* ok,
                     const int* chosen, int ntask, int begin, int end, int check_surrogate,
                     mrlPolicyWork** work, mrlPool* pool, double* phi, const double* g,
                     mrlTrpoStats* st) {
  // no step tried (no finite task, or no direction): NaN and -1, empty cells
  st->kl = st->surrogate_before = st->surrogate_after = NAN;
  st->backtracks = -1;
  if (!chosen) chosen = ok;
  int nok = 0, nchosen = 0;
  for (int j = 0; j < ntask; j++) {
    nok += ok[j] != 0;
    nchosen += ok[j] && chosen[j];
  }
  // every rank goes on, tasks or none: the gathers below are collective
  if (nchosen == 0) return 0;
  int n = pol->nparam;
  TrpoJob tj = {cfg, sets, work, begin, n, NULL, NULL, NULL};
  TrpoTasks tt = {pool, ok, chosen, ntask, nok, nchosen, end, NULL, NULL};
  if (cfg->outer.fisher_float32) {
    tt.phi = phi;
    tt.seen = mrl_alloc(sizeof(double) * n);
  }
  tj.out = mrl_alloc(sizeof(double) * (size_t)ntask * n);
  tj.evals = mrl_alloc(sizeof(double) * 2 * ntask);
  double* x = mrl_alloc(sizeof(double) * 6 * n);
  double *r = x + n, *p = x + 2 * n, *Ap = x + 3 * n, *step = x + 4 * n, *pnew = x + 5 * n;

  // conjugate gradient on (F + damping I) x = g, from x = 0; cg_iters 0: x = g,
  // the steepest-descent direction, whose length the KL model below still sets
  memcpy(r, g, sizeof(double) * n);
  memcpy(p, g, sizeof(double) * n);
  if (cfg->outer.cg_iters == 0) memcpy(x, g, sizeof(double) * n);
  double rr = dot(r, r, n);
  for (int it = 0; it < cfg->outer.cg_iters && rr > 1e-20; it++) {
    product(&tj, &tt, cfg->outer.cg_damping, p, Ap);
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
  product(&tj, &tt, cfg->outer.cg_damping, x, Ap);
  double xFx = dot(x, Ap, n), scale = 0;
  if (xFx > 0 && isfinite(xFx)) {
    double kl0;
    evaluate(&tj, &tt, phi, &st->surrogate_before, &kl0);
    st->kl = 0;  // what a rejected step leaves
    double full = sqrt(2 * cfg->outer.max_kl / xFx);
    for (int i = 0; i < n; i++) step[i] = -full * x[i];
    double frac = 1;
    for (int b = 0; b <= MAX_BACKTRACKS; b++, frac *= BACKTRACK) {
      for (int i = 0; i < n; i++) pnew[i] = phi[i] + frac * step[i];
      double surr, kl;
      evaluate(&tj, &tt, pnew, &surr, &kl);
      st->backtracks = b;
      int improves = !check_surrogate || surr < st->surrogate_before;
      if (isfinite(kl) && isfinite(surr) && kl <= cfg->outer.max_kl && improves) {
        memcpy(phi, pnew, sizeof(double) * n);
        st->kl = kl;
        st->surrogate_after = surr;
        scale = frac * full;
        break;
      }
    }
    if (scale == 0) st->surrogate_after = st->surrogate_before;
  }
  free(tj.out);
  free(tj.evals);
  free(tt.seen);
  free(x);
  return scale;
}
