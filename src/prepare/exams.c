/* `prepare` for exam datasets (MRNet): per split, the label CSVs (one per task, the same
 * exams in each) and one .npy volume (slices, height, width) per exam and plane at
 * <raw>/<folder>/<plane>/<id>.npy. Phase 1 checks every CSV and every volume header (shape,
 * dtype, exact file size) and writes nothing; phase 2 reads, resamples to the manifest's
 * (slices, height, width) and streams each exam into the temporary store, which is renamed
 * only when everything succeeded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/prepare/rawarray.h"
#include "diffclip/prepare/resample.h"
#include "diffclip/core/sha256.h"
#include "prepare/exams.h"
#include "prepare/prepare.h"

struct exam_list {
  int n, cap;
  int *ids, *split, *labels, *slices; /* (n), (n), (n, T), (n, P) */
};

static void list_free(struct exam_list *l) {
  free(l->ids);
  free(l->split);
  free(l->labels);
  free(l->slices);
  memset(l, 0, sizeof *l);
}

static enum dc_status list_add(struct exam_list *l, int T, int P) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 256;
    int *a = realloc(l->ids, (size_t)cap * sizeof(int));
    if (a) l->ids = a;
    int *b = a ? realloc(l->split, (size_t)cap * sizeof(int)) : NULL;
    if (b) l->split = b;
    int *c = b ? realloc(l->labels, (size_t)cap * (size_t)T * sizeof(int)) : NULL;
    if (c) l->labels = c;
    int *d = c ? realloc(l->slices, (size_t)cap * (size_t)P * sizeof(int)) : NULL;
    if (d) l->slices = d;
    if (!d) return DC_ERROR(DC_ERR_NOMEM, "no memory for the exam list");
    l->cap = cap;
  }
  l->n++;
  return DC_OK;
}

static enum dc_status volume_path(const struct dc_manifest *m, const struct dc_prepare_options *o,
                                  const struct dc_manifest_exam_split *sp, int plane, int id, char *buf, size_t len) {
  char rel[512];
  snprintf(rel, sizeof rel, "%s/%s/%0*d.npy", sp->folder, m->exams.planes[plane], m->exams.id_digits, id);
  return dc_prepare_join(o->raw, rel, buf, len);
}

/* Phase 1 for one split: labels from every CSV, every volume header. */
static enum dc_status check_split(const struct dc_manifest *m, const struct dc_prepare_options *o, int s,
                                  struct exam_list *l) {
  const struct dc_manifest_exam_split *sp = &m->exams.splits[s];
  int T = m->n_classes, P = m->exams.n_planes;
  struct dc_label_csv csv[DC_SCENE_MAX_CLASSES];
  memset(csv, 0, sizeof csv);
  char path[4096];
  enum dc_status st = DC_OK;
  for (int t = 0; st == DC_OK && t < T; t++) {
    st = dc_prepare_join(o->raw, sp->label_files[t], path, sizeof path);
    if (st == DC_OK) st = dc_label_csv_read(path, &csv[t]);
    if (st == DC_OK && t > 0 && csv[t].n != csv[0].n)
      st = DC_ERROR(DC_ERR_IO, "%s: %d exams; expected the %d exams of %s (task '%s', split '%s', %s:%d)", path, csv[t].n,
                    csv[0].n, sp->label_files[0], m->class_names[t], sp->name, m->path, sp->line);
  }
  if (st == DC_OK && sp->expected_exams && csv[0].n != sp->expected_exams) {
    dc_prepare_join(o->raw, sp->label_files[0], path, sizeof path);
    st = DC_ERROR(DC_ERR_IO, "%s: %d exams; expected %d (split '%s', %s:%d)", path, csv[0].n, sp->expected_exams, sp->name,
                  m->path, sp->line);
  }
  /* a partial download: every exam with a missing volume counted, the first few named;
   * with --partial they are left out, else nothing is written */
  int missing = 0;
  char first[3][600] = {"", "", ""};
  for (int e = 0; st == DC_OK && e < csv[0].n; e++) {
    int id = csv[0].ids[e], absent = 0;
    for (int p = 0; st == DC_OK && p < P; p++) {
      st = volume_path(m, o, sp, p, id, path, sizeof path);
      if (st == DC_OK && access(path, R_OK) != 0) {
        if (!absent && missing < 3) snprintf(first[missing], sizeof first[0], "%.599s", path);
        absent = 1;
      }
    }
    missing += absent;
  }
  if (st == DC_OK && missing && !o->partial)
    st = DC_ERROR(DC_ERR_IO,
                  "%s: %d of the %d exams of split '%s' have missing volumes (first: %s%s%s%s%s); a partial download? "
                  "`diffclip prepare --partial` leaves them out (%s:%d)",
                  o->raw, missing, csv[0].n, sp->name, first[0], first[1][0] ? ", " : "", first[1],
                  first[2][0] ? ", " : "", first[2], m->path, sp->line);
  if (st == DC_OK && missing)
    dc_log(DC_LOG_WARN, "split '%s': %d of its %d exams left out (--partial): their volumes are missing (first: %s)",
           sp->name, missing, csv[0].n, first[0]);
  for (int e = 0; st == DC_OK && e < csv[0].n; e++) {
    int id = csv[0].ids[e], absent = 0;
    for (int p = 0; st == DC_OK && missing && p < P; p++)
      if (volume_path(m, o, sp, p, id, path, sizeof path) == DC_OK && access(path, R_OK) != 0) absent = 1;
    if (absent) continue;
    if ((st = list_add(l, T, P)) != DC_OK) break;
    int row = l->n - 1;
    l->ids[row] = id;
    l->split[row] = s;
    for (int t = 0; st == DC_OK && t < T; t++) {
      int found = -1;
      for (int j = 0; j < csv[t].n && found < 0; j++) {
        int k = (e + j) % csv[t].n; /* the CSVs list exams in the same order: found at once */
        if (csv[t].ids[k] == id) found = k;
      }
      if (found < 0) {
        dc_prepare_join(o->raw, sp->label_files[t], path, sizeof path);
        st = DC_ERROR(DC_ERR_IO, "%s: no line for exam %d; expected every exam of %s", path, id, sp->label_files[0]);
      } else {
        l->labels[(size_t)row * T + t] = csv[t].labels[found];
      }
    }
    for (int p = 0; st == DC_OK && p < P; p++) {
      struct dc_npy_header h;
      st = volume_path(m, o, sp, p, id, path, sizeof path);
      if (st == DC_OK) st = dc_npy_read_header(path, &h);
      if (st == DC_OK && (h.ndim != 3 || h.dims[0] < 1 || h.dims[1] < 1 || h.dims[2] < 1))
        st = DC_ERROR(DC_ERR_IO, "%s: %d dimensions; expected a volume (slices, height, width)", path, h.ndim);
      if (st == DC_OK) l->slices[(size_t)row * P + p] = (int)h.dims[0];
    }
  }
  for (int t = 0; t < T; t++) dc_label_csv_free(&csv[t]);
  return st;
}

static enum dc_status add_file_line(char ***files, int *n, const char *raw, const char *rel) {
  char path[4096], hex[65];
  DC_TRY(dc_prepare_join(raw, rel, path, sizeof path));
  DC_TRY(dc_sha256_file(path, hex));
  char **grown = realloc(*files, (size_t)(*n + 1) * sizeof *grown);
  DC_CHECK_ALLOC(grown);
  *files = grown;
  size_t len = 64 + 2 + strlen(rel) + 1;
  grown[*n] = malloc(len);
  DC_CHECK_ALLOC(grown[*n]);
  snprintf(grown[*n], len, "%s  %s", hex, rel);
  (*n)++;
  return DC_OK;
}

/* Phase 2: read, check, resample and write every volume. */
static enum dc_status write_volumes(const struct dc_manifest *m, const struct dc_prepare_options *o,
                                    const struct exam_list *l, struct dc_exam_writer *w, char ***files, int *n_files) {
  const struct dc_manifest_exams *x = &m->exams;
  size_t vox = (size_t)x->slices * (size_t)x->height * (size_t)x->width;
  float *res = malloc(vox * sizeof *res);
  DC_CHECK_ALLOC(res);
  enum dc_status st = DC_OK;
  char path[4096];
  for (int e = 0; st == DC_OK && e < l->n; e++) {
    const struct dc_manifest_exam_split *sp = &x->splits[l->split[e]];
    for (int p = 0; st == DC_OK && p < x->n_planes; p++) {
      struct dc_array a;
      st = volume_path(m, o, sp, p, l->ids[e], path, sizeof path);
      if (st == DC_OK) st = dc_npy_read(path, DC_ELEM_F32, &a);
      if (st != DC_OK) break;
      for (size_t i = 0; st == DC_OK && i < a.n; i++)
        if (!isfinite(a.f32[i]))
          st = DC_ERROR(DC_ERR_NUMERIC, "%s: voxel %zu is %g; expected finite intensities", path, i, (double)a.f32[i]);
      if (st == DC_OK)
        st = dc_resample_volume(a.f32, (int)a.dims[0], (int)a.dims[1], (int)a.dims[2], res, x->slices, x->height,
                                x->width, x->trilinear);
      dc_array_free(&a);
      if (st == DC_OK) st = dc_exam_writer_put(w, p, e, res);
      if (st == DC_OK) st = add_file_line(files, n_files, o->raw, path + strlen(o->raw) + 1);
    }
    if (st == DC_OK && (e + 1) % 100 == 0) dc_log(DC_LOG_INFO, "  %d of %d exams", e + 1, l->n);
  }
  free(res);
  return st;
}

enum dc_status dc_prepare_exams(const struct dc_manifest *m, const struct dc_prepare_options *o) {
  const struct dc_manifest_exams *x = &m->exams;
  dc_log(DC_LOG_INFO, "prepare %s: %d planes -> %d x %d x %d (%s), %d tasks, from %s", m->name, x->n_planes, x->slices,
         x->height, x->width, x->trilinear ? "trilinear" : "nearest", m->n_classes, o->raw);
  struct exam_list l;
  memset(&l, 0, sizeof l);
  enum dc_status st = DC_OK;
  for (int s = 0; st == DC_OK && s < x->n_splits; s++) {
    int before = l.n;
    st = check_split(m, o, s, &l);
    if (st == DC_OK) dc_log(DC_LOG_INFO, "  split %-6s %d exams", x->splits[s].name, l.n - before);
  }
  for (int i = 0; st == DC_OK && i < l.n; i++)
    for (int j = 0; j < i; j++)
      if (l.ids[i] == l.ids[j] && st == DC_OK)
        st = DC_ERROR(DC_ERR_IO, "%s: exam %d appears in splits '%s' and '%s'; expected each exam in one split", m->path,
                      l.ids[i], x->splits[l.split[j]].name, x->splits[l.split[i]].name);
  char **files = NULL;
  int n_files = 0;
  for (int s = 0; st == DC_OK && s < x->n_splits; s++)
    for (int t = 0; st == DC_OK && t < m->n_classes; t++) st = add_file_line(&files, &n_files, o->raw, x->splits[s].label_files[t]);
  struct dc_exam_writer w;
  if (st == DC_OK) st = dc_exam_writer_open(&w, o->out, m, l.n);
  if (st == DC_OK) {
    st = write_volumes(m, o, &l, &w, &files, &n_files);
    if (st == DC_OK) {
      char source[4200];
      snprintf(source, sizeof source, "prepare:exams:%s", o->raw);
      struct dc_exam_meta meta = {l.n, l.ids, l.split, l.labels, l.slices, n_files, files, source};
      st = dc_exam_writer_finish(&w, m, &meta);
    } else {
      dc_exam_writer_abort(&w);
    }
  }
  if (st == DC_OK) dc_log(DC_LOG_INFO, "wrote %s (%d exams)", o->out, l.n);
  for (int i = 0; i < n_files; i++) free(files[i]);
  free(files);
  list_free(&l);
  return st;
}
