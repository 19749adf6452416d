/* The in-memory scene: allocation, the consistency check every writer runs before it
 * creates a file, the normalisation statistics, and release. No HDF5 and no MPI here, so
 * the serial ingestion program links this file as it is.
 *
 * Percentiles follow NumPy's default ("linear"): position q * (n - 1) of the sorted
 * values, interpolated between its two neighbours. Standard deviations are population
 * ones (ddof = 0), accumulated in double. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/data/scene.h"

enum dc_status dc_scene_alloc(struct dc_scene *s) {
  if (s->height <= 0 || s->width <= 0 || s->n_modalities < 1 || s->n_modalities > DC_SCENE_MAX_MODALITIES)
    return DC_ERROR(DC_ERR_ARG, "scene %s: cannot allocate a %d x %d grid with %d modalities (1..%d expected)",
                    s->name, s->height, s->width, s->n_modalities, DC_SCENE_MAX_MODALITIES);
  size_t hw = (size_t)s->height * (size_t)s->width;
  for (int m = 0; m < s->n_modalities; m++) {
    if (s->bands[m] <= 0)
      return DC_ERROR(DC_ERR_ARG, "scene %s: modality %d has %d bands, at least 1 expected", s->name, m, s->bands[m]);
    s->cube[m] = calloc(hw * (size_t)s->bands[m], sizeof(float));
    DC_CHECK_ALLOC(s->cube[m]);
  }
  s->train = calloc(hw, sizeof(int32_t));
  s->test = calloc(hw, sizeof(int32_t));
  DC_CHECK_ALLOC(s->train);
  DC_CHECK_ALLOC(s->test);
  return DC_OK;
}

static enum dc_status check_labels(const char *what, const char *raster, const int32_t *lab, int H, int W, int n_classes) {
  for (size_t i = 0; i < (size_t)H * W; i++)
    if (lab[i] < 0 || lab[i] > n_classes)
      return DC_ERROR(DC_ERR_ARG, "%s: /labels/%s has value %d at (row %zu, col %zu), 0..%d expected", what, raster,
                      (int)lab[i], i / (size_t)W, i % (size_t)W, n_classes);
  return DC_OK;
}

enum dc_status dc_scene_validate(const struct dc_scene *s, const char *what) {
  if (memchr(s->name, '\0', sizeof s->name) == NULL || s->name[0] == '\0')
    return DC_ERROR(DC_ERR_ARG, "%s: the scene name is empty or not terminated", what);
  if (s->height <= 0 || s->width <= 0)
    return DC_ERROR(DC_ERR_ARG, "%s: grid %d x %d, positive height and width expected", what, s->height, s->width);
  if (s->n_modalities < 1 || s->n_modalities > DC_SCENE_MAX_MODALITIES)
    return DC_ERROR(DC_ERR_ARG, "%s: %d modalities, 1..%d expected", what, s->n_modalities, DC_SCENE_MAX_MODALITIES);
  if (s->n_classes < 1 || s->n_classes > DC_SCENE_MAX_CLASSES)
    return DC_ERROR(DC_ERR_ARG, "%s: %d classes, 1..%d expected", what, s->n_classes, DC_SCENE_MAX_CLASSES);
  size_t hw = (size_t)s->height * (size_t)s->width;
  for (int m = 0; m < s->n_modalities; m++) {
    if (s->bands[m] <= 0)
      return DC_ERROR(DC_ERR_ARG, "%s: /modality_%d has %d bands, at least 1 expected", what, m, s->bands[m]);
    if (memchr(s->modality_names[m], '\0', sizeof s->modality_names[m]) == NULL || s->modality_names[m][0] == '\0')
      return DC_ERROR(DC_ERR_ARG, "%s: /modality_%d has no name (e.g. \"hsi\", \"lidar\")", what, m);
    if (!s->cube[m]) return DC_ERROR(DC_ERR_ARG, "%s: /modality_%d/cube is missing (NULL)", what, m);
    const float *c = s->cube[m];
    size_t n = hw * (size_t)s->bands[m];
    for (size_t i = 0; i < n; i++)
      if (!isfinite(c[i]))
        return DC_ERROR(DC_ERR_NUMERIC, "%s: /modality_%d/cube has %g at (row %zu, col %zu, band %zu), finite expected",
                        what, m, c[i], i / ((size_t)s->width * s->bands[m]), i / s->bands[m] % s->width,
                        i % (size_t)s->bands[m]);
  }
  if (!s->train || !s->test) return DC_ERROR(DC_ERR_ARG, "%s: a label raster (train or test) is missing", what);
  DC_TRY(check_labels(what, "train", s->train, s->height, s->width, s->n_classes));
  DC_TRY(check_labels(what, "test", s->test, s->height, s->width, s->n_classes));
  for (int k = 0; k < s->n_classes; k++)
    if (!s->class_names[k] || !s->class_names[k][0])
      return DC_ERROR(DC_ERR_ARG, "%s: class %d has no name; %d class names expected", what, k + 1, s->n_classes);
  if (s->n_files < 0 || (s->n_files > 0 && !s->files))
    return DC_ERROR(DC_ERR_ARG, "%s: %d provenance files but no list", what, s->n_files);
  for (int i = 0; i < s->n_files; i++)
    if (!s->files[i]) return DC_ERROR(DC_ERR_ARG, "%s: provenance file line %d is NULL", what, i);
  if (memchr(s->source, '\0', sizeof s->source) == NULL || memchr(s->manifest_sha256, '\0', sizeof s->manifest_sha256) == NULL)
    return DC_ERROR(DC_ERR_ARG, "%s: source or manifest_sha256 is not terminated", what);
  return DC_OK;
}

static void swap_f(float *a, float *b) {
  float t = *a;
  *a = *b;
  *b = t;
}

/* The k-th smallest of v[0..n) (Numerical Recipes' select: median-of-three pivot, Hoare
 * partition, so runs of equal values cost nothing); reorders v so that v[i] <= v[k] for
 * i < k and v[i] >= v[k] for i > k. */
static float select_kth(float *v, ptrdiff_t n, ptrdiff_t k) {
  ptrdiff_t l = 0, ir = n - 1;
  for (;;) {
    if (ir <= l + 1) {
      if (ir == l + 1 && v[ir] < v[l]) swap_f(&v[l], &v[ir]);
      return v[k];
    }
    ptrdiff_t mid = (l + ir) / 2;
    swap_f(&v[mid], &v[l + 1]);
    if (v[l] > v[ir]) swap_f(&v[l], &v[ir]);
    if (v[l + 1] > v[ir]) swap_f(&v[l + 1], &v[ir]);
    if (v[l] > v[l + 1]) swap_f(&v[l], &v[l + 1]);
    ptrdiff_t i = l + 1, j = ir;
    float a = v[l + 1];
    for (;;) {
      do i++; while (v[i] < a);
      do j--; while (v[j] > a);
      if (j < i) break;
      swap_f(&v[i], &v[j]);
    }
    v[l + 1] = v[j];
    v[j] = a;
    if (j >= k) ir = j - 1;
    if (j <= k) l = i;
  }
}

/* NumPy's linear percentile q (0..1) of v[0..n); reorders v. */
static double percentile(float *v, size_t n, double q) {
  double pos = q * (double)(n - 1);
  size_t lo = (size_t)floor(pos);
  double frac = pos - (double)lo;
  double a = select_kth(v, (ptrdiff_t)n, (ptrdiff_t)lo);
  if (frac == 0.0 || lo + 1 >= n) return a;
  /* after selection every element above lo is >= v[lo]: the next order statistic is their min */
  float b = v[lo + 1];
  for (size_t i = lo + 2; i < n; i++)
    if (v[i] < b) b = v[i];
  return a + frac * ((double)b - a);
}

enum dc_status dc_scene_compute_stats(struct dc_scene *s) {
  size_t hw = (size_t)s->height * (size_t)s->width;
  if (hw == 0 || s->n_modalities < 1 || s->n_modalities > DC_SCENE_MAX_MODALITIES)
    return DC_ERROR(DC_ERR_ARG, "scene %s: no cube to compute statistics of", s->name);
  float *column = malloc(hw * sizeof *column);
  DC_CHECK_ALLOC(column);
  for (int m = 0; m < s->n_modalities; m++) {
    int C = s->bands[m];
    const float *cube = s->cube[m];
    struct dc_band_stats *st = &s->stats[m];
    if (!cube || C <= 0) {
      free(column);
      return DC_ERROR(DC_ERR_ARG, "scene %s: modality %d has no cube", s->name, m);
    }
    double **fields[6] = {&st->min, &st->max, &st->mean, &st->std, &st->p02, &st->p98};
    for (int f = 0; f < 6; f++) {
      if (!*fields[f]) *fields[f] = malloc((size_t)C * sizeof(double));
      if (!*fields[f]) {
        free(column);
        return DC_ERROR(DC_ERR_NOMEM, "scene %s: no memory for the statistics of modality %d", s->name, m);
      }
    }
    for (int b = 0; b < C; b++) {
      double lo = INFINITY, hi = -INFINITY, sum = 0;
      for (size_t i = 0; i < hw; i++) {
        float x = cube[i * C + b];
        if (!isfinite(x)) {
          free(column);
          return DC_ERROR(DC_ERR_NUMERIC, "scene %s: modality %d band %d has %g at pixel %zu, finite expected",
                          s->name, m, b, x, i);
        }
        column[i] = x;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        sum += x;
      }
      double mean = sum / (double)hw, ss = 0;
      for (size_t i = 0; i < hw; i++) ss += ((double)column[i] - mean) * ((double)column[i] - mean);
      st->min[b] = lo;
      st->max[b] = hi;
      st->mean[b] = mean;
      st->std[b] = sqrt(ss / (double)hw);
      st->p02[b] = percentile(column, hw, 0.02);
      st->p98[b] = percentile(column, hw, 0.98);
    }
    s->global_min[m] = st->min[0];
    s->global_max[m] = st->max[0];
    for (int b = 1; b < C; b++) {
      if (st->min[b] < s->global_min[m]) s->global_min[m] = st->min[b];
      if (st->max[b] > s->global_max[m]) s->global_max[m] = st->max[b];
    }
  }
  free(column);
  return DC_OK;
}

void dc_scene_free(struct dc_scene *s) {
  for (int m = 0; m < DC_SCENE_MAX_MODALITIES; m++) {
    free(s->cube[m]);
    struct dc_band_stats *st = &s->stats[m];
    free(st->min);
    free(st->max);
    free(st->mean);
    free(st->std);
    free(st->p02);
    free(st->p98);
    free(s->wavelengths[m]);
  }
  free(s->crs_wkt);
  free(s->train);
  free(s->test);
  for (int k = 0; k < DC_SCENE_MAX_CLASSES; k++) {
    free(s->class_names[k]);
    free(s->class_descriptions[k]);
  }
  free(s->manifest);
  if (s->files)
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
  free(s->files);
  memset(s, 0, sizeof *s);
}
