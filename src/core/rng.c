/* Bulk fills from the counter-based generator in diffclip/rng.h (host side). Each element
 * is a pure function of its global position, so the fill is split over OpenMP threads
 * freely and gives the same values for any thread or rank count. */
#include "diffclip/core/rng.h"

/* Below this many values a parallel region costs more than the draws. */
#define RNG_PAR_MIN 4096

/* Values [first, first + n) as blocks of four: the elements before the first whole block
 * and after the last one one by one, each whole block from one Philox call (the four
 * lanes of a block are its four words, so this is the per-element definition, computed
 * once per block instead of once per lane). */
#define RNG_FILL(out, n, first, one, block)                                                          \
  do {                                                                                               \
    size_t head_ = (size_t)((4 - (first) % 4) % 4);                                                  \
    if (head_ > (n)) head_ = (n);                                                                    \
    size_t nblk_ = ((n) - head_) / 4;                                                                \
    for (size_t i = 0; i < head_; i++) (out)[i] = one((first) + i);                                  \
    _Pragma("omp parallel for schedule(static) if (nblk_ * 4 >= RNG_PAR_MIN)")                       \
    for (size_t b = 0; b < nblk_; b++) block((out) + head_ + 4 * b, ((first) + head_) / 4 + b);       \
    for (size_t i = head_ + 4 * nblk_; i < (n); i++) (out)[i] = one((first) + i);                    \
  } while (0)

void dc_rng_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
#define ONE(e) dc_rng_uniform(seed, stream, (e) / 4, (int)((e) % 4))
#define BLOCK(dst, index)                                                             \
  do {                                                                                \
    uint32_t w_[4];                                                                   \
    dc_rng_block(seed, stream, index, w_);                                            \
    for (int l_ = 0; l_ < 4; l_++) (dst)[l_] = dc_rng_word_to_uniform(w_[l_]);        \
  } while (0)
  RNG_FILL(out, n, first, ONE, BLOCK);
#undef ONE
#undef BLOCK
}

void dc_rng_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
#define ONE(e) dc_rng_normal(seed, stream, (e) / 4, (int)((e) % 4))
#define BLOCK(dst, index) dc_rng_normal_block(seed, stream, index, dst)
  RNG_FILL(out, n, first, ONE, BLOCK);
#undef ONE
#undef BLOCK
}
