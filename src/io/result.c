/* The per-run result file (result.h, docs/formats.md "The result file"): serial HDF5 with
 * the default driver, written to <path>.tmp.<pid> and renamed, so a reader sees either the
 * old file or the whole new one. The in-memory result is checked before any file exists;
 * the reader checks format, version, every shape and every range it relies on, and on a
 * failure leaves the struct zeroed with nothing leaked. */
#include "diffclip/io/result.h"

#include "diffclip/io/h5util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- writing ---------------------------------------------------------------------- */

/* A dataset `name` (an absolute path) of `rank` dims, deflated when it is large. */
static enum dc_status put_data(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
                               const void *data, const char *path) {
  hsize_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  hsize_t chunk[2] = {dims[0] < 64 ? dims[0] : 64, rank == 2 ? dims[1] : 1};
  int banded = rank == 2 && n >= 4096; /* maps: row-band chunks, shuffle + deflate */
  return dc_h5_put_dataset(file, name, ftype, mtype, rank, dims, banded ? chunk : NULL, 4, data, path);
}

static int is_binary(const struct dc_result *r) { return strcmp(r->task, "binary") == 0; }

/* Everything the writer relies on, checked before a file exists. */
static enum dc_status check_result(const char *path, const struct dc_result *r) {
  if (memchr(r->dataset, 0, sizeof r->dataset) == NULL || r->dataset[0] == '\0')
    return DC_ERROR(DC_ERR_ARG, "%s: the result has no dataset name", path);
  if (strcmp(r->task, "classes") != 0 && !is_binary(r))
    return DC_ERROR(DC_ERR_ARG, "%s: task must be \"classes\" or \"binary\", not \"%.15s\"", path, r->task);
  if (r->n_classes < 1 || r->n_classes > DC_RESULT_MAX_CLASSES)
    return DC_ERROR(DC_ERR_ARG, "%s: n_classes %d is outside 1..%d", path, r->n_classes, DC_RESULT_MAX_CLASSES);
  if (r->shots < 0 || r->run < 0 || r->n_test < 0 || r->n_epochs < 0)
    return DC_ERROR(DC_ERR_ARG, "%s: shots %d, run %d, n_test %lld and n_epochs %d must not be negative", path, r->shots,
                    r->run, (long long)r->n_test, r->n_epochs);
  if (!r->confusion) return DC_ERROR(DC_ERR_ARG, "%s: the result has no confusion matrix", path);
  if (r->n_epochs > 0 && (!r->finetune_loss || !r->val_acc))
    return DC_ERROR(DC_ERR_ARG, "%s: %d epochs but no finetune_loss / val_acc curves", path, r->n_epochs);
  if (r->height < 0 || r->width < 0 || (r->height == 0) != (r->width == 0))
    return DC_ERROR(DC_ERR_ARG, "%s: map size %d x %d is not valid (both 0, or both positive)", path, r->height, r->width);
  if (r->height > 0 && !r->prediction && !r->truth && !r->test_mask)
    return DC_ERROR(DC_ERR_ARG, "%s: map size %d x %d but no map", path, r->height, r->width);
  if (r->top2 && (!r->top2_prob || !r->prediction))
    return DC_ERROR(DC_ERR_ARG, "%s: top-2 classes need their probabilities and the prediction map", path);
  if (r->n_exams < 0 || (r->n_exams > 0 && (!r->exam_id || !r->exam_score || !r->exam_pred || !r->exam_truth)))
    return DC_ERROR(DC_ERR_ARG, "%s: %d exams but not every per-exam array (id, score, prediction, truth)", path,
                    r->n_exams);
  for (int k = 0; k < r->n_classes; k++)
    if (memchr(r->class_names[k], 0, sizeof r->class_names[k]) == NULL)
      return DC_ERROR(DC_ERR_ARG, "%s: class name %d is not terminated", path, k + 1);
  if (memchr(r->config_sha256, 0, sizeof r->config_sha256) == NULL)
    return DC_ERROR(DC_ERR_ARG, "%s: config_sha256 is not terminated", path);
  size_t n = (size_t)r->height * (size_t)r->width;
  for (size_t i = 0; i < n; i++) {
    if (r->prediction && (r->prediction[i] < 0 || r->prediction[i] > r->n_classes))
      return DC_ERROR(DC_ERR_ARG, "%s: prediction %d at pixel %zu is outside 0..%d", path, r->prediction[i], i, r->n_classes);
    if (r->truth && (r->truth[i] < 0 || r->truth[i] > r->n_classes))
      return DC_ERROR(DC_ERR_ARG, "%s: truth %d at pixel %zu is outside 0..%d", path, r->truth[i], i, r->n_classes);
    if (r->top2 && (r->top2[2 * i] > r->n_classes || r->top2[2 * i + 1] > r->n_classes))
      return DC_ERROR(DC_ERR_ARG, "%s: top-2 classes %d, %d at pixel %zu are outside 0..%d", path, r->top2[2 * i],
                      r->top2[2 * i + 1], i, r->n_classes);
  }
  return DC_OK;
}

static enum dc_status write_contents(hid_t f, const char *path, const struct dc_result *r) {
  int64_t n_test = r->n_test;
  DC_TRY(dc_h5_put_attr_str(f, "format", DC_RESULT_FORMAT, path));
  DC_TRY(dc_h5_put_attr_int(f, "format_version", DC_RESULT_VERSION, path));
  DC_TRY(dc_h5_put_attr_str(f, "dataset", r->dataset, path));
  DC_TRY(dc_h5_put_attr_int(f, "shots", r->shots, path));
  DC_TRY(dc_h5_put_attr_int(f, "run", r->run, path));
  DC_TRY(dc_h5_put_attr_int(f, "n_classes", r->n_classes, path));
  DC_TRY(dc_h5_put_attr_str(f, "task", r->task, path));
  DC_TRY(dc_h5_put_attr_double(f, "oa", r->oa, path));
  DC_TRY(dc_h5_put_attr_double(f, "aa", r->aa, path));
  DC_TRY(dc_h5_put_attr_double(f, "kappa", r->kappa, path));
  DC_TRY(dc_h5_put_attr(f, "n_test", H5T_STD_I64LE, &n_test, path));
  DC_TRY(dc_h5_put_attr_double(f, "finetune_s", r->finetune_s, path));
  DC_TRY(dc_h5_put_attr_double(f, "evaluate_s", r->evaluate_s, path));
  DC_TRY(dc_h5_put_attr_int(f, "best_epoch", r->best_epoch, path));
  DC_TRY(dc_h5_put_attr_str(f, "config_sha256", r->config_sha256, path));
  DC_TRY(dc_h5_put_attr_str(f, "protocol", r->protocol, path));
  DC_TRY(dc_h5_put_attr_str(f, "target", r->target, path));

  int c = r->n_classes;
  const char *names[DC_RESULT_MAX_CLASSES];
  for (int k = 0; k < c; k++) names[k] = r->class_names[k];
  hid_t t = dc_h5_vstr_type();
  if (t < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot make a string type for /classes/names", path);
  enum dc_status st = dc_h5_put_group(f, "/classes", path);
  hsize_t dims[2] = {(hsize_t)c, (hsize_t)c};
  if (st == DC_OK) st = put_data(f, "/classes/names", t, t, 1, dims, names, path);
  H5Tclose(t);
  DC_TRY(st);
  DC_TRY(put_data(f, "/per_class", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, r->per_class, path));
  DC_TRY(put_data(f, "/confusion", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, dims, r->confusion, path));

  DC_TRY(dc_h5_put_group(f, "/curves", path));
  hsize_t ne[1] = {(hsize_t)r->n_epochs};
  DC_TRY(put_data(f, "/curves/finetune_loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ne, r->finetune_loss, path));
  DC_TRY(put_data(f, "/curves/val_acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ne, r->val_acc, path));

  if (r->height > 0) {
    hsize_t hw[2] = {(hsize_t)r->height, (hsize_t)r->width};
    DC_TRY(dc_h5_put_group(f, "/map", path));
    if (r->prediction)
      DC_TRY(put_data(f, "/map/prediction", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, hw, r->prediction, path));
    if (r->truth) DC_TRY(put_data(f, "/map/truth", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, hw, r->truth, path));
    if (r->test_mask) DC_TRY(put_data(f, "/map/test", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, hw, r->test_mask, path));
    if (r->rgb) { /* row bands of 64, shuffle + deflate: about a third of its raw size */
      hsize_t dims[3] = {hw[0], hw[1], 3}, chunk[3] = {hw[0] < 64 ? hw[0] : 64, hw[1], 3};
      DC_TRY(dc_h5_put_dataset(f, "/map/rgb", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, chunk, 4, r->rgb, path));
      hid_t d = H5Dopen2(f, "/map/rgb", H5P_DEFAULT);
      hsize_t three = 3;
      hid_t sp = d >= 0 ? H5Screate_simple(1, &three, NULL) : -1;
      hid_t a = sp >= 0 ? H5Acreate2(d, "rgb_bands", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
      herr_t w = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT, r->rgb_bands) : -1;
      dc_h5_close(a, H5Aclose);
      dc_h5_close(sp, H5Sclose);
      dc_h5_close(d, H5Dclose);
      if (w < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot write attribute /map/rgb rgb_bands", path);
    }
    if (r->top2) { /* the two likeliest classes of every pixel and their probabilities (x 65535) */
      hsize_t dims[3] = {hw[0], hw[1], 2}, chunk[3] = {hw[0] < 64 ? hw[0] : 64, hw[1], 2};
      DC_TRY(dc_h5_put_dataset(f, "/map/top2", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, dims, chunk, 4, r->top2, path));
      DC_TRY(dc_h5_put_dataset(f, "/map/top2_prob", H5T_STD_U16LE, H5T_NATIVE_UINT16, 3, dims, chunk, 4, r->top2_prob,
                               path));
      hid_t d = H5Dopen2(f, "/map/top2_prob", H5P_DEFAULT);
      enum dc_status sa = d >= 0 ? dc_h5_put_attr_double(d, "scale", 1.0 / 65535.0, path)
                                 : DC_ERROR(DC_ERR_HDF5, "%s: cannot open /map/top2_prob", path);
      dc_h5_close(d, H5Dclose);
      DC_TRY(sa);
    }
  }
  if (r->n_exams > 0) { /* per exam, so the AUC can be recomputed and audited */
    hsize_t ne1[1] = {(hsize_t)r->n_exams};
    DC_TRY(dc_h5_put_group(f, "/exams", path));
    DC_TRY(put_data(f, "/exams/id", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ne1, r->exam_id, path));
    DC_TRY(put_data(f, "/exams/score", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ne1, r->exam_score, path));
    DC_TRY(put_data(f, "/exams/prediction", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ne1, r->exam_pred, path));
    DC_TRY(put_data(f, "/exams/truth", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, ne1, r->exam_truth, path));
  }
  if (is_binary(r)) {
    hid_t g = H5Gcreate2(f, "/binary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group /binary", path);
    const char *keys[5] = {"accuracy", "auc", "sensitivity", "specificity", "threshold"};
    const double vals[5] = {r->accuracy, r->auc, r->sensitivity, r->specificity, r->threshold};
    for (int i = 0; i < 5 && st == DC_OK; i++) st = dc_h5_put_attr_double(g, keys[i], vals[i], path);
    H5Gclose(g);
    DC_TRY(st);
  }
  return DC_OK;
}

static enum dc_status write_file(hid_t f, const char *path, const void *ctx) { return write_contents(f, path, ctx); }

enum dc_status dc_result_write(const char *path, const struct dc_result *r) {
  DC_TRY(check_result(path, r));
  return dc_h5_write_atomic(path, write_file, r);
}

/* ---- reading ---------------------------------------------------------------------- */


/* The optional composite (H, W, 3) uint8 and its rgb_bands attribute. */
static enum dc_status read_rgb(hid_t f, const char *path, const hsize_t hw[2], struct dc_result *r) {
  hid_t d = H5Dopen2(f, "/map/rgb", H5P_DEFAULT);
  hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[3] = {0, 0, 0};
  int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 3 && H5Sget_simple_extent_dims(sp, dims, NULL) == 3 &&
           dims[0] == hw[0] && dims[1] == hw[1] && dims[2] == 3;
  dc_h5_close(sp, H5Sclose);
  if (!ok) {
    dc_h5_close(d, H5Dclose);
    return DC_ERROR(DC_ERR_IO, "%s: /map/rgb is not a (%llu, %llu, 3) image", path, (unsigned long long)hw[0],
                    (unsigned long long)hw[1]);
  }
  r->rgb = malloc((size_t)hw[0] * hw[1] * 3);
  if (!r->rgb) {
    dc_h5_close(d, H5Dclose);
    return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for /map/rgb", path);
  }
  herr_t e = H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->rgb);
  if (e >= 0 && H5Aexists(d, "rgb_bands") > 0) {
    hid_t a = H5Aopen(d, "rgb_bands", H5P_DEFAULT);
    hid_t as = a >= 0 ? H5Aget_space(a) : -1;
    e = as >= 0 && H5Sget_simple_extent_npoints(as) == 3 ? H5Aread(a, H5T_NATIVE_INT, r->rgb_bands) : -1;
    dc_h5_close(as, H5Sclose);
    dc_h5_close(a, H5Aclose);
  }
  dc_h5_close(d, H5Dclose);
  return e < 0 ? DC_ERROR(DC_ERR_IO, "%s: cannot read /map/rgb or its rgb_bands", path) : DC_OK;
}

static enum dc_status read_contents(hid_t f, const char *path, struct dc_result *r) {
  char format[64];
  int version = 0;
  DC_TRY(dc_h5_get_attr_str(f, "/", "format", format, sizeof format, path));
  if (strcmp(format, DC_RESULT_FORMAT) != 0)
    return DC_ERROR(DC_ERR_IO, "%s: format is \"%s\", \"%s\" expected", path, format, DC_RESULT_FORMAT);
  DC_TRY(dc_h5_get_attr_int(f, "/", "format_version", -2147483647L, 2147483647L, &version, path));
  if (version != DC_RESULT_VERSION)
    return DC_ERROR(DC_ERR_IO, "%s: format_version %d, this program reads %d", path, version, DC_RESULT_VERSION);
  DC_TRY(dc_h5_get_attr_str(f, "/", "dataset", r->dataset, sizeof r->dataset, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "shots", -2147483647L, 2147483647L, &r->shots, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "run", -2147483647L, 2147483647L, &r->run, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "n_classes", -2147483647L, 2147483647L, &r->n_classes, path));
  if (r->n_classes < 1 || r->n_classes > DC_RESULT_MAX_CLASSES)
    return DC_ERROR(DC_ERR_IO, "%s: n_classes %d is outside 1..%d", path, r->n_classes, DC_RESULT_MAX_CLASSES);
  DC_TRY(dc_h5_get_attr_str(f, "/", "task", r->task, sizeof r->task, path));
  if (strcmp(r->task, "classes") != 0 && !is_binary(r))
    return DC_ERROR(DC_ERR_IO, "%s: task \"%s\", \"classes\" or \"binary\" expected", path, r->task);
  DC_TRY(dc_h5_get_attr_num(f, "/", "oa", H5T_NATIVE_DOUBLE, &r->oa, path));
  DC_TRY(dc_h5_get_attr_num(f, "/", "aa", H5T_NATIVE_DOUBLE, &r->aa, path));
  DC_TRY(dc_h5_get_attr_num(f, "/", "kappa", H5T_NATIVE_DOUBLE, &r->kappa, path));
  DC_TRY(dc_h5_get_attr_num(f, "/", "n_test", H5T_NATIVE_INT64, &r->n_test, path));
  DC_TRY(dc_h5_get_attr_num(f, "/", "finetune_s", H5T_NATIVE_DOUBLE, &r->finetune_s, path));
  DC_TRY(dc_h5_get_attr_num(f, "/", "evaluate_s", H5T_NATIVE_DOUBLE, &r->evaluate_s, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "best_epoch", -2147483647L, 2147483647L, &r->best_epoch, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "config_sha256", r->config_sha256, sizeof r->config_sha256, path));
  /* written since the protocol and target were recorded; older results read as "" */
  if (H5Aexists(f, "protocol") > 0) DC_TRY(dc_h5_get_attr_str(f, "/", "protocol", r->protocol, sizeof r->protocol, path));
  if (H5Aexists(f, "target") > 0) DC_TRY(dc_h5_get_attr_str(f, "/", "target", r->target, sizeof r->target, path));
  DC_TRY(dc_h5_read_names(f, "/classes/names", r->n_classes, r->class_names[0], sizeof r->class_names[0], path));

  hsize_t c[2] = {(hsize_t)r->n_classes, (hsize_t)r->n_classes};
  void *buf;
  DC_TRY(dc_h5_read_shaped(f, "/per_class", H5T_NATIVE_DOUBLE, sizeof(double), 1, c, &buf, path));
  memcpy(r->per_class, buf, (size_t)r->n_classes * sizeof(double));
  free(buf);
  DC_TRY(dc_h5_read_shaped(f, "/confusion", H5T_NATIVE_INT64, sizeof(int64_t), 2, c, &buf, path));
  r->confusion = buf;

  if (H5Lexists(f, "/curves", H5P_DEFAULT) <= 0 || H5Lexists(f, "/curves/finetune_loss", H5P_DEFAULT) <= 0)
    return DC_ERROR(DC_ERR_IO, "%s: dataset /curves/finetune_loss is missing", path);
  hid_t ds = H5Dopen2(f, "/curves/finetune_loss", H5P_DEFAULT);
  hid_t s = ds >= 0 ? H5Dget_space(ds) : -1;
  hssize_t ne = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
  dc_h5_close(s, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  if (ne < 0 || ne > 1000000) return DC_ERROR(DC_ERR_IO, "%s: cannot read the length of /curves/finetune_loss", path);
  hsize_t e[1] = {(hsize_t)ne};
  r->n_epochs = (int)ne;
  DC_TRY(dc_h5_read_shaped(f, "/curves/finetune_loss", H5T_NATIVE_DOUBLE, sizeof(double), 1, e, &buf, path));
  r->finetune_loss = buf;
  DC_TRY(dc_h5_read_shaped(f, "/curves/val_acc", H5T_NATIVE_DOUBLE, sizeof(double), 1, e, &buf, path));
  r->val_acc = buf;

  if (H5Lexists(f, "/exams", H5P_DEFAULT) > 0) { /* optional: per-exam scores of a binary task */
    hid_t d = H5Lexists(f, "/exams/id", H5P_DEFAULT) > 0 ? H5Dopen2(f, "/exams/id", H5P_DEFAULT) : -1;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t ne1[1] = {0};
    int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, ne1, NULL) == 1 &&
             ne1[0] >= 1 && ne1[0] <= 100000000;
    dc_h5_close(sp, H5Sclose);
    dc_h5_close(d, H5Dclose);
    if (!ok) return DC_ERROR(DC_ERR_IO, "%s: /exams/id is not a non-empty list of exam ids", path);
    r->n_exams = (int)ne1[0];
    DC_TRY(dc_h5_read_shaped(f, "/exams/id", H5T_NATIVE_INT32, sizeof(int32_t), 1, ne1, &buf, path));
    r->exam_id = buf;
    DC_TRY(dc_h5_read_shaped(f, "/exams/score", H5T_NATIVE_DOUBLE, sizeof(double), 1, ne1, &buf, path));
    r->exam_score = buf;
    DC_TRY(dc_h5_read_shaped(f, "/exams/prediction", H5T_NATIVE_INT32, sizeof(int32_t), 1, ne1, &buf, path));
    r->exam_pred = buf;
    DC_TRY(dc_h5_read_shaped(f, "/exams/truth", H5T_NATIVE_INT32, sizeof(int32_t), 1, ne1, &buf, path));
    r->exam_truth = buf;
  }

  if (H5Lexists(f, "/map", H5P_DEFAULT) > 0) {
    static const char *const names[3] = {"/map/prediction", "/map/truth", "/map/test"};
    hsize_t hw[2] = {0, 0};
    for (int i = 0; i < 3; i++) { /* the grid is the shape of the first map present */
      if (H5Lexists(f, names[i], H5P_DEFAULT) <= 0) continue;
      hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
      hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
      int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, hw, NULL) == 2;
      dc_h5_close(sp, H5Sclose);
      dc_h5_close(d, H5Dclose);
      if (!ok || hw[0] < 1 || hw[1] < 1 || hw[0] > 1000000 || hw[1] > 1000000)
        return DC_ERROR(DC_ERR_IO, "%s: %s is not a non-empty (H, W) map", path, names[i]);
      break;
    }
    if (hw[0] == 0) return DC_ERROR(DC_ERR_IO, "%s: group /map holds none of prediction, truth, test", path);
    r->height = (int)hw[0];
    r->width = (int)hw[1];
    size_t n = (size_t)hw[0] * hw[1];
    if (H5Lexists(f, names[0], H5P_DEFAULT) > 0) {
      DC_TRY(dc_h5_read_shaped(f, names[0], H5T_NATIVE_INT32, sizeof(int32_t), 2, hw, &buf, path));
      r->prediction = buf;
    }
    if (H5Lexists(f, names[1], H5P_DEFAULT) > 0) {
      DC_TRY(dc_h5_read_shaped(f, names[1], H5T_NATIVE_INT32, sizeof(int32_t), 2, hw, &buf, path));
      r->truth = buf;
    }
    if (H5Lexists(f, names[2], H5P_DEFAULT) > 0) {
      DC_TRY(dc_h5_read_shaped(f, names[2], H5T_NATIVE_UINT8, sizeof(uint8_t), 2, hw, &buf, path));
      r->test_mask = buf;
    }
    if (H5Lexists(f, "/map/rgb", H5P_DEFAULT) > 0) DC_TRY(read_rgb(f, path, hw, r));
    if (H5Lexists(f, "/map/top2", H5P_DEFAULT) > 0) {
      hsize_t d3[3] = {hw[0], hw[1], 2};
      DC_TRY(dc_h5_read_shaped(f, "/map/top2", H5T_NATIVE_UINT8, 1, 3, d3, &buf, path));
      r->top2 = buf;
      DC_TRY(dc_h5_read_shaped(f, "/map/top2_prob", H5T_NATIVE_UINT16, sizeof(uint16_t), 3, d3, &buf, path));
      r->top2_prob = buf;
      for (size_t i = 0; i < 2 * n; i++)
        if (r->top2[i] > r->n_classes)
          return DC_ERROR(DC_ERR_IO, "%s: /map/top2 holds %d at pixel %zu, 0..%d expected", path, r->top2[i], i / 2,
                          r->n_classes);
    }
    for (size_t i = 0; i < n; i++) {
      if (r->prediction && (r->prediction[i] < 0 || r->prediction[i] > r->n_classes))
        return DC_ERROR(DC_ERR_IO, "%s: /map/prediction holds %d at pixel %zu, 0..%d expected", path, r->prediction[i],
                        i, r->n_classes);
      if (r->truth && (r->truth[i] < 0 || r->truth[i] > r->n_classes))
        return DC_ERROR(DC_ERR_IO, "%s: /map/truth holds %d at pixel %zu, 0..%d expected", path, r->truth[i], i,
                        r->n_classes);
    }
  }
  r->accuracy = r->auc = r->sensitivity = r->specificity = r->threshold = NAN;
  if (is_binary(r)) {
    if (H5Lexists(f, "/binary", H5P_DEFAULT) <= 0) return DC_ERROR(DC_ERR_IO, "%s: task binary but group /binary is missing", path);
    hid_t g = H5Gopen2(f, "/binary", H5P_DEFAULT);
    if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot open group /binary", path);
    const char *keys[5] = {"accuracy", "auc", "sensitivity", "specificity", "threshold"};
    double *vals[5] = {&r->accuracy, &r->auc, &r->sensitivity, &r->specificity, &r->threshold};
    enum dc_status st = DC_OK;
    for (int i = 0; i < 5 && st == DC_OK; i++) st = dc_h5_get_attr_num(g, "/binary", keys[i], H5T_NATIVE_DOUBLE, vals[i], path);
    H5Gclose(g);
    DC_TRY(st);
  }
  return DC_OK;
}

static enum dc_status read_file(hid_t f, const char *path, void *ctx) { return read_contents(f, path, ctx); }

enum dc_status dc_result_read(const char *path, struct dc_result *r) {
  memset(r, 0, sizeof *r);
  enum dc_status st = dc_h5_read_file(path, read_file, r);
  if (st != DC_OK) dc_result_free(r);
  return st;
}

void dc_result_free(struct dc_result *r) {
  free(r->confusion);
  free(r->finetune_loss);
  free(r->val_acc);
  free(r->prediction);
  free(r->truth);
  free(r->test_mask);
  free(r->rgb);
  free(r->top2);
  free(r->top2_prob);
  free(r->exam_id);
  free(r->exam_score);
  free(r->exam_pred);
  free(r->exam_truth);
  memset(r, 0, sizeof *r);
}
