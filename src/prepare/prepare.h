/* `prepare`: raw files + a manifest -> the canonical scene (or, for exam datasets, the
 * exam store). Every check runs before anything is written, and the output is written to
 * a temporary name and renamed, so a refused input leaves no file behind. */
#ifndef DIFFCLIP_PREPARE_PREPARE_H
#define DIFFCLIP_PREPARE_PREPARE_H

#include "diffclip/prepare/manifest.h"
#include "diffclip/prepare/rawarray.h"

struct dc_prepare_options {
  const char *manifest; /* data_manifests/<dataset>.cfg */
  const char *raw;      /* the folder holding the raw files the manifest names */
  const char *out;      /* the scene (or exam store) to write */
  const char *variant;  /* NULL: the first variant whose files are all present */
  int nan_policy;       /* -1: the manifest's; else enum dc_nan_policy */
  int partial;          /* exam stores: leave out the exams whose volumes are missing */
};

enum dc_status dc_prepare_run(const struct dc_prepare_options *o);

/* ---- shared by prepare.c, prepare_checks.c and exams.c ------------------------------- */

/* "<raw>/<rel>" into buf; DC_ERR_ARG when it does not fit. */
enum dc_status dc_prepare_join(const char *raw, const char *rel, char *buf, size_t len);
/* Checks the output's folder exists and is writable (before any reading). */
enum dc_status dc_prepare_check_out(const char *out);
/* Reorders a 2-D or 3-D array stored with axis order `layout` ("HWC", "WHC", "CHW") into
 * (H, W, C) in place, C = 1 for 2-D; trailing singleton axes beyond 3 are dropped. `what`
 * names file and variable. */
enum dc_status dc_prepare_to_hwc(struct dc_array *a, const char *layout, const char *what);
/* Maps a raw label raster (H, W, 1) to 0 = unlabelled, 1..n_classes, refusing any other value. */
enum dc_status dc_prepare_map_labels(struct dc_array *a, long unlabelled, long first_class, int n_classes,
                                     const char *what);
/* NaN/Inf policy over bands [b0, b1) of a (H*W, C) cube: error names `what`; fill puts
 * each band's median of its finite values in place of the rest. */
enum dc_status dc_prepare_nonfinite(float *cube, size_t hw, int C, int b0, int b1, enum dc_nan_policy policy,
                                    int width, const char *what);

/* The exam store (kind = "exams", e.g. MRNet), exams.c. */
enum dc_status dc_prepare_exams(const struct dc_manifest *m, const struct dc_prepare_options *o);

#endif
