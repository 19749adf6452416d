/* Training support shared by both stages: the Adam optimiser over a registry's trainable
 * range, weight initialisation by published rule, stage-1 batch preparation from
 * counter-based randomness, and the stage-1 -> stage-2 weight transfer. */
#ifndef DIFFCLIP_TRAIN_H
#define DIFFCLIP_TRAIN_H

#include <stdint.h>

#include "diffclip/core/rng.h"
#include "diffclip/model/model.h"

struct dc_adam {
  float *m, *v; /* (n) backend memory */
  size_t n;
  int step;
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled; /* 0: Adam with L2 (published); 1: AdamW */
};
enum dc_status dc_adam_init(struct dc_adam *o, const struct dc_registry *r, float lr, float weight_decay,
                            int decoupled);
/* One step at learning rate lr over every trainable tensor. */
void dc_adam_step(struct dc_adam *o, struct dc_registry *r, float lr);
void dc_adam_free(struct dc_adam *o, const struct dc_backend *be);

/* Fills p->io for B samples whose global sample numbers are first .. first+B-1: copies
 * the clean patches x0[m] (host, (B*L, C_m)), draws t, noise and masks keyed by sample
 * number (so the draws do not depend on rank count or batch split), and computes
 * x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. */
enum dc_status dc_pretrain_prepare(struct dc_pretrain *p, const float *const *x0, uint64_t seed, uint64_t first);

#endif
