/* The image encoder shared by both stages: per-modality stems (1x1 conv, BatchNorm, ReLU,
 * twice), token embedding plus position table, the cls token carrying the timestep
 * embedding, and the modality-shared transformer encoder with its final LayerNorm.
 *
 * Dimension letters: B batch per modality, L = W*W tokens, K tokens kept (L without
 * masking), T = K + 1 sequence length, D width, h stem width, M modalities. The M
 * modalities' sequences are stacked as M*B sequences so the shared encoder runs once. */
#include <stdio.h>

#include "diffclip/model/model.h"

const char *dc_modality_suffix(int m) {
  static const char *const suffix[DC_MAX_MODALITIES] = {"", "_LIDAR", "_M3", "_M4"};
  return suffix[m];
}

enum dc_status dc_image_encoder_register(struct dc_image_encoder *e, struct dc_registry *params,
                                         struct dc_registry *buffers, const struct dc_model_config *cfg,
                                         const char *prefix, int pos_trainable) {
  e->cfg = *cfg;
  int D = cfg->embed_dim, L = dc_cfg_tokens(cfg);
  char name[DC_NAME_MAX];
  for (int m = 0; m < cfg->n_modalities; m++) {
    struct dc_stem *s = &e->stem[m];
    const char *sx = dc_modality_suffix(m);
    int C = cfg->bands[m], h = cfg->stem_width[m];
#define NAME(...) (snprintf(name, sizeof name, __VA_ARGS__), name)
    DC_TRY(dc_linear_register(&s->conv0, params, NAME("%sdimen_redu%s.0", prefix, sx), C, h, 1, 1, 1));
    DC_TRY(dc_registry_add(params, NAME("%sdimen_redu%s.1.weight", prefix, sx), 1, (int[]){h, 0}, &s->bn1_w));
    DC_TRY(dc_registry_add(params, NAME("%sdimen_redu%s.1.bias", prefix, sx), 1, (int[]){h, 0}, &s->bn1_b));
    DC_TRY(dc_linear_register(&s->conv3, params, NAME("%sdimen_redu%s.3", prefix, sx), h, h, 1, 1, 1));
    DC_TRY(dc_registry_add(params, NAME("%sdimen_redu%s.4.weight", prefix, sx), 1, (int[]){h, 0}, &s->bn4_w));
    DC_TRY(dc_registry_add(params, NAME("%sdimen_redu%s.4.bias", prefix, sx), 1, (int[]){h, 0}, &s->bn4_b));
    DC_TRY(dc_registry_add(buffers, NAME("%sdimen_redu%s.1.running_mean", prefix, sx), 0, (int[]){h, 0}, &s->rm1));
    DC_TRY(dc_registry_add(buffers, NAME("%sdimen_redu%s.1.running_var", prefix, sx), 0, (int[]){h, 0}, &s->rv1));
    DC_TRY(dc_registry_add(buffers, NAME("%sdimen_redu%s.4.running_mean", prefix, sx), 0, (int[]){h, 0}, &s->rm4));
    DC_TRY(dc_registry_add(buffers, NAME("%sdimen_redu%s.4.running_var", prefix, sx), 0, (int[]){h, 0}, &s->rv4));
    DC_TRY(dc_linear_register(&s->patch, params, NAME("%spatch_embed%s.proj", prefix, sx), h, D, 1, 1, 1));
    DC_TRY(dc_linear_register(&s->t0, params, NAME("%st_embedder%s.mlp.0", prefix, sx), DC_TIME_FREQ, D, 1, 0, 1));
    DC_TRY(dc_linear_register(&s->t2, params, NAME("%st_embedder%s.mlp.2", prefix, sx), D, D, 1, 0, 1));
    DC_TRY(dc_registry_add(params, NAME("%scls_token%s", prefix, sx), 1, (int[]){1, 1, D, 0}, &s->cls));
    DC_TRY(dc_registry_add(params, NAME("%spos_embed%s", prefix, sx), pos_trainable, (int[]){1, L + 1, D, 0}, &s->pos));
  }
  char blocks[DC_NAME_MAX], norm[DC_NAME_MAX];
  snprintf(blocks, sizeof blocks, "%sblocks", prefix);
  snprintf(norm, sizeof norm, "%snorm", prefix);
#undef NAME
  return dc_stack_register(&e->enc, params, blocks, norm, DC_NAMING_VIT, cfg->depth, D, cfg->heads,
                           (int)(D * cfg->mlp_ratio), DC_ACT_GELU, cfg->ln_eps, 0, 1);
}

void dc_image_encoder_acts_take(struct dc_arena *a, struct dc_image_encoder_acts *acts,
                                const struct dc_image_encoder *e, int B, int keep, int inference,
                                const struct dc_backend *be) {
  const struct dc_model_config *cfg = &e->cfg;
  size_t L = (size_t)dc_cfg_tokens(cfg), D = cfg->embed_dim;
  int hmax = 0;
  acts->B = B;
  acts->T = keep + 1;
  for (int m = 0; m < cfg->n_modalities; m++) {
    struct dc_stem_acts *s = &acts->stem[m];
    size_t h = cfg->stem_width[m];
    if ((int)h > hmax) hmax = (int)h;
    s->s1 = dc_arena_floats(a, B * L * h);
    s->z1 = dc_arena_floats(a, B * L * h);
    s->r1 = dc_arena_floats(a, B * L * h);
    s->s2 = dc_arena_floats(a, B * L * h);
    s->z2 = dc_arena_floats(a, B * L * h);
    s->r2 = dc_arena_floats(a, B * L * h);
    s->mean1 = dc_arena_floats(a, h);
    s->rstd1 = dc_arena_floats(a, h);
    s->mean2 = dc_arena_floats(a, h);
    s->rstd2 = dc_arena_floats(a, h);
    s->tok = dc_arena_floats(a, B * L * D);
    s->temb = dc_arena_floats(a, (size_t)B * DC_TIME_FREQ);
    s->tu = dc_arena_floats(a, B * D);
    s->tsu = dc_arena_floats(a, B * D);
    s->tau = dc_arena_floats(a, B * D);
  }
  acts->clspos = dc_arena_floats(a, D);
  if (inference) { /* no backward: shared block activations, no gradient buffers */
    dc_stack_acts_take_inference(a, &acts->st, &e->enc, cfg->n_modalities * B, keep + 1, be);
    acts->dtok = acts->dtau = acts->dtsu = acts->dr = acts->dz = NULL;
    return;
  }
  dc_stack_acts_take(a, &acts->st, &e->enc, cfg->n_modalities * B, keep + 1);
  acts->dtok = dc_arena_floats(a, B * L * D);
  acts->dtau = dc_arena_floats(a, B * D);
  acts->dtsu = dc_arena_floats(a, B * D);
  acts->dr = dc_arena_floats(a, B * L * hmax);
  acts->dz = dc_arena_floats(a, B * L * hmax);
}

/* Sums over the ranks when the batch is spread over several (synchronised BatchNorm). */
static void reduce_sums(const struct dc_nn *nn, double *x, int n) {
  if (nn->reduce && nn->reduce->ranks > 1) nn->reduce->sum(nn->reduce->ctx, x, n);
}
static double batch_rows(const struct dc_nn *nn, int N) {
  return (double)N * (nn->reduce ? nn->reduce->ranks : 1);
}

/* stem conv -> BatchNorm: in training, the statistics of the whole batch (over every rank,
 * two-pass: the mean, then the squared deviations around it); otherwise the running ones. */
static void stem_bn_fwd(const struct dc_nn *nn, const struct dc_registry *bufs, double *sums, float *z, float *mean,
                        float *rstd, const float *s, int w, int b, int rm, int rv, int N, int h,
                        const struct dc_model_config *cfg, int train) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  if (!train) {
    be->batchnorm_forward_eval(z, s, dc_param(r, w), dc_param(r, b), dc_param(bufs, rm), dc_param(bufs, rv), N, h,
                               cfg->bn_eps);
    return;
  }
  double *m = sums, *v = sums + h, n_total = batch_rows(nn, N);
  be->batchnorm_colsum(m, s, NULL, N, h);
  reduce_sums(nn, m, h);
  for (int c = 0; c < h; c++) m[c] /= n_total;
  be->batchnorm_colsum(v, s, m, N, h);
  reduce_sums(nn, v, h);
  for (int c = 0; c < h; c++) v[c] /= n_total;
  be->batchnorm_apply_train(z, mean, rstd, dc_param(bufs, rm), dc_param(bufs, rv), s, dc_param(r, w), dc_param(r, b), m,
                            v, n_total, N, h, cfg->bn_eps, cfg->bn_momentum);
}

static void stem_bn_bwd(const struct dc_nn *nn, const struct dc_registry *bufs, double *sums, float *ds,
                        const float *dz, const float *s, const float *mean, const float *rstd, int w, int b, int rm,
                        int rv, int N, int h, const struct dc_model_config *cfg, int train) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  if (!train) {
    be->batchnorm_backward_eval(ds, dc_grad(r, w), dc_grad(r, b), dz, s, dc_param(r, w), dc_param(bufs, rm),
                                dc_param(bufs, rv), N, h, cfg->bn_eps);
    return;
  }
  double *local = sums + 2 * h, *total = sums + 4 * h;
  be->batchnorm_backward_colsum(local, dz, s, mean, rstd, N, h);
  for (int c = 0; c < 2 * h; c++) total[c] = local[c];
  reduce_sums(nn, total, 2 * h);
  be->batchnorm_backward_apply(ds, dc_grad(r, w), dc_grad(r, b), dz, s, dc_param(r, w), mean, rstd, local, total,
                               batch_rows(nn, N), N, h);
}

void dc_image_encoder_fwd(const struct dc_nn *nn, const struct dc_registry *buffers,
                          const struct dc_image_encoder *e, struct dc_image_encoder_acts *acts,
                          const float *const *x, const int *t, const int *const *ids_keep, int train) {
  const struct dc_backend *be = nn->be;
  const struct dc_model_config *cfg = &e->cfg;
  int B = acts->B, T = acts->T, K = T - 1, L = dc_cfg_tokens(cfg), D = cfg->embed_dim, N1 = B * L;
  for (int m = 0; m < cfg->n_modalities; m++) {
    const struct dc_stem *st = &e->stem[m];
    struct dc_stem_acts *s = &acts->stem[m];
    int h = cfg->stem_width[m];
    const float *pos = dc_param(nn->reg, st->pos); /* (L+1, D), cls row first */
    dc_linear_fwd(nn, &st->conv0, s->s1, x[m], N1);
    stem_bn_fwd(nn, buffers, acts->bn_sums, s->z1, s->mean1, s->rstd1, s->s1, st->bn1_w, st->bn1_b, st->rm1, st->rv1, N1, h, cfg, train);
    be->act_forward(DC_ACT_RELU, s->r1, s->z1, (size_t)N1 * h);
    dc_linear_fwd(nn, &st->conv3, s->s2, s->r1, N1);
    stem_bn_fwd(nn, buffers, acts->bn_sums, s->z2, s->mean2, s->rstd2, s->s2, st->bn4_w, st->bn4_b, st->rm4, st->rv4, N1, h, cfg, train);
    be->act_forward(DC_ACT_RELU, s->r2, s->z2, (size_t)N1 * h);
    dc_linear_fwd(nn, &st->patch, s->tok, s->r2, N1);
    be->add_broadcast(s->tok, pos + D, B, (size_t)L * D);
    /* cls slot: cls_token + pos row 0 + tau(t) */
    be->timestep_embedding(s->temb, t, B, DC_TIME_FREQ / 2, 10000.0f);
    dc_linear_fwd(nn, &st->t0, s->tu, s->temb, B);
    be->act_forward(DC_ACT_SILU, s->tsu, s->tu, (size_t)B * D);
    dc_linear_fwd(nn, &st->t2, s->tau, s->tsu, B);
    be->copy(acts->clspos, dc_param(nn->reg, st->cls), (size_t)D * sizeof(float));
    be->add_inplace(acts->clspos, pos, (size_t)D);
    be->add_broadcast(s->tau, acts->clspos, B, (size_t)D);
    float *seq = acts->st.xs[0] + (size_t)m * B * T * D; /* (B, T, D) */
    be->copy_rows(seq, T * D, s->tau, D, B, D);
    if (ids_keep)
      be->gather_rows(seq + D, T, s->tok, L, ids_keep[m], B, K, D);
    else
      be->copy_rows(seq + D, T * D, s->tok, L * D, B, L * D);
  }
  dc_stack_fwd(nn, &e->enc, &acts->st, cfg->n_modalities * B, T);
}

void dc_image_encoder_bwd(const struct dc_nn *nn, const struct dc_registry *buffers,
                          const struct dc_image_encoder *e, struct dc_image_encoder_acts *acts,
                          const struct dc_block_scratch *scr, const float *dout,
                          const float *const *x, const int *const *ids_keep, int train) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  const struct dc_model_config *cfg = &e->cfg;
  int B = acts->B, T = acts->T, K = T - 1, L = dc_cfg_tokens(cfg), D = cfg->embed_dim, N1 = B * L;
  dc_stack_bwd(nn, &e->enc, &acts->st, scr, dout, cfg->n_modalities * B, T);
  for (int m = 0; m < cfg->n_modalities; m++) {
    const struct dc_stem *st = &e->stem[m];
    struct dc_stem_acts *s = &acts->stem[m];
    int h = cfg->stem_width[m];
    const float *dseq = acts->st.dres + (size_t)m * B * T * D;
    float *dpos = dc_grad(r, st->pos); /* NULL when frozen (stage 1) */
    /* cls slot */
    be->copy_rows(acts->dtau, D, dseq, T * D, B, D);
    be->add_broadcast_backward(dc_grad(r, st->cls), acts->dtau, B, (size_t)D);
    if (dpos) be->add_broadcast_backward(dpos, acts->dtau, B, (size_t)D);
    dc_linear_bwd(nn, &st->t2, acts->dtsu, acts->dtau, s->tsu, B);
    be->act_backward(DC_ACT_SILU, acts->dtsu, acts->dtsu, s->tu, (size_t)B * D);
    dc_linear_bwd(nn, &st->t0, NULL, acts->dtsu, s->temb, B);
    /* tokens */
    if (ids_keep) {
      be->zero(acts->dtok, (size_t)N1 * D * sizeof(float));
      be->gather_rows_backward(acts->dtok, L, dseq + D, T, ids_keep[m], B, K, D);
    } else {
      be->copy_rows(acts->dtok, L * D, dseq + D, T * D, B, L * D);
    }
    if (dpos) be->add_broadcast_backward(dpos + D, acts->dtok, B, (size_t)L * D);
    /* stem, in reverse */
    dc_linear_bwd(nn, &st->patch, acts->dr, acts->dtok, s->r2, N1);
    be->act_backward(DC_ACT_RELU, acts->dz, acts->dr, s->z2, (size_t)N1 * h);
    stem_bn_bwd(nn, buffers, acts->bn_sums, acts->dr, acts->dz, s->s2, s->mean2, s->rstd2, st->bn4_w, st->bn4_b, st->rm4, st->rv4,
                N1, h, cfg, train);
    dc_linear_bwd(nn, &st->conv3, acts->dz, acts->dr, s->r1, N1);
    be->act_backward(DC_ACT_RELU, acts->dr, acts->dz, s->z1, (size_t)N1 * h);
    stem_bn_bwd(nn, buffers, acts->bn_sums, acts->dz, acts->dr, s->s1, s->mean1, s->rstd1, st->bn1_w, st->bn1_b, st->rm1, st->rv1,
                N1, h, cfg, train);
    dc_linear_bwd(nn, &st->conv0, NULL, acts->dz, x[m], N1);
  }
}
