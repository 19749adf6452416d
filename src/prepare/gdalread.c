/* Rasters through GDAL (readers.h): GeoTIFF, ENVI (open the data file; GDAL finds the
 * .hdr next to it) and any other format GDAL reads. Each band is read with GDALRasterIO
 * straight into its channel of the (H, W, C) array (pixel stride C), so there is no
 * second copy. Label rasters are read as float64 and checked to be whole numbers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>

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
