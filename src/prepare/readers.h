/* Readers that need matio or GDAL. Both libraries link Debian's serial HDF5, so only the
 * serial ingestion program (diffclip-prepare) compiles these files; the MPI program,
 * which links the parallel HDF5, never loads them. Results follow rawarray.h. */
#ifndef DIFFCLIP_PREPARE_READERS_H
#define DIFFCLIP_PREPARE_READERS_H

#include "diffclip/prepare/rawarray.h"

/* MATLAB v4/v5 (compressed or not) and v7.3 (HDF5) files through matio. `variable` is a
 * path: a top-level name, then any of ".field", "{k}" (cell or struct-array element k,
 * 1-based as in MATLAB) and "(k)" (the same). The array comes back in MATLAB's logical
 * shape (rows x cols x ...), reordered from column-major to row-major. Numeric classes
 * (double, single, int8..uint64, logical) are converted to `want`; complex, sparse, char,
 * cell and struct values are refused with a message naming file, variable and class. */
enum dc_status dc_mat_read(const char *path, const char *variable, enum dc_elem want, struct dc_array *out);

/* Rasters through GDAL (GeoTIFF, ENVI .hdr + data file, and the other GDAL formats): the
 * array is (height, width, bands), band b of the file at channel b. */
enum dc_status dc_gdal_read(const char *path, enum dc_elem want, struct dc_array *out);

/* The georeference and band wavelengths GDAL reports for a raster (GeoTIFF tags and
 * GDAL_METADATA, ENVI's `map info`, `coordinate system string`, `wavelength` and
 * `wavelength units`). has_geo: gt holds a geotransform the file states (not GDAL's
 * default pixel grid); wkt: the CRS as WKT (malloc'd; NULL when none), with its EPSG code
 * identified where GDAL can; wavelength: (bands) band centres, NaN where a band has none,
 * NULL when no band has one; units as the file says ("" when it says nothing). */
struct dc_raster_geo {
  int has_geo;
  double gt[6];
  char *wkt;
  int bands;
  double *wavelength;
  char units[32];
};
enum dc_status dc_gdal_read_geo(const char *path, struct dc_raster_geo *out);
void dc_raster_geo_free(struct dc_raster_geo *g);

/* Routes matio's and GDAL's own diagnostics into our log (debug level) and keeps the last
 * one for error messages; call once before reading. */
void dc_prepare_readers_init(void);
void dc_prepare_mat_init(void); /* the matio half of it */

#endif
