/* GeoTIFF output (libtiff + libgeotiff; no GDAL, so the MPI program may link it): a class
 * map and a multi-band float32 scores raster, each carrying a georeference.
 *
 * The georeference: the geotransform as ModelPixelScale + ModelTiepoint (or
 * ModelTransformation when the grid is rotated), RasterPixelIsArea; the CRS as GeoKeys by
 * its EPSG code, read from the WKT's top-level AUTHORITY["EPSG", n] (WKT 1) or
 * ID["EPSG", n] (WKT 2): ProjectedCSTypeGeoKey for a projected CRS, GeographicTypeGeoKey
 * for a geographic one, with the CRS name as GTCitationGeoKey. A CRS without an EPSG code
 * is written as WKT into the GDAL sidecar `<file>.aux.xml` (<SRS>), which GDAL and QGIS
 * read. Without a georeference (has_geo 0) the file is a plain TIFF on the pixel grid (no
 * GeoTIFF tags; GIS software shows it in pixel coordinates).
 *
 * Class maps: 8-bit palette image (TIFFTAG_COLORMAP from io/palette.h), label 0 = no data
 * (GDAL_NODATA tag "0"), class names as GDAL category names in the sidecar
 * `<file>.aux.xml` (<CategoryNames>: entry k names value k, entry 0 "unlabelled"), which
 * is where GDAL keeps them for a GeoTIFF (`gdalinfo` lists them as Categories).
 *
 * Scores: float32, one band per class, band descriptions (GDAL_METADATA tag 42112, role
 * "description") from band_names, pixel-interleaved, deflate-compressed.
 *
 * Every file (the TIFF and its sidecar) is written to "<name>.tmp.<pid>" and renamed; on
 * failure nothing is left, and a stale sidecar of an earlier file at the same path is
 * removed when the new file needs none. */
#ifndef DIFFCLIP_IO_GEOTIFF_H
#define DIFFCLIP_IO_GEOTIFF_H

#include <stdint.h>

#include "diffclip/core/status.h"

struct dc_georef {
  int has_geo;        /* gt is valid */
  double gt[6];       /* GDAL order: x = gt[0] + col gt[1] + row gt[2], y = gt[3] + col gt[4] + row gt[5] */
  const char *crs_wkt; /* may be NULL */
};

/* labels (H, W): 0 = no data, 1..n_classes; class_names (n_classes). geo may be NULL. */
enum dc_status dc_geotiff_write_classes(const char *path, const uint8_t *labels, int height, int width, int n_classes,
                                        const char *const *class_names, const struct dc_georef *geo);
/* values (H, W, bands) pixel-interleaved; band_names (bands) may be NULL. geo may be NULL. */
enum dc_status dc_geotiff_write_scores(const char *path, const float *values, int height, int width, int bands,
                                       const char *const *band_names, const struct dc_georef *geo);
/* The EPSG code the WKT names at its top level and whether the CRS is projected (1) or
 * geographic (0); 0 when it names none (or is NULL). */
int dc_wkt_epsg(const char *wkt, int *projected);

#endif
