/* Bad input is refused before anything is written, with one message naming the file, the
 * key and what was expected: missing file, wrong variable, wrong shape, wrong band count,
 * truncated and corrupt files, NaN/Inf pixels (and the fill policy), labels out of range,
 * split counts, overlapping splits, digests. The LiDAR and label files are copies of the
 * real Trento files (DIFFCLIP_TEST_DATA) made in a temporary folder; without the shared
 * data, synthetic files of the same names, shapes and counts stand in. */
#include "prep_util.h"

#include <sys/stat.h>

#include "diffclip/data/scene.h"

enum { H = 166, W = 600 };

static const char *g_data;
static char g_base[512]; /* the pristine raw folder every case copies */
static int g_case;

static void make_base(void) {
  tmp_path("base", 1, g_base, sizeof g_base);
  char p[1024], src[1024];
  float *hsi = malloc((size_t)H * W * 2 * sizeof *hsi);
  for (size_t i = 0; i < (size_t)H * W * 2; i++) hsi[i] = (float)(i % 977);
  path_join(p, sizeof p, g_base, "HSI.mat");
  CHECK(write_mat_cube(p, "HSI", hsi, H, W, 2, 1), "HSI.mat");
  free(hsi);
  static const char *const names[] = {"LiDAR.mat", "TRLabel.mat", "TSLabel.mat"};
  if (g_data) {
    for (int i = 0; i < 3; i++) {
      snprintf(src, sizeof src, "%s/trento/%s", g_data, names[i]);
      path_join(p, sizeof p, g_base, names[i]);
      CHECK(copy_file(src, p, -1), "copy %s", src);
    }
    return;
  }
  /* stand-ins: a LiDAR surface and label maps with the published counts */
  float *lidar = malloc((size_t)H * W * sizeof *lidar);
  int32_t *tr = calloc((size_t)H * W, sizeof *tr), *ts = calloc((size_t)H * W, sizeof *ts);
  for (size_t i = 0; i < (size_t)H * W; i++) {
    lidar[i] = (float)(i % 600) * 0.01f;
    if (i < 819) tr[i] = (int32_t)(i % 6) + 1;
    else if (i < 819 + 29395) ts[i] = (int32_t)(i % 6) + 1;
  }
  path_join(p, sizeof p, g_base, "LiDAR.mat");
  write_mat_cube(p, "LiDAR", lidar, H, W, 1, 1);
  path_join(p, sizeof p, g_base, "TRLabel.mat");
  write_mat_labels(p, "TRLabel", tr, H, W);
  path_join(p, sizeof p, g_base, "TSLabel.mat");
  write_mat_labels(p, "TSLabel", ts, H, W);
  free(lidar);
  free(tr);
  free(ts);
}

/* A fresh raw folder for one case: links to the pristine files (a case replaces the ones
 * it damages with real files of its own). */
static void new_case(char *raw, size_t len) {
  char name[64], p[1024], src[1024];
  snprintf(name, sizeof name, "case%02d", ++g_case);
  tmp_path(name, 1, raw, len);
  static const char *const names[] = {"HSI.mat", "LiDAR.mat", "TRLabel.mat", "TSLabel.mat"};
  for (int i = 0; i < 4; i++) {
    path_join(src, sizeof src, g_base, names[i]);
    path_join(p, sizeof p, raw, names[i]);
    link_file(src, p);
  }
}

static void replace_with_copy(const char *raw, const char *name, long limit) {
  char src[1024], dst[1024];
  path_join(src, sizeof src, g_base, name);
  path_join(dst, sizeof dst, raw, name);
  remove(dst);
  copy_file(src, dst, limit);
}

static void write_manifest(char *path, size_t len, const char *lidar_var, const char *extra_lidar, int train_pixels) {
  char name[64];
  snprintf(name, sizeof name, "case%02d.cfg", g_case);
  tmp_path(name, 0, path, len);
  char text[4096];
  snprintf(text, sizeof text,
           "manifest_version = 1;\nname = \"trento_test\";\n"
           "grid = { height = 166; width = 600; };\n"
           "modalities = ( { name = \"hsi\"; bands = 2; }, { name = \"lidar\"; bands = 1; } );\n"
           "classes = ( { name = \"Apple trees\"; description = \"d\"; }, { name = \"Buildings\"; description = \"d\"; },\n"
           "  { name = \"Ground\"; description = \"d\"; }, { name = \"Woods\"; description = \"d\"; },\n"
           "  { name = \"Vineyard\"; description = \"d\"; }, { name = \"Roads\"; description = \"d\"; } );\n"
           "published_split = { train_pixels = %d; test_pixels = 29395; };\n"
           "variants = ( { name = \"v\"; official_split = true; files = (\n"
           "  { role = \"hsi\"; file = \"HSI.mat\"; variable = \"HSI\"; },\n"
           "  { role = \"lidar\"; file = \"LiDAR.mat\"; variable = \"%s\"; %s },\n"
           "  { role = \"train\"; file = \"TRLabel.mat\"; variable = \"TRLabel\"; },\n"
           "  { role = \"test\"; file = \"TSLabel.mat\"; variable = \"TSLabel\"; } ); } );\n",
           train_pixels, lidar_var, extra_lidar);
  write_text(path, text);
}

/* Runs prepare and checks: exit 1, no output, no temporary file, every needle in the log. */
static void expect_refused(const char *what, const char *manifest, const char *raw, const char *opt, const char *val,
                           const char *const *needles) {
  char out_dir[512], out[1024];
  char name[64];
  snprintf(name, sizeof name, "out%02d", g_case);
  tmp_path(name, 1, out_dir, sizeof out_dir);
  path_join(out, sizeof out, out_dir, "scene.h5");
  char *log;
  int code = run_prepare(manifest, raw, out, opt, val, &log);
  CHECK(code == 1, "%s: exit %d, expected 1\n%s", what, code, log);
  CHECK(!file_exists(out), "%s: output written", what);
  char probe[1300];
  snprintf(probe, sizeof probe, "ls %s | grep -q tmp", out_dir);
  int leftovers = system(probe) == 0;
  CHECK(!leftovers, "%s: a temporary file was left in %s", what, out_dir);
  for (const char *const *n = needles; *n; n++) CHECK(strstr(log, *n) != NULL, "%s: message lacks '%s':\n%s", what, *n, log);
  int error_lines = 0;
  for (const char *p = log; (p = strstr(p, "error: ")) != NULL; p++) error_lines++;
  CHECK(error_lines == 1, "%s: %d error lines, expected one:\n%s", what, error_lines, log);
  const char *e = strstr(log, "error: ");
  printf("refused as expected: %s\n  %.*s\n", what, e ? (int)strcspn(e, "\n") : 0, e ? e : "");
  free(log);
}

static void baseline(void) {
  char raw[512], manifest[1024], out[1024];
  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 819);
  tmp_path("baseline.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 0 && file_exists(out), "baseline: exit %d\n%s", code, log);
  free(log);
}

int main(void) {
  g_data = test_data();
  if (!g_data) printf("DIFFCLIP_TEST_DATA not set: synthetic stand-ins replace the real Trento files\n");
  make_base();
  baseline();
  char raw[512], manifest[1024], p[1024];

  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 819);
  path_join(p, sizeof p, raw, "LiDAR.mat");
  remove(p);
  expect_refused("missing file", manifest, raw, NULL, NULL,
                 (const char *[]){"1 of the", "are missing: LiDAR.mat", "lidar", "LiDAR", NULL});

  /* a partial download: every missing file counted, the first ones named; a folder where
   * a file is expected is called one */
  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 819);
  path_join(p, sizeof p, raw, "LiDAR.mat");
  remove(p);
  mkdir(p, 0755);
  path_join(p, sizeof p, raw, "TSLabel.mat");
  remove(p);
  expect_refused("partial download", manifest, raw, NULL, NULL,
                 (const char *[]){"2 of the", "LiDAR.mat (a folder, not a file)", "TSLabel.mat", NULL});

  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "Lidar", "", 819);
  expect_refused("wrong variable name", manifest, raw, NULL, NULL,
                 (const char *[]){"LiDAR.mat", "no variable 'Lidar'", "the file has: LiDAR", NULL});

  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 819);
  float *hsi = calloc((size_t)H * W * 3, sizeof *hsi);
  path_join(p, sizeof p, raw, "HSI.mat");
  remove(p);
  write_mat_cube(p, "HSI", hsi, H, W - 1, 2, 1);
  expect_refused("wrong shape", manifest, raw, NULL, NULL,
                 (const char *[]){"HSI.mat", "variable 'HSI'", "shape 166 x 599 x 2", "expected 166 x 600", NULL});

  new_case(raw, sizeof raw);
  path_join(p, sizeof p, raw, "HSI.mat");
  remove(p);
  write_mat_cube(p, "HSI", hsi, H, W, 3, 1);
  expect_refused("wrong band count", manifest, raw, NULL, NULL,
                 (const char *[]){"HSI.mat", "variable 'HSI'", "3 bands; expected 2", "hsi", NULL});

  new_case(raw, sizeof raw);
  path_join(p, sizeof p, g_base, "LiDAR.mat");
  replace_with_copy(raw, "LiDAR.mat", file_size(p) * 2 / 3);
  expect_refused("truncated file", manifest, raw, NULL, NULL, (const char *[]){"LiDAR.mat", "truncated", NULL});

  new_case(raw, sizeof raw);
  replace_with_copy(raw, "LiDAR.mat", -1);
  path_join(p, sizeof p, raw, "LiDAR.mat");
  corrupt_bytes(p, file_size(p) / 2, 64);
  expect_refused("corrupt file", manifest, raw, NULL, NULL,
                 (const char *[]){"LiDAR.mat", "variable 'LiDAR'", "cannot be decoded", NULL});

  /* NaN and Inf pixels: refused by default, filled with the band median on request */
  for (size_t i = 0; i < (size_t)H * W * 2; i++) hsi[i] = (float)(i % 2 ? 5 : 1);
  hsi[(5 * W + 7) * 2 + 1] = NAN;
  hsi[(9 * W + 9) * 2 + 1] = INFINITY;
  new_case(raw, sizeof raw);
  path_join(p, sizeof p, raw, "HSI.mat");
  remove(p);
  write_mat_cube(p, "HSI", hsi, H, W, 2, 1);
  expect_refused("NaN/Inf pixels", manifest, raw, NULL, NULL,
                 (const char *[]){"HSI.mat", "variable 'HSI'", "band 2 has 2 NaN/Inf pixels", "row 5, col 7",
                                  "expected finite values", NULL});
  char out[1024];
  tmp_path("filled.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, "--nan-policy", "fill", &log);
  CHECK(code == 0 && strstr(log, "filled with the band median 5"), "--nan-policy fill: exit %d\n%s", code, log);
  free(log);
  struct dc_scene s;
  if (code == 0 && dc_scene_read(out, &s, 1) == DC_OK) {
    CHECK(s.cube[0][(5 * W + 7) * 2 + 1] == 5.0f && s.cube[0][(9 * W + 9) * 2 + 1] == 5.0f, "filled with the median");
    dc_scene_free(&s);
  }
  free(hsi);

  /* labels out of range: a copy of the training map with one pixel set to 9 (6 classes) */
  new_case(raw, sizeof raw);
  {
    char src[1024];
    path_join(src, sizeof src, g_base, "TRLabel.mat");
    mat_t *mat = Mat_Open(src, MAT_ACC_RDONLY);
    matvar_t *v = mat ? Mat_VarRead(mat, "TRLabel") : NULL;
    CHECK(v && v->class_type == MAT_C_UINT8, "read TRLabel to modify it");
    if (v) {
      ((uint8_t *)v->data)[3 + H * 4] = 9; /* MATLAB (4, 5) = row 3, col 4 */
      path_join(p, sizeof p, raw, "TRLabel.mat");
      remove(p);
      mat_t *o = Mat_CreateVer(p, NULL, MAT_FT_MAT5);
      Mat_VarWrite(o, v, MAT_COMPRESSION_ZLIB);
      Mat_Close(o);
      Mat_VarFree(v);
    }
    if (mat) Mat_Close(mat);
  }
  expect_refused("labels out of range", manifest, raw, NULL, NULL,
                 (const char *[]){"TRLabel.mat", "variable 'TRLabel'", "label 9 at (row 3, col 4)",
                                  "expected 0 (unlabelled) or 1..6", NULL});

  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 818);
  expect_refused("published split counts", manifest, raw, NULL, NULL,
                 (const char *[]){"TRLabel.mat", "819 training pixels; expected 818", NULL});

  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR", "", 819);
  path_join(p, sizeof p, raw, "TSLabel.mat");
  remove(p);
  path_join(p, sizeof p, g_base, "TRLabel.mat");
  {
    char dst[1024];
    path_join(dst, sizeof dst, raw, "TSLabel.mat");
    mat_t *mat = Mat_Open(p, MAT_ACC_RDONLY);
    matvar_t *v = Mat_VarRead(mat, "TRLabel");
    Mat_Close(mat);
    free(v->name);
    v->name = strdup("TSLabel");
    mat_t *o = Mat_CreateVer(dst, NULL, MAT_FT_MAT5);
    Mat_VarWrite(o, v, MAT_COMPRESSION_ZLIB);
    Mat_Close(o);
    Mat_VarFree(v);
  }
  expect_refused("overlapping splits", manifest, raw, NULL, NULL,
                 (const char *[]){"TSLabel.mat", "labelled in both", "TRLabel.mat", "expected disjoint", NULL});

  /* a digest mismatch: refused, or a warning when the manifest marks it advisory */
  new_case(raw, sizeof raw);
  write_manifest(manifest, sizeof manifest, "LiDAR",
                 "sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\";", 819);
  expect_refused("SHA-256 mismatch", manifest, raw, NULL, NULL,
                 (const char *[]){"LiDAR.mat", "SHA-256 is", "expected 0000000000000000", NULL});
  write_manifest(manifest, sizeof manifest, "LiDAR",
                 "sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"; sha256_advisory = true;",
                 819);
  tmp_path("advisory.h5", 0, out, sizeof out);
  code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 0 && strstr(log, "warning:") && strstr(log, "advisory"), "advisory digest: exit %d\n%s", code, log);
  free(log);

  /* the shipped manifest knows the real LiDAR.mat's digest: a truncated copy is refused
   * before it is even parsed */
  new_case(raw, sizeof raw);
  path_join(p, sizeof p, g_base, "LiDAR.mat");
  replace_with_copy(raw, "LiDAR.mat", file_size(p) / 3);
  char shipped[1024];
  snprintf(shipped, sizeof shipped, "%s/data_manifests/trento.cfg", env_or("DIFFCLIP_SOURCE_DIR", "."));
  expect_refused("shipped manifest, damaged LiDAR.mat", shipped, raw, NULL, NULL,
                 (const char *[]){"LiDAR.mat", "SHA-256 is", "expected d99347532e7b", NULL});

  /* an output folder that does not exist is refused before any reading */
  tmp_path("never.h5", 0, out, sizeof out);
  code = run_prepare(manifest, raw, "/nonexistent-folder/scene.h5", NULL, NULL, &log);
  CHECK(code == 1 && strstr(log, "/nonexistent-folder") && strstr(log, "expected an existing, writable folder"),
        "missing output folder: exit %d\n%s", code, log);
  free(log);
  return test_done("prep_bad_input");
}
