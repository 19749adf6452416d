/* diffclip-prepare end to end: a synthetic scene from .npy + .mat files in every reader
 * path, then the shipped Trento and MUUFL manifests on the real LiDAR and label files with
 * an HSI cube written here (the shared data has no HSI cube), and `diffclip prepare` (the
 * MPI command, on 2 ranks) running the serial program. */
#include "prep_util.h"

#include "diffclip/data/scene.h"
#include "diffclip/core/sha256.h"

enum { H = 12, W = 10, C = 5 };

static float hsi_value(size_t i, size_t j, size_t k) { return (float)(i * 1000 + j * 10 + k); }

static const char *synthetic_manifest =
    "manifest_version = 1;\n"
    "name = \"synthetic\";\n"
    "grid = { height = 12; width = 10; };\n"
    "modalities = ( { name = \"hsi\"; bands = 5; }, { name = \"lidar\"; bands = 2; } );\n"
    "labels = { unlabelled = 0; first_class = 1; };\n"
    "classes = ( { name = \"a\"; description = \"first class\"; },\n"
    "            { name = \"b\"; description = \"second class\"; },\n"
    "            { name = \"c\"; description = \"third class\"; } );\n"
    "published_split = { train_pixels = 3; test_pixels = 6; };\n"
    "variants = ( { name = \"main\"; official_split = true; files = (\n"
    "  { role = \"hsi\"; file = \"hsi.npy\"; },\n"
    "  { role = \"lidar\"; file = \"dsm.mat\"; variable = \"dsm\"; },\n"
    "  { role = \"lidar\"; file = \"intensity.tif\"; },\n"
    "  { role = \"train\"; file = \"labels.mat\"; variable = \"TR\"; },\n"
    "  { role = \"test\"; file = \"labels.mat\"; variable = \"TS\"; unlabelled = 255; } ); } );\n";

/* Writes the synthetic raw folder; returns the manifest path in buf. */
static void write_synthetic(const char *raw, char *manifest, size_t len) {
  char p[1024];
  float hsi[H * W * C], dsm[H * W], inten[H * W];
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++) {
      for (size_t k = 0; k < C; k++) hsi[(i * W + j) * C + k] = hsi_value(i, j, k);
      dsm[i * W + j] = (float)(i - j);
      inten[i * W + j] = (float)(i * j);
    }
  size_t dims[3] = {H, W, C};
  path_join(p, sizeof p, raw, "hsi.npy");
  CHECK(write_npy(p, 1, "<f4", 0, 3, dims, hsi, 4, 0), "hsi.npy");
  path_join(p, sizeof p, raw, "dsm.mat");
  CHECK(write_mat_cube(p, "dsm", dsm, H, W, 1, 1), "dsm.mat");
  path_join(p, sizeof p, raw, "intensity.tif");
  CHECK(write_tif(p, inten, H, W), "intensity.tif");
  int32_t tr[H * W] = {0}, ts[H * W];
  for (size_t i = 0; i < H * W; i++) ts[i] = 255;
  tr[0] = 1, tr[5] = 2, tr[17] = 3;
  ts[30] = 1, ts[31] = 1, ts[40] = 2, ts[41] = 2, ts[50] = 3, ts[119] = 3;
  uint8_t trc[H * W], tsc[H * W];
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++) {
      trc[i + H * j] = (uint8_t)tr[i * W + j];
      tsc[i + H * j] = (uint8_t)ts[i * W + j];
    }
  path_join(p, sizeof p, raw, "labels.mat");
  mat_t *mat = Mat_CreateVer(p, NULL, MAT_FT_MAT5);
  size_t d2[2] = {H, W};
  matvar_t *a = Mat_VarCreate("TR", MAT_C_UINT8, MAT_T_UINT8, 2, d2, trc, 0);
  matvar_t *b = Mat_VarCreate("TS", MAT_C_UINT8, MAT_T_UINT8, 2, d2, tsc, 0);
  CHECK(mat && Mat_VarWrite(mat, a, MAT_COMPRESSION_NONE) == 0 && Mat_VarWrite(mat, b, MAT_COMPRESSION_ZLIB) == 0,
        "labels.mat");
  Mat_VarFree(a);
  Mat_VarFree(b);
  Mat_Close(mat);
  tmp_path("synthetic.cfg", 0, manifest, len);
  write_text(manifest, synthetic_manifest);
}

static void check_synthetic_scene(const char *out, const char *raw) {
  struct dc_scene s;
  CHECK(dc_scene_read(out, &s, 1) == DC_OK, "read %s", out);
  CHECK(!strcmp(s.name, "synthetic") && s.height == H && s.width == W && s.n_modalities == 2 && s.n_classes == 3,
        "scene header");
  CHECK(s.bands[0] == C && s.bands[1] == 2 && !strcmp(s.modality_names[1], "lidar"), "bands and names");
  int cube_ok = 1;
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++) {
      for (size_t k = 0; k < C; k++) cube_ok &= s.cube[0][(i * W + j) * C + k] == hsi_value(i, j, k);
      cube_ok &= s.cube[1][(i * W + j) * 2] == (float)(i - j) && s.cube[1][(i * W + j) * 2 + 1] == (float)(i * j);
    }
  CHECK(cube_ok, "cubes in (H, W, C) order, LiDAR bands stacked in file order");
  CHECK(s.train[0] == 1 && s.train[5] == 2 && s.train[17] == 3 && s.test[30] == 1 && s.test[119] == 3 && s.test[0] == 0,
        "labels, unlabelled = 255 override for the test map");
  CHECK(!strcmp(s.class_names[1], "b") && !strcmp(s.class_descriptions[2], "third class"), "classes");
  CHECK(s.n_files == 4, "4 distinct source files (labels.mat once), got %d", s.n_files);
  char p[1024], hex[65], line[256];
  path_join(p, sizeof p, raw, "dsm.mat");
  dc_sha256_file(p, hex);
  snprintf(line, sizeof line, "%s  dsm.mat", hex);
  int found = 0;
  for (int i = 0; i < s.n_files; i++) found |= !strcmp(s.files[i], line);
  CHECK(found, "provenance line '%s'", line);
  CHECK(s.manifest && strstr(s.manifest, "name = \"synthetic\""), "manifest text stored");
  dc_sha256_hex(synthetic_manifest, strlen(synthetic_manifest), hex);
  CHECK(!strcmp(s.manifest_sha256, hex), "manifest digest");
  CHECK(strstr(s.source, raw) != NULL, "source names the raw folder: %s", s.source);
  CHECK(s.global_max[0] == hsi_value(H - 1, W - 1, C - 1), "statistics computed");
  dc_scene_free(&s);
}

static void synthetic(void) {
  char raw[512], manifest[512], out[512];
  tmp_path("raw_synth", 1, raw, sizeof raw);
  write_synthetic(raw, manifest, sizeof manifest);
  tmp_path("synthetic.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 0, "prepare synthetic: exit %d\n%s", code, log);
  free(log);
  if (code == 0) check_synthetic_scene(out, raw);
}

/* Classes dropped and merged in the manifest: b merged into a, c dropped; the published
 * counts are still checked on the classes as released. */
static void class_fates(void) {
  char raw[512], manifest[512], out[512];
  tmp_path("raw_synth", 1, raw, sizeof raw);
  write_synthetic(raw, manifest, sizeof manifest);
  char *text = read_text(manifest), edited[4096];
  CHECK(text != NULL, "read %s", manifest);
  if (!text) return;
  const char *b = "{ name = \"b\"; description = \"second class\"; }", *c = "{ name = \"c\"; description = \"third class\"; }";
  char *pb = strstr(text, b), *pc = strstr(text, c);
  CHECK(pb && pc && pb < pc, "the synthetic manifest lists classes b and c");
  if (!pb || !pc) return;
  snprintf(edited, sizeof edited, "%.*s{ name = \"b\"; description = \"second class\"; merge_into = \"a\"; }%.*s"
           "{ name = \"c\"; description = \"third class\"; drop = true; }%s",
           (int)(pb - text), text, (int)(pc - pb - strlen(b)), pb + strlen(b), pc + strlen(c));
  free(text);
  tmp_path("fates.cfg", 0, manifest, sizeof manifest);
  write_text(manifest, edited);
  tmp_path("fates.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 0, "prepare with merge_into and drop: exit %d\n%s", code, log);
  CHECK(log && strstr(log, "class 2 (b) merged into a") && strstr(log, "class 3 (c) dropped"), "the log says what "
        "became of b and c:\n%s", log);
  free(log);
  struct dc_scene sc;
  if (code != 0 || dc_scene_read(out, &sc, 0) != DC_OK) return;
  long per[4] = {0};
  for (int i = 0; i < H * W; i++) {
    if (sc.train[i] >= 0 && sc.train[i] < 4) per[sc.train[i]]++;
    if (sc.test[i] >= 0 && sc.test[i] < 4) per[sc.test[i]]++;
  }
  CHECK(sc.n_classes == 1 && strcmp(sc.class_names[0], "a") == 0, "one class left, a (got %d)", sc.n_classes);
  CHECK(per[1] == 6 && per[2] == 0 && per[3] == 0, "a holds a's and b's 6 pixels, c's are unlabelled (got %ld %ld %ld)",
        per[1], per[2], per[3]);
  dc_scene_free(&sc);
  /* a merge into a dropped class is refused with the manifest's line */
  char *bad = strstr(edited, "merge_into = \"a\"");
  if (bad) memcpy(bad, "merge_into = \"c\"", strlen("merge_into = \"c\""));
  write_text(manifest, edited);
  code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code != 0 && log && strstr(log, "merges into 'c', which is itself dropped"), "merge into a dropped class:\n%s",
        log ? log : "");
  free(log);
}

/* `diffclip prepare` under mpirun with 2 ranks runs the serial program once. */
static void mpi_command(void) {
  const char *bin = env_or("DIFFCLIP_BIN", NULL), *mpirun = env_or("DIFFCLIP_MPIEXEC", NULL);
  if (!bin || !mpirun || access(bin, X_OK) != 0) {
    printf("mpi command: skipped (DIFFCLIP_BIN / DIFFCLIP_MPIEXEC not set)\n");
    return;
  }
  char raw[512], manifest[512], out[512], log[512];
  tmp_path("raw_synth", 1, raw, sizeof raw);
  tmp_path("synthetic.cfg", 0, manifest, sizeof manifest);
  tmp_path("mpi.h5", 0, out, sizeof out);
  tmp_path("mpi.log", 0, log, sizeof log);
  char *argv[] = {(char *)mpirun, "--oversubscribe", "-np", "2", (char *)bin, "prepare", "--manifest", manifest, "--raw",
                  raw, "--out", out, NULL};
  int code = run_logged(argv, log);
  char *text = read_text(log);
  CHECK(code == 0 && file_exists(out), "mpirun -np 2 diffclip prepare: exit %d\n%s", code, text);
  CHECK(text && strstr(text, "wrote") && strstr(strstr(text, "wrote") + 1, "wrote") == NULL, "one rank ran it:\n%s", text);
  free(text);
  if (code == 0) check_synthetic_scene(out, raw);
  /* a refused input: every rank exits non-zero, nothing is written */
  tmp_path("mpi_bad.h5", 0, out, sizeof out);
  char *bad[] = {(char *)mpirun, "--oversubscribe", "-np", "2", (char *)bin, "prepare", "--manifest", manifest, "--raw",
                 "/nonexistent", "--out", out, NULL};
  code = run_logged(bad, log);
  CHECK(code != 0 && !file_exists(out), "refused input under mpirun: exit %d", code);
  /* usage errors keep their exit code (2) on one rank */
  char *usage[] = {(char *)bin, "prepare", "--bogus", NULL};
  code = run_logged(usage, log);
  CHECK(code == 2, "usage error: exit %d", code);
}

/* Trento with the shipped manifest: real LiDAR and labels, HSI written here. */
static void trento(const char *data, const char *src_dir) {
  char raw[512], p[1024], src[1024], manifest[1024], out[512];
  tmp_path("raw_trento", 1, raw, sizeof raw);
  static const char *const real[] = {"LiDAR.mat", "TRLabel.mat", "TSLabel.mat", "Lidar_Trento_2band.mat", "Trento_gt.mat"};
  for (int i = 0; i < 5; i++) {
    snprintf(src, sizeof src, "%s/trento/%s", data, real[i]);
    path_join(p, sizeof p, raw, real[i]);
    link_file(src, p);
  }
  size_t hh = 166, ww = 600, cc = 63;
  float *hsi = malloc(hh * ww * cc * sizeof *hsi);
  for (size_t i = 0; i < hh * ww * cc; i++) hsi[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
  path_join(p, sizeof p, raw, "HSI.mat");
  CHECK(write_mat_cube(p, "HSI", hsi, hh, ww, cc, 1), "HSI.mat");
  free(hsi);
  snprintf(manifest, sizeof manifest, "%s/data_manifests/trento.cfg", src_dir);
  static const char *const variants[] = {"published", "lidar_2band", "full_gt"};
  for (int v = 0; v < 3; v++) {
    tmp_path("trento.h5", 0, out, sizeof out);
    char *log;
    int code = run_prepare(manifest, raw, out, "--variant", variants[v], &log);
    CHECK(code == 0, "trento %s: exit %d\n%s", variants[v], code, log);
    free(log);
    struct dc_scene s;
    if (code != 0 || dc_scene_read(out, &s, 1) != DC_OK) continue;
    long ntr = 0, nts = 0;
    for (size_t i = 0; i < 166 * 600; i++) ntr += s.train[i] != 0, nts += s.test[i] != 0;
    CHECK(s.bands[0] == 63 && s.bands[1] == (v == 1 ? 2 : 1), "%s: bands", variants[v]);
    CHECK(s.cube[1][(10 * 600 + 20) * s.bands[1]] == 14.25927734375f, "%s: LiDAR(11,21)", variants[v]);
    if (v < 2)
      CHECK(ntr == 819 && nts == 29395, "%s: 819 / 29395 labelled, got %ld / %ld", variants[v], ntr, nts);
    else
      CHECK(ntr == 0 && nts == 30214, "full_gt: ground truth in /labels/test, got %ld / %ld", ntr, nts);
    CHECK(!strcmp(s.class_names[4], "Vineyard") && s.class_descriptions[4][0], "class names and descriptions");
    dc_scene_free(&s);
  }
}

/* MUUFL with the shipped manifest: DFANet's .npy variant (real LiDAR and ground truth). */
static void muufl(const char *data, const char *src_dir) {
  char raw[512], p[1024], src[1024], manifest[1024], out[512];
  tmp_path("raw_muufl", 1, raw, sizeof raw);
  static const char *const real[] = {"muufl_lidar_firstandlastreturn_325_220_2.npy", "muufl_new_gt.npy"};
  for (int i = 0; i < 2; i++) {
    snprintf(src, sizeof src, "%s/muufl/%s", data, real[i]);
    path_join(p, sizeof p, raw, real[i]);
    link_file(src, p);
  }
  size_t dims[3] = {325, 220, 64}, n = 325 * 220 * 64;
  uint16_t *hsi = malloc(n * sizeof *hsi);
  for (size_t i = 0; i < n; i++) hsi[i] = (uint16_t)(i % 4096);
  path_join(p, sizeof p, raw, "muufl_hsi_325_220_64.npy");
  CHECK(write_npy(p, 1, "<u2", 0, 3, dims, hsi, 2, 0), "hsi npy");
  free(hsi);
  snprintf(manifest, sizeof manifest, "%s/data_manifests/muufl.cfg", src_dir);
  tmp_path("muufl.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 0 && strstr(log, "dfanet"), "muufl (first complete variant: dfanet): exit %d\n%s", code, log);
  free(log);
  struct dc_scene s;
  if (code != 0 || dc_scene_read(out, &s, 1) != DC_OK) return;
  long nts = 0;
  for (size_t i = 0; i < 325 * 220; i++) nts += s.test[i] != 0;
  CHECK(nts == 53687 && s.test[0] == 8, "MUUFL ground truth: %ld labelled", nts);
  CHECK(s.cube[0][(5 * 220 + 6) * 64 + 7] == (float)(((5 * 220 + 6) * 64 + 7) % 4096), "uint16 HSI converted");
  CHECK(s.cube[1][(10 * 220 + 20) * 2 + 1] == 5.783152103424072f, "LiDAR pixel");
  dc_scene_free(&s);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-raw") == 0) { /* the raw folder alone, for other tests */
    char manifest[1024], p[1024];
    write_synthetic(argv[2], manifest, sizeof manifest);
    path_join(p, sizeof p, argv[2], "manifest.cfg");
    write_text(p, synthetic_manifest);
    printf("wrote the raw files and %s\n", p);
    return test_done("prep_prepare --write-raw");
  }
  synthetic();
  class_fates();
  mpi_command();
  const char *data = test_data();
  if (!data) {
    printf("skipped (real-data part): DIFFCLIP_TEST_DATA not set\n");
  } else {
    const char *src = env_or("DIFFCLIP_SOURCE_DIR", ".");
    trento(data, src);
    muufl(data, src);
  }
  return test_done("prep_prepare");
}
