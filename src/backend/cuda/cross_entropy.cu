/* Softmax cross-entropy of logits (N,V) against class ids for the CUDA backend
 * (semantics of src/backend/cpu/cross_entropy.c): probabilities kept for backward; each
 * row's loss is logsumexp - x[target] with the row maximum subtracted (finite for a
 * confident wrong prediction); *loss, the mean, is written to device memory. One warp per
 * row; the exponentials' sum and the row losses in double, in a fixed order.
 *
 * Backward ASSIGNS dlogits = dloss * (probs - onehot(target)) / N. */
#include "backend/cuda/cuda_common.cuh"

#define CE_WARPS 8

__global__ void __launch_bounds__(CE_WARPS * 32)
    ce_forward_kernel(double *row_loss, float *probs, const float *logits, const int *targets, int N, int V) {
  int n = blockIdx.x * CE_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (n >= N) return;
  const float *x = logits + (size_t)n * V;
  float *p = probs + (size_t)n * V;
  float mx = -INFINITY;
  for (int v = lane; v < V; v += 32) mx = fmaxf(mx, x[v]);
  mx = dc_warp_maxf(mx);
  double sum = 0;
  for (int v = lane; v < V; v += 32) {
    float e = expf(x[v] - mx);
    p[v] = e;
    sum += e;
  }
  sum = dc_warp_sum(sum);
  float inv = (float)(1.0 / sum);
  for (int v = lane; v < V; v += 32) p[v] *= inv;
  if (lane == 0) row_loss[n] = (double)mx + log(sum) - (double)x[targets[n]];
}

struct ce_rows {
  const double *row_loss;
  __device__ dc_d4 operator()(size_t n) const { return dc_d4_make(row_loss[n], 0.0, 0.0, 0.0); }
};
struct ce_store {
  float *loss;
  int N;
  __device__ void operator()(dc_d4 s) const { *loss = N > 0 ? (float)(s.x / N) : 0.0f; }
};

extern "C" void dc_cuda_cross_entropy_forward(float *loss, float *probs, const float *logits, const int *targets,
                                              int N, int V) {
  DC_CUDA_REQUIRE(loss != NULL && N >= 0, "cross_entropy_forward: NULL loss or N = %d", N);
  DC_CUDA_REQUIRE(N == 0 || (probs && logits && targets && V > 0), "cross_entropy_forward: NULL input or V = %d", V);
  double *rows = (double *)dc_cuda_aux((size_t)(N > 0 ? N : 1) * sizeof(double));
  if (!rows) return;
  if (N > 0) {
    ce_forward_kernel<<<CEIL_DIV(N, CE_WARPS), CE_WARPS * 32, 0, dc_cuda_stream()>>>(rows, probs, logits, targets, N,
                                                                                     V);
    DC_CUDA_LAUNCHED();
  }
  dc_sum((size_t)N, ce_rows{rows}, ce_store{loss, N});
}

__global__ void ce_backward_kernel(float *dlogits, const float *probs, const int *targets, float s, size_t total,
                                   int V) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t n = i / (size_t)V;
    int v = (int)(i % (size_t)V);
    float d = s * probs[i];
    dlogits[i] = v == targets[n] ? d - s : d;
  }
}

extern "C" void dc_cuda_cross_entropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V,
                                               float dloss) {
  if (dlogits == NULL || N <= 0 || V <= 0) return;
  DC_CUDA_REQUIRE(probs && targets, "cross_entropy_backward: NULL input");
  size_t total = (size_t)N * V;
  ce_backward_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      dlogits, probs, targets, dloss / (float)N, total, V);
  DC_CUDA_LAUNCHED();
}
