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

// Mean and 1 / std of each input column and of the targets over the rows (a
// constant column keeps scale 1).
static void standardization(mrlValueNet* vf, int rows) {
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
      vf->in_mean[k] = mean;
      vf->in_scale[k] = scale;
    } else {
      vf->out_mean = mean;
      vf->out_std = 1 / scale;
    }
  }
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

int mrl_value_fit_predict(mrlValueNet* vf, mrlBatch* b) {
  memset(b->baseline, 0, sizeof(double) * b->nenv * b->horizon);
  if (!finite_rows(b)) return -1;  // nothing to learn from; keep the weights
  int rows = gather(vf, b);
  if (rows == 0) return 0;
  if (vf->fits == 0) standardization(vf, rows);
  standardize(vf, rows);
  train(vf, rows);
  int n = vf->net.nparam;
  for (int i = 0; i < n; i++) {
    if (!isfinite(vf->params[i])) {  // diverged: start the task's value over
      mrl_value_reset(vf, vf->iteration, vf->task_key);
      return -1;
    }
  }
  vf->fits++;
  // predictions on the rows just fitted, in gather's order
  mrl_policy_forward(&vf->net, vf->params, vf->work, vf->x, rows);
  int row = 0;
  for (int t = 0; t < b->horizon; t++) {
    for (int i = 0; i < b->nenv; i++) {
      if (t >= b->len[i]) continue;
      b->baseline[(size_t)t * b->nenv + i] = vf->out_mean + vf->out_std * vf->work->mean[row++];
    }
  }
  return 0;
}
