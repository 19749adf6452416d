/* Masked mean-squared error of the MAE reconstruction, for the CPU backend.
 *
 * Each pixel's error is the mean over its C channels of (pred - target)^2. The masked loss
 * averages it over the pixels with mask != 0, the visible loss over the others; an empty set
 * gives 0 and no gradient. Both losses are returned separately because the training loss
 * weights them differently (w_masked, w_visible). Sums run in double: a float sum over all
 * pixels of an image batch would lose the small per-pixel errors late in training.
 *
 * Backward ASSIGNS dpred, the gradient of w_masked * loss_masked + w_visible * loss_visible. */
#include "backend/cpu/real.h"

void OP(masked_mse_forward)(real *loss_masked,  /* (1) */
                            real *loss_visible, /* (1) */
                            const real *pred,   /* (N, C) */
                            const real *target, /* (N, C) */
                            const real *mask,   /* (N), 0 or 1 */
                            int N, int C) {
  double sum_m = 0, sum_v = 0;
  long n_m = 0;
#pragma omp parallel for reduction(+ : sum_m, sum_v, n_m) schedule(static)
  for (int p = 0; p < N; p++) {
    const real *x = pred + (size_t)p * C, *y = target + (size_t)p * C;
    double e = 0;
#pragma omp simd reduction(+ : e)
    for (int c = 0; c < C; c++) {
      double d = (double)x[c] - (double)y[c];
      e += d * d;
    }
    if (mask[p] != 0) {
      sum_m += e;
      n_m++;
    } else {
      sum_v += e;
    }
  }
  long n_v = N - n_m;
  *loss_masked = n_m ? (real)(sum_m / ((double)n_m * C)) : 0;
  *loss_visible = n_v ? (real)(sum_v / ((double)n_v * C)) : 0;
}

void OP(masked_mse_backward)(real *dpred,        /* (N, C), = */
                             const real *pred,   /* (N, C) */
                             const real *target, /* (N, C) */
                             const real *mask,   /* (N) */
                             int N, int C, real w_masked, real w_visible) {
  if (dpred == NULL) return;
  long n_m = 0;
#pragma omp parallel for reduction(+ : n_m) schedule(static)
  for (int p = 0; p < N; p++) n_m += mask[p] != 0;
  long n_v = N - n_m;
  /* d/dpred of w * sum (pred - target)^2 / (n * C) */
  real g_m = n_m ? (real)(2.0 * w_masked / ((double)n_m * C)) : 0;
  real g_v = n_v ? (real)(2.0 * w_visible / ((double)n_v * C)) : 0;
#pragma omp parallel for schedule(static)
  for (int p = 0; p < N; p++) {
    real g = mask[p] != 0 ? g_m : g_v;
    const real *x = pred + (size_t)p * C, *y = target + (size_t)p * C;
    real *dx = dpred + (size_t)p * C;
#pragma omp simd
    for (int c = 0; c < C; c++) dx[c] = g * (x[c] - y[c]);
  }
}
