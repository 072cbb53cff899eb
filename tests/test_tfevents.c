// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// test_tfevents.c: TensorBoard event files. CRC-32C against its standard
// check value; records decoded back by a small independent decoder written
// here (framing, both masked CRCs, the Event fields) and by
// `protoc --decode_raw`; and the log of a short training run: every scalar of
// progress.csv is in the event file at its step.

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarl.h"

void openblas_set_num_threads(int num_threads);

Test(tfevents, crc32c_check_value) {
  cr_assert_eq(mrl_crc32c("123456789", 9), 0xE3069283u);
  cr_assert_eq(mrl_crc32c("", 0), 0u);
  // 32 zero bytes: the iSCSI test vector of RFC 3720
  unsigned char zeros[32] = {0};
  cr_assert_eq(mrl_crc32c(zeros, 32), 0x8A9136AAu);
  cr_assert_eq(mrl_crc32c_mask(0), 0xa282ead8u);
  cr_assert_eq(mrl_crc32c_mask(0x12345678u),
               ((0x12345678u >> 15) | (0x12345678u << 17)) + 0xa282ead8u);
}

//------------------------------ a small decoder ------------------------------

typedef struct {
  int has_wall, has_step;
  double wall_time;
  long long step;
  char file_version[64];
  int nvalue;
  char tags[64][64];
  float values[64];
} Event;

static uint64_t varint(const unsigned char** p, const unsigned char* end) {
  uint64_t v = 0;
  for (int shift = 0; *p < end && shift < 64; shift += 7) {
    unsigned char c = *(*p)++;
    v |= (uint64_t)(c & 0x7F) << shift;
    if (!(c & 0x80)) return v;
  }
  cr_assert_fail("truncated varint");
  return 0;
}

static void decode_value(const unsigned char* p, const unsigned char* end, Event* ev) {
  int i = ev->nvalue++;
  cr_assert(i < 64);
  while (p < end) {
    uint64_t key = varint(&p, end);
    if (key == ((1 << 3) | 2)) {
      uint64_t n = varint(&p, end);
      cr_assert(n < 64 && p + n <= end);
      memcpy(ev->tags[i], p, n);
      ev->tags[i][n] = 0;
      p += n;
    } else if (key == ((2 << 3) | 5)) {
      cr_assert(p + 4 <= end);
      memcpy(&ev->values[i], p, 4);
      p += 4;
    } else {
      cr_assert_fail("unexpected Value field key %llu", (unsigned long long)key);
    }
  }
}

static void decode_event(const unsigned char* p, const unsigned char* end, Event* ev) {
  memset(ev, 0, sizeof(*ev));
  while (p < end) {
    uint64_t key = varint(&p, end);
    int field = (int)(key >> 3), wire = (int)(key & 7);
    if (field == 1 && wire == 1) {
      memcpy(&ev->wall_time, p, 8);
      ev->has_wall = 1;
      p += 8;
    } else if (field == 2 && wire == 0) {
      ev->step = (long long)varint(&p, end);
      ev->has_step = 1;
    } else if (field == 3 && wire == 2) {
      uint64_t n = varint(&p, end);
      cr_assert(n < 64);
      memcpy(ev->file_version, p, n);
      p += n;
    } else if (field == 5 && wire == 2) {
      uint64_t n = varint(&p, end);
      const unsigned char* s = p;
      p += n;
      while (s < p) {  // Summary: repeated Value value = 1
        cr_assert_eq(varint(&s, p), (uint64_t)((1 << 3) | 2));
        uint64_t m = varint(&s, p);
        decode_value(s, s + m, ev);
        s += m;
      }
    } else {
      cr_assert_fail("unexpected Event field %d wire %d", field, wire);
    }
  }
  cr_assert(p == end, "the event ends where its record says");
}

// All records of a file, each checked and decoded; returns the count.
static int read_events(const char* path, Event* events, int max, unsigned char** first_data,
                       size_t* first_len) {
  FILE* f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  int n = 0;
  unsigned char head[12];
  while (fread(head, 1, 12, f) == 12) {
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len |= (uint64_t)head[i] << (8 * i);
    uint32_t lcrc = 0, dcrc = 0;
    for (int i = 0; i < 4; i++) lcrc |= (uint32_t)head[8 + i] << (8 * i);
    cr_assert_eq(lcrc, mrl_crc32c_mask(mrl_crc32c(head, 8)), "record %d: length CRC", n);
    cr_assert(len < (1u << 20));
    unsigned char* data = malloc(len + 4);
    cr_assert_eq(fread(data, 1, len + 4, f), len + 4, "record %d truncated", n);
    for (int i = 0; i < 4; i++) dcrc |= (uint32_t)data[len + i] << (8 * i);
    cr_assert_eq(dcrc, mrl_crc32c_mask(mrl_crc32c(data, len)), "record %d: data CRC", n);
    cr_assert(n < max);
    decode_event(data, data + len, &events[n]);
    if (n == 1 && first_data) {
      *first_data = data;
      *first_len = len;
    } else {
      free(data);
    }
    n++;
  }
  cr_assert(feof(f), "trailing bytes after the last record");
  fclose(f);
  return n;
}

Test(tfevents, scalars_decode_back) {
  char dir[] = "/tmp/metarl_tfevents_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char err[MRL_ERRLEN], path[4096];
  mrlEvents* ev = mrl_events_open(dir, path, sizeof(path), err, sizeof(err));
  cr_assert_not_null(ev, "%s", err);
  cr_assert_not_null(strstr(path, "/events.out.tfevents."));
  const char* tags[] = {"PreAdapt/AverageReturn", "Skipped", "Time"};
  double v1[] = {-35.25, NAN, 1234.5};
  double v2[] = {1e-3, 7, -2};
  cr_assert_eq(mrl_events_scalars(ev, 1700000000.25, 0, tags, v1, 3), 0);
  cr_assert_eq(mrl_events_scalars(ev, 1700000001.5, 300, tags, v2, 3), 0);
  cr_assert_eq(mrl_events_close(ev), 0);

  static Event events[8];
  unsigned char* data = NULL;
  size_t len = 0;
  int n = read_events(path, events, 8, &data, &len);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(events[0].file_version, "brain.Event:2");
  cr_assert(events[0].has_wall && events[0].wall_time > 1.5e9);
  cr_assert_eq(events[1].wall_time, 1700000000.25);
  cr_assert(events[1].has_step && events[1].step == 0);
  cr_assert_eq(events[1].nvalue, 2, "the NaN value is left out");
  cr_assert_str_eq(events[1].tags[0], "PreAdapt/AverageReturn");
  cr_assert_eq(events[1].values[0], -35.25f);
  cr_assert_str_eq(events[1].tags[1], "Time");
  cr_assert_eq(events[1].values[1], 1234.5f);
  cr_assert_eq(events[2].step, 300);
  cr_assert_eq(events[2].nvalue, 3);
  cr_assert_eq(events[2].values[0], (float)1e-3);
  cr_assert_eq(events[2].values[2], -2.0f);

  // an independent decoder: protoc (Debian's protobuf-compiler)
  char bin[4200], cmd[9000], line[256];
  snprintf(bin, sizeof(bin), "%s/event.bin", dir);
  FILE* f = fopen(bin, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
  free(data);
  snprintf(cmd, sizeof(cmd), "protoc --decode_raw < '%s' 2>&1", bin);
  FILE* p = popen(cmd, "r");
  cr_assert_not_null(p);
  char out[4096] = "";
  while (fgets(line, sizeof(line), p)) strncat(out, line, sizeof(out) - strlen(out) - 1);
  int rc = pclose(p);
  cr_assert_eq(rc, 0, "protoc --decode_raw failed (is protobuf-compiler installed?): %s", out);
  cr_log_info("protoc --decode_raw:\n%s", out);
  cr_assert_not_null(strstr(out, "1: 0x41d954fc40100000"), "wall_time as fixed64:\n%s", out);
  cr_assert_not_null(strstr(out, "2: 0\n"), "step 0:\n%s", out);
  cr_assert_not_null(strstr(out, "1: \"PreAdapt/AverageReturn\""), "%s", out);
  cr_assert_not_null(strstr(out, "2: 0xc20d0000"), "-35.25f as fixed32:\n%s", out);
  cr_assert_not_null(strstr(out, "1: \"Time\""), "%s", out);
  cr_assert_null(strstr(out, "Skipped"), "%s", out);
  unlink(bin);
  unlink(path);
  rmdir(dir);
}

// The training log: each progress.csv row is one Event at its iteration
// holding every non-empty cell of the row under its column name.
Test(tfevents, training_log_matches_progress_csv, .timeout = 300) {
  openblas_set_num_threads(1);
  char dir[] = "/tmp/metarl_trainlog_XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  mrlConfig cfg;
  mrl_config_default(&cfg);
  cfg.threads = 2;
  cfg.policy.nhidden = 1;
  cfg.policy.hidden[0] = 16;
  cfg.inner.steps = 1;
  cfg.inner.episodes = 5;
  cfg.outer.meta_batch = 4;
  cfg.outer.iterations = 4;
  cfg.eval.every = 2;
  cfg.eval.train_tasks = 3;
  cfg.eval.steps = 1;
  cfg.eval.episodes = 4;
  char err[MRL_ERRLEN];
  snprintf(cfg.log.dir, sizeof(cfg.log.dir), "%s", dir);
  char run[4096];
  char* argv[] = {"test"};
  cr_assert_eq(mrl_rundir_create(&cfg, NULL, 1, argv, run, sizeof(run), err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(mrl_train_run(&cfg, run, NULL, err, sizeof(err)), 0, "%s", err);

  char path[4200];
  snprintf(path, sizeof(path), "%s/progress.csv", run);
  FILE* f = fopen(path, "r");
  cr_assert_not_null(f);
  static char line[8192];
  cr_assert_not_null(fgets(line, sizeof(line), f));
  line[strcspn(line, "\n")] = 0;
  char* save = NULL;
  char* cols[64];
  int ncol = 0;
  for (char* t = strtok_r(line, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    cols[ncol++] = strdup(t);
  }
  cr_assert_eq(ncol, mrl_progress_ncolumns);
  for (int i = 0; i < ncol; i++) cr_assert_str_eq(cols[i], mrl_progress_columns[i]);

  DIR* d = opendir(run);
  struct dirent* de;
  char events_path[4200] = "";
  while ((de = readdir(d))) {
    if (!strncmp(de->d_name, "events.out.tfevents.", 20)) {
      snprintf(events_path, sizeof(events_path), "%.3900s/%.255s", run, de->d_name);
    }
  }
  closedir(d);
  cr_assert(events_path[0], "no event file in %s", run);
  static Event events[16];
  int nev = read_events(events_path, events, 16, NULL, NULL);
  cr_assert_eq(nev, 1 + cfg.outer.iterations);

  int row = 0, metatest_rows = 0;
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\n")] = 0;
    const Event* ev = &events[1 + row];
    cr_assert_eq(ev->step, row);
    // split keeping empty cells
    char* cell = line;
    int filled = 0;
    for (int c = 0; c < ncol; c++) {
      char* comma = strchr(cell, ',');
      if (comma) *comma = 0;
      if (*cell) {
        double v = strtod(cell, NULL);
        int found = 0;
        for (int k = 0; k < ev->nvalue; k++) {
          if (strcmp(ev->tags[k], cols[c])) continue;
          found = 1;
          // the CSV has 8 significant digits, the event a float
          cr_assert(fabs(ev->values[k] - v) <= 1e-6 * fabs(v) + 1e-30, "%s: csv %s, event %g",
                    cols[c], cell, ev->values[k]);
        }
        cr_assert(found, "row %d: column %s not in the event", row, cols[c]);
        filled++;
        if (!strcmp(cols[c], "MetaTest/PostAdapt/AverageReturn")) metatest_rows++;
      }
      cell = comma ? comma + 1 : cell + strlen(cell);
    }
    cr_assert_eq(ev->nvalue, filled, "row %d: the event holds exactly the filled cells", row);
    row++;
  }
  fclose(f);
  cr_assert_eq(row, cfg.outer.iterations);
  cr_assert_eq(metatest_rows, 2, "meta-test after iterations 2 and 4");
  for (int i = 0; i < ncol; i++) free(cols[i]);
  char cmd[4300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
