/* General matrix multiply and the fully connected layer for the CUDA backend, through
 * cuBLAS. Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so every call
 * swaps the operands and keeps the leading dimensions as they are: no copies.
 *
 * Precision: the default table computes in TF32 on the tensor cores (inputs rounded to a
 * 10-bit mantissa, float32 accumulation: relative errors near 1e-3 on K ~ 100); the
 * "cuda-fp32" table asks for plain float32 (CUBLAS_COMPUTE_32F), which matches the CPU to
 * float rounding. The choice is per call, so both tables share one cuBLAS handle.
 *
 * linear: out = inp W^T + bias; backward dinp = dout W (ASSIGNED), dweight += dout^T inp
 * and dbias += column sums of dout (ACCUMULATE; in double, deterministic). */
#include "backend/cuda/cuda_common.cuh"

static void gemm(cublasComputeType_t compute, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return; /* an empty output: nothing to do, as on the CPU */
  DC_CUDA_REQUIRE(K >= 0 && A != NULL && B != NULL && C != NULL, "gemm: K = %d or a NULL operand", K);
  DC_CUDA_REQUIRE(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N),
                  "gemm: leading dimensions lda %d ldb %d ldc %d too small for M %d N %d K %d", lda, ldb, ldc, M,
                  N, K);
  struct dc_cuda_ctx *ctx = dc_cuda_context();
  /* cuBLAS wants a leading dimension >= 1 even when K = 0 */
  int la = lda > 0 ? lda : 1, lb = ldb > 0 ? ldb : 1;
  DC_CUBLAS_CHECK(cublasGemmEx(ctx->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N,
                               M, K, &alpha, B, CUDA_R_32F, lb, A, CUDA_R_32F, la, &beta, C, CUDA_R_32F, ldc,
                               compute, CUBLAS_GEMM_DEFAULT),
                  return);
}

extern "C" void dc_cuda_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc) {
  gemm(CUBLAS_COMPUTE_32F_FAST_TF32, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

extern "C" void dc_cuda_gemm_exact(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  gemm(CUBLAS_COMPUTE_32F, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* out (N, OC) = bias broadcast over rows, or 0 */
__global__ void linear_bias_kernel(float *out, const float *bias, size_t total, int OC) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
    out[i] = bias ? bias[i % (size_t)OC] : 0.0f;
}

static void linear_forward(cublasComputeType_t compute, float *out, const float *inp, const float *weight,
                           const float *bias, int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  DC_CUDA_REQUIRE(out != NULL && IC >= 0, "linear_forward: out NULL or IC = %d", IC);
  float beta = 0.0f;
  if (bias || IC == 0) {
    /* start from the broadcast bias and let the GEMM add to it (beta = 1) */
    size_t total = (size_t)N * OC;
    linear_bias_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(out, bias,
                                                                                                       total, OC);
    DC_CUDA_LAUNCHED();
    beta = 1.0f;
  }
  if (IC == 0) return;
  gemm(compute, 0, 1, N, OC, IC, 1.0f, inp, IC, weight, IC, beta, out, OC);
}

/* dbias[c] += sum_n dout[n, c] */
struct dbias_rows {
  const float *dout;
  int OC;
  __device__ double2 operator()(int n, long long c) const {
    return make_double2((double)dout[(size_t)n * OC + c], 0.0);
  }
};
struct dbias_add {
  float *dbias;
  __device__ void operator()(long long c, double2 s) const { dbias[c] += (float)s.x; }
};

static void linear_backward(cublasComputeType_t compute, float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int IC, int OC) {
  if (N <= 0 || OC <= 0) return;
  DC_CUDA_REQUIRE(dout != NULL && IC >= 0, "linear_backward: dout NULL or IC = %d", IC);
  if (dinp && IC > 0) gemm(compute, 0, 0, N, IC, OC, 1.0f, dout, OC, weight, IC, 0.0f, dinp, IC);
  if (dweight && IC > 0) gemm(compute, 1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
  if (dbias) dc_colsum(OC, N, dbias_rows{dout, OC}, dbias_add{dbias});
}

extern "C" void dc_cuda_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N,
                                       int IC, int OC) {
  linear_forward(CUBLAS_COMPUTE_32F_FAST_TF32, out, inp, weight, bias, N, IC, OC);
}
extern "C" void dc_cuda_linear_forward_exact(float *out, const float *inp, const float *weight, const float *bias,
                                             int N, int IC, int OC) {
  linear_forward(CUBLAS_COMPUTE_32F, out, inp, weight, bias, N, IC, OC);
}
extern "C" void dc_cuda_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                        const float *inp, const float *weight, int N, int IC, int OC) {
  linear_backward(CUBLAS_COMPUTE_32F_FAST_TF32, dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
}
extern "C" void dc_cuda_linear_backward_exact(float *dinp, float *dweight, float *dbias, const float *dout,
                                              const float *inp, const float *weight, int N, int IC, int OC) {
  linear_backward(CUBLAS_COMPUTE_32F, dinp, dweight, dbias, dout, inp, weight, N, IC, OC);
}
