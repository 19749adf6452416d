/* Row-wise L2 normalisation, out = x / ||x||, for the CPU backend (CLIP feature
 * normalisation before the similarity logits).
 *
 * No epsilon, exactly like PyTorch's x / x.norm(dim=-1, keepdim=True): a zero row gives
 * NaN there too, and an epsilon would shift every gradient against the reference. The norm
 * (N) is saved for backward; squares are summed in double.
 *
 * Backward ASSIGNS dinp = (dout - out * <dout, out>) / norm. */
#include "backend/cpu/real.h"

void OP(l2norm_forward)(real *out,       /* (N, C) */
                        real *norm,      /* (N) */
                        const real *inp, /* (N, C) */
                        int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const real *x = inp + (size_t)n * C;
    real *o = out + (size_t)n * C;
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    double nr = sqrt(ss);
    real inv = (real)(1.0 / nr);
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = x[c] * inv;
    norm[n] = (real)nr;
  }
}

void OP(l2norm_backward)(real *dinp,       /* (N, C), = */
                         const real *dout, /* (N, C) */
                         const real *out,  /* (N, C) */
                         const real *norm, /* (N) */
                         int N, int C) {
  if (dinp == NULL) return;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const real *dy = dout + (size_t)n * C, *y = out + (size_t)n * C;
    real *dx = dinp + (size_t)n * C;
    double proj = 0;
#pragma omp simd reduction(+ : proj)
    for (int c = 0; c < C; c++) proj += (double)dy[c] * y[c];
    real pr = (real)proj, inv = (real)(1.0 / (double)norm[n]);
#pragma omp simd
    for (int c = 0; c < C; c++) dx[c] = (dy[c] - y[c] * pr) * inv;
  }
}
