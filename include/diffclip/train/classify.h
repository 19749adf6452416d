/* Classifying samples with a stage-2 model: the prompts and their tokens, the model, and
 * the batched, sharded prediction that fine-tuning's evaluation and `diffclip predict`
 * share (src/train/classify.c).
 *
 * A sample's class scores are the logits logit_scale x cosine(image, prompt) (the linear
 * head: its own logits); its probabilities their softmax. Inference uses the published
 * random timestep per sample, keyed by (run.seed, sample index) so that it does not depend
 * on the batching or the rank count, or timestep 0 with
 * finetune.timestep_zero_at_inference. */
#ifndef DIFFCLIP_TRAIN_CLASSIFY_H
#define DIFFCLIP_TRAIN_CLASSIFY_H

#include <stdint.h>

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"
#include "diffclip/model/model.h"
#include "diffclip/text/tokenizer.h"
#include "diffclip/train/data_source.h"

/* The prompts of N classes and their tokens (model.context ids each, with end-of-text
 * positions). */
struct dc_class_text {
  int N;
  char **prompts;
  struct dc_tokenizer *tok;
  int *tokens, *eot; /* (N * context), (N) */
};
/* From finetune.template or finetune.prompt, with the tokenizer of finetune.tokenizer, or
 * (vocab not NULL) the vocabulary table a fine-tuned checkpoint stores (one entry a line). */
enum dc_status dc_class_text_make(const struct dc_config *cfg, const char *const *names, const char *const *desc, int N,
                                  const char *vocab, struct dc_class_text *out);
void dc_class_text_free(struct dc_class_text *t);

/* The loss (and so the head) finetune.head and finetune.same_class_positives choose. */
enum dc_clip_loss dc_stage2_loss(const struct dc_config *cfg);
/* A stage-2 model for batches of B on run.backend's backend, with the class prompts'
 * tokens uploaded (not for the linear head); eval_only: for inference alone
 * (dc_clip_init_eval: a fraction of the memory). *out is malloc'd (dc_clip_free, then
 * free). */
enum dc_status dc_stage2_model(const struct dc_config *cfg, const struct dc_model_config *mcfg, enum dc_clip_loss loss,
                               const struct dc_class_text *text, int B, int eval_only, struct dc_clip **out);

/* Host buffers for batches of up to `cap` samples of smp, and the inference settings. */
struct dc_classifier {
  const struct dc_samples *smp;
  const struct dc_model_config *mcfg;
  enum dc_clip_loss loss;
  int N, cap, timestep_zero;
  uint64_t seed;
  int max_wall_s;     /* a slot's wall-time limit (pretrain.max_wall_s; 0 none) */
  const char *progress; /* NULL: quiet; else the label of rank 0's progress lines */
  float *hx[DC_MAX_MODALITIES];
  int *ht, *hlab, *hidx;
  float *feat, *text, *cls_w, *cls_b;
  double *logit; /* (N) one sample's scores */
};
enum dc_status dc_classifier_init(struct dc_classifier *k, const struct dc_config *cfg, const struct dc_samples *smp,
                                  const struct dc_model_config *mcfg, enum dc_clip_loss loss, int N, int cap);
void dc_classifier_free(struct dc_classifier *k);

/* Patches, timesteps and classes (lab may be NULL) of n samples idx into c's inputs, the
 * batch padded by repeating the last sample; timesteps (seed, stream, key + j), or 0. */
void dc_classifier_load(struct dc_classifier *k, struct dc_clip *c, const int *idx, const int *lab, int n,
                        uint64_t stream, uint64_t key, int zero_t);

/* What a classification gives, per sample (each may be NULL): pred the class (0-based);
 * score (two classes) class 1's probability; prob (n, N) every class's probability; top2
 * (n, 2) the two likeliest classes (1-based) and top2_prob (n, 2) their probabilities in
 * units of 1/65535. */
struct dc_class_out {
  int *pred;
  double *score;
  float *prob;
  uint8_t *top2;
  uint16_t *top2_prob;
};

/* n samples with model c (eval mode) into out, on this process. check_stop: 1 when it
 * stopped early for a stop request or the slot's end (out then incomplete), else 0. */
int dc_classify(struct dc_classifier *k, struct dc_clip *c, const int *idx, int n, const struct dc_class_out *out,
                int check_stop);
/* Every rank classifies its share of n samples (whole batches of the model's, in order, so
 * the outputs do not depend on the rank count); rank 0 receives all of them in out. Every
 * rank names the same outputs; on the other ranks out's pointers only say which (they are
 * never written: dc_class_out_wanted() gives one that holds nothing). DC_STOPPED on every
 * rank after a stop request. */
enum dc_status dc_classify_sharded(const struct dc_dist *d, struct dc_classifier *k, struct dc_clip *c, const int *idx,
                                   int n, const struct dc_class_out *out);

void *dc_class_out_wanted(void);

#endif
