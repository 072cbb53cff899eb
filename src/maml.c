// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// maml.c: the second-order MAML meta-gradient (Finn et al. 2017) of one task.
// With k SGD steps theta_{s+1} = theta_s - lr_s grad L_s(theta_s), the chain
// rule gives grad_phi L_q(theta_k) = prod_s (I - lr_s H_s) grad L_q(theta_k),
// applied right to left, so only Hessian-vector products are needed: each is
// a central difference of two gradients of L_s at theta_s +- h v/|v|. Memory
// is a few parameter vectors, never nparam^2.
//
// ReLU networks: the gradient jumps where a unit switches on or off, so a
// difference of two gradients whose probes straddle a switch gets that jump
// divided by 2h, a spike that does not shrink with h. With
// outer.hvp_freeze_relu the second gradient reuses the first one's on/off
// pattern: both lie on one smooth piece, and the product is the Hessian
// automatic differentiation gives (ReLU'' = 0), as MAML's code had it. Off by
// default: it lets TRPO take its whole trust region, yet the direction task
// adapted worse with it (3 seeds) while the velocity task did better (one
// seed, half trained; docs/RESULTS.md 2.4).
//
// Which Hessian: every batch is held fixed, so H_s is the Hessian of the
// surrogate -(1/M) sum A log pi(a|s) with the advantages as constants. The
// term from the dependence of batch s's sampling distribution on theta_s
// (sum over trajectories of A grad log pi grad log pi^T, kept by DiCE and
// ProMP) is dropped, as in the original MAML code. With outer.hvp_lvc it is
// kept in ProMP's low-variance form (Rothfuss et al. 2019), the Hessian of
// -(1/M) sum A pi/pi_old at pi = pi_old: each product gains
// -(1/M) sum_r A_r grad log pi_r (grad log pi_r . u), one more gradient. For a
// supervised family H_s is the exact Hessian of the MSE (up to the finite
// difference) and the term does not apply.

#include <math.h>
#include <string.h>

#include "metarl.h"

// out += 2h S u, S u = -(1/M) sum_r A_r grad log pi_r (grad log pi_r . u) over
// the M valid rows of b at theta: the score-function (LVC) term of the inner
// step's Hessian along u. On entry work->mean_probe holds the means at
// theta + h u and work->mean those at theta - h u: their difference is the
// means' derivative along u, exact up to O(h^2) and, unlike a gradient's,
// continuous across ReLU kinks. u_logstd: u's log-std entries. grad: scratch
// (nparam). Forwards theta (work's last forward is overwritten).
static void add_score_products(const mrlPolicy* pol, mrlPolicyWork* work, const double* theta,
                               const mrlBatch* b, const double* u_logstd, double h, double* out,
                               double* grad) {
  int rows = b->nenv * b->horizon, nact = b->nact, n = pol->nparam;
  long valid = 0;
  for (int r = 0; r < rows; r++) valid += b->valid[r] > 0;
  if (valid == 0) return;
  double* dmean_du = work->mean_probe;  // (rows, nact): d mean / du, kept across the forward
  for (size_t i = 0; i < (size_t)rows * nact; i++) {
    dmean_du[i] = (dmean_du[i] - work->mean[i]) / (2 * h);
  }
  mrl_policy_forward(pol, theta, work, b->obs, rows);
  const double* logstd = theta + pol->logstd_off;
  double inv_var[64];
  MRL_ASSERT(nact <= 64);
  for (int j = 0; j < nact; j++) inv_var[j] = exp(-2 * logstd[j]);
  memset(grad, 0, sizeof(double) * n);
  double* glogstd = grad + pol->logstd_off;
  for (int r = 0; r < rows; r++) {
    const double* a = b->act + (size_t)r * nact;
    const double* mean = work->mean + (size_t)r * nact;
    const double* dm = dmean_du + (size_t)r * nact;
    double* dmean = work->dmean + (size_t)r * nact;
    if (b->valid[r] <= 0) {
      memset(dmean, 0, sizeof(double) * nact);
      continue;
    }
    // grad log pi_r . u, then the row's weight in the gradient of sum w_r log pi_r
    double along = 0;
    for (int j = 0; j < nact; j++) {
      double d = a[j] - mean[j];
      along += d * inv_var[j] * dm[j] + (d * d * inv_var[j] - 1) * u_logstd[j];
    }
    double w = -b->adv[r] * along / valid;
    for (int j = 0; j < nact; j++) {
      double d = a[j] - mean[j];
      dmean[j] = w * d * inv_var[j];
      glogstd[j] += w * (d * d * inv_var[j] - 1);
    }
  }
  mrl_policy_backward(pol, theta, work, work->dmean, grad);
  for (int i = 0; i < n; i++) out[i] += 2 * h * grad[i];
}

void mrl_inner_step_jacobian(const mrlConfig* cfg, const mrlPolicy* pol, mrlPolicyWork* work,
                             double lr, const double* theta, const mrlBatch* b, int transpose,
                             double* v, double* scratch) {
  int n = pol->nparam;
  double* probe = scratch;
  double* gplus = scratch + n;
  double* gminus = scratch + 2 * n;
  // inner.learn_lr: J = I - lr M H, M the multipliers' diagonal, so
  // J^T v = v - lr H (M v): the probes go along M v and nothing is scaled after
  // (with one scalar step the two products are the same)
  // (inner.adapt context: M is 1 on c, 0 elsewhere)
  int scaled_probe = transpose && (pol->lr_off || pol->adapt_context);
  const double* dir = v;
  if (scaled_probe) {
    memset(gminus, 0, sizeof(double) * n);
    mrl_policy_inner_axpy(pol, theta, -1, v, gminus);
    dir = gminus;  // read by both probes, then overwritten by the second gradient
  }
  double norm = 0;
  for (int i = 0; i < n; i++) norm += dir[i] * dir[i];
  norm = sqrt(norm);
  if (norm == 0) return;  // (I - lr H) 0 = 0
  // the probe moves theta by hvp_step in norm whatever |v| is
  double h = cfg->outer.hvp_step / norm;
  int lvc = cfg->outer.hvp_lvc && !b->supervised;
  double u_logstd[64];  // dir's log-std entries: dir may be overwritten below
  if (lvc) {
    MRL_ASSERT(b->nact <= 64);
    memcpy(u_logstd, dir + pol->logstd_off, sizeof(double) * b->nact);
  }
  for (int i = 0; i < n; i++) probe[i] = theta[i] + h * dir[i];
  mrl_loss_grad(pol, probe, work, b, gplus);
  if (lvc) memcpy(work->mean_probe, work->mean, sizeof(double) * b->nenv * b->horizon * b->nact);
  // a ReLU that switches between the probes would add its jump in the
  // gradient divided by 2h: a spike, whatever h, not curvature
  work->freeze_pattern = cfg->outer.hvp_freeze_relu;
  for (int i = 0; i < n; i++) probe[i] = theta[i] - h * dir[i];
  mrl_loss_grad(pol, probe, work, b, gminus);
  work->freeze_pattern = 0;
  for (int i = 0; i < n; i++) gplus[i] -= gminus[i];
  if (lvc) add_score_products(pol, work, theta, b, u_logstd, h, gplus, probe);
  if (scaled_probe) {
    double c = lr / (2 * h);
    for (int i = 0; i < n; i++) v[i] -= c * gplus[i];
  } else {
    mrl_policy_inner_axpy(pol, theta, lr / (2 * h), gplus, v);
  }
}

void mrl_maml_meta_grad(const mrlConfig* cfg, mrlLearner* ln, int k, double* g) {
  const mrlPolicy* pol = ln->pol;
  int n = pol->nparam;
  MRL_ASSERT(ln->nsaved > k && ln->scratch);
  mrl_loss_grad(pol, ln->thetas + (size_t)k * n, ln->work, ln->saved[k], g);
  // inner.learn_lr: theta_{s+1} = theta_s - lr_s exp(mult_j) grad_s on tensor
  // j, so d theta_{s+1} / d mult_j is the step itself, theta_{s+1} - theta_s;
  // g is the gradient at theta_{s+1} before step s's Jacobian is applied. The
  // sums wait in dmult until the end: the products' probes read |g| and must
  // not see them
  double dmult[MRL_MAX_NTENSOR] = {0};
  int nt = pol->lr_off ? MRL_POLICY_NTENSOR(pol) : 0;
  for (int s = k - 1; s >= 0; s--) {
    const double* before = ln->thetas + (size_t)s * n;
    const double* after = before + n;
    for (int j = 0; j < nt; j++) {
      int off, len;
      mrl_policy_tensor(pol, j, &off, &len);
      for (int i = off; i < off + len; i++) dmult[j] += g[i] * (after[i] - before[i]);
    }
    mrl_inner_step_jacobian(cfg, pol, ln->work, mrl_inner_lr(cfg, s), before, ln->saved[s], 1, g,
                            ln->scratch);
  }
  for (int j = 0; j < nt; j++) g[pol->lr_off + j] = dmult[j];
}
