/* Multi-head softmax attention for the CUDA backend, for the short sequences of this
 * model (T <= ~128 tokens, heads of hs = C/NH = 16 channels in the paper's sizes).
 *
 * Layout as ops.h and the CPU: qkv (B,T,3C) = [q | k | v], head h reads columns
 * h*hs..h*hs+hs-1 of each part; scores q.k / sqrt(hs); causal masks key > query to
 * probability 0; att (B,NH,T,T) keeps the probabilities for backward; out (B,T,C).
 * Backward ASSIGNS all of dqkv.
 *
 * One block per (batch, head); its K and V (and, backward, Q and dO) are copied once into
 * shared memory with rows padded to hs+1 floats, so lanes that walk keys hit distinct
 * banks. A warp takes one query row at a time: lanes over keys for the scores, a warp-wide
 * max and sum for the softmax, then lanes over channels (several keys in flight per lane
 * when hs < 32) for P V. Backward runs in two phases in the same block: warps over query
 * rows (dP = dO V^T, the row's sum P.dP, dS, dQ = dS K), then warps over key rows
 * (dK = dS^T Q, dV = P^T dO, recomputing dS from the saved row sums). Every sum runs in a
 * fixed order: no atomics, reproducible. When the padded operands do not fit the shared
 * memory a block can have, the same kernels read them from global memory instead. */
#include "backend/cuda/cuda_common.cuh"

#define ATT_WARPS 4

/* P V for one row: out[d] = sum_{i < n} p[i] v[i][d]. Lanes are split into R phases over
 * keys (R = 4, 2, 1 for hs <= 8, <= 16, larger) and combined by shuffles in fixed order. */
__device__ __forceinline__ void att_row_product(float *out, const float *p, const float *v, int vld, int n, int hs,
                                                int lane) {
  const int R = hs <= 8 ? 4 : hs <= 16 ? 2 : 1, width = 32 / R, phase = lane / width;
  for (int d0 = 0; d0 < hs; d0 += width) {
    int d = d0 + lane % width;
    float acc = 0.0f;
    if (d < hs)
      for (int i = phase; i < n; i += R) acc += p[i] * v[(size_t)i * vld + d];
    if (R >= 4) acc += __shfl_xor_sync(0xffffffffu, acc, 16);
    if (R >= 2) acc += __shfl_xor_sync(0xffffffffu, acc, R >= 4 ? 8 : 16);
    if (phase == 0 && d < hs) out[d] = acc;
  }
}

template <bool KV_SMEM>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attention_forward_kernel(float *out, float *att, const float *qkv, int T, int C, int NH, int causal) {
  extern __shared__ float sm[];
  const int bh = blockIdx.x, b = bh / NH, h = bh % NH, hs = C / NH;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const size_t ld = (size_t)3 * C;
  const float *q = qkv + (size_t)b * T * ld + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
  const float *K = k, *V = v;
  int kld = (int)ld, vld = (int)ld;
  float *rest = sm;
  if (KV_SMEM) {
    float *Ks = sm, *Vs = sm + (size_t)T * (hs + 1);
    for (int idx = threadIdx.x; idx < T * hs; idx += blockDim.x) {
      int t = idx / hs, d = idx % hs;
      Ks[t * (hs + 1) + d] = k[(size_t)t * ld + d];
      Vs[t * (hs + 1) + d] = v[(size_t)t * ld + d];
    }
    K = Ks;
    V = Vs;
    kld = vld = hs + 1;
    rest = sm + 2 * (size_t)T * (hs + 1);
    __syncthreads();
  }
  float *qb = rest + (size_t)warp * (hs + T), *pb = qb + hs;
  const float scale = 1.0f / sqrtf((float)hs);
  for (int t = warp; t < T; t += ATT_WARPS) {
    for (int d = lane; d < hs; d += 32) qb[d] = q[(size_t)t * ld + d];
    __syncwarp();
    const int n = causal ? t + 1 : T;
    float mx = -INFINITY;
    for (int i = lane; i < n; i += 32) {
      const float *ki = K + (size_t)i * kld;
      float s = 0.0f;
      for (int d = 0; d < hs; d++) s += qb[d] * ki[d];
      s *= scale;
      pb[i] = s;
      mx = fmaxf(mx, s);
    }
    mx = dc_warp_maxf(mx);
    float sum = 0.0f;
    for (int i = lane; i < n; i += 32) {
      float e = expf(pb[i] - mx);
      pb[i] = e;
      sum += e;
    }
    const float inv = 1.0f / dc_warp_sumf(sum);
    float *arow = att ? att + ((size_t)bh * T + t) * T : nullptr; /* NULL: inference, not kept */
    for (int i = lane; i < T; i += 32) {
      float p = i < n ? pb[i] * inv : 0.0f;
      if (i < n) pb[i] = p;
      if (arow) arow[i] = p;
    }
    __syncwarp();
    att_row_product(out + ((size_t)b * T + t) * C + (size_t)h * hs, pb, V, vld, n, hs, lane);
    __syncwarp(); /* qb and pb are rewritten by the next row */
  }
}

template <bool SMEM>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attention_backward_kernel(float *dqkv, const float *dout, const float *qkv, const float *att, int T, int C,
                              int NH) {
  extern __shared__ float sm[];
  const int bh = blockIdx.x, b = bh / NH, h = bh % NH, hs = C / NH;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const size_t ld = (size_t)3 * C;
  const float *q = qkv + (size_t)b * T * ld + (size_t)h * hs;
  const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
  const float *a = att + (size_t)bh * T * T;
  float *dq = dqkv + (size_t)b * T * ld + (size_t)h * hs, *dk = dq + C, *dv = dq + 2 * C;
  const float *Q = q, *K = q + C, *V = q + 2 * C, *DO = dy;
  int qld = (int)ld, dld = C;
  float *rest = sm;
  if (SMEM) {
    const int ks = hs + 1;
    float *Qs = sm, *Ks = Qs + (size_t)T * ks, *Vs = Ks + (size_t)T * ks, *Ds = Vs + (size_t)T * ks;
    for (int idx = threadIdx.x; idx < T * hs; idx += blockDim.x) {
      int t = idx / hs, d = idx % hs;
      Qs[t * ks + d] = q[(size_t)t * ld + d];
      Ks[t * ks + d] = q[(size_t)t * ld + C + d];
      Vs[t * ks + d] = q[(size_t)t * ld + 2 * C + d];
      Ds[t * ks + d] = dy[(size_t)t * C + d];
    }
    Q = Qs;
    K = Ks;
    V = Vs;
    DO = Ds;
    qld = dld = ks;
    rest = Ds + (size_t)T * ks;
    __syncthreads();
  }
  float *rowdot = rest, *pb = rest + T + (size_t)warp * 2 * T, *sb = pb + T;
  const float scale = 1.0f / sqrtf((float)hs);
  /* phase 1, a query row per warp: dS[t][i] = P (dP - P.dP) scale, dQ[t] = dS[t] K */
  for (int t = warp; t < T; t += ATT_WARPS) {
    const float *dot_t = DO + (size_t)t * dld;
    float dot = 0.0f;
    for (int i = lane; i < T; i += 32) {
      const float *vi = V + (size_t)i * qld;
      float dp = 0.0f;
      for (int d = 0; d < hs; d++) dp += dot_t[d] * vi[d];
      float p = a[(size_t)t * T + i];
      pb[i] = p;
      sb[i] = dp;
      dot += p * dp;
    }
    dot = dc_warp_sumf(dot);
    if (lane == 0) rowdot[t] = dot;
    for (int i = lane; i < T; i += 32) sb[i] = pb[i] * (sb[i] - dot) * scale;
    __syncwarp();
    att_row_product(dq + (size_t)t * ld, sb, K, qld, T, hs, lane);
    __syncwarp();
  }
  __syncthreads(); /* every row's P.dP is in rowdot */
  /* phase 2, a key row per warp: dK[i] = sum_t dS[t][i] Q[t], dV[i] = sum_t P[t][i] dO[t] */
  for (int i = warp; i < T; i += ATT_WARPS) {
    const float *vi = V + (size_t)i * qld;
    for (int t = lane; t < T; t += 32) {
      const float *dot_t = DO + (size_t)t * dld;
      float dp = 0.0f;
      for (int d = 0; d < hs; d++) dp += dot_t[d] * vi[d];
      float p = a[(size_t)t * T + i];
      pb[t] = p;
      sb[t] = p * (dp - rowdot[t]) * scale;
    }
    __syncwarp();
    att_row_product(dk + (size_t)i * ld, sb, Q, qld, T, hs, lane);
    att_row_product(dv + (size_t)i * ld, pb, DO, dld, T, hs, lane);
    __syncwarp();
  }
}

/* Opts a kernel in to `bytes` of dynamic shared memory when that is over the 48 KiB
 * default; 0 when it cannot. */
static int att_smem(const void *kernel, size_t bytes) {
  if (bytes <= 48 * 1024) return 1;
  if (bytes > dc_cuda_context()->smem_optin) return 0;
  DC_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes), return 0);
  return 1;
}

extern "C" void dc_cuda_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH,
                                          int causal) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  DC_CUDA_REQUIRE(C % NH == 0, "attention_forward: C = %d is not a multiple of NH = %d", C, NH);
  DC_CUDA_REQUIRE(out && qkv, "attention_forward: NULL pointer");
  const int hs = C / NH;
  const size_t per_warp = (size_t)ATT_WARPS * (hs + T) * sizeof(float);
  const size_t kv = 2 * (size_t)T * (hs + 1) * sizeof(float);
  const unsigned grid = (unsigned)B * (unsigned)NH;
  if (att_smem((const void *)attention_forward_kernel<true>, kv + per_warp)) {
    attention_forward_kernel<true><<<grid, ATT_WARPS * 32, kv + per_warp, dc_cuda_stream()>>>(out, att, qkv, T, C, NH,
                                                                                              causal);
  } else {
    DC_CUDA_REQUIRE(att_smem((const void *)attention_forward_kernel<false>, per_warp),
                    "attention_forward: T = %d, hs = %d need %zu bytes of shared memory per block", T, hs, per_warp);
    attention_forward_kernel<false><<<grid, ATT_WARPS * 32, per_warp, dc_cuda_stream()>>>(out, att, qkv, T, C, NH,
                                                                                           causal);
  }
  DC_CUDA_LAUNCHED();
}

extern "C" void dc_cuda_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int B,
                                           int T, int C, int NH) {
  if (B <= 0 || T <= 0 || C <= 0 || NH <= 0) return;
  DC_CUDA_REQUIRE(C % NH == 0, "attention_backward: C = %d is not a multiple of NH = %d", C, NH);
  DC_CUDA_REQUIRE(dqkv && dout && qkv && att, "attention_backward: NULL pointer");
  const int hs = C / NH;
  const size_t rest = ((size_t)T + (size_t)ATT_WARPS * 2 * T) * sizeof(float);
  const size_t ops = 4 * (size_t)T * (hs + 1) * sizeof(float);
  const unsigned grid = (unsigned)B * (unsigned)NH;
  if (att_smem((const void *)attention_backward_kernel<true>, ops + rest)) {
    attention_backward_kernel<true><<<grid, ATT_WARPS * 32, ops + rest, dc_cuda_stream()>>>(dqkv, dout, qkv, att, T,
                                                                                            C, NH);
  } else {
    DC_CUDA_REQUIRE(att_smem((const void *)attention_backward_kernel<false>, rest),
                    "attention_backward: T = %d needs %zu bytes of shared memory per block", T, rest);
    attention_backward_kernel<false><<<grid, ATT_WARPS * 32, rest, dc_cuda_stream()>>>(dqkv, dout, qkv, att, T, C,
                                                                                       NH);
  }
  DC_CUDA_LAUNCHED();
}
