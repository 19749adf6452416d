/* Layer normalisation over the last dimension C of (N,C) rows, for the CPU backend.
 *
 * out = (x - mean) * rstd * weight + bias with the biased variance; mean and rstd (N) are
 * saved for backward. Row statistics are accumulated in double even in the float build:
 * rows of token embeddings can have a large mean next to a small spread, where a float
 * E[x^2] - E[x]^2 (or even a float two-pass sum) loses most digits.
 *
 * Backward: dinp is ASSIGNED, dweight and dbias ACCUMULATE (+=); NULL ones are skipped.
 * The parameter gradients are summed per thread over a fixed block of rows and the
 * partials are added in thread order, so a run is bit-reproducible for a fixed thread
 * count. */
#include <stdlib.h>

#include <omp.h>

#include "backend/cpu/real.h"

void OP(layernorm_forward)(real *out,          /* (N, C) */
                           real *mean,         /* (N) */
                           real *rstd,         /* (N) */
                           const real *inp,    /* (N, C) */
                           const real *weight, /* (C) */
                           const real *bias,   /* (C) */
                           int N, int C, real eps) {
  if (C <= 0) return;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const real *x = inp + (size_t)n * C;
    real *o = out + (size_t)n * C;
    /* Two passes (mean, then squared deviations): no cancellation for offset rows. */
    double m = 0;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    double v = 0;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) {
      double d = x[c] - m;
      v += d * d;
    }
    v /= C;
    double s = 1.0 / sqrt(v + (double)eps);
    real mr = (real)m, sr = (real)s;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (x[c] - mr) * sr * weight[c] + bias[c];
    mean[n] = mr;
    rstd[n] = sr;
  }
}

/* dinp for one row: with g = dout * weight and xhat the normalised input,
 * dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)). */
static void layernorm_backward_row(real *dx, const real *dy, const real *x, const real *weight,
                                   real m, real s, int C) {
  double g_mean = 0, gx_mean = 0;
#pragma omp simd reduction(+ : g_mean, gx_mean)
  for (int c = 0; c < C; c++) {
    real g = dy[c] * weight[c];
    g_mean += g;
    gx_mean += g * ((x[c] - m) * s);
  }
  real gm = (real)(g_mean / C), gxm = (real)(gx_mean / C);
#pragma omp simd
  for (int c = 0; c < C; c++) {
    real xhat = (x[c] - m) * s;
    dx[c] = s * (dy[c] * weight[c] - gm - xhat * gxm);
  }
}

void OP(layernorm_backward)(real *dinp,         /* (N, C) or NULL */
                            real *dweight,      /* (C) or NULL */
                            real *dbias,        /* (C) or NULL */
                            const real *dout,   /* (N, C) */
                            const real *inp,    /* (N, C) */
                            const real *weight, /* (C) */
                            const real *mean,   /* (N) */
                            const real *rstd,   /* (N) */
                            int N, int C) {
  if (N <= 0 || C <= 0) return;
  int want_params = dweight != NULL || dbias != NULL;
  /* Per-thread partial sums of dweight (first C) and dbias (next C); a thread that cannot
   * get its buffer leaves its slot NULL and the rows are summed again serially below. */
  double **partial = NULL;
  int nthreads = 1;
#pragma omp parallel
  {
#pragma omp single
    {
      nthreads = omp_get_num_threads();
      if (want_params) partial = calloc((size_t)nthreads, sizeof *partial);
    }
    int tid = omp_get_thread_num();
    double *acc = partial ? calloc(2 * (size_t)C, sizeof *acc) : NULL;
    if (partial) partial[tid] = acc;
    /* Contiguous static row blocks: the same rows land in the same partial every run. */
    int n0 = (int)((long long)N * tid / nthreads), n1 = (int)((long long)N * (tid + 1) / nthreads);
    for (int n = n0; n < n1; n++) {
      const real *dy = dout + (size_t)n * C, *x = inp + (size_t)n * C;
      if (dinp) layernorm_backward_row(dinp + (size_t)n * C, dy, x, weight, mean[n], rstd[n], C);
      if (acc) {
        real m = mean[n], s = rstd[n];
#pragma omp simd
        for (int c = 0; c < C; c++) {
          acc[c] += dy[c] * ((x[c] - m) * s);
          acc[C + c] += dy[c];
        }
      }
    }
  }
  if (!want_params) return;
  int complete = partial != NULL;
  for (int t = 0; complete && t < nthreads; t++) complete = partial[t] != NULL;
  if (complete) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
      double w = 0, b = 0;
      for (int t = 0; t < nthreads; t++) {
        w += partial[t][c];
        b += partial[t][C + c];
      }
      if (dweight) dweight[c] += (real)w;
      if (dbias) dbias[c] += (real)b;
    }
  } else {
    /* Out of memory for the partials: sum each column serially (slow, rare, same terms). */
    for (int c = 0; c < C; c++) {
      double w = 0, b = 0;
      for (int n = 0; n < N; n++) {
        real dy = dout[(size_t)n * C + c];
        w += dy * ((inp[(size_t)n * C + c] - mean[n]) * rstd[n]);
        b += dy;
      }
      if (dweight) dweight[c] += (real)w;
      if (dbias) dbias[c] += (real)b;
    }
  }
  if (partial)
    for (int t = 0; t < nthreads; t++) free(partial[t]);
  free(partial);
}
