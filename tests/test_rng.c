/* The counter-based generator: Philox4x32-10 known-answer vectors from the Random123
 * distribution (kat_vectors), the statistics of the uniform, normal and bounded-integer
 * helpers within a few standard errors, their ranges, determinism in (seed, stream, index),
 * and the bulk fills agreeing with single draws however the range is split. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "diffclip/core/rng.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static void kat(void) {
  static const struct {
    uint32_t ctr[4], key[2], want[4];
  } v[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    uint32_t out[4];
    dc_philox4x32(v[i].ctr, v[i].key, out);
    char what[64];
    snprintf(what, sizeof what, "Philox4x32-10 known answer %zu", i);
    if (memcmp(out, v[i].want, sizeof out) != 0)
      fprintf(stderr, "  got %08x %08x %08x %08x\n", out[0], out[1], out[2], out[3]);
    expect(memcmp(out, v[i].want, sizeof out) == 0, what);
  }
  /* The (seed, stream, index) mapping documented in rng.h. */
  uint32_t w[4], ref[4];
  uint64_t seed = 0x299f31d0a4093822ULL, stream = 0x0370734413198a2eULL,
           index = 0x85a308d3243f6a88ULL;
  dc_rng_block(seed, stream, index, w);
  dc_philox4x32(v[2].ctr, v[2].key, ref);
  expect(memcmp(w, ref, sizeof w) == 0 && dc_rng_u32(seed, stream, index, 2) == 0x5001e420,
         "key = seed halves, counter = index halves then stream halves");
}

enum { DRAWS = 100000 };

static void uniform(void) {
  double s = 0, lo = 1, hi = 0;
  for (uint64_t i = 0; i < DRAWS; i++) {
    float u = dc_rng_uniform(7, 1, i / 4, (int)(i % 4));
    s += u;
    lo = fmin(lo, u);
    hi = fmax(hi, u);
  }
  double mean = s / DRAWS, se = sqrt(1.0 / 12 / DRAWS);
  printf("uniform: mean %.5f (se %.1e), min %.3g, max %.7f\n", mean, se, lo, hi);
  expect(fabs(mean - 0.5) < 5 * se, "uniform mean 0.5 within 5 standard errors");
  expect(lo >= 0 && hi < 1, "uniform in [0, 1)");
  expect(dc_rng_word_to_uniform(0xffffffffu) < 1.0f && dc_rng_word_to_uniform(0) == 0.0f,
         "largest word maps below 1, zero to 0");
}

static void normal(void) {
  double s = 0, s2 = 0, s4 = 0, amax = 0;
  int finite = 1;
  for (uint64_t i = 0; i < DRAWS; i++) {
    double z = dc_rng_normal(7, 2, i / 4, (int)(i % 4));
    finite &= isfinite(z);
    s += z;
    amax = fmax(amax, fabs(z));
  }
  double mean = s / DRAWS;
  for (uint64_t i = 0; i < DRAWS; i++) {
    double d = dc_rng_normal(7, 2, i / 4, (int)(i % 4)) - mean;
    s2 += d * d;
    s4 += d * d * d * d;
  }
  double var = s2 / (DRAWS - 1);
  double se_mean = sqrt(1.0 / DRAWS), se_var = sqrt(2.0 / (DRAWS - 1));
  printf("normal: mean %.5f (se %.1e), variance %.5f (se %.1e), max |z| %.3f, kurtosis %.3f\n",
         mean, se_mean, var, se_var, amax, s4 / DRAWS / (var * var));
  expect(finite && amax <= 5.8, "normals finite, |z| <= sqrt(-2 ln 2^-24)");
  expect(fabs(mean) < 5 * se_mean, "normal mean 0 within 5 standard errors");
  expect(fabs(var - 1) < 5 * se_var, "normal variance 1 within 5 standard errors");
  /* The cos and sin lanes of one pair are uncorrelated. */
  double c = 0;
  for (uint64_t i = 0; i < DRAWS; i++) c += dc_rng_normal(9, 0, i, 0) * dc_rng_normal(9, 0, i, 1);
  expect(fabs(c / DRAWS) < 5 * se_mean, "lanes 0 and 1 uncorrelated");
}

static void below(void) {
  static const uint32_t ns[] = {1, 2, 3, 7, 1000, 0x80000001u, 0xffffffffu};
  int never_n = 1;
  for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
    for (uint64_t i = 0; i < DRAWS / 4; i++)
      for (int lane = 0; lane < 2; lane++) never_n &= dc_rng_below(3, k, i, lane, ns[k]) < ns[k];
  expect(never_n, "dc_rng_below(n) < n for n = 1, 2, 3, 7, 1000, 2^31+1, 2^32-1");
  expect(dc_rng_below(3, 0, 0, 0, 0) == 0, "dc_rng_below(0) is 0");
  /* Buckets of n = 7 within 5 standard errors of DRAWS/7. */
  long count[7] = {0};
  for (uint64_t i = 0; i < DRAWS; i++) count[dc_rng_below(5, 5, i / 2, (int)(i % 2), 7)]++;
  double p = 1.0 / 7, se = sqrt(DRAWS * p * (1 - p));
  int ok = 1;
  for (int b = 0; b < 7; b++) ok &= fabs(count[b] - DRAWS * p) < 5 * se;
  printf("below(7): %ld %ld %ld %ld %ld %ld %ld\n", count[0], count[1], count[2], count[3],
         count[4], count[5], count[6]);
  expect(ok, "dc_rng_below(7) buckets uniform within 5 standard errors");
}

static void determinism(void) {
  uint32_t a = dc_rng_u32(42, 3, 1000, 1), b = dc_rng_u32(42, 3, 1000, 1);
  expect(a == b && dc_rng_uniform(42, 3, 1000, 1) == dc_rng_uniform(42, 3, 1000, 1) &&
             dc_rng_normal(42, 3, 1000, 3) == dc_rng_normal(42, 3, 1000, 3),
         "same (seed, stream, index, lane), same value");
  expect(a != dc_rng_u32(42, 3, 1001, 1) && a != dc_rng_u32(42, 4, 1000, 1) &&
             a != dc_rng_u32(43, 3, 1000, 1) && a != dc_rng_u32(42, 3, 1000, 2),
         "another index, stream, seed or lane, another value");
  expect(dc_rng_u32(42, 1, 0, 0) != dc_rng_u32(42, 0, 1, 0) &&
             dc_rng_u32(42, 1ULL << 32, 0, 0) != dc_rng_u32(42, 0, 1ULL << 32, 0),
         "stream and index do not alias");
}

static void fills(void) {
  enum { N = 10001 };
  float *all = malloc(N * sizeof *all), *part = malloc(N * sizeof *part);
  int ok = 1;
  dc_rng_fill_uniform(all, N, 11, 12, 5);
  for (uint64_t i = 0; i < N; i++) ok &= all[i] == dc_rng_uniform(11, 12, (5 + i) / 4, (int)((5 + i) % 4));
  /* Three "ranks" at boundaries that are not multiples of 4. */
  dc_rng_fill_uniform(part, 3, 11, 12, 5);
  dc_rng_fill_uniform(part + 3, 4998, 11, 12, 8);
  dc_rng_fill_uniform(part + 5001, N - 5001, 11, 12, 5006);
  ok &= memcmp(all, part, N * sizeof *all) == 0;
  expect(ok, "uniform fill equals single draws and any split of the range");
  ok = 1;
  dc_rng_fill_normal(all, N, 11, 13, 0);
  for (uint64_t i = 0; i < N; i++) ok &= all[i] == dc_rng_normal(11, 13, i / 4, (int)(i % 4));
  dc_rng_fill_normal(part, 1, 11, 13, 0);
  dc_rng_fill_normal(part + 1, N - 1, 11, 13, 1);
  ok &= memcmp(all, part, N * sizeof *all) == 0;
  expect(ok, "normal fill equals single draws and any split of the range");
  free(all);
  free(part);
}

int main(void) {
  kat();
  uniform();
  normal();
  below();
  determinism();
  fills();
  if (failures) {
    fprintf(stderr, "test_rng: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_rng: all checks passed\n");
  return 0;
}
