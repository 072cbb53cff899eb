// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_train.c: meta-training end to end on point_nav: determinism across
// thread counts, and a meta-learned initialization that adapts better than a
// random one on held-out tasks.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"


static void small_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  snprintf(cfg->env.name, sizeof(cfg->env.name), "point_nav");
  cfg->seed = 3;
  cfg->policy.nhidden = 2;
  cfg->policy.hidden[0] = 32;
  cfg->policy.hidden[1] = 32;
  cfg->policy.init_log_std = -1;
  cfg->inner.lr = 0.3;
  cfg->inner.steps = 2;
  cfg->inner.episodes = 10;
  cfg->outer.meta_batch = 8;
  cfg->outer.iterations = 40;
}

static void train(const mrlConfig* cfg, int iterations, double* params) {
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  for (int i = 0; i < iterations; i++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
    cr_assert(isfinite(row.return_pre) && isfinite(row.return_post));
  }
  const mrlPolicy* pol = mrl_trainer_policy(tr);
  memcpy(params, mrl_trainer_params(tr), sizeof(double) * pol->nparam);
  mrl_trainer_free(tr);
}

static void check_same_bits_fit(mrlOuterAlgo algo, mrlBaselineKind baseline, int vf_shared,
                                mrlBaselineFit fit, const double* other) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = algo;
  cfg.rl.baseline = baseline;
  cfg.rl.vf_shared = vf_shared;
  cfg.rl.baseline_fit = fit;
  static double a[4096], b[4096], c[4096];
  cfg.threads = 1;
  train(&cfg, 3, a);
  cfg.threads = 2;
  train(&cfg, 3, b);
  cfg.threads = 3;  // more workers than tasks per worker divides evenly
  train(&cfg, 3, c);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, 2, 2);
  cr_assert_eq(memcmp(a, b, sizeof(double) * pol.nparam), 0, "1 and 2 threads differ");
  cr_assert_eq(memcmp(a, c, sizeof(double) * pol.nparam), 0, "1 and 3 threads differ");
  if (other) {
    cr_assert_neq(memcmp(a, other, sizeof(double) * pol.nparam), 0, "the setting changes nothing");
  }
  cfg.seed = 4;  // and the seed matters
  train(&cfg, 3, b);
  cr_assert_neq(memcmp(a, b, sizeof(double) * pol.nparam), 0);
}

static void check_same_bits(mrlOuterAlgo algo, mrlBaselineKind baseline, int vf_shared) {
  check_same_bits_fit(algo, baseline, vf_shared, MRL_FIT_BATCH, NULL);
}

Test(train, same_seed_same_bits_any_threads_reptile) {
  check_same_bits(MRL_OUTER_REPTILE, MRL_BASELINE_LINEAR, 0);
}

// the value network restarts for every task, so which worker adapted which
// task before cannot show in the bits
Test(train, same_seed_same_bits_any_threads_mlp_baseline) {
  check_same_bits(MRL_OUTER_REPTILE, MRL_BASELINE_MLP, 0);
}

// the shared value network is merged over the tasks in task order
Test(train, same_seed_same_bits_any_threads_shared_value) {
  check_same_bits(MRL_OUTER_REPTILE, MRL_BASELINE_MLP, 1);
}

// Adaptation with the trained value network differs from adaptation with the
// seeded one after a step, never before it (the value only shapes the steps).
Test(train, eval_adapts_with_the_shared_value_network) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.rl.baseline = MRL_BASELINE_MLP;
  cfg.rl.vf_shared = 1;
  char err[MRL_ERRLEN];
  mrlTrainer* tr = mrl_trainer_make(&cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  for (int i = 0; i < 3; i++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
  }
  const mrlPolicy* pol = mrl_trainer_policy(tr);
  const double* phi = mrl_trainer_params(tr);
  int ntask = 4, nstep = 2;
  double with[8], without[8];
  mrlAdaptCurve cw = {.returns = with}, co = {.returns = without};
  mrl_eval_adapt_from(&cfg, mrl_trainer_family(tr), pol, phi, mrl_trainer_value_state(tr), ntask,
                      nstep, 5, 7, &cw);
  mrl_eval_adapt_from(&cfg, mrl_trainer_family(tr), pol, phi, NULL, ntask, nstep, 5, 7, &co);
  int differ = 0;
  for (int j = 0; j < ntask; j++) {
    cr_assert_eq(with[j * nstep], without[j * nstep], "task %d before adaptation", j);
    differ |= with[j * nstep + 1] != without[j * nstep + 1];
  }
  cr_assert(differ, "the value network did not reach the adaptation");
  mrl_trainer_free(tr);
}

Test(train, same_seed_same_bits_any_threads_fomaml) {
  check_same_bits(MRL_OUTER_FOMAML, MRL_BASELINE_LINEAR, 0);
}

Test(train, same_seed_same_bits_any_threads_joint) {
  check_same_bits(MRL_OUTER_JOINT, MRL_BASELINE_LINEAR, 0);
}

// rl.baseline_fit previous keeps a fit from one step to the next; each task
// starts without one, so which worker adapted which task before cannot show
Test(train, same_seed_same_bits_any_threads_previous_fit) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_FOMAML;
  cfg.threads = 1;
  static double batch_fit[4096];
  train(&cfg, 3, batch_fit);
  check_same_bits_fit(MRL_OUTER_FOMAML, MRL_BASELINE_LINEAR, 0, MRL_FIT_PREVIOUS, batch_fit);
}

// The claim in miniature: after a short meta-training, adapting on held-out
// tasks from the learned initialization beats adapting from a random one.
Test(train, meta_learned_beats_random_on_held_out_tasks, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.threads = 2;
  char err[MRL_ERRLEN];
  static double phi[4096], random_init[4096];
  train(&cfg, cfg.outer.iterations, phi);
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  mrlRng rng;
  mrl_rng_init(&rng, 99, MRL_RNG_EVAL, 0, 0, 0);
  mrl_policy_init(&pol, &rng, random_init);
  int ntask = 20, nstep = 3;
  double meta[60], rand_ret[60];
  mrlAdaptCurve cm = {.returns = meta}, cr = {.returns = rand_ret};
  mrl_eval_adapt(&cfg, fam, &pol, phi, ntask, nstep, 10, 5, &cm);
  mrl_eval_adapt(&cfg, fam, &pol, random_init, ntask, nstep, 10, 5, &cr);
  double m_mean, m_ci, r_mean, r_ci;
  mrl_curve_stats(&cm, nstep - 1, &m_mean, &m_ci);
  mrl_curve_stats(&cr, nstep - 1, &r_mean, &r_ci);
  cr_log_info("after %d steps: meta-learned %.2f +- %.2f, random %.2f +- %.2f", nstep - 1, m_mean,
              m_ci, r_mean, r_ci);
  cr_assert(m_mean - m_ci > r_mean + r_ci, "meta %.2f +- %.2f vs random %.2f +- %.2f", m_mean, m_ci,
            r_mean, r_ci);
  mrl_family_free(fam);
}

// policy.obs_norm: the statistics are merged every iteration (count grows by
// the first batches' steps), and the result is the same bits for any threads.
Test(train, obs_norm_statistics_are_trained_and_deterministic) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.policy.obs_norm = 1;
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, 2, 2);
  static double a[4096], b[4096], c[4096];
  mrlOuterAlgo algos[2] = {MRL_OUTER_JOINT, MRL_OUTER_REPTILE};
  for (int k = 0; k < 2; k++) {
    cfg.outer.algo = algos[k];
    cfg.threads = 1;
    train(&cfg, 3, a);
    cfg.threads = 3;
    train(&cfg, 3, b);
    cr_assert_eq(memcmp(a, b, sizeof(double) * pol.nparam), 0, "1 and 3 threads differ");
    // point_nav: 8 tasks x 10 episodes of at most its horizon per iteration, 3
    // iterations (an episode that reaches the goal ends early)
    double count = a[pol.norm_off + 4], most = 3.0 * 8 * 10 * cfg.env.horizon;
    cr_assert(count > 0.5 * most && count <= most, "count %g of %g", count, most);
    for (int o = 0; o < 2; o++) {
      cr_assert(a[pol.norm_off + o] != 0.0);      // a mean was merged
      cr_assert(a[pol.norm_off + 2 + o] != 1.0);  // and a variance
      cr_assert(a[pol.norm_off + 2 + o] > 0.0);
    }
  }
  // the statistics change what the policy does: without them, other bits
  cfg.policy.obs_norm = 0;
  cfg.threads = 1;
  train(&cfg, 3, c);
  cr_assert_neq(memcmp(a, c, sizeof(double) * (pol.norm_off)), 0);
}
