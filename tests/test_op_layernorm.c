/* layernorm forward against a direct double computation (output, saved mean and rstd),
 * backward against central differences, float kernels against double, dinp assigned and
 * dweight/dbias accumulated, and the backward bit-identical from run to run. */
#include "gradcheck.h"

struct ln_ctx {
  double *out, *mean, *rstd;         /* (N,C) (N) (N) */
  double *inp, *weight, *bias, *r;   /* (N,C) (C) (C) (N,C) */
  int N, C;
  double eps;
};

static double ln_loss(void *p) {
  struct ln_ctx *c = p;
  dc_cpu_f64_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->weight, c->bias, c->N, c->C,
                               c->eps);
  return gc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

static void fail_if(int bad, const char *what, double err) {
  if (bad) {
    fprintf(stderr, "FAIL %s (err %.3g)\n", what, err);
    gc_failures++;
  }
}

/* offset shifts every row, to exercise the statistics on rows whose mean dwarfs their
 * spread */
static void check_layernorm(int N, int C, double offset) {
  printf("layernorm N=%d C=%d offset=%g\n", N, C, offset);
  size_t nx = (size_t)N * C;
  struct ln_ctx c = {gc_alloc(nx),          gc_alloc(N),           gc_alloc(N),
                     gc_random(nx, -1, 1),  gc_random(C, 0.5, 1.5), gc_random(C, -1, 1),
                     gc_random(nx, -1, 1),  N,                      C,
                     1e-5};
  for (size_t i = 0; i < nx; i++) c.inp[i] += offset;

  /* forward against the definition (biased variance) */
  ln_loss(&c);
  double worst = 0;
  for (int n = 0; n < N; n++) {
    const double *x = c.inp + (size_t)n * C;
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    v /= C;
    double s = 1 / sqrt(v + c.eps);
    worst = fmax(worst, fabs(c.mean[n] - m) / fmax(1, fabs(m)));
    worst = fmax(worst, fabs(c.rstd[n] - s) / fmax(1, s));
    for (int i = 0; i < C; i++)
      worst = fmax(worst, fabs(c.out[(size_t)n * C + i] - ((x[i] - m) * s * c.weight[i] + c.bias[i])));
  }
  fail_if(!(worst <= 1e-12), "layernorm forward vs definition", worst);

  /* backward: dinp pre-filled with garbage, dweight/dbias with known values */
  const double fill_w = 0.5, fill_b = -2;
  double *dinp = gc_alloc(nx), *dw = gc_alloc(C), *db = gc_alloc(C);
  for (size_t i = 0; i < nx; i++) dinp[i] = -1e6;
  for (int i = 0; i < C; i++) dw[i] = fill_w, db[i] = fill_b;
  dc_cpu_f64_layernorm_backward(dinp, dw, db, c.r, c.inp, c.weight, c.mean, c.rstd, N, C);
  double *gw = gc_alloc(C), *gb = gc_alloc(C);
  for (int i = 0; i < C; i++) gw[i] = dw[i] - fill_w, gb[i] = db[i] - fill_b;
  gc_check("layernorm dinp", c.inp, dinp, nx, ln_loss, &c, 1e-5, 1e-6, 500);
  gc_check("layernorm dweight (accumulated)", c.weight, gw, C, ln_loss, &c, 1e-5, 1e-6, 500);
  gc_check("layernorm dbias (accumulated)", c.bias, gb, C, ln_loss, &c, 1e-5, 1e-6, 500);
  ln_loss(&c); /* restore mean/rstd of the unperturbed input */

  /* NULL gradients are skipped; repeated calls are bit-identical */
  double *dinp2 = gc_alloc(nx), *dw2 = gc_alloc(C), *db2 = gc_alloc(C);
  for (int i = 0; i < C; i++) dw2[i] = fill_w, db2[i] = fill_b;
  dc_cpu_f64_layernorm_backward(NULL, dw2, db2, c.r, c.inp, c.weight, c.mean, c.rstd, N, C);
  dc_cpu_f64_layernorm_backward(dinp2, NULL, NULL, c.r, c.inp, c.weight, c.mean, c.rstd, N, C);
  fail_if(memcmp(dinp2, dinp, nx * sizeof *dinp) != 0, "layernorm dinp not reproducible", 0);
  fail_if(memcmp(dw2, dw, C * sizeof *dw) != 0, "layernorm dweight not reproducible", 0);
  fail_if(memcmp(db2, db, C * sizeof *db) != 0, "layernorm dbias not reproducible", 0);

  /* float kernels on the same data */
  float *inp_f = gc_to_float(c.inp, nx), *w_f = gc_to_float(c.weight, C);
  float *b_f = gc_to_float(c.bias, C), *r_f = gc_to_float(c.r, nx);
  float *out_f = calloc(nx, sizeof *out_f), *mean_f = calloc(N, sizeof *mean_f);
  float *rstd_f = calloc(N, sizeof *rstd_f), *dinp_f = calloc(nx, sizeof *dinp_f);
  float *dw_f = calloc(C, sizeof *dw_f), *db_f = calloc(C, sizeof *db_f);
  for (size_t i = 0; i < nx; i++) dinp_f[i] = -1e6f;
  for (int i = 0; i < C; i++) dw_f[i] = (float)fill_w, db_f[i] = (float)fill_b;
  dc_cpu_f32_layernorm_forward(out_f, mean_f, rstd_f, inp_f, w_f, b_f, N, C, 1e-5f);
  dc_cpu_f32_layernorm_backward(dinp_f, dw_f, db_f, r_f, inp_f, w_f, mean_f, rstd_f, N, C);
  /* the float input itself carries offset * 2^-24 of rounding, amplified by rstd */
  double tol = 1e-5 * fmax(1, fabs(offset));
  gc_compare_f32("layernorm out", out_f, c.out, nx, tol);
  gc_compare_f32("layernorm mean", mean_f, c.mean, N, 1e-6);
  gc_compare_f32("layernorm rstd", rstd_f, c.rstd, N, tol);
  gc_compare_f32("layernorm dinp", dinp_f, dinp, nx, tol);
  gc_compare_f32("layernorm dweight", dw_f, dw, C, tol);
  gc_compare_f32("layernorm dbias", db_f, db, C, 1e-5);

  free(c.out), free(c.mean), free(c.rstd), free(c.inp), free(c.weight), free(c.bias), free(c.r);
  free(dinp), free(dw), free(db), free(gw), free(gb), free(dinp2), free(dw2), free(db2);
  free(inp_f), free(w_f), free(b_f), free(r_f), free(out_f), free(mean_f), free(rstd_f);
  free(dinp_f), free(dw_f), free(db_f);
}

int main(void) {
  gc_seed(7001);
  check_layernorm(1, 1, 0);
  check_layernorm(gc_int(2, 9), gc_int(2, 13), 0);
  check_layernorm(gc_int(2, 9), gc_int(2, 13), 0);
  check_layernorm(gc_int(10, 40), gc_int(30, 70), 3);
  check_layernorm(gc_int(100, 300), gc_int(60, 130), 0); /* more rows than threads' share */
  return gc_finish("test_op_layernorm");
}
