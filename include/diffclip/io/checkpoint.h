/* Checkpoints: one parallel-HDF5 file per checkpoint, written collectively by every rank.
 *
 * Layout (format "diffclip-checkpoint", version 1; docs/formats.md):
 *   /                      attrs: format, format_version, kind ("pretrain" | "finetune"),
 *                                 step, epoch, sched_epoch, adam_step, seed, samples_seen,
 *                                 world_size, config_sha256, program_version
 *   /params/<name>         float32, the tensor's shape, Fletcher32 + chunked
 *   /buffers/<name>        float32 (BatchNorm running statistics)
 *   /adam/m, /adam/v       float32 (n_trainable), each rank writing its own slice
 *                          [r*n/R, (r+1)*n/R) as a hyperslab
 *   /config                the resolved configuration text (optional)
 *   /vocab                 the tokenizer's vocabulary table, one entry a line (fine-tuned
 *                          models; optional)
 *
 * A checkpoint is written to "<name>.tmp", renamed when every rank has succeeded, and then
 * the directory's `latest` file (the name of the newest checkpoint) is replaced atomically;
 * the newest `keep` checkpoints are kept. Reading re-shards the moments for any rank count
 * (every rank reads them whole). */
#ifndef DIFFCLIP_CHECKPOINT_H
#define DIFFCLIP_CHECKPOINT_H

#include <stdint.h>

#include "diffclip/dist/dist.h"
#include "diffclip/nn/registry.h"
#include "diffclip/nn/optim.h"

#define DC_CKPT_FORMAT "diffclip-checkpoint"
#define DC_CKPT_VERSION 3 /* 2: state_sha256 covers the state attributes; 3: train_seconds */

struct dc_ckpt_state {
  char kind[16];       /* "pretrain" or "finetune" */
  int64_t step;        /* optimiser steps done */
  int64_t epoch;       /* epochs done */
  double sched_epoch;  /* the schedule's (fractional) epoch for the next step */
  int64_t adam_step;
  uint64_t seed;
  uint64_t samples_seen; /* data cursor: global samples consumed */
  int world_size;
  char config_sha256[65];
  double train_seconds; /* wall time spent training, summed over every slot (format version 3) */
};

/* Writes dir/<name> collectively; adam and buffers may be NULL; config_text and vocab_text
 * (may be NULL) are stored as strings (all ranks call it with the same arguments), then
 * updates dir/latest and removes all but the newest `keep` checkpoints (keep >= 1). */
enum dc_status dc_ckpt_write(const struct dc_dist *d, const char *dir, const char *name,
                             const struct dc_registry *params, const struct dc_registry *buffers,
                             const struct dc_adam *adam, const struct dc_ckpt_state *st, const char *config_text,
                             const char *vocab_text, int keep);
/* Reads a string dataset ("/config", "/vocab") of a checkpoint on this process; *out is
 * malloc'd. */
enum dc_status dc_ckpt_read_text(const char *path, const char *name, char **out);
/* Reads a checkpoint collectively into registries that have the same tensors. */
enum dc_status dc_ckpt_read(const struct dc_dist *d, const char *path, struct dc_registry *params,
                            struct dc_registry *buffers, struct dc_adam *adam, struct dc_ckpt_state *st);
/* The state attributes of one checkpoint, on this process alone (digest checked). */
enum dc_status dc_ckpt_read_state(const char *path, struct dc_ckpt_state *st);
/* Checks one checkpoint on this process alone: format, every dataset readable with its
 * checksum, shapes consistent. Prints a summary when verbose. */
enum dc_status dc_ckpt_verify(const char *path, int verbose);
/* The newest valid checkpoint of dir, falling back past corrupt or incomplete ones:
 * path_out gets "" when none exists (not an error). Rank 0 checks, all ranks agree. */
enum dc_status dc_ckpt_find_resume(const struct dc_dist *d, const char *dir, char *path_out, size_t cap);

#endif
