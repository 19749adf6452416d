/* Stage 2 for one run (see finetune_run.h): split, prompts, tokenizer, fine-tuning on rank
 * 0 with the best-validation epoch kept, then sharded evaluation and the result file. The
 * samples are a scene's pixels or an exam store's exams (data_source.h); an exam run is a
 * binary task scored by the positive class's probability. */
#include "diffclip/io/geotiff.h"
#include "diffclip/train/finetune_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diffclip/io/checkpoint.h"
#include "diffclip/train/data_source.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/train/metrics.h"
#include "diffclip/data/patch.h"
#include "diffclip/text/prompts.h"
#include "diffclip/core/rng.h"
#include "diffclip/train/schedule.h"
#include "diffclip/data/split.h"
#include "diffclip/text/tokenizer.h"
#include "diffclip/train/slot.h"
#include "diffclip/train/train.h"

struct ft {
  const struct dc_dist *d;
  const struct dc_config *cfg;
  const struct dc_scene *s;     /* NULL for an exam store */
  struct dc_samples smp;
  const char *const *class_names, *const *class_desc; /* (N) */
  int run, shots, N;
  struct dc_split split;
  char **prompts;
  struct dc_tokenizer *tok;
  int *tokens, *eot;           /* (N * context), (N) */
  struct dc_model_config mcfg;
  enum dc_clip_loss loss;
  struct dc_clip *train, *eval; /* train: rank 0 only */
  float *hx[DC_MAX_MODALITIES]; /* host patches (max batch) */
  int *ht, *hlab, *hidx;
  float *feat, *text;           /* host features (max batch, D), (N, D) normalised */
  float *cls_w, *cls_b;         /* linear head on the host (N, D), (N) */
  double *epoch_loss, *val_acc;
  int n_epochs, best_epoch;
  double finetune_s, evaluate_s;
  const char *from_ckpt; /* evaluate a fine-tuned checkpoint instead of training */
};

/* The keys that do not change a run's result: where it lives, how it is logged and run,
 * which runs and datasets the job holds (the run index and shot count are its folder). */
/* data.task as its configuration text ("abnormal", "acl", "meniscus") */
static const char *const data_task_text[] = {DC_DATA_TASK_CHOICES(DC_CONFIG_ENUM_TEXT)};

static const char *const finetune_operational[] = {
    "run.name", "run.out_dir", "run.threads", "run.log_level", "run.log_all_ranks", "run.backend", "data.scene",
    "data.study", "data.paper", "pretrain.max_wall_s", "pretrain.log_every", "pretrain.checkpoint_every",
    "pretrain.keep_checkpoints", "pretrain.resume", "finetune.runs", "finetune.first_run", "finetune.log_every",
    "finetune.eval_batch", "bench."};

enum dc_status dc_finetune_identity(const struct dc_config *c, char hex[DC_SHA256_HEX]) {
  return dc_config_identity(c, finetune_operational, (int)(sizeof finetune_operational / sizeof *finetune_operational),
                            hex);
}

static enum dc_status make_prompts(struct ft *f) {
  const struct dc_config_finetune *fc = &f->cfg->finetune;
  if (fc->template[0]) {
    f->prompts = calloc((size_t)f->N, sizeof *f->prompts);
    DC_CHECK_ALLOC(f->prompts);
    for (int k = 0; k < f->N; k++) DC_TRY(dc_prompt_custom(fc->template, f->class_names[k], &f->prompts[k]));
  } else {
    /* the configuration's prompt choices are enum dc_prompt_template's, in order */
    const char *name = dc_prompt_template_name((enum dc_prompt_template)fc->prompt);
    DC_TRY(dc_prompts_make_all(name, f->class_names, f->class_desc, f->N, &f->prompts));
  }
  if (f->from_ckpt) { /* the vocabulary the model was trained with */
    char *text = NULL, **lines;
    int n = 0, cap = 1;
    DC_TRY(dc_ckpt_read_text(f->from_ckpt, "/vocab", &text));
    for (const char *p = text; *p; p++) cap += *p == '\n';
    lines = malloc((size_t)cap * sizeof *lines);
    DC_CHECK_ALLOC(lines);
    for (char *line = strtok(text, "\n"); line && n < cap; line = strtok(NULL, "\n")) lines[n++] = line;
    enum dc_status st = dc_tokenizer_from_table((const char *const *)lines, n, &f->tok);
    free(lines);
    free(text);
    DC_TRY(st);
  } else if (fc->tokenizer == DC_FINETUNE_TOKENIZER_CLIP_BPE) {
    if (!fc->merges[0])
      return DC_ERROR(DC_ERR_ARG, "finetune.tokenizer = \"clip_bpe\" needs finetune.merges (the shipped file is "
                                  "data_manifests/clip_bpe/bpe_simple_vocab_16e6.txt.gz)");
    DC_TRY(dc_tokenizer_load_bpe(fc->merges, &f->tok));
  } else {
    DC_TRY(dc_tokenizer_from_prompts((const char *const *)f->prompts, f->N, &f->tok));
  }
  int ctx = f->cfg->model.context;
  f->tokens = malloc((size_t)f->N * ctx * sizeof *f->tokens);
  f->eot = malloc((size_t)f->N * sizeof *f->eot);
  DC_CHECK_ALLOC(f->tokens);
  DC_CHECK_ALLOC(f->eot);
  return dc_tokenizer_encode_batch(f->tok, (const char *const *)f->prompts, f->N, ctx, 1, f->tokens, f->eot);
}

static enum dc_status make_model(struct ft *f, struct dc_clip **out, int B) {
  *out = calloc(1, sizeof **out);
  DC_CHECK_ALLOC(*out);
  const struct dc_backend *be;
  enum dc_run_backend kind = f->cfg->run.backend;
  /* auto: CUDA when built and a GPU is visible (run.backend's documented meaning) */
  DC_TRY(dc_backend_get(kind == DC_RUN_BACKEND_CUDA ? "cuda" : kind == DC_RUN_BACKEND_CPU ? "cpu" : "auto", &be));
  DC_TRY(dc_clip_init(*out, &f->mcfg, B, f->N, f->loss, be));
  if (f->loss != DC_CLIP_LINEAR) {
    be->upload((*out)->io.tokens, f->tokens, (size_t)f->N * f->mcfg.context * sizeof(int));
    be->upload((*out)->io.eot, f->eot, (size_t)f->N * sizeof(int));
  }
  return DC_OK;
}

/* Patches, timesteps and classes of n pixels (idx) into c's inputs; the batch is padded by
 * repeating the last pixel. `key` makes the timesteps: (seed, stream, key + j). */
static void load_images(struct ft *f, struct dc_clip *c, const int *idx, const int *lab, int n, uint64_t stream,
                        uint64_t key, int zero_t) {
  const struct dc_backend *be = c->params.be;
  int B = c->B, L = dc_cfg_tokens(&f->mcfg);
  for (int j = 0; j < B; j++) {
    int k = j < n ? j : n - 1;
    f->hidx[j] = idx[k];
    f->hlab[j] = lab ? lab[k] : 0;
    f->ht[j] = zero_t ? 0 : (int)dc_rng_below((uint64_t)f->cfg->run.seed, stream, key + (uint64_t)j, 0,
                                              (uint32_t)f->mcfg.timesteps);
  }
  for (int m = 0; m < f->mcfg.n_modalities; m++) {
    dc_samples_cut(&f->smp, m, f->mcfg.window, f->hidx, B, f->hx[m]);
    be->upload(c->io.x[m], f->hx[m], (size_t)B * L * f->mcfg.bands[m] * sizeof(float));
  }
  be->upload(c->io.t, f->ht, (size_t)B * sizeof(int));
  be->upload(c->io.text_of, f->hlab, (size_t)B * sizeof(int));
}

static void normalise_rows(float *x, int n, int D) {
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < D; j++) s += (double)x[i * D + j] * x[i * D + j];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int j = 0; j < D; j++) x[i * D + j] *= inv;
  }
}

/* Class predictions (0-based) of n pixels with model c in eval mode, and (score, may be
 * NULL; two classes) the probability of class 1: the softmax of the logits, logit_scale x
 * cosine against the prompts (the linear head's own logits). Inference uses the published
 * random timestep per pixel (keyed by the pixel), or 0 when configured. */
static int predict(struct ft *f, struct dc_clip *c, const int *idx, int n, int *pred, double *score, int check_stop) {
  const struct dc_backend *be = c->params.be;
  int D = f->mcfg.embed_dim, N = f->N;
  float log_scale = 0;
  if (f->loss != DC_CLIP_LINEAR) be->download(&log_scale, dc_param(&c->params, c->logit_scale), sizeof log_scale);
  double scale = f->loss == DC_CLIP_LINEAR ? 1.0 : exp((double)log_scale), s01[2] = {0, 0};
  if (f->loss == DC_CLIP_LINEAR) {
    be->download(f->cls_w, dc_param(&c->params, c->classifier.w), (size_t)N * D * sizeof(float));
    be->download(f->cls_b, dc_param(&c->params, c->classifier.b), (size_t)N * sizeof(float));
  } else {
    dc_clip_text_features(c);
    be->download(f->text, c->io.text_features, (size_t)N * D * sizeof(float));
    normalise_rows(f->text, N, D);
  }
  double slowest = 0, t_batch = dc_now_s();
  for (int start = 0; start < n; start += c->B) {
    /* a stop request, or no room left in the slot for one more batch and the result */
    if (check_stop && dc_slot_must_stop(f->cfg->pretrain.max_wall_s, dc_slot_need(slowest), NULL)) return 1;
    int m = n - start < c->B ? n - start : c->B;
    /* keyed by pixel index, so a pixel's timestep does not depend on the batching */
    for (int j = 0; j < c->B; j++) f->hidx[j] = idx[start + (j < m ? j : m - 1)];
    load_images(f, c, idx + start, NULL, m, DC_STREAM_TIMESTEP + 3, 0, f->cfg->finetune.timestep_zero_at_inference);
    if (!f->cfg->finetune.timestep_zero_at_inference) {
      for (int j = 0; j < c->B; j++)
        f->ht[j] = (int)dc_rng_below((uint64_t)f->cfg->run.seed, DC_STREAM_TIMESTEP + 3, (uint64_t)f->hidx[j], 0,
                                     (uint32_t)f->mcfg.timesteps);
      be->upload(c->io.t, f->ht, (size_t)c->B * sizeof(int));
    }
    dc_clip_image_features(c, 0);
    be->download(f->feat, c->io.image_features, (size_t)c->B * D * sizeof(float));
    if (f->loss != DC_CLIP_LINEAR) normalise_rows(f->feat, m, D);
    for (int j = 0; j < m; j++) {
      int best = 0;
      double best_s = -INFINITY;
      for (int k = 0; k < N; k++) {
        const float *w = f->loss == DC_CLIP_LINEAR ? f->cls_w + (size_t)k * D : f->text + (size_t)k * D;
        double s = f->loss == DC_CLIP_LINEAR ? f->cls_b[k] : 0.0;
        for (int q = 0; q < D; q++) s += (double)f->feat[(size_t)j * D + q] * w[q];
        if (s > best_s) best_s = s, best = k;
        if (k < 2) s01[k] = s;
      }
      pred[start + j] = best;
      if (score) score[start + j] = 1.0 / (1.0 + exp(-scale * (s01[1] - s01[0])));
    }
    double t = dc_now_s();
    if (t - t_batch > slowest) slowest = t - t_batch;
    t_batch = t;
  }
  return 0;
}

static double accuracy(struct ft *f, struct dc_clip *c, const int *idx, const int *lab, int n, int *scratch) {
  if (n == 0) return NAN;
  predict(f, c, idx, n, scratch, NULL, 0);
  int ok = 0;
  for (int i = 0; i < n; i++) ok += scratch[i] == lab[i];
  return (double)ok / n;
}

/* Rank 0: the fine-tuning loop with the best validation epoch kept. */
static enum dc_status train(struct ft *f, const char *pretrained) {
  const struct dc_config_finetune *fc = &f->cfg->finetune;
  struct dc_clip *c = f->train;
  const struct dc_backend *be = c->params.be;
  DC_TRY(dc_init_weights(&c->params, &c->buffers, &f->mcfg, (uint64_t)f->cfg->run.seed * 1000003u + (uint64_t)f->run));
  if (fc->init == DC_FINETUNE_INIT_PRETRAINED) {
    struct dc_pretrain *p = calloc(1, sizeof *p);
    DC_CHECK_ALLOC(p);
    struct dc_dist self = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .comm = MPI_COMM_SELF};
    struct dc_ckpt_state st;
    enum dc_status s = dc_pretrain_init(p, &f->mcfg, 2, be);
    if (s == DC_OK) s = dc_ckpt_read(&self, pretrained, &p->params, &p->buffers, NULL, &st);
    if (s == DC_OK) s = dc_clip_load_pretrained(c, p);
    dc_pretrain_free(p);
    free(p);
    if (s != DC_OK) return DC_ERROR(s, "cannot start fine-tuning from %s (its sizes must match model.*)", pretrained);
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: starting from the stage-1 checkpoint %s (step %lld)", f->run, f->shots,
           pretrained, (long long)st.step);
  }
  struct dc_adam adam;
  struct dc_lr_schedule sched;
  DC_TRY(dc_adam_init(&adam, &c->params, fc->lr, fc->weight_decay, 0));
  adam.beta1 = fc->beta1, adam.beta2 = fc->beta2, adam.eps = fc->adam_eps;
  if (fc->lr_schedule == DC_FINETUNE_LR_MULTISTEP)
    DC_TRY(dc_lr_multistep_init(&sched, fc->lr, fc->milestones.v, fc->milestones.n, fc->gamma));
  else
    DC_TRY(dc_lr_constant_init(&sched, fc->lr));
  const struct dc_split *sp = &f->split;
  int B = c->B, nb = (sp->n_train + B - 1) / B, *order = malloc((size_t)sp->n_train * sizeof *order);
  int *lab = malloc((size_t)B * sizeof *lab), *idx = malloc((size_t)B * sizeof *idx);
  int *scratch = malloc((size_t)(sp->n_val + 1) * sizeof *scratch);
  float *best_p = malloc(c->params.n_total * sizeof *best_p), *best_b = malloc((c->buffers.n_total + 1) * sizeof *best_b);
  DC_CHECK_ALLOC(order);
  DC_CHECK_ALLOC(lab);
  DC_CHECK_ALLOC(idx);
  DC_CHECK_ALLOC(scratch);
  DC_CHECK_ALLOC(best_p);
  DC_CHECK_ALLOC(best_b);
  double best_acc = -1, slowest = 0, t_epoch = dc_now_s(), t_train = t_epoch;
  long steps = 0;
  int stopped = 0;
  f->best_epoch = -1;
  for (int e = 0; e < fc->epochs && (fc->max_steps == 0 || steps < fc->max_steps) && !stopped; e++) {
    for (int i = 0; i < sp->n_train; i++) order[i] = i;
    for (int i = sp->n_train - 1; i > 0; i--) { /* the epoch's order, keyed by (seed, run, epoch) */
      int j = (int)dc_rng_below((uint64_t)f->cfg->run.seed, DC_STREAM_SHUFFLE + 4096u * (uint64_t)f->run + (uint64_t)e,
                                (uint64_t)i, 0, (uint32_t)(i + 1));
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    float lr = (float)dc_lr_at(&sched, (double)e);
    double sum = 0;
    int done = 0;
    for (int b = 0; b < nb && (fc->max_steps == 0 || steps < fc->max_steps); b++, steps++) {
      for (int j = 0; j < B; j++) { /* the last batch wraps around to stay full */
        int o = order[(b * B + j) % sp->n_train];
        idx[j] = sp->train_idx[o];
        lab[j] = sp->train_lab[o];
      }
      load_images(f, c, idx, lab, B, DC_STREAM_TIMESTEP + 2, (uint64_t)steps * (uint64_t)B, 0);
      DC_TRY(dc_clip_forward(c, 1));
      DC_TRY(dc_clip_backward(c));
      dc_adam_step(&adam, &c->params, lr);
      sum += c->loss;
      done++;
    }
    f->epoch_loss[e] = done ? sum / done : NAN;
    f->val_acc[e] = accuracy(f, c, sp->val_idx, sp->val_lab, sp->n_val, scratch);
    f->n_epochs = e + 1;
    /* keep the best validation epoch (the last one without validation pixels) */
    if (sp->n_val == 0 || f->val_acc[e] > best_acc) {
      best_acc = f->val_acc[e];
      f->best_epoch = e;
      be->download(best_p, c->params.params, c->params.n_total * sizeof *best_p);
      be->download(best_b, c->buffers.params, c->buffers.n_total * sizeof *best_b);
    }
    /* at the epoch boundary: progress, then a stop request or no room in the slot for another epoch */
    double t = dc_now_s();
    if (t - t_epoch > slowest) slowest = t - t_epoch;
    t_epoch = t;
    if ((e + 1) % fc->log_every == 0 || e == 0 || e + 1 == fc->epochs) {
      char clock[16], elapsed[32], left[32];
      double spent = t - t_train;
      dc_format_clock(clock, sizeof clock);
      dc_format_hms(spent, elapsed, sizeof elapsed);
      dc_format_hms(spent / (e + 1) * (fc->epochs - e - 1), left, sizeof left);
      dc_log(DC_LOG_INFO, "  %s run %d, %d-shot: epoch %d/%d  loss %.4f  validation accuracy %.2f%%  lr %.2g  "
             "%.1f samples/s  elapsed %s  left %s", clock, f->run, f->shots, e + 1, fc->epochs, f->epoch_loss[e],
             100 * f->val_acc[e], lr, spent > 0 ? (double)done * B * (e + 1) / spent : 0.0, elapsed, left);
    }
    const char *why = NULL;
    if (e + 1 < fc->epochs && dc_slot_must_stop(f->cfg->pretrain.max_wall_s, dc_slot_need(slowest), &why)) {
      dc_log(DC_LOG_INFO, "  run %d, %d-shot: stopping after epoch %d of %d (%s); the job resumes with this run", f->run,
             f->shots, e + 1, fc->epochs, why);
      stopped = 1;
    }
  }
  if (f->best_epoch >= 0) {
    be->upload(c->params.params, best_p, c->params.n_total * sizeof *best_p);
    be->upload(c->buffers.params, best_b, c->buffers.n_total * sizeof *best_b);
  }
  dc_adam_free(&adam, be);
  free(order), free(lab), free(idx), free(scratch), free(best_p), free(best_b);
  return stopped ? DC_STOPPED : DC_OK;
}

/* Every rank predicts its share of n pixels; rank 0 receives all of them in pred (and
 * score, when not NULL: two classes). */
static enum dc_status predict_sharded(struct ft *f, const int *idx, int n, int *pred, double *score) {
  const struct dc_dist *d = f->d;
  int lo = (int)((long)n * d->rank / d->size), hi = (int)((long)n * (d->rank + 1) / d->size);
  int *mine = malloc((size_t)(hi - lo + 1) * sizeof *mine), *counts = malloc(2 * (size_t)d->size * sizeof *counts);
  double *my_score = malloc((size_t)(hi - lo + 1) * sizeof *my_score);
  DC_CHECK_ALLOC(mine);
  DC_CHECK_ALLOC(counts);
  DC_CHECK_ALLOC(my_score);
  int stopped = hi > lo ? predict(f, f->eval, idx + lo, hi - lo, mine, score ? my_score : NULL, 1) : 0;
  if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &stopped, 1, MPI_INT, MPI_MAX, d->comm);
  if (stopped) {
    free(mine), free(my_score), free(counts);
    if (d->rank == 0) dc_log(DC_LOG_INFO, "  run %d, %d-shot: evaluation stopped; the job resumes it", f->run, f->shots);
    return DC_STOPPED;
  }
  for (int r = 0; r < d->size; r++) {
    counts[r] = (int)((long)n * (r + 1) / d->size) - (int)((long)n * r / d->size);
    counts[d->size + r] = (int)((long)n * r / d->size);
  }
  int rc = MPI_Gatherv(mine, hi - lo, MPI_INT, pred, counts, counts + d->size, MPI_INT, 0, d->comm);
  if (rc == MPI_SUCCESS && score)
    rc = MPI_Gatherv(my_score, hi - lo, MPI_DOUBLE, score, counts, counts + d->size, MPI_DOUBLE, 0, d->comm);
  free(mine);
  free(my_score);
  free(counts);
  return rc == MPI_SUCCESS ? DC_OK : DC_ERROR(DC_ERR_MPI, "gathering predictions failed");
}

static enum dc_status make_result(struct ft *f, const int *test_pred, const double *test_score, const int *map_pred,
                                  struct dc_result *r) {
  const struct dc_scene *s = f->s;
  const struct dc_split *sp = &f->split;
  memset(r, 0, sizeof *r);
  snprintf(r->dataset, sizeof r->dataset, "%.63s", f->cfg->data.name[0] ? f->cfg->data.name : dc_samples_name(&f->smp));
  r->shots = f->shots, r->run = f->run, r->n_classes = f->N;
  snprintf(r->task, sizeof r->task, "%s", test_score ? "binary" : "classes");
  static const char *const protocols[] = {DC_DATA_PROTOCOL_CHOICES(DC_CONFIG_ENUM_TEXT)};
  snprintf(r->protocol, sizeof r->protocol, "%s", protocols[f->cfg->data.protocol]);
  if (!s) snprintf(r->target, sizeof r->target, "%s", data_task_text[f->cfg->data.task]);
  for (int k = 0; k < f->N; k++) snprintf(r->class_names[k], sizeof r->class_names[k], "%s", f->class_names[k]);
  if (test_score) { /* the exam's score: the positive class's probability, threshold 0.5 */
    struct dc_binary_metrics bm;
    DC_TRY(dc_binary_metrics(sp->test_lab, test_score, sp->n_test, 0.5, &bm));
    r->accuracy = bm.accuracy, r->auc = bm.auc, r->sensitivity = bm.sensitivity, r->specificity = bm.specificity;
    r->threshold = bm.threshold;
    const struct dc_exams *x = f->smp.exams;
    r->n_exams = sp->n_test;
    r->exam_id = malloc((size_t)sp->n_test * sizeof *r->exam_id);
    r->exam_score = malloc((size_t)sp->n_test * sizeof *r->exam_score);
    r->exam_pred = malloc((size_t)sp->n_test * sizeof *r->exam_pred);
    r->exam_truth = malloc((size_t)sp->n_test * sizeof *r->exam_truth);
    DC_CHECK_ALLOC(r->exam_id);
    DC_CHECK_ALLOC(r->exam_score);
    DC_CHECK_ALLOC(r->exam_pred);
    DC_CHECK_ALLOC(r->exam_truth);
    for (int i = 0; i < sp->n_test; i++) {
      r->exam_id[i] = x && x->ids ? x->ids[sp->test_idx[i]] : sp->test_idx[i];
      r->exam_score[i] = test_score[i];
      r->exam_pred[i] = test_score[i] >= bm.threshold;
      r->exam_truth[i] = sp->test_lab[i];
    }
  }
  r->confusion = calloc((size_t)f->N * f->N, sizeof *r->confusion);
  DC_CHECK_ALLOC(r->confusion);
  DC_TRY(dc_confusion_count(r->confusion, f->N, sp->test_lab, test_pred, sp->n_test));
  struct dc_class_metrics cm;
  DC_TRY(dc_class_metrics(r->confusion, f->N, &cm, r->per_class));
  r->oa = cm.oa, r->aa = cm.aa, r->kappa = cm.kappa, r->n_test = sp->n_test;
  r->finetune_s = f->finetune_s, r->evaluate_s = f->evaluate_s, r->best_epoch = f->best_epoch;
  DC_TRY(dc_finetune_identity(f->cfg, r->config_sha256));
  r->n_epochs = f->n_epochs;
  r->finetune_loss = malloc(((size_t)f->n_epochs + 1) * sizeof(double));
  r->val_acc = malloc(((size_t)f->n_epochs + 1) * sizeof(double));
  DC_CHECK_ALLOC(r->finetune_loss);
  DC_CHECK_ALLOC(r->val_acc);
  memcpy(r->finetune_loss, f->epoch_loss, (size_t)f->n_epochs * sizeof(double));
  memcpy(r->val_acc, f->val_acc, (size_t)f->n_epochs * sizeof(double));
  if (map_pred && s) {
    size_t n = (size_t)s->height * s->width;
    r->height = s->height, r->width = s->width;
    r->prediction = malloc(n * sizeof *r->prediction);
    r->truth = malloc(n * sizeof *r->truth);
    r->test_mask = calloc(n, 1);
    DC_CHECK_ALLOC(r->prediction);
    DC_CHECK_ALLOC(r->truth);
    DC_CHECK_ALLOC(r->test_mask);
    for (size_t i = 0; i < n; i++) {
      r->prediction[i] = map_pred[i] + 1;
      r->truth[i] = s->train[i] ? s->train[i] : s->test[i];
    }
    for (int i = 0; i < sp->n_test; i++) r->test_mask[sp->test_idx[i]] = 1;
    if (s->cube[0] && s->bands[0] >= 1) { /* the report draws the maps over it */
      r->rgb = malloc(3 * n);
      DC_CHECK_ALLOC(r->rgb);
      DC_TRY(dc_scene_rgb_composite(s, 0, r->rgb, r->rgb_bands));
    }
  }
  return DC_OK;
}

/* The prediction map as a GeoTIFF beside result.h5 (classes 1..N, 0 no data, palette and
 * class names as in the report), on the scene's georeference; a scene without one gets a
 * plain TIFF on the pixel grid. */
static enum dc_status write_prediction_tif(const struct ft *f, const char *dir, const struct dc_result *r) {
  size_t n = (size_t)r->height * r->width;
  uint8_t *lab = malloc(n);
  DC_CHECK_ALLOC(lab);
  for (size_t i = 0; i < n; i++) lab[i] = (uint8_t)r->prediction[i];
  const char *names[DC_RESULT_MAX_CLASSES];
  for (int k = 0; k < r->n_classes; k++) names[k] = r->class_names[k];
  struct dc_georef geo = {f->s->has_geo, {0}, f->s->crs_wkt};
  memcpy(geo.gt, f->s->geotransform, sizeof geo.gt);
  char path[2100];
  snprintf(path, sizeof path, "%s/prediction.tif", dir);
  enum dc_status st = dc_geotiff_write_classes(path, lab, r->height, r->width, r->n_classes, names, &geo);
  free(lab);
  return st;
}

/* The fine-tuned model with its vocabulary, written collectively from the eval models. */
static enum dc_status save_model(struct ft *f, const char *dir) {
  char ckdir[2100], **table = NULL;
  int n = 0;
  snprintf(ckdir, sizeof ckdir, "%s/ckpt", dir);
  DC_TRY(dc_tokenizer_to_table(f->tok, &table, &n));
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(table[i]) + 1;
  char *vocab = malloc(len), *p = vocab;
  DC_CHECK_ALLOC(vocab);
  for (int i = 0; i < n; i++) p += sprintf(p, "%s\n", table[i]);
  dc_tokenizer_table_free(table, n);
  struct dc_ckpt_state st = {.kind = "finetune", .epoch = f->best_epoch + 1, .seed = (uint64_t)f->cfg->run.seed,
                             .train_seconds = f->finetune_s};
  DC_TRY(dc_finetune_identity(f->cfg, st.config_sha256));
  char *text = dc_config_text(f->cfg);
  enum dc_status s = dc_ckpt_write(f->d, ckdir, "ckpt_finetuned.h5", &f->eval->params, &f->eval->buffers, NULL, &st,
                                   text, vocab, 1);
  free(text);
  free(vocab);
  return s;
}

/* Rank 0: the fine-tuning curves beside the fine-tuned checkpoint (<dir>/ckpt/curves.tsv:
 * "epoch loss val_acc" a line, written through a temporary name), so a run evaluated in a
 * later slot, or by `diffclip evaluate`, reports the same curves as one done in one go. */
static enum dc_status save_curves(const struct ft *f, const char *dir) {
  char path[2200], tmp[2300];
  snprintf(path, sizeof path, "%.2100s/ckpt/curves.tsv", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *o = fopen(tmp, "w");
  int bad = !o;
  for (int e = 0; !bad && e < f->n_epochs; e++)
    bad = fprintf(o, "%d\t%.17g\t%.17g\n", e + 1, f->epoch_loss[e], f->val_acc[e]) < 0;
  if (o && fclose(o) != 0) bad = 1;
  if (bad || rename(tmp, path) != 0) {
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "cannot write %s", path);
  }
  return DC_OK;
}

/* Rank 0: the curves saved with the checkpoint, when there are (older folders have none). */
static void load_curves(struct ft *f, const char *dir) {
  char path[2200];
  snprintf(path, sizeof path, "%.2100s/ckpt/curves.tsv", dir);
  FILE *in = fopen(path, "r");
  if (!in) return;
  int e, n = 0;
  double loss, acc;
  while (n < f->cfg->finetune.epochs && fscanf(in, "%d %lf %lf", &e, &loss, &acc) == 3 && e == n + 1) {
    f->epoch_loss[n] = loss;
    f->val_acc[n] = acc;
    n++;
  }
  fclose(in);
  f->n_epochs = n;
}

/* The first run of a job says what holds for every run (a split's class sizes). */
static int run_is_first(const struct dc_config *cfg, int run) { return run == cfg->finetune.first_run || run == 0; }

static enum dc_status run_all(struct ft *f, const char *pretrained, const char *dir, struct dc_result *res) {
  const struct dc_dist *d = f->d;
  const struct dc_config *cfg = f->cfg;
  const struct dc_scene *s = f->s;
  const char *task_names[2], *task_desc[2];
  int M = dc_samples_modalities(&f->smp), bands[DC_MAX_MODALITIES];
  for (int m = 0; m < M && m < DC_MAX_MODALITIES; m++) bands[m] = dc_samples_bands(&f->smp, m);
  if (!s) { /* exams: k shots per class from the train split, the test set is the valid split */
    const struct dc_exams *x = f->smp.exams;
    DC_TRY(dc_exams_task_classes((int)cfg->data.task, task_names, task_desc));
    f->N = 2, f->class_names = task_names, f->class_desc = task_desc;
    DC_TRY(dc_exams_split(x, (int)cfg->data.task, dc_exams_split_index(x, "train"), dc_exams_split_index(x, "valid"),
                          f->shots, cfg->finetune.small_class_shots, (uint64_t)f->run, cfg->finetune.val_pixels,
                          &f->split));
  } else if (cfg->data.protocol == DC_DATA_PROTOCOL_OFFICIAL)
    DC_TRY(dc_split_official(s->train, s->test, s->height, s->width, s->n_classes, (uint64_t)f->run,
                             cfg->finetune.val_pixels, &f->split));
  else
    DC_TRY(dc_split_fewshot(s->train, s->test, s->height, s->width, s->n_classes, f->shots,
                            cfg->finetune.small_class_shots, (uint64_t)f->run, cfg->finetune.val_pixels, &f->split));
  if (s) {
    f->N = s->n_classes;
    f->class_names = (const char *const *)s->class_names;
    f->class_desc = (const char *const *)s->class_descriptions;
  }
  /* a class too small for the protocol (k shots + validation + at least one test pixel)
   * is said, not silently left without test pixels */
  for (int k = 0; k < f->N && d->rank == 0 && run_is_first(cfg, f->run); k++)
    if (f->split.test_per_class[k] == 0 || f->split.train_per_class[k] == 0)
      dc_log(DC_LOG_WARN, "class %d (%s) has %d training, %d validation and %d test %s at %d shots: too few for this "
             "protocol; it is left out of the average accuracy and of chance (use fewer finetune.shots or a smaller "
             "finetune.small_class_shots)", k + 1, f->class_names[k], f->split.train_per_class[k], f->split.val_per_class[k],
             f->split.test_per_class[k], s ? "pixels" : "exams", f->shots);
  if (!s && d->rank == 0) { /* a binary task whose test or validation exams are of one class */
    const struct dc_split *sp = &f->split;
    for (int which = 0; which < 2; which++) {
      const int *per = which ? sp->val_per_class : sp->test_per_class;
      int n = which ? sp->n_val : sp->n_test;
      if (n == 0 || (per[0] > 0 && per[1] > 0)) continue;
      if (which)
        dc_log(DC_LOG_WARN, "task %s, %d shots, run %d: the validation draw holds %d exam(s), all %s: the epoch kept (best "
               "validation accuracy) is chosen on one class only and says little (raise finetune.val_pixels)",
               data_task_text[cfg->data.task], f->shots, f->run, n, f->class_names[per[0] > 0 ? 0 : 1]);
      else
        dc_log(DC_LOG_WARN, "task %s, %d shots, run %d: the test split holds %d exam(s), all %s: AUC and %s are "
               "undefined (stored as NaN, shown as n/a); accuracy measures one class only",
               data_task_text[cfg->data.task], f->shots, f->run, n, f->class_names[per[0] > 0 ? 0 : 1],
               per[0] > 0 ? "sensitivity" : "specificity");
    }
  }
  if (f->split.n_train < 2 || f->split.n_test < 1)
    return DC_ERROR(DC_ERR_ARG, "run %d: %d training and %d test pixels; fine-tuning needs at least 2 and 1", f->run,
                    f->split.n_train, f->split.n_test);
  DC_TRY(make_prompts(f));
  DC_TRY(dc_config_model(cfg, M, bands, dc_tokenizer_vocab_size(f->tok), &f->mcfg));
  f->loss = cfg->finetune.head == DC_FINETUNE_HEAD_LINEAR ? DC_CLIP_LINEAR
            : cfg->finetune.same_class_positives      ? DC_CLIP_CLASSWISE
                                                      : DC_CLIP_PAIRWISE;
  int Bt = cfg->finetune.batch < f->split.n_train ? cfg->finetune.batch : f->split.n_train;
  int EB = cfg->finetune.eval_batch, Bmax = Bt > EB ? Bt : EB, L = dc_cfg_tokens(&f->mcfg), D = f->mcfg.embed_dim;
  for (int m = 0; m < M; m++) {
    f->hx[m] = malloc((size_t)Bmax * L * bands[m] * sizeof(float));
    DC_CHECK_ALLOC(f->hx[m]);
  }
  f->ht = malloc((size_t)Bmax * sizeof(int)), f->hlab = malloc((size_t)Bmax * sizeof(int));
  f->hidx = malloc((size_t)Bmax * sizeof(int));
  f->feat = malloc((size_t)Bmax * D * sizeof(float)), f->text = malloc((size_t)f->N * D * sizeof(float));
  f->cls_w = malloc((size_t)f->N * D * sizeof(float)), f->cls_b = malloc((size_t)f->N * sizeof(float));
  f->epoch_loss = calloc((size_t)cfg->finetune.epochs + 1, sizeof(double));
  f->val_acc = calloc((size_t)cfg->finetune.epochs + 1, sizeof(double));
  if (!f->ht || !f->hlab || !f->hidx || !f->feat || !f->text || !f->cls_w || !f->cls_b || !f->epoch_loss || !f->val_acc)
    return DC_ERROR(DC_ERR_NOMEM, "no memory for fine-tuning buffers");
  DC_TRY(dc_dist_agree(d, make_model(f, &f->eval, EB)));
  enum dc_status st = DC_OK;
  double t0 = dc_now_s();
  if (d->rank == 0) {
    dc_log(DC_LOG_INFO, "%s run %d, %d-shot: %d training, %d validation, %d test %s; loss %s",
           f->from_ckpt ? "evaluating" : "fine-tuning", f->run, f->shots, f->split.n_train, f->split.n_val, f->split.n_test,
           s ? "pixels" : "exams",
           f->loss == DC_CLIP_LINEAR ? "linear head" : f->loss == DC_CLIP_CLASSWISE ? "same-class positives" : "published");
    st = make_model(f, &f->train, Bt);
    if (st == DC_OK && f->from_ckpt) {
      struct dc_dist self = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .comm = MPI_COMM_SELF};
      struct dc_ckpt_state cs;
      st = dc_ckpt_read(&self, f->from_ckpt, &f->train->params, &f->train->buffers, NULL, &cs);
      if (st == DC_OK && strcmp(cs.kind, "finetune") != 0)
        st = DC_ERROR(DC_ERR_ARG, "%s is a %s checkpoint, not a fine-tuned one", f->from_ckpt, cs.kind);
      f->best_epoch = (int)cs.epoch - 1;
      f->finetune_s = cs.train_seconds; /* the cost of the fine-tuning that made it, in an earlier slot */
    } else if (st == DC_OK) {
      st = train(f, pretrained);
      f->finetune_s = dc_now_s() - t0;
    }
  }
  DC_TRY(dc_dist_agree(d, st));
  /* the chosen weights to every rank's evaluation model */
  struct dc_clip *e = f->eval;
  const struct dc_backend *be = e->params.be;
  float *host = malloc((e->params.n_total + e->buffers.n_total) * sizeof *host);
  DC_CHECK_ALLOC(host);
  if (d->rank == 0) {
    be->download(host, f->train->params.params, e->params.n_total * sizeof *host);
    be->download(host + e->params.n_total, f->train->buffers.params, e->buffers.n_total * sizeof *host);
  }
  MPI_Bcast(host, (int)(e->params.n_total + e->buffers.n_total), MPI_FLOAT, 0, d->comm);
  be->upload(e->params.params, host, e->params.n_total * sizeof *host);
  be->upload(e->buffers.params, host + e->params.n_total, e->buffers.n_total * sizeof *host);
  free(host);
  /* the fine-tuned model is saved before the evaluation, so a job stopped during the
   * evaluation resumes with it instead of fine-tuning again */
  if (d->rank == 0 && dc_mkdir_p(dir) != 0) st = DC_ERROR(DC_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
  DC_TRY(dc_dist_agree(d, st));
  if (!f->from_ckpt) DC_TRY(save_model(f, dir));
  if (!f->from_ckpt) DC_TRY(dc_dist_agree(d, d->rank == 0 ? save_curves(f, dir) : DC_OK));
  if (f->from_ckpt && d->rank == 0) load_curves(f, dir);
  /* evaluation: the test pixels (exams: with their scores), then every pixel for the map */
  t0 = dc_now_s();
  size_t npix = s ? (size_t)s->height * s->width : 0;
  int *test_pred = malloc(((size_t)f->split.n_test + 1) * sizeof(int)), *map_pred = NULL, *all = NULL;
  double *test_score = s ? NULL : malloc(((size_t)f->split.n_test + 1) * sizeof(double));
  DC_CHECK_ALLOC(test_pred);
  if (!s) DC_CHECK_ALLOC(test_score);
  DC_TRY(predict_sharded(f, f->split.test_idx, f->split.n_test, test_pred, test_score));
  if (cfg->finetune.scene_map && s) {
    map_pred = malloc(npix * sizeof *map_pred), all = malloc(npix * sizeof *all);
    DC_CHECK_ALLOC(map_pred);
    DC_CHECK_ALLOC(all);
    for (size_t i = 0; i < npix; i++) all[i] = (int)i;
    double tm = dc_now_s();
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: mapping the whole scene, %zu pixels on %d rank(s) (finetune.scene_map)",
           f->run, f->shots, npix, d->size);
    DC_TRY(predict_sharded(f, all, (int)npix, map_pred, NULL));
    char took[32];
    dc_format_hms(dc_now_s() - tm, took, sizeof took);
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: scene mapped in %s (%.0f pixels/s)", f->run, f->shots, took,
           (double)npix / fmax(dc_now_s() - tm, 1e-9));
  }
  f->evaluate_s = dc_now_s() - t0;
  if (d->rank == 0) {
    struct dc_result r;
    st = make_result(f, test_pred, test_score, map_pred, &r);
    char path[2100];
    snprintf(path, sizeof path, "%s/result.h5", dir);
    if (st == DC_OK && r.prediction) st = write_prediction_tif(f, dir, &r); /* before result.h5, which marks done */
    if (st == DC_OK) st = dc_result_write(path, &r);
    if (st == DC_OK && test_score)
      dc_log(DC_LOG_INFO, "run %d, %d-shot, task %s: accuracy %.3f  AUC %.3f  sensitivity %.3f  specificity %.3f  (best "
             "epoch %d, %s)", f->run, f->shots, f->class_names[1], r.accuracy, r.auc, r.sensitivity, r.specificity,
             f->best_epoch + 1, path);
    else if (st == DC_OK)
      dc_log(DC_LOG_INFO, "run %d, %d-shot: OA %.2f%%  AA %.2f%%  kappa %.2f%%  (best epoch %d, %s)", f->run, f->shots,
             100 * r.oa, 100 * r.aa, 100 * r.kappa, f->best_epoch + 1, path);
    if (st == DC_OK && res)
      *res = r;
    else
      dc_result_free(&r);
  }
  free(test_pred);
  free(test_score);
  free(map_pred);
  free(all);
  return dc_dist_agree(d, st);
}

static enum dc_status one(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_samples *smp, int run,
                          int shots, const char *pretrained, const char *from_ckpt, const char *dir,
                          struct dc_result *res) {
  struct ft f;
  memset(&f, 0, sizeof f);
  f.d = d, f.cfg = cfg, f.smp = *smp, f.s = smp->scene, f.run = run, f.shots = shots, f.from_ckpt = from_ckpt;
  enum dc_status st = run_all(&f, pretrained, dir, res);
  if (f.train) dc_clip_free(f.train), free(f.train);
  if (f.eval) dc_clip_free(f.eval), free(f.eval);
  for (int m = 0; m < DC_MAX_MODALITIES; m++) free(f.hx[m]);
  free(f.ht), free(f.hlab), free(f.hidx), free(f.feat), free(f.text), free(f.cls_w), free(f.cls_b);
  free(f.epoch_loss), free(f.val_acc), free(f.tokens), free(f.eot);
  if (f.prompts) dc_prompts_free(f.prompts, f.N);
  if (f.tok) dc_tokenizer_free(f.tok);
  dc_split_free(&f.split);
  return dc_dist_agree(d, st);
}

/* Rank 0: what the run folder holds for this configuration. 2: a result of it (kept);
 * 1: its fine-tuned checkpoint without a result (evaluate it); 0: nothing usable. */
static int folder_state(const struct dc_config *cfg, const char *dir, int evaluate, struct dc_result *res) {
  char id[DC_SHA256_HEX], path[2400];
  if (dc_finetune_identity(cfg, id) != DC_OK) return 0;
  snprintf(path, sizeof path, "%.2300s/result.h5", dir);
  if (access(path, F_OK) == 0) {
    struct dc_result old;
    memset(&old, 0, sizeof old);
    if (dc_result_read(path, &old) != DC_OK) {
      dc_log(DC_LOG_WARN, "%s is unreadable: this run is done again", path);
    } else if (strcmp(old.config_sha256, id) != 0) {
      dc_log(DC_LOG_WARN, "%s was made under another configuration (identity sha256 %.12s..., this one %.12s...): "
             "this run is done again and its result replaced", path, old.config_sha256, id);
      dc_result_free(&old);
    } else {
      if (res) *res = old;
      else dc_result_free(&old);
      return 2;
    }
  }
  if (evaluate) return 1;
  snprintf(path, sizeof path, "%.2300s/ckpt/ckpt_finetuned.h5", dir);
  struct dc_ckpt_state st;
  if (access(path, F_OK) != 0) return 0;
  if (dc_ckpt_read_state(path, &st) != DC_OK || strcmp(st.kind, "finetune") != 0 || strcmp(st.config_sha256, id) != 0 ||
      dc_ckpt_verify(path, 0) != DC_OK) {
    dc_log(DC_LOG_WARN, "%s is not a fine-tuned model of this configuration: fine-tuning again", path);
    return 0;
  }
  return 1;
}

enum dc_status dc_finetune_resume(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_samples *samples,
                                  int run, int shots, const char *pretrained, const char *dir, int evaluate,
                                  struct dc_result *res, int *kept) {
  int state = 0;
  if (res) memset(res, 0, sizeof *res);
  dc_signals_install();
  if (d->rank == 0) state = folder_state(cfg, dir, evaluate, res);
  DC_CHECK_MPI(MPI_Bcast(&state, 1, MPI_INT, 0, d->comm));
  if (kept) *kept = state == 2;
  if (state == 2) {
    dc_log(DC_LOG_INFO, "run %d, %d-shot: kept %s/result.h5 (made under this configuration; delete it to redo the run)",
           run, shots, dir);
    return DC_OK;
  }
  /* a stop already asked for (or a slot at its end) is honoured before the run begins */
  const char *why = NULL;
  if (dc_slot_must_stop_all(d, cfg->pretrain.max_wall_s, 0.0, &why)) {
    dc_log(DC_LOG_INFO, "run %d, %d-shot: not started (%s); the job resumes here", run, shots, why);
    return DC_STOPPED;
  }
  char ckpt[2400];
  snprintf(ckpt, sizeof ckpt, "%.2300s/ckpt/ckpt_finetuned.h5", dir);
  if (state == 1 && !evaluate && d->rank == 0)
    dc_log(DC_LOG_INFO, "run %d, %d-shot: evaluating the fine-tuned model kept in %s", run, shots, ckpt);
  return one(d, cfg, samples, run, shots, pretrained, state == 1 ? ckpt : NULL, dir, res);
}

enum dc_status dc_finetune_find_pretrained(const struct dc_dist *d, const struct dc_config *cfg, char *path, size_t cap) {
  if (cfg->finetune.checkpoint[0]) {
    snprintf(path, cap, "%s", cfg->finetune.checkpoint);
    return DC_OK;
  }
  char dir[2100];
  snprintf(dir, sizeof dir, "%s/%s/ckpt", cfg->run.out_dir, cfg->run.name);
  DC_TRY(dc_ckpt_find_resume(d, dir, path, cap));
  if (!path[0])
    return DC_ERROR(DC_ERR_ARG, "no stage-1 checkpoint in %s: run `diffclip pretrain` with this configuration first, "
                                "set finetune.checkpoint, or set finetune.init = \"scratch\"", dir);
  return DC_OK;
}

enum dc_status dc_finetune_runs(const struct dc_dist *d, const struct dc_config *cfg, const struct dc_samples *samples,
                                const char *pretrained, int evaluate) {
  double sum[4] = {0, 0, 0, 0}, sq[4] = {0, 0, 0, 0};
  int binary = samples->exams != NULL;
  int n = 0, k = cfg->finetune.shots, evaluated = 0; /* classes with test samples */
  enum dc_status st = DC_OK;
  for (int i = 0; i < cfg->finetune.runs && st == DC_OK; i++) {
    int run = cfg->finetune.first_run + i;
    char dir[2200];
    snprintf(dir, sizeof dir, "%s/%s/finetune/shots_%d/run_%d", cfg->run.out_dir, cfg->run.name, k, run);
    struct dc_result r;
    memset(&r, 0, sizeof r);
    st = dc_finetune_resume(d, cfg, samples, run, k, pretrained, dir, evaluate, &r, NULL);
    if (st == DC_OK && d->rank == 0) {
      evaluated = 0;
      for (int c = 0; c < r.n_classes; c++) evaluated += !isnan(r.per_class[c]);
      double v[4] = {r.oa, r.aa, r.kappa, 0};
      if (binary) v[0] = r.accuracy, v[1] = r.auc, v[2] = r.sensitivity, v[3] = r.specificity;
      for (int j = 0; j < 4; j++) sum[j] += v[j], sq[j] += v[j] * v[j];
      n++;
      dc_result_free(&r);
    }
  }
  if (st == DC_OK && d->rank == 0 && n > 0) {
    double m[4], sd[4];
    for (int j = 0; j < 4; j++) {
      m[j] = sum[j] / n;
      sd[j] = sqrt(fmax(0.0, sq[j] / n - m[j] * m[j])); /* population (ddof 0), as in the report */
    }
    if (binary)
      dc_log(DC_LOG_INFO,
             "%d-shot over %d run(s), task %s: mean accuracy %.2f%% (+- %.2f), AUC %.3f (+- %.3f), sensitivity %.3f "
             "(+- %.3f), specificity %.3f (+- %.3f); chance 50%%; +- is the population std (ddof 0), as in the report",
             k, n, data_task_text[cfg->data.task],
             100 * m[0], 100 * sd[0], m[1], sd[1], m[2], sd[2], m[3], sd[3]);
    else
      dc_log(DC_LOG_INFO,
           "%d-shot over %d run(s): mean overall accuracy %.2f%% (+- %.2f), average accuracy %.2f%% (+- %.2f), "
           "kappa %.2f%% (+- %.2f); chance %.2f%% (1 of the %d classes evaluated%s); +- is the population std (ddof 0), "
           "as in the report",
           k, n, 100 * m[0], 100 * sd[0], 100 * m[1], 100 * sd[1], 100 * m[2], 100 * sd[2],
           100.0 / (evaluated > 0 ? evaluated : samples->scene->n_classes), evaluated,
           evaluated < samples->scene->n_classes ? ", fewer than the scene's: see the warnings" : "");
  }
  return st;
}
