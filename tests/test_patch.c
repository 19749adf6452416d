/* Patches and normalisation: dc_patch_cut / _batch against a naive reference that builds
 * the edge-padded cube explicitly (numpy.pad "edge") and slices it, for every centre
 * (corners included) and odd, even, 1-pixel and larger-than-the-scene windows; the
 * row-band cutter equal to the full-cube one for bands with their halo (and refusing a
 * band without it); the published global min-max and the per-band robust normalisation
 * against direct formulas. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/data/patch.h"
#include "diffclip/core/rng.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static float *random_cube(int H, int W, int C, uint64_t seed) {
  float *x = malloc((size_t)H * W * C * sizeof *x);
  for (size_t i = 0; i < (size_t)H * W * C; i++) x[i] = 10.0f * dc_rng_normal(seed, 1, i / 4, (int)(i % 4)) + 3.0f;
  return x;
}

/* The published way: pad by h = window/2 (edge mode), then slice P[r : r + window]. */
static void naive_patch(float *out, const float *x, int H, int W, int C, int window, int r, int c) {
  int h = window / 2, PH = H + 2 * h, PW = W + 2 * h;
  float *P = malloc((size_t)PH * PW * C * sizeof *P);
  for (int i = 0; i < PH; i++)
    for (int j = 0; j < PW; j++) {
      int si = i - h < 0 ? 0 : i - h >= H ? H - 1 : i - h, sj = j - h < 0 ? 0 : j - h >= W ? W - 1 : j - h;
      for (int b = 0; b < C; b++) P[((size_t)i * PW + j) * C + b] = x[((size_t)si * W + sj) * C + b];
    }
  for (int i = 0; i < window; i++)
    for (int j = 0; j < window; j++)
      for (int b = 0; b < C; b++) out[((size_t)i * window + j) * C + b] = P[((size_t)(r + i) * PW + (c + j)) * C + b];
  free(P);
}

static void check_cut(int H, int W, int C, int window) {
  float *x = random_cube(H, W, C, (uint64_t)(H * 100 + window));
  size_t L = (size_t)window * window, per = L * C;
  float *got = malloc(per * sizeof *got), *want = malloc(per * sizeof *want);
  int n = H * W, bad_single = 0, bad_batch = 0, bad_corner = 0;
  int *centres = calloc((size_t)n, sizeof *centres);
  float *batch = malloc((size_t)n * per * sizeof *batch);
  for (int i = 0; i < n; i++) centres[i] = n - 1 - i; /* any order */
  dc_patch_cut_batch(batch, x, H, W, C, window, centres, n);
  for (int p = 0; p < n; p++) {
    int r = p / W, c = p % W;
    naive_patch(want, x, H, W, C, window, r, c);
    dc_patch_cut(got, x, H, W, C, window, p);
    int corner = (r == 0 || r == H - 1) && (c == 0 || c == W - 1);
    if (memcmp(got, want, per * sizeof *got) != 0) bad_single++, bad_corner += corner;
    if (memcmp(batch + (size_t)(n - 1 - p) * per, want, per * sizeof *got) != 0) bad_batch++;
  }
  char what[160];
  snprintf(what, sizeof what, "%d x %d x %d, window %d: every patch (4 corners included) equals the padded slice", H, W,
           C, window);
  expect(bad_single == 0 && bad_corner == 0, what);
  snprintf(what, sizeof what, "%d x %d x %d, window %d: the batch equals the single cuts", H, W, C, window);
  expect(bad_batch == 0, what);

  /* row bands: three ranks' rows, each band with its halo copied out of the cube */
  int ok = 1;
  for (int part = 0; part < 3; part++) {
    int r_first = part * H / 3, r_last = (part + 1) * H / 3 - 1, row0, nrows;
    if (r_last < r_first) continue;
    dc_patch_band_rows(H, window, r_first, r_last, &row0, &nrows);
    size_t band_n = (size_t)nrows * W * C;
    float *band = malloc(band_n * sizeof *band);
    memcpy(band, x + (size_t)row0 * W * C, band_n * sizeof *band);
    int nb = (r_last - r_first + 1) * W;
    float *out = malloc((size_t)nb * per * sizeof *out);
    int *cs = malloc(nb * sizeof *cs);
    for (int i = 0; i < nb; i++) cs[i] = r_first * W + i;
    ok &= dc_patch_cut_band(out, band, row0, nrows, H, W, C, window, cs, nb) == DC_OK;
    for (int i = 0; i < nb; i++) ok &= memcmp(out + (size_t)i * per, batch + (size_t)(n - 1 - cs[i]) * per, per * 4) == 0;
    /* the band's last row (and its first, when above the scene's first row) is needed */
    if (nrows > 1) {
      ok &= dc_patch_cut_band(out, band, row0, nrows - 1, H, W, C, window, cs, nb) == DC_ERR_ARG;
      if (row0 > 0)
        ok &= dc_patch_cut_band(out, band + (size_t)W * C, row0 + 1, nrows - 1, H, W, C, window, cs, nb) == DC_ERR_ARG;
    }
    free(band), free(out), free(cs);
  }
  snprintf(what, sizeof what, "%d x %d x %d, window %d: row-band cuts equal full-cube cuts; a band without its halo refused",
           H, W, C, window);
  expect(ok, what);
  free(x), free(got), free(want), free(centres), free(batch);
}

static void check_normalisation(void) {
  struct dc_scene s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "norm");
  s.height = 20, s.width = 30, s.n_modalities = 2, s.bands[0] = 6, s.bands[1] = 1;
  if (dc_scene_alloc(&s) != DC_OK) abort();
  size_t n = 600;
  float *orig[2];
  for (int m = 0; m < 2; m++) {
    for (size_t i = 0; i < n * s.bands[m]; i++) s.cube[m][i] = (m ? 180.0f : 0.0f) + 37.0f * dc_rng_uniform(3, m, i, 0);
    s.cube[m][17] = m ? 500.0f : -900.0f; /* an outlier */
    orig[m] = malloc(n * s.bands[m] * sizeof(float));
    memcpy(orig[m], s.cube[m], n * s.bands[m] * sizeof(float));
  }
  expect(dc_scene_compute_stats(&s) == DC_OK, "statistics for normalisation");
  /* the padded cube's min / max are the cube's (edge padding replicates values) */
  float patch[11 * 11 * 6];
  double pmin = INFINITY, pmax = -INFINITY;
  for (int p = 0; p < (int)n; p++) {
    dc_patch_cut(patch, s.cube[0], 20, 30, 6, 11, p);
    for (int i = 0; i < 121 * 6; i++) pmin = fmin(pmin, patch[i]), pmax = fmax(pmax, patch[i]);
  }
  expect(pmin == s.global_min[0] && pmax == s.global_max[0], "padded-cube extremes equal the stored global min / max");

  struct dc_scene g = s;
  for (int m = 0; m < 2; m++) memcpy(g.cube[m], orig[m], n * s.bands[m] * sizeof(float));
  expect(dc_normalise_scene(&g, DC_NORM_GLOBAL_MINMAX) == DC_OK, "global min-max normalisation runs");
  double worst = 0, lo = INFINITY, hi = -INFINITY;
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < n * s.bands[m]; i++) {
      double want = (orig[m][i] - s.global_min[m]) / (s.global_max[m] - s.global_min[m]);
      worst = fmax(worst, fabs(g.cube[m][i] - want));
      lo = fmin(lo, g.cube[m][i]), hi = fmax(hi, g.cube[m][i]);
    }
  expect(worst < 1e-6 && fabs(lo) < 1e-7 && fabs(hi - 1) < 1e-6, "min-max: (x - min) / (max - min), range [0, 1]");

  for (int m = 0; m < 2; m++) memcpy(s.cube[m], orig[m], n * s.bands[m] * sizeof(float));
  expect(dc_normalise_scene(&s, DC_NORM_BAND_ROBUST) == DC_OK, "robust normalisation runs");
  worst = 0;
  int in_range = 1;
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < n * s.bands[m]; i++) {
      int b = (int)(i % s.bands[m]);
      double want = (orig[m][i] - s.stats[m].p02[b]) / (s.stats[m].p98[b] - s.stats[m].p02[b]);
      want = want < 0 ? 0 : want > 1 ? 1 : want;
      worst = fmax(worst, fabs(s.cube[m][i] - want));
      in_range &= s.cube[m][i] >= 0 && s.cube[m][i] <= 1;
    }
  expect(worst < 1e-6 && in_range, "robust: (x - p02) / (p98 - p02) clipped to [0, 1], per band");
  expect(s.cube[0][17] == 0.0f && s.cube[1][17] == 1.0f, "outliers are clipped, not stretching the range");
  float flat[4] = {5, 5, 5, 5};
  double p = 5;
  expect(dc_normalise_cube(flat, 4, 1, DC_NORM_GLOBAL_MINMAX, 5, 5, NULL, NULL) == DC_OK && flat[0] == 0 &&
             dc_normalise_cube(flat, 4, 1, DC_NORM_BAND_ROBUST, 0, 0, &p, &p) == DC_OK && flat[3] == 0,
         "a constant modality or band maps to 0, not NaN");
  expect(dc_normalise_cube(flat, 4, 1, DC_NORM_BAND_ROBUST, 0, 0, NULL, NULL) == DC_ERR_ARG,
         "robust normalisation without percentiles refused");
  free(orig[0]), free(orig[1]);
  dc_scene_free(&s);
}

int main(void) {
  check_cut(7, 9, 3, 1);
  check_cut(7, 9, 3, 3);
  check_cut(7, 9, 3, 4);
  check_cut(12, 10, 2, 5);
  check_cut(7, 9, 3, 11);
  check_cut(30, 25, 4, 11);
  check_normalisation();
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
