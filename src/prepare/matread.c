/* MATLAB files through matio (readers.h). MATLAB stores arrays column-major: element
 * (i, j, k) of an H x W x C array is at i + H * (j + W * k). We read in that order and then
 * reorder to row-major (H, W, C), so out[(i * W + j) * C + k] is MATLAB's A(i+1, j+1, k+1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <matio.h>

#include "prepare/readers.h"

static char g_matio_msg[512];
static int g_matio_failed; /* matio reported an error while reading (it may still return data) */

/* matio's log levels: 1 error, 2 critical, 4 warning, 8 message, 16 debug. A corrupt zlib
 * stream is only reported here ("inflate returned data error"); the read itself succeeds. */
static void matio_log(int level, char *message) {
  if (level <= 2) g_matio_failed = 1;
  snprintf(g_matio_msg, sizeof g_matio_msg, "%s", message ? message : "");
  dc_log(DC_LOG_DEBUG, "matio: %s", g_matio_msg);
}

void dc_prepare_mat_init(void) { Mat_LogInitFunc("diffclip-prepare", matio_log); }

static const char *class_name(const matvar_t *v) {
  static const char *const names[] = {"empty",  "cell",   "struct", "object", "char",   "sparse",
                                      "double", "single", "int8",   "uint8",  "int16",  "uint16",
                                      "int32",  "uint32", "int64",  "uint64", "function", "opaque"};
  unsigned c = (unsigned)v->class_type;
  return c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

/* "A, B" (the file's variables) for messages; returns 1 when `want` is one of them. */
static int list_variables(const char *path, const char *want, char *buf, size_t len) {
  buf[0] = '\0';
  mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
  if (!mat) return 0;
  size_t used = 0;
  int found = 0;
  matvar_t *v;
  while ((v = Mat_VarReadNextInfo(mat)) != NULL) {
    if (v->name && strcmp(v->name, want) == 0) found = 1;
    if (used < len) {
      int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", v->name ? v->name : "?");
      if (w > 0) used += (size_t)w;
    }
    Mat_VarFree(v);
  }
  Mat_Close(mat);
  return found;
}

static void list_fields(matvar_t *st, char *buf, size_t len) {
  buf[0] = '\0';
  unsigned n = Mat_VarGetNumberOfFields(st);
  char *const *names = Mat_VarGetStructFieldnames(st);
  size_t used = 0;
  for (unsigned i = 0; names && i < n && used < len; i++) {
    int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
    if (w > 0) used += (size_t)w;
  }
}

static size_t n_elems(const matvar_t *v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; i++) n *= v->dims[i];
  return n;
}

/* Follows ".field", "{k}", "(k)" from the top-level variable; returns the target (owned by
 * top) or NULL after logging what was missing. */
static matvar_t *walk(const char *path, const char *variable, matvar_t *top, const char *rest) {
  matvar_t *cur = top;
  size_t index = 0; /* pending struct-array element */
  while (*rest) {
    if (*rest == '.') {
      char field[128];
      size_t k = 0;
      rest++;
      while (*rest && *rest != '.' && *rest != '{' && *rest != '(' && k + 1 < sizeof field) field[k++] = *rest++;
      field[k] = '\0';
      if (cur->class_type != MAT_C_STRUCT) {
        DC_ERROR(DC_ERR_IO, "%s: variable '%s': '.%s' applied to a value of class %s; expected a struct", path, variable,
                 field, class_name(cur));
        return NULL;
      }
      matvar_t *next = Mat_VarGetStructFieldByName(cur, field, index);
      if (!next) {
        char fields[256];
        list_fields(cur, fields, sizeof fields);
        DC_ERROR(DC_ERR_IO, "%s: variable '%s': no field '%s' (the struct has: %s)", path, variable, field, fields);
        return NULL;
      }
      cur = next;
      index = 0;
    } else if (*rest == '{' || *rest == '(') {
      char close = *rest == '{' ? '}' : ')';
      char *end;
      long k = strtol(rest + 1, &end, 10);
      if (*end != close || k < 1) {
        DC_ERROR(DC_ERR_ARG, "%s: variable path '%s': expected a 1-based index such as {1}", path, variable);
        return NULL;
      }
      rest = end + 1;
      size_t n = n_elems(cur);
      if ((size_t)k > n || (cur->class_type != MAT_C_CELL && cur->class_type != MAT_C_STRUCT)) {
        DC_ERROR(DC_ERR_IO,
                 "%s: variable '%s': index %ld into a value of class %s with %zu elements; expected a cell or struct "
                 "array with that element",
                 path, variable, k, class_name(cur), n);
        return NULL;
      }
      if (cur->class_type == MAT_C_CELL) {
        matvar_t *next = Mat_VarGetCell(cur, (int)(k - 1));
        if (!next) {
          DC_ERROR(DC_ERR_IO, "%s: variable '%s': cell element %ld is unreadable", path, variable, k);
          return NULL;
        }
        cur = next;
      } else {
        index = (size_t)(k - 1);
      }
    } else {
      DC_ERROR(DC_ERR_ARG, "%s: variable path '%s': unexpected '%c'; expected .field, {k} or (k)", path, variable, *rest);
      return NULL;
    }
  }
  return cur;
}

static enum dc_status convert(const char *what, const matvar_t *v, struct dc_array *out) {
  const void *d = v->data;
  size_t n = out->n;
  if (!d && n > 0) return DC_ERROR(DC_ERR_IO, "%s: no data (truncated or corrupt file?)", what);
  if (out->elem == DC_ELEM_F32 && v->data_type == MAT_T_SINGLE) {
    memcpy(out->f32, d, n * sizeof(float));
    return DC_OK;
  }
  if (out->elem == DC_ELEM_F32 && v->data_type == MAT_T_DOUBLE) {
    for (size_t i = 0; i < n; i++) out->f32[i] = (float)((const double *)d)[i];
    return DC_OK;
  }
  for (size_t i = 0; i < n; i++) {
    enum dc_status st;
    switch (v->data_type) {
      case MAT_T_DOUBLE: st = dc_array_put_f64(out, i, ((const double *)d)[i], what); break;
      case MAT_T_SINGLE: st = dc_array_put_f64(out, i, ((const float *)d)[i], what); break;
      case MAT_T_INT8: st = dc_array_put_i64(out, i, ((const int8_t *)d)[i], what); break;
      case MAT_T_UINT8: st = dc_array_put_i64(out, i, ((const uint8_t *)d)[i], what); break;
      case MAT_T_INT16: st = dc_array_put_i64(out, i, ((const int16_t *)d)[i], what); break;
      case MAT_T_UINT16: st = dc_array_put_i64(out, i, ((const uint16_t *)d)[i], what); break;
      case MAT_T_INT32: st = dc_array_put_i64(out, i, ((const int32_t *)d)[i], what); break;
      case MAT_T_UINT32: st = dc_array_put_i64(out, i, ((const uint32_t *)d)[i], what); break;
      case MAT_T_INT64: st = dc_array_put_i64(out, i, ((const int64_t *)d)[i], what); break;
      case MAT_T_UINT64: st = dc_array_put_u64(out, i, ((const uint64_t *)d)[i], what); break;
      default: return DC_ERROR(DC_ERR_IO, "%s: stored element type %d is not numeric", what, (int)v->data_type);
    }
    if (st != DC_OK) return st;
  }
  return DC_OK;
}

static uint32_t get_u32(const unsigned char *b, int swap) {
  return swap ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
              : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* matio reads a truncated uncompressed v5 file without complaint (the missing tail comes
 * back as whatever was in the buffer), so the top-level element tags of a v5 file are
 * walked first: each element must end within the file. v7.3 (HDF5) and v4 files are left
 * to matio and HDF5, which detect truncation themselves. */
static enum dc_status check_v5_elements(const char *path, const char *variable) {
  FILE *f = fopen(path, "rb");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  unsigned char hdr[128];
  enum dc_status st = DC_OK;
  if (fread(hdr, 1, 128, f) == 128 && (hdr[126] == 'I' || hdr[126] == 'M') && hdr[125] <= 1 && hdr[124] <= 1 &&
      !(hdr[124] == 0 && hdr[125] == 2) && (hdr[124] | hdr[125]) != 0) {
    int swap = hdr[126] == 'M'; /* "MI": written big-endian */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long off = 128;
    while (off + 8 <= size) {
      unsigned char tag[8];
      fseek(f, off, SEEK_SET);
      if (fread(tag, 1, 8, f) != 8) break;
      uint32_t type = get_u32(tag, swap), nbytes = get_u32(tag + 4, swap);
      if (type >> 16) { /* small data element: tag and data in 8 bytes */
        off += 8;
        continue;
      }
      long end = off + 8 + (long)nbytes;
      if (end > size) {
        st = DC_ERROR(DC_ERR_IO,
                      "%s: truncated while looking for variable '%s': the element at byte %ld declares %u bytes, so "
                      "expected at least %ld bytes, but the file has %ld",
                      path, variable, off, nbytes, end, size);
        break;
      }
      off = type == 15 ? end : off + 8 + ((long)nbytes + 7) / 8 * 8; /* miCOMPRESSED is not padded */
    }
  }
  fclose(f);
  return st;
}

enum dc_status dc_mat_read(const char *path, const char *variable, enum dc_elem want, struct dc_array *out) {
  memset(out, 0, sizeof *out);
  char top[128];
  size_t k = strcspn(variable, ".{(");
  if (k == 0 || k >= sizeof top) return DC_ERROR(DC_ERR_ARG, "%s: bad variable path '%s'", path, variable);
  memcpy(top, variable, k);
  top[k] = '\0';
  if (access(path, R_OK) != 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  DC_TRY(check_v5_elements(path, variable));
  g_matio_msg[0] = '\0';
  g_matio_failed = 0;
  mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
  if (!mat)
    return DC_ERROR(DC_ERR_IO,
                    "%s: not a readable MATLAB file (looking for variable '%s'; v5/v7 or v7.3 expected; corrupt "
                    "header?)%s%s%s",
                    path, variable, g_matio_msg[0] ? " [matio: " : "", g_matio_msg, g_matio_msg[0] ? "]" : "");
  matvar_t *var = Mat_VarRead(mat, top);
  Mat_Close(mat);
  if (!var) {
    char names[512];
    if (list_variables(path, top, names, sizeof names))
      return DC_ERROR(DC_ERR_IO, "%s: variable '%s' cannot be read (truncated or corrupt file?)%s%s%s", path, top,
                      g_matio_msg[0] ? " [matio: " : "", g_matio_msg, g_matio_msg[0] ? "]" : "");
    if (!names[0])
      return DC_ERROR(DC_ERR_IO, "%s: variable '%s' cannot be read and no variable can be listed (truncated or corrupt file?)",
                      path, top);
    return DC_ERROR(DC_ERR_IO, "%s: no variable '%s'; the file has: %s", path, top, names);
  }
  enum dc_status st = DC_OK;
  char what[1200];
  snprintf(what, sizeof what, "%s: variable '%s'", path, variable);
  if (g_matio_failed) {
    Mat_VarFree(var);
    return DC_ERROR(DC_ERR_IO, "%s: the data cannot be decoded (corrupt file?) [matio: %s]", what, g_matio_msg);
  }
  const matvar_t *v = walk(path, variable, var, variable + k);
  if (!v) {
    st = DC_ERR_IO;
  } else if (v->class_type < MAT_C_DOUBLE || v->class_type > MAT_C_UINT64) {
    st = DC_ERROR(DC_ERR_IO, "%s is of class %s; expected a numeric array", what, class_name(v));
  } else if (v->isComplex) {
    st = DC_ERROR(DC_ERR_IO, "%s is complex; expected real values", what);
  } else if (v->rank < 1 || v->rank > DC_ARRAY_MAX_DIMS) {
    st = DC_ERROR(DC_ERR_IO, "%s has %d dimensions; expected 1..%d", what, v->rank, DC_ARRAY_MAX_DIMS);
  } else {
    out->ndim = v->rank;
    out->n = n_elems(v);
    for (int i = 0; i < v->rank; i++) out->dims[i] = v->dims[i];
    snprintf(out->src_type, sizeof out->src_type, "%s%s", v->isLogical ? "logical/" : "", class_name(v));
    if (v->data_size <= 0 || v->nbytes < out->n * (size_t)v->data_size)
      st = DC_ERROR(DC_ERR_IO, "%s: %zu bytes of data for %zu elements of %d bytes (truncated or corrupt file?)", what,
                    v->nbytes, out->n, v->data_size);
    if (st == DC_OK) st = dc_array_alloc(out, want, what);
    if (st == DC_OK) st = convert(what, v, out);
    if (st == DC_OK) st = dc_array_fortran_to_c(out, what);
  }
  Mat_VarFree(var);
  if (st != DC_OK) dc_array_free(out);
  return st;
}
