/* Small elementwise ops for the CUDA backend: residual adds, the broadcast row add and
 * its backward (a column sum in double, ACCUMULATED into drow), scaling, a tiled
 * transpose, and a dot product summed in double in a fixed order (it returns to the host,
 * so it waits for the device). */
#include "backend/cuda/cuda_common.cuh"

__global__ void add_inplace_kernel(float *y, const float *x, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    y[i] += x[i];
}

__global__ void add_broadcast_kernel(float *y, const float *row, size_t total, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
    y[i] += row[i % n];
}

__global__ void scale_kernel(float *y, float a, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    y[i] *= a;
}

extern "C" void dc_cuda_add_inplace(float *y, const float *x, size_t n) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(y && x, "add_inplace: NULL pointer");
  add_inplace_kernel<<<dc_cuda_blocks(n, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(y, x, n);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_add_broadcast(float *y, const float *row, int B, size_t n) {
  if (B <= 0 || n == 0) return;
  DC_CUDA_REQUIRE(y && row, "add_broadcast: NULL pointer");
  size_t total = (size_t)B * n;
  add_broadcast_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(y, row, total,
                                                                                                       n);
  DC_CUDA_LAUNCHED();
}

struct bcast_rows {
  const float *dy;
  size_t n;
  __device__ double2 operator()(int b, long long i) const { return make_double2((double)dy[(size_t)b * n + i], 0.0); }
};
struct bcast_add {
  float *drow;
  __device__ void operator()(long long i, double2 s) const { drow[i] += (float)s.x; }
};

extern "C" void dc_cuda_add_broadcast_backward(float *drow, const float *dy, int B, size_t n) {
  if (drow == NULL || n == 0) return;
  DC_CUDA_REQUIRE(dy || B <= 0, "add_broadcast_backward: NULL dy");
  dc_colsum((long long)n, B > 0 ? B : 0, bcast_rows{dy, n}, bcast_add{drow});
}

extern "C" void dc_cuda_scale_inplace(float *y, float a, size_t n) {
  if (n == 0) return;
  DC_CUDA_REQUIRE(y != NULL, "scale_inplace: NULL pointer");
  scale_kernel<<<dc_cuda_blocks(n, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(y, a, n);
  DC_CUDA_LAUNCHED();
}

/* 32x32 tiles through shared memory (one column of padding: no bank conflicts) */
#define TILE 32
#define TILE_ROWS 8

__global__ void transpose_kernel(float *out, const float *inp, int R, int C) {
  __shared__ float tile[TILE][TILE + 1];
  int c0 = blockIdx.x * TILE, r0 = blockIdx.y * TILE;
  for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
    int r = r0 + j, c = c0 + threadIdx.x;
    if (r < R && c < C) tile[j][threadIdx.x] = inp[(size_t)r * C + c];
  }
  __syncthreads();
  for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
    int c = c0 + j, r = r0 + threadIdx.x;
    if (r < R && c < C) out[(size_t)c * R + r] = tile[threadIdx.x][j];
  }
}

extern "C" void dc_cuda_transpose(float *out, const float *inp, int R, int C) {
  if (R <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && inp && out != inp, "transpose: NULL or in-place");
  DC_CUDA_REQUIRE(CEIL_DIV(R, TILE) <= 65535, "transpose: R = %d rows is too many", R);
  dim3 grid((unsigned)CEIL_DIV(C, TILE), (unsigned)CEIL_DIV(R, TILE)), block(TILE, TILE_ROWS);
  transpose_kernel<<<grid, block, 0, dc_cuda_stream()>>>(out, inp, R, C);
  DC_CUDA_LAUNCHED();
}

struct dot_terms {
  const float *a, *b;
  __device__ dc_d4 operator()(size_t i) const { return dc_d4_make((double)a[i] * (double)b[i], 0.0, 0.0, 0.0); }
};
struct dot_store {
  double *out;
  __device__ void operator()(dc_d4 s) const { *out = s.x; }
};

extern "C" double dc_cuda_dot(const float *a, const float *b, size_t n) {
  if (n == 0) return 0.0;
  if (!a || !b) {
    dc_cuda_fail(DC_ERR_ARG, __FILE__, __LINE__, "dot: NULL pointer");
    return NAN;
  }
  double *dev = (double *)dc_cuda_aux(sizeof(double)), host = NAN;
  if (!dev) return NAN;
  dc_sum(n, dot_terms{a, b}, dot_store{dev});
  DC_CUDA_CHECK(cudaMemcpyAsync(&host, dev, sizeof host, cudaMemcpyDeviceToHost, dc_cuda_stream()), return NAN);
  DC_CUDA_CHECK(cudaStreamSynchronize(dc_cuda_stream()), return NAN);
  return host;
}
