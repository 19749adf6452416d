/* The run's scene or exam store from its configuration, and the samples view (see
 * data_source.h). */
#include "diffclip/train/data_source.h"

#include "diffclip/core/sha256.h"

#include <stdlib.h>
#include <string.h>

#include "diffclip/data/patch.h"
#include "diffclip/data/scene_mpi.h"
#include "diffclip/data/synth.h"

#define DC_SYNTH_TEXT(id, text) text,
static const char *const synthetic_names[] = {DC_DATA_SYNTHETIC_CHOICES(DC_SYNTH_TEXT)};

enum dc_status dc_scene_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_scene *s) {
  const struct dc_config_data *dc = &cfg->data;
  memset(s, 0, sizeof *s);
  if (dc->synthetic != DC_DATA_SYNTHETIC_NONE) {
    DC_TRY(dc_dist_agree(d, dc_synth_scene(synthetic_names[dc->synthetic], (uint64_t)dc->synthetic_seed, s)));
  } else {
    if (!dc->scene[0])
      return DC_ERROR(DC_ERR_ARG, "no scene: set data.scene to a file made by `diffclip prepare` or `diffclip synth`, "
                                  "or data.synthetic to a preset");
    DC_TRY(dc_scene_load_parallel(d, dc->scene, s));
  }
  if (dc->classes != 0 && dc->classes != s->n_classes)
    return DC_ERROR(DC_ERR_ARG, "data.classes = %d but the scene %s has %d classes", dc->classes, s->name,
                    s->n_classes);
  return dc_normalise_scene(s, dc->normalisation == DC_DATA_NORM_BAND_ROBUST ? DC_NORM_BAND_ROBUST
                                                                            : DC_NORM_GLOBAL_MINMAX);
}

int dc_samples_modalities(const struct dc_samples *s) { return s->exams ? s->exams->n_planes : s->scene->n_modalities; }
int dc_samples_bands(const struct dc_samples *s, int m) { return s->exams ? s->exams->slices : s->scene->bands[m]; }
const char *dc_samples_name(const struct dc_samples *s) { return s->exams ? s->exams->name : s->scene->name; }
const char *dc_samples_modality_name(const struct dc_samples *s, int m) {
  const char *n = s->exams ? s->exams->plane_names[m] : s->scene->modality_names[m];
  return n[0] ? n : "?";
}

void dc_samples_cut(const struct dc_samples *s, int m, int window, const int *idx, int B, float *out) {
  if (s->scene) {
    const struct dc_scene *sc = s->scene;
    dc_patch_cut_batch(out, sc->cube[m], sc->height, sc->width, sc->bands[m], window, idx, B);
    return;
  }
  size_t n = (size_t)s->exams->window * s->exams->window * s->exams->slices;
  for (int b = 0; b < B; b++) memcpy(out + (size_t)b * n, s->exams->tokens[m] + (size_t)idx[b] * n, n * sizeof *out);
}

int dc_config_is_exams(const struct dc_config *cfg) {
  return cfg->data.synthetic == DC_DATA_SYNTHETIC_NONE && cfg->data.scene[0] && dc_exams_is_store(cfg->data.scene);
}

/* Every rank pools exams [N r / R, N (r + 1) / R), then the shares are gathered plane by
 * plane, so any rank can give any exam's patch. */
/* Every rank must have opened the same exam store (see same_scene in data/scene_mpi.c). */
static enum dc_status same_exams(const struct dc_dist *d, const char *path, const struct dc_exams *e) {
  char labels[DC_SHA256_HEX], split[DC_SHA256_HEX], ids[DC_SHA256_HEX], text[1400];
  dc_sha256_hex(e->labels, (size_t)e->n_exams * e->n_tasks * sizeof(int32_t), labels);
  dc_sha256_hex(e->split, (size_t)e->n_exams * sizeof(int32_t), split);
  dc_sha256_hex(e->ids, (size_t)e->n_exams * sizeof(int32_t), ids);
  snprintf(text, sizeof text,
           "exam store %.300s\nname %.63s\n%d exams, %d planes, %d tasks, %d splits, %d x %d x %d\n"
           "labels sha256 %s\nsplits sha256 %s\nids sha256 %s\n",
           path, e->name, e->n_exams, e->n_planes, e->n_tasks, e->n_splits, e->slices, e->height, e->width, labels, split,
           ids);
  /* data, not configuration: exit code 1 */
  return dc_dist_same_text(d, "exam store", text,
                           "every rank must read the same exam store: a node-local copy differs from rank 0's") == DC_OK ? DC_OK : DC_ERR_IO;
}

static enum dc_status exams_load(const struct dc_dist *d, const struct dc_config *cfg, struct dc_exams *e) {
  struct dc_exams head;
  DC_TRY(dc_dist_agree(d, dc_exams_read(cfg->data.scene, cfg->model.window, 0, 0, &head)));
  enum dc_status same = dc_dist_agree(d, same_exams(d, cfg->data.scene, &head));
  if (same != DC_OK) {
    dc_exams_free(&head);
    return same;
  }
  int N = head.n_exams, lo = (int)((long)N * d->rank / d->size), hi = (int)((long)N * (d->rank + 1) / d->size);
  dc_exams_free(&head);
  DC_TRY(dc_dist_agree(d, dc_exams_read(cfg->data.scene, cfg->model.window, lo, hi, e)));
  long per = (long)e->window * e->window * e->slices;
  if ((double)per * N > 2147483647.0) return DC_ERROR(DC_ERR_ARG, "%s: too many exams to share", cfg->data.scene);
  int *counts = malloc(2 * (size_t)d->size * sizeof *counts);
  DC_CHECK_ALLOC(counts);
  for (int r = 0; r < d->size; r++) {
    long a = (long)N * r / d->size, b = (long)N * (r + 1) / d->size;
    counts[r] = (int)((b - a) * per);
    counts[d->size + r] = (int)(a * per);
  }
  enum dc_status st = DC_OK;
  for (int p = 0; p < e->n_planes && st == DC_OK; p++)
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, e->tokens[p], counts, counts + d->size, MPI_FLOAT,
                       d->comm) != MPI_SUCCESS)
      st = DC_ERROR(DC_ERR_MPI, "%s: sharing the pooled exams of plane %d failed", cfg->data.scene, p);
  free(counts);
  if (st != DC_OK) return st;
  dc_exams_normalise(e);
  if (cfg->data.classes != 0 && cfg->data.classes != 2)
    return DC_ERROR(DC_ERR_ARG, "data.classes = %d but the tasks of the exam store %s are binary (2 classes)",
                    cfg->data.classes, cfg->data.scene);
  if ((int)cfg->data.task >= e->n_tasks)
    return DC_ERROR(DC_ERR_ARG, "data.task %d: the exam store %s has %d tasks", (int)cfg->data.task, cfg->data.scene,
                    e->n_tasks);
  return DC_OK;
}

enum dc_status dc_data_from_config(const struct dc_dist *d, const struct dc_config *cfg, struct dc_data *out) {
  memset(out, 0, sizeof *out);
  if (dc_config_is_exams(cfg)) {
    enum dc_status st = dc_dist_agree(d, exams_load(d, cfg, &out->exams));
    if (st != DC_OK) dc_exams_free(&out->exams);
    out->samples.exams = &out->exams;
    return st;
  }
  out->samples.scene = &out->scene;
  return dc_scene_from_config(d, cfg, &out->scene);
}

void dc_data_free(struct dc_data *data) {
  dc_scene_free(&data->scene);
  dc_exams_free(&data->exams);
  memset(data, 0, sizeof *data);
}
