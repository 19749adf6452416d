/* The float attention forward on AVX2 + FMA, for heads of at most 16 channels over at most
 * 128 tokens: included by attention.c alone, in its float build on AVX2 + FMA, after its
 * helpers (attn_min) and <immintrin.h>. It defines ATTN_FAST_ISA, ATTN_FT and
 * attn_fast_head. */
#ifndef DIFFCLIP_CPU_ATTENTION_AVX2_H
#define DIFFCLIP_CPU_ATTENTION_AVX2_H

#include <math.h>
#include <string.h>

/* ---- The float forward on AVX2 + FMA, for the same shapes (hs <= 16, T <= 128) ----
 *
 * The buffers, fixed strides and blocks of up to 12 queries of the AVX-512 forward
 * (attention_avx512.h), a row of 16 lanes being two 8-lane vectors. 16 registers hold six
 * rows of a 16-lane product (12 accumulators, two B vectors and a broadcast), so the
 * scores and output kernels take a block's rows six at a time, and a block is a whole
 * number of such tiles; the softmax goes row by row (a row's chunks are independent, which
 * is enough to hide the latencies). The exponential is the same base-2 polynomial, 2^n
 * written into the exponent bits (n >= -126 after the clamp). Timed alone against the
 * tiles at the model's shapes, this forward was clearly faster, while a backward in the
 * same form was not, so the backward on AVX2 stays with the tiles; bench-speed's cases show
 * the effect on a whole step (docs/performance.md). */
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

/* 8 values at p, lanes outside m zero (a whole row, hs = 16, needs no mask) */
static inline __m256 attn_load8(const float *p, int hs, __m256i m) {
  return hs == 16 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
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
        r[i] = in ? attn_load8(k + row, hs, m) : z;
        _mm256_storeu_ps(v + (t0 + i) * 16 + d0, in ? attn_load8(vs + row, hs, m) : z);
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
    const float *x = src + (size_t)attn_min(r, rows - 1) * ld;
    _mm256_storeu_ps(dst + r * 16, r < rows ? attn_load8(x, hs, m0) : z);
    _mm256_storeu_ps(dst + r * 16 + 8, r < rows ? attn_load8(x + 8, hs, m1) : z);
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
