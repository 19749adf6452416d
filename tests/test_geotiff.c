/* The GeoTIFF writer (io/geotiff.h) against libtiff and libgeotiff reading its files back:
 * class-map pixels, the palette (io/palette.h), the nodata tag, the category names in the
 * sidecar, the geotransform (tie point and pixel scale, or the transformation matrix of a
 * rotated grid), the CRS's EPSG code as GeoKeys, a CRS without a code as WKT in the
 * sidecar, a plain pixel-grid TIFF without a georeference, the scores raster's floats and
 * band names, and refusals that leave nothing behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <geo_normalize.h>
#include <geotiff.h>
#include <geovalues.h>
#include <tiffio.h>
#include <xtiffio.h>

#include "diffclip/io/geotiff.h"
#include "diffclip/io/palette.h"
#include "expect.h"

enum { H = 5, W = 7, N = 3, B = 3 };

static char dir[64];

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int count_entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static const char *utm_wkt =
    "PROJCS[\"WGS 84 / UTM zone 15N\",GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,"
    "AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\","
    "0.0174532925199433],AUTHORITY[\"EPSG\",\"4326\"]],PROJECTION[\"Transverse_Mercator\"],PARAMETER["
    "\"central_meridian\",-93],UNIT[\"metre\",1,AUTHORITY[\"EPSG\",\"9001\"]],AUTHORITY[\"EPSG\",\"32615\"]]";

static void check_class_map(const char *path, const uint8_t *labels) {
  TIFF *tif = XTIFFOpen(path, "r");
  EXPECT(tif != NULL, "%s opens with libtiff", path);
  if (!tif) return;
  uint32_t w = 0, h = 0;
  uint16_t bps = 0, spp = 0, photo = 0, *r = NULL, *g = NULL, *b = NULL;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
  EXPECT(w == W && h == H && bps == 8 && spp == 1 && photo == PHOTOMETRIC_PALETTE, "class map: %ux%u, %u bits, %u samples, "
         "photometric %u", w, h, bps, spp, photo);
  int pixels_ok = 1;
  uint8_t row[W];
  for (int y = 0; y < H; y++) {
    pixels_ok &= TIFFReadScanline(tif, row, (uint32_t)y, 0) == 1;
    pixels_ok &= memcmp(row, labels + y * W, W) == 0;
  }
  EXPECT(pixels_ok, "class map pixels read back");
  int pal_ok = TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b) == 1;
  for (int k = 0; pal_ok && k <= N + 1; k++) {
    uint8_t rgb[3];
    dc_palette_class_color(k, rgb);
    pal_ok = r[k] == rgb[0] * 257 && g[k] == rgb[1] * 257 && b[k] == rgb[2] * 257;
  }
  EXPECT(pal_ok, "colour map is the report's palette (label 0 black)");
  char *nodata = NULL;
  EXPECT(TIFFGetField(tif, TIFFTAG_GDAL_NODATA, &nodata) == 1 && nodata && !strcmp(nodata, "0"), "nodata tag is \"0\"");
  XTIFFClose(tif);
}

/* The geotransform and EPSG code libgeotiff reads back. */
static void check_georef(const char *path, const double *gt, int epsg, const char *what) {
  TIFF *tif = XTIFFOpen(path, "r");
  GTIF *gtif = tif ? GTIFNew(tif) : NULL;
  EXPECT(gtif != NULL, "%s: libgeotiff opens %s", what, path);
  if (!gtif) {
    if (tif) XTIFFClose(tif);
    return;
  }
  uint16_t count = 0;
  double *tie = NULL, *scale = NULL, *matrix = NULL;
  if (gt[2] == 0 && gt[4] == 0) {
    int ok = TIFFGetField(tif, TIFFTAG_GEOTIEPOINTS, &count, &tie) == 1 && count == 6;
    ok = ok && tie[0] == 0 && tie[1] == 0 && tie[3] == gt[0] && tie[4] == gt[3];
    ok = ok && TIFFGetField(tif, TIFFTAG_GEOPIXELSCALE, &count, &scale) == 1 && count == 3 && scale[0] == gt[1] &&
         scale[1] == -gt[5];
    EXPECT(ok, "%s: tie point (%g, %g) and pixel scale (%g, %g)", what, gt[0], gt[3], gt[1], -gt[5]);
  } else {
    int ok = TIFFGetField(tif, TIFFTAG_GEOTRANSMATRIX, &count, &matrix) == 1 && count == 16;
    ok = ok && matrix[0] == gt[1] && matrix[1] == gt[2] && matrix[3] == gt[0] && matrix[4] == gt[4] &&
         matrix[5] == gt[5] && matrix[7] == gt[3] && matrix[15] == 1;
    EXPECT(ok, "%s: the rotated grid as a transformation matrix", what);
  }
  unsigned short model = 0, raster = 0, code = 0;
  GTIFKeyGetSHORT(gtif, GTRasterTypeGeoKey, &raster, 0, 1);
  EXPECT(raster == RasterPixelIsArea, "%s: RasterPixelIsArea", what);
  if (epsg) {
    GTIFKeyGetSHORT(gtif, GTModelTypeGeoKey, &model, 0, 1);
    GTIFKeyGetSHORT(gtif, ProjectedCSTypeGeoKey, &code, 0, 1);
    EXPECT(model == ModelTypeProjected && code == epsg, "%s: projected, EPSG %d (read %u, model %u)", what, epsg, code,
           model);
    GTIFDefn defn;
    EXPECT(GTIFGetDefn(gtif, &defn) && defn.PCS == epsg, "%s: libgeotiff's definition names EPSG %d", what, epsg);
  } else {
    EXPECT(GTIFKeyGetSHORT(gtif, ProjectedCSTypeGeoKey, &code, 0, 1) == 0, "%s: no CRS key without an EPSG code", what);
  }
  GTIFFree(gtif);
  XTIFFClose(tif);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/dc_test_geotiff_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  char map[128], aux[160], scores[128];
  snprintf(map, sizeof map, "%s/classes.tif", dir);
  snprintf(aux, sizeof aux, "%s.aux.xml", map);
  snprintf(scores, sizeof scores, "%s/scores.tif", dir);
  uint8_t labels[H * W];
  for (int i = 0; i < H * W; i++) labels[i] = (uint8_t)(i % (N + 1));
  const char *names[N] = {"Grass", "Trees & shrubs", "Roofs <flat>"};
  const double gt[6] = {271460.0, 2.5, 0, 3290891.0, 0, -2.5};
  struct dc_georef geo = {.has_geo = 1, .crs_wkt = utm_wkt};
  memcpy(geo.gt, gt, sizeof gt);

  int projected = -1;
  EXPECT(dc_wkt_epsg(utm_wkt, &projected) == 32615 && projected == 1, "WKT 1: the top-level EPSG code, not the datum's");
  EXPECT(dc_wkt_epsg("GEOGCRS[\"WGS 84\",DATUM[\"x\",ELLIPSOID[\"y\",1,2]],ID[\"EPSG\",4326]]", &projected) == 4326 &&
             projected == 0, "WKT 2 geographic: ID[\"EPSG\",4326]");
  EXPECT(dc_wkt_epsg("PROJCS[\"local\",GEOGCS[\"x\",AUTHORITY[\"EPSG\",\"4326\"]]]", &projected) == 0,
         "a projected CRS without its own code: 0 (the base CRS's code is not it)");
  EXPECT(dc_wkt_epsg(NULL, &projected) == 0 && dc_wkt_epsg("", &projected) == 0, "no WKT: 0");

  EXPECT(dc_geotiff_write_classes(map, labels, H, W, N, names, &geo) == DC_OK, "class map written");
  check_class_map(map, labels);
  check_georef(map, gt, 32615, "EPSG-coded class map");
  char *side = slurp(aux);
  EXPECT(side && strstr(side, "<Category>unlabelled</Category>") && strstr(side, "<Category>Trees &amp; shrubs</Category>") &&
             strstr(side, "<Category>Roofs &lt;flat&gt;</Category>") && !strstr(side, "<SRS"),
         "sidecar: category names, escaped, value 0 first; no SRS when the EPSG code names the CRS");
  free(side);

  float values[H * W * B];
  for (int i = 0; i < H * W * B; i++) values[i] = (float)i / 7.0f;
  EXPECT(dc_geotiff_write_scores(scores, values, H, W, B, names, &geo) == DC_OK, "scores written");
  TIFF *tif = XTIFFOpen(scores, "r");
  if (tif) {
    uint16_t spp = 0, bps = 0, fmt = 0;
    TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    EXPECT(spp == B && bps == 32 && fmt == SAMPLEFORMAT_IEEEFP, "scores: %u float samples of %u bits", spp, bps);
    float row[W * B];
    int ok = 1;
    for (int y = 0; y < H; y++) ok &= TIFFReadScanline(tif, row, (uint32_t)y, 0) == 1 && !memcmp(row, values + y * W * B, sizeof row);
    EXPECT(ok, "scores read back bit for bit");
    char *xml = NULL;
    EXPECT(TIFFGetField(tif, TIFFTAG_GDAL_METADATA, &xml) == 1 && xml &&
               strstr(xml, "sample=\"1\" role=\"description\">Trees &amp; shrubs</Item>"),
           "band descriptions in GDAL_METADATA");
    XTIFFClose(tif);
  } else {
    EXPECT(0, "scores open with libtiff");
  }
  check_georef(scores, gt, 32615, "scores");

  /* a rotated grid and a CRS without an EPSG code: matrix, WKT in the sidecar */
  const double rot[6] = {1000, 2, 0.5, 5000, 0.5, -2};
  struct dc_georef local = {.has_geo = 1, .crs_wkt = "LOCAL_CS[\"site grid\",UNIT[\"metre\",1]]"};
  memcpy(local.gt, rot, sizeof rot);
  EXPECT(dc_geotiff_write_scores(scores, values, H, W, B, NULL, &local) == DC_OK, "rotated scores written");
  check_georef(scores, rot, 0, "rotated, no EPSG code");
  char saux[160];
  snprintf(saux, sizeof saux, "%s.aux.xml", scores);
  side = slurp(saux);
  EXPECT(side && strstr(side, "<SRS") && strstr(side, "LOCAL_CS[&quot;site grid&quot;"), "the WKT goes to the sidecar");
  free(side);

  /* no georeference: a plain TIFF on the pixel grid, and the earlier sidecar removed */
  EXPECT(dc_geotiff_write_scores(scores, values, H, W, B, NULL, NULL) == DC_OK, "scores without georeference");
  EXPECT(access(saux, F_OK) != 0, "a stale sidecar of the earlier file is removed");
  tif = XTIFFOpen(scores, "r");
  if (tif) {
    uint16_t count = 0;
    double *tie = NULL;
    GTIF *gtif = GTIFNew(tif);
    unsigned short model = 0;
    EXPECT(TIFFGetField(tif, TIFFTAG_GEOTIEPOINTS, &count, &tie) == 0 &&
               (!gtif || GTIFKeyGetSHORT(gtif, GTModelTypeGeoKey, &model, 0, 1) == 0),
           "no georeference tags or keys");
    if (gtif) GTIFFree(gtif);
    XTIFFClose(tif);
  }

  /* refusals: nothing written, nothing left */
  int before = count_entries();
  labels[3] = N + 1;
  char bad[128];
  snprintf(bad, sizeof bad, "%s/bad.tif", dir);
  EXPECT(dc_geotiff_write_classes(bad, labels, H, W, N, names, &geo) == DC_ERR_ARG, "a label above n_classes refused");
  EXPECT(dc_geotiff_write_scores(bad, values, 0, W, B, NULL, NULL) == DC_ERR_ARG, "an empty raster refused");
  snprintf(bad, sizeof bad, "%s/no-such-folder/x.tif", dir);
  EXPECT(dc_geotiff_write_scores(bad, values, H, W, B, NULL, NULL) != DC_OK, "a missing folder fails");
  EXPECT(count_entries() == before, "refusals leave no file");

  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
  if (g_fails) fprintf(stderr, "test_geotiff: %d failure(s)\n", g_fails);
  else printf("test_geotiff: all checks passed\n");
  return g_fails ? 1 : 0;
}
