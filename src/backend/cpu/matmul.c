/* oneDNN matmul behind the float GEMMs of the CPU backend (see matmul.h).
 *
 * A primitive is made once per GEMM signature (transposes, sizes, leading dimensions,
 * alpha, beta, precision) and kept: a training step calls the same few dozen shapes again
 * and again, and making a brgemm primitive costs far more than running a small one. alpha
 * is the primitive's output scale, beta a sum post-op (C = alpha op(A) op(B) + beta C).
 * Ops are called by one thread at a time (the backend's one stream); a mutex keeps that
 * true of the table and the bf16 buffers should a caller break the rule. */
#include "backend/cpu/matmul.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct signatures kept; a model's step uses a few dozen. Past this the oldest entry
 * is replaced (round robin), which only costs a rebuild. */
#define MATMUL_CACHE 256

struct mm_key {
  int trans_a, trans_b, M, N, K, lda, ldb, ldc, bf16, bias;
  int threads; /* oneDNN plans a primitive's work for the OpenMP threads it is made with */
  int epi;     /* enum dc_mm_epi */
  float alpha, beta, epi_alpha;
};

struct mm_entry {
  struct mm_key key;
  int used;
  dnnl_primitive_t prim; /* NULL: oneDNN has no fast kernel for it, use BLAS */
  dnnl_memory_desc_t a, b, c, bias, t; /* t: the ADD or MUL epilogue's tensor */
};

static struct {
  pthread_mutex_t lock;
  int ready; /* 1: engine and stream made; -1: oneDNN unusable, BLAS for everything */
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  struct mm_entry entry[MATMUL_CACHE];
  int next;
  int bf16;          /* the precision asked for */
  uint16_t *scratch; /* bf16 copies of A and B */
  size_t scratch_n;
} g_mm = {.lock = PTHREAD_MUTEX_INITIALIZER};

void dc_cpu_matmul_set_bf16(int on) {
  pthread_mutex_lock(&g_mm.lock);
  g_mm.bf16 = on != 0;
  pthread_mutex_unlock(&g_mm.lock);
}

int dc_cpu_matmul_bf16(void) { return g_mm.bf16; }

int dc_cpu_matmul_bf16_native(void) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16; /* AMX includes it */
}

void dc_cpu_matmul_info(char *out, size_t cap) {
  const dnnl_version_t *v = dnnl_version();
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  const char *name = isa == dnnl_cpu_isa_avx512_core_amx    ? "AMX"
                     : isa == dnnl_cpu_isa_avx512_core_bf16 ? "AVX512-BF16"
                     : isa == dnnl_cpu_isa_avx512_core_vnni ? "AVX512-VNNI"
                     : isa == dnnl_cpu_isa_avx512_core      ? "AVX512"
                     : isa == dnnl_cpu_isa_avx2_vnni        ? "AVX2-VNNI"
                     : isa == dnnl_cpu_isa_avx2             ? "AVX2"
                                                            : "older than AVX2";
  snprintf(out, cap, "oneDNN %d.%d.%d (%s kernels)", v->major, v->minor, v->patch, name);
}

static int mm_ready(void) {
  if (g_mm.ready == 0) {
    g_mm.ready = -1;
    if (dnnl_engine_create(&g_mm.engine, dnnl_cpu, 0) == dnnl_success) {
      if (dnnl_stream_create(&g_mm.stream, g_mm.engine, dnnl_stream_default_flags) == dnnl_success)
        g_mm.ready = 1;
      else
        dnnl_engine_destroy(g_mm.engine);
    }
  }
  return g_mm.ready == 1;
}

/* The row-major (rows, cols) matrix with leading dimension ld, or its transpose when
 * trans: the logical (rows, cols) view that matmul reads, by strides. */
static int mm_desc(dnnl_memory_desc_t *md, int rows, int cols, int ld, int trans, dnnl_data_type_t type) {
  dnnl_dims_t dims = {rows, cols};
  dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
  return dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides) == dnnl_success;
}

/* Makes the primitive for key into e; e->prim stays NULL when oneDNN offers only its
 * reference kernels (slower than OpenBLAS) or refuses the problem. */
static void mm_make(struct mm_entry *e, const struct mm_key *k) {
  memset(e, 0, sizeof *e);
  e->key = *k;
  e->used = 1;
  dnnl_data_type_t in = k->bf16 ? dnnl_bf16 : dnnl_f32;
  if (!mm_desc(&e->a, k->M, k->K, k->lda, k->trans_a, in) || !mm_desc(&e->b, k->K, k->N, k->ldb, k->trans_b, in) ||
      !mm_desc(&e->c, k->M, k->N, k->ldc, 0, dnnl_f32))
    return;
  if (k->bias && !mm_desc(&e->bias, 1, k->N, k->N, 0, dnnl_f32)) return;
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &e->a, &e->b, k->bias ? &e->bias : NULL, &e->c) != dnnl_success) return;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_primitive_desc_t pd = NULL;
  int ok = dnnl_primitive_attr_create(&attr) == dnnl_success;
  if (ok && k->alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
  if (ok && (k->beta != 0.0f || k->epi != DC_MM_EPI_NONE)) {
    ok = dnnl_post_ops_create(&post) == dnnl_success;
    if (ok && k->beta != 0.0f) ok = dnnl_post_ops_append_sum(post, k->beta) == dnnl_success;
    if (ok && (k->epi == DC_MM_EPI_ADD || k->epi == DC_MM_EPI_MUL))
      ok = mm_desc(&e->t, k->M, k->N, k->ldc, 0, dnnl_f32) &&
           dnnl_post_ops_append_binary(post, k->epi == DC_MM_EPI_ADD ? dnnl_binary_add : dnnl_binary_mul, &e->t) ==
               dnnl_success;
    if (ok && (k->epi == DC_MM_EPI_GELU || k->epi == DC_MM_EPI_SWISH || k->epi == DC_MM_EPI_RELU)) {
      dnnl_alg_kind_t alg = k->epi == DC_MM_EPI_GELU    ? dnnl_eltwise_gelu_erf
                            : k->epi == DC_MM_EPI_SWISH ? dnnl_eltwise_swish
                                                        : dnnl_eltwise_relu;
      ok = dnnl_post_ops_append_eltwise(post, 1.0f, alg, k->epi == DC_MM_EPI_SWISH ? k->epi_alpha : 0.0f, 0.0f) ==
           dnnl_success;
    }
    if (ok) ok = dnnl_primitive_attr_set_post_ops(attr, post) == dnnl_success;
  }
  if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, g_mm.engine, NULL) == dnnl_success;
  const char *impl = NULL;
  if (ok) ok = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl;
  if (ok && strncmp(impl, "ref", 3) != 0 && dnnl_primitive_create(&e->prim, pd) != dnnl_success) e->prim = NULL;
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (post) dnnl_post_ops_destroy(post);
  if (attr) dnnl_primitive_attr_destroy(attr);
}

static struct mm_entry *mm_find(const struct mm_key *k) {
  for (int i = 0; i < MATMUL_CACHE; i++) {
    struct mm_entry *e = &g_mm.entry[i];
    if (!e->used) break; /* filled in order: the rest are empty */
    if (memcmp(&e->key, k, sizeof *k) == 0) return e;
  }
  struct mm_entry *e = &g_mm.entry[g_mm.next];
  g_mm.next = (g_mm.next + 1) % MATMUL_CACHE;
  if (e->used && e->prim) dnnl_primitive_destroy(e->prim);
  mm_make(e, k);
  return e;
}

/* Round to nearest even bfloat16; NaN stays a (quiet) NaN. */
static void mm_to_bf16(uint16_t *dst, const float *src, int rows, int cols, int ld) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const float *s = src + (size_t)r * ld;
    uint16_t *d = dst + (size_t)r * ld;
    for (int c = 0; c < cols; c++) {
      uint32_t u;
      memcpy(&u, &s[c], sizeof u);
      uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
      uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
      d[c] = (uint16_t)(nan ? (u >> 16) | 0x40u : rounded);
    }
  }
}

/* Elements a row-major buffer of `rows` rows with leading dimension ld spans. */
static size_t mm_span(int rows, int cols, int ld) { return rows > 0 ? (size_t)(rows - 1) * ld + cols : 0; }

static int mm_run(struct mm_entry *e, const void *A, const void *B, const float *bias, const float *T, float *C) {
  dnnl_memory_t m[5] = {NULL, NULL, NULL, NULL, NULL};
  int ok = dnnl_memory_create(&m[0], &e->a, g_mm.engine, (void *)A) == dnnl_success &&
           dnnl_memory_create(&m[1], &e->b, g_mm.engine, (void *)B) == dnnl_success &&
           dnnl_memory_create(&m[2], &e->c, g_mm.engine, C) == dnnl_success &&
           (!bias || dnnl_memory_create(&m[3], &e->bias, g_mm.engine, (void *)bias) == dnnl_success) &&
           (!T || dnnl_memory_create(&m[4], &e->t, g_mm.engine, (void *)T) == dnnl_success);
  if (ok) {
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_DST, m[2]}};
    int n = 3;
    if (bias) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m[3]};
    /* the binary epilogue is post-op 0, or 1 after a sum */
    if (T) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(e->key.beta != 0.0f) | DNNL_ARG_SRC_1, m[4]};
    ok = dnnl_primitive_execute(e->prim, g_mm.stream, n, args) == dnnl_success &&
         dnnl_stream_wait(g_mm.stream) == dnnl_success;
  }
  for (int i = 0; i < 5; i++)
    if (m[i]) dnnl_memory_destroy(m[i]);
  return ok;
}

static int mm_call(int may_bf16, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, const float *bias, float beta, enum dc_mm_epi epi, float epi_alpha,
                   const float *T, float *C, int ldc) {
  if (M <= 0 || N <= 0 || K <= 0 || omp_in_parallel()) return 0;
  pthread_mutex_lock(&g_mm.lock);
  int done = 0;
  if (mm_ready()) {
    int bf16 = g_mm.bf16 && may_bf16;
    struct mm_key k = {trans_a != 0, trans_b != 0, M, N, K, lda, ldb, ldc, bf16, bias != NULL, omp_get_max_threads(),
                       (int)epi, alpha, beta, epi == DC_MM_EPI_SWISH ? epi_alpha : 0.0f};
    struct mm_entry *e = mm_find(&k);
    if (e->prim && !bf16) {
      done = mm_run(e, A, B, bias, T, C);
    } else if (e->prim) {
      /* A is (M,K) or, transposed, (K,M) in memory; B (K,N) or (N,K) */
      int ar = trans_a ? K : M, ac = trans_a ? M : K, br = trans_b ? N : K, bc = trans_b ? K : N;
      size_t na = mm_span(ar, ac, lda), nb = mm_span(br, bc, ldb);
      if (na + nb > g_mm.scratch_n) {
        uint16_t *p = realloc(g_mm.scratch, (na + nb) * sizeof *p);
        if (p) {
          g_mm.scratch = p;
          g_mm.scratch_n = na + nb;
        }
      }
      if (na + nb <= g_mm.scratch_n) {
        mm_to_bf16(g_mm.scratch, A, ar, ac, lda);
        mm_to_bf16(g_mm.scratch + na, B, br, bc, ldb);
        done = mm_run(e, g_mm.scratch, g_mm.scratch + na, bias, T, C);
      }
    }
  }
  pthread_mutex_unlock(&g_mm.lock);
  return done;
}

int dc_cpu_matmul_f32(int may_bf16, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  return mm_call(may_bf16, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, NULL, beta, DC_MM_EPI_NONE, 0.0f, NULL, C,
                 ldc);
}

int dc_cpu_matmul_epi_f32(int may_bf16, int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
                          const float *B, int ldb, const float *bias, enum dc_mm_epi epi, float epi_alpha,
                          const float *T, float *C, int ldc) {
  int binary = epi == DC_MM_EPI_ADD || epi == DC_MM_EPI_MUL;
  if (binary != (T != NULL)) return 0;
  return mm_call(may_bf16, trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, bias, 0.0f, epi, epi_alpha, T, C, ldc);
}
