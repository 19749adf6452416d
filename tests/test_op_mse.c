/* Masked MSE: both losses against a direct double sum, the gradient of
 * w_m * masked + w_v * visible by finite differences in double (dpred assigned over
 * garbage), the empty-set cases, and float-vs-double agreement. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    gc_failures++;
  }
}

struct ctx {
  double *pred, *target, *mask, wm, wv;
  int N, C;
};
static double loss(void *p) {
  struct ctx *c = p;
  double lm, lv;
  dc_cpu_f64_masked_mse_forward(&lm, &lv, c->pred, c->target, c->mask, c->N, c->C);
  return c->wm * lm + c->wv * lv;
}

static void run(int N, int C, double p_mask) {
  printf("masked_mse N=%d C=%d p_mask=%.2f\n", N, C, p_mask);
  size_t n = (size_t)N * C;
  struct ctx c = {gc_random(n, -2, 2), gc_random(n, -2, 2), gc_alloc(N), 0.1, 1.0, N, C};
  for (int p = 0; p < N; p++) c.mask[p] = gc_uniform(0, 1) < p_mask ? 1.0 : 0.0;

  double sm = 0, sv = 0;
  int nm = 0;
  for (int p = 0; p < N; p++) {
    double e = 0;
    for (int k = 0; k < C; k++) {
      double d = c.pred[(size_t)p * C + k] - c.target[(size_t)p * C + k];
      e += d * d;
    }
    if (c.mask[p] != 0) { sm += e / C; nm++; } else sv += e / C;
  }
  double want_m = nm ? sm / nm : 0, want_v = nm < N ? sv / (N - nm) : 0;
  double lm, lv;
  dc_cpu_f64_masked_mse_forward(&lm, &lv, c.pred, c.target, c.mask, N, C);
  expect(fabs(lm - want_m) <= 1e-12 * (1 + want_m) && fabs(lv - want_v) <= 1e-12 * (1 + want_v),
         "masked_mse forward vs direct sum");

  double *dpred = gc_random(n, 100, 200); /* garbage: the kernel assigns */
  dc_cpu_f64_masked_mse_backward(dpred, c.pred, c.target, c.mask, N, C, c.wm, c.wv);
  gc_check("dpred", c.pred, dpred, n, loss, &c, 1e-5, 1e-7, 500);

  float *pf = gc_to_float(c.pred, n), *tf = gc_to_float(c.target, n), *mf = gc_to_float(c.mask, N),
        *df = calloc(n, sizeof *df), lmf, lvf;
  dc_cpu_f32_masked_mse_forward(&lmf, &lvf, pf, tf, mf, N, C);
  dc_cpu_f32_masked_mse_backward(df, pf, tf, mf, N, C, 0.1f, 1.0f);
  gc_compare_f32("loss_masked", &lmf, &lm, 1, 1e-6);
  gc_compare_f32("loss_visible", &lvf, &lv, 1, 1e-6);
  /* The float weights are (float)0.1: compare against the double kernel with the same. */
  dc_cpu_f64_masked_mse_backward(dpred, c.pred, c.target, c.mask, N, C, (double)0.1f, 1.0);
  gc_compare_f32("dpred", df, dpred, n, 1e-6);
  dc_cpu_f64_masked_mse_backward(NULL, c.pred, c.target, c.mask, N, C, 1, 1);

  free(c.pred); free(c.target); free(c.mask); free(dpred); free(pf); free(tf); free(mf); free(df);
}

/* All pixels masked: the visible loss is 0 and gives no gradient (and no NaN). */
static void empty_set(void) {
  printf("masked_mse empty visible set\n");
  double pred[6] = {1, 2, 3, 4, 5, 6}, target[6] = {0}, mask[3] = {1, 1, 1}, lm, lv, d[6];
  dc_cpu_f64_masked_mse_forward(&lm, &lv, pred, target, mask, 3, 2);
  expect(lv == 0 && fabs(lm - 91.0 / 6) < 1e-12, "all masked: losses");
  dc_cpu_f64_masked_mse_backward(d, pred, target, mask, 3, 2, 0, 1);
  int ok = 1;
  for (int i = 0; i < 6; i++) ok &= d[i] == 0;
  expect(ok, "all masked, w_masked 0: zero gradient");
  for (int i = 0; i < 3; i++) mask[i] = 0;
  dc_cpu_f64_masked_mse_forward(&lm, &lv, pred, target, mask, 3, 2);
  expect(lm == 0 && fabs(lv - 91.0 / 6) < 1e-12, "none masked: losses");
}

int main(void) {
  gc_seed(3);
  run(1, 1, 0.5);
  run(25, 6, 0.6);
  run(gc_int(10, 200), gc_int(1, 9), 0.3);
  run(5003, 3, 0.75);
  empty_set();
  return gc_finish("test_op_mse");
}
