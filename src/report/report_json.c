/* report.json: every number of the report, machine-readable (docs/formats.md). Metrics are
 * fractions as in the result files (the Markdown shows percentages); a value that does not
 * exist (no run, NaN kappa, no paper figure) is null. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

static void key(struct dc_text *t, const char *k) {
  dc_text_json_str(t, k);
  dc_text_puts(t, ": ");
}

static void kv_str(struct dc_text *t, const char *k, const char *v, int comma) {
  key(t, k);
  dc_text_json_str(t, v);
  if (comma) dc_text_puts(t, ", ");
}

static void kv_num(struct dc_text *t, const char *k, double v, int comma) {
  key(t, k);
  dc_text_json_num(t, v);
  if (comma) dc_text_puts(t, ", ");
}

static void stat(struct dc_text *t, const char *k, struct rp_stat s, int comma) {
  key(t, k);
  dc_text_puts(t, "{\"mean\": ");
  dc_text_json_num(t, s.mean);
  dc_text_puts(t, ", \"std\": ");
  dc_text_json_num(t, s.std);
  dc_text_printf(t, ", \"n\": %d}", s.n);
  if (comma) dc_text_puts(t, ", ");
}

static void curve(struct dc_text *t, const char *k, const struct rp_stat *s, int n) {
  key(t, k);
  dc_text_puts(t, "{\"mean\": [");
  for (int i = 0; i < n; i++) {
    if (i) dc_text_puts(t, ", ");
    dc_text_json_num(t, s[i].mean);
  }
  dc_text_puts(t, "], \"std\": [");
  for (int i = 0; i < n; i++) {
    if (i) dc_text_puts(t, ", ");
    dc_text_json_num(t, s[i].std);
  }
  dc_text_puts(t, "]}");
}

static void cell_json(struct dc_text *t, const struct rp_entry *e, const struct rp_cell *c) {
  dc_text_printf(t, "{\"shots\": %d, \"runs_expected\": %d, \"runs_found\": %d, ", c->shots, c->n_runs, c->n_found);
  kv_str(t, "task", c->task, 1);
  kv_str(t, "protocol", c->protocol, 1);
  kv_str(t, "target", c->target, 1);
  dc_text_printf(t, "\"n_classes\": %d, ", c->n_classes);
  stat(t, "oa", c->oa, 1);
  stat(t, "aa", c->aa, 1);
  stat(t, "kappa", c->kappa, 1);
  if (strcmp(c->task, "binary") == 0) {
    key(t, "binary");
    dc_text_puts(t, "{");
    stat(t, "accuracy", c->accuracy, 1);
    stat(t, "auc", c->auc, 1);
    stat(t, "sensitivity", c->sensitivity, 1);
    stat(t, "specificity", c->specificity, 0);
    dc_text_puts(t, "}, ");
  }
  stat(t, "finetune_s", c->finetune_s, 1);
  stat(t, "evaluate_s", c->evaluate_s, 1);
  stat(t, "best_epoch", c->best_epoch, 1);
  double oa, aa, kappa, uniform, majority;
  int mk;
  key(t, "paper"); /* only beside runs of the paper's protocol (report.md says why otherwise) */
  if (rp_paper_comparable(e, c, &oa, &aa, &kappa)) {
    dc_text_puts(t, "{");
    kv_num(t, "oa", oa, 1);
    kv_num(t, "aa", aa, 1);
    kv_num(t, "kappa", kappa, 0);
    dc_text_puts(t, "}, ");
  } else {
    dc_text_puts(t, "null, ");
  }
  key(t, "chance");
  if (strcmp(c->task, "classes") == 0 && c->n_found && rp_chance(c, &uniform, &majority, &mk)) {
    dc_text_puts(t, "{");
    kv_num(t, "uniform_oa", uniform, 1);
    kv_num(t, "majority_oa", majority, 1);
    kv_str(t, "majority_class", c->class_names[mk], 0);
    dc_text_puts(t, "}, ");
  } else {
    dc_text_puts(t, "null, ");
  }
  key(t, "test_per_class");
  dc_text_puts(t, "[");
  for (int k = 0; k < c->n_classes; k++) {
    if (k) dc_text_puts(t, ", ");
    dc_text_json_num(t, c->n_found ? c->test_per_class[k] : NAN);
  }
  dc_text_puts(t, "], ");
  key(t, "confusion");
  if (c->confusion) {
    dc_text_puts(t, "[");
    for (int a = 0; a < c->n_classes; a++) {
      dc_text_puts(t, a ? ", [" : "[");
      for (int b = 0; b < c->n_classes; b++) dc_text_printf(t, "%s%lld", b ? ", " : "", (long long)c->confusion[a * c->n_classes + b]);
      dc_text_puts(t, "]");
    }
    dc_text_puts(t, "], ");
  } else {
    dc_text_puts(t, "null, ");
  }
  key(t, "per_class");
  dc_text_puts(t, "[");
  for (int k = 0; k < c->n_classes; k++) {
    dc_text_puts(t, k ? ", {" : "{");
    kv_str(t, "name", c->class_names[k], 1);
    stat(t, "accuracy", c->per_class[k], 0);
    dc_text_puts(t, "}");
  }
  dc_text_puts(t, "], ");
  key(t, "runs");
  dc_text_puts(t, "[");
  for (int i = 0; i < c->n_found; i++) {
    const struct rp_run *u = &c->runs[i];
    dc_text_printf(t, "%s{\"run\": %d, ", i ? ", " : "", u->run);
    kv_num(t, "oa", u->oa, 1);
    kv_num(t, "aa", u->aa, 1);
    kv_num(t, "kappa", u->kappa, 1);
    if (strcmp(c->task, "binary") == 0) {
      kv_num(t, "accuracy", u->accuracy, 1);
      kv_num(t, "auc", u->auc, 1);
      kv_num(t, "sensitivity", u->sensitivity, 1);
      kv_num(t, "specificity", u->specificity, 1);
    }
    kv_num(t, "finetune_s", u->finetune_s, 1);
    kv_num(t, "evaluate_s", u->evaluate_s, 1);
    dc_text_printf(t, "\"best_epoch\": %d, \"n_test\": %lld, ", u->best_epoch, (long long)u->n_test);
    kv_str(t, "config_sha256", u->config_sha256, 0);
    dc_text_puts(t, "}");
  }
  dc_text_puts(t, "], ");
  key(t, "problems");
  dc_text_puts(t, "[");
  for (int i = 0; i < c->n_problems; i++) {
    if (i) dc_text_puts(t, ", ");
    dc_text_json_str(t, c->problems[i]);
  }
  dc_text_puts(t, "], ");
  key(t, "maps");
  dc_text_printf(t, "{\"run\": %d, ", c->map_run);
  kv_str(t, "prediction", c->maps[0], 1);
  kv_str(t, "errors", c->maps[2], 1);
  kv_str(t, "confusion", c->confusion_svg, 0);
  dc_text_puts(t, "}, ");
  curve(t, "finetune_loss", c->loss, c->n_epochs);
  dc_text_puts(t, ", ");
  curve(t, "val_acc", c->val_acc, c->n_epochs);
  dc_text_puts(t, "}");
}

enum dc_status rp_write_json(const struct rp_report *r, const char *path) {
  const struct dc_report_spec *sp = r->spec;
  struct dc_text t = {0};
  dc_text_puts(&t, "{\n  ");
  kv_str(&t, "format", "diffclip-report", 1);
  dc_text_puts(&t, "\"format_version\": 1,\n  ");
  kv_str(&t, "title", sp->title, 1);
  dc_text_puts(&t, "\n  \"provenance\": {");
  kv_str(&t, "program_version", sp->program_version, 1);
  kv_str(&t, "git_commit", sp->git_commit, 1);
  kv_str(&t, "config_sha256", sp->config_sha256, 1);
  kv_str(&t, "hardware", sp->hardware, 1);
  kv_str(&t, "build", sp->build, 1);
  kv_str(&t, "created_utc", sp->created_utc, 1);
  kv_str(&t, "bench_dir", sp->bench_dir, 1);
  dc_text_printf(&t, "\"ranks\": %d},\n  \"shots\": [", sp->ranks);
  for (int s = 0; s < sp->n_shots; s++) dc_text_printf(&t, "%s%d", s ? ", " : "", sp->shots[s]);
  dc_text_printf(&t, "],\n  \"runs\": %d,\n  \"std\": \"population (ddof 0) over the runs found\",\n  \"timings\": [",
                 sp->n_runs);
  for (int i = 0; i < sp->n_timings; i++) {
    dc_text_puts(&t, i ? ", {" : "{");
    kv_str(&t, "label", sp->timings[i].label, 1);
    kv_num(&t, "seconds", sp->timings[i].seconds, 0);
    dc_text_puts(&t, "}");
  }
  dc_text_puts(&t, "],\n  \"datasets\": [");
  for (int d = 0; d < r->n_entries; d++) {
    const struct rp_entry *e = &r->entries[d];
    dc_text_puts(&t, d ? ",\n    {" : "\n    {");
    kv_str(&t, "name", e->ds->name, 1);
    kv_str(&t, "display", e->display, 1);
    kv_str(&t, "paper_key", e->paper, 1);
    kv_str(&t, "study", e->ds->study, 1);
    kv_str(&t, "checksum", e->ds->checksum, 1);
    dc_text_printf(&t, "\"skipped\": %s, ", e->ds->skipped ? "true" : "false");
    kv_str(&t, "skip_reason", e->ds->skipped ? e->ds->skip_reason : "", 1);
    kv_str(&t, "pretrain_curve", e->pretrain_svg, 1);
    kv_str(&t, "pretrain_note", e->pretrain_note, 1);
    dc_text_printf(&t, "\"pretrain_records\": %d, ", e->pretrain_records);
    kv_str(&t, "finetune_loss_curve", e->finetune_svg, 1);
    kv_str(&t, "val_acc_curve", e->val_acc_svg, 1);
    kv_str(&t, "truth_map", e->truth_png, 1);
    kv_str(&t, "scene_map", e->scene_png, 1);
    key(&t, "cells");
    dc_text_puts(&t, "[");
    for (int s = 0; !e->ds->skipped && s < sp->n_shots; s++) {
      dc_text_puts(&t, s ? ",\n      " : "\n      ");
      cell_json(&t, e, &e->cells[s]);
    }
    dc_text_puts(&t, "]}");
  }
  dc_text_puts(&t, "\n  ]\n}\n");
  enum dc_status st = dc_text_write(&t, path);
  dc_text_free(&t);
  return st;
}
