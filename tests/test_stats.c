// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_stats.c: summary statistics on fixed numbers (mean, standard error,
// interquartile mean, percentile bootstrap with a fixed seed) and the
// statistics of sampled batches behind progress.csv's columns.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

Test(stats, mean_and_standard_error) {
  double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
  cr_assert_float_eq(mrl_stats_mean(x, 8), 5.0, 1e-15);
  // squared deviations sum to 32: sample variance 32/7, se = sqrt(32/7/8)
  cr_assert_float_eq(mrl_stats_sem(x, 8), sqrt(32.0 / 7 / 8), 1e-15);
  cr_assert_eq(mrl_stats_sem(x, 1), 0.0);
}

Test(stats, interquartile_mean) {
  double x[] = {100, 1, 7, 3, 5, 2, 6, 4};  // sorted: 1..7, 100; floor(8/4) = 2 cut per side
  cr_assert_float_eq(mrl_stats_iqm(x, 8), 4.5, 1e-15);
  double y[] = {-50, 10, 11, 12, 13, 14, 15, 16, 17, 1000};  // n = 10: cut 2 -> 11..16
  cr_assert_float_eq(mrl_stats_iqm(y, 10), 13.5, 1e-15);
  double z[] = {1, 2, 9};  // n < 4: nothing cut
  cr_assert_float_eq(mrl_stats_iqm(z, 3), 4.0, 1e-15);
  cr_assert_eq(x[0], 100.0, "the input is left unsorted");
}

Test(stats, bootstrap_interval_fixed_seed) {
  double x[40];
  for (int i = 0; i < 40; i++) x[i] = i + 1;  // mean 20.5, population sd sqrt(1599/12)
  double lo, hi, lo2, hi2, lo3, hi3;
  mrl_stats_bootstrap_ci(x, 40, 10000, 0.95, 7, &lo, &hi);
  mrl_stats_bootstrap_ci(x, 40, 10000, 0.95, 7, &lo2, &hi2);
  mrl_stats_bootstrap_ci(x, 40, 10000, 0.95, 8, &lo3, &hi3);
  cr_assert(lo == lo2 && hi == hi2, "same seed, same interval");
  cr_assert(lo != lo3 || hi != hi3, "another seed, another interval");
  // the bootstrap standard error of the mean is sd/sqrt(n) = 1.825: the
  // interval is close to 20.5 -+ 1.96 * 1.825 = [16.92, 24.08]
  double half = 1.96 * sqrt(1599.0 / 12) / sqrt(40.0);
  cr_log_info("bootstrap [%.3f, %.3f], normal [%.3f, %.3f]", lo, hi, 20.5 - half, 20.5 + half);
  cr_assert(fabs(lo - (20.5 - half)) < 0.25, "lo %.3f", lo);
  cr_assert(fabs(hi - (20.5 + half)) < 0.25, "hi %.3f", hi);
  // a wider level gives a wider interval
  double lo99, hi99;
  mrl_stats_bootstrap_ci(x, 40, 10000, 0.99, 7, &lo99, &hi99);
  cr_assert(lo99 < lo && hi99 > hi);
  // no spread, no interval
  double c[5] = {3, 3, 3, 3, 3};
  mrl_stats_bootstrap_ci(c, 5, 1000, 0.95, 1, &lo, &hi);
  cr_assert(lo == 3 && hi == 3);
}

Test(stats, summarize_collects_everything) {
  double x[] = {-10, -12, -9, -30, -11, -10.5};
  mrlSummary s;
  mrl_stats_summarize(x, 6, 3, &s);
  cr_assert_eq(s.n, 6);
  cr_assert_float_eq(s.mean, mrl_stats_mean(x, 6), 0);
  cr_assert_float_eq(s.sem, mrl_stats_sem(x, 6), 0);
  // sorted -30, -12, -11, -10.5, -10, -9: floor(6/4) = 1 cut per side
  cr_assert_float_eq(s.iqm, (-12 - 11 - 10.5 - 10) / 4.0, 1e-12);
  cr_assert(s.ci_low < s.mean && s.mean < s.ci_high);
  double lo, hi;
  mrl_stats_bootstrap_ci(x, 6, MRL_BOOTSTRAP_RESAMPLES, 0.95, 3, &lo, &hi);
  cr_assert(lo == s.ci_low && hi == s.ci_high);
}

// Two episodes of a 1-D policy, horizon 3: the first runs 3 steps, the
// second ends after 2.
Test(stats, batch_statistics) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 1;
  cfg.policy.hidden[0] = 2;
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, 1, 1);
  double* params = mrl_alloc(sizeof(double) * pol.nparam);
  params[pol.logstd_off] = -0.5;
  mrlBatch* b = mrl_batch_make(2, 3, 1, 1);
  double rew[6] = {1, 2, 3, 4, 5, 0};  // (t, env): episode 0 gets 1, 3, 5; episode 1 gets 2, 4
  memcpy(b->rew, rew, sizeof(rew));
  b->len[0] = 3;
  b->len[1] = 2;
  b->ep_return[0] = 9;
  b->ep_return[1] = 6;
  // returns-to-go and an imperfect baseline on the valid rows
  double ret[6] = {4, 3, 2, 1, 1, 0}, base[6] = {3, 3, 2, 2, 1, 0};
  memcpy(b->ret, ret, sizeof(ret));
  memcpy(b->baseline, base, sizeof(base));
  mrlBatchStats s;
  mrl_batch_stats(&pol, params, b, 0.5, 1, &s);
  cr_assert_eq(s.ntraj, 2);
  cr_assert_float_eq(s.sum_return, 15, 1e-12);
  cr_assert_float_eq(s.sumsq_return, 81 + 36, 1e-12);
  cr_assert_eq(s.max_return, 9.0);
  cr_assert_eq(s.min_return, 6.0);
  // discounted: 1 + 0.5*3 + 0.25*5 = 3.75 and 2 + 0.5*4 = 4
  cr_assert_float_eq(s.sum_disc_return, 7.75, 1e-12);
  cr_assert_float_eq(s.entropy, -0.5 + 0.5 * log(2 * M_PI * M_E), 1e-12);
  // valid rows: ret {4, 3, 2, 1, 1}, error {1, 0, 0, -1, 0}
  double var_ret = (16 + 9 + 4 + 1 + 1) / 5.0 - (11 / 5.0) * (11 / 5.0);
  double var_err = 2 / 5.0;
  cr_assert_float_eq(s.explained_variance, 1 - var_err / var_ret, 1e-12);
  mrl_batch_stats(&pol, params, b, 0.5, 0, &s);
  cr_assert(isnan(s.explained_variance));

  // pooled over two tasks in task order
  mrlBatchStats two[2];
  mrl_batch_stats(&pol, params, b, 0.5, 1, &two[0]);
  b->ep_return[0] = -3;
  b->ep_return[1] = 1;
  mrl_batch_stats(&pol, params, b, 0.5, 0, &two[1]);
  mrlReturnStats r;
  mrl_return_stats_pool(two, 2, 1, &r);
  cr_assert_eq(r.ntraj, 4.0);
  cr_assert_float_eq(r.average, (9 + 6 - 3 + 1) / 4.0, 1e-12);
  double m = 13 / 4.0;
  cr_assert_float_eq(r.std, sqrt((81 + 36 + 9 + 1) / 4.0 - m * m), 1e-12);
  cr_assert_eq(r.max, 9.0);
  cr_assert_eq(r.min, -3.0);
  cr_assert_float_eq(r.average_discounted, 7.75 * 2 / 4, 1e-12);
  cr_assert_float_eq(r.explained_variance, two[0].explained_variance, 1e-15, "NaN is skipped");
  mrl_batch_free(b);
  free(params);
}
