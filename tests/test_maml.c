// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_maml.c: the second-order meta-gradient of maml.c against central
// finite differences of the post-adaptation loss F(phi) = L_q(theta_k(phi)),
// with theta_k obtained by replaying the k SGD steps on the same (fixed)
// batches. On sine regression (exact MSE) and on point_nav (the policy-
// gradient surrogate with the episodes and advantages held fixed). The
// first-order gradient must be measurably worse, so the check has teeth.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

// F(phi): k SGD steps on the saved batches, then the loss of the query batch.
static double replay(const mrlConfig* cfg, mrlLearner* ln, int k, const double* phi, double* theta,
                     double* grad) {
  int n = ln->pol->nparam;
  memcpy(theta, phi, sizeof(double) * n);
  for (int s = 0; s < k; s++) {
    mrl_loss_grad(ln->pol, theta, ln->work, ln->saved[s], grad);
    if (ln->pol->adapt_context) {  // inner.adapt context: c alone
      for (int i = ln->pol->ctx_off; i < ln->pol->ctx_off + ln->pol->ncontext; i++) {
        theta[i] -= mrl_inner_lr(cfg, s) * grad[i];
      }
      continue;
    }
    // per tensor, times theta's multipliers, with inner.learn_lr
    for (int j = 0; j < MRL_POLICY_NTENSOR(ln->pol); j++) {
      int off, len;
      mrl_policy_tensor(ln->pol, j, &off, &len);
      double lr = mrl_inner_lr(cfg, s) * (ln->pol->lr_off ? exp(theta[ln->pol->lr_off + j]) : 1);
      for (int i = off; i < off + len; i++) theta[i] -= lr * grad[i];
    }
  }
  return mrl_loss_grad(ln->pol, theta, ln->work, ln->saved[k], grad);
}

// only_rates: directions in the step-size multipliers of inner.learn_lr alone
// (among all the parameters their few entries would weigh next to nothing).
static void check_meta_grad_in(mrlConfig* cfg, int k, double rel_tol, int only_rates) {
  openblas_set_num_threads(1);
  char err[MRL_ERRLEN];
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrlPolicy pol;
  mrl_policy_setup(&pol, cfg, fam->nobs, fam->nact);
  int n = pol.nparam;
  double* phi = mrl_alloc(sizeof(double) * n * 6);
  double *g = phi + n, *fo = phi + 2 * n, *dir = phi + 3 * n, *theta = phi + 4 * n,
         *grad = phi + 5 * n;
  mrlRng rng;
  mrl_rng_init(&rng, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, phi);
  // a non-trivial output layer, so that curvature matters from the start
  for (int i = 0; i < n; i++) phi[i] += 0.1 * mrl_rng_normal(&rng);
  if (pol.lr_off) {  // multipliers away from 1, the Adam state 0 as trained
    int nt = MRL_POLICY_NTENSOR(&pol);
    memset(phi + pol.lr_off, 0, sizeof(double) * MRL_LR_BLOCK_LEN(nt));
    for (int j = 0; j < nt; j++) phi[pol.lr_off + j] = 0.3 * mrl_rng_normal(&rng);
  }
  mrlLearner* ln = mrl_learner_make(cfg, fam, &pol, cfg->inner.episodes);
  mrl_learner_keep(ln, k + 1, 0);
  double task[8], returns[16];
  mrl_task_sample(fam, cfg, 0, 0, 0, task);
  mrl_inner_adapt(cfg, ln, task, phi, k, 11, 0, 0, 1, returns);
  mrl_maml_meta_grad(cfg, ln, k, g);
  // first order: the query gradient at theta_k alone
  mrl_loss_grad(&pol, ln->thetas + (size_t)k * n, ln->work, ln->saved[k], fo);

  double worst = 0, worst_fo = 0;
  for (int trial = 0; trial < 4; trial++) {
    double norm = 0;
    for (int i = 0; i < n; i++) {
      int rate = pol.lr_off && i >= pol.lr_off && i < pol.lr_off + MRL_POLICY_NTENSOR(&pol);
      dir[i] = only_rates && !rate ? 0 : mrl_rng_normal(&rng);
      norm += dir[i] * dir[i];
    }
    for (int i = 0; i < n; i++) dir[i] /= sqrt(norm);
    double eps = 1e-5;
    for (int i = 0; i < n; i++) phi[i] += eps * dir[i];
    double fp = replay(cfg, ln, k, phi, theta, grad);
    for (int i = 0; i < n; i++) phi[i] -= 2 * eps * dir[i];
    double fm = replay(cfg, ln, k, phi, theta, grad);
    for (int i = 0; i < n; i++) phi[i] += eps * dir[i];
    double fd = (fp - fm) / (2 * eps), dg = 0, dfo = 0;
    for (int i = 0; i < n; i++) {
      dg += g[i] * dir[i];
      dfo += fo[i] * dir[i];
    }
    double scale = fmax(fabs(fd), 1e-8);
    worst = fmax(worst, fabs(dg - fd) / scale);
    worst_fo = fmax(worst_fo, fabs(dfo - fd) / scale);
    cr_log_info("direction %d: finite difference %.9g, maml %.9g, first order %.9g", trial, fd, dg,
                dfo);
  }
  cr_assert(worst < rel_tol, "maml meta-gradient off by %.3g (relative)", worst);
  cr_assert(worst_fo > 10 * worst, "first order (%.3g) should be far worse than maml (%.3g)",
            worst_fo, worst);
  mrl_learner_free(ln);
  mrl_family_free(fam);
  free(phi);
}

static void check_meta_grad(mrlConfig* cfg, int k, double rel_tol) {
  check_meta_grad_in(cfg, k, rel_tol, 0);
}

// Sine regression, a (16, 16) network, 10 points per step, MAML.
static void sine_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  snprintf(cfg->env.name, sizeof(cfg->env.name), "sine");
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = cfg->policy.hidden[1] = 16;
  cfg->inner.lr = 0.05;
  cfg->inner.episodes = 10;
  cfg->outer.algo = MRL_OUTER_MAML;
}

// point_nav, a (16, 16) network, 5 episodes of 20 steps per step, MAML.
static void point_nav_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = cfg->policy.hidden[1] = 16;
  cfg->policy.init_log_std = -1;
  cfg->env.horizon = 20;
  cfg->inner.lr = 0.5;
  cfg->inner.episodes = 5;
  cfg->outer.algo = MRL_OUTER_MAML;
}

Test(maml, meta_gradient_matches_finite_differences_sine) {
  mrlConfig cfg;
  sine_config(&cfg);
  check_meta_grad(&cfg, 3, 1e-5);
}

// a smaller step after the first (inner.later_lr): each step's Jacobian has its own lr
Test(maml, meta_gradient_matches_finite_differences_with_later_lr) {
  mrlConfig cfg;
  sine_config(&cfg);
  cfg.inner.lr = 0.08;
  cfg.inner.later_lr = 0.02;
  check_meta_grad(&cfg, 3, 1e-5);
}

// inner.learn_lr: the multipliers' entries of the meta-gradient, alone and
// with every parameter, on the exact loss (sine) and the surrogate (point_nav)
Test(maml, learned_step_sizes_meta_gradient_matches_finite_differences) {
  mrlConfig cfg;
  sine_config(&cfg);
  cfg.inner.learn_lr = 1;
  cfg.inner.later_lr = 0.02;
  check_meta_grad_in(&cfg, 3, 1e-5, 1);
  check_meta_grad_in(&cfg, 3, 1e-5, 0);
  point_nav_config(&cfg);
  cfg.inner.learn_lr = 1;
  check_meta_grad_in(&cfg, 2, 1e-5, 1);
}

// inner.adapt context (CAVIA): the steps move the context alone, and the
// meta-gradient reaches every parameter through them; the context starts
// away from 0 so that W_c's entries get a first-order part too.
Test(maml, context_meta_gradient_matches_finite_differences) {
  mrlConfig cfg;
  sine_config(&cfg);
  cfg.policy.context = 3;
  cfg.inner.adapt = MRL_ADAPT_CONTEXT;
  cfg.inner.lr = 0.5;
  check_meta_grad(&cfg, 3, 1e-5);
  point_nav_config(&cfg);
  cfg.policy.context = 3;
  cfg.inner.adapt = MRL_ADAPT_CONTEXT;
  cfg.inner.lr = 2;
  check_meta_grad(&cfg, 2, 1e-5);
}

Test(maml, meta_gradient_matches_finite_differences_point_nav) {
  mrlConfig cfg;
  point_nav_config(&cfg);
  check_meta_grad(&cfg, 2, 1e-5);
}

// One policy-gradient task adapted by one SGD step from a perturbed
// initialization (seed), its first batch and theta_0 kept: what the products
// of mrl_inner_step_jacobian are taken on. cfg is the default config with
// two hidden layers of width units of activation act, ready for maml (with
// context > 0, CAVIA's: a context of that size adapted alone); vec:
// nvec parameter vectors of scratch; v: a random direction (nparam).
typedef struct {
  mrlConfig cfg;
  mrlFamily* fam;
  mrlPolicy pol;
  mrlLearner* ln;
  double* phi;  // the initialization, then v and the scratch vectors: one block
  double* vec;
  double* v;
} AdaptedTask;

static void adapted_task_make(AdaptedTask* t, int width, mrlActivation act, int horizon,
                              int episodes, int freeze, int context, uint64_t seed, int nvec) {
  openblas_set_num_threads(1);
  mrlConfig* cfg = &t->cfg;
  mrl_config_default(cfg);
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = cfg->policy.hidden[1] = width;
  cfg->policy.activation = act;
  cfg->env.horizon = horizon;
  cfg->inner.episodes = episodes;
  cfg->outer.algo = MRL_OUTER_MAML;
  cfg->outer.hvp_freeze_relu = freeze;
  cfg->policy.context = context;
  if (context) cfg->inner.adapt = MRL_ADAPT_CONTEXT;
  char err[MRL_ERRLEN];
  t->fam = mrl_family_make(cfg, err, sizeof(err));
  cr_assert_not_null(t->fam, "%s", err);
  cr_assert(!t->fam->supervised, "the default family is a policy-gradient one");
  mrl_policy_setup(&t->pol, cfg, t->fam->nobs, t->fam->nact);
  int n = t->pol.nparam;
  double* phi = t->phi = mrl_alloc(sizeof(double) * n * (nvec + 2));
  t->v = phi + n;
  t->vec = phi + 2 * n;
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&t->pol, &rng, phi);
  for (int i = 0; i < n; i++) phi[i] += 0.1 * mrl_rng_normal(&rng);
  t->ln = mrl_learner_make(cfg, t->fam, &t->pol, episodes);
  mrl_learner_keep(t->ln, 2, 0);
  double task[8], returns[16];
  mrl_task_sample(t->fam, cfg, 0, 0, 0, task);
  mrl_inner_adapt(cfg, t->ln, task, phi, 1, 11, 0, 0, 1, returns);
  for (int i = 0; i < n; i++) t->v[i] = mrl_rng_normal(&rng);
}

static void adapted_task_free(AdaptedTask* t) {
  mrl_learner_free(t->ln);
  mrl_family_free(t->fam);
  free(t->phi);
}

// ||H v(h) - H v(h_ref)|| / ||H v(h_ref)|| for the Hessian-vector products of
// a ReLU policy's surrogate at probe steps h and h_ref, pattern frozen or not;
// with a context (context > 0) the probes move it alone.
static double relu_hvp_spread(int freeze, int context, double h, double h_ref) {
  AdaptedTask at;
  adapted_task_make(&at, 64, MRL_ACT_RELU, 100, 20, freeze, context, 5, 5);
  mrlConfig cfg = at.cfg;
  mrlLearner* ln = at.ln;
  int n = at.pol.nparam;
  double *v = at.v, *hv = at.vec, *ref = at.vec + n, *scratch = at.vec + 2 * n;  // 3 n
  double steps[2] = {h, h_ref}, *out[2] = {hv, ref};
  for (int t = 0; t < 2; t++) {  // (I - 1 H) v gives H v = v - result
    cfg.outer.hvp_step = steps[t];
    memcpy(out[t], v, sizeof(double) * n);
    // with a context, the transposed product (the meta-gradient's): it probes along M v
    mrl_inner_step_jacobian(&cfg, &at.pol, ln->work, 1.0, ln->thetas, ln->saved[0], context > 0,
                            out[t], scratch);
    for (int i = 0; i < n; i++) out[t][i] = v[i] - out[t][i];
  }
  double diff = 0, norm = 0;
  for (int i = 0; i < n; i++) {
    diff += (hv[i] - ref[i]) * (hv[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  adapted_task_free(&at);
  return sqrt(diff / norm);
}

// With one on/off pattern for both probes the product is that of a smooth
// piece and does not depend on the probe step; without it, the units that
// switch between the probes add their gradient jumps divided by 2h. Checked
// for a policy with (context > 0) or without CAVIA's context.
static void check_frozen_products(int context, double h) {
  // at h = 1e-4 and below no unit of the problem without a context switches
  double frozen = relu_hvp_spread(1, context, h, 1e-6);
  double free_ = relu_hvp_spread(0, context, h, 1e-6);
  cr_log_info("context %d, relative change from h = 1e-6 to %g: %.3g frozen, %.3g not", context, h,
              frozen, free_);
  // frozen, the patterns of the two steps differ in the units that switch
  // between them: neighbouring pieces, whose Hessians differ a little
  cr_assert(frozen < 1e-2, "frozen pattern: the product moved by %.3g with the step", frozen);
  cr_assert(free_ > 100 * frozen, "the check has no teeth: %.3g against %.3g", free_, frozen);
}

Test(maml, relu_hessian_products_do_not_depend_on_the_probe_step) {
  check_frozen_products(0, 1e-3);
}

// configs/cheetah_dir_best.yaml uses both. The transposed product probes
// along the context alone, which shifts every first-layer unit's input: at a
// probe step of 1e-4, where the problem without a context sees no switch, units
// switch between the probes.
Test(maml, relu_hessian_products_with_a_context_do_not_depend_on_the_probe_step) {
  check_frozen_products(8, 1e-4);
}

// outer.hvp_lvc: the Jacobian of one inner step gains -lr S v, S the
// score-function term -(1/M) sum_r A_r grad log pi_r grad log pi_r^T. The
// reference builds S v from each valid row's own gradient of log pi (the
// surrogate's gradient with that row's advantage alone), with no finite
// difference; tanh units, so the products have no kinks to straddle.
Test(maml, lvc_term_is_the_score_outer_products) {
  AdaptedTask at;
  adapted_task_make(&at, 16, MRL_ACT_TANH, 50, 10, 0, 0, 7, 7);
  mrlConfig cfg = at.cfg;
  const mrlPolicy* pol = &at.pol;
  mrlLearner* ln = at.ln;
  int n = pol->nparam;
  double *v = at.v, *plain = at.vec, *lvc = at.vec + n, *sv = at.vec + 2 * n, *gr = at.vec + 3 * n,
         *scratch = at.vec + 4 * n;  // 3 n
  mrlBatch* b = ln->saved[0];
  const double* theta = ln->thetas;

  // S v, row by row: grad log pi_r is the surrogate's gradient when row r
  // alone carries the advantage -M
  int rows = b->nenv * b->horizon;
  long valid = 0;
  for (int r = 0; r < rows; r++) valid += b->valid[r] > 0;
  double* adv = mrl_alloc(sizeof(double) * rows);
  memcpy(adv, b->adv, sizeof(double) * rows);
  memset(sv, 0, sizeof(double) * n);
  memset(b->adv, 0, sizeof(double) * rows);
  for (int r = 0; r < rows; r++) {
    if (b->valid[r] <= 0 || adv[r] == 0) continue;
    b->adv[r] = -(double)valid;
    mrl_pg_loss_grad(pol, theta, ln->work, b, gr);
    b->adv[r] = 0;
    double along = 0;
    for (int i = 0; i < n; i++) along += gr[i] * v[i];
    for (int i = 0; i < n; i++) sv[i] -= adv[r] * along * gr[i] / valid;
  }
  memcpy(b->adv, adv, sizeof(double) * rows);

  double lr = 0.7;
  for (int transpose = 0; transpose < 2; transpose++) {
    memcpy(plain, v, sizeof(double) * n);
    memcpy(lvc, v, sizeof(double) * n);
    cfg.outer.hvp_lvc = 0;
    mrl_inner_step_jacobian(&cfg, pol, ln->work, lr, theta, b, transpose, plain, scratch);
    cfg.outer.hvp_lvc = 1;
    mrl_inner_step_jacobian(&cfg, pol, ln->work, lr, theta, b, transpose, lvc, scratch);
    // J_lvc v = J v - lr S v
    double diff = 0, norm = 0, hv = 0;
    for (int i = 0; i < n; i++) {
      double term = plain[i] - lvc[i];
      diff += (term - lr * sv[i]) * (term - lr * sv[i]);
      norm += lr * sv[i] * lr * sv[i];
      hv += (v[i] - plain[i]) * (v[i] - plain[i]);
    }
    cr_log_info("transpose %d: |lr S v| %.3g, |lr H v| %.3g, relative error %.3g", transpose,
                sqrt(norm), sqrt(hv), sqrt(diff / norm));
    cr_assert(sqrt(diff / norm) < 1e-6, "transpose %d: the term is off by %.3g relative", transpose,
              sqrt(diff / norm));
    // teeth: the term is not negligible beside the rest of the product
    cr_assert(sqrt(norm) > 1e-2 * sqrt(hv), "|lr S v| %.3g against |lr H v| %.3g", sqrt(norm),
              sqrt(hv));
  }
  free(adv);
  adapted_task_free(&at);
}
