/* Embedding lookup for the CUDA backend: out row i = table row ids[i].
 *
 * Backward ACCUMULATES into dtable. Ids repeat (the same token in many captions), so rows
 * are added with atomicAdd: the sum is exact up to float rounding, but its order (and so
 * its last bit) can change between runs. The CPU backend sums in a fixed order; the
 * tests compare the two within float tolerance. */
#include "backend/cuda/cuda_common.cuh"

__global__ void embedding_forward_kernel(float *out, const int *ids, const float *table, size_t total, int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t n = i / (size_t)C, c = i % (size_t)C;
    out[i] = table[(size_t)ids[n] * C + c];
  }
}

__global__ void embedding_backward_kernel(float *dtable, const float *dout, const int *ids, size_t total, int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t n = i / (size_t)C, c = i % (size_t)C;
    atomicAdd(dtable + (size_t)ids[n] * C + c, dout[i]);
  }
}

extern "C" void dc_cuda_embedding_forward(float *out, const int *ids, const float *table, int N, int C) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && ids && table, "embedding_forward: NULL pointer");
  size_t total = (size_t)N * C;
  embedding_forward_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      out, ids, table, total, C);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C) {
  if (dtable == NULL || N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && ids, "embedding_backward: NULL input");
  size_t total = (size_t)N * C;
  embedding_backward_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      dtable, dout, ids, total, C);
  DC_CUDA_LAUNCHED();
}
