/* The exam store (format "diffclip-exams", version 1; docs/formats.md "MRNet exams"):
 *   /                     attrs: format, format_version, name, n_exams, n_planes, n_tasks,
 *                                slices, height, width, resample, program_version, created_utc
 *   /exams/<plane>        float32 (N, S, H, W), one chunk per exam, shuffle + deflate
 *   /exams/labels         int32 (N, n_tasks), 0 or 1 (task order: /classes/names)
 *   /exams/ids            int32 (N), the exam number of the label CSVs
 *   /exams/split          int32 (N), index into /splits/names
 *   /exams/source_slices  int32 (N, n_planes), slice count of each raw volume
 *   /splits/names, /classes/names, /classes/descriptions, /exams/planes  vlen UTF-8 strings
 *   /provenance           attrs: manifest, manifest_sha256, source; /provenance/files
 * Written to "<path>.tmp.<pid>" and renamed at the end, like the scene. */
#ifndef DIFFCLIP_PREPARE_EXAMS_H
#define DIFFCLIP_PREPARE_EXAMS_H

#include <hdf5.h>

#include "diffclip/prepare/manifest.h"

#define DC_EXAMS_FORMAT "diffclip-exams"
#define DC_EXAMS_VERSION 1

struct dc_exam_meta {
  int n_exams;
  const int *ids, *split, *labels, *source_slices; /* (N), (N), (N, T), (N, P) */
  int n_files;
  char *const *files; /* "sha256  path" */
  const char *source;
};

struct dc_exam_writer {
  const char *path;
  char tmp[4096];
  hid_t file;
  hid_t ds[DC_MANIFEST_MAX_PLANES];
  int n_planes, n_exams, slices, height, width;
};

/* Creates the temporary file and the per-plane datasets. */
enum dc_status dc_exam_writer_open(struct dc_exam_writer *w, const char *path, const struct dc_manifest *m, int n_exams);
/* Writes exam `exam`'s resampled volume (S, H, W) of plane `plane`. */
enum dc_status dc_exam_writer_put(struct dc_exam_writer *w, int plane, int exam, const float *volume);
/* Writes labels, ids, names and provenance, closes and renames. On failure the
 * temporary file is removed. */
enum dc_status dc_exam_writer_finish(struct dc_exam_writer *w, const struct dc_manifest *m, const struct dc_exam_meta *meta);
/* Closes and removes the temporary file (after a failure elsewhere). */
void dc_exam_writer_abort(struct dc_exam_writer *w);

#endif
