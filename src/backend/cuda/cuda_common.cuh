/* What every CUDA kernel file shares: the backend's context (one device, one stream, one
 * cuBLAS handle, a scratch buffer), the one family of check macros, and deterministic
 * reductions (column sums and whole-array sums in double, in an order fixed by the
 * shapes alone, so a run is reproducible bit for bit on one card).
 *
 * Launchers return nothing (their signatures are the op table's, diffclip/ops.h), so a
 * failure is logged once and kept as the backend's sticky error (dc_backend.error). A
 * launcher checks its preconditions, sizes its grid with CEIL_DIV, runs on the context's
 * stream and ends by checking cudaGetLastError. */
#ifndef DIFFCLIP_CUDA_COMMON_CUH
#define DIFFCLIP_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend/cuda/cuda_backend.h"

#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* Elementwise grids: grid-stride loops over at most this many blocks of 256 threads. */
#define DC_CUDA_THREADS 256
#define DC_CUDA_MAX_BLOCKS 65535

static inline unsigned dc_cuda_blocks(size_t n, int threads) {
  size_t b = CEIL_DIV(n, (size_t)threads);
  return (unsigned)(b < 1 ? 1 : b > DC_CUDA_MAX_BLOCKS ? DC_CUDA_MAX_BLOCKS : b);
}

/* The generic check: evaluate `call`; when `failed_expr` holds, record the error with the
 * call's text (the first error is kept) and run `on_fail` (`return`, or nothing). */
#define DC_CUDA_CHECK_GENERIC(type, call, failed_expr, describe, on_fail)                   \
  do {                                                                                      \
    type dc_rc_ = (call);                                                                   \
    if (failed_expr) {                                                                      \
      dc_cuda_fail(DC_ERR_BACKEND, __FILE__, __LINE__, "%s failed: %s", #call, describe(dc_rc_)); \
      on_fail;                                                                              \
    }                                                                                       \
  } while (0)
#define DC_CUDA_CHECK(call, on_fail) \
  DC_CUDA_CHECK_GENERIC(cudaError_t, call, dc_rc_ != cudaSuccess, cudaGetErrorString, on_fail)
#define DC_CUBLAS_CHECK(call, on_fail)                                                       \
  DC_CUDA_CHECK_GENERIC(cublasStatus_t, call, dc_rc_ != CUBLAS_STATUS_SUCCESS, cublasGetStatusString, \
                        on_fail)
/* After a launch: configuration errors (grid, shared memory) surface here. */
#define DC_CUDA_LAUNCHED() DC_CUDA_CHECK(cudaGetLastError(), (void)0)
/* A precondition of a launcher: record DC_ERR_ARG and return. */
#define DC_CUDA_REQUIRE(cond, ...)                                       \
  do {                                                                   \
    if (!(cond)) {                                                       \
      dc_cuda_fail(DC_ERR_ARG, __FILE__, __LINE__, __VA_ARGS__);         \
      return;                                                            \
    }                                                                    \
  } while (0)

static inline cudaStream_t dc_cuda_stream(void) { return dc_cuda_context()->stream; }

/* ---- warp reductions (butterfly: every lane ends with the same, order-fixed value) ---- */

__device__ __forceinline__ double dc_warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float dc_warp_sumf(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float dc_warp_maxf(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/* ---- column sums: (sum_n f(n,c).x, sum_n f(n,c).y) for each column c of N rows ----
 * Pass 1: a 2-D grid of (column block, row chunk); each thread sums its column over its
 * chunk's rows in order. Pass 2: each column adds the chunks in order and hands the
 * total to g(c, total). Coalesced (threads run along a row), parallel over rows as well
 * as columns, and the same order every run. */
#define DC_COLSUM_THREADS 128

template <class F>
__global__ void dc_colsum_partial_kernel(double2 *partial, /* (chunks, C) */
                                         long long C, int N, int rows_per_chunk, F f) {
  long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  int n0 = (int)blockIdx.y * rows_per_chunk;
  int n1 = min(N, n0 + rows_per_chunk);
  double2 acc = make_double2(0.0, 0.0);
  for (int n = n0; n < n1; n++) {
    double2 v = f(n, c);
    acc.x += v.x;
    acc.y += v.y;
  }
  partial[(long long)blockIdx.y * C + c] = acc;
}

template <class G>
__global__ void dc_colsum_finish_kernel(const double2 *partial, long long C, int chunks, G g) {
  long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double2 acc = make_double2(0.0, 0.0);
  for (int k = 0; k < chunks; k++) {
    double2 v = partial[(long long)k * C + c];
    acc.x += v.x;
    acc.y += v.y;
  }
  g(c, acc);
}

/* Runs both passes on the backend's stream; scratch comes from the context. */
template <class F, class G>
static void dc_colsum(long long C, int N, F f, G g) {
  if (C <= 0) return;
  /* enough chunks to fill the card (~256k threads), at least 16 rows each */
  long long want = 262144 / C;
  if (want < 1) want = 1;
  if (want > 4096) want = 4096;
  int rows = (int)CEIL_DIV((long long)(N > 0 ? N : 1), want);
  if (rows < 16) rows = 16;
  int chunks = N > 0 ? (int)CEIL_DIV((long long)N, (long long)rows) : 1;
  double2 *partial = (double2 *)dc_cuda_scratch((size_t)chunks * (size_t)C * sizeof(double2));
  if (!partial) return;
  unsigned cblocks = (unsigned)CEIL_DIV(C, (long long)DC_COLSUM_THREADS);
  dc_colsum_partial_kernel<<<dim3(cblocks, (unsigned)chunks), DC_COLSUM_THREADS, 0, dc_cuda_stream()>>>(
      partial, C, N, rows, f);
  DC_CUDA_LAUNCHED();
  dc_colsum_finish_kernel<<<cblocks, DC_COLSUM_THREADS, 0, dc_cuda_stream()>>>(partial, C, chunks, g);
  DC_CUDA_LAUNCHED();
}

/* ---- whole-array sums: (sum_i f(i)) as four doubles, deterministic ----
 * A fixed number of blocks (from n alone) each reduce a grid-stride share with a shared-
 * memory tree; one block then adds the partials in order and hands the total to g. */
#define DC_SUM_THREADS 256
#define DC_SUM_MAX_BLOCKS 1024

/* four doubles (CUDA 13 deprecates double4 in favour of explicitly aligned types) */
struct __align__(16) dc_d4 {
  double x, y, z, w;
};
__host__ __device__ __forceinline__ dc_d4 dc_d4_make(double x, double y, double z, double w) {
  dc_d4 r = {x, y, z, w};
  return r;
}

__device__ __forceinline__ dc_d4 dc_add4(dc_d4 a, dc_d4 b) {
  return dc_d4_make(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

__device__ __forceinline__ dc_d4 dc_block_sum4(dc_d4 v) {
  __shared__ dc_d4 buf[DC_SUM_THREADS];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int s = DC_SUM_THREADS / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) buf[threadIdx.x] = dc_add4(buf[threadIdx.x], buf[threadIdx.x + s]);
    __syncthreads();
  }
  return buf[0];
}

template <class F>
__global__ void __launch_bounds__(DC_SUM_THREADS) dc_sum_partial_kernel(dc_d4 *partial, size_t n, F f) {
  dc_d4 acc = dc_d4_make(0.0, 0.0, 0.0, 0.0);
  for (size_t i = (size_t)blockIdx.x * DC_SUM_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * DC_SUM_THREADS)
    acc = dc_add4(acc, f(i));
  dc_d4 total = dc_block_sum4(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

template <class G>
__global__ void __launch_bounds__(DC_SUM_THREADS) dc_sum_finish_kernel(const dc_d4 *partial, int blocks, G g) {
  dc_d4 acc = dc_d4_make(0.0, 0.0, 0.0, 0.0);
  for (int i = threadIdx.x; i < blocks; i += DC_SUM_THREADS) acc = dc_add4(acc, partial[i]);
  dc_d4 total = dc_block_sum4(acc);
  if (threadIdx.x == 0) g(total);
}

template <class F, class G>
static void dc_sum(size_t n, F f, G g) {
  size_t b = CEIL_DIV(n, (size_t)DC_SUM_THREADS);
  int blocks = (int)(b < 1 ? 1 : b > DC_SUM_MAX_BLOCKS ? DC_SUM_MAX_BLOCKS : b);
  dc_d4 *partial = (dc_d4 *)dc_cuda_scratch((size_t)blocks * sizeof(dc_d4));
  if (!partial) return;
  dc_sum_partial_kernel<<<blocks, DC_SUM_THREADS, 0, dc_cuda_stream()>>>(partial, n, f);
  DC_CUDA_LAUNCHED();
  dc_sum_finish_kernel<<<1, DC_SUM_THREADS, 0, dc_cuda_stream()>>>(partial, blocks, g);
  DC_CUDA_LAUNCHED();
}

#endif
