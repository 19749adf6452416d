/* Dataset manifests: libconfig parsing with a strict schema (manifest.h). Every key of
 * every group is checked against a table: unknown keys, wrong types and missing required
 * keys are refused with "<manifest>:<line>: <key path>: <what was expected>". The
 * exam-store part (kind = "exams") is in manifest_exams.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "prepare/manifest_schema.h"
#include "diffclip/core/sha256.h"

/* ---- the generic checker ------------------------------------------------------------ */

static void key_path(const config_setting_t *s, char *buf, size_t len) {
  const config_setting_t *chain[32];
  int n = 0;
  for (const config_setting_t *p = s; p && !config_setting_is_root(p) && n < 32; p = config_setting_parent(p))
    chain[n++] = p;
  size_t used = 0;
  buf[0] = '\0';
  for (int i = n - 1; i >= 0 && used < len; i--) {
    const char *name = config_setting_name(chain[i]);
    int w = name ? snprintf(buf + used, len - used, "%s%s", used ? "." : "", name)
                 : snprintf(buf + used, len - used, "[%d]", config_setting_index(chain[i]));
    if (w < 0) break;
    used += (size_t)w;
  }
  if (!buf[0]) snprintf(buf, len, "(top level)");
}

enum dc_status dc_mf_error(const struct dc_manifest *m, const config_setting_t *s, const char *fmt, ...) {
  char where[256], msg[768];
  key_path(s, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int line = s ? config_setting_source_line(s) : 0;
  dc_log(DC_LOG_ERROR, "%s:%d: %s: %s", m->path, line > 0 ? line : 1, where, msg);
  return DC_ERR_ARG;
}

static const char *type_word(enum dc_key_type t) {
  switch (t) {
    case DC_KT_INT: return "an integer";
    case DC_KT_STRING: return "a string in double quotes";
    case DC_KT_BOOL: return "true or false";
    case DC_KT_GROUP: return "a group { ... }";
    case DC_KT_LIST: return "a list ( ... )";
    case DC_KT_INT_ARRAY: return "an array of integers [ ... ]";
    case DC_KT_STRING_ARRAY: return "an array of strings [ ... ]";
  }
  return "?";
}

static const char *actual_word(const config_setting_t *s) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
  }
  return "nothing";
}

static int type_ok(const config_setting_t *s, enum dc_key_type t) {
  int type = config_setting_type(s);
  int n = config_setting_length(s);
  switch (t) {
    case DC_KT_INT: return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
    case DC_KT_STRING: return type == CONFIG_TYPE_STRING;
    case DC_KT_BOOL: return type == CONFIG_TYPE_BOOL;
    case DC_KT_GROUP: return type == CONFIG_TYPE_GROUP;
    case DC_KT_LIST: return type == CONFIG_TYPE_LIST;
    case DC_KT_INT_ARRAY:
      if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) return 0;
      for (int i = 0; i < n; i++) {
        int et = config_setting_type(config_setting_get_elem(s, (unsigned)i));
        if (et != CONFIG_TYPE_INT && et != CONFIG_TYPE_INT64) return 0;
      }
      return 1;
    case DC_KT_STRING_ARRAY:
      if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) return 0;
      for (int i = 0; i < n; i++)
        if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING) return 0;
      return 1;
  }
  return 0;
}

enum dc_status dc_mf_check_group(const struct dc_manifest *m, const config_setting_t *g, const struct dc_key_spec *spec) {
  if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP) return dc_mf_error(m, g, "expected a group { ... }");
  int n = config_setting_length(g);
  for (int i = 0; i < n; i++) {
    const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
    const struct dc_key_spec *k = spec;
    while (k->name && strcmp(k->name, config_setting_name(c)) != 0) k++;
    if (!k->name) {
      char known[512] = "";
      size_t used = 0;
      for (const struct dc_key_spec *q = spec; q->name && used < sizeof known; q++) {
        int w = snprintf(known + used, sizeof known - used, "%s%s", q == spec ? "" : ", ", q->name);
        if (w > 0) used += (size_t)w;
      }
      return dc_mf_error(m, c, "unknown key; expected one of: %s", known);
    }
    if (!type_ok(c, k->type)) return dc_mf_error(m, c, "expected %s, got %s", type_word(k->type), actual_word(c));
  }
  for (const struct dc_key_spec *k = spec; k->name; k++)
    if (k->required && !config_setting_get_member(g, k->name))
      return dc_mf_error(m, g, "missing required key '%s' (%s)", k->name, type_word(k->type));
  return DC_OK;
}


enum dc_status dc_mf_get_int(const struct dc_manifest *m, const config_setting_t *g, const char *key, long lo, long hi,
                             long fallback, long *out) {
  const config_setting_t *s = config_setting_get_member(g, key);
  if (!s) {
    *out = fallback;
    return DC_OK;
  }
  long long v = config_setting_get_int64(s);
  if (v < lo || v > hi) return dc_mf_error(m, s, "%lld is out of range; expected %ld..%ld", v, lo, hi);
  *out = (long)v;
  return DC_OK;
}

enum dc_status dc_mf_get_str(const struct dc_manifest *m, const config_setting_t *g, const char *key, char *out,
                             size_t len, const char *fallback) {
  const config_setting_t *s = config_setting_get_member(g, key);
  const char *v = s ? config_setting_get_string(s) : fallback;
  if (!v) v = "";
  if (strlen(v) >= len) return dc_mf_error(m, s, "too long; expected at most %zu characters", len - 1);
  snprintf(out, len, "%s", v);
  return DC_OK;
}

int dc_mf_get_bool(const config_setting_t *g, const char *key, int fallback) {
  const config_setting_t *s = config_setting_get_member(g, key);
  return s ? config_setting_get_bool(s) : fallback;
}

/* ---- classes ---------------------------------------------------------------------------- */

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static const struct dc_key_spec class_keys[] = {{"name", DC_KT_STRING, 1},
                                                {"description", DC_KT_STRING, 1},
                                                {"drop", DC_KT_BOOL, 0},
                                                {"merge_into", DC_KT_STRING, 0},
                                                {NULL, 0, 0}};

static enum dc_status parse_classes(struct dc_manifest *m, const config_setting_t *list) {
  int n = config_setting_length(list);
  if (n < 1 || n > DC_SCENE_MAX_CLASSES) return dc_mf_error(m, list, "%d classes; expected 1..%d", n, DC_SCENE_MAX_CLASSES);
  for (int k = 0; k < n; k++) {
    const config_setting_t *c = config_setting_get_elem(list, (unsigned)k);
    DC_TRY(dc_mf_check_group(m, c, class_keys));
    const char *name = config_setting_get_string(config_setting_get_member(c, "name"));
    const char *desc = config_setting_get_string(config_setting_get_member(c, "description"));
    if (!name[0] || strlen(name) > 63) return dc_mf_error(m, c, "class name must have 1..63 characters");
    if (!desc[0]) return dc_mf_error(m, c, "empty description; expected one sentence describing the class");
    for (int j = 0; j < k; j++)
      if (strcmp(m->class_names[j], name) == 0) return dc_mf_error(m, c, "class name '%s' is used twice", name);
    m->class_names[k] = dup_str(name);
    m->class_descriptions[k] = dup_str(desc);
    DC_CHECK_ALLOC(m->class_names[k]);
    DC_CHECK_ALLOC(m->class_descriptions[k]);
    m->n_classes = k + 1;
    m->class_fate[k] = k;
  }
  /* then drop and merge_into, which may name a class listed after this one */
  int kept = 0;
  for (int k = 0; k < n; k++) {
    const config_setting_t *c = config_setting_get_elem(list, (unsigned)k);
    const config_setting_t *into = config_setting_get_member(c, "merge_into");
    int drop = dc_mf_get_bool(c, "drop", 0);
    if (drop && into) return dc_mf_error(m, c, "class '%s' has both drop and merge_into; expected one", m->class_names[k]);
    if (drop) m->class_fate[k] = -1;
    if (into) {
      const char *target = config_setting_get_string(into);
      int t = -1;
      for (int j = 0; j < n; j++)
        if (strcmp(m->class_names[j], target) == 0) t = j;
      if (t < 0 || t == k) return dc_mf_error(m, into, "merge_into = \"%s\": expected the name of another class", target);
      m->class_fate[k] = t;
    }
  }
  for (int k = 0; k < n; k++) {
    int t = m->class_fate[k];
    if (t >= 0 && t != k && m->class_fate[t] != t)
      return dc_mf_error(m, config_setting_get_elem(list, (unsigned)k),
                         "class '%s' merges into '%s', which is itself dropped or merged; expected a kept class",
                         m->class_names[k], m->class_names[t]);
    kept += t == k;
  }
  if (kept == 0) return dc_mf_error(m, list, "every class is dropped or merged; expected at least one kept");
  return DC_OK;
}

/* ---- loading ------------------------------------------------------------------------ */

static enum dc_status read_text(const char *path, char **text) {
  FILE *f = fopen(path, "rb");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot open the manifest (%s)", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap) {
      char *nb = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) return DC_ERROR(DC_ERR_IO, "%s: manifest too large or out of memory (16 MiB at most)", path);
  buf[n] = '\0';
  *text = buf;
  return DC_OK;
}

static const struct dc_key_spec top_keys[] = {
    {"manifest_version", DC_KT_INT, 1}, {"name", DC_KT_STRING, 1},  {"title", DC_KT_STRING, 0},
    {"kind", DC_KT_STRING, 0},          {"classes", DC_KT_LIST, 1}, {"grid", DC_KT_GROUP, 0},
    {"modalities", DC_KT_LIST, 0},      {"labels", DC_KT_GROUP, 0}, {"nan_policy", DC_KT_STRING, 0},
    {"published_split", DC_KT_GROUP, 0}, {"variants", DC_KT_LIST, 0}, {"exams", DC_KT_GROUP, 0},
    {NULL, 0, 0}};

static enum dc_status parse(struct dc_manifest *m, const config_setting_t *root) {
  DC_TRY(dc_mf_check_group(m, root, top_keys));
  long v = 0;
  DC_TRY(dc_mf_get_int(m, root, "manifest_version", DC_MANIFEST_VERSION, DC_MANIFEST_VERSION, 0, &v));
  m->version = (int)v;
  DC_TRY(dc_mf_get_str(m, root, "name", m->name, sizeof m->name, ""));
  if (!m->name[0]) return dc_mf_error(m, config_setting_get_member(root, "name"), "empty; expected the dataset's name");
  DC_TRY(dc_mf_get_str(m, root, "title", m->title, sizeof m->title, ""));
  char kind[16];
  DC_TRY(dc_mf_get_str(m, root, "kind", kind, sizeof kind, "scene"));
  if (strcmp(kind, "scene") == 0)
    m->kind = DC_MANIFEST_SCENE;
  else if (strcmp(kind, "exams") == 0)
    m->kind = DC_MANIFEST_EXAMS;
  else
    return dc_mf_error(m, config_setting_get_member(root, "kind"), "'%s'; expected \"scene\" or \"exams\"", kind);
  DC_TRY(parse_classes(m, config_setting_get_member(root, "classes")));
  if (m->kind == DC_MANIFEST_EXAMS) {
    static const char *const scene_only[] = {"grid", "modalities", "labels", "nan_policy", "published_split", "variants"};
    for (size_t i = 0; i < sizeof scene_only / sizeof scene_only[0]; i++)
      if (config_setting_get_member(root, scene_only[i]))
        return dc_mf_error(m, config_setting_get_member(root, scene_only[i]), "not allowed with kind = \"exams\"");
    const config_setting_t *ex = config_setting_get_member(root, "exams");
    if (!ex) return dc_mf_error(m, root, "missing required key 'exams' (kind = \"exams\")");
    return dc_manifest_parse_exams(m, ex);
  }
  if (config_setting_get_member(root, "exams"))
    return dc_mf_error(m, config_setting_get_member(root, "exams"), "only allowed with kind = \"exams\"");
  return dc_manifest_parse_scene(m, root);
}

enum dc_status dc_manifest_load(const char *path, struct dc_manifest *m) {
  memset(m, 0, sizeof *m);
  if (strlen(path) >= sizeof m->path) return DC_ERROR(DC_ERR_ARG, "%s: manifest path too long", path);
  snprintf(m->path, sizeof m->path, "%s", path);
  DC_TRY(read_text(path, &m->text));
  dc_sha256_hex(m->text, strlen(m->text), m->sha256);
  config_t cfg;
  config_init(&cfg);
  enum dc_status st = DC_OK;
  if (config_read_string(&cfg, m->text) != CONFIG_TRUE) {
    dc_log(DC_LOG_ERROR, "%s:%d: syntax error: %s", path, config_error_line(&cfg), config_error_text(&cfg));
    st = DC_ERR_ARG;
  } else {
    st = parse(m, config_root_setting(&cfg));
  }
  config_destroy(&cfg);
  if (st != DC_OK) dc_manifest_free(m);
  return st;
}

void dc_manifest_free(struct dc_manifest *m) {
  if (!m) return;
  free(m->text);
  m->text = NULL;
  for (int k = 0; k < DC_SCENE_MAX_CLASSES; k++) {
    free(m->class_names[k]);
    free(m->class_descriptions[k]);
    m->class_names[k] = m->class_descriptions[k] = NULL;
  }
}

int dc_manifest_modality(const struct dc_manifest *m, const char *role) {
  for (int i = 0; i < m->n_modalities; i++)
    if (strcmp(m->modality_names[i], role) == 0) return i;
  return -1;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (k > n) return 0;
  for (size_t i = 0; i < k; i++)
    if (tolower((unsigned char)s[n - k + i]) != suffix[i]) return 0;
  return 1;
}

enum dc_file_format dc_manifest_file_format(const struct dc_manifest_file *f) {
  if (f->format != DC_FORMAT_AUTO) return f->format;
  if (ends_with(f->file, ".mat")) return DC_FORMAT_MAT;
  if (ends_with(f->file, ".npy")) return DC_FORMAT_NPY;
  if (ends_with(f->file, ".txt")) return DC_FORMAT_ENVI_ROI; /* the DFC 2013 samples' ROI exports */
  return DC_FORMAT_GDAL; /* .tif, .tiff, ENVI .hdr/.img/.dat and whatever else GDAL opens */
}
