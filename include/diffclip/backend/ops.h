/* The backend op list (one X-macro, so the CPU kernels, their double twins and the
 * backend table cannot drift apart), and the CPU kernels declared for each precision.
 *
 * Every file in src/backend/cpu/ is compiled twice: as dc_cpu_f32_* (the production
 * backend, float) and as dc_cpu_f64_* (double, used by the gradient checks so that finite
 * differences test the very same source at 1e-6 rather than at float noise).
 *
 * Conventions for every op:
 *  - tensors are row-major; shapes are explicit ints; a comment gives each pointer's shape.
 *  - forward outputs are assigned.
 *  - backward: activation gradients (dinp, dqkv, ...) are ASSIGNED (=); parameter
 *    gradients (dweight, dbias, dtable, ...) ACCUMULATE (+=). A NULL gradient pointer means
 *    "not needed" and is skipped.
 *  - loops over independent rows are OpenMP-parallel.
 * Dimension letters: N rows (pixels or tokens), C channels, B batch, T sequence length,
 * NH heads, IC/OC input/output channels, V classes. */
#ifndef DIFFCLIP_OPS_H
#define DIFFCLIP_OPS_H

#include <stddef.h>

/* Activation kinds (shared by both precisions and every backend). */
enum dc_act { DC_ACT_GELU = 0, DC_ACT_QUICKGELU, DC_ACT_SILU, DC_ACT_RELU };

#define DC_OPS(X, T)                                                                \
  /* C (M,N) = alpha * op(A) op(B) + beta * C; op(A) is (M,K), op(B) is (K,N), row-major. */    \
  X(void, gemm, (int trans_a, int trans_b, int M, int N, int K, T alpha, const T *A, int lda,     \
               const T *B, int ldb, T beta, T *C, int ldc))                                     \
  /* out (N,OC) = inp (N,IC) . weight(OC,IC)^T + bias (OC, may be NULL). A 1x1 convolution on  \
   * channel-last pixels is exactly this op (weight (OC,IC,1,1) has the same layout). */       \
  X(void, linear_forward, (T *out, const T *inp, const T *weight, const T *bias, int N, int IC,   \
                         int OC))                                                               \
  X(void, linear_backward, (T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,          \
                          const T *weight, int N, int IC, int OC))                              \
  /* LayerNorm over the last dim C of (N,C); mean, rstd (N) saved for backward. */              \
  X(void, layernorm_forward, (T *out, T *mean, T *rstd, const T *inp, const T *weight,           \
                            const T *bias, int N, int C, T eps))                                \
  X(void, layernorm_backward, (T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,       \
                             const T *weight, const T *mean, const T *rstd, int N, int C))      \
  /* BatchNorm over the N rows of (N,C), per channel, training mode: batch mean and biased     \
   * variance; mean, rstd (C) saved. running_mean/var (C, may be NULL) are updated with        \
   * momentum using the UNBIASED variance (PyTorch).                                            */ \
  X(void, batchnorm_forward_train, (T *out, T *mean, T *rstd, T *running_mean, T *running_var,   \
                                  const T *inp, const T *weight, const T *bias, int N, int C,  \
                                  T eps, T momentum))                                           \
  X(void, batchnorm_backward_train, (T *dinp, T *dweight, T *dbias, const T *dout, const T *inp, \
                                   const T *weight, const T *mean, const T *rstd, int N,       \
                                   int C))                                                      \
  /* Training mode in parts, for synchronised BatchNorm across ranks: colsum gives sum_n x \
   * (center NULL) or sum_n (x - center)^2 per channel; apply_train normalises with a given \
   * mean and biased variance of the whole batch (n_total rows over all ranks); the backward \
   * colsum gives (sum dy, sum dy*xhat) and backward_apply uses this rank's sums `local`    \
   * for the parameter gradients and the whole batch's `total` for the input gradient. The  \
   * fused ops above are these parts on one process. Sums are double in both precisions,   \
   * and in HOST memory on every backend (they are reduced over ranks on the host). */      \
  X(void, batchnorm_colsum, (double *out, const T *inp, const double *center, int N, int C))  \
  X(void, batchnorm_apply_train, (T *out, T *mean, T *rstd, T *running_mean, T *running_var, \
                                  const T *inp, const T *weight, const T *bias,              \
                                  const double *mean_d, const double *var_d, double n_total, \
                                  int N, int C, T eps, T momentum))                          \
  X(void, batchnorm_backward_colsum, (double *out, const T *dout, const T *inp, const T *mean, \
                                      const T *rstd, int N, int C))                          \
  X(void, batchnorm_backward_apply, (T *dinp, T *dweight, T *dbias, const T *dout,          \
                                     const T *inp, const T *weight, const T *mean,           \
                                     const T *rstd, const double *local, const double *total, \
                                     double n_total, int N, int C))                          \
  /* Eval mode: normalise with the running statistics. */                                      \
  X(void, batchnorm_forward_eval, (T *out, const T *inp, const T *weight, const T *bias,         \
                                 const T *running_mean, const T *running_var, int N, int C,    \
                                 T eps))                                                        \
  X(void, batchnorm_backward_eval, (T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,  \
                                  const T *weight, const T *running_mean,                      \
                                  const T *running_var, int N, int C, T eps))                   \
  /* Elementwise activations over n values: GELU (exact erf), QuickGELU x*sigmoid(1.702x),     \
   * SiLU, ReLU. Backward assigns dinp = dout * act'(inp). */                                   \
  X(void, act_forward, (enum dc_act act, T *out, const T *inp, size_t n))                         \
  X(void, act_backward, (enum dc_act act, T *dinp, const T *dout, const T *inp, size_t n))        \
  /* Multi-head softmax attention. qkv (B,T,3C): [q | k | v], head h uses columns             \
   * h*C/NH..(h+1)*C/NH of each; scores scaled by 1/sqrt(C/NH); causal masks key > query.     \
   * att (B,NH,T,T) keeps the probabilities for backward, or is NULL (inference: not kept);   \
   * out (B,T,C). */                                                                            \
  X(void, attention_forward, (T *out, T *att, const T *qkv, int B, int T_, int C, int NH,        \
                            int causal))                                                        \
  X(void, attention_backward, (T *dqkv, const T *dout, const T *qkv, const T *att, int B,        \
                             int T_, int C, int NH))                                            \
  /* out (N,C) = table[ids[i]] ; backward dtable += . */                                        \
  X(void, embedding_forward, (T *out, const int *ids, const T *table, int N, int C))             \
  X(void, embedding_backward, (T *dtable, const T *dout, const int *ids, int N, int C))          \
  /* Masking gather: out[b*out_rows + k] = inp[b*inp_rows + idx[b*K + k]], rows of C values.   \
   * Backward ACCUMULATES into dinp (callers zero it: the rows not gathered get nothing). */    \
  X(void, gather_rows, (T *out, int out_rows, const T *inp, int inp_rows, const int *idx, int B, \
                      int K, int C))                                                            \
  X(void, gather_rows_backward, (T *dinp, int inp_rows, const T *dout, int out_rows,             \
                               const int *idx, int B, int K, int C))                            \
  /* Un-shuffle with a fill token: rows 0..L-1 of each batch item of out get `fill` (C), then  \
   * out[b*out_rows + idx[b*K + k]] = inp[b*inp_rows + k]. Backward assigns dinp and           \
   * accumulates dfill over the rows that kept the fill. */                                     \
  X(void, scatter_rows_fill, (T *out, int out_rows, int L, const T *inp, int inp_rows,           \
                            const T *fill, const int *idx, int B, int K, int C))               \
  X(void, scatter_rows_fill_backward, (T *dinp, int inp_rows, T *dfill, const T *dout,           \
                                     int out_rows, int L, const int *idx, int B, int K, int C))\
  /* Strided row copy: out[r*out_stride + c] = inp[r*inp_stride + c], c < C. */                \
  X(void, copy_rows, (T *out, int out_stride, const T *inp, int inp_stride, int rows, int C))    \
  /* y += x (n values); y[b*n + i] += row[i]; drow[i] += sum_b dy[b*n + i]; y *= a. */         \
  X(void, add_inplace, (T *y, const T *x, size_t n))                                              \
  X(void, add_broadcast, (T *y, const T *row, int B, size_t n))                                   \
  X(void, add_broadcast_backward, (T *drow, const T *dy, int B, size_t n))                        \
  X(void, scale_inplace, (T *y, T a, size_t n))                                                   \
  /* out (C,R) = inp (R,C)^T. */                                                                \
  X(void, transpose, (T *out, const T *inp, int R, int C))                                        \
  /* sum a[i]*b[i], accumulated in double. */                                                   \
  X(double, dot, (const T *a, const T *b, size_t n))                                              \
  /* Masked MSE per pixel: e(p) = mean_c (pred - target)^2 over the C channels of (N,C);       \
   * *loss_masked = mean of e over rows with mask[p] != 0, *loss_visible over the others      \
   * (0 when a set is empty). Backward: dpred for L = w_masked*masked + w_visible*visible. */  \
  X(void, masked_mse_forward, (T *loss_masked, T *loss_visible, const T *pred, const T *target,  \
                             const T *mask, int N, int C))                                      \
  X(void, masked_mse_backward, (T *dpred, const T *pred, const T *target, const T *mask, int N,  \
                              int C, T w_masked, T w_visible))                                  \
  /* Cross-entropy of logits (N,V) against class ids targets (N): *loss = mean over rows;      \
   * probs (N,V) softmax kept for backward; dlogits = dloss * (probs - onehot) / N. */          \
  X(void, cross_entropy_forward, (T *loss, T *probs, const T *logits, const int *targets, int N, \
                                int V))                                                         \
  X(void, cross_entropy_backward, (T *dlogits, const T *probs, const int *targets, int N, int V, \
                                 T dloss))                                                      \
  /* L2 normalisation of each row of (N,C): out = inp / ||inp||, norm (N) saved. */            \
  X(void, l2norm_forward, (T *out, T *norm, const T *inp, int N, int C))                         \
  X(void, l2norm_backward, (T *dinp, const T *dout, const T *out, const T *norm, int N, int C))  \
  /* Sinusoidal timestep features (PyTorch DiT): f_k = exp(-ln(max_period) k / half),         \
   * out (B, 2*half) = [cos(t f), sin(t f)] for each t[b]. */                                   \
  X(void, timestep_embedding, (T *out, const int *t, int B, int half, T max_period))             \
  /* One Adam step over n values; `step` counts from 1. decoupled=0: PyTorch Adam (weight     \
   * decay as L2 added to the gradient); decoupled=1: AdamW (p -= lr*wd*p first). Hyper-parameters are double,  \
   * like PyTorch's Python floats (1 - beta2 from a float 0.999 would be off by 5e-5). */            \
  X(void, adam_update, (T *param, const T *grad, T *m, T *v, size_t n, double lr, double beta1, \
                      double beta2, double eps, double weight_decay, int step, int decoupled))

#define DC_CPU_DECL_F32(ret, name, args) ret dc_cpu_f32_##name args;
#define DC_CPU_DECL_F64(ret, name, args) ret dc_cpu_f64_##name args;
DC_OPS(DC_CPU_DECL_F32, float)
DC_OPS(DC_CPU_DECL_F64, double)

/* Fused forms of the ops above, optional in a backend (struct dc_backend's members are
 * NULL where it has none, and the nn layer then calls the ops above one by one, with the
 * same mathematics). The CPU backend has them: its GEMMs carry the epilogues in their own
 * pass (oneDNN post-ops), saving a pass over the result each.
 *  - linear_forward_residual: out (N,OC) = inp . weight^T + bias + res; res (N,OC) does
 *    not alias out.
 *  - linear_forward_act: out (N,OC) = act(inp . weight^T + bias) (inference: backward
 *    needs the pre-activation, which this does not keep).
 *  - act_forward_grad: out = act(inp) and grad = act'(inp) over n values; grad may alias
 *    inp (so a training forward can keep act' where the pre-activation was).
 *  - linear_backward_gated: linear_backward with dinp = (dout . weight) * gate, gate
 *    (N,IC): an activation's backward folded into the GEMM before it.
 *  - attention_pooled_forward: attention_forward's output at one query row of each
 *    sequence only, pool[b] (B, backend memory; causal: keys <= pool[b]): out (B,C), att
 *    (B,NH,T) that row's probabilities (0 where masked) or NULL. It is those rows of
 *    attention_forward, for a stack whose output is read at one row per sequence (the
 *    cls or end-of-text row; nn.h's dc_stack_acts_pool).
 *  - attention_pooled_backward: its backward; dqkv (B,T,3C) ASSIGNED: q's part is zero
 *    but at the pooled rows. */
#define DC_FUSED_OPS(X, T)                                                                           \
  X(void, linear_forward_residual, (T *out, const T *inp, const T *weight, const T *bias, const T *res, \
                                    int N, int IC, int OC))                                          \
  X(void, linear_forward_act, (enum dc_act act, T *out, const T *inp, const T *weight, const T *bias,  \
                               int N, int IC, int OC))                                               \
  X(void, act_forward_grad, (enum dc_act act, T *out, T *grad, const T *inp, size_t n))              \
  X(void, linear_backward_gated, (T *dinp, T *dweight, T *dbias, const T *dout, const T *inp,        \
                                  const T *weight, const T *gate, int N, int IC, int OC))             \
  X(void, attention_pooled_forward, (T *out, T *att, const T *qkv, const int *pool, int B, int T_,     \
                                     int C, int NH, int causal))                                       \
  X(void, attention_pooled_backward, (T *dqkv, const T *dout, const T *qkv, const T *att,             \
                                      const int *pool, int B, int T_, int C, int NH))
DC_FUSED_OPS(DC_CPU_DECL_F32, float)
DC_FUSED_OPS(DC_CPU_DECL_F64, double)

#endif
