// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_trpo.c: the TRPO step and its trust sets. The mean KL of a step,
// recomputed here independently in closed form, stays within outer.max_kl
// and comes close to it (the step is not needlessly short); the product
// J^T F J v is symmetric positive definite and is the Hessian of the mean KL
// of the adapted policy theta_1(phi') (checked against a second difference of
// the KL computed here by replaying the inner step); the slope of the
// importance-weighted surrogate at phi is the MAML meta-gradient; and a
// step that must improve the surrogate does, with the adapted KL in bounds.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

#define NTASK 3

static mrlConfig cfg;
static mrlFamily* fam;
static mrlPolicy pol;
static mrlLearner* ln[NTASK];
static mrlTrustSet* sets[NTASK];
static int ok[NTASK] = {1, 1, 1};
static double phi[4096], g[4096];
static int k_inner;
static double entropy_coef;  // rl.entropy_coef of the next setup
static int learn_lr;         // inner.learn_lr of the next setup (multipliers away from 1)
static int context;          // policy.context of the next setup, adapted alone (away from 0)

// NTASK tasks adapted from phi with k inner steps, their trust sets over
// theta_k(phi'), and g, the mean of their meta-gradients (k = 0: the policy
// gradient at phi).
static void setup_k(int k) {
  openblas_set_num_threads(1);
  char err[MRL_ERRLEN];
  k_inner = k;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = cfg.policy.hidden[1] = 16;
  cfg.policy.init_log_std = -1;
  cfg.env.horizon = 30;
  cfg.inner.episodes = 6;
  cfg.inner.lr = 0.3;  // a large step, so that its Jacobian matters
  cfg.rl.entropy_coef = entropy_coef;
  cfg.inner.learn_lr = learn_lr;
  cfg.policy.context = context;
  if (context) {  // the context's step is the whole adaptation: a larger one
    cfg.inner.adapt = MRL_ADAPT_CONTEXT;
    cfg.inner.lr = 30;
  }
  fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  mrlRng rng;
  mrl_rng_init(&rng, 2, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, phi);
  for (int j = 0; learn_lr && j < MRL_POLICY_NTENSOR(&pol); j++) {
    phi[pol.lr_off + j] = 0.5 * mrl_rng_normal(&rng);
  }
  for (int i = 0; i < context; i++) phi[pol.ctx_off + i] = 0.5 * mrl_rng_normal(&rng);
  memset(g, 0, sizeof(g));
  for (int j = 0; j < NTASK; j++) {
    ln[j] = mrl_learner_make(&cfg, fam, &pol, cfg.inner.episodes);
    mrl_learner_keep(ln[j], k + 1, 0);
    double task[2], ret[4];
    mrl_task_sample(fam, &cfg, 0, 0, j, task);
    mrl_inner_adapt(&cfg, ln[j], task, phi, k, 1, 0, j, 1, ret);
    mrl_maml_meta_grad(&cfg, ln[j], k, ln[j]->grad);
    for (int i = 0; i < pol.nparam; i++) g[i] += ln[j]->grad[i] / NTASK;
    sets[j] = mrl_trust_make(&pol, cfg.inner.episodes * cfg.env.horizon, k);
    mrl_trust_load(sets[j], &cfg, k, ln[j]->saved, ln[j]->thetas, ln[j]->work);
    cr_assert(sets[j]->rows > 0);
  }
}

static void setup0(void) {
  setup_k(0);
}

static void setup1(void) {
  setup_k(1);
}

static void teardown(void) {
  for (int j = 0; j < NTASK; j++) {
    mrl_learner_free(ln[j]);
    mrl_trust_free(sets[j]);
  }
  mrl_family_free(fam);
}

// theta_k(p) for task j, by replaying its inner steps.
static void replay(int j, const double* p, double* theta) {
  static double grad[4096];
  memcpy(theta, p, sizeof(double) * pol.nparam);
  for (int s = 0; s < k_inner; s++) {
    mrl_loss_grad(&pol, theta, ln[j]->work, ln[j]->saved[s], grad);
    for (int i = 0; pol.adapt_context && i < pol.ncontext; i++) {  // the context alone
      theta[pol.ctx_off + i] -= cfg.inner.lr * grad[pol.ctx_off + i];
    }
    for (int t = 0; !pol.adapt_context && t < MRL_POLICY_NTENSOR(&pol);
         t++) {  // times theta's multipliers
      int off, len;
      mrl_policy_tensor(&pol, t, &off, &len);
      double lr = cfg.inner.lr * (pol.lr_off ? exp(theta[pol.lr_off + t]) : 1);
      for (int i = off; i < off + len; i++) theta[i] -= lr * grad[i];
    }
  }
}

// Mean over the tasks of the mean over the query batch's valid rows of
// KL(pi_theta_k(a) || pi_theta_k(b)), from the closed form.
static double mean_kl(const double* a, const double* b) {
  int nact = fam->nact;
  static double ta[4096], tb[4096], ma[8192], mb[8192];
  double total = 0;
  for (int j = 0; j < NTASK; j++) {
    replay(j, a, ta);
    replay(j, b, tb);
    const mrlBatch* q = ln[j]->saved[k_inner];
    int rows = q->nenv * q->horizon;
    mrl_policy_forward(&pol, ta, ln[j]->work, q->obs, rows);
    memcpy(ma, ln[j]->work->mean, sizeof(double) * rows * nact);
    mrl_policy_forward(&pol, tb, ln[j]->work, q->obs, rows);
    memcpy(mb, ln[j]->work->mean, sizeof(double) * rows * nact);
    double sum = 0;
    long valid = 0;
    for (int r = 0; r < rows; r++) {
      if (q->valid[r] <= 0) continue;
      valid++;
      for (int d = 0; d < nact; d++) {
        double sa = exp(ta[pol.logstd_off + d]), sb = exp(tb[pol.logstd_off + d]);
        double diff = ma[r * nact + d] - mb[r * nact + d];
        sum += log(sb / sa) + (sa * sa + diff * diff) / (2 * sb * sb) - 0.5;
      }
    }
    total += sum / valid;
  }
  return total / NTASK;
}

static double mean_surrogate(const double* p) {
  double total = 0, s, kl;
  for (int j = 0; j < NTASK; j++) {
    mrl_trust_eval(sets[j], ln[j]->work, p, &s, &kl);
    total += s;
  }
  return total / NTASK;
}

// A random direction; with inner.learn_lr, none in the multipliers' Adam
// state, and none in the multipliers themselves unless with_rates (they are
// outside the trust region: the products have no curvature there).
static void random_direction_in(uint64_t seed, double* v, int with_rates) {
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < pol.nparam; i++) v[i] = mrl_rng_normal(&rng);
  // inner.adapt context: the inner step's Jacobian acts through c alone, which a
  // uniform direction would barely touch; weigh c 20 times the rest
  for (int i = 0; pol.adapt_context && i < pol.nparam; i++) {
    if (i < pol.ctx_off || i >= pol.ctx_off + pol.ncontext) v[i] *= 0.01;
  }
  if (pol.lr_off) {
    int from = pol.lr_off + (with_rates ? MRL_POLICY_NTENSOR(&pol) : 0);
    for (int i = from; i < pol.nparam; i++) v[i] = 0;
  }
}

static void random_direction(uint64_t seed, double* v) {
  random_direction_in(seed, v, 0);
}

// The step over the three sets, its KL recomputed here, for several bounds.
static void check_step(int check_surrogate) {
  mrlPool* pool = mrl_pool_make(2);
  mrlPolicyWork* work[2] = {ln[0]->work, ln[1]->work};
  static double p[4096], gstep[4096];
  const double bounds[] = {1e-4, 1e-2, 5e-2};
  double surr0 = mean_surrogate(phi);
  // inner.learn_lr: the trainer steps the multipliers apart and gives TRPO zeros there
  memcpy(gstep, g, sizeof(double) * pol.nparam);
  for (int i = pol.lr_off; pol.lr_off && i < pol.nparam; i++) gstep[i] = 0;
  for (int b = 0; b < 3; b++) {
    cfg.outer.max_kl = bounds[b];
    memcpy(p, phi, sizeof(double) * pol.nparam);
    mrlTrpoStats st;
    double scale = mrl_trpo_step(&cfg, &pol, sets, ok, NULL, NTASK, 0, NTASK, check_surrogate, work,
                                 pool, p, gstep, &st);
    double kl = mean_kl(phi, p);
    cr_log_info(
        "k %d max_kl %g: scale %g, KL %.6g (reported %.6g), surrogate %.6g -> %.6g, "
        "%d backtracks",
        k_inner, bounds[b], scale, kl, st.kl, st.surrogate_before, st.surrogate_after,
        st.backtracks);
    cr_assert(scale > 0, "the step was rejected");
    cr_assert(kl <= bounds[b] * (1 + 1e-6), "KL %g above the bound %g", kl, bounds[b]);
    // a surrogate that must improve may stop the step short of the bound
    cr_assert(check_surrogate || kl >= 0.3 * bounds[b],
              "KL %g: the step is far shorter than the bound %g", kl, bounds[b]);
    cr_assert(fabs(kl - st.kl) <= 1e-6 * bounds[b], "reported KL %g, actual %g", st.kl, kl);
    cr_assert(fabs(st.surrogate_before - surr0) <= 1e-12 * fabs(surr0));
    if (check_surrogate) {
      cr_assert(mean_surrogate(p) < surr0, "the surrogate did not improve");
      cr_assert(st.surrogate_after < st.surrogate_before);
    }
    // a descent direction: the linearized loss goes down
    double lin = 0;
    for (int i = 0; i < pol.nparam; i++) lin += gstep[i] * (p[i] - phi[i]);
    cr_assert(lin < 0);
  }
  mrl_pool_free(pool);
}

// No direction to step along (a zero gradient): no candidate is tried, phi
// stays, and the stats say so (NaN, -1) rather than report a step of KL 0.
static void check_no_direction(void) {
  mrlPool* pool = mrl_pool_make(1);
  mrlPolicyWork* work[1] = {ln[0]->work};
  static double p[4096], zero[4096];
  memcpy(p, phi, sizeof(double) * pol.nparam);
  memset(zero, 0, sizeof(double) * pol.nparam);
  mrlTrpoStats st;
  double scale =
      mrl_trpo_step(&cfg, &pol, sets, ok, NULL, NTASK, 0, NTASK, 1, work, pool, p, zero, &st);
  cr_assert(scale == 0);
  cr_assert(memcmp(p, phi, sizeof(double) * pol.nparam) == 0, "phi moved");
  cr_assert(isnan(st.kl) && isnan(st.surrogate_before) && isnan(st.surrogate_after));
  cr_assert(st.backtracks == -1);
  mrl_pool_free(pool);
}

static void check_product_symmetric_positive(void) {
  int n = pol.nparam;
  static double u[4096], v[4096], fu[4096], fv[4096];
  random_direction(7, u);
  random_direction(8, v);
  mrl_trust_product(sets[0], &cfg, ln[0]->work, u, fu);
  mrl_trust_product(sets[0], &cfg, ln[0]->work, v, fv);
  double vfu = 0, ufv = 0, ufu = 0;
  for (int i = 0; i < n; i++) {
    vfu += v[i] * fu[i];
    ufv += u[i] * fv[i];
    ufu += u[i] * fu[i];
  }
  cr_log_info("k %d: u'Fu %g, u'Fv %g, v'Fu %g", k_inner, ufu, ufv, vfu);
  cr_assert(ufu > 0);
  cr_assert(fabs(vfu - ufv) < 1e-4 * fabs(ufu), "u'Fv %g vs v'Fu %g", ufv, vfu);
}

TestSuite(trpo, .init = setup0, .fini = teardown);

Test(trpo, step_respects_kl_bound) {
  check_step(0);
}

Test(trpo, no_direction_leaves_phi_and_reports_no_step) {
  check_no_direction();
}

Test(trpo, product_symmetric_positive) {
  check_product_symmetric_positive();
}

TestSuite(trpo_adapted, .init = setup1, .fini = teardown);

Test(trpo_adapted, step_respects_kl_bound_and_improves) {
  check_step(1);
}

// The MAML code's float32 probe: a zero parameter moves by about eps v_i, one
// far larger than eps v_i not at all, so its direction is lost to the product.
Test(trpo_adapted, float32_probe_sees_only_what_rounding_leaves) {
  enum { N = 6 };
  const double phi_probe[N] = {0, 0, 1e-12, 0.5, -2, 30};
  const double v[N] = {1, -3, 2, 1, -1, 5};
  double seen[N];
  mrl_trpo_float32_probe(phi_probe, v, N, seen);
  for (int i = 0; i < 3; i++) {
    cr_assert(fabs(seen[i] - v[i]) <= 1e-6 * fabs(v[i]), "param %d: seen %g of %g", i, seen[i],
              v[i]);
  }
  for (int i = 3; i < N; i++) cr_assert(seen[i] == 0, "param %d: seen %g", i, seen[i]);
}

// outer.fisher_float32 on the setup's phi (biases 0, weights not): the step
// still keeps the KL bound and improves the surrogate, and it is not the
// step of the exact products.
Test(trpo_adapted, fisher_float32_step) {
  mrlPool* pool = mrl_pool_make(1);
  mrlPolicyWork* work[1] = {ln[0]->work};
  static double exact[4096], probed[4096];
  mrlTrpoStats st;
  cfg.outer.max_kl = 1e-2;
  memcpy(exact, phi, sizeof(double) * pol.nparam);
  mrl_trpo_step(&cfg, &pol, sets, ok, NULL, NTASK, 0, NTASK, 1, work, pool, exact, g, &st);
  cfg.outer.fisher_float32 = 1;
  check_step(1);
  cfg.outer.max_kl = 1e-2;
  memcpy(probed, phi, sizeof(double) * pol.nparam);
  double scale =
      mrl_trpo_step(&cfg, &pol, sets, ok, NULL, NTASK, 0, NTASK, 1, work, pool, probed, g, &st);
  cr_assert(scale > 0, "the step was rejected");
  double apart = 0, moved = 0;
  for (int i = 0; i < pol.nparam; i++) {
    apart = fmax(apart, fabs(exact[i] - probed[i]));
    moved = fmax(moved, fabs(exact[i] - phi[i]));
  }
  cr_assert(apart > 1e-3 * moved, "the probed step is the exact one (%g apart, %g moved)", apart,
            moved);
  mrl_pool_free(pool);
}

// outer.cg_iters 0: the step is along the gradient itself, -scale g, its
// length still set by the KL bound and the line search.
Test(trpo_adapted, steepest_descent_without_cg) {
  cfg.outer.cg_iters = 0;
  check_step(1);
  mrlPool* pool = mrl_pool_make(1);
  mrlPolicyWork* work[1] = {ln[0]->work};
  static double p[4096];
  memcpy(p, phi, sizeof(double) * pol.nparam);
  mrlTrpoStats st;
  cfg.outer.max_kl = 1e-2;
  double scale =
      mrl_trpo_step(&cfg, &pol, sets, ok, NULL, NTASK, 0, NTASK, 1, work, pool, p, g, &st);
  cr_assert(scale > 0, "the step was rejected");
  double worst = 0, size = 0;
  for (int i = 0; i < pol.nparam; i++) {
    worst = fmax(worst, fabs(p[i] - (phi[i] - scale * g[i])));
    size = fmax(size, fabs(p[i] - phi[i]));
  }
  cr_assert(worst <= 1e-12 * size, "off the gradient by %g (step %g)", worst, size);
  mrl_pool_free(pool);
}

Test(trpo_adapted, product_symmetric_positive) {
  check_product_symmetric_positive();
}

// v' (J^T F J) v against 2 KL(phi + e v) / e^2 (KL and its gradient vanish at
// phi, so the KL is quadratic to third order), with the KL recomputed here.
static void check_kl_hessian(void) {
  int n = pol.nparam;
  static double v[4096], hv[4096], hv_j[4096], p[4096];
  for (int trial = 0; trial < 3; trial++) {
    random_direction(20 + trial, v);
    double norm = 0;
    for (int i = 0; i < n; i++) norm += v[i] * v[i];
    for (int i = 0; i < n; i++) v[i] /= sqrt(norm);
    memset(hv, 0, sizeof(hv));
    for (int j = 0; j < NTASK; j++) {
      mrl_trust_product(sets[j], &cfg, ln[j]->work, v, hv_j);
      for (int i = 0; i < n; i++) hv[i] += hv_j[i] / NTASK;
    }
    double vhv = 0;
    for (int i = 0; i < n; i++) vhv += v[i] * hv[i];
    double e = 1e-3;
    for (int i = 0; i < n; i++) p[i] = phi[i] + e * v[i];
    double fd = 2 * mean_kl(phi, p) / (e * e);
    // the same without the inner step's Jacobian, so that the check has teeth
    double vfv = 0;
    for (int j = 0; j < NTASK; j++) {
      mrlTrustSet plain = *sets[j];
      plain.k = 0;
      plain.thetas = sets[j]->thetas + n;  // theta_1 as the point, no inner step
      mrl_trust_product(&plain, &cfg, ln[j]->work, v, hv_j);
      for (int i = 0; i < n; i++) vfv += v[i] * hv_j[i] / NTASK;
    }
    cr_log_info("v'Hv %.6g, second difference %.6g, without J %.6g", vhv, fd, vfv);
    cr_assert(fabs(vhv - fd) < 0.002 * fabs(fd), "v'Hv %g vs %g", vhv, fd);
    // ten times the error of the product: the check can tell J from no J
    cr_assert(fabs(vfv - fd) > 10 * fabs(vhv - fd), "J makes no difference: %g vs %g", vfv, fd);
  }
}

Test(trpo_adapted, product_is_the_kl_hessian) {
  check_kl_hessian();
}

// d/de surrogate(phi + e v) at 0 is g . v: the surrogate is the objective
// whose gradient the MAML meta-gradient is.
static void check_surrogate_slope(void) {
  int n = pol.nparam;
  static double v[4096], p[4096];
  for (int trial = 0; trial < 3; trial++) {
    random_direction_in(30 + trial, v, 1);
    double e = 1e-4, gv = 0;
    for (int i = 0; i < n; i++) gv += g[i] * v[i];
    for (int i = 0; i < n; i++) p[i] = phi[i] + e * v[i];
    double plus = mean_surrogate(p);
    for (int i = 0; i < n; i++) p[i] = phi[i] - e * v[i];
    double minus = mean_surrogate(p);
    double slope = (plus - minus) / (2 * e);
    cr_log_info("g.v %.8g, slope %.8g", gv, slope);
    cr_assert(fabs(slope - gv) < 1e-3 * fabs(gv) + 1e-9, "g.v %g vs slope %g", gv, slope);
  }
}

Test(trpo_adapted, surrogate_slope_is_the_meta_gradient) {
  check_surrogate_slope();
}

// With an entropy bonus in the gradient, the line search's surrogate has it too.
static void setup1_entropy(void) {
  entropy_coef = 0.05;
  setup_k(1);
  entropy_coef = 0;
}

TestSuite(trpo_entropy, .init = setup1_entropy, .fini = teardown);

Test(trpo_entropy, surrogate_slope_is_the_meta_gradient) {
  check_surrogate_slope();
}

// Every 4th row in the products: the curvature is an estimate, the step
// still meets the exact KL bound and improves the exact surrogate, and the
// Fisher part (k = 0, no inner-step Jacobian, whose Hessian estimate from a
// quarter of a small batch is far noisier) stays near the full one.
Test(trpo_adapted, subsampled_products) {
  int n = pol.nparam;
  static double v[4096], full[4096], thin[4096];
  random_direction(40, v);
  mrlTrustSet plain = *sets[0];
  plain.k = 0;
  plain.thetas = sets[0]->thetas + n;  // the Fisher matrix at theta_1 alone
  mrl_trust_product(&plain, &cfg, ln[0]->work, v, full);
  cfg.outer.cg_subsample = 4;
  for (int j = 0; j < NTASK; j++) {
    mrl_trust_load(sets[j], &cfg, k_inner, ln[j]->saved, ln[j]->thetas, ln[j]->work);
  }
  cr_assert_eq(sets[0]->cg_rows, (sets[0]->rows + 3) / 4);
  plain = *sets[0];
  plain.k = 0;
  plain.thetas = sets[0]->thetas + n;
  mrl_trust_product(&plain, &cfg, ln[0]->work, v, thin);
  double vf = 0, vt = 0;
  for (int i = 0; i < n; i++) {
    vf += v[i] * full[i];
    vt += v[i] * thin[i];
  }
  cr_log_info("v'Fv: every row %g, every 4th row %g", vf, vt);
  cr_assert(vt > 0.5 * vf && vt < 2 * vf, "v'Fv %g with every 4th row, %g with all", vt, vf);
  cr_assert(vt != vf, "the products did not change: no rows were left out");
  check_product_symmetric_positive();
  check_step(1);
}

// inner.learn_lr: the inner step per tensor, times multipliers away from 1.
// The forward products apply J = I - lr M H and the backward ones J^T =
// I - lr H M; mixing them up breaks the symmetry and the KL's Hessian. The
// surrogate's slope along the multipliers too is the meta-gradient's.
static void setup1_rates(void) {
  learn_lr = 1;
  setup_k(1);
  learn_lr = 0;
}

TestSuite(trpo_rates, .init = setup1_rates, .fini = teardown);

Test(trpo_rates, product_symmetric_positive) {
  check_product_symmetric_positive();
}

Test(trpo_rates, product_is_the_kl_hessian) {
  check_kl_hessian();
}

Test(trpo_rates, surrogate_slope_is_the_meta_gradient) {
  check_surrogate_slope();
}

Test(trpo_rates, step_respects_kl_bound_and_improves) {
  check_step(1);
}

// inner.adapt context (CAVIA): the inner step moves the context alone, so
// J = I - lr M H with M 1 on the context only, J^T = I - lr H M: the same
// checks as with learned rates, on a mask that leaves most of J the identity.
static void setup1_context(void) {
  context = 4;
  setup_k(1);
  context = 0;
}

TestSuite(trpo_context, .init = setup1_context, .fini = teardown);

Test(trpo_context, product_symmetric_positive) {
  check_product_symmetric_positive();
}

Test(trpo_context, product_is_the_kl_hessian) {
  check_kl_hessian();
}

Test(trpo_context, surrogate_slope_is_the_meta_gradient) {
  check_surrogate_slope();
}

Test(trpo_context, step_respects_kl_bound_and_improves) {
  check_step(1);
}
