/* ENVI ROI ASCII labels (the DFC 2013 samples' release form): the reader on small exports
 * in ENVI's 4.x and 5.x layouts, its refusals, and, with the shared real data, the real
 * Houston 2013 training samples written out as an ENVI ROI export (15 ROIs in class order,
 * with ID / X / Y / Map X / Map Y / Lat / Lon / band columns) and prepared through the
 * shipped manifest's "dfc2013_official" variant: the scene's labels are the raster's, pixel
 * for pixel, and the published counts are checked on the way. */
#include "prep_util.h"

#include "diffclip/data/scene.h"
#include "diffclip/prepare/rawarray.h"
#include "prepare/readers.h"

static const char *const k_classes[] = {"Healthy grass", "Parking lot 1", "Tree"};

static char g_file[512];

static enum dc_status read_roi(const char *text, int by_order, struct dc_array *a) {
  tmp_path("roi.txt", 0, g_file, sizeof g_file);
  CHECK(write_text(g_file, text), "write %s", g_file);
  return dc_envi_roi_read(g_file, 4, 5, 3, k_classes, by_order, 0, 1, a);
}

/* Refused, with the file and `expect` in the message. */
static void refused(const char *what, const char *text, int by_order, const char *expect) {
  struct dc_array a;
  enum dc_status st = read_roi(text, by_order, &a);
  CHECK(st != DC_OK, "%s: accepted", what);
  if (st == DC_OK) {
    dc_array_free(&a);
    return;
  }
  const char *msg = dc_last_error();
  CHECK(strstr(msg, g_file) && strstr(msg, expect), "%s: message '%s' lacks the file or '%s'", what, msg, expect);
  CHECK(!a.i32, "%s: array left allocated", what);
}

#define HEAD4 "; ENVI Output of ROIs (4.8) [Wed Jan 30 10:00:00 2013]\n; Number of ROIs: 3\n; File Dimension: 5 x 4\n;\n"

static void small_exports(void) {
  /* ENVI 4.x: blank-line separated blocks, Map X / Map Y / Lat / Lon / band columns; names
   * differing from the classes in case, spaces and punctuation */
  const char *v4 = HEAD4
      "; ROI name: HEALTHY_GRASS\n; ROI rgb value: {0, 205, 0}\n; ROI npts: 2\n"
      "; ROI name: parking-lot 1\n; ROI rgb value: {255, 0, 0}\n; ROI npts: 1\n"
      "; ROI name: tree\n; ROI rgb value: {0, 139, 0}\n; ROI npts: 3\n"
      ";   ID     X     Y        Map X         Map Y          Lat          Lon       B1\n"
      "     1     1     1  271460.5000  3290891.5000  29.7500000 -95.3600000  0.25\n"
      "     2     5     4  271470.5000  3290884.0000  29.7400000 -95.3500000  0.50\n"
      "\n"
      "     1     3     2  271465.5000  3290889.0000  29.7450000 -95.3550000  0.75\n"
      "\n"
      "     1     2     1  271463.0000  3290891.5000  29.7500000 -95.3580000  0.10\n"
      "     2     2     2  271463.0000  3290889.0000  29.7450000 -95.3580000  0.20\n"
      "     3     4     3  271468.0000  3290886.5000  29.7420000 -95.3520000  0.30\n";
  struct dc_array a;
  CHECK(read_roi(v4, 0, &a) == DC_OK, "4.x export by name: %s", dc_last_error());
  if (a.i32) {
    int want[20] = {0};
    want[0 * 5 + 0] = 1, want[3 * 5 + 4] = 1, want[1 * 5 + 2] = 2;
    want[0 * 5 + 1] = 3, want[1 * 5 + 1] = 3, want[2 * 5 + 3] = 3;
    int same = a.ndim == 2 && a.dims[0] == 4 && a.dims[1] == 5;
    for (int i = 0; same && i < 20; i++) same = a.i32[i] == want[i];
    CHECK(same, "4.x export: the points land on (row Y-1, column X-1) with their class");
    dc_array_free(&a);
  }
  /* ENVI 5.x style: one block, only ID, X and Y; ROI order decides the class */
  const char *v5 = "; ENVI Output of ROIs (5.1) [Mon Mar 3 2014]\n; Number of ROIs: 3\n; File Dimension: 5 x 4\n;\n"
      "; ROI name: a\n; ROI rgb value: {1, 2, 3}\n; ROI npts: 1\n"
      "; ROI name: b\n; ROI rgb value: {1, 2, 3}\n; ROI npts: 0\n"
      "; ROI name: c\n; ROI rgb value: {1, 2, 3}\n; ROI npts: 2\n"
      ";    ID      X      Y\n"
      "      1      5      1\n      2      1      4\r\n      3      2      4\n";
  CHECK(read_roi(v5, 1, &a) == DC_OK, "5.x export by order: %s", dc_last_error());
  if (a.i32) {
    CHECK(a.i32[4] == 1 && a.i32[15] == 3 && a.i32[16] == 3 && a.i32[0] == 0, "5.x export: classes by order (empty ROI b)");
    dc_array_free(&a);
  }
  /* unlabelled and first_class as the manifest encodes them (255 / 0) */
  tmp_path("roi.txt", 0, g_file, sizeof g_file);
  CHECK(dc_envi_roi_read(g_file, 4, 5, 3, k_classes, 1, 255, 0, &a) == DC_OK, "encoded: %s", dc_last_error());
  if (a.i32) {
    CHECK(a.i32[4] == 0 && a.i32[15] == 2 && a.i32[0] == 255, "labels encoded with unlabelled 255, first class 0");
    dc_array_free(&a);
  }

  refused("not an ROI export", "ID,X,Y\n1,2,3\n", 0, "ENVI ROI");
  refused("grid", "; ENVI Output of ROIs (4.8)\n; Number of ROIs: 1\n; File Dimension: 6 x 4\n; ROI name: tree\n; ROI npts: 0\n;  ID X Y\n",
          0, "File Dimension 6 x 4; expected 5 x 4");
  refused("unmatched name", HEAD4 "; ROI name: Trees\n; ROI npts: 0\n; ROI name: tree\n; ROI npts: 0\n; ROI name: tree\n; ROI npts: 0\n;  ID X Y\n",
          0, "'Trees' matches no class");
  refused("order needs one ROI per class", "; ENVI Output of ROIs (4.8)\n; ROI name: tree\n; ROI npts: 0\n;  ID X Y\n", 1,
          "1 ROIs; expected one per class (3)");
  refused("declared count", HEAD4 "; ROI name: tree\n; ROI npts: 0\n;  ID X Y\n", 0, "1 ROIs described; expected 3");
  refused("band values only", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n"
          ";      B1      B2\n  0.1  0.2\n", 1, "no X and Y columns");
  refused("outside the grid", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 6 1\n", 1, "roi.txt:12: point X 6, Y 1");
  refused("zero-based", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 0 1\n", 1, "expected whole pixel coordinates");
  refused("two classes on a pixel", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 1\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 2 2\n\n  1 2 2\n", 1, "already a point of another class");
  refused("cut short", HEAD4 "; ROI name: a\n; ROI npts: 2\n; ROI name: b\n; ROI npts: 1\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 2 2\n  2 3 3\n", 1, "2 points; expected 3");
  refused("extra points", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 2 2\n  2 3 3\n", 1, "a point after the last ROI");
  refused("text in a point", HEAD4 "; ROI name: a\n; ROI npts: 1\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n"
          ";  ID X Y\n  1 two 2\n", 1, "column 2 is not a number");
  refused("npts missing", HEAD4 "; ROI name: a\n; ROI name: b\n; ROI npts: 0\n; ROI name: c\n; ROI npts: 0\n;  ID X Y\n", 1,
          "ROI npts");
}

/* The real TR raster written as an ENVI 4.x ROI export, one ROI per class in class order. */
static int write_roi_from_raster(const char *path, const struct dc_array *lab, int n_classes) {
  FILE *fp = fopen(path, "w");
  if (!fp) return 0;
  size_t H = lab->dims[0], W = lab->dims[1];
  long npts[32] = {0};
  for (size_t i = 0; i < H * W; i++)
    if (lab->i32[i] > 0 && lab->i32[i] <= n_classes) npts[lab->i32[i] - 1]++;
  fprintf(fp, "; ENVI Output of ROIs (4.8) [Wed Jan 30 10:00:00 2013]\n; Number of ROIs: %d\n; File Dimension: %zu x %zu\n;\n",
          n_classes, W, H);
  for (int k = 0; k < n_classes; k++)
    fprintf(fp, "; ROI name: class_%d\n; ROI rgb value: {%d, %d, 0}\n; ROI npts: %ld\n", k + 1, k * 10, 255 - k * 10, npts[k]);
  fprintf(fp, ";   ID     X     Y        Map X         Map Y          Lat          Lon           B1\n");
  for (int k = 0; k < n_classes; k++) {
    long id = 0;
    if (k) fputc('\n', fp);
    for (size_t i = 0; i < H * W; i++)
      if (lab->i32[i] == k + 1) {
        size_t y = i / W, x = i % W;
        fprintf(fp, "%6ld %5zu %5zu %12.4f %13.4f %12.7f %12.7f %12.4f\n", ++id, x + 1, y + 1, 268000.0 + 2.5 * (double)x,
                3290000.0 - 2.5 * (double)y, 29.7 - 1e-5 * (double)y, -95.4 + 1e-5 * (double)x, 0.001 * (double)(i % 977));
      }
  }
  return fclose(fp) == 0;
}

static void houston(const char *data, const char *src_dir) {
  char p[1024], raw[512], tr_txt[1024], va_txt[1024];
  struct dc_array tr, va;
  snprintf(p, sizeof p, "%s/houston2013/2013_IEEE_GRSS_DF_Contest_Samples_TR.tif", data);
  CHECK(dc_gdal_read(p, DC_ELEM_I32, &tr) == DC_OK, "TR raster: %s", dc_last_error());
  snprintf(p, sizeof p, "%s/houston2013/2013_IEEE_GRSS_DF_Contest_Samples_VA.tif", data);
  CHECK(dc_gdal_read(p, DC_ELEM_I32, &va) == DC_OK, "VA raster: %s", dc_last_error());
  if (!tr.i32 || !va.i32) return;
  tmp_path("raw_houston", 1, raw, sizeof raw);
  path_join(tr_txt, sizeof tr_txt, raw, "2013_IEEE_GRSS_DF_Contest_Samples_TR.txt");
  path_join(va_txt, sizeof va_txt, raw, "2013_IEEE_GRSS_DF_Contest_Samples_VA.txt");
  CHECK(write_roi_from_raster(tr_txt, &tr, 15) && write_roi_from_raster(va_txt, &va, 15), "ROI exports");
  size_t H = 349, W = 1905, hw = H * W, C = 2;
  /* synthetic cubes (the shared data has no Houston cube); the shipped manifest is used with
   * its HSI band count lowered to 2, to keep the test's files small */
  char manifest[1024], out[512];
  snprintf(p, sizeof p, "%s/data_manifests/houston2013.cfg", src_dir);
  char *text = read_text(p), *at = text ? strstr(text, "bands = 144;") : NULL;
  CHECK(at, "the shipped manifest's 'bands = 144;'");
  if (!at) return;
  memcpy(at, "bands =   2;", 12);
  tmp_path("houston2013.cfg", 0, manifest, sizeof manifest);
  CHECK(write_text(manifest, text), "manifest copy");
  free(text);
  float *cube = malloc(hw * C * sizeof *cube);
  for (size_t i = 0; cube && i < hw * C; i++) cube[i] = (float)(i % 1013) * 0.001f;
  path_join(p, sizeof p, raw, "2013_IEEE_GRSS_DF_Contest_CASI.tif");
  GDALDriverH drv = GDALGetDriverByName("GTiff");
  GDALDatasetH ds = drv && cube ? GDALCreate(drv, p, (int)W, (int)H, (int)C, GDT_Float32, NULL) : NULL;
  CHECK(ds, "CASI.tif");
  if (ds) {
    int ok = GDALDatasetRasterIO(ds, GF_Write, 0, 0, (int)W, (int)H, cube, (int)W, (int)H, GDT_Float32, (int)C, NULL,
                                 (GSpacing)(C * sizeof(float)), (GSpacing)(C * W * sizeof(float)), sizeof(float)) == CE_None;
    CHECK(ok, "CASI raster");
    GDALClose(ds);
  }
  path_join(p, sizeof p, raw, "2013_IEEE_GRSS_DF_Contest_LiDAR.tif");
  CHECK(cube && write_tif(p, cube, (int)H, (int)W), "LiDAR.tif");
  free(cube);
  tmp_path("houston.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, "--variant", "dfc2013_official", &log);
  CHECK(code == 0 && strstr(log, "ROI 15 'class_15'"), "dfc2013_official: exit %d\n%s", code, log);
  free(log);
  struct dc_scene s;
  if (code == 0 && dc_scene_read(out, &s, 1) == DC_OK) {
    long same = 0, ntr = 0, nts = 0;
    for (size_t i = 0; i < hw; i++) {
      same += s.train[i] == tr.i32[i] && s.test[i] == va.i32[i];
      ntr += s.train[i] != 0, nts += s.test[i] != 0;
    }
    CHECK(same == (long)hw && ntr == 2832 && nts == 12197, "scene labels = the rasters (%ld of %zu pixels; %ld / %ld)",
          same, hw, ntr, nts);
    dc_scene_free(&s);
  }
  /* an export whose first two ROIs come in the other order fails the published per-class
   * counts (roi_match = "order" puts ROI 1 into class 1) */
  for (size_t i = 0; i < hw; i++) tr.i32[i] = tr.i32[i] == 1 ? 2 : tr.i32[i] == 2 ? 1 : tr.i32[i];
  CHECK(write_roi_from_raster(tr_txt, &tr, 15), "reordered export");
  unlink(out);
  code = run_prepare(manifest, raw, out, "--variant", "dfc2013_official", &log);
  CHECK(code != 0 && strstr(log, "class 1 (Healthy grass) has 190 training pixels; expected 198") && !file_exists(out),
        "ROIs out of class order: exit %d\n%s", code, log);
  free(log);
  dc_array_free(&tr);
  dc_array_free(&va);
}

int main(void) {
  tmp_root();
  dc_prepare_readers_init();
  small_exports();
  const char *data = test_data();
  if (!data)
    printf("skipped: DIFFCLIP_TEST_DATA not set (the real Houston samples as an ROI export)\n");
  else
    houston(data, env_or("DIFFCLIP_SOURCE_DIR", "."));
  return test_done("prep_envi_roi");
}
