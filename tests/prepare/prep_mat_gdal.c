/* The matio and GDAL readers on synthetic files: MATLAB v5 (plain and zlib-compressed) and
 * v7.3, every numeric class, struct and cell paths (the GatorSense MUUFL layout), GeoTIFF
 * and ENVI; orientation is checked on pixels whose value encodes their position; corrupt and
 * truncated copies are refused with a message. */
#include "prep_util.h"

#include <cpl_error.h>
#include <gdal.h>

#include "prepare/readers.h"

enum { H = 5, W = 7, C = 3 };

static float cube_value(size_t i, size_t j, size_t k) { return (float)(i * 100 + j * 10 + k) + 0.25f; }

static void fill_cube(float *hwc) {
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++)
      for (size_t k = 0; k < C; k++) hwc[(i * W + j) * C + k] = cube_value(i, j, k);
}

static void check_cube(const struct dc_array *a, const char *what) {
  CHECK(a->ndim == 3 && a->dims[0] == H && a->dims[1] == W && a->dims[2] == C, "%s: shape", what);
  if (a->ndim != 3) return;
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++)
      for (size_t k = 0; k < C; k++)
        CHECK(a->f32[(i * W + j) * C + k] == cube_value(i, j, k), "%s: (%zu,%zu,%zu) = %g", what, i, j, k,
              a->f32[(i * W + j) * C + k]);
}

static void mat_versions(void) {
  float hwc[H * W * C];
  fill_cube(hwc);
  float cm[H * W * C];
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++)
      for (size_t k = 0; k < C; k++) cm[i + H * (j + W * k)] = hwc[(i * W + j) * C + k];
  size_t dims[3] = {H, W, C};
  struct { enum mat_ft ver; int z; const char *name; } cases[] = {
      {MAT_FT_MAT5, 0, "v5.mat"}, {MAT_FT_MAT5, 1, "v5z.mat"}, {MAT_FT_MAT73, 0, "v73.mat"}, {MAT_FT_MAT73, 1, "v73z.mat"}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char path[512];
    tmp_path(cases[c].name, 0, path, sizeof path);
    CHECK(write_mat(path, cases[c].ver, cases[c].z, "HSI", MAT_C_SINGLE, MAT_T_SINGLE, 3, dims, cm), "write %s", path);
    struct dc_array a;
    CHECK(dc_mat_read(path, "HSI", DC_ELEM_F32, &a) == DC_OK, "read %s", path);
    check_cube(&a, cases[c].name);
    dc_array_free(&a);
  }
  /* double class */
  double cmd[H * W * C];
  for (size_t i = 0; i < H * W * C; i++) cmd[i] = cm[i];
  char path[512];
  tmp_path("double.mat", 0, path, sizeof path);
  write_mat(path, MAT_FT_MAT5, 1, "X", MAT_C_DOUBLE, MAT_T_DOUBLE, 3, dims, cmd);
  struct dc_array a;
  CHECK(dc_mat_read(path, "X", DC_ELEM_F32, &a) == DC_OK, "read double");
  check_cube(&a, "double");
  dc_array_free(&a);
}

/* Every integer class as labels, including the MATLAB orientation of a 2-D raster. */
static void mat_integer_classes(void) {
  struct { enum matio_classes cls; enum matio_types type; int size; } cls[] = {
      {MAT_C_INT8, MAT_T_INT8, 1},   {MAT_C_UINT8, MAT_T_UINT8, 1},   {MAT_C_INT16, MAT_T_INT16, 2},
      {MAT_C_UINT16, MAT_T_UINT16, 2}, {MAT_C_INT32, MAT_T_INT32, 4}, {MAT_C_UINT32, MAT_T_UINT32, 4},
      {MAT_C_INT64, MAT_T_INT64, 8}, {MAT_C_UINT64, MAT_T_UINT64, 8}, {MAT_C_SINGLE, MAT_T_SINGLE, 4},
      {MAT_C_DOUBLE, MAT_T_DOUBLE, 8}};
  char path[512];
  tmp_path("labels.mat", 0, path, sizeof path);
  for (size_t c = 0; c < sizeof cls / sizeof cls[0]; c++) {
    unsigned char buf[H * W * 8];
    for (size_t i = 0; i < H; i++)
      for (size_t j = 0; j < W; j++) {
        double v = (double)((i * W + j) % 16); /* label = row-major position mod 16 */
        unsigned char *p = buf + (i + H * j) * (size_t)cls[c].size;
        switch (cls[c].type) {
          case MAT_T_SINGLE: { float f = (float)v; memcpy(p, &f, 4); break; }
          case MAT_T_DOUBLE: memcpy(p, &v, 8); break;
          default: { int64_t x = (int64_t)v; memcpy(p, &x, (size_t)cls[c].size); } /* little endian */
        }
      }
    size_t dims[2] = {H, W};
    CHECK(write_mat(path, MAT_FT_MAT5, (int)(c % 2), "L", cls[c].cls, cls[c].type, 2, dims, buf), "write class %d", (int)cls[c].cls);
    struct dc_array a;
    CHECK(dc_mat_read(path, "L", DC_ELEM_I32, &a) == DC_OK, "read class %d", (int)cls[c].cls);
    if (a.i32)
      for (size_t p = 0; p < H * W; p++) CHECK(a.i32[p] == (int32_t)(p % 16), "class %d pixel %zu", (int)cls[c].cls, p);
    dc_array_free(&a);
  }
}

/* The GatorSense MUUFL layout: hsi.Data, hsi.Lidar{1}.z, hsi.sceneLabels.labels. */
static void mat_struct_paths(void) {
  float hwc[H * W * C], cm[H * W * C];
  fill_cube(hwc);
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++)
      for (size_t k = 0; k < C; k++) cm[i + H * (j + W * k)] = hwc[(i * W + j) * C + k];
  size_t d3[3] = {H, W, C}, d2[2] = {H, W}, one[2] = {1, 1};
  double lab[H * W];
  for (size_t p = 0; p < H * W; p++) lab[p] = p % 3 == 0 ? -1 : (double)(p % 11) + 1;
  const char *top_fields[] = {"Data", "Lidar", "sceneLabels"};
  const char *lidar_fields[] = {"x", "z"};
  const char *label_fields[] = {"labels"};
  matvar_t *top = Mat_VarCreateStruct("hsi", 2, one, top_fields, 3);
  matvar_t *lidar_cell = Mat_VarCreate("Lidar", MAT_C_CELL, MAT_T_CELL, 2, one, NULL, 0);
  matvar_t *lidar = Mat_VarCreateStruct(NULL, 2, one, lidar_fields, 2);
  Mat_VarSetStructFieldByName(lidar, "x", 0, Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, one, (double[]){1}, 0));
  Mat_VarSetStructFieldByName(lidar, "z", 0, Mat_VarCreate(NULL, MAT_C_SINGLE, MAT_T_SINGLE, 3, d3, cm, 0));
  Mat_VarSetCell(lidar_cell, 0, lidar);
  matvar_t *labels = Mat_VarCreateStruct(NULL, 2, one, label_fields, 1);
  Mat_VarSetStructFieldByName(labels, "labels", 0, Mat_VarCreate(NULL, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, d2, lab, 0));
  Mat_VarSetStructFieldByName(top, "Data", 0, Mat_VarCreate(NULL, MAT_C_SINGLE, MAT_T_SINGLE, 3, d3, cm, 0));
  Mat_VarSetStructFieldByName(top, "Lidar", 0, lidar_cell);
  Mat_VarSetStructFieldByName(top, "sceneLabels", 0, labels);
  char path[512];
  tmp_path("gatorsense.mat", 0, path, sizeof path);
  mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
  CHECK(mat && Mat_VarWrite(mat, top, MAT_COMPRESSION_ZLIB) == 0, "write struct");
  Mat_Close(mat);
  Mat_VarFree(top);
  struct dc_array a;
  CHECK(dc_mat_read(path, "hsi.Data", DC_ELEM_F32, &a) == DC_OK, "hsi.Data");
  check_cube(&a, "hsi.Data");
  dc_array_free(&a);
  CHECK(dc_mat_read(path, "hsi.Lidar{1}.z", DC_ELEM_F32, &a) == DC_OK, "hsi.Lidar{1}.z");
  check_cube(&a, "hsi.Lidar{1}.z");
  dc_array_free(&a);
  CHECK(dc_mat_read(path, "hsi.sceneLabels.labels", DC_ELEM_I32, &a) == DC_OK, "labels");
  if (a.i32) {
    /* MATLAB element (i, j) of the labels was lab[i + H j] */
    CHECK(a.i32[2 * W + 3] == (int32_t)lab[2 + H * 3], "label orientation");
    CHECK(a.i32[0] == -1, "unlabelled -1 kept by the reader");
  }
  dc_array_free(&a);
  /* wrong paths name what exists */
  CHECK(dc_mat_read(path, "hsi.Lidar{2}.z", DC_ELEM_F32, &a) == DC_ERR_IO, "cell index out of range");
  CHECK(dc_mat_read(path, "hsi.Lidr{1}.z", DC_ELEM_F32, &a) == DC_ERR_IO, "unknown field");
  CHECK(dc_mat_read(path, "hsi", DC_ELEM_F32, &a) == DC_ERR_IO, "a struct is not an array");
  CHECK(dc_mat_read(path, "hsi.Data.x", DC_ELEM_F32, &a) == DC_ERR_IO, "field of an array");
}

static void mat_errors(void) {
  float hwc[H * W * C];
  fill_cube(hwc);
  char path[512], bad[512];
  tmp_path("good.mat", 0, path, sizeof path);
  tmp_path("bad.mat", 0, bad, sizeof bad);
  write_mat_cube(path, "HSI", hwc, H, W, C, 1);
  struct dc_array a;
  CHECK(dc_mat_read(path, "hsi", DC_ELEM_F32, &a) == DC_ERR_IO, "variable names are case-sensitive");
  CHECK(dc_mat_read("/nonexistent.mat", "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "missing file");
  long n = file_size(path);
  copy_file(path, bad, n / 2);
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated compressed file");
  copy_file(path, bad, 100);
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated header");
  copy_file(path, bad, -1);
  corrupt_bytes(bad, 128 + 8 + 40, 24);
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "corrupt compressed data");
  write_text(bad, "this is not a MATLAB file at all, just text long enough to look like a header............"
                  "..................................................................................\n");
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "text file");
  /* uncompressed, truncated in the data */
  write_mat_cube(path, "HSI", hwc, H, W, C, 0);
  copy_file(path, bad, file_size(path) - 20);
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated uncompressed file");
  /* a char array is not numeric */
  size_t d[2] = {1, 5};
  write_mat(bad, MAT_FT_MAT5, 0, "S", MAT_C_CHAR, MAT_T_UINT8, 2, d, "hello");
  CHECK(dc_mat_read(bad, "S", DC_ELEM_F32, &a) == DC_ERR_IO, "char refused");
  /* v7.3 truncated */
  size_t d3[3] = {H, W, C};
  write_mat(path, MAT_FT_MAT73, 0, "HSI", MAT_C_SINGLE, MAT_T_SINGLE, 3, d3, hwc);
  copy_file(path, bad, file_size(path) - 40);
  CHECK(dc_mat_read(bad, "HSI", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated v7.3");
}

static void gdal_write(const char *driver, const char *path, GDALDataType type, int bands, const float *hwc, int nb) {
  GDALDriverH drv = GDALGetDriverByName(driver);
  GDALDatasetH ds = drv ? GDALCreate(drv, path, W, H, bands, type, NULL) : NULL;
  CHECK(ds != NULL, "GDALCreate %s", path);
  if (!ds) return;
  float band[H * W];
  for (int b = 0; b < bands; b++) {
    for (size_t p = 0; p < H * W; p++) band[p] = hwc[p * (size_t)nb + (size_t)b];
    CHECK(GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Write, 0, 0, W, H, band, W, H, GDT_Float32, 0, 0) == CE_None,
          "write band");
  }
  GDALClose(ds);
}

static void gdal_tests(void) {
  float hwc[H * W * C];
  fill_cube(hwc);
  char tif[512], envi[512], bad[512];
  tmp_path("cube.tif", 0, tif, sizeof tif);
  tmp_path("cube.img", 0, envi, sizeof envi);
  tmp_path("bad.tif", 0, bad, sizeof bad);
  gdal_write("GTiff", tif, GDT_Float32, C, hwc, C);
  gdal_write("ENVI", envi, GDT_Float32, C, hwc, C);
  struct dc_array a;
  CHECK(dc_gdal_read(tif, DC_ELEM_F32, &a) == DC_OK, "GeoTIFF");
  check_cube(&a, "GeoTIFF");
  dc_array_free(&a);
  CHECK(dc_gdal_read(envi, DC_ELEM_F32, &a) == DC_OK, "ENVI");
  check_cube(&a, "ENVI");
  dc_array_free(&a);
  /* an integer label raster */
  float lab[H * W];
  for (size_t p = 0; p < H * W; p++) lab[p] = (float)(p % 9);
  gdal_write("GTiff", tif, GDT_Byte, 1, lab, 1);
  CHECK(dc_gdal_read(tif, DC_ELEM_I32, &a) == DC_OK, "label TIFF");
  for (size_t p = 0; a.i32 && p < H * W; p++) CHECK(a.i32[p] == (int32_t)(p % 9), "label pixel %zu", p);
  dc_array_free(&a);
  /* non-integral values refused as labels */
  for (size_t p = 0; p < H * W; p++) lab[p] = 0.5f;
  gdal_write("GTiff", tif, GDT_Float32, 1, lab, 1);
  CHECK(dc_gdal_read(tif, DC_ELEM_I32, &a) == DC_ERR_IO, "fractional labels refused");
  /* truncated and not-a-raster */
  gdal_write("GTiff", tif, GDT_Float32, C, hwc, C);
  copy_file(tif, bad, file_size(tif) / 2);
  CHECK(dc_gdal_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "truncated GeoTIFF");
  write_text(bad, "not a raster\n");
  CHECK(dc_gdal_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "text refused");
  CHECK(dc_gdal_read("/nonexistent.tif", DC_ELEM_F32, &a) == DC_ERR_IO, "missing");
}

int main(void) {
  dc_prepare_readers_init();
  mat_versions();
  mat_integer_classes();
  mat_struct_paths();
  mat_errors();
  gdal_tests();
  return test_done("prep_mat_gdal");
}
