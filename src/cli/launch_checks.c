/* The training verbs' launch checks: how many GPUs the configured backend will drive. */
#include "cli/launch_checks.h"

#include <stdlib.h>

#include "cli/cli.h"
#include "diffclip/train/pretrain_run.h"

int dc_cli_config_agree(const struct dc_dist *d, const struct dc_config *cfg) {
  char *text = dc_config_text(cfg);
  enum dc_status st = dc_dist_agree(d, text ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "the configuration's text"));
  if (st == DC_OK)
    st = dc_dist_same_text(d, "resolved configuration", text,
                           "every rank must be started with the same --config file and --set options (check an MPMD "
                           "launch, a per-rank wrapper script, or a configuration file that differs between nodes)");
  free(text);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_USAGE;
}

int dc_cli_launch_checks(const struct dc_dist *d, const struct dc_config *cfg) {
  if (dc_cli_config_agree(d, cfg) != DC_EXIT_OK) return DC_EXIT_USAGE;
  /* "auto" takes CUDA exactly when a GPU is visible (dc_backend_get), so the count decides */
  int n_devices = cfg->run.backend == DC_RUN_BACKEND_CPU ? 0 : dc_backend_cuda_device_count();
  return dc_dist_launch_checks(d, n_devices, NULL) == DC_OK ? DC_EXIT_OK : DC_EXIT_USAGE;
}

int dc_cli_stage_exit(enum dc_status st) {
  return st == DC_OK ? DC_EXIT_OK : st == DC_STOPPED ? DC_EXIT_REQUEUE : st == DC_ERR_ARG ? DC_EXIT_STAGE_USAGE
                                                                                       : DC_EXIT_ERROR;
}
