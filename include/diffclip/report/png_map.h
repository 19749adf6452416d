/* Classification maps as PNG images (docs/formats.md "The report folder"): the predicted
 * classes, the ground truth and the errors of a result (result.h), optionally drawn over a
 * false-colour composite of the scene, and the composite itself; upscaled by an integer
 * factor for small scenes. The images carry no text: their legends are the report's (HTML
 * and Markdown beside the image), with the colours below. Files are written to a temporary
 * name and renamed.
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

enum dc_map_kind { DC_MAP_PREDICTION = 0, DC_MAP_TRUTH, DC_MAP_ERRORS, DC_MAP_SCENE };

enum dc_map_error_class { DC_MAP_UNLABELLED = 0, DC_MAP_CORRECT, DC_MAP_WRONG, DC_MAP_UNTESTED };

/* The colour of class label 0..DC_RESULT_MAX_CLASSES (others: black). */
void dc_map_class_color(int label, uint8_t rgb[3]);
/* The colour of an error-map category. */
void dc_map_error_color(enum dc_map_error_class e, uint8_t rgb[3]);
/* The upscaling factor used when 0 is asked for: the largest integer, at most 8, that
 * keeps the longer side within 512 pixels (1 for scenes that are already that large). */
int dc_map_auto_scale(int height, int width);

/* Writes one map of result r to path, `scale` times larger (0: automatic). base, when not
 * NULL, is an RGB composite of the scene (r->height, r->width, 3) under the map: predicted
 * and true classes are blended at 60 % over it (unlabelled pixels show it dimmed to grey);
 * the error map colours the test pixels and shows every other pixel as the dimmed
 * composite; DC_MAP_SCENE draws the composite alone (base required). DC_ERR_ARG when r has
 * no map of that kind (errors need prediction, truth and the test mask). */
enum dc_status dc_map_png_write(const char *path, const struct dc_result *r, enum dc_map_kind kind, int scale,
                                const uint8_t *base);

/* An 8-bit RGB image (height, width, 3), written atomically. */
enum dc_status dc_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height);

#endif
