/* Weight initialisation by the published rules, keyed by tensor name so a tensor's
 * initial values do not depend on registration order or on the other tensors:
 *  - ViT linears (timm/MAE): xavier-uniform weights, zero biases; LayerNorm 1 / 0;
 *  - 1x1 convolutions of the stems (PyTorch default): U(+-1/sqrt(fan_in)) weights and biases;
 *  - token embedding (MAE): xavier-uniform on the (out, in) view;
 *  - cls and mask tokens: N(0, 0.02); timestep MLP (DiT): N(0, 0.02);
 *  - position tables: the fixed 2-D sin-cos table;
 *  - visual.head: N(0, 2e-5) (truncated normal at that scale); BatchNorm 1 / 0, running 0 / 1;
 *  - text encoder (CLIP): token N(0, 0.02), position N(0, 0.01), attention in-projection
 *    N(0, Wt^-1/2), out- and c_proj N(0, Wt^-1/2 (2 Lt)^-1/2), c_fc N(0, (2 Wt)^-1/2),
 *    text_projection N(0, Wt^-1/2), logit_scale ln(1/0.7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/rng.h"
#include "diffclip/model/model.h"

static uint64_t name_hash(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}
static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void fill_const(float *x, size_t n, float v) {
  for (size_t i = 0; i < n; i++) x[i] = v;
}
static void fill_uniform(float *x, size_t n, float bound, uint64_t seed, uint64_t stream) {
  dc_rng_fill_uniform(x, n, seed, stream, 0);
  for (size_t i = 0; i < n; i++) x[i] = (2.0f * x[i] - 1.0f) * bound;
}
static void fill_normal(float *x, size_t n, float std, uint64_t seed, uint64_t stream) {
  dc_rng_fill_normal(x, n, seed, stream, 0);
  for (size_t i = 0; i < n; i++) x[i] *= std;
}

/* One tensor by its rule; `name` has any "visual." prefix removed. */
static void init_one(float *x, const struct dc_tensor_info *t, const char *name, const char *full,
                     int conv_fan_in, const struct dc_model_config *cfg, uint64_t seed) {
  uint64_t stream = name_hash(full);
  size_t n = t->numel;
  int fan_out = t->ndim >= 1 ? t->shape[0] : 1, fan_in = t->ndim >= 2 ? t->shape[1] : 1;
  float wt = (float)cfg->text_width, lt = (float)cfg->text_layers;
  int is_weight = ends_with(name, ".weight") || ends_with(name, "_weight");
  if (strstr(name, "running_var")) return fill_const(x, n, 1.0f);
  if (strstr(name, "running_mean")) return fill_const(x, n, 0.0f);
  if (strstr(name, "pos_embed")) return dc_sincos_pos_embed(x, t->shape[2], cfg->window);
  if (starts_with(name, "cls_token") || starts_with(name, "mask_token")) return fill_normal(x, n, 0.02f, seed, stream);
  if (strcmp(name, "logit_scale") == 0) return fill_const(x, n, logf(1.0f / 0.7f));
  if (strcmp(name, "text_projection") == 0) return fill_normal(x, n, powf(wt, -0.5f), seed, stream);
  if (strcmp(name, "token_embedding.weight") == 0) return fill_normal(x, n, 0.02f, seed, stream);
  if (strcmp(name, "positional_embedding") == 0) return fill_normal(x, n, 0.01f, seed, stream);
  if (t->ndim == 1 && is_weight) return fill_const(x, n, 1.0f); /* LayerNorm and BatchNorm scales */
  if (starts_with(name, "transformer.")) {
    float proj_std = powf(wt, -0.5f) * powf(2.0f * lt, -0.5f);
    if (ends_with(name, "in_proj_weight")) return fill_normal(x, n, powf(wt, -0.5f), seed, stream);
    if (ends_with(name, "out_proj.weight") || ends_with(name, "c_proj.weight"))
      return fill_normal(x, n, proj_std, seed, stream);
    if (ends_with(name, "c_fc.weight")) return fill_normal(x, n, powf(2.0f * wt, -0.5f), seed, stream);
    if (ends_with(name, "c_fc.bias")) return fill_uniform(x, n, 1.0f / sqrtf((float)wt), seed, stream);
    if (ends_with(name, "c_proj.bias")) return fill_uniform(x, n, 1.0f / sqrtf(4.0f * wt), seed, stream);
    return fill_const(x, n, 0.0f); /* in_proj_bias, out_proj.bias, ln biases */
  }
  if (starts_with(name, "dimen_redu") || starts_with(name, "dimen_expa")) {
    /* PyTorch Conv2d default: U(+-1/sqrt(fan_in)) for weight and bias alike; BatchNorm
     * shifts (1-D biases without a conv weight sibling) start at 0. */
    if (conv_fan_in > 0) return fill_uniform(x, n, 1.0f / sqrtf((float)conv_fan_in), seed, stream);
    return fill_const(x, n, 0.0f);
  }
  if (starts_with(name, "t_embedder") && is_weight) return fill_normal(x, n, 0.02f, seed, stream);
  if (strcmp(name, "head.weight") == 0) return fill_normal(x, n, 2e-5f, seed, stream);
  if (is_weight && t->ndim >= 2) /* xavier-uniform on the (out, in) view */
    return fill_uniform(x, n, sqrtf(6.0f / (float)(fan_in + fan_out)), seed, stream);
  fill_const(x, n, 0.0f); /* biases */
}

/* in_channels of a 1x1 convolution tensor (its weight, or the weight beside its bias);
 * 0 when the tensor is not part of a convolution. */
static int conv_fan_in(const struct dc_registry *r, const struct dc_tensor_info *t) {
  if (t->ndim == 4) return t->shape[1];
  if (!ends_with(t->name, ".bias")) return 0;
  char w[DC_NAME_MAX];
  snprintf(w, sizeof w, "%.*s.weight", (int)(strlen(t->name) - 5), t->name);
  int j = dc_registry_find(r, w);
  return (j >= 0 && r->items[j].ndim == 4) ? r->items[j].shape[1] : 0;
}

static enum dc_status init_registry(struct dc_registry *r, const struct dc_model_config *cfg, uint64_t seed) {
  for (int i = 0; i < r->count; i++) {
    const struct dc_tensor_info *t = &r->items[i];
    float *host = malloc(t->numel * sizeof *host);
    DC_CHECK_ALLOC(host);
    const char *name = starts_with(t->name, "visual.") ? t->name + 7 : t->name;
    init_one(host, t, name, t->name, conv_fan_in(r, t), cfg, seed);
    r->be->upload(dc_param(r, i), host, t->numel * sizeof *host);
    free(host);
  }
  return DC_OK;
}

enum dc_status dc_init_weights(struct dc_registry *params, struct dc_registry *buffers,
                               const struct dc_model_config *cfg, uint64_t seed) {
  DC_TRY(init_registry(params, cfg, seed));
  return buffers ? init_registry(buffers, cfg, seed) : DC_OK;
}

static enum dc_status copy_by_name(struct dc_registry *dst, const struct dc_registry *src, int required) {
  for (int i = 0; i < dst->count; i++) {
    const struct dc_tensor_info *t = &dst->items[i];
    if (!starts_with(t->name, "visual.") || strcmp(t->name, "visual.head.weight") == 0 ||
        strcmp(t->name, "visual.head.bias") == 0)
      continue;
    int j = dc_registry_find(src, t->name + 7);
    if (j < 0) {
      if (required) return DC_ERROR(DC_ERR_ARG, "pretrained model has no tensor %s (for %s)", t->name + 7, t->name);
      continue;
    }
    if (src->items[j].numel != t->numel)
      return DC_ERROR(DC_ERR_ARG, "pretrained %s has %zu values, %s needs %zu", src->items[j].name,
                      src->items[j].numel, t->name, t->numel);
    dst->be->copy(dc_param(dst, i), dc_param(src, j), t->numel * sizeof(float));
  }
  return DC_OK;
}

enum dc_status dc_clip_load_pretrained(struct dc_clip *c, const struct dc_pretrain *p) {
  DC_TRY(copy_by_name(&c->params, &p->params, 1));
  return copy_by_name(&c->buffers, &p->buffers, 1);
}
