/* The reader result type (rawarray.h): allocation, checked element conversion and the
 * column-major to row-major reordering shared by the NumPy, MATLAB and GDAL readers. */
#include "diffclip/prepare/rawarray.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dc_array_free(struct dc_array *a) {
  if (!a) return;
  free(a->f32);
  free(a->i32);
  a->f32 = NULL;
  a->i32 = NULL;
}

const char *dc_array_shape_str(const struct dc_array *a, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  if (a->ndim == 0) snprintf(buf, len, "scalar");
  for (int i = 0; i < a->ndim && used < len; i++) {
    int w = snprintf(buf + used, len - used, "%s%zu", i ? " x " : "", a->dims[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

enum dc_status dc_array_alloc(struct dc_array *a, enum dc_elem elem, const char *what) {
  a->elem = elem;
  size_t bytes = (a->n ? a->n : 1) * 4;
  if (elem == DC_ELEM_F32)
    a->f32 = malloc(bytes);
  else
    a->i32 = malloc(bytes);
  if (!a->f32 && !a->i32)
    return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %zu elements", what, a->n);
  return DC_OK;
}

enum dc_status dc_array_put_f64(struct dc_array *a, size_t index, double v, const char *what) {
  if (a->elem == DC_ELEM_F32) {
    a->f32[index] = (float)v;
    return DC_OK;
  }
  if (!isfinite(v) || v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
    return DC_ERROR(DC_ERR_IO, "%s: element %zu (in file order) is %g; expected an integer label value",
                    what, index, v);
  a->i32[index] = (int32_t)v;
  return DC_OK;
}

enum dc_status dc_array_put_i64(struct dc_array *a, size_t index, int64_t v, const char *what) {
  if (a->elem == DC_ELEM_F32) {
    a->f32[index] = (float)v;
    return DC_OK;
  }
  if (v < INT32_MIN || v > INT32_MAX)
    return DC_ERROR(DC_ERR_IO, "%s: element %zu (in file order) is %lld; expected a value within int32",
                    what, index, (long long)v);
  a->i32[index] = (int32_t)v;
  return DC_OK;
}

enum dc_status dc_array_put_u64(struct dc_array *a, size_t index, uint64_t v, const char *what) {
  if (v > (uint64_t)INT64_MAX) {
    if (a->elem == DC_ELEM_F32) {
      a->f32[index] = (float)v;
      return DC_OK;
    }
    return DC_ERROR(DC_ERR_IO, "%s: element %zu (in file order) is %llu; expected a value within int32",
                    what, index, (unsigned long long)v);
  }
  return dc_array_put_i64(a, index, (int64_t)v, what);
}

enum dc_status dc_array_fortran_to_c(struct dc_array *a, const char *what) {
  if (a->ndim < 2 || a->n == 0) return DC_OK;
  size_t cstride[DC_ARRAY_MAX_DIMS];
  cstride[a->ndim - 1] = 1;
  for (int d = a->ndim - 2; d >= 0; d--) cstride[d] = cstride[d + 1] * a->dims[d + 1];
  void *src = a->elem == DC_ELEM_F32 ? (void *)a->f32 : (void *)a->i32;
  uint32_t *in = src; /* both element types are 4 bytes: move them as words */
  uint32_t *out = malloc(a->n * 4);
  if (!out) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory to reorder %zu elements", what, a->n);
  size_t idx[DC_ARRAY_MAX_DIMS] = {0};
  size_t c = 0;
  for (size_t f = 0; f < a->n; f++) {
    out[c] = in[f];
    /* odometer over the Fortran order: dimension 0 runs fastest */
    for (int d = 0; d < a->ndim; d++) {
      idx[d]++;
      c += cstride[d];
      if (idx[d] < a->dims[d]) break;
      c -= cstride[d] * idx[d];
      idx[d] = 0;
    }
  }
  free(src);
  if (a->elem == DC_ELEM_F32)
    a->f32 = (float *)out;
  else
    a->i32 = (int32_t *)out;
  return DC_OK;
}
