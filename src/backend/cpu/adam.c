/* One Adam / AdamW step for the CPU backend, following torch.optim.Adam and AdamW
 * (single-tensor path, amsgrad off, maximize off) operation for operation:
 *
 *   decoupled = 0 (Adam):  g = grad + wd * param
 *   decoupled = 1 (AdamW): param *= 1 - lr * wd;  g = grad
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
 *   param -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 *
 * The bias corrections and the step size are formed in double, like PyTorch's Python
 * scalars, and rounded once to `real`; the per-element arithmetic is in `real`, like the
 * float32 tensor ops. `step` counts from 1. The hyper-parameters arrive as double (ops.h),
 * like PyTorch's Python floats. */
#include "backend/cpu/real.h"

void OP(adam_update)(real *param,      /* (n) */
                     const real *grad, /* (n) */
                     real *m,          /* (n), first moment */
                     real *v,          /* (n), second moment */
                     size_t n, double lr, double beta1, double beta2, double eps,
                     double weight_decay, int step, int decoupled) {
  double bias1 = 1.0 - pow((double)beta1, (double)step);
  double bias2 = 1.0 - pow((double)beta2, (double)step);
  real step_size = (real)((double)lr / bias1);
  real bias2_sqrt = (real)sqrt(bias2);
  real b1 = (real)beta1, b2 = (real)beta2, one_m_b1 = (real)(1.0 - (double)beta1),
       one_m_b2 = (real)(1.0 - (double)beta2), e = (real)eps, wd = (real)weight_decay;
  real decay = (real)(1.0 - (double)lr * (double)weight_decay);
  int l2 = !decoupled && weight_decay != 0.0;
  int shrink = decoupled && weight_decay != 0.0;
#pragma omp parallel for simd schedule(static) if (n >= 4096)
  for (size_t i = 0; i < n; i++) {
    real p = param[i];
    if (shrink) p *= decay;
    real g = l2 ? grad[i] + wd * p : grad[i];
    real mi = b1 * m[i] + one_m_b1 * g;
    real vi = b2 * v[i] + one_m_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - step_size * (mi / (sqrt(vi) / bias2_sqrt + e));
  }
}
