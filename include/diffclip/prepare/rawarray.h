/* What every raw-data reader returns: a dense array in C (row-major) order, converted to
 * float32 (cubes, volumes) or int32 (label rasters), with its logical shape.
 *
 * Readers (pure C, src/prepare/): NumPy .npy (npy.c), label CSVs (csvlabels.c), ENVI ROI
 * ASCII exports (envi_roi.c).
 * Readers that need matio or GDAL live in src/prepare/ (the serial ingestion program),
 * because both libraries link the serial HDF5, which the MPI program must never load.
 * Every reader names the file, the variable or key and the expectation when it fails. */
#ifndef DIFFCLIP_RAWARRAY_H
#define DIFFCLIP_RAWARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/core/status.h"

#define DC_ARRAY_MAX_DIMS 8

enum dc_elem { DC_ELEM_F32 = 0, DC_ELEM_I32 = 1 };

struct dc_array {
  int ndim;
  size_t dims[DC_ARRAY_MAX_DIMS]; /* logical shape; the data is row-major over it */
  size_t n;                       /* number of elements */
  enum dc_elem elem;
  float *f32;                     /* (n) when elem == DC_ELEM_F32, else NULL */
  int32_t *i32;                   /* (n) when elem == DC_ELEM_I32, else NULL */
  char src_type[16];              /* the stored element type, for messages ("uint16") */
};

void dc_array_free(struct dc_array *a);
/* "166 x 600 x 2" into buf (for messages). */
const char *dc_array_shape_str(const struct dc_array *a, char *buf, size_t len);

/* Element converters shared by the readers. A value that does not fit the target is an
 * error: an integer target needs an integral, finite value within int32. `what` names the
 * file and variable in the message; index is the element's position in row-major order. */
enum dc_status dc_array_put_f64(struct dc_array *a, size_t index, double v, const char *what);
enum dc_status dc_array_put_i64(struct dc_array *a, size_t index, int64_t v, const char *what);
enum dc_status dc_array_put_u64(struct dc_array *a, size_t index, uint64_t v, const char *what);
/* Allocates a->f32 or a->i32 for a->n elements (a->dims/ndim/n set by the caller). */
enum dc_status dc_array_alloc(struct dc_array *a, enum dc_elem elem, const char *what);
/* Turns a column-major (Fortran/MATLAB) buffer already stored in `a` into row-major order
 * over the same logical shape. */
enum dc_status dc_array_fortran_to_c(struct dc_array *a, const char *what);

/* ---- NumPy .npy: format 1.0, 2.0, 3.0; '<' '>' '|' '=' byte orders; C or Fortran order;
 * b1, i1, u1, i2, u2, i4, u4, i8, u8, f2 (no), f4, f8. ------------------------------- */
struct dc_npy_header {
  int major, minor;
  char descr[16];     /* as written, e.g. "<f4" */
  char kind;          /* 'b' bool, 'i' signed, 'u' unsigned, 'f' float */
  int item_size;      /* bytes */
  int big_endian;
  int fortran_order;
  int ndim;
  size_t dims[DC_ARRAY_MAX_DIMS];
  size_t n;
  size_t data_offset; /* bytes from the start of the file */
};

/* Parses and validates the header, including that the file holds all n items. */
enum dc_status dc_npy_read_header(const char *path, struct dc_npy_header *h);
/* Reads the whole array, converted to `want`, in C order. */
enum dc_status dc_npy_read(const char *path, enum dc_elem want, struct dc_array *out);

/* ---- MRNet label CSV: lines "exam_id,label" (an optional header line is skipped). ---- */
struct dc_label_csv {
  int n;
  int *ids;    /* (n) exam numbers, as in the file ("0007" -> 7) */
  int *labels; /* (n) 0 or 1 */
};
enum dc_status dc_label_csv_read(const char *path, struct dc_label_csv *out);
void dc_label_csv_free(struct dc_label_csv *c);

/* ---- ENVI ROI ASCII exports (the GRSS DFC 2013 samples) ------------------------------
 * Rasterises the ROIs' points onto a height x width int32 grid: `unlabelled` where no ROI
 * has a point, first_class + k on the points of an ROI of class k. ROIs are matched to the
 * n_classes names by name (compared without case, spaces and punctuation) or, with
 * by_order, ROI i is class i. The file's "File Dimension" must be width x height; points
 * outside the grid, counts that differ from "ROI npts", a pixel in two classes and an
 * export without X/Y pixel columns are errors naming the file and line. */
enum dc_status dc_envi_roi_read(const char *path, long height, long width, int n_classes,
                                const char *const *class_names, int by_order, long unlabelled, long first_class,
                                struct dc_array *out);

#endif
