/* Normalisation and on-the-fly patch cutting (see diffclip/patch.h for the layout).
 *
 * Edge padding is done by clamping: the padded cube P of the published code satisfies
 * P[i + h][j + h] = X[clamp(i, 0, H-1)][clamp(j, 0, W-1)] (h = window/2, numpy "edge"
 * mode), and its patch for centre (r, c) is P[r : r + window, c : c + window], i.e. scene
 * rows r - h + i. The full-cube and row-band cutters share one routine that reads scene
 * row y at band row y - row0. */
#include <string.h>

#include "diffclip/data/patch.h"

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

enum dc_status dc_normalise_cube(float *cube, size_t n_pixels, int C, enum dc_norm kind, double gmin, double gmax,
                                 const double *p02, const double *p98) {
  if (C < 1) return DC_ERROR(DC_ERR_ARG, "normalisation: %d bands, at least 1 expected", C);
  if (kind == DC_NORM_GLOBAL_MINMAX) {
    if (!(gmax >= gmin)) return DC_ERROR(DC_ERR_ARG, "normalisation: global max %g below min %g", gmax, gmin);
    size_t n = n_pixels * (size_t)C;
    if (gmax == gmin) {
      for (size_t i = 0; i < n; i++) cube[i] = cube[i] > gmax ? 1.0f : 0.0f;
      return DC_OK;
    }
    double scale = 1.0 / (gmax - gmin);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) cube[i] = (float)((cube[i] - gmin) * scale);
    return DC_OK;
  }
  if (kind != DC_NORM_BAND_ROBUST) return DC_ERROR(DC_ERR_ARG, "normalisation: unknown kind %d", (int)kind);
  if (!p02 || !p98) return DC_ERROR(DC_ERR_ARG, "normalisation: per-band p02 / p98 statistics are missing");
#pragma omp parallel for schedule(static) if (n_pixels > 4096)
  for (size_t i = 0; i < n_pixels; i++)
    for (int b = 0; b < C; b++) {
      float *x = &cube[i * C + b];
      double span = p98[b] - p02[b];
      double v = span > 0 ? (*x - p02[b]) / span : (*x > p98[b] ? 1.0 : 0.0);
      *x = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
    }
  return DC_OK;
}

enum dc_status dc_normalise_scene(struct dc_scene *s, enum dc_norm kind) {
  for (int m = 0; m < s->n_modalities; m++) {
    if (!s->cube[m]) return DC_ERROR(DC_ERR_ARG, "scene %s: modality %d has no cube to normalise", s->name, m);
    if (kind == DC_NORM_BAND_ROBUST && (!s->stats[m].p02 || !s->stats[m].p98))
      return DC_ERROR(DC_ERR_ARG, "scene %s: modality %d has no p02 / p98 statistics", s->name, m);
    DC_TRY(dc_normalise_cube(s->cube[m], (size_t)s->height * s->width, s->bands[m], kind, s->global_min[m],
                             s->global_max[m], s->stats[m].p02, s->stats[m].p98));
  }
  return DC_OK;
}

/* The patch of centre (r, c) from src, whose row 0 is scene row row0. */
static void cut_one(float *out, const float *src, int row0, int H, int W, int C, int window, int r, int c) {
  int h = window / 2;
  size_t row_bytes = (size_t)C * sizeof(float);
  for (int i = 0; i < window; i++) {
    int y = clampi(r - h + i, 0, H - 1) - row0;
    const float *line = src + (size_t)y * W * C;
    float *o = out + (size_t)i * window * C;
    int c0 = c - h, j = 0;
    /* left padding, the inside run in one copy, right padding */
    for (; j < window && c0 + j < 0; j++) memcpy(o + (size_t)j * C, line, row_bytes);
    int inside = window - j;
    if (c0 + j + inside > W) inside = W - (c0 + j);
    if (inside > 0) {
      memcpy(o + (size_t)j * C, line + (size_t)(c0 + j) * C, (size_t)inside * row_bytes);
      j += inside;
    }
    for (; j < window; j++) memcpy(o + (size_t)j * C, line + (size_t)(W - 1) * C, row_bytes);
  }
}

void dc_patch_cut(float *out, const float *cube, int H, int W, int C, int window, int centre) {
  cut_one(out, cube, 0, H, W, C, window, centre / W, centre % W);
}

void dc_patch_cut_batch(float *out, const float *cube, int H, int W, int C, int window, const int *centres, int B) {
  size_t per = (size_t)window * window * C;
#pragma omp parallel for schedule(static) if (B >= 64)
  for (int b = 0; b < B; b++) cut_one(out + (size_t)b * per, cube, 0, H, W, C, window, centres[b] / W, centres[b] % W);
}

void dc_patch_band_rows(int H, int window, int r_first, int r_last, int *row0, int *nrows) {
  int h = window / 2;
  int lo = clampi(r_first - h, 0, H - 1), hi = clampi(r_last - h + window - 1, 0, H - 1);
  *row0 = lo;
  *nrows = hi - lo + 1;
}

enum dc_status dc_patch_cut_band(float *out, const float *band, int row0, int nrows, int H, int W, int C, int window,
                                 const int *centres, int B) {
  if (window < 1 || H < 1 || W < 1 || C < 1 || row0 < 0 || nrows < 1 || row0 + nrows > H)
    return DC_ERROR(DC_ERR_ARG, "patch band: rows [%d, %d) of a %d x %d x %d cube with window %d are not valid", row0,
                    row0 + nrows, H, W, C, window);
  int h = window / 2;
  for (int b = 0; b < B; b++) {
    int r = centres[b] / W;
    if (centres[b] < 0 || r >= H)
      return DC_ERROR(DC_ERR_ARG, "patch band: centre %d (batch item %d) is outside the %d x %d scene", centres[b], b,
                      H, W);
    int need_lo = clampi(r - h, 0, H - 1), need_hi = clampi(r - h + window - 1, 0, H - 1);
    if (need_lo < row0 || need_hi >= row0 + nrows)
      return DC_ERROR(DC_ERR_ARG,
                      "patch band: centre row %d (batch item %d) needs scene rows %d..%d, the band holds %d..%d", r,
                      b, need_lo, need_hi, row0, row0 + nrows - 1);
  }
  size_t per = (size_t)window * window * C;
#pragma omp parallel for schedule(static) if (B >= 64)
  for (int b = 0; b < B; b++) cut_one(out + (size_t)b * per, band, row0, H, W, C, window, centres[b] / W, centres[b] % W);
  return DC_OK;
}
