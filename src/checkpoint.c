// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// checkpoint.c: the training state on disk. Layout (little-endian), version 3:
//   "MRLCKPT\0" magic, u32 format version, u32 nlayer, u32 sizes[nlayer + 1],
//   u32 activation, u32 nparam, i64 iteration, i64 total env steps,
//   f64 params[nparam], u32 outer optimizer kind, u32 moments (0 or nparam),
//   i64 optimizer steps t, f64 m[moments], f64 v[moments],
//   u32 nvalue, f64 value[nvalue] (rl.vf_shared's value network, or none),
//   u64 FNV-1a checksum of every byte before it.
// Version 2 is version 3 without the value block and is still read.
// Version 1 (metarl 0.1.0) held the parameters only and cannot resume a run:
// it is refused with a message.
// Saving writes a temporary file in the same folder, fsyncs it and renames it
// over the target, so a crash leaves either the old or the new checkpoint.

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

#define CKPT_MAGIC "MRLCKPT"  // with its NUL: 8 bytes
#define CKPT_VERSION 3
#define CKPT_MAXBYTES (1L << 31)

static uint64_t fnv1a(const unsigned char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static size_t ckpt_header_bytes(int nlayer) {
  return 8 + 4 + 4 + 4 * (size_t)(nlayer + 1) + 4 + 4 + 8 + 8;
}

static void put(unsigned char** p, const void* v, size_t n) {
  memcpy(*p, v, n);
  *p += n;
}

static void put_u32(unsigned char** p, uint32_t v) {
  put(p, &v, 4);
}

int mrl_checkpoint_save(const char* path, const mrlPolicy* pol, const double* params, int iteration,
                        char* err, size_t errlen) {
  return mrl_checkpoint_save_state(path, pol, params, iteration, 0, NULL, NULL, 0, err, errlen);
}

int mrl_checkpoint_save_state(const char* path, const mrlPolicy* pol, const double* params,
                              int iteration, long total_steps, const mrlOptim* opt,
                              const double* value, int nvalue, char* err, size_t errlen) {
  for (int i = 0; i < pol->nparam; i++) {
    if (!isfinite(params[i])) {
      return mrl_error(err, errlen, "refusing to save '%s': parameter %d is not finite", path, i);
    }
  }
  if (!value) nvalue = 0;
  for (int i = 0; i < nvalue; i++) {
    if (!isfinite(value[i])) {
      return mrl_error(err, errlen, "refusing to save '%s': value-network number %d is not finite",
                       path, i);
    }
  }
  uint32_t moments = (opt && opt->m) ? (uint32_t)pol->nparam : 0;
  MRL_ASSERT(!opt || opt->n == pol->nparam);
  size_t body = ckpt_header_bytes(pol->nlayer) + sizeof(double) * pol->nparam + 4 + 4 + 8 +
                2 * sizeof(double) * moments + 4 + sizeof(double) * nvalue;
  unsigned char* buf = mrl_alloc(body + 8);
  unsigned char* p = buf;
  put(&p, CKPT_MAGIC, 8);
  put_u32(&p, CKPT_VERSION);
  put_u32(&p, (uint32_t)pol->nlayer);
  for (int l = 0; l <= pol->nlayer; l++) put_u32(&p, (uint32_t)pol->sizes[l]);
  put_u32(&p, (uint32_t)pol->activation);
  put_u32(&p, (uint32_t)pol->nparam);
  int64_t it = iteration;
  put(&p, &it, 8);
  int64_t steps = total_steps;
  put(&p, &steps, 8);
  put(&p, params, sizeof(double) * pol->nparam);
  put_u32(&p, opt ? (uint32_t)opt->kind : (uint32_t)MRL_OPT_SGD);
  put_u32(&p, moments);
  int64_t t = opt ? opt->t : 0;
  put(&p, &t, 8);
  if (moments) {
    put(&p, opt->m, sizeof(double) * moments);
    put(&p, opt->v, sizeof(double) * moments);
  }
  put_u32(&p, (uint32_t)nvalue);
  if (nvalue) put(&p, value, sizeof(double) * nvalue);
  uint64_t sum = fnv1a(buf, body);
  put(&p, &sum, 8);

  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    free(buf);
    return mrl_error(err, errlen, "cannot write checkpoint '%s': %s", tmp, strerror(errno));
  }
  size_t total = body + 8, done = 0;
  while (done < total) {
    ssize_t w = write(fd, buf + done, total - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : ENOSPC;
      close(fd);
      unlink(tmp);
      free(buf);
      return mrl_error(err, errlen, "cannot write checkpoint '%s': %s (previous checkpoint kept)",
                       path, strerror(e));
    }
    done += (size_t)w;
  }
  free(buf);
  if (fsync(fd) || close(fd)) {
    int e = errno;
    unlink(tmp);
    return mrl_error(err, errlen, "cannot write checkpoint '%s': %s (previous checkpoint kept)",
                     path, strerror(e));
  }
  if (rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return mrl_error(err, errlen, "cannot rename checkpoint into '%s': %s", path, strerror(e));
  }
  // make the rename itself durable
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

static int get_u32(const unsigned char** p, const unsigned char* end, uint32_t* v) {
  if (end - *p < 4) return -1;
  memcpy(v, *p, 4);
  *p += 4;
  return 0;
}

int mrl_checkpoint_load(const char* path, const mrlPolicy* pol, double* params, int* iteration,
                        char* err, size_t errlen) {
  return mrl_checkpoint_load_state(path, pol, params, iteration, NULL, NULL, NULL, 0, err, errlen);
}

int mrl_checkpoint_load_warm(const char* path, const mrlPolicy* pol, double* params, char* err,
                             size_t errlen) {
  double* got = mrl_alloc(sizeof(double) * pol->nparam);
  int rc = mrl_checkpoint_load(path, pol, got, NULL, err, errlen);
  if (rc == 0) {
    memcpy(params, got, sizeof(double) * pol->nparam);
  } else if (pol->ncontext) {
    mrlPolicy base;
    mrl_policy_without_context(pol, &base);
    char why[MRL_ERRLEN];
    if (mrl_checkpoint_load(path, &base, got, NULL, why, sizeof(why)) == 0) {
      int len = MRL_CONTEXT_LEN(pol);
      memcpy(params, got, sizeof(double) * pol->ctx_off);
      memcpy(params + pol->ctx_off + len, got + pol->ctx_off,
             sizeof(double) * (base.nparam - pol->ctx_off));
      rc = 0;
    } else if (strstr(err, "saved without policy.context")) {
      snprintf(err, errlen, "%s", why);  // the file is of the base shape: its own fault
    }
  }
  free(got);
  return rc;
}

int mrl_checkpoint_load_state(const char* path, const mrlPolicy* pol, double* params,
                              int* iteration, long* total_steps, mrlOptim* opt, double* value,
                              int nvalue, char* err, size_t errlen) {
  FILE* f = fopen(path, "rb");
  if (!f) return mrl_error(err, errlen, "cannot read checkpoint '%s': %s", path, strerror(errno));
  unsigned char* buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      if ((long)cap > CKPT_MAXBYTES) break;
      unsigned char* grown = realloc(buf, cap);
      if (!grown) break;
      buf = grown;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  int read_error = ferror(f) ? (errno ? errno : EIO) : 0;  // EISDIR for a folder
  fclose(f);
  int rc = -1;
  const unsigned char* p = buf;
  const unsigned char* end = buf + n;
  uint32_t version = 0, nlayer = 0, size = 0, act = 0, nparam = 0;
  uint64_t stored_sum = 0;
  if (n >= 16) memcpy(&stored_sum, end - 8, 8);
  if (read_error) {
    mrl_error(err, errlen, "cannot read checkpoint '%s': %s", path, strerror(read_error));
  } else if (n < 8 || memcmp(buf, CKPT_MAGIC, 8)) {
    mrl_error(err, errlen, "'%s' is not a metarl checkpoint (bad magic)", path);
  } else if (n < 16 || fnv1a(buf, n - 8) != stored_sum) {
    mrl_error(err, errlen, "checkpoint '%s' is truncated or corrupted (checksum mismatch)", path);
  } else if ((p += 8, get_u32(&p, end, &version)) || (version != CKPT_VERSION && version != 2)) {
    mrl_error(err, errlen,
              "checkpoint '%s' has format version %u; this metarl reads versions 2 and %d%s", path,
              version, CKPT_VERSION,
              version == 1 ? " (version 1, from metarl 0.1.0, holds no optimizer state and "
                             "cannot be resumed: use metarl 0.1.0 or train again)"
                           : "");
  } else if (get_u32(&p, end, &nlayer) || (int)nlayer != pol->nlayer) {
    mrl_error(err, errlen, "checkpoint '%s' has %u layers; the policy has %d", path, nlayer,
              pol->nlayer);
  } else {
    rc = 0;
    for (int l = 0; l <= pol->nlayer && rc == 0; l++) {
      if (get_u32(&p, end, &size) || (int)size != pol->sizes[l]) {
        rc = mrl_error(err, errlen, "checkpoint '%s': layer %d has size %u; the policy has %d",
                       path, l, size, pol->sizes[l]);
      }
    }
    if (rc == 0 && (get_u32(&p, end, &act) || (int)act != (int)pol->activation)) {
      rc = mrl_error(err, errlen, "checkpoint '%s' was saved with another activation", path);
    }
    if (rc == 0 && (get_u32(&p, end, &nparam) || (int)nparam != pol->nparam ||
                    (size_t)(end - p) < 16 + sizeof(double) * nparam + 16 + 8)) {
      // the optional blocks: policy.obs_norm's statistics, inner.learn_lr's rates
      int stats = MRL_OBS_STATS_LEN(pol->sizes[0]);
      int rates = MRL_LR_BLOCK_LEN(MRL_POLICY_NTENSOR(pol));
      int other_norm = pol->obs_norm ? pol->nparam - stats : pol->nparam + stats;
      int other_lr = pol->lr_off ? pol->nparam - rates : pol->nparam + rates;
      const char* why = "";
      if ((int)nparam == other_norm) {
        why = pol->obs_norm ? " (it was saved without policy.obs_norm, which this config turns "
                              "on: set policy.obs_norm=false)"
                            : " (it was saved with policy.obs_norm, which this config leaves "
                              "off: set policy.obs_norm=true)";
      } else if (pol->ncontext && (int)nparam == pol->nparam - MRL_CONTEXT_LEN(pol)) {
        why =
            " (it was saved without policy.context, which this config sets: set policy.context=0)";
      } else if (!pol->ncontext && (int)nparam > pol->nparam &&
                 ((int)nparam - pol->nparam) % (1 + pol->sizes[1]) == 0) {
        why =
            " (it was saved with policy.context, which this config leaves 0: set policy.context "
            "to the run's)";
      } else if ((int)nparam == other_lr) {
        why = pol->lr_off ? " (it was saved without inner.learn_lr, which this config turns "
                            "on: set inner.learn_lr=false)"
                          : " (it was saved with inner.learn_lr, which this config leaves "
                            "off: set inner.learn_lr=true)";
      }
      rc = mrl_error(err, errlen, "checkpoint '%s' holds %u parameters; the policy has %d%s", path,
                     nparam, pol->nparam, why);
    }
    uint32_t kind = 0, moments = 0, stored_nvalue = 0;
    int64_t it = 0, steps = 0, t = 0;
    const unsigned char* moment_bytes = NULL;
    if (rc == 0) {
      memcpy(&it, p, 8);
      memcpy(&steps, p + 8, 8);
      p += 16;
      memcpy(params, p, sizeof(double) * nparam);
      p += sizeof(double) * nparam;
      get_u32(&p, end, &kind);
      get_u32(&p, end, &moments);
      memcpy(&t, p, 8);
      p += 8;
      moment_bytes = p;
      size_t left = (size_t)(end - p), mbytes = 2 * sizeof(double) * moments;
      // version 2 ends with the moments; version 3 adds the value block
      if ((moments != 0 && moments != nparam) ||
          (version == 2 ? left != mbytes + 8 : left < mbytes + 4 + 8)) {
        rc = mrl_error(err, errlen, "checkpoint '%s': malformed optimizer state", path);
      }
    }
    if (rc == 0 && version >= 3) {
      p = moment_bytes + 2 * sizeof(double) * moments;
      get_u32(&p, end, &stored_nvalue);
      if ((size_t)(end - p) != sizeof(double) * stored_nvalue + 8) {
        rc = mrl_error(err, errlen, "checkpoint '%s': malformed value-network block", path);
      }
    }
    if (rc == 0 && value) {
      if ((int)stored_nvalue != nvalue) {
        rc = stored_nvalue == 0
                 ? mrl_error(err, errlen,
                             "checkpoint '%s' holds no value network, which rl.vf_shared needs "
                             "(the run was trained without rl.vf_shared)",
                             path)
                 : mrl_error(err, errlen,
                             "checkpoint '%s' holds a value network of %u numbers; this config's "
                             "has %d (another rl.vf_hidden?)",
                             path, stored_nvalue, nvalue);
      }
      for (int i = 0; i < nvalue && rc == 0; i++) {
        memcpy(&value[i], p + sizeof(double) * i, sizeof(double));
        if (!isfinite(value[i])) {
          rc = mrl_error(err, errlen, "checkpoint '%s': value-network number %d is not finite",
                         path, i);
        }
      }
    }
    if (moment_bytes) p = moment_bytes;  // back to the moments
    // a checksum only proves the bytes are those written: the values must
    // still be ones that save_state writes (found by fuzz/fuzz_checkpoint)
    if (rc == 0 && (it < 0 || it > INT_MAX || steps < 0 || t < 0)) {
      rc = mrl_error(err, errlen,
                     "checkpoint '%s' is corrupted: iteration %lld, env steps %lld, optimizer "
                     "steps %lld (none may be negative, the iteration at most %d)",
                     path, (long long)it, (long long)steps, (long long)t, INT_MAX);
    }
    for (uint32_t i = 0; i < 2 * moments && rc == 0; i++) {
      double x;
      memcpy(&x, p + sizeof(double) * i, sizeof(double));
      if (!isfinite(x) || (i >= moments && x < 0)) {
        rc = mrl_error(err, errlen, "checkpoint '%s' is corrupted: Adam moment %s[%u] is %g", path,
                       i < moments ? "m" : "v", i % moments, x);
      }
    }
    if (rc == 0 && opt) {
      if (kind != (uint32_t)opt->kind || (moments != 0) != (opt->m != NULL)) {
        rc = mrl_error(err, errlen,
                       "checkpoint '%s' was saved with another outer optimizer (kind %u); the "
                       "run's config has outer.optim kind %d",
                       path, kind, (int)opt->kind);
      } else {
        opt->t = (long)t;
        if (moments) {
          memcpy(opt->m, p, sizeof(double) * moments);
          memcpy(opt->v, p + sizeof(double) * moments, sizeof(double) * moments);
        }
      }
    }
    if (rc == 0) {
      if (iteration) *iteration = (int)it;
      if (total_steps) *total_steps = (long)steps;
      for (uint32_t i = 0; i < nparam && rc == 0; i++) {
        if (!isfinite(params[i])) {
          rc = mrl_error(err, errlen, "checkpoint '%s': parameter %u is not finite", path, i);
        }
      }
    }
  }
  free(buf);
  return rc;
}
