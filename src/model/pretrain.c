/* Stage 1: the masked-diffusion autoencoder. The image encoder sees the noised patch's
 * kept tokens; each modality's decoder restores the full token grid with mask tokens and
 * predicts the CLEAN patch; the loss weighs removed pixels 0.1 and visible pixels 1.
 *
 * Dimension letters: B batch, L = W*W, K kept, T = K + 1 encoder sequence, S = L + 1
 * decoder sequence, D encoder width, E decoder width (D'), h stem width, C bands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/model/model.h"

#define LOSS_W_MASKED 0.1f
#define LOSS_W_VISIBLE 1.0f

static enum dc_status register_decoder(struct dc_decoder *d, struct dc_registry *r,
                                       const struct dc_model_config *cfg, int m) {
  char a[DC_NAME_MAX], b[DC_NAME_MAX];
  const char *sx = dc_modality_suffix(m);
  int D = cfg->embed_dim, E = cfg->decoder_dim, L = dc_cfg_tokens(cfg), h = cfg->stem_width[m];
  snprintf(a, sizeof a, "decoder_embed%s", sx);
  DC_TRY(dc_linear_register(&d->embed, r, a, D, E, 1, 0, 1));
  snprintf(a, sizeof a, "mask_token%s", sx);
  DC_TRY(dc_registry_add(r, a, 1, (int[]){1, 1, E, 0}, &d->mask_token));
  snprintf(a, sizeof a, "decoder_pos_embed%s", sx);
  DC_TRY(dc_registry_add(r, a, 0, (int[]){1, L + 1, E, 0}, &d->pos));
  snprintf(a, sizeof a, "decoder_blocks%s", sx);
  snprintf(b, sizeof b, "decoder_norm%s", sx);
  DC_TRY(dc_stack_register(&d->st, r, a, b, DC_NAMING_VIT, cfg->decoder_depth, E, cfg->decoder_heads,
                           (int)(E * cfg->mlp_ratio), DC_ACT_GELU, cfg->ln_eps, 0, 1));
  snprintf(a, sizeof a, "projection_de%s", sx);
  DC_TRY(dc_linear_register(&d->proj, r, a, E, E, 1, 0, 1));
  snprintf(a, sizeof a, "decoder_pred%s", sx);
  DC_TRY(dc_linear_register(&d->pred, r, a, E, h, 1, 0, 1));
  snprintf(a, sizeof a, "dimen_expa%s", sx);
  return dc_linear_register(&d->expa, r, a, h, cfg->bands[m], 1, 1, 1);
}

/* Plans (arena base NULL) or carves every activation and I/O buffer. */
static void take_all(struct dc_pretrain *p) {
  struct dc_arena *a = &p->arena;
  const struct dc_model_config *cfg = &p->cfg;
  int B = p->B, M = cfg->n_modalities, L = dc_cfg_tokens(cfg), K = dc_cfg_keep(cfg);
  size_t S = (size_t)L + 1, E = cfg->decoder_dim, D = cfg->embed_dim;
  dc_image_encoder_acts_take(a, &p->enc_acts, &p->enc, B, K, 0, p->params.be);
  for (int m = 0; m < M; m++) {
    struct dc_pretrain_acts *d = &p->dec_acts[m];
    size_t h = cfg->stem_width[m], C = cfg->bands[m];
    dc_stack_acts_take(a, &d->st, &p->dec[m].st, B, (int)S);
    d->emb = dc_arena_floats(a, (size_t)B * (K + 1) * E);
    d->y_proj = dc_arena_floats(a, B * S * E);
    d->y_pred = dc_arena_floats(a, B * S * h);
    d->y_tok = dc_arena_floats(a, (size_t)B * L * h);
    d->dy_proj = dc_arena_floats(a, B * S * E);
    d->dy_norm = dc_arena_floats(a, B * S * E);
    d->dy_pred = dc_arena_floats(a, B * S * h);
    d->dy_tok = dc_arena_floats(a, (size_t)B * L * h);
    d->demb = dc_arena_floats(a, (size_t)B * (K + 1) * E);
    p->io.x0[m] = dc_arena_floats(a, (size_t)B * L * C);
    p->io.xt[m] = dc_arena_floats(a, (size_t)B * L * C);
    p->io.ids_keep[m] = dc_arena_ints(a, (size_t)B * K);
    p->io.mask[m] = dc_arena_floats(a, (size_t)B * L);
    p->io.pred[m] = dc_arena_floats(a, (size_t)B * L * C);
    p->io.dpred[m] = dc_arena_floats(a, (size_t)B * L * C);
  }
  p->io.t = dc_arena_ints(a, (size_t)B);
  p->io.loss_terms = dc_arena_floats(a, 2 * (size_t)M);
  p->denc = dc_arena_floats(a, (size_t)M * B * (K + 1) * D);
  /* Block gradient scratch: large enough for the encoder and every decoder. */
  int n_enc = M * B * (K + 1), n_dec = B * (int)S;
  int width = D > E ? (int)D : (int)E;
  int hidden_e = (int)(D * cfg->mlp_ratio), hidden_d = (int)(E * cfg->mlp_ratio);
  dc_block_scratch_take(a, &p->scratch, n_enc > n_dec ? n_enc : n_dec, width,
                        hidden_e > hidden_d ? hidden_e : hidden_d);
}

enum dc_status dc_pretrain_init(struct dc_pretrain *p, const struct dc_model_config *cfg, int B,
                                const struct dc_backend *be) {
  memset(p, 0, sizeof *p);
  DC_TRY(dc_model_config_check(cfg));
  if (B < 2) return DC_ERROR(DC_ERR_ARG, "pretraining batch %d: BatchNorm needs at least 2 samples", B);
  p->cfg = *cfg;
  p->B = B;
  p->noise = 1;
  DC_TRY(dc_image_encoder_register(&p->enc, &p->params, &p->buffers, cfg, "", 0));
  for (int m = 0; m < cfg->n_modalities; m++) DC_TRY(register_decoder(&p->dec[m], &p->params, cfg, m));
  DC_TRY(dc_registry_alloc(&p->params, be, 1));
  DC_TRY(dc_registry_alloc(&p->buffers, be, 0));
  take_all(p);
  DC_TRY(dc_arena_commit(&p->arena, be));
  take_all(p);
  DC_TRY(dc_arena_check(&p->arena));
  int L = dc_cfg_tokens(cfg), cmax = 0;
  for (int m = 0; m < cfg->n_modalities; m++) cmax = cfg->bands[m] > cmax ? cfg->bands[m] : cmax;
  p->abar = malloc((size_t)cfg->timesteps * sizeof *p->abar);
  p->h_xt = malloc((size_t)B * L * cmax * sizeof *p->h_xt);
  p->h_u = malloc((size_t)L * sizeof *p->h_u);
  p->h_mask = malloc((size_t)B * L * sizeof *p->h_mask);
  p->h_ids = malloc((size_t)B * dc_cfg_keep(cfg) * sizeof *p->h_ids);
  p->h_t = malloc((size_t)B * sizeof *p->h_t);
  if (!p->abar || !p->h_xt || !p->h_u || !p->h_mask || !p->h_ids || !p->h_t)
    return DC_ERROR(DC_ERR_NOMEM, "no memory for batch staging (batch %d)", B);
  dc_diffusion_abar(p->abar, cfg->timesteps);
  return DC_OK;
}

void dc_pretrain_free(struct dc_pretrain *p) {
  if (p->params.be) dc_arena_free(&p->arena, p->params.be);
  dc_registry_free(&p->params);
  dc_registry_free(&p->buffers);
  free(p->abar);
  free(p->h_xt);
  free(p->h_u);
  free(p->h_mask);
  free(p->h_ids);
  free(p->h_t);
  p->abar = NULL;
  p->h_xt = p->h_u = p->h_mask = NULL;
  p->h_ids = p->h_t = NULL;
}

static enum dc_status download_losses(struct dc_pretrain *p, const struct dc_backend *be) {
  int M = p->cfg.n_modalities;
  float terms[2 * DC_MAX_MODALITIES];
  be->download(terms, p->io.loss_terms, 2 * (size_t)M * sizeof(float));
  p->loss = 0;
  for (int m = 0; m < M; m++) {
    p->masked[m] = terms[2 * m];
    p->visible[m] = terms[2 * m + 1];
    p->loss += LOSS_W_MASKED * p->masked[m] + LOSS_W_VISIBLE * p->visible[m];
  }
  return DC_OK;
}

enum dc_status dc_pretrain_forward(struct dc_pretrain *p) {
  const struct dc_backend *be = p->params.be;
  struct dc_nn nn = {be, &p->params, p->reduce};
  const struct dc_model_config *cfg = &p->cfg;
  int B = p->B, L = dc_cfg_tokens(cfg), K = dc_cfg_keep(cfg), T = K + 1, S = L + 1;
  int D = cfg->embed_dim, E = cfg->decoder_dim;
  dc_image_encoder_fwd(&nn, &p->buffers, &p->enc, &p->enc_acts, (const float *const *)p->io.xt, p->io.t,
                       (const int *const *)p->io.ids_keep, 1);
  for (int m = 0; m < cfg->n_modalities; m++) {
    const struct dc_decoder *d = &p->dec[m];
    struct dc_pretrain_acts *a = &p->dec_acts[m];
    int h = cfg->stem_width[m];
    const float *enc_out = p->enc_acts.st.out + (size_t)m * B * T * D;
    float *seq = a->st.xs[0]; /* (B, S, E) */
    dc_linear_fwd(&nn, &d->embed, a->emb, enc_out, B * T);
    /* cls stays first; the L patch slots get mask tokens, then the kept tokens go back
     * to their places (un-shuffle); then the fixed position table. */
    be->copy_rows(seq, S * E, a->emb, T * E, B, E);
    be->scatter_rows_fill(seq + E, S, L, a->emb + E, T, dc_param(&p->params, d->mask_token), p->io.ids_keep[m], B,
                          K, E);
    be->add_broadcast(seq, dc_param(&p->params, d->pos), B, (size_t)S * E);
    dc_stack_fwd(&nn, &d->st, &a->st, B, S);
    dc_linear_fwd(&nn, &d->proj, a->y_proj, a->st.out, B * S);
    dc_linear_fwd(&nn, &d->pred, a->y_pred, a->y_proj, B * S);
    be->copy_rows(a->y_tok, L * h, a->y_pred + h, S * h, B, L * h); /* drop cls */
    dc_linear_fwd(&nn, &d->expa, p->io.pred[m], a->y_tok, B * L);
    be->masked_mse_forward(p->io.loss_terms + 2 * m, p->io.loss_terms + 2 * m + 1, p->io.pred[m], p->io.x0[m],
                           p->io.mask[m], B * L, cfg->bands[m]);
  }
  return download_losses(p, be);
}

enum dc_status dc_pretrain_backward(struct dc_pretrain *p) {
  const struct dc_backend *be = p->params.be;
  struct dc_nn nn = {be, &p->params, p->reduce};
  const struct dc_model_config *cfg = &p->cfg;
  int B = p->B, L = dc_cfg_tokens(cfg), K = dc_cfg_keep(cfg), T = K + 1, S = L + 1;
  int D = cfg->embed_dim, E = cfg->decoder_dim;
  be->zero(p->params.grads, p->params.n_trainable * sizeof(float));
  for (int m = 0; m < cfg->n_modalities; m++) {
    const struct dc_decoder *d = &p->dec[m];
    struct dc_pretrain_acts *a = &p->dec_acts[m];
    int h = cfg->stem_width[m];
    be->masked_mse_backward(p->io.dpred[m], p->io.pred[m], p->io.x0[m], p->io.mask[m], B * L, cfg->bands[m],
                            LOSS_W_MASKED, LOSS_W_VISIBLE);
    dc_linear_bwd(&nn, &d->expa, a->dy_tok, p->io.dpred[m], a->y_tok, B * L);
    be->zero(a->dy_pred, (size_t)B * S * h * sizeof(float)); /* the dropped cls rows */
    be->copy_rows(a->dy_pred + h, S * h, a->dy_tok, L * h, B, L * h);
    dc_linear_bwd(&nn, &d->pred, a->dy_proj, a->dy_pred, a->y_proj, B * S);
    dc_linear_bwd(&nn, &d->proj, a->dy_norm, a->dy_proj, a->st.out, B * S);
    dc_stack_bwd(&nn, &d->st, &a->st, &p->scratch, a->dy_norm, B, S);
    const float *dseq = a->st.dres;
    be->scatter_rows_fill_backward(a->demb + E, T, dc_grad(&p->params, d->mask_token), dseq + E, S, L,
                                   p->io.ids_keep[m], B, K, E);
    be->copy_rows(a->demb, T * E, dseq, S * E, B, E);
    dc_linear_bwd(&nn, &d->embed, p->denc + (size_t)m * B * T * D, a->demb, p->enc_acts.st.out + (size_t)m * B * T * D,
                  B * T);
  }
  dc_image_encoder_bwd(&nn, &p->buffers, &p->enc, &p->enc_acts, &p->scratch, p->denc,
                       (const float *const *)p->io.xt, (const int *const *)p->io.ids_keep, 1);
  return DC_OK;
}
