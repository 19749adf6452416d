/* Builds without NCCL (no CUDA, or CUDA without NCCL): GPU gradients are staged through
 * host memory and averaged with MPI by the caller (src/dist/dist.c). */
#include "dist/nccl/nccl.h"

#include <stdio.h>

enum dc_status dc_nccl_create(struct dc_nccl **out) {
  *out = NULL;
  return DC_OK;
}

enum dc_status dc_nccl_allreduce_mean(const struct dc_dist *d, struct dc_nccl *nc, float *x, size_t n, int *done) {
  (void)d, (void)nc, (void)x, (void)n;
  *done = 0;
  return DC_OK;
}

void dc_nccl_free(struct dc_nccl *nc) { (void)nc; }

void dc_nccl_version(char *out, size_t cap) { snprintf(out, cap, "NCCL not in this build"); }
