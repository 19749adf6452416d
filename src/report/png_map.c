/* PNG classification maps with a drawn legend (see png_map.h). The image is composed in
 * memory as 8-bit RGB and written with libpng's simplified API (no setjmp), to a
 * temporary name that is renamed at the end. */
#include "diffclip/report/png_map.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/palette.h"
#include "report/font5x7.h"

#define FONT_SCALE 2                               /* legend glyphs are 10 x 14 pixels */
#define ROW_H (DC_FONT_H * FONT_SCALE + 6)          /* one legend line */
#define SWATCH (DC_FONT_H * FONT_SCALE)             /* square colour sample */
#define CHAR_W ((DC_FONT_W + 1) * FONT_SCALE)       /* advance per character */
#define PAD 8
#define NAME_MAX_CHARS 36                           /* longer class names are cut */

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

/* ---- drawing into an RGB canvas ---------------------------------------------------- */

struct canvas {
  uint8_t *px;
  int w, h;
};

static void fill(struct canvas *c, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
  for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < c->h; y++)
    for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < c->w; x++) memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

static void draw_text(struct canvas *c, int x, int y, const char *s, int max_chars) {
  static const uint8_t ink[3] = {0, 0, 0};
  for (int i = 0; s[i] && i < max_chars; i++, x += CHAR_W) {
    const unsigned char *g = dc_font5x7_glyph((unsigned char)s[i]);
    for (int col = 0; col < DC_FONT_W; col++)
      for (int row = 0; row < DC_FONT_H; row++)
        if (g[col] >> row & 1) fill(c, x + col * FONT_SCALE, y + row * FONT_SCALE, FONT_SCALE, FONT_SCALE, ink);
  }
}

struct legend_entry {
  uint8_t rgb[3];
  char text[80];
};

/* The category of each pixel for kind (a class label, or an error-map class). */
static int pixel_value(const struct dc_result *r, enum dc_map_kind kind, size_t i) {
  if (kind == DC_MAP_PREDICTION) return r->prediction[i];
  if (kind == DC_MAP_TRUTH) return r->truth[i];
  if (r->truth[i] == 0) return DC_MAP_UNLABELLED;
  if (!r->test_mask[i]) return DC_MAP_UNTESTED;
  return r->prediction[i] == r->truth[i] ? DC_MAP_CORRECT : DC_MAP_WRONG;
}

static void value_color(enum dc_map_kind kind, int v, uint8_t rgb[3]) {
  if (kind == DC_MAP_ERRORS)
    dc_map_error_color((enum dc_map_error_class)v, rgb);
  else
    dc_map_class_color(v, rgb);
}

static int legend_entries(const struct dc_result *r, enum dc_map_kind kind, const int *present,
                          struct legend_entry *e) {
  int n = 0;
  if (kind == DC_MAP_ERRORS) {
    static const char *const names[4] = {"unlabelled", "correct", "wrong", "not tested"};
    static const int order[4] = {DC_MAP_CORRECT, DC_MAP_WRONG, DC_MAP_UNTESTED, DC_MAP_UNLABELLED};
    for (int i = 0; i < 4; i++) {
      dc_map_error_color((enum dc_map_error_class)order[i], e[n].rgb);
      snprintf(e[n++].text, sizeof e[0].text, "%s", names[order[i]]);
    }
    return n;
  }
  for (int k = 1; k <= r->n_classes; k++) {
    dc_map_class_color(k, e[n].rgb);
    snprintf(e[n++].text, sizeof e[0].text, "%2d %.*s", k, NAME_MAX_CHARS, r->class_names[k - 1]);
  }
  if (present[0]) {
    dc_map_class_color(0, e[n].rgb);
    snprintf(e[n++].text, sizeof e[0].text, " 0 %s", kind == DC_MAP_TRUTH ? "unlabelled" : "not predicted");
  }
  return n;
}

enum dc_status dc_map_png_write(const char *path, const struct dc_result *r, enum dc_map_kind kind, int scale,
                                int legend) {
  static const char *const kind_names[3] = {"prediction", "ground truth", "errors"};
  if ((unsigned)kind > DC_MAP_ERRORS) return DC_ERROR(DC_ERR_ARG, "%s: unknown map kind %d", path, (int)kind);
  int have = r->height > 0 && r->width > 0 &&
             (kind == DC_MAP_PREDICTION ? r->prediction != NULL
              : kind == DC_MAP_TRUTH    ? r->truth != NULL
                                        : r->prediction && r->truth && r->test_mask);
  if (!have)
    return DC_ERROR(DC_ERR_ARG, "%s: the result of %s (%d shots, run %d) has no %s map", path, r->dataset, r->shots,
                    r->run, kind_names[kind]);
  if (scale < 0 || scale > 64) return DC_ERROR(DC_ERR_ARG, "%s: scale %d is outside 0..64", path, scale);
  if (scale == 0) scale = dc_map_auto_scale(r->height, r->width);

  size_t n = (size_t)r->height * r->width;
  int present[DC_RESULT_MAX_CLASSES + 1] = {0};
  for (size_t i = 0; i < n; i++) {
    int v = pixel_value(r, kind, i);
    if (v >= 0 && v <= DC_RESULT_MAX_CLASSES) present[v] = 1;
  }
  struct legend_entry entries[DC_RESULT_MAX_CLASSES + 4];
  int n_entries = legend ? legend_entries(r, kind, present, entries) : 0;
  int title_chars = (int)strlen(kind_names[kind]), max_chars = title_chars;
  for (int i = 0; i < n_entries; i++) {
    int len = (int)strlen(entries[i].text);
    max_chars = len > max_chars ? len : max_chars;
  }
  int map_w = r->width * scale, map_h = r->height * scale;
  int legend_w = legend ? PAD + SWATCH + PAD + max_chars * CHAR_W + PAD : 0;
  int legend_h = legend ? PAD + ROW_H * (n_entries + 1) + PAD : 0;
  struct canvas c = {NULL, map_w + legend_w, map_h > legend_h ? map_h : legend_h};
  if ((double)c.w * c.h > 4e8) return DC_ERROR(DC_ERR_ARG, "%s: a %d x %d image is too large", path, c.w, c.h);
  c.px = malloc((size_t)c.w * c.h * 3);
  if (!c.px) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for a %d x %d image", path, c.w, c.h);
  memset(c.px, 255, (size_t)c.w * c.h * 3);

  for (int y = 0; y < r->height; y++)
    for (int x = 0; x < r->width; x++) {
      uint8_t rgb[3];
      value_color(kind, pixel_value(r, kind, (size_t)y * r->width + x), rgb);
      fill(&c, x * scale, y * scale, scale, scale, rgb);
    }
  if (legend) {
    static const uint8_t frame[3] = {0, 0, 0};
    int x0 = map_w + PAD, y = PAD;
    draw_text(&c, x0, y + 3, kind_names[kind], title_chars);
    for (int i = 0; i < n_entries; i++) {
      y += ROW_H;
      fill(&c, x0, y, SWATCH, SWATCH, frame);
      fill(&c, x0 + 1, y + 1, SWATCH - 2, SWATCH - 2, entries[i].rgb);
      draw_text(&c, x0 + SWATCH + PAD, y, entries[i].text, (int)sizeof entries[i].text);
    }
  }
  enum dc_status st = dc_png_write_rgb(path, c.px, c.w, c.h);
  free(c.px);
  return st;
}
