/* Evaluation metrics.
 *
 * Multi-class (the scenes): a confusion matrix counted from labels, then overall accuracy
 * (OA), per-class accuracy, average accuracy (AA) and Cohen's kappa, as the paper reports.
 * Class labels are 0-based here (class k of the manifest's 1..N is k-1).
 * - Per-class accuracy of class k = confusion[k][k] / (row k's sum): the recall of k.
 * - AA is the mean of per-class accuracy over the classes that have test samples; a class
 *   without any gets NaN as its accuracy and is left out of AA (n_present says how many
 *   counted). Few-shot draws can leave a small class with no test pixels.
 * - kappa = (p_o - p_e) / (1 - p_e), p_o = OA, p_e = sum_k row_k * col_k / n^2. It is NaN
 *   when p_e = 1 (every sample and every prediction in one class), as scikit-learn's.
 *
 * Binary (MRNet's three tasks): from truth (0/1) and scores (the probability of 1):
 * accuracy, sensitivity, specificity at a threshold (score >= threshold predicts 1), and
 * the ROC AUC as the Mann-Whitney statistic: the fraction of (positive, negative) pairs in
 * which the positive scores higher, a tie counting one half (equal to the trapezoidal ROC
 * area, and to scikit-learn's roc_auc_score). Undefined values (AUC without both classes,
 * sensitivity without positives, specificity without negatives) are NaN. */
#ifndef DIFFCLIP_METRICS_H
#define DIFFCLIP_METRICS_H

#include <stdint.h>

#include "diffclip/core/status.h"

/* Adds n (truth, prediction) pairs to confusion (n_classes, n_classes), rows = truth,
 * columns = prediction; it accumulates (ranks count their shard, then sum). A label
 * outside 0..n_classes-1 is DC_ERR_ARG naming the sample. */
enum dc_status dc_confusion_add(int64_t *confusion, int n_classes, const int *truth,
                                const int *pred, int64_t n);
/* The same into a zeroed matrix. */
enum dc_status dc_confusion_count(int64_t *confusion, int n_classes, const int *truth,
                                  const int *pred, int64_t n);

struct dc_class_metrics {
  int n_classes;
  int n_present; /* classes with at least one sample (the ones AA averages) */
  int64_t n;     /* samples */
  int64_t correct;
  double oa, aa, kappa;
};

/* Metrics of a confusion matrix; per_class (n_classes, may be NULL) gets each class's
 * accuracy (NaN for a class without samples). An empty matrix is DC_ERR_ARG. */
enum dc_status dc_class_metrics(const int64_t *confusion, int n_classes,
                                struct dc_class_metrics *m, double *per_class);

struct dc_binary_metrics {
  int64_t n, positives, negatives;
  int64_t tp, fp, tn, fn; /* at the threshold */
  double threshold;
  double accuracy, sensitivity, specificity, auc;
};

/* truth (n) in {0, 1}, score (n) finite. Labels other than 0/1 are DC_ERR_ARG, a NaN or
 * infinite score DC_ERR_NUMERIC, both naming the sample; n = 0 is DC_ERR_ARG. */
enum dc_status dc_binary_metrics(const int *truth, const double *score, int64_t n,
                                 double threshold, struct dc_binary_metrics *m);

#endif
