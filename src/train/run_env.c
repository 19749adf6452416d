/* run.* keys applied to the process (see run_env.h). */
#include "diffclip/train/run_env.h"

#include "diffclip/backend/backend.h"
#include "diffclip/core/status.h"

void dc_run_env_apply(const struct dc_config *cfg) {
  dc_log_set_level((enum dc_log_level)cfg->run.log_level); /* the same order */
  dc_log_set_all_ranks(cfg->run.log_all_ranks);
  dc_backend_set_threads(cfg->run.threads);
  enum dc_precision want = cfg->run.precision == DC_RUN_PRECISION_BF16 ? DC_PRECISION_BF16 : DC_PRECISION_FP32;
  if (dc_backend_set_precision(want) != want)
    dc_log(DC_LOG_INFO, "run.precision = \"bf16\": this CPU has no bf16 instructions (AVX512-BF16 or AMX); its GEMMs "
           "run in fp32");
}
