/* Checked HDF5 read helpers (see h5util.h). */
#include "diffclip/io/h5util.h"

#include <stdlib.h>
#include <string.h>

static char g_file_name[512];

enum dc_status dc_h5_open_read(const char *path, hid_t *file) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*file < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing or not an HDF5 file)", path);
  snprintf(g_file_name, sizeof g_file_name, "%s", path);
  return DC_OK;
}

int dc_h5_exists(hid_t file, const char *object) {
  /* H5Lexists needs every intermediate group to exist: walk the path. */
  char buf[512];
  snprintf(buf, sizeof buf, "%s", object);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return 0;
    *p = '/';
  }
  return H5Lexists(file, buf, H5P_DEFAULT) > 0;
}

enum dc_status dc_h5_read(hid_t file, const char *dataset, int as_int, struct dc_h5_array *out) {
  memset(out, 0, sizeof *out);
  if (!dc_h5_exists(file, dataset))
    return DC_ERROR(DC_ERR_IO, "%s: dataset %s is missing", g_file_name, dataset);
  enum dc_status st = DC_OK;
  hid_t ds = H5Dopen2(file, dataset, H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  int ndim = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (ds < 0 || space < 0 || ndim < 0 || ndim > DC_H5_MAX_DIMS) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read the shape of %s", g_file_name, dataset);
    goto done;
  }
  hsize_t dims[DC_H5_MAX_DIMS];
  H5Sget_simple_extent_dims(space, dims, NULL);
  out->ndim = ndim;
  out->n = 1;
  for (int i = 0; i < ndim; i++) {
    out->dims[i] = (size_t)dims[i];
    out->n *= (size_t)dims[i];
  }
  void *buf = malloc(out->n ? out->n * 8 : 8);
  if (!buf) {
    st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", g_file_name, dataset);
    goto done;
  }
  if (H5Dread(ds, as_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    free(buf);
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read %s as %s", g_file_name, dataset, as_int ? "integers" : "numbers");
    goto done;
  }
  if (as_int)
    out->ints = buf;
  else
    out->data = buf;
done:
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  return st;
}

enum dc_status dc_h5_attr_double(hid_t file, const char *object, const char *attr, double *value) {
  if (H5Aexists_by_name(file, object, attr, H5P_DEFAULT) <= 0)
    return DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s is missing", g_file_name, attr, object);
  hid_t a = H5Aopen_by_name(file, object, attr, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot open attribute %s of %s", g_file_name, attr, object);
  herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, value);
  H5Aclose(a);
  if (rc < 0) return DC_ERROR(DC_ERR_HDF5, "%s: attribute %s of %s is not numeric", g_file_name, attr, object);
  return DC_OK;
}

void dc_h5_array_free(struct dc_h5_array *a) {
  free(a->data);
  free(a->ints);
  memset(a, 0, sizeof *a);
}
