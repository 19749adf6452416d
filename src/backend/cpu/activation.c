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
  /* 1 + erf(x), without cancelling for x < 0: 2 - erfc(|x|) or erfc(|x|), picked on the
   * sign bit with integer operations (a float compare keeps GCC from vectorising the loop
   * for AVX2 under the default -ftrapping-math) */
  union { float f; int32_t i; } v = {x}, pos = {2.0f - erfc}, neg = {erfc};
  int32_t m = v.i >> 31; /* all ones for x < 0 (and -0, where both are 1) */
  union { int32_t i; float f; } r = {(neg.i & m) | (pos.i & ~m)};
  return r.f;
}
#endif

static inline real act_sigmoid(real x) { return (real)1 / ((real)1 + act_exp(-x)); }

/* Each activation's value and derivative, shared by forward, backward and act_forward_grad
 * (so that act_backward's dinp is dout times act_forward_grad's grad, to the bit). */
static inline real gelu_value(real x) { return (real)0.5 * x * act_one_plus_erf(x * (real)0.70710678118654752440); }
static inline real gelu_deriv(real x) { /* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
  real cdf = (real)0.5 * act_one_plus_erf(x * (real)0.70710678118654752440);
  real pdf = (real)0.39894228040143267794 * act_exp((real)-0.5 * x * x);
  return cdf + x * pdf;
}
static inline real quickgelu_value(real x) { return x * act_sigmoid((real)1.702 * x); }
static inline real quickgelu_deriv(real x) {
  real s = act_sigmoid((real)1.702 * x);
  return s + (real)1.702 * x * s * ((real)1 - s);
}
static inline real silu_value(real x) { return x * act_sigmoid(x); }
static inline real silu_deriv(real x) {
  real s = act_sigmoid(x);
  return s * ((real)1 + x * ((real)1 - s));
}
#ifdef DC_REAL_F64
static inline real relu_value(real x) { return x > 0 ? x : (real)0; }
static inline real relu_deriv(real x) { return x > 0 ? (real)1 : (real)0; } /* 0 at exactly 0, as in PyTorch */
#else
/* the same on the bits (positive floats are positive integers), so that AVX2 vectorises it;
 * a NaN input gives NaN and derivative 0, as in PyTorch */
static inline int32_t relu_bits(float x) {
  union { float f; int32_t i; } u = {x};
  return u.i;
}
static inline int32_t relu_nan(float x) { return -(int32_t)((relu_bits(x) & 0x7fffffff) > 0x7f800000); }
static inline int32_t relu_pos(float x) { return -(int32_t)(relu_bits(x) > 0) & ~relu_nan(x); }
static inline float relu_value(float x) {
  union { int32_t i; float f; } r = {relu_bits(x) & (relu_pos(x) | relu_nan(x))};
  return r.f;
}
static inline float relu_deriv(float x) {
  union { float f; int32_t i; } one = {1.0f};
  one.i &= relu_pos(x);
  return one.f; /* 0 at exactly 0, as in PyTorch */
}
#endif

/* One elementwise loop per kind (the kind switched on outside the loops, so each loop is a
 * plain body the compiler vectorises); BODY(f) uses f##_value and f##_deriv. */
#define ACT_LOOPS(act, n, BODY)                                                  \
  switch (act) {                                                                 \
    case DC_ACT_GELU:                                                            \
      _Pragma("omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)") \
      for (size_t i = 0; i < n; i++) BODY(gelu);                                 \
      break;                                                                     \
    case DC_ACT_QUICKGELU:                                                       \
      _Pragma("omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)") \
      for (size_t i = 0; i < n; i++) BODY(quickgelu);                            \
      break;                                                                     \
    case DC_ACT_SILU:                                                            \
      _Pragma("omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)") \
      for (size_t i = 0; i < n; i++) BODY(silu);                                 \
      break;                                                                     \
    case DC_ACT_RELU:                                                            \
      _Pragma("omp parallel for simd schedule(static) if (n >= ACT_PARALLEL_MIN)") \
      for (size_t i = 0; i < n; i++) BODY(relu);                                 \
      break;                                                                     \
  }

void OP(act_forward)(enum dc_act act, real *out, /* (n) */
                     const real *inp,            /* (n) */
                     size_t n) {
#define FWD(f) out[i] = f##_value(inp[i])
  ACT_LOOPS(act, n, FWD)
#undef FWD
}

void OP(act_backward)(enum dc_act act, real *dinp, /* (n) */
                      const real *dout,            /* (n) */
                      const real *inp,             /* (n) */
                      size_t n) {
#define BWD(f) dinp[i] = dout[i] * f##_deriv(inp[i])
  ACT_LOOPS(act, n, BWD)
#undef BWD
}

/* out = act(inp), grad = act'(inp); grad may alias inp (each element is read before its
 * outputs are written). */
void OP(act_forward_grad)(enum dc_act act, real *out, /* (n) */
                          real *grad,                 /* (n) */
                          const real *inp,            /* (n) */
                          size_t n) {
#define BOTH(f)                      \
  do {                               \
    real x_ = inp[i];                \
    out[i] = f##_value(x_);          \
    grad[i] = f##_deriv(x_);         \
  } while (0)
  ACT_LOOPS(act, n, BOTH)
#undef BOTH
}
