/* Small, fully checked HDF5 helpers: read a whole dataset or attribute as double or
 * int64, with its shape. Every handle is closed on every path; failures name the file
 * and the object. */
#ifndef DIFFCLIP_H5UTIL_H
#define DIFFCLIP_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "diffclip/core/status.h"

#define DC_H5_MAX_DIMS 8

struct dc_h5_array {
  int ndim;
  size_t dims[DC_H5_MAX_DIMS];
  size_t n;      /* number of elements (1 for a scalar) */
  double *data;  /* malloc'd; NULL for int arrays */
  int64_t *ints; /* malloc'd; NULL for double arrays */
};

/* Opens `path` read-only with the default (serial) driver. */
enum dc_status dc_h5_open_read(const char *path, hid_t *file);
int dc_h5_exists(hid_t file, const char *object);
/* Reads a dataset converted to double (as_int = 0) or int64 (as_int = 1). */
enum dc_status dc_h5_read(hid_t file, const char *dataset, int as_int, struct dc_h5_array *out);
/* Reads a numeric scalar attribute of an object as double. */
enum dc_status dc_h5_attr_double(hid_t file, const char *object, const char *attr, double *value);
void dc_h5_array_free(struct dc_h5_array *a);

#endif
