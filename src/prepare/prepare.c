/* `prepare` for scenes: picks the manifest variant whose files are present, checks every
 * file (presence, SHA-256, shape, band count, labels, NaN/Inf), assembles the scene in
 * memory and only then writes it (dc_scene_write: temporary name, then rename).
 *
 * A variant with one "gt" label file (no published split) stores the whole ground truth as
 * /labels/test and leaves /labels/train empty; the few-shot protocol merges both anyway. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diffclip/data/scene.h"
#include "diffclip/core/sha256.h"
#include "prepare/prepare.h"
#include "prepare/readers.h"

static int is_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The first variant with all files present, or the named one. */
static enum dc_status pick_variant(const struct dc_manifest *m, const struct dc_prepare_options *o,
                                   const struct dc_manifest_variant **out) {
  char path[4096];
  if (o->variant) {
    for (int v = 0; v < m->n_variants; v++)
      if (strcmp(m->variants[v].name, o->variant) == 0) *out = &m->variants[v];
    if (!*out) {
      char names[512] = "";
      for (int v = 0; v < m->n_variants; v++) {
        strncat(names, v ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, m->variants[v].name, sizeof names - strlen(names) - 1);
      }
      return DC_ERROR(DC_ERR_ARG, "%s: no variant '%s'; expected one of: %s", m->path, o->variant, names);
    }
  }
  for (int v = 0; !*out && v < m->n_variants; v++) {
    int complete = 1;
    for (int i = 0; complete && i < m->variants[v].n_files; i++) {
      DC_TRY(dc_prepare_join(o->raw, m->variants[v].files[i].file, path, sizeof path));
      complete = is_file(path);
    }
    if (complete) *out = &m->variants[v];
  }
  const struct dc_manifest_variant *v = *out ? *out : &m->variants[0];
  /* every missing file of the variant at once, so a partial download is seen whole */
  int missing = 0, first = -1;
  char list[1024] = "";
  for (int i = 0; i < v->n_files; i++) {
    const struct dc_manifest_file *f = &v->files[i];
    DC_TRY(dc_prepare_join(o->raw, f->file, path, sizeof path));
    if (is_file(path)) continue;
    struct stat sb;
    int folder = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (missing < 5) {
      char item[600];
      snprintf(item, sizeof item, "%s%s%s", missing ? ", " : "", f->file, folder ? " (a folder, not a file)" : "");
      strncat(list, item, sizeof list - strlen(list) - 1);
    }
    if (first < 0) first = i;
    missing++;
  }
  if (missing) {
    const struct dc_manifest_file *f = &v->files[first];
    char others[512] = "", more[64] = "";
    for (int k = 1; !o->variant && k < m->n_variants; k++) {
      strncat(others, k > 1 ? ", " : "; no other variant is complete either (", sizeof others - strlen(others) - 1);
      strncat(others, m->variants[k].name, sizeof others - strlen(others) - 1);
    }
    if (others[0]) strncat(others, ")", sizeof others - strlen(others) - 1);
    if (missing > 5) snprintf(more, sizeof more, " and %d more", missing - 5);
    return DC_ERROR(DC_ERR_IO,
                    "%s: %d of the %d files of variant '%s' (%s) are missing: %s%s; the first is for %s%s%s "
                    "(%s:%d)%s. Download or unpack them there (docs/data.md says from where)",
                    o->raw, missing, v->n_files, v->name, m->path, list, more, f->role,
                    f->variable[0] ? ", variable " : "", f->variable, m->path, f->line, others);
  }
  return DC_OK;
}

/* Digest of each distinct file, checked against the manifest; adds provenance lines. */
static enum dc_status hash_files(const struct dc_manifest *m, const struct dc_manifest_variant *v, const char *raw,
                                 struct dc_scene *s) {
  s->files = calloc((size_t)v->n_files, sizeof *s->files);
  DC_CHECK_ALLOC(s->files);
  char path[4096], hex[65];
  for (int i = 0; i < v->n_files; i++) {
    const struct dc_manifest_file *f = &v->files[i];
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= strcmp(v->files[j].file, f->file) == 0;
    DC_TRY(dc_prepare_join(raw, f->file, path, sizeof path));
    DC_TRY(dc_sha256_file(path, hex));
    if (f->sha256[0] && strcmp(hex, f->sha256) != 0) {
      if (!f->sha256_advisory)
        return DC_ERROR(DC_ERR_IO,
                        "%s: SHA-256 is %s; expected %s (%s:%d); a different release or a damaged copy (mark the "
                        "entry sha256_advisory = true to accept it)",
                        path, hex, f->sha256, m->path, f->line);
      dc_log(DC_LOG_WARN, "%s: SHA-256 is %s, the manifest lists %s (advisory: continuing)", path, hex, f->sha256);
    }
    if (seen) continue;
    size_t len = strlen(hex) + 2 + strlen(f->file) + 1;
    s->files[s->n_files] = malloc(len);
    DC_CHECK_ALLOC(s->files[s->n_files]);
    snprintf(s->files[s->n_files], len, "%s  %s", hex, f->file);
    s->n_files++;
  }
  return DC_OK;
}

/* Reads one file as float32 (modality) or int32 (labels), shaped (H, W, C). */
static enum dc_status read_file(const struct dc_manifest *m, const struct dc_manifest_file *f, const char *raw,
                                enum dc_elem want, struct dc_array *a, char *what, size_t what_len) {
  char path[4096];
  DC_TRY(dc_prepare_join(raw, f->file, path, sizeof path));
  if (f->variable[0])
    snprintf(what, what_len, "%s: variable '%s'", path, f->variable);
  else
    snprintf(what, what_len, "%s", path);
  switch (dc_manifest_file_format(f)) {
    case DC_FORMAT_MAT: DC_TRY(dc_mat_read(path, f->variable, want, a)); break;
    case DC_FORMAT_NPY: DC_TRY(dc_npy_read(path, want, a)); break;
    case DC_FORMAT_ENVI_ROI:
      DC_TRY(dc_envi_roi_read(path, m->height, m->width, m->n_classes, (const char *const *)m->class_names,
                              f->roi_by_order, f->has_unlabelled ? f->unlabelled : m->unlabelled, m->first_class, a));
      break;
    default: DC_TRY(dc_gdal_read(path, want, a)); break;
  }
  enum dc_status st = dc_prepare_to_hwc(a, f->layout, what);
  if (st == DC_OK && (a->dims[0] != (size_t)m->height || a->dims[1] != (size_t)m->width)) {
    char shape[128];
    st = DC_ERROR(DC_ERR_IO, "%s: shape %s (as %s); expected %d x %d pixels (the grid of %s)", what,
                  dc_array_shape_str(a, shape, sizeof shape), f->layout, m->height, m->width, m->path);
  }
  if (st != DC_OK) dc_array_free(a);
  return st;
}

/* The georeference and wavelengths of a GDAL raster into the scene: the first file with a
 * georeference gives the scene's (a later file with another is warned about: the grids
 * were checked to match in size, not in place); a modality file's band wavelengths fill
 * bands [first, first + its bands) of the modality (NaN where it has none). */
static enum dc_status take_geo(const struct dc_manifest *m, const struct dc_manifest_file *f, const char *raw,
                               int mod, int first, struct dc_scene *s) {
  enum dc_file_format fmt = dc_manifest_file_format(f);
  if (fmt == DC_FORMAT_MAT || fmt == DC_FORMAT_NPY || fmt == DC_FORMAT_ENVI_ROI) return DC_OK;
  char path[4096];
  DC_TRY(dc_prepare_join(raw, f->file, path, sizeof path));
  struct dc_raster_geo g;
  DC_TRY(dc_gdal_read_geo(path, &g));
  enum dc_status st = DC_OK;
  if (g.has_geo && !s->has_geo) {
    s->has_geo = 1;
    memcpy(s->geotransform, g.gt, sizeof g.gt);
    dc_log(DC_LOG_INFO, "  georeference from %s: origin (%.6g, %.6g), pixel %.6g x %.6g%s", f->file, g.gt[0], g.gt[3],
           g.gt[1], g.gt[5], g.wkt ? "" : ", no CRS");
  } else if (g.has_geo && memcmp(s->geotransform, g.gt, sizeof g.gt) != 0) {
    dc_log(DC_LOG_WARN, "%s: its geotransform differs from the first georeferenced file's; the scene keeps the first "
           "(%s:%d)", path, m->path, f->line);
  }
  if (g.wkt && !s->crs_wkt) {
    s->crs_wkt = g.wkt;
    g.wkt = NULL;
  }
  if (mod >= 0 && g.wavelength) {
    int C = s->bands[mod];
    if (!s->wavelengths[mod]) {
      s->wavelengths[mod] = malloc((size_t)C * sizeof(double));
      if (!s->wavelengths[mod]) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for wavelengths", path);
      for (int b = 0; st == DC_OK && b < C; b++) s->wavelengths[mod][b] = NAN;
    }
    for (int b = 0; st == DC_OK && b < g.bands && first + b < C; b++) s->wavelengths[mod][first + b] = g.wavelength[b];
    if (st == DC_OK && g.units[0] && s->wavelength_units[mod][0] && strcmp(g.units, s->wavelength_units[mod]) != 0)
      st = DC_ERROR(DC_ERR_IO, "%s: wavelengths in %s, the modality's earlier files in %s; one unit expected (%s:%d)",
                    path, g.units, s->wavelength_units[mod], m->path, f->line);
    if (st == DC_OK && g.units[0]) snprintf(s->wavelength_units[mod], sizeof s->wavelength_units[mod], "%s", g.units);
  }
  dc_raster_geo_free(&g);
  return st;
}

static enum dc_status load_modalities(const struct dc_manifest *m, const struct dc_manifest_variant *v,
                                      const struct dc_prepare_options *o, enum dc_nan_policy policy, struct dc_scene *s) {
  size_t hw = (size_t)m->height * (size_t)m->width;
  char what[4400];
  for (int mod = 0; mod < m->n_modalities; mod++) {
    int C = v->bands[mod], filled = 0;
    const struct dc_manifest_file *last = NULL;
    for (int i = 0; i < v->n_files; i++) {
      const struct dc_manifest_file *f = &v->files[i];
      if (strcmp(f->role, m->modality_names[mod]) != 0) continue;
      struct dc_array a;
      DC_TRY(read_file(m, f, o->raw, DC_ELEM_F32, &a, what, sizeof what));
      int c = (int)a.dims[2];
      if (filled + c > C) {
        dc_array_free(&a);
        return DC_ERROR(DC_ERR_IO, "%s: %d bands; expected %d for modality '%s'%s (variant '%s', %s:%d)", what, c,
                        C - filled, f->role, filled ? " after the files before it" : "", v->name, m->path, f->line);
      }
      enum dc_status gst = take_geo(m, f, o->raw, mod, filled, s);
      if (gst != DC_OK) {
        dc_array_free(&a);
        return gst;
      }
      float *cube = s->cube[mod];
      for (size_t p = 0; p < hw; p++)
        memcpy(cube + p * (size_t)C + (size_t)filled, a.f32 + p * (size_t)c, (size_t)c * sizeof(float));
      dc_array_free(&a);
      DC_TRY(dc_prepare_nonfinite(cube, hw, C, filled, filled + c, policy, m->width, what));
      filled += c;
      last = f;
    }
    if (filled != C)
      return DC_ERROR(DC_ERR_IO, "%s: %d bands in all; expected %d for modality '%s' (variant '%s', %s:%d)", what, filled,
                      C, m->modality_names[mod], v->name, m->path, last ? last->line : v->line);
    int known = 0;
    for (int b = 0; s->wavelengths[mod] && b < C; b++) known += !isnan(s->wavelengths[mod][b]);
    if (known)
      dc_log(DC_LOG_INFO, "  %-8s %d band%s, %d with a wavelength (%s)", m->modality_names[mod], C, C == 1 ? "" : "s",
             known, s->wavelength_units[mod][0] ? s->wavelength_units[mod] : "no unit given");
    else
      dc_log(DC_LOG_INFO, "  %-8s %d band%s", m->modality_names[mod], C, C == 1 ? "" : "s");
  }
  return DC_OK;
}

/* Pixel counts of one label raster: total and per class. */
static long count_labels(const int32_t *lab, size_t hw, int n_classes, long *per_class) {
  long total = 0;
  for (int k = 0; k < n_classes; k++) per_class[k] = 0;
  for (size_t i = 0; i < hw; i++)
    if (lab[i] > 0) {
      per_class[lab[i] - 1]++;
      total++;
    }
  return total;
}

static enum dc_status check_counts(const struct dc_manifest *m, const char *what, const char *which, const int32_t *lab,
                                   size_t hw, long want, int has_per_class, const long *want_per_class) {
  long per_class[DC_SCENE_MAX_CLASSES];
  long total = count_labels(lab, hw, m->n_classes, per_class);
  dc_log(DC_LOG_INFO, "  %-8s %ld pixels", which, total);
  if (want >= 0 && total != want)
    return DC_ERROR(DC_ERR_IO, "%s: %ld %s pixels; expected %ld as published (%s, published_split)", what, total, which,
                    want, m->path);
  for (int k = 0; has_per_class && k < m->n_classes; k++)
    if (per_class[k] != want_per_class[k])
      return DC_ERROR(DC_ERR_IO, "%s: class %d (%s) has %ld %s pixels; expected %ld as published (%s, published_split)",
                      what, k + 1, m->class_names[k], per_class[k], which, want_per_class[k], m->path);
  return DC_OK;
}

static enum dc_status load_labels(const struct dc_manifest *m, const struct dc_manifest_variant *v, const char *raw,
                                  struct dc_scene *s) {
  size_t hw = (size_t)m->height * (size_t)m->width;
  char what[4400], train_what[4400] = "";
  for (int i = 0; i < v->n_files; i++) {
    const struct dc_manifest_file *f = &v->files[i];
    int is_train = !strcmp(f->role, "train");
    if (!is_train && strcmp(f->role, "test") && strcmp(f->role, "gt")) continue;
    struct dc_array a;
    DC_TRY(read_file(m, f, raw, DC_ELEM_I32, &a, what, sizeof what));
    enum dc_status gst = take_geo(m, f, raw, -1, 0, s);
    if (gst != DC_OK) {
      dc_array_free(&a);
      return gst;
    }
    enum dc_status st = dc_prepare_map_labels(&a, f->has_unlabelled ? f->unlabelled : m->unlabelled, m->first_class,
                                              m->n_classes, what);
    if (st == DC_OK) memcpy(is_train ? s->train : s->test, a.i32, hw * sizeof(int32_t));
    dc_array_free(&a);
    DC_TRY(st);
    const struct dc_manifest_split_counts *c = &m->split;
    if (is_train) {
      snprintf(train_what, sizeof train_what, "%s", what);
      if (v->official_split) DC_TRY(check_counts(m, what, "training", s->train, hw, c->train, c->has_train_per_class, c->train_per_class));
    } else if (!strcmp(f->role, "test")) {
      for (size_t p = 0; p < hw; p++)
        if (s->train[p] && s->test[p])
          return DC_ERROR(DC_ERR_IO, "%s: pixel (row %zu, col %zu) is labelled in both it and %s; expected disjoint "
                          "training and test sets", what, p / (size_t)m->width, p % (size_t)m->width, train_what);
      if (v->official_split) DC_TRY(check_counts(m, what, "test", s->test, hw, c->test, c->has_test_per_class, c->test_per_class));
    }
  }
  /* the union of all labels against the published total (official splits and full ground truths) */
  int gt = 0;
  for (int i = 0; i < v->n_files; i++) gt |= !strcmp(v->files[i].role, "gt");
  if (!v->official_split && !gt) return DC_OK;
  int32_t *all = malloc(hw * sizeof *all);
  DC_CHECK_ALLOC(all);
  for (size_t p = 0; p < hw; p++) all[p] = s->train[p] ? s->train[p] : s->test[p];
  enum dc_status st = check_counts(m, what, "labelled", all, hw, m->split.labelled,
                                   m->split.has_labelled_per_class, m->split.labelled_per_class);
  free(all);
  return st;
}

/* The manifest's drop and merge_into: labels renumbered to the kept classes, in their
 * order, after the published counts were checked on the classes as released. */
static void apply_class_fates(const struct dc_manifest *m, struct dc_scene *s) {
  int to[DC_SCENE_MAX_CLASSES + 1], kept = 0;
  long pixels[DC_SCENE_MAX_CLASSES] = {0};
  size_t hw = (size_t)s->height * (size_t)s->width;
  for (int k = 0; k < m->n_classes; k++)
    if (m->class_fate[k] == k) to[k + 1] = ++kept;
  if (kept == m->n_classes) return;
  to[0] = 0;
  for (int k = 0; k < m->n_classes; k++) to[k + 1] = m->class_fate[k] < 0 ? 0 : to[m->class_fate[k] + 1];
  for (size_t p = 0; p < hw; p++) {
    if (s->train[p] > 0) pixels[s->train[p] - 1]++;
    if (s->test[p] > 0) pixels[s->test[p] - 1]++;
    s->train[p] = to[s->train[p]];
    s->test[p] = to[s->test[p]];
  }
  for (int k = 0; k < m->n_classes; k++) {
    int t = m->class_fate[k];
    if (t < 0) dc_log(DC_LOG_INFO, "  class %d (%s) dropped: its %ld labelled pixels are unlabelled now", k + 1,
                      m->class_names[k], pixels[k]);
    else if (t != k) dc_log(DC_LOG_INFO, "  class %d (%s) merged into %s: %ld labelled pixels", k + 1, m->class_names[k],
                            m->class_names[t], pixels[k]);
  }
  int n = 0;
  for (int k = 0; k < m->n_classes; k++) {
    if (m->class_fate[k] == k) {
      s->class_names[n] = s->class_names[k];
      s->class_descriptions[n] = s->class_descriptions[k];
      n++;
    } else {
      free(s->class_names[k]);
      free(s->class_descriptions[k]);
    }
  }
  for (int k = n; k < m->n_classes; k++) s->class_names[k] = s->class_descriptions[k] = NULL;
  s->n_classes = kept;
  dc_log(DC_LOG_INFO, "  %d of the %d classes kept", kept, m->n_classes);
}

static enum dc_status fill_scene(const struct dc_manifest *m, const struct dc_manifest_variant *v,
                                 const struct dc_prepare_options *o, struct dc_scene *s) {
  snprintf(s->name, sizeof s->name, "%s", m->name);
  s->height = m->height;
  s->width = m->width;
  s->n_modalities = m->n_modalities;
  s->n_classes = m->n_classes;
  for (int i = 0; i < m->n_modalities; i++) {
    s->bands[i] = v->bands[i];
    snprintf(s->modality_names[i], sizeof s->modality_names[i], "%s", m->modality_names[i]);
  }
  DC_TRY(dc_scene_alloc(s));
  for (int k = 0; k < m->n_classes; k++) {
    s->class_names[k] = strdup(m->class_names[k]);
    s->class_descriptions[k] = strdup(m->class_descriptions[k]);
    DC_CHECK_ALLOC(s->class_names[k]);
    DC_CHECK_ALLOC(s->class_descriptions[k]);
  }
  s->manifest = strdup(m->text);
  DC_CHECK_ALLOC(s->manifest);
  snprintf(s->manifest_sha256, sizeof s->manifest_sha256, "%s", m->sha256);
  snprintf(s->source, sizeof s->source, "prepare:%s:%s", v->name, o->raw);
  return DC_OK;
}

static enum dc_status prepare_scene(const struct dc_manifest *m, const struct dc_prepare_options *o) {
  const struct dc_manifest_variant *v = NULL;
  DC_TRY(pick_variant(m, o, &v));
  enum dc_nan_policy policy = o->nan_policy >= 0 ? (enum dc_nan_policy)o->nan_policy : m->nan_policy;
  dc_log(DC_LOG_INFO, "prepare %s: variant '%s' from %s (%d x %d, %d classes)", m->name, v->name, o->raw, m->height,
         m->width, m->n_classes);
  struct dc_scene s;
  memset(&s, 0, sizeof s);
  enum dc_status st = fill_scene(m, v, o, &s);
  if (st == DC_OK) st = hash_files(m, v, o->raw, &s);
  if (st == DC_OK) st = load_modalities(m, v, o, policy, &s);
  if (st == DC_OK) st = load_labels(m, v, o->raw, &s);
  if (st == DC_OK) apply_class_fates(m, &s);
  if (st == DC_OK) st = dc_scene_compute_stats(&s);
  if (st == DC_OK) st = dc_scene_write(o->out, &s);
  if (st == DC_OK) dc_log(DC_LOG_INFO, "wrote %s", o->out);
  dc_scene_free(&s);
  return st;
}

enum dc_status dc_prepare_run(const struct dc_prepare_options *o) {
  DC_TRY(dc_prepare_check_out(o->out));
  struct stat sb;
  if (stat(o->raw, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return DC_ERROR(DC_ERR_IO, "%s: not a folder (%s); expected the folder holding the raw files (--raw)", o->raw,
                    strerror(errno ? errno : ENOTDIR));
  struct dc_manifest m;
  DC_TRY(dc_manifest_load(o->manifest, &m));
  enum dc_status st = m.kind == DC_MANIFEST_EXAMS ? dc_prepare_exams(&m, o) : prepare_scene(&m, o);
  dc_manifest_free(&m);
  return st;
}
