/* Batch normalisation over the N rows of (N,C) for the CUDA backend: training mode in
 * parts (column sums to HOST doubles, so ranks can add them, then the apply steps that
 * take the whole batch's HOST sums), the fused one-process forms (which keep every sum
 * on the device), and eval mode. Semantics and rounding follow src/backend/cpu/batchnorm.c:
 * sums in double; per-channel scale and shift folded in double and rounded once;
 * running statistics with momentum and the unbiased variance.
 *
 * Backward: dinp is ASSIGNED, dweight and dbias ACCUMULATE; NULL ones are skipped.
 * Column sums are deterministic (cuda_common.cuh). Small per-channel arrays live in the
 * context's aux buffer; host sums are copied there and device sums copied back with a
 * wait, which is what ops.h asks for (the sums are reduced over ranks on the host). */
#include "backend/cuda/cuda_common.cuh"

/* ---- column sums ---- */

struct bn_rows_sum {
  const float *inp;
  const double *center; /* device, or NULL */
  int C;
  __device__ double2 operator()(int n, long long c) const {
    double x = inp[(size_t)n * C + c];
    if (!center) return make_double2(x, 0.0);
    double d = x - center[c];
    return make_double2(d * d, 0.0);
  }
};
struct bn_rows_dsum {
  const float *dout, *inp, *mean, *rstd;
  int C;
  __device__ double2 operator()(int n, long long c) const {
    size_t i = (size_t)n * C + c;
    float dy = dout[i];
    return make_double2((double)dy, (double)(dy * ((inp[i] - mean[c]) * rstd[c])));
  }
};
/* out[c] = scale * s.x (and out[C + c] = s.y when two) */
struct bn_store {
  double *out;
  double scale;
  int C, two;
  __device__ void operator()(long long c, double2 s) const {
    out[c] = s.x * scale;
    if (two) out[C + c] = s.y * scale;
  }
};

static int to_device(double *dev, const double *host, size_t n) {
  DC_CUDA_CHECK(cudaMemcpyAsync(dev, host, n * sizeof(double), cudaMemcpyHostToDevice, dc_cuda_stream()), return 0);
  return 1;
}
static int to_host(double *host, const double *dev, size_t n) {
  DC_CUDA_CHECK(cudaMemcpyAsync(host, dev, n * sizeof(double), cudaMemcpyDeviceToHost, dc_cuda_stream()), return 0);
  DC_CUDA_CHECK(cudaStreamSynchronize(dc_cuda_stream()), return 0);
  return 1;
}

extern "C" void dc_cuda_batchnorm_colsum(double *out, const float *inp, const double *center, int N, int C) {
  if (C <= 0) return;
  DC_CUDA_REQUIRE(out && inp && N >= 0, "batchnorm_colsum: NULL pointer or N = %d", N);
  double *dev = (double *)dc_cuda_aux(2 * (size_t)C * sizeof(double)); /* sums, then the centre */
  if (!dev) return;
  if (center && !to_device(dev + C, center, (size_t)C)) return;
  dc_colsum(C, N, bn_rows_sum{inp, center ? dev + C : NULL, C}, bn_store{dev, 1.0, C, 0});
  to_host(out, dev, (size_t)C);
}

extern "C" void dc_cuda_batchnorm_backward_colsum(double *out, const float *dout, const float *inp, const float *mean,
                                                  const float *rstd, int N, int C) {
  if (C <= 0) return;
  DC_CUDA_REQUIRE(out && dout && inp && mean && rstd && N >= 0, "batchnorm_backward_colsum: NULL pointer");
  double *dev = (double *)dc_cuda_aux(2 * (size_t)C * sizeof(double));
  if (!dev) return;
  dc_colsum(C, N, bn_rows_dsum{dout, inp, mean, rstd, C}, bn_store{dev, 1.0, C, 1});
  to_host(out, dev, 2 * (size_t)C);
}

/* ---- apply (training mode) with device-side batch mean and biased variance ---- */

__global__ void bn_channel_train_kernel(float *mean, float *rstd, float *running_mean, float *running_var,
                                        float *scale, float *shift, const float *weight, const float *bias,
                                        const double *mean_d, const double *var_d, double n_total, int C, float eps,
                                        float momentum) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double m = mean_d[c], var = var_d[c];
  double s = 1.0 / sqrt(var + (double)eps);
  mean[c] = (float)m;
  rstd[c] = (float)s;
  scale[c] = (float)(s * weight[c]);
  shift[c] = (float)(bias[c] - m * s * weight[c]);
  double unbiased = n_total > 1 ? var * n_total / (n_total - 1) : var;
  if (running_mean) running_mean[c] = (float)((1 - (double)momentum) * running_mean[c] + momentum * m);
  if (running_var) running_var[c] = (float)((1 - (double)momentum) * running_var[c] + momentum * unbiased);
}

/* out = x * scale[c] + shift[c] */
__global__ void bn_affine_kernel(float *out, const float *inp, const float *scale, const float *shift, size_t total,
                                 int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    int c = (int)(i % (size_t)C);
    out[i] = inp[i] * scale[c] + shift[c];
  }
}

/* aux layout: [mean_d C | var_d C] doubles, then [scale C | shift C] floats */
static void bn_apply(float *out, float *mean, float *rstd, float *running_mean, float *running_var, const float *inp,
                     const float *weight, const float *bias, const double *mean_dev, const double *var_dev,
                     float *scale, double n_total, int N, int C, float eps, float momentum) {
  bn_channel_train_kernel<<<CEIL_DIV(C, 128), 128, 0, dc_cuda_stream()>>>(
      mean, rstd, running_mean, running_var, scale, scale + C, weight, bias, mean_dev, var_dev, n_total, C, eps,
      momentum);
  DC_CUDA_LAUNCHED();
  size_t total = (size_t)N * C;
  if (total == 0) return;
  bn_affine_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      out, inp, scale, scale + C, total, C);
  DC_CUDA_LAUNCHED();
}

static double *bn_aux(int C) { return (double *)dc_cuda_aux(2 * (size_t)C * sizeof(double) + 2 * (size_t)C * sizeof(float)); }

extern "C" void dc_cuda_batchnorm_apply_train(float *out, float *mean, float *rstd, float *running_mean,
                                              float *running_var, const float *inp, const float *weight,
                                              const float *bias, const double *mean_d, const double *var_d,
                                              double n_total, int N, int C, float eps, float momentum) {
  if (C <= 0) return;
  DC_CUDA_REQUIRE(out && mean && rstd && inp && weight && bias && mean_d && var_d && N >= 0,
                  "batchnorm_apply_train: NULL pointer or N = %d", N);
  double *dev = bn_aux(C);
  if (!dev || !to_device(dev, mean_d, (size_t)C) || !to_device(dev + C, var_d, (size_t)C)) return;
  bn_apply(out, mean, rstd, running_mean, running_var, inp, weight, bias, dev, dev + C, (float *)(dev + 2 * C),
           n_total, N, C, eps, momentum);
}

struct bn_store_meanvar {
  double *out; /* mean (C) for the first sum; var (C) for the second */
  double inv_n;
  __device__ void operator()(long long c, double2 s) const { out[c] = s.x * inv_n; }
};

extern "C" void dc_cuda_batchnorm_forward_train(float *out, float *mean, float *rstd, float *running_mean,
                                                float *running_var, const float *inp, const float *weight,
                                                const float *bias, int N, int C, float eps, float momentum) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && mean && rstd && inp && weight && bias, "batchnorm_forward_train: NULL pointer");
  double *dev = bn_aux(C);
  if (!dev) return;
  /* two-pass statistics on the device: the mean, then squared deviations from it */
  dc_colsum(C, N, bn_rows_sum{inp, NULL, C}, bn_store_meanvar{dev, 1.0 / N});
  dc_colsum(C, N, bn_rows_sum{inp, dev, C}, bn_store_meanvar{dev + C, 1.0 / N});
  bn_apply(out, mean, rstd, running_mean, running_var, inp, weight, bias, dev, dev + C, (float *)(dev + 2 * C),
           (double)N, N, C, eps, momentum);
}

/* ---- backward apply (training mode) ---- */

__global__ void bn_param_grad_kernel(float *dweight, float *dbias, const double *local, int C) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  if (dweight) dweight[c] += (float)local[C + c];
  if (dbias) dbias[c] += (float)local[c];
}

/* dinp = rstd w (dy - mean(dy) - xhat mean(dy xhat)) with the whole batch's means */
__global__ void bn_dinp_train_kernel(float *dinp, const float *dout, const float *inp, const float *weight,
                                     const float *mean, const float *rstd, const double *total, double n_total,
                                     size_t count, int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
    int c = (int)(i % (size_t)C);
    float k = rstd[c] * weight[c];
    float mdy = (float)(total[c] / n_total), mdyx = (float)(total[C + c] / n_total);
    float xhat = (inp[i] - mean[c]) * rstd[c];
    dinp[i] = k * (dout[i] - mdy - xhat * mdyx);
  }
}

static void bn_backward_apply(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                              const float *weight, const float *mean, const float *rstd, const double *local_dev,
                              const double *total_dev, double n_total, int N, int C) {
  if (dweight || dbias) {
    bn_param_grad_kernel<<<CEIL_DIV(C, 128), 128, 0, dc_cuda_stream()>>>(dweight, dbias, local_dev, C);
    DC_CUDA_LAUNCHED();
  }
  size_t count = (size_t)N * C;
  if (!dinp || count == 0) return;
  bn_dinp_train_kernel<<<dc_cuda_blocks(count, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      dinp, dout, inp, weight, mean, rstd, total_dev, n_total, count, C);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_batchnorm_backward_apply(float *dinp, float *dweight, float *dbias, const float *dout,
                                                 const float *inp, const float *weight, const float *mean,
                                                 const float *rstd, const double *local, const double *total,
                                                 double n_total, int N, int C) {
  if (C <= 0) return;
  DC_CUDA_REQUIRE(local && total && N >= 0, "batchnorm_backward_apply: NULL sums or N = %d", N);
  DC_CUDA_REQUIRE(!dinp || (dout && inp && weight && mean && rstd), "batchnorm_backward_apply: NULL input");
  double *dev = (double *)dc_cuda_aux(4 * (size_t)C * sizeof(double));
  if (!dev || !to_device(dev, local, 2 * (size_t)C) || !to_device(dev + 2 * C, total, 2 * (size_t)C)) return;
  bn_backward_apply(dinp, dweight, dbias, dout, inp, weight, mean, rstd, dev, dev + 2 * C, n_total, N, C);
}

extern "C" void dc_cuda_batchnorm_backward_train(float *dinp, float *dweight, float *dbias, const float *dout,
                                                 const float *inp, const float *weight, const float *mean,
                                                 const float *rstd, int N, int C) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && inp && weight && mean && rstd, "batchnorm_backward_train: NULL input");
  double *dev = (double *)dc_cuda_aux(2 * (size_t)C * sizeof(double));
  if (!dev) return;
  dc_colsum(C, N, bn_rows_dsum{dout, inp, mean, rstd, C}, bn_store{dev, 1.0, C, 1});
  bn_backward_apply(dinp, dweight, dbias, dout, inp, weight, mean, rstd, dev, dev, (double)N, N, C);
}

/* ---- eval mode: a fixed affine map per channel ---- */

/* scale = w / sqrt(rv + eps) (or 1 / sqrt(...) when weight is NULL), shift = b - rm scale */
__global__ void bn_channel_eval_kernel(float *scale, float *shift, float *inv, const float *weight, const float *bias,
                                       const float *running_mean, const float *running_var, int C, float eps) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double s = 1.0 / sqrt((double)running_var[c] + eps);
  /* folded as the CPU folds each direction, so both round alike */
  double sw = inv ? s * weight[c] : weight[c] / sqrt((double)running_var[c] + eps);
  scale[c] = (float)sw;
  if (shift) shift[c] = (float)(bias[c] - running_mean[c] * sw);
  if (inv) inv[c] = (float)s;
}

extern "C" void dc_cuda_batchnorm_forward_eval(float *out, const float *inp, const float *weight, const float *bias,
                                               const float *running_mean, const float *running_var, int N, int C,
                                               float eps) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && inp && weight && bias && running_mean && running_var, "batchnorm_forward_eval: NULL pointer");
  float *ch = (float *)dc_cuda_aux(2 * (size_t)C * sizeof(float));
  if (!ch) return;
  bn_channel_eval_kernel<<<CEIL_DIV(C, 128), 128, 0, dc_cuda_stream()>>>(ch, ch + C, NULL, weight, bias, running_mean,
                                                                         running_var, C, eps);
  DC_CUDA_LAUNCHED();
  size_t total = (size_t)N * C;
  bn_affine_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(out, inp, ch,
                                                                                                   ch + C, total, C);
  DC_CUDA_LAUNCHED();
}

struct bn_rows_eval {
  const float *dout, *inp, *running_mean, *inv;
  int C;
  __device__ double2 operator()(int n, long long c) const {
    size_t i = (size_t)n * C + c;
    float dy = dout[i];
    return make_double2((double)dy, (double)(dy * ((inp[i] - running_mean[c]) * inv[c])));
  }
};
struct bn_param_add {
  float *dweight, *dbias;
  __device__ void operator()(long long c, double2 s) const {
    if (dweight) dweight[c] += (float)s.y;
    if (dbias) dbias[c] += (float)s.x;
  }
};

/* dinp = dout * scale[c] */
__global__ void bn_scale_kernel(float *dinp, const float *dout, const float *scale, size_t total, int C) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
    dinp[i] = dout[i] * scale[i % (size_t)C];
}

extern "C" void dc_cuda_batchnorm_backward_eval(float *dinp, float *dweight, float *dbias, const float *dout,
                                                const float *inp, const float *weight, const float *running_mean,
                                                const float *running_var, int N, int C, float eps) {
  if (N <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && inp && weight && running_mean && running_var, "batchnorm_backward_eval: NULL input");
  float *ch = (float *)dc_cuda_aux(2 * (size_t)C * sizeof(float)); /* scale (k), inv */
  if (!ch) return;
  bn_channel_eval_kernel<<<CEIL_DIV(C, 128), 128, 0, dc_cuda_stream()>>>(ch, NULL, ch + C, weight, NULL,
                                                                         running_mean, running_var, C, eps);
  DC_CUDA_LAUNCHED();
  if (dweight || dbias)
    dc_colsum(C, N, bn_rows_eval{dout, inp, running_mean, ch + C, C}, bn_param_add{dweight, dbias});
  if (dinp) {
    size_t total = (size_t)N * C;
    bn_scale_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(dinp, dout, ch,
                                                                                                    total, C);
    DC_CUDA_LAUNCHED();
  }
}
