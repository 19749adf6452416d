/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011; the generator of Random123 and cuRAND).
 *
 * A counter-based generator has no state to carry or split: a value is a pure function of
 * (seed, stream, index). Training draws a sample's randomness (masking noise, augmentation)
 * from its global sample id, so every value is the same whichever rank, thread or GPU
 * computes it, and a run is reproducible under any rank count.
 *
 * Mapping of (seed, stream, index) to one Philox block:
 *   key     = { seed & 0xffffffff, seed >> 32 }
 *   counter = { index & 0xffffffff, index >> 32, stream & 0xffffffff, stream >> 32 }
 * One block gives four 32-bit words, selected by `lane`. Use `stream` for the purpose and
 * the sample (e.g. stream = purpose << 40 | sample_id) and `index` for the position inside
 * it; distinct (stream, index) pairs under one seed give independent blocks.
 *
 * Everything but the bulk fills is static inline and free of host-only calls, so a CUDA
 * file can include this header (DC_RNG_FN adds __host__ __device__ under nvcc) and draw
 * bit-identical words; the float helpers then agree to the device libm's accuracy. The
 * bulk fills are host-only (src/core/rng.c). */
#ifndef DIFFCLIP_RNG_H
#define DIFFCLIP_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DC_RNG_FN __host__ __device__ static inline
#else
#define DC_RNG_FN static inline
#endif

/* One round: two 32x32->64 multiplies, the high halves xored with the other words and the
 * key, and a word permutation. */
DC_RNG_FN void dc_philox4x32_round(uint32_t ctr[4], const uint32_t key[2]) {
  uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
  uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
  uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  uint32_t c1 = ctr[1], c3 = ctr[3];
  ctr[0] = hi1 ^ c1 ^ key[0];
  ctr[1] = lo1;
  ctr[2] = hi0 ^ c3 ^ key[1];
  ctr[3] = lo0;
}

/* Philox4x32-10: ten rounds, the key bumped by the Weyl constants between rounds. */
DC_RNG_FN void dc_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  uint32_t k[2] = {key[0], key[1]};
  for (int r = 0; r < 10; r++) {
    if (r > 0) {
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
    dc_philox4x32_round(c, k);
  }
  out[0] = c[0];
  out[1] = c[1];
  out[2] = c[2];
  out[3] = c[3];
}

/* The four words of block (seed, stream, index). */
DC_RNG_FN void dc_rng_block(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
                     (uint32_t)(stream >> 32)};
  dc_philox4x32(ctr, key, out);
}

/* Word `lane` (0..3) of the block. */
DC_RNG_FN uint32_t dc_rng_u32(uint64_t seed, uint64_t stream, uint64_t index, int lane) {
  uint32_t w[4];
  dc_rng_block(seed, stream, index, w);
  return w[lane & 3];
}

/* A word's 24 high bits as a float in [0, 1): k * 2^-24 is exact in float, so the result is
 * at most 1 - 2^-24 and never rounds up to 1. */
DC_RNG_FN float dc_rng_word_to_uniform(uint32_t w) { return (float)(w >> 8) * 0x1.0p-24f; }

/* Uniform in [0, 1) from word `lane` (0..3). */
DC_RNG_FN float dc_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index, int lane) {
  return dc_rng_word_to_uniform(dc_rng_u32(seed, stream, index, lane));
}

/* The radius and angle of the Box-Muller pair drawn from words w0, w1. */
DC_RNG_FN void dc_rng_polar(uint32_t w0, uint32_t w1, float *r, float *a) {
  float u1 = (float)((w0 >> 8) + 1u) * 0x1.0p-24f; /* (0, 1] */
  float u2 = dc_rng_word_to_uniform(w1);          /* [0, 1) */
  *r = sqrtf(-2.0f * logf(u1));
  *a = 6.2831853071795864769f * u2;
}

/* Standard normal by Box-Muller. Lanes 0 and 1 are the cos and sin outputs of the pair
 * made from words 0 and 1; lanes 2 and 3 the same from words 2 and 3: four independent
 * normals per block. The radius uses u1 in (0, 1] (never log(0)), so |z| <= 5.77. */
DC_RNG_FN float dc_rng_normal(uint64_t seed, uint64_t stream, uint64_t index, int lane) {
  uint32_t w[4];
  dc_rng_block(seed, stream, index, w);
  int pair = lane & 2;
  float r, a;
  dc_rng_polar(w[pair], w[pair + 1], &r, &a);
  return (lane & 1) ? r * sinf(a) : r * cosf(a);
}

/* The four lanes of block `index`, out[l] = dc_rng_normal(seed, stream, index, l), from one
 * Philox call and two radii (the bulk fill's form). */
DC_RNG_FN void dc_rng_normal_block(uint64_t seed, uint64_t stream, uint64_t index, float out[4]) {
  uint32_t w[4];
  dc_rng_block(seed, stream, index, w);
  for (int pair = 0; pair < 4; pair += 2) {
    float r, a;
    dc_rng_polar(w[pair], w[pair + 1], &r, &a);
    out[pair] = r * cosf(a);
    out[pair + 1] = r * sinf(a);
  }
}

/* Integer in [0, n) for n >= 1 (0 when n == 0). Lane 0 uses words 0-1, lane 1 words 2-3,
 * as one 64-bit value x, mapped to floor(x * n / 2^64) (Lemire's multiply-shift, without
 * rejection). With a 64-bit source the bias is bounded instead of removed: every result
 * has probability floor(2^64/n)/2^64 or ceil(2^64/n)/2^64, a relative difference below
 * n / 2^64 <= 2^-32, far below what any sampling here can see; and, unlike rejection, the
 * cost is fixed and no extra counter is needed for redraws. */
DC_RNG_FN uint32_t dc_rng_below(uint64_t seed, uint64_t stream, uint64_t index, int lane,
                                uint32_t n) {
  uint32_t w[4];
  dc_rng_block(seed, stream, index, w);
  int pair = (lane & 1) * 2;
  uint64_t hi = w[pair], lo = w[pair + 1];
  /* (hi * 2^32 + lo) * n / 2^64 in 64-bit pieces: both partial products fit. */
  uint64_t mid = hi * n + ((lo * n) >> 32);
  return (uint32_t)(mid >> 32);
}

/* Host-side bulk fills (src/core/rng.c): out[i] for i < n is element e = first + i of the
 * sequence whose element e is lane e % 4 of block e / 4, i.e. out[i] equals
 * dc_rng_uniform(seed, stream, e / 4, e % 4) (resp. dc_rng_normal). A range split over
 * ranks at any element boundary therefore reproduces the single-rank fill. */
void dc_rng_fill_uniform(float *out, /* (n) */
                         size_t n, uint64_t seed, uint64_t stream, uint64_t first);
void dc_rng_fill_normal(float *out, /* (n) */
                        size_t n, uint64_t seed, uint64_t stream, uint64_t first);

/* Randomness streams of the model and training: one per purpose so draws never overlap. */
enum dc_stream {
  DC_STREAM_TIMESTEP = 1,
  DC_STREAM_NOISE = 16,  /* + modality */
  DC_STREAM_MASK = 32,   /* + modality */
  DC_STREAM_INIT = 64,
  DC_STREAM_DATA = 128,
  DC_STREAM_SHUFFLE = 256
};

#endif
