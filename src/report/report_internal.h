/* The report writer's internal model: what was found in the bench folder, reduced to
 * means and standard deviations over runs, and a small document model rendered to both
 * Markdown and HTML, so the two files carry the same content by construction. */
#ifndef DIFFCLIP_IO_REPORT_INTERNAL_H
#define DIFFCLIP_IO_REPORT_INTERNAL_H

#include <stdint.h>

#include "diffclip/report/report.h"
#include "diffclip/io/result.h"
#include "report/textbuf.h"

/* Mean and population standard deviation (ddof 0, NumPy's np.std) over the runs whose value
 * is finite; n = 0: both NaN. */
struct rp_stat {
  double mean, std;
  int n;
};

struct rp_run { /* one result file's numbers */
  int run;
  double oa, aa, kappa, accuracy, auc, sensitivity, specificity, finetune_s, evaluate_s;
  int best_epoch;
  int64_t n_test;
  char config_sha256[65];
};

struct rp_cell { /* one dataset entry x shot setting */
  int shots;
  int n_found;            /* result files read */
  int n_runs;             /* expected */
  struct rp_run *runs;    /* (n_found) */
  char **problems;        /* (n_problems) "run_3: missing" / "run_4: <error>" */
  int n_problems;
  char task[16];          /* of the first result read; "" when none */
  char protocol[16];      /* the runs' label split ("few_shot", "official"); "" not recorded, "mixed" */
  char target[16];        /* exam stores: the task ("abnormal", ...); "" otherwise */
  int64_t *confusion;     /* (n_classes^2) summed over the runs read, rows = truth; NULL none */
  double test_per_class[DC_RESULT_MAX_CLASSES]; /* test samples per class, mean over runs */
  int n_classes;
  char class_names[DC_RESULT_MAX_CLASSES][64];
  struct rp_stat oa, aa, kappa, accuracy, auc, sensitivity, specificity, finetune_s, evaluate_s, best_epoch;
  struct rp_stat per_class[DC_RESULT_MAX_CLASSES];
  int map_run;            /* the run whose maps were drawn; -1 none */
  char maps[3][160];      /* relative paths of the prediction and error PNGs ([1], the truth, is the entry's); "" none */
  char confusion_svg[160]; /* relative path of the confusion heat map; "" none */
  int n_epochs;           /* longest curve */
  struct rp_stat *loss, *val_acc; /* (n_epochs) per epoch over the runs that reached it */
};

struct rp_entry {
  const struct dc_report_dataset *ds;
  const char *display; /* ds->display or ds->name */
  const char *paper;   /* ds->paper_key or ds->name */
  struct rp_cell cells[DC_REPORT_MAX_SHOTS];
  char pretrain_svg[160], finetune_svg[160], val_acc_svg[160]; /* relative; "" none */
  char truth_png[160], scene_png[160]; /* the ground truth and the false-colour composite, once per entry;
                                          with a composite the cells' maps are drawn over it */
  char *config_text;                   /* the entry's resolved configuration (<bench>/<entry>/config.cfg); NULL none */
  char pretrain_note[320]; /* why there is no pretraining curve */
  int pretrain_records;
};

struct rp_report {
  const struct dc_report_spec *spec;
  char dir[1100]; /* the temporary folder being written */
  int n_entries;
  struct rp_entry *entries;
};

/* report.c: 1 when name is a valid entry folder name (1-63 of a-z A-Z 0-9 . _ -, no leading dot). */
int rp_valid_name(const char *name);

/* report_load.c: reads every result and log, draws maps and curves into r->dir. */
enum dc_status rp_load(struct rp_report *r);
void rp_free(struct rp_report *r);
struct rp_stat rp_stat_of(const double *v, int n);

/* report_json.c */
enum dc_status rp_write_json(const struct rp_report *r, const char *path);

/* report_tables.c: the paper's figures (fractions); 0 when the paper has none. */
int rp_paper_classes(const char *key, int shots, double *oa, double *aa, double *kappa);
int rp_paper_binary(const char *key, double *acc, double *auc, double *se, double *sp);
int rp_paper_study(const char *key, const char *study, double *oa);
/* The paper's Table 1 figures for a cell, only when its runs follow the paper's protocol
 * (a main entry, task classes, protocol few_shot, a figure for that dataset and shots). */
int rp_paper_comparable(const struct rp_entry *e, const struct rp_cell *c, double *oa, double *aa, double *kappa);
/* The cell's chance levels (fractions) from its test samples per class; 0 when none. */
int rp_chance(const struct rp_cell *c, double *uniform, double *majority, int *majority_class);

/* report_tables.c: the sections with tables; each fills its CSV text beside the document.
 * The optional ones return 0 (adding nothing) when no entry belongs in them. */
struct rd_doc;
void rp_table_main(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv);
int rp_table_binary(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv);
int rp_table_studies(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv);
int rp_table_per_class(const struct rp_report *r, const struct rp_entry *e, struct rd_doc *d, struct dc_text *csv);
void rp_table_timings(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv, struct dc_text *csv_runs);
void rp_table_provenance(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv, struct dc_text *csv_sums);

/* report_doc.c: the document model. */
struct rd_block;
struct rd_doc {
  struct rd_block *blocks;
  int n, cap, failed;
};
void rd_heading(struct rd_doc *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void rd_para(struct rd_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rd_item(struct rd_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* bullet */
/* A table of ncols columns with header cells; then rd_cell fills rows left to right. */
void rd_table(struct rd_doc *d, const char *csv_name, int ncols, const char *const *header);
void rd_cell(struct rd_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rd_image(struct rd_doc *d, const char *rel_path, const char *caption);
/* A colour legend (HTML: swatches; Markdown: the colours as hex codes). */
struct rd_swatch {
  uint8_t rgb[3];
  char text[96];
};
void rd_legend(struct rd_doc *d, const char *title, int n, const struct rd_swatch *sw);
/* A collapsible block of preformatted text (HTML and Markdown: <details>). */
void rd_details(struct rd_doc *d, const char *summary, const char *text);
void rd_free(struct rd_doc *d);
/* Images and tables' CSV files are read from base_dir (PNG and CSV: base64 data URIs, SVG:
 * inline), so the CSVs must be written before the HTML is rendered. */
enum dc_status rd_render_md(const struct rd_doc *d, struct dc_text *out);
enum dc_status rd_render_html(const struct rd_doc *d, const char *title, const char *base_dir, struct dc_text *out);

#endif
