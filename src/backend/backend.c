/* Backend selection and the CPU backend's table. The CUDA backend's table lives in
 * src/backend/cuda/ (or, in a build without CUDA, src/backend/nocuda/ says why there is
 * none): CMake picks the file, so nothing here depends on how the program was built. */
#include "diffclip/backend/backend.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/cpu/matmul.h"
#include "diffclip/core/rng.h"

static void *cpu_alloc(size_t bytes) {
  /* 64-byte alignment for vector loads; calloc semantics (zero-filled). */
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (p) memset(p, 0, rounded ? rounded : 64);
  return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_synchronize(void) {}
static enum dc_status cpu_error(void) { return DC_OK; }
static enum dc_status cpu_graph_run(void (*fn)(void *ctx), void *ctx, void **graph) {
  (void)graph; /* nothing to record: the ops run as they are called */
  fn(ctx);
  return DC_OK;
}
static void cpu_graph_free(void *graph) { (void)graph; }

#define DC_CPU_ENTRY(ret, name, args) .name = dc_cpu_f32_##name,

static const struct dc_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .synchronize = cpu_synchronize,
    .error = cpu_error,
    .rng_uniform = dc_rng_fill_uniform,
    .rng_normal = dc_rng_fill_normal,
    .device_memory = 0,
    .graph_run = cpu_graph_run,
    .graph_free = cpu_graph_free,
    DC_OPS(DC_CPU_ENTRY, float) DC_FUSED_OPS(DC_CPU_ENTRY, float)};

const struct dc_backend *dc_backend_cpu(void) { return &cpu_backend; }

static int g_local_rank = 0;

void dc_backend_set_local_rank(int local_rank) { g_local_rank = local_rank > 0 ? local_rank : 0; }
int dc_backend_local_rank(void) { return g_local_rank; }

void dc_backend_set_threads(int n) {
  if (n > 0) omp_set_num_threads(n); /* OpenBLAS's OpenMP build follows it */
}

int dc_backend_cpu_bf16(void) { return dc_cpu_matmul_bf16_native(); }

void dc_backend_cpu_gemm_info(char *out, size_t cap) {
  char dnnl[96];
  dc_cpu_matmul_info(dnnl, sizeof dnnl);
  snprintf(out, cap, "%s, CPU GEMMs %s", dnnl, dc_cpu_matmul_bf16() ? "bf16" : "fp32");
}

enum dc_precision dc_backend_set_precision(enum dc_precision p) {
  int bf16 = p == DC_PRECISION_BF16 && dc_cpu_matmul_bf16_native();
  dc_cpu_matmul_set_bf16(bf16);
  return bf16 ? DC_PRECISION_BF16 : DC_PRECISION_FP32;
}

int dc_backend_cpu_gemm_with(enum dc_gemm_engine e, int trans_a, int trans_b, int M, int N, int K, const float *A,
                             int lda, const float *B, int ldb, float *C, int ldc) {
  if (e == DC_GEMM_OPENBLAS) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, lda, B, ldb, 0.0f, C, ldc);
    return 1;
  }
  int bf16 = e == DC_GEMM_ONEDNN_BF16, was = dc_cpu_matmul_bf16();
  if (bf16 && !dc_cpu_matmul_bf16_native()) return 0;
  dc_cpu_matmul_set_bf16(bf16);
  int done = dc_cpu_matmul_f32(1, trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
  dc_cpu_matmul_set_bf16(was);
  return done;
}

enum dc_precision dc_backend_precision(void) { return dc_cpu_matmul_bf16() ? DC_PRECISION_BF16 : DC_PRECISION_FP32; }

enum dc_status dc_backend_get(const char *name, const struct dc_backend **out) {
  if (name == NULL || strcmp(name, "auto") == 0) {
    /* CUDA when it is there; its absence is not an error here, so say nothing. */
    if (dc_backend_cuda_available() && dc_backend_cuda(0, out) == DC_OK) return DC_OK;
    *out = &cpu_backend;
    return DC_OK;
  }
  if (strcmp(name, "cpu") == 0) {
    *out = &cpu_backend;
    return DC_OK;
  }
  if (strcmp(name, "cuda") == 0) return dc_backend_cuda(0, out);
  if (strcmp(name, "cuda-fp32") == 0) return dc_backend_cuda(1, out);
  return DC_ERROR(DC_ERR_ARG, "unknown backend '%s' (expected \"auto\", \"cpu\", \"cuda\" or \"cuda-fp32\")", name);
}

void dc_backend_library_info(char *out, size_t cap) {
  char cuda[256], gemm[128];
  dc_backend_cuda_library_info(cuda, sizeof cuda);
  dc_backend_cpu_gemm_info(gemm, sizeof gemm);
  /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ...; oneDNN 2.6.3 (AVX512-BF16 kernels), CPU GEMMs fp32; CUDA ..." */
  snprintf(out, cap, "%s; %s; %s", openblas_get_config(), gemm, cuda);
}

const char *dc_backend_blas_core(void) { return openblas_get_corename(); }

const char *dc_backend_blas_core_fix(void) {
  const char *set = getenv("OPENBLAS_CORETYPE");
  if (set && *set) return NULL; /* the user's choice */
  const char *core = openblas_get_corename();
  static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Katmai",
                                    "Coppermine", "Northwood", "Banias", "Atom", "unknown"};
  int weak = 0;
  for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) weak |= core && strcasecmp(core, old[i]) == 0;
  if (!weak) return NULL;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return NULL;
}
