/* Small, fully checked HDF5 helpers shared by every file kind we write (scenes, exam
 * stores, results, checkpoints): write attributes, datasets and string lists; read
 * attributes (strings fixed or variable-length, ASCII or UTF-8, as h5py writes them) and
 * whole datasets. Every handle is closed on every path; failures name the file (`path`)
 * and the object. Plain 1.10 API, so the serial program diffclip-prepare compiles it
 * against the serial HDF5 and the MPI program against the parallel one. */
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
/* "HDF5 X.Y.Z (parallel)" or "(serial)": the library linked, for provenance. */
void dc_h5_library_info(char *out, size_t cap);
int dc_h5_exists(hid_t file, const char *object);
/* Reads a dataset converted to double (as_int = 0) or int64 (as_int = 1). */
enum dc_status dc_h5_read(hid_t file, const char *dataset, int as_int, struct dc_h5_array *out);
/* Reads a numeric scalar attribute of an object as double. */
enum dc_status dc_h5_attr_double(hid_t file, const char *object, const char *attr, double *value);
void dc_h5_array_free(struct dc_h5_array *a);
/* A whole dataset of exactly `rank` (1..3) dims `want`, converted to mtype (elem bytes),
 * into a new buffer *out; a missing dataset or another shape is an error naming both. */
enum dc_status dc_h5_read_shaped(hid_t f, const char *name, hid_t mtype, size_t elem, int rank, const hsize_t *want,
                                 void **out, const char *path);
/* n variable-length strings of dataset `name` into out (n entries of `stride` bytes). */
enum dc_status dc_h5_read_names(hid_t f, const char *name, int n, char *out, size_t stride, const char *path);

/* ---- writing: on an open object `loc`; errors name it by its HDF5 path ---------------- */
void dc_h5_close(hid_t id, herr_t (*close)(hid_t)); /* close when id >= 0 */
hid_t dc_h5_vstr_type(void);                        /* variable-length UTF-8; the caller closes it */
/* A scalar attribute of file type `type` (value in that type's memory layout). */
enum dc_status dc_h5_put_attr(hid_t loc, const char *name, hid_t type, const void *value, const char *path);
enum dc_status dc_h5_put_attr_str(hid_t loc, const char *name, const char *value, const char *path);
/* The attributes "program_version" (this build's) and "created_utc" (now, ISO 8601, or
 * "unknown" when the clock cannot be read) that every file diffclip writes carries. */
enum dc_status dc_h5_put_made_by(hid_t loc, const char *path);
enum dc_status dc_h5_put_attr_int(hid_t loc, const char *name, int value, const char *path);
enum dc_status dc_h5_put_attr_double(hid_t loc, const char *name, double value, const char *path);
/* Dataset `name` under loc; chunk NULL: contiguous, else chunked, shuffled and deflated
 * at `deflate` (1..9). */
enum dc_status dc_h5_put_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                                 const hsize_t *dims, const hsize_t *chunk, int deflate, const void *data,
                                 const char *path);
/* A 1-D dataset of n variable-length UTF-8 strings. */
enum dc_status dc_h5_put_strings(hid_t loc, const char *name, int n, const char *const *v, const char *path);
enum dc_status dc_h5_put_group(hid_t loc, const char *name, const char *path);

/* ---- reading: attribute `name` of the object at `obj` (resolved against loc) ---------- */
/* A scalar string attribute as a malloc'd string. */
enum dc_status dc_h5_get_attr_strdup(hid_t loc, const char *obj, const char *name, char **out, const char *path);
/* The same into buf[cap]: longer is an error. */
enum dc_status dc_h5_get_attr_str(hid_t loc, const char *obj, const char *name, char *buf, size_t cap,
                                  const char *path);
/* A scalar numeric attribute converted to the memory type `mtype`. */
enum dc_status dc_h5_get_attr_num(hid_t loc, const char *obj, const char *name, hid_t mtype, void *value,
                                  const char *path);
/* An integer attribute in lo..hi. */
enum dc_status dc_h5_get_attr_int(hid_t loc, const char *obj, const char *name, long lo, long hi, int *value,
                                  const char *path);

/* ---- whole files -------------------------------------------------------------------- */
typedef enum dc_status (*dc_h5_writer)(hid_t file, const char *path, const void *ctx);
typedef enum dc_status (*dc_h5_reader)(hid_t file, const char *path, void *ctx);
/* Creates "<path>.tmp.<pid>", lets `write` fill it, closes it and renames it over path; on
 * any failure the temporary file is removed and an existing path is left as it was. */
enum dc_status dc_h5_write_atomic(const char *path, dc_h5_writer write, const void *ctx);
/* Opens path read-only (HDF5's own messages off) and lets `read` read it. */
enum dc_status dc_h5_read_file(const char *path, dc_h5_reader read, void *ctx);

#endif
