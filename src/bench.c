// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// bench.c: `metarl bench`. Measures, in one process and on the same model,
// frame skip and tasks: (a) raw physics: a loop of mj_step with random
// controls and no policy, episodes restarted where the env would end them;
// (b) the sampler: the same env steps with the policy, task application,
// observations, rewards and trajectory storage; their ratio; both at 1 and N
// threads; (c) the time of each phase of meta-iterations; (d) peak memory.
// Ratios are what to read: the machine's speed cancels out of them.

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "envs.h"
#include "metarl.h"

typedef struct {
  const mrlConfig* cfg;
  const mrlFamily* fam;
  const mrlPolicy* pol;
  const double* params;
  int sampler;     // 0: raw physics, 1: the sampler
  double seconds;  // run at least this long
  int worker;
  long steps;      // out: env steps taken
  double elapsed;  // out: wall seconds
} BenchJob;

// Raw physics: random controls, frame_skip mj_steps per env step, a reset
// where the env would end the episode (horizon or unhealthy root), nothing
// else. For envs without physics, the env's own step with random actions.
static long raw_batch(const mrlConfig* cfg, const mrlFamily* fam, mrlEnv* env, mrlRng* rng,
                      double* act, double* obs) {
  long steps = 0;
  int nenv = cfg->inner.episodes;
  if (strcmp(fam->name, "mujoco")) {
    for (int i = 0; i < nenv; i++) {
      fam->reset(env, i, rng, obs);
      for (int t = 0; t < fam->horizon; t++) {
        for (int u = 0; u < fam->nact; u++) act[u] = 2 * mrl_rng_uniform(rng) - 1;
        double r;
        int done;
        fam->step(env, i, act, obs, &r, &done);
        steps++;
        if (done) break;
      }
    }
    return steps;
  }
  for (int i = 0; i < nenv; i++) {
    fam->reset(env, i, rng, obs);
    for (int t = 0; t < fam->horizon; t++) {
      steps++;
      if (mrl_mujoco_physics_step(env, i, rng)) break;
    }
  }
  return steps;
}

static void* bench_thread(void* p) {
  BenchJob* job = p;
  const mrlConfig* cfg = job->cfg;
  const mrlFamily* fam = job->fam;
  mrlLearner* ln = mrl_learner_make(cfg, fam, job->pol, cfg->inner.episodes);
  double* task = mrl_alloc(sizeof(double) * fam->ntask);
  double* act = mrl_alloc(sizeof(double) * fam->nact);
  double* obs = mrl_alloc(sizeof(double) * fam->nobs);
  mrlRng rng;
  mrl_rng_init(&rng, cfg->seed, MRL_RNG_EVAL, 0, job->worker, 0);
  long steps = 0;
  double t0 = mrl_now();
  for (int b = 0; mrl_now() - t0 < job->seconds; b++) {
    // the same task sequence in both measurements: task application included
    mrl_task_sample(fam, cfg, 0, 0, b, task);
    fam->set_task(ln->env, task);
    if (job->sampler) {
      steps += mrl_sample(fam, ln->env, job->pol, job->params, ln->work, ln->batch, cfg->seed, 0,
                          (uint64_t)job->worker * 100000 + b);
    } else {
      steps += raw_batch(cfg, fam, ln->env, &rng, act, obs);
    }
  }
  job->elapsed = mrl_now() - t0;
  job->steps = steps;
  free(task);
  free(act);
  free(obs);
  mrl_learner_free(ln);
  return NULL;
}

// Env steps per second of `nthread` threads running the same loop at once.
static double throughput(const mrlConfig* cfg, const mrlFamily* fam, const mrlPolicy* pol,
                         const double* params, int sampler, int nthread, double seconds) {
  BenchJob jobs[256];
  pthread_t threads[256];
  for (int w = 0; w < nthread; w++) {
    jobs[w] = (BenchJob){cfg, fam, pol, params, sampler, seconds, w, 0, 0};
    if (pthread_create(&threads[w], NULL, bench_thread, &jobs[w])) {
      mrl_fatal(__FILE__, __LINE__, "cannot start bench thread");
    }
  }
  double rate = 0;
  for (int w = 0; w < nthread; w++) {
    pthread_join(threads[w], NULL);
    rate += jobs[w].steps / jobs[w].elapsed;
  }
  return rate;
}

int mrl_bench_run(const mrlConfig* config, const mrlBenchOptions* opt, FILE* out, char* err,
                  size_t errlen) {
  mrlConfig cfg = *config;
  int nthread = opt->threads > 0 ? opt->threads : mrl_pool_default_threads();
  if (nthread > 256) nthread = 256;
  mrlFamily* fam = mrl_family_make(&cfg, err, errlen);
  if (!fam) return MRL_EXIT_USAGE;
  mrlPolicy pol;
  mrl_policy_setup(&pol, &cfg, fam->nobs, fam->nact);
  double* params = mrl_alloc(sizeof(double) * pol.nparam);
  mrlRng rng;
  mrl_rng_init(&rng, cfg.seed, MRL_RNG_INIT, 0, 0, 0);
  mrl_policy_init(&pol, &rng, params);

  // (a), (b): three interleaved rounds, so that a change in the machine's
  // load hits both sides of each ratio alike
  double raw1 = 0, smp1 = 0, rawn = 0, smpn = 0, slice = opt->seconds / 3;
  for (int round = 0; round < 3; round++) {
    raw1 += throughput(&cfg, fam, &pol, params, 0, 1, slice) / 3;
    smp1 += throughput(&cfg, fam, &pol, params, 1, 1, slice) / 3;
    rawn += throughput(&cfg, fam, &pol, params, 0, nthread, slice) / 3;
    smpn += throughput(&cfg, fam, &pol, params, 1, nthread, slice) / 3;
  }

  // (c): whole meta-iterations on one thread, phase by phase
  mrlConfig one = cfg;
  one.threads = 1;
  mrlTrainer* tr = mrl_trainer_make(&one, err, errlen);
  if (!tr) {
    free(params);
    mrl_family_free(fam);
    return MRL_EXIT_USAGE;
  }
  double phase[MRL_NPHASE] = {0};
  int iters = 0;
  char tmpdir[] = "/tmp/metarl-bench-XXXXXX";
  if (!mkdtemp(tmpdir)) {
    mrl_trainer_free(tr);
    free(params);
    mrl_family_free(fam);
    return mrl_error(err, errlen, "cannot create a temporary folder: %s", strerror(errno)),
           MRL_EXIT_RUNTIME;
  }
  char csv_path[128], ckpt_path[128];
  snprintf(csv_path, sizeof csv_path, "%s/progress.csv", tmpdir);
  snprintf(ckpt_path, sizeof ckpt_path, "%s/latest.ckpt", tmpdir);
  FILE* csv = fopen(csv_path, "w");
  double t0 = mrl_now();
  int code = MRL_EXIT_OK;
  while (iters < 2 || mrl_now() - t0 < opt->seconds) {
    mrlProgress row;
    if (mrl_trainer_iterate(tr, &row, err, errlen)) {
      code = MRL_EXIT_RUNTIME;
      break;
    }
    // logging as the train job does it: a progress row and a checkpoint
    double tl = mrl_now();
    if (csv) {
      fprintf(csv, "%d,%ld,%.6g,%.6g\n", row.iteration, row.total_env_steps, row.return_pre,
              row.return_post);
      fflush(csv);
    }
    char ckerr[MRL_ERRLEN];
    mrl_checkpoint_save(ckpt_path, mrl_trainer_policy(tr), mrl_trainer_params(tr),
                        mrl_trainer_iteration(tr), ckerr, sizeof ckerr);
    row.phase_seconds[MRL_PHASE_LOG] = mrl_now() - tl;
    for (int p = 0; p < MRL_NPHASE; p++) phase[p] += row.phase_seconds[p];
    iters++;
  }
  if (csv) fclose(csv);
  unlink(csv_path);
  unlink(ckpt_path);
  rmdir(tmpdir);
  mrl_trainer_free(tr);
  double total = 0;
  for (int p = 0; p < MRL_NPHASE; p++) total += phase[p];

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double peak_mb = ru.ru_maxrss / 1024.0;

  if (code == MRL_EXIT_OK && out) {
    fprintf(out,
            "metarl bench: %s (%s%s%s), frame skip %d, %d episodes per batch, %.0f s per "
            "measurement\n\n",
            cfg.name, fam->name, cfg.env.model[0] ? ", " : "", cfg.env.model, cfg.env.frame_skip,
            cfg.inner.episodes, opt->seconds);
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%d threads", nthread);
    fprintf(out, "%-34s %14s %14s %9s\n", "env steps per second", "1 thread", hdr, "scaling");
    fprintf(out, "%-34s %14.0f %14.0f %8.2fx\n", "(a) physics: mj_step, random ctrl", raw1, rawn,
            rawn / raw1);
    fprintf(out, "%-34s %14.0f %14.0f %8.2fx\n", "(b) sampler: policy, obs, storage", smp1, smpn,
            smpn / smp1);
    fprintf(out, "%-34s %14.3f %14.3f\n\n", "(b) / (a)", smp1 / raw1, smpn / rawn);
    fprintf(out, "meta-iteration phases (1 thread, %d iterations, %.1f s):\n", iters, total);
    for (int p = 0; p < MRL_NPHASE; p++) {
      fprintf(out, "  %-14s %8.3f s  %5.1f%%\n", mrl_phase_names[p], phase[p],
              100 * phase[p] / total);
    }
    fprintf(out, "  everything but sampling: %.1f%%\n", 100 * (total - phase[0]) / total);
    fprintf(out, "peak memory: %.1f MB\n", peak_mb);
  }
  if (code == MRL_EXIT_OK && opt->json) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt->json);
    FILE* f = fopen(tmp, "w");
    if (!f) {
      code = MRL_EXIT_RUNTIME;
      mrl_error(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
    } else {
      fprintf(f,
              "{\n  \"config\": \"%s\",\n  \"threads\": %d,\n  \"physics_1\": %.1f,\n"
              "  \"sampler_1\": %.1f,\n  \"ratio_1\": %.4f,\n  \"physics_n\": %.1f,\n"
              "  \"sampler_n\": %.1f,\n  \"ratio_n\": %.4f,\n  \"scaling_sampler\": %.4f,\n"
              "  \"iterations\": %d,\n  \"phases\": {",
              cfg.name, nthread, raw1, smp1, smp1 / raw1, rawn, smpn, smpn / rawn, smpn / smp1,
              iters);
      for (int p = 0; p < MRL_NPHASE; p++) {
        fprintf(f, "%s\"%s\": %.6f", p ? ", " : "", mrl_phase_names[p], phase[p]);
      }
      fprintf(f, "},\n  \"non_sampling_share\": %.4f,\n  \"peak_memory_mb\": %.1f\n}\n",
              (total - phase[0]) / total, peak_mb);
      if (fclose(f) || rename(tmp, opt->json)) {
        code = MRL_EXIT_RUNTIME;
        mrl_error(err, errlen, "cannot write '%s': %s", opt->json, strerror(errno));
        unlink(tmp);
      }
    }
  }
  free(params);
  mrl_family_free(fam);
  return code;
}
