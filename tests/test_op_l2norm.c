/* Row L2 normalisation: unit norms and the saved norm, finite-difference gradient in double
 * (dinp assigned), no epsilon (a tiny row still normalises exactly), float-vs-double. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    gc_failures++;
  }
}

struct ctx {
  double *inp, *out, *norm, *r;
  int N, C;
};
static double loss(void *p) {
  struct ctx *c = p;
  dc_cpu_f64_l2norm_forward(c->out, c->norm, c->inp, c->N, c->C);
  return gc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

static void run(int N, int C) {
  printf("l2norm N=%d C=%d\n", N, C);
  size_t n = (size_t)N * C;
  struct ctx c = {gc_random(n, -2, 2), gc_alloc(n), gc_alloc(N), gc_random(n, -1, 1), N, C};
  loss(&c);
  int ok = 1;
  for (int i = 0; i < N; i++) {
    double s = 0, s0 = 0;
    for (int k = 0; k < C; k++) {
      s += c.out[(size_t)i * C + k] * c.out[(size_t)i * C + k];
      s0 += c.inp[(size_t)i * C + k] * c.inp[(size_t)i * C + k];
    }
    ok &= fabs(s - 1) < 1e-12 && fabs(c.norm[i] - sqrt(s0)) < 1e-12 * (1 + sqrt(s0));
  }
  expect(ok, "unit rows, saved norm");

  double *d = gc_random(n, 10, 20);
  dc_cpu_f64_l2norm_backward(d, c.r, c.out, c.norm, N, C);
  gc_check("dinp", c.inp, d, n, loss, &c, 1e-6, 1e-7, 500);

  float *inf = gc_to_float(c.inp, n), *of = calloc(n, sizeof *of), *nf = calloc(N, sizeof *nf),
        *rf = gc_to_float(c.r, n), *df = calloc(n, sizeof *df);
  dc_cpu_f32_l2norm_forward(of, nf, inf, N, C);
  dc_cpu_f32_l2norm_backward(df, rf, of, nf, N, C);
  loss(&c);
  dc_cpu_f64_l2norm_backward(d, c.r, c.out, c.norm, N, C);
  gc_compare_f32("out", of, c.out, n, 1e-6);
  gc_compare_f32("norm", nf, c.norm, N, 1e-6);
  gc_compare_f32("dinp", df, d, n, 1e-5);

  free(c.inp); free(c.out); free(c.norm); free(c.r); free(d); free(inf); free(of); free(nf);
  free(rf); free(df);
}

static void tiny_row(void) {
  printf("l2norm tiny row\n");
  float x[2] = {3e-30f, 4e-30f}, o[2], nr;
  dc_cpu_f32_l2norm_forward(o, &nr, x, 1, 2);
  expect(fabsf(o[0] - 0.6f) < 1e-6f && fabsf(o[1] - 0.8f) < 1e-6f, "tiny row normalises (no eps, no underflow)");
}

int main(void) {
  gc_seed(29);
  run(1, 1);
  run(4, 3);
  run(6, 16);
  run(gc_int(3, 50), gc_int(1, 65));
  run(513, 33);
  tiny_row();
  return gc_finish("test_op_l2norm");
}
