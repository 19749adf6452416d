/* `diffclip info SCENE.h5`: a scene's summary without loading its cubes: name, grid,
 * modalities with bands and value ranges, classes with train / test pixel counts and
 * descriptions, provenance. Rank 0 prints; the others have nothing to do. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/data/exams.h"
#include "diffclip/data/scene.h"

static void info_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip info SCENE.h5\n"
          "Summarises a scene file (docs/formats.md): grid, modalities, classes with their train and\n"
          "test pixel counts and descriptions, provenance. Exit code 1 when the file is not a valid scene.\n\n"
          "  --help   this text\n");
}

static void print_scene(const char *path, const struct dc_scene *s) {
  size_t n = (size_t)s->height * s->width, train[DC_SCENE_MAX_CLASSES + 1] = {0}, test[DC_SCENE_MAX_CLASSES + 1] = {0};
  size_t unlabelled = 0;
  for (size_t i = 0; i < n; i++) {
    train[s->train[i]] += s->train[i] != 0;
    test[s->test[i]] += s->test[i] != 0;
    unlabelled += !s->train[i] && !s->test[i];
  }
  printf("scene       %s  (%s)\n", s->name, path);
  printf("format      %s version %d, written by diffclip %s at %s\n", DC_SCENE_FORMAT, DC_SCENE_VERSION,
         s->program_version, s->created_utc);
  printf("grid        %d rows x %d columns = %zu pixels\n", s->height, s->width, n);
  for (int m = 0; m < s->n_modalities; m++) {
    const struct dc_band_stats *b = &s->stats[m];
    double mean_lo = b->mean[0], mean_hi = b->mean[0];
    for (int c = 1; c < s->bands[m]; c++) {
      mean_lo = b->mean[c] < mean_lo ? b->mean[c] : mean_lo;
      mean_hi = b->mean[c] > mean_hi ? b->mean[c] : mean_hi;
    }
    printf("modality %d  %-8s %4d band%s  values %.6g .. %.6g  (band means %.6g .. %.6g)\n", m, s->modality_names[m],
           s->bands[m], s->bands[m] == 1 ? " " : "s", s->global_min[m], s->global_max[m], mean_lo, mean_hi);
  }
  printf("classes     %d\n", s->n_classes);
  printf("   id  %-28s %8s %8s\n", "name", "train", "test");
  size_t tr = 0, te = 0;
  for (int k = 1; k <= s->n_classes; k++) {
    printf("  %3d  %-28s %8zu %8zu\n", k, s->class_names[k - 1], train[k], test[k]);
    tr += train[k];
    te += test[k];
  }
  printf("       %-28s %8zu %8zu   (%zu pixels unlabelled)\n", "total", tr, te, unlabelled);
  printf("descriptions\n");
  for (int k = 1; k <= s->n_classes; k++)
    printf("  %3d  %s: %s\n", k, s->class_names[k - 1], s->class_descriptions[k - 1][0] ? s->class_descriptions[k - 1] : "(none)");
  printf("provenance  source %s\n", s->source[0] ? s->source : "(none)");
  if (s->manifest_sha256[0]) printf("            manifest sha256 %s\n", s->manifest_sha256);
  if (s->manifest) printf("            manifest stored (%zu bytes)\n", strlen(s->manifest));
  for (int i = 0; i < s->n_files; i++) printf("            %s\n", s->files[i]);
}

/* An MRNet exam store (diffclip prepare --manifest data_manifests/mrnet.cfg): its shape,
 * and per task and split the exams and positives. */
static int exams_info(const char *path) {
  struct dc_exams e;
  memset(&e, 0, sizeof e);
  if (dc_exams_read(path, 1, 0, 0, &e) != DC_OK) {
    dc_exams_free(&e);
    return DC_EXIT_ERROR;
  }
  printf("exam store  %s  (%s)\n", e.name, path);
  printf("exams       %d, %d planes of %d slices x %d x %d:", e.n_exams, e.n_planes, e.slices, e.height, e.width);
  for (int p = 0; p < e.n_planes; p++) printf(" %s", e.plane_names[p]);
  printf("\n%-16s", "task");
  for (int sp = 0; sp < e.n_splits; sp++) printf("  %-18s", e.split_names[sp]);
  printf("\n");
  for (int t = 0; t < e.n_tasks; t++) {
    printf("%-16s", e.task_names[t]);
    for (int sp = 0; sp < e.n_splits; sp++) {
      int n = 0, pos = 0;
      for (int i = 0; i < e.n_exams; i++)
        if (e.split[i] == sp) n++, pos += e.labels[(size_t)i * e.n_tasks + t] != 0;
      char cell[40];
      snprintf(cell, sizeof cell, "%d of %d positive", pos, n);
      printf("  %-18s", cell);
    }
    printf("\n");
  }
  dc_exams_free(&e);
  return DC_EXIT_OK;
}

int dc_cmd_info(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (d->rank == 0) info_usage(ch == 'h' ? stdout : stderr);
    return ch == 'h' ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind + 1 != argc) {
    if (d->rank == 0) {
      fprintf(stderr, "diffclip info: name one scene file\n");
      info_usage(stderr);
    }
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  if (dc_exams_is_store(argv[optind])) return exams_info(argv[optind]);
  struct dc_scene s;
  if (dc_scene_read(argv[optind], &s, 0) != DC_OK) return DC_EXIT_ERROR;
  print_scene(argv[optind], &s);
  dc_scene_free(&s);
  return DC_EXIT_OK;
}
