/* The scene file: a hand-made scene written and read back field by field (with and without
 * cubes, and by row bands); the statistics against a sort-based reference; the atomic
 * write (no temporary file after success, nothing written on a refused scene or a missing
 * folder, an old file untouched when the rename fails); and the reader refusing files
 * corrupted with the HDF5 API (wrong format, version, shapes, label values, missing
 * objects, not HDF5 at all). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "diffclip/core/rng.h"
#include "diffclip/data/scene.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static char dir[64];

static char *dup_s(const char *s) {
  char *d = malloc(strlen(s) + 1);
  if (!d) abort();
  strcpy(d, s);
  return d;
}

/* 7 x 9 grid, modalities of 5 and 2 bands, 3 classes, random values and labels. */
static void make_scene(struct dc_scene *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "unit-scene");
  s->height = 7;
  s->width = 9;
  s->n_modalities = 2;
  s->n_classes = 3;
  s->bands[0] = 5;
  s->bands[1] = 2;
  snprintf(s->modality_names[0], sizeof s->modality_names[0], "hsi");
  snprintf(s->modality_names[1], sizeof s->modality_names[1], "lidar");
  if (dc_scene_alloc(s) != DC_OK) abort();
  size_t hw = (size_t)s->height * s->width;
  for (int m = 0; m < 2; m++)
    for (size_t i = 0; i < hw * s->bands[m]; i++) s->cube[m][i] = 100.0f * dc_rng_uniform(7, (uint64_t)m, i, 0) - 20.0f;
  for (size_t i = 0; i < hw; i++) {
    s->train[i] = (int32_t)dc_rng_below(7, 10, i, 0, 4);
    s->test[i] = s->train[i] ? 0 : (int32_t)dc_rng_below(7, 11, i, 0, 4);
  }
  const char *names[3] = {"Apple trees", "B\xc3\xa2timents", "Ground"};
  for (int k = 0; k < 3; k++) {
    s->class_names[k] = dup_s(names[k]);
    s->class_descriptions[k] = k == 2 ? NULL : dup_s("a description, with UTF-8: \xce\xbb = 550 nm");
  }
  s->manifest = dup_s("name = \"unit\";\nfiles = ( );\n");
  snprintf(s->manifest_sha256, sizeof s->manifest_sha256, "%064d", 42);
  snprintf(s->source, sizeof s->source, "synth:unit:7");
  s->n_files = 2;
  s->files = calloc(2, sizeof *s->files);
  s->files[0] = dup_s("abcd  raw/HSI.mat");
  s->files[1] = dup_s("ef01  raw/LiDAR.mat");
}

static int count_entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  if (d) closedir(d);
  return n;
}

static int same_doubles(const double *a, const double *b, int n) { return a && b && memcmp(a, b, n * sizeof *a) == 0; }

static int same_str(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void compare(const struct dc_scene *a, const struct dc_scene *b, int with_cubes) {
  size_t hw = (size_t)a->height * a->width;
  int ok = strcmp(a->name, b->name) == 0 && a->height == b->height && a->width == b->width &&
           a->n_modalities == b->n_modalities && a->n_classes == b->n_classes;
  expect(ok, "name, grid and counts round-trip");
  ok = 1;
  for (int m = 0; m < a->n_modalities; m++) {
    ok &= a->bands[m] == b->bands[m] && strcmp(a->modality_names[m], b->modality_names[m]) == 0;
    ok &= a->global_min[m] == b->global_min[m] && a->global_max[m] == b->global_max[m];
    ok &= same_doubles(a->stats[m].min, b->stats[m].min, a->bands[m]) && same_doubles(a->stats[m].max, b->stats[m].max, a->bands[m]);
    ok &= same_doubles(a->stats[m].mean, b->stats[m].mean, a->bands[m]) && same_doubles(a->stats[m].std, b->stats[m].std, a->bands[m]);
    ok &= same_doubles(a->stats[m].p02, b->stats[m].p02, a->bands[m]) && same_doubles(a->stats[m].p98, b->stats[m].p98, a->bands[m]);
    if (with_cubes)
      ok &= b->cube[m] && memcmp(a->cube[m], b->cube[m], hw * a->bands[m] * sizeof(float)) == 0;
    else
      ok &= b->cube[m] == NULL;
  }
  expect(ok, with_cubes ? "modalities, statistics and cubes round-trip" : "modalities and statistics round-trip, no cubes");
  expect(memcmp(a->train, b->train, hw * 4) == 0 && memcmp(a->test, b->test, hw * 4) == 0, "label rasters round-trip");
  ok = 1;
  for (int k = 0; k < a->n_classes; k++) {
    ok &= same_str(a->class_names[k], b->class_names[k]);
    ok &= same_str(a->class_descriptions[k] ? a->class_descriptions[k] : "", b->class_descriptions[k]);
  }
  expect(ok, "class names and descriptions round-trip (UTF-8, NULL description as \"\")");
  ok = same_str(a->manifest, b->manifest) && strcmp(a->manifest_sha256, b->manifest_sha256) == 0 &&
       strcmp(a->source, b->source) == 0 && a->n_files == b->n_files;
  for (int i = 0; ok && i < a->n_files; i++) ok &= same_str(a->files[i], b->files[i]);
  expect(ok, "provenance round-trips");
  expect(strcmp(b->program_version, DIFFCLIP_VERSION) == 0 && strlen(b->created_utc) == 20 && b->created_utc[19] == 'Z',
         "program version and creation time stamped");
}

static int cmp_float(const void *x, const void *y) {
  float a = *(const float *)x, b = *(const float *)y;
  return (a > b) - (a < b);
}

/* Statistics against sorting and two-pass sums. */
static void check_stats(const struct dc_scene *s) {
  size_t hw = (size_t)s->height * s->width;
  float *col = malloc(hw * sizeof *col);
  double worst = 0;
  int ok = 1;
  for (int m = 0; m < s->n_modalities; m++) {
    int C = s->bands[m];
    double gmin = INFINITY, gmax = -INFINITY;
    for (int b = 0; b < C; b++) {
      double sum = 0, ss = 0;
      for (size_t i = 0; i < hw; i++) sum += col[i] = s->cube[m][i * C + b];
      double mean = sum / hw;
      for (size_t i = 0; i < hw; i++) ss += (col[i] - mean) * (col[i] - mean);
      qsort(col, hw, sizeof *col, cmp_float);
      double q[2] = {0.02, 0.98}, got[2] = {s->stats[m].p02[b], s->stats[m].p98[b]};
      for (int j = 0; j < 2; j++) {
        double pos = q[j] * (hw - 1), fl = floor(pos);
        size_t i0 = (size_t)fl, i1 = i0 + 1 < hw ? i0 + 1 : i0;
        double want = col[i0] + (pos - fl) * ((double)col[i1] - col[i0]);
        worst = fmax(worst, fabs(got[j] - want));
      }
      ok &= s->stats[m].min[b] == col[0] && s->stats[m].max[b] == col[hw - 1];
      worst = fmax(worst, fabs(s->stats[m].mean[b] - mean));
      worst = fmax(worst, fabs(s->stats[m].std[b] - sqrt(ss / hw)));
      gmin = fmin(gmin, col[0]);
      gmax = fmax(gmax, col[hw - 1]);
    }
    ok &= s->global_min[m] == gmin && s->global_max[m] == gmax;
  }
  free(col);
  expect(ok, "band and global min / max equal the sorted values");
  expect(worst < 1e-9, "mean, std and NumPy-linear p02 / p98 match the reference");
}

/* Helpers that corrupt a written file with the HDF5 API. */
static hid_t open_rw(const char *p) { return H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT); }

static void set_attr_str(hid_t loc, const char *name, const char *value) {
  H5Adelete(loc, name);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, &value);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void set_attr_int(hid_t loc, const char *name, int value) {
  H5Adelete(loc, name);
  hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(loc, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT, &value);
  H5Aclose(a);
  H5Sclose(sp);
}

static void replace_dataset(hid_t f, const char *obj, hid_t type, int rank, const hsize_t *dims) {
  H5Ldelete(f, obj, H5P_DEFAULT);
  hid_t sp = H5Screate_simple(rank, dims, NULL), d = H5Dcreate2(f, obj, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Sclose(sp);
}

static void check_corrupt(const struct dc_scene *good, int which, const char *what) {
  char p[128];
  snprintf(p, sizeof p, "%s/corrupt%d.h5", dir, which);
  if (dc_scene_write(p, good) != DC_OK) {
    expect(0, "writing the file to corrupt");
    return;
  }
  hid_t f = open_rw(p);
  hsize_t d2[2] = {7, 9}, d3[3] = {7, 9, 2};
  switch (which) {
    case 0: set_attr_str(f, "format", "something-else"); break;
    case 1: set_attr_int(f, "format_version", 2); break;
    case 2:
    case 3: {
      /* a new cube with the old attributes: 2-D, or 3 bands where "bands" says 2 */
      d3[2] = 3;
      replace_dataset(f, "/modality_1/cube", H5T_NATIVE_FLOAT, which == 2 ? 2 : 3, which == 2 ? d2 : d3);
      hid_t d = H5Dopen2(f, "/modality_1/cube", H5P_DEFAULT);
      set_attr_str(d, "name", "lidar");
      set_attr_int(d, "bands", 2);
      H5Dclose(d);
      break;
    }
    case 4: d2[1] = 10; replace_dataset(f, "/labels/test", H5T_NATIVE_INT32, 2, d2); break;
    case 5: {
      hid_t d = H5Dopen2(f, "/labels/train", H5P_DEFAULT), sp = H5Dget_space(d);
      hsize_t start[2] = {3, 4}, one[2] = {1, 1};
      int v = 4; /* n_classes = 3 */
      hid_t ms = H5Screate_simple(2, one, NULL);
      H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, one, NULL);
      H5Dwrite(d, H5T_NATIVE_INT, ms, sp, H5P_DEFAULT, &v);
      H5Sclose(ms);
      H5Sclose(sp);
      H5Dclose(d);
      break;
    }
    case 6: H5Ldelete(f, "/classes/names", H5P_DEFAULT); break;
    case 7: set_attr_int(f, "n_modalities", 3); break;
    case 8: replace_dataset(f, "/modality_0/band_p98", H5T_NATIVE_DOUBLE, 1, d2); break;
  }
  H5Fclose(f);
  struct dc_scene s;
  enum dc_status st = dc_scene_read(p, &s, 1);
  struct dc_scene zero;
  memset(&zero, 0, sizeof zero);
  expect(st != DC_OK && memcmp(&s, &zero, sizeof s) == 0, what);
  remove(p);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/dc_test_scene_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  char path[128];
  snprintf(path, sizeof path, "%s/scene.h5", dir);

  struct dc_scene s, r;
  make_scene(&s);
  expect(dc_scene_compute_stats(&s) == DC_OK, "statistics computed");
  check_stats(&s);
  expect(dc_scene_write(path, &s) == DC_OK, "scene written");
  expect(count_entries() == 1, "only the scene is left in the folder (no temporary file)");
  expect(dc_scene_read(path, &r, 1) == DC_OK, "scene read with cubes");
  compare(&s, &r, 1);
  dc_scene_free(&r);
  expect(dc_scene_read(path, &r, 0) == DC_OK, "scene read without cubes");
  compare(&s, &r, 0);
  dc_scene_free(&r);

  float band[3 * 9 * 5];
  expect(dc_scene_read_rows(path, 0, 2, 3, band) == DC_OK && memcmp(band, s.cube[0] + 2 * 9 * 5, sizeof band) == 0,
         "rows 2..4 of modality 0 equal the cube's");
  expect(dc_scene_read_rows(path, 1, 5, 3, band) != DC_OK, "rows past the end refused");

  /* a scene without statistics gets them computed by the writer */
  struct dc_scene nostats = s;
  memset(nostats.stats, 0, sizeof nostats.stats);
  char path2[160];
  snprintf(path2, sizeof path2, "%s/nostats.h5", dir);
  expect(dc_scene_write(path2, &nostats) == DC_OK && dc_scene_read(path2, &r, 0) == DC_OK &&
             same_doubles(r.stats[0].p98, s.stats[0].p98, 5) && r.global_max[1] == s.global_max[1],
         "the writer computes missing statistics");
  dc_scene_free(&r);
  remove(path2);

  /* refused scenes: nothing is created, an existing file is left as it was */
  char missing[160];
  snprintf(missing, sizeof missing, "%s/no-such-folder/scene.h5", dir);
  expect(dc_scene_write(missing, &s) != DC_OK && count_entries() == 1, "a missing folder fails and leaves nothing");
  s.test[5] = 9;
  expect(dc_scene_write(path, &s) != DC_OK && count_entries() == 1, "a label out of range is refused before writing");
  s.test[5] = 0;
  float keep = s.cube[1][3];
  s.cube[1][3] = NAN;
  expect(dc_scene_write(path, &s) != DC_OK && count_entries() == 1, "a NaN pixel is refused before writing");
  s.cube[1][3] = keep;
  s.height = 0;
  expect(dc_scene_write(path, &s) != DC_OK && count_entries() == 1, "an empty grid is refused");
  s.height = 7;
  char *name2 = s.class_names[2];
  s.class_names[2] = NULL;
  expect(dc_scene_write(path, &s) != DC_OK && count_entries() == 1, "a missing class name is refused");
  s.class_names[2] = name2;
  expect(dc_scene_read(path, &r, 1) == DC_OK && r.test[5] == s.test[5], "the earlier file is intact");
  dc_scene_free(&r);

  /* a failure after the temporary file exists (the target is a folder): it is removed */
  char target[160];
  snprintf(target, sizeof target, "%s/target.h5", dir);
  mkdir(target, 0700);
  expect(dc_scene_write(target, &s) != DC_OK && count_entries() == 2, "a failed rename removes the temporary file");
  rmdir(target);

  static const char *const corrupt[] = {
      "wrong format attribute refused", "format version 2 refused", "a 2-D cube refused",
      "a cube with the wrong band count refused", "test labels of the wrong shape refused",
      "a label value above n_classes refused", "missing class names refused", "a missing modality group refused",
      "a statistics array of the wrong shape refused"};
  for (int i = 0; i < (int)(sizeof corrupt / sizeof *corrupt); i++) check_corrupt(&s, i, corrupt[i]);
  char junk[160];
  snprintf(junk, sizeof junk, "%s/junk.h5", dir);
  FILE *f = fopen(junk, "w");
  fputs("not an HDF5 file\n", f);
  fclose(f);
  expect(dc_scene_read(junk, &r, 0) != DC_OK, "a file that is not HDF5 refused");
  remove(junk);

  /* the optional georeference and wavelengths: absent above (has_geo 0, no CRS, no
   * wavelengths after reading a scene without them), kept when present */
  expect(dc_scene_read(path, &r, 0) == DC_OK && !r.has_geo && !r.crs_wkt && !r.wavelengths[0],
         "a scene without georeference reads with has_geo = 0, no CRS and no wavelengths");
  int rgb[3];
  expect(dc_scene_rgb_bands(&r, 0, rgb) == 0 && rgb[0] == 4 && rgb[1] == 2 && rgb[2] == 0,
         "without wavelengths the composite bands are spread: 5/6, 1/2, 1/6 of 5 bands = 4, 2, 0");
  expect(dc_scene_rgb_bands(&r, 1, rgb) == 0 && rgb[0] == 1 && rgb[1] == 1 && rgb[2] == 0, "2 bands: 1, 1, 0");
  expect(dc_scene_rgb_bands(&r, 2, rgb) == -1, "a modality the scene lacks: -1");
  {
    size_t n = (size_t)r.height * r.width;
    uint8_t *img = malloc(3 * n);
    expect(dc_scene_rgb_composite(&r, 0, img, rgb) == DC_ERR_ARG, "a composite needs the cube (metadata-only read refused)");
    dc_scene_free(&r);
    expect(dc_scene_read(path, &r, 1) == DC_OK && dc_scene_rgb_composite(&r, 0, img, rgb) == DC_OK && rgb[0] == 4,
           "composite of modality 0 from bands 4, 2, 0");
    int ok = 1;
    for (int k = 0; k < 3; k++) { /* the stretch keeps the order of the band's values, ends at 0 and 255 */
      size_t lo = 0, hi = 0;
      const float *c = r.cube[0] + rgb[k];
      for (size_t i = 0; i < n; i++) {
        if (c[i * 5] < c[lo * 5]) lo = i;
        if (c[i * 5] > c[hi * 5]) hi = i;
      }
      ok &= img[3 * lo + k] == 0 && img[3 * hi + k] == 255;
      for (size_t i = 0; i + 1 < n; i++)
        if (c[i * 5] < c[(i + 1) * 5]) ok &= img[3 * i + k] <= img[3 * (i + 1) + k];
    }
    expect(ok, "each channel stretched monotonically, its extremes at 0 and 255");
    free(img);
  }
  dc_scene_free(&r);
  struct dc_scene g = s;
  g.has_geo = 1;
  const double gt[6] = {271460.0, 2.5, 0, 3290891.0, 0, -2.5};
  memcpy(g.geotransform, gt, sizeof gt);
  g.crs_wkt = dup_s("PROJCS[\"WGS 84 / UTM zone 15N\",AUTHORITY[\"EPSG\",\"32615\"]]");
  double wl[5] = {0.46, 0.55, NAN, 0.64, 0.86};
  g.wavelengths[0] = wl;
  snprintf(g.wavelength_units[0], sizeof g.wavelength_units[0], "Micrometers");
  char gpath[160];
  snprintf(gpath, sizeof gpath, "%s/geo.h5", dir);
  expect(dc_scene_write(gpath, &g) == DC_OK && dc_scene_read(gpath, &r, 0) == DC_OK, "a georeferenced scene written and read");
  expect(r.has_geo && memcmp(r.geotransform, gt, sizeof gt) == 0 && same_str(r.crs_wkt, g.crs_wkt),
         "geotransform and CRS read back");
  expect(r.wavelengths[0] && r.wavelengths[0][0] == 0.46 && isnan(r.wavelengths[0][2]) && r.wavelengths[0][4] == 0.86 &&
             !r.wavelengths[1] && same_str(r.wavelength_units[0], "Micrometers"),
         "wavelengths (one unknown band) and their unit read back; the LiDAR has none");
  expect(dc_scene_rgb_bands(&r, 0, rgb) == 1 && rgb[0] == 3 && rgb[1] == 1 && rgb[2] == 0,
         "by wavelength in micrometres: 0.64, 0.55, 0.46 um are bands 3, 1, 0");
  dc_scene_free(&r);
  double nm[5] = {400, 470, 560, 650, 900};
  g.wavelengths[0] = nm;
  snprintf(g.wavelength_units[0], sizeof g.wavelength_units[0], "nm");
  int rgb_nm = dc_scene_rgb_bands(&g, 0, rgb);
  expect(rgb_nm == 1 && rgb[0] == 3 && rgb[1] == 2 && rgb[2] == 1, "by wavelength in nanometres: 650, 560, 470");
  g.wavelength_units[0][0] = '\0';
  expect(dc_scene_rgb_bands(&g, 0, rgb) == 1 && rgb[0] == 3, "no unit, values above 100: nanometres");
  g.geotransform[1] = 0, g.geotransform[2] = 0;
  expect(dc_scene_write(gpath, &g) != DC_OK, "a geotransform with a zero pixel size is refused");
  g.geotransform[1] = 2.5;
  nm[1] = -3;
  expect(dc_scene_write(gpath, &g) != DC_OK, "a negative wavelength is refused");
  free(g.crs_wkt);
  remove(gpath);

  dc_scene_free(&s);
  remove(path);
  rmdir(dir);
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
