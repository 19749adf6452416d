/* Learning-rate schedules as closed forms of the epoch (see diffclip/schedule.h).
 *
 * CosineAnnealingWarmRestarts: PyTorch's step(epoch) finds the cycle n from
 * floor(log(e / T_0 * (T_mult - 1) + 1) / log(T_mult)), which floating-point rounding can
 * put one cycle off exactly at a restart (log(243) / log(3) = 4.999...). The cycle found
 * here is corrected against the integer cycle boundaries, so it always agrees with the
 * scheduler stepped one epoch at a time (T_cur += 1; restart when T_cur >= T_i). */
#include "diffclip/train/schedule.h"

#include <math.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

enum dc_status dc_lr_schedule_validate(const struct dc_lr_schedule *s) {
  if (s == NULL) return DC_ERROR(DC_ERR_ARG, "learning-rate schedule: NULL schedule");
  if (!isfinite(s->base_lr) || s->base_lr < 0)
    return DC_ERROR(DC_ERR_ARG, "learning-rate schedule: base_lr must be finite and >= 0 (got %g)",
                    s->base_lr);
  switch (s->kind) {
    case DC_LR_CONSTANT: return DC_OK;
    case DC_LR_COSINE_WARM_RESTARTS:
      if (s->t_0 < 1)
        return DC_ERROR(DC_ERR_ARG, "cosine warm restarts: T_0 must be an integer >= 1 (got %d)",
                        s->t_0);
      if (s->t_mult < 1)
        return DC_ERROR(DC_ERR_ARG, "cosine warm restarts: T_mult must be an integer >= 1 (got %d)",
                        s->t_mult);
      if (!isfinite(s->eta_min) || s->eta_min < 0)
        return DC_ERROR(DC_ERR_ARG, "cosine warm restarts: eta_min must be finite and >= 0 (got %g)",
                        s->eta_min);
      return DC_OK;
    case DC_LR_MULTISTEP:
      if (s->n_milestones < 0 || s->n_milestones > DC_LR_MAX_MILESTONES)
        return DC_ERROR(DC_ERR_ARG, "multistep: %d milestones, expected 0..%d", s->n_milestones,
                        DC_LR_MAX_MILESTONES);
      for (int i = 0; i < s->n_milestones; i++) {
        if (s->milestones[i] < 0)
          return DC_ERROR(DC_ERR_ARG, "multistep: milestone %d is negative (%d)", i,
                          s->milestones[i]);
        if (i > 0 && s->milestones[i] <= s->milestones[i - 1])
          return DC_ERROR(DC_ERR_ARG,
                          "multistep: milestones must be strictly increasing (%d after %d)",
                          s->milestones[i], s->milestones[i - 1]);
      }
      if (!isfinite(s->gamma) || s->gamma <= 0)
        return DC_ERROR(DC_ERR_ARG, "multistep: gamma must be finite and > 0 (got %g)", s->gamma);
      return DC_OK;
  }
  return DC_ERROR(DC_ERR_ARG, "learning-rate schedule: unknown kind %d", (int)s->kind);
}

enum dc_status dc_lr_constant_init(struct dc_lr_schedule *s, double base_lr) {
  memset(s, 0, sizeof *s);
  s->kind = DC_LR_CONSTANT;
  s->base_lr = base_lr;
  return dc_lr_schedule_validate(s);
}

enum dc_status dc_lr_cosine_warm_restarts_init(struct dc_lr_schedule *s, double base_lr, int t_0,
                                               int t_mult, double eta_min) {
  memset(s, 0, sizeof *s);
  s->kind = DC_LR_COSINE_WARM_RESTARTS;
  s->base_lr = base_lr;
  s->t_0 = t_0;
  s->t_mult = t_mult;
  s->eta_min = eta_min;
  return dc_lr_schedule_validate(s);
}

enum dc_status dc_lr_multistep_init(struct dc_lr_schedule *s, double base_lr,
                                    const int *milestones, int n_milestones, double gamma) {
  memset(s, 0, sizeof *s);
  s->kind = DC_LR_MULTISTEP;
  s->base_lr = base_lr;
  s->gamma = gamma;
  s->n_milestones = n_milestones;
  if (n_milestones > 0 && milestones == NULL)
    return DC_ERROR(DC_ERR_ARG, "multistep: %d milestones but no array", n_milestones);
  if (n_milestones > 0 && n_milestones <= DC_LR_MAX_MILESTONES)
    memcpy(s->milestones, milestones, (size_t)n_milestones * sizeof *milestones);
  return dc_lr_schedule_validate(s);
}

/* Epoch at which cycle n starts: T_0 (T_mult^n - 1) / (T_mult - 1), for T_mult > 1. */
static double cycle_start(double t_0, double t_mult, int n) {
  return t_0 * (pow(t_mult, n) - 1) / (t_mult - 1);
}

static double cosine_warm_restarts(const struct dc_lr_schedule *s, double e) {
  double t_0 = s->t_0, t_cur, t_i;
  if (e < t_0) {
    t_cur = e;
    t_i = t_0;
  } else if (s->t_mult == 1) {
    t_cur = fmod(e, t_0);
    t_i = t_0;
  } else {
    double m = s->t_mult;
    int n = (int)floor(log(e / t_0 * (m - 1) + 1) / log(m));
    /* The boundaries are integers (exact in double): fix a log rounded across one. */
    while (cycle_start(t_0, m, n + 1) <= e) n++;
    while (n > 0 && cycle_start(t_0, m, n) > e) n--;
    t_cur = e - cycle_start(t_0, m, n);
    t_i = t_0 * pow(m, n);
  }
  return s->eta_min + (s->base_lr - s->eta_min) * (1 + cos(PI * t_cur / t_i)) / 2;
}

double dc_lr_at(const struct dc_lr_schedule *s, double epoch) {
  double e = epoch > 0 ? epoch : 0; /* also maps NaN to 0 */
  switch (s->kind) {
    case DC_LR_CONSTANT: return s->base_lr;
    case DC_LR_COSINE_WARM_RESTARTS: return cosine_warm_restarts(s, e);
    case DC_LR_MULTISTEP: {
      int passed = 0;
      while (passed < s->n_milestones && s->milestones[passed] <= e) passed++;
      return s->base_lr * pow(s->gamma, passed);
    }
  }
  return s->base_lr;
}
