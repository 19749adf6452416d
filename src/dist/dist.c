/* MPI context: init with thread support for OpenMP regions on the main thread, the
 * node-local rank (which picks the rank's GPU), gradient averaging (MPI on host memory;
 * NCCL, or staging through the host, on GPU memory) and agreed failure. */
#include "diffclip/dist/dist.h"

#include <stdlib.h>

#include "dist/nccl/nccl.h"

enum dc_status dc_dist_init(struct dc_dist *d, int *argc, char ***argv) {
  int provided;
  dc_launch_env_snapshot(); /* before MPI_Init adds variables of its own */
  DC_CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  d->comm = MPI_COMM_WORLD;
  MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
  DC_CHECK_MPI(MPI_Comm_rank(d->comm, &d->rank));
  DC_CHECK_MPI(MPI_Comm_size(d->comm, &d->size));
  MPI_Comm node;
  DC_CHECK_MPI(MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node));
  DC_CHECK_MPI(MPI_Comm_rank(node, &d->local_rank));
  DC_CHECK_MPI(MPI_Comm_size(node, &d->local_size));
  MPI_Comm_free(&node);
  dc_log_set_rank(d->size > 1 ? d->rank : -1, 0);
  /* ranks of a node take GPUs local_rank % count when the CUDA backend starts */
  dc_backend_set_local_rank(d->local_rank);
  return dc_nccl_create(&d->nccl);
}

void dc_dist_finalize(struct dc_dist *d) {
  dc_nccl_free(d->nccl);
  d->nccl = NULL;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

static enum dc_status allreduce_host(const struct dc_dist *d, float *x, size_t n) {
  for (size_t off = 0; off < n;) {
    int chunk = n - off > (size_t)1 << 30 ? 1 << 30 : (int)(n - off);
    DC_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, x + off, chunk, MPI_FLOAT, MPI_SUM, d->comm));
    off += (size_t)chunk;
  }
  return DC_OK;
}

enum dc_status dc_dist_allreduce_mean(const struct dc_dist *d, const struct dc_backend *be, float *x, size_t n) {
  if (d->size == 1) return DC_OK;
  if (!be->device_memory) {
    DC_TRY(allreduce_host(d, x, n));
    be->scale_inplace(x, 1.0f / (float)d->size, n);
    return DC_OK;
  }
  int done = 0;
  DC_TRY(dc_nccl_allreduce_mean(d, d->nccl, x, n, &done));
  if (done) return DC_OK;
  /* GPU memory without NCCL: through the host */
  float *h = malloc((n ? n : 1) * sizeof *h);
  DC_CHECK_ALLOC(h);
  be->download(h, x, n * sizeof *h);
  enum dc_status st = be->error();
  if (st == DC_OK) st = allreduce_host(d, h, n);
  if (st == DC_OK) {
    float inv = 1.0f / (float)d->size;
    for (size_t i = 0; i < n; i++) h[i] *= inv;
    be->upload(x, h, n * sizeof *h);
    st = be->error();
  }
  free(h);
  return st;
}

enum dc_status dc_dist_agree(const struct dc_dist *d, enum dc_status local) {
  int mine = (int)local, worst = mine;
  if (d->size > 1 && MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, d->comm) != MPI_SUCCESS)
    return DC_ERR_MPI;
  return (enum dc_status)worst;
}

void dc_dist_abort(const struct dc_dist *d, int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized && d && d->size > 1) MPI_Abort(d->comm, code);
}

static enum dc_status sum_doubles(void *ctx, double *x, int n) {
  const struct dc_dist *d = ctx;
  DC_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, d->comm));
  return DC_OK;
}

void dc_dist_reducer(const struct dc_dist *d, struct dc_reducer *out) {
  *out = (struct dc_reducer){.ctx = (void *)d, .ranks = d->size, .sum = sum_doubles};
}
