/* Metrics against numbers worked out by hand (each derivation is in the comment above its
 * check): a 3-class confusion matrix, a class without test samples, all correct, all
 * wrong, one class only; the binary metrics and an AUC with ties; the errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "diffclip/train/metrics.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static int near(double got, double want) {
  int ok = fabs(got - want) <= 1e-12 * (1.0 + fabs(want));
  if (!ok) fprintf(stderr, "  got %.17g, want %.17g\n", got, want);
  return ok;
}

/* Labels that produce the given confusion matrix (rows = truth), for dc_confusion_count. */
static int64_t labels_of(const int64_t *cm, int c, int *truth, int *pred) {
  int64_t n = 0;
  for (int i = 0; i < c; i++)
    for (int j = 0; j < c; j++)
      for (int64_t r = 0; r < cm[i * c + j]; r++) truth[n] = i, pred[n++] = j;
  return n;
}

static void test_three_classes(void) {
  printf("3 classes\n");
  /*            predicted
   *  truth    0  1  2   row
   *    0      5  1  0    6
   *    1      2  3  1    6
   *    2      0  1  4    5
   *  column   7  5  5   n = 17
   * OA = (5 + 3 + 4) / 17 = 12/17
   * per class: 5/6, 3/6, 4/5; AA = (25 + 15 + 24) / 30 / 3 = 64/90 = 32/45
   * p_e = (6*7 + 6*5 + 5*5) / 17^2 = 97/289, p_o = 204/289
   * kappa = (204 - 97) / (289 - 97) = 107/192 */
  const int64_t want_cm[9] = {5, 1, 0, 2, 3, 1, 0, 1, 4};
  int truth[32], pred[32];
  int64_t n = labels_of(want_cm, 3, truth, pred);
  /* shuffle the order a little: metrics must not depend on it */
  for (int64_t i = 0; i + 3 < n; i += 4) {
    int t = truth[i], p = pred[i];
    truth[i] = truth[i + 3], pred[i] = pred[i + 3];
    truth[i + 3] = t, pred[i + 3] = p;
  }
  int64_t cm[9];
  expect(dc_confusion_count(cm, 3, truth, pred, n) == DC_OK && memcmp(cm, want_cm, sizeof cm) == 0,
         "confusion matrix counted from labels, rows = truth");
  struct dc_class_metrics m;
  double pc[3];
  expect(dc_class_metrics(cm, 3, &m, pc) == DC_OK && m.n == 17 && m.correct == 12 &&
             m.n_present == 3,
         "17 samples, 12 correct, 3 classes present");
  expect(near(m.oa, 12.0 / 17.0), "OA = 12/17");
  expect(near(pc[0], 5.0 / 6.0) && near(pc[1], 0.5) && near(pc[2], 0.8), "per class 5/6, 1/2, 4/5");
  expect(near(m.aa, 32.0 / 45.0), "AA = 32/45");
  expect(near(m.kappa, 107.0 / 192.0), "kappa = 107/192");

  /* Accumulating two halves gives the same matrix (how ranks combine their shards). */
  int64_t acc[9] = {0};
  expect(dc_confusion_add(acc, 3, truth, pred, 9) == DC_OK &&
             dc_confusion_add(acc, 3, truth + 9, pred + 9, n - 9) == DC_OK &&
             memcmp(acc, want_cm, sizeof acc) == 0,
         "dc_confusion_add accumulates");
}

static void test_edges(void) {
  printf("edge cases\n");
  /* Class 3 has no test sample but is predicted once.
   *  truth    0  1  2  3   row
   *    0      2  0  0  1    3
   *    1      0  3  0  0    3
   *    2      1  0  1  0    2
   *    3      0  0  0  0    0
   *  column   3  3  1  1   n = 8
   * OA = 6/8; per class 2/3, 1, 1/2, NaN; AA over the 3 present classes
   * = (4/6 + 6/6 + 3/6) / 3 = 13/18
   * p_e = (3*3 + 3*3 + 2*1 + 0*1) / 64 = 20/64 = 5/16
   * kappa = (12/16 - 5/16) / (11/16) = 7/11 */
  const int64_t absent[16] = {2, 0, 0, 1, 0, 3, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
  struct dc_class_metrics m;
  double pc[4];
  expect(dc_class_metrics(absent, 4, &m, pc) == DC_OK && m.n_present == 3 && near(m.oa, 0.75) &&
             near(pc[0], 2.0 / 3.0) && near(pc[1], 1.0) && near(pc[2], 0.5) && isnan(pc[3]),
         "absent class: OA 3/4, its accuracy NaN");
  expect(near(m.aa, 13.0 / 18.0), "absent class left out of AA: 13/18");
  expect(near(m.kappa, 7.0 / 11.0), "absent class: kappa 7/11");

  /* All correct: [[3,0],[0,2]]: p_e = (9 + 4)/25, p_o = 1 -> kappa 1. */
  const int64_t right[4] = {3, 0, 0, 2};
  expect(dc_class_metrics(right, 2, &m, NULL) == DC_OK && near(m.oa, 1) && near(m.aa, 1) &&
             near(m.kappa, 1),
         "all correct: OA = AA = kappa = 1");
  /* All wrong: [[0,3],[2,0]]: p_o = 0, p_e = (3*2 + 2*3)/25 = 12/25 -> kappa = -12/13. */
  const int64_t wrong[4] = {0, 3, 2, 0};
  expect(dc_class_metrics(wrong, 2, &m, pc) == DC_OK && near(m.oa, 0) && near(m.aa, 0) &&
             near(pc[0], 0) && near(m.kappa, -12.0 / 13.0),
         "all wrong: OA = AA = 0, kappa = -12/13");
  /* One class, all correct: p_e = 1, kappa undefined. */
  const int64_t one[4] = {4, 0, 0, 0};
  expect(dc_class_metrics(one, 2, &m, NULL) == DC_OK && near(m.oa, 1) && near(m.aa, 1) &&
             m.n_present == 1 && isnan(m.kappa),
         "one class only: kappa NaN");
  const int64_t empty[4] = {0};
  expect(dc_class_metrics(empty, 2, &m, NULL) == DC_ERR_ARG, "empty matrix: DC_ERR_ARG");
  int64_t cm[4] = {0};
  int t[2] = {0, 2}, p[2] = {0, 1};
  expect(dc_confusion_add(cm, 2, t, p, 2) == DC_ERR_ARG && cm[0] == 0,
         "label out of range: DC_ERR_ARG, nothing counted");
}

static void test_binary(void) {
  printf("binary\n");
  /* positives 0.9 0.7 0.5 0.3; negatives 0.7 0.5 0.2 0.1 0.5 (P = 4, N = 5, 20 pairs).
   * Pairs a positive wins (tie = 1/2): 0.9: 5; 0.7: 4 + 1/2 (ties 0.7); 0.5: 2 + 2 * 1/2
   * (ties both 0.5s); 0.3: 2 (beats 0.2, 0.1). U = 14.5, AUC = 14.5 / 20 = 0.725.
   * Rank check: ascending 0.1n 0.2n 0.3p 0.5p 0.5n 0.5n 0.7p 0.7n 0.9p, midranks
   * 1 2 3 5 5 5 7.5 7.5 9; R_pos = 3 + 5 + 7.5 + 9 = 24.5; U = 24.5 - 4*5/2 = 14.5.
   * Threshold 0.5 (score >= 0.5 says positive): TP 3, FN 1, FP 3, TN 2:
   * accuracy 5/9, sensitivity 3/4, specificity 2/5.
   * Threshold 0.6: TP 2, FN 2, FP 1, TN 4: accuracy 6/9, sensitivity 1/2, specificity 4/5. */
  const int y[9] = {1, 0, 1, 0, 1, 0, 0, 1, 0};
  const double s[9] = {0.9, 0.7, 0.7, 0.5, 0.5, 0.2, 0.1, 0.3, 0.5};
  struct dc_binary_metrics m;
  expect(dc_binary_metrics(y, s, 9, 0.5, &m) == DC_OK && m.positives == 4 && m.negatives == 5,
         "4 positives, 5 negatives");
  expect(near(m.auc, 0.725), "AUC with ties = 14.5/20");
  expect(m.tp == 3 && m.fn == 1 && m.fp == 3 && m.tn == 2 && near(m.accuracy, 5.0 / 9.0) &&
             near(m.sensitivity, 0.75) && near(m.specificity, 0.4),
         "threshold 0.5: accuracy 5/9, sensitivity 3/4, specificity 2/5");
  expect(dc_binary_metrics(y, s, 9, 0.6, &m) == DC_OK && m.tp == 2 && m.tn == 4 &&
             near(m.accuracy, 6.0 / 9.0) && near(m.sensitivity, 0.5) && near(m.specificity, 0.8) &&
             near(m.auc, 0.725),
         "threshold 0.6: 6/9, 1/2, 4/5; AUC unchanged");

  const int y2[4] = {0, 0, 1, 1};
  const double up[4] = {0.1, 0.2, 0.8, 0.9}, down[4] = {0.9, 0.8, 0.2, 0.1}, flat[4] = {0.5, 0.5, 0.5, 0.5};
  expect(dc_binary_metrics(y2, up, 4, 0.5, &m) == DC_OK && near(m.auc, 1) && near(m.accuracy, 1),
         "separated: AUC 1");
  expect(dc_binary_metrics(y2, down, 4, 0.5, &m) == DC_OK && near(m.auc, 0) && near(m.accuracy, 0),
         "reversed: AUC 0");
  expect(dc_binary_metrics(y2, flat, 4, 0.5, &m) == DC_OK && near(m.auc, 0.5), "all tied: AUC 1/2");
  const int ones[2] = {1, 1};
  expect(dc_binary_metrics(ones, up, 2, 0.5, &m) == DC_OK && isnan(m.auc) && isnan(m.specificity) &&
             near(m.sensitivity, 0.0),
         "positives only: AUC and specificity NaN");
  const int bad[2] = {0, 2};
  expect(dc_binary_metrics(bad, up, 2, 0.5, &m) == DC_ERR_ARG, "label 2: DC_ERR_ARG");
  const double nan_s[2] = {0.1, NAN};
  expect(dc_binary_metrics(y2 + 1, nan_s, 2, 0.5, &m) == DC_ERR_NUMERIC, "NaN score: DC_ERR_NUMERIC");
  expect(dc_binary_metrics(y2, up, 0, 0.5, &m) == DC_ERR_ARG, "no samples: DC_ERR_ARG");
}

int main(void) {
  test_three_classes();
  test_edges();
  test_binary();
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
