/* Checked HDF5 read helpers (see h5util.h). */
#include "diffclip/io/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- writing ---------------------------------------------------------------------- */

void dc_h5_close(hid_t id, herr_t (*close)(hid_t)) {
  if (id >= 0) close(id);
}

hid_t dc_h5_vstr_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

/* The HDF5 path of an open object ("/" for the file), for messages. */
static const char *name_of(hid_t loc, char *buf, size_t cap) {
  ssize_t n = H5Iget_name(loc, buf, cap);
  if (n <= 0) snprintf(buf, cap, "?");
  return buf;
}

enum dc_status dc_h5_put_attr(hid_t loc, const char *name, hid_t type, const void *value, const char *path) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  dc_h5_close(a, H5Aclose);
  dc_h5_close(space, H5Sclose);
  char obj[256];
  if (rc < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot write attribute %s of %s", path, name, name_of(loc, obj, sizeof obj));
  return DC_OK;
}

enum dc_status dc_h5_put_attr_str(hid_t loc, const char *name, const char *value, const char *path) {
  hid_t t = dc_h5_vstr_type();
  if (t < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot make a string type for attribute %s", path, name);
  enum dc_status st = dc_h5_put_attr(loc, name, t, &value, path);
  H5Tclose(t);
  return st;
}

enum dc_status dc_h5_put_made_by(hid_t loc, const char *path) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(stamp, sizeof stamp, "unknown");
  DC_TRY(dc_h5_put_attr_str(loc, "program_version", DIFFCLIP_VERSION, path));
  return dc_h5_put_attr_str(loc, "created_utc", stamp, path);
}

enum dc_status dc_h5_put_attr_int(hid_t loc, const char *name, int value, const char *path) {
  int32_t v = value;
  return dc_h5_put_attr(loc, name, H5T_STD_I32LE, &v, path);
}

enum dc_status dc_h5_put_attr_double(hid_t loc, const char *name, double value, const char *path) {
  return dc_h5_put_attr(loc, name, H5T_IEEE_F64LE, &value, path);
}

enum dc_status dc_h5_put_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                                 const hsize_t *dims, const hsize_t *chunk, int deflate, const void *data,
                                 const char *path) {
  enum dc_status st = DC_OK;
  char obj[256];
  hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), ds = -1;
  if (space < 0 || dcpl < 0) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot make the dataspace of %s in %s", path, name, name_of(loc, obj, sizeof obj));
    goto done;
  }
  if (chunk && (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)deflate) < 0)) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot set chunking and compression of %s", path, name);
    goto done;
  }
  ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot create dataset %s in %s", path, name, name_of(loc, obj, sizeof obj));
    goto done;
  }
  if (H5Sget_simple_extent_npoints(space) > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot write dataset %s (disk full?)", path, name_of(ds, obj, sizeof obj));
done:
  dc_h5_close(ds, H5Dclose);
  dc_h5_close(dcpl, H5Pclose);
  dc_h5_close(space, H5Sclose);
  return st;
}

enum dc_status dc_h5_put_strings(hid_t loc, const char *name, int n, const char *const *v, const char *path) {
  hid_t t = dc_h5_vstr_type();
  if (t < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot make a string type for %s", path, name);
  hsize_t dims[1] = {(hsize_t)n};
  enum dc_status st = dc_h5_put_dataset(loc, name, t, t, 1, dims, NULL, 0, v, path);
  H5Tclose(t);
  return st;
}

enum dc_status dc_h5_put_group(hid_t loc, const char *name, const char *path) {
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group %s", path, name);
  H5Gclose(g);
  return DC_OK;
}

/* ---- reading attributes -------------------------------------------------------------- */

static enum dc_status open_attr(hid_t loc, const char *obj, const char *name, hid_t *a, const char *path) {
  *a = -1;
  if (H5Aexists_by_name(loc, obj, name, H5P_DEFAULT) <= 0)
    return DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s is missing", path, name, obj);
  *a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  if (*a < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot open attribute %s of %s", path, name, obj);
  return DC_OK;
}

enum dc_status dc_h5_get_attr_strdup(hid_t loc, const char *obj, const char *name, char **out, const char *path) {
  *out = NULL;
  hid_t a;
  DC_TRY(open_attr(loc, obj, name, &a, path));
  enum dc_status st = DC_OK;
  hid_t ftype = H5Aget_type(a), space = H5Aget_space(a), mtype = -1;
  if (ftype < 0 || space < 0 || H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
    st = DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s is not a string (one string expected)", path, name, obj);
    goto done;
  }
  /* the memory type is the file's own (same character set), so ASCII and UTF-8, fixed and
   * variable length all read without a conversion */
  mtype = H5Tcopy(ftype);
  if (H5Tis_variable_str(ftype) > 0) {
    char *v = NULL;
    if (mtype < 0 || H5Aread(a, mtype, &v) < 0) {
      st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read attribute %s of %s", path, name, obj);
      goto done;
    }
    size_t n = v ? strlen(v) : 0;
    *out = malloc(n + 1);
    if (*out) {
      if (n) memcpy(*out, v, n);
      (*out)[n] = '\0';
    }
    if (v) H5free_memory(v);
  } else {
    size_t n = H5Tget_size(ftype);
    *out = calloc(n + 1, 1);
    if (*out && (mtype < 0 || H5Tset_size(mtype, n + 1) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0 ||
                 H5Aread(a, mtype, *out) < 0)) {
      free(*out);
      *out = NULL;
      st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read attribute %s of %s", path, name, obj);
      goto done;
    }
  }
  if (!*out) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for attribute %s of %s", path, name, obj);
done:
  dc_h5_close(mtype, H5Tclose);
  dc_h5_close(space, H5Sclose);
  dc_h5_close(ftype, H5Tclose);
  dc_h5_close(a, H5Aclose);
  return st;
}

enum dc_status dc_h5_get_attr_str(hid_t loc, const char *obj, const char *name, char *buf, size_t cap,
                                  const char *path) {
  char *v;
  DC_TRY(dc_h5_get_attr_strdup(loc, obj, name, &v, path));
  size_t n = strlen(v);
  enum dc_status st = DC_OK;
  if (n >= cap)
    st = DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s has %zu bytes, at most %zu expected", path, name, obj, n, cap - 1);
  else
    memcpy(buf, v, n + 1);
  free(v);
  return st;
}

enum dc_status dc_h5_get_attr_num(hid_t loc, const char *obj, const char *name, hid_t mtype, void *value,
                                  const char *path) {
  hid_t a;
  DC_TRY(open_attr(loc, obj, name, &a, path));
  hid_t s = H5Aget_space(a), t = H5Aget_type(a);
  enum dc_status st = DC_OK;
  if (s < 0 || t < 0 || H5Sget_simple_extent_npoints(s) != 1 ||
      (H5Tget_class(t) != H5T_INTEGER && H5Tget_class(t) != H5T_FLOAT) || H5Aread(a, mtype, value) < 0)
    st = DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s is not one number", path, name, obj);
  dc_h5_close(t, H5Tclose);
  dc_h5_close(s, H5Sclose);
  dc_h5_close(a, H5Aclose);
  return st;
}

enum dc_status dc_h5_get_attr_int(hid_t loc, const char *obj, const char *name, long lo, long hi, int *value,
                                  const char *path) {
  double v;
  DC_TRY(dc_h5_get_attr_num(loc, obj, name, H5T_NATIVE_DOUBLE, &v, path));
  if (!(v >= (double)lo && v <= (double)hi) || v != (double)(long)v)
    return DC_ERROR(DC_ERR_IO, "%s: attribute %s of %s is %g, an integer in %ld..%ld expected", path, name, obj, v, lo,
                    hi);
  *value = (int)v;
  return DC_OK;
}

void dc_h5_library_info(char *out, size_t cap) {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
#ifdef H5_HAVE_PARALLEL
  const char *kind = "parallel";
#else
  const char *kind = "serial";
#endif
  snprintf(out, cap, "HDF5 %u.%u.%u (%s)", major, minor, release, kind);
}

/* ---- whole datasets of a known shape ---------------------------------------------- */

enum dc_status dc_h5_read_shaped(hid_t f, const char *name, hid_t mtype, size_t elem, int rank, const hsize_t *want,
                                 void **out, const char *path) {
  *out = NULL;
  if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return DC_ERROR(DC_ERR_IO, "%s: dataset %s is missing", path, name);
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t s = ds >= 0 ? H5Dget_space(ds) : -1;
  hsize_t dims[3] = {0, 0, 0};
  int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1, same = nd == rank && rank >= 1 && rank <= 3;
  if (same && H5Sget_simple_extent_dims(s, dims, NULL) < 0) same = 0;
  for (int i = 0; same && i < rank; i++) same = dims[i] == want[i];
  enum dc_status st = DC_OK;
  if (!same) {
    char got[96] = "", exp[96] = "";
    for (int i = 0; i < 3 && i < (nd > 0 ? nd : 0); i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    for (int i = 0; i < rank && i < 3; i++)
      snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%llu", i ? ", " : "", (unsigned long long)want[i]);
    st = DC_ERROR(DC_ERR_IO, "%s: %s has %d dims of (%s) expected (%s)", path, name, nd, got, exp);
    goto done;
  }
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)want[i];
  *out = malloc(n ? n * elem : elem);
  if (!*out) {
    st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, name);
    goto done;
  }
  if (n > 0 && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: cannot read %s (corrupt, or not numbers)", path, name);
    free(*out);
    *out = NULL;
  }
done:
  dc_h5_close(s, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  return st;
}

enum dc_status dc_h5_read_names(hid_t f, const char *name, int n, char *out, size_t stride, const char *path) {
  if (n < 1 || n > 4096) return DC_ERROR(DC_ERR_ARG, "%s: %d names asked of %s", path, n, name);
  if (!dc_h5_exists(f, name)) return DC_ERROR(DC_ERR_IO, "%s: dataset %s is missing", path, name);
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t s = ds >= 0 ? H5Dget_space(ds) : -1;
  hid_t t = ds >= 0 ? H5Dget_type(ds) : -1;
  hid_t mt = dc_h5_vstr_type();
  char **v = calloc((size_t)n, sizeof *v);
  enum dc_status st = DC_OK;
  if (!v) {
    st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, name);
  } else if (s < 0 || t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0 ||
             H5Sget_simple_extent_npoints(s) != n) {
    st = DC_ERROR(DC_ERR_IO, "%s: %s is not %d variable-length strings", path, name, n);
  } else if (mt < 0 || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read %s", path, name);
  } else {
    for (int k = 0; k < n && st == DC_OK; k++) {
      if (!v[k] || strlen(v[k]) >= stride)
        st = DC_ERROR(DC_ERR_IO, "%s: %s entry %d is missing or longer than %zu bytes", path, name, k, stride - 1);
      else
        memcpy(out + (size_t)k * stride, v[k], strlen(v[k]) + 1);
    }
    hsize_t hn = (hsize_t)n;
    hid_t ms = H5Screate_simple(1, &hn, NULL);
    if (ms >= 0) H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, v);
    dc_h5_close(ms, H5Sclose);
  }
  free(v);
  dc_h5_close(mt, H5Tclose);
  dc_h5_close(t, H5Tclose);
  dc_h5_close(s, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  return st;
}

/* ---- whole files ------------------------------------------------------------------- */

enum dc_status dc_h5_write_atomic(const char *path, dc_h5_writer write, const void *ctx) {
  char tmp[2400];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot create (folder missing or not writable?)", tmp);
  enum dc_status st = write(f, path, ctx);
  if (H5Fclose(f) < 0 && st == DC_OK) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot close (disk full?)", tmp);
  if (st == DC_OK && rename(tmp, path) != 0)
    st = DC_ERROR(DC_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (st != DC_OK) remove(tmp);
  return st;
}

enum dc_status dc_h5_read_file(const char *path, dc_h5_reader read, void *ctx) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing or not an HDF5 file)", path);
  enum dc_status st = read(f, path, ctx);
  H5Fclose(f);
  return st;
}
