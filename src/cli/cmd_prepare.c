/* diffclip prepare: runs the serial ingestion program `diffclip-prepare` (built next to
 * this executable) with the same arguments, on rank 0 only, and makes every rank exit with
 * its result. Ingestion is a separate program because matio and GDAL link Debian's serial
 * HDF5 while this MPI program links the Open MPI build: two HDF5 libraries must never be
 * loaded into one process. */
#include "cli/cli.h"
#include "diffclip/core/spawn.h"

int dc_cmd_prepare(struct dc_dist *d, int argc, char **argv) {
  enum dc_status local = DC_OK;
  if (d->rank == 0) {
    int code = dc_run_sibling("diffclip prepare", "diffclip-prepare", (const char *const *)argv + 1, argc - 1);
    local = code == DC_EXIT_OK ? DC_OK : code == DC_EXIT_USAGE ? DC_ERR_ARG : DC_ERR_IO;
  }
  /* ranks other than 0 wait here for rank 0's result */
  enum dc_status agreed = dc_dist_agree(d, local);
  return agreed == DC_OK ? DC_EXIT_OK : agreed == DC_ERR_ARG ? DC_EXIT_USAGE : DC_EXIT_ERROR;
}
