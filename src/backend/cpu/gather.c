/* Row gathers and scatters for MAE-style masking, and a strided row copy, for the CPU
 * backend. Every op works on rows of C values inside per-batch-item blocks; the block
 * strides (inp_rows, out_rows) are separate from the counts (K, L) so callers can point
 * into a larger buffer, e.g. write tokens 1..K of a (B, K+1, C) sequence by passing
 * out + C with out_rows = K+1, leaving row 0 for a class token.
 *
 * Gradients: gather_rows_backward ACCUMULATES into dinp (callers zero it; rows that were
 * not gathered get nothing). scatter_rows_fill_backward ASSIGNS dinp and ACCUMULATES dfill
 * (the fill row is a parameter: the mask token). Loops over batch items are OpenMP-parallel:
 * each item owns its own block of rows, so the accumulations cannot race even when an index
 * repeats within an item. */
#include <string.h>

#include "backend/cpu/real.h"

/* Rows of the fill-gradient bitmap handled per pass: bounded stack use, no allocation. */
#define FILL_WINDOW 4096

void OP(gather_rows)(real *out, int out_rows,      /* (B, out_rows, C), rows 0..K-1 written */
                     const real *inp, int inp_rows, /* (B, inp_rows, C) */
                     const int *idx,                /* (B, K), values in [0, inp_rows) */
                     int B, int K, int C) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; b++)
    for (int k = 0; k < K; k++)
      memcpy(out + ((size_t)b * out_rows + k) * C,
             inp + ((size_t)b * inp_rows + idx[(size_t)b * K + k]) * C, (size_t)C * sizeof(real));
}

void OP(gather_rows_backward)(real *dinp, int inp_rows,        /* (B, inp_rows, C), += */
                              const real *dout, int out_rows,  /* (B, out_rows, C) */
                              const int *idx,                  /* (B, K) */
                              int B, int K, int C) {
  if (dinp == NULL) return;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; b++)
    for (int k = 0; k < K; k++) {
      real *dx = dinp + ((size_t)b * inp_rows + idx[(size_t)b * K + k]) * C;
      const real *dy = dout + ((size_t)b * out_rows + k) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) dx[c] += dy[c];
    }
}

void OP(scatter_rows_fill)(real *out, int out_rows, int L,    /* (B, out_rows, C), rows 0..L-1 */
                           const real *inp, int inp_rows,     /* (B, inp_rows, C), rows 0..K-1 */
                           const real *fill,                  /* (C) */
                           const int *idx,                    /* (B, K), values in [0, L) */
                           int B, int K, int C) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; b++) {
    real *o = out + (size_t)b * out_rows * C;
    for (int r = 0; r < L; r++) memcpy(o + (size_t)r * C, fill, (size_t)C * sizeof(real));
    for (int k = 0; k < K; k++)
      memcpy(o + (size_t)idx[(size_t)b * K + k] * C, inp + ((size_t)b * inp_rows + k) * C,
             (size_t)C * sizeof(real));
  }
}

void OP(scatter_rows_fill_backward)(real *dinp, int inp_rows,         /* (B, inp_rows, C), = */
                                    real *dfill,                      /* (C), += */
                                    const real *dout, int out_rows, int L, /* (B, out_rows, C) */
                                    const int *idx,                   /* (B, K) */
                                    int B, int K, int C) {
  if (dinp != NULL) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
      for (int k = 0; k < K; k++)
        memcpy(dinp + ((size_t)b * inp_rows + k) * C,
               dout + ((size_t)b * out_rows + idx[(size_t)b * K + k]) * C, (size_t)C * sizeof(real));
  }
  if (dfill == NULL) return;
  /* The fill reached exactly the rows no index wrote, so mark the written rows and sum the
   * rest. Serial: the sum runs into one C-vector, and a fixed order keeps it reproducible. */
  unsigned char written[FILL_WINDOW];
  for (int b = 0; b < B; b++) {
    const int *ib = idx + (size_t)b * K;
    const real *db = dout + (size_t)b * out_rows * C;
    for (int r0 = 0; r0 < L; r0 += FILL_WINDOW) {
      int r1 = r0 + FILL_WINDOW < L ? r0 + FILL_WINDOW : L;
      memset(written, 0, (size_t)(r1 - r0));
      for (int k = 0; k < K; k++)
        if (ib[k] >= r0 && ib[k] < r1) written[ib[k] - r0] = 1;
      for (int r = r0; r < r1; r++) {
        if (written[r - r0]) continue;
        const real *dy = db + (size_t)r * C;
#pragma omp simd
        for (int c = 0; c < C; c++) dfill[c] += dy[c];
      }
    }
  }
}

/* out and inp must not overlap (rows are copied in parallel). */
void OP(copy_rows)(real *out, int out_stride,      /* (rows, out_stride), columns 0..C-1 */
                   const real *inp, int inp_stride, /* (rows, inp_stride) */
                   int rows, int C) {
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int r = 0; r < rows; r++)
    memcpy(out + (size_t)r * out_stride, inp + (size_t)r * inp_stride, (size_t)C * sizeof(real));
}
