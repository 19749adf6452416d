/* Multi-head softmax attention for the CPU backend.
 *
 * B batch, T sequence length, C channels, NH heads of hs = C/NH channels. qkv (B,T,3C) is
 * [q | k | v]; head h reads columns h*hs..h*hs+hs-1 of each part. Scores are q.k/sqrt(hs);
 * with causal set, key t2 > query t is masked to probability 0. att (B,NH,T,T) keeps the
 * probabilities (0 where masked) for backward; out (B,T,C) concatenates the heads.
 * Backward ASSIGNS all of dqkv (no parameters here).
 *
 * The hot shapes are small heads (hs = 16) over short sequences (T <= ~128) in a large
 * batch, so the work is parallel over (b, h) pairs and each head's products are done here
 * in ATTN_MR x ATTN_NR register tiles:
 *   forward   S = Q K^T / sqrt(hs) (into att), softmax in place, out = P V
 *   backward  dP = dO V^T, dS = P (dP - rowsum(P dP)) / sqrt(hs),
 *             dQ = dS K, dK = dS^T Q, dV = P^T dO.
 * (OpenBLAS sgemm per product and head, with the same softmax, measured 1.15x slower at
 * B=128, T=122, C=128, NH=8, and 1.5x slower causal: its packing costs as much as products
 * this small, and it cannot skip masked keys.) Each thread first copies the operands a
 * tile reads along its columns into small zero-padded buffers (K^T, V^T as (hs, Tp);
 * V, K, Q, dO as (Tp, hsp)), so every inner loop runs over ATTN_NR unit-stride lanes with
 * no tail.
 *
 * Backward is not told whether the forward was causal; it does not need to be: a key with
 * probability exactly 0 contributes nothing to any gradient, so each row's work stops at
 * its last nonzero probability. That is exact, and recovers the causal halving of work.
 *
 * att may be NULL (inference): the probabilities are not kept, and each thread holds only
 * the ATTN_MR rows of them that its tile of queries is using, in a strip that stays in L1.
 *
 * The float build on AVX-512 has its own forward and backward for heads of at most 16
 * channels over at most 128 tokens, the model's shapes (attention_avx512.h: fixed strides,
 * blocks of up to 12 queries, a base-2 exponential, the softmax's division folded into the
 * output), about twice as fast as the tiles here (bench-speed's cases;
 * docs/performance.md); the float build on AVX2 + FMA has such a forward
 * (attention_avx2.h).
 *
 * If a thread cannot allocate its buffers it falls back to direct per-head loops (the
 * reference form: slower, no scratch but one row on the stack). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/real.h"
#include "backend/cpu/vmath.h"

#define ATTN_MR 6  /* rows per register tile */
#define ATTN_NR 16 /* columns per register tile: two AVX vectors of float, one AVX-512 vector */

static inline int attn_round_up(int n) { return (n + ATTN_NR - 1) / ATTN_NR * ATTN_NR; }
static inline int attn_min(int a, int b) { return a < b ? a : b; }

#ifdef DC_REAL_F64
static inline real attn_exp(real x) { return exp(x); }
#else
/* exp(x) for x <= 0, the only arguments a max-subtracted softmax produces (vmath.h); the
 * T*T exponentials were a large share of the forward pass. */
static inline float attn_exp(float x) { return dc_cpu_expf(x); }
#endif

/* Softmax of scores s[0..n) in place (max subtracted first). */
static void attn_softmax(real *s, int n) {
  real mx = s[0];
#pragma omp simd reduction(max : mx)
  for (int i = 1; i < n; i++) mx = s[i] > mx ? s[i] : mx;
  real sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; i++) { /* exp and sum in one pass */
    real e = attn_exp(s[i] - mx);
    s[i] = e;
    sum += e;
  }
  real inv = (real)1 / sum;
#pragma omp simd
  for (int i = 0; i < n; i++) s[i] *= inv;
}

/* One register tile of a small matrix product,
 *   c[r * ldc + j] = scale * sum_{k0 <= k < k1} A(r, k) * b[k * ldb + j]
 * for r < rows <= ATTN_MR and j < cols <= ATTN_NR, where A(r, k) = a[r * ars + k * aks], so
 * that A can be read transposed in place. Rows past `rows` repeat the last one (computed,
 * never stored) and b is padded to ATTN_NR columns, so the loop over k has no tails.
 *
 * The float build on AVX2+FMA (the production path) uses intrinsics: the 12 accumulators,
 * two b vectors and a broadcast fill the 16 registers exactly, whereas GCC given the plain
 * loop below spills accumulators and, under ISO C's default -ffp-contract=off, never
 * fuses the multiply-adds; the intrinsic tile runs about three times faster. The plain
 * loop serves the double build, so the tests compare one against the other. */
#if (defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))) && !defined(DC_REAL_F64)
#include <immintrin.h>

/* a0 .. a5: the tile's rows of A; rows past `rows` repeat the last one */
#define ATTN_ROW_POINTERS                                                                     \
  const float *a0 = a, *a1 = a + (size_t)attn_min(1, rows - 1) * ars;                          \
  const float *a2 = a + (size_t)attn_min(2, rows - 1) * ars;                                   \
  const float *a3 = a + (size_t)attn_min(3, rows - 1) * ars;                                   \
  const float *a4 = a + (size_t)attn_min(4, rows - 1) * ars;                                   \
  const float *a5 = a + (size_t)attn_min(5, rows - 1) * ars;
#endif

#if defined(__AVX512F__) && !defined(DC_REAL_F64)

/* AVX-512: a row of the tile is one vector, so each k takes 6 multiply-adds instead of
 * AVX2's 12, with the same sums in the same order (the results are the AVX2 tile's, bit
 * for bit); a partial tile's columns are masked. */
static inline void attn_tile(real *c, size_t ldc, int rows, int cols, real scale, const real *a,
                             size_t ars, size_t aks, const real *b, size_t ldb, int k0, int k1) {
  ATTN_ROW_POINTERS
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  for (int k = k0; k < k1; k++) {
    const __m512 bk = _mm512_loadu_ps(b + (size_t)k * ldb);
    const size_t ak = (size_t)k * aks;
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[ak]), bk, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[ak]), bk, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[ak]), bk, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[ak]), bk, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[ak]), bk, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[ak]), bk, c5);
  }
  const __m512 s = _mm512_set1_ps(scale);
  const __mmask16 m = (__mmask16)(cols >= ATTN_NR ? 0xffff : (1u << cols) - 1);
  _mm512_mask_storeu_ps(c, m, _mm512_mul_ps(c0, s));
  if (rows > 1) _mm512_mask_storeu_ps(c + ldc, m, _mm512_mul_ps(c1, s));
  if (rows > 2) _mm512_mask_storeu_ps(c + 2 * ldc, m, _mm512_mul_ps(c2, s));
  if (rows > 3) _mm512_mask_storeu_ps(c + 3 * ldc, m, _mm512_mul_ps(c3, s));
  if (rows > 4) _mm512_mask_storeu_ps(c + 4 * ldc, m, _mm512_mul_ps(c4, s));
  if (rows > 5) _mm512_mask_storeu_ps(c + 5 * ldc, m, _mm512_mul_ps(c5, s));
}
#elif defined(__AVX2__) && defined(__FMA__) && !defined(DC_REAL_F64)

static inline void attn_tile(real *c, size_t ldc, int rows, int cols, real scale, const real *a,
                             size_t ars, size_t aks, const real *b, size_t ldb, int k0, int k1) {
  ATTN_ROW_POINTERS
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = k0; k < k1; k++) {
    const float *bk = b + (size_t)k * ldb;
    const size_t ak = (size_t)k * aks;
    const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
    __m256 x;
#define ATTN_ROW(r)                                                                               \
  x = _mm256_broadcast_ss(a##r + ak);                                                             \
  c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);                                                      \
  c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);
    ATTN_ROW(0) ATTN_ROW(1) ATTN_ROW(2) ATTN_ROW(3) ATTN_ROW(4) ATTN_ROW(5)
#undef ATTN_ROW
  }
  const __m256 s = _mm256_set1_ps(scale);
  float tmp[ATTN_MR][ATTN_NR];
  const int full = rows == ATTN_MR && cols == ATTN_NR;
  /* a full tile goes straight to c; a partial one through tmp */
#define ATTN_STORE(r)                                                                             \
  _mm256_storeu_ps(full ? c + r * ldc : tmp[r], _mm256_mul_ps(c##r##0, s));                       \
  _mm256_storeu_ps(full ? c + r * ldc + 8 : tmp[r] + 8, _mm256_mul_ps(c##r##1, s));
  ATTN_STORE(0) ATTN_STORE(1) ATTN_STORE(2) ATTN_STORE(3) ATTN_STORE(4) ATTN_STORE(5)
#undef ATTN_STORE
  if (!full)
    for (int r = 0; r < rows; r++)
      for (int j = 0; j < cols; j++) c[(size_t)r * ldc + j] = tmp[r][j];
}
#else
static inline void attn_tile(real *c, size_t ldc, int rows, int cols, real scale, const real *a,
                             size_t ars, size_t aks, const real *b, size_t ldb, int k0, int k1) {
  real acc[ATTN_MR][ATTN_NR] = {{0}};
  const real *ar[ATTN_MR];
  for (int r = 0; r < ATTN_MR; r++) ar[r] = a + (size_t)attn_min(r, rows - 1) * ars;
  for (int k = k0; k < k1; k++) {
    const real *bk = b + (size_t)k * ldb;
    const size_t ak = (size_t)k * aks;
    for (int r = 0; r < ATTN_MR; r++) {
      const real x = ar[r][ak];
      for (int j = 0; j < ATTN_NR; j++) acc[r][j] = fma(x, bk[j], acc[r][j]);
    }
  }
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) c[(size_t)r * ldc + j] = acc[r][j] * scale;
}
#endif

/* dst (hs, Tp) = the T rows of hs values at stride ld in src, transposed; zero padding. */
static void attn_pack_t(real *dst, const real *src, size_t ld, int T, int Tp, int hs) {
  for (int d = 0; d < hs; d++)
    for (int t = T; t < Tp; t++) dst[(size_t)d * Tp + t] = 0;
  for (int t = 0; t < T; t++)
    for (int d = 0; d < hs; d++) dst[(size_t)d * Tp + t] = src[(size_t)t * ld + d];
}

/* dst (Tp, hsp) = the T rows of hs values at stride ld in src; zero padding. */
static void attn_pack(real *dst, const real *src, size_t ld, int T, int Tp, int hs, int hsp) {
  memset(dst, 0, (size_t)Tp * hsp * sizeof *dst);
  for (int t = 0; t < T; t++) memcpy(dst + (size_t)t * hsp, src + (size_t)t * ld, hs * sizeof *dst);
}

/* One head of the forward pass. q (T rows at stride 3C); kt (hs, Tp) and v (Tp, hsp)
 * packed; att (T, T), or NULL with strip (ATTN_MR, T) holding the current rows only; out
 * (T rows at stride C). */
static void attn_forward_head(real *out, real *att, real *strip, const real *q, const real *kt, const real *v,
                              int T, int Tp, int C, int hs, int hsp, int causal) {
  const real scale = (real)1 / sqrt((real)hs);
  for (int t0 = 0; t0 < T; t0 += ATTN_MR) {
    int rows = attn_min(ATTN_MR, T - t0);
    int nmax = causal ? t0 + rows : T; /* keys any of these rows sees */
    real *s = att ? att + (size_t)t0 * T : strip; /* rows t0 .. t0 + rows - 1 */
    for (int i0 = 0; i0 < nmax; i0 += ATTN_NR)
      attn_tile(s + i0, T, rows, attn_min(ATTN_NR, T - i0), scale, q + (size_t)t0 * 3 * C, (size_t)3 * C, 1,
                kt + i0, Tp, 0, hs);
    for (int t = t0; t < t0 + rows; t++) {
      int n = causal ? t + 1 : T;
      real *p = s + (size_t)(t - t0) * T;
      attn_softmax(p, n);
      memset(p + n, 0, (size_t)(T - n) * sizeof *p);
    }
    for (int d0 = 0; d0 < hsp; d0 += ATTN_NR)
      attn_tile(out + (size_t)t0 * C + d0, C, rows, attn_min(ATTN_NR, hs - d0), 1, s, T, 1, v + d0, hsp, 0, nmax);
  }
}

/* Reference forward of one head, reading q, k, v where they lie (row stride 3C). */
static void attn_forward_head_ref(real *out, real *att, const real *q, const real *k, const real *v,
                                  int T, int C, int hs, int causal) {
  const real scale = (real)1 / sqrt((real)hs);
  real row[att ? 1 : T]; /* the probabilities of one query when att is not kept */
  for (int t = 0; t < T; t++) {
    real *p = att ? att + (size_t)t * T : row;
    int n = causal ? t + 1 : T;
    for (int i = 0; i < n; i++) {
      real s = 0;
      for (int d = 0; d < hs; d++) s += q[(size_t)t * 3 * C + d] * k[(size_t)i * 3 * C + d];
      p[i] = s * scale;
    }
    attn_softmax(p, n);
    for (int i = n; i < T; i++) p[i] = 0;
    for (int d = 0; d < hs; d++) {
      real acc = 0;
      for (int i = 0; i < n; i++) acc += p[i] * v[(size_t)i * 3 * C + d];
      out[(size_t)t * C + d] = acc;
    }
  }
}

/* Keys past the last nonzero probability of a row contribute nothing (see the top). The
 * test is on the bits (-0 counts as zero) so that the loop vectorises, as in attn_exp. */
static int attn_row_extent(const real *p, int T) {
  int last = -1;
#pragma omp simd reduction(max : last)
  for (int i = 0; i < T; i++) {
#ifdef DC_REAL_F64
    union { double f; int64_t i; } u = {p[i]};
    int nonzero = (u.i & INT64_MAX) != 0;
#else
    union { float f; int32_t i; } u = {p[i]};
    int nonzero = (u.i & INT32_MAX) != 0;
#endif
    last = nonzero && i > last ? i : last;
  }
  return last + 1;
}

/* One head of the backward pass. q (T rows at stride 3C), dout (T rows at stride C), att
 * (T, T); vt (hs, Tp), k, qp, dop (Tp, hsp) packed; ds (T, Tp) and ext (T) scratch.
 * dq (T rows at stride 3C), with dk and dv at +C and +2C, is assigned. */
static void attn_backward_head(real *dq, const real *dout, const real *att, const real *vt,
                               const real *k, const real *qp, const real *dop, real *ds, int *ext,
                               int T, int Tp, int C, int hs, int hsp) {
  const real scale = (real)1 / sqrt((real)hs);
  const size_t ld = (size_t)3 * C;
  real *dk = dq + C, *dv = dq + 2 * C;
  for (int t = 0; t < T; t++) ext[t] = attn_row_extent(att + (size_t)t * T, T);
  for (int t0 = 0; t0 < T; t0 += ATTN_MR) {
    int rows = attn_min(ATTN_MR, T - t0), emax = 0;
    for (int t = t0; t < t0 + rows; t++) emax = ext[t] > emax ? ext[t] : emax;
    /* dP = dO V^T over the keys these rows reach */
    for (int i0 = 0; i0 < emax; i0 += ATTN_NR)
      attn_tile(ds + (size_t)t0 * Tp + i0, Tp, rows, ATTN_NR, 1, dout + (size_t)t0 * C, C, 1,
                vt + i0, Tp, 0, hs);
    /* dS = P (dP - rowsum(P dP)) scale, with exact zeros past each row's extent */
    for (int t = t0; t < t0 + rows; t++) {
      const real *p = att + (size_t)t * T;
      real *s = ds + (size_t)t * Tp;
      int n = ext[t];
      real dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int i = 0; i < n; i++) dot += p[i] * s[i];
#pragma omp simd
      for (int i = 0; i < n; i++) s[i] = p[i] * (s[i] - dot) * scale;
      memset(s + n, 0, (size_t)(Tp - n) * sizeof *s);
    }
    /* dQ = dS K */
    for (int d0 = 0; d0 < hsp; d0 += ATTN_NR)
      attn_tile(dq + (size_t)t0 * ld + d0, ld, rows, attn_min(ATTN_NR, hs - d0), 1,
                ds + (size_t)t0 * Tp, Tp, 1, k + d0, hsp, 0, emax);
  }
  /* dK = dS^T Q and dV = P^T dO, a block of keys at a time, over the queries that reach
   * them: from the first whose extent passes i0 */
  for (int i0 = 0; i0 < T; i0 += ATTN_MR) {
    int rows = attn_min(ATTN_MR, T - i0), tfirst = 0;
    while (tfirst < T && ext[tfirst] <= i0) tfirst++;
    for (int d0 = 0; d0 < hsp; d0 += ATTN_NR) {
      int cols = attn_min(ATTN_NR, hs - d0);
      attn_tile(dk + (size_t)i0 * ld + d0, ld, rows, cols, 1, ds + i0, 1, Tp, qp + d0, hsp,
                tfirst, T);
      attn_tile(dv + (size_t)i0 * ld + d0, ld, rows, cols, 1, att + i0, 1, T, dop + d0, hsp,
                tfirst, T);
    }
  }
}

/* Reference backward of one head, reading and writing qkv-shaped rows (stride 3C) in place;
 * recomputes d(att) in a second pass instead of keeping a row of it. */
/* sum_i p[i] (dy . v_i) over a query row's first n keys: the softmax gradient's row sum
 * (v_i at stride ld, hs channels) */
static real attn_row_pdp(const real *p, const real *dy, const real *v, size_t ld, int n, int hs) {
  real dot = 0;
  for (int i = 0; i < n; i++) {
    real da = 0;
    for (int d = 0; d < hs; d++) da += dy[d] * v[i * ld + d];
    dot += p[i] * da;
  }
  return dot;
}

static void attn_backward_head_ref(real *dq, const real *dout, const real *q, const real *att,
                                   int T, int C, int hs) {
  const real scale = (real)1 / sqrt((real)hs);
  const size_t ld = (size_t)3 * C;
  const real *k = q + C, *v = q + 2 * C;
  real *dk = dq + C, *dv = dq + 2 * C;
  for (int t = 0; t < T; t++)
    for (int d = 0; d < hs; d++) dq[t * ld + d] = dk[t * ld + d] = dv[t * ld + d] = 0;
  for (int t = 0; t < T; t++) {
    const real *p = att + (size_t)t * T, *dy = dout + (size_t)t * C;
    int n = attn_row_extent(p, T);
    const real dot = attn_row_pdp(p, dy, v, ld, n, hs);
    for (int i = 0; i < n; i++) {
      real da = 0;
      for (int d = 0; d < hs; d++) {
        da += dy[d] * v[i * ld + d];
        dv[i * ld + d] += p[i] * dy[d];
      }
      real s = p[i] * (da - dot) * scale;
      for (int d = 0; d < hs; d++) {
        dq[t * ld + d] += s * k[i * ld + d];
        dk[i * ld + d] += s * q[t * ld + d];
      }
    }
  }
}

/* The fast paths, one per instruction set (float only) */
#if defined(__AVX512F__) && !defined(DC_REAL_F64)
#include "backend/cpu/attention_avx512.h"
#include "backend/cpu/matmul.h"
#elif defined(__AVX2__) && defined(__FMA__) && !defined(DC_REAL_F64)
#include "backend/cpu/attention_avx2.h"
#endif

/* 1 when the float fast forward (AVX-512 or AVX2, the headers above) takes heads of hs channels
 * over T tokens */
static inline int attn_fast(int hs, int T) {
#ifdef ATTN_FAST_ISA
  return hs <= 16 && T <= ATTN_FT;
#else
  (void)hs, (void)T;
  return 0;
#endif
}

/* 1 when the float fast backward (AVX-512) takes them */
static inline int attn_fast_backward(int hs, int T) {
#ifdef ATTN_FAST_BACKWARD
  return attn_fast(hs, T);
#else
  (void)hs, (void)T;
  return 0;
#endif
}

/* 1 when the products run in bf16: run.precision = "bf16" (the GEMMs' switch) on a build
 * whose fast path has bf16 instructions */
static inline int attn_bf16(void) {
#ifdef ATTN_FAST_BF16
  return dc_cpu_matmul_bf16();
#else
  return 0;
#endif
}

void OP(attention_forward)(real *out,       /* (B, T, C) */
                           real *att,       /* (B, NH, T, T) */
                           const real *qkv, /* (B, T, 3C) */
                           int B, int T, int C, int NH, int causal) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  const int hs = C / NH, Tp = attn_round_up(T), hsp = attn_round_up(hs), fast = attn_fast(hs, T);
  const size_t nkt = (size_t)hs * Tp, nv = (size_t)Tp * hsp;
#pragma omp parallel
  {
    /* fast: its packed K, V, strip and query block; else kt (hs, Tp), v (Tp, hsp), and
     * without att a strip of ATTN_MR probability rows */
#ifdef ATTN_FAST_ISA
    real *buf = fast ? aligned_alloc(64, (ATTN_FAST_FLOATS + ATTN_BF16_WORDS) * sizeof *buf)
                     : malloc((nkt + nv + (att ? 0 : (size_t)ATTN_MR * T)) * sizeof *buf);
#else
    real *buf = malloc((nkt + nv + (att ? 0 : (size_t)ATTN_MR * T)) * sizeof *buf);
#endif
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
      int b = bh / NH, h = bh % NH;
      const real *q = qkv + (size_t)b * T * 3 * C + h * hs;
      const real *k = q + C, *v = q + 2 * C;
      real *o = out + (size_t)b * T * C + h * hs;
      real *a = att ? att + (size_t)bh * T * T : NULL;
      if (!buf) {
        attn_forward_head_ref(o, a, q, k, v, T, C, hs, causal);
      } else if (fast) {
#ifdef ATTN_FAST_ISA
        attn_fast_head(o, a, q, buf, T, C, hs, causal, attn_bf16());
#endif
      } else {
        attn_pack_t(buf, k, (size_t)3 * C, T, Tp, hs);
        attn_pack(buf + nkt, v, (size_t)3 * C, T, Tp, hs, hsp);
        attn_forward_head(o, a, buf + nkt + nv, q, buf, buf + nkt, T, Tp, C, hs, hsp, causal);
      }
    }
    free(buf);
  }
}

void OP(attention_backward)(real *dqkv,       /* (B, T, 3C) */
                            const real *dout, /* (B, T, C) */
                            const real *qkv,  /* (B, T, 3C) */
                            const real *att,  /* (B, NH, T, T) */
                            int B, int T, int C, int NH) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  const int hs = C / NH, Tp = attn_round_up(T), hsp = attn_round_up(hs), fast = attn_fast_backward(hs, T);
  const size_t nvt = (size_t)hs * Tp, np = (size_t)Tp * hsp, nds = (size_t)T * Tp;
#pragma omp parallel
  {
    /* fast: its packed V^T, K, accumulators and strips; else vt (hs, Tp); k, q, dout
     * (Tp, hsp); ds (T, Tp); then ext (T) ints */
#ifdef ATTN_FAST_BACKWARD
    real *buf = fast ? aligned_alloc(64, (ATTN_FAST_BWD_FLOATS + ATTN_BF16_WORDS) * sizeof *buf)
                     : malloc((nvt + 3 * np + nds) * sizeof *buf + (size_t)T * sizeof(int));
#else
    real *buf = malloc((nvt + 3 * np + nds) * sizeof *buf + (size_t)T * sizeof(int));
#endif
#pragma omp for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
      int b = bh / NH, h = bh % NH;
      const real *q = qkv + (size_t)b * T * 3 * C + h * hs;
      real *dq = dqkv + (size_t)b * T * 3 * C + h * hs;
      const real *dy = dout + (size_t)b * T * C + h * hs;
      const real *a = att + (size_t)bh * T * T;
      if (!buf) {
        attn_backward_head_ref(dq, dy, q, a, T, C, hs);
      } else if (fast) {
#ifdef ATTN_FAST_BACKWARD
        attn_fast_backward_head(dq, dy, q, a, buf, T, C, hs, attn_bf16());
#endif
      } else {
        real *vt = buf, *kp = vt + nvt, *qp = kp + np, *dop = qp + np, *ds = dop + np;
        attn_pack_t(vt, q + 2 * C, (size_t)3 * C, T, Tp, hs);
        attn_pack(kp, q + C, (size_t)3 * C, T, Tp, hs, hsp);
        attn_pack(qp, q, (size_t)3 * C, T, Tp, hs, hsp);
        attn_pack(dop, dy, C, T, Tp, hs, hsp);
        attn_backward_head(dq, dy, a, vt, kp, qp, dop, ds, (int *)(ds + nds), T, Tp, C, hs, hsp);
      }
    }
    free(buf);
  }
}

/* ---- one query row per sequence (ops.h: attention_pooled_forward) ----
 * A stack read at one row of each sequence needs its last block's attention there only:
 * 1/T of the work of attention_forward, so plain loops over the keys serve. */

/* Probabilities p[0..n) of query q (hs values) against the keys at stride 3C from k. */
static void attn_pooled_probs(real *p, const real *q, const real *k, int n, int C, int hs) {
  const real scale = (real)1 / sqrt((real)hs);
  for (int i = 0; i < n; i++) {
    real s = 0;
    for (int d = 0; d < hs; d++) s += q[d] * k[(size_t)i * 3 * C + d];
    p[i] = s * scale;
  }
  attn_softmax(p, n);
}

void OP(attention_pooled_forward)(real *out,       /* (B, C) */
                                  real *att,       /* (B, NH, T) or NULL */
                                  const real *qkv, /* (B, T, 3C) */
                                  const int *pool, /* (B) */
                                  int B, int T, int C, int NH, int causal) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  const int hs = C / NH;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH, t = pool[b], n = causal ? t + 1 : T;
    const real *seq = qkv + (size_t)b * T * 3 * C + h * hs;
    real row[att ? 1 : T]; /* the probabilities when att is not kept */
    real *p = att ? att + (size_t)bh * T : row, *o = out + (size_t)b * C + h * hs;
    attn_pooled_probs(p, seq + (size_t)t * 3 * C, seq + C, n, C, hs);
    for (int i = n; att && i < T; i++) p[i] = 0;
    for (int d = 0; d < hs; d++) {
      real acc = 0;
      for (int i = 0; i < n; i++) acc += p[i] * seq[(size_t)i * 3 * C + 2 * C + d];
      o[d] = acc;
    }
  }
}

void OP(attention_pooled_backward)(real *dqkv,       /* (B, T, 3C) */
                                   const real *dout, /* (B, C) */
                                   const real *qkv,  /* (B, T, 3C) */
                                   const real *att,  /* (B, NH, T) */
                                   const int *pool,  /* (B) */
                                   int B, int T, int C, int NH) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  const int hs = C / NH;
  const real scale = (real)1 / sqrt((real)hs);
  const size_t ld = (size_t)3 * C;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    int b = bh / NH, h = bh % NH, t = pool[b];
    const real *q = qkv + (size_t)b * T * ld + h * hs, *k = q + C, *v = q + 2 * C;
    const real *p = att + (size_t)bh * T, *dy = dout + (size_t)b * C + h * hs;
    real *dq = dqkv + (size_t)b * T * ld + h * hs, *dk = dq + C, *dv = dq + 2 * C;
    int n = attn_row_extent(p, T);
    const real dot = attn_row_pdp(p, dy, v, ld, n, hs);
    real dqt[hs];
    for (int d = 0; d < hs; d++) dqt[d] = 0;
    for (int i = 0; i < T; i++) {
      real da = 0;
      for (int d = 0; d < hs && i < n; d++) da += dy[d] * v[i * ld + d];
      real s = i < n ? p[i] * (da - dot) * scale : 0;
      for (int d = 0; d < hs; d++) {
        dqt[d] += s * k[i * ld + d];
        dk[i * ld + d] = s * q[(size_t)t * ld + d];
        dv[i * ld + d] = (i < n ? p[i] : 0) * dy[d];
        dq[i * ld + d] = 0;
      }
    }
    for (int d = 0; d < hs; d++) dq[(size_t)t * ld + d] = dqt[d];
  }
}
