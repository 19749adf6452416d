/* Philox fills of device memory for the CUDA backend: diffclip/rng.h compiled for the
 * device (its functions are __host__ __device__ under nvcc), so element e = first + i is
 * lane e % 4 of block (seed, stream, e / 4), the same words as the host fill
 * (src/core/rng.c). Uniforms match the host bit for bit; normals to the device libm's
 * accuracy (logf, sinf, cosf within a few ulp). */
#include "backend/cuda/cuda_common.cuh"
#include "diffclip/core/rng.h"

template <int NORMAL>
__global__ void rng_fill_kernel(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t e = first + i;
    dst[i] = NORMAL ? dc_rng_normal(seed, stream, e / 4, (int)(e % 4)) : dc_rng_uniform(seed, stream, e / 4, (int)(e % 4));
  }
}

extern "C" void dc_cuda_rng_uniform(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(dst != NULL, "rng_uniform: NULL pointer");
  rng_fill_kernel<0><<<dc_cuda_blocks(n, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(dst, n, seed, stream,
                                                                                                  first);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_rng_normal(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(dst != NULL, "rng_normal: NULL pointer");
  rng_fill_kernel<1><<<dc_cuda_blocks(n, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(dst, n, seed, stream,
                                                                                                  first);
  DC_CUDA_LAUNCHED();
}
