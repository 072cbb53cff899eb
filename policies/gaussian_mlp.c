// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// gaussian_mlp.c: the Gaussian MLP policy. mean = MLP(obs) with a linear
// output layer, std = exp(log_std) independent of the state. Forward and
// backward work on a whole batch with OpenBLAS matrix products; the flat
// parameter vector is passed in, so adapted parameters need no copy. With
// policy.obs_norm the input is first normalized by the running observation
// statistics kept at the end of that vector. With policy.context the first
// layer also reads a context vector kept in the parameters (CAVIA): its
// contribution W_c c is the same for every row, so it is folded into that
// layer's bias once per forward instead of widening every input row.

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "metarl.h"

void mrl_mlp_layout(mrlPolicy* pol, int nin, const int* hidden, int nhidden, int nout,
                    mrlActivation activation) {
  memset(pol, 0, sizeof(*pol));
  MRL_ASSERT(nhidden >= 0 && nhidden <= MRL_MAXLAYERS);
  pol->nlayer = nhidden + 1;
  pol->sizes[0] = nin;
  for (int i = 0; i < nhidden; i++) pol->sizes[i + 1] = hidden[i];
  pol->sizes[pol->nlayer] = nout;
  pol->activation = activation;
  pol->output_init = 1;
  int off = 0;
  for (int l = 0; l < pol->nlayer; l++) {
    pol->woff[l] = off;
    off += pol->sizes[l + 1] * pol->sizes[l];
    pol->boff[l] = off;
    off += pol->sizes[l + 1];
  }
  pol->logstd_off = off;
  pol->nparam = off + nout;
}

void mrl_policy_setup(mrlPolicy* pol, const mrlConfig* cfg, int nobs, int nact) {
  mrl_mlp_layout(pol, nobs, cfg->policy.hidden, cfg->policy.nhidden, nact, cfg->policy.activation);
  pol->init_log_std = cfg->policy.init_log_std;
  pol->output_init = cfg->policy.output_init;
  pol->entropy_coef = cfg->rl.entropy_coef;
  pol->obs_norm = cfg->policy.obs_norm;
  if (cfg->policy.context > 0) {
    pol->ncontext = cfg->policy.context;
    pol->ctx_off = pol->nparam;
    pol->nparam += MRL_CONTEXT_LEN(pol);
    pol->adapt_context = cfg->inner.adapt == MRL_ADAPT_CONTEXT;
  }
  if (pol->obs_norm) {
    pol->norm_off = pol->nparam;
    pol->nparam += MRL_OBS_STATS_LEN(nobs);
  }
  if (cfg->inner.learn_lr) {  // multipliers 1 (log 0), moments 0: the block starts zeroed
    pol->lr_off = pol->nparam;
    pol->nparam += MRL_LR_BLOCK_LEN(MRL_POLICY_NTENSOR(pol));
  }
}

void mrl_policy_without_context(const mrlPolicy* pol, mrlPolicy* base) {
  *base = *pol;
  int len = MRL_CONTEXT_LEN(pol);
  base->ncontext = base->ctx_off = base->adapt_context = 0;
  base->nparam -= len;
  if (base->obs_norm) base->norm_off -= len;
  if (base->lr_off) base->lr_off -= len;
}

// Glorot-uniform weights; the output layer scaled by policy.output_init: at
// the default 0.01 the initial mean is near 0 and exploration comes from the
// log-std alone; at 1 it is rllab's initialization, which MAML's code used.
void mrl_policy_init(const mrlPolicy* pol, mrlRng* rng, double* params) {
  memset(params, 0, sizeof(double) * pol->nparam);
  for (int l = 0; l < pol->nlayer; l++) {
    int in = pol->sizes[l], out = pol->sizes[l + 1];
    double limit = sqrt(6.0 / (in + out));
    if (l == pol->nlayer - 1) limit *= pol->output_init;
    double* w = params + pol->woff[l];
    for (int i = 0; i < in * out; i++) w[i] = limit * (2.0 * mrl_rng_uniform(rng) - 1.0);
  }
  int nact = pol->sizes[pol->nlayer];
  for (int i = 0; i < nact; i++) params[pol->logstd_off + i] = pol->init_log_std;
  // policy.context: c = 0, W_c Glorot-uniform, drawn last so that every other
  // entry keeps the bits it has without a context
  if (pol->ncontext) {
    int in = pol->ncontext, out = pol->sizes[1];
    double limit = sqrt(6.0 / (in + out));
    double* wc = params + pol->ctx_off + in;
    for (int i = 0; i < in * out; i++) wc[i] = limit * (2.0 * mrl_rng_uniform(rng) - 1.0);
  }
  if (pol->obs_norm) {  // mean 0, variance 1, count 0: the identity until data is merged
    int nobs = pol->sizes[0];
    for (int k = 0; k < nobs; k++) params[pol->norm_off + nobs + k] = 1;
  }
}

void mrl_obs_norm_merge(const mrlPolicy* pol, double* params, const double* stats) {
  if (!pol->obs_norm || !(stats[0] > 0)) return;
  int nobs = pol->sizes[0];
  double* mean = params + pol->norm_off;
  double* var = mean + nobs;
  double* count = var + nobs;
  double na = *count, nb = stats[0], n = na + nb;
  for (int k = 0; k < nobs; k++) {
    double delta = stats[1 + k] - mean[k];
    double m2 = var[k] * na + stats[1 + nobs + k] + delta * delta * na * nb / n;
    mean[k] += delta * nb / n;
    var[k] = m2 / n;
  }
  *count = n;
}

void mrl_policy_tensor(const mrlPolicy* pol, int j, int* off, int* len) {
  MRL_ASSERT(j >= 0 && j < MRL_POLICY_NTENSOR(pol));
  int l = j / 2, out = l < pol->nlayer ? pol->sizes[l + 1] : 0;
  if (j == 2 * pol->nlayer) {
    *off = pol->logstd_off;
    *len = pol->sizes[pol->nlayer];
  } else if (j % 2 == 0) {
    *off = pol->woff[l];
    *len = out * pol->sizes[l];
  } else {
    *off = pol->boff[l];
    *len = out;
  }
}

void mrl_policy_inner_axpy(const mrlPolicy* pol, const double* params, double c, const double* x,
                           double* y) {
  if (pol->adapt_context) {
    for (int i = pol->ctx_off; i < pol->ctx_off + pol->ncontext; i++) y[i] -= c * x[i];
    return;
  }
  if (!pol->lr_off) {
    for (int i = 0; i < pol->nparam; i++) y[i] -= c * x[i];
    return;
  }
  for (int j = 0; j < MRL_POLICY_NTENSOR(pol); j++) {
    int off, len;
    mrl_policy_tensor(pol, j, &off, &len);
    double cj = c * exp(params[pol->lr_off + j]);
    for (int i = off; i < off + len; i++) y[i] -= cj * x[i];
  }
}

// Adam as in optim.c (beta 0.9, 0.999, epsilon 1e-8, bias correction folded
// into the step), its state in the block: a resumed run takes the same steps.
void mrl_policy_lr_meta_step(const mrlPolicy* pol, double step, double* params,
                             const double* dmult) {
  if (!pol->lr_off) return;
  int nt = MRL_POLICY_NTENSOR(pol);
  double* mult = params + pol->lr_off;
  double *m = mult + nt, *v = mult + 2 * nt, *t = mult + 3 * nt;
  *t += 1;
  double c1 = 1.0 - pow(0.9, *t), c2 = 1.0 - pow(0.999, *t);
  double a = step * sqrt(c2) / c1;
  for (int j = 0; j < nt; j++) {
    m[j] = 0.9 * m[j] + 0.1 * dmult[j];
    v[j] = 0.999 * v[j] + 0.001 * dmult[j] * dmult[j];
    mult[j] -= a * m[j] / (sqrt(v[j]) + 1e-8);
  }
}

mrlPolicyWork* mrl_policy_work_make(const mrlPolicy* pol, int maxbatch) {
  mrlPolicyWork* work = mrl_alloc(sizeof(mrlPolicyWork));
  work->maxbatch = maxbatch;
  int total = 0, widest = 0;
  for (int l = 1; l <= pol->nlayer; l++) {
    work->act_off[l] = total;
    total += maxbatch * pol->sizes[l];
  }
  for (int l = 0; l <= pol->nlayer; l++) {
    if (pol->sizes[l] > widest) widest = pol->sizes[l];
  }
  work->act = mrl_alloc(sizeof(double) * total);
  work->pattern = mrl_alloc((size_t)total);
  work->grad_act = mrl_alloc(sizeof(double) * 2 * maxbatch * widest);
  work->dmean = mrl_alloc(sizeof(double) * maxbatch * pol->sizes[pol->nlayer]);
  work->mean_probe = mrl_alloc(sizeof(double) * maxbatch * pol->sizes[pol->nlayer]);
  work->mean = work->act + work->act_off[pol->nlayer];
  if (pol->obs_norm) work->norm_input = mrl_alloc(sizeof(double) * maxbatch * pol->sizes[0]);
  if (pol->ncontext) work->ctx_bias = mrl_alloc(sizeof(double) * 2 * pol->sizes[1]);
  return work;
}

void mrl_policy_work_free(mrlPolicyWork* work) {
  if (!work) return;
  free(work->act);
  free(work->pattern);
  free(work->grad_act);
  free(work->dmean);
  free(work->mean_probe);
  free(work->norm_input);
  free(work->ctx_bias);
  free(work);
}

// The ReLU of a layer, recording which units are on. Two loops without a
// branch: half the units switch at random, and one loop doing both (doubles
// and chars in one loop do not vectorize) mispredicted its branch so often
// that it took a quarter of a MAML run's time. x > 0 ? x : 0 gives +0 for -0
// and NaN, and the unit is on exactly where the result is > 0.
static void relu(double* restrict h, unsigned char* restrict on, size_t n) {
  for (size_t i = 0; i < n; i++) h[i] = h[i] > 0 ? h[i] : 0;
  for (size_t i = 0; i < n; i++) on[i] = h[i] > 0;
}

// The same on a recorded pattern (outer.hvp_freeze_relu's second probe).
static void relu_frozen(double* restrict h, const unsigned char* restrict on, size_t n) {
  for (size_t i = 0; i < n; i++) h[i] = on[i] ? h[i] : 0;
}

void mrl_policy_forward(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                        const double* obs, int batch) {
  MRL_ASSERT(batch > 0 && batch <= work->maxbatch);
  work->batch = batch;
  if (pol->obs_norm) {  // the MLP's input is the normalized observation
    int nobs = pol->sizes[0];
    const double* mean = params + pol->norm_off;
    const double* var = mean + nobs;
    for (size_t r = 0; r < (size_t)batch; r++) {
      const double* o = obs + r * nobs;
      double* z = work->norm_input + r * nobs;
      for (int k = 0; k < nobs; k++) {
        double v = (o[k] - mean[k]) / sqrt(var[k] + 1e-8);
        z[k] = v > 10 ? 10 : v < -10 ? -10 : v;
      }
    }
    obs = work->norm_input;
  }
  work->input = obs;
  const double* x = obs;
  for (int l = 0; l < pol->nlayer; l++) {
    int in = pol->sizes[l], out = pol->sizes[l + 1];
    const double* w = params + pol->woff[l];
    const double* b = params + pol->boff[l];
    if (l == 0 && pol->ncontext) {  // b_1 + W_c c
      const double* c = params + pol->ctx_off;
      memcpy(work->ctx_bias, b, sizeof(double) * out);
      cblas_dgemv(CblasRowMajor, CblasNoTrans, out, pol->ncontext, 1.0, c + pol->ncontext,
                  pol->ncontext, c, 1, 1.0, work->ctx_bias, 1);
      b = work->ctx_bias;
    }
    double* h = work->act + work->act_off[l + 1];
    // h (batch, out) = x (batch, in) w^T (in, out), then + b
    for (int r = 0; r < batch; r++) memcpy(h + (size_t)r * out, b, sizeof(double) * out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.0, x, in, w, in, 1.0, h,
                out);
    if (l < pol->nlayer - 1) {
      size_t n = (size_t)batch * out;
      unsigned char* on = work->pattern + work->act_off[l + 1];
      if (pol->activation == MRL_ACT_TANH) {
        for (size_t i = 0; i < n; i++) h[i] = tanh(h[i]);
      } else if (work->freeze_pattern) {
        relu_frozen(h, on, n);
      } else {
        relu(h, on, n);
      }
    }
    x = h;
  }
}

void mrl_policy_backward(const mrlPolicy* pol, const double* params, mrlPolicyWork* work,
                         const double* dmean, double* grad) {
  int batch = work->batch;
  int widest = 0;
  for (int l = 0; l <= pol->nlayer; l++) {
    if (pol->sizes[l] > widest) widest = pol->sizes[l];
  }
  double* buf[2] = {work->grad_act, work->grad_act + (size_t)work->maxbatch * widest};
  const double* dz = dmean;  // dL/d(pre-activation) of the current layer
  for (int l = pol->nlayer - 1; l >= 0; l--) {
    int in = pol->sizes[l], out = pol->sizes[l + 1];
    const double* x = l == 0 ? work->input : work->act + work->act_off[l];
    double* gw = grad + pol->woff[l];
    double* gb = grad + pol->boff[l];
    // gw (out, in) += dz^T (out, batch) x (batch, in)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, batch, 1.0, dz, out, x, in, 1.0,
                gw, in);
    if (l == 0 && pol->ncontext) {  // the bias's gradient, also W_c c's
      double* db = work->ctx_bias + out;
      memset(db, 0, sizeof(double) * out);
      for (int r = 0; r < batch; r++) {
        const double* row = dz + (size_t)r * out;
        for (int j = 0; j < out; j++) db[j] += row[j];
      }
      int nc = pol->ncontext;
      const double* c = params + pol->ctx_off;
      double* gc = grad + pol->ctx_off;
      // gc += W_c^T db, gW_c += db c^T
      cblas_dgemv(CblasRowMajor, CblasTrans, out, nc, 1.0, c + nc, nc, db, 1, 1.0, gc, 1);
      cblas_dger(CblasRowMajor, out, nc, 1.0, db, 1, c, 1, gc + nc, nc);
      for (int j = 0; j < out; j++) gb[j] += db[j];
      break;
    }
    for (int r = 0; r < batch; r++) {
      const double* row = dz + (size_t)r * out;
      for (int j = 0; j < out; j++) gb[j] += row[j];
    }
    if (l == 0) break;
    // dx (batch, in) = dz (batch, out) w (out, in), then through the activation
    double* dx = buf[l & 1];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in, out, 1.0, dz, out,
                params + pol->woff[l], in, 0.0, dx, in);
    size_t n = (size_t)batch * in;
    if (pol->activation == MRL_ACT_TANH) {
      for (size_t i = 0; i < n; i++) dx[i] *= 1.0 - x[i] * x[i];
    } else {
      const unsigned char* on = work->pattern + work->act_off[l];
      for (size_t i = 0; i < n; i++) dx[i] = on[i] ? dx[i] : 0;
    }
    dz = dx;
  }
}

double mrl_policy_logprob(const mrlPolicy* pol, const double* params, const mrlPolicyWork* work,
                          const double* act, int row) {
  int nact = pol->sizes[pol->nlayer];
  const double* mean = work->mean + (size_t)row * nact;
  const double* logstd = params + pol->logstd_off;
  double lp = 0;
  for (int j = 0; j < nact; j++) {
    double z = (act[j] - mean[j]) * exp(-logstd[j]);
    lp += -0.5 * z * z - logstd[j] - 0.9189385332046727;  // log(sqrt(2 pi))
  }
  return lp;
}

double mrl_policy_entropy(const mrlPolicy* pol, const double* params) {
  int nact = pol->sizes[pol->nlayer];
  double h = 0;
  for (int j = 0; j < nact; j++)
    h += params[pol->logstd_off + j] + 1.4189385332046727;  // 0.5 log(2 pi e)
  return h;
}

double mrl_entropy_bonus(const mrlPolicy* pol, const double* params, double* grad) {
  double c = pol->entropy_coef;
  if (c == 0) return 0;
  int nact = pol->sizes[pol->nlayer];
  for (int j = 0; j < nact; j++) grad[pol->logstd_off + j] -= c;
  return -c * mrl_policy_entropy(pol, params);
}
