/* MPI context: init with thread support for OpenMP regions on the main thread, the
 * node-local rank (which picks the rank's GPU), gradient averaging (MPI on host memory;
 * NCCL, or staging through the host, on GPU memory) and agreed failure. */
#include "diffclip/dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/nccl/nccl.h"

enum dc_status dc_dist_init(struct dc_dist *d, int *argc, char ***argv) {
  int provided;
  dc_launch_env_snapshot(); /* before MPI_Init adds variables of its own */
  DC_CHECK_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  d->comm = MPI_COMM_WORLD;
  MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
  DC_CHECK_MPI(MPI_Comm_rank(d->comm, &d->rank));
  DC_CHECK_MPI(MPI_Comm_size(d->comm, &d->size));
  DC_CHECK_MPI(MPI_Comm_dup(d->comm, &d->exit_comm));
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

enum dc_status dc_dist_split(const struct dc_dist *d, int color, struct dc_dist *sub) {
  *sub = *d;
  sub->nccl = NULL;
  sub->exit_comm = MPI_COMM_NULL;
  DC_CHECK_MPI(MPI_Comm_split(d->comm, color, d->rank, &sub->comm));
  MPI_Comm_set_errhandler(sub->comm, MPI_ERRORS_RETURN);
  DC_CHECK_MPI(MPI_Comm_rank(sub->comm, &sub->rank));
  DC_CHECK_MPI(MPI_Comm_size(sub->comm, &sub->size));
  return DC_OK;
}

void dc_dist_split_free(struct dc_dist *sub) {
  if (sub->comm != MPI_COMM_NULL && sub->comm != MPI_COMM_WORLD) MPI_Comm_free(&sub->comm);
  sub->comm = MPI_COMM_NULL;
}

void dc_dist_finalize(struct dc_dist *d) {
  dc_nccl_free(d->nccl);
  d->nccl = NULL;
  if (d->exit_comm != MPI_COMM_NULL && d->exit_comm != 0) MPI_Comm_free(&d->exit_comm);
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

int dc_dist_exit_agree(const struct dc_dist *d, int code, double timeout_s) {
  if (d->size == 1) return 1;
  int mine[2] = {code, -code}, all[2];
  MPI_Request req;
  if (MPI_Iallreduce(mine, all, 2, MPI_INT, MPI_MAX, d->exit_comm, &req) != MPI_SUCCESS) return 0;
  struct timespec t0, now, nap = {.tv_nsec = 1000000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int done = 0;
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
    if (done) return all[0] == -all[1];
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) > timeout_s) return 0;
    nanosleep(&nap, NULL);
  }
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

/* The first line where a and b differ (1-based), its text in each (cut at 160 chars), and
 * the nearest line before it that opens a group ("... {"), for the message. */
static int first_difference(const char *a, const char *b, char *la, char *lb, char *group, size_t cap, int *more) {
  int line = 1, first = 0;
  const char *pa = a, *pb = b;
  group[0] = '\0';
  *more = 0;
  while (*pa || *pb) {
    size_t na = strcspn(pa, "\n"), nb = strcspn(pb, "\n");
    if (na != nb || strncmp(pa, pb, na) != 0) {
      if (first) {
        ++*more;
      } else {
        first = line;
        snprintf(la, cap, "%.*s", (int)(na < 160 ? na : 160), pa);
        snprintf(lb, cap, "%.*s", (int)(nb < 160 ? nb : 160), pb);
      }
    }
    if (!first && na > 0 && pa[na - 1] == '{') snprintf(group, cap, "%.*s", (int)(na < 160 ? na : 160), pa);
    pa += na + (pa[na] == '\n');
    pb += nb + (pb[nb] == '\n');
    line++;
  }
  return first;
}

enum dc_status dc_dist_same_text(const struct dc_dist *d, const char *what, const char *mine, const char *hint) {
  if (d->size == 1) return DC_OK;
  long len = d->rank == 0 ? (long)strlen(mine) + 1 : 0;
  DC_CHECK_MPI(MPI_Bcast(&len, 1, MPI_LONG, 0, d->comm));
  char *theirs = malloc((size_t)len);
  int oom = theirs == NULL, any_oom = 0;
  MPI_Allreduce(&oom, &any_oom, 1, MPI_INT, MPI_MAX, d->comm);
  if (any_oom) {
    free(theirs);
    return DC_ERROR(DC_ERR_NOMEM, "comparing the ranks' %s: out of memory", what);
  }
  if (d->rank == 0) memcpy(theirs, mine, (size_t)len);
  for (long off = 0; off < len;) { /* in pieces an int can count */
    int n = len - off > (1L << 30) ? 1 << 30 : (int)(len - off);
    enum dc_status st = MPI_Bcast(theirs + off, n, MPI_CHAR, 0, d->comm) == MPI_SUCCESS ? DC_OK : DC_ERR_MPI;
    if (st != DC_OK) {
      free(theirs);
      return DC_ERROR(st, "MPI_Bcast of rank 0's %s failed", what);
    }
    off += n;
  }
  char la[200], lb[200], group[200], also[64] = "";
  int more = 0, line = d->rank == 0 ? 0 : first_difference(mine, theirs, la, lb, group, sizeof la, &more);
  if (more) snprintf(also, sizeof also, " (and %d more line%s)", more, more == 1 ? "" : "s");
  free(theirs);
  /* how many ranks differ, and the lowest of them */
  int stats[2] = {line > 0, line > 0 ? -d->rank : -d->size};
  DC_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, stats, 2, MPI_INT, MPI_MAX, d->comm));
  int count = line > 0;
  DC_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT, MPI_SUM, d->comm));
  if (!stats[0]) return DC_OK;
  if (line > 0)
    DC_ERROR(DC_ERR_ARG, "rank %d's %s differs from rank 0's at line %d%s%s%s: \"%s\" here, \"%s\" on rank 0%s; %s",
             d->rank, what, line, group[0] ? " (in \"" : "", group, group[0] ? "\")" : "", la, lb, also, hint);
  else if (d->rank == 0)
    DC_ERROR(DC_ERR_ARG, "the ranks disagree about their %s: %d of %d rank(s) differ from rank 0 (the first is rank %d, "
             "whose message says how); %s", what, count, d->size, -stats[1], hint);
  return DC_ERR_ARG;
}

void dc_dist_library_info(char *out, size_t cap) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "", nccl[64];
  int len = 0;
  if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS) snprintf(mpi, sizeof mpi, "MPI (version unknown)");
  mpi[strcspn(mpi, "\n,")] = '\0';
  dc_nccl_version(nccl, sizeof nccl);
  snprintf(out, cap, "%s; %s", mpi, nccl);
}
