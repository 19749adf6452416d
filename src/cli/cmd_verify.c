/* `diffclip verify FILE...`: checks every kind of file diffclip writes, on this process
 * alone, one line each: checkpoints (format, every dataset readable and matching its
 * Fletcher32 checksum, the state digest, no NaN), scenes and exam stores (their format and
 * every check their readers make), result files, prediction files. The kind is the file's format attribute. */
#include <getopt.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/data/exams.h"
#include "diffclip/data/scene.h"
#include "diffclip/io/checkpoint.h"
#include "diffclip/io/h5util.h"
#include "diffclip/io/prediction.h"
#include "diffclip/io/result.h"

/* The root's format attribute ("" when the file is HDF5 without one). */
static enum dc_status file_format(const char *path, char *out, size_t cap) {
  out[0] = '\0';
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing, truncated or not HDF5)", path);
  if (H5Aexists_by_name(f, "/", "format", H5P_DEFAULT) > 0) dc_h5_get_attr_str(f, "/", "format", out, cap, path);
  H5Fclose(f);
  return DC_OK;
}

static enum dc_status verify_one(const char *path) {
  char format[64];
  DC_TRY(file_format(path, format, sizeof format));
  if (strcmp(format, DC_CKPT_FORMAT) == 0) return dc_ckpt_verify(path, 1);
  if (strcmp(format, DC_SCENE_FORMAT) == 0) {
    struct dc_scene s;
    enum dc_status st = dc_scene_read(path, &s, 1);
    if (st == DC_OK) st = dc_scene_validate(&s, path);
    if (st == DC_OK)
      printf("%s: ok: scene %s, %d x %d pixels, %d modalities, %d classes\n", path, s.name, s.height, s.width,
             s.n_modalities, s.n_classes);
    dc_scene_free(&s);
    return st;
  }
  if (strcmp(format, DC_EXAMS_FORMAT_NAME) == 0) {
    struct dc_exams e;
    memset(&e, 0, sizeof e);
    enum dc_status st = dc_exams_read(path, 1, 0, 0, &e); /* header, labels and splits; no volumes */
    if (st == DC_OK)
      printf("%s: ok: exam store %s, %d exams, %d planes of %d x %d x %d, %d tasks, %d splits\n", path, e.name,
             e.n_exams, e.n_planes, e.slices, e.height, e.width, e.n_tasks, e.n_splits);
    dc_exams_free(&e);
    return st;
  }
  if (strcmp(format, DC_RESULT_FORMAT) == 0) {
    struct dc_result r;
    memset(&r, 0, sizeof r);
    enum dc_status st = dc_result_read(path, &r);
    if (st == DC_OK)
      printf("%s: ok: result of %s, %d-shot run %d, %d test samples, OA %.2f%%\n", path, r.dataset, r.shots, r.run,
             (int)r.n_test, 100 * r.oa);
    if (st == DC_OK) dc_result_free(&r);
    return st;
  }
  if (strcmp(format, DC_PREDICTION_FORMAT) == 0) {
    struct dc_prediction p;
    enum dc_status st = dc_prediction_read(path, &p);
    if (st == DC_OK)
      printf("%s: ok: prediction of scene %s, %d x %d pixels, %d classes%s%s, by %s\n", path, p.scene, p.height, p.width,
             p.n_classes, p.probability ? ", every class's probability" : ", top-2 probabilities",
             p.has_geo ? ", georeferenced" : "", p.checkpoint);
    if (st == DC_OK) dc_prediction_free(&p);
    return st;
  }
  return DC_ERROR(DC_ERR_IO, "%s: not a file diffclip writes (format attribute '%s'; expected %s, %s, %s, %s or %s)",
                  path, format, DC_CKPT_FORMAT, DC_SCENE_FORMAT, DC_EXAMS_FORMAT_NAME, DC_RESULT_FORMAT,
                  DC_PREDICTION_FORMAT);
}

int dc_cmd_verify(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    FILE *f = ch == 'h' ? stdout : stderr;
    if (d->rank == 0)
      fprintf(f, "usage: diffclip verify FILE.h5 [...]\n"
                 "Checks each file diffclip wrote, by its kind: a checkpoint (format, state digest, every\n"
                 "dataset readable with a valid checksum, no NaN), a scene or exam store (every check its\n"
                 "reader makes), a result file. Exit code 0 when all are valid, 1 otherwise.\n");
    return ch == 'h' ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind == argc) {
    if (d->rank == 0) fprintf(stderr, "diffclip verify: name at least one file\n");
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  int bad = 0;
  for (int i = optind; i < argc; i++) bad += verify_one(argv[i]) != DC_OK;
  return bad ? DC_EXIT_ERROR : DC_EXIT_OK;
}
