/* The float GEMMs of the CPU backend through oneDNN's matmul primitive (src/backend/cpu/
 * matmul.c, compiled for float only): at the model's shapes oneDNN 2.6's brgemm f32 kernels
 * outran OpenBLAS 0.3.21's SkylakeX sgemm on CI's kind of machine (`bench-speed --gemms`,
 * docs/performance.md).
 *
 * In bf16 precision the two operands are rounded to bfloat16 (round to nearest even) and
 * multiplied with float accumulation into the float C; everything else stays float. */
#ifndef DIFFCLIP_CPU_MATMUL_H
#define DIFFCLIP_CPU_MATMUL_H

#include <stddef.h>

/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major, as the gemm op. Returns 1 when
 * oneDNN did it, 0 when the caller must (a shape oneDNN has no fast kernel for, a call from
 * inside an OpenMP region, or a primitive that could not be made). may_bf16: the product
 * may run in bf16 when that precision is on (the layers' GEMMs); 0 keeps it fp32 (the
 * contrastive logits and the text projection, which feed the loss directly). */
int dc_cpu_matmul_f32(int may_bf16, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* What a product can do to its result in the same pass (oneDNN post-ops), after the bias:
 * add or multiply by a tensor T (M,N) with C's leading dimension, or an activation: GELU
 * (erf form), SWISH x * sigmoid(alpha x) (SiLU: alpha 1; QuickGELU: alpha 1.702), ReLU. */
enum dc_mm_epi { DC_MM_EPI_NONE = 0, DC_MM_EPI_ADD, DC_MM_EPI_MUL, DC_MM_EPI_GELU, DC_MM_EPI_SWISH, DC_MM_EPI_RELU };
/* C = epi(op(A) op(B) + bias), bias (N) or NULL (a linear layer's bias added in the
 * product's own pass), T given exactly for ADD and MUL; returns 1 when oneDNN did it, 0
 * when the caller must (as dc_cpu_matmul_f32). */
int dc_cpu_matmul_epi_f32(int may_bf16, int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                          const float *B, int ldb, const float *bias, enum dc_mm_epi epi, float epi_alpha,
                          const float *T, float *C, int ldc);

/* bf16 GEMMs on (1) or off (0); the backend's dc_backend_set_precision decides. */
void dc_cpu_matmul_set_bf16(int on);
int dc_cpu_matmul_bf16(void);
/* 1 when oneDNN's kernels on this CPU have bf16 instructions (AVX512-BF16 or AMX). */
int dc_cpu_matmul_bf16_native(void);
/* "oneDNN X.Y.Z (<ISA>)", for provenance. */
void dc_cpu_matmul_info(char *out, size_t cap);

#endif
