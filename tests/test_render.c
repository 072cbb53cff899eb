// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_render.c: the offscreen renderer (OSMesa) on a small model: frames of
// the requested size, not blank, that change when the robot moves; the PNG
// writer round-trips the pixels; the viewer's task keys set exactly the
// parameters they name and refuse the others.

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "envs.h"
#include "render.h"

#define W 160
#define H 120

static mjModel* load(const char* name) {
  char path[4096], err[1024] = "";
  snprintf(path, sizeof path, "%s/tests/models/%s", METARL_SOURCE_DIR, name);
  mjModel* m = mj_loadXML(path, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s: %s", path, err);
  return m;
}

// Render d with the scene's camera into rgb (H, W, 3).
static void draw(mrlScene* sc, const mjModel* m, mjData* d, unsigned char* rgb) {
  mjrRect vp = {0, 0, W, H};
  mrl_scene_update(sc, m, d);
  mrl_scene_render(sc, vp, NULL, 0);
  mrl_read_rgb(sc, vp, rgb);
}

static long differing_pixels(const unsigned char* a, const unsigned char* b) {
  long n = 0;
  for (int i = 0; i < W * H; i++) n += memcmp(a + 3 * i, b + 3 * i, 3) != 0;
  return n;
}

Test(render, offscreen_frame_has_size_content_and_follows_motion) {
  mrl_install_mujoco_handlers();
  char err[MRL_ERRLEN] = "";
  mrlGLContext* gl = mrl_gl_offscreen_make(W, H, err, sizeof err);
  cr_assert_not_null(gl, "%s", err);
  mjModel* m = load("ball_on_plane.xml");
  mjData* d = mj_makeData(m);
  mj_forward(m, d);
  static mrlScene sc;
  int ball = mj_name2id(m, mjOBJ_BODY, "torso");
  mrl_scene_make(&sc, m, ball, 0, W, H, mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &sc.con);
  mjrRect full = mjr_maxViewport(&sc.con);
  cr_assert_geq(full.width, W, "offscreen buffer %dx%d smaller than asked", full.width,
                full.height);
  cr_assert_geq(full.height, H);

  // a free camera that stays put, so that motion shows as changed pixels
  sc.camera = MRL_CAM_FREE;
  sc.cam.lookat[0] = sc.cam.lookat[1] = 0;
  sc.cam.lookat[2] = 0.1;
  sc.cam.distance = 0.8;
  sc.cam.azimuth = 90;
  sc.cam.elevation = -30;
  unsigned char* a = malloc(3 * W * H);
  unsigned char* b = malloc(3 * W * H);
  unsigned char* c = malloc(3 * W * H);
  draw(&sc, m, d, a);
  // the untextured plane is one color; the ball covers about a tenth
  cr_assert_gt(mrl_rgb_nonblank(a, W * H), 0.03, "frame all one color: %g",
               mrl_rgb_nonblank(a, W * H));
  draw(&sc, m, d, c);
  cr_assert_eq(differing_pixels(a, c), 0, "the same state rendered differently");

  d->qpos[0] += 0.4;  // the ball rolls 0.4 m along x
  mj_forward(m, d);
  draw(&sc, m, d, b);
  long moved = differing_pixels(a, b);
  cr_assert_gt(moved, W * H / 100, "only %ld pixels changed when the ball moved", moved);

  // the tracking camera keeps the ball at the center: the center pixel is the
  // ball's color before and after the move
  mrl_scene_track(&sc);
  sc.cam.distance = 1;  // the size counts the wheel 5 m up; the ball is what we look at
  draw(&sc, m, d, a);
  d->qpos[0] += 0.4;
  mj_forward(m, d);
  draw(&sc, m, d, b);
  const unsigned char* ca = a + 3 * (W * (H / 2) + W / 2);
  const unsigned char* cb = b + 3 * (W * (H / 2) + W / 2);
  for (int k = 0; k < 3; k++) cr_assert_leq(abs(ca[k] - cb[k]), 8, "tracking lost the ball");

  free(a);
  free(b);
  free(c);
  mrl_scene_free(&sc);
  mj_deleteData(d);
  mj_deleteModel(m);
  mrl_gl_offscreen_free(gl);
}

static unsigned long be32(const unsigned char* p) {
  return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

Test(render, png_round_trip) {
  enum { PW = 7, PH = 5 };
  unsigned char rgb[PW * PH * 3];
  for (int i = 0; i < PW * PH * 3; i++) rgb[i] = (unsigned char)(i * 37 + 11);
  char path[] = "/tmp/metarl_test_png_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_png_write(path, rgb, PW, PH, err, sizeof err), 0, "%s", err);
  FILE* f = fopen(path, "rb");
  static unsigned char file[1 << 16];
  size_t n = fread(file, 1, sizeof file, f);
  fclose(f);
  unlink(path);
  cr_assert_eq(memcmp(file, "\x89PNG\r\n\x1a\n", 8), 0, "no PNG signature");
  // chunks in order; every CRC checks; IDAT inflates to the filtered rows
  size_t at = 8;
  int seen_ihdr = 0, seen_iend = 0;
  static unsigned char raw[PH * (PW * 3 + 1)];
  uLongf rawlen = sizeof raw;
  while (at + 12 <= n) {
    unsigned long len = be32(file + at);
    const unsigned char* type = file + at + 4;
    const unsigned char* data = file + at + 8;
    cr_assert_eq(crc32(crc32(0, type, 4), data, len), be32(data + len), "bad CRC");
    if (!memcmp(type, "IHDR", 4)) {
      cr_assert_eq(be32(data), PW);
      cr_assert_eq(be32(data + 4), PH);
      cr_assert_eq(data[8], 8);
      cr_assert_eq(data[9], 2);
      seen_ihdr = 1;
    } else if (!memcmp(type, "IDAT", 4)) {
      cr_assert_eq(uncompress(raw, &rawlen, data, len), Z_OK);
    } else if (!memcmp(type, "IEND", 4)) {
      seen_iend = 1;
    }
    at += 12 + len;
  }
  cr_assert(seen_ihdr && seen_iend);
  cr_assert_eq(rawlen, sizeof raw);
  for (int y = 0; y < PH; y++) {
    cr_assert_eq(raw[y * (PW * 3 + 1)], 0, "row filter");
    cr_assert_eq(memcmp(raw + y * (PW * 3 + 1) + 1, rgb + y * PW * 3, PW * 3), 0, "row %d", y);
  }
}

Test(render, png_write_fails_cleanly_on_a_missing_folder) {
  unsigned char rgb[3] = {1, 2, 3};
  char err[MRL_ERRLEN] = "";
  cr_assert_eq(mrl_png_write("/nonexistent-metarl/x.png", rgb, 1, 1, err, sizeof err), -1);
  cr_assert(strstr(err, "/nonexistent-metarl/x.png"), "%s", err);
}

Test(render, task_keys_set_what_they_name) {
  mrl_install_mujoco_handlers();
  mrlConfig cfg;
  char err[MRL_ERRLEN] = "", path[4096];
  mrl_config_default(&cfg);
  snprintf(path, sizeof path, "%s/configs/slope_walker_200.yaml", METARL_SOURCE_DIR);
  cr_assert_eq(mrl_config_load(&cfg, path, err, sizeof err), 0, "%s", err);
  mrlFamily* fam = mrl_family_make(&cfg, err, sizeof err);
  cr_assert_not_null(fam, "%s", err);
  double* task = calloc(fam->ntask, sizeof(double));
  double* before = calloc(fam->ntask, sizeof(double));
  mrl_task_sample(fam, &cfg, 1, 0, 0, task);
  memcpy(before, task, sizeof(double) * fam->ntask);

  cr_assert_eq(mrl_mujoco_task_set(fam, task, "slope", -15, err, sizeof err), 0, "%s", err);
  cr_assert_eq(task[0], -15);
  cr_assert_eq(mrl_mujoco_task_set(fam, task, "mass", 2, err, sizeof err), 0, "%s", err);
  int nmass = 0;
  for (int k = 1; k < fam->ntask; k++) {
    if (!strncmp(fam->task_names[k], "mass_", 5)) {
      cr_assert_eq(task[k], 2, "%s", fam->task_names[k]);
      nmass++;
    } else {
      cr_assert_eq(task[k], before[k], "%s changed", fam->task_names[k]);
    }
  }
  cr_assert_gt(nmass, 0);

  // keys the family does not have, or bad values: refused, task untouched
  memcpy(before, task, sizeof(double) * fam->ntask);
  const char* bad[] = {"inertia", "damping", "velocity", "direction", "goal_x", "masss"};
  for (int i = 0; i < 6; i++) {
    err[0] = 0;
    cr_assert_eq(mrl_mujoco_task_set(fam, task, bad[i], 1, err, sizeof err), -1, "%s", bad[i]);
    cr_assert(strstr(err, bad[i]) && strstr(err, "slope, heading, mass"), "%s", err);
  }
  cr_assert_eq(mrl_mujoco_task_set(fam, task, "mass", 0, err, sizeof err), -1);
  cr_assert_eq(mrl_mujoco_task_set(fam, task, "slope", 90, err, sizeof err), -1);
  cr_assert_eq(memcmp(task, before, sizeof(double) * fam->ntask), 0);

  // the floor the env builds from the key tilts by the given slope
  mrlEnv* env = fam->env_make(fam, 1);
  fam->set_task(env, task);
  double n[3];
  mrl_mujoco_env_normal(env, n);
  cr_assert_float_eq(acos(n[2]) * 180 / 3.14159265358979323846, 15, 1e-9);
  fam->env_free(env);
  free(task);
  free(before);
  mrl_family_free(fam);
}
