/* The pre-norm transformer block and a stack of them with a final layer norm: the
 * modality-shared image encoder, the per-modality decoders and the text encoder are all
 * this code with different sizes, names and activation.
 *
 * Shapes: x (B,T,C) = N rows of C; hidden = mlp_ratio * C. */
#include <stdio.h>

#include "diffclip/nn/nn.h"

#include <string.h>

enum dc_status dc_block_register(struct dc_block *blk, struct dc_registry *r, const char *prefix,
                                 enum dc_block_naming naming, int C, int NH, int hidden,
                                 enum dc_act act, float ln_eps, int causal, int trainable) {
  char a[DC_NAME_MAX], b[DC_NAME_MAX];
  blk->C = C;
  blk->NH = NH;
  blk->hidden = hidden;
  blk->act = act;
  blk->causal = causal;
  if (C % NH != 0) return DC_ERROR(DC_ERR_ARG, "width %d is not divisible by %d heads (%s)", C, NH, prefix);
  int vit = naming == DC_NAMING_VIT;
#define NAME(buf, suffix) snprintf(buf, sizeof buf, "%s.%s", prefix, suffix)
  NAME(a, vit ? "norm1" : "ln_1");
  DC_TRY(dc_layernorm_register(&blk->ln1, r, a, C, ln_eps, trainable));
  if (vit) {
    NAME(a, "attn.qkv");
    DC_TRY(dc_linear_register(&blk->qkv, r, a, C, 3 * C, 1, 0, trainable));
    NAME(a, "attn.proj");
  } else {
    NAME(a, "attn.in_proj_weight");
    NAME(b, "attn.in_proj_bias");
    DC_TRY(dc_linear_register_named(&blk->qkv, r, a, b, C, 3 * C, trainable));
    NAME(a, "attn.out_proj");
  }
  DC_TRY(dc_linear_register(&blk->proj, r, a, C, C, 1, 0, trainable));
  NAME(a, vit ? "norm2" : "ln_2");
  DC_TRY(dc_layernorm_register(&blk->ln2, r, a, C, ln_eps, trainable));
  NAME(a, vit ? "mlp.fc1" : "mlp.c_fc");
  DC_TRY(dc_linear_register(&blk->fc1, r, a, C, hidden, 1, 0, trainable));
  NAME(a, vit ? "mlp.fc2" : "mlp.c_proj");
  DC_TRY(dc_linear_register(&blk->fc2, r, a, hidden, C, 1, 0, trainable));
#undef NAME
  return DC_OK;
}

void dc_block_acts_take(struct dc_arena *a, struct dc_block_acts *acts, const struct dc_block *blk,
                        int B, int T, int keep_att) {
  size_t N = (size_t)B * T, C = blk->C;
  acts->ln1 = dc_arena_floats(a, N * C);
  acts->ln1_mean = dc_arena_floats(a, N);
  acts->ln1_rstd = dc_arena_floats(a, N);
  acts->qkv = dc_arena_floats(a, N * 3 * C);
  acts->att = keep_att ? dc_arena_floats(a, (size_t)B * blk->NH * T * T) : NULL;
  acts->atty = dc_arena_floats(a, N * C);
  acts->y = dc_arena_floats(a, N * C);
  acts->ln2 = dc_arena_floats(a, N * C);
  acts->ln2_mean = dc_arena_floats(a, N);
  acts->ln2_rstd = dc_arena_floats(a, N);
  acts->h = dc_arena_floats(a, N * blk->hidden);
  acts->a = dc_arena_floats(a, N * blk->hidden);
  acts->train = keep_att;
}

/* The activation's derivative kept in h and applied inside fc2's backward GEMM, when the
 * backend has both halves (dc_block_acts) */
static int block_gated(const struct dc_backend *be) { return be->act_forward_grad && be->linear_backward_gated; }

/* out = lin(inp) + res, in one op where the backend has it */
static void linear_fwd_residual(const struct dc_nn *nn, const struct dc_linear *l, float *out, const float *inp,
                                const float *res, int N) {
  if (nn->be->linear_forward_residual) {
    nn->be->linear_forward_residual(out, inp, dc_param(nn->reg, l->w), l->b >= 0 ? dc_param(nn->reg, l->b) : NULL,
                                    res, N, l->in, l->out);
    return;
  }
  dc_linear_fwd(nn, l, out, inp, N);
  nn->be->add_inplace(out, res, (size_t)N * l->out);
}

void dc_block_scratch_take(struct dc_arena *a, struct dc_block_scratch *s, int N, int C, int hidden) {
  s->dln = dc_arena_floats(a, (size_t)N * C);
  s->dy = dc_arena_floats(a, (size_t)N * C);
  s->datty = dc_arena_floats(a, (size_t)N * C);
  s->dqkv = dc_arena_floats(a, (size_t)N * 3 * C);
  s->dh = dc_arena_floats(a, (size_t)N * hidden);
}

/* The MLP half of a block on N rows: out = y + fc2(act(fc1(ln2(y)))), y in acts->y */
static void block_mlp_fwd(const struct dc_nn *nn, const struct dc_block *blk, struct dc_block_acts *acts, float *out,
                          int N) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  be->layernorm_forward(acts->ln2, acts->ln2_mean, acts->ln2_rstd, acts->y, dc_param(r, blk->ln2.w),
                        dc_param(r, blk->ln2.b), N, blk->C, blk->ln2.eps);
  size_t nh = (size_t)N * blk->hidden;
  if (!acts->train && be->linear_forward_act) {
    const struct dc_linear *l = &blk->fc1;
    be->linear_forward_act(blk->act, acts->a, acts->ln2, dc_param(r, l->w), l->b >= 0 ? dc_param(r, l->b) : NULL, N,
                           l->in, l->out);
  } else {
    dc_linear_fwd(nn, &blk->fc1, acts->h, acts->ln2, N);
    if (acts->train && block_gated(be))
      be->act_forward_grad(blk->act, acts->a, acts->h, acts->h, nh); /* h becomes act'(h) */
    else
      be->act_forward(blk->act, acts->a, acts->h, nh);
  }
  linear_fwd_residual(nn, &blk->fc2, out, acts->a, acts->y, N);
}

/* ln1 and qkv of a block on N rows of x */
static void block_qkv_fwd(const struct dc_nn *nn, const struct dc_block *blk, struct dc_block_acts *acts,
                          const float *x, int N) {
  const struct dc_registry *r = nn->reg;
  nn->be->layernorm_forward(acts->ln1, acts->ln1_mean, acts->ln1_rstd, x, dc_param(r, blk->ln1.w),
                            dc_param(r, blk->ln1.b), N, blk->C, blk->ln1.eps);
  dc_linear_fwd(nn, &blk->qkv, acts->qkv, acts->ln1, N);
}

void dc_block_fwd(const struct dc_nn *nn, const struct dc_block *blk, struct dc_block_acts *acts,
                  float *out, const float *x, int B, int T) {
  int N = B * T;
  block_qkv_fwd(nn, blk, acts, x, N);
  nn->be->attention_forward(acts->atty, acts->att, acts->qkv, B, T, blk->C, blk->NH, blk->causal);
  linear_fwd_residual(nn, &blk->proj, acts->y, acts->atty, x, N);
  block_mlp_fwd(nn, blk, acts, out, N);
}

/* The block on N = B*T rows of x whose output is read at row pool[b] of each sequence
 * only: out and xp (B,C) are that output and x at those rows; qkv and ln1 on all rows (the
 * keys and values), the rest of acts on B rows (att (B,NH,T)). */
static void block_fwd_pooled(const struct dc_nn *nn, const struct dc_block *blk, struct dc_block_acts *acts,
                             float *out, float *xp, const float *x, const int *pool, int B, int T) {
  const struct dc_backend *be = nn->be;
  block_qkv_fwd(nn, blk, acts, x, B * T);
  be->attention_pooled_forward(acts->atty, acts->att, acts->qkv, pool, B, T, blk->C, blk->NH, blk->causal);
  be->gather_rows(xp, 1, x, T, pool, B, 1, blk->C);
  linear_fwd_residual(nn, &blk->proj, acts->y, acts->atty, xp, B);
  block_mlp_fwd(nn, blk, acts, out, B);
}

/* The MLP half's backward on N rows: s->dy = the gradient of y (through the MLP and the
 * residual). dout must not be s->dy, s->dln or s->dh. */
static void block_mlp_bwd(const struct dc_nn *nn, const struct dc_block *blk, const struct dc_block_acts *acts,
                          const struct dc_block_scratch *s, const float *dout, int N) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  if (block_gated(be)) { /* h holds act' (dc_block_fwd) */
    const struct dc_linear *l = &blk->fc2;
    be->linear_backward_gated(s->dh, dc_grad(r, l->w), l->b >= 0 ? dc_grad(r, l->b) : NULL, dout, acts->a,
                              dc_param(r, l->w), acts->h, N, l->in, l->out);
  } else {
    dc_linear_bwd(nn, &blk->fc2, s->dh, dout, acts->a, N);
    be->act_backward(blk->act, s->dh, s->dh, acts->h, (size_t)N * blk->hidden);
  }
  dc_linear_bwd(nn, &blk->fc1, s->dln, s->dh, acts->ln2, N);
  be->layernorm_backward(s->dy, dc_grad(r, blk->ln2.w), dc_grad(r, blk->ln2.b), s->dln, acts->y,
                         dc_param(r, blk->ln2.w), acts->ln2_mean, acts->ln2_rstd, N, blk->C);
  be->add_inplace(s->dy, dout, (size_t)N * blk->C);
}

/* qkv's and ln1's backward on N rows: dx = the gradient of x through ln1 (s->dqkv in) */
static void block_qkv_bwd(const struct dc_nn *nn, const struct dc_block *blk, const struct dc_block_acts *acts,
                          const struct dc_block_scratch *s, float *dx, const float *x, int N) {
  const struct dc_registry *r = nn->reg;
  dc_linear_bwd(nn, &blk->qkv, s->dln, s->dqkv, acts->ln1, N);
  nn->be->layernorm_backward(dx, dc_grad(r, blk->ln1.w), dc_grad(r, blk->ln1.b), s->dln, x,
                             dc_param(r, blk->ln1.w), acts->ln1_mean, acts->ln1_rstd, N, blk->C);
}

void dc_block_bwd(const struct dc_nn *nn, const struct dc_block *blk, const struct dc_block_acts *acts,
                  const struct dc_block_scratch *s, float *dx, const float *dout, const float *x,
                  int B, int T) {
  const struct dc_backend *be = nn->be;
  int N = B * T, C = blk->C;
  /* MLP branch: dout flows to fc2 and straight through the residual to y. */
  block_mlp_bwd(nn, blk, acts, s, dout, N);
  /* Attention branch: dy flows to proj and straight through to x. dout is dead from here,
   * so dx may alias it. */
  dc_linear_bwd(nn, &blk->proj, s->datty, s->dy, acts->atty, N);
  be->attention_backward(s->dqkv, s->datty, acts->qkv, acts->att, B, T, C, blk->NH);
  block_qkv_bwd(nn, blk, acts, s, dx, x, N);
  be->add_inplace(dx, s->dy, (size_t)N * C);
}

/* block_fwd_pooled's backward: dout (B,C) the gradient of its out (not s->dy, s->dln or
 * s->dh); dx (B*T,C) assigned. */
static void block_bwd_pooled(const struct dc_nn *nn, const struct dc_block *blk, const struct dc_block_acts *acts,
                             const struct dc_block_scratch *s, float *dx, const float *dout, const float *x,
                             const int *pool, int B, int T) {
  const struct dc_backend *be = nn->be;
  block_mlp_bwd(nn, blk, acts, s, dout, B);
  dc_linear_bwd(nn, &blk->proj, s->datty, s->dy, acts->atty, B);
  be->attention_pooled_backward(s->dqkv, s->datty, acts->qkv, acts->att, pool, B, T, blk->C, blk->NH);
  block_qkv_bwd(nn, blk, acts, s, dx, x, B * T);
  be->gather_rows_backward(dx, T, s->dy, 1, pool, B, 1, blk->C); /* the residual, at the pooled rows */
}

void dc_stack_acts_take(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B, int T) {
  size_t N = (size_t)B * T, C = st->norm.C;
  memset(acts, 0, sizeof *acts);
  for (int i = 0; i < st->depth; i++) dc_block_acts_take(a, &acts->blocks[i], &st->blocks[i], B, T, 1);
  for (int i = 0; i <= st->depth; i++) acts->xs[i] = dc_arena_floats(a, N * C);
  acts->out = dc_arena_floats(a, N * C);
  acts->mean = dc_arena_floats(a, N);
  acts->rstd = dc_arena_floats(a, N);
  acts->dres = dc_arena_floats(a, N * C);
}

/* Rows per chunk of a stack's pass on the CPU (dc_stack_fwd, dc_stack_bwd): 8 sequences of
 * 122 tokens, whose block activations (about 0.5 MB per 128 channels) stay in the cores'
 * L2 between one op and the next. */
#define STACK_CHUNK_ROWS 1024

/* Sequences per chunk: whole sequences of about STACK_CHUNK_ROWS rows on the CPU; the
 * whole batch on a GPU, whose kernels want large ones. */
static int g_chunk_rows = STACK_CHUNK_ROWS;

void dc_stack_set_chunk_rows(int rows) { g_chunk_rows = rows > 0 ? rows : STACK_CHUNK_ROWS; }

static int stack_chunk(const struct dc_backend *be, int B, int T) {
  if (be->device_memory) return B;
  int chunk = g_chunk_rows / T;
  return chunk < 1 ? 1 : chunk < B ? chunk : B;
}

void dc_stack_acts_take_inference(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B,
                                  int T, const struct dc_backend *be) {
  size_t N = (size_t)B * T, C = st->norm.C;
  memset(acts, 0, sizeof *acts);
  /* one block's activations for all (the blocks of a stack have one shape), for one chunk,
   * without the attention probabilities (only backward reads them), the block inputs in two
   * buffers taken in turn; no residual-stream gradient */
  acts->chunk = stack_chunk(be, B, T);
  if (st->depth > 0) dc_block_acts_take(a, &acts->blocks[0], &st->blocks[0], acts->chunk, T, 0);
  for (int i = 1; i < st->depth; i++) acts->blocks[i] = acts->blocks[0];
  float *x[2];
  x[0] = dc_arena_floats(a, N * C);
  x[1] = dc_arena_floats(a, N * C);
  for (int i = 0; i <= st->depth; i++) acts->xs[i] = x[i % 2];
  acts->out = dc_arena_floats(a, N * C);
  acts->mean = dc_arena_floats(a, N);
  acts->rstd = dc_arena_floats(a, N);
}

/* The activations of sequences b0 .. of a block kept for the whole batch */
static struct dc_block_acts block_acts_at(const struct dc_block_acts *a, const struct dc_block *blk, int b0, int T) {
  struct dc_block_acts v = *a;
  if (!a->train) return v; /* an inference block's buffers hold one chunk, reused */
  size_t r = (size_t)b0 * T, C = blk->C, H = blk->hidden;
  v.ln1 += r * C, v.ln1_mean += r, v.ln1_rstd += r, v.qkv += r * 3 * C, v.atty += r * C, v.y += r * C;
  v.ln2 += r * C, v.ln2_mean += r, v.ln2_rstd += r, v.h += r * H, v.a += r * H;
  if (v.att) v.att += (size_t)b0 * blk->NH * T * T;
  return v;
}

/* The last block's activations for sequences b0 .. when the stack is read at one row per
 * sequence: ln1 and qkv hold every row, the rest one row per sequence */
static struct dc_block_acts block_acts_pooled_at(const struct dc_block_acts *a, const struct dc_block *blk, int b0,
                                                 int T) {
  struct dc_block_acts v = *a;
  if (!a->train) return v;
  size_t r = (size_t)b0 * T, p = (size_t)b0, C = blk->C, H = blk->hidden;
  v.ln1 += r * C, v.ln1_mean += r, v.ln1_rstd += r, v.qkv += r * 3 * C;
  v.atty += p * C, v.y += p * C, v.ln2 += p * C, v.ln2_mean += p, v.ln2_rstd += p, v.h += p * H, v.a += p * H;
  if (v.att) v.att += p * blk->NH * T;
  return v;
}

void dc_stack_acts_pool(struct dc_arena *a, struct dc_stack_acts *acts, const struct dc_stack *st, int B, int T,
                        const int *pool, const struct dc_backend *be) {
  size_t C = st->norm.C;
  acts->pool = pool;
  acts->pooled = dc_arena_floats(a, (size_t)B * C);
  acts->pmean = dc_arena_floats(a, B);
  acts->prstd = dc_arena_floats(a, B);
  acts->xp = dc_arena_floats(a, (size_t)B * C);
  acts->outp = dc_arena_floats(a, (size_t)B * C);
  /* without the pooled attention, the backward spreads the rows' gradient over (N,C) */
  int train = st->depth > 0 && acts->blocks[0].train; /* dc_stack_acts_take, not _inference */
  acts->dfull = train && !dc_stack_pools(be) ? dc_arena_floats(a, (size_t)B * T * C) : NULL;
}

int dc_stack_pools(const struct dc_backend *be) {
  return be->attention_pooled_forward && be->attention_pooled_backward;
}

static int stack_pooled(const struct dc_backend *be, const struct dc_stack_acts *acts) {
  return acts->pool && dc_stack_pools(be);
}

/* A stack's forward and backward run the batch in chunks of whole sequences, each chunk
 * through every block (and the final norm) before the next, so that one op's output is
 * still in cache when the next op reads it. The sequences are independent, so the
 * activations are those of the whole batch; parameter gradients accumulate over the
 * chunks (in a fixed order: a run stays reproducible). */
void dc_stack_fwd(const struct dc_nn *nn, const struct dc_stack *st, struct dc_stack_acts *acts, int B, int T) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  int chunk = stack_chunk(be, B, T), pooled = stack_pooled(be, acts), full = st->depth - pooled;
  if (acts->chunk > 0 && acts->chunk < chunk) chunk = acts->chunk; /* what its buffers hold */
  size_t C = st->norm.C;
  for (int b0 = 0; b0 < B; b0 += chunk) {
    int bc = B - b0 < chunk ? B - b0 : chunk;
    size_t off = (size_t)b0 * T * C;
    for (int i = 0; i < full; i++) {
      struct dc_block_acts v = block_acts_at(&acts->blocks[i], &st->blocks[i], b0, T);
      dc_block_fwd(nn, &st->blocks[i], &v, acts->xs[i + 1] + off, acts->xs[i] + off, bc, T);
    }
    if (pooled) { /* the last block and the norm at the rows read */
      struct dc_block_acts v = block_acts_pooled_at(&acts->blocks[full], &st->blocks[full], b0, T);
      size_t po = (size_t)b0 * C;
      block_fwd_pooled(nn, &st->blocks[full], &v, acts->outp + po, acts->xp + po, acts->xs[full] + off,
                       acts->pool + b0, bc, T);
      be->layernorm_forward(acts->pooled + po, acts->pmean + b0, acts->prstd + b0, acts->outp + po,
                            dc_param(r, st->norm.w), dc_param(r, st->norm.b), bc, st->norm.C, st->norm.eps);
      continue;
    }
    be->layernorm_forward(acts->out + off, acts->mean + (size_t)b0 * T, acts->rstd + (size_t)b0 * T,
                          acts->xs[st->depth] + off, dc_param(r, st->norm.w), dc_param(r, st->norm.b), bc * T,
                          st->norm.C, st->norm.eps);
  }
  if (acts->pool && !pooled) be->gather_rows(acts->pooled, 1, acts->out, T, acts->pool, B, 1, st->norm.C);
}

void dc_stack_bwd(const struct dc_nn *nn, const struct dc_stack *st, struct dc_stack_acts *acts,
                  const struct dc_block_scratch *s, const float *dout, int B, int T) {
  const struct dc_backend *be = nn->be;
  const struct dc_registry *r = nn->reg;
  int chunk = stack_chunk(be, B, T), pooled = stack_pooled(be, acts), full = st->depth - pooled;
  size_t C = st->norm.C;
  if (acts->pool && !pooled) { /* the rows' gradient spread over the whole output */
    be->zero(acts->dfull, (size_t)B * T * C * sizeof(float));
    be->gather_rows_backward(acts->dfull, T, dout, 1, acts->pool, B, 1, st->norm.C);
    dout = acts->dfull;
  }
  for (int b0 = 0; b0 < B; b0 += chunk) {
    int bc = B - b0 < chunk ? B - b0 : chunk;
    size_t off = (size_t)b0 * T * C;
    if (pooled) { /* the norm and the last block at the rows read; d outp in s->datty */
      struct dc_block_acts v = block_acts_pooled_at(&acts->blocks[full], &st->blocks[full], b0, T);
      size_t po = (size_t)b0 * C;
      be->layernorm_backward(s->datty, dc_grad(r, st->norm.w), dc_grad(r, st->norm.b), dout + po, acts->outp + po,
                             dc_param(r, st->norm.w), acts->pmean + b0, acts->prstd + b0, bc, st->norm.C);
      block_bwd_pooled(nn, &st->blocks[full], &v, s, acts->dres + off, s->datty, acts->xs[full] + off,
                       acts->pool + b0, bc, T);
    } else {
      be->layernorm_backward(acts->dres + off, dc_grad(r, st->norm.w), dc_grad(r, st->norm.b), dout + off,
                             acts->xs[st->depth] + off, dc_param(r, st->norm.w), acts->mean + (size_t)b0 * T,
                             acts->rstd + (size_t)b0 * T, bc * T, st->norm.C);
    }
    for (int i = full - 1; i >= 0; i--) {
      struct dc_block_acts v = block_acts_at(&acts->blocks[i], &st->blocks[i], b0, T);
      dc_block_bwd(nn, &st->blocks[i], &v, s, acts->dres + off, acts->dres + off, acts->xs[i] + off, bc, T);
    }
  }
}

enum dc_status dc_stack_register(struct dc_stack *st, struct dc_registry *r, const char *block_prefix,
                                 const char *norm_name, enum dc_block_naming naming, int depth, int C,
                                 int NH, int hidden, enum dc_act act, float ln_eps, int causal,
                                 int trainable) {
  if (depth < 1 || depth > DC_MAX_DEPTH)
    return DC_ERROR(DC_ERR_ARG, "depth %d of %s is outside 1..%d", depth, block_prefix, DC_MAX_DEPTH);
  st->depth = depth;
  for (int i = 0; i < depth; i++) {
    char prefix[DC_NAME_MAX];
    snprintf(prefix, sizeof prefix, "%s.%d", block_prefix, i);
    DC_TRY(dc_block_register(&st->blocks[i], r, prefix, naming, C, NH, hidden, act, ln_eps, causal, trainable));
  }
  return dc_layernorm_register(&st->norm, r, norm_name, C, ln_eps, trainable);
}
