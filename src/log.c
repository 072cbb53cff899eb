// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// log.c: the training log. Every row goes to progress.csv (rllab/garage
// column names, with PreAdapt/ and PostAdapt/ prefixes), to the TensorBoard
// event file (one Event per row, every non-empty column as a scalar), and to
// the output stream: a progress bar rewritten in place on a terminal, one
// plain line per iteration otherwise. Colors only on a terminal without
// NO_COLOR (https://no-color.org).

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metarl.h"

#define RETURN_COLUMNS(P)                                             \
  P "/AverageReturn", P "/StdReturn", P "/MaxReturn", P "/MinReturn", \
      P "/AverageDiscountedReturn", P "/NumTrajs", P "/Entropy", P "/ExplainedVariance"

const char* const mrl_progress_columns[] = {
    "Iteration",
    "TotalEnvSteps",
    RETURN_COLUMNS("PreAdapt"),
    RETURN_COLUMNS("PostAdapt"),
    "MetaTest/PreAdapt/AverageReturn",
    "MetaTest/PostAdapt/AverageReturn",
    "MetaTest/PostAdapt/StdErrReturn",
    "OuterStepSize",
    "Outer/MeanKL",
    "Outer/LossBefore",
    "Outer/LossAfter",
    "Outer/Backtracks",
    "Time/Sampling",
    "Time/Advantage",
    "Time/InnerUpdate",
    "Time/OuterUpdate",
    "Time/MetaTest",
    "Time/Logging",
    "Time",
    "Ranks",  // MPI ranks that computed the row (a resumed run may change it)
    "Numerics/SkippedTasks",
    "Numerics/BaselineFailures",
    "Numerics/SkippedUpdate",
};
const int mrl_progress_ncolumns =
    (int)(sizeof(mrl_progress_columns) / sizeof(mrl_progress_columns[0]));

int mrl_csv_split(char* line, char** fields, int max) {
  int n = 0;
  for (char* p = line; n < max;) {
    fields[n++] = p;
    char* comma = strchr(p, ',');
    if (!comma) break;
    *comma = 0;
    p = comma + 1;
  }
  return n;
}

static double* put_returns(double* v, const mrlReturnStats* s) {
  *v++ = s->average;
  *v++ = s->std;
  *v++ = s->max;
  *v++ = s->min;
  *v++ = s->average_discounted;
  *v++ = s->ntraj;
  *v++ = s->entropy;
  *v++ = s->explained_variance;
  return v;
}

void mrl_progress_values(const mrlProgress* row, double* values) {
  double* v = values;
  *v++ = row->iteration;
  *v++ = (double)row->total_env_steps;
  v = put_returns(v, &row->pre);
  v = put_returns(v, &row->post);
  *v++ = row->metatest ? row->metatest_pre : NAN;
  *v++ = row->metatest ? row->metatest_post : NAN;
  *v++ = row->metatest ? row->metatest_post_sem : NAN;
  *v++ = row->step_size;
  *v++ = row->trpo_kl;
  *v++ = row->trpo_loss_before;
  *v++ = row->trpo_loss_after;
  *v++ = row->trpo_backtracks;
  *v++ = row->phase_seconds[MRL_PHASE_SAMPLE];
  *v++ = row->phase_seconds[MRL_PHASE_ADVANTAGE];
  *v++ = row->phase_seconds[MRL_PHASE_INNER];
  *v++ = row->phase_seconds[MRL_PHASE_OUTER];
  *v++ = row->metatest ? row->time_metatest : NAN;
  *v++ = row->phase_seconds[MRL_PHASE_LOG];
  *v++ = row->seconds;
  *v++ = row->ranks > 0 ? row->ranks : 1;
  *v++ = row->skipped_tasks;
  *v++ = row->baseline_failures;
  *v++ = row->skipped_update;
  MRL_ASSERT(v - values == mrl_progress_ncolumns);
}

struct mrlLog_ {
  FILE* csv;
  mrlEvents* events;
  FILE* out;
  int tty;    // out is a terminal: rewrite one line in place
  int color;  // ... and NO_COLOR is unset
  int total;  // iterations of the run
  int bar_open;
  double metatest_post;  // the last held-out meta-test (NaN: none yet), shown in the bar
  char csv_path[4096];
};

mrlLog* mrl_log_open(const char* rundir, int total_iterations, int append, FILE* out, char* err,
                     size_t errlen) {
  mrlLog* log = mrl_alloc(sizeof(mrlLog));
  snprintf(log->csv_path, sizeof(log->csv_path), "%s/progress.csv", rundir);
  log->csv = fopen(log->csv_path, append ? "a" : "w");
  if (!log->csv) {
    mrl_error(err, errlen, "cannot write '%s': %s", log->csv_path, strerror(errno));
    free(log);
    return NULL;
  }
  if (!append) {
    for (int i = 0; i < mrl_progress_ncolumns; i++) {
      fprintf(log->csv, "%s%s", i ? "," : "", mrl_progress_columns[i]);
    }
    fprintf(log->csv, "\n");
  }
  fflush(log->csv);
  log->events = mrl_events_open(rundir, NULL, 0, err, errlen);
  if (!log->events) {
    fclose(log->csv);
    free(log);
    return NULL;
  }
  log->out = out;
  log->total = total_iterations;
  log->metatest_post = NAN;
  if (out) {
    log->tty = isatty(fileno(out));
    const char* nc = getenv("NO_COLOR");
    log->color = log->tty && !(nc && *nc);
  }
  return log;
}

// "1h02m", "3m05s", "12s"
static void format_duration(double s, char* buf, size_t n) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, n, "--");
  } else if (s >= 3600) {
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  } else if (s >= 60) {
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  } else {
    snprintf(buf, n, "%.0fs", s);
  }
}

static void show_row(mrlLog* log, const mrlProgress* row) {
  FILE* out = log->out;
  int done = row->iteration + 1;
  double sps = row->seconds > 0 ? row->total_env_steps / row->seconds : 0;
  if (!log->tty) {
    fprintf(out, "iter %5d  steps %10ld  return pre %9.3f  post %9.3f  step %.4g  %7.1fs",
            row->iteration, row->total_env_steps, row->pre.average, row->post.average,
            row->step_size, row->seconds);
    if (row->metatest) fprintf(out, "  meta-test post %9.3f", row->metatest_post);
    fprintf(out, "\n");
    fflush(out);
    return;
  }
  if (row->metatest) log->metatest_post = row->metatest_post;
  char eta[32], held_out[48] = "";
  if (!isnan(log->metatest_post)) {
    snprintf(held_out, sizeof(held_out), "  held-out %.2f", log->metatest_post);
  }
  format_duration(row->seconds / done * (log->total - done), eta, sizeof(eta));
  int width = 20, filled = (int)((double)width * done / log->total);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = 0;
  const char* on = log->color ? "\033[1m" : "";
  const char* off = log->color ? "\033[0m" : "";
  // \r and erase-line: rewrite the same line; a final newline at close
  fprintf(out,
          "\r\033[K[%s] iter %d/%d  %.3gM steps  return %.2f -> %s%.2f%s%s  %.0f steps/s  ETA %s",
          bar, done, log->total, row->total_env_steps / 1e6, row->pre.average, on,
          row->post.average, off, held_out, sps, eta);
  fflush(out);
  log->bar_open = 1;
}

int mrl_log_write(mrlLog* log, const mrlProgress* row, char* err, size_t errlen) {
  double values[64];
  MRL_ASSERT(mrl_progress_ncolumns <= 64);
  mrl_progress_values(row, values);
  for (int i = 0; i < mrl_progress_ncolumns; i++) {
    if (i) fputc(',', log->csv);
    if (isnan(values[i])) continue;  // empty cell
    if (i < 2) {
      fprintf(log->csv, "%.0f", values[i]);
    } else {
      fprintf(log->csv, "%.8g", values[i]);
    }
  }
  fputc('\n', log->csv);
  if (fflush(log->csv) || ferror(log->csv)) {
    return mrl_error(err, errlen, "cannot write '%s': %s", log->csv_path, strerror(errno));
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (mrl_events_scalars(log->events, ts.tv_sec + 1e-9 * ts.tv_nsec, row->iteration,
                         mrl_progress_columns, values, mrl_progress_ncolumns)) {
    return mrl_error(err, errlen, "cannot write the TensorBoard event file: %s", strerror(errno));
  }
  if (log->out) show_row(log, row);
  return 0;
}

int mrl_log_close(mrlLog* log, char* err, size_t errlen) {
  if (!log) return 0;
  if (log->out && log->bar_open) {
    fputc('\n', log->out);
    fflush(log->out);
  }
  int rc = 0;
  if (fclose(log->csv)) {
    rc = mrl_error(err, errlen, "cannot finish '%s': %s", log->csv_path, strerror(errno));
  }
  if (mrl_events_close(log->events) && rc == 0) {
    rc = mrl_error(err, errlen, "cannot finish the TensorBoard event file: %s", strerror(errno));
  }
  free(log);
  return rc;
}
