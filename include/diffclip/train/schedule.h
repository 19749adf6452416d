/* Learning-rate schedules that reproduce PyTorch's schedulers as closed forms of the epoch,
 * so a resumed run (or any rank) gets the learning rate of epoch e without replaying steps,
 * and a fractional epoch (epoch + batch / batches_per_epoch) gives per-iteration values.
 *
 *  DC_LR_CONSTANT:                lr = base_lr
 *  DC_LR_COSINE_WARM_RESTARTS:    torch.optim.lr_scheduler.CosineAnnealingWarmRestarts
 *                                 (T_0, T_mult, eta_min)
 *  DC_LR_MULTISTEP:               torch.optim.lr_scheduler.MultiStepLR(milestones, gamma)
 *
 * Fill a schedule with one of the dc_lr_*_init functions (they validate), or fill the struct
 * yourself and call dc_lr_schedule_validate. */
#ifndef DIFFCLIP_SCHEDULE_H
#define DIFFCLIP_SCHEDULE_H

#include "diffclip/core/status.h"

enum dc_lr_kind { DC_LR_CONSTANT = 0, DC_LR_COSINE_WARM_RESTARTS, DC_LR_MULTISTEP };

#define DC_LR_MAX_MILESTONES 16

struct dc_lr_schedule {
  enum dc_lr_kind kind;
  double base_lr;
  /* DC_LR_COSINE_WARM_RESTARTS */
  int t_0;        /* epochs in the first cycle, >= 1 */
  int t_mult;     /* cycle length factor after each restart, >= 1 */
  double eta_min; /* the learning rate at the end of each cycle */
  /* DC_LR_MULTISTEP */
  int n_milestones;                       /* 0..DC_LR_MAX_MILESTONES */
  int milestones[DC_LR_MAX_MILESTONES];   /* strictly increasing epochs, >= 0 */
  double gamma;                           /* factor applied at each milestone, > 0 */
};

/* DC_OK, or DC_ERR_ARG with a message naming the bad field. */
enum dc_status dc_lr_schedule_validate(const struct dc_lr_schedule *s);

enum dc_status dc_lr_constant_init(struct dc_lr_schedule *s, double base_lr);
enum dc_status dc_lr_cosine_warm_restarts_init(struct dc_lr_schedule *s, double base_lr, int t_0,
                                               int t_mult, double eta_min);
enum dc_status dc_lr_multistep_init(struct dc_lr_schedule *s, double base_lr,
                                    const int *milestones, int n_milestones, double gamma);

/* The learning rate at `epoch` (>= 0; negative epochs are taken as 0). Epoch 0 is the
 * value before the scheduler's first step(), so the value for training epoch e (0-based) is
 * dc_lr_at(s, e). `s` must be valid. */
double dc_lr_at(const struct dc_lr_schedule *s, double epoch);

#endif
