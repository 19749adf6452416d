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
 * channels over at most 128 tokens, the model's shapes (below: fixed strides, blocks of up
 * to 12 queries, a base-2 exponential, the softmax's division folded into the output),
 * about twice as fast as the tiles above there (bench-speed's cases; docs/performance.md);
 * the float build on AVX2 + FMA has such a forward.
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
    real dot = 0;
    for (int i = 0; i < n; i++) {
      real da = 0;
      for (int d = 0; d < hs; d++) da += dy[d] * v[i * ld + d];
      dot += p[i] * da;
    }
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

#if defined(__AVX512F__) && !defined(DC_REAL_F64)
/* ---- The float forward on AVX-512 for heads of at most 16 channels over at most 128 tokens
 * (the model's shapes: hs = 16 over 121 image tokens or 77 text tokens) ----
 *
 * Per head, K^T (16, ATTN_FT) and V (ATTN_FT, 16) are packed zero-padded at fixed strides,
 * so that every address in the inner loops is a constant offset from one pointer. Queries
 * go in blocks of up to ATTN_FM rows (the T rows split evenly: 121 = 11 x 11):
 *   S = Q K^T / sqrt(hs)   12 rows x 32 keys per step, 24 accumulators
 *   E = exp(S - rowmax)    in place, zero past each row's last key; 1/rowsum kept
 *   out = (E V) / rowsum   12 accumulators over the keys
 * and att, when kept, gets E / rowsum. The output divides once per row instead of once per
 * probability, in both cases, so out is the same with and without att. The strip and the
 * query block sit in L1 with the packed K and V (23 KiB per thread). */
#define ATTN_FAST_ISA 1
#define ATTN_FAST_BACKWARD 1
#define ATTN_FT 128 /* key capacity; the row stride of the packed K^T and of the strip */
#define ATTN_FM 12  /* query rows per block */

/* 2^y for y <= 0 (and NaN, which stays NaN): y = n + f with n = round(y), 2^f by a degree-6
 * polynomial with p(0) = 1 fitted to 2^f's relative error over [-1/2, 1/2] (2e-9 in
 * exact arithmetic, 1e-7 evaluated in float), 2^n applied by vscalefps; 0 below -126. The
 * scores are taken in base 2 (scaled by log2(e) with 1/sqrt(hs)), which leaves the
 * softmax unchanged and saves exp's reduction by ln 2. */
static inline __m512 attn_exp2_16(__m512 y) {
  const __m512 lo = _mm512_set1_ps(-126.0f);
  const __mmask16 keep = _mm512_cmp_ps_mask(y, lo, _CMP_NLT_UQ);
  y = _mm512_max_ps(lo, y); /* NaN passes (the second operand is returned) */
  const __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(y, n);
  __m512 p = _mm512_set1_ps(1.5353361959569156e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3398875016719103e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.61843691766262e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503323674201965e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022647738456726e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471824645996e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

static inline __mmask16 attn_lanes(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* r[0..16) = the 16 x 16 block in r, transposed (interleave pairs, then quads, then
 * 128-bit lanes twice) */
static inline void attn_transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 16; i += 8)
    for (int j = 0; j < 4; j++) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

/* kt (16, ATTN_FT) and v (ATTN_FT, 16) from the T rows of hs values at stride ld in k and
 * vs, zero-padded to a multiple of 32 rows (the scores kernel's step); kt by 16 x 16
 * register transposes. */
static void attn_fast_pack(float *kt, float *v, const float *k, const float *vs, size_t ld, int T, int hs) {
  const __mmask16 m = attn_lanes(hs);
  for (int t0 = 0; t0 < (T + 31) / 32 * 32; t0 += 16) {
    __m512 r[16];
    for (int i = 0; i < 16; i++) {
      const __mmask16 mi = t0 + i < T ? m : 0;
      const size_t row = (size_t)attn_min(t0 + i, T - 1) * ld;
      r[i] = _mm512_maskz_loadu_ps(mi, k + row);
      _mm512_storeu_ps(v + (t0 + i) * 16, _mm512_maskz_loadu_ps(mi, vs + row));
    }
    attn_transpose16(r);
    for (int d = 0; d < 16; d++) _mm512_storeu_ps(kt + d * ATTN_FT + t0, r[d]);
  }
}

/* 1 + the index of the last nonzero of p[0..T) (-0 counts as zero), from the end */
static inline int attn_fast_extent(const float *p, int T) {
  for (int i = (T - 1) / 16 * 16; i >= 0; i -= 16) {
    const __mmask16 nz = _mm512_mask_test_epi32_mask(attn_lanes(T - i), _mm512_castps_si512(_mm512_maskz_loadu_ps(attn_lanes(T - i), p + i)),
                                                     _mm512_set1_epi32(0x7fffffff));
    if (nz) return i + 32 - __builtin_clz((unsigned)nz);
  }
  return 0;
}

/* s (ATTN_FM, ATTN_FT), keys [0, nk) with nk a multiple of 32: scale * qb (ATTN_FM, 16) kt */
static void attn_fast_scores(float *s, const float *qb, const float *kt, int hs, int nk, float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int j = 0; j < nk; j += 32) {
    __m512 c[ATTN_FM][2];
#pragma GCC unroll 12
    for (int r = 0; r < ATTN_FM; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int d = 0; d < hs; d++) {
      const __m512 b0 = _mm512_loadu_ps(kt + d * ATTN_FT + j), b1 = _mm512_loadu_ps(kt + d * ATTN_FT + j + 16);
#pragma GCC unroll 12
      for (int r = 0; r < ATTN_FM; r++) {
        const __m512 a = _mm512_set1_ps(qb[r * 16 + d]);
        c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
        c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
      }
    }
#pragma GCC unroll 12
    for (int r = 0; r < ATTN_FM; r++) {
      _mm512_storeu_ps(s + r * ATTN_FT + j, _mm512_mul_ps(c[r][0], sc));
      _mm512_storeu_ps(s + r * ATTN_FT + j + 16, _mm512_mul_ps(c[r][1], sc));
    }
  }
}

/* Rows t0 .. t0 + rows - 1 of the strip s (ATTN_FM, ATTN_FT) of base-2 scores, row r
 * seeing keys [0, n_r) (n_r = T, or t0 + r + 1 when causal): e = 2^(s - max) over [0, n_r),
 * 0 over [n_r, nk); inv[r] = 1 / sum e. The loops run over a chunk of 16 keys for every row
 * in turn, so that the rows' independent reductions and exponentials overlap; without a
 * mask every row has the same chunk mask. */
static void attn_fast_softmax(float *s, float *inv, int rows, int t0, int T, int causal, int nk) {
  __m512 mx[ATTN_FM], sum[ATTN_FM];
  int n[ATTN_FM];
  for (int r = 0; r < rows; r++) {
    n[r] = causal ? t0 + r + 1 : T;
    mx[r] = _mm512_set1_ps(-INFINITY);
    sum[r] = _mm512_setzero_ps();
  }
  for (int i = 0; i < nk; i += 16) {
    const __mmask16 all = attn_lanes(T - i);
    for (int r = 0; r < rows; r++)
      mx[r] = _mm512_mask_max_ps(mx[r], causal ? attn_lanes(n[r] - i) : all, mx[r], _mm512_loadu_ps(s + r * ATTN_FT + i));
  }
  for (int r = 0; r < rows; r++) mx[r] = _mm512_set1_ps(_mm512_reduce_max_ps(mx[r]));
  for (int i = 0; i < nk; i += 16) {
    const __mmask16 all = attn_lanes(T - i);
    for (int r = 0; r < rows; r++) {
      float *e = s + r * ATTN_FT + i;
      const __m512 x = _mm512_maskz_mov_ps(causal ? attn_lanes(n[r] - i) : all,
                                           attn_exp2_16(_mm512_sub_ps(_mm512_loadu_ps(e), mx[r])));
      _mm512_storeu_ps(e, x);
      sum[r] = _mm512_add_ps(sum[r], x);
    }
  }
  for (int r = 0; r < rows; r++) inv[r] = 1.0f / _mm512_reduce_add_ps(sum[r]);
}

/* out rows (ATTN_FM at stride ldo, the first `rows` stored, hs lanes) = inv_r * e V over
 * keys [0, nk) */
static void attn_fast_pv(float *out, size_t ldo, int rows, int hs, const float *e, const float *v, int nk,
                         const float *inv) {
  __m512 c[ATTN_FM];
#pragma GCC unroll 12
  for (int r = 0; r < ATTN_FM; r++) c[r] = _mm512_setzero_ps();
  for (int k = 0; k < nk; k++) {
    const __m512 b = _mm512_loadu_ps(v + k * 16);
#pragma GCC unroll 12
    for (int r = 0; r < ATTN_FM; r++) c[r] = _mm512_fmadd_ps(_mm512_set1_ps(e[r * ATTN_FT + k]), b, c[r]);
  }
  const __mmask16 m = attn_lanes(hs);
  for (int r = 0; r < rows; r++) _mm512_mask_storeu_ps(out + r * ldo, m, _mm512_mul_ps(c[r], _mm512_set1_ps(inv[r])));
}

/* One head: q (T rows at stride 3C, k at +C, v at +2C), out (T rows at stride C), att
 * (T, T) or NULL; buf holds the thread's ATTN_FAST_FLOATS. */
#define ATTN_FAST_FLOATS (2 * 16 * ATTN_FT + ATTN_FM * ATTN_FT + ATTN_FM * 16)
static void attn_fast_head(float *out, float *att, const float *q, float *buf, int T, int C, int hs, int causal) {
  float *kt = buf, *v = kt + 16 * ATTN_FT, *s = v + 16 * ATTN_FT, *qb = s + ATTN_FM * ATTN_FT;
  const size_t ld = (size_t)3 * C;
  const __mmask16 m = attn_lanes(hs);
  const float scale = 1.0f / sqrtf((float)hs);
  attn_fast_pack(kt, v, q + C, q + 2 * C, ld, T, hs);
  const int nb = (T + ATTN_FM - 1) / ATTN_FM, rb = (T + nb - 1) / nb;
  for (int t0 = 0; t0 < T; t0 += rb) {
    const int rows = attn_min(rb, T - t0), nmax = causal ? t0 + rows : T, nk = (nmax + 31) / 32 * 32;
    for (int r = 0; r < ATTN_FM; r++)
      _mm512_storeu_ps(qb + r * 16, _mm512_maskz_loadu_ps(r < rows ? m : 0, q + (size_t)(t0 + attn_min(r, rows - 1)) * ld));
    attn_fast_scores(s, qb, kt, hs, nk, scale * 1.44269504088896341f); /* base 2 */
    float inv[ATTN_FM] = {0};
    attn_fast_softmax(s, inv, rows, t0, T, causal, nk);
    for (int r = 0; att && r < rows; r++) {
      const int t = t0 + r, n = causal ? t + 1 : T;
      const float *e = s + r * ATTN_FT;
      float *a = att + (size_t)t * T;
      const __m512 iv = _mm512_set1_ps(inv[r]);
      for (int i = 0; i < T; i += 16) /* past n: 0 (the strip holds older scores there) */
        _mm512_mask_storeu_ps(a + i, attn_lanes(T - i), _mm512_maskz_mul_ps(attn_lanes(n - i), _mm512_loadu_ps(e + i), iv));
    }
    attn_fast_pv(out + (size_t)t0 * C, C, rows, hs, s, v, nmax, inv);
  }
}

/* dk, dv (ATTN_FT, 16) += over the block's rows: ds^T qb and p^T dob, keys [0, ni) */
static void attn_fast_dkdv(float *dk, float *dv, const float *ds, const float *p, const float *qb, const float *dob,
                           int ni) {
  __m512 qr[ATTN_FM], dr[ATTN_FM];
#pragma GCC unroll 12
  for (int r = 0; r < ATTN_FM; r++) {
    qr[r] = _mm512_loadu_ps(qb + r * 16);
    dr[r] = _mm512_loadu_ps(dob + r * 16);
  }
  for (int i = 0; i < ni; i++) {
    __m512 a = _mm512_loadu_ps(dk + i * 16), b = _mm512_loadu_ps(dv + i * 16);
#pragma GCC unroll 12
    for (int r = 0; r < ATTN_FM; r++) {
      a = _mm512_fmadd_ps(_mm512_set1_ps(ds[r * ATTN_FT + i]), qr[r], a);
      b = _mm512_fmadd_ps(_mm512_set1_ps(p[r * ATTN_FT + i]), dr[r], b);
    }
    _mm512_storeu_ps(dk + i * 16, a);
    _mm512_storeu_ps(dv + i * 16, b);
  }
}

/* One head of the backward pass: q (T rows at stride 3C, k at +C, v at +2C), dout (T rows
 * at stride C), att (T, T); dq (T rows at stride 3C, dk at +C, dv at +2C) is assigned.
 * Per block of query rows, with P's rows copied into a strip:
 *   dP = dO V^T (the scores kernel), dS = P (dP - rowsum(P dP)) / sqrt(hs) in place,
 *   dQ = dS K (the output kernel), dK += dS^T Q and dV += P^T dO (kept per thread).
 * As in the generic backward, each row stops at its last nonzero probability. */
#define ATTN_FAST_BWD_FLOATS (4 * 16 * ATTN_FT + 2 * ATTN_FM * ATTN_FT + 2 * ATTN_FM * 16)
static void attn_fast_backward_head(float *dq, const float *dout, const float *q, const float *att, float *buf, int T,
                                    int C, int hs) {
  float *vt = buf, *kp = vt + 16 * ATTN_FT, *dk = kp + 16 * ATTN_FT, *dv = dk + 16 * ATTN_FT;
  float *ds = dv + 16 * ATTN_FT, *p = ds + ATTN_FM * ATTN_FT, *qb = p + ATTN_FM * ATTN_FT, *dob = qb + ATTN_FM * 16;
  const size_t ld = (size_t)3 * C;
  const __mmask16 m = attn_lanes(hs);
  const float scale = 1.0f / sqrtf((float)hs), ones[ATTN_FM] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  attn_fast_pack(vt, kp, q + 2 * C, q + C, ld, T, hs);
  memset(dk, 0, (size_t)2 * 16 * ATTN_FT * sizeof *dk);
  const int nb = (T + ATTN_FM - 1) / ATTN_FM, rb = (T + nb - 1) / nb;
  for (int t0 = 0; t0 < T; t0 += rb) {
    const int rows = attn_min(rb, T - t0);
    int ext[ATTN_FM], emax = 0;
    for (int r = 0; r < rows; r++) {
      const float *a = att + (size_t)(t0 + r) * T;
      ext[r] = attn_fast_extent(a, T);
      emax = ext[r] > emax ? ext[r] : emax;
      for (int i = 0; i < ATTN_FT; i += 16)
        _mm512_storeu_ps(p + r * ATTN_FT + i, _mm512_maskz_loadu_ps(attn_lanes(ext[r] - i), a + i));
    }
    if (rows < ATTN_FM) memset(p + rows * ATTN_FT, 0, (size_t)(ATTN_FM - rows) * ATTN_FT * sizeof *p);
    for (int r = 0; r < ATTN_FM; r++) {
      const __mmask16 mr = r < rows ? m : 0;
      _mm512_storeu_ps(qb + r * 16, _mm512_maskz_loadu_ps(mr, q + (size_t)(t0 + attn_min(r, rows - 1)) * ld));
      _mm512_storeu_ps(dob + r * 16, _mm512_maskz_loadu_ps(mr, dout + (size_t)(t0 + attn_min(r, rows - 1)) * C));
    }
    const int nk = (emax + 31) / 32 * 32;
    attn_fast_scores(ds, dob, vt, hs, nk, 1.0f);
    for (int r = 0; r < rows; r++) {
      float *s = ds + r * ATTN_FT;
      const float *pr = p + r * ATTN_FT;
      __m512 dot = _mm512_setzero_ps();
      for (int i = 0; i < nk; i += 16) dot = _mm512_fmadd_ps(_mm512_loadu_ps(pr + i), _mm512_loadu_ps(s + i), dot);
      const __m512 dt = _mm512_set1_ps(_mm512_reduce_add_ps(dot)), sc = _mm512_set1_ps(scale);
      for (int i = 0; i < nk; i += 16) /* 0 where p is (past the row's extent) */
        _mm512_storeu_ps(s + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(pr + i), _mm512_sub_ps(_mm512_loadu_ps(s + i), dt)), sc));
    }
    attn_fast_pv(dq + (size_t)t0 * ld, ld, rows, hs, ds, kp, emax, ones);
    attn_fast_dkdv(dk, dv, ds, p, qb, dob, emax);
  }
  for (int t = 0; t < T; t++) {
    _mm512_mask_storeu_ps(dq + (size_t)t * ld + C, m, _mm512_loadu_ps(dk + t * 16));
    _mm512_mask_storeu_ps(dq + (size_t)t * ld + 2 * C, m, _mm512_loadu_ps(dv + t * 16));
  }
}
#elif defined(__AVX2__) && defined(__FMA__) && !defined(DC_REAL_F64)
/* ---- The float forward on AVX2 + FMA, for the same shapes (hs <= 16, T <= 128) ----
 *
 * The buffers, fixed strides and blocks of up to 12 queries of the AVX-512 forward above,
 * a row of 16 lanes being two 8-lane vectors. 16 registers hold six rows of a 16-lane
 * product (12 accumulators, two B vectors and a broadcast), so the scores and output
 * kernels take a block's rows six at a time, and a block is a whole number of such tiles;
 * the softmax goes row by row (a row's chunks are independent, which is enough to hide
 * the latencies). The exponential is the same base-2 polynomial, 2^n written into the
 * exponent bits (n >= -126 after the clamp). At B=128, C=128, NH=8 on an AVX2 EPYC this
 * forward took 0.75x the tiles' time at T=121 (0.7x without the probabilities kept, 0.65x
 * causal at T=77). A backward in the same form measured 1.02-1.08x the tiles' (T from 31
 * to 122), so the backward on AVX2 stays with the tiles. */
#define ATTN_FAST_ISA 1
#define ATTN_FT 128 /* key capacity; the row stride of the packed K^T and of the strip */
#define ATTN_FM 12  /* query rows per block */
#define ATTN_FH 6   /* query rows per register tile */

/* 2^y for y <= 0 (and NaN, which stays NaN: cvtps gives 2^n = 1 for it); 0 below -126 */
static inline __m256 attn_exp2_8(__m256 y) {
  const __m256 lo = _mm256_set1_ps(-126.0f);
  const __m256 keep = _mm256_cmp_ps(y, lo, _CMP_NLT_UQ);
  y = _mm256_max_ps(lo, y); /* NaN passes (the second operand is returned) */
  const __m256 n = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(y, n);
  __m256 p = _mm256_set1_ps(1.5353361959569156e-4f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3398875016719103e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.61843691766262e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5503323674201965e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022647738456726e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931471824645996e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* all ones in lanes [0, n), zero in the others */
static inline __m256 attn_lanes8(int n) {
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

static inline float attn_hmax8(__m256 v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_shuffle_ps(x, x, 1)));
}

static inline float attn_hsum8(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps(x, x, 1)));
}

/* r[0..8) = the 8 x 8 block in r, transposed (interleave pairs, then quads, then swap
 * 128-bit halves) */
static inline void attn_transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x20);
    t[j + 4] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x31);
  }
  for (int j = 0; j < 8; j++) r[j] = t[j];
}

/* kt (16, ATTN_FT) and v (ATTN_FT, 16) from the T rows of hs values at stride ld in k and
 * vs, zero-padded to a multiple of 16 rows (the scores kernel's step); kt by 8 x 8
 * register transposes */
static void attn_fast_pack(float *kt, float *v, const float *k, const float *vs, size_t ld, int T, int hs) {
  for (int t0 = 0; t0 < (T + 15) / 16 * 16; t0 += 8)
    for (int d0 = 0; d0 < 16; d0 += 8) {
      const __m256i m = _mm256_castps_si256(attn_lanes8(hs - d0));
      __m256 r[8];
      for (int i = 0; i < 8; i++) {
        const size_t row = (size_t)(t0 + i) * ld + d0;
        const int in = t0 + i < T;
        const __m256 z = _mm256_setzero_ps();
        r[i] = !in ? z : hs == 16 ? _mm256_loadu_ps(k + row) : _mm256_maskload_ps(k + row, m);
        _mm256_storeu_ps(v + (t0 + i) * 16 + d0, !in ? z : hs == 16 ? _mm256_loadu_ps(vs + row) : _mm256_maskload_ps(vs + row, m));
      }
      attn_transpose8(r);
      for (int j = 0; j < 8; j++) _mm256_storeu_ps(kt + (d0 + j) * ATTN_FT + t0, r[j]);
    }
}

/* dst (ATTN_FM, 16): rows [0, rows) of hs values at stride ld in src, zero-padded; the
 * other rows zero */
static void attn_fast_rows(float *dst, const float *src, size_t ld, int rows, int hs) {
  const __m256i m0 = _mm256_castps_si256(attn_lanes8(hs)), m1 = _mm256_castps_si256(attn_lanes8(hs - 8));
  const __m256 z = _mm256_setzero_ps();
  for (int r = 0; r < ATTN_FM; r++) {
    const float *x = src + (size_t)r * ld;
    _mm256_storeu_ps(dst + r * 16, r >= rows ? z : hs == 16 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, m0));
    _mm256_storeu_ps(dst + r * 16 + 8, r >= rows ? z : hs == 16 ? _mm256_loadu_ps(x + 8) : _mm256_maskload_ps(x + 8, m1));
  }
}

/* Queries per block: T split evenly into blocks of at most ATTN_FM, rounded up to whole
 * register tiles (121 tokens: 10 blocks of 12 and one of 1) */
static inline int attn_fast_block(int T) {
  const int nb = (T + ATTN_FM - 1) / ATTN_FM, rb = (T + nb - 1) / nb;
  return attn_min((rb + ATTN_FH - 1) / ATTN_FH * ATTN_FH, ATTN_FM);
}

/* s (ATTN_FM, ATTN_FT), rows [0, rows) rounded up to ATTN_FH, keys [0, nk) with nk a
 * multiple of 16: scale * qb (ATTN_FM, 16) kt */
static void attn_fast_scores(float *s, const float *qb, const float *kt, int rows, int hs, int nk, float scale) {
  const __m256 sc = _mm256_set1_ps(scale);
  for (int r0 = 0; r0 < rows; r0 += ATTN_FH) {
    const float *q = qb + r0 * 16;
    float *o = s + r0 * ATTN_FT;
    for (int j = 0; j < nk; j += 16) {
      __m256 c[ATTN_FH][2];
#pragma GCC unroll 6
      for (int r = 0; r < ATTN_FH; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
      for (int d = 0; d < hs; d++) {
        const __m256 b0 = _mm256_loadu_ps(kt + d * ATTN_FT + j), b1 = _mm256_loadu_ps(kt + d * ATTN_FT + j + 8);
#pragma GCC unroll 6
        for (int r = 0; r < ATTN_FH; r++) {
          const __m256 a = _mm256_broadcast_ss(q + r * 16 + d);
          c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
          c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
        }
      }
#pragma GCC unroll 6
      for (int r = 0; r < ATTN_FH; r++) {
        _mm256_storeu_ps(o + r * ATTN_FT + j, _mm256_mul_ps(c[r][0], sc));
        _mm256_storeu_ps(o + r * ATTN_FT + j + 8, _mm256_mul_ps(c[r][1], sc));
      }
    }
  }
}

/* Rows t0 .. t0 + rows - 1 of the strip s of base-2 scores, row r seeing keys [0, n_r)
 * (n_r = T, or t0 + r + 1 when causal): e = 2^(s - max) over [0, n_r), 0 over [n_r, nk);
 * inv[r] = 1 / sum e. */
static void attn_fast_softmax(float *s, float *inv, int rows, int t0, int T, int causal, int nk) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int r = 0; r < rows; r++) {
    const int n = causal ? t0 + r + 1 : T;
    float *e = s + r * ATTN_FT;
    __m256 m0 = ninf, m1 = ninf;
    for (int i = 0; i < n; i += 16) {
      m0 = _mm256_max_ps(m0, _mm256_blendv_ps(ninf, _mm256_loadu_ps(e + i), attn_lanes8(n - i)));
      m1 = _mm256_max_ps(m1, _mm256_blendv_ps(ninf, _mm256_loadu_ps(e + i + 8), attn_lanes8(n - i - 8)));
    }
    const __m256 mx = _mm256_set1_ps(attn_hmax8(_mm256_max_ps(m0, m1)));
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (int i = 0; i < nk; i += 16) {
      const __m256 x0 = _mm256_and_ps(attn_lanes8(n - i), attn_exp2_8(_mm256_sub_ps(_mm256_loadu_ps(e + i), mx)));
      const __m256 x1 =
          _mm256_and_ps(attn_lanes8(n - i - 8), attn_exp2_8(_mm256_sub_ps(_mm256_loadu_ps(e + i + 8), mx)));
      _mm256_storeu_ps(e + i, x0);
      _mm256_storeu_ps(e + i + 8, x1);
      s0 = _mm256_add_ps(s0, x0);
      s1 = _mm256_add_ps(s1, x1);
    }
    inv[r] = 1.0f / attn_hsum8(_mm256_add_ps(s0, s1));
  }
}

/* out rows [0, rows) at stride ldo, hs lanes: inv_r * e V over keys [0, nk) */
static void attn_fast_pv(float *out, size_t ldo, int rows, int hs, const float *e, const float *v, int nk,
                         const float *inv) {
  const __m256i m0 = _mm256_castps_si256(attn_lanes8(hs)), m1 = _mm256_castps_si256(attn_lanes8(hs - 8));
  for (int r0 = 0; r0 < rows; r0 += ATTN_FH) {
    const float *er = e + r0 * ATTN_FT;
    __m256 c[ATTN_FH][2];
#pragma GCC unroll 6
    for (int r = 0; r < ATTN_FH; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < nk; k++) {
      const __m256 b0 = _mm256_loadu_ps(v + k * 16), b1 = _mm256_loadu_ps(v + k * 16 + 8);
#pragma GCC unroll 6
      for (int r = 0; r < ATTN_FH; r++) {
        const __m256 a = _mm256_broadcast_ss(er + r * ATTN_FT + k);
        c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
        c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
      }
    }
    for (int r = 0; r < ATTN_FH && r0 + r < rows; r++) {
      const __m256 iv = _mm256_set1_ps(inv[r0 + r]);
      float *o = out + (size_t)(r0 + r) * ldo;
      _mm256_maskstore_ps(o, m0, _mm256_mul_ps(c[r][0], iv));
      _mm256_maskstore_ps(o + 8, m1, _mm256_mul_ps(c[r][1], iv));
    }
  }
}

/* One head: q (T rows at stride 3C, k at +C, v at +2C), out (T rows at stride C), att
 * (T, T) or NULL; buf holds the thread's ATTN_FAST_FLOATS. */
#define ATTN_FAST_FLOATS (2 * 16 * ATTN_FT + ATTN_FM * ATTN_FT + ATTN_FM * 16)
static void attn_fast_head(float *out, float *att, const float *q, float *buf, int T, int C, int hs, int causal) {
  float *kt = buf, *v = kt + 16 * ATTN_FT, *s = v + 16 * ATTN_FT, *qb = s + ATTN_FM * ATTN_FT;
  const size_t ld = (size_t)3 * C;
  const float scale = 1.0f / sqrtf((float)hs);
  attn_fast_pack(kt, v, q + C, q + 2 * C, ld, T, hs);
  const int rb = attn_fast_block(T);
  for (int t0 = 0; t0 < T; t0 += rb) {
    const int rows = attn_min(rb, T - t0), nmax = causal ? t0 + rows : T, nk = (nmax + 15) / 16 * 16;
    attn_fast_rows(qb, q + (size_t)t0 * ld, ld, rows, hs);
    attn_fast_scores(s, qb, kt, rows, hs, nk, scale * 1.44269504088896341f); /* base 2 */
    float inv[ATTN_FM] = {0};
    attn_fast_softmax(s, inv, rows, t0, T, causal, nk);
    for (int r = 0; att && r < rows; r++) {
      const int n = causal ? t0 + r + 1 : T;
      const float *e = s + r * ATTN_FT, iv = inv[r];
      float *a = att + (size_t)(t0 + r) * T;
#pragma omp simd
      for (int i = 0; i < n; i++) a[i] = e[i] * iv;
      memset(a + n, 0, (size_t)(T - n) * sizeof *a);
    }
    attn_fast_pv(out + (size_t)t0 * C, C, rows, hs, s, v, nmax, inv);
  }
}

#endif

/* 1 when the float fast forward (AVX-512 or AVX2, see above) takes heads of hs channels
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
    real *buf = fast ? aligned_alloc(64, ATTN_FAST_FLOATS * sizeof *buf)
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
        attn_fast_head(o, a, q, buf, T, C, hs, causal);
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
    real *buf = fast ? aligned_alloc(64, ATTN_FAST_BWD_FLOATS * sizeof *buf)
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
        attn_fast_backward_head(dq, dy, q, a, buf, T, C, hs);
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
