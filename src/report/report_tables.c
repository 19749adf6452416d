/* The report's content: the tables laid out like the paper's (Table 1, the MRNet figures,
 * the ablation and prompt studies), per-class accuracy, maps, curves, timings, skipped
 * entries, missing results and provenance, built once as a document (rendered to Markdown
 * and HTML) with a CSV beside every table. The paper's figures live here too. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

/* ---- the paper's figures (spec/MODEL.md), in %; returned as fractions --------------- */

static const struct {
  const char *key;
  int shots;
  double oa, aa, kappa;
} paper_fewshot[] = {
    {"houston2013", 2, 52.15, 56.02, 48.39}, {"houston2013", 8, 61.93, 65.93, 58.95},
    {"houston2013", 20, 81.87, 84.09, 80.40}, {"muufl", 2, 59.39, 54.94, 48.80},
    {"muufl", 8, 77.60, 74.97, 71.53},       {"muufl", 20, 81.81, 80.67, 76.64},
    {"trento", 2, 93.19, 80.45, 90.85},      {"trento", 8, 96.30, 96.22, 95.09},
    {"trento", 20, 98.60, 97.90, 98.13},
};

/* The Houston ablation (OA %), by the study label with any "ablation:" prefix dropped. */
static const struct {
  const char *label;
  double oa;
} paper_ablation[] = {
    {"full", 94.80},
    {"full model", 94.80},
    {"without text", 89.35},
    {"without diffusion", 89.67},
    {"without diffusion noise", 89.67},
    {"without noise", 89.67},
    {"without mask", 90.78},
    {"without masking", 90.78},
    {"without the unsupervised stage", 87.82},
    {"without unsupervised stage", 87.82},
    {"without unsupervised", 87.82},
    {"without pretraining", 87.82},
};

int rp_paper_classes(const char *key, int shots, double *oa, double *aa, double *kappa) {
  for (size_t i = 0; i < sizeof paper_fewshot / sizeof paper_fewshot[0]; i++)
    if (strcmp(key, paper_fewshot[i].key) == 0 && shots == paper_fewshot[i].shots) {
      *oa = paper_fewshot[i].oa / 100, *aa = paper_fewshot[i].aa / 100, *kappa = paper_fewshot[i].kappa / 100;
      return 1;
    }
  return 0;
}

int rp_paper_binary(const char *key, double *acc, double *auc, double *se, double *sp) {
  if (strcmp(key, "mrnet") != 0) return 0;
  *acc = 0.763, *auc = 0.787, *se = 0.750, *sp = 0.756;
  return 1;
}

int rp_paper_study(const char *key, const char *study, double *oa) {
  if (strcmp(key, "houston2013") != 0) return 0;
  char norm[128];
  size_t n = 0;
  int space = 1;
  for (const char *s = study; *s && n + 1 < sizeof norm; s++) { /* lower case, words split by one space */
    if (isalnum((unsigned char)*s)) {
      norm[n++] = (char)tolower((unsigned char)*s);
      space = 0;
    } else if (!space) {
      norm[n++] = ' ';
      space = 1;
    }
  }
  while (n > 0 && norm[n - 1] == ' ') n--;
  norm[n] = '\0';
  const char *label = strncmp(norm, "ablation ", 9) == 0 ? norm + 9 : norm;
  for (size_t i = 0; i < sizeof paper_ablation / sizeof paper_ablation[0]; i++)
    if (strcmp(label, paper_ablation[i].label) == 0) {
      *oa = paper_ablation[i].oa / 100;
      return 1;
    }
  return 0;
}

/* ---- formatting --------------------------------------------------------------------- */

/* "mean ± std" at `scale` (100: percent); "missing" when the cell has no run, "n/a" when its
 * runs have no finite value. */
static void stat_cell(struct rd_doc *d, const struct rp_cell *c, struct rp_stat s, double scale, int decimals) {
  if (c->n_found == 0)
    rd_cell(d, "missing");
  else if (s.n == 0)
    rd_cell(d, "n/a");
  else
    rd_cell(d, "%.*f \xc2\xb1 %.*f", decimals, scale * s.mean, decimals, scale * s.std);
}

static void csv_num(struct dc_text *t, double v, double scale) {
  if (isfinite(v)) dc_text_printf(t, ",%.10g", scale * v);
  else dc_text_puts(t, ",");
}

static void csv_stat(struct dc_text *t, struct rp_stat s, double scale) {
  csv_num(t, s.mean, scale);
  csv_num(t, s.std, scale);
}

static int is_binary_entry(const struct rp_entry *e, int n_shots) {
  for (int s = 0; s < n_shots; s++)
    if (e->cells[s].n_found > 0) return strcmp(e->cells[s].task, "binary") == 0;
  return strcmp(e->paper, "mrnet") == 0; /* nothing read: MRNet is binary */
}

static void runs_cell(struct rd_doc *d, const struct rp_cell *c) { rd_cell(d, "%d/%d", c->n_found, c->n_runs); }

static void csv_head(struct dc_text *t, const struct rp_entry *e, const struct rp_cell *c) {
  dc_text_csv(t, e->ds->name);
  dc_text_puts(t, ",");
  dc_text_csv(t, e->display);
  dc_text_printf(t, ",%d,%d,%d", c->shots, c->n_found, c->n_runs);
}

/* ---- the tables --------------------------------------------------------------------- */

/* Why a paper cell stays "-": the reasons used in a table, listed under it. */
enum { WHY_NO_FIGURE = 1, WHY_OFFICIAL = 2, WHY_UNRECORDED = 4, WHY_MIXED = 8 };

static int paper_reason(const struct rp_cell *c, int have_figure) {
  if (c->n_found == 0) return 0;
  if (!have_figure) return WHY_NO_FIGURE;
  if (!c->protocol[0]) return WHY_UNRECORDED;
  if (!strcmp(c->protocol, "mixed")) return WHY_MIXED;
  if (strcmp(c->protocol, "few_shot") != 0) return WHY_OFFICIAL;
  return 0;
}

int rp_paper_comparable(const struct rp_entry *e, const struct rp_cell *c, double *oa, double *aa, double *kappa) {
  if (e->ds->study[0] || c->n_found == 0 || strcmp(c->task, "classes") != 0) return 0;
  int figure = rp_paper_classes(e->paper, c->shots, oa, aa, kappa);
  return figure && paper_reason(c, figure) == 0;
}

static void paper_footnotes(struct rd_doc *d, int why) {
  if (why & WHY_NO_FIGURE)
    rd_item(d, "\"- (no figure)\": the paper's Table 1 reports Houston 2013, MUUFL and Trento at 2, 8 and 20 shots per "
               "class only.");
  if (why & WHY_OFFICIAL)
    rd_item(d, "\"- (official split)\": these runs used the dataset's official train/test maps (data.protocol = "
               "official); the paper's Table 1 draws k shots per class from the merged maps, so its figure is not "
               "comparable.");
  if (why & WHY_UNRECORDED)
    rd_item(d, "\"- (protocol not recorded)\": the result files predate the protocol attribute; rerun them to compare.");
  if (why & WHY_MIXED) rd_item(d, "\"- (mixed)\": the runs of this setting used different label protocols.");
}

static const char *why_cell(int why) {
  switch (why) {
    case WHY_NO_FIGURE: return "- (no figure)";
    case WHY_OFFICIAL: return "- (official split)";
    case WHY_UNRECORDED: return "- (protocol not recorded)";
    case WHY_MIXED: return "- (mixed)";
    default: return "-";
  }
}

static const char *protocol_name(const struct rp_cell *c) {
  if (c->n_found == 0) return "-";
  if (!c->protocol[0]) return "not recorded";
  if (!strcmp(c->protocol, "few_shot")) return "few-shot (merged maps)";
  if (!strcmp(c->protocol, "official")) return "official split";
  return c->protocol;
}

void rp_table_main(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv) {
  const struct dc_report_spec *sp = r->spec;
  static const char *const head[10] = {"Dataset", "Shots", "Protocol", "Runs", "OA (%)", "OA paper", "AA (%)",
                                       "AA paper", "Kappa (%)", "Kappa paper"};
  rd_heading(d, 2, "Few-shot classification (as the paper's Table 1)");
  rd_para(d, "Ours: mean \xc2\xb1 standard deviation over the runs found (population standard deviation, "
             "ddof 0, as everywhere in this report and on the console), in %%. Paper: DiffCLIP's published "
             "figures, shown only beside runs of the paper's protocol: the same dataset and shot count k, k "
             "labelled pixels per class drawn from the merged train and test maps (seed = run index), a "
             "class-proportional validation draw, every other labelled pixel tested, OA / AA / Kappa over the "
             "test pixels (the paper averages 10 runs).");
  char skipped[512] = "";
  for (int i = 0; i < r->n_entries; i++)
    if (r->entries[i].ds->skipped) {
      size_t len = strlen(skipped);
      snprintf(skipped + len, sizeof skipped - len, "%s%s", len ? ", " : "", r->entries[i].display);
    }
  if (skipped[0]) rd_para(d, "Not run (see \"Skipped datasets\" below): %s.", skipped);
  rd_table(d, "table1.csv", 10, head);
  dc_text_puts(csv, "dataset,display,shots,runs_found,runs_expected,protocol,oa_mean,oa_std,paper_oa,aa_mean,aa_std,"
                    "paper_aa,kappa_mean,kappa_std,paper_kappa\n");
  int why_all = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (e->ds->skipped || e->ds->study[0] || is_binary_entry(e, sp->n_shots)) continue;
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      double p[3];
      int figure = rp_paper_classes(e->paper, c->shots, &p[0], &p[1], &p[2]);
      int why = paper_reason(c, figure), have = figure && !why && c->n_found > 0;
      why_all |= why;
      rd_cell(d, "%s", e->display);
      rd_cell(d, "%d", c->shots);
      rd_cell(d, "%s", protocol_name(c));
      runs_cell(d, c);
      const struct rp_stat st[3] = {c->oa, c->aa, c->kappa};
      csv_head(csv, e, c);
      dc_text_printf(csv, ",%s", c->protocol);
      for (int k = 0; k < 3; k++) {
        stat_cell(d, c, st[k], 100, 2);
        if (have)
          rd_cell(d, "%.2f", 100 * p[k]);
        else
          rd_cell(d, "%s", why_cell(why));
        csv_stat(csv, st[k], 100);
        csv_num(csv, have ? p[k] : NAN, 100);
      }
      dc_text_puts(csv, "\n");
    }
  }
  paper_footnotes(d, why_all);
}

int rp_table_binary(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv) {
  const struct dc_report_spec *sp = r->spec;
  int any = 0, single = 0;
  for (int i = 0; i < r->n_entries; i++)
    any |= !r->entries[i].ds->skipped && !r->entries[i].ds->study[0] && is_binary_entry(&r->entries[i], sp->n_shots);
  if (!any) return 0;
  static const char *const head[8] = {"Dataset", "Task", "Shots", "Runs", "ACC", "AUC", "SE", "SP"};
  rd_heading(d, 2, "Binary tasks (MRNet)");
  rd_para(d, "Accuracy, ROC AUC, sensitivity and specificity on the validation exams (the test set) as fractions, "
             "threshold 0.5, mean \xc2\xb1 standard deviation over runs (population, ddof 0).");
  rd_table(d, "binary.csv", 8, head);
  dc_text_puts(csv, "dataset,display,shots,runs_found,runs_expected,task,accuracy_mean,accuracy_std,auc_mean,auc_std,"
                    "sensitivity_mean,sensitivity_std,specificity_mean,specificity_std\n");
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (e->ds->skipped || e->ds->study[0] || !is_binary_entry(e, sp->n_shots)) continue;
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      rd_cell(d, "%s", e->display);
      rd_cell(d, "%s", c->target[0] ? c->target : "-");
      rd_cell(d, "%d", c->shots);
      runs_cell(d, c);
      const struct rp_stat st[4] = {c->accuracy, c->auc, c->sensitivity, c->specificity};
      csv_head(csv, e, c);
      dc_text_printf(csv, ",%s", c->target);
      for (int k = 0; k < 4; k++) {
        if (c->n_found > 0 && st[k].n == 0) {
          rd_cell(d, "n/a (single class)");
          single = 1;
        } else {
          stat_cell(d, c, st[k], 1, 3);
        }
        csv_stat(csv, st[k], 1);
      }
      dc_text_puts(csv, "\n");
    }
  }
  if (single)
    rd_item(d, "n/a (single class): the test split holds exams of one class only, so the AUC (and sensitivity or "
               "specificity) is undefined; these runs say nothing about ranking.");
  double p[4];
  if (rp_paper_binary("mrnet", &p[0], &p[1], &p[2], &p[3]))
    rd_item(d, "The paper reports MRNet ACC %.3f, AUC %.3f, SE %.3f, SP %.3f without naming the task (abnormal, ACL "
               "or meniscus) or the number of training exams, so it stands beside no row here.", p[0], p[1], p[2], p[3]);
  return 1;
}

/* The entry that is the full model of a study entry: same paper key (or name), no study. */
static const struct rp_entry *full_model_of(const struct rp_report *r, const struct rp_entry *e) {
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *f = &r->entries[i];
    if (f != e && !f->ds->study[0] && !f->ds->skipped && strcmp(f->paper, e->paper) == 0) return f;
  }
  return NULL;
}

int rp_table_studies(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv) {
  const struct dc_report_spec *sp = r->spec;
  int any = 0;
  for (int i = 0; i < r->n_entries; i++) any |= r->entries[i].ds->study[0] != '\0' && !r->entries[i].ds->skipped;
  if (!any) return 0;
  static const char *const head[9] = {"Study", "Dataset", "Shots", "Runs", "OA (%)", "Full model OA (%)", "\xce\x94 OA",
                                      "AA (%)", "Kappa (%)"};
  rd_heading(d, 2, "Studies (as the paper's ablation and prompt tables)");
  rd_para(d, "One row per study entry and shot setting, beside this bench's own full model (the entry of the "
             "same dataset without a study label) at the same shot setting and runs; \xce\x94 OA = study minus "
             "full model, in points.");
  rd_table(d, "studies.csv", 9, head);
  dc_text_puts(csv, "study,dataset,display,shots,runs_found,runs_expected,oa_mean,oa_std,full_entry,full_oa_mean,"
                    "full_oa_std,delta_oa,aa_mean,aa_std,kappa_mean,kappa_std\n");
  int quoted = 0;
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (!e->ds->study[0] || e->ds->skipped) continue;
    double p;
    quoted |= rp_paper_study(e->paper, e->ds->study, &p);
    const struct rp_entry *f = full_model_of(r, e);
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s], *fc = f ? &f->cells[s] : NULL;
      struct rp_stat full = fc && fc->n_found ? fc->oa : (struct rp_stat){NAN, NAN, 0};
      double delta = c->oa.n && full.n ? c->oa.mean - full.mean : NAN;
      rd_cell(d, "%s", e->ds->study);
      rd_cell(d, "%s", e->display);
      rd_cell(d, "%d", c->shots);
      runs_cell(d, c);
      stat_cell(d, c, c->oa, 100, 2);
      if (!f)
        rd_cell(d, "- (no full-model entry)");
      else if (!full.n)
        rd_cell(d, "- (no %s run)", f->display);
      else
        rd_cell(d, "%.2f \xc2\xb1 %.2f", 100 * full.mean, 100 * full.std);
      if (isfinite(delta))
        rd_cell(d, "%+.2f", 100 * delta);
      else
        rd_cell(d, "-");
      stat_cell(d, c, c->aa, 100, 2);
      stat_cell(d, c, c->kappa, 100, 2);
      dc_text_csv(csv, e->ds->study);
      dc_text_puts(csv, ",");
      csv_head(csv, e, c);
      csv_stat(csv, c->oa, 100);
      dc_text_puts(csv, ",");
      if (f) dc_text_csv(csv, f->ds->name);
      csv_stat(csv, full, 100);
      csv_num(csv, delta, 100);
      csv_stat(csv, c->aa, 100);
      csv_stat(csv, c->kappa, 100);
      dc_text_puts(csv, "\n");
    }
  }
  if (quoted) {
    double full = NAN, p20 = NAN, aa, kappa;
    rp_paper_study("houston2013", "full", &full);
    rp_paper_classes("houston2013", 20, &p20, &aa, &kappa);
    rd_item(d, "The paper's Houston ablation reports OA %.2f for the full model (without text 89.35, without "
               "diffusion 89.67, without mask 90.78, without the unsupervised stage 87.82), while its own Table 1 "
               "gives %.2f at 20 shots: the ablation ran under a protocol the paper does not state, so its figures "
               "are quoted here and stand beside no row.", 100 * full, 100 * p20);
  }
  return 1;
}

/* Chance levels of a cell from its test samples per class (mean over runs): a uniform guess
 * over the K classes scores OA = AA = 1/K; always answering the most frequent test class
 * scores OA = its share (AA = 1/K, kappa 0 for both). 0 when the cell has no test counts. */
int rp_chance(const struct rp_cell *c, double *uniform, double *majority, int *majority_class) {
  double total = 0, best = -1;
  *majority_class = -1;
  for (int k = 0; k < c->n_classes; k++) {
    total += c->test_per_class[k];
    if (c->test_per_class[k] > best) best = c->test_per_class[k], *majority_class = k;
  }
  if (c->n_classes < 1 || total <= 0) return 0;
  *uniform = 1.0 / c->n_classes;
  *majority = best / total;
  return 1;
}

/* Per-class accuracy of one entry: classes as rows; per shot setting the accuracy and the
 * test samples (mean over runs); then the chance levels. 0 when the entry has no class
 * results. */
int rp_table_per_class(const struct rp_report *r, const struct rp_entry *e, struct rd_doc *d, struct dc_text *csv) {
  const struct dc_report_spec *sp = r->spec;
  const struct rp_cell *ref = NULL;
  for (int s = 0; s < sp->n_shots && !ref; s++)
    if (e->cells[s].n_found > 0 && strcmp(e->cells[s].task, "classes") == 0) ref = &e->cells[s];
  if (!ref || e->ds->skipped) return 0;
  const char *head[1 + 2 * DC_REPORT_MAX_SHOTS];
  char labels[2 * DC_REPORT_MAX_SHOTS][32], csv_name[96];
  head[0] = "Class";
  dc_text_puts(csv, "class");
  for (int s = 0; s < sp->n_shots; s++) {
    snprintf(labels[2 * s], sizeof labels[0], "%d shots (%%)", sp->shots[s]);
    snprintf(labels[2 * s + 1], sizeof labels[0], "test (%d shots)", sp->shots[s]);
    head[1 + 2 * s] = labels[2 * s], head[2 + 2 * s] = labels[2 * s + 1];
    dc_text_printf(csv, ",shots_%d_mean,shots_%d_std,shots_%d_test", sp->shots[s], sp->shots[s], sp->shots[s]);
  }
  dc_text_puts(csv, "\n");
  if (e->ds->study[0])
    rd_heading(d, 3, "%s (%s)", e->display, e->ds->study);
  else
    rd_heading(d, 3, "%s", e->display);
  snprintf(csv_name, sizeof csv_name, "per_class_%s.csv", e->ds->name);
  rd_table(d, csv_name, 1 + 2 * sp->n_shots, head);
  int few = 0;
  for (int k = 0; k < ref->n_classes; k++) {
    rd_cell(d, "%d %s", k + 1, ref->class_names[k]);
    dc_text_csv(csv, ref->class_names[k]);
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      int same = c->n_found > 0 && c->n_classes == ref->n_classes;
      struct rp_stat st = same ? c->per_class[k] : (struct rp_stat){NAN, NAN, 0};
      double n = same ? c->test_per_class[k] : NAN;
      stat_cell(d, c, st, 100, 2);
      if (!same)
        rd_cell(d, "-");
      else if (n == floor(n))
        rd_cell(d, "%.0f", n);
      else
        rd_cell(d, "%.1f", n);
      few |= same && n < 30;
      csv_stat(csv, st, 100);
      csv_num(csv, n, 1);
    }
    dc_text_puts(csv, "\n");
  }
  for (int s = 0; s < sp->n_shots; s++) {
    const struct rp_cell *c = &e->cells[s];
    double uniform, majority;
    int mk;
    if (!c->n_found || !rp_chance(c, &uniform, &majority, &mk)) continue;
    rd_item(d, "%d shots: chance OA %.2f %% (a uniform guess over %d classes; AA the same), %.2f %% by always "
               "answering the most frequent test class (%d %s; its AA %.2f %%); kappa 0 for both.", c->shots,
            100 * uniform, c->n_classes, 100 * majority, mk + 1, c->class_names[mk], 100 * uniform);
  }
  if (few)
    rd_item(d, "Classes with fewer than 30 test samples: their accuracy moves in steps of more than 3 points per "
               "sample, so read it with care.");
  return 1;
}

void rp_table_timings(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv, struct dc_text *csv_runs) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Timings");
  if (sp->n_timings > 0) {
    static const char *const head[2] = {"Stage", "Seconds"};
    rd_table(d, "timings.csv", 2, head);
    dc_text_puts(csv, "stage,seconds\n");
    for (int i = 0; i < sp->n_timings; i++) {
      rd_cell(d, "%s", sp->timings[i].label);
      rd_cell(d, "%.1f", sp->timings[i].seconds);
      dc_text_csv(csv, sp->timings[i].label);
      csv_num(csv, sp->timings[i].seconds, 1);
      dc_text_puts(csv, "\n");
    }
  } else {
    rd_para(d, "No stage timings were recorded for this bench.");
  }
  static const char *const head[6] = {"Dataset", "Shots", "Runs", "Fine-tuning (s)", "Evaluation (s)", "Best epoch"};
  rd_para(d, "Per run, mean \xc2\xb1 standard deviation over the runs found:");
  rd_table(d, "run_timings.csv", 6, head);
  dc_text_puts(csv_runs, "dataset,display,shots,runs_found,runs_expected,finetune_s_mean,finetune_s_std,"
                         "evaluate_s_mean,evaluate_s_std,best_epoch_mean,best_epoch_std\n");
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    if (e->ds->skipped) continue;
    for (int s = 0; s < sp->n_shots; s++) {
      const struct rp_cell *c = &e->cells[s];
      rd_cell(d, "%s", e->display);
      rd_cell(d, "%d", c->shots);
      runs_cell(d, c);
      stat_cell(d, c, c->finetune_s, 1, 1);
      stat_cell(d, c, c->evaluate_s, 1, 1);
      stat_cell(d, c, c->best_epoch, 1, 1);
      csv_head(csv_runs, e, c);
      csv_stat(csv_runs, c->finetune_s, 1);
      csv_stat(csv_runs, c->evaluate_s, 1);
      csv_stat(csv_runs, c->best_epoch, 1);
      dc_text_puts(csv_runs, "\n");
    }
  }
}

void rp_table_provenance(const struct rp_report *r, struct rd_doc *d, struct dc_text *csv, struct dc_text *csv_sums) {
  const struct dc_report_spec *sp = r->spec;
  rd_heading(d, 2, "Provenance");
  static const char *const head[2] = {"Item", "Value"};
  rd_table(d, "provenance.csv", 2, head);
  dc_text_puts(csv, "item,value\n");
  char ranks[16], runs[16], shots[128] = "";
  snprintf(ranks, sizeof ranks, "%d", sp->ranks);
  snprintf(runs, sizeof runs, "%d", sp->n_runs);
  for (int s = 0; s < sp->n_shots; s++) {
    size_t len = strlen(shots);
    snprintf(shots + len, sizeof shots - len, "%s%d", s ? " " : "", sp->shots[s]);
  }
  const char *items[][2] = {{"program version", sp->program_version}, {"git commit", sp->git_commit},
                            {"configuration SHA-256", sp->config_sha256}, {"machine", sp->hardware},
                            {"build (compiler, BLAS, MPI, HDF5, CUDA)", sp->build},
                            {"MPI ranks", ranks}, {"report made (UTC)", sp->created_utc},
                            {"bench folder", sp->bench_dir}, {"shot settings", shots}, {"runs per setting", runs}};
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
    const char *v = items[i][1][0] ? items[i][1] : "(not recorded)";
    rd_cell(d, "%s", items[i][0]);
    rd_cell(d, "%s", v);
    dc_text_csv(csv, items[i][0]);
    dc_text_puts(csv, ",");
    dc_text_csv(csv, v);
    dc_text_puts(csv, "\n");
  }
  static const char *const head2[3] = {"Dataset", "Checksum", "Configuration SHA-256 of its runs"};
  rd_para(d, "Datasets:");
  rd_table(d, "checksums.csv", 3, head2);
  dc_text_puts(csv_sums, "dataset,checksum,run_config_sha256\n");
  for (int i = 0; i < r->n_entries; i++) {
    const struct rp_entry *e = &r->entries[i];
    const char *cfg = "", *mixed = "";
    for (int s = 0; s < sp->n_shots; s++)
      for (int k = 0; k < e->cells[s].n_found; k++) {
        const char *h = e->cells[s].runs[k].config_sha256;
        if (!cfg[0]) cfg = h;
        else if (strcmp(cfg, h) != 0) mixed = " (and others)";
      }
    rd_cell(d, "%s", e->display);
    rd_cell(d, "%s", e->ds->checksum[0] ? e->ds->checksum : "(not recorded)");
    rd_cell(d, "%s%s", cfg[0] ? cfg : "-", mixed);
    dc_text_csv(csv_sums, e->ds->name);
    dc_text_puts(csv_sums, ",");
    dc_text_csv(csv_sums, e->ds->checksum);
    dc_text_printf(csv_sums, ",%s\n", cfg);
  }
}
