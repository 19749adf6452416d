/* The result of one fine-tuning + evaluation run (one dataset, one shot setting, one run
 * index), as `diffclip evaluate` writes it and `diffclip bench` / `diffclip report` read it:
 * one HDF5 file, result.h5, per run (format "diffclip-result", version 1; docs/formats.md).
 *
 *   /             attrs: format, format_version, dataset, shots, run, n_classes, task
 *                        ("classes" | "binary"), oa, aa, kappa, n_test, finetune_s, evaluate_s,
 *                        best_epoch, config_sha256, protocol ("few_shot" | "official": how
 *                        the labels were split; optional, "" when absent), target (exam
 *                        stores: the task, "abnormal" | "acl" | "meniscus"; optional)
 *   /classes/names          strings (n_classes)
 *   /per_class              float64 (n_classes): accuracy per class (NaN: no test pixel)
 *   /confusion              int64 (n_classes, n_classes), rows = truth
 *   /curves/finetune_loss   float64 (epochs): mean training loss per epoch
 *   /curves/val_acc         float64 (epochs): validation accuracy per epoch
 *   /map/prediction         int32 (H, W): predicted class 1..n_classes of every pixel
 *                           (absent when no scene map was made)
 *   /map/truth              int32 (H, W): the merged label map (0 = unlabelled)
 *   /map/test               uint8 (H, W): 1 where the pixel is in the test set
 *   /map/rgb                uint8 (H, W, 3): the scene's false-colour composite (optional);
 *                           attr rgb_bands (3): its bands, 0-based, of the first modality
 *   /map/top2               uint8 (H, W, 2): every pixel's two likeliest classes 1..n_classes,
 *                           likeliest first (optional; 0 when there is no second class)
 *   /map/top2_prob          uint16 (H, W, 2): their probabilities x 65535 (attr scale = 1/65535)
 *   /exams/id, score, prediction, truth   (n_exams) per test exam (task binary; optional)
 *   /binary (MRNet, task "binary"): attrs accuracy, auc, sensitivity, specificity, threshold */
#ifndef DIFFCLIP_RESULT_H
#define DIFFCLIP_RESULT_H

#include <stdint.h>

#include "diffclip/core/status.h"

#define DC_RESULT_FORMAT "diffclip-result"
#define DC_RESULT_VERSION 1
#define DC_RESULT_MAX_CLASSES 64

struct dc_result {
  char dataset[64];
  int shots, run, n_classes;
  char task[16];                                   /* "classes" or "binary" */
  char class_names[DC_RESULT_MAX_CLASSES][64];
  double oa, aa, kappa;                            /* fractions in [0, 1] */
  double per_class[DC_RESULT_MAX_CLASSES];
  int64_t *confusion;                              /* (n_classes * n_classes), malloc'd */
  int64_t n_test;
  double finetune_s, evaluate_s;
  int best_epoch;
  char config_sha256[65];
  char protocol[16];                               /* "few_shot", "official"; "" not recorded */
  char target[16];                                 /* exams: "abnormal", "acl", "meniscus"; else "" */
  int n_epochs;
  double *finetune_loss, *val_acc;                 /* (n_epochs), malloc'd */
  int height, width;                               /* 0 when there is no map */
  uint8_t *rgb;                                    /* (height, width, 3) false-colour composite; NULL none */
  int n_exams;                                     /* task binary: the test exams (0: not stored) */
  int32_t *exam_id, *exam_pred, *exam_truth;       /* (n_exams): the release's exam number, 0/1 at the threshold */
  double *exam_score;                              /* (n_exams): the positive class's probability */
  int rgb_bands[3];                                /* the composite's bands (0-based, first modality) */
  int32_t *prediction, *truth;                     /* (H*W), malloc'd or NULL */
  uint8_t *test_mask;                              /* (H*W), malloc'd or NULL */
  uint8_t *top2;                                   /* (H*W, 2) two likeliest classes 1..n, or NULL */
  uint16_t *top2_prob;                             /* (H*W, 2) their probabilities x 65535 */
  /* task "binary" */
  double accuracy, auc, sensitivity, specificity, threshold;
};

/* Atomic (temp file + rename). */
enum dc_status dc_result_write(const char *path, const struct dc_result *r);
enum dc_status dc_result_read(const char *path, struct dc_result *r);
void dc_result_free(struct dc_result *r);

#endif
