/* Softmax cross-entropy of logits against integer class ids, mean over rows, for the CPU
 * backend (the CLIP contrastive loss and the classification head).
 *
 * The forward keeps the softmax probabilities for the backward. Each row's loss is
 * computed as logsumexp(x) - x[target] with the row maximum subtracted, not as
 * -log(prob[target]): a confident wrong prediction underflows prob to 0 in float, while the
 * log-sum-exp form stays finite. The row losses are summed in double.
 *
 * Backward ASSIGNS dlogits = dloss * (probs - onehot(target)) / N. */
#include "backend/cpu/real.h"

void OP(cross_entropy_forward)(real *loss,         /* (1) */
                               real *probs,        /* (N, V) */
                               const real *logits, /* (N, V) */
                               const int *targets, /* (N), in [0, V) */
                               int N, int V) {
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int n = 0; n < N; n++) {
    const real *x = logits + (size_t)n * V;
    real *p = probs + (size_t)n * V;
    real mx = x[0];
    for (int v = 1; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double sum = 0;
    for (int v = 0; v < V; v++) {
      p[v] = exp(x[v] - mx);
      sum += p[v];
    }
    real inv = (real)(1.0 / sum);
#pragma omp simd
    for (int v = 0; v < V; v++) p[v] *= inv;
    total += (double)mx + log(sum) - (double)x[targets[n]];
  }
  *loss = N > 0 ? (real)(total / N) : 0;
}

void OP(cross_entropy_backward)(real *dlogits,      /* (N, V), = */
                                const real *probs,  /* (N, V) */
                                const int *targets, /* (N) */
                                int N, int V, real dloss) {
  if (dlogits == NULL || N <= 0) return;
  real s = dloss / (real)N;
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; n++) {
    const real *p = probs + (size_t)n * V;
    real *d = dlogits + (size_t)n * V;
#pragma omp simd
    for (int v = 0; v < V; v++) d[v] = s * p[v];
    d[targets[n]] -= s;
  }
}
