/* Under mpirun -np R: the gradient average for a backend whose memory is not the host's.
 * Without a GPU, a copy of the CPU table marked device_memory = 1 stands in for one, so
 * this runs on any machine and takes the path a CUDA run takes when NCCL cannot serve it:
 * NCCL is asked first (every rank must get the same answer), then the gradients go down
 * to the host, through MPI and back. With a GPU, the real CUDA backend is used: NCCL when
 * every rank has a GPU of its own, else the same staging (jobs/device/gpu_check.sh runs
 * it on 2 ranks). The NCCL decision is made once per process, so one kind is tested. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "diffclip/dist/dist.h"

static int check(const struct dc_dist *d, const struct dc_backend *be, const char *what) {
  enum { N = 300007 };
  float *x = be->alloc(N * sizeof(float));
  float *h = malloc(N * sizeof(float));
  if (!x || !h) return 1;
  for (int i = 0; i < N; i++) h[i] = (float)(d->rank + 1) * (float)(i % 89) - 3.0f;
  be->upload(x, h, N * sizeof(float));
  int fails = dc_dist_allreduce_mean(d, be, x, N) != DC_OK || be->error() != DC_OK;
  be->download(h, x, N * sizeof(float));
  double mean_factor = (d->size + 1) / 2.0; /* mean of 1..R */
  for (int i = 0; i < N; i++) {
    double want = mean_factor * (i % 89) - 3.0;
    if (fabs(h[i] - want) > 1e-5 * (1 + fabs(want)) && fails++ < 3)
      fprintf(stderr, "rank %d (%s): x[%d] = %g, expected %g\n", d->rank, what, i, h[i], want);
  }
  be->free(x);
  free(h);
  return fails;
}

int main(int argc, char **argv) {
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return 1;
  int fails = check(&d, dc_backend_cpu(), "host memory");
  int gpu = dc_backend_cuda_available(), all_gpu = 0;
  MPI_Allreduce(&gpu, &all_gpu, 1, MPI_INT, MPI_MIN, d.comm);
  if (all_gpu) {
    const struct dc_backend *be;
    if (dc_backend_get("cuda", &be) != DC_OK) return 1;
    fails += check(&d, be, "CUDA memory");
    fails += check(&d, be, "CUDA memory, second call"); /* the communicator is kept */
  } else {
    struct dc_backend staged = *dc_backend_cpu();
    staged.device_memory = 1;
    fails += check(&d, &staged, "device memory, staged");
    fails += check(&d, &staged, "device memory, second call"); /* the NCCL decision is kept */
  }
  int total = 0;
  MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, d.comm);
  if (d.rank == 0)
    printf("test_mpi_gradavg: %d ranks, %s, %d failure(s)\n", d.size, all_gpu ? "CUDA backend" : "no GPU", total);
  dc_dist_finalize(&d);
  return total ? 1 : 0;
}
