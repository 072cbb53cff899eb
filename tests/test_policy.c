// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_policy.c: the Gaussian MLP policy and the policy-gradient surrogate,
// checked against a naive forward pass and central finite differences.

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metarl.h"

// A (7, 5) policy; ncontext > 0: with policy.context, adapted alone (inner.adapt context).
static void setup_policy_with(mrlPolicy* pol, mrlActivation act, int nobs, int nact, int ncontext) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = 7;
  cfg.policy.hidden[1] = 5;
  cfg.policy.activation = act;
  cfg.policy.init_log_std = -0.3;
  cfg.policy.context = ncontext;
  cfg.inner.adapt = ncontext ? MRL_ADAPT_CONTEXT : MRL_ADAPT_ALL;
  mrl_policy_setup(pol, &cfg, nobs, nact);
}

static void setup_policy(mrlPolicy* pol, mrlActivation act, int nobs, int nact) {
  setup_policy_with(pol, act, nobs, nact, 0);
}

// Random parameters of a useful size (the init scales the output layer down).
static void random_params(const mrlPolicy* pol, uint64_t seed, double* params) {
  mrlRng rng;
  mrl_rng_init(&rng, seed, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < pol->nparam; i++) params[i] = 0.8 * mrl_rng_normal(&rng);
  for (int j = 0; j < pol->sizes[pol->nlayer]; j++) params[pol->logstd_off + j] *= 0.3;
}

Test(policy, layout) {
  mrlPolicy pol;
  setup_policy(&pol, MRL_ACT_TANH, 3, 2);
  cr_assert_eq(pol.nlayer, 3);
  cr_assert_eq(pol.nparam, (7 * 3 + 7) + (5 * 7 + 5) + (2 * 5 + 2) + 2);
  cr_assert_eq(pol.logstd_off, pol.nparam - 2);
  cr_assert_eq(pol.boff[1], pol.woff[1] + 35);
}

Test(policy, init_is_deterministic_and_scaled) {
  mrlPolicy pol;
  setup_policy(&pol, MRL_ACT_TANH, 3, 2);
  double a[200], b[200];
  mrlRng r1, r2;
  mrl_rng_init(&r1, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_rng_init(&r2, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &r1, a);
  mrl_policy_init(&pol, &r2, b);
  cr_assert_eq(memcmp(a, b, sizeof(double) * pol.nparam), 0);
  cr_assert_eq(a[pol.logstd_off], -0.3);
  cr_assert_eq(a[pol.boff[0]], 0.0);
  // output weights are small so the initial mean is near zero
  for (int i = 0; i < 10; i++) cr_assert(fabs(a[pol.woff[2] + i]) < 0.01);
  double limit = sqrt(6.0 / 10);
  int nonzero = 0;
  for (int i = 0; i < 21; i++) {
    cr_assert(fabs(a[pol.woff[0] + i]) <= limit);
    nonzero += a[pol.woff[0] + i] != 0;
  }
  cr_assert_eq(nonzero, 21);
}

static double act_fn(mrlActivation a, double x) {
  return a == MRL_ACT_TANH ? tanh(x) : (x > 0 ? x : 0);
}

// The policy of setup_policy (3 observations, 2 actions) with random
// parameters from seed, forwarded on rows random observations from seed + 1.
static mrlPolicyWork* forward_random(mrlPolicy* pol, mrlActivation activation, int ncontext,
                                     uint64_t seed, double* params, double* obs, int rows) {
  setup_policy_with(pol, activation, 3, 2, ncontext);
  random_params(pol, seed, params);
  mrlRng rng;
  mrl_rng_init(&rng, seed + 1, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < rows * 3; i++) obs[i] = mrl_rng_normal(&rng);
  mrlPolicyWork* work = mrl_policy_work_make(pol, rows);
  mrl_policy_forward(pol, params, work, obs, rows);
  return work;
}

// With a context, the naive pass feeds the first layer [obs, c] through [W_1 | W_c].
static void check_forward(mrlActivation activation, int ncontext) {
  mrlPolicy pol;
  double params[200], obs[6 * 3];
  mrlPolicyWork* work = forward_random(&pol, activation, ncontext, 11, params, obs, 6);
  const double* c = params + pol.ctx_off;
  const double* wc = c + ncontext;
  for (int r = 0; r < 6; r++) {
    double x[8], y[8];
    memcpy(x, obs + 3 * r, sizeof(double) * 3);
    for (int l = 0; l < pol.nlayer; l++) {
      int in = pol.sizes[l], out = pol.sizes[l + 1];
      for (int o = 0; o < out; o++) {
        double z = params[pol.boff[l] + o];
        for (int i = 0; i < in; i++) z += params[pol.woff[l] + o * in + i] * x[i];
        for (int i = 0; l == 0 && i < ncontext; i++) z += wc[o * ncontext + i] * c[i];
        y[o] = l < pol.nlayer - 1 ? act_fn(activation, z) : z;
      }
      memcpy(x, y, sizeof(double) * out);
    }
    for (int j = 0; j < 2; j++) cr_assert(fabs(work->mean[2 * r + j] - x[j]) < 1e-12);
  }
  mrl_policy_work_free(work);
}

Test(policy, forward_matches_naive_tanh) {
  check_forward(MRL_ACT_TANH, 0);
}

Test(policy, forward_matches_naive_relu) {
  check_forward(MRL_ACT_RELU, 0);
}

// policy.context: the first layer reads [obs, c]; c and W_c sit after the
// log-std, c starts at 0, and the other entries keep their seeded bits.
Test(policy, context_forward_layout_and_init) {
  check_forward(MRL_ACT_TANH, 4);
  check_forward(MRL_ACT_RELU, 4);
  mrlPolicy plain, ctx;
  setup_policy(&plain, MRL_ACT_TANH, 3, 2);
  setup_policy_with(&ctx, MRL_ACT_TANH, 3, 2, 4);
  cr_assert_eq(ctx.ctx_off, plain.logstd_off + 2);
  cr_assert_eq(ctx.nparam, plain.nparam + 4 * (1 + 7));
  cr_assert(ctx.adapt_context && !plain.adapt_context && !plain.ncontext);
  double a[200], b[200];
  mrlRng rng;
  mrl_rng_init(&rng, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&plain, &rng, a);
  mrl_rng_init(&rng, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&ctx, &rng, b);
  cr_assert_eq(memcmp(a, b, sizeof(double) * plain.nparam), 0);
  double limit = sqrt(6.0 / (4 + 7)), wmax = 0;
  for (int i = 0; i < 4; i++) cr_assert_eq(b[ctx.ctx_off + i], 0);
  for (int i = 4; i < 4 * 8; i++) wmax = fmax(wmax, fabs(b[ctx.ctx_off + i]));
  cr_assert(wmax > 0.5 * limit && wmax <= limit, "W_c's largest entry %g, limit %g", wmax, limit);
}

// The ReLU's recorded pattern marks exactly the units whose pre-activation is
// > 0 (the backward and outer.hvp_freeze_relu read it), an off unit is +0, not
// -0, and a forward on the frozen pattern at the same point is the same bits.
Test(policy, relu_pattern_marks_the_units_that_are_on) {
  mrlPolicy pol;
  double params[200], obs[40 * 3];
  mrlPolicyWork* work = forward_random(&pol, MRL_ACT_RELU, 0, 21, params, obs, 40);
  double mean[80];
  memcpy(mean, work->mean, sizeof(mean));
  int on = 0, off = 0;
  for (int r = 0; r < 40; r++) {
    double x[8], z[8];
    memcpy(x, obs + 3 * r, sizeof(double) * 3);
    for (int l = 0; l < pol.nlayer - 1; l++) {
      int in = pol.sizes[l], out = pol.sizes[l + 1];
      const double* h = work->act + work->act_off[l + 1] + (size_t)r * out;
      const unsigned char* pat = work->pattern + work->act_off[l + 1] + (size_t)r * out;
      for (int o = 0; o < out; o++) {
        z[o] = params[pol.boff[l] + o];
        for (int i = 0; i < in; i++) z[o] += params[pol.woff[l] + o * in + i] * x[i];
        cr_assert_eq(pat[o], h[o] > 0, "row %d layer %d unit %d", r, l, o);
        if (pat[o]) {
          on++;
          cr_assert(fabs(h[o] - z[o]) < 1e-12);
        } else {
          off++;
          cr_assert(z[o] < 1e-12 && h[o] == 0 && !signbit(h[o]), "row %d unit %d", r, o);
        }
      }
      memcpy(x, h, sizeof(double) * out);
    }
  }
  cr_assert(on > 50 && off > 50, "both sides seen: %d on, %d off", on, off);
  work->freeze_pattern = 1;
  mrl_policy_forward(&pol, params, work, obs, 40);
  work->freeze_pattern = 0;
  cr_assert(memcmp(mean, work->mean, sizeof(mean)) == 0);
  mrl_policy_work_free(work);
}

// A batch of 4 episodes x 5 steps with random observations, actions and
// advantages; the last episode ends after 3 steps.
static mrlBatch* random_batch(const mrlPolicy* pol) {
  mrlBatch* b = mrl_batch_make(4, 5, pol->sizes[0], pol->sizes[pol->nlayer]);
  mrlRng rng;
  mrl_rng_init(&rng, 77, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < 20 * b->nobs; i++) b->obs[i] = mrl_rng_normal(&rng);
  for (int i = 0; i < 20 * b->nact; i++) b->act[i] = mrl_rng_normal(&rng);
  for (int t = 0; t < 5; t++) {
    for (int i = 0; i < 4; i++) {
      int valid = i < 3 || t < 3;
      b->valid[t * 4 + i] = valid;
      b->adv[t * 4 + i] = valid ? mrl_rng_normal(&rng) : 0;
    }
  }
  for (int i = 0; i < 4; i++) b->len[i] = i < 3 ? 5 : 3;
  return b;
}

// L = -(1/M) sum A log pi - c H, recomputed from scratch for finite
// differences; H = sum_j log(std_j sqrt(2 pi e)), the Gaussian's entropy.
static double surrogate(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const mrlBatch* b) {
  mrl_policy_forward(pol, params, work, b->obs, 20);
  double loss = 0;
  int m = 0;
  for (int r = 0; r < 20; r++) {
    if (!b->valid[r]) continue;
    loss -= b->adv[r] * mrl_policy_logprob(pol, params, work, b->act + r * b->nact, r);
    m++;
  }
  double entropy = 0;
  for (int j = 0; j < b->nact; j++) {
    entropy += log(exp(params[pol->logstd_off + j]) * sqrt(2 * M_PI * M_E));
  }
  return loss / m - pol->entropy_coef * entropy;
}

static void check_gradient_with(mrlActivation activation, double entropy_coef, int ncontext) {
  mrlPolicy pol;
  setup_policy_with(&pol, activation, 3, 2, ncontext);
  pol.entropy_coef = entropy_coef;
  double params[200], grad[200], fd[200];
  random_params(&pol, 21, params);
  mrlBatch* b = random_batch(&pol);
  mrlPolicyWork* work = mrl_policy_work_make(&pol, 20);
  double loss = mrl_pg_loss_grad(&pol, params, work, b, grad);
  cr_assert(fabs(loss - surrogate(&pol, params, work, b)) < 1e-12);
  double h = 1e-6, num = 0, den = 0;
  for (int i = 0; i < pol.nparam; i++) {
    double keep = params[i];
    params[i] = keep + h;
    double up = surrogate(&pol, params, work, b);
    params[i] = keep - h;
    double down = surrogate(&pol, params, work, b);
    params[i] = keep;
    fd[i] = (up - down) / (2 * h);
    num += (grad[i] - fd[i]) * (grad[i] - fd[i]);
    den += grad[i] * grad[i];
  }
  double rel = sqrt(num / den);
  cr_assert(rel < 1e-6, "relative error %g", rel);
  for (int i = 0; i < pol.nparam; i++) {
    cr_assert(fabs(grad[i] - fd[i]) <= 1e-6 * (fabs(fd[i]) + 1e-3), "param %d: %g vs %g", i,
              grad[i], fd[i]);
  }
  mrl_policy_work_free(work);
  mrl_batch_free(b);
}

static void check_gradient(mrlActivation activation) {
  check_gradient_with(activation, 0, 0);
}

Test(policy, gradient_matches_finite_differences_tanh) {
  check_gradient(MRL_ACT_TANH);
}

// The entropy bonus: its value and its gradient (-c on each log-std) join
// the surrogate's; checked against the closed-form entropy.
Test(policy, entropy_bonus_matches_finite_differences) {
  check_gradient_with(MRL_ACT_TANH, 0.07, 0);
}

// policy.context: c's and W_c's gradients (through the first layer's bias)
Test(policy, context_gradient_matches_finite_differences) {
  check_gradient_with(MRL_ACT_TANH, 0, 4);
  check_gradient_with(MRL_ACT_RELU, 0, 4);
}

// inner.adapt context: the inner step moves c and nothing else.
Test(policy, context_inner_step_moves_the_context_alone) {
  mrlPolicy pol;
  setup_policy_with(&pol, MRL_ACT_TANH, 3, 2, 4);
  double params[200], x[200], y[200];
  random_params(&pol, 51, params);
  random_params(&pol, 52, x);
  memcpy(y, params, sizeof(y));
  mrl_policy_inner_axpy(&pol, params, 0.5, x, y);
  for (int i = 0; i < pol.nparam; i++) {
    int in_c = i >= pol.ctx_off && i < pol.ctx_off + 4;
    double want = in_c ? params[i] - 0.5 * x[i] : params[i];
    cr_assert_eq(y[i], want, "param %d", i);
  }
}

// rl.entropy_coef reaches the policy; the bonus is the only change, on the
// log-std alone.
Test(policy, entropy_bonus_moves_only_the_log_std) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  char err[MRL_ERRLEN];
  cr_assert_eq(mrl_config_override(&cfg, "rl.entropy_coef=0.25", err, sizeof err), 0, "%s", err);
  mrlPolicy pol, plain;
  mrl_policy_setup(&pol, &cfg, 3, 2);
  cr_assert_eq(pol.entropy_coef, 0.25);
  setup_policy(&plain, MRL_ACT_TANH, 3, 2);
  cr_assert_eq(plain.entropy_coef, 0);
  double params[200], g0[200], g1[200];
  random_params(&plain, 41, params);
  mrlBatch* b = random_batch(&plain);
  mrlPolicyWork* work = mrl_policy_work_make(&plain, 20);
  double l0 = mrl_pg_loss_grad(&plain, params, work, b, g0);
  plain.entropy_coef = 0.25;
  double l1 = mrl_pg_loss_grad(&plain, params, work, b, g1);
  double h = mrl_policy_entropy(&plain, params);
  cr_assert(fabs(h - (params[plain.logstd_off] + params[plain.logstd_off + 1] +
                      log(2 * M_PI * M_E))) < 1e-12);
  cr_assert(fabs((l1 - l0) - (-0.25 * h)) < 1e-12, "loss moved by %g", l1 - l0);
  for (int i = 0; i < plain.nparam; i++) {
    double want = i >= plain.logstd_off && i < plain.logstd_off + 2 ? -0.25 : 0;
    cr_assert(fabs((g1[i] - g0[i]) - want) < 1e-12, "param %d moved by %g", i, g1[i] - g0[i]);
  }
  mrl_policy_work_free(work);
  mrl_batch_free(b);
}

Test(policy, gradient_matches_finite_differences_relu) {
  check_gradient(MRL_ACT_RELU);
}

// Masked rows contribute nothing, whatever they hold.
Test(policy, invalid_rows_are_ignored) {
  mrlPolicy pol;
  setup_policy(&pol, MRL_ACT_TANH, 3, 2);
  double params[200], g1[200], g2[200];
  random_params(&pol, 31, params);
  mrlBatch* b = random_batch(&pol);
  mrlPolicyWork* work = mrl_policy_work_make(&pol, 20);
  mrl_pg_loss_grad(&pol, params, work, b, g1);
  for (int t = 3; t < 5; t++) {  // episode 3 is over at t = 3, 4
    b->act[(t * 4 + 3) * 2] = 1e6;
    b->obs[(t * 4 + 3) * 3] = -1e6;
  }
  mrl_pg_loss_grad(&pol, params, work, b, g2);
  cr_assert_eq(memcmp(g1, g2, sizeof(double) * pol.nparam), 0);
  mrl_policy_work_free(work);
  mrl_batch_free(b);
}

//---------------------- observation normalization ----------------------

static void setup_norm_policy(mrlPolicy* pol, int obs_norm) {
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.policy.nhidden = 2;
  cfg.policy.hidden[0] = 7;
  cfg.policy.hidden[1] = 5;
  cfg.policy.init_log_std = -0.3;
  cfg.policy.obs_norm = obs_norm;
  mrl_policy_setup(pol, &cfg, 3, 2);
}

Test(policy, obs_norm_layout_and_identity_init) {
  mrlPolicy plain, pol;
  setup_norm_policy(&plain, 0);
  setup_norm_policy(&pol, 1);
  cr_assert_eq(pol.norm_off, plain.nparam);
  cr_assert_eq(pol.nparam, plain.nparam + 2 * 3 + 1);
  cr_assert_eq(pol.logstd_off, plain.logstd_off);
  double a[200], b[200];
  mrlRng r1, r2;
  mrl_rng_init(&r1, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_rng_init(&r2, 5, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&plain, &r1, a);
  mrl_policy_init(&pol, &r2, b);
  // same MLP, then mean 0, variance 1, count 0
  cr_assert_eq(memcmp(a, b, sizeof(double) * plain.nparam), 0);
  for (int k = 0; k < 3; k++) {
    cr_assert_eq(b[pol.norm_off + k], 0.0);
    cr_assert_eq(b[pol.norm_off + 3 + k], 1.0);
  }
  cr_assert_eq(b[pol.norm_off + 6], 0.0);
}

// The normalizing policy is the plain policy on clip((o - mean) / std, +-10).
Test(policy, obs_norm_forward_is_the_plain_policy_on_normalized_observations) {
  mrlPolicy plain, pol;
  setup_norm_policy(&plain, 0);
  setup_norm_policy(&pol, 1);
  double params[200], obs[6 * 3], z[6 * 3];
  random_params(&pol, 41, params);
  const double mean[3] = {1.25, -0.5, 3}, var[3] = {0.01, 4, 100};
  for (int k = 0; k < 3; k++) {
    params[pol.norm_off + k] = mean[k];
    params[pol.norm_off + 3 + k] = var[k];
  }
  params[pol.norm_off + 6] = 1000;
  mrlRng rng;
  mrl_rng_init(&rng, 42, MRL_RNG_EVAL, 0, 0, 0);
  for (int i = 0; i < 18; i++) obs[i] = mean[i % 3] + 2 * sqrt(var[i % 3]) * mrl_rng_normal(&rng);
  obs[3] = 1.25 + 5;  // 50 standard deviations: clipped to 10
  for (int i = 0; i < 18; i++) {
    double v = (obs[i] - mean[i % 3]) / sqrt(var[i % 3] + 1e-8);
    z[i] = v > 10 ? 10 : v < -10 ? -10 : v;
  }
  cr_assert_eq(z[3], 10.0);
  mrlPolicyWork* wn = mrl_policy_work_make(&pol, 6);
  mrlPolicyWork* wp = mrl_policy_work_make(&plain, 6);
  mrl_policy_forward(&pol, params, wn, obs, 6);
  mrl_policy_forward(&plain, params, wp, z, 6);  // same MLP entries
  for (int i = 0; i < 12; i++)
    cr_assert(fabs(wn->mean[i] - wp->mean[i]) < 1e-12, "row entry %d", i);
  // the observations themselves are left untouched
  cr_assert_eq(obs[3], 1.25 + 5);
  mrl_policy_work_free(wn);
  mrl_policy_work_free(wp);
}

// Merging the statistics of two batches gives the mean and variance of all
// their valid rows; invalid rows are ignored whatever they hold.
Test(policy, obs_norm_merge_equals_statistics_of_all_valid_rows) {
  mrlPolicy pol;
  setup_norm_policy(&pol, 1);
  double params[200];
  mrlRng rng;
  mrl_rng_init(&rng, 1, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, params);
  mrlBatch* a = random_batch(&pol);
  mrlBatch* b = random_batch(&pol);
  for (int i = 0; i < 20 * 3; i++) b->obs[i] = 5 + 3 * b->obs[i] * b->obs[i];
  b->len[0] = 2;
  a->obs[(4 * 4 + 3) * 3] = 1e9;  // episode 3 of a is over at t = 4
  double sa[7], sb[7];
  mrl_obs_stats(a, sa);
  mrl_obs_stats(b, sb);
  cr_assert_eq(sa[0], 18.0);
  cr_assert_eq(sb[0], 15.0);
  mrl_obs_norm_merge(&pol, params, sa);
  mrl_obs_norm_merge(&pol, params, sb);
  for (int k = 0; k < 3; k++) {
    double sum = 0, sumsq = 0;
    int n = 0;
    const mrlBatch* both[2] = {a, b};
    for (int s = 0; s < 2; s++) {
      for (int t = 0; t < 5; t++) {
        for (int i = 0; i < 4; i++) {
          if (t >= both[s]->len[i]) continue;
          double o = both[s]->obs[(t * 4 + i) * 3 + k];
          sum += o;
          sumsq += o * o;
          n++;
        }
      }
    }
    double mean = sum / n, var = sumsq / n - mean * mean;
    cr_assert(fabs(params[pol.norm_off + k] - mean) < 1e-12, "mean %d", k);
    cr_assert(fabs(params[pol.norm_off + 3 + k] - var) < 1e-10, "variance %d", k);
  }
  cr_assert_eq(params[pol.norm_off + 6], 33.0);
  // an empty batch changes nothing; a policy without obs_norm ignores merges
  double before[200], empty[7] = {0};
  memcpy(before, params, sizeof before);
  mrl_obs_norm_merge(&pol, params, empty);
  cr_assert_eq(memcmp(before, params, sizeof(double) * pol.nparam), 0);
  mrlPolicy plain;
  setup_norm_policy(&plain, 0);
  mrl_obs_norm_merge(&plain, params, sa);
  cr_assert_eq(memcmp(before, params, sizeof(double) * pol.nparam), 0);
  mrl_batch_free(a);
  mrl_batch_free(b);
}

// No gradient reaches the statistics; the MLP's gradient is the derivative of
// the surrogate with the statistics held fixed.
Test(policy, obs_norm_statistics_get_no_gradient) {
  mrlPolicy pol;
  setup_norm_policy(&pol, 1);
  double params[200], grad[200];
  random_params(&pol, 51, params);
  for (int k = 0; k < 3; k++) {
    params[pol.norm_off + k] = 0.3 * k;
    params[pol.norm_off + 3 + k] = 0.5 + k;
  }
  params[pol.norm_off + 6] = 10;
  mrlBatch* b = random_batch(&pol);
  mrlPolicyWork* work = mrl_policy_work_make(&pol, 20);
  for (int i = 0; i < pol.nparam; i++) grad[i] = 123;
  mrl_pg_loss_grad(&pol, params, work, b, grad);
  for (int i = pol.norm_off; i < pol.nparam; i++) cr_assert_eq(grad[i], 0.0, "param %d", i);
  double h = 1e-6;
  for (int i = 0; i < pol.norm_off; i++) {
    double keep = params[i];
    params[i] = keep + h;
    double up = surrogate(&pol, params, work, b);
    params[i] = keep - h;
    double down = surrogate(&pol, params, work, b);
    params[i] = keep;
    double fd = (up - down) / (2 * h);
    cr_assert(fabs(grad[i] - fd) <= 1e-6 * (fabs(fd) + 1e-3), "param %d: %g vs %g", i, grad[i], fd);
  }
  mrl_policy_work_free(work);
  mrl_batch_free(b);
}

// policy.output_init scales the output layer's initial weights only: the same
// stream gives the same hidden weights, and output weights that are exactly
// the default's times output_init / 0.01, within the scaled Glorot limit.
Test(policy, output_init_scales_the_output_layer_only) {
  mrlPolicy small, full;
  setup_policy(&small, MRL_ACT_RELU, 4, 3);
  setup_policy(&full, MRL_ACT_RELU, 4, 3);
  full.output_init = 1;
  double* a = mrl_alloc(sizeof(double) * small.nparam * 2);
  double* b = a + small.nparam;
  mrlRng ra, rb;
  mrl_rng_init(&ra, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_rng_init(&rb, 3, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&small, &ra, a);
  mrl_policy_init(&full, &rb, b);
  int last = small.nlayer - 1, in = small.sizes[last], out = small.sizes[last + 1];
  double limit = sqrt(6.0 / (in + out)), largest = 0;
  for (int i = 0; i < small.nparam; i++) {
    int in_output = i >= small.woff[last] && i < small.woff[last] + in * out;
    if (!in_output) {
      cr_assert_eq(a[i], b[i], "parameter %d outside the output weights changed", i);
      continue;
    }
    cr_assert_float_eq(b[i], 100 * a[i], 1e-12 * limit, "output weight %d", i);
    cr_assert(fabs(b[i]) <= limit, "output weight %d = %g beyond %g", i, b[i], limit);
    largest = fmax(largest, fabs(b[i]));
  }
  cr_assert(largest > 0.5 * limit, "output weights %g: not Glorot-sized", largest);
  free(a);
}
