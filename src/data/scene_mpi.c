/* Parallel scene loading (see scene_mpi.h): MPI-IO file access with collective metadata,
 * one row-band hyperslab per rank read collectively, then an all-gather of the bands. */
#include "diffclip/data/scene_mpi.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

#include "diffclip/core/sha256.h"

/* Rows [lo, hi) of the cube belong to rank r of R. */
static void band_of(int H, int r, int R, int *lo, int *hi) {
  *lo = (int)((long)H * r / R);
  *hi = (int)((long)H * (r + 1) / R);
}

static enum dc_status read_band(const struct dc_dist *d, hid_t file, const char *path, int m, const struct dc_scene *s,
                                float *band, int lo, int hi) {
  char obj[64];
  snprintf(obj, sizeof obj, "/modality_%d/cube", m);
  hid_t ds = H5Dopen2(file, obj, H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  int bad = ds < 0 || space < 0 || dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0;
  hsize_t start[3] = {(hsize_t)lo, 0, 0}, count[3] = {(hsize_t)(hi - lo), (hsize_t)s->width, (hsize_t)s->bands[m]};
  hid_t mem = -1;
  if (!bad) {
    if (hi > lo) {
      mem = H5Screate_simple(3, count, NULL);
      bad = mem < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0;
    } else { /* more ranks than rows: this rank takes part in the collective read with nothing */
      hsize_t one[3] = {1, 1, 1};
      mem = H5Screate_simple(3, one, NULL);
      bad = mem < 0 || H5Sselect_none(space) < 0 || H5Sselect_none(mem) < 0;
    }
  }
  if (!bad) bad = H5Dread(ds, H5T_NATIVE_FLOAT, mem, space, dxpl, band) < 0;
  if (mem >= 0) H5Sclose(mem);
  if (dxpl >= 0) H5Pclose(dxpl);
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  if (bad) return DC_ERROR(DC_ERR_HDF5, "%s: cannot read rows %d..%d of %s on rank %d", path, lo, hi - 1, obj, d->rank);
  return DC_OK;
}

/* Every rank must have opened the same scene (a node-local copy of another version at the
 * same path would mix two data sets): its shape, names, provenance and labels compared. */
static enum dc_status same_scene(const struct dc_dist *d, const char *path, const struct dc_scene *s) {
  char train[DC_SHA256_HEX], test[DC_SHA256_HEX], text[2048];
  size_t hw = (size_t)s->height * s->width * sizeof(int32_t);
  dc_sha256_hex(s->train, hw, train);
  dc_sha256_hex(s->test, hw, test);
  int n = snprintf(text, sizeof text,
                   "scene %.300s\nname %.63s\nsize %d x %d\nclasses %d\ncreated %s by diffclip %s\nmanifest sha256 %s\n"
                   "train labels sha256 %s\ntest labels sha256 %s\n",
                   path, s->name, s->height, s->width, s->n_classes, s->created_utc, s->program_version,
                   s->manifest_sha256, train, test);
  for (int m = 0; m < s->n_modalities && n > 0 && (size_t)n < sizeof text; m++)
    n += snprintf(text + n, sizeof text - (size_t)n, "modality %d %.31s, %d bands, range %.9g .. %.9g\n", m,
                  s->modality_names[m], s->bands[m], s->global_min[m], s->global_max[m]);
  /* data, not configuration: exit code 1 */
  return dc_dist_same_text(d, "scene", text,
                           "every rank must read the same scene file: a node-local copy differs from rank 0's "
                           "(copy the same file to every node, or put it on a shared file system)") == DC_OK ? DC_OK : DC_ERR_IO;
}

enum dc_status dc_scene_load_parallel(const struct dc_dist *d, const char *path, struct dc_scene *s) {
  /* metadata, labels and statistics: small, every rank reads them */
  enum dc_status st = dc_dist_agree(d, dc_scene_read(path, s, 0));
  if (st != DC_OK) return st;
  DC_TRY(dc_dist_agree(d, same_scene(d, path, s)));
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, d->comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (dc_dist_agree(d, file < 0 ? DC_ERR_IO : DC_OK) != DC_OK) {
    if (file >= 0) H5Fclose(file);
    return DC_ERROR(DC_ERR_IO, "%s: cannot open for parallel reading", path);
  }
  int R = d->size, *counts = malloc(2 * (size_t)R * sizeof *counts);
  int *displs = counts ? counts + R : NULL;
  st = counts ? DC_OK : DC_ERR_NOMEM;
  for (int m = 0; st == DC_OK && m < s->n_modalities; m++) {
    size_t row = (size_t)s->width * s->bands[m];
    if ((double)row * s->height > 2147483647.0) {
      st = DC_ERROR(DC_ERR_ARG, "%s: modality %d's cube is too large to share (%zu values)", path, m, row * s->height);
      break;
    }
    s->cube[m] = malloc(row * s->height * sizeof(float));
    int lo, hi;
    band_of(s->height, d->rank, R, &lo, &hi);
    st = s->cube[m] ? read_band(d, file, path, m, s, s->cube[m] + row * lo, lo, hi) : DC_ERR_NOMEM;
    st = dc_dist_agree(d, st);
    if (st != DC_OK) break;
    for (int r = 0; r < R; r++) {
      band_of(s->height, r, R, &lo, &hi);
      counts[r] = (int)(row * (size_t)(hi - lo));
      displs[r] = (int)(row * (size_t)lo);
    }
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, s->cube[m], counts, displs, MPI_FLOAT, d->comm) !=
        MPI_SUCCESS)
      st = DC_ERROR(DC_ERR_MPI, "%s: sharing the row bands of modality %d failed", path, m);
  }
  free(counts);
  H5Fclose(file);
  return st;
}
