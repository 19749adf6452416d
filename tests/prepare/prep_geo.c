/* Georeference and wavelengths through diffclip-prepare: a GeoTIFF cube with a CRS, a
 * geotransform and per-band wavelengths (band metadata, as GDAL writes them), an ENVI
 * cube whose header has `map info` and `wavelength` / `wavelength units`, and GeoTIFF
 * labels without any georeference; the scene must keep the CRS (with its EPSG code),
 * the geotransform and the wavelengths, and a raster without wavelengths leaves the
 * modality without them.
 *
 * `prep_geo --export SCENE.h5 DIR` (for tests/gis/check_predict.sh) writes the scene's
 * cubes and labels as GeoTIFFs in UTM zone 15N (EPSG:32615) with wavelengths, and a
 * manifest DIR/manifest.cfg, so that `diffclip prepare` makes a georeferenced copy of it. */
#include "prep_util.h"

#include <cpl_conv.h>
#include <ogr_srs_api.h>

#include "diffclip/data/scene.h"
#include "prepare/prepare.h"
#include "prepare/readers.h"

static const double gt_utm[6] = {271460.0, 2.5, 0, 3290891.0, 0, -2.5};

/* A float32 GeoTIFF of C bands from (H, W, C) values; wl (may be NULL) band wavelengths,
 * NaN for none; epsg 0: no CRS, no geotransform. */
static int write_geotiff(const char *path, const float *hwc, int H, int W, int C, int epsg, const double *wl,
                         const char *units, GDALDataType type) {
  GDALAllRegister();
  GDALDriverH drv = GDALGetDriverByName("GTiff");
  GDALDatasetH ds = drv ? GDALCreate(drv, path, W, H, C, type, NULL) : NULL;
  if (!ds) return 0;
  int ok = 1;
  if (epsg) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    ok = OSRImportFromEPSG(srs, epsg) == OGRERR_NONE && OSRExportToWkt(srs, &wkt) == OGRERR_NONE &&
         GDALSetProjection(ds, wkt) == CE_None && GDALSetGeoTransform(ds, (double *)gt_utm) == CE_None;
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
  }
  float *band = malloc((size_t)H * W * sizeof *band);
  for (int b = 0; ok && band && b < C; b++) {
    for (size_t i = 0; i < (size_t)H * W; i++) band[i] = hwc[i * C + b];
    GDALRasterBandH rb = GDALGetRasterBand(ds, b + 1);
    ok = GDALRasterIO(rb, GF_Write, 0, 0, W, H, band, W, H, GDT_Float32, 0, 0) == CE_None;
    if (ok && wl && !isnan(wl[b])) {
      char text[32];
      snprintf(text, sizeof text, "%g", wl[b]);
      ok = GDALSetMetadataItem(rb, "wavelength", text, NULL) == CE_None &&
           GDALSetMetadataItem(rb, "wavelength_units", units, NULL) == CE_None;
    }
  }
  free(band);
  GDALClose(ds);
  return ok && band;
}

static const char *manifest_fmt =
    "manifest_version = 1;\nname = \"%s\";\ngrid = { height = %d; width = %d; };\n"
    "modalities = ( { name = \"hsi\"; bands = %d; }, { name = \"lidar\"; bands = %d; } );\n"
    "labels = { unlabelled = 0; first_class = 1; };\nclasses = (%s);\n"
    "variants = ( { name = \"main\"; official_split = false; files = (\n"
    "  { role = \"hsi\"; file = \"%s\"; },\n  { role = \"lidar\"; file = \"%s\"; },\n"
    "  { role = \"train\"; file = \"train.tif\"; },\n  { role = \"test\"; file = \"test.tif\"; } ); } );\n";

static void write_labels(const char *dir, const int32_t *train, const int32_t *test, int H, int W) {
  char p[1024];
  float *f = malloc((size_t)H * W * sizeof *f);
  for (int which = 0; which < 2; which++) {
    const int32_t *lab = which ? test : train;
    for (size_t i = 0; i < (size_t)H * W; i++) f[i] = (float)lab[i];
    path_join(p, sizeof p, dir, which ? "test.tif" : "train.tif");
    CHECK(write_geotiff(p, f, H, W, 1, 0, NULL, NULL, GDT_Byte), "%s", p);
  }
  free(f);
}

static int export_scene(const char *scene, const char *dir) {
  struct dc_scene s;
  if (dc_scene_read(scene, &s, 1) != DC_OK) return 1;
  mkdir(dir, 0755);
  char p[1024], classes[8192] = "";
  double *wl = malloc((size_t)s.bands[0] * sizeof *wl);
  for (int b = 0; b < s.bands[0]; b++) wl[b] = 400.0 + 600.0 * b / (s.bands[0] > 1 ? s.bands[0] - 1 : 1);
  path_join(p, sizeof p, dir, "hsi.tif");
  CHECK(write_geotiff(p, s.cube[0], s.height, s.width, s.bands[0], 32615, wl, "Nanometers", GDT_Float32), "%s", p);
  path_join(p, sizeof p, dir, "lidar.tif");
  CHECK(write_geotiff(p, s.cube[1], s.height, s.width, s.bands[1], 32615, NULL, NULL, GDT_Float32), "%s", p);
  write_labels(dir, s.train, s.test, s.height, s.width);
  for (int k = 0; k < s.n_classes; k++) {
    size_t n = strlen(classes);
    snprintf(classes + n, sizeof classes - n, "%s{ name = \"%s\"; description = \"%s\"; }", k ? ", " : "",
             s.class_names[k], s.class_descriptions[k] ? s.class_descriptions[k] : "");
  }
  char *text = malloc(16384);
  snprintf(text, 16384, manifest_fmt, s.name, s.height, s.width, s.bands[0], s.bands[1], classes, "hsi.tif", "lidar.tif");
  path_join(p, sizeof p, dir, "manifest.cfg");
  CHECK(write_text(p, text), "%s", p);
  printf("%s\n", p);
  free(text);
  free(wl);
  dc_scene_free(&s);
  return g_failures != 0;
}

enum { H = 6, W = 8, C = 5 };

/* An ENVI cube (BSQ float32) with a header naming `map info` and wavelengths. */
static void write_envi(const char *dir, const float *hwc) {
  char p[1024];
  path_join(p, sizeof p, dir, "hsi.img");
  FILE *f = fopen(p, "wb");
  for (int b = 0; f && b < C; b++)
    for (int i = 0; i < H * W; i++) fwrite(&hwc[i * C + b], sizeof(float), 1, f);
  CHECK(f && fclose(f) == 0, "%s", p);
  path_join(p, sizeof p, dir, "hsi.hdr");
  char hdr[1024];
  snprintf(hdr, sizeof hdr,
           "ENVI\nsamples = %d\nlines = %d\nbands = %d\nheader offset = 0\nfile type = ENVI Standard\n"
           "data type = 4\ninterleave = bsq\nbyte order = 0\n"
           "map info = {UTM, 1.000, 1.000, 271460.000, 3290891.000, 2.5, 2.5, 15, North, WGS-84, units=Meters}\n"
           "wavelength units = Micrometers\nwavelength = { 0.45, 0.52, 0.56, 0.65, 0.83 }\n", W, H, C);
  CHECK(write_text(p, hdr), "%s", p);
}

static void check_scene(const char *out, const char *what, double wl0, const char *units) {
  struct dc_scene s;
  if (dc_scene_read(out, &s, 0) != DC_OK) {
    CHECK(0, "%s: read %s", what, out);
    return;
  }
  int same_gt = s.has_geo;
  for (int i = 0; i < 6; i++) same_gt &= s.geotransform[i] == gt_utm[i];
  CHECK(same_gt, "%s: geotransform (%g %g %g %g %g %g)", what,
        s.geotransform[0], s.geotransform[1], s.geotransform[2], s.geotransform[3], s.geotransform[4], s.geotransform[5]);
  CHECK(s.crs_wkt && strstr(s.crs_wkt, "\"EPSG\",\"32615\"]]") != NULL, "%s: CRS with its EPSG code: %s", what,
        s.crs_wkt ? s.crs_wkt : "(none)");
  CHECK(s.wavelengths[0] && fabs(s.wavelengths[0][0] - wl0) < 1e-9 && !strcmp(s.wavelength_units[0], units),
        "%s: HSI wavelengths %g %s", what, s.wavelengths[0] ? s.wavelengths[0][0] : -1, s.wavelength_units[0]);
  CHECK(!s.wavelengths[1], "%s: the LiDAR has no wavelengths", what);
  int rgb[3];
  CHECK(dc_scene_rgb_bands(&s, 0, rgb) == 1 && rgb[0] == 3 && rgb[1] == 2 && rgb[2] == 0, "%s: composite bands %d %d %d",
        what, rgb[0], rgb[1], rgb[2]);
  dc_scene_free(&s);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--export")) return export_scene(argv[2], argv[3]);
  dc_prepare_readers_init();
  char raw[512], p[1024], out[1024];
  tmp_path("raw", 1, raw, sizeof raw);
  float hsi[H * W * C], lidar[H * W];
  int32_t train[H * W] = {0}, test[H * W] = {0};
  for (int i = 0; i < H * W; i++) {
    for (int b = 0; b < C; b++) hsi[i * C + b] = (float)(i + 10 * b);
    lidar[i] = (float)(i % 7);
  }
  train[0] = 1, train[9] = 2, test[20] = 1, test[30] = 2, test[47] = 2;
  double wl[C] = {450, 520, 560, 650, NAN}; /* the last band has none */
  path_join(p, sizeof p, raw, "hsi.tif");
  CHECK(write_geotiff(p, hsi, H, W, C, 32615, wl, "Nanometers", GDT_Float32), "hsi.tif");
  path_join(p, sizeof p, raw, "lidar.tif");
  CHECK(write_geotiff(p, lidar, H, W, 1, 0, NULL, NULL, GDT_Float32), "lidar.tif");
  write_labels(raw, train, test, H, W);
  write_envi(raw, hsi);
  static const char *classes = "{ name = \"a\"; description = \"The first class.\"; }, { name = \"b\"; description = \"The second class.\"; }";
  char text[4096], manifest[1024];
  struct dc_prepare_options o = {.raw = raw, .out = out, .nan_policy = -1};

  /* a GeoTIFF with an EPSG-coded CRS and band wavelengths */
  snprintf(text, sizeof text, manifest_fmt, "geo", H, W, C, 1, classes, "hsi.tif", "lidar.tif");
  tmp_path("geotiff.cfg", 0, manifest, sizeof manifest);
  write_text(manifest, text);
  tmp_path("geotiff.h5", 0, out, sizeof out);
  o.manifest = manifest;
  CHECK(dc_prepare_run(&o) == DC_OK, "prepare from a GeoTIFF");
  check_scene(out, "GeoTIFF", 450, "Nanometers");
  struct dc_scene s;
  if (dc_scene_read(out, &s, 0) == DC_OK) {
    CHECK(s.wavelengths[0] && isnan(s.wavelengths[0][4]), "a band without a wavelength is NaN");
    dc_scene_free(&s);
  }

  /* an ENVI cube: map info (a UTM zone GDAL names without a code: identified as 32615) and
   * wavelengths in micrometres from the header */
  snprintf(text, sizeof text, manifest_fmt, "envi", H, W, C, 1, classes, "hsi.img", "lidar.tif");
  tmp_path("envi.cfg", 0, manifest, sizeof manifest);
  write_text(manifest, text);
  tmp_path("envi.h5", 0, out, sizeof out);
  CHECK(dc_prepare_run(&o) == DC_OK, "prepare from an ENVI cube");
  check_scene(out, "ENVI", 0.45, "Micrometers");

  /* rasters without any georeference: the scene has none, and still prepares */
  snprintf(text, sizeof text, manifest_fmt, "plain", H, W, 1, 1, classes, "lidar.tif", "lidar.tif");
  tmp_path("plain.cfg", 0, manifest, sizeof manifest);
  write_text(manifest, text);
  tmp_path("plain.h5", 0, out, sizeof out);
  CHECK(dc_prepare_run(&o) == DC_OK, "prepare without georeference");
  if (dc_scene_read(out, &s, 0) == DC_OK) {
    CHECK(!s.has_geo && !s.crs_wkt && !s.wavelengths[0], "no georeference, no CRS, no wavelengths");
    dc_scene_free(&s);
  }
  tmp_cleanup();
  return test_done("prep_geo");
}
