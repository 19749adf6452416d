/* NCCL gradient averaging for the CUDA backend's device memory. Two implementations, of
 * which CMake compiles one: nccl.c (CUDA and NCCL found) and nccl_absent.c. */
#ifndef DIFFCLIP_DIST_NCCL_H
#define DIFFCLIP_DIST_NCCL_H

#include <stddef.h>

#include "diffclip/dist/dist.h"

/* The state behind d->nccl (NULL where NCCL is not built). */
enum dc_status dc_nccl_create(struct dc_nccl **out);
/* Averages n floats of CUDA-backend memory over d's ranks with ncclAllReduce (ncclAvg) in
 * buckets on the backend's stream, and waits for it. The first call makes the
 * communicator (collective over d). *done = 0 when NCCL cannot serve this job (not built,
 * DIFFCLIP_NCCL=0, or ranks sharing a GPU, which NCCL refuses): every rank gets the same
 * answer and the caller stages through host memory. */
enum dc_status dc_nccl_allreduce_mean(const struct dc_dist *d, struct dc_nccl *nc, float *x, size_t n, int *done);
/* "NCCL X.Y.Z" or "NCCL not in this build", for provenance. */
void dc_nccl_version(char *out, size_t cap);
/* Destroys the communicator (before MPI_Finalize). */
void dc_nccl_free(struct dc_nccl *nc);

#endif
