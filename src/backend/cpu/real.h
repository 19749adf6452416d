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

#endif
