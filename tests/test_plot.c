// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_plot.c: `metarl plot` on run directories written here by hand: every
// figure (learning curves against env steps and wall-clock time, adaptation,
// per-task returns) is produced in PNG (of the stated pixel size, read from its IHDR
// chunk) and SVG; bad input exits 2 and draws nothing.

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metarl.h"

static char tmpdir[64];

static void setup(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/metarl_plot_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  cr_assert_eq(system(cmd), 0);
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

// A run directory with progress.csv and, when evaluated, eval/ files from
// two initializations on three tasks of point_nav, steps 0..2.
static void make_run(const char* name, int evaluated, char* dir, size_t n) {
  snprintf(dir, n, "%s/%s", tmpdir, name);
  cr_assert_eq(mkdir(dir, 0755), 0);
  char path[4200];
  snprintf(path, sizeof(path), "%s/progress.csv", dir);
  FILE* f = fopen(path, "w");
  fprintf(f,
          "Iteration,TotalEnvSteps,PreAdapt/AverageReturn,PostAdapt/AverageReturn,"
          "MetaTest/PostAdapt/AverageReturn,Time\n");
  for (int i = 0; i < 30; i++) {
    fprintf(f, "%d,%d,%g,%g,", i, (i + 1) * 160000, -80 + 1.5 * i, -40.0 + i);
    if (i % 10 == 9) fprintf(f, "%g", -38.0 + i);
    fprintf(f, ",%g\n", 0.3 * i);
  }
  fclose(f);
  if (!evaluated) return;
  snprintf(path, sizeof(path), "%s/eval", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/eval/summary.json", dir);
  write_file(
      path,
      "{\"env\": \"point_nav\", \"tasks\": 3, \"steps\": 2, \"inits\": [\n"
      " {\"name\": \"pn\", \"algo\": \"reptile\", \"run\": \"pn\", \"iteration\": 30,\n"
      "  \"steps\": [{\"step\": 0, \"mean\": -35, \"ci95_low\": -40, \"ci95_high\": -30,\n"
      "              \"mean_length\": 100, \"full_fraction\": 1},\n"
      "             {\"step\": 1, \"mean\": -15, \"ci95_low\": -18, \"ci95_high\": -12,\n"
      "              \"mean_length\": 92.5, \"full_fraction\": 0.75},\n"
      "             {\"step\": 2, \"mean\": -11, \"ci95_low\": -13, \"ci95_high\": -9,\n"
      "              \"mean_length\": 80, \"full_fraction\": 0.5}]},\n"
      " {\"name\": \"random\", \"algo\": \"random\", \"run\": \"\", \"iteration\": 0,\n"
      "  \"steps\": [{\"step\": 0, \"mean\": -84, \"ci95_low\": -90, \"ci95_high\": -78},\n"
      "             {\"step\": 1, \"mean\": -67, \"ci95_low\": -72, \"ci95_high\": -62},\n"
      "             {\"step\": 2, \"mean\": -58, \"ci95_low\": -64, \"ci95_high\": -52}]}]}\n");
  snprintf(path, sizeof(path), "%s/eval/adaptation.csv", dir);
  f = fopen(path, "w");
  fprintf(f, "init,task,goal_x,goal_y,step,return,episodes,mean_length,full_fraction\n");
  const char* inits[2] = {"pn", "random"};
  for (int c = 0; c < 2; c++) {
    for (int j = 0; j < 3; j++) {
      for (int s = 0; s < 3; s++) {
        fprintf(f, "%s,%d,%g,%g,%d,%g,20,%g,%g\n", inits[c], j, 0.1 * j, -0.2 * j, s,
                -30.0 * (c + 1) / (s + 1) - j, 100.0 - 10 * s, s ? 0.5 : 1.0);
      }
    }
  }
  fclose(f);
}

// PNG signature, then the IHDR chunk: width and height, big-endian.
static void check_png(const char* path) {
  FILE* f = fopen(path, "rb");
  cr_assert_not_null(f, "%s not written", path);
  unsigned char h[24];
  cr_assert_eq(fread(h, 1, 24, f), 24u, "%s too short", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  cr_assert_eq(memcmp(h, "\x89PNG\r\n\x1a\n", 8), 0, "%s is not a PNG", path);
  cr_assert_eq(memcmp(h + 12, "IHDR", 4), 0);
  unsigned w = (unsigned)h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19];
  unsigned ht = (unsigned)h[20] << 24 | h[21] << 16 | h[22] << 8 | h[23];
  cr_assert_eq(w, (unsigned)MRL_PLOT_WIDTH, "%s: width %u", path, w);
  cr_assert_eq(ht, (unsigned)MRL_PLOT_HEIGHT, "%s: height %u", path, ht);
  cr_assert_gt(size, 10000, "%s: %ld bytes, too small to hold a figure", path, size);
}

static void check_svg(const char* path) {
  FILE* f = fopen(path, "r");
  cr_assert_not_null(f, "%s not written", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = 0;
  fclose(f);
  cr_assert_not_null(strstr(buf, "<svg"), "%s is not an SVG", path);
  cr_assert_gt(n, 2000u);
}

static int count_entries(const char* dir) {
  DIR* d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent* de;
  while ((de = readdir(d))) n += de->d_name[0] != '.';
  closedir(d);
  return n;
}

Test(plot, every_figure_in_png_and_svg, .init = setup, .fini = teardown) {
  char run[256], out[300], err[MRL_ERRLEN];
  make_run("pn", 1, run, sizeof(run));
  snprintf(out, sizeof(out), "%s/figures", tmpdir);
  const char* runs[] = {run};
  char listing[4096] = "";
  FILE* list = fmemopen(listing, sizeof(listing), "w");
  cr_assert_eq(mrl_plot_runs(runs, 1, out, NULL, list, err, sizeof(err)), 0, "%s", err);
  fclose(list);
  const char* stems[] = {"learning", "learning-time", "adaptation", "tasks"};
  for (int i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.png", out, stems[i]);
    check_png(path);
    cr_assert_not_null(strstr(listing, path), "%s not listed", path);
    snprintf(path, sizeof(path), "%s/%s.svg", out, stems[i]);
    check_svg(path);
  }
  cr_assert_eq(count_entries(out), 8);
}

Test(plot, several_runs_and_a_chosen_parameter, .init = setup, .fini = teardown) {
  char a[256], b[256], out[300], err[MRL_ERRLEN];
  make_run("a", 1, a, sizeof(a));
  make_run("b", 0, b, sizeof(b));  // not evaluated: in the learning curves only
  snprintf(out, sizeof(out), "%s/figures", tmpdir);
  const char* runs[] = {a, b};
  cr_assert_eq(mrl_plot_runs(runs, 2, out, "goal_y", NULL, err, sizeof(err)), 0, "%s", err);
  char path[512];
  snprintf(path, sizeof(path), "%s/learning.png", out);
  check_png(path);
  snprintf(path, sizeof(path), "%s/adaptation-a.png", out);
  check_png(path);
  snprintf(path, sizeof(path), "%s/tasks-a.svg", out);
  check_svg(path);
  cr_assert_eq(count_entries(out), 8);
  // an unknown parameter names the known ones
  cr_assert_eq(mrl_plot_runs(runs, 2, out, "slope", NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "goal_x, goal_y"), "%s", err);
}

// A stem names a group of multipliers (mass: mass_torso, mass_leg) and is
// accepted like a column; a stem over values that are not all positive is
// refused. The table here is in the format eval wrote before the mean_length
// and full_fraction columns (ending at episodes): still read. (The figure's x values are not read
// back: PLplot draws text and points as paths, so the geometric mean itself is checked by eye
// only.)
Test(plot, a_stem_names_a_group_of_positive_multipliers, .init = setup, .fini = teardown) {
  char run[256], out[300], path[4200], err[MRL_ERRLEN];
  make_run("pn", 1, run, sizeof(run));
  snprintf(out, sizeof(out), "%s/figures", tmpdir);
  const char* runs[] = {run};
  cr_assert_eq(mrl_plot_runs(runs, 1, out, "goal", NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "goal_x is 0"), "%s", err);
  snprintf(path, sizeof(path), "%s/eval/adaptation.csv", run);
  FILE* f = fopen(path, "w");
  fprintf(f, "init,task,mass_torso,mass_leg,step,return,episodes\n");
  const char* inits[2] = {"pn", "random"};
  for (int c = 0; c < 2; c++) {
    for (int j = 0; j < 3; j++) {
      for (int s = 0; s < 3; s++)
        fprintf(f, "%s,%d,%g,4,%d,%g,20\n", inits[c], j, 1.0 + j, s, -j * 1.0);
    }
  }
  fclose(f);
  cr_assert_eq(mrl_plot_runs(runs, 1, out, "mass", NULL, err, sizeof(err)), 0, "%s", err);
  snprintf(path, sizeof(path), "%s/tasks.svg", out);
  check_svg(path);
  cr_assert_eq(mrl_plot_runs(runs, 1, out, "mass_leg", NULL, err, sizeof(err)), 0, "%s", err);
}

// A run with a pretrain stage is drawn from the stage's last row on; a stage
// that cannot be read is an error naming its file.
Test(plot, a_run_goes_on_from_its_pretrain_stage, .init = setup, .fini = teardown) {
  char run[256], stage[256], out[300], err[MRL_ERRLEN], path[512];
  make_run("pn", 0, run, sizeof(run));
  make_run("pn/pretrain", 0, stage, sizeof(stage));
  snprintf(out, sizeof(out), "%s/figures", tmpdir);
  const char* runs[] = {run, stage};
  char listing[4096] = "";
  FILE* list = fmemopen(listing, sizeof(listing), "w");
  cr_assert_eq(mrl_plot_runs(runs, 2, out, NULL, list, err, sizeof(err)), 0, "%s", err);
  fclose(list);
  // the stage's last row: 30 x 160000 env steps, 0.3 x 29 s
  cr_assert_not_null(
      strstr(listing, "pn: drawn after its pretrain stage, from 4800000 env steps and 8.7 s\n"),
      "%s", listing);
  cr_assert_null(strstr(listing, "pretrain: drawn after"), "%s", listing);
  snprintf(path, sizeof(path), "%s/progress.csv", stage);
  write_file(path,
             "Iteration,TotalEnvSteps,PreAdapt/AverageReturn,PostAdapt/AverageReturn\n"
             "0,100,-5,-4\n1,200,oops,-3\n");
  snprintf(out, sizeof(out), "%s/figures2", tmpdir);
  cr_assert_eq(mrl_plot_runs(runs, 1, out, NULL, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "pretrain/progress.csv:3"), "%s", err);
  cr_assert_eq(count_entries(out), -1);
}

Test(plot, bad_input_exits_2_and_draws_nothing, .init = setup, .fini = teardown) {
  char run[256], out[300], path[512], err[MRL_ERRLEN];
  make_run("pn", 1, run, sizeof(run));
  snprintf(out, sizeof(out), "%s/figures", tmpdir);
  const char* runs[] = {run};
  // a summary cut in half
  snprintf(path, sizeof(path), "%s/eval/summary.json", run);
  write_file(path, "{\"env\": \"point_nav\", \"inits\": [{\"name\": \"pn\", \"st");
  cr_assert_eq(mrl_plot_runs(runs, 1, out, NULL, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "summary.json"), "%s", err);
  cr_assert_eq(count_entries(out), -1, "no output folder on bad input");
  // not a run directory
  const char* none[] = {"/nonexistent/run"};
  cr_assert_eq(mrl_plot_runs(none, 1, out, NULL, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "not a run directory"), "%s", err);
  // a malformed progress row
  snprintf(path, sizeof(path), "%s/progress.csv", run);
  write_file(path,
             "Iteration,TotalEnvSteps,PreAdapt/AverageReturn,PostAdapt/AverageReturn\n"
             "0,100,-5,-4\n1,200,oops,-3\n");
  cr_assert_eq(mrl_plot_runs(runs, 1, out, NULL, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "progress.csv:3"), "%s", err);
  cr_assert_eq(count_entries(out), -1);
  // an adaptation table whose columns after the task parameters are not
  // step, return, episodes (then anything)
  char run2[256];
  make_run("pn2", 1, run2, sizeof(run2));
  snprintf(path, sizeof(path), "%s/eval/adaptation.csv", run2);
  write_file(path, "init,task,goal_x,goal_y,step,episodes,return\npn,0,0.1,0.2,2,20,-3\n");
  const char* runs2[] = {run2};
  cr_assert_eq(mrl_plot_runs(runs2, 1, out, NULL, NULL, err, sizeof(err)), MRL_EXIT_USAGE);
  cr_assert_not_null(strstr(err, "not a metarl adaptation table"), "%s", err);
  cr_assert_eq(count_entries(out), -1);
}
