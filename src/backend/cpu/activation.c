/* Elementwise activations for the CPU backend: GELU (exact, erf form, as in PyTorch's
 * default nn.GELU), QuickGELU x*sigmoid(1.702x) (OpenAI CLIP), SiLU x*sigmoid(x) and ReLU.
 *
 * Backward ASSIGNS dinp = dout * act'(inp), recomputing from the saved input rather than
 * keeping extra activations. The kind is switched on once per call, outside the loops, so
 * each loop is a plain elementwise body the compiler can vectorise. */
#include "backend/cpu/real.h"
#include "backend/cpu/vmath.h"

/* Below this many values a parallel region costs more than the loop. */
#define ACT_PARALLEL_MIN 16384

#ifdef DC_REAL_F64
/* double (the gradient checks): libm */
static inline real act_exp(real x) { return exp(x); }
static inline real act_one_plus_erf(real x) { return (real)1 + erf(x); }
#else
/* float: exp (vmath.h) and erf written so that the loops below vectorise (glibc 2.36 has
 * no vector erff, and its vector expf needs -ffast-math; a NaN input stays NaN through the
 * callers' x factor). erf: 1 - erfc with erfc(z) = t exp(-z^2 + P(t)),
 * t = 1 / (1 + z / 2) (Numerical Recipes' erfcc, fractional error below 1.2e-7), returned
 * as 1 + erf(x) = erfc(-x), which GELU needs, so negative x lose nothing to cancelling. */
static inline float act_exp(float x) { return dc_cpu_expf(x); }
static inline float act_one_plus_erf(float x) {
  float z = fabsf(x), t = 1.0f / (1.0f + 0.5f * z);
  float q = t * (-0.82215223f + t * 0.17087277f);
  q = t * (1.48851587f + q);
  q = t * (-1.13520398f + q);
  q = t * (0.27886807f + q);
  q = t * (-0.18628806f + q);
  q = t * (0.09678418f + q);
  q = t * (0.37409196f + q);
  q = t * (1.00002368f + q);
  float erfc = t * act_exp(-z * z - 1.26551223f + q);
  return x >= 0 ? 2.0f - erfc : erfc; /* 1 + erf(x), without cancelling for x < 0 */
}
#endif

static inline real act_sigmoid(real x) { return (real)1 / ((real)1 + act_exp(-x)); }

void OP(act_forward)(enum dc_act act, real *out, /* (n) */
                     const real *inp,            /* (n) */
                     size_t n) {
  const real inv_sqrt2 = (real)0.70710678118654752440;
  switch (act) {
    case DC_ACT_GELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = (real)0.5 * x * act_one_plus_erf(x * inv_sqrt2);
      }
      break;
    case DC_ACT_QUICKGELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = x * act_sigmoid((real)1.702 * x);
      }
      break;
    case DC_ACT_SILU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = x * act_sigmoid(x);
      }
      break;
    case DC_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : (real)0;
      break;
  }
}

void OP(act_backward)(enum dc_act act, real *dinp, /* (n) */
                      const real *dout,            /* (n) */
                      const real *inp,             /* (n) */
                      size_t n) {
  const real inv_sqrt2 = (real)0.70710678118654752440;
  const real inv_sqrt_2pi = (real)0.39894228040143267794;
  switch (act) {
    case DC_ACT_GELU:
      /* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real cdf = (real)0.5 * act_one_plus_erf(x * inv_sqrt2);
        real pdf = inv_sqrt_2pi * act_exp((real)-0.5 * x * x);
        dinp[i] = dout[i] * (cdf + x * pdf);
      }
      break;
    case DC_ACT_QUICKGELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real s = act_sigmoid((real)1.702 * x);
        dinp[i] = dout[i] * (s + (real)1.702 * x * s * ((real)1 - s));
      }
      break;
    case DC_ACT_SILU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real s = act_sigmoid(x);
        dinp[i] = dout[i] * (s * ((real)1 + x * ((real)1 - s)));
      }
      break;
    case DC_ACT_RELU:
      /* The subgradient at exactly 0 is taken as 0, as in PyTorch. */
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) dinp[i] = inp[i] > 0 ? dout[i] : (real)0;
      break;
  }
}

/* out = act(inp), grad = act'(inp): the expressions of act_forward and act_backward (with
 * dout = 1), so act_backward's dinp equals dout * grad to the bit; grad may alias inp. */
void OP(act_forward_grad)(enum dc_act act, real *out, /* (n) */
                          real *grad,                 /* (n) */
                          const real *inp,            /* (n) */
                          size_t n) {
  const real inv_sqrt2 = (real)0.70710678118654752440;
  const real inv_sqrt_2pi = (real)0.39894228040143267794;
  switch (act) {
    case DC_ACT_GELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real cdf = (real)0.5 * act_one_plus_erf(x * inv_sqrt2);
        real pdf = inv_sqrt_2pi * act_exp((real)-0.5 * x * x);
        out[i] = (real)0.5 * x * act_one_plus_erf(x * inv_sqrt2);
        grad[i] = cdf + x * pdf;
      }
      break;
    case DC_ACT_QUICKGELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real s = act_sigmoid((real)1.702 * x);
        out[i] = x * s;
        grad[i] = s + (real)1.702 * x * s * ((real)1 - s);
      }
      break;
    case DC_ACT_SILU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        real s = act_sigmoid(x);
        out[i] = x * s;
        grad[i] = s * ((real)1 + x * ((real)1 - s));
      }
      break;
    case DC_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = x > 0 ? x : (real)0;
        grad[i] = x > 0 ? (real)1 : (real)0;
      }
      break;
  }
}
