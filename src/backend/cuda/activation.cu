/* Elementwise activations for the CUDA backend: GELU (exact erf form), QuickGELU
 * x*sigmoid(1.702x), SiLU and ReLU, as in src/backend/cpu/activation.c. Backward ASSIGNS
 * dinp = dout * act'(inp), recomputed from the saved input. The kind is a template
 * parameter, so each kernel is a plain elementwise body. */
#include "backend/cuda/cuda_common.cuh"

__device__ __forceinline__ float act_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

template <int ACT>
__device__ __forceinline__ float act_value(float x) {
  if (ACT == DC_ACT_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
  if (ACT == DC_ACT_QUICKGELU) return x * act_sigmoid(1.702f * x);
  if (ACT == DC_ACT_SILU) return x * act_sigmoid(x);
  return x > 0.0f ? x : 0.0f;
}

template <int ACT>
__device__ __forceinline__ float act_grad(float dy, float x) {
  if (ACT == DC_ACT_GELU) {
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
    float pdf = 0.39894228040143267794f * expf(-0.5f * x * x);
    return dy * (cdf + x * pdf);
  }
  if (ACT == DC_ACT_QUICKGELU) {
    float s = act_sigmoid(1.702f * x);
    return dy * (s + 1.702f * x * s * (1.0f - s));
  }
  if (ACT == DC_ACT_SILU) {
    float s = act_sigmoid(x);
    return dy * (s * (1.0f + x * (1.0f - s)));
  }
  return x > 0.0f ? dy : 0.0f; /* subgradient 0 at exactly 0, as in PyTorch */
}

template <int ACT>
__global__ void act_forward_kernel(float *out, const float *inp, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = act_value<ACT>(inp[i]);
}

template <int ACT>
__global__ void act_backward_kernel(float *dinp, const float *dout, const float *inp, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dinp[i] = act_grad<ACT>(dout[i], inp[i]);
}

extern "C" void dc_cuda_act_forward(enum dc_act act, float *out, const float *inp, size_t n) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(out && inp, "act_forward: NULL pointer");
  unsigned g = dc_cuda_blocks(n, DC_CUDA_THREADS);
  cudaStream_t s = dc_cuda_stream();
  switch (act) {
    case DC_ACT_GELU: act_forward_kernel<DC_ACT_GELU><<<g, DC_CUDA_THREADS, 0, s>>>(out, inp, n); break;
    case DC_ACT_QUICKGELU: act_forward_kernel<DC_ACT_QUICKGELU><<<g, DC_CUDA_THREADS, 0, s>>>(out, inp, n); break;
    case DC_ACT_SILU: act_forward_kernel<DC_ACT_SILU><<<g, DC_CUDA_THREADS, 0, s>>>(out, inp, n); break;
    case DC_ACT_RELU: act_forward_kernel<DC_ACT_RELU><<<g, DC_CUDA_THREADS, 0, s>>>(out, inp, n); break;
    default: DC_CUDA_REQUIRE(0, "act_forward: unknown activation %d", (int)act);
  }
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_act_backward(enum dc_act act, float *dinp, const float *dout, const float *inp, size_t n) {
  if (n == 0 || dinp == NULL) return;
  DC_CUDA_REQUIRE(dout && inp, "act_backward: NULL input");
  unsigned g = dc_cuda_blocks(n, DC_CUDA_THREADS);
  cudaStream_t s = dc_cuda_stream();
  switch (act) {
    case DC_ACT_GELU: act_backward_kernel<DC_ACT_GELU><<<g, DC_CUDA_THREADS, 0, s>>>(dinp, dout, inp, n); break;
    case DC_ACT_QUICKGELU:
      act_backward_kernel<DC_ACT_QUICKGELU><<<g, DC_CUDA_THREADS, 0, s>>>(dinp, dout, inp, n);
      break;
    case DC_ACT_SILU: act_backward_kernel<DC_ACT_SILU><<<g, DC_CUDA_THREADS, 0, s>>>(dinp, dout, inp, n); break;
    case DC_ACT_RELU: act_backward_kernel<DC_ACT_RELU><<<g, DC_CUDA_THREADS, 0, s>>>(dinp, dout, inp, n); break;
    default: DC_CUDA_REQUIRE(0, "act_backward: unknown activation %d", (int)act);
  }
  DC_CUDA_LAUNCHED();
}
