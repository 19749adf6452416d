/* The float attention fast path on AVX-512, for heads of at most 16 channels over at most
 * 128 tokens: included by attention.c alone, in its float build on AVX-512, after its
 * helpers (attn_min, attn_row_extent) and <immintrin.h>. It defines ATTN_FAST_ISA, ATTN_FT,
 * attn_fast_head, and ATTN_FAST_BACKWARD with attn_fast_backward_head. */
#ifndef DIFFCLIP_CPU_ATTENTION_AVX512_H
#define DIFFCLIP_CPU_ATTENTION_AVX512_H

#include <math.h>
#include <string.h>

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

/* The kernels below work on the R rows of a block, R a constant in each copy: the block
 * sizes T splits into (attn_fast_blocks) are compiled in, 1 to ATTN_FM, so that a block of
 * 11 rows (122 = 12 + 10 x 11) does 11 rows of work and keeps 11 rows of accumulators in
 * registers. ATTN_ROWS(rows, CALL) calls CALL(R) with R = rows as a constant. */
#define ATTN_ROWS(rows, CALL)                                                                               \
  switch (rows) {                                                                                           \
    case 1: CALL(1); break;                                                                                 \
    case 2: CALL(2); break;                                                                                 \
    case 3: CALL(3); break;                                                                                 \
    case 4: CALL(4); break;                                                                                 \
    case 5: CALL(5); break;                                                                                 \
    case 6: CALL(6); break;                                                                                 \
    case 7: CALL(7); break;                                                                                 \
    case 8: CALL(8); break;                                                                                 \
    case 9: CALL(9); break;                                                                                 \
    case 10: CALL(10); break;                                                                               \
    case 11: CALL(11); break;                                                                               \
    default: CALL(ATTN_FM); break;                                                                          \
  }
#define ATTN_INLINE static inline __attribute__((always_inline))

/* Blocks of queries: T in nb = ceil(T / ATTN_FM) blocks, the first T mod nb of them one row
 * longer than the rest; block i starts at attn_fast_block_start and holds attn_fast_block_rows
 * rows */
static inline int attn_fast_nblocks(int T) { return (T + ATTN_FM - 1) / ATTN_FM; }
static inline int attn_fast_block_rows(int T, int nb, int i) { return T / nb + (i < T % nb); }

/* s (R, ATTN_FT), keys [0, nk) with nk a multiple of 32: scale * qb (R, 16) kt */
ATTN_INLINE void attn_fast_scores_r(const int R, float *s, const float *qb, const float *kt, int hs, int nk,
                                    float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int j = 0; j < nk; j += 32) {
    __m512 c[ATTN_FM][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int d = 0; d < hs; d++) {
      const __m512 b0 = _mm512_loadu_ps(kt + d * ATTN_FT + j), b1 = _mm512_loadu_ps(kt + d * ATTN_FT + j + 16);
#pragma GCC unroll 12
      for (int r = 0; r < R; r++) {
        const __m512 a = _mm512_set1_ps(qb[r * 16 + d]);
        c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
        c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
      }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      _mm512_storeu_ps(s + r * ATTN_FT + j, _mm512_mul_ps(c[r][0], sc));
      _mm512_storeu_ps(s + r * ATTN_FT + j + 16, _mm512_mul_ps(c[r][1], sc));
    }
  }
}
static void attn_fast_scores(float *s, const float *qb, const float *kt, int rows, int hs, int nk, float scale) {
#define ATTN_CALL(R) attn_fast_scores_r(R, s, qb, kt, hs, nk, scale)
  ATTN_ROWS(rows, ATTN_CALL)
#undef ATTN_CALL
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

/* out rows (R at stride ldo, hs lanes) = inv_r * e V over keys [0, nk) */
ATTN_INLINE void attn_fast_pv_r(const int R, float *out, size_t ldo, int hs, const float *e, const float *v, int nk,
                                const float *inv) {
  __m512 c[ATTN_FM];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) c[r] = _mm512_setzero_ps();
  for (int k = 0; k < nk; k++) {
    const __m512 b = _mm512_loadu_ps(v + k * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) c[r] = _mm512_fmadd_ps(_mm512_set1_ps(e[r * ATTN_FT + k]), b, c[r]);
  }
  const __mmask16 m = attn_lanes(hs);
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(out + r * ldo, m, _mm512_mul_ps(c[r], _mm512_set1_ps(inv[r])));
}
static void attn_fast_pv(float *out, size_t ldo, int rows, int hs, const float *e, const float *v, int nk,
                         const float *inv) {
#define ATTN_CALL(R) attn_fast_pv_r(R, out, ldo, hs, e, v, nk, inv)
  ATTN_ROWS(rows, ATTN_CALL)
#undef ATTN_CALL
}

#if defined(__AVX512BF16__)
/* ---- bf16 products, for run.precision = "bf16" (attn_bf16 in attention.c) ----
 * Four of the five products, S = Q K^T and out = P V forward, dP = dO V^T and dQ = dS K
 * backward, take their operands rounded to bfloat16 (round to nearest even, the CPU's
 * vcvtne2ps2bf16, which reads float denormals as zero) and accumulate in float with
 * vdpbf16ps, which sums two products a lane: the pairs run along the reduced dimension
 * (channels for S and dP, keys for out and dQ, queries for dK and dV). The softmax and
 * its gradient stay float, as do the probabilities kept for backward and the sums of dK
 * and dV over the blocks of queries. */
#define ATTN_FAST_BF16 1
/* 32-bit words a thread's bf16 operands take: two packed (8 pairs, ATTN_FT) operands, a
 * strip of ATTN_FM rows, a query block */
#define ATTN_BF16_WORDS (2 * 8 * ATTN_FT + ATTN_FM * ATTN_FT / 2 + ATTN_FM * 8 + ATTN_FM * ATTN_FT + ATTN_FM * 16)

/* lane i: bf16(lo[i]) in its low half, bf16(hi[i]) in its high half */
static inline __m512i attn_bf16_pair(__m512 lo, __m512 hi) {
  const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
  const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
  return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

/* kt2 (8, ATTN_FT) words from the packed kt (16, ATTN_FT): channels 2p and 2p + 1 of a key
 * in word p; v2 (ATTN_FT / 2, 16) from the packed v (ATTN_FT, 16): keys 2i and 2i + 1 of a
 * channel in row i; n keys (a multiple of 32) */
static void attn_bf16_pack(uint32_t *kt2, uint32_t *v2, const float *kt, const float *v, int n) {
  for (int p = 0; p < 8; p++)
    for (int j = 0; j < n; j += 16)
      _mm512_storeu_si512(kt2 + p * ATTN_FT + j, attn_bf16_pair(_mm512_loadu_ps(kt + 2 * p * ATTN_FT + j),
                                                                _mm512_loadu_ps(kt + (2 * p + 1) * ATTN_FT + j)));
  for (int i = 0; i < n / 2; i++)
    _mm512_storeu_si512(v2 + i * 16, attn_bf16_pair(_mm512_loadu_ps(v + 2 * i * 16), _mm512_loadu_ps(v + (2 * i + 1) * 16)));
}

/* rows x cols (a multiple of 32) floats at stride lds -> bf16 in order at
 * stride lds (in bf16), i.e. word i of a row holds its values 2i and 2i + 1 */
static void attn_bf16_rows(uint32_t *d, const float *s, int rows, int cols, int lds) {
  uint16_t *dh = (uint16_t *)d;
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < cols; i += 32)
      _mm512_storeu_si512(dh + (size_t)r * lds + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + (size_t)r * lds + i + 16),
                                                                                  _mm512_loadu_ps(s + (size_t)r * lds + i)));
}

/* As attn_fast_scores: qb2 (R, 8) words, kt2 (8, ATTN_FT) */
ATTN_INLINE void attn_fast_scores_bf16_r(const int R, float *s, const uint32_t *qb2, const uint32_t *kt2, int nk,
                                         float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int j = 0; j < nk; j += 32) {
    __m512 c[ATTN_FM][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int p = 0; p < 8; p++) {
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(kt2 + p * ATTN_FT + j);
      const __m512bh b1 = (__m512bh)_mm512_loadu_si512(kt2 + p * ATTN_FT + j + 16);
#pragma GCC unroll 12
      for (int r = 0; r < R; r++) {
        const __m512bh a = (__m512bh)_mm512_set1_epi32((int)qb2[r * 8 + p]);
        c[r][0] = _mm512_dpbf16_ps(c[r][0], a, b0);
        c[r][1] = _mm512_dpbf16_ps(c[r][1], a, b1);
      }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      _mm512_storeu_ps(s + r * ATTN_FT + j, _mm512_mul_ps(c[r][0], sc));
      _mm512_storeu_ps(s + r * ATTN_FT + j + 16, _mm512_mul_ps(c[r][1], sc));
    }
  }
}
static void attn_fast_scores_bf16(float *s, const uint32_t *qb2, const uint32_t *kt2, int rows, int nk, float scale) {
#define ATTN_CALL(R) attn_fast_scores_bf16_r(R, s, qb2, kt2, nk, scale)
  ATTN_ROWS(rows, ATTN_CALL)
#undef ATTN_CALL
}

/* As attn_fast_pv: e2 (R, ATTN_FT / 2) words (attn_bf16_rows of the strip), v2
 * (ATTN_FT / 2, 16); keys past nk are zero in e2 up to the next even key */
ATTN_INLINE void attn_fast_pv_bf16_r(const int R, float *out, size_t ldo, int hs, const uint32_t *e2, const uint32_t *v2,
                                     int nk, const float *inv) {
  __m512 c[ATTN_FM];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) c[r] = _mm512_setzero_ps();
  for (int i = 0; i < (nk + 1) / 2; i++) {
    const __m512bh b = (__m512bh)_mm512_loadu_si512(v2 + i * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
      c[r] = _mm512_dpbf16_ps(c[r], (__m512bh)_mm512_set1_epi32((int)e2[r * (ATTN_FT / 2) + i]), b);
  }
  const __mmask16 m = attn_lanes(hs);
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(out + r * ldo, m, _mm512_mul_ps(c[r], _mm512_set1_ps(inv[r])));
}
static void attn_fast_pv_bf16(float *out, size_t ldo, int rows, int hs, const uint32_t *e2, const uint32_t *v2, int nk,
                              const float *inv) {
#define ATTN_CALL(R) attn_fast_pv_bf16_r(R, out, ldo, hs, e2, v2, nk, inv)
  ATTN_ROWS(rows, ATTN_CALL)
#undef ATTN_CALL
}

/* As attn_fast_dkdv with the pairs along the block's rows: dsp, pp (J, ATTN_FT) words,
 * rows 2j and 2j + 1 of ds and p for key i in word (j, i); qp, dop (J, 16) words, the same
 * rows of qb and dob for channel c in word (j, c); J = the block's rows / 2, rounded up */
ATTN_INLINE void attn_fast_dkdv_bf16_j(const int J, float *dk, float *dv, const uint32_t *dsp, const uint32_t *pp,
                                       const uint32_t *qp, const uint32_t *dop, int ni) {
  __m512bh qr[ATTN_FM / 2], dr[ATTN_FM / 2];
#pragma GCC unroll 6
  for (int j = 0; j < J; j++) {
    qr[j] = (__m512bh)_mm512_loadu_si512(qp + j * 16);
    dr[j] = (__m512bh)_mm512_loadu_si512(dop + j * 16);
  }
  for (int i = 0; i < ni; i++) {
    __m512 a = _mm512_loadu_ps(dk + i * 16), b = _mm512_loadu_ps(dv + i * 16);
#pragma GCC unroll 6
    for (int j = 0; j < J; j++) {
      a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_set1_epi32((int)dsp[j * ATTN_FT + i]), qr[j]);
      b = _mm512_dpbf16_ps(b, (__m512bh)_mm512_set1_epi32((int)pp[j * ATTN_FT + i]), dr[j]);
    }
    _mm512_storeu_ps(dk + i * 16, a);
    _mm512_storeu_ps(dv + i * 16, b);
  }
}
static void attn_fast_dkdv_bf16(float *dk, float *dv, const uint32_t *dsp, const uint32_t *pp, const uint32_t *qp,
                                const uint32_t *dop, int pairs, int ni) {
  switch (pairs) {
    case 1: attn_fast_dkdv_bf16_j(1, dk, dv, dsp, pp, qp, dop, ni); break;
    case 2: attn_fast_dkdv_bf16_j(2, dk, dv, dsp, pp, qp, dop, ni); break;
    case 3: attn_fast_dkdv_bf16_j(3, dk, dv, dsp, pp, qp, dop, ni); break;
    case 4: attn_fast_dkdv_bf16_j(4, dk, dv, dsp, pp, qp, dop, ni); break;
    case 5: attn_fast_dkdv_bf16_j(5, dk, dv, dsp, pp, qp, dop, ni); break;
    default: attn_fast_dkdv_bf16_j(ATTN_FM / 2, dk, dv, dsp, pp, qp, dop, ni); break;
  }
}

/* d (pairs, ATTN_FT) words: rows 2j and 2j + 1 of s (2 pairs rows at stride lds) paired
 * lane by lane, columns [0, n) (n a multiple of 16) */
static void attn_bf16_row_pairs(uint32_t *d, const float *s, int pairs, int lds, int ldd, int n) {
  for (int j = 0; j < pairs; j++)
    for (int i = 0; i < n; i += 16)
      _mm512_storeu_si512(d + j * ldd + i, attn_bf16_pair(_mm512_loadu_ps(s + 2 * j * lds + i),
                                                        _mm512_loadu_ps(s + (2 * j + 1) * lds + i)));
}
#else
#define ATTN_BF16_WORDS 0
#endif

/* One head: q (T rows at stride 3C, k at +C, v at +2C), out (T rows at stride C), att
 * (T, T) or NULL; buf holds the thread's ATTN_FAST_FLOATS. */
#define ATTN_FAST_FLOATS (2 * 16 * ATTN_FT + ATTN_FM * ATTN_FT + ATTN_FM * 16)
static void attn_fast_head(float *out, float *att, const float *q, float *buf, int T, int C, int hs, int causal,
                           int bf16) {
  float *kt = buf, *v = kt + 16 * ATTN_FT, *s = v + 16 * ATTN_FT, *qb = s + ATTN_FM * ATTN_FT;
#ifdef ATTN_FAST_BF16
  uint32_t *kt2 = (uint32_t *)(buf + ATTN_FAST_FLOATS), *v2 = kt2 + 8 * ATTN_FT, *e2 = v2 + 8 * ATTN_FT;
  uint32_t *qb2 = e2 + ATTN_FM * ATTN_FT / 2;
#else
  (void)bf16;
#endif
  const size_t ld = (size_t)3 * C;
  const __mmask16 m = attn_lanes(hs);
  const float scale = 1.0f / sqrtf((float)hs);
  attn_fast_pack(kt, v, q + C, q + 2 * C, ld, T, hs);
#ifdef ATTN_FAST_BF16
  if (bf16) attn_bf16_pack(kt2, v2, kt, v, (T + 31) / 32 * 32);
#endif
  const int nb = attn_fast_nblocks(T);
  for (int bi = 0, t0 = 0, rows; bi < nb; bi++, t0 += rows) {
    rows = attn_fast_block_rows(T, nb, bi);
    const int nmax = causal ? t0 + rows : T, nk = (nmax + 31) / 32 * 32;
    for (int r = 0; r < ATTN_FM; r++)
      _mm512_storeu_ps(qb + r * 16, _mm512_maskz_loadu_ps(r < rows ? m : 0, q + (size_t)(t0 + attn_min(r, rows - 1)) * ld));
#ifdef ATTN_FAST_BF16
    if (bf16) {
      attn_bf16_rows(qb2, qb, 1, ATTN_FM * 16, 0); /* the block as one row */
      attn_fast_scores_bf16(s, qb2, kt2, rows, nk, scale * 1.44269504088896341f);
    } else
#endif
      attn_fast_scores(s, qb, kt, rows, hs, nk, scale * 1.44269504088896341f); /* base 2 */
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
#ifdef ATTN_FAST_BF16
    if (bf16) {
      attn_bf16_rows(e2, s, rows, nk, ATTN_FT);
      attn_fast_pv_bf16(out + (size_t)t0 * C, C, rows, hs, e2, v2, nmax, inv);
      continue;
    }
#endif
    attn_fast_pv(out + (size_t)t0 * C, C, rows, hs, s, v, nmax, inv);
  }
}

/* dk, dv (ATTN_FT, 16) += over the block's R rows: ds^T qb and p^T dob, keys [0, ni) */
ATTN_INLINE void attn_fast_dkdv_r(const int R, float *dk, float *dv, const float *ds, const float *p, const float *qb,
                                  const float *dob, int ni) {
  __m512 qr[ATTN_FM], dr[ATTN_FM];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    qr[r] = _mm512_loadu_ps(qb + r * 16);
    dr[r] = _mm512_loadu_ps(dob + r * 16);
  }
  for (int i = 0; i < ni; i++) {
    __m512 a = _mm512_loadu_ps(dk + i * 16), b = _mm512_loadu_ps(dv + i * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      a = _mm512_fmadd_ps(_mm512_set1_ps(ds[r * ATTN_FT + i]), qr[r], a);
      b = _mm512_fmadd_ps(_mm512_set1_ps(p[r * ATTN_FT + i]), dr[r], b);
    }
    _mm512_storeu_ps(dk + i * 16, a);
    _mm512_storeu_ps(dv + i * 16, b);
  }
}
static void attn_fast_dkdv(float *dk, float *dv, const float *ds, const float *p, const float *qb, const float *dob,
                           int rows, int ni) {
#define ATTN_CALL(R) attn_fast_dkdv_r(R, dk, dv, ds, p, qb, dob, ni)
  ATTN_ROWS(rows, ATTN_CALL)
#undef ATTN_CALL
}

/* One head of the backward pass: q (T rows at stride 3C, k at +C, v at +2C), dout (T rows
 * at stride C), att (T, T); dq (T rows at stride 3C, dk at +C, dv at +2C) is assigned.
 * Per block of query rows, with P's rows copied into a strip:
 *   dP = dO V^T (the scores kernel), dS = P (dP - rowsum(P dP)) / sqrt(hs) in place,
 *   dQ = dS K (the output kernel), dK += dS^T Q and dV += P^T dO (kept per thread).
 * As in the generic backward, each row stops at its last nonzero probability. */
#define ATTN_FAST_BWD_FLOATS (4 * 16 * ATTN_FT + 2 * ATTN_FM * ATTN_FT + 2 * ATTN_FM * 16)
static void attn_fast_backward_head(float *dq, const float *dout, const float *q, const float *att, float *buf, int T,
                                    int C, int hs, int bf16) {
  float *vt = buf, *kp = vt + 16 * ATTN_FT, *dk = kp + 16 * ATTN_FT, *dv = dk + 16 * ATTN_FT;
  float *ds = dv + 16 * ATTN_FT, *p = ds + ATTN_FM * ATTN_FT, *qb = p + ATTN_FM * ATTN_FT, *dob = qb + ATTN_FM * 16;
#ifdef ATTN_FAST_BF16
  /* V^T and K as the forward's K^T and V: dP = dO V^T is a scores product, dQ = dS K an
   * output one */
  uint32_t *vt2 = (uint32_t *)(buf + ATTN_FAST_BWD_FLOATS), *kp2 = vt2 + 8 * ATTN_FT, *ds2 = kp2 + 8 * ATTN_FT;
  uint32_t *dob2 = ds2 + ATTN_FM * ATTN_FT / 2, *dsp = dob2 + ATTN_FM * 8, *pp = dsp + ATTN_FM / 2 * ATTN_FT;
  uint32_t *qp = pp + ATTN_FM / 2 * ATTN_FT, *dop = qp + ATTN_FM / 2 * 16;
#else
  (void)bf16;
#endif
  const size_t ld = (size_t)3 * C;
  const __mmask16 m = attn_lanes(hs);
  const float scale = 1.0f / sqrtf((float)hs), ones[ATTN_FM] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  attn_fast_pack(vt, kp, q + 2 * C, q + C, ld, T, hs);
#ifdef ATTN_FAST_BF16
  if (bf16) attn_bf16_pack(vt2, kp2, vt, kp, (T + 31) / 32 * 32);
#endif
  memset(dk, 0, (size_t)2 * 16 * ATTN_FT * sizeof *dk);
  const int nb = attn_fast_nblocks(T);
  for (int bi = 0, t0 = 0, rows; bi < nb; bi++, t0 += rows) {
    rows = attn_fast_block_rows(T, nb, bi);
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
#ifdef ATTN_FAST_BF16
    if (bf16) {
      attn_bf16_rows(dob2, dob, 1, ATTN_FM * 16, 0);
      attn_fast_scores_bf16(ds, dob2, vt2, rows, nk, 1.0f);
    } else
#endif
      attn_fast_scores(ds, dob, vt, rows, hs, nk, 1.0f);
    for (int r = 0; r < rows; r++) {
      float *s = ds + r * ATTN_FT;
      const float *pr = p + r * ATTN_FT;
      __m512 dot = _mm512_setzero_ps();
      for (int i = 0; i < nk; i += 16) dot = _mm512_fmadd_ps(_mm512_loadu_ps(pr + i), _mm512_loadu_ps(s + i), dot);
      const __m512 dt = _mm512_set1_ps(_mm512_reduce_add_ps(dot)), sc = _mm512_set1_ps(scale);
      for (int i = 0; i < nk; i += 16) /* 0 where p is (past the row's extent) */
        _mm512_storeu_ps(s + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(pr + i), _mm512_sub_ps(_mm512_loadu_ps(s + i), dt)), sc));
    }
#ifdef ATTN_FAST_BF16
    if (bf16) {
      /* an odd block's last pair takes a zero row (p's, qb's and dob's already are) */
      const int pairs = (rows + 1) / 2;
      if (rows & 1) memset(ds + rows * ATTN_FT, 0, (size_t)nk * sizeof *ds);
      attn_bf16_rows(ds2, ds, rows, nk, ATTN_FT);
      attn_fast_pv_bf16(dq + (size_t)t0 * ld, ld, rows, hs, ds2, kp2, emax, ones);
      attn_bf16_row_pairs(dsp, ds, pairs, ATTN_FT, ATTN_FT, nk);
      attn_bf16_row_pairs(pp, p, pairs, ATTN_FT, ATTN_FT, nk);
      attn_bf16_row_pairs(qp, qb, pairs, 16, 16, 16);
      attn_bf16_row_pairs(dop, dob, pairs, 16, 16, 16);
      attn_fast_dkdv_bf16(dk, dv, dsp, pp, qp, dop, pairs, emax);
      continue;
    }
#endif
    attn_fast_pv(dq + (size_t)t0 * ld, ld, rows, hs, ds, kp, emax, ones);
    attn_fast_dkdv(dk, dv, ds, p, qb, dob, rows, emax);
  }
  for (int t = 0; t < T; t++) {
    _mm512_mask_storeu_ps(dq + (size_t)t * ld + C, m, _mm512_loadu_ps(dk + t * 16));
    _mm512_mask_storeu_ps(dq + (size_t)t * ld + 2 * C, m, _mm512_loadu_ps(dv + t * 16));
  }
}

#endif
