/* The fixed class palette (palette.h): one colour per class label, the same in the PNG
 * maps of the report and the GeoTIFF class maps. */
#include "diffclip/io/palette.h"

#include <math.h>
#include <string.h>

static const uint8_t first15[15][3] = {
    {230, 159, 0},   /* orange (Okabe-Ito) */
    {86, 180, 233},  /* sky blue */
    {0, 158, 115},   /* bluish green */
    {240, 228, 66},  /* yellow */
    {0, 114, 178},   /* blue */
    {213, 94, 0},    /* vermillion */
    {204, 121, 167}, /* reddish purple */
    {136, 34, 85},   /* wine (Tol muted) */
    {17, 119, 51},   /* green */
    {51, 34, 136},   /* indigo */
    {221, 204, 119}, /* sand */
    {153, 153, 51},  /* olive */
    {68, 170, 153},  /* teal */
    {170, 68, 153},  /* purple */
    {187, 187, 187}, /* pale grey */
};

void dc_palette_class_color(int label, uint8_t rgb[3]) {
  if (label < 1 || label > DC_PALETTE_MAX_CLASSES) {
    rgb[0] = rgb[1] = rgb[2] = 0;
    return;
  }
  if (label <= 15) {
    memcpy(rgb, first15[label - 1], 3);
    return;
  }
  /* golden-angle hues, with saturation and value alternating so neighbours differ twice */
  int k = label - 16;
  double h = fmod(0.07 + 0.6180339887498949 * k, 1.0) * 6.0, s = (k % 2) ? 0.45 : 0.85,
         v = ((k / 2) % 2) ? 0.70 : 0.95;
  int i = (int)h;
  double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = 0, g = 0, b = 0;
  switch (i % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  rgb[0] = (uint8_t)lround(255 * r);
  rgb[1] = (uint8_t)lround(255 * g);
  rgb[2] = (uint8_t)lround(255 * b);
}
