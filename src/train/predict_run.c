/* `diffclip predict` (see predict_run.h): checkpoint -> configuration, classes and
 * normalisation of the training scene -> the scene to map, checked against it -> every
 * pixel classified over the ranks -> HDF5, GeoTIFF, PNG and CSV on rank 0. */
#include "diffclip/train/predict_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffclip/backend/backend.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/data/patch.h"
#include "diffclip/data/scene_mpi.h"
#include "diffclip/data/synth.h"
#include "diffclip/io/checkpoint.h"
#include "diffclip/io/geotiff.h"
#include "diffclip/io/prediction.h"
#include "diffclip/report/png_map.h"
#include "diffclip/train/classify.h"
#include "diffclip/train/run_env.h"
#include "diffclip/train/slot.h"

/* The keys that do not change the model: how it runs (backend, GEMM precision, threads) and logs. */
static const char *const settable[] = {"run.threads", "run.backend", "run.precision", "run.log_level", "run.log_all_ranks",
                                       "finetune.eval_batch", "pretrain.max_wall_s"};
#define N_SETTABLE ((int)(sizeof settable / sizeof *settable))

const char *dc_predict_settable_keys(void) {
  return "run.threads, run.backend, run.precision, run.log_level, run.log_all_ranks, finetune.eval_batch, pretrain.max_wall_s";
}

#define DC_SYNTH_TEXT(id, text) text,
static const char *const synthetic_names[] = {DC_DATA_SYNTHETIC_CHOICES(DC_SYNTH_TEXT)};

/* Rank 0's text (NULL: none) on every rank, malloc'd. */
static enum dc_status bcast_text(const struct dc_dist *d, char **text) {
  long long n = d->rank == 0 ? (long long)strlen(*text) : 0;
  DC_CHECK_MPI(MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, d->comm));
  if (d->rank != 0) *text = malloc((size_t)n + 1);
  enum dc_status st = dc_dist_agree(d, *text ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "no memory for a %lld-byte text", n));
  if (st != DC_OK) return st;
  DC_CHECK_MPI(MPI_Bcast(*text, (int)n + 1, MPI_CHAR, 0, d->comm));
  return DC_OK;
}

/* The checkpoint file of `given` (a file, a run folder, or its ckpt/ folder). */
static enum dc_status checkpoint_path(const char *given, char *out, size_t cap) {
  struct stat sb;
  if (stat(given, &sb) != 0) return DC_ERROR(DC_ERR_ARG, "--checkpoint %s: %s", given, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) {
    snprintf(out, cap, "%s", given);
    return DC_OK;
  }
  static const char *const tries[] = {"ckpt/ckpt_finetuned.h5", "ckpt_finetuned.h5"};
  for (int i = 0; i < 2; i++) {
    snprintf(out, cap, "%s/%s", given, tries[i]);
    if (access(out, R_OK) == 0) return DC_OK;
  }
  return DC_ERROR(DC_ERR_ARG, "--checkpoint %s: a folder without a fine-tuned model (ckpt/ckpt_finetuned.h5); give a "
                  "run folder of `diffclip finetune` (<out_dir>/<name>/finetune/shots_<k>/run_<r>) or the file", given);
}

/* The checkpoint's state, configuration and vocabulary (rank 0 reads, every rank gets). */
static enum dc_status read_model_files(const struct dc_dist *d, const char *path, struct dc_ckpt_state *st,
                                       char **config, char **vocab) {
  enum dc_status s = DC_OK;
  *config = *vocab = NULL;
  if (d->rank == 0) {
    s = dc_ckpt_read_state(path, st);
    if (s == DC_OK && strcmp(st->kind, "finetune") != 0)
      s = DC_ERROR(DC_ERR_ARG, "--checkpoint %s is a %s checkpoint: predict needs a fine-tuned model "
                   "(<run folder>/ckpt/ckpt_finetuned.h5, written by `diffclip finetune`)", path, st->kind);
    if (s == DC_OK && dc_ckpt_read_text(path, "/config", config) != DC_OK)
      s = DC_ERROR(DC_ERR_ARG, "--checkpoint %s has no /config (the configuration it was trained under)", path);
    if (s == DC_OK && dc_ckpt_read_text(path, "/vocab", vocab) != DC_OK)
      s = DC_ERROR(DC_ERR_ARG, "--checkpoint %s has no /vocab (its tokenizer's vocabulary)", path);
  }
  DC_TRY(dc_dist_agree(d, s));
  DC_CHECK_MPI(MPI_Bcast(st, (int)sizeof *st, MPI_BYTE, 0, d->comm));
  DC_TRY(bcast_text(d, config));
  return bcast_text(d, vocab);
}

/* The checkpoint's configuration with the --set keys that do not change the model. */
static enum dc_status make_config(const struct dc_predict_opts *o, const char *ckpt, const char *text,
                                  struct dc_config *cfg) {
  char shown[1200];
  snprintf(shown, sizeof shown, "%.1100s:/config", ckpt);
  DC_TRY(dc_config_defaults(cfg));
  DC_TRY(dc_config_apply_text(cfg, text, shown, NULL));
  for (int i = 0; i < o->n_sets; i++) {
    size_t len = strcspn(o->sets[i], "=");
    int ok = 0;
    for (int k = 0; k < N_SETTABLE && !ok; k++) ok = strlen(settable[k]) == len && !strncmp(settable[k], o->sets[i], len);
    if (!ok)
      return DC_ERROR(DC_ERR_ARG, "--set %s: predict takes only keys that do not change the model (%s); the model's "
                      "own configuration comes from its checkpoint", o->sets[i], dc_predict_settable_keys());
    DC_TRY(dc_config_apply_set(cfg, o->sets[i], NULL));
  }
  DC_TRY(dc_config_check(cfg, NULL));
  dc_run_env_apply(cfg);
  return DC_OK;
}

/* The scene the model was fine-tuned on, without its cubes (a synthetic preset: whole). */
static enum dc_status training_scene(const struct dc_predict_opts *o, const struct dc_config *cfg, const char *ckpt,
                                     struct dc_scene *s, char *where, size_t cap) {
  memset(s, 0, sizeof *s);
  if (!o->training_scene && cfg->data.synthetic != DC_DATA_SYNTHETIC_NONE) {
    snprintf(where, cap, "synthetic preset %s (seed %lld)", synthetic_names[cfg->data.synthetic],
             (long long)cfg->data.synthetic_seed);
    return dc_synth_scene(synthetic_names[cfg->data.synthetic], (uint64_t)cfg->data.synthetic_seed, s);
  }
  const char *path = o->training_scene ? o->training_scene : cfg->data.scene;
  snprintf(where, cap, "%s", path);
  if (!path[0]) return DC_ERROR(DC_ERR_ARG, "%s names no training scene (data.scene): give --training-scene FILE", ckpt);
  if (!o->training_scene && dc_config_is_exams(cfg))
    return DC_ERROR(DC_ERR_ARG, "%s was fine-tuned on the exam store %s: predict maps scenes (evaluate exams with "
                    "`diffclip evaluate`)", ckpt, path);
  if (dc_scene_read(path, s, 0) != DC_OK)
    return DC_ERROR(DC_ERR_ARG, "cannot read %s, the scene %s was fine-tuned on (%s): its classes and normalisation "
                    "come from it; give it with --training-scene FILE", path, ckpt,
                    o->training_scene ? "--training-scene" : "data.scene of its configuration");
  return DC_OK;
}

/* The scene to map has the training scene's modalities and band counts. */
static enum dc_status same_inputs(const struct dc_scene *t, const char *t_where, const struct dc_scene *s,
                                  const char *s_path) {
  int same = t->n_modalities == s->n_modalities;
  for (int m = 0; same && m < t->n_modalities; m++)
    same = t->bands[m] == s->bands[m] && strcmp(t->modality_names[m], s->modality_names[m]) == 0;
  if (same) return DC_OK;
  char a[256] = "", b[256] = "";
  for (int m = 0; m < t->n_modalities; m++)
    snprintf(a + strlen(a), sizeof a - strlen(a), "%s%s (%d band%s)", m ? ", " : "", t->modality_names[m], t->bands[m],
             t->bands[m] == 1 ? "" : "s");
  for (int m = 0; m < s->n_modalities; m++)
    snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s (%d band%s)", m ? ", " : "", s->modality_names[m], s->bands[m],
             s->bands[m] == 1 ? "" : "s");
  return DC_ERROR(DC_ERR_ARG, "--scene %s has modalities %s, but the model was fine-tuned on %s with %s: a model maps "
                  "only scenes with the same modalities and band counts", s_path, b, t_where, a);
}

/* The training scene's normalisation statistics onto the scene to map, then normalised. */
static enum dc_status normalise_like(struct dc_scene *s, const struct dc_scene *t, const struct dc_config *cfg) {
  int robust = cfg->data.normalisation == DC_DATA_NORM_BAND_ROBUST;
  for (int m = 0; m < s->n_modalities && s != t; m++) {
    s->global_min[m] = t->global_min[m], s->global_max[m] = t->global_max[m];
    if (!robust) continue;
    if (!t->stats[m].p02 || !t->stats[m].p98 || !s->stats[m].p02 || !s->stats[m].p98)
      return DC_ERROR(DC_ERR_ARG, "scene %s: modality %d has no p02 / p98 statistics (data.normalisation = "
                      "\"band_robust\")", t->name, m);
    memcpy(s->stats[m].p02, t->stats[m].p02, (size_t)s->bands[m] * sizeof(double));
    memcpy(s->stats[m].p98, t->stats[m].p98, (size_t)s->bands[m] * sizeof(double));
  }
  return dc_normalise_scene(s, robust ? DC_NORM_BAND_ROBUST : DC_NORM_GLOBAL_MINMAX);
}

/* ---- output (rank 0) ---------------------------------------------------------------- */

struct outputs {
  char paths[5][2200];
  int n;
};

static const char *out_path(struct outputs *w, const char *dir, const char *name) {
  snprintf(w->paths[w->n], sizeof w->paths[w->n], "%.2000s/%s", dir, name);
  return w->paths[w->n++];
}

static enum dc_status write_classes_csv(const char *path, const struct dc_prediction *p) {
  char tmp[2300];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return DC_ERROR(DC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  size_t n = (size_t)p->height * p->width, count[DC_RESULT_MAX_CLASSES + 1] = {0};
  for (size_t i = 0; i < n; i++) count[p->prediction[i]]++;
  int bad = fprintf(f, "value,name,colour,pixels,share\n") < 0;
  for (int k = 1; k <= p->n_classes && !bad; k++) {
    uint8_t c[3];
    dc_map_class_color(k, c);
    const char *name = p->class_names[k - 1];
    int quote = strpbrk(name, ",\"\n") != NULL;
    bad = fprintf(f, "%d,%s", k, quote ? "\"" : "") < 0;
    for (const char *q = name; *q && !bad; q++) bad = fprintf(f, *q == '"' && quote ? "\"\"" : "%c", *q) < 0;
    bad = bad || fprintf(f, "%s,#%02x%02x%02x,%zu,%.6f\n", quote ? "\"" : "", c[0], c[1], c[2], count[k],
                         (double)count[k] / (double)n) < 0;
  }
  if (fclose(f) != 0) bad = 1;
  if (bad || rename(tmp, path) != 0) {
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "cannot write %s (disk full?)", path);
  }
  return DC_OK;
}

static enum dc_status write_outputs(const struct dc_predict_opts *o, const struct dc_prediction *p,
                                    const struct dc_scene *s, struct outputs *w) {
  if (dc_mkdir_p(o->out_dir) != 0) return DC_ERROR(DC_ERR_IO, "cannot create --out %s: %s", o->out_dir, strerror(errno));
  const char *names[DC_RESULT_MAX_CLASSES];
  for (int k = 0; k < p->n_classes; k++) names[k] = p->class_names[k];
  struct dc_georef geo = {s->has_geo, {0}, s->crs_wkt};
  memcpy(geo.gt, s->geotransform, sizeof geo.gt);
  DC_TRY(dc_geotiff_write_classes(out_path(w, o->out_dir, "prediction.tif"), p->prediction, p->height, p->width,
                                  p->n_classes, names, &geo));
  if (p->probability)
    DC_TRY(dc_geotiff_write_scores(out_path(w, o->out_dir, "probability.tif"), p->probability, p->height, p->width,
                                   p->n_classes, names, &geo));
  size_t n = (size_t)p->height * p->width;
  struct dc_result r;
  memset(&r, 0, sizeof r);
  r.height = p->height, r.width = p->width, r.n_classes = p->n_classes;
  r.prediction = malloc(n * sizeof *r.prediction);
  DC_CHECK_ALLOC(r.prediction);
  for (size_t i = 0; i < n; i++) r.prediction[i] = p->prediction[i];
  enum dc_status st = dc_map_png_write(out_path(w, o->out_dir, "prediction.png"), &r, DC_MAP_PREDICTION, 0, NULL);
  free(r.prediction);
  DC_TRY(st);
  DC_TRY(write_classes_csv(out_path(w, o->out_dir, "classes.csv"), p));
  return dc_prediction_write(out_path(w, o->out_dir, "prediction.h5"), p); /* last: it says the call finished */
}

/* ---- the verb ----------------------------------------------------------------------- */

struct job {
  char ckpt[2100], train_where[1100];
  struct dc_ckpt_state cs;
  char *config_text, *vocab;
  struct dc_config cfg;
  struct dc_scene train, scene; /* scene unused when the training scene is mapped itself */
  struct dc_scene *map;
  struct dc_class_text text;
  struct dc_model_config mcfg;
  struct dc_clip *model;
  struct dc_classifier k;
  int *all;
  struct dc_prediction p;
};

static enum dc_status run(const struct dc_dist *d, const struct dc_predict_opts *o, struct job *j) {
  DC_TRY(dc_dist_agree(d, checkpoint_path(o->checkpoint, j->ckpt, sizeof j->ckpt)));
  DC_TRY(read_model_files(d, j->ckpt, &j->cs, &j->config_text, &j->vocab));
  DC_TRY(dc_dist_agree(d, make_config(o, j->ckpt, j->config_text, &j->cfg)));
  const struct dc_config *cfg = &j->cfg;
  DC_TRY(dc_dist_agree(d, training_scene(o, cfg, j->ckpt, &j->train, j->train_where, sizeof j->train_where)));
  const char *map_path = o->scene;
  if (!map_path && cfg->data.synthetic != DC_DATA_SYNTHETIC_NONE && !o->training_scene) {
    j->map = &j->train; /* the preset, built whole */
  } else {
    if (!map_path) map_path = j->train_where;
    DC_TRY(dc_scene_load_parallel(d, map_path, &j->scene));
    j->map = &j->scene;
    DC_TRY(dc_dist_agree(d, same_inputs(&j->train, j->train_where, &j->scene, map_path)));
  }
  struct dc_scene *s = j->map;
  DC_TRY(dc_dist_agree(d, normalise_like(s, &j->train, cfg)));
  int N = j->train.n_classes, M = s->n_modalities;
  if (N < 1 || N > 255)
    return DC_ERROR(DC_ERR_ARG, "%s has %d classes; predict maps 1..255 (8-bit class maps)", j->train_where, N);
  DC_TRY(dc_dist_agree(d, dc_class_text_make(cfg, (const char *const *)j->train.class_names,
                                             (const char *const *)j->train.class_descriptions, N, j->vocab, &j->text)));
  DC_TRY(dc_config_model(cfg, M, s->bands, dc_tokenizer_vocab_size(j->text.tok), &j->mcfg));
  enum dc_clip_loss loss = dc_stage2_loss(cfg);
  size_t npix = (size_t)s->height * s->width;
  /* the batch of the run's own map (finetune.eval_batch, no more than the pixels), so that
   * the map is the run's to the bit on any rank count */
  int B = npix < (size_t)cfg->finetune.eval_batch ? (int)npix : cfg->finetune.eval_batch;
  DC_TRY(dc_dist_agree(d, dc_stage2_model(cfg, &j->mcfg, loss, &j->text, B, 1, &j->model)));
  struct dc_ckpt_state st;
  enum dc_status rs = dc_ckpt_read(d, j->ckpt, &j->model->params, &j->model->buffers, NULL, &st);
  if (rs != DC_OK)
    return DC_ERROR(rs, "cannot load %s into a model of its configuration for %s (%d classes)", j->ckpt,
                    j->train_where, N);
  struct dc_samples smp = {.scene = s};
  DC_TRY(dc_dist_agree(d, dc_classifier_init(&j->k, cfg, &smp, &j->mcfg, loss, N, B)));
  char label[160];
  snprintf(label, sizeof label, "predict %.64s (rank 0's share of %zu pixels)", s->name, npix);
  if (d->rank == 0) j->k.progress = label;
  j->all = malloc(npix * sizeof *j->all);
  int full = o->scores == DC_PREDICT_SCORES_ALL, root = d->rank == 0;
  struct dc_prediction *p = &j->p;
  if (root) {
    p->prediction = malloc(npix), p->top2 = malloc(2 * npix), p->top2_prob = malloc(2 * npix * sizeof *p->top2_prob);
    p->probability = full ? malloc(npix * N * sizeof *p->probability) : NULL;
  }
  int *pred = root ? malloc(npix * sizeof *pred) : NULL;
  int ok = j->all && (!root || (p->prediction && p->top2 && p->top2_prob && (!full || p->probability) && pred));
  enum dc_status as = ok ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "no memory for the map of %zu pixels x %d classes", npix, N);
  if (as != DC_OK) free(pred);
  DC_TRY(dc_dist_agree(d, as));
  for (size_t i = 0; i < npix; i++) j->all[i] = (int)i;
  void *want = dc_class_out_wanted();
  struct dc_class_out out = {root ? pred : want, NULL, full ? (root ? (void *)p->probability : want) : NULL,
                             root ? p->top2 : want, root ? (void *)p->top2_prob : want};
  if (root)
    dc_log(DC_LOG_INFO, "predict: %s (%d x %d pixels, %d modalities) with %s (%d classes of %s, epoch %lld) on %d "
           "rank(s), batch %d", map_path ? map_path : j->train_where, s->height, s->width, M, j->ckpt, N,
           j->train_where, (long long)j->cs.epoch, d->size, B);
  double t0 = dc_now_s();
  enum dc_status cs = dc_classify_sharded(d, &j->k, j->model, j->all, (int)npix, &out);
  if (cs == DC_STOPPED && root) dc_log(DC_LOG_INFO, "predict: stopped before the map was done; nothing written");
  if (cs != DC_OK) free(pred);
  DC_TRY(cs);
  enum dc_status ws = DC_OK;
  if (root) {
    char took[32];
    dc_format_hms(dc_now_s() - t0, took, sizeof took);
    dc_log(DC_LOG_INFO, "predict: %zu pixels classified in %s (%.0f pixels/s)", npix, took,
           (double)npix / fmax(dc_now_s() - t0, 1e-9));
    for (size_t i = 0; i < npix; i++) p->prediction[i] = (uint8_t)(pred[i] + 1);
    snprintf(p->scene, sizeof p->scene, "%s", s->name);
    snprintf(p->scene_file, sizeof p->scene_file, "%s", map_path ? map_path : j->train_where);
    snprintf(p->checkpoint, sizeof p->checkpoint, "%s", j->ckpt);
    snprintf(p->config_sha256, sizeof p->config_sha256, "%s", j->cs.config_sha256);
    p->height = s->height, p->width = s->width, p->n_classes = N;
    for (int c = 0; c < N; c++) snprintf(p->class_names[c], sizeof p->class_names[c], "%s", j->train.class_names[c]);
    p->has_geo = s->has_geo;
    memcpy(p->geotransform, s->geotransform, sizeof p->geotransform);
    p->crs_wkt = s->crs_wkt ? strdup(s->crs_wkt) : NULL;
    struct outputs w = {.n = 0};
    ws = write_outputs(o, p, s, &w);
    for (int i = 0; ws != DC_OK && i < w.n; i++) { /* nothing of this call is left, sidecars included */
      char aux[2300];
      snprintf(aux, sizeof aux, "%s.aux.xml", w.paths[i]);
      remove(w.paths[i]);
      remove(aux);
    }
    if (ws == DC_OK)
      dc_log(DC_LOG_INFO, "predict: wrote %s/prediction.h5, prediction.tif%s, prediction.png and classes.csv",
             o->out_dir, full ? ", probability.tif" : "");
  }
  free(pred);
  return dc_dist_agree(d, ws);
}

enum dc_status dc_predict(const struct dc_dist *d, const struct dc_predict_opts *o) {
  struct job *j = calloc(1, sizeof *j);
  DC_CHECK_ALLOC(j);
  dc_signals_install();
  enum dc_status st = run(d, o, j);
  if (j->model) dc_clip_free(j->model), free(j->model);
  dc_classifier_free(&j->k);
  dc_class_text_free(&j->text);
  dc_scene_free(&j->scene);
  dc_scene_free(&j->train);
  dc_prediction_free(&j->p);
  free(j->all), free(j->config_text), free(j->vocab);
  free(j);
  return dc_dist_agree(d, st);
}
