/* Under mpirun -np R: the gradient average over ranks equals the mean computed locally
 * from every rank's known contribution, and a failure on one rank is agreed by all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "diffclip/dist/dist.h"

int main(int argc, char **argv) {
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return 1;
  const struct dc_backend *be = dc_backend_cpu();
  enum { N = 1000003 }; /* odd, larger than one message of most transports */
  float *x = be->alloc(N * sizeof(float));
  for (int i = 0; i < N; i++) x[i] = (float)(d.rank + 1) * (float)(i % 97);
  int fails = 0;
  if (dc_dist_allreduce_mean(&d, be, x, N) != DC_OK) fails++;
  double mean_factor = (d.size + 1) / 2.0; /* mean of 1..R */
  for (int i = 0; i < N; i++)
    if (fabs(x[i] - mean_factor * (i % 97)) > 1e-4 * (1 + mean_factor * (i % 97))) {
      if (fails++ < 3) fprintf(stderr, "rank %d: x[%d] = %g, expected %g\n", d.rank, i, x[i], mean_factor * (i % 97));
    }
  /* rank R-1 fails; every rank must see the failure, and only the failure */
  enum dc_status local = d.rank == d.size - 1 ? DC_ERR_IO : DC_OK;
  if (dc_dist_agree(&d, local) != DC_ERR_IO) fails++;
  if (dc_dist_agree(&d, DC_OK) != DC_OK) fails++;
  int total = 0;
  MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, d.comm);
  if (d.rank == 0) printf("test_mpi_dist: %d ranks, %d failure(s)\n", d.size, total);
  be->free(x);
  dc_dist_finalize(&d);
  return total ? 1 : 0;
}
