/* The process-wide settings of a configuration's run.* keys: what is printed (log level,
 * every rank or rank 0), the OpenMP threads, and the CPU GEMM precision. Every verb applies
 * them once its configuration is known. */
#ifndef DIFFCLIP_RUN_ENV_H
#define DIFFCLIP_RUN_ENV_H

#include "diffclip/config/config.h"

/* Applies them; run.precision = "bf16" on a CPU without bf16 instructions runs in fp32 and
 * says so in one line. */
void dc_run_env_apply(const struct dc_config *cfg);

#endif
