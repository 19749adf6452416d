/* The scene's optional georeference (/geo) and band wavelengths (/modality_<m>/wavelength),
 * added to format version 1 without changing the meaning of anything there: a reader that
 * ignores them reads the scene as before, and a scene written before them reads with
 * has_geo = 0, no CRS and no wavelengths. Also the false-colour band choice that uses the
 * wavelengths. Plain serial HDF5 1.10 API, like scene.c. */
#include "scene_geo.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/io/h5util.h"

enum dc_status dc_scene_geo_validate(const struct dc_scene *s, const char *what) {
  if (s->has_geo) {
    for (int i = 0; i < 6; i++)
      if (!isfinite(s->geotransform[i]))
        return DC_ERROR(DC_ERR_ARG, "%s: geotransform[%d] is %g, finite expected", what, i, s->geotransform[i]);
    double det = s->geotransform[1] * s->geotransform[5] - s->geotransform[2] * s->geotransform[4];
    if (det == 0)
      return DC_ERROR(DC_ERR_ARG, "%s: the geotransform (%g, %g, %g, %g, %g, %g) maps pixels onto a line; a non-zero "
                      "pixel size expected", what, s->geotransform[0], s->geotransform[1], s->geotransform[2],
                      s->geotransform[3], s->geotransform[4], s->geotransform[5]);
  }
  for (int m = 0; m < s->n_modalities; m++) {
    if (memchr(s->wavelength_units[m], '\0', sizeof s->wavelength_units[m]) == NULL)
      return DC_ERROR(DC_ERR_ARG, "%s: the wavelength unit of /modality_%d is not terminated", what, m);
    for (int b = 0; s->wavelengths[m] && b < s->bands[m]; b++)
      if (isinf(s->wavelengths[m][b]) || s->wavelengths[m][b] <= 0)
        return DC_ERROR(DC_ERR_ARG, "%s: band %d of /modality_%d has wavelength %g; positive (or NaN: unknown) expected",
                        what, b + 1, m, s->wavelengths[m][b]);
  }
  return DC_OK;
}

enum dc_status dc_scene_geo_write(hid_t file, const char *path, const struct dc_scene *s) {
  enum dc_status st = DC_OK;
  if (s->has_geo || s->crs_wkt) {
    hid_t g = H5Gcreate2(file, "/geo", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create group /geo", path);
    hsize_t six[1] = {6};
    if (s->has_geo)
      st = dc_h5_put_dataset(g, "geotransform", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, six, NULL, 0, s->geotransform, path);
    if (st == DC_OK && s->crs_wkt) st = dc_h5_put_attr_str(g, "crs_wkt", s->crs_wkt, path);
    H5Gclose(g);
    DC_TRY(st);
  }
  for (int m = 0; m < s->n_modalities; m++) {
    if (!s->wavelengths[m]) continue;
    char gname[32];
    snprintf(gname, sizeof gname, "/modality_%d", m);
    hid_t g = H5Gopen2(file, gname, H5P_DEFAULT), ds = -1;
    if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot open group %s", path, gname);
    hsize_t n[1] = {(hsize_t)s->bands[m]};
    st = dc_h5_put_dataset(g, "wavelength", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, n, NULL, 0, s->wavelengths[m], path);
    if (st == DC_OK && (ds = H5Dopen2(g, "wavelength", H5P_DEFAULT)) < 0)
      st = DC_ERROR(DC_ERR_HDF5, "%s: cannot reopen %s/wavelength", path, gname);
    if (st == DC_OK) st = dc_h5_put_attr_str(ds, "units", s->wavelength_units[m], path);
    dc_h5_close(ds, H5Dclose);
    H5Gclose(g);
    DC_TRY(st);
  }
  return DC_OK;
}

/* A 1-D float dataset of exactly n values into out[n]. */
static enum dc_status read_vector(hid_t file, const char *path, const char *obj, size_t n, double *out) {
  struct dc_h5_array a;
  DC_TRY(dc_h5_read(file, obj, 0, &a));
  enum dc_status st = DC_OK;
  if (a.ndim != 1 || a.n != n)
    st = DC_ERROR(DC_ERR_IO, "%s: %s holds %zu values in %d dims, (%zu) expected", path, obj, a.n, a.ndim, n);
  else
    memcpy(out, a.data, n * sizeof *out);
  dc_h5_array_free(&a);
  return st;
}

enum dc_status dc_scene_geo_read(hid_t file, const char *path, struct dc_scene *s) {
  if (dc_h5_exists(file, "/geo")) {
    if (dc_h5_exists(file, "/geo/geotransform")) {
      DC_TRY(read_vector(file, path, "/geo/geotransform", 6, s->geotransform));
      s->has_geo = 1;
    }
    if (H5Aexists_by_name(file, "/geo", "crs_wkt", H5P_DEFAULT) > 0)
      DC_TRY(dc_h5_get_attr_strdup(file, "/geo", "crs_wkt", &s->crs_wkt, path));
  }
  for (int m = 0; m < s->n_modalities; m++) {
    char obj[64];
    snprintf(obj, sizeof obj, "/modality_%d/wavelength", m);
    if (!dc_h5_exists(file, obj)) continue;
    s->wavelengths[m] = malloc((size_t)s->bands[m] * sizeof(double));
    if (!s->wavelengths[m]) return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %s", path, obj);
    DC_TRY(read_vector(file, path, obj, (size_t)s->bands[m], s->wavelengths[m]));
    if (H5Aexists_by_name(file, obj, "units", H5P_DEFAULT) > 0)
      DC_TRY(dc_h5_get_attr_str(file, obj, "units", s->wavelength_units[m], sizeof s->wavelength_units[m], path));
  }
  return DC_OK;
}

double dc_wavelength_unit_nm(const char *unit) {
  static const struct { const char *name; double nm; } units[] = {
      {"nm", 1}, {"nanometer", 1}, {"nanometers", 1}, {"nanometre", 1}, {"nanometres", 1},
      {"um", 1e3}, {"\xc2\xb5m", 1e3}, {"micron", 1e3}, {"microns", 1e3}, {"micrometer", 1e3}, {"micrometers", 1e3},
      {"micrometre", 1e3}, {"micrometres", 1e3}, {"mm", 1e6}, {"millimeter", 1e6}, {"millimeters", 1e6},
      {"wavenumber", 0}};
  char low[32];
  size_t n = 0;
  for (; unit && unit[n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)unit[n]);
  low[n] = '\0';
  for (size_t i = 0; i < sizeof units / sizeof *units; i++)
    if (strcmp(low, units[i].name) == 0) return units[i].nm;
  return 0;
}

int dc_scene_rgb_bands(const struct dc_scene *s, int modality, int out[3]) {
  if (modality < 0 || modality >= s->n_modalities || s->bands[modality] < 1) return -1;
  int C = s->bands[modality];
  const double *wl = s->wavelengths[modality];
  static const double target_nm[3] = {640, 550, 460};
  double scale = dc_wavelength_unit_nm(s->wavelength_units[modality]);
  int known = 0;
  double max_wl = 0;
  for (int b = 0; wl && b < C; b++)
    if (!isnan(wl[b])) known++, max_wl = wl[b] > max_wl ? wl[b] : max_wl;
  /* no unit said: values below 100 are micrometres (0.4 .. 2.5), others nanometres */
  if (scale == 0 && !s->wavelength_units[modality][0] && known) scale = max_wl < 100 ? 1e3 : 1;
  if (known >= 1 && scale > 0) {
    for (int k = 0; k < 3; k++) {
      double best = INFINITY;
      for (int b = 0; b < C; b++) {
        if (isnan(wl[b])) continue;
        double dist = fabs(wl[b] * scale - target_nm[k]);
        if (dist < best) best = dist, out[k] = b;
      }
    }
    return 1;
  }
  static const int num[3] = {5, 3, 1}; /* 5/6, 3/6, 1/6 of the bands */
  for (int k = 0; k < 3; k++) {
    int b = (int)((long)C * num[k] / 6);
    out[k] = b >= C ? C - 1 : b;
  }
  return 0;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

enum dc_status dc_scene_rgb_composite(const struct dc_scene *s, int m, uint8_t *rgb, int bands[3]) {
  if (dc_scene_rgb_bands(s, m, bands) < 0 || !s->cube[m])
    return DC_ERROR(DC_ERR_ARG, "scene %s: no cube of modality %d for a composite", s->name, m);
  size_t n = (size_t)s->height * s->width, C = (size_t)s->bands[m];
  size_t step = n > 65536 ? n / 65536 : 1, ns = (n + step - 1) / step;
  float *v = malloc(ns * sizeof *v);
  DC_CHECK_ALLOC(v);
  for (int k = 0; k < 3; k++) {
    const float *cube = s->cube[m] + bands[k];
    size_t j = 0;
    for (size_t i = 0; i < n && j < ns; i += step) v[j++] = cube[i * C];
    qsort(v, j, sizeof *v, cmp_float);
    float lo = v[(size_t)(0.02 * (double)(j - 1))], hi = v[(size_t)(0.98 * (double)(j - 1))];
    float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (size_t i = 0; i < n; i++) {
      float x = (cube[i * C] - lo) * scale;
      rgb[3 * i + k] = (uint8_t)(x <= 0 ? 0 : x >= 255 ? 255 : x + 0.5f);
    }
  }
  free(v);
  return DC_OK;
}
