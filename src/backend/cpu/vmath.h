/* exp for the float CPU kernels, written so that GCC vectorises the loops that call it:
 * libm's expf is not vectorised (glibc offers its vector variants only under
 * -ffast-math), and softmax, GELU, QuickGELU and SiLU take one per element.
 *
 * Cephes' polynomial after a Cody-Waite reduction x = n ln 2 + r, 2^n written into the
 * exponent bits; within 1.3 ulp of expf (checked over every float in [-100, 0]) on
 * |x| <= 87; below -87 it returns 0, above 87 +inf, and a NaN gives NaN's sign's end (0 or
 * +inf: callers whose result must stay NaN carry x through another factor). The range
 * test and clamp are integer operations on the bits: float compares and selects can raise
 * FP exceptions, and under the default -ftrapping-math that alone keeps GCC from
 * vectorising a loop. */
#ifndef DIFFCLIP_CPU_VMATH_H
#define DIFFCLIP_CPU_VMATH_H

#include <math.h>
#include <stdint.h>

static inline float dc_cpu_expf(float x) {
  union { float f; int32_t i; } u = {x};
  int32_t sign = u.i & (int32_t)0x80000000, mag = u.i & 0x7fffffff;
  int32_t in_range = mag <= 0x42ae0000; /* |x| <= 87 */
  mag = mag < 0x42ae0000 ? mag : 0x42ae0000;
  u.i = mag | sign; /* clamped to [-87, 87] */
  float xc = u.f;
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
  float r = fmaf(n, -0.693359375f, xc);
  r = fmaf(n, 2.12194440e-4f, r); /* x - n ln 2, with ln 2 split in two for accuracy */
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = fmaf(p * r, r, r + 1.0f);
  union { int32_t i; float f; } scale = {((int32_t)n + 127) << 23}; /* 2^n */
  union { float f; int32_t i; } y = {p * scale.f};
  int32_t out = sign ? 0 : 0x7f800000; /* beyond the range: 0 or +inf */
  y.i = (y.i & -in_range) | (out & (in_range - 1));
  return y.f;
}

#endif
