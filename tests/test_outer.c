// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_outer.c: the outer loops against each other on the same episodes
// (Reptile with k = 1 and SGD is a joint-training step; combo keeping only the
// last gradient is FOMAML), bit-identical results for 1 and 2 threads, and
// every algorithm (and the ppo inner step) beating a random initialization on
// held-out point_nav tasks after a short meta-training.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

static void small_config(mrlConfig* cfg) {
  mrl_config_default(cfg);
  snprintf(cfg->env.name, sizeof(cfg->env.name), "point_nav");
  cfg->seed = 3;
  cfg->threads = 1;
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

static int nparam_of(const mrlConfig* cfg) {
  char err[MRL_ERRLEN];
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrlPolicy pol;
  mrl_policy_setup(&pol, cfg, fam->nobs, fam->nact);
  mrl_family_free(fam);
  return pol.nparam;
}

static void train(const mrlConfig* cfg, int iterations, double* params) {
  char err[MRL_ERRLEN];
  cr_assert_eq(mrl_config_check(cfg, err, sizeof(err)), 0, "%s", err);
  mrlTrainer* tr = mrl_trainer_make(cfg, err, sizeof(err));
  cr_assert_not_null(tr, "%s", err);
  for (int i = 0; i < iterations; i++) {
    mrlProgress row;
    cr_assert_eq(mrl_trainer_iterate(tr, &row, err, sizeof(err)), 0, "%s", err);
    cr_assert(isfinite(row.return_pre) && isfinite(row.return_post));
  }
  memcpy(params, mrl_trainer_params(tr), sizeof(double) * mrl_trainer_policy(tr)->nparam);
  mrl_trainer_free(tr);
}

static double max_abs_diff(const double* a, const double* b, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

static double max_abs(const double* a, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
  return m;
}

// phi + eps (theta_1 - phi) = phi - eps lr g(phi): an SGD step of size eps lr
// on the gradient at phi of the same first batch, which is joint training.
Test(outer, reptile_k1_sgd_equals_joint_step) {
  openblas_set_num_threads(1);
  static double init[8192], rep[8192], joint[8192];
  mrlConfig cfg;
  small_config(&cfg);
  int n = nparam_of(&cfg);
  cfg.inner.steps = 1;
  cfg.inner.optim = MRL_OPT_SGD;
  cfg.outer.algo = MRL_OUTER_REPTILE;
  cfg.outer.eps_start = cfg.outer.eps_end = 0.5;
  train(&cfg, 0, init);
  train(&cfg, 1, rep);
  cfg.outer.algo = MRL_OUTER_JOINT;
  cfg.outer.optim = MRL_OPT_SGD;
  cfg.outer.lr = 0.5 * cfg.inner.lr;
  train(&cfg, 1, joint);
  double moved = max_abs_diff(rep, init, n), diff = max_abs_diff(rep, joint, n);
  cr_log_info("reptile moved phi by %.3g; reptile - joint: %.3g", moved, diff);
  cr_assert(moved > 1e-4, "the step must be visible (moved %g)", moved);
  cr_assert(diff < 1e-12 * fmax(1, max_abs(rep, n)), "reptile and joint differ by %g", diff);
  // and a different outer step size is visibly different: the test can fail
  cfg.outer.lr *= 1.01;
  train(&cfg, 1, joint);
  cr_assert(max_abs_diff(rep, joint, n) > 1e-8);
}

// Combo's gradient with weights (0, ..., 0, 1) is the query gradient at
// theta_k: FOMAML's, from the same episodes, to the bit.
Test(outer, combo_last_equals_fomaml) {
  openblas_set_num_threads(1);
  static double fo[8192], co[8192], sum[8192];
  mrlConfig cfg;
  small_config(&cfg);
  int n = nparam_of(&cfg);
  cfg.outer.optim = MRL_OPT_SGD;
  cfg.outer.lr = 0.05;
  cfg.outer.algo = MRL_OUTER_FOMAML;
  train(&cfg, 2, fo);
  cfg.outer.algo = MRL_OUTER_COMBO;
  cfg.outer.combo = MRL_COMBO_LAST;
  train(&cfg, 2, co);
  cr_assert_eq(memcmp(fo, co, sizeof(double) * n), 0, "combo last and fomaml differ by %g",
               max_abs_diff(fo, co, n));
  cfg.outer.combo = MRL_COMBO_SUM;
  train(&cfg, 2, sum);
  cr_assert(max_abs_diff(fo, sum, n) > 1e-6, "the sum of the gradients must differ from g_k");
}

// combo sum with SGD everywhere: sum_s g_s over k + 1 gradients equals
// (phi - theta_{k+1}) / lr, Reptile with k + 1 steps fed as a gradient.
Test(outer, combo_sum_equals_reptile_as_gradient) {
  openblas_set_num_threads(1);
  static double co[8192], rep[8192];
  mrlConfig cfg;
  small_config(&cfg);
  int n = nparam_of(&cfg);
  cfg.outer.optim = MRL_OPT_SGD;
  cfg.outer.lr = 0.02;
  cfg.outer.algo = MRL_OUTER_COMBO;
  cfg.outer.combo = MRL_COMBO_SUM;
  cfg.inner.steps = 1;
  train(&cfg, 1, co);
  cfg.outer.algo = MRL_OUTER_REPTILE;
  cfg.outer.reptile_as_gradient = 1;
  cfg.outer.lr = 0.02 / cfg.inner.lr;
  cfg.inner.steps = 2;
  train(&cfg, 1, rep);
  double diff = max_abs_diff(co, rep, n);
  cr_assert(diff < 1e-10 * fmax(1, max_abs(co, n)), "combo sum and reptile differ by %g", diff);
}

// outer.worst_fraction 0.5: Reptile's step is the mean of theta_k - phi over
// the 4 of 8 tasks whose query batch returned least, to the bit. Each task is
// adapted again here, outside the trainer, on the same streams.
Test(outer, worst_fraction_steps_on_the_worst_tasks) {
  openblas_set_num_threads(1);
  static double init[8192], chosen_step[8192], every_step[8192], want[8192], sum[8192];
  static double thetas[8][8192];
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.eps_start = cfg.outer.eps_end = 0.7;
  cfg.outer.worst_fraction = 0.5;
  int n = nparam_of(&cfg), m = cfg.outer.meta_batch, k = cfg.inner.steps;
  train(&cfg, 0, init);
  train(&cfg, 1, chosen_step);
  char err[MRL_ERRLEN];
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  double last[8], returns[8], task[2];
  for (int j = 0; j < m; j++) {
    mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, cfg.inner.episodes);
    mrl_task_sample(fam, &cfg, 0, 0, j, task);
    mrl_inner_adapt(&cfg, ln, task, init, k, cfg.seed, 0, j, 0, returns);
    last[j] = returns[k];
    memcpy(thetas[j], ln->theta, sizeof(double) * n);
    mrl_learner_free(ln);
  }
  memset(sum, 0, sizeof(double) * n);
  int nchosen = 0, first_half = 0;
  for (int j = 0; j < m; j++) {
    int below = 0;
    for (int i = 0; i < m; i++) below += last[i] < last[j];
    if (below >= m / 2) continue;
    nchosen++;
    first_half += j < m / 2;
    for (int i = 0; i < n; i++) sum[i] += thetas[j][i] - init[i];
  }
  cr_assert_eq(nchosen, m / 2, "ties among the returns: pick another seed");
  cr_assert(first_half < m / 2, "the worst tasks are the first ones: the test could not fail");
  for (int i = 0; i < n; i++) want[i] = init[i] + 0.7 * (sum[i] / nchosen);
  cr_assert_eq(memcmp(want, chosen_step, sizeof(double) * n), 0, "%g apart",
               max_abs_diff(want, chosen_step, n));
  cfg.outer.worst_fraction = 1;  // every task: another step
  train(&cfg, 1, every_step);
  cr_assert(max_abs_diff(every_step, chosen_step, n) > 1e-6);
  mrl_family_free(fam);
}

static void check_same_bits(mrlConfig* cfg) {
  openblas_set_num_threads(1);
  static double a[8192], b[8192];
  int n = nparam_of(cfg);
  cfg->threads = 1;
  train(cfg, 3, a);
  cfg->threads = 2;
  train(cfg, 3, b);
  cr_assert_eq(memcmp(a, b, sizeof(double) * n), 0, "1 and 2 threads differ by %g",
               max_abs_diff(a, b, n));
}

Test(outer, same_bits_any_threads_maml) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_MAML;
  check_same_bits(&cfg);
}

Test(outer, same_bits_any_threads_combo) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_COMBO;
  cfg.outer.combo = MRL_COMBO_MEAN;
  check_same_bits(&cfg);
}

Test(outer, same_bits_any_threads_ppo) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.inner.step = MRL_INNER_PPO;
  cfg.inner.optim = MRL_OPT_ADAM;
  cfg.inner.lr = 0.01;
  cfg.inner.ppo_minibatches = 4;
  check_same_bits(&cfg);
}

// joint training with PPO: the epochs over the pooled batches run after the
// tasks, in task order
Test(outer, same_bits_any_threads_joint_ppo) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_JOINT;
  cfg.outer.optim = MRL_OPT_ADAM;
  cfg.outer.lr = 0.01;
  cfg.inner.step = MRL_INNER_PPO;
  cfg.inner.ppo_minibatches = 4;
  check_same_bits(&cfg);
}

// and with outer.worst_fraction (the chosen tasks' surrogate, every task's
// KL): the same bits on any threads, and not the step over every task
Test(outer, same_bits_any_threads_trpo) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_MAML;
  cfg.outer.optim = MRL_OPT_TRPO;
  check_same_bits(&cfg);
  cfg.outer.worst_fraction = 0.25;
  check_same_bits(&cfg);
  static double some[8192], every[8192];
  int n = nparam_of(&cfg);
  train(&cfg, 1, some);
  cfg.outer.worst_fraction = 1;
  train(&cfg, 1, every);
  cr_assert(max_abs_diff(some, every, n) > 1e-6);
  // ProMP's score-function term in every product: per-worker scratch, same bits
  cfg.outer.hvp_lvc = 1;
  check_same_bits(&cfg);
  train(&cfg, 1, some);
  cr_assert(max_abs_diff(some, every, n) > 1e-6, "outer.hvp_lvc changed nothing");
}

Test(outer, same_bits_any_threads_reptile_as_gradient) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.reptile_as_gradient = 1;
  cfg.outer.lr = 0.01;
  check_same_bits(&cfg);
}

// Short meta-training, then adaptation on 20 held-out tasks from the learned
// and from a random initialization (same tasks, same noise): the learned one
// must be better after 2 steps by more than both confidence half-widths.
static void beats_random(mrlConfig* cfg, int iterations) {
  openblas_set_num_threads(1);
  cfg->threads = 2;
  char err[MRL_ERRLEN];
  static double phi[8192], random_init[8192];
  train(cfg, iterations, phi);
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof(err));
  cr_assert_not_null(fam);
  mrlPolicy pol;
  mrl_policy_setup(&pol, cfg, fam->nobs, fam->nact);
  mrlRng rng;
  mrl_rng_init(&rng, 99, MRL_RNG_EVAL, 0, 0, 0);
  mrl_policy_init(&pol, &rng, random_init);
  int ntask = 20, nstep = 3;
  double meta[60], rand_ret[60];
  mrlAdaptCurve cm = {.returns = meta}, cr = {.returns = rand_ret};
  mrl_eval_adapt(cfg, fam, &pol, phi, ntask, nstep, 10, 5, &cm);
  mrl_eval_adapt(cfg, fam, &pol, random_init, ntask, nstep, 10, 5, &cr);
  double m_mean, m_ci, r_mean, r_ci;
  mrl_curve_stats(&cm, nstep - 1, &m_mean, &m_ci);
  mrl_curve_stats(&cr, nstep - 1, &r_mean, &r_ci);
  cr_log_info("after %d steps: learned %.2f +- %.2f, random %.2f +- %.2f", nstep - 1, m_mean, m_ci,
              r_mean, r_ci);
  cr_assert(m_mean - m_ci > r_mean + r_ci, "learned %.2f +- %.2f vs random %.2f +- %.2f", m_mean,
            m_ci, r_mean, r_ci);
  mrl_family_free(fam);
}

Test(outer, fomaml_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_FOMAML;
  cfg.outer.lr = 0.01;
  beats_random(&cfg, 30);
}

Test(outer, maml_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_MAML;
  cfg.outer.lr = 0.01;
  beats_random(&cfg, 30);
}

Test(outer, maml_trpo_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_MAML;
  cfg.outer.optim = MRL_OPT_TRPO;
  cfg.outer.max_kl = 0.05;
  beats_random(&cfg, 30);
}

Test(outer, joint_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_JOINT;
  cfg.outer.lr = 0.01;
  beats_random(&cfg, 30);
}

Test(outer, joint_ppo_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_JOINT;
  cfg.outer.optim = MRL_OPT_ADAM;
  cfg.outer.lr = 0.003;
  cfg.inner.step = MRL_INNER_PPO;  // the eval adapts with it too
  cfg.inner.optim = MRL_OPT_SGD;
  cfg.inner.lr = 0.1;
  cfg.inner.ppo_epochs = 3;
  cfg.inner.ppo_minibatches = 4;
  beats_random(&cfg, 30);
}

Test(outer, combo_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.algo = MRL_OUTER_COMBO;
  cfg.outer.combo = MRL_COMBO_SUM;
  cfg.outer.lr = 0.01;
  beats_random(&cfg, 30);
}

Test(outer, reptile_as_gradient_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.outer.reptile_as_gradient = 1;
  cfg.outer.lr = 0.01;
  beats_random(&cfg, 30);
}

Test(outer, reptile_over_ppo_beats_random, .timeout = 300) {
  mrlConfig cfg;
  small_config(&cfg);
  cfg.inner.step = MRL_INNER_PPO;
  cfg.inner.optim = MRL_OPT_SGD;
  cfg.inner.lr = 0.1;
  cfg.inner.ppo_epochs = 3;
  cfg.inner.ppo_minibatches = 2;
  beats_random(&cfg, 30);
}

// small_config with 3-epoch PPO inner steps of the given optimizer, step,
// minibatches and entropy bonus; its family (the caller frees it) and policy.
static mrlFamily* ppo_setup(mrlConfig* cfg, mrlOptimKind optim, double lr, int minibatches,
                            double entropy_coef, mrlPolicy* pol) {
  small_config(cfg);
  cfg->inner.step = MRL_INNER_PPO;
  cfg->inner.optim = optim;
  cfg->inner.lr = lr;
  cfg->inner.ppo_epochs = 3;
  cfg->inner.ppo_minibatches = minibatches;
  cfg->rl.entropy_coef = entropy_coef;
  char err[MRL_ERRLEN];
  mrlFamily* fam = mrl_family_make(cfg, err, sizeof(err));
  cr_assert_not_null(fam, "%s", err);
  mrl_policy_setup(pol, cfg, fam->nobs, fam->nact);
  return fam;
}

// PPO's clipped surrogate carries the entropy bonus: with every advantage 0
// the bonus is the whole gradient, so each of the epochs x minibatches SGD
// steps raises every log-std by lr c and nothing else moves.
Test(outer, ppo_step_with_entropy_bonus_alone_raises_the_log_std) {
  mrlConfig cfg;
  mrlPolicy pol;
  mrlFamily* fam = ppo_setup(&cfg, MRL_OPT_SGD, 0.1, 2, 0.2, &pol);
  int n = pol.nparam;
  double phi[4096], task[2];
  cr_assert(n <= 4096);
  mrlRng rng;
  mrl_rng_init(&rng, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, phi);
  mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, cfg.inner.episodes);
  mrl_task_sample(fam, &cfg, 0, 0, 0, task);
  fam->set_task(ln->env, task);
  mrl_sample(fam, ln->env, &pol, phi, ln->work, ln->batch, 1, 0, 0);
  memset(ln->batch->adv, 0, sizeof(double) * ln->batch->nenv * ln->batch->horizon);
  memcpy(ln->theta, phi, sizeof(double) * n);
  mrl_optim_reset(&ln->optim);
  mrl_ppo_step(&cfg, ln, cfg.inner.lr, 1, 0, 0);
  double rise =
      cfg.inner.lr * cfg.rl.entropy_coef * cfg.inner.ppo_epochs * cfg.inner.ppo_minibatches;
  for (int i = 0; i < n; i++) {
    int logstd = i >= pol.logstd_off && i < pol.logstd_off + fam->nact;
    double want = phi[i] + (logstd ? rise : 0);
    cr_assert(fabs(ln->theta[i] - want) < 1e-12, "param %d: %g, want %g", i, ln->theta[i], want);
  }
  mrl_learner_free(ln);
  mrl_family_free(fam);
}

// The pooled PPO step is the PPO step over the union of the batches: on one
// batch without shuffling (one minibatch) it gives mrl_ppo_step's bits; on a
// batch and its copy, the same step up to rounding (each row counted twice,
// the mean unchanged); on two different batches something else.
Test(outer, pooled_ppo_step_is_the_step_over_the_union) {
  mrlConfig cfg;
  mrlPolicy pol;
  mrlFamily* fam = ppo_setup(&cfg, MRL_OPT_ADAM, 0.01, 1, 0, &pol);
  int n = pol.nparam;
  static double phi[4096], single[4096], pooled[4096], other[4096];
  double task[2];
  mrlRng rng;
  mrl_rng_init(&rng, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, phi);
  mrlLearner* ln = mrl_learner_make(&cfg, fam, &pol, cfg.inner.episodes);
  mrlBatch* second = mrl_batch_make(cfg.inner.episodes, fam->horizon, fam->nobs, fam->nact);
  for (int t = 0; t < 2; t++) {  // the learner's batch holds task 0's, second task 1's
    mrl_task_sample(fam, &cfg, 0, 0, t, task);
    fam->set_task(ln->env, task);
    mrlBatch* b = t == 0 ? ln->batch : second;
    mrl_sample(fam, ln->env, &pol, phi, ln->work, b, 1, 0, t);
    mrl_advantages(&cfg, ln->baseline, b);
  }
  memcpy(ln->theta, phi, sizeof(double) * n);
  mrl_optim_reset(&ln->optim);
  mrl_ppo_step(&cfg, ln, cfg.inner.lr, 1, 0, 0);
  memcpy(single, ln->theta, sizeof(double) * n);
  int rows = cfg.inner.episodes * fam->horizon;
  mrlPpoPool* pp = mrl_ppo_pool_make(&pol, 2, rows);
  mrlOptim opt;
  mrl_optim_init(&opt, MRL_OPT_ADAM, n, cfg.inner.lr);
  mrlBatch* one[2] = {ln->batch, ln->batch};
  memcpy(pooled, phi, sizeof(double) * n);
  mrl_ppo_pooled_step(&cfg, &pol, pp, one, 1, pooled, &opt, cfg.inner.lr, 1, 0);
  cr_assert_eq(memcmp(single, pooled, sizeof(double) * n), 0, "one batch: %g apart",
               max_abs_diff(single, pooled, n));
  mrl_optim_reset(&opt);
  memcpy(pooled, phi, sizeof(double) * n);
  mrl_ppo_pooled_step(&cfg, &pol, pp, one, 2, pooled, &opt, cfg.inner.lr, 1, 0);
  cr_assert(max_abs_diff(single, pooled, n) < 1e-9, "a batch and its copy: %g apart",
            max_abs_diff(single, pooled, n));
  mrlBatch* two[2] = {ln->batch, second};
  mrl_optim_reset(&opt);
  memcpy(other, phi, sizeof(double) * n);
  mrl_ppo_pooled_step(&cfg, &pol, pp, two, 2, other, &opt, cfg.inner.lr, 1, 0);
  cr_assert(max_abs_diff(single, other, n) > 1e-6, "two tasks gave one task's step");
  mrl_optim_free(&opt);
  mrl_ppo_pool_free(pp);
  mrl_batch_free(second);
  mrl_learner_free(ln);
  mrl_family_free(fam);
}
