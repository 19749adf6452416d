/* Embedding lookup for the CPU backend: out row i is table row ids[i].
 *
 * Backward ACCUMULATES into dtable (a parameter gradient). Ids may repeat within a batch
 * (the same token in many captions), so threads must never share a table row: they split
 * the C columns instead of the N rows, and each thread walks all N ids in order. That also
 * keeps the sum order fixed, so the result does not depend on the thread count. */
#include <string.h>

#include "backend/cpu/real.h"

/* Columns per thread chunk: a cache line or more of each table row, so threads do not
 * write to the same line. */
#define EMB_COL_CHUNK 64

void OP(embedding_forward)(real *out,         /* (N, C) */
                           const int *ids,    /* (N) */
                           const real *table, /* (V, C) */
                           int N, int C) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < N; i++)
    memcpy(out + (size_t)i * C, table + (size_t)ids[i] * C, (size_t)C * sizeof(real));
}

void OP(embedding_backward)(real *dtable,      /* (V, C), += */
                            const real *dout,  /* (N, C) */
                            const int *ids,    /* (N) */
                            int N, int C) {
  if (dtable == NULL) return;
  int chunks = (C + EMB_COL_CHUNK - 1) / EMB_COL_CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int ch = 0; ch < chunks; ch++) {
    int c0 = ch * EMB_COL_CHUNK;
    int c1 = c0 + EMB_COL_CHUNK < C ? c0 + EMB_COL_CHUNK : C;
    for (int i = 0; i < N; i++) {
      real *dt = dtable + (size_t)ids[i] * C;
      const real *dy = dout + (size_t)i * C;
#pragma omp simd
      for (int c = c0; c < c1; c++) dt[c] += dy[c];
    }
  }
}
