/* General matrix multiply for the CPU backend: a thin row-major wrapper over oneDNN (float,
 * backend/cpu/matmul.c) and OpenBLAS (double, and what oneDNN declines), so that every op
 * and every layer reaches BLAS through the same backend entry (and the CUDA backend can put
 * cuBLAS behind the same signature). */
#include <cblas.h>

#include "backend/cpu/real.h"
#ifndef DC_REAL_F64
#include "backend/cpu/matmul.h"
#endif

void OP(gemm_prec)(int may_bf16, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                   const real *B, int ldb, real beta, real *C, int ldc) {
  /* An empty output needs no work, and BLAS would reject the degenerate leading
   * dimensions that callers naturally pass for it. */
  if (M <= 0 || N <= 0) return;
#ifndef DC_REAL_F64
  if (dc_cpu_matmul_f32(may_bf16, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
#else
  (void)may_bf16;
#endif
  CBLAS_GEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
             M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* C (M,N) = alpha * op(A) op(B) + beta * C; op(A) (M,K), op(B) (K,N), all row-major. Always
 * fp32: the model calls it for the contrastive logits and the text projection. */
void OP(gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
              const real *B, int ldb, real beta, real *C, int ldc) {
  OP(gemm_prec)(0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
