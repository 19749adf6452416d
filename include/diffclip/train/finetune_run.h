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

/* One run (one label draw) in its folder dir, resumable: a result.h5 made under this
 * configuration (dc_finetune_identity) is kept (rank 0 gets it in *res); a fine-tuned
 * checkpoint of it without a result is evaluated (a job stopped during the evaluation);
 * otherwise the run is fine-tuned from `pretrained` (ignored with finetune.init =
 * "scratch") and evaluated. evaluate: never fine-tunes, evaluates the stored checkpoint
 * where the result is missing or of another configuration. samples: a scene, or an exam
 * store (data.task, k shots per class from its train split, tested on its valid split;
 * result task "binary"). A stop request (signal, wall-time limit) honoured at an epoch or
 * batch boundary returns DC_STOPPED on every rank; the unfinished part of this run is
 * redone when the job resumes. Collective; res may be NULL, else free it with
 * dc_result_free (rank 0); *kept (may be NULL) tells whether the result was kept. */
enum dc_status dc_finetune_resume(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_samples *samples,
                                  int run, int shots, const char *pretrained, const char *dir, int evaluate,
                                  struct dc_result *res, int *kept);

/* The identity of a stage-2 result: the configuration's SHA-256 with the keys that do not
 * change a run's result (paths, logging, run lists, bench.*) at their defaults. Stored in
 * result.h5 and the fine-tuned checkpoint as config_sha256. */
enum dc_status dc_finetune_identity(const struct dc_config *c, char hex[DC_SHA256_HEX]);

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
