/* Shared helpers for the op tests: deterministic random data, central finite differences
 * in double precision against the dc_cpu_f64_* kernels, and float-vs-double agreement of
 * the production dc_cpu_f32_* kernels.
 *
 * A gradient check perturbs each checked input element by +-h, evaluates a scalar loss
 * L = sum(out * R) (R random, fixed), and compares (L+ - L-)/(2h) with the analytic
 * gradient from the backward kernel called with dout = R. Header-only; each test includes it
 * once, and no test needs to silence warnings for the helpers it leaves unused. */
#ifndef DIFFCLIP_TESTS_GRADCHECK_H
#define DIFFCLIP_TESTS_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/backend/ops.h"

/* Each test uses only some of these helpers. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

static uint64_t gc_state = 0x9e3779b97f4a7c15ULL;
static int gc_failures = 0;

static inline void gc_seed(uint64_t s) { gc_state = s * 0x9e3779b97f4a7c15ULL + 1; }
static inline uint64_t gc_next(void) { /* splitmix64 */
  uint64_t z = (gc_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
/* uniform in [lo, hi) */
static inline double gc_uniform(double lo, double hi) { return lo + (hi - lo) * (double)(gc_next() >> 11) * 0x1.0p-53; }
/* integer in [lo, hi] */
static inline int gc_int(int lo, int hi) { return lo + (int)(gc_next() % (uint64_t)(hi - lo + 1)); }

static inline double *gc_alloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof *p);
  if (!p) { fprintf(stderr, "out of memory\n"); abort(); }
  return p;
}
static inline double *gc_random(size_t n, double lo, double hi) {
  double *p = gc_alloc(n);
  for (size_t i = 0; i < n; i++) p[i] = gc_uniform(lo, hi);
  return p;
}
static inline float *gc_to_float(const double *x, size_t n) {
  float *p = calloc(n ? n : 1, sizeof *p);
  if (!p) abort();
  for (size_t i = 0; i < n; i++) p[i] = (float)x[i];
  return p;
}
static inline double gc_weighted_sum(const double *out, const double *r, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += out[i] * r[i];
  return s;
}

/* The loss as a function of the current inputs; ctx is the test's own struct. */
typedef double (*gc_loss_fn)(void *ctx);

/* Compares grad[i] with the central difference of loss over x[i], for up to max_checks
 * elements spread over x. Error measure: |a - n| / max(1, |a|, |n|) <= tol. */
static inline double gc_check(const char *what, double *x, const double *grad, size_t n, gc_loss_fn loss,
                       void *ctx, double h, double tol, size_t max_checks) {
  double worst = 0;
  size_t stride = n > max_checks ? n / max_checks : 1;
  for (size_t i = 0; i < n; i += stride) {
    double keep = x[i];
    x[i] = keep + h;
    double lp = loss(ctx);
    x[i] = keep - h;
    double lm = loss(ctx);
    x[i] = keep;
    double num = (lp - lm) / (2 * h);
    double scale = fmax(1.0, fmax(fabs(num), fabs(grad[i])));
    double err = fabs(num - grad[i]) / scale;
    if (err > worst) worst = err;
    if (!(err <= tol)) {
      fprintf(stderr, "FAIL %s[%zu]: analytic %.10g numeric %.10g (err %.3g > %.1g)\n", what, i,
              grad[i], num, err, tol);
      gc_failures++;
      return err;
    }
  }
  printf("  grad %-28s n=%-7zu max_err=%.2e\n", what, n, worst);
  return worst;
}

/* Float kernel output vs double kernel output: max |f - d| / max(1, max|d|) <= tol. */
static inline double gc_compare_f32(const char *what, const float *f, const double *d, size_t n, double tol) {
  double worst = 0, ref = 1;
  for (size_t i = 0; i < n; i++) ref = fmax(ref, fabs(d[i]));
  for (size_t i = 0; i < n; i++) {
    double err = fabs((double)f[i] - d[i]) / ref;
    if (err > worst) worst = err;
  }
  if (!(worst <= tol)) {
    fprintf(stderr, "FAIL %s: float vs double max_err %.3g > %.1g\n", what, worst, tol);
    gc_failures++;
  } else {
    printf("  f32  %-28s n=%-7zu max_err=%.2e\n", what, n, worst);
  }
  return worst;
}

static inline int gc_finish(const char *test) {
  if (gc_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", test, gc_failures);
    return 1;
  }
  printf("%s: all checks passed\n", test);
  return 0;
}

#pragma GCC diagnostic pop

#endif
