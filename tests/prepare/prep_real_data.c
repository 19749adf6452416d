/* The readers on the real files in the shared data folder (DIFFCLIP_TEST_DATA; see each
 * folder's SOURCE.txt): shapes, known pixels (read independently from the raw bytes),
 * label counts of the published splits, digests, and corrupt copies made here. */
#include "prep_util.h"

#include "diffclip/prepare/rawarray.h"
#include "diffclip/core/sha256.h"
#include "prepare/readers.h"

static const char *g_data;

static const char *data_path(const char *rel, char *buf, size_t len) {
  path_join(buf, len, g_data, rel);
  return buf;
}

static long count(const int32_t *v, size_t n, int32_t cls) {
  long c = 0;
  for (size_t i = 0; i < n; i++) c += cls ? v[i] == cls : v[i] != 0;
  return c;
}

static void check_counts(const char *what, const struct dc_array *a, long total, int n_classes, const long *per_class) {
  CHECK(count(a->i32, a->n, 0) == total, "%s: %ld labelled pixels, expected %ld", what, count(a->i32, a->n, 0), total);
  for (int k = 0; k < n_classes; k++)
    CHECK(count(a->i32, a->n, k + 1) == per_class[k], "%s: class %d has %ld, expected %ld", what, k + 1,
          count(a->i32, a->n, k + 1), per_class[k]);
}

static void trento(void) {
  char p[1024];
  struct dc_array lidar, two, tr, ts, gt;
  CHECK(dc_mat_read(data_path("trento/LiDAR.mat", p, sizeof p), "LiDAR", DC_ELEM_F32, &lidar) == DC_OK, "LiDAR.mat");
  CHECK(lidar.ndim == 2 && lidar.dims[0] == 166 && lidar.dims[1] == 600, "LiDAR is 166 x 600");
  /* MATLAB LiDAR(i+1, j+1) at row-major i * 600 + j (values read from the raw zlib stream) */
  CHECK(lidar.f32[0] == 11.782989501953125f, "LiDAR(1,1)");
  CHECK(lidar.f32[10 * 600 + 20] == 14.25927734375f, "LiDAR(11,21) = %g", lidar.f32[10 * 600 + 20]);
  CHECK(lidar.f32[100 * 600 + 500] == 1.134765625f, "LiDAR(101,501) = %g", lidar.f32[100 * 600 + 500]);
  CHECK(dc_mat_read(data_path("trento/Lidar_Trento_2band.mat", p, sizeof p), "lidar_trento", DC_ELEM_F32, &two) == DC_OK,
        "2-band (uncompressed v5)");
  CHECK(two.ndim == 3 && two.dims[0] == 166 && two.dims[1] == 600 && two.dims[2] == 2, "2-band is 166 x 600 x 2");
  CHECK(two.f32[(3 * 600 + 7) * 2 + 1] == 72.0f, "lidar_trento(4,8,2) = %g", two.f32[(3 * 600 + 7) * 2 + 1]);
  int same = 1;
  for (size_t i = 0; i < lidar.n; i++) same &= two.f32[i * 2] == lidar.f32[i];
  CHECK(same, "band 1 of the 2-band file equals LiDAR.mat");
  dc_array_free(&lidar);
  dc_array_free(&two);

  static const long tr_c[] = {129, 125, 105, 154, 184, 122}, ts_c[] = {3905, 2778, 374, 8969, 10317, 3052},
                    gt_c[] = {4034, 2903, 479, 9123, 10501, 3174};
  CHECK(dc_mat_read(data_path("trento/TRLabel.mat", p, sizeof p), "TRLabel", DC_ELEM_I32, &tr) == DC_OK, "TRLabel");
  CHECK(dc_mat_read(data_path("trento/TSLabel.mat", p, sizeof p), "TSLabel", DC_ELEM_I32, &ts) == DC_OK, "TSLabel");
  CHECK(dc_mat_read(data_path("trento/Trento_gt.mat", p, sizeof p), "Trento_gt", DC_ELEM_I32, &gt) == DC_OK, "Trento_gt");
  check_counts("Trento TRLabel", &tr, 819, 6, tr_c);
  check_counts("Trento TSLabel", &ts, 29395, 6, ts_c);
  check_counts("Trento_gt", &gt, 30214, 6, gt_c);
  CHECK(tr.i32[1 * 600 + 93] == 2, "first labelled training pixel (row 2, col 94) is class 2");
  int union_ok = 1;
  for (size_t i = 0; i < gt.n; i++) union_ok &= gt.i32[i] == (tr.i32[i] ? tr.i32[i] : ts.i32[i]) && !(tr.i32[i] && ts.i32[i]);
  CHECK(union_ok, "Trento_gt = TRLabel + TSLabel, disjoint");
  dc_array_free(&tr);
  dc_array_free(&ts);
  dc_array_free(&gt);
  CHECK(dc_mat_read(data_path("trento/Trento_TR_50_1.mat", p, sizeof p), "TRLabel", DC_ELEM_I32, &tr) == DC_OK, "TR_50");
  CHECK(tr.i32 && count(tr.i32, tr.n, 0) == 300, "50-per-class split: 300 training pixels");
  dc_array_free(&tr);
}

static void houston(void) {
  char p[1024];
  static const long tr_c[] = {198, 190, 192, 188, 186, 182, 196, 191, 193, 191, 181, 192, 184, 181, 187};
  static const long ts_c[] = {1053, 1064, 505, 1056, 1056, 143, 1072, 1053, 1059, 1036, 1054, 1041, 285, 247, 473};
  struct dc_array tr, ts, tif, vec;
  CHECK(dc_mat_read(data_path("houston2013/TRLabel.mat", p, sizeof p), "TRLabel", DC_ELEM_I32, &tr) == DC_OK, "TRLabel");
  CHECK(dc_mat_read(data_path("houston2013/TSLabel.mat", p, sizeof p), "TSLabel", DC_ELEM_I32, &ts) == DC_OK, "TSLabel");
  CHECK(tr.ndim == 2 && tr.dims[0] == 349 && tr.dims[1] == 1905, "Houston grid 349 x 1905");
  check_counts("Houston TRLabel", &tr, 2832, 15, tr_c);
  check_counts("Houston TSLabel", &ts, 12197, 15, ts_c);
  CHECK(tr.i32[6 * 1905 + 767] == 1, "first labelled training pixel (row 7, col 768) is class 1");
  /* MDL-RS's training label vector lists the labelled pixels in a row-major scan: an
   * orientation check that does not depend on our reader's own conventions */
  CHECK(dc_mat_read(data_path("houston2013/mdlrs_samples/TrLabel.mat", p, sizeof p), "TrLabel", DC_ELEM_I32, &vec) == DC_OK,
        "TrLabel vector");
  size_t k = 0;
  int order_ok = vec.n == 2832;
  for (size_t i = 0; order_ok && i < tr.n; i++)
    if (tr.i32[i]) order_ok = tr.i32[i] == vec.i32[k++];
  CHECK(order_ok, "TRLabel's labelled pixels in row-major order equal MDL-RS's TrLabel");
  dc_array_free(&vec);
  /* the DFC2013 GeoTIFF rasters are the same maps */
  CHECK(dc_gdal_read(data_path("houston2013/2013_IEEE_GRSS_DF_Contest_Samples_TR.tif", p, sizeof p), DC_ELEM_I32, &tif) == DC_OK,
        "TR GeoTIFF");
  CHECK(tif.n == tr.n && memcmp(tif.i32, tr.i32, tr.n * 4) == 0, "TR GeoTIFF equals TRLabel.mat");
  dc_array_free(&tif);
  CHECK(dc_gdal_read(data_path("houston2013/2013_IEEE_GRSS_DF_Contest_Samples_VA.tif", p, sizeof p), DC_ELEM_I32, &tif) == DC_OK,
        "VA GeoTIFF");
  CHECK(tif.n == ts.n && memcmp(tif.i32, ts.i32, ts.n * 4) == 0, "VA GeoTIFF equals TSLabel.mat");
  dc_array_free(&tif);
  dc_array_free(&tr);
  dc_array_free(&ts);
  struct dc_array hsi;
  CHECK(dc_mat_read(data_path("houston2013/mdlrs_samples/HSI_TrSet.mat", p, sizeof p), "HSI_TrSet", DC_ELEM_F32, &hsi) == DC_OK,
        "HSI_TrSet (float64)");
  CHECK(hsi.ndim == 2 && hsi.dims[0] == 2832 && hsi.dims[1] == 144, "HSI_TrSet is 2832 x 144");
  dc_array_free(&hsi);
}

static void muufl(void) {
  char p[1024];
  struct dc_array lidar, gt;
  CHECK(dc_npy_read(data_path("muufl/muufl_lidar_firstandlastreturn_325_220_2.npy", p, sizeof p), DC_ELEM_F32, &lidar) == DC_OK,
        "MUUFL LiDAR .npy");
  CHECK(lidar.ndim == 3 && lidar.dims[0] == 325 && lidar.dims[1] == 220 && lidar.dims[2] == 2, "325 x 220 x 2");
  CHECK(lidar.f32[0] == 15.782670021057129f, "(0,0,0)");
  CHECK(lidar.f32[(10 * 220 + 20) * 2 + 1] == 5.783152103424072f, "(10,20,1)");
  CHECK(lidar.f32[(200 * 220 + 100) * 2] == 16.8642520904541f, "(200,100,0)");
  dc_array_free(&lidar);
  static const long gt_c[] = {23246, 4270, 6882, 1826, 6687, 466, 2233, 6240, 1385, 183, 269};
  CHECK(dc_npy_read(data_path("muufl/muufl_new_gt.npy", p, sizeof p), DC_ELEM_I32, &gt) == DC_OK, "MUUFL gt (Fortran order)");
  CHECK(gt.ndim == 2 && gt.dims[0] == 325 && gt.dims[1] == 220, "gt 325 x 220");
  check_counts("MUUFL gt", &gt, 53687, 11, gt_c);
  CHECK(gt.i32[0] == 8 && gt.i32[10 * 220 + 20] == 0 && gt.i32[200 * 220 + 100] == 8, "gt pixels");
  dc_array_free(&gt);
}

static void digests(void) {
  static const char *const files[][2] = {
      {"trento/LiDAR.mat", "d99347532e7b18982c9537fd4de43574dd64f9b35ccab251459e7b483ddd43df"},
      {"trento/Lidar_Trento_2band.mat", "851219d14355816fe8dee536b776bf9cf0f74c2f0e5dcba95379c367b3178afe"},
      {"houston2013/TRLabel.mat", "b0ea556a4a05176f4aeccadf3aee51fee35f70365fdaa810aab85190a41aa7fc"},
      {"muufl/muufl_new_gt.npy", "ef35d20bb77281c8a45ca562cecb74b4a388cc57091de902ba6aa0b8aaf8963a"}};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[1024], hex[65];
    CHECK(dc_sha256_file(data_path(files[i][0], p, sizeof p), hex) == DC_OK && strcmp(hex, files[i][1]) == 0,
          "SHA-256 of %s", files[i][0]);
  }
}

/* Corrupt copies of the real files, made in the temporary folder. */
static void corrupt_copies(void) {
  char src[1024], dst[512];
  struct dc_array a;
  tmp_path("LiDAR.mat", 0, dst, sizeof dst);
  data_path("trento/LiDAR.mat", src, sizeof src);
  copy_file(src, dst, file_size(src) * 2 / 3);
  CHECK(dc_mat_read(dst, "LiDAR", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated LiDAR.mat refused");
  copy_file(src, dst, -1);
  corrupt_bytes(dst, file_size(src) / 2, 64);
  CHECK(dc_mat_read(dst, "LiDAR", DC_ELEM_F32, &a) == DC_ERR_IO, "corrupt zlib stream refused");
  data_path("trento/Lidar_Trento_2band.mat", src, sizeof src);
  copy_file(src, dst, file_size(src) - 1000);
  CHECK(dc_mat_read(dst, "lidar_trento", DC_ELEM_F32, &a) == DC_ERR_IO, "truncated uncompressed 2-band refused");
  tmp_path("gt.npy", 0, dst, sizeof dst);
  data_path("muufl/muufl_new_gt.npy", src, sizeof src);
  copy_file(src, dst, file_size(src) - 7);
  CHECK(dc_npy_read(dst, DC_ELEM_I32, &a) == DC_ERR_IO, "truncated .npy refused");
  tmp_path("TR.tif", 0, dst, sizeof dst);
  data_path("houston2013/2013_IEEE_GRSS_DF_Contest_Samples_TR.tif", src, sizeof src);
  copy_file(src, dst, file_size(src) / 3);
  CHECK(dc_gdal_read(dst, DC_ELEM_I32, &a) == DC_ERR_IO, "truncated GeoTIFF refused");
}

int main(void) {
  g_data = test_data();
  if (!g_data) {
    printf("skipped: DIFFCLIP_TEST_DATA not set\n");
    return 0;
  }
  dc_prepare_readers_init();
  trento();
  houston();
  muufl();
  digests();
  corrupt_copies();
  return test_done("prep_real_data");
}
