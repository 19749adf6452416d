/* A 5x7 bitmap font for printable ASCII (32..126), to write class names into PNG legends
 * without a font library. Glyph g is 5 columns; bit r (0 = top) of column c is set where
 * the pixel (row r, column c) is ink. Characters outside 32..126 draw as '?'. */
#ifndef DIFFCLIP_IO_FONT5X7_H
#define DIFFCLIP_IO_FONT5X7_H

#define DC_FONT_W 5
#define DC_FONT_H 7

/* The 5 column bytes of character ch. */
const unsigned char *dc_font5x7_glyph(int ch);

#endif
