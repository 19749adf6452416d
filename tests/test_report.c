/* The benchmark report from a synthetic bench folder made here: houston2013 (3 classes,
 * maps, pretraining log), synth-tiny (no paper figures, one run missing), trento (skipped),
 * mrnet (binary task, one result file corrupt) and a Houston ablation entry; 2 shot
 * settings x 2 runs. Checks report.md, report.json and the CSVs against means and
 * standard deviations computed here, the paper's figures beside ours, the skipped reason,
 * the missing and unreadable runs, the maps and curves, the self-contained HTML, the
 * regeneration from the folder alone (dc_report_scan) and the refusal to replace a folder
 * that is not a report. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffclip/report/report.h"
#include "diffclip/io/result.h"
#include "report/textbuf.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static char bench[64];
static const int shots[2] = {2, 8};

static void mkdirs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirs(const char *fmt, ...) {
  char path[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  for (char *p = path + 1; *p; p++)
    if (*p == '/') *p = '\0', mkdir(path, 0775), *p = '/';
  mkdir(path, 0775);
}

/* The numbers of (entry e, shot index s, run r): distinct, so a mix-up shows. */
static double oa_of(int e, int s, int r) { return 0.40 + 0.1 * e + 0.07 * s + 0.031 * r * (1 + s); }
static double aa_of(int e, int s, int r) { return 0.35 + 0.1 * e + 0.05 * s + 0.017 * r; }
static double kappa_of(int e, int s, int r) { return 0.30 + 0.1 * e + 0.06 * s - 0.011 * r; }
static double class_acc(int e, int s, int r, int k) { return 0.2 + 0.1 * k + 0.05 * s + 0.03 * r + 0.01 * e; }

static void write_result(int e, const char *name, const char *task, int s, int r, int with_map) {
  struct dc_result res;
  memset(&res, 0, sizeof res);
  snprintf(res.dataset, sizeof res.dataset, "%s", name);
  snprintf(res.task, sizeof res.task, "%s", task);
  snprintf(res.protocol, sizeof res.protocol, "%s", strcmp(name, "muufl") == 0 ? "official" : "few_shot");
  if (strcmp(task, "binary") == 0) snprintf(res.target, sizeof res.target, "abnormal");
  res.shots = shots[s], res.run = r;
  int binary = strcmp(task, "binary") == 0;
  res.n_classes = binary ? 2 : 3;
  static const char *const names[3] = {"Healthy grass", "Road | main", "Water"};
  for (int k = 0; k < res.n_classes; k++) snprintf(res.class_names[k], 64, "%s", binary ? (k ? "abnormal" : "normal") : names[k]);
  res.oa = oa_of(e, s, r), res.aa = aa_of(e, s, r), res.kappa = kappa_of(e, s, r);
  for (int k = 0; k < res.n_classes; k++) res.per_class[k] = class_acc(e, s, r, k);
  if (!binary && r == 1) res.per_class[2] = NAN; /* no test pixel of class 3 in run 1 */
  res.confusion = calloc((size_t)(res.n_classes * res.n_classes), sizeof(int64_t));
  for (int a = 0; a < res.n_classes; a++) /* row a sums to 20 + 2 (K-1) + K (a + r) */
    for (int b = 0; b < res.n_classes; b++) res.confusion[a * res.n_classes + b] = (a == b ? 20 : 2) + a + r;
  res.n_test = 100, res.finetune_s = 10 + r, res.evaluate_s = 1 + 0.5 * r, res.best_epoch = 3 + r;
  snprintf(res.config_sha256, sizeof res.config_sha256, "%064x", 7);
  res.n_epochs = 4 + r;
  res.finetune_loss = malloc((size_t)res.n_epochs * sizeof(double));
  res.val_acc = malloc((size_t)res.n_epochs * sizeof(double));
  for (int i = 0; i < res.n_epochs; i++) res.finetune_loss[i] = 2.0 / (i + 1) + 0.1 * r, res.val_acc[i] = 0.1 * i;
  if (binary) res.accuracy = 0.70 + 0.02 * r + 0.01 * s, res.auc = 0.8, res.sensitivity = 0.7, res.specificity = 0.6 + 0.1 * r, res.threshold = 0.5;
  if (with_map) {
    res.height = 12, res.width = 16;
    size_t n = 12 * 16;
    res.prediction = malloc(n * sizeof(int32_t));
    res.truth = malloc(n * sizeof(int32_t));
    res.test_mask = malloc(n);
    for (size_t i = 0; i < n; i++) res.prediction[i] = 1 + (int)(i % 3), res.truth[i] = (int)(i % 4), res.test_mask[i] = i % 2;
    res.rgb = malloc(3 * n); /* a false-colour composite: the maps are drawn over it */
    for (size_t i = 0; i < 3 * n; i++) res.rgb[i] = (uint8_t)(40 + i % 170);
  }
  char path[512];
  mkdirs("%s/%s/shots_%d/run_%d", bench, name, shots[s], r);
  snprintf(path, sizeof path, "%s/%s/shots_%d/run_%d/result.h5", bench, name, shots[s], r);
  if (dc_result_write(path, &res) != DC_OK) failures++;
  dc_result_free(&res);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) fputs(text, f), fclose(f);
}

static char *slurp(const char *fmt, const char *a) {
  char path[512], *data = NULL;
  size_t n;
  snprintf(path, sizeof path, fmt, bench, a);
  if (dc_file_read_all(path, &data, &n) != DC_OK) return NULL;
  return data;
}

/* Population mean and std of v(e, s, r) over the given runs. */
static void mean_std(double (*v)(int, int, int), int e, int s, const int *runs, int n, double *m, double *sd) {
  double sum = 0, ss = 0;
  for (int i = 0; i < n; i++) sum += v(e, s, runs[i]);
  *m = sum / n;
  for (int i = 0; i < n; i++) ss += (v(e, s, runs[i]) - *m) * (v(e, s, runs[i]) - *m);
  *sd = sqrt(ss / n);
}

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
  return n;
}

/* The CSV line that starts with `prefix`, its numeric fields after the prefix into v. */
static int csv_row(const char *csv, const char *prefix, double *v, int cap) {
  const char *p = csv;
  while (p && strncmp(p, prefix, strlen(prefix)) != 0) p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
  if (!p) return -1;
  p += strlen(prefix);
  int n = 0;
  for (;;) { /* one field per comma-separated item; an empty field is NaN */
    char *end;
    double x = strtod(p, &end);
    if (n < cap) v[n] = (end == p) ? NAN : x;
    n++;
    p = end;
    while (*p && *p != ',' && *p != '\n') p++;
    if (*p != ',') break;
    p++;
  }
  return n;
}

static int near(double a, double b) { return fabs(a - b) < 1e-6; }

static void setup(struct dc_report_spec *sp) {
  dc_report_spec_init(sp);
  snprintf(sp->bench_dir, sizeof sp->bench_dir, "%s", bench);
  sp->n_shots = 2, sp->shots[0] = 2, sp->shots[1] = 8, sp->n_runs = 2, sp->ranks = 2;
  snprintf(sp->git_commit, sizeof sp->git_commit, "abc1234");
  snprintf(sp->config_sha256, sizeof sp->config_sha256, "%064x", 99);
  snprintf(sp->hardware, sizeof sp->hardware, "2 x test CPU");
  snprintf(sp->build, sizeof sp->build, "GCC 12.2.0; OpenBLAS 0.3.21; Open MPI v4.1.4; HDF5 1.10.8 (parallel)");
  struct dc_report_dataset *d = dc_report_spec_add_dataset(sp, "houston2013");
  snprintf(d->display, sizeof d->display, "Houston 2013");
  snprintf(d->checksum, sizeof d->checksum, "sha256:feed");
  dc_report_spec_add_dataset(sp, "synth-tiny");
  d = dc_report_spec_add_dataset(sp, "trento");
  d->skipped = 1;
  snprintf(d->skip_reason, sizeof d->skip_reason, "scene file data/trento.h5 is absent");
  d = dc_report_spec_add_dataset(sp, "mrnet");
  snprintf(d->display, sizeof d->display, "MRNet (abnormal)");
  d = dc_report_spec_add_dataset(sp, "houston2013_notext");
  snprintf(d->paper_key, sizeof d->paper_key, "houston2013");
  snprintf(d->study, sizeof d->study, "ablation: without text");
  d = dc_report_spec_add_dataset(sp, "muufl");
  snprintf(d->display, sizeof d->display, "MUUFL");
  dc_report_spec_add_timing(sp, "pretrain houston2013", 123.5);
}

int main(void) {
  snprintf(bench, sizeof bench, "/tmp/dc_test_report_XXXXXX");
  if (!mkdtemp(bench)) return 1;
  printf("bench folder %s\n", bench);
  for (int s = 0; s < 2; s++)
    for (int r = 0; r < 2; r++) {
      write_result(0, "houston2013", "classes", s, r, 1);
      if (!(s == 1 && r == 1)) write_result(1, "synth-tiny", "classes", s, r, 0); /* missing run */
      write_result(3, "mrnet", "binary", s, r, 0);
      write_result(4, "houston2013_notext", "classes", s, r, 0);
      write_result(5, "muufl", "classes", s, r, 0); /* the official split: no paper figure */
    }
  char path[512];
  snprintf(path, sizeof path, "%s/mrnet/shots_8/run_1/result.h5", bench);
  write_file(path, "this is not HDF5\n");
  mkdirs("%s/trento", bench);
  snprintf(path, sizeof path, "%s/trento/skipped.txt", bench);
  write_file(path, "scene file data/trento.h5 is absent\n");
  snprintf(path, sizeof path, "%s/houston2013/config.cfg", bench);
  write_file(path, "run = {\n  seed = 7;\n};\n");
  mkdirs("%s/houston2013/pretrain", bench);
  snprintf(path, sizeof path, "%s/houston2013/pretrain/metrics.jsonl", bench);
  write_file(path, "{\"step\": 1, \"epoch\": 0, \"loss\": 0.5, \"masked\": [0.4,0.3], \"visible\": [0.2,0.1]}\n"
                   "{\"step\": 2, \"epoch\": 0, \"loss\": 0.3, \"masked\": [0.3,0.2], \"visible\": [0.1,0.05]}\n"
                   "{\"step\": 3, \"epoch\": 1, \"loss\": 0.2, \"masked\": [0.2,0.1], \"visible\": [0.1,0.04]}\n");

  printf("report from a spec\n");
  static struct dc_report_spec spec;
  setup(&spec);
  expect(dc_report_write(&spec) == DC_OK, "dc_report_write");
  char *md = slurp("%s/report/%s", "report.md"), *json = slurp("%s/report/%s", "report.json"),
       *html = slurp("%s/report/%s", "report.html"), *t1 = slurp("%s/report/%s", "table1.csv");
  expect(md && json && html && t1, "report.md, report.json, report.html, table1.csv written");
  if (!md || !json || !html || !t1) return 1;

  /* Houston, 2 shots: both runs, paper figures beside */
  const int both[2] = {0, 1}, first[1] = {0};
  double m[3], sd[3];
  mean_std(oa_of, 0, 0, both, 2, &m[0], &sd[0]);
  mean_std(aa_of, 0, 0, both, 2, &m[1], &sd[1]);
  mean_std(kappa_of, 0, 0, both, 2, &m[2], &sd[2]);
  char want[512];
  snprintf(want, sizeof want, "| Houston 2013 | 2 | few-shot (merged maps) | 2/2 | %.2f \xc2\xb1 %.2f | 52.15 | %.2f \xc2\xb1 %.2f | 56.02 | %.2f \xc2\xb1 %.2f | 48.39 |",
           100 * m[0], 100 * sd[0], 100 * m[1], 100 * sd[1], 100 * m[2], 100 * sd[2]);
  expect(strstr(md, want) != NULL, "report.md: Houston 2-shot row with the paper's 52.15 / 56.02 / 48.39");
  if (!strstr(md, want)) fprintf(stderr, "  wanted: %s\n", want);
  expect(strstr(md, "| Houston 2013 | 8 | few-shot (merged maps) | 2/2 |") && strstr(md, "| 61.93 |"), "report.md: Houston 8-shot row, paper 61.93");
  double v[16];
  expect(csv_row(t1, "houston2013,Houston 2013,2,2,2,few_shot,", v, 16) == 9 && near(v[0], 100 * m[0]) && near(v[1], 100 * sd[0]) &&
             near(v[2], 52.15) && near(v[3], 100 * m[1]) && near(v[4], 100 * sd[1]) && near(v[6], 100 * m[2]) &&
             near(v[7], 100 * sd[2]) && near(v[8], 48.39),
         "table1.csv: Houston 2-shot numbers");
  /* synth-tiny, 8 shots: one run missing, no paper figures */
  mean_std(oa_of, 1, 1, first, 1, &m[0], &sd[0]);
  snprintf(want, sizeof want, "| synth-tiny | 8 | few-shot (merged maps) | 1/2 | %.2f \xc2\xb1 0.00 | - (no figure) |", 100 * m[0]);
  expect(strstr(md, want) != NULL, "report.md: synth-tiny 8-shot row, 1 of 2 runs, paper \"-\"");
  expect(csv_row(t1, "synth-tiny,synth-tiny,8,1,2,few_shot,", v, 16) == 9 && near(v[0], 100 * m[0]) && near(v[1], 0) && isnan(v[2]),
         "table1.csv: synth-tiny 8 shots, empty paper field");
  expect(strstr(md, "synth-tiny, 8 shots, run 1: missing") != NULL, "missing run listed");
  /* MUUFL at 2 shots has a paper figure (Table 1), but its runs used the official split */
  mean_std(oa_of, 5, 0, both, 2, &m[0], &sd[0]);
  snprintf(want, sizeof want, "| MUUFL | 2 | official split | 2/2 | %.2f \xc2\xb1 %.2f | - (official split) |", 100 * m[0],
           100 * sd[0]);
  expect(strstr(md, want) != NULL, "report.md: MUUFL official-split row, no paper figure beside it");
  expect(strstr(md, "- \"- (official split)\": these runs used") != NULL, "the official-split footnote");
  expect(csv_row(t1, "muufl,MUUFL,2,2,2,official,", v, 16) == 9 && isnan(v[2]) && isnan(v[5]) && isnan(v[8]),
         "table1.csv: MUUFL official split, empty paper fields");
  expect(strstr(md, "MRNet (abnormal), 8 shots, run 1: unreadable") != NULL, "corrupt result listed as unreadable");
  expect(strstr(md, "- trento: scene file data/trento.h5 is absent\n") != NULL, "skipped reason in report.md");
  expect(!strstr(t1, "trento") && !strstr(t1, "mrnet") && !strstr(t1, "notext"),
         "Table 1 holds neither the skipped, the binary nor the study entries");

  /* per-class: Houston 2 shots class 1 over both runs; class 3 only run 0 (NaN in run 1) */
  char *pc = slurp("%s/report/%s", "per_class_houston2013.csv");
  double c1 = (class_acc(0, 0, 0, 0) + class_acc(0, 0, 1, 0)) / 2, c1sd = fabs(class_acc(0, 0, 0, 0) - c1);
  expect(pc && csv_row(pc, "Healthy grass,", v, 6) == 6 && near(v[0], 100 * c1) && near(v[1], 100 * c1sd) &&
             near(v[2], 24 + 1.5) && near(v[5], 24 + 1.5),
         "per_class_houston2013.csv: class 1, 2 shots, with its test samples (mean over runs)");
  expect(pc && csv_row(pc, "Water,", v, 6) == 6 && near(v[0], 100 * class_acc(0, 0, 0, 2)) && near(v[1], 0) &&
             near(v[2], 30 + 1.5),
         "per-class NaN runs left out of the mean; class 3's test samples");
  snprintf(want, sizeof want, "2 shots: chance OA 33.33 %% (a uniform guess over 3 classes; AA the same), %.2f %% by "
           "always answering the most frequent test class (3 Water;", 100 * 31.5 / 85.5);
  expect(strstr(md, want) != NULL, "chance level: uniform and majority class from the test counts");
  if (!strstr(md, want)) fprintf(stderr, "  wanted: %s\n", want);
  expect(strstr(md, "| 2 Road \\| main |") != NULL, "a '|' in a class name escaped in Markdown");
  free(pc);

  /* binary and studies */
  char *bin = slurp("%s/report/%s", "binary.csv"), *stu = slurp("%s/report/%s", "studies.csv");
  double acc_m = (0.70 + 0.01 * 0 + 0.70 + 0.02 + 0.01 * 0) / 2;
  expect(bin && csv_row(bin, "mrnet,MRNet (abnormal),2,2,2,abnormal,", v, 12) == 8 && near(v[0], acc_m) &&
             near(v[1], 0.01) && near(v[2], 0.8) && near(v[6], 0.65) && near(v[7], 0.05),
         "binary.csv: MRNet task, accuracy, AUC, specificity mean/std, no paper columns");
  expect(strstr(md, "| MRNet (abnormal) | abnormal | 8 | 1/2 |") != NULL, "report.md: MRNet task column, 8 shots, 1 of 2 runs");
  expect(!strstr(md, "| 0.763 |") && strstr(md, "The paper reports MRNet ACC 0.763") != NULL,
         "the paper's MRNet figures only in a note, beside no row");
  mean_std(oa_of, 4, 0, both, 2, &m[0], &sd[0]);
  mean_std(oa_of, 0, 0, both, 2, &m[1], &sd[1]);
  expect(stu && csv_row(stu, "ablation: without text,houston2013_notext,houston2013_notext,2,2,2,", v, 10) == 10 &&
             near(v[0], 100 * m[0]) && near(v[1], 100 * sd[0]) && strstr(stu, ",houston2013,") &&
             near(v[3], 100 * m[1]) && near(v[4], 100 * sd[1]) && near(v[5], 100 * (m[0] - m[1])),
         "studies.csv: the ablation row beside this bench's full model (Houston 2013) and the difference");
  expect(!strstr(md, "| 89.35 |") && strstr(md, "quoted here and stand beside no row") != NULL,
         "the paper's ablation figures only quoted (its protocol differs from Table 1's)");
  free(bin);
  free(stu);

  /* report.json */
  const char *hj = strstr(json, "\"name\": \"houston2013\"");
  double jm = NAN;
  mean_std(oa_of, 0, 0, both, 2, &m[0], &sd[0]);
  expect(hj && sscanf(strstr(hj, "\"oa\": {\"mean\": "), "\"oa\": {\"mean\": %lf", &jm) == 1 && near(jm, m[0]),
         "report.json: Houston 2-shot OA mean (a fraction)");
  expect(strstr(json, "\"skipped\": true, \"skip_reason\": \"scene file data/trento.h5 is absent\"") != NULL,
         "report.json: the skipped entry");
  expect(strstr(json, "\"paper\": {\"oa\": 0.5215, \"aa\": 0.5602, \"kappa\": 0.4839}") != NULL, "report.json: paper figures");
  expect(count(json, "{") == count(json, "}") && count(json, "[") == count(json, "]"), "report.json: brackets balanced");

  /* figures */
  snprintf(path, sizeof path, "%s/report/maps/houston2013_shots2_errors.png", bench);
  expect(access(path, F_OK) == 0, "error map PNG");
  snprintf(path, sizeof path, "%s/report/curves/houston2013_pretrain_loss.svg", bench);
  expect(access(path, F_OK) == 0, "pretraining curve SVG");
  expect(strstr(md, "![2 shots, run 0: prediction (over the scene)](maps/houston2013_shots2_prediction.png)") != NULL &&
             strstr(md, "](maps/houston2013_truth.png)") && !strstr(md, "shots2_truth"),
         "report.md links the maps, the ground truth once per dataset");
  expect(count(html, "src=\"data:image/png;base64,iVBORw0KGgo") == 6,
         "report.html embeds 6 maps as PNG data (the scene, the truth, 2 predictions, 2 error maps)");
  expect(strstr(md, "](maps/houston2013_scene.png)") && strstr(md, "2 shots, run 0: prediction (over the scene)") &&
             strstr(md, "Errors (test pixels; every other pixel shows the scene, dimmed): correct (#009e73); wrong (#d55e00)\n"),
         "the false-colour scene once, the prediction and errors drawn over it, their legend");
  expect(strstr(html, "<div class=\"legend\"><b>Classes</b><span><i style=\"background:#e69f00\"></i>1 Healthy grass</span>") &&
             strstr(html, "<b>Errors (test pixels") && strstr(md, "Classes: 1 Healthy grass (#e69f00); 2 Road | main (#56b4e9)"),
         "legends in HTML (swatches) and Markdown (hex colours), not in the images");
  /* confusion matrices: the counts summed over runs 0 and 1 */
  expect(strstr(md, "### Houston 2013, 2 shots (2 runs)") && strstr(md, "| 1 Healthy grass | 41 | 5 | 5 | 51 |") &&
             strstr(md, "](confusion/houston2013_shots2.svg)"),
         "confusion section: the counts table (rows summed over runs) and the heat map");
  char *cm = slurp("%s/report/%s", "confusion/houston2013_shots8.csv");
  expect(cm && strstr(cm, "true_class,Healthy grass,Road | main,Water\n") && strstr(cm, "\nWater,9,9,45\n"),
         "confusion CSV per dataset and shot setting");
  free(cm);
  snprintf(path, sizeof path, "%s/report/confusion/houston2013_shots2.svg", bench);
  expect(access(path, F_OK) == 0 && count(html, "<svg") >= 1 + 2 * 4 + 2, "confusion heat maps written and inlined");
  expect(strstr(html, "<a download=\"table1.csv\" href=\"data:text/csv;charset=utf-8;base64,") &&
             !strstr(html, "href=\"table1.csv\""),
         "report.html embeds its CSVs (links that survive moving the page)");
  expect(strstr(html, "<details><summary>Houston 2013 (houston2013/config.cfg)</summary><pre>run = {\n  seed = 7;") &&
             strstr(md, "<details><summary>Houston 2013 (houston2013/config.cfg)</summary>\n\n```\nrun = {"),
         "the entry's resolved configuration, folded");
  expect(count(html, "<svg") >= 1 + 2 * 4 && !strstr(html, "src=\"maps/") && !strstr(html, ".svg\""),
         "report.html inlines the SVG curves, links no image file");
  expect(strstr(html, "<li>trento: scene file data/trento.h5 is absent</li>") != NULL, "report.html: the skipped reason");
  expect(strstr(html, "<td>52.15</td>") != NULL && strstr(html, "Road | main") != NULL, "report.html: paper column, text");
  expect(strstr(md, "| pretrain houston2013 | 123.5 |") != NULL, "timings");
  expect(strstr(md, "| git commit | abc1234 |") && strstr(md, "| Houston 2013 | sha256:feed |"), "provenance");
  expect(strstr(md, "| build (compiler, BLAS, MPI, HDF5, CUDA) | GCC 12.2.0; OpenBLAS 0.3.21; Open MPI v4.1.4; HDF5 1.10.8 (parallel) |") != NULL,
         "provenance: the build's libraries");

  printf("regenerated from the folder alone\n");
  static struct dc_report_spec scanned;
  char out[256];
  snprintf(out, sizeof out, "%s/report2", bench);
  expect(dc_report_scan(bench, out, &scanned) == DC_OK, "dc_report_scan");
  expect(scanned.n_datasets == 6 && scanned.n_shots == 2 && scanned.shots[1] == 8 && scanned.n_runs == 2 &&
             scanned.ranks == 2 && strcmp(scanned.git_commit, "abc1234") == 0 && strstr(scanned.build, "OpenBLAS 0.3.21") && scanned.n_timings == 1,
         "entries, shots, runs and provenance from bench_info.txt");
  int ti = -1;
  for (int i = 0; i < scanned.n_datasets; i++)
    if (strcmp(scanned.datasets[i].name, "trento") == 0) ti = i;
  expect(ti >= 0 && scanned.datasets[ti].skipped &&
             strcmp(scanned.datasets[ti].skip_reason, "scene file data/trento.h5 is absent") == 0,
         "skip reason from skipped.txt");
  expect(dc_report_write(&scanned) == DC_OK, "write the regenerated report");
  char *t1b = slurp("%s/report2/%s", "table1.csv");
  expect(t1b && strcmp(t1, t1b) == 0, "same Table 1");
  free(t1b);
  snprintf(path, sizeof path, "%s/bench_info.txt", bench);
  remove(path);
  expect(dc_report_scan(bench, out, &scanned) == DC_OK && scanned.n_datasets == 6 && scanned.n_runs == 2 &&
             scanned.n_shots == 2, "scan without bench_info.txt: folders only");

  printf("replacing and refusing\n");
  expect(dc_report_write(&spec) == DC_OK, "an earlier report is replaced");
  snprintf(path, sizeof path, "%s/precious", bench);
  mkdirs("%s/precious", bench);
  snprintf(path, sizeof path, "%s/precious/keep.txt", bench);
  write_file(path, "keep me\n");
  snprintf(spec.report_dir, sizeof spec.report_dir, "%s/precious", bench);
  expect(dc_report_write(&spec) == DC_ERR_ARG && access(path, F_OK) == 0, "a folder that is not a report is left alone");
  spec.report_dir[0] = '\0';
  spec.n_runs = 0;
  expect(dc_report_write(&spec) == DC_ERR_ARG, "no runs refused");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "ls %s | grep -c -E '\\.(tmp|old)\\.' >/dev/null", bench);
  expect(system(cmd) != 0, "no temporary folder left");

  free(md);
  free(json);
  free(html);
  free(t1);
  snprintf(cmd, sizeof cmd, "rm -rf %s", bench);
  if (failures == 0 && !getenv("DIFFCLIP_KEEP_TEST_DIR") && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", bench);
  if (failures) fprintf(stderr, "%d failure(s); the bench folder is kept: %s\n", failures, bench);
  return failures ? 1 : 0;
}
