/* Under mpirun -np 2 on one machine: the launch checks as the command runs them. Both ranks
 * share the node, so 1 GPU is refused on every rank (not only on the node's first), 2 GPUs
 * give each rank its own device, and the CPU backend (0 devices) takes none. */
#include <stdio.h>

#include "diffclip/dist/dist.h"

int main(int argc, char **argv) {
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return 1;
  int fails = 0, dev = 99;
  if (d.local_size != d.size) {
    if (d.rank == 0) fprintf(stderr, "expected every rank on one node (%d of %d)\n", d.local_size, d.size);
    fails++;
  }
  if (dc_dist_launch_checks(&d, 0, &dev) != DC_OK || dev != -1) {
    fprintf(stderr, "rank %d: CPU backend: status or device %d\n", d.rank, dev);
    fails++;
  }
  dev = 99;
  if (dc_dist_launch_checks(&d, d.local_size, &dev) != DC_OK || dev != d.local_rank) {
    fprintf(stderr, "rank %d: one GPU per rank: device %d, expected %d\n", d.rank, dev, d.local_rank);
    fails++;
  }
  dev = 99;
  if (d.local_size > 1 && (dc_dist_launch_checks(&d, d.local_size - 1, &dev) != DC_ERR_ARG || dev != 99)) {
    fprintf(stderr, "rank %d: %d ranks on %d GPUs were not refused\n", d.rank, d.local_size, d.local_size - 1);
    fails++;
  }
  int total = 0;
  MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, d.comm);
  if (d.rank == 0) printf("test_mpi_launch: %d ranks, %d failure(s)\n", d.size, total);
  dc_dist_finalize(&d);
  return total ? 1 : 0;
}
