/* The Adam / AdamW optimiser over a registry's flat trainable range (src/nn/optim.c). */
#ifndef DIFFCLIP_OPTIM_H
#define DIFFCLIP_OPTIM_H

#include "diffclip/nn/registry.h"

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

#endif
