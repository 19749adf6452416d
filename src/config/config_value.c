/* Configuration values: storing a value into its field with the schema's range, choice and
 * path rules; reading values in the --set syntax (also the syntax of the schema's
 * defaults); defaults, overrides, and "did you mean" suggestions. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "diffclip/core/suggest.h"

static void *field(struct dc_config *cfg, const struct dc_config_key *k) { return (char *)cfg + k->offset; }

void dc_config_mark(struct dc_config_origins *o, const struct dc_config_key *k, const char *where) {
  if (!o) return;
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  snprintf(o->where[k - s], sizeof o->where[0], "%s", where);
}

/* ---- what a key accepts, and what is close to an unknown name ---- */

static void range_text(const struct dc_config_key *k, const char *noun, char *buf, size_t cap) {
  if (k->max >= (double)INT_MAX)
    snprintf(buf, cap, "%s >= %.15g", noun, k->min);
  else
    snprintf(buf, cap, "%s in [%.15g, %.15g]", noun, k->min, k->max);
}

void dc_config_expected(const struct dc_config_key *k, char *buf, size_t cap) {
  char r[160];
  switch (k->type) {
    case DC_CONFIG_INT: range_text(k, "an int", buf, cap); return;
    case DC_CONFIG_DOUBLE: range_text(k, "a float", buf, cap); return;
    case DC_CONFIG_BOOL: snprintf(buf, cap, "true or false"); return;
    case DC_CONFIG_STRING: snprintf(buf, cap, "a string"); return;
    case DC_CONFIG_PATH: snprintf(buf, cap, "a path (a string)"); return;
    case DC_CONFIG_ENUM: {
      size_t used = (size_t)snprintf(buf, cap, "one of ");
      for (int i = 0; k->choices[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\"", i ? ", " : "", k->choices[i]);
      return;
    }
    case DC_CONFIG_INT_LIST:
      range_text(k, "ints", r, sizeof r);
      snprintf(buf, cap, "a list of at most %d %s", DC_CONFIG_LIST, r);
      return;
    case DC_CONFIG_STRING_LIST: snprintf(buf, cap, "a list of at most %d strings", DC_CONFIG_LIST); return;
    case DC_CONFIG_PATH_LIST: snprintf(buf, cap, "a list of at most %d paths", DC_CONFIG_LIST); return;
  }
  snprintf(buf, cap, "?");
}

static const char *leaf(const char *key) {
  const char *dot = strrchr(key, '.');
  return dot ? dot + 1 : key;
}

/* Candidates are the keys and their group names ("pretrain"). */
static const char *nearest(const char *key, int *dist) {
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  static _Thread_local char group[64];
  const char *best = NULL;
  int bd = INT_MAX;
  for (int i = 0; i < n; i++) {
    int d = dc_edit_distance(key, s[i].key);
    if (d < bd) bd = d, best = s[i].key;
    size_t g = (size_t)(strchr(s[i].key, '.') - s[i].key);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)g, s[i].key);
    d = dc_edit_distance(key, name);
    if (d < bd) {
      bd = d;
      snprintf(group, sizeof group, "%s", name);
      best = group;
    }
  }
  *dist = bd;
  return best;
}


const char *dc_config_suggest(const char *key) {
  int d;
  const char *best = nearest(key, &d);
  if (best && dc_close_enough(key, d)) return best;
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  for (int i = 0; i < n; i++)
    if (strcmp(leaf(s[i].key), leaf(key)) == 0) return s[i].key;
  return NULL;
}

void dc_config_did_you_mean(const char *key, char *buf, size_t cap) {
  buf[0] = '\0';
  int d;
  const char *best = nearest(key, &d);
  if (best && dc_close_enough(key, d)) {
    snprintf(buf, cap, " (did you mean '%s'?)", best);
    return;
  }
  /* the right name in the wrong group: offer every key with that last part */
  int n, found = 0;
  size_t used = 0;
  const struct dc_config_key *s = dc_config_schema(&n);
  for (int i = 0; i < n && used < cap; i++) {
    if (strcmp(leaf(s[i].key), leaf(key)) != 0) continue;
    used += (size_t)snprintf(buf + used, cap - used, "%s'%s'", found ? " or " : " (did you mean ", s[i].key);
    found++;
  }
  if (found && used < cap) snprintf(buf + used, cap - used, "?)");
}

/* ---- paths ---- */

enum dc_status dc_config_path_join(const char *base, const char *rel, char *out, size_t cap) {
  char tmp[2 * DC_CONFIG_STR + 2];
  int n = rel[0] == '/' ? snprintf(tmp, sizeof tmp, "%s", rel) : snprintf(tmp, sizeof tmp, "%s/%s", base, rel);
  if (n < 0 || (size_t)n >= sizeof tmp) return DC_ERROR(DC_ERR_ARG, "path '%s' joined to '%s' is too long", rel, base);
  size_t len = 0;
  char *save = NULL;
  for (char *seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    if (strcmp(seg, ".") == 0) continue;
    if (strcmp(seg, "..") == 0) {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--; /* the slash before the dropped segment */
      continue;
    }
    size_t sl = strlen(seg);
    if (len + 1 + sl + 1 > cap)
      return DC_ERROR(DC_ERR_ARG, "path '%s' is longer than %zu characters", rel, cap - 1);
    out[len++] = '/';
    memcpy(out + len, seg, sl);
    len += sl;
  }
  if (len == 0) out[len++] = '/';
  out[len] = '\0';
  return DC_OK;
}

enum dc_status dc_config_cwd(char *out, size_t cap) {
  char buf[DC_CONFIG_STR];
  if (!getcwd(buf, sizeof buf)) return DC_ERROR(DC_ERR_IO, "cannot read the working directory: %s", strerror(errno));
  return dc_config_path_join("/", buf, out, cap);
}

/* ---- storing values ---- */

static enum dc_status out_of_range(const struct dc_config_key *k, const char *value, const char *where) {
  char e[256];
  dc_config_expected(k, e, sizeof e);
  return DC_ERROR(DC_ERR_ARG, "%s: %s = %s is out of range: expected %s", where, k->key, value, e);
}

static int int_ok(const struct dc_config_key *k, long long v) { return v >= k->min && v <= k->max; }

enum dc_status dc_config_put_int(struct dc_config *cfg, const struct dc_config_key *k, long long v, const char *where) {
  char t[32];
  snprintf(t, sizeof t, "%lld", v);
  if (!int_ok(k, v)) return out_of_range(k, t, where);
  *(int *)field(cfg, k) = (int)v;
  return DC_OK;
}

enum dc_status dc_config_put_double(struct dc_config *cfg, const struct dc_config_key *k, double v,
                                    const char *where) {
  char t[32];
  snprintf(t, sizeof t, "%.17g", v);
  if (!isfinite(v) || v < k->min || v > k->max) return out_of_range(k, t, where);
  *(double *)field(cfg, k) = v;
  return DC_OK;
}

enum dc_status dc_config_put_bool(struct dc_config *cfg, const struct dc_config_key *k, int v, const char *where) {
  (void)where;
  *(bool *)field(cfg, k) = v != 0;
  return DC_OK;
}

/* A string as stored: printable, short enough, and for paths absolute and normalised. */
static enum dc_status string_value(const struct dc_config_key *k, const char *s, const char *base_dir,
                                   const char *where, char out[DC_CONFIG_STR]) {
  for (const char *c = s; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return DC_ERROR(DC_ERR_ARG, "%s: %s: the value contains a control character (code %d)", where, k->key, *c);
  if (strlen(s) >= DC_CONFIG_STR)
    return DC_ERROR(DC_ERR_ARG, "%s: %s: the value is longer than %d characters", where, k->key, DC_CONFIG_STR - 1);
  if ((k->type == DC_CONFIG_PATH || k->type == DC_CONFIG_PATH_LIST) && s[0] != '\0') {
    char cwd[DC_CONFIG_STR];
    if (!base_dir) {
      DC_TRY(dc_config_cwd(cwd, sizeof cwd));
      base_dir = cwd;
    }
    if (dc_config_path_join(base_dir, s, out, DC_CONFIG_STR) != DC_OK)
      return DC_ERROR(DC_ERR_ARG, "%s: %s: path '%s' does not fit %d characters once made absolute", where, k->key,
                      s, DC_CONFIG_STR - 1);
    return DC_OK;
  }
  memcpy(out, s, strlen(s) + 1);
  return DC_OK;
}

enum dc_status dc_config_put_string(struct dc_config *cfg, const struct dc_config_key *k, const char *s,
                                    const char *base_dir, const char *where) {
  if (k->type == DC_CONFIG_ENUM) {
    int best = -1, bd = INT_MAX;
    for (int i = 0; k->choices[i]; i++) {
      if (strcmp(k->choices[i], s) == 0) {
        *(int *)field(cfg, k) = i;
        return DC_OK;
      }
      int d = dc_edit_distance(s, k->choices[i]);
      if (d < bd) bd = d, best = i;
    }
    char e[256], hint[96] = "";
    dc_config_expected(k, e, sizeof e);
    if (best >= 0 && dc_close_enough(s, bd)) snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", k->choices[best]);
    return DC_ERROR(DC_ERR_ARG, "%s: %s = \"%s\" is not a valid choice: expected %s%s", where, k->key, s, e, hint);
  }
  char v[DC_CONFIG_STR];
  DC_TRY(string_value(k, s, base_dir, where, v));
  memcpy(field(cfg, k), v, strlen(v) + 1);
  return DC_OK;
}

enum dc_status dc_config_put_ints(struct dc_config *cfg, const struct dc_config_key *k, const long long *v, int n,
                                  const char *where) {
  char e[256];
  dc_config_expected(k, e, sizeof e);
  if (n > DC_CONFIG_LIST)
    return DC_ERROR(DC_ERR_ARG, "%s: %s has %d elements: expected %s", where, k->key, n, e);
  struct dc_config_ints list = {.n = n};
  for (int i = 0; i < n; i++) {
    if (!int_ok(k, v[i]))
      return DC_ERROR(DC_ERR_ARG, "%s: %s element %d = %lld is out of range: expected %s", where, k->key, i + 1, v[i],
                      e);
    list.v[i] = (int)v[i];
  }
  *(struct dc_config_ints *)field(cfg, k) = list;
  return DC_OK;
}

enum dc_status dc_config_put_strings(struct dc_config *cfg, const struct dc_config_key *k, const char *const *v,
                                     int n, const char *base_dir, const char *where) {
  if (n > DC_CONFIG_LIST) {
    char e[256];
    dc_config_expected(k, e, sizeof e);
    return DC_ERROR(DC_ERR_ARG, "%s: %s has %d elements: expected %s", where, k->key, n, e);
  }
  struct dc_config_strs *list = field(cfg, k);
  struct dc_config_strs *tmp = calloc(1, sizeof *tmp);
  DC_CHECK_ALLOC(tmp);
  tmp->n = n;
  for (int i = 0; i < n; i++) {
    enum dc_status st = string_value(k, v[i], base_dir, where, tmp->v[i]);
    if (st != DC_OK) {
      free(tmp);
      return st;
    }
  }
  *list = *tmp;
  free(tmp);
  return DC_OK;
}

/* ---- the --set syntax ---- */

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

/* Drops one pair of surrounding double quotes and undoes \" and \\ inside them. */
static char *unquote(char *s) {
  size_t n = strlen(s);
  if (n < 2 || s[0] != '"' || s[n - 1] != '"') return s;
  s[n - 1] = '\0';
  char *r = s + 1, *w = s + 1;
  for (; *r; r++) *w++ = (*r == '\\' && (r[1] == '"' || r[1] == '\\')) ? *++r : *r;
  *w = '\0';
  return s + 1;
}

/* Splits a list text (optionally in [] or ()) at commas outside quotes, in place. */
static int split_list(char *text, char **items, int cap) {
  char *s = trim(text);
  size_t n = strlen(s);
  if (n >= 2 && ((s[0] == '[' && s[n - 1] == ']') || (s[0] == '(' && s[n - 1] == ')'))) {
    s[n - 1] = '\0';
    s = trim(s + 1);
  }
  if (*s == '\0') return 0;
  int count = 0, quoted = 0;
  char *start = s;
  for (char *c = s;; c++) {
    if (*c == '"' && (c == s || c[-1] != '\\')) quoted = !quoted;
    if ((*c == ',' && !quoted) || *c == '\0') {
      int end = *c == '\0';
      *c = '\0';
      if (count < cap) items[count] = trim(start);
      count++;
      if (end) break;
      start = c + 1;
    }
  }
  return count;
}

static int parse_ll(const char *s, long long *v) {
  char *end;
  errno = 0;
  *v = strtoll(s, &end, 10);
  return *s != '\0' && *end == '\0' && errno == 0;
}

static enum dc_status bad_text(const struct dc_config_key *k, const char *text, const char *where) {
  char e[256];
  dc_config_expected(k, e, sizeof e);
  return DC_ERROR(DC_ERR_ARG, "%s: %s: expected %s, got '%s'", where, k->key, e, text);
}

static enum dc_status put_text_in_place(struct dc_config *cfg, const struct dc_config_key *k, char *text,
                                        const char *base_dir, const char *where) {
  char *s = trim(text);
  switch (k->type) {
    case DC_CONFIG_INT: {
      long long v;
      if (!parse_ll(s, &v)) return bad_text(k, s, where);
      return dc_config_put_int(cfg, k, v, where);
    }
    case DC_CONFIG_DOUBLE: {
      char *end;
      double v = strtod(s, &end);
      if (*s == '\0' || *end != '\0' || !isfinite(v)) return bad_text(k, s, where);
      return dc_config_put_double(cfg, k, v, where);
    }
    case DC_CONFIG_BOOL: {
      static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
      for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return dc_config_put_bool(cfg, k, 1, where);
        if (strcasecmp(s, no[i]) == 0) return dc_config_put_bool(cfg, k, 0, where);
      }
      return bad_text(k, s, where);
    }
    case DC_CONFIG_STRING:
    case DC_CONFIG_PATH:
    case DC_CONFIG_ENUM: return dc_config_put_string(cfg, k, unquote(s), base_dir, where);
    case DC_CONFIG_INT_LIST: {
      char *items[DC_CONFIG_LIST];
      long long v[DC_CONFIG_LIST] = {0};
      int n = split_list(s, items, DC_CONFIG_LIST);
      if (n > DC_CONFIG_LIST) return dc_config_put_ints(cfg, k, v, n, where); /* reports the length */
      for (int i = 0; i < n; i++)
        if (!parse_ll(items[i], &v[i])) return bad_text(k, items[i], where);
      return dc_config_put_ints(cfg, k, v, n, where);
    }
    case DC_CONFIG_STRING_LIST:
    case DC_CONFIG_PATH_LIST: {
      char *items[DC_CONFIG_LIST];
      int n = split_list(s, items, DC_CONFIG_LIST);
      for (int i = 0; i < n && i < DC_CONFIG_LIST; i++) items[i] = unquote(items[i]);
      return dc_config_put_strings(cfg, k, (const char *const *)items, n, base_dir, where);
    }
  }
  return DC_ERROR(DC_ERR_INTERNAL, "%s: unknown type %d", k->key, (int)k->type);
}

enum dc_status dc_config_put_text(struct dc_config *cfg, const struct dc_config_key *k, const char *text,
                                  const char *base_dir, const char *where) {
  char *copy = strdup(text);
  DC_CHECK_ALLOC(copy);
  enum dc_status st = put_text_in_place(cfg, k, copy, base_dir, where);
  free(copy);
  return st;
}

enum dc_status dc_config_defaults(struct dc_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  for (int i = 0; i < n; i++)
    if (dc_config_put_text(cfg, &s[i], s[i].def, NULL, "default") != DC_OK)
      return DC_ERROR(DC_ERR_INTERNAL, "the schema's default of %s ('%s') is invalid", s[i].key, s[i].def);
  return DC_OK;
}

enum dc_status dc_config_apply_set(struct dc_config *cfg, const char *assignment, struct dc_config_origins *origins) {
  char where[DC_CONFIG_STR + 16];
  snprintf(where, sizeof where, "--set %s", assignment);
  const char *eq = strchr(assignment, '=');
  if (!eq) return DC_ERROR(DC_ERR_ARG, "%s: expected key=value", where);
  char key[128];
  int kn = (int)(eq - assignment);
  if (kn >= (int)sizeof key) return DC_ERROR(DC_ERR_ARG, "%s: the key is too long", where);
  snprintf(key, sizeof key, "%.*s", kn, assignment);
  char *kt = trim(key);
  const struct dc_config_key *k = dc_config_find(kt);
  if (!k) {
    char hint[160];
    dc_config_did_you_mean(kt, hint, sizeof hint);
    return DC_ERROR(DC_ERR_ARG, "%s: unknown key '%s'%s", where, kt, hint);
  }
  DC_TRY(dc_config_put_text(cfg, k, eq + 1, NULL, where));
  dc_config_mark(origins, k, "--set");
  return DC_OK;
}
