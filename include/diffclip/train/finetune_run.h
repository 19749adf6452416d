/* Stage 2 for one run (one label draw): the published protocol by default.
 *
 * Every rank computes the same split, prompts and tokenizer. Rank 0 fine-tunes (k shots per
 * class, Adam, multistep schedule, the epoch with the best validation accuracy kept; the
 * validation pixels are never test pixels); the weights are then broadcast and every rank
 * classifies its share of the test pixels (and of the whole scene for the map), gathered on
 * rank 0, which computes the metrics and writes <dir>/result.h5 and the fine-tuned
 * checkpoint <dir>/ckpt/ (with the tokenizer's vocabulary). */
#ifndef DIFFCLIP_FINETUNE_RUN_H
#define DIFFCLIP_FINETUNE_RUN_H

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"
#include "diffclip/io/result.h"
#include "diffclip/data/scene.h"

struct dc_samples; /* diffclip/data_source.h */

/* scene: loaded and normalised (dc_scene_from_config); pretrained: the stage-1 checkpoint
 * (ignored with finetune.init = "scratch"); dir: this run's folder; shots: k. Collective.
 * On rank 0, *res holds the result (free with dc_result_free); it may be NULL. */
enum dc_status dc_finetune_one(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_scene *scene,
                               int run, int shots, const char *pretrained, const char *dir, struct dc_result *res);

/* The same on any samples (data_source.h): for an exam store, the task data.task with k
 * shots per class from its train split, tested on its valid split; result task "binary"
 * (accuracy, AUC, sensitivity, specificity of the positive class's probability at 0.5). */
enum dc_status dc_finetune_samples_one(const struct dc_dist *d, const struct dc_config *cfg,
                                       const struct dc_samples *samples, int run, int shots, const char *pretrained,
                                       const char *dir, struct dc_result *res);

/* Evaluates the fine-tuned model of <dir>/ckpt/ckpt_finetuned.h5 (with its stored
 * vocabulary) on this run's split again, rewriting <dir>/result.h5 (without curves). */
enum dc_status dc_evaluate_one(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_scene *scene,
                               int run, int shots, const char *dir, struct dc_result *res);

/* finetune.runs runs (first_run ..) at finetune.shots in <run.out_dir>/<run.name>/finetune/
 * shots_<k>/run_<r>: fine-tuned and evaluated, or (evaluate) re-evaluated; rank 0 logs the
 * mean and standard deviation of OA, AA and kappa (exams: accuracy, AUC, sensitivity and
 * specificity). Collective. */
enum dc_status dc_finetune_runs(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_samples *samples,
                                const char *pretrained, int evaluate);

/* The stage-1 checkpoint fine-tuning starts from: finetune.checkpoint, or the newest valid
 * one of <run.out_dir>/<run.name>/ckpt. Collective; "" with an error when none. */
enum dc_status dc_finetune_find_pretrained(const struct dc_dist *d, const struct dc_config *cfg, char *path, size_t cap);

#endif
