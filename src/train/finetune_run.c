/* Stage 2 for one run (see finetune_run.h): split, prompts, tokenizer, fine-tuning on rank
 * 0 with the best-validation epoch kept, then sharded evaluation and the result file. The
 * samples are a scene's pixels or an exam store's exams (data_source.h); an exam run is a
 * binary task scored by the positive class's probability. */
#include "diffclip/io/geotiff.h"
#include "diffclip/train/finetune_run.h"
#include "diffclip/train/classify.h"

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
#include "diffclip/core/sha256.h"
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
  struct dc_class_text text;    /* prompts and their tokens */
  struct dc_model_config mcfg;
  enum dc_clip_loss loss;
  struct dc_clip *train, *eval; /* train: rank 0 only */
  struct dc_classifier k;       /* host batch buffers (the larger batch) */
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
    "run.name", "run.out_dir", "run.threads", "run.log_level", "run.log_all_ranks", "run.backend", "run.precision", "data.scene",
    "data.study", "data.paper", "pretrain.max_wall_s", "pretrain.log_every", "pretrain.checkpoint_every",
    "pretrain.keep_checkpoints", "pretrain.resume", "finetune.runs", "finetune.first_run", "finetune.log_every",
    "finetune.eval_batch", "bench."};

enum dc_status dc_finetune_identity(const struct dc_config *c, char hex[DC_SHA256_HEX]) {
  DC_TRY(dc_config_identity(c, finetune_operational, (int)(sizeof finetune_operational / sizeof *finetune_operational),
                            hex));
  if (!c->data.split_file[0]) return DC_OK;
  /* a custom exam split: its contents, not only its path, make the run */
  char file[DC_SHA256_HEX], both[2 * DC_SHA256_HEX + 16];
  if (dc_sha256_file(c->data.split_file, file) != DC_OK)
    return DC_ERROR(DC_ERR_ARG, "data.split_file %s: cannot read it", c->data.split_file);
  snprintf(both, sizeof both, "%s split %s", hex, file);
  dc_sha256_hex(both, strlen(both), hex);
  return DC_OK;
}

static double accuracy(struct ft *f, struct dc_clip *c, const int *idx, const int *lab, int n, int *scratch) {
  if (n == 0) return NAN;
  struct dc_class_out out = {.pred = scratch};
  dc_classify(&f->k, c, idx, n, &out, 0);
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
      dc_classifier_load(&f->k, c, idx, lab, B, DC_STREAM_TIMESTEP + 2, (uint64_t)steps * (uint64_t)B, 0);
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

/* The evaluation model's batch: finetune.eval_batch, but no more than the samples it
 * classifies (the test samples, and every pixel when the scene is mapped), so that a store
 * of 120 test exams builds a model of 120 samples, not of 256. Not divided by the ranks:
 * the batches are dealt to them whole, and a sample's outputs do not depend on their count. */
static int eval_batch(const struct ft *f) {
  long n = f->split.n_test;
  if (f->cfg->finetune.scene_map && f->s && (long)f->s->height * f->s->width > n) n = (long)f->s->height * f->s->width;
  int EB = f->cfg->finetune.eval_batch;
  return n < 1 ? 1 : n < EB ? (int)n : EB;
}

/* Every rank predicts its share of n samples; rank 0 receives all of them. */
static enum dc_status predict_sharded(struct ft *f, const int *idx, int n, const struct dc_class_out *out) {
  enum dc_status st = dc_classify_sharded(f->d, &f->k, f->eval, idx, n, out);
  if (st == DC_STOPPED && f->d->rank == 0)
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: evaluation stopped; the job resumes it", f->run, f->shots);
  return st;
}

static enum dc_status make_result(struct ft *f, const int *test_pred, const double *test_score,
                                  const struct dc_class_out *map, struct dc_result *r) {
  const int *map_pred = map->pred;
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
    if (map->top2 && map->top2_prob) {
      r->top2 = malloc(2 * n), r->top2_prob = malloc(2 * n * sizeof *r->top2_prob);
      DC_CHECK_ALLOC(r->top2);
      DC_CHECK_ALLOC(r->top2_prob);
      memcpy(r->top2, map->top2, 2 * n);
      memcpy(r->top2_prob, map->top2_prob, 2 * n * sizeof *r->top2_prob);
    }
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
  DC_TRY(dc_tokenizer_to_table(f->text.tok, &table, &n));
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
    int32_t *assign = NULL; /* data.split_file: 0 train, 1 test */
    if (cfg->data.split_file[0]) DC_TRY(dc_exams_assign_file(x, cfg->data.split_file, &assign));
    enum dc_status sst =
        dc_exams_split(x, assign, (int)cfg->data.task, assign ? 0 : dc_exams_split_index(x, "train"),
                       assign ? 1 : dc_exams_split_index(x, "valid"), f->shots, cfg->finetune.small_class_shots,
                       (uint64_t)f->run, cfg->finetune.val_pixels, &f->split);
    free(assign);
    DC_TRY(sst);
  } else if (cfg->data.split_file[0]) {
    return DC_ERROR(DC_ERR_ARG, "data.split_file = \"%s\" splits an exam store's exams; the scene %s splits its pixels by "
                    "data.protocol (unset data.split_file)", cfg->data.split_file, s->name);
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
  char *vocab = NULL; /* evaluating a fine-tuned model: the vocabulary it was trained with */
  if (f->from_ckpt) DC_TRY(dc_ckpt_read_text(f->from_ckpt, "/vocab", &vocab));
  enum dc_status tst = dc_class_text_make(cfg, f->class_names, f->class_desc, f->N, vocab, &f->text);
  free(vocab);
  DC_TRY(tst);
  DC_TRY(dc_config_model(cfg, M, bands, dc_tokenizer_vocab_size(f->text.tok), &f->mcfg));
  f->loss = dc_stage2_loss(cfg);
  int Bt = cfg->finetune.batch < f->split.n_train ? cfg->finetune.batch : f->split.n_train;
  int EB = eval_batch(f), Bmax = Bt > EB ? Bt : EB;
  DC_TRY(dc_classifier_init(&f->k, cfg, &f->smp, &f->mcfg, f->loss, f->N, Bmax));
  f->epoch_loss = calloc((size_t)cfg->finetune.epochs + 1, sizeof(double));
  f->val_acc = calloc((size_t)cfg->finetune.epochs + 1, sizeof(double));
  if (!f->epoch_loss || !f->val_acc) return DC_ERROR(DC_ERR_NOMEM, "no memory for fine-tuning curves");
  enum dc_status st = DC_OK;
  double t0 = dc_now_s();
  if (d->rank == 0) {
    dc_log(DC_LOG_INFO, "%s run %d, %d-shot: %d training, %d validation, %d test %s; loss %s; evaluated in batches of %d",
           f->from_ckpt ? "evaluating" : "fine-tuning", f->run, f->shots, f->split.n_train, f->split.n_val, f->split.n_test,
           s ? "pixels" : "exams",
           f->loss == DC_CLIP_LINEAR ? "linear head" : f->loss == DC_CLIP_CLASSWISE ? "same-class positives" : "published",
           EB);
    st = dc_stage2_model(cfg, &f->mcfg, f->loss, &f->text, Bt, 0, &f->train);
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
  /* the chosen weights to every rank's evaluation model; rank 0 frees its training model
   * first, so that the two never take memory at once */
  float *host = NULL;
  size_t np = 0, nb = 0;
  if (d->rank == 0) {
    struct dc_clip *t = f->train;
    np = t->params.n_total, nb = t->buffers.n_total;
    host = malloc((np + nb) * sizeof *host);
    if (host) {
      t->params.be->download(host, t->params.params, np * sizeof *host);
      t->params.be->download(host + np, t->buffers.params, nb * sizeof *host);
    }
    dc_clip_free(t), free(t), f->train = NULL;
  }
  st = dc_stage2_model(cfg, &f->mcfg, f->loss, &f->text, EB, 1, &f->eval);
  struct dc_clip *e = st == DC_OK ? f->eval : NULL;
  if (e && d->rank != 0) host = malloc((e->params.n_total + e->buffers.n_total) * sizeof *host);
  if (st == DC_OK && !host) st = DC_ERROR(DC_ERR_NOMEM, "no memory for the fine-tuned weights");
  if (st == DC_OK && d->rank == 0 && (np != e->params.n_total || nb != e->buffers.n_total))
    st = DC_ERROR(DC_ERR_INTERNAL, "the evaluation model has %zu + %zu values, the trained one %zu + %zu",
                  e->params.n_total, e->buffers.n_total, np, nb);
  enum dc_status agreed = dc_dist_agree(d, st);
  if (agreed != DC_OK) {
    free(host);
    return agreed;
  }
  const struct dc_backend *be = e->params.be;
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
  int *test_pred = malloc(((size_t)f->split.n_test + 1) * sizeof(int)), *all = NULL;
  double *test_score = s ? NULL : malloc(((size_t)f->split.n_test + 1) * sizeof(double));
  DC_CHECK_ALLOC(test_pred);
  if (!s) DC_CHECK_ALLOC(test_score);
  struct dc_class_out test_out = {.pred = test_pred, .score = test_score}, map = {0};
  DC_TRY(predict_sharded(f, f->split.test_idx, f->split.n_test, &test_out));
  if (cfg->finetune.scene_map && s) {
    /* every pixel's class with its two likeliest classes and their probabilities */
    all = malloc(npix * sizeof *all);
    if (d->rank == 0) { /* rank 0 gathers the map; the other ranks only name the outputs */
      map.pred = malloc(npix * sizeof *map.pred);
      map.top2 = malloc(2 * npix), map.top2_prob = malloc(2 * npix * sizeof *map.top2_prob);
    }
    if (!all || (d->rank == 0 && (!map.pred || !map.top2 || !map.top2_prob)))
      st = DC_ERROR(DC_ERR_NOMEM, "no memory for the scene map");
    DC_TRY(dc_dist_agree(d, st));
    struct dc_class_out gather = map;
    if (d->rank != 0) {
      void *want = dc_class_out_wanted();
      gather.pred = want, gather.top2 = want, gather.top2_prob = want;
    }
    for (size_t i = 0; i < npix; i++) all[i] = (int)i;
    double tm = dc_now_s();
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: mapping the whole scene, %zu pixels on %d rank(s) (finetune.scene_map)",
           f->run, f->shots, npix, d->size);
    DC_TRY(predict_sharded(f, all, (int)npix, &gather));
    char took[32];
    dc_format_hms(dc_now_s() - tm, took, sizeof took);
    dc_log(DC_LOG_INFO, "  run %d, %d-shot: scene mapped in %s (%.0f pixels/s)", f->run, f->shots, took,
           (double)npix / fmax(dc_now_s() - tm, 1e-9));
  }
  f->evaluate_s = dc_now_s() - t0;
  if (d->rank == 0) {
    struct dc_result r;
    st = make_result(f, test_pred, test_score, &map, &r);
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
  free(map.pred), free(map.top2), free(map.top2_prob);
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
  dc_classifier_free(&f.k);
  free(f.epoch_loss), free(f.val_acc);
  dc_class_text_free(&f.text);
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
