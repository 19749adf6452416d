/* Synchronised BatchNorm in parts: the rows of a batch split over "ranks" (parts), the
 * column sums added across parts between the phases, must give the fused single-process
 * result: the same outputs, saved statistics, running statistics, input gradients and (summed
 * over parts) parameter gradients. This is what makes R ranks compute what 1 rank does. */
#include "gradcheck.h"

static double max_diff(const double *a, const double *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

static void check(const char *what, double err, double tol) {
  if (!(err <= tol)) {
    fprintf(stderr, "FAIL %s: max difference %.3g > %.1g\n", what, err, tol);
    gc_failures++;
  } else {
    printf("  split %-30s max_diff=%.2e\n", what, err);
  }
}

static void run_case(int N, int C, int parts) {
  double *x = gc_random((size_t)N * C, -2, 3), *w = gc_random(C, 0.5, 1.5), *b = gc_random(C, -1, 1);
  double *dy = gc_random((size_t)N * C, -1, 1);
  for (size_t i = 0; i < (size_t)N * C; i++) x[i] += 5.0 * (i % C); /* channel offsets */
  /* fused reference */
  double *out = gc_alloc((size_t)N * C), *mean = gc_alloc(C), *rstd = gc_alloc(C), *rm = gc_alloc(C), *rv = gc_alloc(C);
  double *dx = gc_alloc((size_t)N * C), *dw = gc_alloc(C), *db = gc_alloc(C);
  for (int c = 0; c < C; c++) rv[c] = 1;
  dc_cpu_f64_batchnorm_forward_train(out, mean, rstd, rm, rv, x, w, b, N, C, 1e-5, 0.1);
  dc_cpu_f64_batchnorm_backward_train(dx, dw, db, dy, x, w, mean, rstd, N, C);
  /* in parts */
  double *out2 = gc_alloc((size_t)N * C), *mean2 = gc_alloc(C), *rstd2 = gc_alloc(C), *rm2 = gc_alloc(C),
         *rv2 = gc_alloc(C), *dx2 = gc_alloc((size_t)N * C), *dw2 = gc_alloc(C), *db2 = gc_alloc(C);
  double *m = gc_alloc(C), *v = gc_alloc(C), *part = gc_alloc(2 * (size_t)C), *total = gc_alloc(2 * (size_t)C);
  double *locals = gc_alloc(2 * (size_t)C * parts);
  for (int c = 0; c < C; c++) rv2[c] = 1;
  int bounds[9];
  for (int p = 0; p <= parts; p++) bounds[p] = (int)((long)N * p / parts);
  for (int p = 0; p < parts; p++) { /* phase 1: the mean */
    dc_cpu_f64_batchnorm_colsum(part, x + (size_t)bounds[p] * C, NULL, bounds[p + 1] - bounds[p], C);
    for (int c = 0; c < C; c++) m[c] += part[c];
  }
  for (int c = 0; c < C; c++) m[c] /= N;
  for (int p = 0; p < parts; p++) { /* phase 2: the variance around the global mean */
    dc_cpu_f64_batchnorm_colsum(part, x + (size_t)bounds[p] * C, m, bounds[p + 1] - bounds[p], C);
    for (int c = 0; c < C; c++) v[c] += part[c];
  }
  for (int c = 0; c < C; c++) v[c] /= N;
  for (int p = 0; p < parts; p++) { /* every part updates its own copy of the running stats */
    double *rmp = p == 0 ? rm2 : gc_alloc(C), *rvp = p == 0 ? rv2 : gc_alloc(C);
    if (p) for (int c = 0; c < C; c++) rvp[c] = 1;
    int n = bounds[p + 1] - bounds[p];
    dc_cpu_f64_batchnorm_apply_train(out2 + (size_t)bounds[p] * C, mean2, rstd2, rmp, rvp, x + (size_t)bounds[p] * C, w,
                                     b, m, v, (double)N, n, C, 1e-5, 0.1);
    check("running stats agree across parts", fmax(max_diff(rmp, rm2, C), max_diff(rvp, rv2, C)), 0);
    if (p) free(rmp), free(rvp);
  }
  for (int p = 0; p < parts; p++) {
    double *loc = locals + 2 * (size_t)C * p;
    dc_cpu_f64_batchnorm_backward_colsum(loc, dy + (size_t)bounds[p] * C, x + (size_t)bounds[p] * C, mean2, rstd2,
                                         bounds[p + 1] - bounds[p], C);
    for (int c = 0; c < 2 * C; c++) total[c] += loc[c];
  }
  for (int p = 0; p < parts; p++)
    dc_cpu_f64_batchnorm_backward_apply(dx2 + (size_t)bounds[p] * C, dw2, db2, dy + (size_t)bounds[p] * C,
                                        x + (size_t)bounds[p] * C, w, mean2, rstd2, locals + 2 * (size_t)C * p, total,
                                        (double)N, bounds[p + 1] - bounds[p], C);
  check("output", max_diff(out, out2, (size_t)N * C), 1e-12);
  check("mean, rstd", fmax(max_diff(mean, mean2, C), max_diff(rstd, rstd2, C)), 1e-12);
  check("running mean, var", fmax(max_diff(rm, rm2, C), max_diff(rv, rv2, C)), 1e-12);
  check("input gradient", max_diff(dx, dx2, (size_t)N * C), 1e-12);
  check("weight, bias gradients", fmax(max_diff(dw, dw2, C), max_diff(db, db2, C)), 1e-10);
  free(x), free(w), free(b), free(dy), free(out), free(mean), free(rstd), free(rm), free(rv), free(dx), free(dw),
      free(db), free(out2), free(mean2), free(rstd2), free(rm2), free(rv2), free(dx2), free(dw2), free(db2), free(m),
      free(v), free(part), free(total), free(locals);
}

int main(void) {
  gc_seed(11);
  run_case(37, 5, 2);
  run_case(100, 19, 3);
  run_case(8, 33, 8);
  return gc_finish("test_op_batchnorm_split");
}
