/* The benchmark report (docs/formats.md "The bench folder and the report"): from the
 * result files of a bench folder, a report folder with report.md, a self-contained
 * report.html, report.json, one CSV per table, PNG classification maps and SVG curves.
 *
 * The bench folder holds, per dataset entry (one folder each):
 *   <bench_dir>/<name>/shots_<k>/run_<r>/result.h5   one fine-tuning + evaluation run
 *   <bench_dir>/<name>/pretrain/metrics.jsonl        the pretraining log (optional; with
 *                                                    pretraining per run, pretrain_0/ is read)
 *   <bench_dir>/<name>/skipped.txt                   the reason, when the entry was skipped
 * and <bench_dir>/bench_info.txt records the spec's provenance and entries (written by
 * dc_report_write, read by dc_report_scan), so `diffclip report` can remake the report.
 *
 * A missing or unreadable result file is reported as such (the others still count); only
 * a report that cannot be written at all is an error. The report folder is composed under a
 * temporary name and renamed into place at the end; an existing folder there is replaced
 * only when it is an earlier report (it holds report.json) or is empty. */
#ifndef DIFFCLIP_REPORT_H
#define DIFFCLIP_REPORT_H

#include "diffclip/core/status.h"

#define DC_REPORT_MAX_DATASETS 64
#define DC_REPORT_MAX_SHOTS 16
#define DC_REPORT_MAX_RUNS 1000
#define DC_REPORT_MAX_TIMINGS 64

struct dc_report_dataset {
  char name[64];         /* the entry's folder under bench_dir (letters, digits, . _ - only) */
  char display[128];     /* its name in the report; "" = name */
  char paper_key[64];    /* the paper's dataset whose figures go beside ours: "houston2013", "muufl",
                            "trento", "mrnet"; "" = name (so other datasets get "-") */
  char study[128];       /* "" for a main result; else the study row's label ("ablation: without
                            text", "prompt p3", "mask ratio 0.5"): the entry goes to the studies table */
  int skipped;
  char skip_reason[512]; /* why, when skipped */
  char checksum[160];    /* the dataset's checksum (e.g. the scene file's SHA-256); "" unknown */
};

struct dc_report_timing {
  char label[96]; /* "pretrain houston2013", "bench total", ... */
  double seconds;
};

struct dc_report_spec {
  char bench_dir[1024];
  char report_dir[1024]; /* "" = <bench_dir>/report */
  char title[160];
  int n_datasets;
  struct dc_report_dataset datasets[DC_REPORT_MAX_DATASETS];
  int n_shots;
  int shots[DC_REPORT_MAX_SHOTS]; /* the shot settings, in table order */
  int n_runs;                     /* runs 0..n_runs-1 expected per dataset and shot setting */
  /* provenance */
  char git_commit[64];
  char config_sha256[65];
  char hardware[256];
  char build[768];       /* compiler, BLAS, MPI, HDF5, CUDA of the program that ran the bench */
  char program_version[32];
  char created_utc[32];
  int ranks;
  int n_timings;
  struct dc_report_timing timings[DC_REPORT_MAX_TIMINGS];
  int map_scale; /* classification map upscaling; 0 = automatic */
};

/* Zeroes spec and sets the defaults: title "DiffCLIP benchmark", this program's version,
 * the current UTC time, 1 rank. */
void dc_report_spec_init(struct dc_report_spec *spec);
/* Appends a dataset entry named `name` (the other fields empty) and returns it; NULL when
 * the table is full or the name is not a valid folder name (both logged). */
struct dc_report_dataset *dc_report_spec_add_dataset(struct dc_report_spec *spec, const char *name);
enum dc_status dc_report_spec_add_timing(struct dc_report_spec *spec, const char *label, double seconds);

/* Writes the report folder (see above), and records the spec in <bench_dir>/bench_info.txt
 * (a failure there is only a warning). DC_ERR_ARG for a spec that makes no sense (no
 * datasets, no shots, no runs, a bad name, a report folder that holds something else). */
enum dc_status dc_report_write(const struct dc_report_spec *spec);

/* Builds a spec from a bench folder: bench_info.txt when present (provenance, entries,
 * timings), then every sub-folder that holds shots_<k>, pretrain or skipped.txt (entries
 * not in bench_info.txt are appended in name order); the shot settings are the union of
 * the shots_<k> folders and bench_info's, the run count the larger of bench_info's and the
 * highest run_<r> + 1 found. report_dir may be NULL (<bench_dir>/report). */
enum dc_status dc_report_scan(const char *bench_dir, const char *report_dir, struct dc_report_spec *spec);

/* Writes <bench_dir>/bench_info.txt atomically (dc_report_write calls it). */
enum dc_status dc_report_info_write(const struct dc_report_spec *spec);

#endif
