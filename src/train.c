// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// train.c: the outer loop. Each meta-iteration adapts phi to a meta-batch of
// training tasks on the worker threads, reduces the per-task results in task
// order (so the sum is the same whatever the thread count) and updates phi:
//   reptile: phi += eps_i * mean(theta_k - phi), eps annealed linearly, or
//            mean(phi - theta_k) as the gradient of an outer step;
//   fomaml:  phi -= outer step of mean(grad L(theta_k)) on the query batch;
//   maml:    the same with the second-order meta-gradient (maml.c);
//   joint:   phi -= outer step of mean(grad L(phi)) (pooled pre-training);
//   combo:   phi -= outer step of mean(sum_s w_s g_s) over the inner gradients.
// The outer step is sgd, adam (optim.c) or trpo (trpo.c).
// Under MPI (dist.c) each rank computes a contiguous block of the tasks, the
// per-task slots are gathered to every rank in task order, and every rank
// runs the same reduction and update; only rank 0 writes the run directory.

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "metarl.h"

struct mrlTrainer_ {
  mrlConfig cfg;
  mrlFamily* fam;
  mrlPolicy pol;
  double* phi;     // (nparam) meta-parameters
  mrlOptim outer;  // sgd or adam state (trpo keeps none)
  // trpo: this rank's tasks keep their batches until the outer step
  mrlTrustSet** trust;    // (meta_batch) trust sets, set for this rank's tasks
  mrlBatch** task_saved;  // (tasks of this rank, nsaved) batches of each inner step
  double* task_thetas;    // (tasks of this rank, nsaved, nparam) theta_s of each
  int nsaved;             // batches kept per task
  mrlPolicyWork** works;  // (nworker) views of the learners' scratch, for trpo
  mrlPool* pool;
  mrlLearner** learners;      // (nworker)
  double* task_params;        // (meta_batch, ntask)
  double* results;            // (meta_batch, nparam) per-task update direction
  double* returns;            // (meta_batch, steps + 1) per-task mean returns
  long* task_steps;           // (meta_batch) env steps per task
  mrlBatchStats* task_stats;  // (meta_batch, steps + 1) per-task batch statistics
  double* mean_result;        // (nparam)
  int task_begin, task_end;   // this rank's tasks of the meta-batch
  double* obs_stats;          // (meta_batch, MRL_OBS_STATS_LEN(nobs)) policy.obs_norm: per task
  // rl.vf_shared: the value network carried across iterations, and each
  // task's fit of it (MRL_VALUE_STATE_LEN doubles each)
  double* vf_state;
  double* vf_slots;  // (meta_batch, MRL_VALUE_STATE_LEN)
  int vf_len;
  // joint training with inner.step=ppo: the PPO epochs over every task's
  // batch at phi (kept in task_saved, one slot a task)
  mrlPpoPool* ppo_pool;
  // numerics: a task whose result is not finite is left out of the mean; a
  // step that would make phi non-finite is undone from these copies
  int* task_ok;            // (meta_batch) 1 if the task's result and returns are finite
  int* task_chosen;        // (meta_batch) 1 if the task is in the outer objective (worst_fraction)
  long* task_bl_failures;  // (meta_batch) failed baseline fits of the task
  double* backup;          // (3, nparam) phi, Adam's m and v before the outer step
  int skipped_in_a_row;    // updates skipped since the last one taken
  int iteration;           // iterations done
  long total_steps;
  double start_time;
};


// Plain Reptile moves phi by eps itself; every other update is a gradient.
static int uses_outer_optim(const mrlConfig* cfg) {
  return cfg->outer.algo != MRL_OUTER_REPTILE || cfg->outer.reptile_as_gradient;
}

int mrl_train_check_ranks(const mrlConfig* cfg, const mrlFamily* fam, int nrank, char* err,
                          size_t errlen) {
  if (cfg->outer.algo == MRL_OUTER_JOINT && cfg->inner.step == MRL_INNER_PPO && !fam->supervised &&
      cfg->outer.optim != MRL_OPT_TRPO && nrank > 1) {
    return mrl_error(err, errlen,
                     "outer.algo=joint with inner.step=ppo takes its PPO epochs over every task's "
                     "batch in one process: run it with one rank (the threads still sample in "
                     "parallel)");
  }
  return 0;
}

mrlTrainer* mrl_trainer_make(const mrlConfig* cfg, char* err, size_t errlen) {
  mrlFamily* fam = mrl_family_make(cfg, err, errlen);
  if (!fam) return NULL;
  if (mrl_train_check_ranks(cfg, fam, mrl_dist_size(), err, errlen)) {
    mrl_family_free(fam);
    return NULL;
  }
  mrlTrainer* tr = mrl_alloc(sizeof(mrlTrainer));
  tr->cfg = *cfg;
  tr->fam = fam;
  mrl_policy_setup(&tr->pol, cfg, fam->nobs, fam->nact);
  int n = tr->pol.nparam, m = cfg->outer.meta_batch;
  tr->phi = mrl_alloc(sizeof(double) * n);
  mrlRng rng;
  mrl_rng_init(&rng, cfg->seed, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&tr->pol, &rng, tr->phi);
  // trpo: an sgd record with no moments (its step is mrl_trpo_step)
  mrl_optim_init(&tr->outer, cfg->outer.optim == MRL_OPT_TRPO ? MRL_OPT_SGD : cfg->outer.optim, n,
                 cfg->outer.lr);
  tr->pool = mrl_pool_make(mrl_dist_threads(cfg->threads));
  int nworker = mrl_pool_size(tr->pool);
  tr->learners = mrl_alloc(sizeof(mrlLearner*) * nworker);
  mrl_dist_range(m, mrl_dist_rank(), mrl_dist_size(), &tr->task_begin, &tr->task_end);
  // maml needs every batch and theta_s; trpo keeps them per task until the
  // outer step (maml: all k + 1; the others: the first batch, at phi)
  int trpo = cfg->outer.optim == MRL_OPT_TRPO && uses_outer_optim(cfg);
  int maml = cfg->outer.algo == MRL_OUTER_MAML;
  int nsaved = maml ? cfg->inner.steps + 1 : trpo ? 1 : 0;
  tr->works = mrl_alloc(sizeof(mrlPolicyWork*) * nworker);
  for (int w = 0; w < nworker; w++) {
    tr->learners[w] = mrl_learner_make(cfg, fam, &tr->pol, cfg->inner.episodes);
    mrl_learner_keep(tr->learners[w], trpo ? 0 : nsaved, cfg->outer.algo == MRL_OUTER_COMBO);
    tr->works[w] = tr->learners[w]->work;
  }
  // joint training with PPO steps: one PPO update on the pooled batches
  int pooled_ppo = cfg->outer.algo == MRL_OUTER_JOINT && cfg->inner.step == MRL_INNER_PPO &&
                   !fam->supervised && !trpo;
  if (pooled_ppo) nsaved = 1;
  if (trpo || pooled_ppo) {
    int local = tr->task_end - tr->task_begin, rows = cfg->inner.episodes * fam->horizon;
    tr->nsaved = nsaved;
    tr->task_saved = mrl_alloc(sizeof(mrlBatch*) * local * nsaved);
    tr->task_thetas = mrl_alloc(sizeof(double) * (size_t)local * nsaved * n);
    for (int i = 0; i < local * nsaved; i++) {
      tr->task_saved[i] = mrl_batch_make(cfg->inner.episodes, fam->horizon, fam->nobs, fam->nact);
    }
    if (trpo) {
      tr->trust = mrl_alloc(sizeof(mrlTrustSet*) * m);
      for (int j = tr->task_begin; j < tr->task_end; j++)
        tr->trust[j] = mrl_trust_make(&tr->pol, rows,
                                      cfg->outer.algo == MRL_OUTER_MAML ? cfg->inner.steps : 0);
    } else {
      tr->ppo_pool = mrl_ppo_pool_make(&tr->pol, m, rows);
    }
  }
  tr->task_params = mrl_alloc(sizeof(double) * m * fam->ntask);
  tr->results = mrl_alloc(sizeof(double) * (size_t)m * n);
  tr->returns = mrl_alloc(sizeof(double) * m * (cfg->inner.steps + 1));
  tr->task_steps = mrl_alloc(sizeof(long) * m);
  tr->task_stats = mrl_alloc(sizeof(mrlBatchStats) * m * (cfg->inner.steps + 1));
  tr->mean_result = mrl_alloc(sizeof(double) * n);
  if (tr->pol.obs_norm) {
    tr->obs_stats = mrl_alloc(sizeof(double) * m * MRL_OBS_STATS_LEN(fam->nobs));
  }
  if (cfg->rl.vf_shared) {  // every learner's network starts from the same seeded weights
    const mrlValueNet* vf = tr->learners[0]->baseline->vf;
    tr->vf_len = MRL_VALUE_STATE_LEN(vf);
    tr->vf_state = mrl_alloc(sizeof(double) * tr->vf_len);
    tr->vf_slots = mrl_alloc(sizeof(double) * m * tr->vf_len);
    mrl_value_initial_state(vf, tr->vf_state);
  }
  tr->task_ok = mrl_alloc(sizeof(int) * m);
  tr->task_chosen = mrl_alloc(sizeof(int) * m);
  tr->task_bl_failures = mrl_alloc(sizeof(long) * m);
  tr->backup = mrl_alloc(sizeof(double) * 3 * n);
  tr->start_time = mrl_now();
  return tr;
}

void mrl_trainer_free(mrlTrainer* tr) {
  if (!tr) return;
  int nworker = mrl_pool_size(tr->pool);
  mrl_pool_free(tr->pool);
  for (int w = 0; w < nworker; w++) mrl_learner_free(tr->learners[w]);
  free(tr->learners);
  free(tr->works);
  if (tr->trust) {
    for (int j = tr->task_begin; j < tr->task_end; j++) mrl_trust_free(tr->trust[j]);
    free(tr->trust);
  }
  if (tr->task_saved) {
    int nbatch = (tr->task_end - tr->task_begin) * tr->nsaved;
    for (int i = 0; i < nbatch; i++) mrl_batch_free(tr->task_saved[i]);
    free(tr->task_saved);
    free(tr->task_thetas);
  }
  mrl_ppo_pool_free(tr->ppo_pool);
  free(tr->task_ok);
  free(tr->task_chosen);
  free(tr->task_bl_failures);
  free(tr->backup);
  mrl_optim_free(&tr->outer);
  mrl_family_free(tr->fam);
  free(tr->phi);
  free(tr->task_params);
  free(tr->results);
  free(tr->returns);
  free(tr->task_steps);
  free(tr->task_stats);
  free(tr->mean_result);
  free(tr->obs_stats);
  free(tr->vf_state);
  free(tr->vf_slots);
  free(tr);
}

double* mrl_trainer_params(mrlTrainer* tr) {
  return tr->phi;
}

const mrlPolicy* mrl_trainer_policy(const mrlTrainer* tr) {
  return &tr->pol;
}

mrlFamily* mrl_trainer_family(mrlTrainer* tr) {
  return tr->fam;
}

int mrl_trainer_iteration(const mrlTrainer* tr) {
  return tr->iteration;
}

mrlOptim* mrl_trainer_outer_optim(mrlTrainer* tr) {
  return &tr->outer;
}

long mrl_trainer_total_steps(const mrlTrainer* tr) {
  return tr->total_steps;
}

const double* mrl_trainer_value_state(const mrlTrainer* tr) {
  return tr->vf_state;
}

int mrl_trainer_value_len(const mrlTrainer* tr) {
  return tr->vf_len;
}

int mrl_trainer_save(const mrlTrainer* tr, const char* path, char* err, size_t errlen) {
  return mrl_checkpoint_save_state(path, &tr->pol, tr->phi, tr->iteration, tr->total_steps,
                                   &tr->outer, tr->vf_state, tr->vf_len, err, errlen);
}

int mrl_trainer_restore(mrlTrainer* tr, const char* path, char* err, size_t errlen) {
  int iteration = 0;
  long steps = 0;
  if (mrl_checkpoint_load_state(path, &tr->pol, tr->phi, &iteration, &steps, &tr->outer,
                                tr->vf_state, tr->vf_len, err, errlen)) {
    return -1;
  }
  if (iteration < 0 || iteration > tr->cfg.outer.iterations) {
    return mrl_error(err, errlen, "checkpoint '%s' is at iteration %d, outside 0..%d", path,
                     iteration, tr->cfg.outer.iterations);
  }
  tr->iteration = iteration;
  tr->total_steps = steps;
  return 0;
}

// One task of the meta-batch on one worker: writes only its own slots.
static void task_job(void* ctx, int worker, int job) {
  mrlTrainer* tr = ctx;
  const mrlConfig* cfg = &tr->cfg;
  mrlLearner* ln = tr->learners[worker];
  int n = tr->pol.nparam, k = cfg->outer.algo == MRL_OUTER_JOINT ? 0 : cfg->inner.steps;
  int nret = cfg->inner.steps + 1;
  double* task = tr->task_params + (size_t)job * tr->fam->ntask;
  double* result = tr->results + (size_t)job * n;
  double* returns = tr->returns + (size_t)job * nret;
  mrl_task_sample(tr->fam, cfg, 0, tr->iteration, job, task);
  int need_query = cfg->outer.algo != MRL_OUTER_REPTILE;
  mrlBatchStats* stats = tr->task_stats + (size_t)job * nret;
  ln->stats = stats;
  ln->obs_stats =
      tr->obs_stats ? tr->obs_stats + (size_t)job * MRL_OBS_STATS_LEN(tr->fam->nobs) : NULL;
  long bl_failures = ln->baseline_failures;
  if (tr->task_saved) {  // this task's own slots, kept until the outer step
    size_t local = (size_t)(job - tr->task_begin) * tr->nsaved;
    mrl_learner_lend(ln, tr->nsaved, tr->task_saved + local, tr->task_thetas + local * n);
  }
  tr->task_steps[job] = mrl_inner_adapt(cfg, ln, task, tr->phi, k, cfg->seed, tr->iteration, job,
                                        need_query, returns);
  ln->stats = NULL;
  ln->obs_stats = NULL;
  if (tr->vf_slots) mrl_value_task_slot(ln->baseline->vf, tr->vf_slots + (size_t)job * tr->vf_len);
  double t0 = mrl_now();
  switch (cfg->outer.algo) {
  case MRL_OUTER_REPTILE:
    if (cfg->outer.reptile_as_gradient) {
      for (int i = 0; i < n; i++) result[i] = tr->phi[i] - ln->theta[i];
    } else {
      for (int i = 0; i < n; i++) result[i] = ln->theta[i] - tr->phi[i];
    }
    break;
  case MRL_OUTER_FOMAML:
  case MRL_OUTER_JOINT:
    // fomaml: gradient at theta_k on the query batch; joint: k = 0, at phi
    mrl_loss_grad(&tr->pol, ln->theta, ln->work, ln->batch, result);
    break;
  case MRL_OUTER_MAML:
    mrl_maml_meta_grad(cfg, ln, k, result);
    break;
  case MRL_OUTER_COMBO:
    memcpy(result, ln->grad_sum, sizeof(double) * n);
    break;
  }
  if (tr->trust) {  // maml bounds theta_k(phi'); the others phi' on the first batch
    int k_trust = cfg->outer.algo == MRL_OUTER_MAML ? k : 0;
    mrl_trust_load(tr->trust[job], cfg, k_trust, ln->saved, ln->thetas, ln->work);
  }
  ln->phase_seconds[MRL_PHASE_OUTER] += mrl_now() - t0;
  tr->task_bl_failures[job] = ln->baseline_failures - bl_failures;
  // a non-finite reward, gradient or inner step shows in the result or the
  // returns: such a task is left out of the mean, never added to phi
  int ok = 1;
  for (int i = 0; i < n && ok; i++) ok = isfinite(result[i]);
  for (int s = 0; s <= k && ok; s++) ok = isfinite(returns[s]);
  tr->task_ok[job] = ok;
  if (k < cfg->inner.steps) {  // joint: no adaptation, "after" equals "before"
    for (int s = k + 1; s < nret; s++) {
      returns[s] = returns[k];
      stats[s] = stats[k];
    }
  }
}

// The pool numbers jobs from 0: job i is this rank's task task_begin + i.
static void rank_task_job(void* ctx, int worker, int job) {
  mrlTrainer* tr = ctx;
  task_job(ctx, worker, tr->task_begin + job);
}

// Every rank gets every task's slots, in task order: the update direction,
// returns, env steps, batch statistics and numerical events (trpo gathers
// its own per-task slots).
static void gather_slots(mrlTrainer* tr) {
  if (mrl_dist_size() == 1) return;
  const mrlConfig* cfg = &tr->cfg;
  int n = tr->pol.nparam, m = cfg->outer.meta_batch, nret = cfg->inner.steps + 1;
  mrl_dist_gather_tasks(tr->results, sizeof(double) * n, m);
  mrl_dist_gather_tasks(tr->returns, sizeof(double) * nret, m);
  mrl_dist_gather_tasks(tr->task_steps, sizeof(long), m);
  mrl_dist_gather_tasks(tr->task_stats, sizeof(mrlBatchStats) * nret, m);
  mrl_dist_gather_tasks(tr->task_ok, sizeof(int), m);
  mrl_dist_gather_tasks(tr->task_bl_failures, sizeof(long), m);
  if (tr->obs_stats) {
    mrl_dist_gather_tasks(tr->obs_stats, sizeof(double) * MRL_OBS_STATS_LEN(tr->fam->nobs), m);
  }
  if (tr->vf_slots) mrl_dist_gather_tasks(tr->vf_slots, sizeof(double) * tr->vf_len, m);
}

static void mean_std(const double* x, int n, int stride, double* mean, double* std) {
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) s += x[(size_t)i * stride];
  *mean = s / n;
  for (int i = 0; i < n; i++) {
    double d = x[(size_t)i * stride] - *mean;
    ss += d * d;
  }
  *std = sqrt(ss / n);
}

// Reptile's step size: eps_i = (i/N) eps_end + (1 - i/N) eps_start.
static double reptile_eps(const mrlConfig* cfg, int iteration) {
  double frac = (double)iteration / cfg->outer.iterations;
  return frac * cfg->outer.eps_end + (1 - frac) * cfg->outer.eps_start;
}

// outer.worst_fraction: chosen[j] = 1 for the round(fraction x nok) finite
// tasks (at least one) whose return after adaptation (the last batch's) is
// lowest, ties to the lower task index, so that every rank and thread count
// chooses the same; fraction 1 chooses every finite task. Returns how many.
// Why: a task-robust objective (the worst tasks' mean) keeps the outer step
// from serving the tasks the initialization already adapts to well.
static int choose_tasks(const mrlConfig* cfg, const int* ok, const double* returns, int m, int nok,
                        int* chosen) {
  int nret = cfg->inner.steps + 1;
  int count = cfg->outer.worst_fraction >= 1 ? nok : (int)(cfg->outer.worst_fraction * nok + 0.5);
  if (count < 1) count = 1;
  for (int j = 0; j < m; j++) {
    chosen[j] = 0;
    if (!ok[j]) continue;
    double rj = returns[(size_t)j * nret + nret - 1];
    int below = 0;  // finite tasks ranked before j
    for (int i = 0; i < m && below < count; i++) {
      double ri = returns[(size_t)i * nret + nret - 1];
      below += ok[i] && (ri < rj || (ri == rj && i < j));
    }
    chosen[j] = below < count;
  }
  return nok < count ? nok : count;
}

// The TRPO columns of an iteration that took no TRPO step: empty cells, not a
// step of KL 0.
static void clear_trpo_stats(mrlProgress* row) {
  row->trpo_kl = row->trpo_loss_before = row->trpo_loss_after = row->trpo_backtracks = NAN;
}

int mrl_trainer_iterate(mrlTrainer* tr, mrlProgress* row, char* err, size_t errlen) {
  const mrlConfig* cfg = &tr->cfg;
  int n = tr->pol.nparam, m = cfg->outer.meta_batch, nret = cfg->inner.steps + 1;
  int nworker = mrl_pool_size(tr->pool);
  double before[MRL_NPHASE] = {0};
  for (int w = 0; w < nworker; w++) {
    for (int p = 0; p < MRL_NPHASE; p++) before[p] += tr->learners[w]->phase_seconds[p];
  }
  for (int w = 0; w < nworker && tr->vf_state; w++) {
    mrl_value_load_state(tr->learners[w]->baseline->vf, tr->vf_state);
  }
  mrl_pool_run(tr->pool, tr->task_end - tr->task_begin, rank_task_job, tr);
  if (mrl_dist_fault(tr->iteration) == MRL_FAULT_PERTURB) {
    tr->phi[0] = nextafter(tr->phi[0], INFINITY);  // test hook: one rank's phi drifts
  }
  double t0 = mrl_now();
  gather_slots(tr);

  // reduce the chosen finite tasks in task order: the same additions in the
  // same order for any threads
  memset(tr->mean_result, 0, sizeof(double) * n);
  long steps = 0;
  int nok = 0, bl_failures = 0;
  for (int j = 0; j < m; j++) {
    steps += tr->task_steps[j];
    bl_failures += (int)tr->task_bl_failures[j];
    nok += tr->task_ok[j] != 0;
  }
  int nchosen = choose_tasks(cfg, tr->task_ok, tr->returns, m, nok, tr->task_chosen);
  for (int j = 0; j < m; j++) {
    if (!tr->task_chosen[j]) continue;
    const double* r = tr->results + (size_t)j * n;
    for (int i = 0; i < n; i++) tr->mean_result[i] += r[i];
  }
  int finite = nok > 0;
  for (int i = 0; i < n && finite; i++) {
    tr->mean_result[i] /= nchosen;
    finite = isfinite(tr->mean_result[i]);  // a sum of finite results can overflow
  }
  double step = 0;
  clear_trpo_stats(row);
  if (finite) {
    // undo copies: an overflowing step must leave phi and the optimizer as they were
    double* keep_m = tr->backup + n;
    double* keep_v = tr->backup + 2 * (size_t)n;
    long keep_t = tr->outer.t;
    memcpy(tr->backup, tr->phi, sizeof(double) * n);
    if (tr->outer.m) {
      memcpy(keep_m, tr->outer.m, sizeof(double) * n);
      memcpy(keep_v, tr->outer.v, sizeof(double) * n);
    }
    // inner.learn_lr: the multipliers' gradient is set aside for their own
    // Adam step after the outer step, which must leave them (TRPO's trust
    // sets hold the inner steps taken with them; its curvature has none there)
    double dmult[MRL_MAX_NTENSOR];
    int nt = tr->pol.lr_off ? MRL_POLICY_NTENSOR(&tr->pol) : 0;
    for (int j = 0; j < nt; j++) {
      dmult[j] = tr->mean_result[tr->pol.lr_off + j];
      tr->mean_result[tr->pol.lr_off + j] = 0;
    }
    if (!uses_outer_optim(cfg)) {
      step = reptile_eps(cfg, tr->iteration);
      for (int i = 0; i < n; i++) tr->phi[i] += step * tr->mean_result[i];
    } else if (tr->ppo_pool) {
      // the finite tasks' batches, in task order (this process holds them all)
      int nb = 0;
      for (int j = 0; j < m; j++) {
        if (tr->task_ok[j]) tr->ppo_pool->batches[nb++] = tr->task_saved[j - tr->task_begin];
      }
      step = cfg->outer.lr;
      mrl_ppo_pooled_step(cfg, &tr->pol, tr->ppo_pool, tr->ppo_pool->batches, nb, tr->phi,
                          &tr->outer, step, cfg->seed, tr->iteration);
    } else if (tr->trust) {
      // step: the multiple of F^-1 g taken (0: rejected by the line search);
      // maml and joint have the surrogate of phi' to check, fomaml and combo not
      int check = cfg->outer.algo == MRL_OUTER_MAML || cfg->outer.algo == MRL_OUTER_JOINT;
      mrlTrpoStats st;
      step =
          mrl_trpo_step(cfg, &tr->pol, tr->trust, tr->task_ok, tr->task_chosen, m, tr->task_begin,
                        tr->task_end, check, tr->works, tr->pool, tr->phi, tr->mean_result, &st);
      row->trpo_kl = st.kl;
      row->trpo_loss_before = st.surrogate_before;
      row->trpo_loss_after = st.surrogate_after;
      row->trpo_backtracks = st.backtracks < 0 ? NAN : st.backtracks;
    } else {
      step = cfg->outer.lr;
      mrl_optim_step(&tr->outer, tr->phi, tr->mean_result, step);
    }
    if (nt) mrl_policy_lr_meta_step(&tr->pol, cfg->inner.learn_lr_step, tr->phi, dmult);
    // Adam's second moment squares the gradient and can overflow where phi
    // does not: such a state would freeze phi and could not be checkpointed
    for (int i = 0; i < n && finite; i++) {
      finite = isfinite(tr->phi[i]) &&
               (!tr->outer.m || (isfinite(tr->outer.m[i]) && isfinite(tr->outer.v[i])));
    }
    if (!finite) {
      memcpy(tr->phi, tr->backup, sizeof(double) * n);
      if (tr->outer.m) {
        memcpy(tr->outer.m, keep_m, sizeof(double) * n);
        memcpy(tr->outer.v, keep_v, sizeof(double) * n);
      }
      tr->outer.t = keep_t;
      step = 0;
      clear_trpo_stats(row);  // the step was undone: no step was taken
    }
  }
  tr->skipped_in_a_row = finite ? 0 : tr->skipped_in_a_row + 1;
  if (tr->skipped_in_a_row >= MRL_MAX_SKIPPED_UPDATES) {
    return mrl_error(err, errlen,
                     "iteration %d: %d updates in a row were not finite (the inner or outer "
                     "step diverged: %d of %d tasks left); phi is left as it was: lower "
                     "inner.lr or outer.lr",
                     tr->iteration, tr->skipped_in_a_row, nok, m);
  }

  // policy.obs_norm: the observations of the finite tasks' first batches join
  // the running statistics, in task order, after the update (which used the old ones)
  for (int j = 0; j < m && tr->obs_stats; j++) {
    if (tr->task_ok[j]) {
      mrl_obs_norm_merge(&tr->pol, tr->phi,
                         tr->obs_stats + (size_t)j * MRL_OBS_STATS_LEN(tr->fam->nobs));
    }
  }

  // rl.vf_shared: the finite tasks' value fits, in task order
  if (tr->vf_state) {
    mrl_value_merge(tr->learners[0]->baseline->vf, tr->vf_state, tr->vf_slots, tr->task_ok, m);
  }

  tr->total_steps += steps;
  for (int p = 0; p < MRL_NPHASE; p++) {
    row->phase_seconds[p] = -before[p];
    for (int w = 0; w < nworker; w++) row->phase_seconds[p] += tr->learners[w]->phase_seconds[p];
  }
  row->phase_seconds[MRL_PHASE_OUTER] += mrl_now() - t0;
  row->phase_seconds[MRL_PHASE_LOG] = 0;  // the caller's
  row->iteration = tr->iteration;
  row->total_env_steps = tr->total_steps;
  mean_std(tr->returns, m, nret, &row->return_pre, &row->std_pre);
  mean_std(tr->returns + nret - 1, m, nret, &row->return_post, &row->std_post);
  row->step_size = step;
  mrl_return_stats_pool(tr->task_stats, m, nret, &row->pre);
  mrl_return_stats_pool(tr->task_stats + nret - 1, m, nret, &row->post);
  row->metatest = 0;
  row->ranks = mrl_dist_size();
  row->skipped_tasks = m - nok;
  row->baseline_failures = bl_failures;
  row->skipped_update = !finite;
  row->seconds = mrl_now() - tr->start_time;
  tr->iteration++;
  return 0;
}

//------------------------------- the train job ------------------------------

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

static int save_checkpoints(const char* rundir, mrlTrainer* tr, char* err, size_t errlen) {
  char path[MRL_STRLEN * 4];
  snprintf(path, sizeof(path), "%s/checkpoints/iter_%06d.ckpt", rundir, tr->iteration);
  if (mrl_trainer_save(tr, path, err, errlen)) return -1;
  snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
  return mrl_trainer_save(tr, path, err, errlen);
}

// Resume: keep the header and the rows of iterations before `iteration` (the
// checkpoint's count of iterations done); rows written after the checkpoint
// by the interrupted run are dropped, so that none is duplicated. A run
// started by an older metarl has other columns: its header becomes today's
// and each kept row is moved under it by column name (columns it lacks stay
// empty), so that the rows appended now line up with the header. *seconds
// gets the Time of the last row kept (0 if none).
static int truncate_progress(const char* path, int iteration, double* seconds, char* err,
                             size_t errlen) {
  FILE* f = fopen(path, "r");
  if (!f) return mrl_error(err, errlen, "cannot read '%s': %s", path, strerror(errno));
  char tmp[MRL_STRLEN * 4 + 16];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE* g = fopen(tmp, "w");
  if (!g) {
    fclose(f);
    return mrl_error(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
  }
  enum { MAXCOL = 64 };
  char line[8192], header[8192] = "", kept[8192];
  int time_col = 0;
  while (time_col < mrl_progress_ncolumns && strcmp(mrl_progress_columns[time_col], "Time")) {
    time_col++;
  }
  MRL_ASSERT(time_col < mrl_progress_ncolumns);
  *seconds = 0;
  char* old_names[MAXCOL];
  int old_of[MAXCOL];  // for each current column, its index in the old header (-1: none)
  int same = 1;
  if (fgets(header, sizeof(header), f)) {
    header[strcspn(header, "\r\n")] = 0;
    int nold = mrl_csv_split(header, old_names, MAXCOL);
    same = nold == mrl_progress_ncolumns;
    for (int c = 0; c < mrl_progress_ncolumns; c++) {
      old_of[c] = -1;
      for (int o = 0; o < nold; o++) {
        if (!strcmp(old_names[o], mrl_progress_columns[c])) old_of[c] = o;
      }
      same = same && old_of[c] == c;
    }
  }
  for (int c = 0; c < mrl_progress_ncolumns; c++) {
    fprintf(g, "%s%s", c ? "," : "", mrl_progress_columns[c]);
  }
  fputc('\n', g);
  while (fgets(line, sizeof(line), f)) {
    // rows whose Iteration (today's first column) is before the checkpoint
    char* fields[MAXCOL];
    if (same) {
      if (atoi(line) >= iteration) continue;
      fputs(line, g);
      memcpy(kept, line, strlen(line) + 1);  // split cuts its copy, not the row written
      kept[strcspn(kept, "\r\n")] = 0;
      if (mrl_csv_split(kept, fields, MAXCOL) > time_col) *seconds = atof(fields[time_col]);
      continue;
    }
    line[strcspn(line, "\r\n")] = 0;
    int nf = mrl_csv_split(line, fields, MAXCOL);
    int it = old_of[0];
    if (it < 0 || it >= nf || atoi(fields[it]) >= iteration) continue;
    for (int c = 0; c < mrl_progress_ncolumns; c++) {
      int o = old_of[c];
      fprintf(g, "%s%s", c ? "," : "", o >= 0 && o < nf ? fields[o] : "");
    }
    fputc('\n', g);
    int o = old_of[time_col];
    if (o >= 0 && o < nf) *seconds = atof(fields[o]);
  }
  fclose(f);
  if (fclose(g) || rename(tmp, path)) {
    unlink(tmp);
    return mrl_error(err, errlen, "cannot rewrite '%s': %s", path, strerror(errno));
  }
  return 0;
}

// Resume: remove the temporary checkpoints (NAME.ckpt.tmp.PID) of a run that
// was killed while saving; the checkpoints they were to replace are whole.
static void remove_stale_temporaries(const char* rundir) {
  char dir[MRL_STRLEN * 4], path[MRL_STRLEN * 4 + 256];
  snprintf(dir, sizeof(dir), "%s/checkpoints", rundir);
  DIR* d = opendir(dir);
  if (!d) return;
  for (struct dirent* e; (e = readdir(d));) {
    if (strstr(e->d_name, ".ckpt.tmp.")) {
      snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
      unlink(path);
    }
  }
  closedir(d);
}

// Rank 0's trainer state to every rank: a resumed checkpoint is read by
// rank 0 alone, and a fresh phi is the same on every rank anyway.
static void share_state(mrlTrainer* tr) {
  if (mrl_dist_size() == 1) return;
  int n = tr->pol.nparam;
  mrl_dist_bcast(tr->phi, sizeof(double) * n, 0);
  mrl_dist_bcast(&tr->iteration, sizeof(tr->iteration), 0);
  mrl_dist_bcast(&tr->total_steps, sizeof(tr->total_steps), 0);
  mrl_dist_bcast(&tr->outer.t, sizeof(tr->outer.t), 0);
  if (tr->outer.m) mrl_dist_bcast(tr->outer.m, sizeof(double) * n, 0);
  if (tr->outer.v) mrl_dist_bcast(tr->outer.v, sizeof(double) * n, 0);
  if (tr->vf_state) mrl_dist_bcast(tr->vf_state, sizeof(double) * tr->vf_len, 0);
}

int mrl_train_run(const mrlConfig* cfg, const char* rundir, FILE* out, char* err, size_t errlen) {
  // every rank builds a trainer; rank 0 alone reads and writes rundir
  int root = mrl_dist_rank() == 0, nrank = mrl_dist_size();
  mrlTrainer* tr = mrl_trainer_make(cfg, err, errlen);
  if (mrl_dist_agree(tr ? 0 : MRL_EXIT_USAGE, err, errlen)) {
    mrl_trainer_free(tr);
    return MRL_EXIT_USAGE;
  }
  char path[MRL_STRLEN * 4];
  int resume = 0, code = 0;
  mrlLog* log = NULL;
  if (root) {
    snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", rundir);
    resume = access(path, F_OK) == 0;
    if (resume && mrl_trainer_restore(tr, path, err, errlen)) {
      // the numbered checkpoints are the way out of a damaged latest.ckpt
      size_t len = strlen(err);
      snprintf(err + len, errlen > len ? errlen - len : 0,
               "; to resume from an earlier checkpoint, copy one of %s/checkpoints/iter_*.ckpt "
               "over latest.ckpt",
               rundir);
      code = MRL_EXIT_USAGE;
    }
    if (!code && resume) remove_stale_temporaries(rundir);
    snprintf(path, sizeof(path), "%s/progress.csv", rundir);
    double seconds = 0;
    if (!code && resume && truncate_progress(path, tr->iteration, &seconds, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
    }
    // Time counts the run's training time: a resumed run goes on from its last
    // kept row (the hours it stood stopped are not counted)
    tr->start_time -= seconds;
    if (!code && !(log = mrl_log_open(rundir, cfg->outer.iterations, resume, out, err, errlen))) {
      code = MRL_EXIT_RUNTIME;
    }
    // policy.init_from: a fresh run starts from the checkpoint's parameters (a
    // resumed one from its own); a copy stays with the run, whatever becomes of the file
    if (!code && !resume && cfg->policy.init_from[0]) {
      char why[MRL_ERRLEN];
      if (mrl_checkpoint_load_warm(cfg->policy.init_from, &tr->pol, tr->phi, why, sizeof(why))) {
        snprintf(err, errlen, "policy.init_from: %s", why);
        code = MRL_EXIT_USAGE;
      }
      snprintf(path, sizeof(path), "%s/checkpoints/init.ckpt", rundir);
      if (!code && mrl_checkpoint_save(path, &tr->pol, tr->phi, 0, err, errlen)) {
        code = MRL_EXIT_RUNTIME;
      }
    }
  }
  if ((code = mrl_dist_agree(code, err, errlen))) {
    if (log) mrl_log_close(log, path, sizeof(path));
    mrl_trainer_free(tr);
    return code;
  }
  share_state(tr);
  mrl_dist_bcast(&resume, sizeof(resume), 0);

  // SIGUSR1 too: mpirun forwards it to every rank (SIGINT and SIGTERM make it
  // kill the job), so `kill -USR1 <mpirun>` checkpoints and stops a job
  struct sigaction sa, old_int, old_term, old_usr1;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGUSR1, &sa, &old_usr1);
  interrupted = 0;

  if (out) {
    fprintf(out, "training %s (%s, %d params, %d rank%s x %d threads) into %s\n", cfg->name,
            cfg->env.name, tr->pol.nparam, nrank, nrank > 1 ? "s" : "", mrl_pool_size(tr->pool),
            rundir);
    if (resume) fprintf(out, "resuming at iteration %d\n", tr->iteration);
  }
  double time_logging = 0;  // of the previous row
  while (tr->iteration < cfg->outer.iterations) {
    mrlProgress row;
    if (mrl_trainer_iterate(tr, &row, err, errlen)) {  // the same outcome on every rank
      code = MRL_EXIT_RUNTIME;
      break;
    }
    int last = tr->iteration == cfg->outer.iterations;
    // held-out meta-test: reads phi, draws from its own streams, changes nothing
    if (cfg->eval.every > 0 && (tr->iteration % cfg->eval.every == 0 || last)) {
      double t0 = mrl_now();
      // its own sampling streams, apart from every training iteration's
      mrlRng rng;
      mrl_rng_init(&rng, cfg->seed, MRL_RNG_EVAL, 0, 0, 0);
      mrl_eval_meta_test(cfg, tr->fam, &tr->pol, tr->phi, tr->vf_state, cfg->eval.train_tasks,
                         cfg->eval.steps + 1, cfg->eval.episodes, mrl_rng_u64(&rng),
                         &row.metatest_pre, &row.metatest_post, &row.metatest_post_sem);
      row.time_metatest = mrl_now() - t0;
      row.metatest = 1;
      row.seconds = mrl_now() - tr->start_time;
    }
    // a signal may reach the ranks at different iterations: stop together
    int stop = mrl_dist_max(interrupted);
    int save = last || stop || tr->iteration % cfg->log.checkpoint_every == 0;
    // ranks must agree on phi before it is saved (and every few iterations)
    if (nrank > 1 && (save || tr->iteration % MRL_DIST_CHECK_EVERY == 0) &&
        mrl_dist_check_same(tr->phi, tr->pol.nparam, tr->iteration, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
      break;
    }
    double t_log = mrl_now();
    row.phase_seconds[MRL_PHASE_LOG] = time_logging;
    if (root) {
      if (mrl_log_write(log, &row, err, errlen)) {
        code = MRL_EXIT_RUNTIME;
      } else if (save && save_checkpoints(rundir, tr, err, errlen)) {
        code = MRL_EXIT_RUNTIME;
      }
    }
    if ((code = mrl_dist_agree(code, err, errlen))) break;
    time_logging = mrl_now() - t_log;
    if (stop) {
      mrl_error(err, errlen, "interrupted at iteration %d; checkpoint saved in %s/checkpoints",
                tr->iteration, rundir);
      code = MRL_EXIT_INTERRUPTED;
      break;
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGUSR1, &old_usr1, NULL);
  char close_err[MRL_ERRLEN];
  if (log && mrl_log_close(log, close_err, sizeof(close_err)) && code == MRL_EXIT_OK) {
    snprintf(err, errlen, "%s", close_err);
    code = MRL_EXIT_RUNTIME;
  }
  code = mrl_dist_agree(code, err, errlen);
  mrl_trainer_free(tr);
  return code;
}
