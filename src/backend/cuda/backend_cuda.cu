/* The CUDA backend: its context (device, stream, cuBLAS handle, scratch), memory
 * functions, the sticky error, and the op table, which holds the launchers of the other
 * files in this folder. Two tables share the context: "cuda" (TF32 GEMMs) and "cuda-fp32"
 * (float32-exact GEMMs); everything but gemm and linear is the same in both.
 *
 * The context is made on first use, on GPU (local rank % visible GPUs)
 * (dc_backend_set_local_rank), and lives until the process ends. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_common.cuh"

/* cuBLAS's workspace: 32 MiB, NVIDIA's advice for Hopper; a set workspace also keeps
 * cuBLAS from allocating while a graph is captured. */
#define DC_CUBLAS_WORKSPACE ((size_t)32 << 20)

static struct dc_cuda_ctx g_ctx;
static int g_ready = 0;
static enum dc_status g_error = DC_OK;

extern "C" struct dc_cuda_ctx *dc_cuda_context(void) { return &g_ctx; }

extern "C" void dc_cuda_fail(enum dc_status s, const char *file, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_error == DC_OK) g_error = s;
  dc_error_at(s, file, line, "CUDA backend: %s", msg);
}

static void *grow(void **buf, size_t *have, size_t bytes, const char *what) {
  if (bytes <= *have && *buf) return *buf;
  size_t want = bytes < 4096 ? 4096 : bytes + bytes / 4;
  if (*buf) {
    /* no queued op may still read the old buffer, and a live CUDA graph holds its
     * address: then it is kept (growth after a capture is rare and bounded) */
    DC_CUDA_CHECK(cudaStreamSynchronize(g_ctx.stream), (void)0);
    if (g_ctx.graphs == 0) DC_CUDA_CHECK(cudaFree(*buf), (void)0);
    *buf = NULL;
    *have = 0;
  }
  void *p = NULL;
  if (cudaMalloc(&p, want) != cudaSuccess) {
    dc_cuda_fail(DC_ERR_NOMEM, __FILE__, __LINE__, "cannot allocate %zu bytes of %s scratch", want, what);
    return NULL;
  }
  *buf = p;
  *have = want;
  return p;
}

extern "C" void *dc_cuda_scratch(size_t bytes) { return grow(&g_ctx.scratch, &g_ctx.scratch_bytes, bytes, "reduction"); }
extern "C" void *dc_cuda_aux(size_t bytes) { return grow(&g_ctx.aux, &g_ctx.aux_bytes, bytes, "auxiliary"); }

/* ---- memory ---- */

static void *cuda_alloc(size_t bytes) {
  void *p = NULL;
  size_t n = bytes ? bytes : 1;
  if (cudaMalloc(&p, n) != cudaSuccess) {
    cudaGetLastError(); /* an out-of-memory answer is not sticky; the caller sees NULL */
    return NULL;
  }
  /* zero-filled like calloc; finished before the pointer is handed out */
  if (cudaMemsetAsync(p, 0, n, g_ctx.stream) != cudaSuccess || cudaStreamSynchronize(g_ctx.stream) != cudaSuccess) {
    cudaFree(p);
    return NULL;
  }
  return p;
}

static void cuda_free(void *p) {
  if (p) DC_CUDA_CHECK(cudaFree(p), (void)0);
}

static void cuda_upload(void *dst, const void *host_src, size_t bytes) {
  if (!bytes) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, g_ctx.stream), return);
  /* the caller may reuse its buffer at once */
  DC_CUDA_CHECK(cudaStreamSynchronize(g_ctx.stream), (void)0);
}

static void cuda_download(void *host_dst, const void *src, size_t bytes) {
  if (!bytes) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, g_ctx.stream), return);
  DC_CUDA_CHECK(cudaStreamSynchronize(g_ctx.stream), (void)0);
}

static void cuda_copy(void *dst, const void *src, size_t bytes) {
  if (!bytes || dst == src) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_ctx.stream), (void)0);
}

static void cuda_zero(void *p, size_t bytes) {
  if (bytes) DC_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, g_ctx.stream), (void)0);
}

static void cuda_synchronize(void) { DC_CUDA_CHECK(cudaStreamSynchronize(g_ctx.stream), (void)0); }

/* The first error since the last call. Asynchronous kernel faults show up at the next
 * synchronising call, so look once more without waiting. */
extern "C" enum dc_status dc_cuda_take_error(void) {
  cudaError_t e = cudaPeekAtLastError();
  if (e != cudaSuccess) {
    cudaGetLastError();
    dc_cuda_fail(DC_ERR_BACKEND, __FILE__, __LINE__, "asynchronous error: %s", cudaGetErrorString(e));
  }
  enum dc_status s = g_error;
  g_error = DC_OK;
  return s;
}

/* ---- the tables ---- */

#define DC_CUDA_ENTRY(ret, name, args) t->name = dc_cuda_##name;

static struct dc_backend g_tables[2];

static void fill_table(struct dc_backend *t, int exact) {
  memset(t, 0, sizeof *t);
  DC_OPS(DC_CUDA_ENTRY, float)
  t->name = exact ? "cuda-fp32" : "cuda";
  t->alloc = cuda_alloc;
  t->free = cuda_free;
  t->upload = cuda_upload;
  t->download = cuda_download;
  t->copy = cuda_copy;
  t->zero = cuda_zero;
  t->synchronize = cuda_synchronize;
  t->error = dc_cuda_take_error;
  t->rng_uniform = dc_cuda_rng_uniform;
  t->rng_normal = dc_cuda_rng_normal;
  t->device_memory = 1;
  t->graph_run = dc_cuda_graph_run;
  t->graph_free = dc_cuda_graph_free;
  if (exact) {
    t->gemm = dc_cuda_gemm_exact;
    t->linear_forward = dc_cuda_linear_forward_exact;
    t->linear_backward = dc_cuda_linear_backward_exact;
  }
}

extern "C" int dc_backend_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError(); /* no driver or no device: not an error worth keeping */
    return 0;
  }
  return n;
}

extern "C" void dc_backend_cuda_library_info(char *out, size_t cap) {
  int rt = 0, drv = 0, major = 0, minor = 0, patch = 0;
  cudaRuntimeGetVersion(&rt);
  if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
  cudaGetLastError();
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  char driver[64] = "no driver";
  if (drv) snprintf(driver, sizeof driver, "driver %d.%d", drv / 1000, drv % 1000 / 10);
  snprintf(out, cap, "CUDA runtime %d.%d (built with %d.%d, %s), cuBLAS %d.%d.%d", rt / 1000, rt % 1000 / 10,
           CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, driver, major, minor, patch);
}

extern "C" int dc_backend_cuda_available(void) { return dc_backend_cuda_device_count() > 0; }

static enum dc_status init_context(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    return DC_ERROR(DC_ERR_BACKEND, "backend 'cuda': no CUDA device is visible (%s); use --backend cpu",
                    e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
  }
  int dev = dc_backend_local_rank() % n;
  cudaDeviceProp prop;
  e = cudaSetDevice(dev);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, dev);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&g_ctx.stream, cudaStreamNonBlocking);
  if (e != cudaSuccess)
    return DC_ERROR(DC_ERR_BACKEND, "backend 'cuda': cannot set up device %d: %s", dev, cudaGetErrorString(e));
  g_ctx.device = dev;
  g_ctx.smem_optin = prop.sharedMemPerBlockOptin;
  cublasStatus_t b = cublasCreate(&g_ctx.blas);
  if (b == CUBLAS_STATUS_SUCCESS) b = cublasSetStream(g_ctx.blas, g_ctx.stream);
  if (b == CUBLAS_STATUS_SUCCESS) {
    if (cudaMalloc(&g_ctx.blas_workspace, DC_CUBLAS_WORKSPACE) != cudaSuccess)
      return DC_ERROR(DC_ERR_NOMEM, "backend 'cuda': cannot allocate the cuBLAS workspace");
    b = cublasSetWorkspace(g_ctx.blas, g_ctx.blas_workspace, DC_CUBLAS_WORKSPACE);
  }
  if (b != CUBLAS_STATUS_SUCCESS)
    return DC_ERROR(DC_ERR_BACKEND, "backend 'cuda': cuBLAS set-up failed: %s", cublasGetStatusString(b));
  fill_table(&g_tables[0], 0);
  fill_table(&g_tables[1], 1);
  dc_log(DC_LOG_DEBUG, "CUDA backend on device %d of %d: %s, compute capability %d.%d, %d SMs", dev, n, prop.name,
         prop.major, prop.minor, prop.multiProcessorCount);
  return DC_OK;
}

extern "C" enum dc_status dc_backend_cuda(int exact, const struct dc_backend **out) {
  *out = NULL;
  if (!g_ready) {
    DC_TRY(init_context());
    g_ready = 1;
  }
  *out = &g_tables[exact ? 1 : 0];
  return DC_OK;
}
