/* gemm (all four transpose combinations, padded leading dimensions, alpha and beta)
 * against a naive triple loop in double, and linear forward/backward: forward against a
 * naive product, backward against central differences, float kernels against double.
 * Checks that dinp is assigned and dweight/dbias accumulate. Then again with the CPU GEMMs
 * in bf16 (run.precision), where the CPU has bf16 instructions: the gemm op (logits) stays
 * fp32 to 1e-5; the linear layers' float results are within 1e-2 of double and differ from
 * it by more than fp32 would (so bf16 was in effect). */
#include "diffclip/backend/backend.h"
#include "gradcheck.h"

/* The float linear kernels' tolerance against double: 1e-5 in fp32, 1e-2 in bf16 (whose
 * operands keep 8 significant bits; sums of ~50 products of [-1, 1] values). */
static double g_float_tol = 1e-5;
static int g_bf16 = 0;

/* ---- gemm ---------------------------------------------------------------------------- */

/* C (M,N) = alpha op(A) op(B) + beta C, element by element. */
static void naive_gemm(int ta, int tb, int M, int N, int K, double alpha, const double *A, int lda,
                       const double *B, int ldb, double beta, double *C, int ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) {
        double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        s += a * b;
      }
      C[(size_t)i * ldc + j] = alpha * s + beta * C[(size_t)i * ldc + j];
    }
}

static void check_gemm(int ta, int tb, int M, int N, int K) {
  /* stored shapes: A is (M,K) or (K,M) when transposed, B (K,N) or (N,K); pad each row */
  int arows = ta ? K : M, acols = ta ? M : K;
  int brows = tb ? N : K, bcols = tb ? K : N;
  int lda = acols + gc_int(0, 3), ldb = bcols + gc_int(0, 3), ldc = N + gc_int(0, 3);
  double alpha = gc_uniform(0.5, 1.5), beta = gc_uniform(-1, 1);
  double *A = gc_random((size_t)arows * lda, -1, 1), *B = gc_random((size_t)brows * ldb, -1, 1);
  double *C0 = gc_random((size_t)M * ldc, -1, 1);
  double *ref = gc_alloc((size_t)M * ldc), *got = gc_alloc((size_t)M * ldc);
  memcpy(ref, C0, (size_t)M * ldc * sizeof *ref);
  memcpy(got, C0, (size_t)M * ldc * sizeof *got);
  naive_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, ref, ldc);
  dc_cpu_f64_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, got, ldc);
  char what[64];
  snprintf(what, sizeof what, "gemm%c%c %dx%dx%d f64", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
  /* gc_compare_f32 wants float; compare the double result directly */
  double worst = 0;
  for (size_t i = 0; i < (size_t)M * ldc; i++) worst = fmax(worst, fabs(got[i] - ref[i]));
  if (!(worst <= 1e-12)) {
    fprintf(stderr, "FAIL %s: max_err %.3g\n", what, worst);
    gc_failures++;
  } else {
    printf("  ref  %-28s max_err=%.2e\n", what, worst);
  }
  float *Af = gc_to_float(A, (size_t)arows * lda), *Bf = gc_to_float(B, (size_t)brows * ldb);
  float *Cf = gc_to_float(C0, (size_t)M * ldc);
  dc_cpu_f32_gemm(ta, tb, M, N, K, (float)alpha, Af, lda, Bf, ldb, (float)beta, Cf, ldc);
  snprintf(what, sizeof what, "gemm%c%c %dx%dx%d", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
  gc_compare_f32(what, Cf, ref, (size_t)M * ldc, 1e-5);
  free(A), free(B), free(C0), free(ref), free(got), free(Af), free(Bf), free(Cf);
}

/* ---- linear -------------------------------------------------------------------------- */

struct lin_ctx {
  double *out, *inp, *weight, *bias, *r; /* (N,OC) (N,IC) (OC,IC) (OC) (N,OC) */
  int N, IC, OC, use_bias;
};

static double lin_loss(void *p) {
  struct lin_ctx *c = p;
  dc_cpu_f64_linear_forward(c->out, c->inp, c->weight, c->use_bias ? c->bias : NULL, c->N, c->IC,
                            c->OC);
  return gc_weighted_sum(c->out, c->r, (size_t)c->N * c->OC);
}

static void check_linear(int N, int IC, int OC, int use_bias) {
  printf("linear N=%d IC=%d OC=%d bias=%d\n", N, IC, OC, use_bias);
  size_t ni = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
  struct lin_ctx c = {gc_alloc(no), gc_random(ni, -1, 1), gc_random(nw, -1, 1),
                      gc_random(OC, -1, 1), gc_random(no, -1, 1), N, IC, OC, use_bias};

  /* forward against the definition */
  double *ref = gc_alloc(no);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      double s = use_bias ? c.bias[o] : 0;
      for (int i = 0; i < IC; i++) s += c.inp[(size_t)n * IC + i] * c.weight[(size_t)o * IC + i];
      ref[(size_t)n * OC + o] = s;
    }
  lin_loss(&c);
  double worst = 0;
  for (size_t i = 0; i < no; i++) worst = fmax(worst, fabs(c.out[i] - ref[i]));
  if (!(worst <= 1e-12)) {
    fprintf(stderr, "FAIL linear forward: max_err %.3g\n", worst);
    gc_failures++;
  }

  /* backward: dinp pre-filled with garbage (must be overwritten), dweight and dbias with
   * known values (must be added to) */
  const double fill_w = 0.375, fill_b = -1.25;
  double *dinp = gc_alloc(ni), *dw = gc_alloc(nw), *db = gc_alloc(OC);
  for (size_t i = 0; i < ni; i++) dinp[i] = 1e6;
  for (size_t i = 0; i < nw; i++) dw[i] = fill_w;
  for (int i = 0; i < OC; i++) db[i] = fill_b;
  dc_cpu_f64_linear_backward(dinp, dw, use_bias ? db : NULL, c.r, c.inp, c.weight, N, IC, OC);
  double *gw = gc_alloc(nw), *gb = gc_alloc(OC);
  for (size_t i = 0; i < nw; i++) gw[i] = dw[i] - fill_w;
  for (int i = 0; i < OC; i++) gb[i] = db[i] - fill_b;
  gc_check("linear dinp", c.inp, dinp, ni, lin_loss, &c, 1e-5, 1e-6, 400);
  gc_check("linear dweight (accumulated)", c.weight, gw, nw, lin_loss, &c, 1e-5, 1e-6, 400);
  if (use_bias) gc_check("linear dbias (accumulated)", c.bias, gb, OC, lin_loss, &c, 1e-5, 1e-6, 400);
  else
    for (int i = 0; i < OC; i++)
      if (db[i] != fill_b) {
        fprintf(stderr, "FAIL linear: NULL dbias was written\n");
        gc_failures++;
        break;
      }

  /* NULL dinp skips the data gradient but still gives the same dweight */
  double *dw2 = gc_alloc(nw);
  dc_cpu_f64_linear_backward(NULL, dw2, NULL, c.r, c.inp, c.weight, N, IC, OC);
  worst = 0;
  for (size_t i = 0; i < nw; i++) worst = fmax(worst, fabs(dw2[i] - gw[i]));
  if (!(worst <= 1e-12)) {
    fprintf(stderr, "FAIL linear: dweight with NULL dinp differs by %.3g\n", worst);
    gc_failures++;
  }

  /* float kernels on the same data */
  lin_loss(&c);
  float *inp_f = gc_to_float(c.inp, ni), *w_f = gc_to_float(c.weight, nw);
  float *b_f = gc_to_float(c.bias, OC), *r_f = gc_to_float(c.r, no);
  float *out_f = calloc(no ? no : 1, sizeof *out_f), *dinp_f = calloc(ni ? ni : 1, sizeof *dinp_f);
  float *dw_f = calloc(nw, sizeof *dw_f), *db_f = calloc(OC, sizeof *db_f);
  for (size_t i = 0; i < ni; i++) dinp_f[i] = 1e6f;
  for (size_t i = 0; i < nw; i++) dw_f[i] = (float)fill_w;
  for (int i = 0; i < OC; i++) db_f[i] = (float)fill_b;
  dc_cpu_f32_linear_forward(out_f, inp_f, w_f, use_bias ? b_f : NULL, N, IC, OC);
  dc_cpu_f32_linear_backward(dinp_f, dw_f, use_bias ? db_f : NULL, r_f, inp_f, w_f, N, IC, OC);
  double e_out = gc_compare_f32("linear out", out_f, c.out, no, g_float_tol);
  double e_dinp = gc_compare_f32("linear dinp", dinp_f, dinp, ni, g_float_tol);
  double e_dw = gc_compare_f32("linear dweight", dw_f, dw, nw, g_float_tol);
  gc_compare_f32("linear dbias", db_f, db, OC, 1e-5); /* a column sum, never a GEMM */
  if (g_bf16 && IC >= 8 && !(e_out > 1e-5 && e_dinp > 1e-5 && e_dw > 1e-5)) {
    fprintf(stderr, "FAIL linear bf16: errors %.2g %.2g %.2g, as small as fp32's: bf16 not in effect\n", e_out, e_dinp,
            e_dw);
    gc_failures++;
  }

  free(c.out), free(c.inp), free(c.weight), free(c.bias), free(c.r), free(ref);
  free(dinp), free(dw), free(db), free(gw), free(gb), free(dw2);
  free(inp_f), free(w_f), free(b_f), free(r_f), free(out_f), free(dinp_f), free(dw_f), free(db_f);
}

/* ---- the fused forms (ops.h) against the ops one by one in double ---------------------- */

static void check_fused(int N, int IC, int OC) {
  printf("fused linear N=%d IC=%d OC=%d\n", N, IC, OC);
  size_t ni = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
  double *inp = gc_random(ni, -1.5, 1.5), *w = gc_random(nw, -0.5, 0.5), *b = gc_random(OC, -1, 1);
  double *res = gc_random(no, -1, 1), *gate = gc_random(ni, -1, 1), *dout = gc_random(no, -1, 1);
  double *ref = gc_alloc(no), *got = gc_alloc(no);
  float *inp_f = gc_to_float(inp, ni), *w_f = gc_to_float(w, nw), *b_f = gc_to_float(b, OC);
  float *res_f = gc_to_float(res, no), *gate_f = gc_to_float(gate, ni), *dout_f = gc_to_float(dout, no);
  float *out_f = calloc(no, sizeof *out_f);
  char what[64];

  /* out = inp . w^T + b + res */
  dc_cpu_f64_linear_forward(ref, inp, w, b, N, IC, OC);
  dc_cpu_f64_add_inplace(ref, res, no);
  dc_cpu_f64_linear_forward_residual(got, inp, w, b, res, N, IC, OC);
  if (memcmp(ref, got, no * sizeof *ref) != 0) {
    fprintf(stderr, "FAIL linear_forward_residual f64 differs from linear_forward + add_inplace\n");
    gc_failures++;
  }
  dc_cpu_f32_linear_forward_residual(out_f, inp_f, w_f, b_f, res_f, N, IC, OC);
  gc_compare_f32("linear + residual", out_f, ref, no, 1e-5);

  /* out = act(inp . w^T + b), each activation */
  static const struct {
    enum dc_act act;
    const char *name;
  } kinds[] = {{DC_ACT_GELU, "gelu"}, {DC_ACT_QUICKGELU, "quickgelu"}, {DC_ACT_SILU, "silu"}, {DC_ACT_RELU, "relu"}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    dc_cpu_f64_linear_forward(ref, inp, w, b, N, IC, OC);
    dc_cpu_f64_act_forward(kinds[k].act, ref, ref, no);
    dc_cpu_f64_linear_forward_act(kinds[k].act, got, inp, w, b, N, IC, OC);
    if (memcmp(ref, got, no * sizeof *ref) != 0) {
      fprintf(stderr, "FAIL linear_forward_act f64 (%s) differs from linear_forward + act_forward\n", kinds[k].name);
      gc_failures++;
    }
    dc_cpu_f32_linear_forward_act(kinds[k].act, out_f, inp_f, w_f, b_f, N, IC, OC);
    snprintf(what, sizeof what, "linear + %s", kinds[k].name);
    gc_compare_f32(what, out_f, ref, no, 1e-5);
  }

  /* dinp = (dout . w) * gate; dweight and dbias as linear_backward's */
  double *dinp = gc_alloc(ni), *dw = gc_alloc(nw), *db = gc_alloc(OC);
  double *dinp2 = gc_alloc(ni), *dw2 = gc_alloc(nw), *db2 = gc_alloc(OC);
  dc_cpu_f64_linear_backward(dinp, dw, db, dout, inp, w, N, IC, OC);
  for (size_t i = 0; i < ni; i++) dinp[i] *= gate[i];
  for (size_t i = 0; i < ni; i++) dinp2[i] = 1e6;
  dc_cpu_f64_linear_backward_gated(dinp2, dw2, db2, dout, inp, w, gate, N, IC, OC);
  if (memcmp(dinp, dinp2, ni * sizeof *dinp) || memcmp(dw, dw2, nw * sizeof *dw) || memcmp(db, db2, OC * sizeof *db)) {
    fprintf(stderr, "FAIL linear_backward_gated f64 differs from linear_backward and a product\n");
    gc_failures++;
  }
  float *dinp_f = calloc(ni, sizeof *dinp_f), *dw_f = calloc(nw, sizeof *dw_f), *db_f = calloc(OC, sizeof *db_f);
  for (size_t i = 0; i < ni; i++) dinp_f[i] = 1e6f;
  dc_cpu_f32_linear_backward_gated(dinp_f, dw_f, db_f, dout_f, inp_f, w_f, gate_f, N, IC, OC);
  gc_compare_f32("linear gated dinp", dinp_f, dinp, ni, 1e-5);
  gc_compare_f32("linear gated dweight", dw_f, dw, nw, 1e-5);
  gc_compare_f32("linear gated dbias", db_f, db, OC, 1e-5);

  free(inp), free(w), free(b), free(res), free(gate), free(dout), free(ref), free(got);
  free(inp_f), free(w_f), free(b_f), free(res_f), free(gate_f), free(dout_f), free(out_f);
  free(dinp), free(dw), free(db), free(dinp2), free(dw2), free(db2), free(dinp_f), free(dw_f), free(db_f);
}

int main(void) {
  gc_seed(20240611);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      check_gemm(ta, tb, gc_int(1, 9), gc_int(1, 11), gc_int(1, 13));
      check_gemm(ta, tb, gc_int(30, 70), gc_int(30, 70), gc_int(30, 70));
    }
  check_linear(1, 1, 1, 1);
  check_linear(gc_int(2, 9), gc_int(1, 13), gc_int(1, 11), 1);
  check_linear(gc_int(2, 9), gc_int(1, 13), gc_int(1, 11), 0);
  check_linear(gc_int(60, 90), gc_int(20, 40), gc_int(33, 70), 1); /* several dbias blocks */
  check_fused(gc_int(2, 9), gc_int(1, 13), gc_int(1, 11));
  check_fused(gc_int(200, 300), gc_int(100, 140), gc_int(60, 130)); /* the model's kind of shape */
  if (dc_backend_set_precision(DC_PRECISION_BF16) == DC_PRECISION_BF16) {
    printf("bf16 GEMMs\n");
    g_bf16 = 1;
    g_float_tol = 1e-2;
    check_gemm(0, 1, gc_int(30, 70), gc_int(30, 70), gc_int(30, 70)); /* the gemm op: fp32 still */
    check_gemm(1, 0, gc_int(30, 70), gc_int(30, 70), gc_int(30, 70));
    check_linear(gc_int(60, 90), gc_int(20, 40), gc_int(33, 70), 1);
    check_linear(gc_int(60, 90), gc_int(20, 40), gc_int(33, 70), 0);
    dc_backend_set_precision(DC_PRECISION_FP32);
  } else {
    printf("bf16 GEMMs: skipped, this CPU has no bf16 instructions\n");
  }
  return gc_finish("test_op_linear");
}
