/* Sinusoidal timestep features, as DiT's TimestepEmbedder.timestep_embedding, for the CPU
 * backend: f_k = exp(-ln(max_period) k / half) for k < half, and each row is
 * [cos(t f_0..f_{half-1}), sin(t f_0..f_{half-1})], the cos block first.
 *
 * The frequencies and arguments are computed in double and rounded once at the end, also
 * in the float build. PyTorch forms t * f_k in float32, where an argument near 1000 carries
 * an absolute error of ~6e-5 that cos/sin pass straight on; computing it exactly gives the
 * mathematically intended table (the float64 golden reference) to float rounding, which
 * is what the model's tolerances are stated against. Forward only: t are integers. */
#include "backend/cpu/real.h"

void OP(timestep_embedding)(real *out,    /* (B, 2*half) */
                            const int *t, /* (B) */
                            int B, int half, real max_period) {
  double neg_log = -log((double)max_period);
#pragma omp parallel for schedule(static) if ((long)B * half > 4096)
  for (int b = 0; b < B; b++) {
    real *o = out + (size_t)b * 2 * half;
    for (int k = 0; k < half; k++) {
      double arg = (double)t[b] * exp(neg_log * k / half);
      o[k] = (real)cos(arg);
      o[half + k] = (real)sin(arg);
    }
  }
}
