/* batchnorm in training and eval mode: forward against a direct double computation,
 * running statistics against the momentum formula (unbiased variance), both backwards
 * against central differences, float kernels against double, dinp assigned and
 * dweight/dbias accumulated. */
#include "gradcheck.h"

struct bn_ctx {
  double *out, *mean, *rstd;                /* (N,C) (C) (C) */
  double *inp, *weight, *bias, *r;          /* (N,C) (C) (C) (N,C) */
  double *running_mean, *running_var;       /* (C) (C): fixed statistics of eval mode */
  int N, C, train;
  double eps;
};

static double bn_loss(void *p) {
  struct bn_ctx *c = p;
  if (c->train) /* NULL running statistics: the loss must not change them */
    dc_cpu_f64_batchnorm_forward_train(c->out, c->mean, c->rstd, NULL, NULL, c->inp, c->weight,
                                       c->bias, c->N, c->C, c->eps, 0.1);
  else
    dc_cpu_f64_batchnorm_forward_eval(c->out, c->inp, c->weight, c->bias, c->running_mean,
                                      c->running_var, c->N, c->C, c->eps);
  return gc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

static void fail_if(int bad, const char *what, double err) {
  if (bad) {
    fprintf(stderr, "FAIL %s (err %.3g)\n", what, err);
    gc_failures++;
  }
}

static void check_batchnorm(int N, int C, int train) {
  printf("batchnorm %s N=%d C=%d\n", train ? "train" : "eval", N, C);
  size_t nx = (size_t)N * C;
  const double eps = 1e-5, momentum = 0.1;
  struct bn_ctx c = {gc_alloc(nx),          gc_alloc(C),           gc_alloc(C),
                     gc_random(nx, -1, 1),  gc_random(C, 0.5, 1.5), gc_random(C, -1, 1),
                     gc_random(nx, -1, 1),  gc_random(C, -0.5, 0.5), gc_random(C, 0.5, 2),
                     N,                     C,                     train,
                     eps};
  /* give every channel its own offset and scale, as real feature maps have */
  for (int i = 0; i < C; i++) {
    double shift = gc_uniform(-2, 2), scale = gc_uniform(0.5, 3);
    for (int n = 0; n < N; n++) c.inp[(size_t)n * C + i] = c.inp[(size_t)n * C + i] * scale + shift;
  }

  /* forward against the definition; running statistics against the momentum update */
  double *rm = gc_alloc(C), *rv = gc_alloc(C);
  memcpy(rm, c.running_mean, C * sizeof *rm);
  memcpy(rv, c.running_var, C * sizeof *rv);
  if (train)
    dc_cpu_f64_batchnorm_forward_train(c.out, c.mean, c.rstd, rm, rv, c.inp, c.weight, c.bias, N,
                                       C, eps, momentum);
  else
    bn_loss(&c);
  double worst = 0, worst_run = 0;
  for (int i = 0; i < C; i++) {
    double m = 0, v = 0;
    for (int n = 0; n < N; n++) m += c.inp[(size_t)n * C + i];
    m /= N;
    for (int n = 0; n < N; n++) v += pow(c.inp[(size_t)n * C + i] - m, 2);
    v /= N;
    double mu = m, s = 1 / sqrt(v + eps);
    if (train) {
      worst = fmax(worst, fabs(c.mean[i] - m) / fmax(1, fabs(m)));
      worst = fmax(worst, fabs(c.rstd[i] - s) / fmax(1, s));
      double want_rm = (1 - momentum) * c.running_mean[i] + momentum * m;
      double want_rv = (1 - momentum) * c.running_var[i] + momentum * v * N / (N - 1);
      worst_run = fmax(worst_run, fmax(fabs(rm[i] - want_rm), fabs(rv[i] - want_rv)));
    } else {
      mu = c.running_mean[i];
      s = 1 / sqrt(c.running_var[i] + eps);
    }
    for (int n = 0; n < N; n++) {
      size_t k = (size_t)n * C + i;
      worst = fmax(worst, fabs(c.out[k] - ((c.inp[k] - mu) * s * c.weight[i] + c.bias[i])));
    }
  }
  fail_if(!(worst <= 1e-12), "batchnorm forward vs definition", worst);
  fail_if(!(worst_run <= 1e-13), "batchnorm running statistics vs momentum formula", worst_run);
  if (train) printf("  ref  running mean/var            max_err=%.2e\n", worst_run);

  /* backward: dinp pre-filled with garbage, dweight/dbias with known values */
  const double fill_w = 0.25, fill_b = 1.5;
  double *dinp = gc_alloc(nx), *dw = gc_alloc(C), *db = gc_alloc(C);
  for (size_t i = 0; i < nx; i++) dinp[i] = 1e6;
  for (int i = 0; i < C; i++) dw[i] = fill_w, db[i] = fill_b;
  bn_loss(&c);
  if (train)
    dc_cpu_f64_batchnorm_backward_train(dinp, dw, db, c.r, c.inp, c.weight, c.mean, c.rstd, N, C);
  else
    dc_cpu_f64_batchnorm_backward_eval(dinp, dw, db, c.r, c.inp, c.weight, c.running_mean,
                                       c.running_var, N, C, eps);
  double *gw = gc_alloc(C), *gb = gc_alloc(C);
  for (int i = 0; i < C; i++) gw[i] = dw[i] - fill_w, gb[i] = db[i] - fill_b;
  gc_check("batchnorm dinp", c.inp, dinp, nx, bn_loss, &c, 1e-5, 1e-6, 500);
  gc_check("batchnorm dweight (accumulated)", c.weight, gw, C, bn_loss, &c, 1e-5, 1e-6, 500);
  gc_check("batchnorm dbias (accumulated)", c.bias, gb, C, bn_loss, &c, 1e-5, 1e-6, 500);
  bn_loss(&c); /* restore the saved statistics of the unperturbed input */

  /* NULL gradients are skipped and do not change the others */
  double *dw2 = gc_alloc(C);
  for (int i = 0; i < C; i++) dw2[i] = fill_w;
  if (train)
    dc_cpu_f64_batchnorm_backward_train(NULL, dw2, NULL, c.r, c.inp, c.weight, c.mean, c.rstd, N, C);
  else
    dc_cpu_f64_batchnorm_backward_eval(NULL, dw2, NULL, c.r, c.inp, c.weight, c.running_mean,
                                       c.running_var, N, C, eps);
  fail_if(memcmp(dw2, dw, C * sizeof *dw) != 0, "batchnorm dweight with NULL dinp differs", 0);

  /* float kernels on the same data */
  float *inp_f = gc_to_float(c.inp, nx), *w_f = gc_to_float(c.weight, C);
  float *b_f = gc_to_float(c.bias, C), *r_f = gc_to_float(c.r, nx);
  float *rm0_f = gc_to_float(c.running_mean, C), *rv0_f = gc_to_float(c.running_var, C);
  float *rm_f = gc_to_float(c.running_mean, C), *rv_f = gc_to_float(c.running_var, C);
  float *out_f = calloc(nx, sizeof *out_f), *mean_f = calloc(C, sizeof *mean_f);
  float *rstd_f = calloc(C, sizeof *rstd_f), *dinp_f = calloc(nx, sizeof *dinp_f);
  float *dw_f = calloc(C, sizeof *dw_f), *db_f = calloc(C, sizeof *db_f);
  for (size_t i = 0; i < nx; i++) dinp_f[i] = 1e6f;
  for (int i = 0; i < C; i++) dw_f[i] = (float)fill_w, db_f[i] = (float)fill_b;
  if (train) {
    dc_cpu_f32_batchnorm_forward_train(out_f, mean_f, rstd_f, rm_f, rv_f, inp_f, w_f, b_f, N, C,
                                       (float)eps, (float)momentum);
    dc_cpu_f32_batchnorm_backward_train(dinp_f, dw_f, db_f, r_f, inp_f, w_f, mean_f, rstd_f, N, C);
    gc_compare_f32("batchnorm mean", mean_f, c.mean, C, 1e-5);
    gc_compare_f32("batchnorm rstd", rstd_f, c.rstd, C, 1e-5);
    gc_compare_f32("batchnorm running_mean", rm_f, rm, C, 1e-6);
    gc_compare_f32("batchnorm running_var", rv_f, rv, C, 1e-6);
  } else {
    dc_cpu_f32_batchnorm_forward_eval(out_f, inp_f, w_f, b_f, rm0_f, rv0_f, N, C, (float)eps);
    dc_cpu_f32_batchnorm_backward_eval(dinp_f, dw_f, db_f, r_f, inp_f, w_f, rm0_f, rv0_f, N, C,
                                       (float)eps);
  }
  gc_compare_f32("batchnorm out", out_f, c.out, nx, 1e-5);
  gc_compare_f32("batchnorm dinp", dinp_f, dinp, nx, 1e-5);
  gc_compare_f32("batchnorm dweight", dw_f, dw, C, 1e-5);
  gc_compare_f32("batchnorm dbias", db_f, db, C, 1e-5);

  free(c.out), free(c.mean), free(c.rstd), free(c.inp), free(c.weight), free(c.bias), free(c.r);
  free(c.running_mean), free(c.running_var), free(rm), free(rv);
  free(dinp), free(dw), free(db), free(gw), free(gb), free(dw2);
  free(inp_f), free(w_f), free(b_f), free(r_f), free(rm0_f), free(rv0_f), free(rm_f), free(rv_f);
  free(out_f), free(mean_f), free(rstd_f), free(dinp_f), free(dw_f), free(db_f);
}

int main(void) {
  gc_seed(4242);
  for (int train = 1; train >= 0; train--) {
    check_batchnorm(2, 1, train);
    check_batchnorm(gc_int(3, 9), gc_int(2, 13), train);
    check_batchnorm(gc_int(3, 9), gc_int(17, 40), train); /* several column blocks */
    check_batchnorm(gc_int(100, 200), gc_int(33, 70), train);
  }
  return gc_finish("test_op_batchnorm");
}
