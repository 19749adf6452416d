/* Reads a bench folder for the report: every run's result file, reduced to means and
 * standard deviations per dataset entry and shot setting, the first readable run's maps
 * drawn as PNG, the fine-tuning curves (mean +- std over runs) and the pretraining log
 * drawn as SVG. A missing or unreadable file becomes a line in the cell's problems. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffclip/report/png_map.h"
#include "diffclip/report/svg_plot.h"
#include "report/report_internal.h"

struct rp_stat rp_stat_of(const double *v, int n) {
  struct rp_stat s = {NAN, NAN, 0};
  double sum = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) sum += v[i], s.n++;
  if (!s.n) return s;
  s.mean = sum / s.n;
  double ss = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) ss += (v[i] - s.mean) * (v[i] - s.mean);
  s.std = sqrt(ss / s.n);
  return s;
}

static enum dc_status problem(struct rp_cell *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum dc_status problem(struct rp_cell *c, const char *fmt, ...) {
  char **p = realloc(c->problems, (size_t)(c->n_problems + 1) * sizeof *p);
  if (!p) return DC_ERROR(DC_ERR_NOMEM, "out of memory listing problems");
  c->problems = p;
  char buf[1400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  p[c->n_problems] = malloc(strlen(buf) + 1);
  if (!p[c->n_problems]) return DC_ERROR(DC_ERR_NOMEM, "out of memory listing problems");
  strcpy(p[c->n_problems++], buf);
  return DC_OK;
}

/* The first readable run's maps: the entry's ground truth and scene composite once (from the
 * first cell with a map), each cell's prediction and errors, over the composite when the
 * result holds one. */
static enum dc_status draw_maps(struct rp_report *r, struct rp_entry *e, struct rp_cell *c, const struct dc_result *res) {
  char path[1400];
  const uint8_t *base = res->rgb; /* the result's false-colour composite, when it holds one */
  int first = !e->truth_png[0] && !e->scene_png[0];
  c->map_run = res->run;
  if (first && base) {
    snprintf(e->scene_png, sizeof e->scene_png, "maps/%s_scene.png", e->ds->name);
    snprintf(path, sizeof path, "%s/%s", r->dir, e->scene_png);
    DC_TRY(dc_map_png_write(path, res, DC_MAP_SCENE, r->spec->map_scale, base));
  }
  if (first && res->truth) {
    snprintf(e->truth_png, sizeof e->truth_png, "maps/%s_truth.png", e->ds->name);
    snprintf(path, sizeof path, "%s/%s", r->dir, e->truth_png);
    DC_TRY(dc_map_png_write(path, res, DC_MAP_TRUTH, r->spec->map_scale, NULL));
  }
  static const char *const kinds[3] = {"prediction", "", "errors"};
  for (int k = 0; k < 3; k += 2) {
    if (k == 0 ? !res->prediction : !(res->prediction && res->truth && res->test_mask)) continue;
    snprintf(c->maps[k], sizeof c->maps[k], "maps/%s_shots%d_%s.png", e->ds->name, c->shots, kinds[k]);
    snprintf(path, sizeof path, "%s/%s", r->dir, c->maps[k]);
    DC_TRY(dc_map_png_write(path, res, (enum dc_map_kind)k, r->spec->map_scale, e->scene_png[0] ? base : NULL));
  }
  return DC_OK;
}

/* Per epoch over the runs that reached it. */
static enum dc_status curve_stats(double **curves, const int *lens, int n, int n_epochs, struct rp_stat **out) {
  *out = NULL;
  if (n_epochs == 0) return DC_OK;
  struct rp_stat *s = malloc((size_t)n_epochs * sizeof *s);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (!s || !v) {
    free(s);
    free(v);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory for curves");
  }
  for (int ep = 0; ep < n_epochs; ep++) {
    int k = 0;
    for (int i = 0; i < n; i++)
      if (ep < lens[i]) v[k++] = curves[i][ep];
    s[ep] = rp_stat_of(v, k);
  }
  free(v);
  *out = s;
  return DC_OK;
}

static enum dc_status load_cell(struct rp_report *r, struct rp_entry *e, struct rp_cell *c) {
  const struct dc_report_spec *sp = r->spec;
  int N = sp->n_runs;
  c->n_runs = N;
  c->map_run = -1;
  c->runs = calloc((size_t)N, sizeof *c->runs);
  double *pc = malloc((size_t)N * DC_RESULT_MAX_CLASSES * sizeof *pc), *v = malloc((size_t)N * sizeof *v);
  double **loss = calloc((size_t)N, sizeof *loss), **acc = calloc((size_t)N, sizeof *acc);
  int *lens = calloc((size_t)N, sizeof *lens);
  enum dc_status st = DC_OK;
  if (!c->runs || !pc || !v || !loss || !acc || !lens) {
    st = DC_ERROR(DC_ERR_NOMEM, "out of memory reading %d runs", N);
    goto done;
  }
  for (int run = 0; run < N && st == DC_OK; run++) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/shots_%d/run_%d/result.h5", sp->bench_dir, e->ds->name, c->shots, run);
    if (access(path, F_OK) != 0) {
      st = problem(c, "run %d: missing (%s)", run, path);
      continue;
    }
    struct dc_result res;
    if (dc_result_read(path, &res) != DC_OK) {
      st = problem(c, "run %d: unreadable: %s", run, dc_last_error());
      continue;
    }
    if (res.shots != c->shots || res.run != run) {
      st = problem(c, "run %d: %s holds shots %d, run %d: left out", run, path, res.shots, res.run);
    } else if (c->n_found > 0 && (res.n_classes != c->n_classes || strcmp(res.task, c->task) != 0)) {
      st = problem(c, "run %d: %s has %d classes (task %s), the first run %d (task %s): left out", run, path,
                   res.n_classes, res.task, c->n_classes, c->task);
    } else {
      if (c->n_found == 0) {
        snprintf(c->task, sizeof c->task, "%s", res.task);
        snprintf(c->protocol, sizeof c->protocol, "%s", res.protocol);
        snprintf(c->target, sizeof c->target, "%s", res.target);
        c->confusion = calloc((size_t)res.n_classes * (size_t)res.n_classes, sizeof *c->confusion);
        if (!c->confusion) {
          dc_result_free(&res);
          st = DC_ERROR(DC_ERR_NOMEM, "out of memory for a confusion matrix");
          break;
        }
        c->n_classes = res.n_classes;
        memcpy(c->class_names, res.class_names, sizeof c->class_names);
        if (res.height > 0) st = draw_maps(r, e, c, &res);
      }
      if (strcmp(c->protocol, res.protocol) != 0) snprintf(c->protocol, sizeof c->protocol, "mixed");
      if (strcmp(c->target, res.target) != 0) snprintf(c->target, sizeof c->target, "mixed");
      int K = res.n_classes;
      for (int a = 0; c->confusion && res.confusion && a < K; a++)
        for (int b = 0; b < K; b++) {
          c->confusion[a * K + b] += res.confusion[a * K + b];
          c->test_per_class[a] += (double)res.confusion[a * K + b];
        }
      int i = c->n_found++;
      struct rp_run *u = &c->runs[i];
      u->run = run, u->oa = res.oa, u->aa = res.aa, u->kappa = res.kappa, u->accuracy = res.accuracy;
      u->auc = res.auc, u->sensitivity = res.sensitivity, u->specificity = res.specificity;
      u->finetune_s = res.finetune_s, u->evaluate_s = res.evaluate_s, u->best_epoch = res.best_epoch;
      u->n_test = res.n_test;
      memcpy(u->config_sha256, res.config_sha256, sizeof u->config_sha256);
      memcpy(pc + (size_t)i * DC_RESULT_MAX_CLASSES, res.per_class, sizeof res.per_class);
      loss[i] = res.finetune_loss, acc[i] = res.val_acc, lens[i] = res.n_epochs;
      res.finetune_loss = res.val_acc = NULL; /* kept for the curves */
      c->n_epochs = res.n_epochs > c->n_epochs ? res.n_epochs : c->n_epochs;
    }
    dc_result_free(&res);
  }
  if (st != DC_OK) goto done;
  int n = c->n_found;
#define STAT(field, member)                                   \
  do {                                                        \
    for (int i = 0; i < n; i++) v[i] = c->runs[i].member;     \
    c->field = rp_stat_of(v, n);                              \
  } while (0)
  STAT(oa, oa);
  STAT(aa, aa);
  STAT(kappa, kappa);
  STAT(accuracy, accuracy);
  STAT(auc, auc);
  STAT(sensitivity, sensitivity);
  STAT(specificity, specificity);
  STAT(finetune_s, finetune_s);
  STAT(evaluate_s, evaluate_s);
  STAT(best_epoch, best_epoch);
#undef STAT
  for (int k = 0; k < c->n_classes; k++) {
    if (n) c->test_per_class[k] /= n;
    for (int i = 0; i < n; i++) v[i] = pc[(size_t)i * DC_RESULT_MAX_CLASSES + k];
    c->per_class[k] = rp_stat_of(v, n);
  }
  st = curve_stats(loss, lens, n, c->n_epochs, &c->loss);
  if (st == DC_OK) st = curve_stats(acc, lens, n, c->n_epochs, &c->val_acc);
done:
  for (int i = 0; i < N && loss && acc; i++) free(loss[i]), free(acc[i]);
  free(loss);
  free(acc);
  free(lens);
  free(pc);
  free(v);
  return st;
}

/* One series per shot setting with runs that have curves: mean line, +- std band. */
static enum dc_status finetune_plot(struct rp_report *r, struct rp_entry *e, int which, char *rel, size_t cap) {
  const struct dc_report_spec *sp = r->spec;
  struct dc_svg_series series[DC_REPORT_MAX_SHOTS];
  char labels[DC_REPORT_MAX_SHOTS][32];
  double *buf[DC_REPORT_MAX_SHOTS] = {0};
  int ns = 0;
  enum dc_status st = DC_OK;
  for (int s = 0; s < sp->n_shots && st == DC_OK; s++) {
    const struct rp_cell *c = &e->cells[s];
    if (c->n_epochs == 0) continue;
    int n = c->n_epochs;
    const struct rp_stat *cs = which ? c->val_acc : c->loss;
    double *b = buf[ns] = malloc((size_t)n * 4 * sizeof(double));
    if (!b) {
      st = DC_ERROR(DC_ERR_NOMEM, "out of memory for a plot");
      break;
    }
    double scale = which ? 100.0 : 1.0;
    for (int i = 0; i < n; i++) {
      b[i] = i + 1;
      b[n + i] = scale * cs[i].mean;
      b[2 * n + i] = scale * (cs[i].mean - cs[i].std);
      b[3 * n + i] = scale * (cs[i].mean + cs[i].std);
    }
    snprintf(labels[ns], sizeof labels[ns], "%d shots (%d run%s)", c->shots, c->n_found, c->n_found == 1 ? "" : "s");
    series[ns] = (struct dc_svg_series){labels[ns], n, b, b + n, b + 2 * n, b + 3 * n};
    ns++;
  }
  if (st == DC_OK && ns > 0) {
    char title[256], path[1400];
    snprintf(title, sizeof title, "%s: %s (mean +- std over runs)", e->display,
             which ? "validation accuracy" : "fine-tuning loss");
    struct dc_svg_plot p = {title, "epoch", which ? "validation accuracy (%)" : "loss", 0, 0, 0, ns, series};
    snprintf(rel, cap, "curves/%s_%s.svg", e->ds->name, which ? "val_acc" : "finetune_loss");
    snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    st = dc_svg_plot_write(path, &p);
  }
  for (int i = 0; i < ns; i++) free(buf[i]);
  return st;
}

static enum dc_status pretrain_plot(struct rp_report *r, struct rp_entry *e) {
  char path[1400];
  snprintf(path, sizeof path, "%s/%s/pretrain/metrics.jsonl", r->spec->bench_dir, e->ds->name);
  if (access(path, F_OK) != 0) { /* pretraining per run: the first run's log */
    char first[1400];
    snprintf(first, sizeof first, "%s/%s/pretrain_0/metrics.jsonl", r->spec->bench_dir, e->ds->name);
    if (access(first, F_OK) == 0) memcpy(path, first, sizeof path);
  }
  if (access(path, F_OK) != 0) {
    snprintf(e->pretrain_note, sizeof e->pretrain_note, "no pretraining log (%.250s)", path);
    return DC_OK;
  }
  struct dc_pretrain_log log;
  if (dc_pretrain_log_read(path, &log) != DC_OK) {
    snprintf(e->pretrain_note, sizeof e->pretrain_note, "pretraining log unreadable: %.260s", dc_last_error());
    return DC_OK;
  }
  e->pretrain_records = log.n;
  struct dc_svg_series series[1 + 2 * DC_PRETRAIN_LOG_MAX_MODALITIES];
  char labels[2 * DC_PRETRAIN_LOG_MAX_MODALITIES][32];
  double *cols = malloc((size_t)(log.n ? log.n : 1) * 2 * DC_PRETRAIN_LOG_MAX_MODALITIES * sizeof *cols);
  if (!cols) {
    dc_pretrain_log_free(&log);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory for the pretraining plot");
  }
  int ns = 0;
  series[ns++] = (struct dc_svg_series){"loss (0.1 masked + visible)", log.n, log.step, log.loss, NULL, NULL};
  for (int m = 0; m < log.n_modalities; m++)
    for (int vis = 0; vis < 2; vis++) {
      int k = 2 * m + vis;
      double *col = cols + (size_t)k * log.n;
      const double *src = vis ? log.visible : log.masked;
      for (int i = 0; i < log.n; i++) col[i] = src[(size_t)i * DC_PRETRAIN_LOG_MAX_MODALITIES + m];
      snprintf(labels[k], sizeof labels[k], "%s, modality %d", vis ? "visible" : "masked", m);
      series[ns++] = (struct dc_svg_series){labels[k], log.n, log.step, col, NULL, NULL};
    }
  char title[256], out[1400];
  snprintf(title, sizeof title, "%s: pretraining loss", e->display);
  struct dc_svg_plot p = {title, "step", "loss (log scale)", 1, 0, 0, ns, series};
  snprintf(e->pretrain_svg, sizeof e->pretrain_svg, "curves/%s_pretrain_loss.svg", e->ds->name);
  snprintf(out, sizeof out, "%s/%s", r->dir, e->pretrain_svg);
  enum dc_status st = dc_svg_plot_write(out, &p);
  free(cols);
  dc_pretrain_log_free(&log);
  return st;
}

enum dc_status rp_load(struct rp_report *r) {
  const struct dc_report_spec *sp = r->spec;
  char sub[1200];
  static const char *const subs[3] = {"maps", "curves", "confusion"};
  for (int i = 0; i < 3; i++) {
    snprintf(sub, sizeof sub, "%s/%s", r->dir, subs[i]);
    if (mkdir(sub, 0775) != 0 && errno != EEXIST) return DC_ERROR(DC_ERR_IO, "cannot create %s: %s", sub, strerror(errno));
  }
  r->entries = calloc((size_t)sp->n_datasets, sizeof *r->entries);
  if (!r->entries) return DC_ERROR(DC_ERR_NOMEM, "out of memory for %d entries", sp->n_datasets);
  r->n_entries = sp->n_datasets;
  for (int d = 0; d < sp->n_datasets; d++) {
    struct rp_entry *e = &r->entries[d];
    e->ds = &sp->datasets[d];
    e->display = e->ds->display[0] ? e->ds->display : e->ds->name;
    e->paper = e->ds->paper_key[0] ? e->ds->paper_key : e->ds->name;
    for (int s = 0; s < sp->n_shots; s++) e->cells[s].shots = sp->shots[s], e->cells[s].map_run = -1;
    if (e->ds->skipped) continue;
    for (int s = 0; s < sp->n_shots; s++) {
      struct rp_cell *c = &e->cells[s];
      DC_TRY(load_cell(r, e, c));
      if (c->confusion && strcmp(c->task, "classes") == 0) {
        char path[1400], title[256];
        const char *names[DC_RESULT_MAX_CLASSES];
        for (int k = 0; k < c->n_classes; k++) names[k] = c->class_names[k];
        snprintf(c->confusion_svg, sizeof c->confusion_svg, "confusion/%s_shots%d.svg", e->ds->name, c->shots);
        snprintf(path, sizeof path, "%s/%s", r->dir, c->confusion_svg);
        snprintf(title, sizeof title, "%.100s, %d shots: test samples summed over %d run%s", e->display, c->shots,
                 c->n_found, c->n_found == 1 ? "" : "s");
        DC_TRY(dc_svg_confusion_write(path, title, c->n_classes, names, c->confusion));
      }
    }
    char cfg[1400];
    size_t n;
    snprintf(cfg, sizeof cfg, "%s/%s/config.cfg", sp->bench_dir, e->ds->name);
    if (access(cfg, F_OK) == 0 && dc_file_read_all(cfg, &e->config_text, &n) != DC_OK) e->config_text = NULL;
    DC_TRY(finetune_plot(r, e, 0, e->finetune_svg, sizeof e->finetune_svg));
    DC_TRY(finetune_plot(r, e, 1, e->val_acc_svg, sizeof e->val_acc_svg));
    DC_TRY(pretrain_plot(r, e));
  }
  return DC_OK;
}

void rp_free(struct rp_report *r) {
  for (int d = 0; d < r->n_entries; d++) free(r->entries[d].config_text);
  for (int d = 0; d < r->n_entries; d++)
    for (int s = 0; s < DC_REPORT_MAX_SHOTS; s++) {
      struct rp_cell *c = &r->entries[d].cells[s];
      free(c->runs);
      free(c->confusion);
      for (int i = 0; i < c->n_problems; i++) free(c->problems[i]);
      free(c->problems);
      free(c->loss);
      free(c->val_acc);
    }
  free(r->entries);
  r->entries = NULL;
  r->n_entries = 0;
}
