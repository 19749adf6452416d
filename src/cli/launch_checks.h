/* The launch checks (diffclip/dist.h) as the training verbs run them, on the backend the
 * configuration names. */
#ifndef DIFFCLIP_CLI_LAUNCH_CHECKS_H
#define DIFFCLIP_CLI_LAUNCH_CHECKS_H

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"

/* Every rank, after the configuration is loaded: the resolved configuration must be the
 * same on every rank (DC_EXIT_USAGE on every rank, with the first differing key named,
 * when it is not). Collective. */
int dc_cli_config_agree(const struct dc_dist *d, const struct dc_config *cfg);
/* Every rank, after the configuration is loaded: dc_cli_config_agree, then the GPUs in play are those this process
 * sees when run.backend is "cuda" or "auto" (0 without CUDA or without a GPU, where "auto"
 * means the CPU), none for "cpu". DC_EXIT_OK to go on; DC_EXIT_USAGE on every rank when
 * the checks refuse (the message is printed). */
int dc_cli_launch_checks(const struct dc_dist *d, const struct dc_config *cfg);

#endif
