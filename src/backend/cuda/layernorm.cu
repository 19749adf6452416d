/* Layer normalisation over the last dimension C of (N,C) rows for the CUDA backend: one
 * warp per row. As on the CPU, the row's mean and (biased) variance are two passes in
 * double, so an offset row keeps its digits; the output is formed in float.
 *
 * Backward: dinp (ASSIGNED) one warp per row; dweight and dbias (ACCUMULATE) are column
 * sums over rows in double, in a fixed order (deterministic). NULL gradients are skipped. */
#include "backend/cuda/cuda_common.cuh"

#define LN_WARPS 8 /* rows per block */

__global__ void __launch_bounds__(LN_WARPS * 32)
    layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                             const float *bias, int N, int C, float eps) {
  int n = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float *x = inp + (size_t)n * C;
  float *o = out + (size_t)n * C;
  double m = 0;
  for (int c = lane; c < C; c += 32) m += x[c];
  m = dc_warp_sum(m) / C;
  double v = 0;
  for (int c = lane; c < C; c += 32) {
    double d = x[c] - m;
    v += d * d;
  }
  v = dc_warp_sum(v) / C;
  double s = 1.0 / sqrt(v + (double)eps);
  float mr = (float)m, sr = (float)s;
  for (int c = lane; c < C; c += 32) o[c] = (x[c] - mr) * sr * weight[c] + bias[c];
  if (lane == 0) {
    mean[n] = mr;
    rstd[n] = sr;
  }
}

extern "C" void dc_cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                          const float *weight, const float *bias, int N, int C, float eps) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && mean && rstd && inp && weight && bias, "layernorm_forward: NULL pointer");
  layernorm_forward_kernel<<<CEIL_DIV(N, LN_WARPS), LN_WARPS * 32, 0, dc_cuda_stream()>>>(out, mean, rstd, inp,
                                                                                          weight, bias, N, C, eps);
  DC_CUDA_LAUNCHED();
}

/* dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * weight */
__global__ void __launch_bounds__(LN_WARPS * 32)
    layernorm_backward_kernel(float *dinp, const float *dout, const float *inp, const float *weight,
                              const float *mean, const float *rstd, int N, int C) {
  int n = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float *dy = dout + (size_t)n * C, *x = inp + (size_t)n * C;
  float m = mean[n], s = rstd[n];
  double g_mean = 0, gx_mean = 0;
  for (int c = lane; c < C; c += 32) {
    float g = dy[c] * weight[c];
    g_mean += g;
    gx_mean += g * ((x[c] - m) * s);
  }
  float gm = (float)(dc_warp_sum(g_mean) / C), gxm = (float)(dc_warp_sum(gx_mean) / C);
  float *dx = dinp + (size_t)n * C;
  for (int c = lane; c < C; c += 32) {
    float xhat = (x[c] - m) * s;
    dx[c] = s * (dy[c] * weight[c] - gm - xhat * gxm);
  }
}

/* (dy * xhat, dy) per element, summed over rows */
struct ln_param_rows {
  const float *dout, *inp, *mean, *rstd;
  int C;
  __device__ double2 operator()(int n, long long c) const {
    size_t i = (size_t)n * C + c;
    float dy = dout[i];
    return make_double2((double)(dy * ((inp[i] - mean[n]) * rstd[n])), (double)dy);
  }
};
struct ln_param_add {
  float *dweight, *dbias;
  __device__ void operator()(long long c, double2 s) const {
    if (dweight) dweight[c] += (float)s.x;
    if (dbias) dbias[c] += (float)s.y;
  }
};

extern "C" void dc_cuda_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                           const float *inp, const float *weight, const float *mean,
                                           const float *rstd, int N, int C) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && inp && weight && mean && rstd, "layernorm_backward: NULL input");
  if (dinp) {
    layernorm_backward_kernel<<<CEIL_DIV(N, LN_WARPS), LN_WARPS * 32, 0, dc_cuda_stream()>>>(dinp, dout, inp, weight,
                                                                                             mean, rstd, N, C);
    DC_CUDA_LAUNCHED();
  }
  if (dweight || dbias) dc_colsum(C, N, ln_param_rows{dout, inp, mean, rstd, C}, ln_param_add{dweight, dbias});
}
