/* The CUDA backend's internal interface, readable from C and CUDA: its context and the
 * launchers behind the op table (dc_cuda_<op>, one per op of diffclip/ops.h, float).
 * Only code built with CUDA includes it (src/backend/cuda, src/dist/nccl). */
#ifndef DIFFCLIP_CUDA_BACKEND_H
#define DIFFCLIP_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" { /* the project's C headers: C linkage from CUDA files too */
#endif

#include "diffclip/backend/backend.h"

/* One per process: the device, the stream every op runs on, the cuBLAS handle (on that
 * stream, with its own workspace so a graph capture never allocates), and two growing
 * scratch buffers: `scratch` for reduction partials, `aux` for an op's small arrays. */
struct dc_cuda_ctx {
  int device;
  cudaStream_t stream;
  cublasHandle_t blas;
  void *blas_workspace;
  void *scratch, *aux;
  size_t scratch_bytes, aux_bytes;
  size_t smem_optin; /* shared memory a block may opt in to (bytes) */
  int graphs;        /* live CUDA graphs: they hold scratch pointers, so none is freed */
};

/* The context (valid once dc_backend_cuda succeeded). */
struct dc_cuda_ctx *dc_cuda_context(void);
/* Device scratch of at least `bytes` (contents undefined; NULL and an error recorded when
 * it cannot grow). Reused by the next op: stream order keeps the uses apart. */
void *dc_cuda_scratch(size_t bytes);
void *dc_cuda_aux(size_t bytes);
/* Returns the first failure since the last call and clears it (dc_backend.error). */
enum dc_status dc_cuda_take_error(void);
/* Records a failure (the first is kept for dc_backend.error) and logs it. */
void dc_cuda_fail(enum dc_status s, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The launchers. gemm and linear use TF32 tensor cores; the _exact twins float32. */
#define DC_CUDA_DECL(ret, name, args) ret dc_cuda_##name args;
DC_OPS(DC_CUDA_DECL, float)
#undef DC_CUDA_DECL
void dc_cuda_gemm_exact(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
void dc_cuda_linear_forward_exact(float *out, const float *inp, const float *weight, const float *bias, int N,
                                  int IC, int OC);
void dc_cuda_linear_backward_exact(float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, int N, int IC, int OC);
/* CUDA graphs (dc_backend.graph_run / graph_free). */
enum dc_status dc_cuda_graph_run(void (*fn)(void *ctx), void *ctx, void **graph);
void dc_cuda_graph_free(void *graph);
/* Philox fills (diffclip/rng.h on the device). */
void dc_cuda_rng_uniform(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first);
void dc_cuda_rng_normal(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first);

#ifdef __cplusplus
}
#endif

#endif
