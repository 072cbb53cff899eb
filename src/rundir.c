// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// rundir.c: run directories. A run directory is created only after the
// config has passed every check, and never over an existing one: mkdir's
// EEXIST is the test, so two runs started in the same second get distinct
// folders. Its config.yaml changes later only by `train --resume
// --iterations`, through a temporary file renamed over it.

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metarl.h"
#include "mrl_build_info.h"

// mkdir -p for the parent folder (log.dir).
static int make_parents(const char* dir, char* err, size_t errlen) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", dir);
  for (char* p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) && errno != EEXIST) {
      return mrl_error(err, errlen, "cannot create '%s': %s", buf, strerror(errno));
    }
    *p = '/';
  }
  if (mkdir(buf, 0755) && errno != EEXIST) {
    return mrl_error(err, errlen, "cannot create '%s': %s", buf, strerror(errno));
  }
  return 0;
}

void mrl_json_string(FILE* f, const char* s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      fprintf(f, "\\%c", c);
    } else if (c < 0x20) {
      fprintf(f, "\\u%04x", c);
    } else {
      fputc(c, f);
    }
  }
  fputc('"', f);
}

static int write_meta(const char* path, const mrlConfig* cfg, int argc, char** argv) {
  FILE* f = fopen(path, "w");
  if (!f) return -1;
  char host[256] = "unknown";
  gethostname(host, sizeof(host) - 1);
  char start[64];
  time_t t = time(NULL);
  strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
  fprintf(f, "{\n  \"metarl_version\": ");
  mrl_json_string(f, MRL_VERSION);
  fprintf(f, ",\n  \"git_commit\": ");
  mrl_json_string(f, MRL_GIT_COMMIT);
  fprintf(f, ",\n  \"command_line\": [");
  for (int i = 0; i < argc; i++) {
    if (i) fprintf(f, ", ");
    mrl_json_string(f, argv[i]);
  }
  fprintf(f, "],\n  \"seed\": %llu,\n  \"host\": ", (unsigned long long)cfg->seed);
  mrl_json_string(f, host);
  fprintf(f, ",\n  \"start_time\": ");
  mrl_json_string(f, start);
  fprintf(f, "\n}\n");
  return fclose(f);
}

// cfg as YAML into file, fsynced when sync is set; closed even after a failed
// write. Returns 0, or -1 with errno.
static int write_config_file(const char* file, const mrlConfig* cfg, int sync) {
  FILE* f = fopen(file, "w");
  if (!f) return -1;
  int wrote = mrl_config_write(cfg, f) == 0 && (!sync || (fflush(f) == 0 && fsync(fileno(f)) == 0));
  return (fclose(f) != 0) || !wrote ? -1 : 0;
}

// The files of a new run directory: checkpoints/, config.yaml, meta.json.
static int fill_rundir(const mrlConfig* cfg, const char* path, int argc, char** argv, char* err,
                       size_t errlen) {
  char file[4096];
  snprintf(file, sizeof(file), "%s/checkpoints", path);
  if (mkdir(file, 0755)) {
    return mrl_error(err, errlen, "cannot create '%s': %s", file, strerror(errno));
  }
  snprintf(file, sizeof(file), "%s/config.yaml", path);
  if (write_config_file(file, cfg, 0)) {
    return mrl_error(err, errlen, "cannot write '%s': %s", file, strerror(errno));
  }
  snprintf(file, sizeof(file), "%s/meta.json", path);
  if (write_meta(file, cfg, argc, argv)) {
    return mrl_error(err, errlen, "cannot write '%s': %s", file, strerror(errno));
  }
  return 0;
}

int mrl_rundir_write_config(const char* rundir, const mrlConfig* cfg, char* err, size_t errlen) {
  char path[4096], tmp[4096 + 8];
  snprintf(path, sizeof(path), "%s/config.yaml", rundir);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  if (write_config_file(tmp, cfg, 1) || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);  // config.yaml itself is untouched
    return mrl_error(err, errlen, "cannot write '%s': %s", path, strerror(e));
  }
  return 0;
}

int mrl_rundir_create(const mrlConfig* cfg, const char* out, int argc, char** argv, char* path,
                      size_t pathlen, char* err, size_t errlen) {
  if (out) {
    snprintf(path, pathlen, "%s", out);
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", out);
    char* slash = strrchr(parent, '/');
    if (slash && slash != parent) {
      *slash = 0;
      if (make_parents(parent, err, errlen)) return -1;
    }
    if (mkdir(path, 0755)) {
      if (errno == EEXIST) {
        return mrl_error(err, errlen, "--out '%s' already exists; metarl never overwrites a run",
                         path);
      }
      return mrl_error(err, errlen, "cannot create '%s': %s", path, strerror(errno));
    }
  } else {
    if (make_parents(cfg->log.dir, err, errlen)) return -1;
    char stamp[32];
    time_t t = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&t));
    for (int n = 1;; n++) {
      if (n == 1) {
        snprintf(path, pathlen, "%s/%s-%s", cfg->log.dir, cfg->name, stamp);
      } else {
        snprintf(path, pathlen, "%s/%s-%s-%d", cfg->log.dir, cfg->name, stamp, n);
      }
      if (mkdir(path, 0755) == 0) break;
      if (errno != EEXIST || n > 1000) {
        return mrl_error(err, errlen, "cannot create '%s': %s", path, strerror(errno));
      }
    }
  }
  if (fill_rundir(cfg, path, argc, argv, err, errlen)) {
    // a run directory is whole or absent: a full disk leaves no half-written
    // config.yaml that `--resume` would trip over later
    mrl_rundir_discard(path);
    return -1;
  }
  return 0;
}

void mrl_rundir_discard(const char* path) {
  char file[4096];
  const char* const parts[] = {"meta.json", "config.yaml"};
  for (int i = 0; i < 2; i++) {
    snprintf(file, sizeof(file), "%s/%s", path, parts[i]);
    unlink(file);
  }
  snprintf(file, sizeof(file), "%s/checkpoints", path);
  rmdir(file);
  rmdir(path);
}
