/* The canonical scene: one HDF5 file that every stage after `prepare` / `synth` reads.
 *
 * Layout (format "diffclip-scene", version 1; docs/formats.md is the reference):
 *   /                      attrs: format, format_version, name, height, width,
 *                                 n_modalities, n_classes, program_version, created_utc
 *   /modality_<m>/cube     float32 (H, W, C_m), m = 0 .. n_modalities-1, chunked by row
 *                          bands, shuffle + deflate; attrs: name ("hsi", "lidar", ...), bands
 *   /modality_<m>/band_min, band_max, band_mean, band_std, band_p02, band_p98   float64 (C_m)
 *   /modality_<m>          attrs: global_min, global_max (over the cube, NaN-free)
 *   /labels/train, /labels/test   int32 (H, W); 0 = unlabelled, classes 1..n_classes
 *   /classes/names, /classes/descriptions   variable-length UTF-8 strings (n_classes)
 *   /provenance            attrs: manifest (text; absent when none), manifest_sha256, source
 *   /provenance/files      variable-length strings "sha256  path" per source file
 * Optional (absent in older scenes, which still read; src/data/scene_geo.c):
 *   /geo/geotransform      float64 (6), GDAL's affine order; attr crs_wkt (absent: no CRS)
 *   /modality_<m>/wavelength   float64 (C_m), NaN for an unknown band; attr units
 * Integer attributes are int32, the others float64 or variable-length UTF-8 strings.
 *
 * Cubes are stored unpadded and unnormalised; padding and normalisation happen when
 * patches are cut (src/data/patch.c), so one scene serves every protocol.
 *
 * Implementation: src/data/scene.c (HDF5; plain serial 1.10 API, no MPI, so the serial
 * ingestion program compiles it too) and src/data/scene_stats.c (no HDF5). */
#ifndef DIFFCLIP_SCENE_H
#define DIFFCLIP_SCENE_H

#include <stdint.h>

#include "diffclip/core/status.h"

#define DC_SCENE_MAX_MODALITIES 4
#define DC_SCENE_MAX_CLASSES 64
#define DC_SCENE_FORMAT "diffclip-scene"
#define DC_SCENE_VERSION 1

struct dc_band_stats {
  double *min, *max, *mean, *std, *p02, *p98; /* (C) each */
};

struct dc_scene {
  char name[64];
  int height, width, n_modalities, n_classes;
  int bands[DC_SCENE_MAX_MODALITIES];
  char modality_names[DC_SCENE_MAX_MODALITIES][32];
  float *cube[DC_SCENE_MAX_MODALITIES]; /* (H, W, C_m); NULL when only metadata was read */
  double global_min[DC_SCENE_MAX_MODALITIES], global_max[DC_SCENE_MAX_MODALITIES];
  struct dc_band_stats stats[DC_SCENE_MAX_MODALITIES];
  int32_t *train, *test; /* (H, W) label rasters */
  char *class_names[DC_SCENE_MAX_CLASSES];
  char *class_descriptions[DC_SCENE_MAX_CLASSES];
  char *manifest;        /* manifest text (may be NULL) */
  char manifest_sha256[65];
  char source[256];      /* "synth:<preset>:<seed>" or the raw folder */
  int n_files;
  char **files;          /* "sha256  path" lines */
  /* Filled by dc_scene_read; dc_scene_write stamps its own program version and time. */
  char program_version[32];
  char created_utc[32]; /* "YYYY-MM-DDTHH:MM:SSZ" */
  /* Georeference, optional: has_geo = 1 when geotransform holds the pixel grid's affine
   * map in GDAL's order (x = gt[0] + col gt[1] + row gt[2], y = gt[3] + col gt[4] +
   * row gt[5], at the pixel's top-left corner); crs_wkt (malloc'd, may be NULL) names the
   * coordinate reference system as WKT. */
  int has_geo;
  double geotransform[6];
  char *crs_wkt;
  /* Band centre wavelengths, optional: (C_m) per modality or NULL, NaN for a band whose
   * wavelength is unknown, in wavelength_units[m] ("nm", "Micrometers", ... as the source
   * said; "" when it said nothing). */
  double *wavelengths[DC_SCENE_MAX_MODALITIES];
  char wavelength_units[DC_SCENE_MAX_MODALITIES][32];
};

/* Every pointer in a scene is malloc'd and owned by it (dc_scene_free releases them);
 * a class description may be NULL (written as ""). */

/* Allocates zeroed cubes (for each of n_modalities, from bands[]) and label rasters for a
 * scene whose height, width, n_modalities and bands are set; other fields are untouched. */
enum dc_status dc_scene_alloc(struct dc_scene *s);
/* Checks shapes, counts, names and label ranges; with cubes, also that they are finite.
 * dc_scene_write calls it before creating any file. */
enum dc_status dc_scene_validate(const struct dc_scene *s, const char *what);
/* Computes per-band and global statistics from the cubes (NaN must be absent). */
enum dc_status dc_scene_compute_stats(struct dc_scene *s);
/* Writes `path` atomically: to "<path>.tmp.<pid>", then rename. Nothing is left on failure. */
enum dc_status dc_scene_write(const char *path, const struct dc_scene *s);
/* Reads a scene; with_cubes = 0 reads everything but the cubes. Checks format and version. */
enum dc_status dc_scene_read(const char *path, struct dc_scene *s, int with_cubes);
/* Reads rows [row0, row0 + nrows) of modality m's cube into out (nrows, W, C_m). */
enum dc_status dc_scene_read_rows(const char *path, int m, int row0, int nrows, float *out);
void dc_scene_free(struct dc_scene *s);

/* Three bands of modality m for a false-colour composite (red, green, blue in out[]):
 * with wavelengths, the bands nearest to 640, 550 and 460 nm (micrometres and other units
 * converted; returns 1); otherwise bands spread over the cube at 5/6, 1/2 and 1/6 of its
 * band count (returns 0; a 1-band modality gives band 0 thrice). -1 when m is not a
 * modality of s. */
int dc_scene_rgb_bands(const struct dc_scene *s, int modality, int out[3]);
/* A false-colour composite of modality m (its cube loaded) into rgb (H, W, 3): the bands of
 * dc_scene_rgb_bands (into bands[3]), each stretched linearly from its 2nd to its 98th
 * percentile (over at most 65536 pixels spread over the scene) to 0..255. DC_ERR_ARG when
 * the modality or its cube is absent. */
enum dc_status dc_scene_rgb_composite(const struct dc_scene *s, int m, uint8_t *rgb, int bands[3]);
/* Nanometres per unit of a wavelength unit name ("nm", "Nanometers", "um", "Micrometers",
 * "µm", "mm", ...; case ignored); 0 when unknown. */
double dc_wavelength_unit_nm(const char *unit);

#endif
