/* The prediction file `diffclip predict` writes: a fine-tuned model applied to every pixel
 * of a scene (format "diffclip-prediction", version 1; docs/formats.md). Serial HDF5,
 * written by rank 0 to "<path>.tmp.<pid>" and renamed.
 *
 *   /                 attrs: format, format_version, scene (its name), scene_file,
 *                            checkpoint, config_sha256 (the checkpoint's), n_classes,
 *                            height, width, program_version, created_utc
 *   /classes/names    strings (n_classes)
 *   /map/prediction   uint8 (H, W): the likeliest class 1..n_classes of every pixel
 *   /map/probability  float32 (H, W, n_classes): every class's probability (optional:
 *                     predict --scores all)
 *   /map/top2         uint8 (H, W, 2), /map/top2_prob uint16 (H, W, 2) x 65535 (attr
 *                     scale): the two likeliest classes and their probabilities
 *   /geo              attr crs_wkt; /geo/geotransform float64 (6), GDAL's order (optional:
 *                     the scene's georeference, as the scene file keeps it) */
#ifndef DIFFCLIP_IO_PREDICTION_H
#define DIFFCLIP_IO_PREDICTION_H

#include <stdint.h>

#include "diffclip/core/status.h"
#include "diffclip/io/result.h"

#define DC_PREDICTION_FORMAT "diffclip-prediction"
#define DC_PREDICTION_VERSION 1

struct dc_prediction {
  char scene[64], scene_file[2200], checkpoint[2200], config_sha256[65];
  char program_version[32], created_utc[32]; /* filled by the reader */
  int height, width, n_classes;
  char class_names[DC_RESULT_MAX_CLASSES][64];
  uint8_t *prediction;  /* (H*W) 1..n_classes */
  float *probability;   /* (H*W, n_classes) or NULL */
  uint8_t *top2;        /* (H*W, 2) */
  uint16_t *top2_prob;  /* (H*W, 2) x 65535 */
  int has_geo;
  double geotransform[6];
  char *crs_wkt;        /* may be NULL */
};

enum dc_status dc_prediction_write(const char *path, const struct dc_prediction *p);
/* Reads and checks a prediction file (every class in range, probabilities in [0, 1]). */
enum dc_status dc_prediction_read(const char *path, struct dc_prediction *p);
void dc_prediction_free(struct dc_prediction *p);

#endif
