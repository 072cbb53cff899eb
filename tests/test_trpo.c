// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_trpo.c: the TRPO step. Its mean KL, recomputed here independently in
// closed form, stays within outer.max_kl for several bounds, comes close to
// the bound (the step is not needlessly short), and the Fisher-vector
// product is symmetric positive definite as a Fisher matrix must be.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

static mrlConfig cfg;
static mrlFamily* fam;
static mrlPolicy pol;
static mrlLearner* ln[3];
static mrlFisherData* sets[3];
static double phi[4096], g[4096];

// Three tasks' first batches at phi, and the mean policy gradient on them.
static void setup(void) {
  openblas_set_num_threads(1);
  char err[MRL_ERRLEN];
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = cfg.policy.hidden[1] = 16;
  cfg.policy.init_log_std = -1;
  cfg.env.horizon = 30;
  cfg.inner.episodes = 6;
  fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  mrlRng rng;
  mrl_rng_init(&rng, 2, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, phi);
  memset(g, 0, sizeof(g));
  for (int j = 0; j < 3; j++) {
    ln[j] = mrl_learner_make(&cfg, fam, &pol, cfg.inner.episodes);
    double task[2], ret[1];
    mrl_task_sample(fam, &cfg, 0, 0, j, task);
    mrl_inner_adapt(&cfg, ln[j], task, phi, 0, 1, 0, j, 1, ret);
    mrl_pg_loss_grad(&pol, phi, ln[j]->work, ln[j]->batch, ln[j]->grad);
    for (int i = 0; i < pol.nparam; i++) g[i] += ln[j]->grad[i] / 3;
    sets[j] = mrl_fisher_make(&pol, cfg.inner.episodes * cfg.env.horizon);
    mrl_fisher_add(sets[j], ln[j]->batch);
  }
}

static void teardown(void) {
  for (int j = 0; j < 3; j++) {
    mrl_learner_free(ln[j]);
    mrl_fisher_free(sets[j]);
  }
  mrl_family_free(fam);
}

// Mean over every stored row of KL(pi_a || pi_b), from the closed form.
static double mean_kl(const double* a, const double* b) {
  int nact = 2;
  double sum = 0;
  long rows = 0;
  double ma[4096], mb[4096];
  for (int j = 0; j < 3; j++) {
    mrlFisherData* fd = sets[j];
    mrl_policy_forward(&pol, a, ln[j]->work, fd->obs, fd->rows);
    memcpy(ma, ln[j]->work->mean, sizeof(double) * fd->rows * nact);
    mrl_policy_forward(&pol, b, ln[j]->work, fd->obs, fd->rows);
    memcpy(mb, ln[j]->work->mean, sizeof(double) * fd->rows * nact);
    for (int r = 0; r < fd->rows; r++) {
      for (int k = 0; k < nact; k++) {
        double sa = exp(a[pol.logstd_off + k]), sb = exp(b[pol.logstd_off + k]);
        double d = ma[r * nact + k] - mb[r * nact + k];
        sum += log(sb / sa) + (sa * sa + d * d) / (2 * sb * sb) - 0.5;
      }
    }
    rows += fd->rows;
  }
  return sum / rows;
}

TestSuite(trpo, .init = setup, .fini = teardown);

Test(trpo, step_respects_kl_bound) {
  mrlPool* pool = mrl_pool_make(2);
  mrlPolicyWork* work[2] = {ln[0]->work, ln[1]->work};
  static double p[4096];
  const double bounds[] = {1e-4, 1e-2, 5e-2};
  for (int b = 0; b < 3; b++) {
    cfg.outer.max_kl = bounds[b];
    memcpy(p, phi, sizeof(double) * pol.nparam);
    double kl_reported;
    double scale = mrl_trpo_step(&cfg, sets, 3, work, pool, p, g, &kl_reported);
    double kl = mean_kl(phi, p);
    cr_log_info("max_kl %g: step scale %g, KL %.6g (reported %.6g)", bounds[b], scale, kl,
                kl_reported);
    cr_assert(scale > 0, "the step was rejected");
    cr_assert(kl <= bounds[b] * (1 + 1e-9), "KL %g above the bound %g", kl, bounds[b]);
    cr_assert(kl >= 0.3 * bounds[b], "KL %g: the step is far shorter than the bound %g", kl,
              bounds[b]);
    cr_assert(fabs(kl - kl_reported) <= 1e-9 * bounds[b], "reported KL %g, actual %g", kl_reported,
              kl);
    // a descent direction: the linearized loss goes down
    double lin = 0;
    for (int i = 0; i < pol.nparam; i++) lin += g[i] * (p[i] - phi[i]);
    cr_assert(lin < 0);
  }
  mrl_pool_free(pool);
}

Test(trpo, fisher_product_symmetric_positive) {
  int n = pol.nparam;
  static double u[4096], v[4096], fu[4096], fv[4096], probe[4096];
  mrlRng rng;
  mrl_rng_init(&rng, 7, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < n; i++) {
    u[i] = mrl_rng_normal(&rng);
    v[i] = mrl_rng_normal(&rng);
  }
  memset(fu, 0, sizeof(fu));
  memset(fv, 0, sizeof(fv));
  mrl_fisher_mean_product(sets[0], phi, ln[0]->work, u, fu, probe);
  mrl_fisher_mean_product(sets[0], phi, ln[0]->work, v, fv, probe);
  double vfu = 0, ufv = 0, ufu = 0;
  for (int i = 0; i < n; i++) {
    vfu += v[i] * fu[i];
    ufv += u[i] * fv[i];
    ufu += u[i] * fu[i];
  }
  cr_assert(ufu > 0);
  cr_assert(fabs(vfu - ufv) < 1e-6 * fabs(ufu), "u'Fv %g vs v'Fu %g", ufv, vfu);
}
