// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// viewer.c: `metarl view`, a GLFW window on MuJoCo's renderer. It plays one
// episode of the initialization, adapts live (one inner step per frame, the
// phase shown in the overlay), then loops episodes of the adapted policy.
// Keys and mouse follow MuJoCo's `simulate`, plus N (next task), A (adapted
// or initial policy) and R (re-adapt with fresh episodes).
//
// Time: the displayed episode advances in real time times the speed factor,
// one env step (frame_skip physics steps) at a time. With --frames N it
// advances one env step per frame instead, with no pauses, so that a run
// under Xvfb is reproducible.

#include <math.h>
#include <string.h>
#include <time.h>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include "envs.h"
#include "render.h"

typedef enum { PLAYING = 0, ADAPTING } Mode;

typedef struct {
  mrlWatch w;
  mrlScene sc;
  GLFWwindow* win;
  Mode mode;
  int adapt_shown;  // the "adapting: step i" frame was drawn: take the step
  int paused, step_once, help, quit;
  double speed;       // simulated seconds per wall-clock second
  double lag;         // simulated time owed to the clock
  double last_time;   // wall clock of the last frame
  double hold_until;  // an ended episode stays on screen until then
  int screenshot;     // Ctrl+P pressed
  int frames;         // --frames N (0: interactive)
  char message[256];
  double message_until;
  // mouse
  int left, right;
  double mx, my;
} Viewer;

static const char help_titles[] =
    "Space\nRight\nBackspace\n= -\n[ ]\nEsc\nF1\nCtrl+P\nCtrl+Q\nN\nA\nR\n"
    "left drag\nright drag\nscroll";
static const char help_values[] =
    "pause / play\nstep while paused\nrestart episode\nfaster / slower\ncycle cameras\n"
    "free camera\nhelp\nscreenshot (PNG)\nquit\nnext task\nadapted / initial policy\n"
    "re-adapt (fresh episodes)\nrotate\nmove\nzoom";

static void say(Viewer* v, const char* msg) {
  snprintf(v->message, sizeof(v->message), "%.*s", (int)sizeof(v->message) - 1, msg);
  v->message_until = glfwGetTime() + 3;
}

static const char* camera_name(const Viewer* v) {
  static char buf[64];
  if (v->sc.camera == MRL_CAM_TRACK) return "tracking";
  if (v->sc.camera == MRL_CAM_FREE) return "free";
  const mjModel* m = mrl_watch_model((mrlWatch*)&v->w);
  const char* name = mj_id2name(m, mjOBJ_CAMERA, v->sc.camera);
  snprintf(buf, sizeof(buf), "model camera %s", name ? name : "");
  return buf;
}

static void start_adapting(Viewer* v) {
  v->mode = ADAPTING;
  v->adapt_shown = 0;
}

// The episode restarts from its first state; the clock with it.
static void restart(Viewer* v) {
  mrl_watch_reset(&v->w);
  v->lag = 0;
  v->hold_until = 0;
}

static int save_screenshot(Viewer* v, const char* path, char* err, size_t errlen) {
  int W, H;
  glfwGetFramebufferSize(v->win, &W, &H);
  unsigned char* rgb = mrl_alloc((size_t)3 * W * H);
  mjrRect vp = {0, 0, W, H};
  mrl_read_rgb(&v->sc, vp, rgb);
  int rc = mrl_png_write(path, rgb, W, H, err, errlen);
  if (!rc && mrl_rgb_nonblank(rgb, W * H) == 0) {
    rc = mrl_error(err, errlen, "the screenshot '%s' is blank: nothing was rendered", path);
  }
  free(rgb);
  return rc;
}

static void key_cb(GLFWwindow* win, int key, int scancode, int action, int mods) {
  (void)scancode;
  Viewer* v = glfwGetWindowUserPointer(win);
  if (action == GLFW_RELEASE) return;
  mrlWatch* w = &v->w;
  int ctrl = mods & GLFW_MOD_CONTROL;
  const mjModel* m = mrl_watch_model(w);
  switch (key) {
  case GLFW_KEY_SPACE:
    v->paused = !v->paused;
    break;
  case GLFW_KEY_RIGHT:
    if (v->paused) v->step_once = 1;
    break;
  case GLFW_KEY_BACKSPACE:
    restart(v);
    break;
  case GLFW_KEY_EQUAL:
  case GLFW_KEY_KP_ADD:
    if (v->speed < 16) v->speed *= 2;
    break;
  case GLFW_KEY_MINUS:
  case GLFW_KEY_KP_SUBTRACT:
    if (v->speed > 1.0 / 64) v->speed /= 2;
    break;
  case GLFW_KEY_LEFT_BRACKET:
  case GLFW_KEY_RIGHT_BRACKET: {
    // the cycle: tracking, free, then the model's cameras
    int n = 2 + m->ncam, i = v->sc.camera + 2;
    i = (i + (key == GLFW_KEY_RIGHT_BRACKET ? 1 : n - 1)) % n;
    if (i == 0) {
      mrl_scene_track(&v->sc);
    } else {
      v->sc.camera = i - 2;
    }
    break;
  }
  case GLFW_KEY_ESCAPE:
    v->sc.camera = MRL_CAM_FREE;  // from where the current camera looks
    break;
  case GLFW_KEY_F1:
    v->help = !v->help;
    break;
  case GLFW_KEY_P:
    if (ctrl) v->screenshot = 1;
    break;
  case GLFW_KEY_Q:
    if (ctrl) v->quit = 1;
    break;
  case GLFW_KEY_N:
    mrl_watch_set_task(w, w->task_index + 1);
    mrl_watch_use(w, 0);
    v->mode = PLAYING;
    restart(v);
    say(v, "next task");
    break;
  case GLFW_KEY_A:
    if (w->random || w->adapted == 0) {
      say(v, w->random ? "random actions: no policy" : "not adapted yet");
    } else {
      mrl_watch_use(w, w->policy != w->theta);
      restart(v);
      say(v, w->policy == w->theta ? "adapted policy" : "initial policy");
    }
    break;
  case GLFW_KEY_R:
    if (w->nstep > 0) {
      w->seed++;  // fresh episodes for every step
      w->adapted = 0;
      mrl_watch_use(w, 0);
      start_adapting(v);
      say(v, "re-adapting with fresh episodes");
    }
    break;
  default:
    break;
  }
}

static void button_cb(GLFWwindow* win, int button, int action, int mods) {
  (void)mods;
  Viewer* v = glfwGetWindowUserPointer(win);
  if (button == GLFW_MOUSE_BUTTON_LEFT) v->left = action == GLFW_PRESS;
  if (button == GLFW_MOUSE_BUTTON_RIGHT) v->right = action == GLFW_PRESS;
  glfwGetCursorPos(win, &v->mx, &v->my);
}

static void cursor_cb(GLFWwindow* win, double x, double y) {
  Viewer* v = glfwGetWindowUserPointer(win);
  double dx = x - v->mx, dy = y - v->my;
  v->mx = x;
  v->my = y;
  if (!v->left && !v->right) return;
  if (v->sc.camera >= 0) v->sc.camera = MRL_CAM_FREE;  // a model camera cannot move
  int width, height;
  glfwGetWindowSize(win, &width, &height);
  int shift = glfwGetKey(win, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS ||
              glfwGetKey(win, GLFW_KEY_RIGHT_SHIFT) == GLFW_PRESS;
  int action = v->right ? (shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V)
                        : (shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V);
  mjv_moveCamera(mrl_watch_model(&v->w), action, dx / height, dy / height, &v->sc.scn, &v->sc.cam);
}

static void scroll_cb(GLFWwindow* win, double xoff, double yoff) {
  (void)xoff;
  Viewer* v = glfwGetWindowUserPointer(win);
  if (v->sc.camera >= 0) v->sc.camera = MRL_CAM_FREE;
  mjv_moveCamera(mrl_watch_model(&v->w), mjMOUSE_ZOOM, 0, -0.05 * yoff, &v->sc.scn, &v->sc.cam);
}

// Advance the state machine by one frame.
static void advance(Viewer* v) {
  mrlWatch* w = &v->w;
  double now = glfwGetTime(), elapsed = now - v->last_time;
  v->last_time = now;
  if (v->mode == ADAPTING) {
    // draw "adapting: step i" first, then take the step on the next frame
    if (!v->adapt_shown) {
      v->adapt_shown = 1;
      return;
    }
    v->adapt_shown = 0;
    mrl_watch_adapt_step(w);
    if (w->adapted == w->nstep) {
      mrl_watch_use(w, 1);
      v->mode = PLAYING;
      restart(v);
    }
    v->last_time = glfwGetTime();  // the step's time is not owed to the episode
    return;
  }
  if (w->done) {
    if (!v->frames && v->hold_until == 0) v->hold_until = now + 1.5;
    if (!v->frames && now < v->hold_until) return;
    if (w->policy == w->phi && w->adapted == 0 && w->nstep > 0 && !w->random) {
      start_adapting(v);
    } else {
      restart(v);
    }
    return;
  }
  double dt = mrl_watch_model(w)->opt.timestep * w->cfg.env.frame_skip;
  if (v->frames) {
    mrl_watch_step(w);
    return;
  }
  if (v->paused) {
    if (v->step_once) mrl_watch_step(w);
    v->step_once = 0;
    v->lag = 0;
    return;
  }
  v->lag += elapsed * v->speed;
  if (v->lag > 0.25 * v->speed) v->lag = 0.25 * v->speed;  // a slow frame is not caught up
  while (v->lag >= dt && !w->done) {
    mrl_watch_step(w);
    v->lag -= dt;
  }
}

static void render(Viewer* v) {
  mrlWatch* w = &v->w;
  int W, H;
  glfwGetFramebufferSize(v->win, &W, &H);
  mjrRect vp = {0, 0, W, H};
  char phase[128], titles[2048], values[2048], status[512];
  const char* ph = NULL;
  if (v->mode == ADAPTING) {
    snprintf(phase, sizeof(phase), "adapting: step %d/%d (%d episodes)...", w->adapted + 1,
             w->nstep, w->nepisode);
    ph = phase;
  } else if (w->policy == w->phi && w->adapted > 0) {
    ph = "initial policy (A: adapted)";
  }
  mrl_watch_overlay(w, ph, titles, sizeof(titles), values, sizeof(values));
  snprintf(status, sizeof(status), "%s\n%s\n%gx%s   F1: help", w->cfg.name, camera_name(v),
           v->speed, v->paused ? ", paused" : "");
  const char* speed = "run\ncamera\nspeed";
  mrlOverlay ov[3] = {{titles, values, mjGRID_TOPLEFT}, {speed, status, mjGRID_BOTTOMLEFT}};
  int nov = 2;
  if (v->help) ov[nov++] = (mrlOverlay){help_titles, help_values, mjGRID_TOPRIGHT};
  mrl_scene_update(&v->sc, mrl_watch_model(w), mrl_watch_data(w));
  mrl_scene_render(&v->sc, vp, ov, nov);
  if (v->message[0] && glfwGetTime() < v->message_until) {
    mjr_overlay(mjFONT_NORMAL, mjGRID_BOTTOMRIGHT, vp, v->message, NULL, &v->sc.con);
  }
}

typedef struct {
  mrlWatchOptions watch;
  int width, height;
  int frames;
  const char* screenshot;
} ViewOptions;

static int view_usage(const char* msg, const char* arg) {
  fprintf(stderr, "metarl: view: ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, " (usage: metarl help view)\n");
  return MRL_EXIT_USAGE;
}

static int view_parse(ViewOptions* o, int argc, char** argv) {
  memset(o, 0, sizeof(*o));
  o->width = 1200;
  o->height = 800;
  o->watch.steps = -1;
  o->watch.seed = 1;
  for (int i = 2; i < argc; i++) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    int shared = mrl_watch_flag(&o->watch, argc, argv, &i);
    if (shared < 0) return MRL_EXIT_USAGE;
    if (shared) continue;
    char* end;
    long n = value ? strtol(value, &end, 10) : 0;
    int bad = !value || !*value || *end;
    if (!strcmp(flag, "--random")) {
      if (!value) return view_usage("%s needs a config", flag);
      o->watch.random_config = value;
      i++;
    } else if (!strcmp(flag, "--screenshot")) {
      if (!value) return view_usage("%s needs a file", flag);
      o->screenshot = value;
      i++;
    } else if (!strcmp(flag, "--frames")) {
      if (bad || n < 1 || n > 1000000)
        return view_usage("--frames needs a count >= 1, got '%s'", value ? value : "");
      o->frames = (int)n;
      i++;
    } else if (!strcmp(flag, "--width") || !strcmp(flag, "--height")) {
      if (bad || n < 64 || n > 8192) return view_usage("%s needs a size in [64, 8192]", flag);
      *(!strcmp(flag, "--width") ? &o->width : &o->height) = (int)n;
      i++;
    } else if (flag[0] == '-') {
      return view_usage("unknown flag '%s'", flag);
    } else if (o->watch.rundir) {
      return view_usage("more than one run directory ('%s')", flag);
    } else {
      o->watch.rundir = flag;
    }
  }
  if (!o->watch.rundir && !o->watch.random_config) return view_usage("%s", "missing RUN_DIR");
  if (o->watch.rundir && o->watch.random_config) {
    return view_usage("give RUN_DIR or --random CONFIG, not both ('%s')", o->watch.rundir);
  }
  if (o->screenshot && !o->frames) return view_usage("%s", "--screenshot needs --frames N");
  return MRL_EXIT_OK;
}

int mrl_view_main(int argc, char** argv) {
  ViewOptions o;
  int code = view_parse(&o, argc, argv);
  if (code != MRL_EXIT_OK) return code;
  static Viewer v;
  char err[MRL_ERRLEN];
  code = mrl_watch_make(&v.w, &o.watch, err, sizeof(err));
  if (code != MRL_EXIT_OK) {
    fprintf(stderr, "metarl: view: %s\n", err);
    mrl_watch_free(&v.w);
    return code;
  }
  const char* display = getenv("DISPLAY");
  const char* wayland = getenv("WAYLAND_DISPLAY");
  const char* suggest = "record a video instead: metarl record RUN_DIR --out FILE.mp4";
  if ((!display || !*display) && (!wayland || !*wayland)) {
    fprintf(stderr, "metarl: view: no display (DISPLAY is not set); %s\n", suggest);
    mrl_watch_free(&v.w);
    return MRL_EXIT_USAGE;
  }
  if (!glfwInit()) {
    fprintf(stderr, "metarl: view: cannot open the display '%s'; %s\n", display ? display : "",
            suggest);
    mrl_watch_free(&v.w);
    return MRL_EXIT_USAGE;
  }
  glfwWindowHint(GLFW_SAMPLES, 4);
  glfwWindowHint(GLFW_VISIBLE, 1);
  char title[512];
  snprintf(title, sizeof(title), "metarl view: %s", o.watch.rundir ? o.watch.rundir : v.w.cfg.name);
  v.win = glfwCreateWindow(o.width, o.height, title, NULL, NULL);
  if (!v.win) {
    fprintf(stderr, "metarl: view: cannot create an OpenGL window on '%s'; %s\n",
            display ? display : "", suggest);
    glfwTerminate();
    mrl_watch_free(&v.w);
    return MRL_EXIT_USAGE;
  }
  glfwMakeContextCurrent(v.win);
  glfwSwapInterval(o.frames ? 0 : 1);
  const mjModel* m = mrl_watch_model(&v.w);
  int W, H;
  glfwGetFramebufferSize(v.win, &W, &H);
  mrl_scene_make(&v.sc, m, mrl_mujoco_root(v.w.fam), mrl_mujoco_floor(v.w.fam), 0, 0,
                 W >= 1600 ? mjFONTSCALE_200 : mjFONTSCALE_150);
  double normal[3];
  mrl_mujoco_env_normal(v.w.env, normal);
  mrl_scene_set_slope(&v.sc, normal);
  glfwSetWindowUserPointer(v.win, &v);
  glfwSetKeyCallback(v.win, key_cb);
  glfwSetMouseButtonCallback(v.win, button_cb);
  glfwSetCursorPosCallback(v.win, cursor_cb);
  glfwSetScrollCallback(v.win, scroll_cb);
  v.speed = 1;
  v.frames = o.frames;
  v.last_time = glfwGetTime();
  mrl_watch_use(&v.w, 0);
  int frame = 0, task_seen = v.w.task_index;
  while (!glfwWindowShouldClose(v.win) && !v.quit) {
    advance(&v);
    if (v.w.task_index != task_seen) {  // N: a new task tilts the floor anew
      mrl_mujoco_env_normal(v.w.env, normal);
      mrl_scene_set_slope(&v.sc, normal);
      task_seen = v.w.task_index;
    }
    render(&v);
    frame++;
    if (v.screenshot) {
      char path[64];
      time_t now = time(NULL);
      strftime(path, sizeof(path), "metarl-%Y%m%d-%H%M%S.png", localtime(&now));
      char msg[MRL_ERRLEN + 64];
      if (save_screenshot(&v, path, err, sizeof(err))) {
        snprintf(msg, sizeof(msg), "%s", err);
      } else {
        snprintf(msg, sizeof(msg), "saved %s", path);
      }
      say(&v, msg);
      v.screenshot = 0;
    }
    if (o.frames && frame == o.frames) {
      if (o.screenshot && save_screenshot(&v, o.screenshot, err, sizeof(err))) {
        fprintf(stderr, "metarl: view: %s\n", err);
        code = MRL_EXIT_RUNTIME;
      }
      break;
    }
    glfwSwapBuffers(v.win);
    glfwPollEvents();
  }
  if (o.frames && code == MRL_EXIT_OK) {
    printf("view: rendered %d frames (%dx%d)%s%s\n", frame, W, H,
           o.screenshot ? "; screenshot " : "", o.screenshot ? o.screenshot : "");
  }
  mrl_scene_free(&v.sc);
  glfwDestroyWindow(v.win);
  glfwTerminate();
  mrl_watch_free(&v.w);
  return code;
}
