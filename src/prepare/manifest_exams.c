/* The exam part of a manifest (kind = "exams", MRNet): the planes (each becomes one
 * modality), the fixed size every volume is resampled to, and per split the folder and one
 * label CSV per class (task). */
#include <stdio.h>
#include <string.h>

#include "prepare/manifest_schema.h"

static const struct dc_key_spec exam_keys[] = {
    {"planes", DC_KT_STRING_ARRAY, 1}, {"slices", DC_KT_INT, 1},    {"height", DC_KT_INT, 1},
    {"width", DC_KT_INT, 1},           {"resample", DC_KT_STRING, 0}, {"id_digits", DC_KT_INT, 0},
    {"splits", DC_KT_LIST, 1},         {NULL, 0, 0}};
static const struct dc_key_spec split_keys[] = {
    {"name", DC_KT_STRING, 1}, {"folder", DC_KT_STRING, 1}, {"exams", DC_KT_INT, 0},
    {"labels", DC_KT_STRING_ARRAY, 1}, {NULL, 0, 0}};

static int safe_relative(const char *p) { return p[0] && p[0] != '/' && !strstr(p, ".."); }

static enum dc_status parse_split(struct dc_manifest *m, const config_setting_t *s, struct dc_manifest_exam_split *sp) {
  DC_TRY(dc_mf_check_group(m, s, split_keys));
  sp->line = config_setting_source_line(s);
  DC_TRY(dc_mf_get_str(m, s, "name", sp->name, sizeof sp->name, ""));
  DC_TRY(dc_mf_get_str(m, s, "folder", sp->folder, sizeof sp->folder, ""));
  if (!sp->name[0]) return dc_mf_error(m, config_setting_get_member(s, "name"), "empty; expected a split name");
  if (!safe_relative(sp->folder))
    return dc_mf_error(m, config_setting_get_member(s, "folder"), "expected a folder relative to the raw folder, without '..'");
  long v = 0;
  DC_TRY(dc_mf_get_int(m, s, "exams", 0, 10000000, 0, &v));
  sp->expected_exams = (int)v;
  const config_setting_t *labels = config_setting_get_member(s, "labels");
  if (config_setting_length(labels) != m->n_classes)
    return dc_mf_error(m, labels, "%d label files; expected one CSV per class (%d)", config_setting_length(labels), m->n_classes);
  for (int k = 0; k < m->n_classes; k++) {
    const char *f = config_setting_get_string_elem(labels, k);
    if (!safe_relative(f) || strlen(f) >= sizeof sp->label_files[k])
      return dc_mf_error(m, labels, "'%s'; expected a path relative to the raw folder, without '..'", f);
    snprintf(sp->label_files[k], sizeof sp->label_files[k], "%s", f);
  }
  return DC_OK;
}

enum dc_status dc_manifest_parse_exams(struct dc_manifest *m, const config_setting_t *ex) {
  struct dc_manifest_exams *e = &m->exams;
  DC_TRY(dc_mf_check_group(m, ex, exam_keys));
  const config_setting_t *planes = config_setting_get_member(ex, "planes");
  e->n_planes = config_setting_length(planes);
  if (e->n_planes < 1 || e->n_planes > DC_MANIFEST_MAX_PLANES)
    return dc_mf_error(m, planes, "%d planes; expected 1..%d", e->n_planes, DC_MANIFEST_MAX_PLANES);
  for (int i = 0; i < e->n_planes; i++) {
    const char *p = config_setting_get_string_elem(planes, i);
    if (!p[0] || strlen(p) >= sizeof e->planes[i] || strchr(p, '/') || strstr(p, ".."))
      return dc_mf_error(m, planes, "plane '%s'; expected a folder name such as \"axial\"", p);
    for (int j = 0; j < i; j++)
      if (!strcmp(e->planes[j], p)) return dc_mf_error(m, planes, "plane '%s' is listed twice", p);
    static const char *const reserved[] = {"labels", "ids", "split", "source_slices", "planes"};
    for (int j = 0; j < 5; j++)
      if (!strcmp(reserved[j], p)) return dc_mf_error(m, planes, "plane name '%s' is reserved in the exam store", p);
    snprintf(e->planes[i], sizeof e->planes[i], "%s", p);
  }
  long v = 0;
  DC_TRY(dc_mf_get_int(m, ex, "slices", 1, 4096, 0, &v));
  e->slices = (int)v;
  DC_TRY(dc_mf_get_int(m, ex, "height", 1, 4096, 0, &v));
  e->height = (int)v;
  DC_TRY(dc_mf_get_int(m, ex, "width", 1, 4096, 0, &v));
  e->width = (int)v;
  DC_TRY(dc_mf_get_int(m, ex, "id_digits", 1, 12, 4, &v));
  e->id_digits = (int)v;
  char method[16];
  DC_TRY(dc_mf_get_str(m, ex, "resample", method, sizeof method, "trilinear"));
  if (!strcmp(method, "trilinear"))
    e->trilinear = 1;
  else if (!strcmp(method, "nearest"))
    e->trilinear = 0;
  else
    return dc_mf_error(m, config_setting_get_member(ex, "resample"), "'%s'; expected \"trilinear\" or \"nearest\"", method);
  const config_setting_t *splits = config_setting_get_member(ex, "splits");
  int n = config_setting_length(splits);
  if (n < 1 || n > DC_MANIFEST_MAX_SPLITS)
    return dc_mf_error(m, splits, "%d splits; expected 1..%d", n, DC_MANIFEST_MAX_SPLITS);
  for (int i = 0; i < n; i++) {
    DC_TRY(parse_split(m, config_setting_get_elem(splits, (unsigned)i), &e->splits[i]));
    for (int j = 0; j < i; j++)
      if (!strcmp(e->splits[j].name, e->splits[i].name))
        return dc_mf_error(m, config_setting_get_elem(splits, (unsigned)i), "split name '%s' is used twice", e->splits[i].name);
    e->n_splits = i + 1;
  }
  return DC_OK;
}
