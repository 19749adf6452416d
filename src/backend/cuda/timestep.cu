/* Sinusoidal timestep features (DiT's timestep_embedding) for the CUDA backend, as
 * src/backend/cpu/timestep.c: f_k = exp(-ln(max_period) k / half), each row
 * [cos(t f), sin(t f)]; frequencies and arguments in double, rounded once. */
#include "backend/cuda/cuda_common.cuh"

__global__ void timestep_kernel(float *out, const int *t, int half, double neg_log, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t b = i / (size_t)half;
    int k = (int)(i % (size_t)half);
    double arg = (double)t[b] * exp(neg_log * k / half);
    float *o = out + b * 2 * half;
    o[k] = (float)cos(arg);
    o[half + k] = (float)sin(arg);
  }
}

extern "C" void dc_cuda_timestep_embedding(float *out, const int *t, int B, int half, float max_period) {
  if (B <= 0 || half <= 0) return;
  DC_CUDA_REQUIRE(out && t && max_period > 0, "timestep_embedding: NULL pointer or max_period %g", (double)max_period);
  size_t total = (size_t)B * half;
  timestep_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      out, t, half, -log((double)max_period), total);
  DC_CUDA_LAUNCHED();
}
