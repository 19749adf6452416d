/* Fixed tables: the 2-D sin-cos position embedding, the diffusion schedule, and the
 * model configuration defaults and checks. */
#include <math.h>

#include "diffclip/model/model.h"

void dc_sincos_pos_embed(float *out, int D, int W) {
  /* Row (i, j) of the grid: [sin(j w), cos(j w), sin(i w), cos(i w)], each D/4 wide,
   * w_k = 10000^(-k/(D/4)); the column index comes first (as published). cls row zero. */
  int q = D / 4;
  for (int k = 0; k < D; k++) out[k] = 0.0f;
  for (int i = 0; i < W; i++)
    for (int j = 0; j < W; j++) {
      float *row = out + (size_t)(1 + i * W + j) * D;
      for (int k = 0; k < q; k++) {
        double omega = 1.0 / pow(10000.0, (double)k / q);
        row[k] = (float)sin(j * omega);
        row[q + k] = (float)cos(j * omega);
        row[2 * q + k] = (float)sin(i * omega);
        row[3 * q + k] = (float)cos(i * omega);
      }
    }
}

void dc_diffusion_abar(double *abar, int T) {
  double prod = 1.0;
  for (int t = 0; t < T; t++) {
    double beta = 1e-4 + (0.02 - 1e-4) * (T > 1 ? (double)t / (T - 1) : 0.0);
    prod *= 1.0 - beta;
    abar[t] = prod;
  }
}

void dc_model_config_paper(struct dc_model_config *c, int n_modalities, const int *bands) {
  *c = (struct dc_model_config){
      .n_modalities = n_modalities,
      .window = 11,
      .embed_dim = 128, .depth = 4, .heads = 8, .mlp_ratio = 2.0,
      .decoder_dim = 128, .decoder_depth = 3, .decoder_heads = 8,
      .mask_ratio = 0.7, .timesteps = 1000,
      .text_width = 128, .text_layers = 3, .text_heads = 8, .context = 77, .vocab = 49408,
      .ln_eps = 1e-6f, .text_ln_eps = 1e-5f, .bn_eps = 1e-5f, .bn_momentum = 0.1f};
  for (int m = 0; m < n_modalities && m < DC_MAX_MODALITIES; m++) {
    c->bands[m] = bands[m];
    c->stem_width[m] = 128;
  }
}

enum dc_status dc_model_config_check(const struct dc_model_config *c) {
#define REQUIRE(cond, ...) \
  if (!(cond)) return DC_ERROR(DC_ERR_ARG, __VA_ARGS__)
  REQUIRE(c->n_modalities >= 1 && c->n_modalities <= DC_MAX_MODALITIES,
          "model.modalities = %d: expected 1..%d", c->n_modalities, DC_MAX_MODALITIES);
  for (int m = 0; m < c->n_modalities; m++) {
    REQUIRE(c->bands[m] >= 1, "modality %d has %d bands: expected >= 1", m + 1, c->bands[m]);
    REQUIRE(c->stem_width[m] >= 1 && c->stem_width[m] <= DC_MAX_STEM_WIDTH, "modality %d stem width %d: expected 1..%d",
            m + 1, c->stem_width[m], DC_MAX_STEM_WIDTH);
  }
  REQUIRE(c->window >= 1 && c->window % 2 == 1, "model.window = %d: expected an odd number >= 1", c->window);
  REQUIRE(c->embed_dim % 4 == 0 && c->embed_dim > 0, "model.embed_dim = %d: expected a positive multiple of 4",
          c->embed_dim);
  REQUIRE(c->decoder_dim % 4 == 0 && c->decoder_dim > 0,
          "model.decoder_dim = %d: expected a positive multiple of 4", c->decoder_dim);
  REQUIRE(c->heads > 0 && c->embed_dim % c->heads == 0, "model.heads = %d must divide embed_dim %d", c->heads,
          c->embed_dim);
  REQUIRE(c->decoder_heads > 0 && c->decoder_dim % c->decoder_heads == 0,
          "model.decoder_heads = %d must divide decoder_dim %d", c->decoder_heads, c->decoder_dim);
  REQUIRE(c->text_heads > 0 && c->text_width % c->text_heads == 0,
          "model.text_heads = %d must divide text_width %d", c->text_heads, c->text_width);
  REQUIRE(c->mask_ratio >= 0.0 && c->mask_ratio < 1.0, "model.mask_ratio = %g: expected [0, 1)", c->mask_ratio);
  REQUIRE(dc_cfg_keep(c) >= 1, "model.mask_ratio = %g keeps no token of %d", c->mask_ratio, dc_cfg_tokens(c));
  REQUIRE(c->depth >= 1 && c->decoder_depth >= 1 && c->text_layers >= 1, "depths must be >= 1");
  REQUIRE(c->mlp_ratio > 0, "model.mlp_ratio = %g: expected > 0", c->mlp_ratio);
  REQUIRE(c->context >= 2 && c->vocab >= 3, "text context %d / vocabulary %d too small", c->context, c->vocab);
  REQUIRE(c->timesteps >= 1, "diffusion timesteps = %d: expected >= 1", c->timesteps);
#undef REQUIRE
  return DC_OK;
}
