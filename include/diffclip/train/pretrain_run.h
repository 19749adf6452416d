/* `diffclip pretrain`: the stage-1 training job.
 *
 * Data: the scene is loaded on every rank (dc_scene_load_parallel), normalised, and the
 * corpus of patch centres is built from the configuration. Each epoch has one global order
 * of the corpus drawn from (seed, epoch); global batch k takes positions [kG, (k+1)G) and
 * rank r its slice [rB, (r+1)B) of it, B = G/R. Noise, timesteps and masks are keyed by
 * the global sample number, BatchNorm statistics are those of the global batch, and
 * gradients are averaged: so 1 rank and R ranks follow the same loss curve up to
 * floating-point summation order, and a resumed run continues the very same stream.
 *
 * Exit codes (returned in *exit_code; the command exits with them):
 *   0  finished;  1  error;  85  stopped early with a checkpoint written (SIGTERM, SIGUSR2
 *   or pretrain.max_wall_s): requeue the job and it resumes;  86  diverged (non-finite loss
 *   or gradients persisted past pretrain.max_bad_steps skips and pretrain.max_rollbacks
 *   rollbacks). SIGUSR1 writes a checkpoint at the next step and carries on. */
#ifndef DIFFCLIP_PRETRAIN_RUN_H
#define DIFFCLIP_PRETRAIN_RUN_H

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"
#include "diffclip/train/slot.h"

#define DC_EXIT_REQUEUE 85
#define DC_EXIT_DIVERGED 86

enum dc_status dc_pretrain_run(const struct dc_dist *d, const struct dc_config *cfg, int *exit_code);

/* The identity of a pretraining run: the SHA-256 of its configuration with the keys that
 * only say how it is operated (max_steps, wall time, logging, checkpointing, paths, ...)
 * and the other stages' keys reset, so equal identities compute the same model. */
enum dc_status dc_pretrain_identity(const struct dc_config *c, char hex[DC_SHA256_HEX]);

#endif
