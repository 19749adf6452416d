/* The MRNet exam store in the MPI program (diffclip/exams.h): area pooling against a naive
 * fine-grid reference, min-max normalisation, the reader on a synthetic store written here
 * with HDF5, partial reads, and the task split (shots from train, test = valid).
 *
 * `test_exams --write PATH` only writes the synthetic store (for the end-to-end tests):
 * 40 train + 12 valid exams, 3 planes of 8 slices x 16 x 16, tasks abnormal / ACL /
 * meniscus. An abnormal exam has a bright 6 x 6 square in the middle of every plane, an ACL
 * tear a bright 4 x 4 square in the sagittal plane's corner; the meniscus label is the
 * exam number's parity. Background: uniform noise 0..100 from a fixed LCG. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/data/exams.h"

#define N_TRAIN 40
#define N_VALID 12
#define N_EXAMS (N_TRAIN + N_VALID)
#define S 8
#define H 16
#define W 16

static int failures;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
    }                                                      \
  } while (0)

/* The naive reference: every input pixel cut into w x w sub-cells, so the fine grid
 * (H w, W w) is tiled both by input pixels (w x w each) and by output cells (H x W each);
 * an output token is the mean of its fine cells. */
static void pool_naive(float *out, const float *vol, int s_, int h_, int w_, int w) {
  for (int s = 0; s < s_; s++)
    for (int i = 0; i < w; i++)
      for (int j = 0; j < w; j++) {
        double acc = 0;
        for (int fr = i * h_; fr < (i + 1) * h_; fr++)
          for (int fc = j * w_; fc < (j + 1) * w_; fc++) acc += vol[((size_t)s * h_ + fr / w) * w_ + fc / w];
        out[(size_t)(i * w + j) * s_ + s] = (float)(acc / ((double)h_ * w_));
      }
}

static void test_pool(void) {
  const int shapes[][4] = {{1, 16, 16, 5}, {3, 16, 16, 11}, {2, 128, 128, 11}, {2, 7, 9, 3}, {2, 16, 16, 16}, {1, 5, 5, 1}};
  unsigned st = 12345u;
  for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
    int s_ = shapes[c][0], h_ = shapes[c][1], w_ = shapes[c][2], w = shapes[c][3];
    float *vol = malloc((size_t)s_ * h_ * w_ * sizeof *vol), *a = malloc((size_t)w * w * s_ * sizeof *a);
    float *b = malloc((size_t)w * w * s_ * sizeof *b);
    for (int i = 0; i < s_ * h_ * w_; i++) st = st * 1664525u + 1013904223u, vol[i] = (float)(st >> 8) / 65536.0f;
    dc_exam_pool(a, vol, s_, h_, w_, w);
    pool_naive(b, vol, s_, h_, w_, w);
    double worst = 0;
    for (int i = 0; i < w * w * s_; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i])));
    CHECK(worst < 1e-5, "pool %dx%dx%d -> %d: worst relative difference %g", s_, h_, w_, w, worst);
    if (w == h_ && w == w_) /* identity: token (i, j) band s is vol[s][i][j] */
      CHECK(a[(3 * w + 5) * s_ + 1] == vol[(1 * h_ + 3) * w_ + 5], "identity pooling moved a value");
    free(vol), free(a), free(b);
  }
  /* a constant volume pools to the constant */
  float vol[2 * 10 * 10], out[3 * 3 * 2];
  for (int i = 0; i < 200; i++) vol[i] = 7.25f;
  dc_exam_pool(out, vol, 2, 10, 10, 3);
  for (int i = 0; i < 18; i++) CHECK(fabsf(out[i] - 7.25f) < 1e-5f, "constant pooled to %g", out[i]);
}

static void test_minmax(void) {
  float x[4] = {2, 4, 6, 10};
  dc_exams_minmax(x, 4, 2, 10);
  CHECK(x[0] == 0 && x[1] == 0.25f && x[2] == 0.5f && x[3] == 1, "minmax: %g %g %g %g", x[0], x[1], x[2], x[3]);
  float c[2] = {3, 3};
  dc_exams_minmax(c, 2, 3, 3);
  CHECK(c[0] == 0 && c[1] == 0, "constant minmax gives %g %g", c[0], c[1]);
}

static int label_of(int exam, int task) {
  if (task == 0) return exam % 2 == 0;
  if (task == 1) return exam % 3 == 0;
  return (exam / 2) % 2;
}

/* The volume of exam x, plane p (S, H, W) into v. */
static void make_volume(float *v, int x, int p) {
  unsigned st = 1000u * (unsigned)x + 17u * (unsigned)p + 1u;
  for (int i = 0; i < S * H * W; i++) st = st * 1664525u + 1013904223u, v[i] = (float)((st >> 8) % 101u);
  for (int s = 0; s < S; s++)
    for (int r = 0; r < H; r++)
      for (int c = 0; c < W; c++) {
        float *px = &v[((size_t)s * H + r) * W + c];
        if (label_of(x, 0) && r >= 5 && r < 11 && c >= 5 && c < 11) *px += 120;
        if (p == 0 && label_of(x, 1) && r < 4 && c < 4) *px += 120;
      }
}

static hid_t vstr(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

static int put_strings(hid_t f, const char *name, int n, const char *const *v) {
  hsize_t d[1] = {(hsize_t)n};
  hid_t t = vstr(), sp = H5Screate_simple(1, d, NULL);
  hid_t ds = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = ds >= 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 ? 0 : -1;
  H5Dclose(ds), H5Sclose(sp), H5Tclose(t);
  return rc;
}

static int put_ints(hid_t f, const char *name, int rank, const hsize_t *d, const int *v) {
  hid_t sp = H5Screate_simple(rank, d, NULL);
  hid_t ds = H5Dcreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 ? 0 : -1;
  H5Dclose(ds), H5Sclose(sp);
  return rc;
}

static int put_attr(hid_t f, const char *name, const char *str, int v) {
  hid_t t = str ? vstr() : H5Tcopy(H5T_STD_I32LE), sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a >= 0 && (str ? H5Awrite(a, t, &str) : H5Awrite(a, H5T_NATIVE_INT, &v)) >= 0 ? 0 : -1;
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
  return rc;
}

/* The synthetic store, in the layout of docs/formats.md "MRNet exams". */
static int write_store(const char *path) {
  static const char *const planes[] = {"sagittal", "coronal", "axial"}, *const splits[] = {"train", "valid"};
  static const char *const tasks[] = {"abnormal", "ACL tear", "meniscal tear"};
  static const char *const descs[] = {"abnormal knee", "torn ACL", "torn meniscus"};
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return -1;
  int rc = 0;
  rc |= put_attr(f, "format", "diffclip-exams", 0) | put_attr(f, "format_version", NULL, 1);
  rc |= put_attr(f, "name", "mrnet-synthetic", 0) | put_attr(f, "n_exams", NULL, N_EXAMS);
  rc |= put_attr(f, "n_planes", NULL, 3) | put_attr(f, "n_tasks", NULL, 3) | put_attr(f, "slices", NULL, S);
  rc |= put_attr(f, "height", NULL, H) | put_attr(f, "width", NULL, W) | put_attr(f, "resample", "trilinear", 0);
  const char *groups[] = {"exams", "splits", "classes", "provenance"};
  for (int i = 0; i < 4; i++) H5Gclose(H5Gcreate2(f, groups[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  float *vol = malloc((size_t)N_EXAMS * S * H * W * sizeof *vol);
  hsize_t d4[4] = {N_EXAMS, S, H, W};
  for (int p = 0; p < 3 && vol; p++) {
    char name[64];
    snprintf(name, sizeof name, "/exams/%s", planes[p]);
    for (int x = 0; x < N_EXAMS; x++) make_volume(vol + (size_t)x * S * H * W, x, p);
    hid_t sp = H5Screate_simple(4, d4, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    rc |= ds >= 0 && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, vol) >= 0 ? 0 : -1;
    H5Dclose(ds), H5Sclose(sp);
  }
  free(vol);
  int labels[N_EXAMS * 3], ids[N_EXAMS], split[N_EXAMS], src[N_EXAMS * 3];
  for (int x = 0; x < N_EXAMS; x++) {
    for (int t = 0; t < 3; t++) labels[x * 3 + t] = label_of(x, t), src[x * 3 + t] = 20 + x % 7;
    ids[x] = x, split[x] = x >= N_TRAIN;
  }
  hsize_t d2[2] = {N_EXAMS, 3}, d1[1] = {N_EXAMS};
  rc |= put_ints(f, "/exams/labels", 2, d2, labels) | put_ints(f, "/exams/ids", 1, d1, ids);
  rc |= put_ints(f, "/exams/split", 1, d1, split) | put_ints(f, "/exams/source_slices", 2, d2, src);
  rc |= put_strings(f, "/exams/planes", 3, planes) | put_strings(f, "/splits/names", 2, splits);
  rc |= put_strings(f, "/classes/names", 3, tasks) | put_strings(f, "/classes/descriptions", 3, descs);
  rc |= H5Fclose(f) < 0 ? -1 : 0;
  return vol ? rc : -1;
}

static void test_store(const char *path) {
  CHECK(write_store(path) == 0, "cannot write %s", path);
  CHECK(dc_exams_is_store(path), "%s not recognised as an exam store", path);
  CHECK(!dc_exams_is_store("/nonexistent/store.h5"), "a missing file taken for an exam store");
  struct dc_exams e;
  int w = 5, L = w * w;
  if (dc_exams_read(path, w, 0, N_EXAMS, &e) != DC_OK) {
    CHECK(0, "dc_exams_read failed");
    return;
  }
  CHECK(e.n_exams == N_EXAMS && e.n_planes == 3 && e.n_tasks == 3 && e.slices == S && e.window == w, "header");
  CHECK(strcmp(e.plane_names[2], "axial") == 0 && strcmp(e.split_names[1], "valid") == 0, "names");
  CHECK(dc_exams_split_index(&e, "valid") == 1 && dc_exams_split_index(&e, "test") == -1, "split index");
  int bad = 0;
  for (int x = 0; x < N_EXAMS; x++)
    for (int t = 0; t < 3; t++) bad += e.labels[x * 3 + t] != label_of(x, t);
  CHECK(bad == 0 && e.split[N_TRAIN] == 1 && e.split[N_TRAIN - 1] == 0, "labels / split");
  /* the tokens are the pooled volumes */
  float *vol = malloc((size_t)S * H * W * sizeof *vol), *ref = malloc((size_t)L * S * sizeof *ref);
  double worst = 0;
  for (int x = 0; x < N_EXAMS; x += 7)
    for (int p = 0; p < 3; p++) {
      make_volume(vol, x, p);
      pool_naive(ref, vol, S, H, W, w);
      for (int i = 0; i < L * S; i++) worst = fmax(worst, fabs((double)ref[i] - e.tokens[p][(size_t)x * L * S + i]));
    }
  CHECK(worst < 1e-3, "read tokens differ from the pooled volumes by %g", worst);
  /* normalisation: per plane over the store, min 0 and max 1 */
  float lo0 = INFINITY, hi0 = -INFINITY;
  for (size_t i = 0; i < (size_t)N_EXAMS * L * S; i++) lo0 = fminf(lo0, e.tokens[1][i]), hi0 = fmaxf(hi0, e.tokens[1][i]);
  float v = e.tokens[1][123];
  dc_exams_normalise(&e);
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < (size_t)N_EXAMS * L * S; i++) lo = fminf(lo, e.tokens[1][i]), hi = fmaxf(hi, e.tokens[1][i]);
  CHECK(lo == 0 && hi == 1, "normalised plane spans %g .. %g", lo, hi);
  CHECK(fabsf(e.tokens[1][123] - (v - lo0) / (hi0 - lo0)) < 1e-6f, "normalised value");
  /* the task split: k shots per class from train, validation from train, test = valid */
  struct dc_split sp;
  for (int task = 0; task < 3; task++) {
    CHECK(dc_exams_split(&e, NULL, task, 0, 1, 3, 15, 2, 6, &sp) == DC_OK, "split of task %d", task);
    CHECK(sp.n_train == 6 && sp.train_per_class[0] == 3 && sp.train_per_class[1] == 3, "task %d: %d shots", task,
          sp.n_train);
    CHECK(sp.n_val == 6 && sp.n_test == N_VALID, "task %d: %d validation, %d test", task, sp.n_val, sp.n_test);
    int wrong = 0;
    for (int i = 0; i < sp.n_train; i++) wrong += e.split[sp.train_idx[i]] != 0 || sp.train_lab[i] != label_of(sp.train_idx[i], task);
    for (int i = 0; i < sp.n_val; i++) {
      wrong += e.split[sp.val_idx[i]] != 0 || sp.val_lab[i] != label_of(sp.val_idx[i], task);
      for (int j = 0; j < sp.n_train; j++) wrong += sp.val_idx[i] == sp.train_idx[j];
    }
    for (int i = 0; i < sp.n_test; i++) wrong += sp.test_idx[i] != N_TRAIN + i || sp.test_lab[i] != label_of(N_TRAIN + i, task);
    CHECK(wrong == 0, "task %d: %d misplaced exams", task, wrong);
    dc_split_free(&sp);
  }
  dc_exams_free(&e);
  /* a partial read pools only its exams */
  CHECK(dc_exams_read(path, w, 10, 20, &e) == DC_OK, "partial read");
  int zeros_ok = 1;
  for (int i = 0; i < L * S; i++) zeros_ok &= e.tokens[0][(size_t)9 * L * S + i] == 0 && e.tokens[0][(size_t)20 * L * S + i] == 0;
  CHECK(zeros_ok && e.tokens[0][(size_t)10 * L * S] != 0, "partial read touched other exams");
  dc_exams_free(&e);
  CHECK(dc_exams_read(path, 17, 0, N_EXAMS, &e) == DC_ERR_ARG, "window larger than the slices accepted");
  const char *names[2], *descs[2];
  CHECK(dc_exams_task_classes(1, names, descs) == DC_OK && strcmp(names[1], "torn ACL") == 0, "task classes");
  CHECK(dc_exams_task_classes(3, names, descs) == DC_ERR_ARG, "task 3 accepted");
  free(vol), free(ref);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0) {
    if (write_store(argv[2]) != 0) {
      fprintf(stderr, "cannot write %s\n", argv[2]);
      return 1;
    }
    printf("wrote %s\n", argv[2]);
    return 0;
  }
  char path[64];
  snprintf(path, sizeof path, "/tmp/test_exams_%ld.h5", (long)getpid());
  test_pool();
  test_minmax();
  test_store(path);
  remove(path);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("test_exams: all checks passed\n");
  return 0;
}
