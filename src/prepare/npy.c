/* NumPy .npy reader, written from the format description (numpy/lib/format.py docs):
 * "\x93NUMPY", major, minor, a little-endian header length (2 bytes in 1.0, 4 in 2.0 and
 * 3.0), then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
 * (ASCII; UTF-8 in 3.0), then the raw items. We accept simple numeric dtypes only. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/prepare/rawarray.h"

#define NPY_MAX_HEADER (1u << 20)

static int host_big_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 0;
}

static const char *skip_ws(const char *p) {
  while (*p && isspace((unsigned char)*p)) p++;
  return p;
}

/* A quoted Python string ('x' or "x") into out; returns the char after it, NULL if bad. */
static const char *parse_str(const char *p, char *out, size_t len) {
  char q = *p;
  if (q != '\'' && q != '"') return NULL;
  const char *e = strchr(p + 1, q);
  if (!e || (size_t)(e - p - 1) >= len) return NULL;
  memcpy(out, p + 1, (size_t)(e - p - 1));
  out[e - p - 1] = '\0';
  return e + 1;
}

static enum dc_status bad_header(const char *path, const char *what) {
  return DC_ERROR(DC_ERR_IO, "%s: malformed .npy header: %s", path, what);
}

static enum dc_status parse_dict(const char *path, const char *text, struct dc_npy_header *h) {
  int have_descr = 0, have_order = 0, have_shape = 0;
  const char *p = skip_ws(text);
  if (*p++ != '{') return bad_header(path, "expected a dict '{...}'");
  for (;;) {
    p = skip_ws(p);
    if (*p == '}') break;
    char key[32];
    if (!(p = parse_str(p, key, sizeof key))) return bad_header(path, "expected a quoted key");
    p = skip_ws(p);
    if (*p++ != ':') return bad_header(path, "expected ':' after a key");
    p = skip_ws(p);
    if (strcmp(key, "descr") == 0) {
      if (*p == '[')
        return DC_ERROR(DC_ERR_IO, "%s: structured dtype; expected a simple numeric dtype such as '<f4'", path);
      if (!(p = parse_str(p, h->descr, sizeof h->descr))) return bad_header(path, "expected a dtype string for 'descr'");
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (strncmp(p, "True", 4) == 0) {
        h->fortran_order = 1;
        p += 4;
      } else if (strncmp(p, "False", 5) == 0) {
        h->fortran_order = 0;
        p += 5;
      } else {
        return bad_header(path, "expected True or False for 'fortran_order'");
      }
      have_order = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (*p++ != '(') return bad_header(path, "expected a tuple for 'shape'");
      h->ndim = 0;
      for (;;) {
        p = skip_ws(p);
        if (*p == ')') {
          p++;
          break;
        }
        if (!isdigit((unsigned char)*p)) return bad_header(path, "expected non-negative integers in 'shape'");
        if (h->ndim == DC_ARRAY_MAX_DIMS) return bad_header(path, "more than 8 dimensions");
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > (1ull << 40)) return bad_header(path, "a dimension is too large");
        h->dims[h->ndim++] = (size_t)v;
        p = skip_ws(end);
        if (*p == 'L') p = skip_ws(p + 1); /* Python 2 longs */
        if (*p == ',') p++;
      }
      have_shape = 1;
    } else {
      return DC_ERROR(DC_ERR_IO, "%s: malformed .npy header: unknown key '%s'", path, key);
    }
    p = skip_ws(p);
    if (*p == ',') p++;
  }
  if (!have_descr || !have_order || !have_shape)
    return bad_header(path, "expected the keys 'descr', 'fortran_order' and 'shape'");
  /* descr: byte order, kind, item size */
  const char *d = h->descr;
  char order = *d;
  if (order == '<' || order == '>' || order == '|' || order == '=')
    d++;
  else
    order = '=';
  h->kind = *d;
  char *end;
  long size = strtol(d + 1, &end, 10);
  int ok_size = *end == '\0' && ((h->kind == 'b' && size == 1) ||
                                 ((h->kind == 'i' || h->kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                                 (h->kind == 'f' && (size == 4 || size == 8)));
  if (!ok_size)
    return DC_ERROR(DC_ERR_IO,
                    "%s: dtype '%s' is not supported; expected bool, int8..int64, uint8..uint64, float32 or float64",
                    path, h->descr);
  h->item_size = (int)size;
  h->big_endian = order == '>' || (order == '=' && host_big_endian());
  h->n = 1;
  for (int i = 0; i < h->ndim; i++) h->n *= h->dims[i];
  return DC_OK;
}

static enum dc_status read_header(FILE *f, const char *path, struct dc_npy_header *h) {
  memset(h, 0, sizeof *h);
  unsigned char pre[12];
  size_t got = fread(pre, 1, 10, f);
  if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
    return DC_ERROR(DC_ERR_IO, "%s: not a NumPy .npy file (expected the magic \\x93NUMPY)", path);
  h->major = pre[6];
  h->minor = pre[7];
  size_t hlen, pre_len;
  if (h->major == 1) {
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    pre_len = 10;
  } else if (h->major == 2 || h->major == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) return DC_ERROR(DC_ERR_IO, "%s: truncated .npy header", path);
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    pre_len = 12;
  } else {
    return DC_ERROR(DC_ERR_IO, "%s: .npy format version %d.%d; expected 1.0, 2.0 or 3.0", path, h->major, h->minor);
  }
  if (hlen == 0 || hlen > NPY_MAX_HEADER) return bad_header(path, "implausible header length");
  char *text = malloc(hlen + 1);
  if (!text) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for the header", path);
  if (fread(text, 1, hlen, f) != hlen) {
    free(text);
    return DC_ERROR(DC_ERR_IO, "%s: truncated .npy header (expected %zu header bytes)", path, hlen);
  }
  text[hlen] = '\0';
  enum dc_status st = parse_dict(path, text, h);
  free(text);
  h->data_offset = pre_len + hlen;
  return st;
}

enum dc_status dc_npy_read_header(const char *path, struct dc_npy_header *h) {
  FILE *f = fopen(path, "rb");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  enum dc_status st = read_header(f, path, h);
  if (st == DC_OK) {
    if (fseek(f, 0, SEEK_END) != 0) st = DC_ERROR(DC_ERR_IO, "%s: cannot seek", path);
    long size = ftell(f);
    size_t want = h->data_offset + h->n * (size_t)h->item_size;
    if (st == DC_OK && (size < 0 || (size_t)size != want))
      st = DC_ERROR(DC_ERR_IO, "%s: file is %ld bytes; expected %zu (header %zu + %zu items of %d bytes)%s", path,
                    size, want, h->data_offset, h->n, h->item_size,
                    size >= 0 && (size_t)size < want ? ": truncated" : "");
  }
  fclose(f);
  return st;
}

/* One stored item to the array, in file order. */
static enum dc_status convert_item(const struct dc_npy_header *h, const unsigned char *src, struct dc_array *a,
                                   size_t i, const char *path) {
  unsigned char b[8];
  int s = h->item_size;
  int swap = h->big_endian != host_big_endian();
  for (int k = 0; k < s; k++) b[k] = swap ? src[s - 1 - k] : src[k];
  switch (h->kind) {
    case 'b': return dc_array_put_i64(a, i, b[0] != 0, path);
    case 'f':
      if (s == 4) {
        float v;
        memcpy(&v, b, 4);
        return dc_array_put_f64(a, i, v, path);
      } else {
        double v;
        memcpy(&v, b, 8);
        return dc_array_put_f64(a, i, v, path);
      }
    case 'i':
      switch (s) {
        case 1: return dc_array_put_i64(a, i, (int8_t)b[0], path);
        case 2: { int16_t v; memcpy(&v, b, 2); return dc_array_put_i64(a, i, v, path); }
        case 4: { int32_t v; memcpy(&v, b, 4); return dc_array_put_i64(a, i, v, path); }
        default: { int64_t v; memcpy(&v, b, 8); return dc_array_put_i64(a, i, v, path); }
      }
    default:
      switch (s) {
        case 1: return dc_array_put_u64(a, i, b[0], path);
        case 2: { uint16_t v; memcpy(&v, b, 2); return dc_array_put_u64(a, i, v, path); }
        case 4: { uint32_t v; memcpy(&v, b, 4); return dc_array_put_u64(a, i, v, path); }
        default: { uint64_t v; memcpy(&v, b, 8); return dc_array_put_u64(a, i, v, path); }
      }
  }
}

enum dc_status dc_npy_read(const char *path, enum dc_elem want, struct dc_array *out) {
  memset(out, 0, sizeof *out);
  struct dc_npy_header h;
  DC_TRY(dc_npy_read_header(path, &h));
  out->ndim = h.ndim;
  memcpy(out->dims, h.dims, sizeof h.dims);
  out->n = h.n;
  if (h.kind == 'b')
    snprintf(out->src_type, sizeof out->src_type, "bool");
  else
    snprintf(out->src_type, sizeof out->src_type, "%s%d", h.kind == 'f' ? "float" : h.kind == 'i' ? "int" : "uint",
             8 * h.item_size);
  DC_TRY(dc_array_alloc(out, want, path));
  FILE *f = fopen(path, "rb");
  unsigned char *raw = malloc(h.n * (size_t)h.item_size + 1);
  enum dc_status st = DC_OK;
  if (!f || !raw) {
    st = DC_ERROR(f ? DC_ERR_NOMEM : DC_ERR_IO, "%s: cannot %s", path, f ? "allocate the data" : "reopen");
  } else if (fseek(f, (long)h.data_offset, SEEK_SET) != 0 ||
             fread(raw, (size_t)h.item_size, h.n, f) != h.n) {
    st = DC_ERROR(DC_ERR_IO, "%s: cannot read %zu items of %d bytes", path, h.n, h.item_size);
  }
  if (f) fclose(f);
  if (st == DC_OK && want == DC_ELEM_F32 && h.kind == 'f' && h.item_size == 4 && h.big_endian == host_big_endian()) {
    memcpy(out->f32, raw, h.n * 4); /* the common case: native float32 */
  } else {
    for (size_t i = 0; st == DC_OK && i < h.n; i++)
      st = convert_item(&h, raw + i * (size_t)h.item_size, out, i, path);
  }
  free(raw);
  if (st == DC_OK && h.fortran_order) st = dc_array_fortran_to_c(out, path);
  if (st != DC_OK) dc_array_free(out);
  return st;
}
