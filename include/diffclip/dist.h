/* Distributed bring-up and teardown (MPI), and the gradient average. One module owns it;
 * everything else receives a struct dc_dist. */
#ifndef DIFFCLIP_DIST_H
#define DIFFCLIP_DIST_H

#include <mpi.h>

#include "diffclip/backend.h"
#include "diffclip/nn.h"

struct dc_dist {
  int rank, size;
  int local_rank, local_size; /* within the node (MPI_COMM_TYPE_SHARED) */
  MPI_Comm comm;              /* MPI_COMM_WORLD */
};

enum dc_status dc_dist_init(struct dc_dist *d, int *argc, char ***argv);
void dc_dist_finalize(struct dc_dist *d);
/* Averages n floats of backend memory over all ranks, in place. */
enum dc_status dc_dist_allreduce_mean(const struct dc_dist *d, const struct dc_backend *be, float *x, size_t n);
/* A reducer summing over every rank of d (for synchronised BatchNorm); d must outlive it. */
void dc_dist_reducer(const struct dc_dist *d, struct dc_reducer *out);
/* Agrees on a status: the worst over all ranks, so every rank takes the same exit. */
enum dc_status dc_dist_agree(const struct dc_dist *d, enum dc_status local);
/* After a fatal error on this rank: MPI_Abort every rank of a multi-rank job (single
 * rank: returns, and the caller exits with `code`). */
void dc_dist_abort(const struct dc_dist *d, int code);

#endif
