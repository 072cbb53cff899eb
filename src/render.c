// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// render.c: offscreen GL contexts, the scene shared by the viewer and the
// recorder, frame capture, PNG files, the ffmpeg pipe, and `metarl record`.
//
// MuJoCo 2.2 renders with whatever GL platform the process has loaded: it
// looks for eglGetProcAddress, then OSMesaGetProcAddress, then
// glXGetProcAddressARB among the global symbols, once per process. So
// OSMesa is opened here, RTLD_GLOBAL, only when an offscreen context is made;
// the viewer (GLFW, GLX) never loads it, and training loads neither.

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "envs.h"
#include "render.h"

//------------------------------ offscreen context -----------------------------

#define MRL_GL_RGBA 0x1908           // GL_RGBA, i.e. OSMESA_RGBA
#define MRL_GL_UNSIGNED_BYTE 0x1401  // GL_UNSIGNED_BYTE

typedef void* (*OSMesaCreateContextExtFn)(unsigned format, int depth, int stencil, int accum,
                                          void* share);
typedef unsigned char (*OSMesaMakeCurrentFn)(void* ctx, void* buffer, unsigned type, int width,
                                             int height);
typedef void (*OSMesaDestroyContextFn)(void* ctx);

struct mrlGLContext_ {
  void* ctx;              // OSMesaContext
  unsigned char* buffer;  // (height, width, 4) the default framebuffer
  OSMesaDestroyContextFn destroy;
};

mrlGLContext* mrl_gl_offscreen_make(int width, int height, char* err, size_t errlen) {
  static const char* const names[] = {"libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"};
  void* lib = NULL;
  for (int i = 0; i < 3 && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    mrl_error(err, errlen, "cannot load OSMesa for offscreen rendering (%s): install libosmesa6",
              dlerror());
    return NULL;
  }
  // never closed: MuJoCo keeps the GL function pointers it loaded
  OSMesaCreateContextExtFn create = (OSMesaCreateContextExtFn)dlsym(lib, "OSMesaCreateContextExt");
  OSMesaMakeCurrentFn make_current = (OSMesaMakeCurrentFn)dlsym(lib, "OSMesaMakeCurrent");
  OSMesaDestroyContextFn destroy = (OSMesaDestroyContextFn)dlsym(lib, "OSMesaDestroyContext");
  if (!create || !make_current || !destroy) {
    mrl_error(err, errlen, "libOSMesa lacks OSMesaCreateContextExt/MakeCurrent/DestroyContext");
    return NULL;
  }
  mrlGLContext* gl = mrl_alloc(sizeof(mrlGLContext));
  gl->destroy = destroy;
  gl->ctx = create(MRL_GL_RGBA, 24, 8, 0, NULL);
  gl->buffer = mrl_alloc((size_t)width * height * 4);
  if (!gl->ctx || !make_current(gl->ctx, gl->buffer, MRL_GL_UNSIGNED_BYTE, width, height)) {
    mrl_error(err, errlen, "OSMesa could not make a %dx%d context current", width, height);
    mrl_gl_offscreen_free(gl);
    return NULL;
  }
  return gl;
}

void mrl_gl_offscreen_free(mrlGLContext* gl) {
  if (!gl) return;
  if (gl->ctx) gl->destroy(gl->ctx);
  free(gl->buffer);
  free(gl);
}

//---------------------------------- scene -----------------------------------

void mrl_scene_make(mrlScene* sc, const mjModel* m, int root, int floor, int width, int height,
                    int fontscale) {
  memset(sc, 0, sizeof(*sc));
  mjv_defaultScene(&sc->scn);
  mjv_defaultCamera(&sc->cam);
  mjv_defaultOption(&sc->opt);
  mjr_defaultContext(&sc->con);
  mjv_makeScene(m, &sc->scn, 2000);
  // a mirror image under a tilted floor reads as a second robot
  sc->scn.flags[mjRND_REFLECTION] = 0;
  // the offscreen buffer is sized from the model's visual options
  mjModel* sized = mj_copyModel(NULL, m);
  if (width > sized->vis.global.offwidth) sized->vis.global.offwidth = width;
  if (height > sized->vis.global.offheight) sized->vis.global.offheight = height;
  // in a software renderer (OSMesa, Xvfb) 4x multisampling doubles the time
  // of a frame; 2x keeps the edges smooth. A 4096^2 shadow map is no sharper
  // at video sizes than 1024^2.
  if (sized->vis.quality.offsamples > 2) sized->vis.quality.offsamples = 2;
  if (sized->vis.quality.shadowsize > 1024) sized->vis.quality.shadowsize = 1024;
  mjr_makeContext(sized, &sc->con, fontscale);
  mj_deleteModel(sized);
  sc->root = root;
  sc->floor = floor;
  // the robot's size at its initial pose: the diagonal of the bounding box of
  // the geoms outside the world body (m->stat.extent counts the floor too)
  mjData* d = mj_makeData(m);
  mj_forward(m, d);
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int g = 0; g < m->ngeom; g++) {
    if (m->geom_bodyid[g] == 0) continue;
    for (int a = 0; a < 3; a++) {
      lo[a] = fmin(lo[a], d->geom_xpos[3 * g + a] - m->geom_rbound[g]);
      hi[a] = fmax(hi[a], d->geom_xpos[3 * g + a] + m->geom_rbound[g]);
    }
  }
  mj_deleteData(d);
  double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                     (hi[2] - lo[2]) * (hi[2] - lo[2]));
  sc->size = isfinite(diag) && diag > 0 ? diag : 1;
  mrl_scene_track(sc);
}

void mrl_scene_free(mrlScene* sc) {
  mjr_freeContext(&sc->con);
  mjv_freeScene(&sc->scn);
}

void mrl_scene_track(mrlScene* sc) {
  sc->camera = MRL_CAM_TRACK;
  sc->cam.type = mjCAMERA_TRACKING;
  sc->cam.trackbodyid = sc->root;
  sc->cam.fixedcamid = -1;
  // from the side (looking along +y) and a little above: the robot walks
  // across the frame and the floor's tilt shows against the frame's edges
  sc->cam.azimuth = 90;
  sc->cam.elevation = -12;
  sc->cam.distance = 2.5 * sc->size;
}

void mrl_scene_set_slope(mrlScene* sc, const double* n) {
  // uphill: world +z projected on the plane
  double u[3] = {-n[0] * n[2], -n[1] * n[2], 1 - n[2] * n[2]};
  double norm = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  for (int a = 0; a < 3; a++) sc->up[a] = norm > 1e-9 ? u[a] / norm : 0;
}

// An arrow lying on the floor next to the root, pointing uphill.
static void add_slope_arrow(mrlScene* sc, const mjData* d) {
  const double* u = sc->up;
  if (sc->floor < 0 || (u[0] == 0 && u[1] == 0 && u[2] == 0)) return;
  if (sc->scn.ngeom >= sc->scn.maxgeom) return;
  const mjtNum* n = d->geom_xmat + 9 * sc->floor;  // the plane's z axis: column 2
  double normal[3] = {n[2], n[5], n[8]};
  const mjtNum* p = d->xpos + 3 * sc->root;
  const mjtNum* q = d->geom_xpos + 3 * sc->floor;
  double h = (p[0] - q[0]) * normal[0] + (p[1] - q[1]) * normal[1] + (p[2] - q[2]) * normal[2];
  // beside the robot on the camera's side (normal x uphill, signed toward the
  // camera), so that the robot never hides it
  double s[3] = {normal[1] * u[2] - normal[2] * u[1], normal[2] * u[0] - normal[0] * u[2],
                 normal[0] * u[1] - normal[1] * u[0]};
  const float* look = sc->scn.camera[0].forward;
  double sign = s[0] * look[0] + s[1] * look[1] + s[2] * look[2] > 0 ? 1 : -1;
  for (int k = 0; k < 3; k++) s[k] *= sign;
  double len = 0.5 * sc->size;
  double a[3], b[3];
  for (int k = 0; k < 3; k++) {
    double base = p[k] - h * normal[k] + 0.03 * normal[k] - 0.3 * sc->size * s[k];
    a[k] = base + 0.4 * len * u[k];
    b[k] = base + 1.4 * len * u[k];
  }
  mjvGeom* g = sc->scn.geoms + sc->scn.ngeom++;
  const float rgba[4] = {1.0f, 0.8f, 0.1f, 1.0f};
  mjv_initGeom(g, mjGEOM_NONE, NULL, NULL, NULL, rgba);
  mjv_makeConnector(g, mjGEOM_ARROW, 0.025 * sc->size, a[0], a[1], a[2], b[0], b[1], b[2]);
  g->category = mjCAT_DECOR;
  snprintf(g->label, sizeof(g->label), "uphill");
}

void mrl_scene_update(mrlScene* sc, const mjModel* m, mjData* d) {
  if (sc->camera == MRL_CAM_TRACK) {
    sc->cam.type = mjCAMERA_TRACKING;
    sc->cam.trackbodyid = sc->root;
  } else if (sc->camera == MRL_CAM_FREE) {
    sc->cam.type = mjCAMERA_FREE;
  } else {
    sc->cam.type = mjCAMERA_FIXED;
    sc->cam.fixedcamid = sc->camera;
  }
  mjv_updateScene(m, d, &sc->opt, NULL, &sc->cam, mjCAT_ALL, &sc->scn);
  // squares of about 0.4 robot sizes on the floor, so that motion along it
  // shows (the models' checker is sized for a 100 m plane)
  for (int i = 0; i < sc->scn.ngeom && sc->floor >= 0; i++) {
    mjvGeom* g = sc->scn.geoms + i;
    if (g->objtype != mjOBJ_GEOM || g->objid != sc->floor) continue;
    for (int a = 0; a < 2; a++) {
      double length = 2 * m->geom_size[3 * sc->floor + a];
      if (length > 0) g->texrepeat[a] = (float)(length / (2 * 0.4 * sc->size));
    }
  }
  add_slope_arrow(sc, d);
}

void mrl_scene_render(mrlScene* sc, mjrRect viewport, const mrlOverlay* ov, int nov) {
  mjr_render(viewport, &sc->scn, &sc->con);
  for (int i = 0; i < nov; i++) {
    mjr_overlay(mjFONT_NORMAL, ov[i].gridpos, viewport, ov[i].titles, ov[i].values, &sc->con);
  }
}

//------------------------------- frame capture -------------------------------

void mrl_read_rgb(const mrlScene* sc, mjrRect viewport, unsigned char* rgb) {
  int w = viewport.width, h = viewport.height;
  mjr_readPixels(rgb, NULL, viewport, &sc->con);
  unsigned char* row = mrl_alloc((size_t)3 * w);
  for (int y = 0; y < h / 2; y++) {
    unsigned char* a = rgb + (size_t)3 * w * y;
    unsigned char* b = rgb + (size_t)3 * w * (h - 1 - y);
    memcpy(row, a, (size_t)3 * w);
    memcpy(a, b, (size_t)3 * w);
    memcpy(b, row, (size_t)3 * w);
  }
  free(row);
}

double mrl_rgb_nonblank(const unsigned char* rgb, int npixel) {
  long differ = 0;
  for (int i = 1; i < npixel; i++) {
    differ += memcmp(rgb, rgb + 3 * (size_t)i, 3) != 0;
  }
  return npixel > 0 ? (double)differ / npixel : 0;
}

//------------------------------------ PNG -----------------------------------

static void be32(unsigned char* p, unsigned long v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

// One chunk: length, type, data, CRC of type and data.
static int png_chunk(FILE* f, const char* type, const unsigned char* data, size_t n) {
  unsigned char head[8], tail[4];
  be32(head, (unsigned long)n);
  memcpy(head + 4, type, 4);
  unsigned long crc = crc32(0, head + 4, 4);
  if (n) crc = crc32(crc, data, (uInt)n);
  be32(tail, crc);
  return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) &&
                 fwrite(tail, 1, 4, f) == 4
             ? 0
             : -1;
}

int mrl_png_write(const char* path, const unsigned char* rgb, int w, int h, char* err,
                  size_t errlen) {
  // filter type 0 (none) in front of every row, then one zlib stream
  size_t stride = (size_t)3 * w + 1, raw_len = stride * h;
  unsigned char* raw = mrl_alloc(raw_len);
  for (int y = 0; y < h; y++) memcpy(raw + y * stride + 1, rgb + (size_t)3 * w * y, stride - 1);
  uLongf zlen = compressBound(raw_len);
  unsigned char* z = mrl_alloc(zlen);
  int zrc = compress2(z, &zlen, raw, raw_len, 6);
  free(raw);
  if (zrc != Z_OK) {
    free(z);
    return mrl_error(err, errlen, "cannot compress PNG data (zlib error %d)", zrc);
  }
  char tmp[4096 + 32];
  snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
  FILE* f = fopen(tmp, "wb");
  if (!f) {
    free(z);
    return mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(errno));
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char ihdr[13];
  be32(ihdr, (unsigned long)w);
  be32(ihdr + 4, (unsigned long)h);
  ihdr[8] = 8;  // bits per channel
  ihdr[9] = 2;  // color type: RGB
  ihdr[10] = ihdr[11] = ihdr[12] = 0;
  int rc = fwrite(sig, 1, 8, f) == 8 ? 0 : -1;
  rc |= png_chunk(f, "IHDR", ihdr, 13);
  rc |= png_chunk(f, "IDAT", z, zlen);
  rc |= png_chunk(f, "IEND", NULL, 0);
  free(z);
  if (fclose(f)) rc = -1;
  if (rc || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(e));
  }
  return 0;
}

//----------------------------------- video ----------------------------------

struct mrlVideo_ {
  pid_t pid;
  int fd;     // ffmpeg's standard input
  FILE* log;  // ffmpeg's standard error
  int w, h;
  long frames;
  char tmp[4096 + 64];
  char path[4096];
};

int mrl_have_program(const char* name) {
  const char* env = getenv("PATH");
  char dirs[8192];
  snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/bin:/bin");
  for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save)) {
    char path[8192 + 256];
    snprintf(path, sizeof(path), "%s/%s", *dir ? dir : ".", name);
    if (access(path, X_OK) == 0) return 1;
  }
  return 0;
}

mrlVideo* mrl_video_open(const char* path, int w, int h, double fps, char* err, size_t errlen) {
  mrlVideo* v = mrl_alloc(sizeof(mrlVideo));
  v->w = w;
  v->h = h;
  v->fd = -1;
  snprintf(v->path, sizeof(v->path), "%s", path);
  // the temporary file beside the final one (same file system: rename is
  // atomic), created here so that an unwritable folder fails before ffmpeg
  const char* slash = strrchr(path, '/');
  int dirlen = slash ? (int)(slash - path) + 1 : 0;
  snprintf(v->tmp, sizeof(v->tmp), "%.*s.%s.part%d.mp4", dirlen, path, slash ? slash + 1 : path,
           (int)getpid());
  int probe = open(v->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (probe < 0) {
    mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    free(v);
    return NULL;
  }
  close(probe);
  v->log = tmpfile();
  int pipefd[2];
  if (!v->log || pipe(pipefd)) {
    mrl_error(err, errlen, "cannot start ffmpeg: %s", strerror(errno));
    if (v->log) fclose(v->log);
    unlink(v->tmp);
    free(v);
    return NULL;
  }
  char size[64], rate[64];
  snprintf(size, sizeof(size), "%dx%d", w, h);
  snprintf(rate, sizeof(rate), "%.6g", fps);
  char* argv[] = {"ffmpeg",    "-hide_banner", "-nostdin", "-loglevel", "error",    "-y",
                  "-f",        "rawvideo",     "-pix_fmt", "rgb24",     "-s",       size,
                  "-r",        rate,           "-i",       "-",         "-c:v",     "libx264",
                  "-preset",   "veryfast",     "-crf",     "20",        "-pix_fmt", "yuv420p",
                  "-movflags", "+faststart",   "-f",       "mp4",       v->tmp,     NULL};
  // ffmpeg stopping early must come back as a write error, not a signal
  signal(SIGPIPE, SIG_IGN);
  v->pid = fork();
  if (v->pid == 0) {
    dup2(pipefd[0], 0);
    dup2(fileno(v->log), 2);
    close(pipefd[0]);
    close(pipefd[1]);
    execvp("ffmpeg", argv);
    fprintf(stderr, "cannot run ffmpeg: %s\n", strerror(errno));
    _exit(127);
  }
  close(pipefd[0]);
  if (v->pid < 0) {
    mrl_error(err, errlen, "cannot start ffmpeg: %s", strerror(errno));
    close(pipefd[1]);
    fclose(v->log);
    unlink(v->tmp);
    free(v);
    return NULL;
  }
  v->fd = pipefd[1];
  return v;
}

// The last line ffmpeg wrote to its standard error.
static void ffmpeg_error(mrlVideo* v, char* buf, size_t n) {
  buf[0] = 0;
  fflush(v->log);
  rewind(v->log);
  char line[1024];
  while (fgets(line, sizeof(line), v->log)) {
    line[strcspn(line, "\n")] = 0;
    if (line[0]) snprintf(buf, n, "%.*s", (int)(n - 1), line);
  }
}

int mrl_video_write(mrlVideo* v, const unsigned char* rgb, char* err, size_t errlen) {
  size_t n = (size_t)3 * v->w * v->h, done = 0;
  while (done < n) {
    ssize_t k = write(v->fd, rgb + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return mrl_error(err, errlen, "ffmpeg stopped reading frames: %s", strerror(errno));
    done += (size_t)k;
  }
  v->frames++;
  return 0;
}

int mrl_video_close(mrlVideo* v, int abort, char* err, size_t errlen) {
  if (v->fd >= 0) close(v->fd);
  int status = 0;
  while (waitpid(v->pid, &status, 0) < 0 && errno == EINTR) {
  }
  int rc = 0;
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) {
    char last[512];
    ffmpeg_error(v, last, sizeof(last));
    rc = mrl_error(
        err, errlen, "ffmpeg failed (%s %d): %s", WIFEXITED(status) ? "exit status" : "signal",
        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last[0] ? last : "no message");
  } else if (!abort && rename(v->tmp, v->path)) {
    rc = mrl_error(err, errlen, "cannot move the video to '%s': %s", v->path, strerror(errno));
  }
  if (abort || rc) unlink(v->tmp);
  fclose(v->log);
  free(v);
  return rc;
}

//---------------------------------- record ----------------------------------

// One episode, kept as states so that two can be drawn side by side.
typedef struct {
  int nq, nv, len;  // states 0..len (len env steps)
  double* qpos;     // (horizon + 1, nq)
  double* qvel;     // (horizon + 1, nv)
  double* ret;      // (horizon + 1) return so far
  int ended;        // terminated before the horizon
} Trace;

static void trace_episode(mrlWatch* w, Trace* tr) {
  const mjModel* m = mrl_watch_model(w);
  const mjData* d = mrl_watch_data(w);
  int T = w->fam->horizon;
  tr->nq = m->nq;
  tr->nv = m->nv;
  tr->qpos = mrl_alloc(sizeof(double) * (T + 1) * m->nq);
  tr->qvel = mrl_alloc(sizeof(double) * (T + 1) * m->nv);
  tr->ret = mrl_alloc(sizeof(double) * (T + 1));
  for (int s = 0;; s++) {
    memcpy(tr->qpos + (size_t)s * m->nq, d->qpos, sizeof(double) * m->nq);
    memcpy(tr->qvel + (size_t)s * m->nv, d->qvel, sizeof(double) * m->nv);
    tr->ret[s] = w->ret;
    tr->len = s;
    if (w->done) break;
    mrl_watch_step(w);
  }
  tr->ended = w->t < T;
}

static void trace_free(Trace* tr) {
  free(tr->qpos);
  free(tr->qvel);
  free(tr->ret);
}

// Put state s of the trace (held at its end) into d and the watch's counters,
// so that the overlay reads the right time and return.
static void trace_load(mrlWatch* w, const Trace* tr, int s, double final_return) {
  const mjModel* m = mrl_watch_model(w);
  mjData* d = mrl_watch_data(w);
  if (s > tr->len) s = tr->len;
  memcpy(d->qpos, tr->qpos + (size_t)s * tr->nq, sizeof(double) * tr->nq);
  memcpy(d->qvel, tr->qvel + (size_t)s * tr->nv, sizeof(double) * tr->nv);
  mj_forward(m, d);
  w->t = s;
  w->ret = tr->ret[s];
  w->done = s == tr->len;
  w->last_return = s == tr->len ? final_return : NAN;
  w->last_adapted = w->policy == w->theta;
}

typedef struct {
  const char* rundir;
  const char* out;
  const char* frames_dir;
  int width, height;
  double fps;
  int side_by_side;
  mrlWatchOptions watch;
} RecordOptions;

static int record_usage(const char* msg, const char* arg) {
  fprintf(stderr, "metarl: record: ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, " (usage: metarl help record)\n");
  return MRL_EXIT_USAGE;
}

static int parse_int_flag(const char* flag, const char* s, long lo, long hi, long* out) {
  char* end;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "metarl: %s needs an integer in [%ld, %ld], got '%s'\n", flag, lo, hi,
            s ? s : "");
    return -1;
  }
  *out = v;
  return 0;
}

// Flags that view and record share; returns 1 if argv[*i] was one (and moves
// *i past its value), 0 if not, -1 on a bad value.
int mrl_watch_flag(mrlWatchOptions* o, int argc, char** argv, int* i) {
  const char* flag = argv[*i];
  const char* value = *i + 1 < argc ? argv[*i + 1] : NULL;
  long v;
  if (!strcmp(flag, "--task") || !strcmp(flag, "--checkpoint")) {
    if (!value) {
      fprintf(stderr, "metarl: %s needs a value\n", flag);
      return -1;
    }
    if (!strcmp(flag, "--task")) {
      o->task = value;
    } else {
      o->checkpoint = value;
    }
  } else if (!strcmp(flag, "--steps")) {
    if (parse_int_flag(flag, value, 0, 100, &v)) return -1;
    o->steps = (int)v;
  } else if (!strcmp(flag, "--episodes")) {
    if (parse_int_flag(flag, value, 1, 10000, &v)) return -1;
    o->episodes = (int)v;
  } else if (!strcmp(flag, "--task-index")) {
    if (parse_int_flag(flag, value, 0, 1000000, &v)) return -1;
    o->task_index = (int)v;
  } else if (!strcmp(flag, "--seed")) {
    if (parse_int_flag(flag, value, 0, 0x7fffffffL, &v)) return -1;
    o->seed = (uint64_t)v;
  } else {
    return 0;
  }
  (*i)++;
  return 1;
}

static int record_parse(RecordOptions* o, int argc, char** argv) {
  memset(o, 0, sizeof(*o));
  o->width = 640;
  o->height = 480;
  o->watch.steps = -1;
  o->watch.seed = 1;
  for (int i = 2; i < argc; i++) {
    const char* flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : NULL;
    long v;
    int shared = mrl_watch_flag(&o->watch, argc, argv, &i);
    if (shared < 0) return MRL_EXIT_USAGE;
    if (shared) continue;
    if (!strcmp(flag, "--out") || !strcmp(flag, "--frames")) {
      if (!value) return record_usage("%s needs a path", flag);
      *(!strcmp(flag, "--out") ? &o->out : &o->frames_dir) = value;
      i++;
    } else if (!strcmp(flag, "--width") || !strcmp(flag, "--height")) {
      if (parse_int_flag(flag, value, 16, 4096, &v)) return MRL_EXIT_USAGE;
      if (v % 2) return record_usage("%s must be even (H.264 in yuv420p halves the chroma)", flag);
      *(!strcmp(flag, "--width") ? &o->width : &o->height) = (int)v;
      i++;
    } else if (!strcmp(flag, "--fps")) {
      char* end;
      o->fps = value ? strtod(value, &end) : 0;
      if (!value || *end || !(o->fps >= 1 && o->fps <= 1000)) {
        return record_usage("--fps needs a number in [1, 1000], got '%s'", value ? value : "");
      }
      i++;
    } else if (!strcmp(flag, "--side-by-side")) {
      o->side_by_side = 1;
    } else if (flag[0] == '-') {
      return record_usage("unknown flag '%s'", flag);
    } else if (o->rundir) {
      return record_usage("more than one run directory ('%s')", flag);
    } else {
      o->rundir = flag;
    }
  }
  if (!o->rundir) return record_usage("%s", "missing RUN_DIR");
  if (!o->out && !o->frames_dir)
    return record_usage("%s", "missing --out FILE.mp4 (or --frames DIR)");
  o->watch.rundir = o->rundir;
  return MRL_EXIT_OK;
}

// The folder of path exists and is writable (checked before any rendering).
static int check_output(const char* path, char* err, size_t errlen) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  char* slash = strrchr(dir, '/');
  if (slash == dir) {
    dir[1] = 0;
  } else if (slash) {
    *slash = 0;
  } else {
    snprintf(dir, sizeof(dir), ".");
  }
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    return mrl_error(err, errlen, "cannot write '%s': no folder '%s'", path, dir);
  }
  // create a file rather than ask access(): root passes access() even on a
  // read-only file system
  char probe[4096 + 64];
  snprintf(probe, sizeof(probe), "%s/.metarl-probe-%d", dir, (int)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(errno));
  close(fd);
  unlink(probe);
  return 0;
}

int mrl_record_main(int argc, char** argv) {
  RecordOptions o;
  int code = record_parse(&o, argc, argv);
  if (code != MRL_EXIT_OK) return code;
  char err[MRL_ERRLEN];
  if (o.out && check_output(o.out, err, sizeof(err))) {
    fprintf(stderr, "metarl: record: %s\n", err);
    return MRL_EXIT_USAGE;
  }
  if (o.out && !mrl_have_program("ffmpeg")) {
    fprintf(stderr,
            "metarl: record: ffmpeg is not on PATH: install it (apt-get install ffmpeg), or "
            "write PNG frames with --frames DIR\n");
    return MRL_EXIT_USAGE;
  }
  if (o.frames_dir && mkdir(o.frames_dir, 0755) && errno != EEXIST) {
    fprintf(stderr, "metarl: record: cannot create '%s': %s\n", o.frames_dir, strerror(errno));
    return MRL_EXIT_USAGE;
  }

  static mrlWatch w;
  code = mrl_watch_make(&w, &o.watch, err, sizeof(err));
  if (code != MRL_EXIT_OK) {
    fprintf(stderr, "metarl: record: %s\n", err);
    mrl_watch_free(&w);
    return code;
  }
  const mjModel* m = mrl_watch_model(&w);
  double dt = m->opt.timestep * w.cfg.env.frame_skip;
  double fps = o.fps > 0 ? o.fps : 1 / dt;
  int T = w.fam->horizon;
  // frames of one phase: the T + 1 states' duration at fps
  int nframe = o.fps > 0 ? (int)lround((T + 1) * dt * fps) : T + 1;
  if (nframe < 1) nframe = 1;
  int W = o.side_by_side ? 2 * o.width : o.width, H = o.height;

  mrlGLContext* gl = mrl_gl_offscreen_make(W, H, err, sizeof(err));
  if (!gl) {
    fprintf(stderr, "metarl: record: %s\n", err);
    mrl_watch_free(&w);
    return MRL_EXIT_RUNTIME;
  }
  static mrlScene sc;
  mrl_scene_make(&sc, m, mrl_mujoco_root(w.fam), mrl_mujoco_floor(w.fam), W, H,
                 o.width >= 1200 ? mjFONTSCALE_150 : mjFONTSCALE_100);
  mjr_setBuffer(mjFB_OFFSCREEN, &sc.con);
  double normal[3];
  mrl_mujoco_env_normal(w.env, normal);
  mrl_scene_set_slope(&sc, normal);

  printf("record: %s, task %d: %s\n", w.cfg.name, w.task_index, w.task_words);
  // the episodes: before adaptation, then after
  Trace before, after;
  mrl_watch_use(&w, 0);
  trace_episode(&w, &before);
  double before_return = w.ret;
  printf("  before adaptation: return %.2f over %d steps%s\n", before_return, before.len,
         before.ended ? " (ended early)" : "");
  for (int s = 0; s < w.nstep; s++) {
    double r = mrl_watch_adapt_step(&w);
    printf("  adapting: step %d/%d, batch mean return %.2f -> %.2f\n", s + 1, w.nstep,
           w.batch_return[s], r);
    fflush(stdout);
  }
  mrl_watch_use(&w, 1);
  trace_episode(&w, &after);
  double after_return = w.ret;
  printf("  after %d step%s: return %.2f over %d steps%s\n", w.nstep, w.nstep == 1 ? "" : "s",
         after_return, after.len, after.ended ? " (ended early)" : "");

  mrlVideo* video = NULL;
  if (o.out) {
    video = mrl_video_open(o.out, W, H, fps, err, sizeof(err));
    if (!video) {
      fprintf(stderr, "metarl: record: %s\n", err);
      code = MRL_EXIT_RUNTIME;
    }
  }
  unsigned char* rgb = mrl_alloc((size_t)3 * W * H);
  char titles[2048], values[2048], phase[128];
  int nphase = o.side_by_side ? 1 : 2;
  long written = 0;
  for (int ph = 0; ph < nphase && code == MRL_EXIT_OK; ph++) {
    for (int j = 0; j < nframe && code == MRL_EXIT_OK; j++) {
      int s = o.fps > 0 ? (int)floor(j / (fps * dt)) : j;
      int nside = o.side_by_side ? 2 : 1;
      for (int side = 0; side < nside; side++) {
        int which = o.side_by_side ? side : ph;  // 0 before, 1 after
        const Trace* tr = which ? &after : &before;
        w.policy = which ? w.theta : w.phi;
        trace_load(&w, tr, s, which ? after_return : before_return);
        if (which) {
          snprintf(phase, sizeof(phase), "adapted: %d step%s x %d episodes", w.nstep,
                   w.nstep == 1 ? "" : "s", w.nepisode);
        } else {
          snprintf(phase, sizeof(phase), "before adaptation (iteration %d)", w.iteration);
        }
        mrl_watch_overlay(&w, phase, titles, sizeof(titles), values, sizeof(values));
        mrlOverlay ov = {titles, values, mjGRID_TOPLEFT};
        mrl_scene_update(&sc, m, mrl_watch_data(&w));
        mjrRect vp = {side * o.width, 0, o.width, H};
        mrl_scene_render(&sc, vp, &ov, 1);
      }
      mjrRect full = {0, 0, W, H};
      mrl_read_rgb(&sc, full, rgb);
      if (video && mrl_video_write(video, rgb, err, sizeof(err))) code = MRL_EXIT_RUNTIME;
      if (o.frames_dir && code == MRL_EXIT_OK) {
        char path[4096 + 32];
        snprintf(path, sizeof(path), "%s/frame_%06ld.png", o.frames_dir, written);
        if (mrl_png_write(path, rgb, W, H, err, sizeof(err))) code = MRL_EXIT_RUNTIME;
      }
      written++;
    }
  }
  if (video) {
    char cerr[MRL_ERRLEN] = "";
    if (mrl_video_close(video, code != MRL_EXIT_OK, cerr, sizeof(cerr))) {
      if (code == MRL_EXIT_OK) {
        snprintf(err, sizeof(err), "%s", cerr);
      } else {
        // a write error is the symptom; ffmpeg's own message says why
        size_t len = strlen(err);
        snprintf(err + len, sizeof(err) - len, "; %s", cerr);
      }
      code = MRL_EXIT_RUNTIME;
    }
  }
  if (code == MRL_EXIT_OK) {
    if (o.out) {
      printf("wrote %s: %dx%d, %ld frames at %.6g fps (%.2f s), H.264\n", o.out, W, H, written, fps,
             written / fps);
    }
    if (o.frames_dir) printf("wrote %ld PNG frames to %s/\n", written, o.frames_dir);
  } else {
    fprintf(stderr, "metarl: record: %s\n", err);
  }
  free(rgb);
  trace_free(&before);
  trace_free(&after);
  mrl_scene_free(&sc);
  mrl_gl_offscreen_free(gl);
  mrl_watch_free(&w);
  return code;
}
