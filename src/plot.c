// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// plot.c: `metarl plot`, figures drawn with PLplot's C API through its cairo
// drivers (pngcairo, svgcairo). Reads only what runs leave on disk:
// progress.csv for learning curves, eval/summary.json for adaptation curves
// and eval/adaptation.csv for the per-task scatter. Input is checked before
// any figure is drawn, so a bad file stops the command with exit 2.

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <plplot.h>

#include "metarl.h"

#define MAX_RUNS 16
#define MAX_INIT 34
#define MAX_COLS 64

//------------------------------- small readers -------------------------------

// The whole file as a NUL-terminated string (free it), or NULL.
static char* read_text(const char* path, char* err, size_t errlen) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    mrl_error(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  size_t n = 0, cap = 4096;
  char* s = mrl_alloc(cap);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      char* grown = realloc(s, cap);
      MRL_ASSERT(grown);
      s = grown;
    }
    size_t r = fread(s + n, 1, cap - n - 1, f);
    if (r == 0) break;
    n += r;
  }
  s[n] = 0;
  fclose(f);
  return s;
}

// A whole-string number; empty or malformed: NaN.
static double parse_num(const char* s) {
  char* end;
  if (!*s) return NAN;
  double v = strtod(s, &end);
  return *end ? NAN : v;
}

//----------------------------- a minimal JSON reader -------------------------

// Enough JSON for summary.json: objects, arrays, strings without \u escapes
// beyond ASCII, numbers, true/false/null.
typedef enum { J_NULL = 0, J_NUM, J_STR, J_ARR, J_OBJ } JType;

typedef struct Json_ {
  JType type;
  double num;
  char* str;            // J_STR
  int n;                // J_ARR, J_OBJ: children
  char** keys;          // J_OBJ: (n)
  struct Json_* items;  // (n)
} Json;

typedef struct {
  const char* p;
  int depth;
  int failed;
} JParser;

static void json_free(Json* j) {
  if (!j) return;
  free(j->str);
  for (int i = 0; i < j->n; i++) {
    if (j->keys) free(j->keys[i]);
    json_free(&j->items[i]);
  }
  free(j->keys);
  free(j->items);
}

static void skip_ws(JParser* jp) {
  while (*jp->p && isspace((unsigned char)*jp->p)) jp->p++;
}

static char* parse_jstring(JParser* jp) {
  if (*jp->p != '"') {
    jp->failed = 1;
    return NULL;
  }
  jp->p++;
  size_t cap = 16, n = 0;
  char* s = mrl_alloc(cap);
  while (*jp->p && *jp->p != '"') {
    char c = *jp->p++;
    if (c == '\\') {
      char e = *jp->p++;
      if (e == 'n') {
        c = '\n';
      } else if (e == 't') {
        c = '\t';
      } else if (e == 'u' && isxdigit((unsigned char)jp->p[0]) && jp->p[1] && jp->p[2] &&
                 jp->p[3]) {
        c = (char)strtol((char[]){jp->p[0], jp->p[1], jp->p[2], jp->p[3], 0}, NULL, 16);
        jp->p += 4;
      } else if (e == '"' || e == '\\' || e == '/') {
        c = e;
      } else {
        jp->failed = 1;
        break;
      }
    }
    if (n + 2 > cap) {
      cap *= 2;
      char* grown = realloc(s, cap);
      MRL_ASSERT(grown);
      s = grown;
    }
    s[n++] = c;
  }
  s[n] = 0;
  if (*jp->p != '"')
    jp->failed = 1;
  else
    jp->p++;
  return s;
}

static void parse_value(JParser* jp, Json* out);

static void append_item(Json* j, char* key, JParser* jp) {
  j->items = realloc(j->items, sizeof(Json) * (j->n + 1));
  MRL_ASSERT(j->items);
  if (j->type == J_OBJ) {
    j->keys = realloc(j->keys, sizeof(char*) * (j->n + 1));
    MRL_ASSERT(j->keys);
    j->keys[j->n] = key;
  }
  memset(&j->items[j->n], 0, sizeof(Json));
  j->n++;
  parse_value(jp, &j->items[j->n - 1]);
}

static void parse_value(JParser* jp, Json* out) {
  memset(out, 0, sizeof(Json));
  skip_ws(jp);
  if (jp->failed || ++jp->depth > 32) {
    jp->failed = 1;
    return;
  }
  char c = *jp->p;
  if (c == '{' || c == '[') {
    out->type = c == '{' ? J_OBJ : J_ARR;
    char close = c == '{' ? '}' : ']';
    jp->p++;
    skip_ws(jp);
    if (*jp->p == close) {
      jp->p++;
    } else {
      for (;;) {
        char* key = NULL;
        if (out->type == J_OBJ) {
          skip_ws(jp);
          key = parse_jstring(jp);
          skip_ws(jp);
          if (jp->failed || *jp->p != ':') {
            free(key);
            jp->failed = 1;
            break;
          }
          jp->p++;
        }
        append_item(out, key, jp);
        skip_ws(jp);
        if (jp->failed) break;
        if (*jp->p == ',') {
          jp->p++;
        } else if (*jp->p == close) {
          jp->p++;
          break;
        } else {
          jp->failed = 1;
          break;
        }
      }
    }
  } else if (c == '"') {
    out->type = J_STR;
    out->str = parse_jstring(jp);
  } else if (!strncmp(jp->p, "null", 4)) {
    jp->p += 4;
  } else if (!strncmp(jp->p, "true", 4) || !strncmp(jp->p, "false", 5)) {
    out->type = J_NUM;
    out->num = *jp->p == 't';
    jp->p += *jp->p == 't' ? 4 : 5;
  } else {
    char* end;
    out->type = J_NUM;
    out->num = strtod(jp->p, &end);
    if (end == jp->p) jp->failed = 1;
    jp->p = end;
  }
  jp->depth--;
}

static const Json* json_get(const Json* j, const char* key, JType type) {
  if (!j || j->type != J_OBJ) return NULL;
  for (int i = 0; i < j->n; i++) {
    if (!strcmp(j->keys[i], key)) return j->items[i].type == type ? &j->items[i] : NULL;
  }
  return NULL;
}

//----------------------------------- data ------------------------------------

typedef struct {
  char name[MRL_STRLEN];
  int n;
  double* steps;  // (n) TotalEnvSteps
  double* pre;    // (n) PreAdapt/AverageReturn
  double* post;   // (n) PostAdapt/AverageReturn
  double* test;   // (n) MetaTest/PostAdapt/AverageReturn (NaN where absent)
  double* secs;   // (n) Time, wall-clock seconds since the run began (NaN where absent)
} Curve;

typedef struct {
  char name[MRL_STRLEN];
  char algo[32];
  int iteration;
  int nstep;
  double mean[64], lo[64], hi[64];
} InitSummary;

typedef struct {
  char env[MRL_STRLEN];
  int ninit;
  InitSummary init[MAX_INIT];
  // per-task scatter: return after the last step against the chosen parameter
  char xlabel[256];
  int npoint;
  double* x;   // (npoint)
  double* y;   // (npoint)
  int* which;  // (npoint) init index
} EvalData;

// The index of the first of names found in header fields, or -1.
static int find_col(char** fields, int n, const char* a, const char* b) {
  for (int i = 0; i < n; i++) {
    if (!strcmp(fields[i], a) || (b && !strcmp(fields[i], b))) return i;
  }
  return -1;
}

static void strip_eol(char* s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

// Read the CSV file at path and split its header into head (nh columns);
// save is left for strtok_r to walk the rows. Returns the text to free, or
// NULL with a message.
static char* read_table(const char* path, char** save, char** head, int* nh, char* err,
                        size_t errlen) {
  char* text = read_text(path, err, errlen);
  if (!text) return NULL;
  char* line = strtok_r(text, "\n", save);
  *nh = line ? mrl_csv_split(line, head, MAX_COLS) : 0;
  if (*nh) strip_eol(head[*nh - 1]);
  return text;
}

static int read_progress(const char* rundir, Curve* c, char* err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/progress.csv", rundir);
  char* save = NULL;
  char* head[MAX_COLS];
  int nh;
  char* text = read_table(path, &save, head, &nh, err, errlen);
  if (!text) return -1;
  char* line;
  // the names of metarl 0.1.0 are read too
  int cs = find_col(head, nh, "TotalEnvSteps", NULL);
  int cpre = find_col(head, nh, "PreAdapt/AverageReturn", "AverageReturnPre");
  int cpost = find_col(head, nh, "PostAdapt/AverageReturn", "AverageReturnPost");
  int ctest = find_col(head, nh, "MetaTest/PostAdapt/AverageReturn", NULL);
  int ctime = find_col(head, nh, "Time", NULL);
  if (cs < 0 || cpre < 0 || cpost < 0) {
    free(text);
    return mrl_error(err, errlen,
                     "'%s' lacks the columns TotalEnvSteps, PreAdapt/AverageReturn and "
                     "PostAdapt/AverageReturn",
                     path);
  }
  int cap = 256;
  c->steps = mrl_alloc(sizeof(double) * cap);
  c->pre = mrl_alloc(sizeof(double) * cap);
  c->post = mrl_alloc(sizeof(double) * cap);
  c->test = mrl_alloc(sizeof(double) * cap);
  c->secs = mrl_alloc(sizeof(double) * cap);
  int lineno = 1;
  while ((line = strtok_r(NULL, "\n", &save))) {
    lineno++;
    strip_eol(line);
    if (!*line) continue;
    char* f[MAX_COLS];
    int nf = mrl_csv_split(line, f, MAX_COLS);
    double s = nf == nh ? parse_num(f[cs]) : NAN;
    double a = nf == nh ? parse_num(f[cpre]) : NAN;
    double b = nf == nh ? parse_num(f[cpost]) : NAN;
    if (!isfinite(s) || !isfinite(a) || !isfinite(b)) {
      free(text);
      return mrl_error(err, errlen, "%s:%d: malformed row (expected %d numeric fields)", path,
                       lineno, nh);
    }
    if (c->n == cap) {
      cap *= 2;
      c->steps = realloc(c->steps, sizeof(double) * cap);
      c->pre = realloc(c->pre, sizeof(double) * cap);
      c->post = realloc(c->post, sizeof(double) * cap);
      c->test = realloc(c->test, sizeof(double) * cap);
      c->secs = realloc(c->secs, sizeof(double) * cap);
      MRL_ASSERT(c->steps && c->pre && c->post && c->test && c->secs);
    }
    c->steps[c->n] = s;
    c->pre[c->n] = a;
    c->post[c->n] = b;
    c->test[c->n] = ctest >= 0 ? parse_num(f[ctest]) : NAN;
    c->secs[c->n] = ctime >= 0 ? parse_num(f[ctime]) : NAN;
    c->n++;
  }
  free(text);
  if (c->n == 0) return mrl_error(err, errlen, "'%s' has no rows yet", path);
  return 0;
}

static void curve_free(Curve* c) {
  free(c->steps);
  free(c->pre);
  free(c->post);
  free(c->test);
  free(c->secs);
}

static int read_summary(const char* rundir, EvalData* e, char* err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/eval/summary.json", rundir);
  char* text = read_text(path, err, errlen);
  if (!text) return -1;
  JParser jp = {text, 0, 0};
  Json root;
  parse_value(&jp, &root);
  skip_ws(&jp);
  int rc = 0;
  const Json* env = json_get(&root, "env", J_STR);
  const Json* inits = json_get(&root, "inits", J_ARR);
  if (jp.failed || *jp.p || !env || !inits || inits->n < 1 || inits->n > MAX_INIT) {
    rc = mrl_error(err, errlen,
                   "'%s' is not a metarl eval summary (corrupt, or not from `metarl eval`): "
                   "run `metarl eval %s` again",
                   path, rundir);
  } else {
    snprintf(e->env, sizeof(e->env), "%s", env->str);
    e->ninit = inits->n;
    for (int c = 0; c < inits->n && rc == 0; c++) {
      const Json* in = &inits->items[c];
      const Json* name = json_get(in, "name", J_STR);
      const Json* algo = json_get(in, "algo", J_STR);
      const Json* it = json_get(in, "iteration", J_NUM);
      const Json* steps = json_get(in, "steps", J_ARR);
      if (!name || !algo || !it || !steps || steps->n < 1) {
        rc = mrl_error(err, errlen, "'%s': init %d lacks name, algo, iteration or steps", path, c);
        break;
      }
      if (steps->n > 64) {
        rc = mrl_error(err, errlen,
                       "'%s': %d adaptation steps; plot draws at most 63 (metarl eval --steps)",
                       path, steps->n - 1);
        break;
      }
      InitSummary* s = &e->init[c];
      snprintf(s->name, sizeof(s->name), "%s", name->str);
      snprintf(s->algo, sizeof(s->algo), "%s", algo->str);
      s->iteration = (int)it->num;
      s->nstep = steps->n;
      for (int k = 0; k < steps->n; k++) {
        const Json* m = json_get(&steps->items[k], "mean", J_NUM);
        const Json* lo = json_get(&steps->items[k], "ci95_low", J_NUM);
        const Json* hi = json_get(&steps->items[k], "ci95_high", J_NUM);
        if (!m || !lo || !hi || !isfinite(m->num) || !isfinite(lo->num) || !isfinite(hi->num)) {
          rc = mrl_error(err, errlen, "'%s': init '%s' step %d lacks mean or ci95_low/high", path,
                         s->name, k);
          break;
        }
        s->mean[k] = m->num;
        s->lo[k] = lo->num;
        s->hi[k] = hi->num;
      }
    }
  }
  json_free(&root);
  free(text);
  return rc;
}

// Mark in use[np] the task-parameter columns (p0..p0+np-1) whose value differs
// between rows of the CSV text after the header (rest: strtok_r state, not
// consumed: the rows are scanned on a copy). Returns how many vary.
static int vary_columns(const char* rest, int nh, int p0, int np, int* use) {
  if (!rest) return 0;
  char* copy = strdup(rest);
  MRL_ASSERT(copy);
  double first[MAX_COLS];
  int seen = 0, nvary = 0;
  char* save = NULL;
  for (char* line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    strip_eol(line);
    char* f[MAX_COLS];
    if (mrl_csv_split(line, f, MAX_COLS) != nh) continue;
    for (int i = 0; i < np; i++) {
      double v = parse_num(f[p0 + i]);
      if (!seen)
        first[i] = v;
      else if (v != first[i] && !use[i])
        use[i] = 1, nvary++;
    }
    seen = 1;
  }
  free(copy);
  return nvary;
}

// Per-task points at the last step of each init, x the chosen task parameter:
// a column, or a stem (mass) for the geometric mean of its multipliers
// (mass_torso, mass_leg, ...); NULL: the one that varies, or the Euclidean norm
// of a group of one stem (goal_x, goal_y).
static int read_tasks(const char* rundir, const char* param, EvalData* e, char* err,
                      size_t errlen) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/eval/adaptation.csv", rundir);
  char* save = NULL;
  char* head[MAX_COLS];
  int nh;
  char* text = read_table(path, &save, head, &nh, err, errlen);
  if (!text) return -1;
  char* line;
  // init, task, the task parameters, step, return, episodes, then any later
  // columns (mean_length, full_fraction; files written before them end at
  // episodes)
  int cstep = find_col(head, nh, "step", NULL), cret = find_col(head, nh, "return", NULL);
  if (nh < 5 || strcmp(head[0], "init") || strcmp(head[1], "task") || cstep < 2 ||
      cret != cstep + 1 || cstep + 2 >= nh || strcmp(head[cstep + 2], "episodes")) {
    free(text);
    return mrl_error(err, errlen, "'%s' is not a metarl adaptation table: run `metarl eval %s`",
                     path, rundir);
  }
  int p0 = 2, np = cstep - 2, only = -1, ngeo = 0;
  int use[MAX_COLS] = {0};
  if (param) {
    // an exact column, else a stem (mass: mass_torso, mass_thigh, ...) whose
    // multipliers are summarized by their geometric mean
    size_t plen = strlen(param);
    for (int i = 0; i < np; i++) {
      if (!strcmp(head[p0 + i], param)) only = i;
    }
    for (int i = 0; i < np && only < 0; i++) {
      if (!strncmp(head[p0 + i], param, plen) && head[p0 + i][plen] == '_') use[i] = 1, ngeo++;
    }
    if (only < 0 && ngeo == 0) {
      char names[512] = "";
      for (int i = 0; i < np; i++) {
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
                 head[p0 + i]);
      }
      mrl_error(err, errlen, "--param '%s': '%s' has the task parameters %s", param, path, names);
      free(text);
      return -1;
    }
  } else if (np == 1) {
    only = 0;
  }
  // without --param: the parameters that vary over the tasks; one alone, or a
  // group of one stem (goal_x, goal_y: their norm), else the first of them
  if (only < 0 && !ngeo) {
    int nvary = vary_columns(save, nh, p0, np, use);
    int first = -1, same_stem = 1;
    for (int i = 0; i < np; i++) {
      if (!use[i]) continue;
      if (first < 0) {
        first = i;
      } else {
        const char* a = head[p0 + first];
        const char* b = head[p0 + i];
        size_t stem = strcspn(a, "_");
        same_stem &= stem == strcspn(b, "_") && !strncmp(a, b, stem);
      }
    }
    if (nvary <= 1 || !same_stem) only = first >= 0 ? first : 0;
  }
  if (only >= 0) {
    snprintf(e->xlabel, sizeof(e->xlabel), "task parameter %s", head[p0 + only]);
  } else if (ngeo) {
    snprintf(e->xlabel, sizeof(e->xlabel), "geometric mean of the %d %s_* multipliers", ngeo,
             param);
  } else {
    char names[200] = "";
    for (int i = 0, k = 0; i < np; i++) {
      if (!use[i]) continue;
      snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k++ ? ", " : "",
               head[p0 + i]);
    }
    snprintf(e->xlabel, sizeof(e->xlabel), "norm of the task parameters (%s)", names);
  }
  int laststep = e->init[0].nstep - 1, cap = 256, lineno = 1;
  e->x = mrl_alloc(sizeof(double) * cap);
  e->y = mrl_alloc(sizeof(double) * cap);
  e->which = mrl_alloc(sizeof(int) * cap);
  while ((line = strtok_r(NULL, "\n", &save))) {
    lineno++;
    strip_eol(line);
    if (!*line) continue;
    char* f[MAX_COLS];
    int nf = mrl_csv_split(line, f, MAX_COLS);
    if (nf != nh || !isfinite(parse_num(f[cstep])) || !isfinite(parse_num(f[cret]))) {
      free(text);
      return mrl_error(err, errlen, "%s:%d: malformed row", path, lineno);
    }
    if ((int)parse_num(f[cstep]) != laststep) continue;
    int w = -1;
    for (int c = 0; c < e->ninit; c++) {
      if (!strcmp(e->init[c].name, f[0])) w = c;
    }
    if (w < 0) {
      free(text);
      return mrl_error(err, errlen, "%s:%d: init '%s' is not in eval/summary.json", path, lineno,
                       f[0]);
    }
    double x = 0;
    for (int i = 0; i < np; i++) {
      double v = parse_num(f[p0 + i]);
      if (ngeo && use[i] && !(v > 0)) {
        mrl_error(err, errlen,
                  "%s:%d: --param %s: %s is %g; a stem summarizes positive "
                  "multipliers by their geometric mean",
                  path, lineno, param, head[p0 + i], v);
        free(text);  // after the message: head[] points into it
        return -1;
      }
      if (only < 0 && use[i])
        x += ngeo ? log(v) : v * v;
      else if (i == only)
        x = v;
    }
    if (only < 0) x = ngeo ? exp(x / ngeo) : sqrt(x);
    if (e->npoint == cap) {
      cap *= 2;
      e->x = realloc(e->x, sizeof(double) * cap);
      e->y = realloc(e->y, sizeof(double) * cap);
      e->which = realloc(e->which, sizeof(int) * cap);
      MRL_ASSERT(e->x && e->y && e->which);
    }
    e->x[e->npoint] = x;
    e->y[e->npoint] = parse_num(f[cret]);
    e->which[e->npoint] = w;
    e->npoint++;
  }
  free(text);
  if (e->npoint == 0) return mrl_error(err, errlen, "'%s' has no rows at step %d", path, laststep);
  return 0;
}

//---------------------------------- drawing ----------------------------------

// Colormap 0: 0 background, 1 ink, 2 grid, then the series (colorblind-safe
// Okabe-Ito order), the last one gray for the random initialization.
static const int kPalette[][3] = {{255, 255, 255}, {30, 30, 30},   {225, 225, 225}, {0, 114, 178},
                                  {213, 94, 0},    {0, 158, 115},  {204, 121, 167}, {230, 159, 0},
                                  {86, 180, 233},  {240, 228, 66}, {120, 120, 120}};
enum { COL_BG = 0, COL_INK = 1, COL_GRID = 2, COL_SERIES = 3, NSERIES = 7, COL_GRAY = 10 };
#define NPALETTE ((int)(sizeof(kPalette) / sizeof(kPalette[0])))

static int series_color(int i) {
  return COL_SERIES + i % NSERIES;
}

// Start a page of device dev into file; returns after plinit.
static void page_begin(const char* dev, const char* file) {
  plsdev(dev);
  plsfnam(file);
  plspage(0, 0, MRL_PLOT_WIDTH, MRL_PLOT_HEIGHT, 0, 0);
  plscmap0n(NPALETTE + 8);  // + translucent copies for the bands
  for (int i = 0; i < NPALETTE; i++) {
    plscol0a(i, kPalette[i][0], kPalette[i][1], kPalette[i][2], 1.0);
  }
  plscolbg(255, 255, 255);
  plinit();
  plfont(1);
  plschr(0, 0.8);
  pladv(0);
}

// Advance widths of printable ASCII in DejaVu Sans, the cairo devices' sans
// font, in 1/2048 em: a label's width, not its length, says whether it fits
// ("antvelcm-maml-s2 (maml, iteration 300)" has fewer characters than a
// label that fits and ran past the page).
static const short kSansWidth[95] = {
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716,
    651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303,
    1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430,
    1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
    1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799,
    690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300,
    1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067,
    803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
};

// Width of text in ems of the sans font; a UTF-8 character outside ASCII
// counts as a wide letter (0.8 em), its continuation bytes as nothing.
static double text_ems(const char* text) {
  long units = 0;
  for (const unsigned char* c = (const unsigned char*)text; *c; c++) {
    if (*c >= 32 && *c < 127) units += kSansWidth[*c - 32];
    else if ((*c & 0xC0) != 0x80) units += 1638;
  }
  return units / 2048.0;
}

// Axes of a plot in (xmin..xmax, ymin..ymax) with a light grid and labels.
// The plot area leaves the right third of the page to the legend, so that a
// legend never hides data. xtick > 0: major ticks that far apart, no minor ones.
static void axes(double xmin, double xmax, double ymin, double ymax, double xtick,
                 const char* xlabel, const char* ylabel, const char* title) {
  plvpor(0.08, 0.64, 0.12, 0.91);  // legend: right of 0.66
  plwind(xmin, xmax, ymin, ymax);
  plwidth(1);
  plcol0(COL_GRID);
  plbox("g", xtick, xtick > 0, "g", 0, 0);
  plcol0(COL_INK);
  plbox("bcnst", xtick, xtick > 0, "bcnstv", 0, 0);
  plmtex("b", 3.0, 0.5, 0.5, xlabel);
  plmtex("l", 4.2, 0.5, 0.5, ylabel);
  // the title is centred over the plot area, 0.36 of the page from its left
  // edge: wider than 37 ems at this size (22.4 pixels an em) it would leave it
  double ems = text_ems(title);
  plschr(0, ems > 37 ? 0.95 * 37 / ems : 0.95);
  plmtex("t", 1.2, 0.5, 0.5, title);
  plschr(0, 0.8);
}

// Range of values with a margin; NaN skipped.
static void extend(double* lo, double* hi, const double* v, int n) {
  for (int i = 0; i < n; i++) {
    if (isnan(v[i])) continue;
    if (v[i] < *lo) *lo = v[i];
    if (v[i] > *hi) *hi = v[i];
  }
}

static void pad(double* lo, double* hi, double frac) {
  double span = *hi - *lo;
  if (!(span > 0)) span = fabs(*lo) > 0 ? fabs(*lo) : 1;
  *lo -= frac * span;
  *hi += frac * span;
}

// A legend at `position` (outside the plot area, right of it). Its text shrinks
// when the widest label would run past the page's right edge (long run names).
static void legend(int n, const char* const* text, const int* opt, const int* colors,
                   const int* styles, const char* const* symbols, int position) {
  PLFLT w, h;
  const PLFLT full_scale = 0.72;  // text size when every label fits
  // ems of text that fit at full_scale between the legend's symbols and the
  // page's edge (measured on the PNGs: 17.2 pixels an em, text from x = 861
  // of 1200, the box's margin kept)
  const double fits = 19.0;
  double widest = 0;
  for (int i = 0; i < n; i++) {
    if (text_ems(text[i]) > widest) widest = text_ems(text[i]);
  }
  PLFLT text_scale = widest > fits ? full_scale * fits / widest : full_scale;
  int text_colors[64], line_styles[64], symbol_numbers[64];
  PLFLT line_widths[64], symbol_scales[64];
  for (int i = 0; i < n; i++) {
    text_colors[i] = COL_INK;
    line_styles[i] = styles ? styles[i] : 1;
    line_widths[i] = 2.5;
    symbol_scales[i] = 1.0;
    symbol_numbers[i] = 1;
  }
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position, 0.025, 0.0, 0.05,
           COL_BG, COL_GRID, 1, 0, 0, n, opt, 1.0, text_scale, 2.0, 0.0, text_colors, text, NULL,
           NULL, NULL, NULL, colors, line_styles, line_widths, colors, symbol_scales,
           symbol_numbers, symbols);
}

// The x of row i of a learning curve: millions of env steps, or minutes of
// wall-clock time (by_time).
static double curve_x(const Curve* c, int i, int by_time) {
  return by_time ? c->secs[i] / 60 : c->steps[i] / 1e6;
}

static void draw_learning(const char* dev, const char* file, const Curve* runs, int nrun,
                          int by_time) {
  double xmin = 0, xmax = 0, ymin = INFINITY, ymax = -INFINITY;
  for (int r = 0; r < nrun; r++) {
    for (int i = 0; i < runs[r].n; i++) {
      if (curve_x(&runs[r], i, by_time) > xmax) xmax = curve_x(&runs[r], i, by_time);
    }
    extend(&ymin, &ymax, runs[r].pre, runs[r].n);
    extend(&ymin, &ymax, runs[r].post, runs[r].n);
    extend(&ymin, &ymax, runs[r].test, runs[r].n);
  }
  pad(&ymin, &ymax, 0.05);
  if (!(xmax > 0)) xmax = 1;
  page_begin(dev, file);
  xmax *= 1.02;  // the last meta-test marker stays inside
  axes(xmin, xmax, ymin, ymax, 0, by_time ? "wall-clock minutes" : "env steps (millions)",
       "average return", "Learning curves (lines: training tasks; circles: held-out tasks)");
  char labels[3 * MAX_RUNS][MRL_STRLEN + 48];
  const char* text[3 * MAX_RUNS];
  int opt[3 * MAX_RUNS], colors[3 * MAX_RUNS], styles[3 * MAX_RUNS], nleg = 0;
  const char* symbols[3 * MAX_RUNS];
  for (int r = 0; r < nrun; r++) {
    const Curve* c = &runs[r];
    double* x = mrl_alloc(sizeof(double) * c->n);
    double* tx = mrl_alloc(sizeof(double) * c->n);
    double* ty = mrl_alloc(sizeof(double) * c->n);
    int nt = 0;
    for (int i = 0; i < c->n; i++) {
      x[i] = curve_x(c, i, by_time);
      if (!isnan(c->test[i])) {
        tx[nt] = x[i];
        ty[nt++] = c->test[i];
      }
    }
    // joint training does not adapt: "after" is "before", one line says it
    int adapts = 0;
    for (int i = 0; i < c->n; i++) adapts |= c->post[i] != c->pre[i];
    int col = series_color(r);
    plcol0(col);
    if (adapts) {
      plwidth(2.0);
      pllsty(2);
      plline(c->n, x, c->pre);
    }
    pllsty(1);
    plwidth(2.5);
    plline(c->n, x, c->post);
    plwidth(1.5);
    if (nt) plstring(nt, tx, ty, "#(840)");
    if (adapts) {
      snprintf(labels[nleg], sizeof(labels[0]), "%s: before adaptation", c->name);
      opt[nleg] = PL_LEGEND_LINE, colors[nleg] = col, styles[nleg] = 2, symbols[nleg] = "";
      nleg++;
      snprintf(labels[nleg], sizeof(labels[0]), "%s: after adaptation", c->name);
    } else {
      snprintf(labels[nleg], sizeof(labels[0]), "%s: no adaptation in training", c->name);
    }
    opt[nleg] = PL_LEGEND_LINE, colors[nleg] = col, styles[nleg] = 1, symbols[nleg] = "";
    nleg++;
    if (nt) {
      snprintf(labels[nleg], sizeof(labels[0]), "%s: after, held-out tasks", c->name);
      opt[nleg] = PL_LEGEND_SYMBOL, colors[nleg] = col, styles[nleg] = 1;
      symbols[nleg] = "#(840)";
      nleg++;
    }
    free(x);
    free(tx);
    free(ty);
  }
  for (int i = 0; i < nleg; i++) text[i] = labels[i];
  pllsty(1);
  legend(nleg, text, opt, colors, styles, symbols,
         PL_POSITION_VIEWPORT | PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  plend1();
}

static int init_color(const EvalData* e, int c) {
  return strcmp(e->init[c].algo, "random") ? series_color(c) : COL_GRAY;
}

static void init_label(const EvalData* e, int c, char* buf, size_t n) {
  const InitSummary* s = &e->init[c];
  if (!strcmp(s->algo, "random")) {
    snprintf(buf, n, "random initialization");
  } else {
    snprintf(buf, n, "%s (%s, iteration %d)", s->name, s->algo, s->iteration);
  }
}

static void draw_adaptation(const char* dev, const char* file, const EvalData* e, const char* run) {
  int nstep = e->init[0].nstep;
  double ymin = INFINITY, ymax = -INFINITY;
  for (int c = 0; c < e->ninit; c++) {
    extend(&ymin, &ymax, e->init[c].lo, e->init[c].nstep);
    extend(&ymin, &ymax, e->init[c].hi, e->init[c].nstep);
  }
  pad(&ymin, &ymax, 0.05);
  page_begin(dev, file);
  char title[MRL_STRLEN + 64];
  snprintf(title, sizeof(title), "Adaptation on held-out tasks: %s (%s)", e->env, run);
  axes(-0.15, nstep - 1 + 0.15, ymin, ymax, nstep <= 11 ? 1 : 0, "inner-loop adaptation steps",
       "average return (95% bootstrap band)", title);
  char labels[MAX_INIT][MRL_STRLEN + 64];
  const char* text[MAX_INIT];
  int opt[MAX_INIT], colors[MAX_INIT], styles[MAX_INIT];
  const char* symbols[MAX_INIT];
  for (int c = 0; c < e->ninit; c++) {
    const InitSummary* s = &e->init[c];
    int col = init_color(e, c);
    // the band: a translucent copy of the series color
    int band = NPALETTE + (c % 8);
    int rgb = col;
    plscol0a(band, kPalette[rgb][0], kPalette[rgb][1], kPalette[rgb][2], 0.18);
    double bx[128], by[128], x[64];
    for (int k = 0; k < s->nstep; k++) {
      x[k] = k;
      bx[k] = k;
      by[k] = s->hi[k];
      bx[2 * s->nstep - 1 - k] = k;
      by[2 * s->nstep - 1 - k] = s->lo[k];
    }
    plcol0(band);
    plfill(2 * s->nstep, bx, by);
    plcol0(col);
    plwidth(2.5);
    plline(s->nstep, x, s->mean);
    plwidth(1.5);
    plstring(s->nstep, x, s->mean, "#(840)");
    init_label(e, c, labels[c], sizeof(labels[c]));
    text[c] = labels[c];
    opt[c] = PL_LEGEND_LINE | PL_LEGEND_SYMBOL;
    colors[c] = col;
    styles[c] = 1;
    symbols[c] = "#(840)";
  }
  legend(e->ninit, text, opt, colors, styles, symbols,
         PL_POSITION_VIEWPORT | PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  plend1();
}

static void draw_tasks(const char* dev, const char* file, const EvalData* e, const char* run) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  extend(&xmin, &xmax, e->x, e->npoint);
  extend(&ymin, &ymax, e->y, e->npoint);
  pad(&xmin, &xmax, 0.03);
  pad(&ymin, &ymax, 0.05);
  page_begin(dev, file);
  char title[MRL_STRLEN + 96], ylabel[96];
  snprintf(title, sizeof(title), "Per-task return after adaptation: %s (%s)", e->env, run);
  snprintf(ylabel, sizeof(ylabel), "return after %d adaptation step%s", e->init[0].nstep - 1,
           e->init[0].nstep == 2 ? "" : "s");
  axes(xmin, xmax, ymin, ymax, 0, e->xlabel, ylabel, title);
  char labels[MAX_INIT][MRL_STRLEN + 64];
  const char* text[MAX_INIT];
  int opt[MAX_INIT], colors[MAX_INIT];
  const char* symbols[MAX_INIT];
  static const char* const kSym[] = {"#(840)", "#(841)", "#(842)", "#(843)", "#(844)"};
  double* x = mrl_alloc(sizeof(double) * e->npoint);
  double* y = mrl_alloc(sizeof(double) * e->npoint);
  for (int c = 0; c < e->ninit; c++) {
    int n = 0;
    for (int i = 0; i < e->npoint; i++) {
      if (e->which[i] != c) continue;
      x[n] = e->x[i];
      y[n++] = e->y[i];
    }
    plcol0(init_color(e, c));
    plwidth(1.5);
    plstring(n, x, y, kSym[c % 5]);
    init_label(e, c, labels[c], sizeof(labels[c]));
    text[c] = labels[c];
    opt[c] = PL_LEGEND_SYMBOL;
    colors[c] = init_color(e, c);
    symbols[c] = kSym[c % 5];
  }
  free(x);
  free(y);
  legend(e->ninit, text, opt, colors, NULL, symbols,
         PL_POSITION_VIEWPORT | PL_POSITION_OUTSIDE | PL_POSITION_RIGHT);
  plend1();
}

//---------------------------------- command ----------------------------------

// One figure: which drawing, and its data.
typedef struct {
  enum { FIG_LEARNING, FIG_LEARNING_TIME, FIG_ADAPTATION, FIG_TASKS } kind;
  const Curve* curves;  // FIG_LEARNING: (nrun)
  int nrun;
  const EvalData* eval;  // the others
  const char* run;       // name of the evaluated run
} Figure;

// Both formats of one figure; the file names are listed on out.
static void emit(FILE* out, const char* outdir, const char* stem, const Figure* fig) {
  static const char* const dev[2] = {"pngcairo", "svgcairo"};
  static const char* const ext[2] = {"png", "svg"};
  for (int f = 0; f < 2; f++) {
    char file[4096];
    snprintf(file, sizeof(file), "%s/%s.%s", outdir, stem, ext[f]);
    if (fig->kind == FIG_LEARNING || fig->kind == FIG_LEARNING_TIME) {
      draw_learning(dev[f], file, fig->curves, fig->nrun, fig->kind == FIG_LEARNING_TIME);
    } else if (fig->kind == FIG_ADAPTATION) {
      draw_adaptation(dev[f], file, fig->eval, fig->run);
    } else {
      draw_tasks(dev[f], file, fig->eval, fig->run);
    }
    if (out) fprintf(out, "%s\n", file);
  }
}

// mkdir -p
static int make_dirs(const char* dir, char* err, size_t errlen) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", dir);
  for (char* p = buf + 1;; p++) {
    if (*p && *p != '/') continue;
    char c = *p;
    *p = 0;
    if (mkdir(buf, 0755) && errno != EEXIST) {
      return mrl_error(err, errlen, "cannot create '%s': %s", buf, strerror(errno));
    }
    *p = c;
    if (!c) break;
  }
  return 0;
}

int mrl_plot_runs(const char* const* rundirs, int nrun, const char* outdir, const char* param,
                  FILE* out, char* err, size_t errlen) {
  if (nrun < 1 || nrun > MAX_RUNS) {
    mrl_error(err, errlen, "plot takes 1 to %d run directories", MAX_RUNS);
    return MRL_EXIT_USAGE;
  }
  static Curve curves[MAX_RUNS];
  static EvalData evals[MAX_RUNS];
  int has_eval[MAX_RUNS] = {0}, code = MRL_EXIT_OK, neval = 0;
  memset(curves, 0, sizeof(curves));
  memset(evals, 0, sizeof(evals));
  // read and check everything first: a bad file draws nothing
  for (int r = 0; r < nrun && code == MRL_EXIT_OK; r++) {
    struct stat st;
    char path[4096];
    snprintf(path, sizeof(path), "%s/progress.csv", rundirs[r]);
    if (stat(rundirs[r], &st) || !S_ISDIR(st.st_mode) || stat(path, &st)) {
      mrl_error(err, errlen, "'%s' is not a run directory (no progress.csv in it)", rundirs[r]);
      code = MRL_EXIT_USAGE;
      break;
    }
    char name[MRL_STRLEN];
    snprintf(path, sizeof(path), "%s", rundirs[r]);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') path[--len] = 0;
    const char* slash = strrchr(path, '/');
    snprintf(name, sizeof(name), "%s", slash ? slash + 1 : path);
    snprintf(curves[r].name, sizeof(curves[r].name), "%s", name);
    if (read_progress(rundirs[r], &curves[r], err, errlen)) {
      code = MRL_EXIT_USAGE;
      break;
    }
    // a run with a pretrain stage went on from the stage's end: drawn after it
    snprintf(path, sizeof(path), "%s/pretrain/progress.csv", rundirs[r]);
    if (stat(path, &st) == 0) {
      snprintf(path, sizeof(path), "%s/pretrain", rundirs[r]);
      Curve stage = {0};
      if (read_progress(path, &stage, err, errlen)) {
        curve_free(&stage);
        code = MRL_EXIT_USAGE;
        break;
      }
      double steps = stage.steps[stage.n - 1], secs = stage.secs[stage.n - 1];
      for (int i = 0; i < curves[r].n; i++) {
        curves[r].steps[i] += steps;
        curves[r].secs[i] += secs;
      }
      if (out) {
        fprintf(out, "%s: drawn after its pretrain stage, from %.0f env steps and %.1f s\n",
                curves[r].name, steps, secs);
      }
      curve_free(&stage);
    }
    snprintf(path, sizeof(path), "%s/eval/summary.json", rundirs[r]);
    if (stat(path, &st) == 0) {
      if (read_summary(rundirs[r], &evals[r], err, errlen) ||
          read_tasks(rundirs[r], param, &evals[r], err, errlen)) {
        code = MRL_EXIT_USAGE;
        break;
      }
      has_eval[r] = 1;
      neval++;
    }
  }
  if (code == MRL_EXIT_OK && make_dirs(outdir, err, errlen)) code = MRL_EXIT_RUNTIME;
  if (code == MRL_EXIT_OK) {
    Figure learning = {FIG_LEARNING, curves, nrun, NULL, NULL};
    emit(out, outdir, "learning", &learning);
    // against wall-clock time too, when every row of every run has its Time
    int timed = 1;
    for (int r = 0; r < nrun; r++) {
      for (int i = 0; i < curves[r].n; i++) timed &= isfinite(curves[r].secs[i]);
    }
    Figure learning_time = {FIG_LEARNING_TIME, curves, nrun, NULL, NULL};
    if (timed) emit(out, outdir, "learning-time", &learning_time);
    for (int r = 0; r < nrun; r++) {
      if (!has_eval[r]) continue;
      char stem[MRL_STRLEN + 32];  // run names are cut to fit
      snprintf(stem, sizeof(stem), "adaptation%s%.200s", nrun > 1 ? "-" : "",
               nrun > 1 ? curves[r].name : "");
      Figure adapt = {FIG_ADAPTATION, NULL, 0, &evals[r], curves[r].name};
      emit(out, outdir, stem, &adapt);
      snprintf(stem, sizeof(stem), "tasks%s%.200s", nrun > 1 ? "-" : "",
               nrun > 1 ? curves[r].name : "");
      Figure tasks = {FIG_TASKS, NULL, 0, &evals[r], curves[r].name};
      emit(out, outdir, stem, &tasks);
    }
    if (neval == 0 && out) {
      fprintf(out, "(no adaptation figures: no run has eval/summary.json; run `metarl eval`)\n");
    }
  }
  for (int r = 0; r < nrun; r++) {
    curve_free(&curves[r]);
    free(evals[r].x);
    free(evals[r].y);
    free(evals[r].which);
  }
  return code;
}
