/* Classification maps as PNG images (docs/formats.md "The report folder"): the predicted
 * classes, the ground truth and the errors of a result (result.h), each with a legend
 * drawn beside the map in a built-in 5x7 bitmap font, optionally upscaled by an integer
 * factor for small scenes. Files are written to a temporary name and renamed.
 *
 * The class palette is fixed, so a class has the same colour in every map and report:
 * label 0 (unlabelled) is black; labels 1..15 are 15 hand-picked colours that stay distinct
 * under the common colour-vision deficiencies (Okabe-Ito's 7, then Paul Tol's muted set);
 * labels 16..64 step round the hue circle by the golden angle. The error map uses its own
 * four colours: correct (bluish green), wrong (vermillion), labelled but not tested (grey),
 * unlabelled (black). */
#ifndef DIFFCLIP_PNG_MAP_H
#define DIFFCLIP_PNG_MAP_H

#include <stdint.h>

#include "diffclip/io/result.h"
#include "diffclip/core/status.h"

enum dc_map_kind { DC_MAP_PREDICTION = 0, DC_MAP_TRUTH, DC_MAP_ERRORS };

enum dc_map_error_class { DC_MAP_UNLABELLED = 0, DC_MAP_CORRECT, DC_MAP_WRONG, DC_MAP_UNTESTED };

/* The colour of class label 0..DC_RESULT_MAX_CLASSES (others: black). */
void dc_map_class_color(int label, uint8_t rgb[3]);
/* The colour of an error-map category. */
void dc_map_error_color(enum dc_map_error_class e, uint8_t rgb[3]);
/* The upscaling factor used when 0 is asked for: the largest integer, at most 8, that
 * keeps the longer side within 512 pixels (1 for scenes that are already that large). */
int dc_map_auto_scale(int height, int width);

/* Writes one map of result r to path: the map, `scale` times larger (0: automatic), at the
 * top left, and, when legend is non-zero, a legend panel to its right (a title line, then
 * one colour swatch and "label name" line per entry). DC_ERR_ARG when r has no map of that
 * kind (errors need prediction, truth and the test mask). */
enum dc_status dc_map_png_write(const char *path, const struct dc_result *r, enum dc_map_kind kind, int scale,
                                int legend);

/* An 8-bit RGB image (height, width, 3), written atomically. */
enum dc_status dc_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height);

#endif
