/* Train / validation / test splits of a scene's labelled pixels (src/data/split.c).
 *
 * Few-shot protocol (published, MODEL.md "Data protocol"): the train and test rasters are
 * merged; per class c (1..N) the class's labelled pixels, in raster order, are shuffled by
 * Fisher-Yates with the counter-based RNG keyed (seed = run, stream = c); the first k are
 * the training shots, or 15 when the class has <= k pixels (the published rule, kept
 * as-is); a class-proportional validation draw follows from the remaining pixels, and all
 * the others are the test set.
 *
 * Official protocol: train = the train raster, test = the test raster; a validation set,
 * when asked for, is drawn class-proportionally from the train pixels (shuffled per class
 * keyed (seed, stream = c)) and removed from training.
 *
 * Validation size and apportionment (both protocols): V = min(val_max, floor(P / 2)) where
 * P is the number of pool pixels (left after the shots, or the train pixels); class c gets
 * its Hamilton (largest-remainder) share of V in proportion to its pool size P_c (ties to
 * the lower class id), capped at P_c - 1 so that a class never loses its last pool pixel;
 * it takes the first of its pool in shuffled order. The published code draws a proportion
 * and then keeps a random 200: the expected per-class counts are the same.
 *
 * Output lists are in raster order (pixel index = row * W + col); labels are class ids
 * 0..N-1. The draws do not reproduce the published numpy ones (another generator); the
 * counts and the rule do. */
#ifndef DIFFCLIP_SPLIT_H
#define DIFFCLIP_SPLIT_H

#include <stdint.h>

#include "diffclip/data/scene.h"
#include "diffclip/core/status.h"

#define DC_SPLIT_FALLBACK_SHOTS 15

struct dc_split {
  int n_classes;
  int n_train, n_val, n_test;
  int *train_idx, *val_idx, *test_idx; /* pixel indices, raster order */
  int *train_lab, *val_lab, *test_lab; /* class ids 0..n_classes-1 */
  int train_per_class[DC_SCENE_MAX_CLASSES], val_per_class[DC_SCENE_MAX_CLASSES],
      test_per_class[DC_SCENE_MAX_CLASSES];
};

/* Few-shot split of run `run` with `shots` (k >= 1) per class (small_class_shots, published
 * DC_SPLIT_FALLBACK_SHOTS = 15, for a class with no more than k pixels) and up to val_max
 * (>= 0) validation pixels. train and test are (H, W) label rasters with values 0..n_classes; a
 * pixel labelled in both must carry the same class. */
enum dc_status dc_split_fewshot(const int32_t *train, const int32_t *test, int H, int W, int n_classes, int shots,
                                int small_class_shots, uint64_t run, int val_max, struct dc_split *out);
/* Official split; val_max = 0 gives no validation set. A pixel in both rasters is refused. */
enum dc_status dc_split_official(const int32_t *train, const int32_t *test, int H, int W, int n_classes,
                                 uint64_t seed, int val_max, struct dc_split *out);
void dc_split_free(struct dc_split *s);

#endif
