/* The training verbs' launch checks: how many GPUs the configured backend will drive. */
#include "cli/launch_checks.h"

#include "cli/cli.h"

int dc_cli_launch_checks(const struct dc_dist *d, const struct dc_config *cfg) {
  /* "auto" takes CUDA exactly when a GPU is visible (dc_backend_get), so the count decides */
  int n_devices = cfg->run.backend == DC_RUN_BACKEND_CPU ? 0 : dc_backend_cuda_device_count();
  return dc_dist_launch_checks(d, n_devices, NULL) == DC_OK ? DC_EXIT_OK : DC_EXIT_USAGE;
}
