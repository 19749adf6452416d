/* The prediction file (see prediction.h): written through a temporary name and a rename;
 * the reader checks every shape and range before it returns. */
#include "diffclip/io/prediction.h"

#include "diffclip/io/h5util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum dc_status check(const char *path, const struct dc_prediction *p) {
  if (p->height < 1 || p->width < 1 || p->n_classes < 1 || p->n_classes > DC_RESULT_MAX_CLASSES)
    return DC_ERROR(DC_ERR_ARG, "%s: a %d x %d map of %d classes (1..%d expected)", path, p->height, p->width,
                    p->n_classes, DC_RESULT_MAX_CLASSES);
  if (!p->prediction || !p->top2 || !p->top2_prob)
    return DC_ERROR(DC_ERR_ARG, "%s: the prediction needs its class map and its top-2 classes", path);
  size_t n = (size_t)p->height * p->width;
  for (size_t i = 0; i < n; i++)
    if (p->prediction[i] < 1 || p->prediction[i] > p->n_classes || p->top2[2 * i] > p->n_classes ||
        p->top2[2 * i + 1] > p->n_classes)
      return DC_ERROR(DC_ERR_ARG, "%s: pixel %zu has class %d (top-2 %d, %d), 1..%d expected", path, i,
                      p->prediction[i], p->top2[2 * i], p->top2[2 * i + 1], p->n_classes);
  return DC_OK;
}

static enum dc_status write_contents(hid_t f, const char *path, const struct dc_prediction *p) {
  DC_TRY(dc_h5_put_attr_str(f, "format", DC_PREDICTION_FORMAT, path));
  DC_TRY(dc_h5_put_attr_int(f, "format_version", DC_PREDICTION_VERSION, path));
  DC_TRY(dc_h5_put_attr_str(f, "scene", p->scene, path));
  DC_TRY(dc_h5_put_attr_str(f, "scene_file", p->scene_file, path));
  DC_TRY(dc_h5_put_attr_str(f, "checkpoint", p->checkpoint, path));
  DC_TRY(dc_h5_put_attr_str(f, "config_sha256", p->config_sha256, path));
  DC_TRY(dc_h5_put_attr_int(f, "n_classes", p->n_classes, path));
  DC_TRY(dc_h5_put_attr_int(f, "height", p->height, path));
  DC_TRY(dc_h5_put_attr_int(f, "width", p->width, path));
  DC_TRY(dc_h5_put_made_by(f, path));
  const char *names[DC_RESULT_MAX_CLASSES];
  for (int k = 0; k < p->n_classes; k++) names[k] = p->class_names[k];
  DC_TRY(dc_h5_put_group(f, "/classes", path));
  DC_TRY(dc_h5_put_strings(f, "/classes/names", p->n_classes, names, path));
  hsize_t H = (hsize_t)p->height, W = (hsize_t)p->width, band = H < 64 ? H : 64;
  hsize_t d2[2] = {H, W}, c2[2] = {band, W}, d3[3] = {H, W, 2}, c3[3] = {band, W, 2};
  DC_TRY(dc_h5_put_group(f, "/map", path));
  DC_TRY(dc_h5_put_dataset(f, "/map/prediction", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, d2, c2, 4, p->prediction, path));
  DC_TRY(dc_h5_put_dataset(f, "/map/top2", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, d3, c3, 4, p->top2, path));
  DC_TRY(dc_h5_put_dataset(f, "/map/top2_prob", H5T_STD_U16LE, H5T_NATIVE_UINT16, 3, d3, c3, 4, p->top2_prob, path));
  hid_t d = H5Dopen2(f, "/map/top2_prob", H5P_DEFAULT);
  enum dc_status st = d >= 0 ? dc_h5_put_attr_double(d, "scale", 1.0 / 65535.0, path)
                             : DC_ERROR(DC_ERR_HDF5, "%s: cannot open /map/top2_prob", path);
  dc_h5_close(d, H5Dclose);
  DC_TRY(st);
  if (p->probability) {
    hsize_t dp[3] = {H, W, (hsize_t)p->n_classes}, cp[3] = {band, W, (hsize_t)p->n_classes};
    DC_TRY(dc_h5_put_dataset(f, "/map/probability", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dp, cp, 4, p->probability,
                             path));
  }
  if (p->has_geo || p->crs_wkt) { /* as the scene file keeps it */
    hsize_t six = 6;
    DC_TRY(dc_h5_put_group(f, "/geo", path));
    if (p->has_geo)
      DC_TRY(dc_h5_put_dataset(f, "/geo/geotransform", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &six, NULL, 0,
                               p->geotransform, path));
    if (p->crs_wkt) {
      hid_t g = H5Gopen2(f, "/geo", H5P_DEFAULT);
      st = g >= 0 ? dc_h5_put_attr_str(g, "crs_wkt", p->crs_wkt, path) : DC_ERROR(DC_ERR_HDF5, "%s: cannot open /geo", path);
      dc_h5_close(g, H5Gclose);
      DC_TRY(st);
    }
  }
  return DC_OK;
}

static enum dc_status write_file(hid_t f, const char *path, const void *ctx) { return write_contents(f, path, ctx); }

enum dc_status dc_prediction_write(const char *path, const struct dc_prediction *p) {
  DC_TRY(check(path, p));
  return dc_h5_write_atomic(path, write_file, p);
}

static enum dc_status read_contents(hid_t f, const char *path, struct dc_prediction *p) {
  char format[64];
  int version = 0;
  DC_TRY(dc_h5_get_attr_str(f, "/", "format", format, sizeof format, path));
  if (strcmp(format, DC_PREDICTION_FORMAT) != 0)
    return DC_ERROR(DC_ERR_IO, "%s: format \"%s\", \"%s\" expected", path, format, DC_PREDICTION_FORMAT);
  DC_TRY(dc_h5_get_attr_int(f, "/", "format_version", 1, 1000, &version, path));
  if (version > DC_PREDICTION_VERSION)
    return DC_ERROR(DC_ERR_IO, "%s: format version %d is newer than this program reads (%d)", path, version,
                    DC_PREDICTION_VERSION);
  DC_TRY(dc_h5_get_attr_str(f, "/", "scene", p->scene, sizeof p->scene, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "scene_file", p->scene_file, sizeof p->scene_file, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "checkpoint", p->checkpoint, sizeof p->checkpoint, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "config_sha256", p->config_sha256, sizeof p->config_sha256, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "program_version", p->program_version, sizeof p->program_version, path));
  DC_TRY(dc_h5_get_attr_str(f, "/", "created_utc", p->created_utc, sizeof p->created_utc, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "n_classes", 1, DC_RESULT_MAX_CLASSES, &p->n_classes, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "height", 1, 1000000, &p->height, path));
  DC_TRY(dc_h5_get_attr_int(f, "/", "width", 1, 1000000, &p->width, path));
  DC_TRY(dc_h5_read_names(f, "/classes/names", p->n_classes, p->class_names[0], sizeof p->class_names[0], path));
  hsize_t H = (hsize_t)p->height, W = (hsize_t)p->width, d2[2] = {H, W}, d3[3] = {H, W, 2};
  hsize_t dp[3] = {H, W, (hsize_t)p->n_classes};
  void *buf;
  DC_TRY(dc_h5_read_shaped(f, "/map/prediction", H5T_NATIVE_UINT8, 1, 2, d2, &buf, path));
  p->prediction = buf;
  DC_TRY(dc_h5_read_shaped(f, "/map/top2", H5T_NATIVE_UINT8, 1, 3, d3, &buf, path));
  p->top2 = buf;
  DC_TRY(dc_h5_read_shaped(f, "/map/top2_prob", H5T_NATIVE_UINT16, sizeof(uint16_t), 3, d3, &buf, path));
  p->top2_prob = buf;
  if (dc_h5_exists(f, "/map/probability")) {
    DC_TRY(dc_h5_read_shaped(f, "/map/probability", H5T_NATIVE_FLOAT, sizeof(float), 3, dp, &buf, path));
    p->probability = buf;
    size_t n = (size_t)H * W * p->n_classes;
    for (size_t i = 0; i < n; i++)
      if (!(p->probability[i] >= 0.0f && p->probability[i] <= 1.0f))
        return DC_ERROR(DC_ERR_IO, "%s: /map/probability holds %g at pixel %zu, class %zu: [0, 1] expected", path,
                        (double)p->probability[i], i / (size_t)p->n_classes, i % (size_t)p->n_classes + 1);
  }
  if (dc_h5_exists(f, "/geo") && dc_h5_exists(f, "/geo/geotransform")) {
    hsize_t six = 6;
    DC_TRY(dc_h5_read_shaped(f, "/geo/geotransform", H5T_NATIVE_DOUBLE, sizeof(double), 1, &six, &buf, path));
    memcpy(p->geotransform, buf, sizeof p->geotransform);
    free(buf);
    p->has_geo = 1;
  }
  if (dc_h5_exists(f, "/geo") && H5Aexists_by_name(f, "/geo", "crs_wkt", H5P_DEFAULT) > 0)
    DC_TRY(dc_h5_get_attr_strdup(f, "/geo", "crs_wkt", &p->crs_wkt, path));
  return check(path, p) == DC_OK ? DC_OK : DC_ERROR(DC_ERR_IO, "%s: a class outside 1..%d in its maps", path, p->n_classes);
}

static enum dc_status read_file(hid_t f, const char *path, void *ctx) { return read_contents(f, path, ctx); }

enum dc_status dc_prediction_read(const char *path, struct dc_prediction *p) {
  memset(p, 0, sizeof *p);
  enum dc_status st = dc_h5_read_file(path, read_file, p);
  if (st != DC_OK) dc_prediction_free(p);
  return st;
}

void dc_prediction_free(struct dc_prediction *p) {
  free(p->prediction);
  free(p->probability);
  free(p->top2);
  free(p->top2_prob);
  free(p->crs_wkt);
  memset(p, 0, sizeof *p);
}
