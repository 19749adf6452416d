/* Stage 2: few-shot language-driven classification. The image encoder (stage-1 weights,
 * no masking, no noise; the timestep still feeds the cls token) gives each modality's cls
 * output; their concatenation goes through visual.head. The text encoder, trained from
 * scratch, reads each prompt with a causal mask and pools at the end-of-text token.
 *
 * Losses (enum dc_clip_loss):
 *  - PAIRWISE (published): logits (B, B) between each image and the prompt of every image's
 *    class, CE(logits, arange) + CE(logits^T, arange); two images of one class are each
 *    other's negatives. Texts are encoded once per distinct prompt (Bt of them) and paired
 *    through text_of (the class of each image): the same mathematics as one text per image.
 *  - CLASSWISE (same-class pairs are positives): logits (B, Bt) against the class prompts;
 *    CE(logits, class) + for each image i, CE over the batch's images of its class prompt's
 *    row with target i (a class with n images in the batch spreads its target over them).
 *  - LINEAR (the no-text ablation): a linear head D -> Bt classes on the image feature,
 *    cross-entropy; no text encoder.
 * Dimension letters: B images, Bt texts (classes), LW = max(B, Bt), L tokens, S = L + 1,
 * D width, Wt text width, X context length, M modalities. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/model/model.h"

static enum dc_status register_text(struct dc_text_encoder *t, struct dc_registry *r,
                                    const struct dc_model_config *cfg) {
  int Wt = cfg->text_width;
  DC_TRY(dc_registry_add(r, "token_embedding.weight", 1, (int[]){cfg->vocab, Wt, 0}, &t->tok_emb));
  DC_TRY(dc_registry_add(r, "positional_embedding", 1, (int[]){cfg->context, Wt, 0}, &t->pos_emb));
  DC_TRY(dc_stack_register(&t->st, r, "transformer.resblocks", "ln_final", DC_NAMING_CLIP, cfg->text_layers, Wt,
                           cfg->text_heads, 4 * Wt, DC_ACT_QUICKGELU, cfg->text_ln_eps, 1, 1));
  return dc_registry_add(r, "text_projection", 1, (int[]){Wt, cfg->embed_dim, 0}, &t->proj);
}

static void take_all(struct dc_clip *c) {
  struct dc_arena *a = &c->arena;
  struct dc_clip_acts *k = &c->acts;
  const struct dc_model_config *cfg = &c->cfg;
  int B = c->B, Bt = c->Bt, M = cfg->n_modalities, L = dc_cfg_tokens(cfg), text = c->loss_kind != DC_CLIP_LINEAR;
  size_t D = cfg->embed_dim, Wt = cfg->text_width, X = cfg->context, S = L + 1, LW = (size_t)(B > Bt ? B : Bt);
  /* both encoders are read at one row per sequence: the cls row (0) of each modality's
   * sequence, the end-of-text row of each prompt */
  c->io.cls_rows = dc_arena_ints(a, (size_t)M * B);
  dc_image_encoder_acts_take(a, &c->enc_acts, &c->enc, B, L, c->eval_only, c->params.be);
  dc_stack_acts_pool(a, &c->enc_acts.st, &c->enc.enc, M * B, (int)S, c->io.cls_rows, c->params.be);
  c->io.eot = dc_arena_ints(a, Bt);
  if (text && c->eval_only) dc_stack_acts_take_inference(a, &c->txt_acts, &c->text.st, Bt, (int)X, c->params.be);
  else if (text) dc_stack_acts_take(a, &c->txt_acts, &c->text.st, Bt, (int)X);
  if (text) dc_stack_acts_pool(a, &c->txt_acts, &c->text.st, Bt, (int)X, c->io.eot, c->params.be);
  for (int m = 0; m < M; m++) c->io.x[m] = dc_arena_floats(a, (size_t)B * L * cfg->bands[m]);
  c->io.t = dc_arena_ints(a, B);
  c->io.tokens = dc_arena_ints(a, Bt * X);
  c->io.text_of = dc_arena_ints(a, B);
  c->io.targets = dc_arena_ints(a, B);
  c->io.image_features = dc_arena_floats(a, B * D);
  c->io.text_features = dc_arena_floats(a, Bt * D);
  c->io.logits_per_image = dc_arena_floats(a, B * LW);
  c->io.logits_per_text = dc_arena_floats(a, B * LW);
  c->io.loss2 = dc_arena_floats(a, 2);
  k->head_in = dc_arena_floats(a, B * M * D);
  k->zi = dc_arena_floats(a, B * D);
  k->ni = dc_arena_floats(a, B);
  k->txt_pooled = c->txt_acts.pooled; /* (Bt, Wt) */
  k->zt_all = dc_arena_floats(a, Bt * D);
  k->nt = dc_arena_floats(a, Bt);
  k->zt = dc_arena_floats(a, B * D);
  k->sim = dc_arena_floats(a, B * LW);
  k->probs_i = dc_arena_floats(a, B * LW);
  k->probs_t = dc_arena_floats(a, B * LW);
  if (c->eval_only) return; /* no backward */
  k->dlogits = dc_arena_floats(a, B * LW);
  k->dtmp = dc_arena_floats(a, B * LW);
  k->dtmp_t = dc_arena_floats(a, B * LW);
  k->dzi = dc_arena_floats(a, B * D);
  k->dzt = dc_arena_floats(a, B * D);
  k->dimg = dc_arena_floats(a, B * D);
  k->dzt_all = dc_arena_floats(a, Bt * D);
  k->dtxt_all = dc_arena_floats(a, Bt * D);
  k->dpooled = dc_arena_floats(a, Bt * Wt);
  k->dhead_in = dc_arena_floats(a, B * M * D);
  k->denc = dc_arena_floats(a, (size_t)M * B * D);
  int n_img = M * B * (int)S, n_txt = text ? Bt * (int)X : 0;
  int width = D > Wt ? (int)D : (int)Wt;
  int hid_i = (int)(D * cfg->mlp_ratio), hid_t = 4 * (int)Wt;
  dc_block_scratch_take(a, &c->scratch, n_img > n_txt ? n_img : n_txt, width, hid_i > hid_t ? hid_i : hid_t);
}

static enum dc_status init(struct dc_clip *c, const struct dc_model_config *cfg, int B, int Bt,
                           enum dc_clip_loss loss, const struct dc_backend *be, int eval_only) {
  memset(c, 0, sizeof *c);
  c->eval_only = eval_only;
  DC_TRY(dc_model_config_check(cfg));
  if (B < 2) return DC_ERROR(DC_ERR_ARG, "fine-tuning batch %d: BatchNorm needs at least 2 samples", B);
  if (Bt < 1) return DC_ERROR(DC_ERR_ARG, "fine-tuning needs at least one text or class, got %d", Bt);
  c->cfg = *cfg;
  c->text_ctx = cfg->context; /* until dc_clip_set_prompts cuts the prompts */
  c->B = B;
  c->Bt = Bt;
  c->loss_kind = loss;
  DC_TRY(dc_image_encoder_register(&c->enc, &c->params, &c->buffers, cfg, "visual.", 1));
  DC_TRY(dc_linear_register(&c->head, &c->params, "visual.head", cfg->n_modalities * cfg->embed_dim,
                            cfg->embed_dim, 1, 0, 1));
  if (loss == DC_CLIP_LINEAR) {
    DC_TRY(dc_linear_register(&c->classifier, &c->params, "classifier", cfg->embed_dim, Bt, 1, 0, 1));
  } else {
    DC_TRY(register_text(&c->text, &c->params, cfg));
    DC_TRY(dc_registry_add(&c->params, "logit_scale", 1, (int[]){0}, &c->logit_scale));
  }
  DC_TRY(dc_registry_alloc(&c->params, be, !eval_only));
  DC_TRY(dc_registry_alloc(&c->buffers, be, 0));
  take_all(c);
  DC_TRY(dc_arena_commit(&c->arena, be));
  take_all(c);
  DC_TRY(dc_arena_check(&c->arena));
  be->zero(c->io.cls_rows, (size_t)cfg->n_modalities * B * sizeof(int));
  int *ar = malloc((size_t)B * sizeof *ar);
  DC_CHECK_ALLOC(ar);
  for (int b = 0; b < B; b++) ar[b] = b;
  be->upload(c->io.targets, ar, (size_t)B * sizeof *ar);
  free(ar);
  return DC_OK;
}

enum dc_status dc_clip_init(struct dc_clip *c, const struct dc_model_config *cfg, int B, int Bt,
                            enum dc_clip_loss loss, const struct dc_backend *be) {
  return init(c, cfg, B, Bt, loss, be, 0);
}

enum dc_status dc_clip_init_eval(struct dc_clip *c, const struct dc_model_config *cfg, int B, int Bt,
                                 enum dc_clip_loss loss, const struct dc_backend *be) {
  return init(c, cfg, B, Bt, loss, be, 1);
}

void dc_clip_free(struct dc_clip *c) {
  if (c->params.be) dc_arena_free(&c->arena, c->params.be);
  dc_registry_free(&c->params);
  dc_registry_free(&c->buffers);
}

enum dc_status dc_clip_set_prompts(struct dc_clip *c, const int *tokens, const int *eot) {
  int Bt = c->Bt, X = c->cfg.context, Xe = 1;
  for (int k = 0; k < Bt; k++) {
    if (eot[k] < 0 || eot[k] >= X)
      return DC_ERROR(DC_ERR_ARG, "prompt %d: end-of-text position %d outside the context of %d tokens", k, eot[k], X);
    if (eot[k] + 1 > Xe) Xe = eot[k] + 1;
  }
  int *kept = malloc((size_t)Bt * Xe * sizeof *kept);
  DC_CHECK_ALLOC(kept);
  for (int k = 0; k < Bt; k++) memcpy(kept + (size_t)k * Xe, tokens + (size_t)k * X, (size_t)Xe * sizeof *kept);
  const struct dc_backend *be = c->params.be;
  be->upload(c->io.tokens, kept, (size_t)Bt * Xe * sizeof *kept);
  be->upload(c->io.eot, eot, (size_t)Bt * sizeof *eot);
  free(kept);
  c->text_ctx = Xe;
  return DC_OK;
}

/* Text features (Bt, D) of the prompts in io.tokens, text_ctx tokens each. */
static void text_fwd(struct dc_clip *c, const struct dc_nn *nn) {
  const struct dc_backend *be = nn->be;
  const struct dc_text_encoder *t = &c->text;
  int Bt = c->Bt, X = c->text_ctx, Wt = c->cfg.text_width, D = c->cfg.embed_dim;
  be->embedding_forward(c->txt_acts.xs[0], c->io.tokens, dc_param(nn->reg, t->tok_emb), Bt * X, Wt);
  be->add_broadcast(c->txt_acts.xs[0], dc_param(nn->reg, t->pos_emb), Bt, (size_t)X * Wt);
  dc_stack_fwd(nn, &t->st, &c->txt_acts, Bt, X); /* txt_pooled: the end-of-text rows */
  be->gemm(0, 0, Bt, D, Wt, 1.0f, c->acts.txt_pooled, Wt, dc_param(nn->reg, t->proj), D, 0.0f,
           c->io.text_features, D);
}

void dc_clip_image_features(struct dc_clip *c, int train) {
  const struct dc_backend *be = c->params.be;
  struct dc_nn nn = {be, &c->params, c->reduce};
  struct dc_clip_acts *k = &c->acts;
  const struct dc_model_config *cfg = &c->cfg;
  int B = c->B, M = cfg->n_modalities, D = cfg->embed_dim;
  c->train = train;
  dc_image_encoder_fwd(&nn, &c->buffers, &c->enc, &c->enc_acts, (const float *const *)c->io.x, c->io.t, NULL,
                       train);
  for (int m = 0; m < M; m++) /* cls outputs after the shared final norm, concatenated */
    be->copy_rows(k->head_in + (size_t)m * D, M * D, c->enc_acts.st.pooled + (size_t)m * B * D, D, B, D);
  dc_linear_fwd(&nn, &c->head, c->io.image_features, k->head_in, B);
}

void dc_clip_text_features(struct dc_clip *c) {
  struct dc_nn nn = {c->params.be, &c->params, c->reduce};
  text_fwd(c, &nn);
}

/* Logits and the two loss terms of the text losses from normalised features. */
static void text_loss_fwd(struct dc_clip *c, float scale) {
  const struct dc_backend *be = c->params.be;
  struct dc_clip_acts *k = &c->acts;
  int B = c->B, Bt = c->Bt, D = c->cfg.embed_dim;
  if (c->loss_kind == DC_CLIP_PAIRWISE) {
    be->gather_rows(k->zt, 1, k->zt_all, 0, c->io.text_of, B, 1, D);
    be->gemm(0, 1, B, B, D, scale, k->zi, D, k->zt, D, 0.0f, c->io.logits_per_image, B);
    be->transpose(c->io.logits_per_text, c->io.logits_per_image, B, B);
    be->cross_entropy_forward(c->io.loss2, k->probs_i, c->io.logits_per_image, c->io.targets, B, B);
    be->cross_entropy_forward(c->io.loss2 + 1, k->probs_t, c->io.logits_per_text, c->io.targets, B, B);
  } else { /* CLASSWISE */
    be->gemm(0, 1, B, Bt, D, scale, k->zi, D, k->zt_all, D, 0.0f, c->io.logits_per_image, Bt);
    be->transpose(c->io.logits_per_text, c->io.logits_per_image, B, Bt); /* (Bt, B) */
    be->cross_entropy_forward(c->io.loss2, k->probs_i, c->io.logits_per_image, c->io.text_of, B, Bt);
    /* row i: the image's class prompt against the batch's images, target i */
    be->gather_rows(k->sim, 1, c->io.logits_per_text, 0, c->io.text_of, B, 1, B);
    be->cross_entropy_forward(c->io.loss2 + 1, k->probs_t, k->sim, c->io.targets, B, B);
  }
}

enum dc_status dc_clip_forward(struct dc_clip *c, int train) {
  if (c->eval_only && train) return DC_ERROR(DC_ERR_INTERNAL, "a training forward of an inference-only model");
  const struct dc_backend *be = c->params.be;
  struct dc_clip_acts *k = &c->acts;
  int B = c->B, D = c->cfg.embed_dim;
  dc_clip_image_features(c, train);
  float l2[2] = {0, 0};
  if (c->loss_kind == DC_CLIP_LINEAR) {
    struct dc_nn nn = {be, &c->params, c->reduce};
    dc_linear_fwd(&nn, &c->classifier, c->io.logits_per_image, c->io.image_features, B);
    be->cross_entropy_forward(c->io.loss2, k->probs_i, c->io.logits_per_image, c->io.text_of, B, c->Bt);
    be->download(l2, c->io.loss2, sizeof(float));
  } else {
    dc_clip_text_features(c);
    be->l2norm_forward(k->zi, k->ni, c->io.image_features, B, D);
    be->l2norm_forward(k->zt_all, k->nt, c->io.text_features, c->Bt, D);
    float s;
    be->download(&s, dc_param(&c->params, c->logit_scale), sizeof s);
    text_loss_fwd(c, expf(s));
    be->download(l2, c->io.loss2, sizeof l2);
  }
  c->loss = l2[0] + l2[1];
  if (!isfinite(c->loss)) return DC_ERROR(DC_ERR_NUMERIC, "fine-tuning loss is %g", c->loss);
  return DC_OK;
}

/* d logits (B, LW) of the text losses into k->dlogits, and the logit-scale gradient. */
static void text_loss_bwd(struct dc_clip *c, float scale) {
  const struct dc_backend *be = c->params.be;
  struct dc_clip_acts *k = &c->acts;
  int B = c->B, Bt = c->Bt, LW = c->loss_kind == DC_CLIP_PAIRWISE ? B : Bt;
  if (c->loss_kind == DC_CLIP_PAIRWISE) { /* both CE terms, the text one transposed back */
    be->cross_entropy_backward(k->dlogits, k->probs_i, c->io.targets, B, B, 1.0f);
    be->cross_entropy_backward(k->dtmp, k->probs_t, c->io.targets, B, B, 1.0f);
    be->transpose(k->dtmp_t, k->dtmp, B, B);
  } else {
    be->cross_entropy_backward(k->dlogits, k->probs_i, c->io.text_of, B, Bt, 1.0f);
    be->cross_entropy_backward(k->dtmp, k->probs_t, c->io.targets, B, B, 1.0f);
    be->zero(k->sim, (size_t)Bt * B * sizeof(float)); /* d logits_per_text (Bt, B) */
    be->gather_rows_backward(k->sim, 0, k->dtmp, 1, c->io.text_of, B, 1, B);
    be->transpose(k->dtmp_t, k->sim, Bt, B);
  }
  be->add_inplace(k->dlogits, k->dtmp_t, (size_t)B * LW);
  /* logit_scale: logits = exp(s) * sim, so dL/ds = sum(dlogits * logits) */
  float ds = (float)be->dot(k->dlogits, c->io.logits_per_image, (size_t)B * LW), g;
  float *gs = dc_grad(&c->params, c->logit_scale);
  be->download(&g, gs, sizeof g);
  g += ds;
  be->upload(gs, &g, sizeof g);
  be->scale_inplace(k->dlogits, scale, (size_t)B * LW); /* now d sim */
}

enum dc_status dc_clip_backward(struct dc_clip *c) {
  if (c->eval_only) return DC_ERROR(DC_ERR_INTERNAL, "backward of an inference-only model");
  const struct dc_backend *be = c->params.be;
  struct dc_nn nn = {be, &c->params, c->reduce};
  struct dc_clip_acts *k = &c->acts;
  const struct dc_model_config *cfg = &c->cfg;
  const struct dc_text_encoder *t = &c->text;
  int B = c->B, Bt = c->Bt, M = cfg->n_modalities, D = cfg->embed_dim;
  int X = c->text_ctx, Wt = cfg->text_width;
  be->zero(c->params.grads, c->params.n_trainable * sizeof(float));
  if (c->loss_kind == DC_CLIP_LINEAR) {
    be->cross_entropy_backward(k->dlogits, k->probs_i, c->io.text_of, B, Bt, 1.0f);
    dc_linear_bwd(&nn, &c->classifier, k->dimg, k->dlogits, c->io.image_features, B);
  } else {
    float s;
    be->download(&s, dc_param(&c->params, c->logit_scale), sizeof s);
    text_loss_bwd(c, expf(s));
    if (c->loss_kind == DC_CLIP_PAIRWISE) {
      be->gemm(0, 0, B, D, B, 1.0f, k->dlogits, B, k->zt, D, 0.0f, k->dzi, D);
      be->gemm(1, 0, B, D, B, 1.0f, k->dlogits, B, k->zi, D, 0.0f, k->dzt, D);
      be->zero(k->dzt_all, (size_t)Bt * D * sizeof(float));
      be->gather_rows_backward(k->dzt_all, 0, k->dzt, 1, c->io.text_of, B, 1, D);
    } else {
      be->gemm(0, 0, B, D, Bt, 1.0f, k->dlogits, Bt, k->zt_all, D, 0.0f, k->dzi, D);
      be->gemm(1, 0, Bt, D, B, 1.0f, k->dlogits, Bt, k->zi, D, 0.0f, k->dzt_all, D);
    }
    be->l2norm_backward(k->dimg, k->dzi, k->zi, k->ni, B, D);
    be->l2norm_backward(k->dtxt_all, k->dzt_all, k->zt_all, k->nt, Bt, D);
    /* text side */
    be->gemm(0, 1, Bt, Wt, D, 1.0f, k->dtxt_all, D, dc_param(&c->params, t->proj), D, 0.0f, k->dpooled, Wt);
    be->gemm(1, 0, Wt, D, Bt, 1.0f, k->txt_pooled, Wt, k->dtxt_all, D, 1.0f, dc_grad(&c->params, t->proj), D);
    dc_stack_bwd(&nn, &t->st, &c->txt_acts, &c->scratch, k->dpooled, Bt, X);
    be->add_broadcast_backward(dc_grad(&c->params, t->pos_emb), c->txt_acts.dres, Bt, (size_t)X * Wt);
    be->embedding_backward(dc_grad(&c->params, t->tok_emb), c->txt_acts.dres, c->io.tokens, Bt * X, Wt);
  }
  /* image side */
  dc_linear_bwd(&nn, &c->head, k->dhead_in, k->dimg, k->head_in, B);
  for (int m = 0; m < M; m++) /* the gradient of the cls rows */
    be->copy_rows(k->denc + (size_t)m * B * D, D, k->dhead_in + (size_t)m * D, M * D, B, D);
  dc_image_encoder_bwd(&nn, &c->buffers, &c->enc, &c->enc_acts, &c->scratch, k->denc,
                       (const float *const *)c->io.x, NULL, c->train);
  return DC_OK;
}
