/* GeoTIFF class maps and score rasters with libtiff and libgeotiff (geotiff.h). GDAL is
 * not used: it links Debian's serial HDF5, which must never share a process with the
 * parallel HDF5 of the MPI program. */
#include "diffclip/io/geotiff.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <geo_normalize.h>
#include <geotiff.h>
#include <geovalues.h>
#include <tiffio.h>
#include <xtiffio.h>

#include "diffclip/io/palette.h"

/* ---- GDAL's private TIFF tags (metadata XML, nodata), unknown to libtiff ------------- */

static TIFFExtendProc parent_extender;

static void gdal_tags(TIFF *tif) {
  static const TIFFFieldInfo info[] = {
      {TIFFTAG_GDAL_METADATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALMetadata"},
      {TIFFTAG_GDAL_NODATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALNoDataValue"}};
  TIFFMergeFieldInfo(tif, info, (int)(sizeof info / sizeof *info));
  if (parent_extender) parent_extender(tif);
}

/* libtiff's own messages go to our debug log; our errors name the file and the step. */
static void tiff_message(const char *module, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  dc_log(DC_LOG_DEBUG, "libtiff %s: %s", module ? module : "", msg);
}

static void register_tags(void) {
  static int done = 0;
  if (done) return;
  done = 1;
  parent_extender = TIFFSetTagExtender(gdal_tags);
  TIFFSetErrorHandler(tiff_message);
  TIFFSetWarningHandler(tiff_message);
}

/* ---- the CRS's EPSG code from WKT --------------------------------------------------- */

/* The keyword before the first '[' (or '('), upper-cased. */
static void wkt_keyword(const char *wkt, char *out, size_t cap) {
  size_t n = 0;
  while (*wkt && isspace((unsigned char)*wkt)) wkt++;
  for (; *wkt && *wkt != '[' && *wkt != '(' && n + 1 < cap; wkt++) out[n++] = (char)toupper((unsigned char)*wkt);
  out[n] = '\0';
}

int dc_wkt_epsg(const char *wkt, int *projected) {
  if (!wkt || !*wkt) return 0;
  char key[32];
  wkt_keyword(wkt, key, sizeof key);
  *projected = !strcmp(key, "PROJCS") || !strcmp(key, "PROJCRS") || !strcmp(key, "PROJECTEDCRS");
  int geographic = !strcmp(key, "GEOGCS") || !strcmp(key, "GEOGCRS") || !strcmp(key, "GEODCRS") ||
                   !strcmp(key, "GEOGRAPHICCRS") || !strcmp(key, "GEODETICCRS");
  if (!*projected && !geographic) return 0;
  /* the authority node directly inside the top-level object (depth 1) */
  int depth = 0, code = 0, in_str = 0;
  for (const char *p = wkt; *p; p++) {
    if (*p == '"') in_str = !in_str;
    if (in_str) continue;
    if (*p == '[' || *p == '(') depth++;
    else if (*p == ']' || *p == ')') depth--;
    else if (depth == 1 && (!strncmp(p, "AUTHORITY[", 10) || !strncmp(p, "ID[", 3))) {
      const char *q = strchr(p, '[') + 1;
      while (*q == ' ') q++;
      if (strncmp(q, "\"EPSG\"", 6) != 0) continue;
      q += 6;
      while (*q == ' ' || *q == ',' || *q == '"') q++;
      code = atoi(q);
    }
  }
  return code > 0 && code < 65535 ? code : 0;
}

/* ---- shared pieces -------------------------------------------------------------------- */

static void xml_escaped(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '&') fputs("&amp;", f);
    else if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '"') fputs("&quot;", f);
    else fputc(*s, f);
  }
}

/* <path>.aux.xml with the SRS (WKT of a CRS that GeoKeys cannot name) and category names,
 * through a temporary name; removes a stale one when there is nothing to say. */
static enum dc_status write_sidecar(const char *path, const char *wkt, int n_names, const char *const *names) {
  char aux[4200], tmp[4300];
  snprintf(aux, sizeof aux, "%s.aux.xml", path);
  if (!wkt && n_names == 0) {
    if (remove(aux) != 0 && errno != ENOENT) return DC_ERROR(DC_ERR_IO, "%s: cannot remove a stale sidecar: %s", aux, strerror(errno));
    return DC_OK;
  }
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", aux, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot create %s: %s", aux, tmp, strerror(errno));
  fputs("<PAMDataset>\n", f);
  if (wkt) {
    fputs("  <SRS dataAxisToSRSAxisMapping=\"1,2\">", f);
    xml_escaped(f, wkt);
    fputs("</SRS>\n", f);
  }
  if (n_names > 0) {
    fputs("  <PAMRasterBand band=\"1\">\n    <CategoryNames>\n", f);
    for (int k = 0; k < n_names; k++) {
      fputs("      <Category>", f);
      xml_escaped(f, names[k] ? names[k] : "");
      fputs("</Category>\n", f);
    }
    fputs("    </CategoryNames>\n  </PAMRasterBand>\n", f);
  }
  fputs("</PAMDataset>\n", f);
  int bad = ferror(f);
  if (fclose(f) != 0) bad = 1;
  if (bad || rename(tmp, aux) != 0) {
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "%s: cannot write it (disk full?)", aux);
  }
  return DC_OK;
}

/* The georeference tags and keys; *wkt_sidecar gets the WKT when no EPSG code names it. */
static enum dc_status put_georef(TIFF *tif, const char *path, const struct dc_georef *geo, const char **wkt_sidecar) {
  *wkt_sidecar = NULL;
  if (!geo || !geo->has_geo) return DC_OK;
  const double *g = geo->gt;
  int ok = 1;
  if (g[2] == 0 && g[4] == 0) {
    double tie[6] = {0, 0, 0, g[0], g[3], 0}, scale[3] = {g[1], -g[5], 0};
    ok = TIFFSetField(tif, TIFFTAG_GEOTIEPOINTS, 6, tie) && TIFFSetField(tif, TIFFTAG_GEOPIXELSCALE, 3, scale);
  } else {
    double m[16] = {g[1], g[2], 0, g[0], g[4], g[5], 0, g[3], 0, 0, 0, 0, 0, 0, 0, 1};
    ok = TIFFSetField(tif, TIFFTAG_GEOTRANSMATRIX, 16, m);
  }
  if (!ok) return DC_ERROR(DC_ERR_IO, "%s: cannot set the georeference tags", path);
  GTIF *gt = GTIFNew(tif);
  if (!gt) return DC_ERROR(DC_ERR_IO, "%s: libgeotiff cannot start its keys", path);
  int projected = 0, code = dc_wkt_epsg(geo->crs_wkt, &projected);
  GTIFKeySet(gt, GTRasterTypeGeoKey, TYPE_SHORT, 1, RasterPixelIsArea);
  if (code) {
    GTIFKeySet(gt, GTModelTypeGeoKey, TYPE_SHORT, 1, projected ? ModelTypeProjected : ModelTypeGeographic);
    GTIFKeySet(gt, projected ? ProjectedCSTypeGeoKey : GeographicTypeGeoKey, TYPE_SHORT, 1, code);
    /* the CRS's name: the first quoted string of the WKT */
    const char *q = strchr(geo->crs_wkt, '"'), *e = q ? strchr(q + 1, '"') : NULL;
    if (q && e && e - q - 1 > 0 && e - q - 1 < 200) {
      char name[200];
      snprintf(name, sizeof name, "%.*s", (int)(e - q - 1), q + 1);
      GTIFKeySet(gt, GTCitationGeoKey, TYPE_ASCII, 0, name);
    }
  } else if (geo->crs_wkt && geo->crs_wkt[0]) {
    *wkt_sidecar = geo->crs_wkt;
  }
  ok = GTIFWriteKeys(gt);
  GTIFFree(gt);
  return ok ? DC_OK : DC_ERROR(DC_ERR_IO, "%s: libgeotiff cannot write its keys", path);
}

static void set_common(TIFF *tif, int height, int width, int bands, int bits, int format) {
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)bands);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)format);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
  TIFFSetField(tif, TIFFTAG_SOFTWARE, "diffclip " DIFFCLIP_VERSION);
  uint32_t rows = (uint32_t)(65536 / ((size_t)width * bands * bits / 8 + 1));
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows < 1 ? 1u : rows);
}

/* Writes rows of row_bytes each from data, then closes; 0 on failure. */
static int write_rows(TIFF *tif, const void *data, int height, size_t row_bytes) {
  int ok = 1;
  for (int r = 0; ok && r < height; r++) ok = TIFFWriteScanline(tif, (char *)data + (size_t)r * row_bytes, (uint32_t)r, 0) == 1;
  return ok;
}

static enum dc_status check_args(const char *path, int height, int width, int bands) {
  if (height < 1 || width < 1 || bands < 1 || bands > 65535)
    return DC_ERROR(DC_ERR_ARG, "%s: a raster of %d x %d pixels and %d bands; positive sizes expected", path, height,
                    width, bands);
  return DC_OK;
}

/* Opens the temporary file for path. */
static enum dc_status open_tmp(const char *path, char *tmp, size_t cap, TIFF **tif) {
  if ((size_t)snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid()) >= cap)
    return DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  register_tags();
  *tif = XTIFFOpen(tmp, "w");
  if (!*tif) return DC_ERROR(DC_ERR_IO, "%s: cannot create %s (does the folder exist and is it writable?)", path, tmp);
  return DC_OK;
}

/* Closes, renames into place and writes the sidecar; removes the temporary file on failure. */
static enum dc_status finish(TIFF *tif, enum dc_status st, const char *path, const char *tmp, const char *wkt,
                             int n_names, const char *const *names) {
  XTIFFClose(tif);
  if (st == DC_OK && rename(tmp, path) != 0)
    st = DC_ERROR(DC_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
  if (st != DC_OK) {
    remove(tmp);
    return st;
  }
  st = write_sidecar(path, wkt, n_names, names);
  if (st != DC_OK) remove(path); /* a class map without its names is not whole */
  return st;
}

enum dc_status dc_geotiff_write_classes(const char *path, const uint8_t *labels, int height, int width, int n_classes,
                                        const char *const *class_names, const struct dc_georef *geo) {
  DC_TRY(check_args(path, height, width, 1));
  if (n_classes < 1 || n_classes > DC_PALETTE_MAX_CLASSES)
    return DC_ERROR(DC_ERR_ARG, "%s: %d classes, 1..%d expected", path, n_classes, DC_PALETTE_MAX_CLASSES);
  for (size_t i = 0; i < (size_t)height * width; i++)
    if (labels[i] > n_classes)
      return DC_ERROR(DC_ERR_ARG, "%s: label %d at (row %zu, col %zu), 0..%d expected", path, labels[i],
                      i / (size_t)width, i % (size_t)width, n_classes);
  char tmp[4200];
  TIFF *tif;
  DC_TRY(open_tmp(path, tmp, sizeof tmp, &tif));
  uint16_t map[3][256];
  for (int k = 0; k < 256; k++) {
    uint8_t rgb[3];
    dc_palette_class_color(k, rgb);
    for (int c = 0; c < 3; c++) map[c][k] = (uint16_t)(rgb[c] * 257);
  }
  set_common(tif, height, width, 1, 8, SAMPLEFORMAT_UINT);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_PALETTE);
  TIFFSetField(tif, TIFFTAG_COLORMAP, map[0], map[1], map[2]);
  TIFFSetField(tif, TIFFTAG_GDAL_NODATA, "0");
  const char *wkt = NULL;
  enum dc_status st = put_georef(tif, path, geo, &wkt);
  if (st == DC_OK && !write_rows(tif, labels, height, (size_t)width))
    st = DC_ERROR(DC_ERR_IO, "%s: cannot write the pixels to %s (disk full?)", path, tmp);
  const char *names[DC_PALETTE_MAX_CLASSES + 1];
  names[0] = "unlabelled";
  for (int k = 0; k < n_classes; k++) names[k + 1] = class_names ? class_names[k] : "";
  return finish(tif, st, path, tmp, wkt, n_classes + 1, names);
}

enum dc_status dc_geotiff_write_scores(const char *path, const float *values, int height, int width, int bands,
                                       const char *const *band_names, const struct dc_georef *geo) {
  DC_TRY(check_args(path, height, width, bands));
  char tmp[4200];
  TIFF *tif;
  DC_TRY(open_tmp(path, tmp, sizeof tmp, &tif));
  set_common(tif, height, width, bands, 32, SAMPLEFORMAT_IEEEFP);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  if (bands > 1) {
    uint16_t *extra = calloc((size_t)bands, sizeof *extra); /* unspecified extra samples */
    if (extra) TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(bands - 1), extra);
    free(extra);
  }
  enum dc_status st = DC_OK;
  if (band_names) { /* band descriptions as GDAL reads them from its metadata tag */
    size_t cap = 64, len = 0;
    for (int b = 0; b < bands; b++) cap += 96 + 6 * strlen(band_names[b] ? band_names[b] : "");
    char *xml = malloc(cap);
    if (!xml) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for the band names", path);
    if (xml) {
      len += (size_t)snprintf(xml + len, cap - len, "<GDALMetadata>\n");
      for (int b = 0; b < bands; b++) {
        len += (size_t)snprintf(xml + len, cap - len, "  <Item name=\"DESCRIPTION\" sample=\"%d\" role=\"description\">", b);
        for (const char *c = band_names[b] ? band_names[b] : ""; *c && len + 8 < cap; c++)
          len += (size_t)snprintf(xml + len, cap - len, "%s",
                                  *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : (char[2]){*c, 0});
        len += (size_t)snprintf(xml + len, cap - len, "</Item>\n");
      }
      snprintf(xml + len, cap - len, "</GDALMetadata>");
      TIFFSetField(tif, TIFFTAG_GDAL_METADATA, xml);
      free(xml);
    }
  }
  const char *wkt = NULL;
  if (st == DC_OK) st = put_georef(tif, path, geo, &wkt);
  if (st == DC_OK && !write_rows(tif, values, height, (size_t)width * bands * sizeof(float)))
    st = DC_ERROR(DC_ERR_IO, "%s: cannot write the pixels to %s (disk full?)", path, tmp);
  return finish(tif, st, path, tmp, wkt, 0, NULL);
}
