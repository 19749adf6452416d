/* Every op of the CUDA backend against its CPU reference (dc_backend_cpu()), forward and
 * backward, on fresh random data at the model's shapes and at awkward ones.
 *
 * Error per output: ||gpu - cpu|| / ||cpu|| (the norm of the difference, so one
 * cancellation-prone element cannot dominate). Tolerances: 1e-5 for everything computed
 * in float32 (the "cuda-fp32" table; sums there are in double or in another order than
 * the CPU's, so a few float roundings apart), 2e-3 for GEMMs and linear layers in TF32
 * (the "cuda" table: inputs rounded to 10 mantissa bits). Uniform random numbers must
 * match the host generator bit for bit. Parameter gradients are checked as accumulations
 * (both sides start from the same nonzero values).
 *
 * Built everywhere; without a CUDA device (or without CUDA in the build) it prints
 * "skipped: no CUDA device" and passes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/backend/backend.h"
#include "diffclip/core/rng.h"

#define TOL_FP32 1e-5
#define TOL_TF32 2e-3

static const struct dc_backend *cpu, *gpu; /* gpu: the table under test */
static int failures = 0, checks = 0;
static uint64_t stream_no = 100;

/* One tensor on both backends: h is the CPU backend's (host) copy, d the GPU's. */
struct buf {
  float *h, *d;
  size_t n;
};
struct ibuf {
  int *h, *d;
  size_t n;
};

static void *xmalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}

/* uniform in [lo, hi), the same values on both sides */
static struct buf buf_rand(size_t n, float lo, float hi) {
  struct buf b = {xmalloc(n * sizeof(float)), gpu->alloc(n * sizeof(float)), n};
  if (!b.d) {
    fprintf(stderr, "cannot allocate %zu floats on the GPU\n", n);
    exit(1);
  }
  dc_rng_fill_uniform(b.h, n, 11, stream_no++, 0);
  for (size_t i = 0; i < n; i++) b.h[i] = lo + (hi - lo) * b.h[i];
  gpu->upload(b.d, b.h, n * sizeof(float));
  return b;
}
static struct buf buf_zero(size_t n) { return buf_rand(n, 0, 0); }
static struct ibuf ibuf_make(const int *v, size_t n) {
  struct ibuf b = {xmalloc(n * sizeof(int)), gpu->alloc(n * sizeof(int)), n};
  memcpy(b.h, v, n * sizeof(int));
  gpu->upload(b.d, b.h, n * sizeof(int));
  return b;
}
static void buf_free(struct buf *b) {
  free(b->h);
  gpu->free(b->d);
}
static void ibuf_free(struct ibuf *b) {
  free(b->h);
  gpu->free(b->d);
}

static void report(const char *op, const char *what, double err, double tol) {
  checks++;
  int ok = err <= tol; /* NaN fails */
  if (!ok) failures++;
  printf("  %-4s %-28s %-14s rel_err=%.3e  tol=%.0e\n", ok ? "ok" : "FAIL", op, what, err, tol);
}

static double rel_err(const float *got, const float *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)got[i] - (double)ref[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* compares b's GPU copy with its CPU copy */
static void check(const char *op, const char *what, const struct buf *b, double tol) {
  float *got = xmalloc(b->n * sizeof(float));
  gpu->download(got, b->d, b->n * sizeof(float));
  report(op, what, rel_err(got, b->h, b->n), tol);
  free(got);
}
static void check_doubles(const char *op, const char *what, const double *got, const double *ref, size_t n, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) num += (got[i] - ref[i]) * (got[i] - ref[i]), den += ref[i] * ref[i];
  report(op, what, den > 0 ? sqrt(num / den) : sqrt(num), tol);
}
static void check_error_clear(const char *op) {
  enum dc_status st = gpu->error();
  report(op, "no error", st == DC_OK ? 0.0 : 1.0, 0.0);
}

/* ---- matrix products ---- */

static void test_gemm(const struct dc_backend *g, double tol, const char *label) {
  const struct dc_backend *keep = gpu;
  gpu = g;
  static const int shapes[][3] = {{128, 384, 128}, {77, 15, 128}, {1, 257, 33}, {300, 1, 64}};
  for (int s = 0; s < 4; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        struct buf A = buf_rand((size_t)M * K, -1, 1), B = buf_rand((size_t)K * N, -1, 1), C = buf_rand((size_t)M * N, -1, 1);
        int lda = ta ? M : K, ldb = tb ? K : N;
        cpu->gemm(ta, tb, M, N, K, 0.7f, A.h, lda, B.h, ldb, 0.3f, C.h, N);
        g->gemm(ta, tb, M, N, K, 0.7f, A.d, lda, B.d, ldb, 0.3f, C.d, N);
        char what[64];
        snprintf(what, sizeof what, "%dx%dx%d %c%c", M, N, K, ta ? 'T' : 'N', tb ? 'T' : 'N');
        check(label, what, &C, tol);
        buf_free(&A), buf_free(&B), buf_free(&C);
      }
  /* linear, with and without bias, at the stems' and the blocks' shapes */
  static const int lin[][3] = {{15488, 145, 128}, {1000, 128, 384}, {37, 16, 0}};
  for (int s = 0; s < 3; s++) {
    int N = lin[s][0], IC = lin[s][1], OC = lin[s][2] ? lin[s][2] : 20;
    struct buf x = buf_rand((size_t)N * IC, -1, 1), w = buf_rand((size_t)OC * IC, -0.5f, 0.5f), b = buf_rand(OC, -1, 1);
    struct buf y = buf_zero((size_t)N * OC), dy = buf_rand((size_t)N * OC, -1, 1), dx = buf_zero((size_t)N * IC);
    struct buf dw = buf_rand((size_t)OC * IC, -1, 1), db = buf_rand(OC, -1, 1);
    const float *bias_h = s == 2 ? NULL : b.h, *bias_d = s == 2 ? NULL : b.d;
    cpu->linear_forward(y.h, x.h, w.h, bias_h, N, IC, OC);
    g->linear_forward(y.d, x.d, w.d, bias_d, N, IC, OC);
    cpu->linear_backward(dx.h, dw.h, db.h, dy.h, x.h, w.h, N, IC, OC);
    g->linear_backward(dx.d, dw.d, db.d, dy.d, x.d, w.d, N, IC, OC);
    char what[64];
    snprintf(what, sizeof what, "linear %dx%d->%d out", N, IC, OC);
    check(label, what, &y, tol);
    check(label, "linear dinp", &dx, tol);
    check(label, "linear dweight", &dw, tol);
    check(label, "linear dbias", &db, TOL_FP32); /* a double column sum in both modes */
    buf_free(&x), buf_free(&w), buf_free(&b), buf_free(&y), buf_free(&dy), buf_free(&dx), buf_free(&dw), buf_free(&db);
  }
  gpu = keep;
}

/* ---- normalisations ---- */

static void test_layernorm(int N, int C) {
  struct buf x = buf_rand((size_t)N * C, -2, 3), w = buf_rand(C, 0.5f, 1.5f), b = buf_rand(C, -1, 1);
  for (size_t i = 0; i < x.n; i++) x.h[i] += 20.0f; /* an offset row: the two-pass statistics matter */
  gpu->upload(x.d, x.h, x.n * sizeof(float));
  struct buf y = buf_zero(x.n), m = buf_zero(N), r = buf_zero(N), dy = buf_rand(x.n, -1, 1), dx = buf_zero(x.n);
  struct buf dw = buf_rand(C, -1, 1), db = buf_rand(C, -1, 1);
  cpu->layernorm_forward(y.h, m.h, r.h, x.h, w.h, b.h, N, C, 1e-6f);
  gpu->layernorm_forward(y.d, m.d, r.d, x.d, w.d, b.d, N, C, 1e-6f);
  cpu->layernorm_backward(dx.h, dw.h, db.h, dy.h, x.h, w.h, m.h, r.h, N, C);
  gpu->layernorm_backward(dx.d, dw.d, db.d, dy.d, x.d, w.d, m.d, r.d, N, C);
  check("layernorm_forward", "out", &y, TOL_FP32), check("layernorm_forward", "mean", &m, TOL_FP32);
  check("layernorm_forward", "rstd", &r, TOL_FP32), check("layernorm_backward", "dinp", &dx, TOL_FP32);
  check("layernorm_backward", "dweight", &dw, TOL_FP32), check("layernorm_backward", "dbias", &db, TOL_FP32);
  buf_free(&x), buf_free(&w), buf_free(&b), buf_free(&y), buf_free(&m), buf_free(&r), buf_free(&dy), buf_free(&dx);
  buf_free(&dw), buf_free(&db);
}

static void test_batchnorm(int N, int C) {
  struct buf x = buf_rand((size_t)N * C, -2, 3), w = buf_rand(C, 0.5f, 1.5f), b = buf_rand(C, -1, 1);
  for (size_t i = 0; i < x.n; i++) x.h[i] += 3.0f * (float)(i % C); /* channel offsets */
  gpu->upload(x.d, x.h, x.n * sizeof(float));
  struct buf y = buf_zero(x.n), m = buf_zero(C), r = buf_zero(C), rm = buf_rand(C, -1, 1), rv = buf_rand(C, 0.5f, 2);
  struct buf dy = buf_rand(x.n, -1, 1), dx = buf_zero(x.n), dw = buf_rand(C, -1, 1), db = buf_rand(C, -1, 1);
  /* fused training mode */
  cpu->batchnorm_forward_train(y.h, m.h, r.h, rm.h, rv.h, x.h, w.h, b.h, N, C, 1e-5f, 0.1f);
  gpu->batchnorm_forward_train(y.d, m.d, r.d, rm.d, rv.d, x.d, w.d, b.d, N, C, 1e-5f, 0.1f);
  cpu->batchnorm_backward_train(dx.h, dw.h, db.h, dy.h, x.h, w.h, m.h, r.h, N, C);
  gpu->batchnorm_backward_train(dx.d, dw.d, db.d, dy.d, x.d, w.d, m.d, r.d, N, C);
  const char *f = "batchnorm_forward_train", *bw = "batchnorm_backward_train";
  check(f, "out", &y, TOL_FP32), check(f, "mean", &m, TOL_FP32), check(f, "rstd", &r, TOL_FP32);
  check(f, "running_mean", &rm, TOL_FP32), check(f, "running_var", &rv, TOL_FP32);
  check(bw, "dinp", &dx, TOL_FP32), check(bw, "dweight", &dw, TOL_FP32), check(bw, "dbias", &db, TOL_FP32);
  /* in parts: host sums */
  double *sc = xmalloc(4 * (size_t)C * sizeof(double)), *sg = xmalloc(4 * (size_t)C * sizeof(double));
  cpu->batchnorm_colsum(sc, x.h, NULL, N, C);
  gpu->batchnorm_colsum(sg, x.d, NULL, N, C);
  check_doubles("batchnorm_colsum", "sum x", sg, sc, C, 1e-12);
  for (int c = 0; c < C; c++) sc[C + c] = sc[c] / N; /* the centre, host memory */
  cpu->batchnorm_colsum(sc + 2 * C, x.h, sc + C, N, C);
  gpu->batchnorm_colsum(sg + 2 * C, x.d, sc + C, N, C);
  check_doubles("batchnorm_colsum", "sum (x-c)^2", sg + 2 * C, sc + 2 * C, C, 1e-12);
  for (int c = 0; c < C; c++) sc[2 * C + c] /= N; /* biased variance */
  cpu->batchnorm_apply_train(y.h, m.h, r.h, rm.h, rv.h, x.h, w.h, b.h, sc + C, sc + 2 * C, 3.0 * N, N, C, 1e-5f, 0.1f);
  gpu->batchnorm_apply_train(y.d, m.d, r.d, rm.d, rv.d, x.d, w.d, b.d, sc + C, sc + 2 * C, 3.0 * N, N, C, 1e-5f, 0.1f);
  const char *a = "batchnorm_apply_train";
  check(a, "out", &y, TOL_FP32), check(a, "mean", &m, TOL_FP32), check(a, "rstd", &r, TOL_FP32);
  check(a, "running_mean", &rm, TOL_FP32), check(a, "running_var", &rv, TOL_FP32);
  cpu->batchnorm_backward_colsum(sc, dy.h, x.h, m.h, r.h, N, C);
  gpu->batchnorm_backward_colsum(sg, dy.d, x.d, m.d, r.d, N, C);
  check_doubles("batchnorm_backward_colsum", "sums", sg, sc, 2 * (size_t)C, 1e-9);
  for (int c = 0; c < 2 * C; c++) sc[2 * C + c] = 2.5 * sc[c]; /* "total" over more rows */
  cpu->batchnorm_backward_apply(dx.h, dw.h, db.h, dy.h, x.h, w.h, m.h, r.h, sc, sc + 2 * C, 2.5 * N, N, C);
  gpu->batchnorm_backward_apply(dx.d, dw.d, db.d, dy.d, x.d, w.d, m.d, r.d, sc, sc + 2 * C, 2.5 * N, N, C);
  const char *ba = "batchnorm_backward_apply";
  check(ba, "dinp", &dx, TOL_FP32), check(ba, "dweight", &dw, TOL_FP32), check(ba, "dbias", &db, TOL_FP32);
  /* eval mode */
  cpu->batchnorm_forward_eval(y.h, x.h, w.h, b.h, rm.h, rv.h, N, C, 1e-5f);
  gpu->batchnorm_forward_eval(y.d, x.d, w.d, b.d, rm.d, rv.d, N, C, 1e-5f);
  cpu->batchnorm_backward_eval(dx.h, dw.h, db.h, dy.h, x.h, w.h, rm.h, rv.h, N, C, 1e-5f);
  gpu->batchnorm_backward_eval(dx.d, dw.d, db.d, dy.d, x.d, w.d, rm.d, rv.d, N, C, 1e-5f);
  check("batchnorm_forward_eval", "out", &y, TOL_FP32), check("batchnorm_backward_eval", "dinp", &dx, TOL_FP32);
  check("batchnorm_backward_eval", "dweight", &dw, TOL_FP32), check("batchnorm_backward_eval", "dbias", &db, TOL_FP32);
  free(sc), free(sg);
  buf_free(&x), buf_free(&w), buf_free(&b), buf_free(&y), buf_free(&m), buf_free(&r), buf_free(&rm), buf_free(&rv);
  buf_free(&dy), buf_free(&dx), buf_free(&dw), buf_free(&db);
}

static void test_l2norm(int N, int C) {
  struct buf x = buf_rand((size_t)N * C, -1, 1), y = buf_zero(x.n), nr = buf_zero(N), dy = buf_rand(x.n, -1, 1);
  struct buf dx = buf_zero(x.n);
  cpu->l2norm_forward(y.h, nr.h, x.h, N, C);
  gpu->l2norm_forward(y.d, nr.d, x.d, N, C);
  cpu->l2norm_backward(dx.h, dy.h, y.h, nr.h, N, C);
  gpu->l2norm_backward(dx.d, dy.d, y.d, nr.d, N, C);
  check("l2norm_forward", "out", &y, TOL_FP32), check("l2norm_forward", "norm", &nr, TOL_FP32);
  check("l2norm_backward", "dinp", &dx, TOL_FP32);
  buf_free(&x), buf_free(&y), buf_free(&nr), buf_free(&dy), buf_free(&dx);
}

/* ---- activations and attention ---- */

static void test_activations(size_t n) {
  static const char *const names[] = {"gelu", "quickgelu", "silu", "relu"};
  for (int a = 0; a < 4; a++) {
    struct buf x = buf_rand(n, -6, 6), y = buf_zero(n), dy = buf_rand(n, -1, 1), dx = buf_zero(n);
    cpu->act_forward((enum dc_act)a, y.h, x.h, n);
    gpu->act_forward((enum dc_act)a, y.d, x.d, n);
    cpu->act_backward((enum dc_act)a, dx.h, dy.h, x.h, n);
    gpu->act_backward((enum dc_act)a, dx.d, dy.d, x.d, n);
    check("act_forward", names[a], &y, TOL_FP32), check("act_backward", names[a], &dx, TOL_FP32);
    buf_free(&x), buf_free(&y), buf_free(&dy), buf_free(&dx);
  }
}

static void test_attention(int B, int T, int C, int NH, int causal) {
  size_t nq = (size_t)B * T * 3 * C;
  struct buf qkv = buf_rand(nq, -2, 2), out = buf_zero((size_t)B * T * C), att = buf_zero((size_t)B * NH * T * T);
  struct buf dy = buf_rand((size_t)B * T * C, -1, 1), dq = buf_rand(nq, -1, 1); /* dqkv is assigned: poison it */
  cpu->attention_forward(out.h, att.h, qkv.h, B, T, C, NH, causal);
  gpu->attention_forward(out.d, att.d, qkv.d, B, T, C, NH, causal);
  cpu->attention_backward(dq.h, dy.h, qkv.h, att.h, B, T, C, NH);
  gpu->attention_backward(dq.d, dy.d, qkv.d, att.d, B, T, C, NH);
  char what[64];
  snprintf(what, sizeof what, "B%d T%d C%d NH%d%s", B, T, C, NH, causal ? " causal" : "");
  check("attention_forward out", what, &out, TOL_FP32), check("attention_forward att", what, &att, TOL_FP32);
  check("attention_backward dqkv", what, &dq, TOL_FP32);
  buf_free(&qkv), buf_free(&out), buf_free(&att), buf_free(&dy), buf_free(&dq);
}

/* ---- indexing: embedding, gathers, scatters, row copies ---- */

static void test_indexing(void) {
  const int V = 500, C = 128, N = 1155; /* 15 prompts of 77 tokens; ids repeat */
  int *ids = xmalloc(N * sizeof(int));
  for (int i = 0; i < N; i++) ids[i] = (int)dc_rng_below(3, 1, (uint64_t)i, 0, i % 3 ? 40 : V);
  struct ibuf id = ibuf_make(ids, N);
  struct buf table = buf_rand((size_t)V * C, -1, 1), e = buf_zero((size_t)N * C), de = buf_rand((size_t)N * C, -1, 1);
  struct buf dtable = buf_rand((size_t)V * C, -1, 1);
  cpu->embedding_forward(e.h, id.h, table.h, N, C);
  gpu->embedding_forward(e.d, id.d, table.d, N, C);
  cpu->embedding_backward(dtable.h, de.h, id.h, N, C);
  gpu->embedding_backward(dtable.d, de.d, id.d, N, C);
  check("embedding_forward", "out", &e, 0), check("embedding_backward", "dtable", &dtable, TOL_FP32);
  buf_free(&table), buf_free(&e), buf_free(&de), buf_free(&dtable), ibuf_free(&id), free(ids);

  /* masking: B items of L = 121 tokens, K = 30 kept, written into rows 1..K of K+1 */
  const int B = 64, L = 121, K = 30, D = 128;
  int *keep = xmalloc((size_t)B * K * sizeof(int));
  for (int b = 0; b < B; b++) { /* K distinct indices per item: a rotation of a stride */
    int start = (int)dc_rng_below(5, 2, (uint64_t)b, 0, L);
    for (int k = 0; k < K; k++) keep[b * K + k] = (start + 37 * k) % L;
  }
  struct ibuf ik = ibuf_make(keep, (size_t)B * K);
  struct buf x = buf_rand((size_t)B * L * D, -1, 1), g = buf_rand((size_t)B * (K + 1) * D, -1, 1);
  cpu->gather_rows(g.h + D, K + 1, x.h, L, ik.h, B, K, D);
  gpu->gather_rows(g.d + D, K + 1, x.d, L, ik.d, B, K, D);
  check("gather_rows", "out", &g, 0);
  struct buf dx = buf_rand(x.n, -1, 1);
  cpu->gather_rows_backward(dx.h, L, g.h + D, K + 1, ik.h, B, K, D);
  gpu->gather_rows_backward(dx.d, L, g.d + D, K + 1, ik.d, B, K, D);
  check("gather_rows_backward", "dinp", &dx, TOL_FP32);
  /* un-shuffle: L rows of fill, the kept ones scattered back (out rows L+1: a cls row) */
  struct buf fill = buf_rand(D, -1, 1), s = buf_rand((size_t)B * (L + 1) * D, -1, 1);
  cpu->scatter_rows_fill(s.h + D, L + 1, L, g.h + D, K + 1, fill.h, ik.h, B, K, D);
  gpu->scatter_rows_fill(s.d + D, L + 1, L, g.d + D, K + 1, fill.d, ik.d, B, K, D);
  check("scatter_rows_fill", "out", &s, 0);
  struct buf ds = buf_rand(s.n, -1, 1), dg = buf_rand(g.n, -1, 1), dfill = buf_rand(D, -1, 1);
  cpu->scatter_rows_fill_backward(dg.h + D, K + 1, dfill.h, ds.h + D, L + 1, L, ik.h, B, K, D);
  gpu->scatter_rows_fill_backward(dg.d + D, K + 1, dfill.d, ds.d + D, L + 1, L, ik.d, B, K, D);
  check("scatter_rows_fill_backward", "dinp", &dg, 0), check("scatter_rows_fill_backward", "dfill", &dfill, TOL_FP32);
  cpu->copy_rows(s.h, (L + 1) * D, x.h + 5, L * D, B, 300);
  gpu->copy_rows(s.d, (L + 1) * D, x.d + 5, L * D, B, 300);
  check("copy_rows", "out", &s, 0);
  buf_free(&x), buf_free(&g), buf_free(&dx), buf_free(&fill), buf_free(&s), buf_free(&ds), buf_free(&dg);
  buf_free(&dfill), ibuf_free(&ik), free(keep);
}

/* ---- elementwise, transpose, dot ---- */

static void test_elementwise(void) {
  const int B = 256;
  const size_t n = 122 * 128;
  struct buf y = buf_rand((size_t)B * n, -1, 1), x = buf_rand((size_t)B * n, -1, 1), row = buf_rand(n, -1, 1);
  cpu->add_inplace(y.h, x.h, y.n), gpu->add_inplace(y.d, x.d, y.n);
  check("add_inplace", "y", &y, 0);
  cpu->add_broadcast(y.h, row.h, B, n), gpu->add_broadcast(y.d, row.d, B, n);
  check("add_broadcast", "y", &y, 0);
  cpu->add_broadcast_backward(row.h, x.h, B, n), gpu->add_broadcast_backward(row.d, x.d, B, n);
  check("add_broadcast_backward", "drow", &row, TOL_FP32);
  cpu->scale_inplace(y.h, 0.37f, y.n), gpu->scale_inplace(y.d, 0.37f, y.n);
  check("scale_inplace", "y", &y, 0);
  double dc = cpu->dot(x.h, y.h, y.n), dg = gpu->dot(x.d, y.d, y.n);
  check_doubles("dot", "value", &dg, &dc, 1, 1e-12);
  static const int tr[][2] = {{1000, 77}, {33, 1}, {128, 15}};
  for (int i = 0; i < 3; i++) {
    int R = tr[i][0], C = tr[i][1];
    struct buf a = buf_rand((size_t)R * C, -1, 1), t = buf_zero((size_t)R * C);
    cpu->transpose(t.h, a.h, R, C), gpu->transpose(t.d, a.d, R, C);
    check("transpose", "out", &t, 0);
    buf_free(&a), buf_free(&t);
  }
  buf_free(&y), buf_free(&x), buf_free(&row);
}

/* ---- losses, timestep features, Adam, random numbers ---- */

static void test_losses(void) {
  const int N = 128 * 121, C = 145; /* masked MSE over a batch of pixels */
  struct buf pred = buf_rand((size_t)N * C, -1, 1), target = buf_rand((size_t)N * C, -1, 1), mask = buf_rand(N, 0, 1);
  for (int i = 0; i < N; i++) mask.h[i] = mask.h[i] < 0.75f ? 1.0f : 0.0f;
  gpu->upload(mask.d, mask.h, N * sizeof(float));
  struct buf loss = buf_zero(2), dpred = buf_rand(pred.n, -1, 1);
  cpu->masked_mse_forward(loss.h, loss.h + 1, pred.h, target.h, mask.h, N, C);
  gpu->masked_mse_forward(loss.d, loss.d + 1, pred.d, target.d, mask.d, N, C);
  cpu->masked_mse_backward(dpred.h, pred.h, target.h, mask.h, N, C, 1.0f, 0.1f);
  gpu->masked_mse_backward(dpred.d, pred.d, target.d, mask.d, N, C, 1.0f, 0.1f);
  check("masked_mse_forward", "losses", &loss, TOL_FP32), check("masked_mse_backward", "dpred", &dpred, TOL_FP32);
  buf_free(&pred), buf_free(&target), buf_free(&mask), buf_free(&loss), buf_free(&dpred);

  static const int ce[][2] = {{128, 128}, {128, 15}, {5, 1000}};
  for (int i = 0; i < 3; i++) {
    int Nc = ce[i][0], V = ce[i][1];
    int *t = xmalloc(Nc * sizeof(int));
    for (int r = 0; r < Nc; r++) t[r] = (r * 7) % V;
    struct ibuf ti = ibuf_make(t, Nc);
    struct buf logits = buf_rand((size_t)Nc * V, -30, 30), probs = buf_zero(logits.n), l = buf_zero(1);
    struct buf dl = buf_rand(logits.n, -1, 1);
    cpu->cross_entropy_forward(l.h, probs.h, logits.h, ti.h, Nc, V);
    gpu->cross_entropy_forward(l.d, probs.d, logits.d, ti.d, Nc, V);
    cpu->cross_entropy_backward(dl.h, probs.h, ti.h, Nc, V, 0.5f);
    gpu->cross_entropy_backward(dl.d, probs.d, ti.d, Nc, V, 0.5f);
    check("cross_entropy_forward", "loss", &l, TOL_FP32), check("cross_entropy_forward", "probs", &probs, TOL_FP32);
    check("cross_entropy_backward", "dlogits", &dl, TOL_FP32);
    buf_free(&logits), buf_free(&probs), buf_free(&l), buf_free(&dl), ibuf_free(&ti), free(t);
  }

  int steps[300];
  for (int b = 0; b < 300; b++) steps[b] = (b * 37) % 1000;
  struct ibuf ts = ibuf_make(steps, 300);
  struct buf emb = buf_zero(300 * 256);
  cpu->timestep_embedding(emb.h, ts.h, 300, 128, 10000.0f);
  gpu->timestep_embedding(emb.d, ts.d, 300, 128, 10000.0f);
  check("timestep_embedding", "out", &emb, TOL_FP32);
  buf_free(&emb), ibuf_free(&ts);

  for (int decoupled = 0; decoupled < 2; decoupled++) {
    const size_t n = 1234567;
    struct buf p = buf_rand(n, -1, 1), g = buf_rand(n, -1, 1), m = buf_rand(n, -0.1f, 0.1f), v = buf_rand(n, 0, 0.01f);
    for (int step = 1; step <= 3; step++) {
      cpu->adam_update(p.h, g.h, m.h, v.h, n, 1e-3, 0.9, 0.999, 1e-8, 0.05, step, decoupled);
      gpu->adam_update(p.d, g.d, m.d, v.d, n, 1e-3, 0.9, 0.999, 1e-8, 0.05, step, decoupled);
    }
    const char *op = decoupled ? "adam_update (AdamW)" : "adam_update (Adam)";
    check(op, "param", &p, TOL_FP32), check(op, "m", &m, TOL_FP32), check(op, "v", &v, TOL_FP32);
    buf_free(&p), buf_free(&g), buf_free(&m), buf_free(&v);
  }

  const size_t n = 1000003;
  struct buf u = buf_zero(n), z = buf_zero(n);
  dc_rng_fill_uniform(u.h, n, 42, 7, 13), gpu->rng_uniform(u.d, n, 42, 7, 13);
  dc_rng_fill_normal(z.h, n, 42, 8, 13), gpu->rng_normal(z.d, n, 42, 8, 13);
  check("rng_uniform", "bit for bit", &u, 0), check("rng_normal", "values", &z, 1e-6);
  buf_free(&u), buf_free(&z);
}

/* A CUDA graph: a LayerNorm, a linear layer (cuBLAS) and attention recorded once, then
 * replayed on new input values, must give what the CPU computes on those values. */
struct graph_case {
  const struct dc_backend *be;
  float *x, *ln, *mean, *rstd, *w, *b, *lw, *qkv, *out, *att;
  int B, T, C, NH;
};
static void graph_ops(void *p) {
  const struct graph_case *g = p;
  int N = g->B * g->T;
  g->be->layernorm_forward(g->ln, g->mean, g->rstd, g->x, g->w, g->b, N, g->C, 1e-5f);
  g->be->linear_forward(g->qkv, g->ln, g->lw, NULL, N, g->C, 3 * g->C);
  g->be->attention_forward(g->out, g->att, g->qkv, g->B, g->T, g->C, g->NH, 1);
}
static void test_graph(void) {
  const int B = 8, T = 122, C = 128, NH = 8, N = B * T;
  struct buf x = buf_rand((size_t)N * C, -1, 1), w = buf_rand(C, 0.5f, 1.5f), b = buf_rand(C, -1, 1);
  struct buf lw = buf_rand(3 * (size_t)C * C, -0.2f, 0.2f), ln = buf_zero((size_t)N * C), m = buf_zero(N), r = buf_zero(N);
  struct buf qkv = buf_zero(3 * (size_t)N * C), out = buf_zero((size_t)N * C), att = buf_zero((size_t)B * NH * T * T);
  struct graph_case hc = {cpu, x.h, ln.h, m.h, r.h, w.h, b.h, lw.h, qkv.h, out.h, att.h, B, T, C, NH};
  struct graph_case dc = {gpu, x.d, ln.d, m.d, r.d, w.d, b.d, lw.d, qkv.d, out.d, att.d, B, T, C, NH};
  void *graph = NULL;
  graph_ops(&dc); /* a plain run first: scratch and kernel attributes are set up */
  enum dc_status st = gpu->graph_run(graph_ops, &dc, &graph);
  for (int round = 0; st == DC_OK && round < 2; round++) {
    for (size_t i = 0; i < x.n; i++) x.h[i] = x.h[i] * -0.5f + 0.25f; /* new values, same buffer */
    gpu->upload(x.d, x.h, x.n * sizeof(float));
    st = gpu->graph_run(graph_ops, &dc, &graph);
  }
  report("graph_run", "capture and replay", st == DC_OK ? 0.0 : 1.0, 0.0);
  graph_ops(&hc);
  check("graph_run", "attention out", &out, TOL_FP32), check("graph_run", "att", &att, TOL_FP32);
  gpu->graph_free(graph);
  buf_free(&x), buf_free(&w), buf_free(&b), buf_free(&lw), buf_free(&ln), buf_free(&m), buf_free(&r);
  buf_free(&qkv), buf_free(&out), buf_free(&att);
}

/* A broken precondition is reported through error() and cleared by it. */
static void test_errors(void) {
  struct buf q = buf_zero(3 * 10), o = buf_zero(10), a = buf_zero(4);
  gpu->attention_forward(o.d, a.d, q.d, 1, 2, 5, 2, 0); /* C = 5 is not a multiple of NH = 2 */
  enum dc_status first = gpu->error(), second = gpu->error();
  report("error()", "bad shape seen", first == DC_ERR_ARG ? 0.0 : 1.0, 0.0);
  report("error()", "then cleared", second == DC_OK ? 0.0 : 1.0, 0.0);
  buf_free(&q), buf_free(&o), buf_free(&a);
}

int main(void) {
  if (!dc_backend_cuda_available()) {
    printf("skipped: no CUDA device\n");
    return 0;
  }
  const struct dc_backend *tf32;
  cpu = dc_backend_cpu();
  if (dc_backend_cuda(1, &gpu) != DC_OK || dc_backend_cuda(0, &tf32) != DC_OK) return 1;
  printf("CUDA ops against the CPU reference (float32-exact GEMMs unless marked tf32)\n");
  test_gemm(gpu, TOL_FP32, "gemm (fp32)");
  test_gemm(tf32, TOL_TF32, "gemm (tf32)");
  test_layernorm(15488, 128), test_layernorm(7, 1000);
  test_batchnorm(15488, 128), test_batchnorm(33, 5);
  test_l2norm(128, 128), test_l2norm(3, 1000);
  test_activations(1000003);
  test_attention(16, 122, 128, 8, 0), test_attention(15, 77, 128, 8, 1), test_attention(3, 5, 12, 3, 0);
  test_attention(2, 128, 256, 4, 1);  /* 64-wide heads: more than 48 KiB of shared memory */
  test_attention(1, 1100, 64, 2, 0); /* too long for shared memory: the global-memory kernels */
  test_indexing();
  test_elementwise();
  test_losses();
  test_graph();
  check_error_clear("(all ops)");
  test_errors();
  printf("cuda ops: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
