// Copyright 2026 The metarl Authors.
// Licensed under the Apache License, Version 2.0 (see LICENSE).
//
// dist.c: metarl over MPI. A job of R ranks splits the tasks of every batch
// (meta-batch, held-out tasks) into contiguous blocks by task index; each
// rank fills the per-task slots of its block on its own worker threads, then
// every slot is gathered to every rank in task order (MPI_Allgatherv), so
// that every rank reduces the same numbers in the same order and applies the
// same update: no MPI_Allreduce sum, whose order MPI leaves open. A checksum
// of the parameters compared across ranks catches any drift.
//
// Built without MPI (METARL_HAVE_MPI undefined) or started without a
// launcher, the process is rank 0 of 1: ranges cover every task, gathers and
// broadcasts have nothing to move, agreement is the caller's own outcome.
//
// MPI is called from the main thread only (MPI_THREAD_FUNNELED); the worker
// threads of pool.c never call it.

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef METARL_HAVE_MPI
#include <mpi.h>
#endif

#include "metarl.h"

static int g_rank = 0, g_size = 1;
static int g_local_size = 1;  // ranks on this node
static int g_mpi = 0;         // MPI_Init was called by mrl_dist_init

// Fault injection (tests only): METARL_FAULT_INJECT=RANK:ITERATION:KIND.
static int g_fault_rank = -1, g_fault_iteration = -1;
static mrlFault g_fault_kind = MRL_FAULT_NONE;

// Environment variables that MPI launchers set in the processes they start:
// Open MPI's mpirun, MPICH/Hydra and Intel MPI, Slurm's srun through PMI-2 or
// PMIx, MVAPICH2.
static const char* const kLauncherVars[] = {
    "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "MPI_LOCALNRANKS",
    "MV2_COMM_WORLD_SIZE",  NULL};

static int launched_by_mpi(void) {
  const char* force = getenv("METARL_MPI");
  if (force && *force) return strcmp(force, "0") != 0;
  for (int i = 0; kLauncherVars[i]; i++) {
    if (getenv(kLauncherVars[i])) return 1;
  }
  return 0;
}

static int parse_fault(char* err, size_t errlen) {
  const char* s = getenv("METARL_FAULT_INJECT");
  if (!s || !*s) return 0;
  char kind[16] = "";
  if (sscanf(s, "%d:%d:%15s", &g_fault_rank, &g_fault_iteration, kind) != 3 || g_fault_rank < 0 ||
      g_fault_iteration < 0) {
    return mrl_error(err, errlen,
                     "METARL_FAULT_INJECT='%s': expected RANK:ITERATION:KIND, KIND one of "
                     "error, kill, perturb (a test-only hook: unset it)",
                     s);
  }
  if (!strcmp(kind, "error")) {
    g_fault_kind = MRL_FAULT_ERROR;
  } else if (!strcmp(kind, "kill")) {
    g_fault_kind = MRL_FAULT_KILL;
  } else if (!strcmp(kind, "perturb")) {
    g_fault_kind = MRL_FAULT_PERTURB;
  } else {
    return mrl_error(err, errlen, "METARL_FAULT_INJECT: unknown kind '%s' (error, kill, perturb)",
                     kind);
  }
  return 0;
}

int mrl_dist_init(int* argc, char*** argv, char* err, size_t errlen) {
  if (parse_fault(err, errlen)) return -1;
#ifdef METARL_HAVE_MPI
  if (!launched_by_mpi()) return 0;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    return mrl_error(err, errlen, "MPI_Init_thread failed");
  }
  g_mpi = 1;
  // errors are fatal (the default, made explicit): a dead peer or a failed
  // call ends the whole job instead of leaving ranks waiting
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &g_local_size);
  MPI_Comm_free(&node);
#else
  (void)argc;
  (void)argv;
  (void)launched_by_mpi;
#endif
  return 0;
}

void mrl_dist_finalize(void) {
#ifdef METARL_HAVE_MPI
  if (g_mpi) MPI_Finalize();
#endif
  g_mpi = 0;
  g_rank = 0;
  g_size = 1;
  g_local_size = 1;
}

int mrl_dist_rank(void) {
  return g_rank;
}

int mrl_dist_size(void) {
  return g_size;
}

int mrl_dist_has_mpi(void) {
#ifdef METARL_HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

int mrl_dist_threads(int requested) {
  if (requested > 0) return requested;
  int n = mrl_pool_default_threads() / g_local_size;
  return n > 0 ? n : 1;
}

void mrl_dist_range(int ntask, int rank, int size, int* begin, int* end) {
  // block r is [floor(r n / R), floor((r + 1) n / R)): sizes differ by at most one
  *begin = (int)((long)ntask * rank / size);
  *end = (int)((long)ntask * (rank + 1) / size);
}

void mrl_dist_gather_tasks(void* base, size_t bytes, int ntask) {
#ifdef METARL_HAVE_MPI
  if (g_size == 1 || ntask == 0 || bytes == 0) return;
  MRL_ASSERT(bytes <= 0x7fffffff);
  // one datatype per task slot, so that counts stay small integers
  MPI_Datatype slot;
  MPI_Type_contiguous((int)bytes, MPI_BYTE, &slot);
  MPI_Type_commit(&slot);
  int* counts = mrl_alloc(sizeof(int) * 2 * g_size);
  int* displs = counts + g_size;
  for (int r = 0; r < g_size; r++) {
    int b, e;
    mrl_dist_range(ntask, r, g_size, &b, &e);
    counts[r] = e - b;
    displs[r] = b;
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, base, counts, displs, slot, MPI_COMM_WORLD);
  free(counts);
  MPI_Type_free(&slot);
#else
  (void)base;
  (void)bytes;
  (void)ntask;
#endif
}

void mrl_dist_bcast(void* buf, size_t nbytes, int root) {
#ifdef METARL_HAVE_MPI
  if (g_size == 1) return;
  // in pieces below INT_MAX bytes
  for (size_t off = 0; off < nbytes; off += 1 << 30) {
    size_t len = nbytes - off < (size_t)1 << 30 ? nbytes - off : (size_t)1 << 30;
    MPI_Bcast((char*)buf + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
  }
#else
  (void)buf;
  (void)nbytes;
  (void)root;
#endif
}

int mrl_dist_max(int v) {
#ifdef METARL_HAVE_MPI
  if (g_size == 1) return v;
  int out = v;
  MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return out;
#else
  return v;
#endif
}

int mrl_dist_agree(int code, char* err, size_t errlen) {
#ifdef METARL_HAVE_MPI
  if (g_size == 1) return code;
  int* codes = mrl_alloc(sizeof(int) * g_size);
  MPI_Allgather(&code, 1, MPI_INT, codes, 1, MPI_INT, MPI_COMM_WORLD);
  int who = -1;
  for (int r = 0; r < g_size && who < 0; r++) {
    if (codes[r]) who = r;
  }
  int out = who < 0 ? 0 : codes[who];
  free(codes);
  if (who < 0) return 0;
  // the message of the lowest failing rank, to every rank (rank 0 prints it)
  char msg[MRL_ERRLEN];
  if (g_rank == who) snprintf(msg, sizeof(msg), "%s", err ? err : "");
  MPI_Bcast(msg, sizeof(msg), MPI_CHAR, who, MPI_COMM_WORLD);
  msg[sizeof(msg) - 1] = 0;
  if (who == 0) {
    mrl_error(err, errlen, "%s", msg);
  } else {
    mrl_error(err, errlen, "rank %d of %d: %s", who, g_size, msg);
  }
  return out;
#else
  (void)err;
  (void)errlen;
  return code;
#endif
}

uint64_t mrl_fnv1a(const void* data, size_t n) {
  const unsigned char* p = data;
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

int mrl_dist_check_same(const double* params, int n, int iteration, char* err, size_t errlen) {
  uint64_t h = mrl_fnv1a(params, sizeof(double) * (size_t)n);
#ifdef METARL_HAVE_MPI
  if (g_size == 1) return 0;
  uint64_t* all = mrl_alloc(sizeof(uint64_t) * g_size);
  MPI_Allgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
  char ranks[256] = "";
  int ndiff = 0, first = -1;
  for (int r = 1; r < g_size; r++) {
    if (all[r] == all[0]) continue;
    if (first < 0) first = r;
    size_t len = strlen(ranks);
    if (ndiff < 16) snprintf(ranks + len, sizeof(ranks) - len, "%s%d", ndiff ? ", " : "", r);
    ndiff++;
  }
  int code = 0;
  if (ndiff) {
    code =
        mrl_error(err, errlen,
                  "iteration %d: the meta-parameters differ across ranks: rank%s %s%s "
                  "(checksum %016llx) differ%s from rank 0 (%016llx); the ranks must run "
                  "the same binary with the same OpenBLAS kernels (set OPENBLAS_CORETYPE on "
                  "mixed CPUs)",
                  iteration, ndiff > 1 ? "s" : "", ranks, ndiff > 16 ? ", ..." : "",
                  (unsigned long long)all[first], ndiff > 1 ? "" : "s", (unsigned long long)all[0]);
  }
  free(all);
  return code;
#else
  (void)h;
  (void)iteration;
  (void)err;
  (void)errlen;
  return 0;
#endif
}

void mrl_dist_abort(int code, const char* fmt, ...) {
  char msg[MRL_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (g_size > 1) {
    fprintf(stderr, "metarl: rank %d of %d: %s; stopping every rank\n", g_rank, g_size, msg);
  } else {
    fprintf(stderr, "metarl: %s\n", msg);
  }
  fflush(stderr);
#ifdef METARL_HAVE_MPI
  if (g_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  exit(code);
}

mrlFault mrl_dist_fault(int iteration) {
  if (g_fault_kind == MRL_FAULT_NONE || g_rank != g_fault_rank || iteration != g_fault_iteration) {
    return MRL_FAULT_NONE;
  }
  switch (g_fault_kind) {
  case MRL_FAULT_ERROR:
    mrl_dist_abort(MRL_EXIT_RUNTIME, "fault injected by METARL_FAULT_INJECT at iteration %d",
                   iteration);
  case MRL_FAULT_KILL:
    fprintf(stderr, "metarl: rank %d: METARL_FAULT_INJECT kills this process at iteration %d\n",
            g_rank, iteration);
    fflush(stderr);
    raise(SIGKILL);
    return MRL_FAULT_KILL;  // not reached
  default:
    return g_fault_kind;
  }
}
