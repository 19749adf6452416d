/* One Adam / AdamW step for the CUDA backend, operation for operation as
 * src/backend/cpu/adam.c (torch.optim.Adam / AdamW, single-tensor path): the bias
 * corrections and step size are formed in double on the host and rounded once; the
 * per-element arithmetic is float (IEEE division and square root, nvcc's defaults). */
#include "backend/cuda/cuda_common.cuh"

struct adam_consts {
  float step_size, bias2_sqrt, b1, b2, one_m_b1, one_m_b2, eps, wd, decay;
  int l2, shrink;
};

__global__ void adam_kernel(float *param, const float *grad, float *m, float *v, size_t n, adam_consts k) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float p = param[i];
    if (k.shrink) p *= k.decay;
    float g = k.l2 ? grad[i] + k.wd * p : grad[i];
    float mi = k.b1 * m[i] + k.one_m_b1 * g;
    float vi = k.b2 * v[i] + k.one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - k.step_size * (mi / (sqrtf(vi) / k.bias2_sqrt + k.eps));
  }
}

extern "C" void dc_cuda_adam_update(float *param, const float *grad, float *m, float *v, size_t n, double lr,
                                    double beta1, double beta2, double eps, double weight_decay, int step,
                                    int decoupled) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(param && grad && m && v && step >= 1, "adam_update: NULL pointer or step %d < 1", step);
  double bias1 = 1.0 - pow(beta1, (double)step), bias2 = 1.0 - pow(beta2, (double)step);
  adam_consts k;
  k.step_size = (float)(lr / bias1);
  k.bias2_sqrt = (float)sqrt(bias2);
  k.b1 = (float)beta1;
  k.b2 = (float)beta2;
  k.one_m_b1 = (float)(1.0 - beta1);
  k.one_m_b2 = (float)(1.0 - beta2);
  k.eps = (float)eps;
  k.wd = (float)weight_decay;
  k.decay = (float)(1.0 - lr * weight_decay);
  k.l2 = !decoupled && weight_decay != 0.0;
  k.shrink = decoupled && weight_decay != 0.0;
  adam_kernel<<<dc_cuda_blocks(n, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(param, grad, m, v, n, k);
  DC_CUDA_LAUNCHED();
}
