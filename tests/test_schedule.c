/* Learning-rate schedules: the closed forms against step-by-step simulations of PyTorch's
 * recursive rules (CosineAnnealingWarmRestarts: T_cur += 1, restart when T_cur >= T_i;
 * MultiStepLR: multiply by gamma at each milestone), including the restart epochs, a
 * T_mult whose restarts the float log rounds wrongly, fractional epochs, and rejection of
 * invalid parameters. */
#include <math.h>
#include <stdio.h>

#include "diffclip/train/schedule.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static const double PI = 3.14159265358979323846;

/* PyTorch's scheduler stepped once per epoch, from epoch 0 to last; lr[e] per epoch. */
static void simulate_cosine(double base, int t_0, int t_mult, double eta_min, int last, double *lr) {
  double t_cur = 0, t_i = t_0;
  for (int e = 0; e <= last; e++) {
    lr[e] = eta_min + (base - eta_min) * (1 + cos(PI * t_cur / t_i)) / 2;
    t_cur += 1;
    if (t_cur >= t_i) {
      t_cur -= t_i;
      t_i *= t_mult;
    }
  }
}

static int cosine_matches(double base, int t_0, int t_mult, double eta_min, int last) {
  struct dc_lr_schedule s;
  if (dc_lr_cosine_warm_restarts_init(&s, base, t_0, t_mult, eta_min) != DC_OK) return 0;
  double lr[1024];
  simulate_cosine(base, t_0, t_mult, eta_min, last, lr);
  int ok = 1;
  for (int e = 0; e <= last; e++) {
    double got = dc_lr_at(&s, e);
    if (!(fabs(got - lr[e]) <= 1e-12 * base)) {
      fprintf(stderr, "  T_0=%d T_mult=%d epoch %d: closed form %.17g, stepped %.17g\n", t_0,
              t_mult, e, got, lr[e]);
      ok = 0;
    }
  }
  return ok;
}

static void cosine(void) {
  printf("CosineAnnealingWarmRestarts\n");
  expect(cosine_matches(1e-4, 5, 2, 0, 40), "T_0=5 T_mult=2 eta_min=0, epochs 0..40");
  struct dc_lr_schedule s;
  dc_lr_cosine_warm_restarts_init(&s, 1e-4, 5, 2, 0);
  expect(dc_lr_at(&s, 5) == 1e-4 && dc_lr_at(&s, 15) == 1e-4 && dc_lr_at(&s, 35) == 1e-4 &&
             dc_lr_at(&s, 0) == 1e-4,
         "restarts at epochs 5, 15, 35 give base_lr");
  expect(dc_lr_at(&s, 4) < dc_lr_at(&s, 3) && dc_lr_at(&s, 14) < 1e-5 && dc_lr_at(&s, 34) < 1e-6,
         "lr decays before each restart");
  /* Half way through the second cycle (T_cur = 5 of T_i = 10): exactly base/2. */
  expect(fabs(dc_lr_at(&s, 10) - 5e-5) < 1e-18, "mid-cycle value base/2");
  /* Fractional epoch inside the second cycle. */
  double want = 1e-4 * (1 + cos(PI * 0.25 / 10)) / 2;
  expect(fabs(dc_lr_at(&s, 5.25) - want) < 1e-18, "fractional epoch 5.25");
  expect(dc_lr_at(&s, -3) == 1e-4, "negative epoch is epoch 0");
  /* T_mult = 3 from T_0 = 1: restarts at 1, 4, 13, 40, 121, 364 where log(243)/log(3) < 5. */
  expect(cosine_matches(2e-3, 1, 3, 1e-5, 400), "T_0=1 T_mult=3 eta_min=1e-5, epochs 0..400");
  expect(cosine_matches(1e-3, 7, 1, 1e-4, 100), "T_0=7 T_mult=1, epochs 0..100");
  expect(cosine_matches(1e-3, 3, 5, 0, 500), "T_0=3 T_mult=5, epochs 0..500");
}

static void multistep(void) {
  printf("MultiStepLR\n");
  struct dc_lr_schedule s;
  const int ms[2] = {100, 131};
  expect(dc_lr_multistep_init(&s, 1e-3, ms, 2, 0.1) == DC_OK, "milestones {100, 131} accepted");
  /* Stepped: multiply by gamma when the epoch reaches a milestone. */
  double lr = 1e-3;
  int ok = 1;
  for (int e = 0; e < 150; e++) {
    if (e == 100 || e == 131) lr *= 0.1;
    ok &= fabs(dc_lr_at(&s, e) - lr) <= 1e-12 * lr;
  }
  expect(ok, "epochs 0..149 match the stepped rule");
  expect(dc_lr_at(&s, 0) == 1e-3 && dc_lr_at(&s, 99) == 1e-3, "epochs 0 and 99: base");
  expect(fabs(dc_lr_at(&s, 100) - 1e-4) < 1e-18 && fabs(dc_lr_at(&s, 130) - 1e-4) < 1e-18,
         "epochs 100 and 130: base * 0.1");
  expect(fabs(dc_lr_at(&s, 131) - 1e-5) < 1e-19 && fabs(dc_lr_at(&s, 149) - 1e-5) < 1e-19,
         "epochs 131 and 149: base * 0.01");
  expect(dc_lr_at(&s, 99.5) == 1e-3, "fractional epoch before a milestone");
  struct dc_lr_schedule c;
  expect(dc_lr_constant_init(&c, 3e-4) == DC_OK && dc_lr_at(&c, 77) == 3e-4, "constant");
}

static void invalid(void) {
  printf("invalid parameters (error messages expected below)\n");
  struct dc_lr_schedule s;
  expect(dc_lr_cosine_warm_restarts_init(&s, 1e-4, 0, 2, 0) == DC_ERR_ARG, "T_0 = 0 rejected");
  expect(dc_lr_cosine_warm_restarts_init(&s, 1e-4, 5, 0, 0) == DC_ERR_ARG, "T_mult = 0 rejected");
  expect(dc_lr_cosine_warm_restarts_init(&s, 1e-4, 5, 2, -1) == DC_ERR_ARG, "eta_min < 0 rejected");
  expect(dc_lr_cosine_warm_restarts_init(&s, NAN, 5, 2, 0) == DC_ERR_ARG, "NaN base_lr rejected");
  const int down[2] = {131, 100}, same[2] = {100, 100}, neg[2] = {-1, 100}, ok[2] = {100, 131};
  expect(dc_lr_multistep_init(&s, 1e-3, down, 2, 0.1) == DC_ERR_ARG, "decreasing milestones rejected");
  expect(dc_lr_multistep_init(&s, 1e-3, same, 2, 0.1) == DC_ERR_ARG, "repeated milestone rejected");
  expect(dc_lr_multistep_init(&s, 1e-3, neg, 2, 0.1) == DC_ERR_ARG, "negative milestone rejected");
  expect(dc_lr_multistep_init(&s, 1e-3, ok, 2, 0) == DC_ERR_ARG, "gamma = 0 rejected");
  expect(dc_lr_multistep_init(&s, 1e-3, ok, DC_LR_MAX_MILESTONES + 1, 0.1) == DC_ERR_ARG,
         "too many milestones rejected");
  s.kind = (enum dc_lr_kind)99;
  s.base_lr = 1;
  expect(dc_lr_schedule_validate(&s) == DC_ERR_ARG, "unknown kind rejected");
  expect(dc_lr_schedule_validate(NULL) == DC_ERR_ARG, "NULL rejected");
}

int main(void) {
  cosine();
  multistep();
  invalid();
  if (failures) {
    fprintf(stderr, "test_schedule: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_schedule: all checks passed\n");
  return 0;
}
