/* The canonical scene file (format "diffclip-scene", version 1; docs/formats.md): writer,
 * reader and row-band reader, with the plain serial HDF5 1.10 C API and no MPI, so the
 * serial ingestion program (matio / GDAL link Debian's serial HDF5) compiles this same
 * file. Writes go to "<path>.tmp.<pid>" and are renamed at the end; a failure removes the
 * temporary file. Every handle is closed on every path; every failure names the file, the
 * object and what was expected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <hdf5.h>

#include "diffclip/io/h5util.h"
#include "diffclip/data/scene.h"
#include "scene_geo.h"

#ifndef DIFFCLIP_VERSION
#define DIFFCLIP_VERSION "unknown"
#endif

/* Cube chunks: whole rows, at most 16 of them and about 4 MiB, so a rank reading its row
 * band decompresses little beyond it. */
#define CHUNK_ROWS_MAX 16
#define CHUNK_BYTES 4194304
#define DEFLATE_LEVEL 4

static const char *const stat_names[6] = {"band_min", "band_max", "band_mean", "band_std", "band_p02", "band_p98"};

static double **stat_field(struct dc_band_stats *st, int f) {
  double **fields[6] = {&st->min, &st->max, &st->mean, &st->std, &st->p02, &st->p98};
  return fields[f];
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* ---- writing ---------------------------------------------------------------------- */

static hid_t make_group(hid_t file, const char *name) { return H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); }

static enum dc_status write_modality(hid_t file, const char *path, const struct dc_scene *s, int m) {
  char gname[32], obj[64];
  snprintf(gname, sizeof gname, "/modality_%d", m);
  hid_t g = make_group(file, gname), cube = -1;
  if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group %s", path, gname);
  enum dc_status st = DC_OK;
  int H = s->height, W = s->width, C = s->bands[m];
  size_t row_bytes = (size_t)W * C * sizeof(float);
  hsize_t rows = CHUNK_BYTES / row_bytes;
  rows = rows < 1 ? 1 : rows > CHUNK_ROWS_MAX ? CHUNK_ROWS_MAX : rows;
  rows = rows > (hsize_t)H ? (hsize_t)H : rows;
  hsize_t dims[3] = {(hsize_t)H, (hsize_t)W, (hsize_t)C}, chunk[3] = {rows, (hsize_t)W, (hsize_t)C};
  snprintf(obj, sizeof obj, "%s/cube", gname);
  if ((st = dc_h5_put_dataset(g, "cube", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, chunk, DEFLATE_LEVEL, s->cube[m], path)) != DC_OK)
    goto done;
  cube = H5Dopen2(g, "cube", H5P_DEFAULT);
  if (cube < 0) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot reopen %s", path, obj);
    goto done;
  }
  if ((st = dc_h5_put_attr_str(cube, "name", s->modality_names[m], path)) != DC_OK) goto done;
  if ((st = dc_h5_put_attr_int(cube, "bands", C, path)) != DC_OK) goto done;
  if ((st = dc_h5_put_attr_double(g, "global_min", s->global_min[m], path)) != DC_OK) goto done;
  if ((st = dc_h5_put_attr_double(g, "global_max", s->global_max[m], path)) != DC_OK) goto done;
  for (int f = 0; f < 6; f++) {
    hsize_t n[1] = {(hsize_t)C};
    snprintf(obj, sizeof obj, "%s/%s", gname, stat_names[f]);
    const double *v = *stat_field((struct dc_band_stats *)&s->stats[m], f);
    if ((st = dc_h5_put_dataset(g, stat_names[f], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, n, NULL, DEFLATE_LEVEL, v, path)) != DC_OK)
      goto done;
  }
done:
  dc_h5_close(cube, H5Dclose);
  H5Gclose(g);
  return st;
}

static enum dc_status write_groups(hid_t file, const char *path, const struct dc_scene *s) {
  hid_t g = make_group(file, "/labels");
  if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group /labels", path);
  hsize_t dims[2] = {(hsize_t)s->height, (hsize_t)s->width};
  hsize_t chunk[2] = {(hsize_t)(s->height < 64 ? s->height : 64), (hsize_t)s->width};
  enum dc_status st = dc_h5_put_dataset(g, "train", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, chunk, DEFLATE_LEVEL, s->train, path);
  if (st == DC_OK)
    st = dc_h5_put_dataset(g, "test", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, chunk, DEFLATE_LEVEL, s->test, path);
  H5Gclose(g);
  DC_TRY(st);

  if ((g = make_group(file, "/classes")) < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group /classes", path);
  const char *desc[DC_SCENE_MAX_CLASSES];
  for (int k = 0; k < s->n_classes; k++) desc[k] = s->class_descriptions[k] ? s->class_descriptions[k] : "";
  st = dc_h5_put_strings(g, "names", s->n_classes, (const char *const *)s->class_names, path);
  if (st == DC_OK) st = dc_h5_put_strings(g, "descriptions", s->n_classes, desc, path);
  H5Gclose(g);
  DC_TRY(st);

  if ((g = make_group(file, "/provenance")) < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group /provenance", path);
  if (s->manifest) st = dc_h5_put_attr_str(g, "manifest", s->manifest, path);
  if (st == DC_OK) st = dc_h5_put_attr_str(g, "manifest_sha256", s->manifest_sha256, path);
  if (st == DC_OK) st = dc_h5_put_attr_str(g, "source", s->source, path);
  if (st == DC_OK) st = dc_h5_put_strings(g, "files", s->n_files, (const char *const *)s->files, path);
  H5Gclose(g);
  return st;
}

static enum dc_status write_contents(hid_t file, const char *path, const struct dc_scene *s) {
  DC_TRY(dc_h5_put_attr_str(file, "format", DC_SCENE_FORMAT, path));
  DC_TRY(dc_h5_put_attr_int(file, "format_version", DC_SCENE_VERSION, path));
  DC_TRY(dc_h5_put_attr_str(file, "name", s->name, path));
  DC_TRY(dc_h5_put_attr_int(file, "height", s->height, path));
  DC_TRY(dc_h5_put_attr_int(file, "width", s->width, path));
  DC_TRY(dc_h5_put_attr_int(file, "n_modalities", s->n_modalities, path));
  DC_TRY(dc_h5_put_attr_int(file, "n_classes", s->n_classes, path));
  DC_TRY(dc_h5_put_made_by(file, path));
  for (int m = 0; m < s->n_modalities; m++) DC_TRY(write_modality(file, path, s, m));
  DC_TRY(write_groups(file, path, s));
  return dc_scene_geo_write(file, path, s);
}

enum dc_status dc_scene_write(const char *path, const struct dc_scene *s) {
  DC_TRY(dc_scene_validate(s, path));
  DC_TRY(dc_scene_geo_validate(s, path));
  /* statistics missing from the caller's scene are computed on a shallow copy */
  struct dc_scene copy = *s;
  int own_stats = 0;
  for (int m = 0; m < s->n_modalities; m++)
    for (int f = 0; f < 6; f++)
      if (!*stat_field(&copy.stats[m], f)) own_stats = 1;
  if (own_stats) {
    memset(copy.stats, 0, sizeof copy.stats);
    enum dc_status st = dc_scene_compute_stats(&copy);
    if (st != DC_OK) {
      for (int m = 0; m < s->n_modalities; m++)
        for (int f = 0; f < 6; f++) free(*stat_field(&copy.stats[m], f));
      return st;
    }
  }
  char tmp[4096];
  enum dc_status st = DC_OK;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
    st = DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  } else {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
      st = DC_ERROR(DC_ERR_IO, "%s: cannot create the temporary file %s (does the folder exist and is it writable?)",
                    path, tmp);
    } else {
      st = write_contents(file, path, &copy);
      if (H5Fclose(file) < 0 && st == DC_OK) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot close %s (disk full?)", path, tmp);
      if (st == DC_OK && rename(tmp, path) != 0)
        st = DC_ERROR(DC_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
      if (st != DC_OK) remove(tmp);
    }
  }
  if (own_stats)
    for (int m = 0; m < s->n_modalities; m++)
      for (int f = 0; f < 6; f++) free(*stat_field(&copy.stats[m], f));
  return st;
}

/* ---- reading ---------------------------------------------------------------------- */

/* The shape of a dataset, checked against `want` (a -1 entry accepts any extent). */
static enum dc_status check_shape(hid_t file, const char *path, const char *obj, int rank, const long *want,
                                  const char *dims_text, H5T_class_t cls) {
  if (!dc_h5_exists(file, obj)) return DC_ERROR(DC_ERR_IO, "%s: dataset %s is missing", path, obj);
  enum dc_status st = DC_OK;
  hid_t ds = H5Dopen2(file, obj, H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1, type = ds >= 0 ? H5Dget_type(ds) : -1;
  int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  hsize_t dims[DC_H5_MAX_DIMS];
  if (ds < 0 || space < 0 || type < 0 || nd < 0 || nd > DC_H5_MAX_DIMS || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read the shape of %s", path, obj);
    goto done;
  }
  if (nd != rank) {
    st = DC_ERROR(DC_ERR_IO, "%s: %s has %d dims %s expected, found %d", path, obj, rank, dims_text, nd);
    goto done;
  }
  for (int i = 0; i < rank; i++)
    if (want[i] >= 0 && dims[i] != (hsize_t)want[i]) {
      char found[128] = "", *p = found;
      for (int j = 0; j < nd; j++) p += snprintf(p, found + sizeof found - p, "%s%llu", j ? ", " : "", (unsigned long long)dims[j]);
      st = DC_ERROR(DC_ERR_IO, "%s: %s has shape (%s), %s expected with dim %d = %ld", path, obj, found, dims_text, i,
                    want[i]);
      goto done;
    }
  if (H5Tget_class(type) != cls)
    st = DC_ERROR(DC_ERR_IO, "%s: %s has the wrong element type (%s expected)", path, obj,
                  cls == H5T_FLOAT ? "floating point" : cls == H5T_INTEGER ? "integer" : "string");
done:
  dc_h5_close(type, H5Tclose);
  dc_h5_close(space, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  return st;
}

/* A 1-D dataset of n variable-length strings, as n malloc'd strings in out[]. */
static enum dc_status get_strings(hid_t file, const char *path, const char *obj, int n, char **out) {
  long want[1] = {n};
  DC_TRY(check_shape(file, path, obj, 1, want, "(n)", H5T_STRING));
  if (n == 0) return DC_OK;
  enum dc_status st = DC_OK;
  char **buf = calloc((size_t)n, sizeof *buf);
  hid_t ds = H5Dopen2(file, obj, H5P_DEFAULT), mtype = dc_h5_vstr_type(), space = ds >= 0 ? H5Dget_space(ds) : -1;
  if (!buf) {
    st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, obj);
    goto done;
  }
  if (ds < 0 || mtype < 0 || space < 0 || H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    free(buf);
    buf = NULL;
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read %s as variable-length strings", path, obj);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    out[i] = dup_str(buf[i] ? buf[i] : "");
    if (!out[i] && st == DC_OK) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, obj);
    if (buf[i]) H5free_memory(buf[i]);
  }
done:
  free(buf);
  dc_h5_close(space, H5Sclose);
  dc_h5_close(mtype, H5Tclose);
  dc_h5_close(ds, H5Dclose);
  return st;
}

static enum dc_status read_rows(hid_t file, const char *path, int m, int row0, int nrows, float *out);

static enum dc_status read_modality(hid_t file, const char *path, struct dc_scene *s, int m, int with_cubes) {
  char g[32], obj[64];
  snprintf(g, sizeof g, "/modality_%d", m);
  snprintf(obj, sizeof obj, "%s/cube", g);
  if (!dc_h5_exists(file, g)) return DC_ERROR(DC_ERR_IO, "%s: group %s is missing (%d modalities declared)", path, g, s->n_modalities);
  DC_TRY(dc_h5_get_attr_str(file, obj, "name", s->modality_names[m], sizeof s->modality_names[m], path));
  DC_TRY(dc_h5_get_attr_int(file, obj, "bands", 1, 1 << 20, &s->bands[m], path));
  long want[3] = {s->height, s->width, s->bands[m]};
  DC_TRY(check_shape(file, path, obj, 3, want, "(H, W, C)", H5T_FLOAT));
  DC_TRY(dc_h5_attr_double(file, g, "global_min", &s->global_min[m]));
  DC_TRY(dc_h5_attr_double(file, g, "global_max", &s->global_max[m]));
  for (int f = 0; f < 6; f++) {
    char so[64];
    snprintf(so, sizeof so, "%s/%s", g, stat_names[f]);
    long wc[1] = {s->bands[m]};
    DC_TRY(check_shape(file, path, so, 1, wc, "(C)", H5T_FLOAT));
    struct dc_h5_array a;
    DC_TRY(dc_h5_read(file, so, 0, &a));
    *stat_field(&s->stats[m], f) = a.data; /* the scene takes the buffer */
  }
  if (!with_cubes) return DC_OK;
  s->cube[m] = malloc((size_t)s->height * s->width * s->bands[m] * sizeof(float));
  if (!s->cube[m]) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, obj);
  return read_rows(file, path, m, 0, s->height, s->cube[m]);
}

static enum dc_status read_labels(hid_t file, const char *path, struct dc_scene *s, const char *obj, int32_t **out) {
  long want[2] = {s->height, s->width};
  DC_TRY(check_shape(file, path, obj, 2, want, "(H, W)", H5T_INTEGER));
  struct dc_h5_array a;
  DC_TRY(dc_h5_read(file, obj, 1, &a));
  *out = malloc(a.n * sizeof(int32_t));
  if (!*out) {
    dc_h5_array_free(&a);
    return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, obj);
  }
  for (size_t i = 0; i < a.n; i++) {
    if (a.ints[i] < 0 || a.ints[i] > s->n_classes) {
      enum dc_status st = DC_ERROR(DC_ERR_IO, "%s: %s has value %lld at (row %zu, col %zu), 0..%d expected", path, obj,
                                   (long long)a.ints[i], i / (size_t)s->width, i % (size_t)s->width, s->n_classes);
      dc_h5_array_free(&a);
      return st;
    }
    (*out)[i] = (int32_t)a.ints[i];
  }
  dc_h5_array_free(&a);
  return DC_OK;
}

static enum dc_status read_contents(hid_t file, const char *path, struct dc_scene *s, int with_cubes) {
  char *format;
  DC_TRY(dc_h5_get_attr_strdup(file, "/", "format", &format, path));
  int ok = strcmp(format, DC_SCENE_FORMAT) == 0;
  if (!ok) DC_ERROR(DC_ERR_IO, "%s: attribute format of / is \"%s\", \"%s\" expected", path, format, DC_SCENE_FORMAT);
  free(format);
  if (!ok) return DC_ERR_IO;
  int version = 0;
  DC_TRY(dc_h5_get_attr_int(file, "/", "format_version", 0, 1 << 30, &version, path));
  if (version != DC_SCENE_VERSION)
    return DC_ERROR(DC_ERR_IO, "%s: attribute format_version of / is %d, this program reads version %d", path, version,
                    DC_SCENE_VERSION);
  DC_TRY(dc_h5_get_attr_str(file, "/", "name", s->name, sizeof s->name, path));
  DC_TRY(dc_h5_get_attr_int(file, "/", "height", 1, 1 << 30, &s->height, path));
  DC_TRY(dc_h5_get_attr_int(file, "/", "width", 1, 1 << 30, &s->width, path));
  DC_TRY(dc_h5_get_attr_int(file, "/", "n_modalities", 1, DC_SCENE_MAX_MODALITIES, &s->n_modalities, path));
  DC_TRY(dc_h5_get_attr_int(file, "/", "n_classes", 1, DC_SCENE_MAX_CLASSES, &s->n_classes, path));
  DC_TRY(dc_h5_get_attr_str(file, "/", "program_version", s->program_version, sizeof s->program_version, path));
  DC_TRY(dc_h5_get_attr_str(file, "/", "created_utc", s->created_utc, sizeof s->created_utc, path));
  for (int m = 0; m < s->n_modalities; m++) DC_TRY(read_modality(file, path, s, m, with_cubes));
  DC_TRY(read_labels(file, path, s, "/labels/train", &s->train));
  DC_TRY(read_labels(file, path, s, "/labels/test", &s->test));
  DC_TRY(get_strings(file, path, "/classes/names", s->n_classes, s->class_names));
  DC_TRY(get_strings(file, path, "/classes/descriptions", s->n_classes, s->class_descriptions));
  if (H5Aexists_by_name(file, "/provenance", "manifest", H5P_DEFAULT) > 0)
    DC_TRY(dc_h5_get_attr_strdup(file, "/provenance", "manifest", &s->manifest, path));
  DC_TRY(dc_h5_get_attr_str(file, "/provenance", "manifest_sha256", s->manifest_sha256, sizeof s->manifest_sha256, path));
  DC_TRY(dc_h5_get_attr_str(file, "/provenance", "source", s->source, sizeof s->source, path));
  long any[1] = {-1};
  DC_TRY(check_shape(file, path, "/provenance/files", 1, any, "(n)", H5T_STRING));
  hid_t ds = H5Dopen2(file, "/provenance/files", H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  dc_h5_close(sp, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  if (n < 0 || n > 1 << 20) return DC_ERROR(DC_ERR_IO, "%s: cannot read the length of /provenance/files", path);
  s->files = calloc((size_t)n + 1, sizeof *s->files);
  if (!s->files) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for /provenance/files", path);
  s->n_files = (int)n;
  DC_TRY(get_strings(file, path, "/provenance/files", (int)n, s->files));
  return dc_scene_geo_read(file, path, s);
}

enum dc_status dc_scene_read(const char *path, struct dc_scene *s, int with_cubes) {
  memset(s, 0, sizeof *s);
  hid_t file;
  DC_TRY(dc_h5_open_read(path, &file));
  enum dc_status st = read_contents(file, path, s, with_cubes);
  if (H5Fclose(file) < 0 && st == DC_OK) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot close", path);
  if (st != DC_OK) dc_scene_free(s);
  return st;
}

/* Rows [row0, row0 + nrows) of modality m's cube from an open file. */
static enum dc_status read_rows(hid_t file, const char *path, int m, int row0, int nrows, float *out) {
  char obj[64];
  snprintf(obj, sizeof obj, "/modality_%d/cube", m);
  if (!dc_h5_exists(file, obj)) return DC_ERROR(DC_ERR_IO, "%s: dataset %s is missing", path, obj);
  enum dc_status st = DC_OK;
  hid_t ds = H5Dopen2(file, obj, H5P_DEFAULT), mspace = -1;
  hid_t fspace = ds >= 0 ? H5Dget_space(ds) : -1;
  hsize_t dims[3];
  if (fspace < 0 || H5Sget_simple_extent_ndims(fspace) != 3 || H5Sget_simple_extent_dims(fspace, dims, NULL) < 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: %s cannot be read as 3 dims (H, W, C)", path, obj);
    goto done;
  }
  if (row0 < 0 || nrows < 1 || (hsize_t)row0 + (hsize_t)nrows > dims[0]) {
    st = DC_ERROR(DC_ERR_ARG, "%s: rows %d..%d of %s requested, it has %llu rows", path, row0, row0 + nrows - 1, obj,
                  (unsigned long long)dims[0]);
    goto done;
  }
  hsize_t start[3] = {(hsize_t)row0, 0, 0}, count[3] = {(hsize_t)nrows, dims[1], dims[2]};
  mspace = H5Screate_simple(3, count, NULL);
  if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
      H5Dread(ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out) < 0)
    st = DC_ERROR(DC_ERR_HDF5, "%s: cannot read rows %d..%d of %s (corrupt or truncated file?)", path, row0,
                  row0 + nrows - 1, obj);
done:
  dc_h5_close(mspace, H5Sclose);
  dc_h5_close(fspace, H5Sclose);
  dc_h5_close(ds, H5Dclose);
  return st;
}

enum dc_status dc_scene_read_rows(const char *path, int m, int row0, int nrows, float *out) {
  if (m < 0 || m >= DC_SCENE_MAX_MODALITIES)
    return DC_ERROR(DC_ERR_ARG, "%s: modality %d requested, 0..%d expected", path, m, DC_SCENE_MAX_MODALITIES - 1);
  hid_t file;
  DC_TRY(dc_h5_open_read(path, &file));
  enum dc_status st = read_rows(file, path, m, row0, nrows, out);
  if (H5Fclose(file) < 0 && st == DC_OK) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot close", path);
  return st;
}
