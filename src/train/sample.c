/* Stage-1 batch preparation. Every random draw of a sample is keyed by its global sample
 * number g, not by rank or position in the batch:
 *   t      = below(T)            stream DC_STREAM_TIMESTEP, block g
 *   eps_m  = normal, L*C_m values  stream DC_STREAM_NOISE + m, elements g*L*C_m ...
 *   u_m    = uniform, L values     stream DC_STREAM_MASK + m, elements g*L ...
 * so 1 rank and R ranks (or a resumed run) draw identical noise, timesteps and masks. */
#include <math.h>
#include <stdlib.h>

#include "diffclip/core/rng.h"
#include "diffclip/train/train.h"

/* ids_keep = the first K of the stable ascending argsort of u; mask = 1 on the others. */
static void keep_smallest(const float *u, int L, int K, int *ids_keep, float *mask) {
  int order[4096];
  for (int i = 0; i < L; i++) order[i] = i;
  for (int i = 1; i < L; i++) /* insertion sort: stable, and L <= a few hundred */
    for (int j = i; j > 0 && u[order[j]] < u[order[j - 1]]; j--) {
      int tmp = order[j];
      order[j] = order[j - 1];
      order[j - 1] = tmp;
    }
  for (int i = 0; i < L; i++) mask[i] = 1.0f;
  for (int k = 0; k < K; k++) {
    ids_keep[k] = order[k];
    mask[order[k]] = 0.0f;
  }
}

enum dc_status dc_pretrain_prepare(struct dc_pretrain *p, const float *const *x0, uint64_t seed, uint64_t first) {
  const struct dc_backend *be = p->params.be;
  const struct dc_model_config *cfg = &p->cfg;
  int B = p->B, L = dc_cfg_tokens(cfg), K = dc_cfg_keep(cfg);
  if (L > 4096) return DC_ERROR(DC_ERR_ARG, "window %d too large for masking (L = %d > 4096)", cfg->window, L);
  for (int b = 0; b < B; b++)
    p->h_t[b] = (int)dc_rng_below(seed, DC_STREAM_TIMESTEP, first + (uint64_t)b, 0, (uint32_t)cfg->timesteps);
  be->upload(p->io.t, p->h_t, (size_t)B * sizeof(int));
  for (int m = 0; m < cfg->n_modalities; m++) {
    size_t C = (size_t)cfg->bands[m], per = (size_t)L * C;
    for (int b = 0; b < B; b++) {
      uint64_t g = first + (uint64_t)b;
      float *xt = p->h_xt + b * per;
      const float *x = x0[m] + b * per;
      dc_rng_fill_normal(xt, per, seed, DC_STREAM_NOISE + (uint64_t)m, g * per);
      /* the no-noise ablation feeds the clean patch (a = 1, s = 0) */
      double a = p->noise ? sqrt(p->abar[p->h_t[b]]) : 1.0, s = p->noise ? sqrt(1.0 - p->abar[p->h_t[b]]) : 0.0;
      for (size_t i = 0; i < per; i++) xt[i] = (float)(a * x[i] + s * xt[i]);
      dc_rng_fill_uniform(p->h_u, (size_t)L, seed, DC_STREAM_MASK + (uint64_t)m, g * (uint64_t)L);
      keep_smallest(p->h_u, L, K, p->h_ids + (size_t)b * K, p->h_mask + (size_t)b * L);
    }
    be->upload(p->io.x0[m], x0[m], (size_t)B * per * sizeof(float));
    be->upload(p->io.xt[m], p->h_xt, (size_t)B * per * sizeof(float));
    be->upload(p->io.ids_keep[m], p->h_ids, (size_t)B * K * sizeof(int));
    be->upload(p->io.mask[m], p->h_mask, (size_t)B * L * sizeof(float));
  }
  return DC_OK;
}
