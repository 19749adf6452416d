/* Fully connected layer (and 1x1 convolution on channel-last pixels) for the CPU backend.
 *
 * N rows, IC input channels, OC output channels. Both directions are the backend's GEMMs; only the
 * bias gradient, a column sum, is done by hand. Backward: dinp is ASSIGNED, dweight and
 * dbias ACCUMULATE (+=); NULL gradients are skipped. */
#include "backend/cpu/real.h"
#ifndef DC_REAL_F64
#include "backend/cpu/matmul.h"
#endif

/* Columns per task of the bias-gradient sum: wide enough for vector loads over a row,
 * narrow enough that OC = 128 still splits across a few threads. */
#define LINEAR_DBIAS_BLOCK 32
/* Rows per partial sum of the bias gradient (see linear_backward) */
#define LINEAR_DBIAS_ROWS 64

void OP(linear_forward)(real *out,          /* (N, OC) */
                        const real *inp,    /* (N, IC) */
                        const real *weight, /* (OC, IC) */
                        const real *bias,   /* (OC) or NULL */
                        int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
#ifndef DC_REAL_F64
  /* oneDNN adds the bias in the product's own pass */
  if (bias && IC > 0 && dc_cpu_matmul_epi_f32(1, 0, 1, N, OC, IC, inp, IC, weight, IC, bias, DC_MM_EPI_NONE, 0.0f, NULL, out, OC)) return;
#endif
  real beta = 0;
  if (bias || IC <= 0) {
    /* Start from the broadcast bias and let the GEMM add to it (beta = 1): one pass over
     * out instead of a second one after the product. */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
      real *o = out + (size_t)n * OC;
      for (int c = 0; c < OC; c++) o[c] = bias ? bias[c] : (real)0;
    }
    beta = 1;
  }
  if (IC <= 0) return; /* BLAS rejects a zero leading dimension; out is already bias or 0 */
  OP(gemm_prec)(1, 0, 1, N, OC, IC, (real)1, inp, IC, weight, IC, beta, out, OC);
}

void OP(linear_backward)(real *dinp,         /* (N, IC) or NULL */
                         real *dweight,      /* (OC, IC) or NULL */
                         real *dbias,        /* (OC) or NULL */
                         const real *dout,   /* (N, OC) */
                         const real *inp,    /* (N, IC) */
                         const real *weight, /* (OC, IC) */
                         int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  if (dinp && IC > 0) /* dinp = dout . weight */
    OP(gemm_prec)(1, 0, 0, N, IC, OC, (real)1, dout, OC, weight, IC, (real)0, dinp, IC);
  if (dweight && IC > 0) /* dweight += dout^T . inp */
    OP(gemm_prec)(1, 1, 0, OC, IC, N, (real)1, dout, OC, inp, IC, (real)1, dweight, IC);
  if (dbias) {
    /* Each task owns a block of columns and walks all rows in order, so the sum does not
     * depend on the thread count; chunks of 64 rows are summed in `real` and the chunks
     * in double, because N (pixels times batch) is large enough to lose float digits in
     * one running float sum. */
    int nblocks = (OC + LINEAR_DBIAS_BLOCK - 1) / LINEAR_DBIAS_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
      int c0 = blk * LINEAR_DBIAS_BLOCK;
      int nc = OC - c0 < LINEAR_DBIAS_BLOCK ? OC - c0 : LINEAR_DBIAS_BLOCK;
      double acc[LINEAR_DBIAS_BLOCK] = {0};
      for (int n0 = 0; n0 < N; n0 += LINEAR_DBIAS_ROWS) {
        /* rows in chunks summed in `real` (vector adds, no conversions), each chunk's sum
         * then added in double */
        int n1 = N - n0 < LINEAR_DBIAS_ROWS ? N : n0 + LINEAR_DBIAS_ROWS;
        real part[LINEAR_DBIAS_BLOCK] = {0};
        if (nc == LINEAR_DBIAS_BLOCK)
          for (int n = n0; n < n1; n++) {
            const real *d = dout + (size_t)n * OC + c0;
#pragma omp simd
            for (int c = 0; c < LINEAR_DBIAS_BLOCK; c++) part[c] += d[c];
          }
        else
          for (int n = n0; n < n1; n++) {
            const real *d = dout + (size_t)n * OC + c0;
            for (int c = 0; c < nc; c++) part[c] += d[c];
          }
        for (int c = 0; c < nc; c++) acc[c] += part[c];
      }
      for (int c = 0; c < nc; c++) dbias[c0 + c] += (real)acc[c];
    }
  }
}

/* ---- the fused forms (ops.h): oneDNN's post-ops where it takes them, else the ops in
 * turn (always in the double build) ---- */

void OP(linear_forward_residual)(real *out,          /* (N, OC) */
                                 const real *inp,    /* (N, IC) */
                                 const real *weight, /* (OC, IC) */
                                 const real *bias,   /* (OC) or NULL */
                                 const real *res,    /* (N, OC) */
                                 int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
#ifndef DC_REAL_F64
  if (IC > 0 && dc_cpu_matmul_epi_f32(1, 0, 1, N, OC, IC, inp, IC, weight, IC, bias, DC_MM_EPI_ADD, 0.0f, res, out, OC))
    return;
#endif
  OP(linear_forward)(out, inp, weight, bias, N, IC, OC);
  OP(add_inplace)(out, res, (size_t)N * OC);
}

void OP(linear_forward_act)(enum dc_act act, real *out, /* (N, OC) */
                            const real *inp,            /* (N, IC) */
                            const real *weight,         /* (OC, IC) */
                            const real *bias,           /* (OC) or NULL */
                            int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
#ifndef DC_REAL_F64
  /* QuickGELU and SiLU are both x sigmoid(alpha x) */
  enum dc_mm_epi epi = act == DC_ACT_GELU ? DC_MM_EPI_GELU : act == DC_ACT_RELU ? DC_MM_EPI_RELU : DC_MM_EPI_SWISH;
  float alpha = act == DC_ACT_QUICKGELU ? 1.702f : 1.0f;
  if (IC > 0 && dc_cpu_matmul_epi_f32(1, 0, 1, N, OC, IC, inp, IC, weight, IC, bias, epi, alpha, NULL, out, OC)) return;
#endif
  OP(linear_forward)(out, inp, weight, bias, N, IC, OC);
  OP(act_forward)(act, out, out, (size_t)N * OC);
}

void OP(linear_backward_gated)(real *dinp,         /* (N, IC) or NULL */
                               real *dweight,      /* (OC, IC) or NULL */
                               real *dbias,        /* (OC) or NULL */
                               const real *dout,   /* (N, OC) */
                               const real *inp,    /* (N, IC) */
                               const real *weight, /* (OC, IC) */
                               const real *gate,   /* (N, IC) */
                               int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  int done = !dinp || IC <= 0;
#ifndef DC_REAL_F64
  if (!done)
    done = dc_cpu_matmul_epi_f32(1, 0, 0, N, IC, OC, dout, OC, weight, IC, NULL, DC_MM_EPI_MUL, 0.0f, gate, dinp, IC);
#endif
  OP(linear_backward)(done ? NULL : dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
  if (!done) {
    size_t n = (size_t)N * IC;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] *= gate[i];
  }
}
