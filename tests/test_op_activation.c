/* GELU (exact), QuickGELU, SiLU and ReLU: forward against libm formulas in double,
 * backward against central differences, float kernels against double, dinp assigned.
 * Sizes include one above the kernels' parallel threshold. ReLU inputs stay away from
 * its kink at 0, where a central difference means nothing. */
#include "gradcheck.h"

struct act_ctx {
  double *out, *inp, *r; /* (n) each */
  size_t n;
  enum dc_act act;
};

static double act_loss(void *p) {
  struct act_ctx *c = p;
  dc_cpu_f64_act_forward(c->act, c->out, c->inp, c->n);
  return gc_weighted_sum(c->out, c->r, c->n);
}

static double act_ref(enum dc_act act, double x) {
  switch (act) {
    case DC_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case DC_ACT_QUICKGELU: return x / (1 + exp(-1.702 * x));
    case DC_ACT_SILU: return x / (1 + exp(-x));
    case DC_ACT_RELU: return x > 0 ? x : 0;
  }
  return NAN;
}

static void check_act(enum dc_act act, const char *name, size_t n) {
  printf("%s n=%zu\n", name, n);
  struct act_ctx c = {gc_alloc(n), gc_random(n, -6, 6), gc_random(n, -1, 1), n, act};
  for (size_t i = 0; i < n; i++)
    if (fabs(c.inp[i]) < 0.05) c.inp[i] = c.inp[i] < 0 ? -0.05 - c.inp[i] : 0.05 + c.inp[i];

  act_loss(&c);
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(c.out[i] - act_ref(act, c.inp[i])));
  if (!(worst <= 1e-14)) {
    fprintf(stderr, "FAIL %s forward vs formula: max_err %.3g\n", name, worst);
    gc_failures++;
  }

  double *dinp = gc_alloc(n);
  for (size_t i = 0; i < n; i++) dinp[i] = 1e6; /* must be overwritten */
  dc_cpu_f64_act_backward(act, dinp, c.r, c.inp, n);
  char what[64];
  snprintf(what, sizeof what, "%s dinp", name);
  gc_check(what, c.inp, dinp, n, act_loss, &c, 1e-5, 1e-6, 600);

  float *inp_f = gc_to_float(c.inp, n), *r_f = gc_to_float(c.r, n);
  float *out_f = calloc(n, sizeof *out_f), *dinp_f = calloc(n, sizeof *dinp_f);
  for (size_t i = 0; i < n; i++) dinp_f[i] = 1e6f;
  act_loss(&c);
  dc_cpu_f32_act_forward(act, out_f, inp_f, n);
  dc_cpu_f32_act_backward(act, dinp_f, r_f, inp_f, n);
  snprintf(what, sizeof what, "%s out", name);
  gc_compare_f32(what, out_f, c.out, n, 1e-5);
  snprintf(what, sizeof what, "%s dinp", name);
  gc_compare_f32(what, dinp_f, dinp, n, 1e-5);

  free(c.out), free(c.inp), free(c.r), free(dinp), free(inp_f), free(r_f), free(out_f), free(dinp_f);
}

/* The float kernels' own exp and erf (vectorisable; activation.c) over a dense grid of
 * [-12, 12] against the double formulas, both directions, and NaN carried through. */
static void check_float_grid(enum dc_act act, const char *name) {
  size_t n = 480001;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *g = malloc(n * sizeof *g), *one = malloc(n * sizeof *one);
  for (size_t i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1), one[i] = 1.0f;
  dc_cpu_f32_act_forward(act, y, x, n);
  dc_cpu_f32_act_backward(act, g, one, x, n);
  double wf = 0, wb = 0, h = 1e-6;
  for (size_t i = 0; i < n; i++) {
    double v = x[i], d = (act_ref(act, v + h) - act_ref(act, v - h)) / (2 * h);
    wf = fmax(wf, fabs(y[i] - act_ref(act, v)) / (1 + fabs(v)));
    wb = fmax(wb, fabs(g[i] - d));
  }
  printf("  f32  %-10s grid of %zu in [-12, 12]: forward %.3g (abs / (1 + |x|)), backward %.3g\n", name, n, wf, wb);
  if (!(wf <= 2e-7 && wb <= 2e-6)) {
    fprintf(stderr, "FAIL %s float grid: forward %.3g (<= 2e-7), backward %.3g (<= 2e-6)\n", name, wf, wb);
    gc_failures++;
  }
  /* beyond exp's range (|x| > 87 inside the sigmoid and the GELU density) */
  float far[4] = {-100.0f, 100.0f, -1000.0f, 1000.0f}, far_out[4], far_d[4];
  dc_cpu_f32_act_forward(act, far_out, far, 4);
  dc_cpu_f32_act_backward(act, far_d, one, far, 4);
  for (int i = 0; i < 4; i++) {
    double v = far[i], want = act_ref(act, v), dwant = v > 0 ? 1 : 0;
    if (!(fabs(far_out[i] - want) <= 1e-6 * (1 + fabs(v)) && fabs(far_d[i] - dwant) <= 1e-6)) {
      fprintf(stderr, "FAIL %s at x = %g: %g (want %g), derivative %g (want %g)\n", name, v, (double)far_out[i], want,
              (double)far_d[i], dwant);
      gc_failures++;
    }
  }
  float nan_in[2] = {NAN, -NAN}, nan_out[2], d_out[2];
  dc_cpu_f32_act_forward(act, nan_out, nan_in, 2);
  dc_cpu_f32_act_backward(act, d_out, one, nan_in, 2);
  if (!(isnan(nan_out[0]) && isnan(nan_out[1]) && isnan(d_out[0]) && isnan(d_out[1]))) {
    fprintf(stderr, "FAIL %s: NaN in, %g / %g out\n", name, (double)nan_out[0], (double)d_out[0]);
    gc_failures++;
  }
  free(x), free(y), free(g), free(one);
}

/* act_forward_grad gives act_forward's output and act_backward's derivative (dout = 1)
 * bit for bit, in both builds, also with grad written over inp. */
static void check_forward_grad(enum dc_act act, const char *name, size_t n) {
  double *x = gc_random(n, -6, 6), *y = gc_alloc(n), *g = gc_alloc(n), *one = gc_alloc(n);
  double *y2 = gc_alloc(n), *g2 = gc_alloc(n);
  for (size_t i = 0; i < n; i++) one[i] = 1;
  dc_cpu_f64_act_forward(act, y, x, n);
  dc_cpu_f64_act_backward(act, g, one, x, n);
  dc_cpu_f64_act_forward_grad(act, y2, g2, x, n);
  int bad = memcmp(y, y2, n * sizeof *y) || memcmp(g, g2, n * sizeof *g);
  float *xf = gc_to_float(x, n), *yf = malloc(n * sizeof *yf), *gf = malloc(n * sizeof *gf);
  float *onef = gc_to_float(one, n), *yf2 = malloc(n * sizeof *yf2), *xf2 = gc_to_float(x, n);
  dc_cpu_f32_act_forward(act, yf, xf, n);
  dc_cpu_f32_act_backward(act, gf, onef, xf, n);
  dc_cpu_f32_act_forward_grad(act, yf2, xf2, xf2, n); /* in place: xf2 becomes act' */
  bad |= memcmp(yf, yf2, n * sizeof *yf) || memcmp(gf, xf2, n * sizeof *gf);
  printf("  act_forward_grad %-10s n=%zu: %s\n", name, n, bad ? "DIFFERS" : "equal to act_forward and act_backward");
  if (bad) {
    fprintf(stderr, "FAIL act_forward_grad %s differs from act_forward / act_backward\n", name);
    gc_failures++;
  }
  free(x), free(y), free(g), free(one), free(y2), free(g2), free(xf), free(yf), free(gf), free(onef), free(yf2), free(xf2);
}

int main(void) {
  gc_seed(99);
  static const struct {
    enum dc_act act;
    const char *name;
  } kinds[] = {{DC_ACT_GELU, "gelu"}, {DC_ACT_QUICKGELU, "quickgelu"}, {DC_ACT_SILU, "silu"},
               {DC_ACT_RELU, "relu"}};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    check_act(kinds[k].act, kinds[k].name, 1);
    check_act(kinds[k].act, kinds[k].name, (size_t)gc_int(2, 999));
    check_act(kinds[k].act, kinds[k].name, (size_t)gc_int(40000, 50000)); /* parallel path */
    check_forward_grad(kinds[k].act, kinds[k].name, (size_t)gc_int(40000, 50000));
    if (kinds[k].act != DC_ACT_RELU) check_float_grid(kinds[k].act, kinds[k].name); /* ReLU: no exp or erf */
  }
  return gc_finish("test_op_activation");
}
