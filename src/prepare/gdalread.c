/* Rasters through GDAL (readers.h): GeoTIFF, ENVI (open the data file; GDAL finds the
 * .hdr next to it) and any other format GDAL reads. Each band is read with GDALRasterIO
 * straight into its channel of the (H, W, C) array (pixel stride C), so there is no
 * second copy. Label rasters are read as float64 and checked to be whole numbers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "prepare/readers.h"

static void CPL_STDCALL gdal_log(CPLErr cls, CPLErrorNum num, const char *msg) {
  (void)num;
  dc_log(DC_LOG_DEBUG, "gdal (%d): %s", (int)cls, msg ? msg : "");
}

void dc_prepare_readers_init(void) {
  dc_prepare_mat_init();
  GDALAllRegister();
  CPLSetErrorHandler(gdal_log); /* CPLGetLastErrorMsg() still holds the last message */
}

static const char *last_msg(void) {
  const char *m = CPLGetLastErrorMsg();
  return m && m[0] ? m : "no detail";
}

enum dc_status dc_gdal_read(const char *path, enum dc_elem want, struct dc_array *out) {
  memset(out, 0, sizeof *out);
  if (access(path, R_OK) != 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  CPLErrorReset();
  GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
  if (!ds)
    return DC_ERROR(DC_ERR_IO, "%s: not a raster GDAL can read (GeoTIFF, ENVI, ... expected) [gdal: %s]", path, last_msg());
  int W = GDALGetRasterXSize(ds), H = GDALGetRasterYSize(ds), C = GDALGetRasterCount(ds);
  enum dc_status st = DC_OK;
  if (W <= 0 || H <= 0 || C <= 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: raster of %d x %d pixels and %d bands; expected at least one band of pixels", path, H, W, C);
  } else {
    out->ndim = 3;
    out->dims[0] = (size_t)H;
    out->dims[1] = (size_t)W;
    out->dims[2] = (size_t)C;
    out->n = (size_t)H * (size_t)W * (size_t)C;
    snprintf(out->src_type, sizeof out->src_type, "%s",
             GDALGetDataTypeName(GDALGetRasterDataType(GDALGetRasterBand(ds, 1))));
    st = dc_array_alloc(out, want, path);
  }
  double *tmp = NULL;
  if (st == DC_OK && want == DC_ELEM_I32) {
    tmp = malloc((size_t)H * (size_t)W * sizeof *tmp);
    if (!tmp) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for a band", path);
  }
  for (int b = 0; st == DC_OK && b < C; b++) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
    CPLErr rc;
    if (want == DC_ELEM_F32)
      rc = GDALRasterIO(band, GF_Read, 0, 0, W, H, out->f32 + b, W, H, GDT_Float32, (int)sizeof(float) * C,
                        (GSpacing)sizeof(float) * C * W);
    else
      rc = GDALRasterIO(band, GF_Read, 0, 0, W, H, tmp, W, H, GDT_Float64, 0, 0);
    if (rc != CE_None) {
      st = DC_ERROR(DC_ERR_IO, "%s: cannot read band %d of %d (truncated or corrupt file?) [gdal: %s]", path, b + 1, C,
                    last_msg());
      break;
    }
    if (want == DC_ELEM_I32) {
      char what[1100];
      snprintf(what, sizeof what, "%s: band %d", path, b + 1);
      for (size_t i = 0; st == DC_OK && i < (size_t)H * W; i++) {
        st = dc_array_put_f64(out, i * (size_t)C + (size_t)b, tmp[i], what);
      }
    }
  }
  free(tmp);
  GDALClose(ds);
  if (st != DC_OK) dc_array_free(out);
  return st;
}

/* The CRS as WKT with its EPSG code identified where GDAL can (an ENVI `map info` UTM zone
 * comes without one), so a GeoTIFF writer without PROJ can still name it by code. */
static char *crs_text(const char *wkt) {
  OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
  char *in = (char *)wkt, *out = NULL;
  if (srs && OSRImportFromWkt(srs, &in) == OGRERR_NONE) {
    if (!OSRGetAuthorityCode(srs, NULL)) OSRAutoIdentifyEPSG(srs);
    char *text = NULL;
    if (OSRExportToWkt(srs, &text) == OGRERR_NONE && text) out = strdup(text);
    CPLFree(text);
  }
  if (srs) OSRDestroySpatialReference(srs);
  return out ? out : strdup(wkt);
}

/* A band's centre wavelength from its metadata ("wavelength", as GDAL's ENVI driver and the
 * GeoTIFFs made from ENVI files say it; "WAVELENGTH"; "CENTRAL_WAVELENGTH_UM" in the
 * IMAGERY domain, micrometres), NaN when none or not a number. */
static double band_wavelength(GDALRasterBandH b, char *units, size_t cap) {
  static const char *const keys[] = {"wavelength", "WAVELENGTH", "Wavelength"};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    const char *v = GDALGetMetadataItem(b, keys[k], NULL);
    char *end;
    double w = v ? strtod(v, &end) : NAN;
    if (v && end != v && w > 0) {
      const char *u = GDALGetMetadataItem(b, "wavelength_units", NULL);
      if (u && !units[0]) snprintf(units, cap, "%s", u);
      return w;
    }
  }
  const char *v = GDALGetMetadataItem(b, "CENTRAL_WAVELENGTH_UM", "IMAGERY");
  char *end;
  double w = v ? strtod(v, &end) : NAN;
  if (v && end != v && w > 0) {
    if (!units[0]) snprintf(units, cap, "um");
    return w;
  }
  return NAN;
}

enum dc_status dc_gdal_read_geo(const char *path, struct dc_raster_geo *out) {
  memset(out, 0, sizeof *out);
  CPLErrorReset();
  GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
  if (!ds) return DC_ERROR(DC_ERR_IO, "%s: not a raster GDAL can read [gdal: %s]", path, last_msg());
  enum dc_status st = DC_OK;
  out->has_geo = GDALGetGeoTransform(ds, out->gt) == CE_None;
  const char *wkt = GDALGetProjectionRef(ds);
  if (wkt && wkt[0] && !(out->wkt = crs_text(wkt))) st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for its CRS", path);
  out->bands = GDALGetRasterCount(ds);
  const char *du = GDALGetMetadataItem(ds, "wavelength_units", NULL);
  if (!du) du = GDALGetMetadataItem(ds, "wavelength_units", "ENVI");
  char units[32] = "";
  if (du) snprintf(units, sizeof units, "%s", du);
  int known = 0;
  if (st == DC_OK && out->bands > 0 && !(out->wavelength = malloc((size_t)out->bands * sizeof(double))))
    st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for its wavelengths", path);
  for (int b = 0; st == DC_OK && b < out->bands; b++) {
    out->wavelength[b] = band_wavelength(GDALGetRasterBand(ds, b + 1), units, sizeof units);
    known += !isnan(out->wavelength[b]);
  }
  if (!known) {
    free(out->wavelength);
    out->wavelength = NULL;
  }
  snprintf(out->units, sizeof out->units, "%s", units);
  GDALClose(ds);
  if (st != DC_OK) dc_raster_geo_free(out);
  return st;
}

void dc_raster_geo_free(struct dc_raster_geo *g) {
  free(g->wkt);
  free(g->wavelength);
  memset(g, 0, sizeof *g);
}
