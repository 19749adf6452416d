/* Confusion matrix, OA / AA / kappa, and the binary metrics with the rank-sum AUC. */
#include "diffclip/train/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum dc_status dc_confusion_add(int64_t *confusion, int n_classes, const int *truth,
                                const int *pred, int64_t n) {
  if (n_classes < 1) return DC_ERROR(DC_ERR_ARG, "%d classes (expected at least 1)", n_classes);
  if (n < 0) return DC_ERROR(DC_ERR_ARG, "%lld samples (expected >= 0)", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (truth[i] < 0 || truth[i] >= n_classes || pred[i] < 0 || pred[i] >= n_classes)
      return DC_ERROR(DC_ERR_ARG, "sample %lld: truth %d, prediction %d (expected classes "
                      "0..%d)", (long long)i, truth[i], pred[i], n_classes - 1);
  }
  for (int64_t i = 0; i < n; i++) confusion[(int64_t)truth[i] * n_classes + pred[i]]++;
  return DC_OK;
}

enum dc_status dc_confusion_count(int64_t *confusion, int n_classes, const int *truth,
                                  const int *pred, int64_t n) {
  if (n_classes < 1) return DC_ERROR(DC_ERR_ARG, "%d classes (expected at least 1)", n_classes);
  memset(confusion, 0, (size_t)n_classes * (size_t)n_classes * sizeof *confusion);
  return dc_confusion_add(confusion, n_classes, truth, pred, n);
}

enum dc_status dc_class_metrics(const int64_t *confusion, int n_classes,
                                struct dc_class_metrics *m, double *per_class) {
  if (n_classes < 1) return DC_ERROR(DC_ERR_ARG, "%d classes (expected at least 1)", n_classes);
  memset(m, 0, sizeof *m);
  m->n_classes = n_classes;
  double sum_acc = 0.0, chance = 0.0; /* chance: sum_k row_k * col_k */
  for (int k = 0; k < n_classes; k++) {
    int64_t row = 0, col = 0;
    for (int j = 0; j < n_classes; j++) {
      int64_t rk = confusion[(int64_t)k * n_classes + j], ck = confusion[(int64_t)j * n_classes + k];
      if (rk < 0 || ck < 0)
        return DC_ERROR(DC_ERR_ARG, "confusion matrix has a negative count in row %d or "
                        "column %d", k, k);
      row += rk;
      col += ck;
    }
    int64_t hit = confusion[(int64_t)k * n_classes + k];
    m->n += row;
    m->correct += hit;
    chance += (double)row * (double)col;
    double acc = row > 0 ? (double)hit / (double)row : NAN;
    if (per_class) per_class[k] = acc;
    if (row > 0) {
      sum_acc += acc;
      m->n_present++;
    }
  }
  if (m->n == 0)
    return DC_ERROR(DC_ERR_ARG, "confusion matrix of %d classes is empty (expected test samples)",
                    n_classes);
  double n = (double)m->n;
  m->oa = (double)m->correct / n;
  m->aa = sum_acc / m->n_present;
  double pe = chance / (n * n);
  m->kappa = pe < 1.0 ? (m->oa - pe) / (1.0 - pe) : NAN;
  return DC_OK;
}

struct scored {
  double s;
  int y;
};

static int cmp_score(const void *a, const void *b) {
  double x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
  return (x > y) - (x < y);
}

enum dc_status dc_binary_metrics(const int *truth, const double *score, int64_t n,
                                 double threshold, struct dc_binary_metrics *m) {
  memset(m, 0, sizeof *m);
  if (n < 1) return DC_ERROR(DC_ERR_ARG, "%lld samples (expected at least 1)", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    if (truth[i] != 0 && truth[i] != 1)
      return DC_ERROR(DC_ERR_ARG, "sample %lld: label %d (expected 0 or 1)", (long long)i, truth[i]);
    if (!isfinite(score[i]))
      return DC_ERROR(DC_ERR_NUMERIC, "sample %lld: score %g (expected a finite number)",
                      (long long)i, score[i]);
  }
  m->n = n;
  m->threshold = threshold;
  for (int64_t i = 0; i < n; i++) {
    int said = score[i] >= threshold;
    if (truth[i]) {
      m->positives++;
      m->tp += said;
      m->fn += !said;
    } else {
      m->negatives++;
      m->fp += said;
      m->tn += !said;
    }
  }
  m->accuracy = (double)(m->tp + m->tn) / (double)n;
  m->sensitivity = m->positives ? (double)m->tp / (double)m->positives : NAN;
  m->specificity = m->negatives ? (double)m->tn / (double)m->negatives : NAN;
  m->auc = NAN;
  if (!m->positives || !m->negatives) return DC_OK;

  /* Mann-Whitney: walk the scores in ascending groups of equal value; a positive beats
   * every negative below its group and ties half of those in it. Twice the count is an
   * exact integer. */
  struct scored *v = malloc((size_t)n * sizeof *v);
  DC_CHECK_ALLOC(v);
  for (int64_t i = 0; i < n; i++) v[i] = (struct scored){score[i], truth[i]};
  qsort(v, (size_t)n, sizeof *v, cmp_score);
  int64_t neg_below = 0;
  double twice_u = 0.0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i, pos = 0, neg = 0;
    for (; j < n && v[j].s == v[i].s; j++) {
      pos += v[j].y;
      neg += !v[j].y;
    }
    twice_u += 2.0 * (double)pos * (double)neg_below + (double)pos * (double)neg;
    neg_below += neg;
    i = j;
  }
  free(v);
  m->auc = twice_u / (2.0 * (double)m->positives * (double)m->negatives);
  return DC_OK;
}
