/* Writing the exam store (exams.h) with the serial HDF5 C API. Every handle is closed on
 * every path; a failure names the file and the object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/h5util.h"
#include "prepare/exams.h"

#ifndef DIFFCLIP_VERSION
#define DIFFCLIP_VERSION "unknown"
#endif

static void close_all(struct dc_exam_writer *w) {
  for (int p = 0; p < DC_MANIFEST_MAX_PLANES; p++)
    if (w->ds[p] >= 0) {
      H5Dclose(w->ds[p]);
      w->ds[p] = -1;
    }
}

void dc_exam_writer_abort(struct dc_exam_writer *w) {
  close_all(w);
  if (w->file >= 0) H5Fclose(w->file);
  w->file = -1;
  if (w->tmp[0]) remove(w->tmp);
}

enum dc_status dc_exam_writer_open(struct dc_exam_writer *w, const char *path, const struct dc_manifest *m, int n_exams) {
  memset(w, 0, sizeof *w);
  w->file = -1;
  for (int p = 0; p < DC_MANIFEST_MAX_PLANES; p++) w->ds[p] = -1;
  w->path = path;
  w->n_planes = m->exams.n_planes;
  w->n_exams = n_exams;
  w->slices = m->exams.slices;
  w->height = m->exams.height;
  w->width = m->exams.width;
  if ((size_t)snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof w->tmp)
    return DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (w->file < 0) {
    w->tmp[0] = '\0';
    return DC_ERROR(DC_ERR_IO, "%s: cannot create the temporary file (is the folder writable?)", path);
  }
  hid_t g = H5Gcreate2(w->file, "exams", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  enum dc_status st = g >= 0 ? DC_OK : DC_ERROR(DC_ERR_HDF5, "%s: cannot create /exams", path);
  hsize_t dims[4] = {(hsize_t)n_exams, (hsize_t)w->slices, (hsize_t)w->height, (hsize_t)w->width};
  hsize_t chunk[4] = {1, dims[1], dims[2], dims[3]};
  for (int p = 0; st == DC_OK && p < w->n_planes; p++) {
    hid_t space = H5Screate_simple(4, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int ok = space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 4, chunk) >= 0 && H5Pset_shuffle(dcpl) >= 0 &&
             H5Pset_deflate(dcpl, 4) >= 0;
    if (ok) w->ds[p] = H5Dcreate2(g, m->exams.planes[p], H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (w->ds[p] < 0) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot create /exams/%s", path, m->exams.planes[p]);
  }
  if (g >= 0) H5Gclose(g);
  if (st != DC_OK) dc_exam_writer_abort(w);
  return st;
}

enum dc_status dc_exam_writer_put(struct dc_exam_writer *w, int plane, int exam, const float *volume) {
  hsize_t start[4] = {(hsize_t)exam, 0, 0, 0};
  hsize_t count[4] = {1, (hsize_t)w->slices, (hsize_t)w->height, (hsize_t)w->width};
  hid_t fs = H5Dget_space(w->ds[plane]);
  hid_t ms = H5Screate_simple(4, count, NULL);
  herr_t rc = fs >= 0 && ms >= 0 ? H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) : -1;
  if (rc >= 0) rc = H5Dwrite(w->ds[plane], H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, volume);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return rc < 0 ? DC_ERROR(DC_ERR_HDF5, "%s: cannot write exam %d of plane %d (disk full?)", w->path, exam, plane) : DC_OK;
}

static enum dc_status write_meta(struct dc_exam_writer *w, const struct dc_manifest *m, const struct dc_exam_meta *e) {
  const struct dc_manifest_exams *x = &m->exams;
  hid_t f = w->file;
  DC_TRY(dc_h5_put_attr_str(f, "format", DC_EXAMS_FORMAT, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "format_version", DC_EXAMS_VERSION, w->path));
  DC_TRY(dc_h5_put_attr_str(f, "name", m->name, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "n_exams", e->n_exams, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "n_planes", x->n_planes, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "n_tasks", m->n_classes, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "slices", x->slices, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "height", x->height, w->path));
  DC_TRY(dc_h5_put_attr_int(f, "width", x->width, w->path));
  DC_TRY(dc_h5_put_attr_str(f, "resample", x->trilinear ? "trilinear" : "nearest", w->path));
  DC_TRY(dc_h5_put_made_by(f, w->path));
  hsize_t n = (hsize_t)e->n_exams;
  hsize_t d_lab[2] = {n, (hsize_t)m->n_classes}, d_src[2] = {n, (hsize_t)x->n_planes}, d1[1] = {n};
  DC_TRY(dc_h5_put_dataset(f, "/exams/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d_lab, NULL, 0, e->labels, w->path));
  DC_TRY(dc_h5_put_dataset(f, "/exams/ids", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d1, NULL, 0, e->ids, w->path));
  DC_TRY(dc_h5_put_dataset(f, "/exams/split", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d1, NULL, 0, e->split, w->path));
  DC_TRY(dc_h5_put_dataset(f, "/exams/source_slices", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d_src, NULL, 0, e->source_slices, w->path));
  const char *planes[DC_MANIFEST_MAX_PLANES], *splits[DC_MANIFEST_MAX_SPLITS];
  for (int p = 0; p < x->n_planes; p++) planes[p] = x->planes[p];
  for (int s = 0; s < x->n_splits; s++) splits[s] = x->splits[s].name;
  DC_TRY(dc_h5_put_strings(f, "/exams/planes", x->n_planes, planes, w->path));
  static const char *const groups[] = {"splits", "classes", "provenance"};
  for (int i = 0; i < 3; i++) {
    hid_t g = H5Gcreate2(f, groups[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot create /%s", w->path, groups[i]);
    H5Gclose(g);
  }
  DC_TRY(dc_h5_put_strings(f, "/splits/names", x->n_splits, splits, w->path));
  DC_TRY(dc_h5_put_strings(f, "/classes/names", m->n_classes, (const char *const *)m->class_names, w->path));
  DC_TRY(dc_h5_put_strings(f, "/classes/descriptions", m->n_classes, (const char *const *)m->class_descriptions, w->path));
  DC_TRY(dc_h5_put_strings(f, "/provenance/files", e->n_files, (const char *const *)e->files, w->path));
  hid_t g = H5Gopen2(f, "provenance", H5P_DEFAULT);
  if (g < 0) return DC_ERROR(DC_ERR_HDF5, "%s: cannot open /provenance", w->path);
  enum dc_status st = dc_h5_put_attr_str(g, "manifest", m->text, w->path);
  if (st == DC_OK) st = dc_h5_put_attr_str(g, "manifest_sha256", m->sha256, w->path);
  if (st == DC_OK) st = dc_h5_put_attr_str(g, "source", e->source, w->path);
  H5Gclose(g);
  return st;
}

enum dc_status dc_exam_writer_finish(struct dc_exam_writer *w, const struct dc_manifest *m, const struct dc_exam_meta *meta) {
  enum dc_status st = write_meta(w, m, meta);
  close_all(w);
  if (H5Fclose(w->file) < 0 && st == DC_OK) st = DC_ERROR(DC_ERR_HDF5, "%s: cannot close %s (disk full?)", w->path, w->tmp);
  w->file = -1;
  if (st == DC_OK && rename(w->tmp, w->path) != 0)
    st = DC_ERROR(DC_ERR_IO, "%s: cannot rename %s to it: %s", w->path, w->tmp, strerror(errno));
  if (st != DC_OK) remove(w->tmp);
  return st;
}
