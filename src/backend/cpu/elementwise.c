/* Small elementwise ops for the CPU backend: residual adds, a broadcast row add (position
 * embeddings, biases) with its backward, scaling, a transpose, and a dot product.
 *
 * add_broadcast_backward ACCUMULATES into drow (the row is a parameter). dot sums in double
 * whatever `real` is, because it feeds norms and checks where float sums lose digits. */
#include "backend/cpu/real.h"

/* Below this many values a parallel region costs more than the loop. */
#define PAR_MIN ((size_t)1 << 15)

void OP(add_inplace)(real *y,       /* (n) */
                     const real *x, /* (n) */
                     size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void OP(add_broadcast)(real *y,         /* (B, n) */
                       const real *row, /* (n) */
                       int B, size_t n) {
#pragma omp parallel for schedule(static) if ((size_t)B * n >= PAR_MIN)
  for (int b = 0; b < B; b++) {
    real *yb = y + (size_t)b * n;
#pragma omp simd
    for (size_t i = 0; i < n; i++) yb[i] += row[i];
  }
}

/* Columns per chunk in add_broadcast_backward: the partial sums stay in registers/L1. */
#define COL_CHUNK 256

void OP(add_broadcast_backward)(real *drow,     /* (n), += */
                                const real *dy, /* (B, n) */
                                int B, size_t n) {
  if (drow == NULL) return;
  /* Parallel over column chunks: each thread owns its slice of drow, rows are read
   * contiguously, and the sum over b runs in a fixed order whatever the thread count. */
  size_t chunks = (n + COL_CHUNK - 1) / COL_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)B * n >= PAR_MIN)
  for (size_t ch = 0; ch < chunks; ch++) {
    size_t i0 = ch * COL_CHUNK, w = n - i0 < COL_CHUNK ? n - i0 : COL_CHUNK;
    real acc[COL_CHUNK] = {0};
    for (int b = 0; b < B; b++) {
      const real *d = dy + (size_t)b * n + i0;
#pragma omp simd
      for (size_t i = 0; i < w; i++) acc[i] += d[i];
    }
    for (size_t i = 0; i < w; i++) drow[i0 + i] += acc[i];
  }
}

void OP(scale_inplace)(real *y, /* (n) */
                       real a, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] *= a;
}

/* Tile edge for the transpose: a tile of inp and one of out both stay in L1. */
#define TILE 32

void OP(transpose)(real *out,       /* (C, R) */
                   const real *inp, /* (R, C) */
                   int R, int C) {
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)R * C >= PAR_MIN)
  for (int r0 = 0; r0 < R; r0 += TILE)
    for (int c0 = 0; c0 < C; c0 += TILE) {
      int r1 = r0 + TILE < R ? r0 + TILE : R;
      int c1 = c0 + TILE < C ? c0 + TILE : C;
      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) out[(size_t)c * R + r] = inp[(size_t)r * C + c];
    }
}

double OP(dot)(const real *a, /* (n) */
               const real *b, /* (n) */
               size_t n) {
  double s = 0;
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (n >= PAR_MIN)
  for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}
