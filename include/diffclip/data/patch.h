/* Normalisation and patch cutting (src/data/patch.c). Cubes are kept unpadded and
 * unnormalised in the scene; these functions normalise them in place and cut the model's
 * input patches on the fly.
 *
 * Patch layout (the model's, see diffclip/model.h): channel-last (L, C) per patch, L =
 * window^2, token t = i * window + j for the pixel at patch row i, column j. The patch of
 * centre (r, c) covers scene rows r - window/2 .. r - window/2 + window - 1 (integer
 * division; for the odd windows of the paper, r +- window/2) and the same columns. Pixels
 * outside the scene replicate the nearest edge pixel: the published edge padding by
 * window/2 (numpy.pad mode "edge"), done by clamping indices instead of copying the cube. */
#ifndef DIFFCLIP_PATCH_H
#define DIFFCLIP_PATCH_H

#include <stddef.h>

#include "diffclip/data/scene.h"
#include "diffclip/core/status.h"

enum dc_norm {
  /* published: (x - min) / (max - min), one (min, max) per modality over the whole cube
   * (the padded cube's extremes are the cube's, since edge padding replicates values) */
  DC_NORM_GLOBAL_MINMAX = 0,
  /* per band: (x - p02) / (p98 - p02) clipped to [0, 1], robust to outliers */
  DC_NORM_BAND_ROBUST = 1
};

/* Normalises n_pixels x C values of a cube (or of a row band of it) in place, with the
 * whole scene's statistics: gmin, gmax for DC_NORM_GLOBAL_MINMAX, p02[C], p98[C] for
 * DC_NORM_BAND_ROBUST (the others may be NULL / ignored). A constant modality (gmax ==
 * gmin) or band (p98 <= p02) maps to 0 where x <= the constant and 1 above it. */
enum dc_status dc_normalise_cube(float *cube, /* (n_pixels, C) */
                                 size_t n_pixels, int C, enum dc_norm kind, double gmin, double gmax,
                                 const double *p02, const double *p98);
/* Normalises every loaded cube of s in place with its stored statistics. */
enum dc_status dc_normalise_scene(struct dc_scene *s, enum dc_norm kind);

/* One patch: out (L, C) for pixel `centre` = r * W + c of cube (H, W, C). centre must be in
 * [0, H*W) and window >= 1 (callers check once, not per patch). */
void dc_patch_cut(float *out, const float *cube, int H, int W, int C, int window, int centre);
/* B patches: out (B, L, C) for centres[0..B). */
void dc_patch_cut_batch(float *out, const float *cube, int H, int W, int C, int window, const int *centres, int B);

/* The rows a rank must hold to cut every centre in scene rows [r_first, r_last]:
 * [*row0, *row0 + *nrows), the rows plus a halo of window/2 (resp. window - 1 - window/2)
 * clipped to the scene. */
void dc_patch_band_rows(int H, int window, int r_first, int r_last, int *row0, int *nrows);
/* B patches from a row band: band (nrows, W, C) holds scene rows [row0, row0 + nrows) of
 * an (H, W, C) cube; edge padding applies at the scene's borders only. Equal to
 * dc_patch_cut_batch on the full cube. Fails (DC_ERR_ARG, naming the centre) when a centre
 * is outside the scene or needs a row the band does not hold. */
enum dc_status dc_patch_cut_band(float *out, /* (B, L, C) */
                                 const float *band, int row0, int nrows, int H, int W, int C, int window,
                                 const int *centres, int B);

#endif
