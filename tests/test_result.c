/* The per-run result file: a full round trip (attributes, names, per-class, confusion,
 * curves, maps, binary metrics), a result without maps, refusals before any file exists,
 * readers' refusals (missing file, wrong format, wrong version, wrong shape), the atomic
 * write leaving an older file intact, and no HDF5 handle left open. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/result.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static void make_result(struct dc_result *r, int with_map) {
  memset(r, 0, sizeof *r);
  snprintf(r->dataset, sizeof r->dataset, "houston2013");
  r->shots = 8, r->run = 3, r->n_classes = 3;
  snprintf(r->task, sizeof r->task, "classes");
  snprintf(r->class_names[0], 64, "Healthy grass");
  snprintf(r->class_names[1], 64, "Road, \"main\"");
  snprintf(r->class_names[2], 64, "Wasser \xc3\xa4"); /* UTF-8 */
  r->oa = 0.75, r->aa = 0.7, r->kappa = 0.6;
  r->per_class[0] = 0.5, r->per_class[1] = 1.0, r->per_class[2] = NAN;
  r->confusion = calloc(9, sizeof(int64_t));
  for (int i = 0; i < 9; i++) r->confusion[i] = 10 * i + 1;
  r->n_test = 12345678901LL;
  r->finetune_s = 12.5, r->evaluate_s = 0.25, r->best_epoch = 7;
  snprintf(r->config_sha256, sizeof r->config_sha256, "%064d", 42);
  r->n_epochs = 4;
  r->finetune_loss = malloc(4 * sizeof(double));
  r->val_acc = malloc(4 * sizeof(double));
  for (int e = 0; e < 4; e++) r->finetune_loss[e] = 2.0 / (e + 1), r->val_acc[e] = 0.2 * e;
  if (with_map) {
    r->height = 70, r->width = 90; /* > 4096 pixels: the chunked, deflated path */
    size_t n = (size_t)r->height * r->width;
    r->prediction = malloc(n * sizeof(int32_t));
    r->truth = malloc(n * sizeof(int32_t));
    r->test_mask = malloc(n);
    for (size_t i = 0; i < n; i++) {
      r->prediction[i] = 1 + (int32_t)(i % 3);
      r->truth[i] = (int32_t)(i % 4);
      r->test_mask[i] = (uint8_t)(i % 5 == 0);
    }
    r->rgb = malloc(3 * n);
    for (size_t i = 0; i < 3 * n; i++) r->rgb[i] = (uint8_t)(i * 7 % 251);
    r->rgb_bands[0] = 119, r->rgb_bands[1] = 72, r->rgb_bands[2] = 24;
    r->top2 = malloc(2 * n);
    r->top2_prob = malloc(2 * n * sizeof *r->top2_prob);
    for (size_t i = 0; i < n; i++) {
      r->top2[2 * i] = (uint8_t)r->prediction[i], r->top2[2 * i + 1] = (uint8_t)(1 + (i + 1) % 3);
      r->top2_prob[2 * i] = (uint16_t)(40000 + i % 1000), r->top2_prob[2 * i + 1] = (uint16_t)(i % 20000);
    }
  }
  snprintf(r->protocol, sizeof r->protocol, "few_shot");
}

static int same_result(const struct dc_result *a, const struct dc_result *b) {
  int ok = strcmp(a->dataset, b->dataset) == 0 && a->shots == b->shots && a->run == b->run &&
           a->n_classes == b->n_classes && strcmp(a->task, b->task) == 0 && a->oa == b->oa && a->aa == b->aa &&
           a->kappa == b->kappa && a->n_test == b->n_test && a->finetune_s == b->finetune_s &&
           a->evaluate_s == b->evaluate_s && a->best_epoch == b->best_epoch &&
           strcmp(a->config_sha256, b->config_sha256) == 0 && a->n_epochs == b->n_epochs && a->height == b->height &&
           a->width == b->width && strcmp(a->protocol, b->protocol) == 0 && strcmp(a->target, b->target) == 0 &&
           (a->rgb == NULL) == (b->rgb == NULL) && (!a->rgb || memcmp(a->rgb_bands, b->rgb_bands, sizeof a->rgb_bands) == 0);
  for (int k = 0; ok && k < a->n_classes; k++)
    ok = strcmp(a->class_names[k], b->class_names[k]) == 0 &&
         (a->per_class[k] == b->per_class[k] || (isnan(a->per_class[k]) && isnan(b->per_class[k])));
  for (int i = 0; ok && i < a->n_classes * a->n_classes; i++) ok = a->confusion[i] == b->confusion[i];
  for (int e = 0; ok && e < a->n_epochs; e++) ok = a->finetune_loss[e] == b->finetune_loss[e] && a->val_acc[e] == b->val_acc[e];
  size_t n = (size_t)a->height * a->width;
  if (ok && n) {
    ok = (a->prediction == NULL) == (b->prediction == NULL) && (a->truth == NULL) == (b->truth == NULL) &&
         (a->test_mask == NULL) == (b->test_mask == NULL);
    for (size_t i = 0; ok && i < n; i++)
      ok = (!a->prediction || a->prediction[i] == b->prediction[i]) && (!a->truth || a->truth[i] == b->truth[i]) &&
           (!a->test_mask || a->test_mask[i] == b->test_mask[i]);
    ok = ok && (!a->rgb || memcmp(a->rgb, b->rgb, 3 * n) == 0);
    ok = ok && (a->top2 == NULL) == (b->top2 == NULL) && (a->top2_prob == NULL) == (b->top2_prob == NULL);
    ok = ok && (!a->top2 || (memcmp(a->top2, b->top2, 2 * n) == 0 &&
                             memcmp(a->top2_prob, b->top2_prob, 2 * n * sizeof *a->top2_prob) == 0));
  }
  return ok;
}

static int open_objects(void) { return (int)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

/* Rewrites one root attribute of an existing file (for the reader's refusals). */
static void set_root_attr(const char *path, const char *name, hid_t type, const void *value) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(f, name);
  hid_t s = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, type, value);
  H5Aclose(a);
  H5Sclose(s);
  H5Fclose(f);
}

int main(void) {
  char dir[] = "/tmp/dc_test_result_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256], path2[256], tmp[300];
  snprintf(path, sizeof path, "%s/result.h5", dir);
  snprintf(path2, sizeof path2, "%s/other.h5", dir);

  printf("round trip with maps\n");
  struct dc_result w, r;
  make_result(&w, 1);
  expect(dc_result_write(path, &w) == DC_OK, "write");
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  expect(access(tmp, F_OK) != 0, "no temporary file left");
  expect(dc_result_read(path, &r) == DC_OK, "read");
  expect(same_result(&w, &r), "every field equal (the composite and its bands, the protocol included)");
  expect(r.rgb && r.rgb[3 * 100 + 2] == (uint8_t)((3 * 100 + 2) * 7 % 251) && r.rgb_bands[0] == 119, "the false-colour composite");
  expect(isnan(r.auc) && isnan(r.accuracy), "binary metrics NaN for task classes");
  expect(r.top2 && r.top2[2 * 101 + 1] == 1 + 102 % 3 && r.top2_prob[2 * 101] == 40101, "the top-2 classes and probabilities");
  dc_result_free(&r);
  w.top2[2 * 7 + 1] = 9; /* beyond the 4 classes */
  expect(dc_result_write(path2, &w) == DC_ERR_ARG && strstr(dc_last_error(), "top-2 classes 2, 9 at pixel 7"),
         "a top-2 class out of range refused before writing");
  expect(access(path2, F_OK) != 0, "nothing written");
  w.top2[2 * 7 + 1] = 1 + (7 + 1) % 3;
  expect(r.confusion == NULL && r.prediction == NULL, "free zeroes the struct");

  printf("binary task, no map\n");
  struct dc_result b;
  make_result(&b, 0);
  snprintf(b.task, sizeof b.task, "binary");
  b.n_classes = 2;
  b.accuracy = 0.763, b.auc = 0.787, b.sensitivity = 0.75, b.specificity = 0.756, b.threshold = 0.5;
  static int32_t ids[3] = {1130, 1131, 1249}, pred[3] = {1, 0, 1}, truth[3] = {1, 1, 0};
  static double score[3] = {0.9, 0.25, 0.5};
  b.n_exams = 3, b.exam_id = ids, b.exam_pred = pred, b.exam_truth = truth, b.exam_score = score;
  b.n_exams = 3, b.exam_id = NULL;
  expect(dc_result_write(path2, &b) == DC_ERR_ARG && strstr(dc_last_error(), "3 exams but not every per-exam array"),
         "per-exam arrays missing refused");
  b.exam_id = ids;
  expect(dc_result_write(path2, &b) == DC_OK, "write binary");
  expect(dc_result_read(path2, &r) == DC_OK, "read binary");
  expect(r.height == 0 && r.prediction == NULL && r.truth == NULL && r.test_mask == NULL && r.rgb == NULL, "no map");
  expect(r.accuracy == 0.763 && r.auc == 0.787 && r.sensitivity == 0.75 && r.specificity == 0.756 && r.threshold == 0.5,
         "binary metrics");
  expect(strcmp(r.task, "binary") == 0 && r.n_classes == 2 && r.confusion[3] == 31, "task and 2x2 confusion");
  expect(r.n_exams == 3 && r.exam_id[2] == 1249 && r.exam_score[1] == 0.25 && r.exam_pred[2] == 1 && r.exam_truth[2] == 0,
         "per-exam ids, scores, predictions and truth");
  dc_result_free(&r);
  b.n_exams = 0, b.exam_id = b.exam_pred = b.exam_truth = NULL, b.exam_score = NULL; /* static: not freed */
  dc_result_free(&b);

  printf("refused before writing\n");
  struct dc_result bad;
  make_result(&bad, 1);
  snprintf(bad.task, sizeof bad.task, "regression");
  expect(dc_result_write(path, &bad) == DC_ERR_ARG, "unknown task");
  snprintf(bad.task, sizeof bad.task, "classes");
  bad.prediction[17] = 4;
  expect(dc_result_write(path, &bad) == DC_ERR_ARG && strstr(dc_last_error(), "pixel 17"), "prediction out of range");
  bad.prediction[17] = 1;
  bad.n_classes = 0;
  expect(dc_result_write(path, &bad) == DC_ERR_ARG, "no classes");
  bad.n_classes = 3;
  bad.height = 0;
  expect(dc_result_write(path, &bad) == DC_ERR_ARG, "half a map size");
  dc_result_free(&bad);
  expect(dc_result_read(path, &r) == DC_OK && same_result(&w, &r), "the earlier file is intact");
  dc_result_free(&r);
  char nodir[300];
  snprintf(nodir, sizeof nodir, "%s/missing/result.h5", dir);
  expect(dc_result_write(nodir, &w) == DC_ERR_IO && strstr(dc_last_error(), "missing/result.h5"),
         "unwritable folder named");

  printf("reader refusals\n");
  expect(dc_result_read(nodir, &r) == DC_ERR_IO && strstr(dc_last_error(), "cannot open"), "missing file");
  expect(r.confusion == NULL, "struct zeroed on failure");
  FILE *f = fopen(path2, "w");
  fputs("not hdf5\n", f);
  fclose(f);
  expect(dc_result_read(path2, &r) == DC_ERR_IO, "not an HDF5 file");
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  int32_t v2 = 2;
  set_root_attr(path2, "format_version", H5T_STD_I32LE, &v2);
  expect(dc_result_read(path2, &r) == DC_ERR_IO && strstr(dc_last_error(), "format_version 2"), "wrong version");
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 12);
  set_root_attr(path2, "format", st, "diffclip-xxx");
  H5Tclose(st);
  expect(dc_result_read(path2, &r) == DC_ERR_IO && strstr(dc_last_error(), "format is \"diffclip-xxx\""),
         "wrong format (fixed-length string read)");
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  int32_t nc = 4;
  set_root_attr(path2, "n_classes", H5T_STD_I32LE, &nc);
  expect(dc_result_read(path2, &r) == DC_ERR_IO && strstr(dc_last_error(), "/classes/names"), "class count mismatch");
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  hid_t file = H5Fopen(path2, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, "/confusion", H5P_DEFAULT);
  hsize_t dims[2] = {3, 2};
  hid_t sp = H5Screate_simple(2, dims, NULL);
  hid_t ds = H5Dcreate2(file, "/confusion", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Fclose(file);
  expect(dc_result_read(path2, &r) == DC_ERR_IO && strstr(dc_last_error(), "(3, 2) expected (3, 3)"),
         "confusion shape named");
  /* a file of an earlier version: no protocol, target or composite */
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  file = H5Fopen(path2, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Adelete(file, "protocol");
  H5Adelete(file, "target");
  H5Ldelete(file, "/map/rgb", H5P_DEFAULT);
  H5Ldelete(file, "/map/top2", H5P_DEFAULT);
  H5Ldelete(file, "/map/top2_prob", H5P_DEFAULT);
  H5Fclose(file);
  expect(dc_result_read(path2, &r) == DC_OK && r.protocol[0] == '\0' && r.rgb == NULL && r.prediction != NULL &&
         r.top2 == NULL, "an earlier result without protocol, target, composite and top-2 still reads");
  dc_result_free(&r);
  expect(dc_result_write(path2, &w) == DC_OK, "rewrite");
  file = H5Fopen(path2, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, "/map/rgb", H5P_DEFAULT);
  hsize_t d3[3] = {70, 90, 2};
  sp = H5Screate_simple(3, d3, NULL);
  ds = H5Dcreate2(file, "/map/rgb", H5T_STD_U8LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Fclose(file);
  expect(dc_result_read(path2, &r) == DC_ERR_IO && strstr(dc_last_error(), "/map/rgb is not a (70, 90, 3) image"),
         "a composite of the wrong shape named");
  expect(open_objects() == 0, "no HDF5 handle left open");

  dc_result_free(&w);
  remove(path);
  remove(path2);
  rmdir(dir);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
