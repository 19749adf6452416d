/* The report writer (report.h): checks the spec, composes the report folder under
 * <report_dir>.tmp.<pid> (maps and curves from report_load.c, tables from report_tables.c,
 * report.json from report_json.c), then swaps it into place; records the spec in the bench
 * folder so `diffclip report` can remake it. */
#include "diffclip/report/report.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diffclip/report/png_map.h"
#include "report/report_internal.h"

#define MAX_CSV (DC_REPORT_MAX_DATASETS * (DC_REPORT_MAX_SHOTS + 1) + 8)

struct csv_file {
  char name[160];
  struct dc_text t;
};

/* Keeps t as CSV file `name` when used (the table was written), else frees it. */
static void csv_keep(struct csv_file *c, int *n, const char *name, struct dc_text *t, int used) {
  if (used && *n < MAX_CSV) {
    snprintf(c[*n].name, sizeof c[*n].name, "%s", name);
    c[(*n)++].t = *t;
  } else {
    dc_text_free(t);
  }
  memset(t, 0, sizeof *t);
}

void dc_report_spec_init(struct dc_report_spec *spec) {
  memset(spec, 0, sizeof *spec);
  snprintf(spec->title, sizeof spec->title, "DiffCLIP benchmark");
  snprintf(spec->program_version, sizeof spec->program_version, "%s", DIFFCLIP_VERSION);
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm)) strftime(spec->created_utc, sizeof spec->created_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
  spec->ranks = 1;
}

int rp_valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof ((struct dc_report_dataset *)0)->name || name[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

struct dc_report_dataset *dc_report_spec_add_dataset(struct dc_report_spec *spec, const char *name) {
  if (!rp_valid_name(name)) {
    DC_ERROR(DC_ERR_ARG, "dataset entry name \"%s\" is not a folder name (1-63 of a-z A-Z 0-9 . _ -)", name);
    return NULL;
  }
  if (spec->n_datasets >= DC_REPORT_MAX_DATASETS) {
    DC_ERROR(DC_ERR_ARG, "more than %d dataset entries in one report", DC_REPORT_MAX_DATASETS);
    return NULL;
  }
  struct dc_report_dataset *d = &spec->datasets[spec->n_datasets++];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", name);
  return d;
}

enum dc_status dc_report_spec_add_timing(struct dc_report_spec *spec, const char *label, double seconds) {
  if (spec->n_timings >= DC_REPORT_MAX_TIMINGS)
    return DC_ERROR(DC_ERR_ARG, "more than %d timings in one report", DC_REPORT_MAX_TIMINGS);
  struct dc_report_timing *t = &spec->timings[spec->n_timings++];
  snprintf(t->label, sizeof t->label, "%s", label);
  t->seconds = seconds;
  return DC_OK;
}

static enum dc_status check_spec(const struct dc_report_spec *sp) {
  if (!sp->bench_dir[0]) return DC_ERROR(DC_ERR_ARG, "report: no bench folder given");
  if (sp->n_datasets < 1 || sp->n_datasets > DC_REPORT_MAX_DATASETS)
    return DC_ERROR(DC_ERR_ARG, "report: %d dataset entries, 1..%d expected", sp->n_datasets, DC_REPORT_MAX_DATASETS);
  if (sp->n_shots < 1 || sp->n_shots > DC_REPORT_MAX_SHOTS)
    return DC_ERROR(DC_ERR_ARG, "report: %d shot settings, 1..%d expected", sp->n_shots, DC_REPORT_MAX_SHOTS);
  if (sp->n_runs < 1 || sp->n_runs > DC_REPORT_MAX_RUNS)
    return DC_ERROR(DC_ERR_ARG, "report: %d runs, 1..%d expected", sp->n_runs, DC_REPORT_MAX_RUNS);
  for (int s = 0; s < sp->n_shots; s++) {
    if (sp->shots[s] < 1) return DC_ERROR(DC_ERR_ARG, "report: shot setting %d is not positive", sp->shots[s]);
    for (int t = 0; t < s; t++)
      if (sp->shots[t] == sp->shots[s]) return DC_ERROR(DC_ERR_ARG, "report: shot setting %d given twice", sp->shots[s]);
  }
  for (int d = 0; d < sp->n_datasets; d++) {
    if (!rp_valid_name(sp->datasets[d].name))
      return DC_ERROR(DC_ERR_ARG, "report: dataset entry \"%.63s\" is not a folder name (a-z A-Z 0-9 . _ -)",
                      sp->datasets[d].name);
    for (int e = 0; e < d; e++)
      if (strcmp(sp->datasets[e].name, sp->datasets[d].name) == 0)
        return DC_ERROR(DC_ERR_ARG, "report: dataset entry %s given twice", sp->datasets[d].name);
  }
  return DC_OK;
}

/* Removes a folder tree made by this writer (plain files and folders only). */
static void remove_tree(const char *path) {
  DIR *dp = opendir(path);
  if (dp) {
    struct dirent *e;
    while ((e = readdir(dp))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char sub[1400];
      struct stat st;
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(sub);
      else
        remove(sub);
    }
    closedir(dp);
  }
  rmdir(path);
}

/* 1 when path is absent, an empty folder or an earlier report (it holds report.json). */
static int replaceable(const char *path, int *exists) {
  struct stat st;
  *exists = stat(path, &st) == 0;
  if (!*exists) return 1;
  if (!S_ISDIR(st.st_mode)) return 0;
  char marker[1200];
  snprintf(marker, sizeof marker, "%s/report.json", path);
  if (access(marker, F_OK) == 0) return 1;
  DIR *dp = opendir(path);
  if (!dp) return 0;
  int empty = 1;
  struct dirent *e;
  while ((e = readdir(dp)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
  closedir(dp);
  return empty;
}

/* The colour legend of an entry's class maps (from the first cell with classes). */
static void class_legend(struct rd_doc *d, const struct rp_cell *ref, int over) {
  struct rd_swatch sw[DC_RESULT_MAX_CLASSES + 1];
  int n = 0;
  for (int k = 1; k <= ref->n_classes; k++, n++) {
    dc_map_class_color(k, sw[n].rgb);
    snprintf(sw[n].text, sizeof sw[n].text, "%d %.80s", k, ref->class_names[k - 1]);
  }
  dc_map_class_color(0, sw[n].rgb);
  snprintf(sw[n].text, sizeof sw[n].text, "%s", over ? "unlabelled / not predicted: the scene, dimmed" : "0 unlabelled / not predicted");
  rd_legend(d, "Classes", n + 1, sw);
}

static void error_legend(struct rd_doc *d, int over) {
  static const int order[4] = {DC_MAP_CORRECT, DC_MAP_WRONG, DC_MAP_UNTESTED, DC_MAP_UNLABELLED};
  static const char *const names[4] = {"correct", "wrong", "labelled, not tested", "unlabelled"};
  struct rd_swatch sw[4];
  int n = over ? 2 : 4;
  for (int i = 0; i < n; i++) {
    dc_map_error_color((enum dc_map_error_class)order[i], sw[i].rgb);
    snprintf(sw[i].text, sizeof sw[i].text, "%s", names[i]);
  }
  rd_legend(d, over ? "Errors (test pixels; every other pixel shows the scene, dimmed)" : "Errors", n, sw);
}

static const struct rp_cell *first_classes_cell(const struct rp_report *r, const struct rp_entry *e) {
  for (int s = 0; s < r->spec->n_shots; s++)
    if (e->cells[s].n_found > 0 && strcmp(e->cells[s].task, "classes") == 0) return &e->cells[s];
  return NULL;
}

/* Per entry and shot setting: the heat map, and the counts as a table with its CSV. */
static void section_confusion(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv, struct csv_file *files,
                              int *n_csv) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Confusion matrices");
  rd_para(d, "Rows: the true class, columns: the predicted class, test samples summed over the runs found. The heat "
             "map is coloured by the row-normalised share (each row sums to 100 %%) and prints the counts and the "
             "shares; the table and its CSV hold the counts.");
  int any = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (e->ds->skipped) continue;
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      if (!c->confusion || !c->n_found) continue;
      const char *head[1 + DC_RESULT_MAX_CLASSES + 1];
      char labels[DC_RESULT_MAX_CLASSES][16], name[160];
      int K = c->n_classes;
      head[0] = "true \\ predicted";
      for (int k = 0; k < K; k++) snprintf(labels[k], sizeof labels[k], "%d", k + 1), head[1 + k] = labels[k];
      head[1 + K] = "total";
      rd_heading(d, 3, "%s, %d shots (%d run%s)", e->display, c->shots, c->n_found, c->n_found == 1 ? "" : "s");
      if (c->confusion_svg[0]) rd_image(d, c->confusion_svg, "confusion matrix (row-normalised colour, counts)");
      snprintf(name, sizeof name, "confusion/%s_shots%d.csv", e->ds->name, c->shots);
      rd_table(d, name, K + 2, head);
      dc_text_puts(csv, "true_class");
      for (int k = 0; k < K; k++) {
        dc_text_puts(csv, ",");
        dc_text_csv(csv, c->class_names[k]);
      }
      dc_text_puts(csv, "\n");
      for (int a = 0; a < K; a++) {
        long long total = 0;
        rd_cell(d, "%d %s", a + 1, c->class_names[a]);
        dc_text_csv(csv, c->class_names[a]);
        for (int b = 0; b < K; b++) {
          long long v = (long long)c->confusion[a * K + b];
          total += v;
          rd_cell(d, "%lld", v);
          dc_text_printf(csv, ",%lld", v);
        }
        rd_cell(d, "%lld", total);
        dc_text_puts(csv, "\n");
      }
      csv_keep(files, n_csv, name, csv, 1);
      any = 1;
    }
  }
  if (!any) rd_para(d, "No result holds a confusion matrix.");
}

static void sections_figures(const struct rp_report *r, struct rd_doc *d) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Classification maps");
  rd_para(d, "Per dataset: the scene as a false-colour composite (where the result holds one) and the ground truth, "
             "once; then per shot setting, from the first readable run, the predicted class of every pixel and the "
             "errors on the test pixels, drawn over the composite when there is one.");
  int maps = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    const struct rp_cell *ref = first_classes_cell(r, e);
    int any = e->truth_png[0] || e->scene_png[0];
    for (int s = 0; s < sp->n_shots; s++) any |= e->cells[s].maps[0][0] || e->cells[s].maps[2][0];
    if (!any || !ref) continue;
    rd_heading(d, 3, "%s", e->display);
    if (e->scene_png[0]) rd_image(d, e->scene_png, "the scene (false-colour composite)");
    if (e->truth_png[0]) rd_image(d, e->truth_png, "ground truth (train and test labels merged)");
    class_legend(d, ref, 0);
    int errors = 0;
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      if (c->map_run < 0) continue;
      char caption[256];
      if (c->maps[0][0]) {
        snprintf(caption, sizeof caption, "%d shots, run %d: prediction%s", c->shots, c->map_run,
                 e->scene_png[0] ? " (over the scene)" : "");
        rd_image(d, c->maps[0], caption);
      }
      if (c->maps[2][0]) {
        snprintf(caption, sizeof caption, "%d shots, run %d: errors", c->shots, c->map_run);
        rd_image(d, c->maps[2], caption);
        errors = 1;
      }
    }
    if (e->scene_png[0]) class_legend(d, ref, 1);
    if (errors) error_legend(d, e->scene_png[0]);
    maps++;
  }
  if (!maps) rd_para(d, "No result holds a scene map.");
  rd_heading(d, 2, "Curves");
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (e->ds->skipped) continue;
    rd_heading(d, 3, "%s", e->display);
    if (e->pretrain_svg[0])
      rd_image(d, e->pretrain_svg, "pretraining loss per step");
    else
      rd_para(d, "Pretraining: %s.", e->pretrain_note);
    if (e->finetune_svg[0]) rd_image(d, e->finetune_svg, "fine-tuning loss per epoch");
    if (e->val_acc_svg[0]) rd_image(d, e->val_acc_svg, "validation accuracy per epoch");
    if (!e->finetune_svg[0] && !e->val_acc_svg[0]) rd_para(d, "No fine-tuning curves (no result with epochs).");
  }
}

/* Each entry's resolved configuration, folded, with the seeds it implies. */
static void section_configurations(const struct rp_report *r, struct rd_doc *d) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Configurations");
  rd_para(d, "The resolved configuration of each entry as the bench ran it (every key, defaults included; the shot "
             "setting and run vary per result). Run r of a setting draws its labelled pixels, its initialisation and "
             "its batch order from run.seed and r, so runs 0..%d are the seeds of every table above.", sp->n_runs - 1);
  int any = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    char summary[256];
    if (!e->config_text) continue;
    snprintf(summary, sizeof summary, "%s (%s/config.cfg)", e->display, e->ds->name);
    rd_details(d, summary, e->config_text);
    any = 1;
  }
  if (!any) rd_para(d, "No entry folder holds its config.cfg (benches before this report version did not write it).");
}

static void sections_status(const struct rp_report *r, struct rd_doc *d) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Skipped datasets");
  int n = 0;
  for (int i = 0; i < r->n_entries; i++)
    if (r->entries[i].ds->skipped) {
      const char *why = r->entries[i].ds->skip_reason;
      rd_item(d, "%s: %s", r->entries[i].display, why[0] ? why : "(no reason recorded)");
      n++;
    }
  if (!n) rd_para(d, "None.");
  rd_heading(d, 2, "Missing or unreadable results");
  n = 0;
  for (int i = 0; i < r->n_entries; i++)
    for (int s = 0; s < sp->n_shots; s++)
      for (int k = 0; k < r->entries[i].cells[s].n_problems; k++, n++)
        rd_item(d, "%s, %d shots, %s", r->entries[i].display, sp->shots[s], r->entries[i].cells[s].problems[k]);
  if (!n) rd_para(d, "None: every expected result file was read.");
}

static enum dc_status compose(struct rp_report *r, struct rd_doc *d, struct csv_file *csv, int *n_csv) {
  const struct dc_report_spec *sp = r->spec;
  char shots[128] = "";
  for (int s = 0; s < sp->n_shots; s++) {
    size_t len = strlen(shots);
    snprintf(shots + len, sizeof shots - len, "%s%d", s ? ", " : "", sp->shots[s]);
  }
  rd_heading(d, 1, "%s", sp->title);
  rd_para(d, "%d dataset entr%s, shot settings %s, %d run%s each; made by diffclip %s at %s from %s.", sp->n_datasets,
          sp->n_datasets == 1 ? "y" : "ies", shots, sp->n_runs, sp->n_runs == 1 ? "" : "s", sp->program_version,
          sp->created_utc, sp->bench_dir);
  struct dc_text t = {0}, t2 = {0};
  rp_table_main(r, d, &t);
  csv_keep(csv, n_csv, "table1.csv", &t, 1);
  csv_keep(csv, n_csv, "binary.csv", &t, rp_table_binary(r, d, &t));
  csv_keep(csv, n_csv, "studies.csv", &t, rp_table_studies(r, d, &t));
  rd_heading(d, 2, "Per-class accuracy");
  rd_para(d, "The accuracy of each class (its recall on the test pixels), mean \xc2\xb1 standard deviation over "
             "runs, in %%; n/a where no run had a test pixel of the class.");
  int per_class = 0;
  for (int i = 0; i < r->n_entries; i++) {
    char name[96];
    snprintf(name, sizeof name, "per_class_%s.csv", r->entries[i].ds->name);
    int used = rp_table_per_class(r, &r->entries[i], d, &t);
    csv_keep(csv, n_csv, name, &t, used);
    per_class += used;
  }
  if (!per_class) rd_para(d, "No class results were found.");
  section_confusion(r, d, &t, csv, n_csv);
  sections_figures(r, d);
  rp_table_timings(r, d, &t, &t2);
  csv_keep(csv, n_csv, "timings.csv", &t, sp->n_timings > 0);
  csv_keep(csv, n_csv, "run_timings.csv", &t2, 1);
  sections_status(r, d);
  rp_table_provenance(r, d, &t, &t2);
  csv_keep(csv, n_csv, "provenance.csv", &t, 1);
  csv_keep(csv, n_csv, "checksums.csv", &t2, 1);
  section_configurations(r, d);
  for (int i = 0; i < *n_csv; i++)
    if (csv[i].t.failed) return DC_ERROR(DC_ERR_NOMEM, "out of memory while composing %s", csv[i].name);
  return d->failed ? DC_ERROR(DC_ERR_NOMEM, "out of memory while composing the report") : DC_OK;
}

static enum dc_status write_all(struct rp_report *r) {
  struct rd_doc doc = {0};
  struct csv_file *csv = calloc(MAX_CSV, sizeof *csv);
  int n_csv = 0;
  struct dc_text md = {0}, html = {0};
  char path[1400];
  enum dc_status st = csv ? rp_load(r) : DC_ERROR(DC_ERR_NOMEM, "out of memory for the CSV tables");
  if (st == DC_OK) st = compose(r, &doc, csv, &n_csv);
  for (int i = 0; i < n_csv && st == DC_OK; i++) { /* first: the HTML embeds them */
    snprintf(path, sizeof path, "%s/%s", r->dir, csv[i].name);
    st = dc_text_write(&csv[i].t, path);
  }
  if (st == DC_OK) st = rd_render_md(&doc, &md);
  if (st == DC_OK) st = rd_render_html(&doc, r->spec->title, r->dir, &html);
  if (st == DC_OK) snprintf(path, sizeof path, "%s/report.md", r->dir), st = dc_text_write(&md, path);
  if (st == DC_OK) snprintf(path, sizeof path, "%s/report.html", r->dir), st = dc_text_write(&html, path);
  if (st == DC_OK) snprintf(path, sizeof path, "%s/report.json", r->dir), st = rp_write_json(r, path);
  for (int i = 0; csv && i < n_csv; i++) dc_text_free(&csv[i].t);
  free(csv);
  dc_text_free(&md);
  dc_text_free(&html);
  rd_free(&doc);
  return st;
}

enum dc_status dc_report_write(const struct dc_report_spec *spec) {
  DC_TRY(check_spec(spec));
  char final[1100], old[1200];
  struct rp_report r;
  memset(&r, 0, sizeof r);
  r.spec = spec;
  if (spec->report_dir[0])
    snprintf(final, sizeof final, "%s", spec->report_dir);
  else
    snprintf(final, sizeof final, "%s/report", spec->bench_dir);
  for (size_t n = strlen(final); n > 1 && final[n - 1] == '/'; n--) final[n - 1] = '\0';
  int exists;
  if (!replaceable(final, &exists))
    return DC_ERROR(DC_ERR_ARG, "report: %s exists and is not an earlier report (no report.json): not replaced", final);
  snprintf(r.dir, sizeof r.dir, "%s.tmp.%ld", final, (long)getpid());
  snprintf(old, sizeof old, "%s.old.%ld", final, (long)getpid());
  remove_tree(r.dir);
  if (mkdir(r.dir, 0775) != 0)
    return DC_ERROR(DC_ERR_IO, "report: cannot create %s: %s", r.dir, strerror(errno));
  enum dc_status st = write_all(&r);
  rp_free(&r);
  if (st == DC_OK && exists && rename(final, old) != 0)
    st = DC_ERROR(DC_ERR_IO, "report: cannot move the earlier report %s aside: %s", final, strerror(errno));
  if (st == DC_OK && rename(r.dir, final) != 0) {
    st = DC_ERROR(DC_ERR_IO, "report: cannot rename %s to %s: %s", r.dir, final, strerror(errno));
    if (exists) rename(old, final);
  }
  if (st != DC_OK) {
    remove_tree(r.dir);
    return st;
  }
  if (exists) remove_tree(old);
  if (dc_report_info_write(spec) != DC_OK)
    dc_log(DC_LOG_WARN, "report: %s/bench_info.txt not written: `diffclip report` will lack the provenance",
           spec->bench_dir);
  return DC_OK;
}
