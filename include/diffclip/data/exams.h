/* The MRNet exam store in the MPI program: reading it (serial HDF5, default driver), the
 * model's view of an exam, and the task's split.
 *
 * Model view. The three planes of an exam are three modalities. DiffCLIP's image encoder
 * takes per modality window x window tokens of C_m bands, channel-last (L, C_m). A plane
 * volume (S slices, H x W) becomes that patch: the slices are the bands (C_m = S) and each
 * slice is average-pooled by area to window x window tokens. Output cell (i, j) averages
 * the input over rows [i H / w, (i + 1) H / w) and columns [j W / w, (j + 1) W / w) in
 * continuous coordinates, a pixel cut by a cell border counting with the fraction inside
 * (OpenCV's INTER_AREA; 128 -> 11 averages about 11.6 x 11.6 pixels per token). The pooled
 * values are then min-max normalised per plane over the whole store, (x - min) / (max - min)
 * (the scenes' published global min-max, one pair per modality; a constant plane maps to
 * 0). Only the pooled tokens are kept in memory: 1250 exams x 3 planes x 32 x 121 floats
 * is 58 MB, where the resampled volumes would be 7.9 GB.
 *
 * A sample of the training loops is an exam index (0 .. n_exams-1, store order), as a
 * pixel index is for a scene (see diffclip/data_source.h, struct dc_samples). */
#ifndef DIFFCLIP_EXAMS_H
#define DIFFCLIP_EXAMS_H

#include <stdint.h>

#include "diffclip/data/split.h"
#include "diffclip/core/status.h"

#define DC_EXAMS_FORMAT_NAME "diffclip-exams"
#define DC_EXAMS_MAX_PLANES 4
#define DC_EXAMS_MAX_TASKS 8
#define DC_EXAMS_MAX_SPLITS 4

struct dc_exams {
  char name[64];
  int n_exams, n_planes, n_tasks, n_splits;
  int slices, height, width; /* the stored (S, H, W) */
  int window;                /* tokens per side after pooling */
  char plane_names[DC_EXAMS_MAX_PLANES][32];
  char task_names[DC_EXAMS_MAX_TASKS][64];
  char split_names[DC_EXAMS_MAX_SPLITS][32];
  int32_t *labels; /* (N, n_tasks) 0/1 */
  int32_t *split;  /* (N) index into split_names */
  int32_t *ids;    /* (N) exam numbers of the release */
  float *tokens[DC_EXAMS_MAX_PLANES]; /* (N, L, S) pooled, channel-last */
};

/* Area average of one volume: out (w*w, S) channel-last, token i * w + j, from vol
 * (S, H, W). H, W >= w >= 1. */
void dc_exam_pool(float *out, const float *vol, int S, int H, int W, int w);
/* Min-max normalisation of n values in place: (x - lo) / (hi - lo); 0 where hi <= lo. */
void dc_exams_minmax(float *x, size_t n, float lo, float hi);

/* 1 when `path` is an HDF5 file whose format attribute is "diffclip-exams", else 0. */
int dc_exams_is_store(const char *path);
/* Reads the header, labels, splits and the pooled tokens of exams [lo, hi) (the others
 * stay 0), with the default (serial) driver. Not normalised: dc_exams_normalise does that
 * once every exam is in. window >= 1 and at most the stored height and width. */
enum dc_status dc_exams_read(const char *path, int window, int lo, int hi, struct dc_exams *e);
/* Per-plane min-max over all exams (see the top of this file). */
void dc_exams_normalise(struct dc_exams *e);
void dc_exams_free(struct dc_exams *e);
/* The index of split `name`, or -1. */
int dc_exams_split_index(const struct dc_exams *e, const char *name);

/* The two classes of a binary task (0 = negative, 1 = positive): names for the prompts
 * ("normal knee" / "abnormal knee", ...) and a 15-30 word description each (prompt p5).
 * task: 0 abnormal, 1 ACL, 2 meniscus (the store's task order). */
enum dc_status dc_exams_task_classes(int task, const char *names[2], const char *descriptions[2]);

/* The split of one run for task `task`: k shots per class (small_class_shots when a class
 * has no more than k exams) and up to val_max validation exams, drawn from the exams of
 * split `train_split` exactly as dc_split_fewshot draws pixels (keyed by seed = run,
 * stream = class); the test set is every exam of split `test_split` (MRNet: the official
 * 120 valid exams). Indices are exam indices, labels 0/1. assign (N) replaces the store's
 * split of each exam when not NULL (dc_exams_assign_file's). */
enum dc_status dc_exams_split(const struct dc_exams *e, const int32_t *assign, int task, int train_split,
                              int test_split, int shots, int small_class_shots, uint64_t run, int val_max,
                              struct dc_split *out);
/* A custom split from the text file `path`: one exam a line, "ID,SPLIT" (or "ID SPLIT"),
 * ID an exam number of the store (its ids) and SPLIT "train" or "test"; blank lines, lines
 * from '#' on, and a first line "exam,split" are skipped. *assign (N, malloc'd) gets 0 for
 * train, 1 for test and -1 for an exam the file does not list. Errors name the file and
 * line: an unknown exam, one listed twice, another split word, no train or no test exam. */
enum dc_status dc_exams_assign_file(const struct dc_exams *e, const char *path, int32_t **assign);

#endif
