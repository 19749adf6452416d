/* Layers as forward/backward pairs over backend ops, holding registry indices (not
 * pointers), so one layer description serves every backend and every registry copy.
 *
 * Backward convention (as for ops): activation gradients are assigned, parameter gradients
 * accumulate into the registry's gradient buffer; frozen parameters get none. */
#ifndef DIFFCLIP_NN_H
#define DIFFCLIP_NN_H

#include "diffclip/backend/arena.h"
#include "diffclip/backend/backend.h"
#include "diffclip/nn/registry.h"

/* Sums small double vectors over the ranks of a data-parallel job, in place (for
 * synchronised BatchNorm statistics). `ranks` processes each hold an equal share of the
 * batch. */
struct dc_reducer {
  void *ctx;
  int ranks;
  enum dc_status (*sum)(void *ctx, double *x, int n);
};

/* Context every layer call needs. reduce NULL: the batch is all on this process. */
struct dc_nn {
  const struct dc_backend *be;
  struct dc_registry *reg;
  const struct dc_reducer *reduce;
};

/* ---- linear (also 1x1 convolution on channel-last pixels) ---- */
struct dc_linear {
  int w, b; /* registry indices; b = -1 without bias */
  int in, out;
};
/* Registers "<prefix>.weight" (out,in) or (out,in,1,1) when conv1x1, and "<prefix>.bias". */
enum dc_status dc_linear_register(struct dc_linear *l, struct dc_registry *r, const char *prefix,
                                  int in, int out, int bias, int conv1x1, int trainable);
/* Same with explicit tensor names (bias_name NULL: no bias). */
enum dc_status dc_linear_register_named(struct dc_linear *l, struct dc_registry *r,
                                        const char *weight_name, const char *bias_name, int in,
                                        int out, int trainable);
void dc_linear_fwd(const struct dc_nn *nn, const struct dc_linear *l, float *out, const float *inp, int N);
void dc_linear_bwd(const struct dc_nn *nn, const struct dc_linear *l, float *dinp, const float *dout,
                   const float *inp, int N);

/* ---- layer norm ---- */
struct dc_layernorm {
  int w, b;
  int C;
  float eps;
};
enum dc_status dc_layernorm_register(struct dc_layernorm *ln, struct dc_registry *r, const char *prefix,
                                     int C, float eps, int trainable);

/* ---- pre-norm transformer block ----
 * y = x + proj(attn(ln1(x)));  out = y + fc2(act(fc1(ln2(y)))) */
enum dc_block_naming {
  DC_NAMING_VIT, /* norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2 (timm / MAE) */
  DC_NAMING_CLIP /* ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj */
};
struct dc_block {
  struct dc_layernorm ln1, ln2;
  struct dc_linear qkv, proj, fc1, fc2;
  int C, NH, hidden, causal;
  enum dc_act act;
};
/* Activations one block keeps for its backward, for N = B*T rows. */
struct dc_block_acts {
  float *ln1, *ln1_mean, *ln1_rstd; /* (N,C) (N) (N) */
  float *qkv;                        /* (N,3C) */
  float *att;                        /* (B,NH,T,T) */
  float *atty;                       /* (N,C) attention output before proj */
  float *y;                          /* (N,C) residual after attention */
  float *ln2, *ln2_mean, *ln2_rstd;  /* (N,C) (N) (N) */
  float *h, *a;                      /* (N,hidden) before / after the activation; see below */
  /* 1: kept for backward (a training forward). With a backend that has act_forward_grad
   * and linear_backward_gated, h then holds act'(the pre-activation) rather than the
   * pre-activation itself, and fc2's backward multiplies by it in its GEMM. 0: an
   * inference forward (no att; fc1 and the activation in one op where the backend can). */
  int train;
};
/* Gradient scratch shared by all blocks of a stack (sized for the largest). */
struct dc_block_scratch {
  float *dln, *dy, *datty; /* (N,C) */
  float *dqkv;             /* (N,3C) */
  float *dh;               /* (N,hidden) */
};

enum dc_status dc_block_register(struct dc_block *blk, struct dc_registry *r, const char *prefix,
                                 enum dc_block_naming naming, int C, int NH, int hidden,
                                 enum dc_act act, float ln_eps, int causal, int trainable);
/* keep_att = 0 (inference): no attention probabilities (acts->att NULL; no backward). */
void dc_block_acts_take(struct dc_arena *a, struct dc_block_acts *acts, const struct dc_block *blk,
                        int B, int T, int keep_att);
void dc_block_scratch_take(struct dc_arena *a, struct dc_block_scratch *s, int N, int C, int hidden);
void dc_block_fwd(const struct dc_nn *nn, const struct dc_block *blk, struct dc_block_acts *acts,
                  float *out, const float *x, int B, int T);
/* dx may alias dout (the residual stream's gradient is updated in place). */
void dc_block_bwd(const struct dc_nn *nn, const struct dc_block *blk, const struct dc_block_acts *acts,
                  const struct dc_block_scratch *s, float *dx, const float *dout, const float *x,
                  int B, int T);

/* ---- a stack of blocks and a final layer norm ---- */
#define DC_MAX_DEPTH 32
struct dc_stack {
  struct dc_block blocks[DC_MAX_DEPTH];
  struct dc_layernorm norm; /* final norm; norm.w < 0 when the stack has none */
  int depth;
};
struct dc_stack_acts {
  struct dc_block_acts blocks[DC_MAX_DEPTH];
  int chunk; /* inference: the sequences its shared block activations hold (0: all) */
  float *xs[DC_MAX_DEPTH + 1]; /* block inputs; xs[depth] is the last block's output (N,C) */
  float *out, *mean, *rstd;    /* after the final norm (N,C) (N) (N) */
  float *dres;                 /* (N,C) residual-stream gradient */
  /* Read at one row per sequence (dc_stack_acts_pool), else pool is NULL: */
  const int *pool;             /* (B) the row of each sequence that is read */
  float *pooled, *pmean, *prstd; /* after the final norm (B,C) (B) (B) */
  float *xp, *outp;            /* (B,C) the last block's input and output at those rows */
  float *dfull;                /* (N,C) backward without attention_pooled_*: the rows' gradient spread out */
};
/* Registers blocks "<block_prefix>.<i>" for i < depth and the final norm `norm_name`. */
enum dc_status dc_stack_register(struct dc_stack *st, struct dc_registry *r, const char *block_prefix,
                                 const char *norm_name, enum dc_block_naming naming, int depth, int C,
                                 int NH, int hidden, enum dc_act act, float ln_eps, int causal,
                                 int trainable);
void dc_stack_acts_take(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B, int T);
/* The same for forward passes only (inference): the blocks share one set of activations,
 * for one chunk of the sequences that backend be runs a stack's pass in (dc_stack_fwd),
 * and the block inputs alternate between two buffers, so the memory grows neither with
 * the depth nor, past a chunk, with the batch; dc_stack_bwd must not be called on them
 * (acts->dres is NULL). */
void dc_stack_acts_take_inference(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B,
                                  int T, const struct dc_backend *be);
/* Rows per chunk of a stack's passes on the CPU (block.c; rows <= 0: the default, 1024):
 * for tests, which split a batch into single sequences to check that chunks change
 * nothing. */
void dc_stack_set_chunk_rows(int rows);
/* 1 when backend be runs a pooled stack's last block on the rows read (it has both
 * attention_pooled_forward and _backward); else that block runs on every row. */
int dc_stack_pools(const struct dc_backend *be);
/* A stack whose output is read at one row of each sequence only, pool[b] (B ints in
 * backend memory, read when the passes run): the image encoder's cls row, the text
 * encoder's end-of-text row. Called after dc_stack_acts_take or _take_inference with the
 * same B and T. dc_stack_fwd then leaves those rows after the final norm in acts->pooled
 * (B,C), and dc_stack_bwd takes their gradient (B,C). Where dc_stack_pools(be) (above),
 * the last block computes its attention for those queries only
 * and its projection, MLP and the final norm on those rows only: the other rows of its
 * output are never read, and its keys and values (all rows) are what the earlier blocks'
 * gradients come through. Otherwise the whole stack runs and the rows are gathered. */
void dc_stack_acts_pool(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B, int T,
                        const int *pool, const struct dc_backend *be);
/* Input is acts->xs[0] (filled by the caller); output in acts->out, or acts->pooled. */
void dc_stack_fwd(const struct dc_nn *nn, const struct dc_stack *st, struct dc_stack_acts *acts, int B, int T);
/* dout (N,C) is the gradient of acts->out, or (B,C) of acts->pooled; the input gradient
 * is left in acts->dres. */
void dc_stack_bwd(const struct dc_nn *nn, const struct dc_stack *st, struct dc_stack_acts *acts,
                  const struct dc_block_scratch *s, const float *dout, int B, int T);

#endif
