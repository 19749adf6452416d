/* SVG line plots for the report (axes, ticks, labels, legend, optional shaded bands), and
 * the reader of a pretraining run's metrics.jsonl that feeds the pretraining-loss plot.
 * The SVG uses no ids, scripts or external references, so several plots can be inlined
 * in one HTML page. */
#ifndef DIFFCLIP_SVG_PLOT_H
#define DIFFCLIP_SVG_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/core/status.h"

struct dc_svg_series {
  const char *label;
  int n;
  const double *x, *y;   /* (n); points with a non-finite coordinate are left out */
  const double *lo, *hi; /* (n) or NULL: a shaded band drawn under the line (mean +- std) */
};

struct dc_svg_plot {
  const char *title, *xlabel, *ylabel;
  int log_y;         /* logarithmic y axis (points with y <= 0 are left out) */
  int width, height; /* pixels; 0: 640 x 400 */
  int n_series;
  const struct dc_svg_series *series;
};

/* The plot as SVG text, malloc'd and NUL-terminated (*len bytes). A plot without a single
 * drawable point still gets its axes and a "no data" note. */
enum dc_status dc_svg_plot_render(const struct dc_svg_plot *p, char **svg, size_t *len);
/* The same, written atomically to path. */
enum dc_status dc_svg_plot_write(const char *path, const struct dc_svg_plot *p);

/* A confusion matrix as an SVG heat map: n x n cells, rows = true class, columns =
 * predicted, each cell shaded by its row-normalised share (white 0 to dark blue 1) and
 * labelled with its count and, where it is not 0, its row percentage; class numbers on both
 * axes with the names beside the rows and each row's total at its end. counts is row-major
 * (n * n). Written atomically. */
enum dc_status dc_svg_confusion_write(const char *path, const char *title, int n, const char *const *names,
                                      const int64_t *counts);

/* One pretraining run's metrics.jsonl (docs/formats.md "The run folder"). */
#define DC_PRETRAIN_LOG_MAX_MODALITIES 4
struct dc_pretrain_log {
  int n;             /* records */
  int n_modalities;  /* entries of masked / visible (the largest seen) */
  double *step, *epoch, *loss, *lr, *grad_norm, *samples_per_s; /* (n) */
  double *masked, *visible; /* (n, DC_PRETRAIN_LOG_MAX_MODALITIES); NaN where absent */
  int ranks;         /* of the last record */
};

/* Reads path with fixed-key scanning (no JSON library): every line must hold "step" and
 * "loss"; the other keys are optional (NaN when absent). A last line without its newline
 * that does not parse (a job killed while writing) is dropped; any other malformed line is
 * DC_ERR_IO naming path:line. A resumed run appends records whose steps repeat earlier
 * ones: the later records replace every earlier one from that step on. */
enum dc_status dc_pretrain_log_read(const char *path, struct dc_pretrain_log *log);
void dc_pretrain_log_free(struct dc_pretrain_log *log);

#endif
