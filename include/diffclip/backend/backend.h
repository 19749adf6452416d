/* The compute backend: a table of memory functions and of the ops in diffclip/ops.h.
 * Model and training code call ops only through this table; the backend is chosen at
 * start-up (CPU always; CUDA when built and a GPU is present). Pointers passed to ops are
 * backend memory (host memory for the CPU backend, GPU memory for CUDA), except where
 * ops.h says host (the BatchNorm sums). Ops run in order on the backend's one stream;
 * download and the scalar results (dot) wait for the work before them. */
#ifndef DIFFCLIP_BACKEND_H
#define DIFFCLIP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/backend/ops.h"
#include "diffclip/core/status.h"

#define DC_BACKEND_MEMBER(ret, name, args) ret(*name) args;

struct dc_backend {
  const char *name;
  void *(*alloc)(size_t bytes);                 /* zero-filled; NULL on failure */
  void (*free)(void *p);
  void (*upload)(void *dst, const void *host_src, size_t bytes);
  void (*download)(void *host_dst, const void *src, size_t bytes);
  void (*copy)(void *dst, const void *src, size_t bytes);
  void (*zero)(void *p, size_t bytes);
  void (*synchronize)(void);
  /* Ops return nothing, so a backend whose calls can fail (CUDA) keeps the first failure;
   * this returns it and clears it (DC_OK when none; the CPU backend never fails). */
  enum dc_status (*error)(void);
  /* Philox fills of backend memory, element e = first + i equal to diffclip/rng.h's
   * dc_rng_uniform / dc_rng_normal (seed, stream, e / 4, e % 4) on every backend. */
  void (*rng_uniform)(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first);
  void (*rng_normal)(float *dst, size_t n, uint64_t seed, uint64_t stream, uint64_t first);
  int device_memory; /* 1: pointers are GPU memory, host code must upload and download */
  /* Replays a fixed sequence of ops. The first call (*graph NULL) records what fn(ctx)
   * enqueues as a CUDA graph, keeps it in *graph and launches it; later calls launch it
   * again: the same ops on the same buffers, without the per-launch costs. fn must not wait
   * for the device (download, dot, the BatchNorm sums) nor make the backend's scratch grow:
   * run it once plainly first. The CPU backend just calls fn. graph_free releases *graph. */
  enum dc_status (*graph_run)(void (*fn)(void *ctx), void *ctx, void **graph);
  void (*graph_free)(void *graph);
  DC_OPS(DC_BACKEND_MEMBER, float)
  DC_FUSED_OPS(DC_BACKEND_MEMBER, float) /* NULL where the backend has none (ops.h) */
};

/* The CPU backend (OpenBLAS + OpenMP); always present. */
const struct dc_backend *dc_backend_cpu(void);
/* The CUDA backend: GEMMs in TF32 (exact = 0) or in float32 (exact = 1). DC_ERR_BACKEND
 * with a message when this build has no CUDA or no GPU is visible. */
enum dc_status dc_backend_cuda(int exact, const struct dc_backend **out);
/* 1 when this build has CUDA and a GPU is visible (logs nothing; tests skip on 0). */
int dc_backend_cuda_available(void);
/* The GPUs this process sees (0 without CUDA in the build or without a GPU; logs nothing). */
int dc_backend_cuda_device_count(void);
/* A backend by name: "cpu"; "cuda" (TF32 GEMMs) or "cuda-fp32" (float32-exact GEMMs),
 * which fail with a message when not built or no GPU is visible; "auto" (or NULL): CUDA
 * when built and a GPU is visible, else the CPU. DC_ERR_ARG for an unknown name. */
enum dc_status dc_backend_get(const char *name, const struct dc_backend **out);
/* The GPU the CUDA backend takes when it is first created is (local_rank % visible GPUs);
 * dc_dist_init sets it from the rank's place on its node. Default 0. */
void dc_backend_set_local_rank(int local_rank);
int dc_backend_local_rank(void);
/* OpenMP threads of this process's CPU kernels and BLAS (run.threads); n <= 0 keeps
 * OMP_NUM_THREADS or the runtime's choice. */
void dc_backend_set_threads(int n);
/* The precision of the CPU backend's float GEMMs (run.precision): fp32, or bf16 operands
 * (rounded to nearest even) with fp32 accumulation into fp32 results. */
enum dc_precision { DC_PRECISION_FP32 = 0, DC_PRECISION_BF16 };
/* 1 when oneDNN runs bf16 GEMMs on this CPU with its bf16 instructions (AVX512-BF16 or AMX). */
int dc_backend_cpu_bf16(void);
/* Sets the precision of this process's CPU GEMMs; returns the one in effect: bf16 on a
 * CPU without bf16 instructions gives fp32 (the caller says so). */
enum dc_precision dc_backend_set_precision(enum dc_precision p);
enum dc_precision dc_backend_precision(void);
/* "oneDNN X.Y.Z (<ISA> kernels), CPU GEMMs fp32|bf16": the CPU GEMMs as they run now. */
void dc_backend_cpu_gemm_info(char *out, size_t cap);
/* The engines behind the CPU's float GEMMs, to time them apart (bench-speed --gemms). */
enum dc_gemm_engine { DC_GEMM_OPENBLAS = 0, DC_GEMM_ONEDNN_FP32, DC_GEMM_ONEDNN_BF16 };
/* C (M,N) = op(A) op(B), row-major, by that engine alone; 0 when it cannot (oneDNN
 * declined the shape, or bf16 on a CPU without bf16 instructions), 1 when done. */
int dc_backend_cpu_gemm_with(enum dc_gemm_engine e, int trans_a, int trans_b, int M, int N, int K, const float *A,
                             int lda, const float *B, int ldb, float *C, int ldc);
/* The libraries behind the backends, for provenance: "<OpenBLAS's build config, from its version on>;
 * oneDNN X.Y.Z (<ISA> kernels), CPU GEMMs fp32|bf16; CUDA runtime X.Y (driver X.Y), cuBLAS X.Y.Z" or
 * "...; CUDA not in this build". */
void dc_backend_library_info(char *out, size_t cap);
/* The OpenBLAS kernel family in use ("SkylakeX", "Haswell", "Prescott", ...). */
const char *dc_backend_blas_core(void);
/* OpenBLAS picks its kernels from the CPU model when it loads; a CPU newer than it knows
 * (0.3.21 on Emerald Rapids, model 207) gets the SSE3 "Prescott" kernels, about 2.3 times
 * slower here. The kernel family to ask for by OPENBLAS_CORETYPE (then the process must
 * start again, as OpenBLAS reads it only when loaded): "SkylakeX" on AVX-512, "Haswell"
 * on AVX2 + FMA; NULL when the choice is already right or the user set OPENBLAS_CORETYPE. */
const char *dc_backend_blas_core_fix(void);
/* The CUDA part of dc_backend_library_info (cuda/ or nocuda/). */
void dc_backend_cuda_library_info(char *out, size_t cap);

#endif
