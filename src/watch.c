// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// watch.c: a run seen through one task, for `view` and `record`. Loads the
// run (config, family, checkpoint), picks a held-out task and the --task
// keys, adapts the initialization step by step, and runs one displayed
// episode with the policy's mean action.
//
// Adaptation step i calls mrl_inner_adapt from phi with i steps, rather than
// repeating an inner loop here: the streams are keyed by (seed, iteration,
// task, step), so the first i steps of a K-step run are those of an i-step
// run, and the viewer shows exactly the parameters `metarl eval` measures
// (same seed, task index and episodes), at the cost of recomputing earlier
// steps (K(K+1)/2 batches instead of K).

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envs.h"
#include "render.h"

#ifndef METARL_SOURCE_DIR
#define METARL_SOURCE_DIR "."
#endif

static int is_dir(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// A config given as NAME means configs/NAME.yaml here, then in the source
// tree (as `metarl bench` and `metarl envs` do); anything else is a path.
static void resolve_config(const char* name, char* path, size_t n) {
  snprintf(path, n, "%s", name);
  if (!strchr(name, '/') && !strstr(name, ".yaml")) {
    snprintf(path, n, "configs/%s.yaml", name);
    if (access(path, R_OK)) snprintf(path, n, "%s/configs/%s.yaml", METARL_SOURCE_DIR, name);
  }
}

int mrl_watch_make(mrlWatch* w, const mrlWatchOptions* opt, char* err, size_t errlen) {
  char path[4096 + 64];
  memset(w, 0, sizeof(*w));
  mrl_config_default(&w->cfg);
  w->random = opt->random_config != NULL;
  if (w->random) {
    resolve_config(opt->random_config, path, sizeof(path));
  } else {
    snprintf(path, sizeof(path), "%s/config.yaml", opt->rundir);
    if (!is_dir(opt->rundir) || access(path, R_OK)) {
      mrl_error(err, errlen, "'%s' is not a run directory (no config.yaml in it)", opt->rundir);
      return MRL_EXIT_USAGE;
    }
  }
  if (mrl_config_load(&w->cfg, path, err, errlen) || mrl_config_check(&w->cfg, err, errlen)) {
    return MRL_EXIT_USAGE;
  }
  w->fam = mrl_family_make(&w->cfg, err, errlen);
  if (!w->fam) return MRL_EXIT_USAGE;
  if (strcmp(w->fam->name, "mujoco")) {
    mrl_error(err, errlen, "view and record show MuJoCo families; '%s' is a %s family", w->cfg.name,
              w->fam->name);
    return MRL_EXIT_USAGE;
  }
  const mrlFamily* fam = w->fam;
  mrl_policy_setup(&w->pol, &w->cfg, fam->nobs, fam->nact);
  w->phi = mrl_alloc(sizeof(double) * w->pol.nparam);
  w->theta = mrl_alloc(sizeof(double) * w->pol.nparam);
  w->iteration = -1;
  if (!w->random) {
    if (opt->checkpoint) {
      snprintf(path, sizeof(path), "%s", opt->checkpoint);
    } else {
      snprintf(path, sizeof(path), "%s/checkpoints/latest.ckpt", opt->rundir);
    }
    if (access(path, R_OK)) {
      mrl_error(err, errlen, "no checkpoint '%s' (%s): train the run further or pass --checkpoint",
                path, strerror(errno));
      return MRL_EXIT_USAGE;
    }
    int nvalue = w->cfg.rl.vf_shared ? mrl_value_state_len(&w->cfg, fam->nobs) : 0;
    if (nvalue) w->value_state = mrl_alloc(sizeof(double) * nvalue);
    if (mrl_checkpoint_load_state(path, &w->pol, w->phi, &w->iteration, NULL, NULL, w->value_state,
                                  nvalue, err, errlen)) {
      return MRL_EXIT_USAGE;
    }
  }
  w->nstep = w->random ? 0 : opt->steps >= 0 ? opt->steps : w->cfg.eval.steps;
  w->nepisode = opt->episodes > 0 ? opt->episodes : w->cfg.eval.episodes;
  w->seed = opt->seed;
  w->batch_return = mrl_alloc(sizeof(double) * (w->nstep + 1));
  w->task = mrl_alloc(sizeof(double) * fam->ntask);
  if (w->nstep > 0) {
    w->learner = mrl_learner_make(&w->cfg, fam, &w->pol, w->nepisode);
    // rl.vf_shared: adapt with the value network trained alongside phi
    if (w->value_state) mrl_value_load_state(w->learner->baseline->vf, w->value_state);
  }
  w->env = fam->env_make(fam, 1);
  w->work = mrl_policy_work_make(&w->pol, 1);
  w->obs = mrl_alloc(sizeof(double) * fam->nobs);
  w->act = mrl_alloc(sizeof(double) * fam->nact);
  mrl_rng_init(&w->rng, w->seed, MRL_RNG_ACTION, 0, 0, 0);
  if (opt->task && mrl_watch_parse_task(w, opt->task, err, errlen)) return MRL_EXIT_USAGE;
  mrl_watch_set_task(w, opt->task_index);
  return MRL_EXIT_OK;
}

void mrl_watch_free(mrlWatch* w) {
  if (w->fam) {
    if (w->env) w->fam->env_free(w->env);
    mrl_learner_free(w->learner);
    mrl_family_free(w->fam);
  }
  mrl_policy_work_free(w->work);
  free(w->phi);
  free(w->value_state);
  free(w->theta);
  free(w->batch_return);
  free(w->task);
  free(w->obs);
  free(w->act);
  memset(w, 0, sizeof(*w));
}

int mrl_watch_parse_task(mrlWatch* w, const char* spec, char* err, size_t errlen) {
  char buf[1024];
  if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
    return mrl_error(err, errlen, "--task: the spec is longer than %zu bytes", sizeof(buf) - 1);
  }
  double* scratch = mrl_alloc(sizeof(double) * w->fam->ntask);
  int rc = 0;
  for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    char* eq = strchr(item, '=');
    char* end = NULL;
    double value = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == item || !eq[1] || *end) {
      rc = mrl_error(err, errlen, "--task: expected key=value[,key=value...], got '%s'", item);
      break;
    }
    *eq = 0;
    if (mrl_mujoco_task_set(w->fam, scratch, item, value, err, errlen)) {
      rc = -1;
      break;
    }
    if (w->nset == 16) {
      rc = mrl_error(err, errlen, "--task: at most 16 keys");
      break;
    }
    snprintf(w->set_key[w->nset], sizeof(w->set_key[0]), "%s", item);
    w->set_value[w->nset++] = value;
  }
  free(scratch);
  return rc;
}

void mrl_watch_set_task(mrlWatch* w, int index) {
  const mrlFamily* fam = w->fam;
  char unused[MRL_ERRLEN];
  w->task_index = index;
  mrl_task_sample(fam, &w->cfg, 1, 0, (uint64_t)index, w->task);
  for (int k = 0; k < w->nset; k++) {
    mrl_mujoco_task_set(fam, w->task, w->set_key[k], w->set_value[k], unused, sizeof(unused));
  }
  fam->describe_task(fam, w->task, w->task_words, sizeof(w->task_words));
  fam->set_task(w->env, w->task);
  w->adapted = 0;
  w->episode = 0;
  w->last_return = NAN;
  memcpy(w->theta, w->phi, sizeof(double) * w->pol.nparam);
  w->policy = w->phi;
  mrl_watch_reset(w);
}

double mrl_watch_adapt_step(mrlWatch* w) {
  MRL_ASSERT(w->learner && w->adapted < w->nstep);
  int k = w->adapted + 1;
  mrl_inner_adapt(&w->cfg, w->learner, w->task, w->phi, k, w->seed, 0, (uint64_t)w->task_index, 0,
                  w->batch_return);
  memcpy(w->theta, w->learner->theta, sizeof(double) * w->pol.nparam);
  w->adapted = k;
  return w->batch_return[k];
}

void mrl_watch_use(mrlWatch* w, int adapted) {
  w->policy = adapted ? w->theta : w->phi;
  mrl_watch_reset(w);
}

void mrl_watch_reset(mrlWatch* w) {
  mrlRng rng;
  // the display's own stream: never one that adaptation draws
  mrl_rng_init(&rng, w->seed, MRL_RNG_EVAL, 1, (uint64_t)w->task_index, (uint64_t)w->episode);
  w->fam->reset(w->env, 0, &rng, w->obs);
  w->t = 0;
  w->done = 0;
  w->ret = 0;
}

void mrl_watch_step(mrlWatch* w) {
  if (w->done) return;
  const mrlFamily* fam = w->fam;
  if (w->random) {
    const mjModel* m = mrl_mujoco_env_model(w->env);
    for (int u = 0; u < fam->nact; u++) {
      double lo = -1, hi = 1;
      if (m->actuator_ctrllimited[u]) {
        lo = m->actuator_ctrlrange[2 * u];
        hi = m->actuator_ctrlrange[2 * u + 1];
      }
      w->act[u] = lo + (hi - lo) * mrl_rng_uniform(&w->rng);
    }
  } else {
    mrl_policy_forward(&w->pol, w->policy, w->work, w->obs, 1);
    memcpy(w->act, w->work->mean, sizeof(double) * fam->nact);
  }
  double reward = 0;
  int done = 0;
  fam->step(w->env, 0, w->act, w->obs, &reward, &done);
  w->ret += reward;
  w->t++;
  if (done || w->t >= fam->horizon) {
    w->done = 1;
    w->last_return = w->ret;
    w->last_adapted = w->policy == w->theta && w->adapted > 0;
    w->episode++;
  }
}

mjModel* mrl_watch_model(mrlWatch* w) {
  return mrl_mujoco_env_model(w->env);
}

mjData* mrl_watch_data(mrlWatch* w) {
  return mrl_mujoco_env_data(w->env, 0);
}

// Append to a bounded buffer.
static void put(char* buf, size_t n, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char* buf, size_t n, const char* fmt, ...) {
  size_t len = strlen(buf);
  if (len + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, n - len, fmt, ap);
  va_end(ap);
}

void mrl_watch_overlay(const mrlWatch* w, const char* phase, char* titles, size_t ntitles,
                       char* values, size_t nvalues) {
  titles[0] = values[0] = 0;
  // the task in words, one parameter per line so that it fits a small frame
  put(titles, ntitles, "task");
  const char* words = w->task_words[0] ? w->task_words : "default";
  for (const char* p = words; *p;) {
    const char* comma = strstr(p, ", ");
    int len = comma ? (int)(comma - p) : (int)strlen(p);
    put(values, nvalues, "%.*s\n", len, p);
    if (comma) put(titles, ntitles, "\n");
    p += len + (comma ? 2 : 0);
  }
  char line[256];
  if (phase) {
    snprintf(line, sizeof(line), "%s", phase);
  } else if (w->random) {
    snprintf(line, sizeof(line), "random actions");
  } else if (w->policy == w->theta && w->adapted > 0) {
    snprintf(line, sizeof(line), "adapted: %d step%s x %d episodes", w->adapted,
             w->adapted > 1 ? "s" : "", w->nepisode);
  } else {
    snprintf(line, sizeof(line), "before adaptation (iteration %d)", w->iteration);
  }
  put(titles, ntitles, "\nphase");
  put(values, nvalues, "%s\n", line);
  // the batch returns of adaptation, once it is what is shown
  int adapting = phase && !strncmp(phase, "adapting", 8);
  if (w->adapted > 0 && (adapting || w->policy == w->theta)) {
    put(titles, ntitles, "\nbatch return");
    for (int s = 0; s <= w->adapted; s++) {
      put(values, nvalues, "%s%.1f", s ? " > " : "", w->batch_return[s]);
    }
    put(values, nvalues, "\n");
  }
  const mjModel* m = mrl_mujoco_env_model(w->env);
  double dt = m->opt.timestep * w->cfg.env.frame_skip;
  put(titles, ntitles, "\ntime\nreturn\nfinal return");
  put(values, nvalues, "%.2f s%s\n%.1f\n", w->t * dt,
      w->done ? (w->t >= w->fam->horizon ? "  (horizon)" : "  (ended)") : "", w->ret);
  if (isnan(w->last_return)) {
    put(values, nvalues, "-");
  } else {
    put(values, nvalues, "%.1f (%s, episode %d)", w->last_return,
        w->random         ? "random"
        : w->last_adapted ? "adapted"
                          : "initial",
        w->episode);
  }
}
