/* Row-wise L2 normalisation out = x / ||x|| for the CUDA backend (semantics of
 * src/backend/cpu/l2norm.c: no epsilon, as PyTorch's x / x.norm(); squares and the
 * backward projection summed in double). One warp per row.
 * Backward ASSIGNS dinp = (dout - out <dout, out>) / norm. */
#include "backend/cuda/cuda_common.cuh"

#define L2_WARPS 8

__global__ void __launch_bounds__(L2_WARPS * 32)
    l2norm_forward_kernel(float *out, float *norm, const float *inp, int N, int C) {
  int n = blockIdx.x * L2_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float *x = inp + (size_t)n * C;
  float *o = out + (size_t)n * C;
  double ss = 0;
  for (int c = lane; c < C; c += 32) ss += (double)x[c] * x[c];
  double nr = sqrt(dc_warp_sum(ss));
  float inv = (float)(1.0 / nr);
  for (int c = lane; c < C; c += 32) o[c] = x[c] * inv;
  if (lane == 0) norm[n] = (float)nr;
}

__global__ void __launch_bounds__(L2_WARPS * 32)
    l2norm_backward_kernel(float *dinp, const float *dout, const float *out, const float *norm, int N, int C) {
  int n = blockIdx.x * L2_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float *dy = dout + (size_t)n * C, *y = out + (size_t)n * C;
  float *dx = dinp + (size_t)n * C;
  double proj = 0;
  for (int c = lane; c < C; c += 32) proj += (double)dy[c] * y[c];
  float pr = (float)dc_warp_sum(proj), inv = (float)(1.0 / (double)norm[n]);
  for (int c = lane; c < C; c += 32) dx[c] = (dy[c] - y[c] * pr) * inv;
}

extern "C" void dc_cuda_l2norm_forward(float *out, float *norm, const float *inp, int N, int C) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && norm && inp, "l2norm_forward: NULL pointer");
  l2norm_forward_kernel<<<CEIL_DIV(N, L2_WARPS), L2_WARPS * 32, 0, dc_cuda_stream()>>>(out, norm, inp, N, C);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_l2norm_backward(float *dinp, const float *dout, const float *out, const float *norm, int N,
                                        int C) {
  if (dinp == NULL || N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && out && norm, "l2norm_backward: NULL input");
  l2norm_backward_kernel<<<CEIL_DIV(N, L2_WARPS), L2_WARPS * 32, 0, dc_cuda_stream()>>>(dinp, dout, out, norm, N, C);
  DC_CUDA_LAUNCHED();
}
