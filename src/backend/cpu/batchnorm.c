/* Batch normalisation over the N rows of (N,C) (pixels of a batch, channel-last), for the
 * CPU backend: training mode (batch statistics, running statistics updated with momentum,
 * PyTorch semantics) and eval mode (the running statistics as a fixed affine map).
 *
 * Backward: dinp is ASSIGNED, dweight and dbias ACCUMULATE (+=); NULL ones are skipped.
 *
 * Every statistic is a column reduction over N rows. Each OpenMP task owns a block of
 * BN_BLOCK columns and walks all rows in order with double accumulators, so results are
 * bit-identical for any thread count and need no scratch memory; the blocks are one
 * float cache line wide so neighbouring tasks rarely share a line. */
#include <stdlib.h>

#include "backend/cpu/real.h"

#define BN_BLOCK 16

static inline int bn_block_width(int C, int c0) { return C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK; }

/* ---- training mode, in parts ----
 * A training-mode BatchNorm is three column reductions and two element-wise passes. They
 * are separate ops so that a data-parallel job can sum the reductions over ranks between
 * them (synchronised BatchNorm: the statistics of the GLOBAL batch, so 1 rank and R ranks
 * compute the same thing); the fused ops below are the single-process composition. */

void OP(batchnorm_colsum)(double *out,          /* (C) */
                          const real *inp,      /* (N, C) */
                          const double *center, /* (C) or NULL */
                          int N, int C) {
  /* out = sum_n x (center NULL), or sum_n (x - center)^2: the mean's and the two-pass
   * variance's sums, so a large channel offset does not cancel the variance away. */
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    double acc[BN_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0;
      if (center)
        for (int c = 0; c < nc; c++) {
          double d = x[c] - center[c0 + c];
          acc[c] += d * d;
        }
      else
        for (int c = 0; c < nc; c++) acc[c] += x[c];
    }
    for (int c = 0; c < nc; c++) out[c0 + c] = acc[c];
  }
}

void OP(batchnorm_apply_train)(real *out,            /* (N, C) */
                               real *mean,           /* (C) saved for backward */
                               real *rstd,           /* (C) saved for backward */
                               real *running_mean,   /* (C) or NULL */
                               real *running_var,    /* (C) or NULL */
                               const real *inp,      /* (N, C) */
                               const real *weight,   /* (C) */
                               const real *bias,     /* (C) */
                               const double *mean_d, /* (C) batch mean */
                               const double *var_d,  /* (C) biased batch variance */
                               double n_total, int N, int C, real eps, real momentum) {
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    real scale[BN_BLOCK], shift[BN_BLOCK];
    for (int c = 0; c < nc; c++) {
      double m = mean_d[c0 + c], var = var_d[c0 + c];
      double s = 1.0 / sqrt(var + (double)eps);
      mean[c0 + c] = (real)m;
      rstd[c0 + c] = (real)s;
      /* out = x * scale + shift, folded in double so the float build only rounds once. */
      scale[c] = (real)(s * weight[c0 + c]);
      shift[c] = (real)(bias[c0 + c] - m * s * weight[c0 + c]);
      /* PyTorch keeps the unbiased variance; with one row it is undefined, and the biased
       * one (0) is kept rather than poisoning running_var with inf. */
      double unbiased = n_total > 1 ? var * n_total / (n_total - 1) : var;
      if (running_mean)
        running_mean[c0 + c] = (real)((1 - (double)momentum) * running_mean[c0 + c] + momentum * m);
      if (running_var)
        running_var[c0 + c] = (real)((1 - (double)momentum) * running_var[c0 + c] + momentum * unbiased);
    }
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0;
      real *o = out + (size_t)n * C + c0;
      for (int c = 0; c < nc; c++) o[c] = x[c] * scale[c] + shift[c];
    }
  }
}

void OP(batchnorm_backward_colsum)(double *out,      /* (2C): sum dy, then sum dy * xhat */
                                   const real *dout, /* (N, C) */
                                   const real *inp,  /* (N, C) */
                                   const real *mean, /* (C) */
                                   const real *rstd, /* (C) */
                                   int N, int C) {
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    double sdy[BN_BLOCK] = {0}, sdyx[BN_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
      for (int c = 0; c < nc; c++) {
        sdy[c] += dy[c];
        sdyx[c] += dy[c] * ((x[c] - mean[c0 + c]) * rstd[c0 + c]);
      }
    }
    for (int c = 0; c < nc; c++) {
      out[c0 + c] = sdy[c];
      out[C + c0 + c] = sdyx[c];
    }
  }
}

void OP(batchnorm_backward_apply)(real *dinp,         /* (N, C) or NULL */
                                  real *dweight,      /* (C) or NULL */
                                  real *dbias,        /* (C) or NULL */
                                  const real *dout,   /* (N, C) */
                                  const real *inp,    /* (N, C) */
                                  const real *weight, /* (C) */
                                  const real *mean,   /* (C) */
                                  const real *rstd,   /* (C) */
                                  const double *local,  /* (2C) this process's sums */
                                  const double *total,  /* (2C) the sums over the whole batch */
                                  double n_total, int N, int C) {
  /* The parameter gradients take this process's share; the input gradient needs the
   * whole batch's: dinp = rstd * w * (dy - mean(dy) - xhat * mean(dy * xhat)). */
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    for (int c = 0; c < nc; c++) {
      if (dweight) dweight[c0 + c] += (real)local[C + c0 + c];
      if (dbias) dbias[c0 + c] += (real)local[c0 + c];
    }
    if (!dinp) continue;
    real k[BN_BLOCK], mdy[BN_BLOCK], mdyx[BN_BLOCK];
    for (int c = 0; c < nc; c++) {
      k[c] = rstd[c0 + c] * weight[c0 + c];
      mdy[c] = (real)(total[c0 + c] / n_total);
      mdyx[c] = (real)(total[C + c0 + c] / n_total);
    }
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
      real *dx = dinp + (size_t)n * C + c0;
      for (int c = 0; c < nc; c++) {
        real xhat = (x[c] - mean[c0 + c]) * rstd[c0 + c];
        dx[c] = k[c] * (dy[c] - mdy[c] - xhat * mdyx[c]);
      }
    }
  }
}

/* ---- training mode, fused for one process ---- */

#define BN_STACK_C 1024 /* channels handled without heap scratch */

void OP(batchnorm_forward_train)(real *out,          /* (N, C) */
                                 real *mean,         /* (C) */
                                 real *rstd,         /* (C) */
                                 real *running_mean, /* (C) or NULL */
                                 real *running_var,  /* (C) or NULL */
                                 const real *inp,    /* (N, C) */
                                 const real *weight, /* (C) */
                                 const real *bias,   /* (C) */
                                 int N, int C, real eps, real momentum) {
  if (N <= 0 || C <= 0) return;
  double stack[2 * BN_STACK_C], *m = C <= BN_STACK_C ? stack : malloc(2 * (size_t)C * sizeof *m);
  if (!m) return;
  double *v = m + C;
  OP(batchnorm_colsum)(m, inp, NULL, N, C);
  for (int c = 0; c < C; c++) m[c] /= N;
  OP(batchnorm_colsum)(v, inp, m, N, C);
  for (int c = 0; c < C; c++) v[c] /= N; /* biased: the variance the batch is normalised with */
  OP(batchnorm_apply_train)(out, mean, rstd, running_mean, running_var, inp, weight, bias, m, v, (double)N, N, C, eps,
                            momentum);
  if (m != stack) free(m);
}

void OP(batchnorm_backward_train)(real *dinp,         /* (N, C) or NULL */
                                  real *dweight,      /* (C) or NULL */
                                  real *dbias,        /* (C) or NULL */
                                  const real *dout,   /* (N, C) */
                                  const real *inp,    /* (N, C) */
                                  const real *weight, /* (C) */
                                  const real *mean,   /* (C) */
                                  const real *rstd,   /* (C) */
                                  int N, int C) {
  if (N <= 0 || C <= 0) return;
  double stack[2 * BN_STACK_C], *sums = C <= BN_STACK_C ? stack : malloc(2 * (size_t)C * sizeof *sums);
  if (!sums) return;
  OP(batchnorm_backward_colsum)(sums, dout, inp, mean, rstd, N, C);
  OP(batchnorm_backward_apply)(dinp, dweight, dbias, dout, inp, weight, mean, rstd, sums, sums, (double)N, N, C);
  if (sums != stack) free(sums);
}

void OP(batchnorm_forward_eval)(real *out,                /* (N, C) */
                                const real *inp,          /* (N, C) */
                                const real *weight,       /* (C) */
                                const real *bias,         /* (C) */
                                const real *running_mean, /* (C) */
                                const real *running_var,  /* (C) */
                                int N, int C, real eps) {
  if (N <= 0 || C <= 0) return;
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    real scale[BN_BLOCK], shift[BN_BLOCK];
    for (int c = 0; c < nc; c++) {
      double s = weight[c0 + c] / sqrt((double)running_var[c0 + c] + eps);
      scale[c] = (real)s;
      shift[c] = (real)(bias[c0 + c] - running_mean[c0 + c] * s);
    }
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0;
      real *o = out + (size_t)n * C + c0;
      for (int c = 0; c < nc; c++) o[c] = x[c] * scale[c] + shift[c];
    }
  }
}

void OP(batchnorm_backward_eval)(real *dinp,               /* (N, C) or NULL */
                                 real *dweight,            /* (C) or NULL */
                                 real *dbias,              /* (C) or NULL */
                                 const real *dout,         /* (N, C) */
                                 const real *inp,          /* (N, C) */
                                 const real *weight,       /* (C) */
                                 const real *running_mean, /* (C) */
                                 const real *running_var,  /* (C) */
                                 int N, int C, real eps) {
  if (N <= 0 || C <= 0) return;
  int nblocks = (C + BN_BLOCK - 1) / BN_BLOCK;
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < nblocks; blk++) {
    int c0 = blk * BN_BLOCK, nc = bn_block_width(C, c0);
    /* With fixed statistics the layer is affine per channel: no cross-row terms. */
    real inv[BN_BLOCK], k[BN_BLOCK];
    double sdy[BN_BLOCK] = {0}, sdyx[BN_BLOCK] = {0};
    for (int c = 0; c < nc; c++) {
      double s = 1.0 / sqrt((double)running_var[c0 + c] + eps);
      inv[c] = (real)s;
      k[c] = (real)(s * weight[c0 + c]);
    }
    for (int n = 0; n < N; n++) {
      const real *x = inp + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
      for (int c = 0; c < nc; c++) {
        sdy[c] += dy[c];
        sdyx[c] += dy[c] * ((x[c] - running_mean[c0 + c]) * inv[c]);
      }
      if (dinp) {
        real *dx = dinp + (size_t)n * C + c0;
        for (int c = 0; c < nc; c++) dx[c] = dy[c] * k[c];
      }
    }
    for (int c = 0; c < nc; c++) {
      if (dweight) dweight[c0 + c] += (real)sdyx[c];
      if (dbias) dbias[c0 + c] += (real)sdy[c];
    }
  }
}
