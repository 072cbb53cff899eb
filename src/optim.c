// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// optim.c: first-order optimizers over flat parameter vectors.

#include <math.h>
#include <string.h>

#include "metarl.h"

void mrl_optim_init(mrlOptim* opt, mrlOptimKind kind, int n, double lr) {
  memset(opt, 0, sizeof(*opt));
  opt->kind = kind;
  opt->n = n;
  opt->lr = lr;
  opt->beta1 = 0.9;
  opt->beta2 = 0.999;
  opt->epsilon = 1e-8;
  if (kind == MRL_OPT_ADAM) {
    opt->m = mrl_alloc(sizeof(double) * n);
    opt->v = mrl_alloc(sizeof(double) * n);
  }
}

void mrl_optim_free(mrlOptim* opt) {
  free(opt->m);
  free(opt->v);
  opt->m = opt->v = NULL;
}

void mrl_optim_reset(mrlOptim* opt) {
  opt->t = 0;
  if (opt->m) memset(opt->m, 0, sizeof(double) * opt->n);
  if (opt->v) memset(opt->v, 0, sizeof(double) * opt->n);
}

void mrl_optim_step(mrlOptim* opt, double* params, const double* grad, double lr) {
  int n = opt->n;
  opt->t++;
  if (opt->kind == MRL_OPT_SGD) {
    for (int i = 0; i < n; i++) params[i] -= lr * grad[i];
    return;
  }
  // Adam with bias correction folded into the step size
  double c1 = 1.0 - pow(opt->beta1, (double)opt->t);
  double c2 = 1.0 - pow(opt->beta2, (double)opt->t);
  double step = lr * sqrt(c2) / c1;
  // locals and restrict: a store to m[i] could otherwise change opt->beta1
  // and params[i] grad[i], and the loop would not vectorize (it was 8% of a
  // PPO walker run); the same operations in the same order, so the same bits
  double b1 = opt->beta1, b2 = opt->beta2, eps = opt->epsilon;
  double* restrict m = opt->m;
  double* restrict v = opt->v;
  double* restrict p = params;
  const double* restrict g = grad;
  for (int i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= step * m[i] / (sqrt(v[i]) + eps);
  }
}
