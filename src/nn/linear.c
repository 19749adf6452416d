/* Linear and layer-norm registration, and the linear layer's forward/backward. */
#include <stdio.h>

#include "diffclip/nn/nn.h"

enum dc_status dc_linear_register_named(struct dc_linear *l, struct dc_registry *r,
                                        const char *weight_name, const char *bias_name, int in,
                                        int out, int trainable) {
  l->in = in;
  l->out = out;
  l->b = -1;
  DC_TRY(dc_registry_add(r, weight_name, trainable, (int[]){out, in, 0}, &l->w));
  if (bias_name) DC_TRY(dc_registry_add(r, bias_name, trainable, (int[]){out, 0}, &l->b));
  return DC_OK;
}

enum dc_status dc_linear_register(struct dc_linear *l, struct dc_registry *r, const char *prefix,
                                  int in, int out, int bias, int conv1x1, int trainable) {
  char wname[DC_NAME_MAX], bname[DC_NAME_MAX];
  snprintf(wname, sizeof wname, "%s.weight", prefix);
  snprintf(bname, sizeof bname, "%s.bias", prefix);
  l->in = in;
  l->out = out;
  l->b = -1;
  /* A 1x1 convolution keeps PyTorch's (out, in, 1, 1) shape: same memory as (out, in). */
  const int *shape = conv1x1 ? (int[]){out, in, 1, 1, 0} : (int[]){out, in, 0};
  DC_TRY(dc_registry_add(r, wname, trainable, shape, &l->w));
  if (bias) DC_TRY(dc_registry_add(r, bname, trainable, (int[]){out, 0}, &l->b));
  return DC_OK;
}

void dc_linear_fwd(const struct dc_nn *nn, const struct dc_linear *l, float *out, const float *inp, int N) {
  nn->be->linear_forward(out, inp, dc_param(nn->reg, l->w), l->b >= 0 ? dc_param(nn->reg, l->b) : NULL,
                         N, l->in, l->out);
}

void dc_linear_bwd(const struct dc_nn *nn, const struct dc_linear *l, float *dinp, const float *dout,
                   const float *inp, int N) {
  nn->be->linear_backward(dinp, dc_grad(nn->reg, l->w), l->b >= 0 ? dc_grad(nn->reg, l->b) : NULL, dout,
                          inp, dc_param(nn->reg, l->w), N, l->in, l->out);
}

enum dc_status dc_layernorm_register(struct dc_layernorm *ln, struct dc_registry *r, const char *prefix,
                                     int C, float eps, int trainable) {
  char name[DC_NAME_MAX];
  ln->C = C;
  ln->eps = eps;
  snprintf(name, sizeof name, "%s.weight", prefix);
  DC_TRY(dc_registry_add(r, name, trainable, (int[]){C, 0}, &ln->w));
  snprintf(name, sizeof name, "%s.bias", prefix);
  DC_TRY(dc_registry_add(r, name, trainable, (int[]){C, 0}, &ln->b));
  return DC_OK;
}
