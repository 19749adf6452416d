/* Precision selection for the CPU kernels: each kernel file in src/backend/cpu is compiled once as
 * float (dc_cpu_f32_*) and once with DC_REAL_F64 as double (dc_cpu_f64_*). Kernels use
 * `real`, OP(name) for their exported names and <tgmath.h> so exp/sqrt/erf follow `real`. */
#ifndef DIFFCLIP_CPU_REAL_H
#define DIFFCLIP_CPU_REAL_H

#include <tgmath.h>

#include "diffclip/backend/ops.h"

#ifdef DC_REAL_F64
typedef double real;
#define OP(name) dc_cpu_f64_##name
#define CBLAS_GEMM cblas_dgemm
#else
typedef float real;
#define OP(name) dc_cpu_f32_##name
#define CBLAS_GEMM cblas_sgemm
#endif

/* The gemm op with a say in precision (gemm.c): may_bf16 = 1 lets the layers' GEMMs run in
 * bf16 when run.precision asks for it; the gemm op itself passes 0. */
void OP(gemm_prec)(int may_bf16, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                   const real *B, int ldb, real beta, real *C, int ldc);

#endif
