/* The checks and conversions `prepare` applies to each raw array: axis order to (H, W, C),
 * label encoding, and the NaN/Inf policy. Each failure is one message naming the file,
 * the variable and what was expected. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prepare/prepare.h"

enum dc_status dc_prepare_join(const char *raw, const char *rel, char *buf, size_t len) {
  if ((size_t)snprintf(buf, len, "%s/%s", raw, rel) >= len) return DC_ERROR(DC_ERR_ARG, "%s/%s: path too long", raw, rel);
  return DC_OK;
}

enum dc_status dc_prepare_check_out(const char *out) {
  char copy[4096];
  if (strlen(out) >= sizeof copy || !out[0]) return DC_ERROR(DC_ERR_ARG, "--out '%s': expected a file path", out);
  snprintf(copy, sizeof copy, "%s", out);
  const char *dir = dirname(copy);
  if (access(dir, W_OK) != 0)
    return DC_ERROR(DC_ERR_IO, "%s: the output folder %s is not writable (%s); expected an existing, writable folder", out,
                    dir, strerror(errno));
  return DC_OK;
}

enum dc_status dc_prepare_to_hwc(struct dc_array *a, const char *layout, const char *what) {
  while (a->ndim > 3 && a->dims[a->ndim - 1] == 1) a->ndim--;
  if (a->ndim < 2 || a->ndim > 3) {
    char shape[128];
    return DC_ERROR(DC_ERR_IO, "%s: shape %s; expected a 2-D raster or a 3-D cube", what,
                    dc_array_shape_str(a, shape, sizeof shape));
  }
  if (a->ndim == 2) {
    a->dims[2] = 1;
    a->ndim = 3;
    if (strcmp(layout, "CHW") == 0) return DC_OK; /* a single band: (H, W) */
  }
  if (strcmp(layout, "HWC") == 0) return DC_OK;
  size_t d0 = a->dims[0], d1 = a->dims[1], d2 = a->dims[2];
  size_t H, W, C;
  if (strcmp(layout, "WHC") == 0) {
    W = d0, H = d1, C = d2;
  } else if (strcmp(layout, "CHW") == 0) {
    C = d0, H = d1, W = d2;
  } else {
    return DC_ERROR(DC_ERR_ARG, "%s: layout '%s'; expected HWC, WHC or CHW", what, layout);
  }
  uint32_t *in = a->elem == DC_ELEM_F32 ? (uint32_t *)(void *)a->f32 : (uint32_t *)(void *)a->i32;
  uint32_t *out = malloc(a->n * 4 + 4);
  if (!out) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory to reorder the axes", what);
  for (size_t h = 0; h < H; h++)
    for (size_t w = 0; w < W; w++)
      for (size_t c = 0; c < C; c++) {
        size_t src = layout[0] == 'W' ? (w * H + h) * C + c : (c * H + h) * W + w;
        out[(h * W + w) * C + c] = in[src];
      }
  free(in);
  if (a->elem == DC_ELEM_F32)
    a->f32 = (float *)(void *)out;
  else
    a->i32 = (int32_t *)(void *)out;
  a->dims[0] = H;
  a->dims[1] = W;
  a->dims[2] = C;
  return DC_OK;
}

enum dc_status dc_prepare_map_labels(struct dc_array *a, long unlabelled, long first_class, int n_classes,
                                     const char *what) {
  if (a->elem != DC_ELEM_I32 || a->dims[2] != 1)
    return DC_ERROR(DC_ERR_IO, "%s: %zu bands; expected a single-band label raster", what, a->dims[2]);
  size_t W = a->dims[1];
  for (size_t i = 0; i < a->n; i++) {
    long v = a->i32[i];
    if (v == unlabelled) {
      a->i32[i] = 0;
      continue;
    }
    long k = v - first_class + 1;
    if (k < 1 || k > n_classes)
      return DC_ERROR(DC_ERR_IO,
                      "%s: label %ld at (row %zu, col %zu) is out of range; expected %ld (unlabelled) or %ld..%ld (%d classes)",
                      what, v, i / W, i % W, unlabelled, first_class, first_class + n_classes - 1, n_classes);
    a->i32[i] = (int32_t)k;
  }
  return DC_OK;
}

static int cmp_float(const void *x, const void *y) {
  float a = *(const float *)x, b = *(const float *)y;
  return (a > b) - (a < b);
}

enum dc_status dc_prepare_nonfinite(float *cube, size_t hw, int C, int b0, int b1, enum dc_nan_policy policy,
                                    int width, const char *what) {
  for (int b = b0; b < b1; b++) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < hw; i++)
      if (!isfinite(cube[i * (size_t)C + (size_t)b]) && bad++ == 0) first = i;
    if (bad == 0) continue;
    int band = b - b0 + 1;
    if (policy == DC_NAN_ERROR)
      return DC_ERROR(DC_ERR_NUMERIC,
                      "%s: band %d has %zu NaN/Inf pixels (first at row %zu, col %zu); expected finite values "
                      "(nan_policy = \"error\"; set nan_policy = \"fill\" in the manifest or --nan-policy fill to "
                      "replace them with the band median)",
                      what, band, bad, first / (size_t)width, first % (size_t)width);
    if (bad == hw) return DC_ERROR(DC_ERR_NUMERIC, "%s: band %d has no finite pixel; expected some to fill from", what, band);
    float *vals = malloc((hw - bad) * sizeof *vals);
    if (!vals) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for the band median", what);
    size_t n = 0;
    for (size_t i = 0; i < hw; i++) {
      float v = cube[i * (size_t)C + (size_t)b];
      if (isfinite(v)) vals[n++] = v;
    }
    qsort(vals, n, sizeof *vals, cmp_float);
    float median = n % 2 ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
    free(vals);
    for (size_t i = 0; i < hw; i++) {
      float *v = &cube[i * (size_t)C + (size_t)b];
      if (!isfinite(*v)) *v = median;
    }
    dc_log(DC_LOG_WARN, "%s: band %d: %zu NaN/Inf pixels filled with the band median %g (nan_policy = fill)", what, band,
           bad, (double)median);
  }
  return DC_OK;
}
