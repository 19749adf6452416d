/* Training support shared by both stages: stage-1 batch preparation from counter-based
 * randomness (the optimiser is nn/optim.h, initialisation and the stage-1 -> stage-2
 * weight transfer model/model.h). */
#ifndef DIFFCLIP_TRAIN_H
#define DIFFCLIP_TRAIN_H

#include <stdint.h>

#include "diffclip/core/rng.h"
#include "diffclip/model/model.h"
#include "diffclip/nn/optim.h"


/* Fills p->io for B samples whose global sample numbers are first .. first+B-1: copies
 * the clean patches x0[m] (host, (B*L, C_m)), draws t, noise and masks keyed by sample
 * number (so the draws do not depend on rank count or batch split), and computes
 * x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. */
enum dc_status dc_pretrain_prepare(struct dc_pretrain *p, const float *const *x0, uint64_t seed, uint64_t first);

#endif
