/* Row gathers and scatters for MAE-style masking, and a strided row copy, for the CUDA
 * backend (semantics of src/backend/cpu/gather.c): rows of C values inside per-item
 * blocks, block strides (inp_rows, out_rows) separate from the counts (K, L).
 *
 * gather_rows_backward ACCUMULATES into dinp with atomicAdd (indices may repeat within an
 * item, and the masking ones never do, so the order cannot matter there);
 * scatter_rows_fill_backward ASSIGNS dinp and ACCUMULATES dfill: the fill reached exactly
 * the rows no index wrote, found with a per-row flag, and dfill is their column sum in
 * double, in a fixed order. */
#include "backend/cuda/cuda_common.cuh"

__global__ void gather_rows_kernel(float *out, int out_rows, const float *inp, int inp_rows, const int *idx, int K,
                                   int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t bk = i / (size_t)C, c = i % (size_t)C, b = bk / (size_t)K, k = bk % (size_t)K;
    out[(b * out_rows + k) * C + c] = inp[(b * inp_rows + (size_t)idx[bk]) * C + c];
  }
}

__global__ void gather_rows_backward_kernel(float *dinp, int inp_rows, const float *dout, int out_rows,
                                            const int *idx, int K, int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t bk = i / (size_t)C, c = i % (size_t)C, b = bk / (size_t)K, k = bk % (size_t)K;
    atomicAdd(dinp + (b * inp_rows + (size_t)idx[bk]) * C + c, dout[(b * out_rows + k) * C + c]);
  }
}

extern "C" void dc_cuda_gather_rows(float *out, int out_rows, const float *inp, int inp_rows, const int *idx, int B,
                                    int K, int C) {
  if (B <= 0 || K <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && inp && idx && out_rows >= K, "gather_rows: NULL pointer or out_rows %d < K %d", out_rows, K);
  size_t total = (size_t)B * K * C;
  gather_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      out, out_rows, inp, inp_rows, idx, K, C, total);
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_gather_rows_backward(float *dinp, int inp_rows, const float *dout, int out_rows,
                                             const int *idx, int B, int K, int C) {
  if (dinp == NULL || B <= 0 || K <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && idx, "gather_rows_backward: NULL input");
  size_t total = (size_t)B * K * C;
  gather_rows_backward_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      dinp, inp_rows, dout, out_rows, idx, K, C, total);
  DC_CUDA_LAUNCHED();
}

/* rows 0..L-1 of every item get the fill */
__global__ void fill_rows_kernel(float *out, int out_rows, int L, const float *fill, int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t br = i / (size_t)C, c = i % (size_t)C, b = br / (size_t)L, r = br % (size_t)L;
    out[(b * out_rows + r) * C + c] = fill[c];
  }
}

/* out[b, idx[b,k]] = inp[b, k] */
__global__ void scatter_rows_kernel(float *out, int out_rows, const float *inp, int inp_rows, const int *idx, int K,
                                    int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t bk = i / (size_t)C, c = i % (size_t)C, b = bk / (size_t)K, k = bk % (size_t)K;
    out[(b * out_rows + (size_t)idx[bk]) * C + c] = inp[(b * inp_rows + k) * C + c];
  }
}

extern "C" void dc_cuda_scatter_rows_fill(float *out, int out_rows, int L, const float *inp, int inp_rows,
                                          const float *fill, const int *idx, int B, int K, int C) {
  if (B <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && fill && out_rows >= L && (K <= 0 || (inp && idx)),
                  "scatter_rows_fill: NULL pointer or out_rows %d < L %d", out_rows, L);
  cudaStream_t s = dc_cuda_stream();
  if (L > 0) {
    size_t total = (size_t)B * L * C;
    fill_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, s>>>(out, out_rows, L, fill, C,
                                                                                       total);
    DC_CUDA_LAUNCHED();
  }
  if (K > 0) { /* after the fill, in stream order */
    size_t total = (size_t)B * K * C;
    scatter_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, s>>>(out, out_rows, inp,
                                                                                          inp_rows, idx, K, C, total);
    DC_CUDA_LAUNCHED();
  }
}

/* dinp[b, k] = dout[b, idx[b,k]] */
__global__ void unscatter_rows_kernel(float *dinp, int inp_rows, const float *dout, int out_rows, const int *idx,
                                      int K, int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t bk = i / (size_t)C, c = i % (size_t)C, b = bk / (size_t)K, k = bk % (size_t)K;
    dinp[(b * inp_rows + k) * C + c] = dout[(b * out_rows + (size_t)idx[bk]) * C + c];
  }
}

/* written[b*L + r] = 1 for each row an index wrote (flags zeroed before) */
__global__ void mark_rows_kernel(unsigned char *written, const int *idx, int L, int K, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    int r = idx[i];
    if (r >= 0 && r < L) written[(i / (size_t)K) * L + (size_t)r] = 1;
  }
}

/* sum over the B*L fill rows of dout where no index wrote */
struct fill_rows_sum {
  const float *dout;
  const unsigned char *written;
  int out_rows, L, C;
  __device__ double2 operator()(int br, long long c) const {
    if (written[br]) return make_double2(0.0, 0.0);
    size_t b = (size_t)br / (size_t)L, r = (size_t)br % (size_t)L;
    return make_double2((double)dout[(b * out_rows + r) * C + c], 0.0);
  }
};
struct fill_add {
  float *dfill;
  __device__ void operator()(long long c, double2 s) const { dfill[c] += (float)s.x; }
};

extern "C" void dc_cuda_scatter_rows_fill_backward(float *dinp, int inp_rows, float *dfill, const float *dout,
                                                   int out_rows, int L, const int *idx, int B, int K, int C) {
  if (B <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(dout && (K <= 0 || idx), "scatter_rows_fill_backward: NULL input");
  cudaStream_t s = dc_cuda_stream();
  if (dinp && K > 0) {
    size_t total = (size_t)B * K * C;
    unscatter_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, s>>>(
        dinp, inp_rows, dout, out_rows, idx, K, C, total);
    DC_CUDA_LAUNCHED();
  }
  if (!dfill || L <= 0) return;
  size_t rows = (size_t)B * L;
  DC_CUDA_REQUIRE(rows <= 0x7fffffff, "scatter_rows_fill_backward: %zu fill rows", rows);
  unsigned char *written = (unsigned char *)dc_cuda_aux(rows);
  if (!written) return;
  DC_CUDA_CHECK(cudaMemsetAsync(written, 0, rows, s), return);
  if (K > 0) {
    size_t total = (size_t)B * K;
    mark_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, s>>>(written, idx, L, K, total);
    DC_CUDA_LAUNCHED();
  }
  dc_colsum(C, (int)rows, fill_rows_sum{dout, written, out_rows, L, C}, fill_add{dfill});
}

__global__ void copy_rows_kernel(float *out, int out_stride, const float *inp, int inp_stride, int C, size_t total) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / (size_t)C, c = i % (size_t)C;
    out[r * out_stride + c] = inp[r * inp_stride + c];
  }
}

extern "C" void dc_cuda_copy_rows(float *out, int out_stride, const float *inp, int inp_stride, int rows, int C) {
  if (rows <= 0 || C <= 0) return;
  DC_CUDA_REQUIRE(out && inp, "copy_rows: NULL pointer");
  size_t total = (size_t)rows * C;
  copy_rows_kernel<<<dc_cuda_blocks(total, DC_CUDA_THREADS), DC_CUDA_THREADS, 0, dc_cuda_stream()>>>(
      out, out_stride, inp, inp_stride, C, total);
  DC_CUDA_LAUNCHED();
}
