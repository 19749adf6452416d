/* The class palette every map uses (the report's PNG maps, the GeoTIFF class maps of
 * `diffclip predict`), so a class has the same colour everywhere: label 0 (unlabelled, no
 * data) is black; labels 1..15 are 15 hand-picked colours that stay distinct under the
 * common colour-vision deficiencies (Okabe-Ito's 7, then Paul Tol's muted set); labels
 * 16..64 step round the hue circle by the golden angle. No dependencies. */
#ifndef DIFFCLIP_IO_PALETTE_H
#define DIFFCLIP_IO_PALETTE_H

#include <stdint.h>

#define DC_PALETTE_MAX_CLASSES 64

/* The colour of class label 0..DC_PALETTE_MAX_CLASSES (others: black). */
void dc_palette_class_color(int label, uint8_t rgb[3]);

#endif
