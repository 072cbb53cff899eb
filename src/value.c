// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// value.c: the learned baseline of rl.baseline=mlp. A small MLP of the
// observation and the time fitted by Adam to the returns of each batch. The
// linear feature baseline sees only [o, o^2, t, t^2, t^3]; returns of a
// walker that falls depend on the state in ways no quadratic follows, and
// with GAE lambda < 1 the advantages lean on the value directly.
//
// Determinism: every task starts from one seeded initialization; shuffles
// come from streams keyed by (seed, iteration, task, fit, epoch), so the bits
// depend on the task, never on the worker or thread that adapts it.

#include <math.h>
#include <string.h>

#include "metarl.h"

mrlValueNet* mrl_value_make(const mrlConfig* cfg, int nobs, int maxrows) {
  mrlValueNet* vf = mrl_alloc(sizeof(mrlValueNet));
  int nin = nobs + 1;  // the observation and the time t / horizon
  mrl_mlp_layout(&vf->net, nin, cfg->rl.vf_hidden, cfg->rl.vf_nhidden, 1, MRL_ACT_TANH);
  vf->nin = nin;
  vf->maxrows = maxrows;
  vf->epochs = cfg->rl.vf_epochs;
  vf->minibatches = cfg->rl.vf_minibatches;
  vf->lr = cfg->rl.vf_lr;
  vf->seed = cfg->seed;
  vf->shared = cfg->rl.vf_shared;
  vf->batch_stats = mrl_alloc(sizeof(double) * MRL_VALUE_STATS_LEN(nin));
  int n = vf->net.nparam;
  vf->init = mrl_alloc(sizeof(double) * n);
  vf->params = mrl_alloc(sizeof(double) * n);
  vf->grad = mrl_alloc(sizeof(double) * n);
  mrlRng rng;
  mrl_rng_init(&rng, vf->seed, MRL_RNG_VALUE, 0, 0, 0);
  mrl_policy_init(&vf->net, &rng, vf->init);
  mrl_optim_init(&vf->optim, MRL_OPT_ADAM, n, vf->lr);
  vf->work = mrl_policy_work_make(&vf->net, maxrows);
  vf->x = mrl_alloc(sizeof(double) * (size_t)maxrows * nin);
  vf->y = mrl_alloc(sizeof(double) * maxrows);
  vf->mb_x = mrl_alloc(sizeof(double) * (size_t)maxrows * nin);
  vf->mb_y = mrl_alloc(sizeof(double) * maxrows);
  vf->order = mrl_alloc(sizeof(int) * maxrows);
  vf->in_mean = mrl_alloc(sizeof(double) * nin);
  vf->in_scale = mrl_alloc(sizeof(double) * nin);
  mrl_value_reset(vf, 0, 0);
  return vf;
}

int mrl_value_state_len(const mrlConfig* cfg, int nobs) {
  mrlPolicy net;
  mrl_mlp_layout(&net, nobs + 1, cfg->rl.vf_hidden, cfg->rl.vf_nhidden, 1, MRL_ACT_TANH);
  return net.nparam + MRL_VALUE_STATS_LEN(nobs + 1);
}

void mrl_value_free(mrlValueNet* vf) {
  if (!vf) return;
  free(vf->init);
  free(vf->params);
  free(vf->grad);
  mrl_optim_free(&vf->optim);
  mrl_policy_work_free(vf->work);
  free(vf->x);
  free(vf->y);
  free(vf->mb_x);
  free(vf->mb_y);
  free(vf->order);
  free(vf->in_mean);
  free(vf->in_scale);
  free(vf->batch_stats);
  free(vf);
}

void mrl_value_reset(mrlValueNet* vf, uint64_t iteration, uint64_t task_key) {
  memcpy(vf->params, vf->init, sizeof(double) * vf->net.nparam);
  mrl_optim_reset(&vf->optim);
  vf->iteration = iteration;
  vf->task_key = task_key;
  vf->fits = 0;
}

static int finite_rows(const mrlBatch* b) {
  int n = b->nenv;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      size_t r = (size_t)t * n + i;
      if (!isfinite(b->ret[r])) return 0;
      for (int k = 0; k < b->nobs; k++) {
        if (!isfinite(b->obs[r * b->nobs + k])) return 0;
      }
    }
  }
  return 1;
}

// Raw inputs [o, t / horizon] and targets of the valid rows into x and y, in
// the batch's time-major order; returns the number of rows.
static int gather(mrlValueNet* vf, const mrlBatch* b) {
  int n = b->nenv, nobs = b->nobs, nin = vf->nin, rows = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < n; i++) {
      if (t >= b->len[i]) continue;
      size_t r = (size_t)t * n + i;
      double* x = vf->x + (size_t)rows * nin;
      memcpy(x, b->obs + r * nobs, sizeof(double) * nobs);
      x[nobs] = (double)t / b->horizon;
      vf->y[rows] = b->ret[r];
      rows++;
    }
  }
  MRL_ASSERT(rows <= vf->maxrows);
  return rows;
}

// Mean and 1 / std of each input column and mean and std of the targets over
// the rows into stats (MRL_VALUE_STATS_LEN; a constant column keeps scale 1).
static void standardization(const mrlValueNet* vf, int rows, double* stats) {
  int nin = vf->nin;
  for (int k = 0; k <= nin; k++) {
    double sum = 0, sumsq = 0;
    for (int r = 0; r < rows; r++) {
      double v = k < nin ? vf->x[(size_t)r * nin + k] : vf->y[r];
      sum += v;
      sumsq += v * v;
    }
    double mean = sum / rows, var = sumsq / rows - mean * mean;
    double scale = var > 1e-12 ? 1 / sqrt(var) : 1;
    if (k < nin) {
      stats[k] = mean;
      stats[nin + k] = scale;
    } else {
      stats[2 * nin] = mean;
      stats[2 * nin + 1] = 1 / scale;
    }
  }
}

static void use_standardization(mrlValueNet* vf, const double* stats) {
  int nin = vf->nin;
  memcpy(vf->in_mean, stats, sizeof(double) * nin);
  memcpy(vf->in_scale, stats + nin, sizeof(double) * nin);
  vf->out_mean = stats[2 * nin];
  vf->out_std = stats[2 * nin + 1];
}

static void standardize(mrlValueNet* vf, int rows) {
  int nin = vf->nin;
  for (int r = 0; r < rows; r++) {
    double* x = vf->x + (size_t)r * nin;
    for (int k = 0; k < nin; k++) {
      double v = (x[k] - vf->in_mean[k]) * vf->in_scale[k];
      x[k] = v > 10 ? 10 : v < -10 ? -10 : v;
    }
    vf->y[r] = (vf->y[r] - vf->out_mean) / vf->out_std;
  }
}

double mrl_value_loss_grad(mrlValueNet* vf, const double* x, const double* y, int m, double* grad) {
  const mrlPolicy* net = &vf->net;
  memset(grad, 0, sizeof(double) * net->nparam);
  mrl_policy_forward(net, vf->params, vf->work, x, m);
  double loss = 0;
  for (int r = 0; r < m; r++) {
    double d = vf->work->mean[r] - y[r];
    loss += 0.5 * d * d / m;
    vf->work->dmean[r] = d / m;
  }
  mrl_policy_backward(net, vf->params, vf->work, vf->work->dmean, grad);
  return loss;
}

// Adam over epochs of shuffled minibatches of the standardized rows.
static void train(mrlValueNet* vf, int rows) {
  int nin = vf->nin;
  int nmb = vf->minibatches < rows ? vf->minibatches : rows;
  for (int r = 0; r < rows; r++) vf->order[r] = r;
  for (int epoch = 0; epoch < vf->epochs; epoch++) {
    mrlRng rng;
    mrl_rng_init(&rng, vf->seed, MRL_RNG_VALUE, vf->iteration, vf->task_key,
                 ((uint64_t)vf->fits + 1) << 20 | (uint64_t)epoch);
    mrl_rng_shuffle(&rng, vf->order, rows);
    for (int mb = 0; mb < nmb; mb++) {
      int lo = (int)((long)rows * mb / nmb), hi = (int)((long)rows * (mb + 1) / nmb);
      int m = hi - lo;
      for (int i = 0; i < m; i++) {
        int r = vf->order[lo + i];
        memcpy(vf->mb_x + (size_t)i * nin, vf->x + (size_t)r * nin, sizeof(double) * nin);
        vf->mb_y[i] = vf->y[r];
      }
      mrl_value_loss_grad(vf, vf->mb_x, vf->mb_y, m, vf->grad);
      mrl_optim_step(&vf->optim, vf->params, vf->grad, vf->lr);
    }
  }
}

// Predictions of vf on the gathered standardized rows into b->baseline.
static void predict(mrlValueNet* vf, mrlBatch* b, int rows) {
  mrl_policy_forward(&vf->net, vf->params, vf->work, vf->x, rows);
  int row = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < b->nenv; i++) {
      if (t >= b->len[i]) continue;
      b->baseline[(size_t)t * b->nenv + i] = vf->out_mean + vf->out_std * vf->work->mean[row++];
    }
  }
}

int mrl_value_fit_predict(mrlValueNet* vf, mrlBatch* b) {
  memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
  if (!finite_rows(b)) return -1;  // nothing to learn from; keep the weights
  int rows = gather(vf, b);
  if (rows == 0) return 0;
  if (vf->fits == 0) {
    standardization(vf, rows, vf->batch_stats);
    if (!vf->shared || !vf->have_shared_stats) use_standardization(vf, vf->batch_stats);
  }
  standardize(vf, rows);
  // shared: the values of the network as it came, before it sees these returns
  if (vf->shared) predict(vf, b, rows);
  train(vf, rows);
  int n = vf->net.nparam;
  for (int i = 0; i < n; i++) {
    if (!isfinite(vf->params[i])) {  // diverged: start the task's value over
      mrl_value_reset(vf, vf->iteration, vf->task_key);
      memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
      return -1;
    }
  }
  vf->fits++;
  if (!vf->shared) predict(vf, b, rows);  // on the rows just fitted
  return 0;
}

void mrl_value_initial_state(const mrlValueNet* vf, double* state) {
  memcpy(state, vf->init, sizeof(double) * vf->net.nparam);
  memset(state + vf->net.nparam, 0, sizeof(double) * MRL_VALUE_STATS_LEN(vf->nin));
}

void mrl_value_load_state(mrlValueNet* vf, const double* state) {
  const double* stats = state + vf->net.nparam;
  memcpy(vf->init, state, sizeof(double) * vf->net.nparam);
  vf->have_shared_stats = stats[2 * vf->nin + 1] > 0;
  if (vf->have_shared_stats) use_standardization(vf, stats);
}

void mrl_value_task_slot(const mrlValueNet* vf, double* slot) {
  int len = MRL_VALUE_STATS_LEN(vf->nin);
  memcpy(slot, vf->params, sizeof(double) * vf->net.nparam);
  if (vf->fits > 0) {
    memcpy(slot + vf->net.nparam, vf->batch_stats, sizeof(double) * len);
  } else {
    memset(slot + vf->net.nparam, 0, sizeof(double) * len);
  }
}

// Rewrite the first and last layers of params so that the network under the
// standardization `to` predicts what it predicted under `from`:
//   W1' = W1 s_from / s_to (per input), b1' = b1 + W1 s_from (mu_to - mu_from);
//   w' = w sd_from / sd_to, b' = (sd_from b + m_from - m_to) / sd_to (output).
// Exact but for the +-10 clip of the inputs.
static void restandardize(const mrlValueNet* vf, double* params, const double* from,
                          const double* to) {
  const mrlPolicy* net = &vf->net;
  int nin = vf->nin, h = net->sizes[1];
  double* w = params + net->woff[0];
  double* b = params + net->boff[0];
  for (int j = 0; j < h; j++) {
    for (int k = 0; k < nin; k++) {
      double wjk = w[(size_t)j * nin + k];
      b[j] += wjk * from[nin + k] * (to[k] - from[k]);
      w[(size_t)j * nin + k] = wjk * from[nin + k] / to[nin + k];
    }
  }
  int last = net->nlayer - 1, hl = net->sizes[last];
  double sd_from = from[2 * nin + 1], sd_to = to[2 * nin + 1];
  double* wo = params + net->woff[last];
  double* bo = params + net->boff[last];
  for (int j = 0; j < hl; j++) wo[j] *= sd_from / sd_to;
  bo[0] = (sd_from * bo[0] + from[2 * nin] - to[2 * nin]) / sd_to;
}

// How far the shared standardization moves toward a meta-batch's first
// batches each iteration: returns grow several times over a run, and the
// weights are rescaled with it, so a tenth follows them within tens of
// iterations without one meta-batch's draw of tasks swinging it.
#define STATS_RATE 0.1

void mrl_value_merge(const mrlValueNet* vf, double* state, const double* slots, const int* ok,
                     int m) {
  int n = vf->net.nparam, len = MRL_VALUE_STATS_LEN(vf->nin), nin = vf->nin;
  size_t stride = (size_t)n + len;
  // once an iteration, so the scratch is allocated here (zeroed)
  double* mean_stats = mrl_alloc(sizeof(double) * len);
  double* weights = mrl_alloc(sizeof(double) * n);
  double* converted = mrl_alloc(sizeof(double) * n);
  int used = 0;
  for (int j = 0; j < m; j++) {
    const double* stats = slots + j * stride + n;
    if (!ok[j] || !(stats[2 * nin + 1] > 0)) continue;
    for (int i = 0; i < len; i++) mean_stats[i] += stats[i];
    used++;
  }
  for (int i = 0; i < len && used > 0; i++) mean_stats[i] /= used;
  double* shared_stats = state + n;
  int first = !(shared_stats[2 * nin + 1] > 0);
  for (int j = 0; j < m && used > 0; j++) {
    const double* slot = slots + j * stride;
    if (!ok[j] || !(slot[n + 2 * nin + 1] > 0)) continue;
    // before the first merge each task fitted under its own first batch's
    // standardization; after it, all under the shared one
    memcpy(converted, slot, sizeof(double) * n);
    if (first) restandardize(vf, converted, slot + n, mean_stats);
    for (int i = 0; i < n; i++) weights[i] += converted[i] / used;
  }
  if (used > 0 && first) {
    memcpy(shared_stats, mean_stats, sizeof(double) * len);
    memcpy(state, weights, sizeof(double) * n);
  } else if (used > 0) {
    for (int i = 0; i < len; i++) {  // mean_stats becomes the next standardization
      mean_stats[i] = (1 - STATS_RATE) * shared_stats[i] + STATS_RATE * mean_stats[i];
    }
    restandardize(vf, weights, shared_stats, mean_stats);
    memcpy(shared_stats, mean_stats, sizeof(double) * len);
    memcpy(state, weights, sizeof(double) * n);
  }
  free(mean_stats);
  free(weights);
  free(converted);
}
