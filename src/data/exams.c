/* The exam store in the MPI program (see exams.h): area pooling, min-max normalisation,
 * the serial reader and the task split. Every HDF5 handle is closed on every path. */
#include "diffclip/data/exams.h"

#include "diffclip/io/h5util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Overlap of input pixel h = [h w, (h + 1) w) and output cell i = [i H, (i + 1) H), both in
 * units of 1/w of an input pixel: integers, so the weights are exact. */
static long overlap(int h, int i, int H, int w) {
  long a0 = (long)h * w, a1 = a0 + w, b0 = (long)i * H, b1 = b0 + H;
  long lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
  return hi > lo ? hi - lo : 0;
}

void dc_exam_pool(float *out, const float *vol, int S, int H, int W, int w) {
  /* out[i][j] = sum_h sum_x ov(h, i) ov(x, j) vol[h][x] / (H W); rows then columns */
  double *rows = malloc((size_t)w * W * sizeof *rows);
  if (!rows) { /* without scratch: the direct double sum */
    for (int s = 0; s < S; s++)
      for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++) {
          double acc = 0;
          for (int h = 0; h < H; h++) {
            long oh = overlap(h, i, H, w);
            for (int x = 0; oh && x < W; x++) acc += (double)oh * overlap(x, j, W, w) * vol[((size_t)s * H + h) * W + x];
          }
          out[(size_t)(i * w + j) * S + s] = (float)(acc / ((double)H * W));
        }
    return;
  }
  for (int s = 0; s < S; s++) {
    const float *v = vol + (size_t)s * H * W;
    for (int i = 0; i < w; i++) {
      double *r = rows + (size_t)i * W;
      for (int x = 0; x < W; x++) r[x] = 0;
      int h0 = (int)((long)i * H / w), h1 = (int)(((long)(i + 1) * H + w - 1) / w);
      for (int h = h0; h < h1 && h < H; h++) {
        double oh = (double)overlap(h, i, H, w);
        for (int x = 0; x < W; x++) r[x] += oh * v[(size_t)h * W + x];
      }
    }
    for (int i = 0; i < w; i++)
      for (int j = 0; j < w; j++) {
        int x0 = (int)((long)j * W / w), x1 = (int)(((long)(j + 1) * W + w - 1) / w);
        double acc = 0;
        for (int x = x0; x < x1 && x < W; x++) acc += (double)overlap(x, j, W, w) * rows[(size_t)i * W + x];
        out[(size_t)(i * w + j) * S + s] = (float)(acc / ((double)H * W));
      }
  }
  free(rows);
}

void dc_exams_minmax(float *x, size_t n, float lo, float hi) {
  double span = (double)hi - lo;
  for (size_t i = 0; i < n; i++) x[i] = span > 0 ? (float)(((double)x[i] - lo) / span) : 0.0f;
}

void dc_exams_normalise(struct dc_exams *e) {
  size_t n = (size_t)e->n_exams * e->window * e->window * e->slices;
  for (int p = 0; p < e->n_planes; p++) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      if (e->tokens[p][i] < lo) lo = e->tokens[p][i];
      if (e->tokens[p][i] > hi) hi = e->tokens[p][i];
    }
    dc_exams_minmax(e->tokens[p], n, lo, hi);
  }
}

/* A 1-D dataset of n variable-length strings into rows of out (cap bytes each). */
static enum dc_status strings(hid_t f, const char *path, const char *obj, int n, char *out, size_t cap) {
  char **buf = calloc((size_t)n + 1, sizeof *buf);
  hid_t ds = H5Dopen2(f, obj, H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1, mt = dc_h5_vstr_type();
  int ok = buf && ds >= 0 && sp >= 0 && mt >= 0 && H5Sget_simple_extent_npoints(sp) == n &&
           H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  for (int i = 0; ok && i < n; i++) {
    snprintf(out + (size_t)i * cap, cap, "%s", buf[i] ? buf[i] : "");
    if (buf[i]) H5free_memory(buf[i]);
  }
  free(buf);
  if (mt >= 0) H5Tclose(mt);
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  return ok ? DC_OK : DC_ERROR(DC_ERR_IO, "%s: cannot read %s as %d strings", path, obj, n);
}

static enum dc_status ints(hid_t f, const char *path, const char *obj, size_t n, int32_t *out) {
  hid_t ds = H5Dopen2(f, obj, H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
  int ok = ds >= 0 && sp >= 0 && (size_t)H5Sget_simple_extent_npoints(sp) == n &&
           H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  return ok ? DC_OK : DC_ERROR(DC_ERR_IO, "%s: cannot read %s (%zu integers expected)", path, obj, n);
}

int dc_exams_is_store(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return 0;
  char fmt[64] = "";
  /* a file of another kind may lack the attribute: not an error here */
  int is = H5Aexists(f, "format") > 0 && dc_h5_get_attr_str(f, "/", "format", fmt, sizeof fmt, path) == DC_OK &&
           strcmp(fmt, DC_EXAMS_FORMAT_NAME) == 0;
  H5Fclose(f);
  return is;
}

/* Exams [lo, hi) of plane p: each (S, H, W) volume read by hyperslab and pooled. */
static enum dc_status read_plane(hid_t f, const char *path, struct dc_exams *e, int p, int lo, int hi) {
  char obj[64];
  snprintf(obj, sizeof obj, "/exams/%s", e->plane_names[p]);
  size_t vol_n = (size_t)e->slices * e->height * e->width, tok_n = (size_t)e->window * e->window * e->slices;
  float *vol = malloc(vol_n * sizeof *vol);
  hid_t ds = H5Dopen2(f, obj, H5P_DEFAULT), fs = ds >= 0 ? H5Dget_space(ds) : -1;
  hsize_t count[4] = {1, (hsize_t)e->slices, (hsize_t)e->height, (hsize_t)e->width}, dims[4] = {0, 0, 0, 0};
  hid_t ms = H5Screate_simple(4, count, NULL);
  int ok = vol && ds >= 0 && fs >= 0 && ms >= 0 && H5Sget_simple_extent_ndims(fs) == 4 &&
           H5Sget_simple_extent_dims(fs, dims, NULL) == 4 && dims[0] == (hsize_t)e->n_exams && dims[1] == count[1] &&
           dims[2] == count[2] && dims[3] == count[3];
  int bad_exam = -1;
  for (int x = lo; ok && x < hi; x++) {
    hsize_t start[4] = {(hsize_t)x, 0, 0, 0};
    if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, vol) < 0) {
      ok = 0, bad_exam = x;
      break;
    }
    for (size_t i = 0; i < vol_n; i++)
      if (!isfinite(vol[i])) {
        ok = 0, bad_exam = x;
        break;
      }
    if (ok) dc_exam_pool(e->tokens[p] + (size_t)x * tok_n, vol, e->slices, e->height, e->width, e->window);
  }
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  free(vol);
  if (ok) return DC_OK;
  if (bad_exam >= 0)
    return DC_ERROR(DC_ERR_IO, "%s: exam %d of %s cannot be read or holds a non-finite value", path, bad_exam, obj);
  return DC_ERROR(DC_ERR_IO, "%s: %s is missing or not (%d, %d, %d, %d) float", path, obj, e->n_exams, e->slices,
                  e->height, e->width);
}

static enum dc_status read_all(hid_t f, const char *path, int window, int lo, int hi, struct dc_exams *e) {
  char fmt[64];
  DC_TRY(dc_h5_get_attr_str(f, "/", "format", fmt, sizeof fmt, path));
  if (strcmp(fmt, DC_EXAMS_FORMAT_NAME) != 0)
    return DC_ERROR(DC_ERR_ARG, "%s: not an exam store (format \"%s\", \"%s\" expected; made by `diffclip prepare` "
                                "with a manifest of kind \"exams\")", path, fmt, DC_EXAMS_FORMAT_NAME);
  int version = 0;
  const char *keys[] = {"n_exams", "n_planes", "n_tasks", "slices", "height", "width"};
  int *vals[] = {&e->n_exams, &e->n_planes, &e->n_tasks, &e->slices, &e->height, &e->width};
  DC_TRY(dc_h5_get_attr_int(f, "/", "format_version", 0, 1 << 30, &version, path));
  if (version != 1) return DC_ERROR(DC_ERR_ARG, "%s: exam store version %d, 1 expected", path, version);
  for (int i = 0; i < 6; i++) DC_TRY(dc_h5_get_attr_int(f, "/", keys[i], 1, 1 << 30, vals[i], path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "name", e->name, sizeof e->name, path));
  if (e->n_planes > DC_EXAMS_MAX_PLANES || e->n_tasks > DC_EXAMS_MAX_TASKS)
    return DC_ERROR(DC_ERR_ARG, "%s: %d planes and %d tasks; at most %d and %d", path, e->n_planes, e->n_tasks,
                    DC_EXAMS_MAX_PLANES, DC_EXAMS_MAX_TASKS);
  if (window < 1 || window > e->height || window > e->width)
    return DC_ERROR(DC_ERR_ARG, "%s: model.window = %d cannot pool %d x %d slices (1 .. %d)", path, window, e->height,
                    e->width, e->height < e->width ? e->height : e->width);
  if (lo < 0 || hi > e->n_exams || lo > hi) return DC_ERROR(DC_ERR_ARG, "%s: exams %d..%d of %d", path, lo, hi, e->n_exams);
  e->window = window;
  hid_t g = H5Dopen2(f, "/splits/names", H5P_DEFAULT), sp = g >= 0 ? H5Dget_space(g) : -1;
  e->n_splits = sp >= 0 ? (int)H5Sget_simple_extent_npoints(sp) : -1;
  if (sp >= 0) H5Sclose(sp);
  if (g >= 0) H5Dclose(g);
  if (e->n_splits < 1 || e->n_splits > DC_EXAMS_MAX_SPLITS)
    return DC_ERROR(DC_ERR_IO, "%s: /splits/names is missing or has more than %d names", path, DC_EXAMS_MAX_SPLITS);
  DC_TRY(strings(f, path, "/splits/names", e->n_splits, &e->split_names[0][0], sizeof e->split_names[0]));
  DC_TRY(strings(f, path, "/exams/planes", e->n_planes, &e->plane_names[0][0], sizeof e->plane_names[0]));
  DC_TRY(strings(f, path, "/classes/names", e->n_tasks, &e->task_names[0][0], sizeof e->task_names[0]));
  size_t N = (size_t)e->n_exams;
  e->labels = malloc(N * e->n_tasks * sizeof *e->labels);
  e->split = malloc(N * sizeof *e->split);
  e->ids = malloc(N * sizeof *e->ids);
  DC_CHECK_ALLOC(e->labels);
  DC_CHECK_ALLOC(e->split);
  DC_CHECK_ALLOC(e->ids);
  DC_TRY(ints(f, path, "/exams/labels", N * e->n_tasks, e->labels));
  DC_TRY(ints(f, path, "/exams/split", N, e->split));
  DC_TRY(ints(f, path, "/exams/ids", N, e->ids));
  for (size_t i = 0; i < N; i++) {
    if (e->split[i] < 0 || e->split[i] >= e->n_splits)
      return DC_ERROR(DC_ERR_IO, "%s: exam %zu has split %d, 0..%d expected", path, i, e->split[i], e->n_splits - 1);
    for (int t = 0; t < e->n_tasks; t++)
      if (e->labels[i * e->n_tasks + t] != 0 && e->labels[i * e->n_tasks + t] != 1)
        return DC_ERROR(DC_ERR_IO, "%s: exam %zu has label %d for task %s, 0 or 1 expected", path, i,
                        e->labels[i * e->n_tasks + t], e->task_names[t]);
  }
  for (int p = 0; p < e->n_planes; p++) {
    e->tokens[p] = calloc(N * window * window * e->slices, sizeof(float));
    DC_CHECK_ALLOC(e->tokens[p]);
    DC_TRY(read_plane(f, path, e, p, lo, hi));
  }
  return DC_OK;
}

enum dc_status dc_exams_read(const char *path, int window, int lo, int hi, struct dc_exams *e) {
  memset(e, 0, sizeof *e);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing or not an HDF5 file)", path);
  enum dc_status st = read_all(f, path, window, lo, hi, e);
  H5Fclose(f);
  if (st != DC_OK) dc_exams_free(e);
  return st;
}

void dc_exams_free(struct dc_exams *e) {
  free(e->labels);
  free(e->split);
  free(e->ids);
  for (int p = 0; p < DC_EXAMS_MAX_PLANES; p++) free(e->tokens[p]);
  memset(e, 0, sizeof *e);
}

int dc_exams_split_index(const struct dc_exams *e, const char *name) {
  for (int s = 0; s < e->n_splits; s++)
    if (strcmp(e->split_names[s], name) == 0) return s;
  return -1;
}

static const char *const task_class_names[3][2] = {
    {"normal knee", "abnormal knee"}, {"intact ACL", "torn ACL"}, {"intact meniscus", "torn meniscus"}};
static const char *const task_class_descriptions[3][2] = {
    {"A healthy knee on MRI: ligaments, menisci, cartilage and bone marrow show their normal shape and signal, "
     "without effusion, bruise or tear.",
     "A knee with an abnormal finding on MRI, such as a tear, joint effusion, bone bruise or cartilage loss, seen "
     "as unusual signal intensity or structure."},
    {"An intact anterior cruciate ligament: a dark, taut, continuous band crossing the knee joint from femur to "
     "tibia on sagittal slices.",
     "A torn anterior cruciate ligament: the band crossing the knee joint looks discontinuous, wavy or abnormally "
     "bright on sagittal slices."},
    {"Intact menisci: dark wedge-shaped cartilage between femur and tibia with no bright line reaching the joint "
     "surface.",
     "A torn meniscus: a bright linear signal reaches the joint surface inside the dark wedge-shaped cartilage "
     "between femur and tibia."}};

enum dc_status dc_exams_task_classes(int task, const char *names[2], const char *descriptions[2]) {
  if (task < 0 || task > 2) return DC_ERROR(DC_ERR_ARG, "exam task %d: 0 (abnormal), 1 (ACL) or 2 (meniscus)", task);
  for (int k = 0; k < 2; k++) names[k] = task_class_names[task][k], descriptions[k] = task_class_descriptions[task][k];
  return DC_OK;
}

enum dc_status dc_exams_split(const struct dc_exams *e, const int32_t *assign, int task, int train_split,
                              int test_split, int shots, int small_class_shots, uint64_t run, int val_max,
                              struct dc_split *out) {
  memset(out, 0, sizeof *out);
  const int32_t *split = assign ? assign : e->split;
  if (task < 0 || task >= e->n_tasks)
    return DC_ERROR(DC_ERR_ARG, "%s: task %d, the store has %d", e->name, task, e->n_tasks);
  if (train_split < 0 || test_split < 0 || train_split == test_split)
    return DC_ERROR(DC_ERR_ARG, "%s: a train and a test split are needed (splits %d and %d)", e->name, train_split,
                    test_split);
  int N = e->n_exams, n_test = 0;
  /* the train exams as a 1 x N label raster: shots and validation as for pixels */
  int32_t *train = calloc((size_t)N, sizeof *train), *none = calloc((size_t)N, sizeof *none);
  if (!train || !none) {
    free(train), free(none);
    return DC_ERROR(DC_ERR_NOMEM, "no memory for the exam split");
  }
  for (int i = 0; i < N; i++) {
    if (split[i] == train_split) train[i] = 1 + e->labels[(size_t)i * e->n_tasks + task];
    n_test += split[i] == test_split;
  }
  enum dc_status st = dc_split_fewshot(train, none, 1, N, 2, shots, small_class_shots, run, val_max, out);
  free(train), free(none);
  if (st != DC_OK) return st;
  /* the remaining train exams are not tested on: the test set is the test split */
  free(out->test_idx), free(out->test_lab);
  out->test_idx = malloc(((size_t)n_test + 1) * sizeof *out->test_idx);
  out->test_lab = malloc(((size_t)n_test + 1) * sizeof *out->test_lab);
  if (!out->test_idx || !out->test_lab) {
    dc_split_free(out);
    return DC_ERROR(DC_ERR_NOMEM, "no memory for the exam split");
  }
  out->n_test = 0;
  out->test_per_class[0] = out->test_per_class[1] = 0;
  for (int i = 0; i < N; i++)
    if (split[i] == test_split) {
      int y = e->labels[(size_t)i * e->n_tasks + task];
      out->test_idx[out->n_test] = i;
      out->test_lab[out->n_test++] = y;
      out->test_per_class[y]++;
    }
  return DC_OK;
}
