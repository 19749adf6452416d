/* The DiffCLIP networks (spec: MODEL.md) for M modalities.
 *
 *  - dc_image_encoder: per-modality stems, token embeddings, timestep embedders, cls tokens
 *    and position tables, and the modality-SHARED transformer encoder with its final norm.
 *    The M modalities' sequences run through the shared encoder as one batch of M*B.
 *  - dc_pretrain: stage 1, the masked-diffusion autoencoder (encoder + per-modality
 *    decoders + masked MSE loss).
 *  - dc_clip: stage 2, the image encoder + head, the text encoder (trained from scratch)
 *    and the symmetric contrastive loss.
 *
 * Tensor names follow the published state_dicts; modality 1 has no suffix, modality 2
 * "_LIDAR" (as published), modality m >= 3 "_M<m>". Stage 2 prefixes image-side names
 * with "visual.". Patches are channel-last: (B, L, C_m), token = row*W + col. */
#ifndef DIFFCLIP_MODEL_H
#define DIFFCLIP_MODEL_H

#include <stdint.h>

#include "diffclip/backend/arena.h"
#include "diffclip/nn/nn.h"

#define DC_MAX_MODALITIES 4
#define DC_TIME_FREQ 256 /* width of the sinusoidal timestep features */
#define DC_MAX_STEM_WIDTH 1024

struct dc_model_config {
  int n_modalities;
  int bands[DC_MAX_MODALITIES];      /* C_m */
  int stem_width[DC_MAX_MODALITIES]; /* h_m */
  int window;                        /* W; L = W*W tokens */
  int embed_dim, depth, heads;       /* D, E, H */
  double mlp_ratio;
  int decoder_dim, decoder_depth, decoder_heads;
  double mask_ratio; /* K = floor(L * (1 - mask_ratio)) tokens kept */
  int timesteps;     /* T of the diffusion schedule */
  int text_width, text_layers, text_heads, context, vocab;
  float ln_eps, text_ln_eps, bn_eps, bn_momentum;
};

/* The paper's sizes for the given modality bands (Houston: 144 and 1). */
void dc_model_config_paper(struct dc_model_config *c, int n_modalities, const int *bands);
enum dc_status dc_model_config_check(const struct dc_model_config *c);
static inline int dc_cfg_tokens(const struct dc_model_config *c) { return c->window * c->window; }
static inline int dc_cfg_keep(const struct dc_model_config *c) {
  return (int)(dc_cfg_tokens(c) * (1.0 - c->mask_ratio));
}
/* "" for modality 0, "_LIDAR" for 1, "_M<m+1>" after. */
const char *dc_modality_suffix(int m);

/* ---- image encoder ---- */
struct dc_stem {
  struct dc_linear conv0, conv3; /* dimen_redu.0 / .3: 1x1 convs */
  int bn1_w, bn1_b, bn4_w, bn4_b;  /* dimen_redu.1 / .4 affine */
  int rm1, rv1, rm4, rv4;          /* running statistics (buffer registry) */
  struct dc_linear patch;          /* patch_embed.proj */
  struct dc_linear t0, t2;         /* t_embedder.mlp.0 / .2 */
  int cls, pos;                    /* cls_token (1,1,D), pos_embed (1,L+1,D) */
};
struct dc_image_encoder {
  struct dc_model_config cfg;
  struct dc_stem stem[DC_MAX_MODALITIES];
  struct dc_stack enc; /* blocks.* and norm */
};
struct dc_stem_acts {
  float *s1, *z1, *r1, *s2, *z2, *r2; /* (B*L, h) */
  float *mean1, *rstd1, *mean2, *rstd2; /* (h) */
  float *tok;                           /* (B*L, D) */
  float *temb;                          /* (B, 256) */
  float *tu, *tsu, *tau;                /* (B, D) */
};
struct dc_image_encoder_acts {
  int B, T; /* batch per modality; sequence length 1 + tokens kept */
  struct dc_stem_acts stem[DC_MAX_MODALITIES];
  float *clspos;                /* (D) scratch: cls + pos row 0 */
  struct dc_stack_acts st;      /* (M*B, T, D); st.xs[0] is the assembled input */
  float *dtok, *dtau, *dtsu;    /* gradient scratch (B*L, D) (B, D) (B, D) */
  float *dr, *dz;               /* (B*L, h_max) */
  /* BatchNorm column sums (mean, var, backward local and total): HOST memory on every
   * backend, since they are reduced over ranks and are only 6 x h values */
  double bn_sums[6 * DC_MAX_STEM_WIDTH];
};
enum dc_status dc_image_encoder_register(struct dc_image_encoder *e, struct dc_registry *params,
                                         struct dc_registry *buffers, const struct dc_model_config *cfg,
                                         const char *prefix, int pos_trainable);
/* inference: forward passes only (no gradient buffers; the blocks share activations,
 * sized for the chunks that backend be runs the stack in). */
void dc_image_encoder_acts_take(struct dc_arena *a, struct dc_image_encoder_acts *acts,
                                const struct dc_image_encoder *e, int B, int keep, int inference,
                                const struct dc_backend *be);
/* x[m] (B*L, C_m) channel-last patches; t (B) timesteps; ids_keep[m] (B*K) kept tokens in
 * order, or NULL for all L tokens (K = L). train: BatchNorm uses batch statistics and
 * updates the running ones; otherwise running statistics. Output acts->st.out (M*B,T,D),
 * or acts->st.pooled (M*B,D) when the stack is read at one row per sequence. */
void dc_image_encoder_fwd(const struct dc_nn *nn, const struct dc_registry *buffers,
                          const struct dc_image_encoder *e, struct dc_image_encoder_acts *acts,
                          const float *const *x, const int *t, const int *const *ids_keep, int train);
/* dout (M*B, T, D): gradient of acts->st.out, or (M*B, D) of acts->st.pooled when the
 * stack is read at one row per sequence (dc_stack_acts_pool). Accumulates parameter
 * gradients. */
void dc_image_encoder_bwd(const struct dc_nn *nn, const struct dc_registry *buffers,
                          const struct dc_image_encoder *e, struct dc_image_encoder_acts *acts,
                          const struct dc_block_scratch *s, const float *dout,
                          const float *const *x, const int *const *ids_keep, int train);

/* ---- stage 1 ---- */
struct dc_decoder {
  struct dc_linear embed; /* decoder_embed D -> D' */
  int mask_token, pos;    /* (1,1,D'), (1,L+1,D') fixed */
  struct dc_stack st;     /* decoder_blocks.*, decoder_norm */
  struct dc_linear proj, pred, expa; /* projection_de D'->D', decoder_pred D'->h, dimen_expa h->C */
};
struct dc_pretrain_acts {
  struct dc_stack_acts st;
  float *emb;          /* (B*(K+1), D') */
  float *y_proj;       /* (B*(L+1), D') after projection_de */
  float *y_pred;       /* (B*(L+1), h) */
  float *y_tok;        /* (B*L, h) cls dropped */
  float *dy_proj, *dy_norm, *dy_pred, *dy_tok, *demb; /* gradient scratch */
};
/* Device-side inputs and outputs of one pretraining step, sized for B. */
struct dc_pretrain_io {
  float *x0[DC_MAX_MODALITIES];   /* (B*L, C_m) clean patches */
  float *xt[DC_MAX_MODALITIES];   /* (B*L, C_m) noised patches */
  int *t;                         /* (B) */
  int *ids_keep[DC_MAX_MODALITIES]; /* (B*K) */
  float *mask[DC_MAX_MODALITIES]; /* (B*L) 1 = removed */
  float *pred[DC_MAX_MODALITIES]; /* (B*L, C_m) x0-hat */
  float *loss_terms;              /* (2*M): masked_m, visible_m (device) */
  float *dpred[DC_MAX_MODALITIES];
};
struct dc_pretrain {
  struct dc_model_config cfg;
  int B;                            /* samples on this process */
  const struct dc_reducer *reduce;  /* BatchNorm across ranks; NULL: this process only */
  int noise;                        /* 1: forward diffusion (published); 0: the no-noise ablation */
  struct dc_registry params, buffers;
  struct dc_image_encoder enc;
  struct dc_decoder dec[DC_MAX_MODALITIES];
  struct dc_arena arena;
  struct dc_image_encoder_acts enc_acts;
  struct dc_pretrain_acts dec_acts[DC_MAX_MODALITIES];
  struct dc_block_scratch scratch;
  float *denc; /* (M*B, K+1, D) gradient of the encoder output */
  struct dc_pretrain_io io;
  float masked[DC_MAX_MODALITIES], visible[DC_MAX_MODALITIES], loss; /* host copies */
  /* host staging for batch preparation, allocated once */
  double *abar;       /* (timesteps) */
  float *h_xt, *h_u;  /* (B*L*C_max), (L) */
  float *h_mask;      /* (B*L) */
  int *h_ids, *h_t;   /* (B*K), (B) */
};
/* Registers every tensor, allocates parameters (zero) and activations for batch B. */
enum dc_status dc_pretrain_init(struct dc_pretrain *p, const struct dc_model_config *cfg, int B,
                                const struct dc_backend *be);
void dc_pretrain_free(struct dc_pretrain *p);
/* Forward and loss from p->io (x0, xt, t, ids_keep, mask); losses land in p->masked etc. */
enum dc_status dc_pretrain_forward(struct dc_pretrain *p);
/* Backward of the last forward: zeroes then fills p->params.grads. */
enum dc_status dc_pretrain_backward(struct dc_pretrain *p);

/* ---- stage 2 ---- */
struct dc_text_encoder {
  int tok_emb, pos_emb; /* token_embedding.weight (V,Wt), positional_embedding (ctx,Wt) */
  struct dc_stack st;   /* transformer.resblocks.*, ln_final */
  int proj;             /* text_projection (Wt, D) */
};
struct dc_clip_io {
  float *x[DC_MAX_MODALITIES]; /* (B*L, C_m) */
  int *t;                      /* (B) */
  int *tokens;                 /* (Bt*ctx) */
  int *eot;                    /* (Bt) end-of-text position of each text */
  int *cls_rows;               /* (M*B) zeros: the row each image sequence is read at */
  int *text_of;                /* (B) which text row pairs with image b */
  int *targets;                /* (B) arange(B) */
  float *image_features;       /* (B, D) before normalisation */
  float *text_features;        /* (Bt, D) before normalisation */
  float *logits_per_image;     /* (B, B) pairwise; (B, Bt) classwise and linear */
  float *logits_per_text;      /* (B, B) pairwise; (Bt, B) classwise */
  float *loss2;                /* (2) the two CE terms (device) */
};
struct dc_clip_acts {
  float *head_in;                  /* (B, M*D) concatenated cls outputs */
  float *zi, *ni;                  /* (B, D) normalised, norms (B) */
  float *txt_pooled;               /* (Bt, Wt) at EOT */
  float *zt_all, *zt, *nt;         /* (Bt, D) (B, D) normalised, norms (B) */
  float *sim;                      /* (B, B) zi zt^T */
  float *probs_i, *probs_t;        /* (B, B) */
  float *dlogits, *dtmp, *dtmp_t;  /* (B, B) */
  float *dzi, *dzt, *dimg, *dzt_all, *dtxt_all, *dpooled, *dhead_in; /* gradient scratch */
  float *denc;                     /* (M*B, D) the gradient of the cls rows */
};
/* The fine-tuning loss (see src/model/clip.c). */
enum dc_clip_loss {
  DC_CLIP_PAIRWISE = 0, /* published: (B, B) logits, same-class pairs are negatives */
  DC_CLIP_CLASSWISE,    /* same-class pairs are positives: logits against the class prompts */
  DC_CLIP_LINEAR        /* the no-text ablation: a linear head with cross-entropy */
};

struct dc_clip {
  struct dc_model_config cfg;
  int B, Bt;
  enum dc_clip_loss loss_kind;
  struct dc_linear classifier; /* DC_CLIP_LINEAR only: "classifier" D -> Bt */
  const struct dc_reducer *reduce; /* BatchNorm across ranks; NULL: this process only */
  struct dc_registry params, buffers;
  struct dc_image_encoder enc;
  struct dc_linear head; /* visual.head M*D -> D */
  struct dc_text_encoder text;
  int logit_scale;
  struct dc_arena arena;
  struct dc_image_encoder_acts enc_acts;
  struct dc_stack_acts txt_acts;
  struct dc_block_scratch scratch;
  struct dc_clip_acts acts;
  struct dc_clip_io io;
  float loss; /* host copy */
  int train;  /* BatchNorm mode of the last forward */
  int eval_only; /* made by dc_clip_init_eval: forward passes only */
  int text_ctx;  /* tokens per prompt the text encoder runs on (dc_clip_set_prompts) */
};
/* B images per step; Bt texts (prompts) per step, or classes for DC_CLIP_LINEAR.
 * io.text_of must hold each image's text (its class); io.targets is arange(B). */
enum dc_status dc_clip_init(struct dc_clip *c, const struct dc_model_config *cfg, int B, int Bt,
                            enum dc_clip_loss loss, const struct dc_backend *be);
/* The same for inference only (evaluation, predict): no gradients, no backward buffers,
 * one set of block activations shared by the blocks of each stack; a fraction of the
 * training model's memory. dc_clip_backward and a training forward refuse it. */
enum dc_status dc_clip_init_eval(struct dc_clip *c, const struct dc_model_config *cfg, int B, int Bt,
                                 enum dc_clip_loss loss, const struct dc_backend *be);
void dc_clip_free(struct dc_clip *c);
/* The Bt prompts: tokens (Bt, context) and eot (Bt), the end-of-text position of each
 * (where its feature is pooled), in host memory; uploaded into io.tokens and io.eot.
 * The text encoder is causal and reads only the end-of-text rows, so no token after the
 * last end-of-text position can change a feature or a gradient: the prompts are kept only
 * up to it (text_ctx = max eot + 1 tokens each, io.tokens then (Bt, text_ctx)), the same
 * mathematics as the full context in a fraction of the work (CLIP's prompts here are a
 * dozen tokens of 77). DC_ERR_ARG for an eot outside [0, context). */
enum dc_status dc_clip_set_prompts(struct dc_clip *c, const int *tokens, const int *eot);
/* Full forward and loss (train: BatchNorm batch statistics). */
enum dc_status dc_clip_forward(struct dc_clip *c, int train);
/* Parts of the forward, for inference: image features (B, D) of io.x / io.t into
 * io.image_features; text features (Bt, D) of io.tokens / io.eot into io.text_features. */
void dc_clip_image_features(struct dc_clip *c, int train);
void dc_clip_text_features(struct dc_clip *c);
enum dc_status dc_clip_backward(struct dc_clip *c);

/* ---- matrix-multiply FLOP counts of one forward (training step = 3x) ---- */
double dc_flops_pretrain_forward(const struct dc_model_config *c, int B);
/* pooled: the encoder's last block on the rows read only (a backend with
 * attention_pooled_forward; nn.h's dc_stack_acts_pool), else on every row */
double dc_flops_image_forward(const struct dc_model_config *c, int B, int pooled);
/* ctx: tokens per prompt the encoder runs on (dc_clip's text_ctx; cfg->context when <= 0) */
double dc_flops_text_forward(const struct dc_model_config *c, int Bt, int ctx, int pooled);

/* ---- fixed tables (host) ---- */
/* 2-D sin-cos position table ((W*W + 1), D), cls row (zeros) first; D % 4 == 0. */
void dc_sincos_pos_embed(float *out, int D, int W);
/* Diffusion schedule: abar (T) for linear betas 1e-4..0.02, computed in double. */
void dc_diffusion_abar(double *abar, int T);

/* src/model/init.c */
/* Initialises every tensor of a registry by its published rule (xavier-uniform linears,
 * PyTorch-default 1x1 convolutions, N(0, 0.02) tokens, sin-cos position tables, CLIP's text
 * initialisation, ...) from counter-based randomness keyed by (seed, tensor name). */
enum dc_status dc_init_weights(struct dc_registry *params, struct dc_registry *buffers,
                               const struct dc_model_config *cfg, uint64_t seed);
/* Copies the image-encoder tensors and BatchNorm statistics of stage 1 into stage 2
 * ("X" -> "visual.X"). Every stage-2 image tensor except visual.head must be found. */
enum dc_status dc_clip_load_pretrained(struct dc_clip *c, const struct dc_pretrain *p);

#endif
