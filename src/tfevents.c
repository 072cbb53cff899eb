// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// tfevents.c: TensorBoard event files, written by hand so that metarl needs
// no protobuf library. A file is a sequence of TFRecords:
//   uint64 length, uint32 masked CRC-32C of the length bytes,
//   length bytes of data, uint32 masked CRC-32C of the data   (little-endian)
// and each record's data is an Event protocol buffer. Only the fields metarl
// writes are encoded:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
//             Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metarl.h"

//---------------------------------- CRC-32C ---------------------------------

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

// Reflected table of the Castagnoli polynomial 0x1EDC6F41 (0x82F63B78).
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    crc_table[i] = c;
  }
}

uint32_t mrl_crc32c(const void* data, size_t n) {
  pthread_once(&crc_once, crc_init);
  const unsigned char* p = data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t mrl_crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

//----------------------------- protobuf encoding ----------------------------

// A growable byte buffer.
typedef struct {
  unsigned char* p;
  size_t n, cap;
} Buf;

static void buf_put(Buf* b, const void* data, size_t n) {
  if (n == 0) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    unsigned char* grown = realloc(b->p, cap);
    MRL_ASSERT(grown);
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void put_varint(Buf* b, uint64_t v) {
  unsigned char tmp[10];
  int n = 0;
  do {
    tmp[n] = v & 0x7F;
    v >>= 7;
    if (v) tmp[n] |= 0x80;
    n++;
  } while (v);
  buf_put(b, tmp, n);
}

// Field key: (number << 3) | wire type (0 varint, 1 64-bit, 2 bytes, 5 32-bit).
static void put_key(Buf* b, int field, int wire) {
  put_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

static void put_fixed64(Buf* b, uint64_t v) {
  unsigned char tmp[8];
  for (int i = 0; i < 8; i++) tmp[i] = (unsigned char)(v >> (8 * i));
  buf_put(b, tmp, 8);
}

static void put_fixed32(Buf* b, uint32_t v) {
  unsigned char tmp[4];
  for (int i = 0; i < 4; i++) tmp[i] = (unsigned char)(v >> (8 * i));
  buf_put(b, tmp, 4);
}

static void put_bytes(Buf* b, int field, const void* data, size_t n) {
  put_key(b, field, 2);
  put_varint(b, n);
  buf_put(b, data, n);
}

static void put_double(Buf* b, int field, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_key(b, field, 1);
  put_fixed64(b, u);
}

//--------------------------------- the file ---------------------------------

struct mrlEvents_ {
  FILE* f;
  int failed;  // a write failed
  Buf event, summary, value;
};

static int write_record(mrlEvents* ev, const unsigned char* data, size_t n) {
  unsigned char head[12];
  uint64_t len = n;
  for (int i = 0; i < 8; i++) head[i] = (unsigned char)(len >> (8 * i));
  uint32_t c = mrl_crc32c_mask(mrl_crc32c(head, 8));
  for (int i = 0; i < 4; i++) head[8 + i] = (unsigned char)(c >> (8 * i));
  unsigned char tail[4];
  c = mrl_crc32c_mask(mrl_crc32c(data, n));
  for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(c >> (8 * i));
  if (fwrite(head, 1, 12, ev->f) != 12 || fwrite(data, 1, n, ev->f) != n ||
      fwrite(tail, 1, 4, ev->f) != 4 || fflush(ev->f)) {
    ev->failed = 1;
    return -1;
  }
  return 0;
}

mrlEvents* mrl_events_open(const char* dir, char* path, size_t pathlen, char* err, size_t errlen) {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  // a host name with '/' would name another folder
  for (char* p = host; *p; p++) {
    if (*p == '/') *p = '_';
  }
  char file[4096];
  snprintf(file, sizeof(file), "%s/events.out.tfevents.%lld.%s", dir, (long long)time(NULL), host);
  FILE* f = fopen(file, "wb");
  if (!f) {
    mrl_error(err, errlen, "cannot write '%s': %s", file, strerror(errno));
    return NULL;
  }
  if (path) snprintf(path, pathlen, "%s", file);
  mrlEvents* ev = mrl_alloc(sizeof(mrlEvents));
  ev->f = f;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  Buf* e = &ev->event;
  put_double(e, 1, ts.tv_sec + 1e-9 * ts.tv_nsec);
  put_bytes(e, 3, "brain.Event:2", 13);
  if (write_record(ev, e->p, e->n)) {
    mrl_error(err, errlen, "cannot write '%s': %s", file, strerror(errno));
    mrl_events_close(ev);
    return NULL;
  }
  return ev;
}

int mrl_events_scalars(mrlEvents* ev, double wall_time, int64_t step, const char* const* tags,
                       const double* values, int n) {
  ev->summary.n = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(values[i])) continue;
    ev->value.n = 0;
    put_bytes(&ev->value, 1, tags[i], strlen(tags[i]));
    float v = (float)values[i];
    uint32_t u;
    memcpy(&u, &v, 4);
    put_key(&ev->value, 2, 5);
    put_fixed32(&ev->value, u);
    put_bytes(&ev->summary, 1, ev->value.p, ev->value.n);
  }
  Buf* e = &ev->event;
  e->n = 0;
  put_double(e, 1, wall_time);
  put_key(e, 2, 0);
  put_varint(e, (uint64_t)step);
  put_bytes(e, 5, ev->summary.p, ev->summary.n);
  return write_record(ev, e->p, e->n);
}

int mrl_events_close(mrlEvents* ev) {
  if (!ev) return 0;
  int failed = ev->failed | (fclose(ev->f) != 0);
  free(ev->event.p);
  free(ev->summary.p);
  free(ev->value.p);
  free(ev);
  return failed ? -1 : 0;
}
