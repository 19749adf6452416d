/* PNG classification maps (see png_map.h). The image is composed in memory as 8-bit RGB
 * and written with libpng's simplified API (no setjmp), to a temporary name that is
 * renamed at the end. */
#include "diffclip/report/png_map.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/palette.h"

/* the palette is shared with the GeoTIFF class maps (io/palette.h) */
void dc_map_class_color(int label, uint8_t rgb[3]) { dc_palette_class_color(label, rgb); }

void dc_map_error_color(enum dc_map_error_class e, uint8_t rgb[3]) {
  static const uint8_t c[4][3] = {{0, 0, 0}, {0, 158, 115}, {213, 94, 0}, {160, 160, 160}};
  memcpy(rgb, c[(unsigned)e < 4 ? e : 0], 3);
}

int dc_map_auto_scale(int height, int width) {
  int side = height > width ? height : width;
  if (side < 1) return 1;
  int s = 512 / side;
  return s < 1 ? 1 : s > 8 ? 8 : s;
}

enum dc_status dc_png_write_rgb(const char *path, const uint8_t *rgb, int width, int height) {
  if (width < 1 || height < 1) return DC_ERROR(DC_ERR_ARG, "%s: image size %d x %d", path, width, height);
  char tmp[1100];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = (png_uint_32)width;
  img.height = (png_uint_32)height;
  img.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&img, tmp, 0, rgb, 3 * width, NULL)) {
    enum dc_status st = DC_ERROR(DC_ERR_IO, "%s: cannot write PNG: %s", tmp, img.message);
    png_image_free(&img);
    remove(tmp);
    return st;
  }
  png_image_free(&img);
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return DC_OK;
}

/* ---- the maps ---------------------------------------------------------------------- */

/* The category of each pixel for kind (a class label, or an error-map class). */
static int pixel_value(const struct dc_result *r, enum dc_map_kind kind, size_t i) {
  if (kind == DC_MAP_PREDICTION) return r->prediction[i];
  if (kind == DC_MAP_TRUTH) return r->truth[i];
  if (r->truth[i] == 0) return DC_MAP_UNLABELLED;
  if (!r->test_mask[i]) return DC_MAP_UNTESTED;
  return r->prediction[i] == r->truth[i] ? DC_MAP_CORRECT : DC_MAP_WRONG;
}

/* Pixel i's colour: the category's, or over a composite: classes blended at 60 %, the
 * error colours on the test pixels and the composite dimmed to grey elsewhere. */
static void pixel_color(const struct dc_result *r, enum dc_map_kind kind, const uint8_t *base, size_t i,
                        uint8_t rgb[3]) {
  if (kind == DC_MAP_SCENE) {
    memcpy(rgb, base + 3 * i, 3);
    return;
  }
  int v = pixel_value(r, kind, i);
  if (kind == DC_MAP_ERRORS)
    dc_map_error_color((enum dc_map_error_class)v, rgb);
  else
    dc_map_class_color(v, rgb);
  if (!base) return;
  const uint8_t *b = base + 3 * i;
  if (kind == DC_MAP_ERRORS && (v == DC_MAP_CORRECT || v == DC_MAP_WRONG)) return;
  if (kind == DC_MAP_ERRORS || v == 0) { /* context: the scene, dimmed grey */
    uint8_t g = (uint8_t)((77 * b[0] + 150 * b[1] + 29 * b[2]) / 256 * 3 / 4);
    rgb[0] = rgb[1] = rgb[2] = g;
    return;
  }
  for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)((6 * rgb[k] + 4 * b[k] + 5) / 10);
}

enum dc_status dc_map_png_write(const char *path, const struct dc_result *r, enum dc_map_kind kind, int scale,
                                const uint8_t *base) {
  static const char *const kind_names[4] = {"prediction", "ground truth", "errors", "scene composite"};
  if ((unsigned)kind > DC_MAP_SCENE) return DC_ERROR(DC_ERR_ARG, "%s: unknown map kind %d", path, (int)kind);
  int have = r->height > 0 && r->width > 0 &&
             (kind == DC_MAP_PREDICTION ? r->prediction != NULL
              : kind == DC_MAP_TRUTH    ? r->truth != NULL
              : kind == DC_MAP_ERRORS   ? r->prediction && r->truth && r->test_mask
                                        : base != NULL);
  if (!have)
    return DC_ERROR(DC_ERR_ARG, "%s: the result of %s (%d shots, run %d) has no %s map", path, r->dataset, r->shots,
                    r->run, kind_names[kind]);
  if (scale < 0 || scale > 64) return DC_ERROR(DC_ERR_ARG, "%s: scale %d is outside 0..64", path, scale);
  if (scale == 0) scale = dc_map_auto_scale(r->height, r->width);
  int w = r->width * scale, h = r->height * scale;
  if ((double)w * h > 4e8) return DC_ERROR(DC_ERR_ARG, "%s: a %d x %d image is too large", path, w, h);
  uint8_t *px = malloc((size_t)w * h * 3);
  if (!px) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for a %d x %d image", path, w, h);
  for (int y = 0; y < r->height; y++)
    for (int x = 0; x < r->width; x++) {
      uint8_t rgb[3];
      pixel_color(r, kind, base, (size_t)y * r->width + x, rgb);
      for (int dy = 0; dy < scale; dy++)
        for (int dx = 0; dx < scale; dx++) memcpy(px + 3 * ((size_t)(y * scale + dy) * w + x * scale + dx), rgb, 3);
    }
  enum dc_status st = dc_png_write_rgb(path, px, w, h);
  free(px);
  return st;
}
