/* MRNet exams: a small synthetic release (uint8 .npy volumes per plane, the official CSV
 * layout) becomes the exam store; shapes, labels, ids, splits and resampled voxels are
 * checked, and missing volumes, inconsistent CSVs and truncated volumes are refused with
 * nothing written. */
#include "prep_util.h"

#include <hdf5.h>

#include "diffclip/prepare/rawarray.h"
#include "diffclip/prepare/resample.h"

static const char *const planes[] = {"sagittal", "coronal", "axial"};
static const int slices[] = {5, 6, 7};
enum { SIDE = 16, N_TRAIN = 3, N_VALID = 2, S2 = 4, H2 = 8, W2 = 8 };

static uint8_t voxel(int id, int plane, int s, int h, int w) { return (uint8_t)((id * 31 + plane * 7 + s * 13 + h * 3 + w) % 256); }

static const char *manifest_text(const char *method, int train_exams) {
  static char text[2048];
  snprintf(text, sizeof text,
           "manifest_version = 1; name = \"mrnet_test\"; kind = \"exams\";\n"
           "classes = ( { name = \"abnormal\"; description = \"a\"; }, { name = \"ACL tear\"; description = \"b\"; },\n"
           "            { name = \"meniscal tear\"; description = \"c\"; } );\n"
           "exams = { planes = [\"sagittal\", \"coronal\", \"axial\"]; slices = %d; height = %d; width = %d;\n"
           "  resample = \"%s\";\n"
           "  splits = ( { name = \"train\"; folder = \"train\"; exams = %d;\n"
           "               labels = [\"train-abnormal.csv\", \"train-acl.csv\", \"train-meniscus.csv\"]; },\n"
           "             { name = \"valid\"; folder = \"valid\"; exams = 2;\n"
           "               labels = [\"valid-abnormal.csv\", \"valid-acl.csv\", \"valid-meniscus.csv\"]; } ); };\n",
           S2, H2, W2, method, train_exams);
  return text;
}

static int label(int id, int task) { return (id + task) % 2; }

static void write_release(const char *raw) {
  char p[1024];
  static const char *const tasks[] = {"abnormal", "acl", "meniscus"};
  for (int sp = 0; sp < 2; sp++) {
    const char *split = sp ? "valid" : "train";
    int first = sp ? N_TRAIN : 0, n = sp ? N_VALID : N_TRAIN;
    path_join(p, sizeof p, raw, split);
    mkdir(p, 0755);
    for (int pl = 0; pl < 3; pl++) {
      snprintf(p, sizeof p, "%s/%s/%s", raw, split, planes[pl]);
      mkdir(p, 0755);
    }
    for (int t = 0; t < 3; t++) {
      char text[512] = "";
      for (int id = first; id < first + n; id++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%04d,%d\n", id, label(id, t));
      snprintf(p, sizeof p, "%s/%s-%s.csv", raw, split, tasks[t]);
      write_text(p, text);
    }
    for (int id = first; id < first + n; id++)
      for (int pl = 0; pl < 3; pl++) {
        static uint8_t vol[8 * SIDE * SIDE];
        for (int s = 0; s < slices[pl]; s++)
          for (int h = 0; h < SIDE; h++)
            for (int w = 0; w < SIDE; w++) vol[(s * SIDE + h) * SIDE + w] = voxel(id, pl, s, h, w);
        size_t dims[3] = {(size_t)slices[pl], SIDE, SIDE};
        snprintf(p, sizeof p, "%s/%s/%s/%04d.npy", raw, split, planes[pl], id);
        CHECK(write_npy(p, 1, "|u1", 0, 3, dims, vol, 1, 0), "write %s", p);
      }
  }
}

static void read_ints(hid_t f, const char *name, int *out) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0, "read %s", name);
  if (d >= 0) H5Dclose(d);
}

static void check_store(const char *out, int trilinear) {
  hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0, "open %s", out);
  if (f < 0) return;
  enum { N = N_TRAIN + N_VALID };
  int ids[N], split[N], labels[N * 3], src[N * 3];
  read_ints(f, "/exams/ids", ids);
  read_ints(f, "/exams/split", split);
  read_ints(f, "/exams/labels", labels);
  read_ints(f, "/exams/source_slices", src);
  for (int e = 0; e < N; e++) {
    CHECK(ids[e] == e && split[e] == (e >= N_TRAIN), "exam %d: id %d split %d", e, ids[e], split[e]);
    for (int t = 0; t < 3; t++) CHECK(labels[e * 3 + t] == label(e, t), "exam %d task %d label", e, t);
    for (int pl = 0; pl < 3; pl++) CHECK(src[e * 3 + pl] == slices[pl], "source slices");
  }
  for (int pl = 0; pl < 3; pl++) {
    char name[64];
    snprintf(name, sizeof name, "/exams/%s", planes[pl]);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[4] = {0};
    CHECK(sp >= 0 && H5Sget_simple_extent_dims(sp, dims, NULL) == 4 && dims[0] == N && dims[1] == S2 && dims[2] == H2 &&
              dims[3] == W2,
          "%s shape", name);
    static float got[N * S2 * H2 * W2], want[S2 * H2 * W2], in[8 * SIDE * SIDE];
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0, "read %s", name);
    for (int e = 0; e < N; e++) {
      for (int s = 0; s < slices[pl]; s++)
        for (int h = 0; h < SIDE; h++)
          for (int w = 0; w < SIDE; w++) in[(s * SIDE + h) * SIDE + w] = voxel(e, pl, s, h, w);
      dc_resample_volume(in, slices[pl], SIDE, SIDE, want, S2, H2, W2, trilinear);
      CHECK(memcmp(got + (size_t)e * S2 * H2 * W2, want, sizeof want) == 0, "%s exam %d resampled voxels", name, e);
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
  }
  H5Fclose(f);
}

static void expect_refused(const char *what, const char *manifest, const char *raw, const char *needle1,
                           const char *needle2) {
  char out[512];
  tmp_path("refused.h5", 0, out, sizeof out);
  char *log;
  int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
  CHECK(code == 1 && !file_exists(out), "%s: exit %d\n%s", what, code, log);
  CHECK(strstr(log, needle1) && strstr(log, needle2), "%s: message lacks '%s' / '%s':\n%s", what, needle1, needle2, log);
  char probe[1024];
  snprintf(probe, sizeof probe, "ls %s | grep -q 'refused.h5.tmp'", tmp_root());
  CHECK(system(probe) != 0, "%s: temporary file left behind", what);
  printf("refused as expected: %s\n", what);
  free(log);
}

int main(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  char raw[512], manifest[512], out[512], p[1024];
  tmp_path("MRNet-v1.0", 1, raw, sizeof raw);
  write_release(raw);
  tmp_path("mrnet.cfg", 0, manifest, sizeof manifest);
  for (int tri = 1; tri >= 0; tri--) {
    write_text(manifest, manifest_text(tri ? "trilinear" : "nearest", N_TRAIN));
    tmp_path("mrnet.h5", 0, out, sizeof out);
    char *log;
    int code = run_prepare(manifest, raw, out, NULL, NULL, &log);
    CHECK(code == 0, "prepare exams (%s): exit %d\n%s", tri ? "trilinear" : "nearest", code, log);
    free(log);
    if (code == 0) check_store(out, tri);
  }

  write_text(manifest, manifest_text("trilinear", 4));
  expect_refused("exam count", manifest, raw, "train-abnormal.csv", "3 exams; expected 4");
  write_text(manifest, manifest_text("trilinear", N_TRAIN));

  snprintf(p, sizeof p, "%s/valid-acl.csv", raw);
  write_text(p, "0003,1\n");
  expect_refused("CSVs disagree", manifest, raw, "valid-acl.csv", "expected the 2 exams");
  write_text(p, "0003,0\n0005,1\n");
  expect_refused("exam missing from a CSV", manifest, raw, "valid-acl.csv", "no line for exam 4");
  write_text(p, "0003,0\n0004,1\n");

  snprintf(p, sizeof p, "%s/train/coronal/0001.npy", raw);
  char saved[1024];
  tmp_path("saved.npy", 0, saved, sizeof saved);
  copy_file(p, saved, -1);
  copy_file(saved, p, file_size(saved) - 10);
  expect_refused("truncated volume", manifest, raw, "train/coronal/0001.npy", "truncated");
  remove(p);
  expect_refused("missing volume", manifest, raw, "train/coronal/0001.npy",
                 "1 of the 3 exams of split 'train' have missing volumes");
  /* --partial: a partial download prepares without the exams whose volumes are missing */
  {
    char *log;
    tmp_path("partial.h5", 0, out, sizeof out);
    int code = run_prepare(manifest, raw, out, "--partial", NULL, &log);
    CHECK(code == 0 && strstr(log, "1 of its 3 exams left out (--partial)"), "--partial: exit %d\n%s", code, log);
    free(log);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    int n = -1;
    hid_t a = f >= 0 ? H5Aopen(f, "n_exams", H5P_DEFAULT) : -1;
    if (a >= 0) H5Aread(a, H5T_NATIVE_INT, &n), H5Aclose(a);
    if (f >= 0) H5Fclose(f);
    CHECK(n == N_TRAIN - 1 + 2, "--partial: %d exams stored, expected %d", n, N_TRAIN - 1 + 2);
  }
  size_t d2[2] = {SIDE, SIDE};
  static uint8_t flat[SIDE * SIDE];
  write_npy(p, 1, "|u1", 0, 2, d2, flat, 1, 0);
  expect_refused("2-D volume", manifest, raw, "train/coronal/0001.npy", "expected a volume (slices, height, width)");
  copy_file(saved, p, -1);
  return test_done("prep_exams");
}
