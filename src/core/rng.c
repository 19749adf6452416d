/* Bulk fills from the counter-based generator in diffclip/rng.h (host side). Each element
 * is a pure function of its global position, so the fill is split over OpenMP threads
 * freely and gives the same values for any thread or rank count. */
#include "diffclip/core/rng.h"

/* Below this many values a parallel region costs more than the draws. */
#define RNG_PAR_MIN 4096

void dc_rng_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
#pragma omp parallel for schedule(static) if (n >= RNG_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    uint64_t e = first + i;
    out[i] = dc_rng_uniform(seed, stream, e / 4, (int)(e % 4));
  }
}

void dc_rng_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
#pragma omp parallel for schedule(static) if (n >= RNG_PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    uint64_t e = first + i;
    out[i] = dc_rng_normal(seed, stream, e / 4, (int)(e % 4));
  }
}
