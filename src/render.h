// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// render.h: the GL side of metarl, built into its own module
// (metarl_render.so) that the metarl executable loads only for `view` and
// `record`, so that training never needs a GL library. Three parts:
//
//   render.c  offscreen OSMesa contexts, the scene (tracking camera, tilted
//             floor, slope arrow, overlay), frame capture, PNG files and the
//             ffmpeg pipe; `metarl record`
//   watch.c   a run seen through one task: loading the run, --task keys,
//             live adaptation step by step, one displayed episode
//   viewer.c  the GLFW window and its keys; `metarl view`
//
// Same conventions as metarl.h: functions return 0 or -1 with a one-line
// message in err (MRL_ERRLEN bytes).

#ifndef METARL_RENDER_H_
#define METARL_RENDER_H_

#include <mujoco/mujoco.h>

#include "metarl.h"

//------------------------------- entry points -------------------------------

// `metarl view ...` and `metarl record ...`: argv as given to main; return an
// exit code. Looked up by name with dlsym by main.c.
int mrl_view_main(int argc, char** argv);
int mrl_record_main(int argc, char** argv);

//------------------------------ offscreen context -----------------------------

typedef struct mrlGLContext_ mrlGLContext;

// Make an OSMesa context of width x height and make it current. libOSMesa is
// opened here (dlopen, RTLD_GLOBAL) so that MuJoCo's GL loader finds
// OSMesaGetProcAddress, and so that a process that only trains never loads
// it. NULL with a message if the library or the context is missing.
mrlGLContext* mrl_gl_offscreen_make(int width, int height, char* err, size_t errlen);
// Destroy the context and its buffer (libOSMesa stays loaded); NULL: nothing.
void mrl_gl_offscreen_free(mrlGLContext* gl);

//---------------------------------- scene -----------------------------------

// Which camera a view shows: MRL_CAM_TRACK follows the root body at a fixed
// side angle, MRL_CAM_FREE is moved by the mouse, k >= 0 is the model's
// fixed camera k.
enum { MRL_CAM_TRACK = -2, MRL_CAM_FREE = -1 };

// Everything MuJoCo needs to draw one model: scene, camera, options and the
// GL resources (made in the GL context current at mrl_scene_make).
typedef struct {
  mjvScene scn;
  mjvCamera cam;
  mjvOption opt;
  mjrContext con;
  int camera;    // MRL_CAM_TRACK, MRL_CAM_FREE or a model camera
  int root;      // body the tracking camera follows
  int floor;     // geom id of the floor plane (-1: none)
  double up[3];  // unit uphill direction on the floor (0 when flat)
  double size;   // the robot's bounding-box diagonal: camera distance, arrow length
} mrlScene;

// Set up sc for model m in the current GL context; offscreen buffers of at
// least width x height (0: the model's own visual/global sizes). The camera
// starts as the tracking camera on body `root`; fontscale is one of
// mjFONTSCALE_*.
void mrl_scene_make(mrlScene* sc, const mjModel* m, int root, int floor, int width, int height,
                    int fontscale);
// Free the MuJoCo scene and GL resources of sc (made by mrl_scene_make; the
// same GL context must be current); sc itself is the caller's.
void mrl_scene_free(mrlScene* sc);

// Point the tracking camera at `root` from the side (azimuth 90 degrees),
// at a distance from the model's extent.
void mrl_scene_track(mrlScene* sc);

// Set the uphill direction drawn as an arrow from the floor normal n (world
// frame); a flat floor draws no arrow.
void mrl_scene_set_slope(mrlScene* sc, const double* n);

// Update the scene from d (camera per sc->camera) and add the slope arrow
// next to the root body.
void mrl_scene_update(mrlScene* sc, const mjModel* m, mjData* d);

// Two-column text (titles, values; lines split by '\n') drawn in a corner.
typedef struct {
  const char* titles;
  const char* values;
  int gridpos;  // mjGRID_*
} mrlOverlay;

// Render the scene into viewport (current buffer) and draw the overlays.
void mrl_scene_render(mrlScene* sc, mjrRect viewport, const mrlOverlay* ov, int nov);

//------------------------------- frame capture -------------------------------

// Read viewport of the current buffer into rgb (h, w, 3), the top row first
// (GL reads bottom-up; the rows are flipped here).
void mrl_read_rgb(const mrlScene* sc, mjrRect viewport, unsigned char* rgb);

// Fraction of pixels of rgb (npixel, 3) that differ from the first pixel:
// 0 for a blank image.
double mrl_rgb_nonblank(const unsigned char* rgb, int npixel);

// Write rgb (h, w, 3), top row first, as an 8-bit RGB PNG (zlib). The file
// is written under a temporary name and renamed, so no partial PNG is left.
int mrl_png_write(const char* path, const unsigned char* rgb, int w, int h, char* err,
                  size_t errlen);

//----------------------------------- video ----------------------------------

typedef struct mrlVideo_ mrlVideo;

// Whether an executable named `name` is on PATH.
int mrl_have_program(const char* name);

// Start ffmpeg encoding rgb24 frames of w x h (both even) at fps into an
// H.264 (yuv420p) MP4. It writes to a temporary file beside path, renamed to
// path by mrl_video_close; NULL with a message if path's folder is not
// writable or ffmpeg cannot start.
mrlVideo* mrl_video_open(const char* path, int w, int h, double fps, char* err, size_t errlen);

// Send one frame rgb (h, w, 3), top row first. -1 if ffmpeg stopped.
int mrl_video_write(mrlVideo* v, const unsigned char* rgb, char* err, size_t errlen);

// Finish: wait for ffmpeg; if it succeeded and not abort, rename the file to
// its final name, else remove it. -1 with ffmpeg's last error line if ffmpeg
// failed (whether or not abort).
int mrl_video_close(mrlVideo* v, int abort, char* err, size_t errlen);

//---------------------------------- watching --------------------------------

// A trained run (or a random policy) on one task: what `view` and `record`
// show. The policy to display, its adaptation and one displayed episode.
typedef struct {
  mrlConfig cfg;
  mrlFamily* fam;
  mrlPolicy pol;
  int iteration;        // of the checkpoint (-1: random policy)
  double* phi;          // (nparam) the initialization
  double* theta;        // (nparam) adapted parameters
  double* value_state;  // rl.vf_shared: the checkpoint's value network, else NULL
  double* policy;       // phi or theta: what the displayed episode runs
  int random;           // random actions (view --random): no policy at all
  int adapted;          // steps of adaptation done so far
  int nstep;            // adaptation steps K
  int nepisode;         // episodes per adaptation step
  uint64_t seed;        // seed of the adaptation's sampling streams
  int task_index;       // held-out task index (task streams, and the sampling key)
  double* task;         // (ntask)
  char task_words[1024];
  double* batch_return;  // (nstep + 1) batch mean return after 0..adapted steps
  mrlLearner* learner;   // adaptation (nepisode episodes)
  // task keys given on the command line, applied to every task
  int nset;
  char set_key[16][32];
  double set_value[16];
  // the displayed episode
  mrlEnv* env;  // one episode
  mrlPolicyWork* work;
  double* obs;         // (nobs)
  double* act;         // (nact)
  mrlRng rng;          // random actions
  int episode;         // displayed episodes so far
  int t;               // env steps in the current episode
  int done;            // ended (terminated or horizon)
  double ret;          // return so far
  double last_return;  // final return of the last ended episode (NAN: none yet)
  int last_adapted;    // whether that episode ran the adapted policy
} mrlWatch;

// Options shared by view and record.
typedef struct {
  const char* rundir;         // run directory (NULL with random_config)
  const char* checkpoint;     // NULL: rundir/checkpoints/latest.ckpt
  const char* random_config;  // view --random CONFIG: no run, random actions
  const char* task;           // "key=value,..." or NULL
  int steps;                  // adaptation steps (< 0: the run's eval.steps)
  int episodes;               // episodes per step (<= 0: eval.episodes)
  int task_index;             // held-out task (>= 0)
  uint64_t seed;              // sampling seed of the adaptation
} mrlWatchOptions;

// Parse a flag that view and record share (--task, --checkpoint, --steps,
// --episodes, --task-index, --seed) at argv[*i]: 1 if it was one (*i moves
// past its value), 0 if not, -1 after printing a message for a bad value.
int mrl_watch_flag(mrlWatchOptions* o, int argc, char** argv, int* i);

// Load the run (config, family, checkpoint) and set the first task. Returns
// an exit code with a message in err: 2 for a missing run or checkpoint, a
// bad config, a family that is not mujoco or an unknown task key. Call
// mrl_watch_free afterwards whatever the outcome.
int mrl_watch_make(mrlWatch* w, const mrlWatchOptions* opt, char* err, size_t errlen);
// Release what w holds and zero it (w itself is the caller's); safe after a
// failed mrl_watch_make.
void mrl_watch_free(mrlWatch* w);

// Parse "key=value,..." into the override list, checking every key against
// the family (mrl_mujoco_task_set). -1 with a message for an unknown key.
int mrl_watch_parse_task(mrlWatch* w, const char* spec, char* err, size_t errlen);

// Load held-out task `index` with the overrides applied; resets adaptation
// and the displayed episode (the initial policy).
void mrl_watch_set_task(mrlWatch* w, int index);

// Take adaptation step w->adapted + 1 (of nstep): theta is exactly what
// mrl_inner_adapt reaches after that many steps with the same streams as
// `metarl eval` (seed, iteration 0, key task_index). Returns the batch mean
// return after the step.
double mrl_watch_adapt_step(mrlWatch* w);

// Show the initial (0) or the adapted (1) policy; restarts the episode.
void mrl_watch_use(mrlWatch* w, int adapted);

// Restart the displayed episode (reset keyed by seed and episode number).
void mrl_watch_reset(mrlWatch* w);

// One env step of the displayed episode with the policy's mean action (or a
// random action). Sets done at termination or the horizon.
void mrl_watch_step(mrlWatch* w);

// The displayed episode's model and data.
mjModel* mrl_watch_model(mrlWatch* w);
mjData* mrl_watch_data(mrlWatch* w);

// The overlay text of the current state: task, phase, time, return, final
// return. phase overrides the phase line when not NULL.
void mrl_watch_overlay(const mrlWatch* w, const char* phase, char* titles, size_t ntitles,
                       char* values, size_t nvalues);

#endif  // METARL_RENDER_H_
