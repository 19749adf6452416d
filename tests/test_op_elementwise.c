/* The small elementwise ops: add_inplace, add_broadcast (+ backward, which accumulates),
 * scale_inplace, transpose and dot. Exact checks where the result is exact, finite
 * differences in double for the broadcast add, float-vs-double agreement, and sizes above
 * the kernels' parallel threshold so the OpenMP paths run too. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    gc_failures++;
  }
}

struct bctx {
  double *y0, *y, *row, *r;
  int B;
  size_t n;
};
static double bcast_loss(void *p) {
  struct bctx *c = p;
  size_t ny = (size_t)c->B * c->n;
  memcpy(c->y, c->y0, ny * sizeof *c->y);
  dc_cpu_f64_add_broadcast(c->y, c->row, c->B, c->n);
  return gc_weighted_sum(c->y, c->r, ny);
}

static void run(int B, size_t n) {
  printf("elementwise B=%d n=%zu\n", B, n);
  size_t ny = (size_t)B * n;
  /* add_inplace / scale_inplace are exact in double */
  double *y = gc_random(ny, -1, 1), *x = gc_random(ny, -1, 1), *y2 = gc_alloc(ny);
  memcpy(y2, y, ny * sizeof *y);
  dc_cpu_f64_add_inplace(y2, x, ny);
  int ok = 1;
  for (size_t i = 0; i < ny; i++) ok &= y2[i] == y[i] + x[i];
  expect(ok, "add_inplace");
  dc_cpu_f64_scale_inplace(y2, -0.75, ny);
  ok = 1;
  for (size_t i = 0; i < ny; i++) ok &= y2[i] == (y[i] + x[i]) * -0.75;
  expect(ok, "scale_inplace");

  float *yf = gc_to_float(y, ny), *xf = gc_to_float(x, ny);
  dc_cpu_f32_add_inplace(yf, xf, ny);
  dc_cpu_f32_scale_inplace(yf, -0.75f, ny);
  gc_compare_f32("add_inplace+scale", yf, y2, ny, 1e-6);

  /* add_broadcast: forward, and d(row) accumulated over the batch into a non-zero drow */
  struct bctx c = {y, gc_alloc(ny), gc_random(n, -1, 1), gc_random(ny, -1, 1), B, n};
  bcast_loss(&c);
  ok = 1;
  for (int b = 0; b < B; b++)
    for (size_t i = 0; i < n; i++) ok &= c.y[(size_t)b * n + i] == y[(size_t)b * n + i] + c.row[i];
  expect(ok, "add_broadcast");
  double *d0 = gc_random(n, -1, 1), *drow = gc_alloc(n);
  memcpy(drow, d0, n * sizeof *drow);
  dc_cpu_f64_add_broadcast_backward(drow, c.r, B, n);
  for (size_t i = 0; i < n; i++) drow[i] -= d0[i];
  gc_check("add_broadcast drow", c.row, drow, n, bcast_loss, &c, 1e-5, 1e-7, 300);

  float *rowf = gc_to_float(c.row, n), *rf = gc_to_float(c.r, ny), *drf = gc_to_float(d0, n);
  float *ybf = gc_to_float(y, ny);
  dc_cpu_f32_add_broadcast(ybf, rowf, B, n);
  dc_cpu_f32_add_broadcast_backward(drf, rf, B, n);
  double *drd = gc_alloc(n);
  memcpy(drd, d0, n * sizeof *drd);
  dc_cpu_f64_add_broadcast_backward(drd, c.r, B, n);
  bcast_loss(&c);
  gc_compare_f32("add_broadcast", ybf, c.y, ny, 1e-6);
  gc_compare_f32("add_broadcast drow (+=)", drf, drd, n, 1e-5);
  dc_cpu_f64_add_broadcast_backward(NULL, c.r, B, n);

  /* transpose of (B, n) is exact; transposing back restores the input */
  double *t = gc_alloc(ny), *tt = gc_alloc(ny);
  dc_cpu_f64_transpose(t, y, B, (int)n);
  ok = 1;
  for (int b = 0; b < B; b++)
    for (size_t i = 0; i < n; i++) ok &= t[i * B + b] == y[(size_t)b * n + i];
  dc_cpu_f64_transpose(tt, t, (int)n, B);
  ok &= memcmp(tt, y, ny * sizeof *y) == 0;
  expect(ok, "transpose");
  float *tf = calloc(ny, sizeof *tf), *yff = gc_to_float(y, ny);
  dc_cpu_f32_transpose(tf, yff, B, (int)n);
  gc_compare_f32("transpose", tf, t, ny, 1e-7);

  /* dot: double accumulation even from float inputs */
  double ref = 0;
  for (size_t i = 0; i < ny; i++) ref += y[i] * x[i];
  double d = dc_cpu_f64_dot(y, x, ny);
  expect(fabs(d - ref) <= 1e-12 * (1 + fabs(ref)) * sqrt((double)ny), "dot f64");
  float *xff = gc_to_float(x, ny);
  double reff = 0;
  for (size_t i = 0; i < ny; i++) reff += (double)yff[i] * (double)xff[i];
  double df = dc_cpu_f32_dot(yff, xff, ny);
  expect(fabs(df - reff) <= 1e-12 * (1 + fabs(reff)) * sqrt((double)ny), "dot f32 accumulates in double");

  free(y); free(x); free(y2); free(yf); free(xf); free(c.y); free(c.row); free(c.r); free(d0);
  free(drow); free(rowf); free(rf); free(drf); free(ybf); free(drd); free(t); free(tt); free(tf);
  free(yff); free(xff);
}

int main(void) {
  gc_seed(5);
  run(1, 1);
  run(3, 7);
  run(5, 33);
  run(gc_int(2, 9), (size_t)gc_int(1, 300));
  run(37, 1029); /* above the parallel threshold, partial tiles and column chunks */
  /* float sums that a float accumulator would get wrong: 2^24 + many ones */
  {
    size_t n = 1u << 16;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) a[i] = b[i] = 1.0f;
    a[0] = b[0] = 4096.0f; /* 4096^2 = 2^24, where a float sum stops counting ones */
    double s = dc_cpu_f32_dot(a, b, n);
    expect(s == 16777216.0 + (double)(n - 1), "dot of 2^24 + ones in double");
    free(a); free(b);
  }
  return gc_finish("test_op_elementwise");
}
