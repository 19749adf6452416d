/* The scene part of a manifest (kind = "scene"): grid, modalities, label encoding, NaN
 * policy, the published split's counts, and the variants (alternative sets of raw files,
 * e.g. the published code's .mat files, the GatorSense MUUFL release, DFC2013 GeoTIFFs). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "prepare/manifest_schema.h"

static const struct dc_key_spec grid_keys[] = {{"height", DC_KT_INT, 1}, {"width", DC_KT_INT, 1}, {NULL, 0, 0}};
static const struct dc_key_spec modality_keys[] = {
    {"name", DC_KT_STRING, 1}, {"bands", DC_KT_INT, 1}, {"description", DC_KT_STRING, 0}, {NULL, 0, 0}};
static const struct dc_key_spec label_keys[] = {{"unlabelled", DC_KT_INT, 0}, {"first_class", DC_KT_INT, 0}, {NULL, 0, 0}};
static const struct dc_key_spec split_keys[] = {
    {"train_pixels", DC_KT_INT, 0},           {"test_pixels", DC_KT_INT, 0},
    {"labelled_pixels", DC_KT_INT, 0},        {"train_per_class", DC_KT_INT_ARRAY, 0},
    {"test_per_class", DC_KT_INT_ARRAY, 0},   {"labelled_per_class", DC_KT_INT_ARRAY, 0},
    {"source", DC_KT_STRING, 0},              {NULL, 0, 0}};
static const struct dc_key_spec variant_keys[] = {
    {"name", DC_KT_STRING, 1}, {"note", DC_KT_STRING, 0}, {"official_split", DC_KT_BOOL, 0},
    {"bands", DC_KT_GROUP, 0}, {"files", DC_KT_LIST, 1},  {NULL, 0, 0}};
static const struct dc_key_spec file_keys[] = {
    {"role", DC_KT_STRING, 1},   {"file", DC_KT_STRING, 1},           {"variable", DC_KT_STRING, 0},
    {"format", DC_KT_STRING, 0}, {"layout", DC_KT_STRING, 0},         {"sha256", DC_KT_STRING, 0},
    {"sha256_advisory", DC_KT_BOOL, 0}, {"unlabelled", DC_KT_INT, 0}, {"roi_match", DC_KT_STRING, 0},
    {NULL, 0, 0}};

static int is_label_role(const char *r) { return !strcmp(r, "train") || !strcmp(r, "test") || !strcmp(r, "gt"); }

static enum dc_status parse_per_class(struct dc_manifest *m, const config_setting_t *g, const char *key, int *has,
                                      long *out) {
  const config_setting_t *a = config_setting_get_member(g, key);
  if (!a) return DC_OK;
  if (config_setting_length(a) != m->n_classes)
    return dc_mf_error(m, a, "%d counts; expected one per class (%d)", config_setting_length(a), m->n_classes);
  for (int k = 0; k < m->n_classes; k++) {
    long long v = config_setting_get_int64_elem(a, k);
    if (v < 0) return dc_mf_error(m, a, "negative count %lld for class %d", v, k + 1);
    out[k] = (long)v;
  }
  *has = 1;
  return DC_OK;
}

static enum dc_status parse_file(struct dc_manifest *m, const config_setting_t *s, struct dc_manifest_file *f) {
  DC_TRY(dc_mf_check_group(m, s, file_keys));
  f->line = config_setting_source_line(s);
  DC_TRY(dc_mf_get_str(m, s, "role", f->role, sizeof f->role, ""));
  DC_TRY(dc_mf_get_str(m, s, "file", f->file, sizeof f->file, ""));
  DC_TRY(dc_mf_get_str(m, s, "variable", f->variable, sizeof f->variable, ""));
  const config_setting_t *role = config_setting_get_member(s, "role");
  if (!is_label_role(f->role) && dc_manifest_modality(m, f->role) < 0)
    return dc_mf_error(m, role, "'%s'; expected a modality name or \"train\", \"test\", \"gt\"", f->role);
  if (!f->file[0] || f->file[0] == '/' || strstr(f->file, ".."))
    return dc_mf_error(m, config_setting_get_member(s, "file"), "expected a path relative to the raw folder, without '..'");
  char fmt[16];
  DC_TRY(dc_mf_get_str(m, s, "format", fmt, sizeof fmt, "auto"));
  static const char *const names[] = {"auto", "mat", "npy", "gdal", "tiff", "envi", "envi_roi"};
  static const enum dc_file_format vals[] = {DC_FORMAT_AUTO, DC_FORMAT_MAT,  DC_FORMAT_NPY,     DC_FORMAT_GDAL,
                                             DC_FORMAT_GDAL, DC_FORMAT_GDAL, DC_FORMAT_ENVI_ROI};
  int found = 0;
  for (int i = 0; i < 7; i++)
    if (!strcmp(fmt, names[i])) {
      f->format = vals[i];
      found = 1;
    }
  if (!found)
    return dc_mf_error(m, config_setting_get_member(s, "format"), "'%s'; expected auto, mat, npy, tiff, envi, envi_roi or gdal", fmt);
  enum dc_file_format eff = dc_manifest_file_format(f);
  if (eff == DC_FORMAT_ENVI_ROI && !is_label_role(f->role))
    return dc_mf_error(m, s, "an ENVI ROI text file holds labels; expected role \"train\", \"test\" or \"gt\"");
  char match[16];
  DC_TRY(dc_mf_get_str(m, s, "roi_match", match, sizeof match, "name"));
  const config_setting_t *mk = config_setting_get_member(s, "roi_match");
  if (mk && eff != DC_FORMAT_ENVI_ROI)
    return dc_mf_error(m, mk, "only ENVI ROI text files (format = \"envi_roi\", or a .txt file) have 'roi_match'");
  if (strcmp(match, "name") && strcmp(match, "order"))
    return dc_mf_error(m, mk, "'%s'; expected \"name\" (ROI names matched to class names) or \"order\" (ROI i is class i)", match);
  f->roi_by_order = !strcmp(match, "order");
  if (eff == DC_FORMAT_MAT && !f->variable[0])
    return dc_mf_error(m, s, "missing key 'variable': a MATLAB file needs the variable name (e.g. \"HSI\")");
  if (eff != DC_FORMAT_MAT && f->variable[0])
    return dc_mf_error(m, config_setting_get_member(s, "variable"), "only MATLAB files have variables");
  DC_TRY(dc_mf_get_str(m, s, "layout", f->layout, sizeof f->layout, "HWC"));
  if (strcmp(f->layout, "HWC") && strcmp(f->layout, "WHC") && strcmp(f->layout, "CHW"))
    return dc_mf_error(m, config_setting_get_member(s, "layout"), "'%s'; expected \"HWC\", \"WHC\" or \"CHW\"", f->layout);
  DC_TRY(dc_mf_get_str(m, s, "sha256", f->sha256, sizeof f->sha256, ""));
  if (f->sha256[0]) {
    int ok = strlen(f->sha256) == 64;
    for (int i = 0; ok && i < 64; i++) {
      if (!isxdigit((unsigned char)f->sha256[i])) ok = 0;
      f->sha256[i] = (char)tolower((unsigned char)f->sha256[i]);
    }
    if (!ok) return dc_mf_error(m, config_setting_get_member(s, "sha256"), "expected 64 hexadecimal digits");
  }
  f->sha256_advisory = dc_mf_get_bool(s, "sha256_advisory", 0);
  const config_setting_t *u = config_setting_get_member(s, "unlabelled");
  if (u) {
    if (!is_label_role(f->role)) return dc_mf_error(m, u, "only label files (train, test, gt) have 'unlabelled'");
    f->has_unlabelled = 1;
    f->unlabelled = (long)config_setting_get_int64(u);
  }
  return DC_OK;
}

static enum dc_status parse_variant(struct dc_manifest *m, const config_setting_t *s, struct dc_manifest_variant *v) {
  DC_TRY(dc_mf_check_group(m, s, variant_keys));
  v->line = config_setting_source_line(s);
  DC_TRY(dc_mf_get_str(m, s, "name", v->name, sizeof v->name, ""));
  if (!v->name[0]) return dc_mf_error(m, config_setting_get_member(s, "name"), "empty; expected a variant name");
  DC_TRY(dc_mf_get_str(m, s, "note", v->note, sizeof v->note, ""));
  v->official_split = dc_mf_get_bool(s, "official_split", 0);
  for (int i = 0; i < m->n_modalities; i++) v->bands[i] = m->bands[i];
  const config_setting_t *b = config_setting_get_member(s, "bands");
  for (int i = 0; b && i < config_setting_length(b); i++) {
    const config_setting_t *e = config_setting_get_elem(b, (unsigned)i);
    int mod = dc_manifest_modality(m, config_setting_name(e));
    if (mod < 0) return dc_mf_error(m, e, "unknown modality; expected a name from 'modalities'");
    int t = config_setting_type(e);
    long long n = config_setting_get_int64(e);
    if ((t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) || n < 1 || n > 100000)
      return dc_mf_error(m, e, "expected a band count 1..100000");
    v->bands[mod] = (int)n;
  }
  const config_setting_t *files = config_setting_get_member(s, "files");
  int n = config_setting_length(files);
  if (n < 1 || n > DC_MANIFEST_MAX_FILES) return dc_mf_error(m, files, "%d files; expected 1..%d", n, DC_MANIFEST_MAX_FILES);
  int n_train = 0, n_test = 0, n_gt = 0;
  for (int i = 0; i < n; i++) {
    DC_TRY(parse_file(m, config_setting_get_elem(files, (unsigned)i), &v->files[i]));
    v->n_files = i + 1;
    n_train += !strcmp(v->files[i].role, "train");
    n_test += !strcmp(v->files[i].role, "test");
    n_gt += !strcmp(v->files[i].role, "gt");
  }
  for (int mod = 0; mod < m->n_modalities; mod++) {
    int have = 0;
    for (int i = 0; i < n; i++) have |= !strcmp(v->files[i].role, m->modality_names[mod]);
    if (!have) return dc_mf_error(m, files, "no file for modality '%s'; expected at least one", m->modality_names[mod]);
  }
  int split_ok = (n_train == 1 && n_test == 1 && n_gt == 0) || (n_train == 0 && n_test == 0 && n_gt == 1);
  if (!split_ok)
    return dc_mf_error(m, files, "labels: expected one \"train\" and one \"test\" file, or one \"gt\" file");
  if (v->official_split && n_gt)
    return dc_mf_error(m, config_setting_get_member(s, "official_split"), "an official split needs \"train\" and \"test\" files");
  return DC_OK;
}

enum dc_status dc_manifest_parse_scene(struct dc_manifest *m, const config_setting_t *root) {
  static const char *const required[] = {"grid", "modalities", "variants"};
  for (int i = 0; i < 3; i++)
    if (!config_setting_get_member(root, required[i]))
      return dc_mf_error(m, root, "missing required key '%s'", required[i]);
  const config_setting_t *grid = config_setting_get_member(root, "grid");
  DC_TRY(dc_mf_check_group(m, grid, grid_keys));
  long v = 0;
  DC_TRY(dc_mf_get_int(m, grid, "height", 1, 1000000, 0, &v));
  m->height = (int)v;
  DC_TRY(dc_mf_get_int(m, grid, "width", 1, 1000000, 0, &v));
  m->width = (int)v;

  const config_setting_t *mods = config_setting_get_member(root, "modalities");
  int nm = config_setting_length(mods);
  if (nm < 1 || nm > DC_SCENE_MAX_MODALITIES)
    return dc_mf_error(m, mods, "%d modalities; expected 1..%d", nm, DC_SCENE_MAX_MODALITIES);
  for (int i = 0; i < nm; i++) {
    const config_setting_t *s = config_setting_get_elem(mods, (unsigned)i);
    DC_TRY(dc_mf_check_group(m, s, modality_keys));
    DC_TRY(dc_mf_get_str(m, s, "name", m->modality_names[i], sizeof m->modality_names[i], ""));
    const char *name = m->modality_names[i];
    if (!name[0] || is_label_role(name))
      return dc_mf_error(m, config_setting_get_member(s, "name"), "'%s'; expected a modality name other than train/test/gt", name);
    if (dc_manifest_modality(m, name) >= 0) return dc_mf_error(m, s, "modality '%s' is listed twice", name);
    DC_TRY(dc_mf_get_int(m, s, "bands", 1, 100000, 0, &v));
    m->bands[i] = (int)v;
    m->n_modalities = i + 1;
  }

  const config_setting_t *labels = config_setting_get_member(root, "labels");
  m->unlabelled = 0;
  m->first_class = 1;
  if (labels) {
    DC_TRY(dc_mf_check_group(m, labels, label_keys));
    DC_TRY(dc_mf_get_int(m, labels, "unlabelled", -1000000, 1000000, 0, &m->unlabelled));
    DC_TRY(dc_mf_get_int(m, labels, "first_class", -1000000, 1000000, 1, &m->first_class));
  }

  char policy[16];
  DC_TRY(dc_mf_get_str(m, root, "nan_policy", policy, sizeof policy, "error"));
  if (!strcmp(policy, "error"))
    m->nan_policy = DC_NAN_ERROR;
  else if (!strcmp(policy, "fill"))
    m->nan_policy = DC_NAN_FILL;
  else
    return dc_mf_error(m, config_setting_get_member(root, "nan_policy"), "'%s'; expected \"error\" or \"fill\"", policy);

  struct dc_manifest_split_counts *sc = &m->split;
  sc->train = sc->test = sc->labelled = -1;
  const config_setting_t *split = config_setting_get_member(root, "published_split");
  if (split) {
    DC_TRY(dc_mf_check_group(m, split, split_keys));
    DC_TRY(dc_mf_get_int(m, split, "train_pixels", 0, 1L << 40, -1, &sc->train));
    DC_TRY(dc_mf_get_int(m, split, "test_pixels", 0, 1L << 40, -1, &sc->test));
    DC_TRY(dc_mf_get_int(m, split, "labelled_pixels", 0, 1L << 40, -1, &sc->labelled));
    DC_TRY(parse_per_class(m, split, "train_per_class", &sc->has_train_per_class, sc->train_per_class));
    DC_TRY(parse_per_class(m, split, "test_per_class", &sc->has_test_per_class, sc->test_per_class));
    DC_TRY(parse_per_class(m, split, "labelled_per_class", &sc->has_labelled_per_class, sc->labelled_per_class));
  }

  const config_setting_t *vars = config_setting_get_member(root, "variants");
  int nv = config_setting_length(vars);
  if (nv < 1 || nv > DC_MANIFEST_MAX_VARIANTS)
    return dc_mf_error(m, vars, "%d variants; expected 1..%d", nv, DC_MANIFEST_MAX_VARIANTS);
  for (int i = 0; i < nv; i++) {
    DC_TRY(parse_variant(m, config_setting_get_elem(vars, (unsigned)i), &m->variants[i]));
    for (int j = 0; j < i; j++)
      if (!strcmp(m->variants[j].name, m->variants[i].name))
        return dc_mf_error(m, config_setting_get_elem(vars, (unsigned)i), "variant name '%s' is used twice", m->variants[i].name);
    m->n_variants = i + 1;
  }
  return DC_OK;
}
