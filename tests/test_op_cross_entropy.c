/* Softmax cross-entropy: loss against a direct double computation, probabilities summing to
 * 1, finite-difference gradient in double (dlogits assigned, scaled by dloss), stability on
 * huge logits, and float-vs-double agreement. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    gc_failures++;
  }
}

struct ctx {
  double *logits, *probs, dloss;
  int *targets, N, V;
};
static double loss(void *p) {
  struct ctx *c = p;
  double l;
  dc_cpu_f64_cross_entropy_forward(&l, c->probs, c->logits, c->targets, c->N, c->V);
  return c->dloss * l;
}

static void run(int N, int V, double spread) {
  printf("cross_entropy N=%d V=%d spread=%g\n", N, V, spread);
  size_t n = (size_t)N * V;
  struct ctx c = {gc_random(n, -spread, spread), gc_alloc(n), 0.7, malloc((size_t)N * sizeof(int)), N, V};
  for (int i = 0; i < N; i++) c.targets[i] = gc_int(0, V - 1);

  double want = 0;
  for (int i = 0; i < N; i++) {
    const double *x = c.logits + (size_t)i * V;
    double s = 0;
    for (int v = 0; v < V; v++) s += exp(x[v]);
    want += log(s) - x[c.targets[i]];
  }
  want /= N;
  double l;
  dc_cpu_f64_cross_entropy_forward(&l, c.probs, c.logits, c.targets, N, V);
  expect(fabs(l - want) <= 1e-12 * (1 + fabs(want)), "loss vs direct");
  int ok = 1;
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int v = 0; v < V; v++) s += c.probs[(size_t)i * V + v];
    ok &= fabs(s - 1) < 1e-12;
  }
  expect(ok, "probabilities sum to 1");

  double *d = gc_random(n, 50, 60); /* garbage: assigned */
  dc_cpu_f64_cross_entropy_backward(d, c.probs, c.targets, N, V, c.dloss);
  gc_check("dlogits", c.logits, d, n, loss, &c, 1e-5, 1e-7, 500);

  float *lf = gc_to_float(c.logits, n), *pf = calloc(n, sizeof *pf), *df = calloc(n, sizeof *df), lossf;
  dc_cpu_f32_cross_entropy_forward(&lossf, pf, lf, c.targets, N, V);
  dc_cpu_f32_cross_entropy_backward(df, pf, c.targets, N, V, 0.7f);
  dc_cpu_f64_cross_entropy_forward(&l, c.probs, c.logits, c.targets, N, V);
  dc_cpu_f64_cross_entropy_backward(d, c.probs, c.targets, N, V, (double)0.7f);
  gc_compare_f32("loss", &lossf, &l, 1, 1e-6);
  gc_compare_f32("probs", pf, c.probs, n, 1e-6);
  gc_compare_f32("dlogits", df, d, n, 1e-6);

  free(c.logits); free(c.probs); free(c.targets); free(d); free(lf); free(pf); free(df);
}

/* Logits of +-1000 overflow a naive exp; a confident wrong row has loss ~2000 in float. */
static void huge(void) {
  printf("cross_entropy huge logits\n");
  float x[6] = {1000, -1000, 0, -1000, 1000, 999}, p[6], dl[6], l;
  int t[2] = {1, 2};
  dc_cpu_f32_cross_entropy_forward(&l, p, x, t, 2, 3);
  /* row 0: 2000; row 1: log(1 + e^-1 + e^-2000) + 1 */
  double want = (2000.0 + log1p(exp(-1.0)) + 1.0) / 2;
  expect(isfinite(l) && fabs(l - want) < 1e-3, "huge logits: finite, right loss");
  dc_cpu_f32_cross_entropy_backward(dl, p, t, 2, 3, 1.0f);
  int ok = 1;
  for (int i = 0; i < 6; i++) ok &= isfinite(dl[i]);
  expect(ok && fabs(dl[1] + 0.5f) < 1e-6f, "huge logits: finite gradient");
}

int main(void) {
  gc_seed(17);
  run(1, 1, 1);
  run(3, 2, 2);
  run(6, 6, 3); /* CLIP logits: batch x batch */
  run(gc_int(5, 40), gc_int(2, 50), 4);
  run(300, 7, 10);
  huge();
  return gc_finish("test_op_cross_entropy");
}
