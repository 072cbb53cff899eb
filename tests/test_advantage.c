// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_advantage.c: returns, the linear feature baseline and GAE.

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metarl.h"

#define EPS 1e-12

// One episode of three steps, worked by hand:
//   rewards 1, 2, 3; values 0.5, 1.0, 1.5; gamma 0.9, lambda 0.8.
//   returns: R2 = 3, R1 = 2 + 0.9 * 3 = 4.7, R0 = 1 + 0.9 * 4.7 = 5.23
//   deltas:  d2 = 3 - 1.5 = 1.5, d1 = 2 + 0.9 * 1.5 - 1 = 2.35,
//            d0 = 1 + 0.9 * 1 - 0.5 = 1.4
//   GAE:     A2 = 1.5, A1 = 2.35 + 0.72 * 1.5 = 3.43, A0 = 1.4 + 0.72 * 3.43 = 3.8696
Test(advantage, hand_computed_trajectory) {
  mrlBatch* b = mrl_batch_make(1, 3, 1, 1);
  double rew[3] = {1, 2, 3}, val[3] = {0.5, 1.0, 1.5};
  memcpy(b->rew, rew, sizeof(rew));
  memcpy(b->baseline, val, sizeof(val));
  b->len[0] = 3;
  for (int t = 0; t < 3; t++) b->valid[t] = 1;
  mrl_returns(b, 0.9);
  cr_assert(fabs(b->ret[0] - 5.23) < EPS && fabs(b->ret[1] - 4.7) < EPS && b->ret[2] == 3);
  mrl_gae(b, 0.9, 0.8, 0);
  cr_assert(fabs(b->adv[2] - 1.5) < EPS, "%g", b->adv[2]);
  cr_assert(fabs(b->adv[1] - 3.43) < EPS, "%g", b->adv[1]);
  cr_assert(fabs(b->adv[0] - 3.8696) < EPS, "%g", b->adv[0]);
  mrl_batch_free(b);
}

// Two episodes in the time-major layout, the second ending after one step:
// its later rows must stay out of returns and advantages.
Test(advantage, terminated_episode_is_masked) {
  mrlBatch* b = mrl_batch_make(2, 3, 1, 1);
  // row (t, i) = t * 2 + i
  double rew[6] = {1, 10, 1, 99, 1, 99};
  memcpy(b->rew, rew, sizeof(rew));
  b->len[0] = 3;
  b->len[1] = 1;
  mrl_returns(b, 1.0);
  cr_assert_eq(b->ret[0], 3);
  cr_assert_eq(b->ret[1], 10);
  cr_assert_eq(b->ret[3], 0);
  cr_assert_eq(b->ret[5], 0);
  mrl_gae(b, 1.0, 1.0, 0);  // zero baseline: advantages are the returns
  cr_assert_eq(b->adv[1], 10);
  cr_assert_eq(b->adv[3], 0);
  cr_assert_eq(b->adv[5], 0);
  mrl_batch_free(b);
}

Test(advantage, normalization) {
  mrlBatch* b = mrl_batch_make(3, 4, 1, 1);
  for (int r = 0; r < 12; r++) b->rew[r] = (r * 7) % 5 - 1.5;
  for (int i = 0; i < 3; i++) b->len[i] = 4;
  b->len[2] = 2;
  mrl_gae(b, 0.99, 0.95, 1);
  double s = 0, ss = 0;
  int n = 0;
  for (int t = 0; t < 4; t++) {
    for (int i = 0; i < 3; i++) {
      if (t >= b->len[i]) {
        cr_assert_eq(b->adv[t * 3 + i], 0);
        continue;
      }
      s += b->adv[t * 3 + i];
      ss += b->adv[t * 3 + i] * b->adv[t * 3 + i];
      n++;
    }
  }
  cr_assert_eq(n, 10);
  cr_assert(fabs(s / n) < 1e-12);
  cr_assert(fabs(ss / n - 1) < 1e-6);
  mrl_batch_free(b);
}

// Returns that are exactly a linear function of the features are fitted
// (up to the 1e-5 ridge term); the time features follow t / 100.
Test(advantage, baseline_recovers_linear_returns) {
  int nenv = 6, T = 30, nobs = 2;
  mrlBatch* b = mrl_batch_make(nenv, T, nobs, 1);
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  mrlRng rng;
  mrl_rng_init(&rng, 4, MRL_RNG_EVAL, 0, 0, 0);
  double coef[8] = {0.5, -1.0, 0.25, 0.75, 2.0, -3.0, 1.5, 0.3};  // o, o^2, t, t^2, t^3, 1
  for (int i = 0; i < nenv; i++) b->len[i] = i == 5 ? 20 : T;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      double* o = b->obs + r * nobs;
      double s = t / 100.0;
      o[0] = mrl_rng_normal(&rng);
      o[1] = 12 * mrl_rng_uniform(&rng) - 6;
      b->ret[r] = coef[0] * o[0] + coef[1] * o[1] + coef[2] * o[0] * o[0] + coef[3] * o[1] * o[1] +
                  coef[4] * s + coef[5] * s * s + coef[6] * s * s * s + coef[7];
    }
  }
  cr_assert_eq(mrl_baseline_fit_predict(bl, b), 0);
  double worst = 0;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      if (t >= b->len[i]) {
        cr_assert_eq(b->baseline[r], 0);
        continue;
      }
      worst = fmax(worst, fabs(b->baseline[r] - b->ret[r]));
    }
  }
  cr_assert(worst < 1e-3, "worst residual %g", worst);
  // the observation terms are well conditioned; t, t^2 and t^3 over t < 0.3
  // are nearly collinear, so the ridge term moves their coefficients a little
  for (int k = 0; k < 4; k++) {
    cr_assert(fabs(bl->coef[k] - coef[k]) < 1e-4, "coef %d: %g vs %g", k, bl->coef[k], coef[k]);
  }
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

// Observations beyond +-10 are clipped before they become features.
Test(advantage, baseline_clips_observations) {
  mrlBatch* b = mrl_batch_make(1, 2, 1, 1);
  mrlBaseline* bl = mrl_baseline_make(1, 2);
  b->len[0] = 2;
  b->obs[0] = 1e300;
  b->obs[1] = -1e300;
  b->ret[0] = 1;
  b->ret[1] = 2;
  cr_assert_eq(mrl_baseline_fit_predict(bl, b), 0);
  cr_assert(isfinite(b->baseline[0]) && isfinite(b->baseline[1]));
  cr_assert(fabs(bl->feat[0] - 10) < EPS && fabs(bl->feat[6] + 10) < EPS);
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

// A batch of nenv episodes of T steps with random observations and rewards
// (some episodes cut short), seeded by key.
static mrlBatch* random_batch(int nenv, int T, int nobs, uint64_t key) {
  mrlBatch* b = mrl_batch_make(nenv, T, nobs, 1);
  mrlRng rng;
  mrl_rng_init(&rng, 7, MRL_RNG_EVAL, key, 0, 0);
  for (int i = 0; i < nenv; i++) b->len[i] = i % 3 == 2 ? T / 2 : T;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      for (int k = 0; k < nobs; k++) b->obs[r * nobs + k] = 2 * mrl_rng_normal(&rng);
      b->rew[r] = b->obs[r * nobs] + 0.5 * mrl_rng_normal(&rng);
      b->valid[r] = t < b->len[i];
    }
  }
  return b;
}

// rl.baseline_fit previous: the first batch after a forget gets no baseline,
// the next one the coefficients fitted on the first (not its own fit), and a
// forget starts over.
Test(advantage, previous_fit_predicts_with_the_last_batch) {
  int nenv = 6, T = 40, nobs = 3, nf = 2 * nobs + 4;
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.baseline_fit = MRL_FIT_PREVIOUS;
  cfg.rl.gae_lambda = 0.97;
  mrlBatch* a = random_batch(nenv, T, nobs, 1);
  mrlBatch* b = random_batch(nenv, T, nobs, 2);
  mrlBatch* ref = random_batch(nenv, T, nobs, 1);
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  mrlBaseline* own = mrl_baseline_make(nobs, nenv * T);
  size_t rows = (size_t)nenv * T;

  mrl_baseline_forget(bl);
  cr_assert_eq(mrl_advantages(&cfg, bl, a), 0);
  mrl_returns(ref, cfg.rl.gamma);  // the same batch with a zero baseline
  memset(ref->baseline, 0, sizeof(double) * rows);
  mrl_gae(ref, cfg.rl.gamma, cfg.rl.gae_lambda, 1);
  for (size_t r = 0; r < rows; r++) {
    cr_assert_eq(a->baseline[r], 0);
    cr_assert_eq(a->adv[r], ref->adv[r], "row %zu", r);
  }

  cr_assert_eq(mrl_baseline_fit_predict(own, a), 0);  // a's coefficients
  double coef_a[16];
  memcpy(coef_a, own->coef, sizeof(double) * nf);
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  double worst = 0, own_gap = 0;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      if (t >= b->len[i]) continue;
      const double* o = b->obs + r * nobs;
      double s = t / 100.0, v = coef_a[2 * nobs] * s + coef_a[2 * nobs + 1] * s * s +
                                coef_a[2 * nobs + 2] * s * s * s + coef_a[2 * nobs + 3];
      for (int k = 0; k < nobs; k++) v += coef_a[k] * o[k] + coef_a[nobs + k] * o[k] * o[k];
      worst = fmax(worst, fabs(b->baseline[r] - v) / (1 + fabs(v)));
    }
  }
  cr_assert(worst < 1e-12, "b's baseline is not a's fit: %g", worst);
  double keep[6 * 40];
  memcpy(keep, b->baseline, sizeof(double) * rows);
  cr_assert_eq(mrl_baseline_fit_predict(own, b), 0);  // b's own fit differs
  for (size_t r = 0; r < rows; r++) own_gap = fmax(own_gap, fabs(keep[r] - b->baseline[r]));
  cr_assert(own_gap > 1e-3, "b's own fit is a's: the check above cannot fail");

  mrl_baseline_forget(bl);
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  for (size_t r = 0; r < rows; r++) cr_assert_eq(b->baseline[r], 0);
  mrl_baseline_free(own);
  mrl_baseline_free(bl);
  mrl_batch_free(ref);
  mrl_batch_free(b);
  mrl_batch_free(a);
}

// rl.baseline_fit cross: an episode's baseline comes from the other half's
// fit, so changing the rewards of the even episodes leaves their own baseline
// alone and moves the odd ones'; returns linear in the features are still
// recovered.
Test(advantage, crossfit_never_fits_an_episode_on_itself) {
  int nenv = 8, T = 40, nobs = 3;
  size_t rows = (size_t)nenv * T;
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.baseline_fit = MRL_FIT_CROSS;
  mrlBatch* a = random_batch(nenv, T, nobs, 3);
  mrlBatch* b = random_batch(nenv, T, nobs, 3);
  for (size_t r = 0; r < rows; r++) {
    if (r % nenv % 2 == 0) b->rew[r] += 5 * sin((double)r);  // the even episodes only
  }
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  cr_assert_eq(mrl_advantages(&cfg, bl, a), 0);
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  double even_moved = 0, odd_moved = 0;
  for (size_t r = 0; r < rows; r++) {
    double d = fabs(a->baseline[r] - b->baseline[r]);
    if (r % nenv % 2 == 0) even_moved = fmax(even_moved, d);
    else odd_moved = fmax(odd_moved, d);
  }
  cr_assert_eq(even_moved, 0, "an even episode's baseline saw its own rewards: %g", even_moved);
  cr_assert(odd_moved > 1e-3, "the odd episodes' baseline ignores the even ones: %g", odd_moved);

  for (int t = 0; t < T; t++) {  // returns linear in the features
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      const double* o = a->obs + r * nobs;
      a->ret[r] = 1.5 * o[0] - o[1] + 0.5 * o[2] * o[2] + 2 * t / 100.0 + 0.25;
    }
  }
  cr_assert_eq(mrl_baseline_crossfit_predict(bl, a), 0);
  double worst = 0;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      if (t < a->len[i]) worst = fmax(worst, fabs(a->baseline[r] - a->ret[r]));
      else cr_assert_eq(a->baseline[r], 0);
    }
  }
  cr_assert(worst < 1e-3, "worst residual %g", worst);
  mrl_baseline_free(bl);
  mrl_batch_free(b);
  mrl_batch_free(a);
}

// A batch in which every state looks the same and every step pays 1, all
// episodes cut by the horizon: the bootstrapped value is the infinite-horizon
// value 1 / (1 - gamma) = 10 (the fixed point of V = mean over rows of
// (1 - g^k) / (1 - g) + g^k V, k the steps left), the returns of every row
// equal it, and GAE's deltas 1 + g V - V vanish, also at the last step.
// Without the bootstrap the returns fall to 1 at the horizon.
Test(advantage, bootstrap_reaches_infinite_horizon_value) {
  int nenv = 4, T = 50, nobs = 1;
  mrlBatch* b = mrl_batch_make(nenv, T, nobs, 1);
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.gamma = 0.9;
  cfg.rl.gae_lambda = 1.0;
  cfg.rl.normalize_advantages = 0;
  cfg.rl.bootstrap_time_limit = 1;
  for (int i = 0; i < nenv; i++) {
    b->len[i] = T;
    b->truncated[i] = 1;
    b->obs_final[i] = 0.3;
  }
  for (int r = 0; r < nenv * T; r++) {
    b->obs[r] = 0.3;
    b->rew[r] = 1;
    b->valid[r] = 1;
  }
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  for (int i = 0; i < nenv; i++) {
    cr_assert(fabs(b->v_final[i] - 10) < 1e-3, "v_final %g", b->v_final[i]);
  }
  for (int r = 0; r < nenv * T; r++) {
    cr_assert(fabs(b->ret[r] - 10) < 1e-3, "row %d: return %g", r, b->ret[r]);
    cr_assert(fabs(b->baseline[r] - 10) < 1e-3, "row %d: baseline %g", r, b->baseline[r]);
    cr_assert(fabs(b->adv[r]) < 1e-3, "row %d: advantage %g", r, b->adv[r]);
  }
  cr_assert_eq(bl->time_features, 1, "the time features are restored for the next fit");
  cfg.rl.bootstrap_time_limit = 0;
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  cr_assert_eq(b->v_final[0], 0);
  cr_assert(fabs(b->ret[(T - 1) * nenv] - 1) < EPS, "%g", b->ret[(T - 1) * nenv]);
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

// Only truncated episodes are bootstrapped: one that failed early and one
// that failed on the last step keep returns that end with their last reward.
Test(advantage, bootstrap_spares_terminated_episodes) {
  int nenv = 3, T = 6, nobs = 1;
  mrlBatch* b = mrl_batch_make(nenv, T, nobs, 1);
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  mrlRng rng;
  mrl_rng_init(&rng, 7, MRL_RNG_EVAL, 0, 0, 0);
  int len[3] = {T, 3, T}, truncated[3] = {1, 0, 0};
  for (int i = 0; i < nenv; i++) {
    b->len[i] = len[i];
    b->truncated[i] = truncated[i];
    b->obs_final[i] = mrl_rng_normal(&rng);
  }
  for (int r = 0; r < nenv * T; r++) {
    b->obs[r] = mrl_rng_normal(&rng);
    b->rew[r] = 1 + mrl_rng_uniform(&rng);
  }
  double g = 0.95;
  cr_assert_eq(mrl_baseline_fit_bootstrapped(bl, b, g), 0);
  cr_assert(b->v_final[0] > 1, "the truncated episode gets a value, %g", b->v_final[0]);
  cr_assert_eq(b->v_final[1], 0);
  cr_assert_eq(b->v_final[2], 0);
  size_t last0 = (size_t)(T - 1) * nenv, last1 = 2 * nenv + 1, last2 = last0 + 2;
  cr_assert(fabs(b->ret[last0] - (b->rew[last0] + g * b->v_final[0])) < EPS);
  cr_assert_eq(b->ret[last1], b->rew[last1]);
  cr_assert_eq(b->ret[last2], b->rew[last2]);
  mrl_gae(b, g, 1.0, 0);
  cr_assert(fabs(b->adv[last0] - (b->rew[last0] + g * b->v_final[0] - b->baseline[last0])) < EPS);
  cr_assert(fabs(b->adv[last2] - (b->rew[last2] - b->baseline[last2])) < EPS);
  // a fixed point: refitting the time-free baseline on these returns gives
  // back v_final (features of one observation: o, o^2, three 0s, 1)
  mrl_returns(b, g);
  bl->time_features = 0;
  cr_assert_eq(mrl_baseline_fit_predict(bl, b), 0);
  double o = b->obs_final[0];
  double v = bl->coef[0] * o + bl->coef[1] * o * o + bl->coef[5];
  cr_assert(fabs(v - b->v_final[0]) < 1e-6 * fabs(v), "%.12g vs %.12g", v, b->v_final[0]);
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

// A final state far outside the batch's observations: the linear fit
// extrapolates, and the value fed back into the returns could grow pass after
// pass. It is clipped to what the batch's rewards (all positive) allow:
// [0, max(r) / (1 - gamma)].
Test(advantage, bootstrap_clips_extrapolated_values) {
  int nenv = 2, T = 10, nobs = 1;
  mrlBatch* b = mrl_batch_make(nenv, T, nobs, 1);
  mrlBaseline* bl = mrl_baseline_make(nobs, nenv * T);
  double g = 0.9, rmax = 0;
  for (int i = 0; i < nenv; i++) b->len[i] = T;
  b->truncated[0] = 1;
  b->obs_final[0] = 10;  // the rows see o in [0, 1)
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      b->obs[r] = (t + 0.5 * i) / T;
      b->rew[r] = 1 + 5 * b->obs[r];  // value grows with o: V(10) of the fit is far above
      rmax = fmax(rmax, b->rew[r]);
    }
  }
  cr_assert_eq(mrl_baseline_fit_bootstrapped(bl, b, g), 0);
  // the last fit's own value of the final state (features o, o^2, three 0s, 1)
  double o = b->obs_final[0], vhi = rmax / (1 - g);
  double v = bl->coef[0] * o + bl->coef[1] * o * o + bl->coef[5];
  cr_assert(v < 0 || v > vhi, "the fit does not extrapolate here (%g): the test tests nothing", v);
  cr_assert_eq(b->v_final[0], v < 0 ? 0 : vhi);
  for (int r = 0; r < nenv * T; r++) cr_assert(isfinite(b->ret[r]) && isfinite(b->baseline[r]));
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

//------------------------------ the mlp baseline -----------------------------

// A value network of cfg's defaults with the given passes, on nobs inputs.
static mrlValueNet* value_net(int nobs, int maxrows, int epochs) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.vf_epochs = epochs;
  return mrl_value_make(&cfg, nobs, maxrows);
}

// The same with rl.vf_shared.
static mrlValueNet* shared_value_net(int nobs, int maxrows, int epochs) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.baseline = MRL_BASELINE_MLP;
  cfg.rl.vf_shared = 1;
  cfg.rl.vf_epochs = epochs;
  return mrl_value_make(&cfg, nobs, maxrows);
}

// Explained variance of batch->baseline for batch->ret over the valid rows.
static double explained(const mrlBatch* b) {
  double s = 0, ss = 0, e = 0, ee = 0;
  int n = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < b->nenv; i++) {
      if (t >= b->len[i]) continue;
      size_t r = (size_t)t * b->nenv + i;
      double d = b->ret[r] - b->baseline[r];
      s += b->ret[r];
      ss += b->ret[r] * b->ret[r];
      e += d;
      ee += d * d;
      n++;
    }
  }
  double var_ret = ss / n - (s / n) * (s / n), var_res = ee / n - (e / n) * (e / n);
  return 1 - var_res / var_ret;
}

// Returns that no quadratic follows, R = 5 sin(3 o0) cos(2 o1) + 2 t / T:
// the linear baseline explains little of them, the value network nearly all,
// and rows after an episode's end stay 0.
static mrlBatch* wavy_batch(int nenv, int T, uint64_t seed) {
  mrlBatch* b = mrl_batch_make(nenv, T, 2, 1);
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < nenv; i++) b->len[i] = i == 0 ? T / 2 : T;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      double* o = b->obs + r * 2;
      o[0] = 2 * mrl_rng_uniform(&rng) - 1;
      o[1] = 2 * mrl_rng_uniform(&rng) - 1;
      b->ret[r] = t < b->len[i] ? 5 * sin(3 * o[0]) * cos(2 * o[1]) + 2.0 * t / T : 0;
    }
  }
  return b;
}

Test(value, fits_returns_the_linear_baseline_cannot) {
  int nenv = 8, T = 60;
  mrlBatch* b = wavy_batch(nenv, T, 7);
  mrlBaseline* bl = mrl_baseline_make(2, nenv * T);
  cr_assert_eq(mrl_baseline_fit_predict(bl, b), 0);
  double linear = explained(b);
  mrlValueNet* vf = value_net(2, nenv * T, 200);
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  double mlp = explained(b);
  cr_assert(linear < 0.5, "linear explains %g", linear);
  cr_assert(mlp > 0.95, "mlp explains %g (linear %g)", mlp, linear);
  for (int t = T / 2; t < T; t++) cr_assert_eq(b->baseline[(size_t)t * nenv], 0);
  cr_assert_eq(vf->fits, 1);
  mrl_value_free(vf);
  mrl_baseline_free(bl);
  mrl_batch_free(b);
}

// Reset vf for (iteration, key), fit b and copy its baseline (rows) to out.
static void fit_after_reset(mrlValueNet* vf, mrlBatch* b, uint64_t iteration, uint64_t key,
                            double* out) {
  mrl_value_reset(vf, iteration, key);
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  memcpy(out, b->baseline, sizeof(double) * b->nenv * b->horizon);
}

// A reset returns to the same weights: the same task and batch give the same
// bits; another task key shuffles differently; a second fit without a reset
// keeps the first one's standardization.
Test(value, reset_and_keys_make_fits_reproducible) {
  int nenv = 4, T = 50, rows = nenv * T;
  mrlBatch* b = wavy_batch(nenv, T, 3);
  mrlValueNet* vf = value_net(2, rows, 3);
  static double first[200], again[200], other[200];
  fit_after_reset(vf, b, 5, 9, first);
  double mean0 = vf->in_mean[0], out_std = vf->out_std;
  fit_after_reset(vf, b, 5, 9, again);
  cr_assert_eq(memcmp(first, again, sizeof(double) * rows), 0);
  fit_after_reset(vf, b, 5, 10, other);
  cr_assert_neq(memcmp(first, other, sizeof(double) * rows), 0);

  // a second batch with three times the returns is read on the first's scales
  fit_after_reset(vf, b, 5, 9, again);
  mrlBatch* b2 = wavy_batch(nenv, T, 4);
  for (int r = 0; r < rows; r++) b2->ret[r] *= 3;
  cr_assert_eq(mrl_value_fit_predict(vf, b2), 0);
  cr_assert_eq(vf->fits, 2);
  cr_assert_eq(vf->in_mean[0], mean0);
  cr_assert_eq(vf->out_std, out_std);
  mrl_value_free(vf);
  mrl_batch_free(b2);
  mrl_batch_free(b);
}

// A non-finite return fails the fit with a zero baseline and leaves the
// weights as they were; the next good batch fits.
Test(value, non_finite_returns_fail_without_touching_the_weights) {
  int nenv = 4, T = 20, rows = nenv * T;
  mrlBatch* b = wavy_batch(nenv, T, 5);
  mrlValueNet* vf = value_net(2, rows, 2);
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  static double before[4096];
  int n = vf->net.nparam;
  cr_assert(n <= 4096);
  memcpy(before, vf->params, sizeof(double) * n);
  double keep = b->ret[7];
  b->ret[7] = NAN;
  cr_assert_eq(mrl_value_fit_predict(vf, b), -1);
  for (int r = 0; r < rows; r++) cr_assert_eq(b->baseline[r], 0);
  cr_assert_eq(memcmp(before, vf->params, sizeof(double) * n), 0);
  cr_assert_eq(vf->fits, 1);
  b->ret[7] = keep;
  b->obs[3] = INFINITY;
  cr_assert_eq(mrl_value_fit_predict(vf, b), -1);
  b->obs[3] = 0.5;
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  for (int i = 0; i < n; i++) cr_assert(isfinite(vf->params[i]));
  mrl_value_free(vf);
  mrl_batch_free(b);
}

// A fit that diverges (a step size no config allows: the weights overflow to
// NaN) fails with a zero baseline and starts the task's value over.
Test(value, diverged_fit_resets_the_weights) {
  int nenv = 4, T = 20, rows = nenv * T;
  mrlBatch* b = wavy_batch(nenv, T, 6);
  mrlValueNet* vf = value_net(2, rows, 2);
  mrl_value_reset(vf, 3, 4);
  vf->lr = 1e300;
  cr_assert_eq(mrl_value_fit_predict(vf, b), -1);
  for (int r = 0; r < rows; r++) cr_assert_eq(b->baseline[r], 0);
  cr_assert_eq(memcmp(vf->params, vf->init, sizeof(double) * vf->net.nparam), 0);
  cr_assert_eq(vf->fits, 0);
  cr_assert_eq(vf->task_key, 4);
  vf->lr = 3e-3;
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  mrl_value_free(vf);
  mrl_batch_free(b);
}

// The loss's gradient against central differences, every parameter.
Test(value, loss_gradient_matches_finite_differences) {
  int m = 12;
  mrlValueNet* vf = value_net(3, m, 1);
  mrlRng rng;
  mrl_rng_init(&rng, 11, MRL_RNG_EVAL, 0, 0, 0);
  double x[12 * 4], y[12];
  for (int i = 0; i < m * 4; i++) x[i] = mrl_rng_normal(&rng);
  for (int i = 0; i < m; i++) y[i] = mrl_rng_normal(&rng);
  int n = vf->net.nparam;
  for (int i = 0; i < n; i++) vf->params[i] += 0.3 * mrl_rng_normal(&rng);
  double* g = malloc(sizeof(double) * n);
  double* scratch = malloc(sizeof(double) * n);
  mrl_value_loss_grad(vf, x, y, m, g);
  double worst = 0;
  for (int i = 0; i < n; i++) {
    double p = vf->params[i], h = 1e-5;
    vf->params[i] = p + h;
    double up = mrl_value_loss_grad(vf, x, y, m, scratch);
    vf->params[i] = p - h;
    double down = mrl_value_loss_grad(vf, x, y, m, scratch);
    vf->params[i] = p;
    worst = fmax(worst, fabs((up - down) / (2 * h) - g[i]));
  }
  cr_assert(worst < 1e-7, "worst gradient error %g", worst);
  cr_assert_eq(g[vf->net.logstd_off], 0);  // the unused log-std entry
  free(g);
  free(scratch);
  mrl_value_free(vf);
}

// mrl_advantages dispatches to the value network for rl.baseline=mlp.
Test(value, advantages_use_the_value_network) {
  int nenv = 4, T = 30;
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.rl.baseline = MRL_BASELINE_MLP;
  cfg.rl.gamma = 0;  // returns are the rewards
  cfg.rl.gae_lambda = 1;
  cfg.rl.normalize_advantages = 0;
  mrlBatch* b = wavy_batch(nenv, T, 8);
  memcpy(b->rew, b->ret, sizeof(double) * nenv * T);
  mrlBaseline* bl = mrl_baseline_make(2, nenv * T);
  bl->vf = mrl_value_make(&cfg, 2, nenv * T);
  cr_assert_eq(mrl_advantages(&cfg, bl, b), 0);
  cr_assert_eq(bl->vf->fits, 1);
  double moved = 0;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < nenv; i++) {
      size_t r = (size_t)t * nenv + i;
      if (t >= b->len[i]) continue;
      cr_assert(fabs(b->adv[r] - (b->rew[r] - b->baseline[r])) < 1e-12);
      moved = fmax(moved, fabs(b->baseline[r]));
    }
  }
  cr_assert(moved > 0.1);
  mrl_baseline_free(bl);  // frees bl->vf too
  mrl_batch_free(b);
}

// rl.vf_shared: the advantages of a batch use the values from before the fit
// to it, so two networks that start alike and fit with 1 or 50 passes give
// the same baseline on the first batch and different ones on the next.
Test(value, shared_predicts_before_fitting) {
  int nenv = 4, T = 40, rows = nenv * T;
  mrlBatch* b = wavy_batch(nenv, T, 5);
  mrlValueNet* light = shared_value_net(2, rows, 1);
  mrlValueNet* heavy = shared_value_net(2, rows, 50);
  double* first = mrl_alloc(sizeof(double) * rows);
  fit_after_reset(light, b, 0, 1, first);
  fit_after_reset(heavy, b, 0, 1, b->baseline);
  cr_assert_eq(memcmp(first, b->baseline, sizeof(double) * rows), 0,
               "the first baseline depends on the fit");
  cr_assert_eq(mrl_value_fit_predict(light, b), 0);
  memcpy(first, b->baseline, sizeof(double) * rows);
  cr_assert_eq(mrl_value_fit_predict(heavy, b), 0);
  cr_assert_neq(memcmp(first, b->baseline, sizeof(double) * rows), 0);
  free(first);
  mrl_value_free(light);
  mrl_value_free(heavy);
  mrl_batch_free(b);
}

// mrl_value_merge: the first merge takes a task's own standardization; a
// later one moves it toward another and rescales the weights, so that the
// network predicts what it did (up to rounding) under the new standardization.
Test(value, merge_keeps_the_predictions_when_the_standardization_moves) {
  int nenv = 4, T = 40, rows = nenv * T;
  mrlBatch* b = wavy_batch(nenv, T, 6);
  mrlValueNet* vf = shared_value_net(2, rows, 5);
  int len = MRL_VALUE_STATE_LEN(vf), n = vf->net.nparam, ok = 1;
  double* state = mrl_alloc(sizeof(double) * len);
  double* slot = mrl_alloc(sizeof(double) * len);
  mrl_value_initial_state(vf, state);
  mrl_value_load_state(vf, state);
  fit_after_reset(vf, b, 0, 0, b->baseline);
  mrl_value_task_slot(vf, slot);
  mrl_value_merge(vf, state, slot, &ok, 1);  // one task: its weights and standardization
  cr_assert_eq(memcmp(state + n, slot + n, sizeof(double) * (len - n)), 0);
  for (int i = 0; i < n; i++) cr_assert_float_eq(state[i], slot[i], 1e-12 * (1 + fabs(slot[i])));
  double* before = mrl_alloc(sizeof(double) * rows);
  mrl_value_load_state(vf, state);
  fit_after_reset(vf, b, 1, 0, before);
  // a task whose returns are 100 times larger and 50 higher, and inputs shifted
  for (int r = 0; r < rows; r++) {
    double* o = b->obs + (size_t)r * 2;
    o[0] = 3 * o[0] + 1;
    b->ret[r] = 100 * b->ret[r] + 50;
  }
  mrl_value_reset(vf, 1, 1);
  cr_assert_eq(mrl_value_fit_predict(vf, b), 0);
  mrl_value_task_slot(vf, slot);
  memcpy(slot, state, sizeof(double) * n);  // the weights of the state, other statistics
  double* old = mrl_alloc(sizeof(double) * len);
  memcpy(old, state, sizeof(double) * len);
  mrl_value_merge(vf, state, slot, &ok, 1);
  int nin = vf->nin;
  cr_assert_float_eq(state[n + 2 * nin + 1],
                     0.9 * old[n + 2 * nin + 1] + 0.1 * slot[n + 2 * nin + 1], 1e-9);
  cr_assert_neq(memcmp(state, old, sizeof(double) * n), 0, "the weights were not rescaled");
  mrl_batch_free(b);
  b = wavy_batch(nenv, T, 6);  // the first batch again, under the moved statistics
  mrl_value_load_state(vf, state);
  double* after = mrl_alloc(sizeof(double) * rows);
  fit_after_reset(vf, b, 1, 0, after);
  for (int r = 0; r < rows; r++) {
    cr_assert_float_eq(after[r], before[r], 1e-8 * (1 + fabs(before[r])), "row %d: %g against %g",
                       r, after[r], before[r]);
  }
  // and a slot with no successful fit leaves the state alone
  memset(slot + n, 0, sizeof(double) * (len - n));
  memcpy(old, state, sizeof(double) * len);
  mrl_value_merge(vf, state, slot, &ok, 1);
  cr_assert_eq(memcmp(state, old, sizeof(double) * len), 0);
  free(before);
  free(after);
  free(old);
  free(state);
  free(slot);
  mrl_value_free(vf);
  mrl_batch_free(b);
}
