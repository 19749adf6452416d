/* Masked mean-squared error of the MAE reconstruction for the CUDA backend (semantics of
 * src/backend/cpu/mse.c): e(p) = mean_c (pred - target)^2; *loss_masked averages e over
 * rows with mask != 0, *loss_visible over the others, 0 for an empty set. The losses are
 * written to device memory (the model downloads them). Sums in double, fixed order.
 *
 * Backward ASSIGNS dpred for w_masked * masked + w_visible * visible; the row counts are
 * summed on the device, so nothing waits for the host. */
#include "backend/cuda/cuda_common.cuh"

struct mse_rows {
  const float *pred, *target, *mask;
  int C;
  __device__ dc_d4 operator()(size_t p) const {
    const float *x = pred + p * C, *y = target + p * C;
    double e = 0;
    for (int c = 0; c < C; c++) {
      double d = (double)x[c] - (double)y[c];
      e += d * d;
    }
    return mask[p] != 0.0f ? dc_d4_make(e, 0.0, 1.0, 0.0) : dc_d4_make(0.0, e, 0.0, 0.0);
  }
};
struct mse_store {
  float *loss_masked, *loss_visible;
  int N, C;
  __device__ void operator()(dc_d4 s) const {
    double n_m = s.z, n_v = N - s.z;
    *loss_masked = n_m > 0 ? (float)(s.x / (n_m * C)) : 0.0f;
    *loss_visible = n_v > 0 ? (float)(s.y / (n_v * C)) : 0.0f;
  }
};

extern "C" void dc_cuda_masked_mse_forward(float *loss_masked, float *loss_visible, const float *pred,
                                           const float *target, const float *mask, int N, int C) {
  DC_CUDA_REQUIRE(loss_masked && loss_visible && N >= 0 && C > 0, "masked_mse_forward: NULL loss or N %d C %d", N, C);
  DC_CUDA_REQUIRE(N == 0 || (pred && target && mask), "masked_mse_forward: NULL input");
  dc_sum((size_t)N, mse_rows{pred, target, mask, C}, mse_store{loss_masked, loss_visible, N, C});
}

struct mask_count {
  const float *mask;
  __device__ dc_d4 operator()(size_t p) const { return dc_d4_make(mask[p] != 0.0f ? 1.0 : 0.0, 0.0, 0.0, 0.0); }
};
/* g[0] = 2 w_masked / (n_m C), g[1] = 2 w_visible / (n_v C), 0 for an empty set */
struct mse_grad_scale {
  float *g;
  int N, C;
  float w_masked, w_visible;
  __device__ void operator()(dc_d4 s) const {
    double n_m = s.x, n_v = N - s.x;
    g[0] = n_m > 0 ? (float)(2.0 * w_masked / (n_m * C)) : 0.0f;
    g[1] = n_v > 0 ? (float)(2.0 * w_visible / (n_v * C)) : 0.0f;
  }
};

__global__ void mse_backward_kernel(float *dpred, const float *pred, const float *target, const float *mask,
                                    const float *g, size_t total, int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    float w = mask[i / (size_t)C] != 0.0f ? g[0] : g[1];
    dpred[i] = w * (pred[i] - target[i]);
  }
}

extern "C" void dc_cuda_masked_mse_backward(float *dpred, const float *pred, const float *target, const float *mask,
                                            int N, int C, float w_masked, float w_visible) {
  if (dpred == NULL || N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(pred && target && mask, "masked_mse_backward: NULL input");
  float *g = (float *)dc_cuda_aux(2 * sizeof(float));
  if (!g) return;
  dc_sum((size_t)N, mask_count{mask}, mse_grad_scale{g, N, C, w_masked, w_visible});
  size_t total = (size_t)N * C;
  mse_backward_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      dpred, pred, target, mask, g, total, C);
  DC_CUDA_LAUNCHED();
}
