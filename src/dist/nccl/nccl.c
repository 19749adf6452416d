/* NCCL gradient averaging for the CUDA backend (built when CUDA and NCCL are found).
 *
 * Bring-up on the first average, collectively: every rank checks that it can have a GPU
 * of its own (NCCL refuses two ranks on one device) and the answers are reduced, so all
 * ranks take the same path; rank 0 makes the NCCL id and MPI broadcasts it; the
 * communicator is created non-blocking. Each average is ncclAllReduce(ncclAvg) over
 * buckets of the flat gradient buffer, grouped, on the backend's stream.
 *
 * Never hang: every wait polls ncclCommGetAsyncError next to the stream and gives up
 * after DIFFCLIP_NCCL_TIMEOUT seconds (default 600); an error or a timeout aborts the
 * communicator and returns DC_ERR_BACKEND, and the command then MPI_Aborts every rank.
 * The GPU itself was chosen from the node-local rank when the backend was created
 * (dc_backend_set_local_rank, set by dc_dist_init). */
#include "dist/nccl/nccl.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nccl.h>

#include "backend/cuda/cuda_backend.h"

/* Floats per allreduce: 64 MiB buckets keep each call large (bandwidth-bound) while a
 * model of a few million parameters still goes in one. */
#define NCCL_BUCKET ((size_t)1 << 24)
#define NCCL_TIMEOUT_DEFAULT_S 600.0

struct dc_nccl {
  int tried, usable;
  ncclComm_t comm;
  double timeout_s;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum dc_status dc_nccl_create(struct dc_nccl **out) {
  *out = calloc(1, sizeof **out);
  DC_CHECK_ALLOC(*out);
  const char *t = getenv("DIFFCLIP_NCCL_TIMEOUT");
  (*out)->timeout_s = t && atof(t) > 0 ? atof(t) : NCCL_TIMEOUT_DEFAULT_S;
  return DC_OK;
}

static enum dc_status nccl_fail(struct dc_nccl *nc, const char *what, const char *why) {
  if (nc->comm) ncclCommAbort(nc->comm);
  nc->comm = NULL;
  nc->usable = 0;
  return DC_ERROR(DC_ERR_BACKEND, "NCCL %s failed: %s (every rank is stopped)", what, why);
}

/* Waits for the communicator's pending work and, when given, the stream. */
static enum dc_status nccl_wait(struct dc_nccl *nc, cudaStream_t stream, const char *what) {
  double t0 = now_s();
  for (;;) {
    ncclResult_t async = ncclSuccess, r = ncclCommGetAsyncError(nc->comm, &async);
    if (r != ncclSuccess) async = r;
    if (async != ncclSuccess && async != ncclInProgress) return nccl_fail(nc, what, ncclGetErrorString(async));
    if (async == ncclSuccess) {
      if (!stream) return DC_OK;
      cudaError_t q = cudaStreamQuery(stream);
      if (q == cudaSuccess) return DC_OK;
      if (q != cudaErrorNotReady) return nccl_fail(nc, what, cudaGetErrorString(q));
    }
    if (now_s() - t0 > nc->timeout_s) {
      char why[96];
      snprintf(why, sizeof why, "no progress in %.0f s (DIFFCLIP_NCCL_TIMEOUT)", nc->timeout_s);
      return nccl_fail(nc, what, why);
    }
    sched_yield();
  }
}

static enum dc_status nccl_setup(const struct dc_dist *d, struct dc_nccl *nc) {
  nc->tried = 1;
  int ok = 1, ndev = 0;
  const char *env = getenv("DIFFCLIP_NCCL"), *why = NULL;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess) {
    cudaGetLastError();
    ndev = 0;
  }
  if (env && strcmp(env, "0") == 0)
    why = "DIFFCLIP_NCCL=0";
  else if (ndev == 0)
    why = "no GPU is visible";
  else if (d->local_size > ndev)
    why = "a node has more ranks than GPUs, and NCCL needs a GPU per rank";
  ok = why == NULL;
  int all_ok = 0;
  DC_CHECK_MPI(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, d->comm));
  if (!all_ok) {
    dc_log(DC_LOG_INFO, "gradients: staged through host memory and MPI (%s)", why ? why : "another rank cannot use NCCL");
    return DC_OK;
  }
  /* the id and rank 0's verdict on making it travel together */
  struct {
    int ok;
    ncclUniqueId id;
  } msg;
  memset(&msg, 0, sizeof msg);
  if (d->rank == 0) msg.ok = ncclGetUniqueId(&msg.id) == ncclSuccess;
  DC_CHECK_MPI(MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, 0, d->comm));
  if (!msg.ok) return DC_ERROR(DC_ERR_BACKEND, "NCCL: rank 0 could not make the unique id");
  ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
  cfg.blocking = 0;
  ncclResult_t r = ncclCommInitRankConfig(&nc->comm, d->size, msg.id, d->rank, &cfg);
  if (r != ncclSuccess && r != ncclInProgress) return nccl_fail(nc, "ncclCommInitRankConfig", ncclGetErrorString(r));
  DC_TRY(nccl_wait(nc, NULL, "communicator set-up"));
  nc->usable = 1;
  int version = 0;
  ncclGetVersion(&version);
  dc_log(DC_LOG_INFO, "gradients: NCCL %d.%d.%d allreduce over %d ranks (%d per node)", version / 10000,
         version / 100 % 100, version % 100, d->size, d->local_size);
  return DC_OK;
}

enum dc_status dc_nccl_allreduce_mean(const struct dc_dist *d, struct dc_nccl *nc, float *x, size_t n, int *done) {
  *done = 0;
  if (!nc) return DC_OK;
  if (!nc->tried) DC_TRY(nccl_setup(d, nc));
  if (!nc->usable) return DC_OK;
  cudaStream_t s = dc_cuda_context()->stream;
  ncclResult_t r = ncclGroupStart();
  for (size_t off = 0; r == ncclSuccess && off < n; off += NCCL_BUCKET) {
    size_t count = n - off < NCCL_BUCKET ? n - off : NCCL_BUCKET;
    r = ncclAllReduce(x + off, x + off, count, ncclFloat, ncclAvg, nc->comm, s);
    if (r == ncclInProgress) r = ncclSuccess;
  }
  ncclResult_t g = ncclGroupEnd();
  if (r == ncclSuccess && g != ncclInProgress) r = g;
  if (r != ncclSuccess) return nccl_fail(nc, "ncclAllReduce", ncclGetErrorString(r));
  DC_TRY(nccl_wait(nc, s, "ncclAllReduce"));
  *done = 1;
  return DC_OK;
}

void dc_nccl_free(struct dc_nccl *nc) {
  if (!nc) return;
  if (nc->comm) {
    /* finish, then destroy; abort instead if it does not finish in time */
    double t0 = now_s();
    ncclResult_t r = ncclCommFinalize(nc->comm), async = ncclInProgress;
    while (r == ncclSuccess || r == ncclInProgress) {
      if (ncclCommGetAsyncError(nc->comm, &async) != ncclSuccess || async != ncclInProgress) break;
      if (now_s() - t0 > 10.0) break;
      sched_yield();
    }
    if (async == ncclSuccess)
      ncclCommDestroy(nc->comm);
    else
      ncclCommAbort(nc->comm);
  }
  free(nc);
}

void dc_nccl_version(char *out, size_t cap) {
  int v = 0;
  if (ncclGetVersion(&v) == ncclSuccess)
    snprintf(out, cap, "NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
  else
    snprintf(out, cap, "NCCL (version unknown)");
}
