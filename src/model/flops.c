/* Matrix-multiply FLOP counts of the networks (2 per multiply-add; element-wise work is
 * not counted), so benchmarks report achieved GFLOP/s from the model, not from a guess.
 * A training step is counted as 3x its forward (backward = two GEMMs per forward GEMM). */
#include "diffclip/model/model.h"

static double stack_flops(int N, int T, int C, double hidden, int depth) {
  /* per block: qkv 3C^2, proj C^2, fc1 and fc2 C*hidden each; attention 2 T^2 C (q k^T and
   * att v) per sequence */
  double per_row = 2.0 * (3.0 * C * C + (double)C * C + 2.0 * C * hidden);
  double attn = 4.0 * (double)(N / T) * T * T * C;
  return depth * (N * per_row + attn);
}

/* The same for a stack read at one row per sequence (nn.h, dc_stack_acts_pool): the last
 * block has qkv on every row, attention for one query and the rest on one row per
 * sequence. */
static double stack_flops_pooled(int N, int T, int C, double hidden, int depth) {
  double seqs = (double)(N / T);
  double last = N * 2.0 * 3.0 * C * C + 4.0 * seqs * T * C + seqs * 2.0 * ((double)C * C + 2.0 * C * hidden);
  return stack_flops(N, T, C, hidden, depth - 1) + last;
}

static double encoder_flops(const struct dc_model_config *c, int B, int keep, int pooled) {
  int L = dc_cfg_tokens(c), D = c->embed_dim, T = keep + 1;
  double f = 0;
  for (int m = 0; m < c->n_modalities; m++) {
    double h = c->stem_width[m];
    f += 2.0 * B * L * (c->bands[m] * h + h * h + h * D);              /* stem + token embedding */
    f += 2.0 * B * (DC_TIME_FREQ * (double)D + (double)D * D);         /* timestep MLP */
  }
  f += (pooled ? stack_flops_pooled : stack_flops)(c->n_modalities * B * T, T, D, D * c->mlp_ratio, c->depth);
  return f;
}

double dc_flops_pretrain_forward(const struct dc_model_config *c, int B) {
  int L = dc_cfg_tokens(c), K = dc_cfg_keep(c), D = c->embed_dim, E = c->decoder_dim, S = L + 1;
  double f = encoder_flops(c, B, K, 0);
  for (int m = 0; m < c->n_modalities; m++) {
    double h = c->stem_width[m];
    f += 2.0 * B * (K + 1) * (double)D * E;                                  /* decoder_embed */
    f += stack_flops(B * S, S, E, E * c->mlp_ratio, c->decoder_depth);
    f += 2.0 * B * S * ((double)E * E + E * h) + 2.0 * B * L * h * c->bands[m]; /* projection, pred, expa */
  }
  return f;
}

double dc_flops_image_forward(const struct dc_model_config *c, int B, int pooled) {
  return encoder_flops(c, B, dc_cfg_tokens(c), pooled) +
         2.0 * B * c->n_modalities * (double)c->embed_dim * c->embed_dim;
}

double dc_flops_text_forward(const struct dc_model_config *c, int Bt, int ctx, int pooled) {
  int X = ctx > 0 ? ctx : c->context, W = c->text_width;
  return (pooled ? stack_flops_pooled : stack_flops)(Bt * X, X, W, 4.0 * W, c->text_layers) +
         2.0 * Bt * (double)W * c->embed_dim;
}
