/* Configuration files: libconfig syntax, our own @include.
 *
 * Debian 12 ships libconfig 1.5, whose @include resolves against one global include
 * directory (config_set_include_dir), not against the including file, and which refuses a
 * setting defined twice, so an included base could never be overridden. We therefore
 * resolve includes ourselves:
 *
 *  1. A small scanner finds each `@include "path"` directive at the start of a line, outside
 *     strings and comments. One inside a group is an error (includes live at top level).
 *  2. The directives cut the file into segments. Each segment is parsed by libconfig on its
 *     own, from a copy of the whole text in which everything outside the segment is blanked
 *     to spaces (newlines kept), so libconfig's line numbers are the file's line numbers.
 *  3. Segments and includes are applied in file order: segment 0, include 1, segment 1, ...
 *     A later setting overrides an earlier one, whichever file it came from.
 *  4. An included path is relative to the directory of the file that includes it (found
 *     through realpath, so symlinked folders behave); cycles and depth > 16 are errors.
 *
 * Each setting is checked against the schema (dc_config_put_*), and its origin
 * "FILE:LINE" is recorded. FILE in messages is the path as the user named it, with each
 * include joined to its parent's folder. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

#define MAX_DEPTH 16
#define MAX_BYTES (4 << 20)

struct include {
  size_t start, end; /* the directive's bytes */
  int line;
  char path[DC_CONFIG_STR];
};

struct file_ctx {
  const char *shown;                 /* the path for messages */
  char real[PATH_MAX];               /* absolute path of the file */
  char dir[DC_CONFIG_STR];           /* absolute folder of the file: the base of its paths */
  struct dc_config_origins *origins;
  int depth;
  const char *stack[MAX_DEPTH + 1]; /* real paths of the files including this one */
};

static enum dc_status read_text(const char *shown, const char *real, char **out, size_t *len) {
  FILE *f = fopen(real, "rb");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot open configuration file: %s", shown, strerror(errno));
  char *buf = malloc(MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return DC_ERROR(DC_ERR_NOMEM, "%s: no memory to read it", shown);
  }
  size_t n = fread(buf, 1, MAX_BYTES + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || n > MAX_BYTES) {
    free(buf);
    return DC_ERROR(DC_ERR_IO, "%s: %s", shown, bad ? "read error" : "larger than 4 MiB: not a configuration file");
  }
  if (memchr(buf, '\0', n)) {
    free(buf);
    return DC_ERROR(DC_ERR_IO, "%s: contains a NUL byte: not a configuration file", shown);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return DC_OK;
}

/* libconfig 1.5 reads a decimal integer with atoi, so 10000000000 silently becomes
 * 1410065408. Every integer key is 32-bit: refuse such literals here, with their line. On
 * return *at is the number's last character. */
static enum dc_status check_number(const char *shown, int line, const char *t, size_t *at) {
  size_t i = *at, j = i;
  if (t[j] == '0' && (t[j + 1] == 'x' || t[j + 1] == 'X')) {
    for (j += 2; isxdigit((unsigned char)t[j]) || t[j] == 'L'; j++) continue;
  } else {
    while (isdigit((unsigned char)t[j])) j++;
    size_t digits = j - i;
    if (t[j] == '.' || t[j] == 'e' || t[j] == 'E') { /* a float */
      for (;; j++) {
        int exp_sign = (t[j] == '+' || t[j] == '-') && (t[j - 1] == 'e' || t[j - 1] == 'E');
        if (!isdigit((unsigned char)t[j]) && t[j] != '.' && t[j] != 'e' && t[j] != 'E' && !exp_sign) break;
      }
    } else if (t[j] != 'L') {
      while (digits > 1 && t[i] == '0') i++, digits--;
      if (digits > 10 || (digits == 10 && strncmp(t + i, "2147483647", 10) > 0))
        return DC_ERROR(DC_ERR_ARG, "%s:%d: the integer %.*s does not fit 32 bits (for a float write it with a "
                        "decimal point or exponent)", shown, line, (int)digits, t + i);
    }
  }
  *at = j - 1;
  return DC_OK;
}

/* Finds the top-level @include directives (at most `cap`). */
static enum dc_status scan_includes(const char *shown, const char *t, struct include *inc, int cap, int *n_inc) {
  enum { CODE, STRING, LINE_COMMENT, BLOCK_COMMENT } state = CODE;
  int depth = 0, line = 1, at_line_start = 1;
  *n_inc = 0;
  for (size_t i = 0; t[i]; i++) {
    char c = t[i];
    if (c == '\n') {
      line++;
      at_line_start = 1;
      if (state == LINE_COMMENT) state = CODE;
      continue;
    }
    switch (state) {
      case STRING:
        if (c == '\\' && t[i + 1]) i++;
        else if (c == '"') state = CODE;
        continue;
      case LINE_COMMENT: continue;
      case BLOCK_COMMENT:
        if (c == '*' && t[i + 1] == '/') state = CODE, i++;
        continue;
      case CODE: break;
    }
    if (c == ' ' || c == '\t' || c == '\r') continue;
    int line_start = at_line_start;
    at_line_start = 0;
    if (isalpha((unsigned char)c) || c == '*' || c == '_') { /* a name, true, false: skip it whole */
      while (isalnum((unsigned char)t[i + 1]) || t[i + 1] == '_' || t[i + 1] == '-' || t[i + 1] == '*') i++;
      continue;
    }
    if (isdigit((unsigned char)c)) {
      DC_TRY(check_number(shown, line, t, &i));
      continue;
    }
    if (c == '"') state = STRING;
    else if (c == '#' || (c == '/' && t[i + 1] == '/')) state = LINE_COMMENT;
    else if (c == '/' && t[i + 1] == '*') state = BLOCK_COMMENT, i++;
    else if (c == '{' || c == '(' || c == '[') depth++;
    else if (c == '}' || c == ')' || c == ']') depth--;
    else if (c == '@' && line_start && strncmp(t + i, "@include", 8) == 0) {
      if (depth > 0)
        return DC_ERROR(DC_ERR_ARG, "%s:%d: @include inside a group is not supported: put it at the top level", shown,
                        line);
      size_t j = i + 8;
      while (t[j] == ' ' || t[j] == '\t') j++;
      if (t[j] != '"') return DC_ERROR(DC_ERR_ARG, "%s:%d: @include expects a quoted path", shown, line);
      struct include one = {.start = i, .line = line};
      size_t len = 0;
      for (j++; t[j] && t[j] != '"' && t[j] != '\n'; j++) {
        if (t[j] == '\\' && (t[j + 1] == '"' || t[j + 1] == '\\')) j++;
        if (len + 1 >= sizeof one.path)
          return DC_ERROR(DC_ERR_ARG, "%s:%d: @include path is too long", shown, line);
        one.path[len++] = t[j];
      }
      if (t[j] != '"') return DC_ERROR(DC_ERR_ARG, "%s:%d: @include path has no closing quote", shown, line);
      one.path[len] = '\0';
      one.end = j + 1;
      if (len == 0) return DC_ERROR(DC_ERR_ARG, "%s:%d: @include path is empty", shown, line);
      if (*n_inc >= cap) return DC_ERROR(DC_ERR_ARG, "%s:%d: more than %d @include directives", shown, line, cap);
      inc[(*n_inc)++] = one;
      i = j;
    }
  }
  return DC_OK;
}

/* `rel` joined to the folder of `shown`, keeping a relative path relative (for messages). */
static void shown_join(const char *shown, const char *rel, char *out, size_t cap) {
  if (rel[0] == '/') {
    snprintf(out, cap, "%s", rel);
    return;
  }
  const char *slash = strrchr(shown, '/');
  char tmp[2 * DC_CONFIG_STR];
  snprintf(tmp, sizeof tmp, "%.*s%s", slash ? (int)(slash - shown + 1) : 0, shown, rel);
  /* drop "." segments and fold "dir/.." pairs */
  char *seg[256];
  int n = 0, absolute = tmp[0] == '/';
  char *save = NULL;
  for (char *s = strtok_r(tmp, "/", &save); s && n < 256; s = strtok_r(NULL, "/", &save)) {
    if (strcmp(s, ".") == 0) continue;
    if (strcmp(s, "..") == 0 && n > 0 && strcmp(seg[n - 1], "..") != 0) {
      n--;
      continue;
    }
    if (strcmp(s, "..") == 0 && absolute) continue;
    seg[n++] = s;
  }
  size_t used = (size_t)snprintf(out, cap, "%s", absolute ? "/" : "");
  for (int i = 0; i < n && used < cap; i++) used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "/" : "", seg[i]);
  if (n == 0 && !absolute) snprintf(out, cap, ".");
}

static const char *setting_kind(const config_setting_t *s) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an int";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a bool";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
  }
  return "nothing";
}

static enum dc_status wrong_type(const struct dc_config_key *k, const char *got, const char *where) {
  char e[256];
  dc_config_expected(k, e, sizeof e);
  return DC_ERROR(DC_ERR_ARG, "%s: %s: expected %s, got %s", where, k->key, e, got);
}

static int is_int(const config_setting_t *s) {
  return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

static enum dc_status apply_setting(struct dc_config *cfg, const struct dc_config_key *k, const config_setting_t *s,
                                    const struct file_ctx *f, const char *where) {
  int type = config_setting_type(s);
  switch (k->type) {
    case DC_CONFIG_INT:
      if (!is_int(s)) return wrong_type(k, setting_kind(s), where);
      return dc_config_put_int(cfg, k, config_setting_get_int64(s), where);
    case DC_CONFIG_DOUBLE:
      if (type == CONFIG_TYPE_FLOAT) return dc_config_put_double(cfg, k, config_setting_get_float(s), where);
      if (!is_int(s)) return wrong_type(k, setting_kind(s), where);
      return dc_config_put_double(cfg, k, (double)config_setting_get_int64(s), where);
    case DC_CONFIG_BOOL:
      if (type != CONFIG_TYPE_BOOL) return wrong_type(k, setting_kind(s), where);
      return dc_config_put_bool(cfg, k, config_setting_get_bool(s), where);
    case DC_CONFIG_STRING:
    case DC_CONFIG_PATH:
    case DC_CONFIG_ENUM:
      if (type != CONFIG_TYPE_STRING) return wrong_type(k, setting_kind(s), where);
      return dc_config_put_string(cfg, k, config_setting_get_string(s), f->dir, where);
    case DC_CONFIG_INT_LIST:
    case DC_CONFIG_STRING_LIST:
    case DC_CONFIG_PATH_LIST: break;
  }
  if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) return wrong_type(k, setting_kind(s), where);
  int n = config_setting_length(s);
  if (n > DC_CONFIG_LIST) {
    char e[256];
    dc_config_expected(k, e, sizeof e);
    return DC_ERROR(DC_ERR_ARG, "%s: %s has %d elements: expected %s", where, k->key, n, e);
  }
  long long iv[DC_CONFIG_LIST];
  const char *sv[DC_CONFIG_LIST];
  for (int i = 0; i < n; i++) {
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    int want_int = k->type == DC_CONFIG_INT_LIST;
    if (want_int ? !is_int(e) : config_setting_type(e) != CONFIG_TYPE_STRING) {
      char got[64];
      snprintf(got, sizeof got, "%s as element %d", setting_kind(e), i + 1);
      return wrong_type(k, got, where);
    }
    if (want_int) iv[i] = config_setting_get_int64(e);
    else sv[i] = config_setting_get_string(e);
  }
  if (k->type == DC_CONFIG_INT_LIST) return dc_config_put_ints(cfg, k, iv, n, where);
  return dc_config_put_strings(cfg, k, sv, n, f->dir, where);
}

/* Whether `prefix` names a group of schema keys ("pretrain" for "pretrain.lr"). */
static int is_group(const char *prefix) {
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  size_t len = strlen(prefix);
  for (int i = 0; i < n; i++)
    if (strncmp(s[i].key, prefix, len) == 0 && s[i].key[len] == '.') return 1;
  return 0;
}

static enum dc_status walk(struct dc_config *cfg, const config_setting_t *group, const char *prefix,
                           const struct file_ctx *f) {
  int n = config_setting_length(group);
  enum dc_status first = DC_OK; /* report every bad setting, return the first status */
  for (int i = 0; i < n; i++) {
    enum dc_status st = DC_OK;
    const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
    char key[256], where[DC_CONFIG_STR + 32];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", config_setting_name(s));
    snprintf(where, sizeof where, "%s:%u", f->shown, config_setting_source_line(s));
    const struct dc_config_key *k = dc_config_find(key);
    if (k && config_setting_is_group(s)) {
      st = wrong_type(k, "a group", where);
    } else if (k) {
      st = apply_setting(cfg, k, s, f, where);
      if (st == DC_OK) dc_config_mark(f->origins, k, where);
    } else if (is_group(key)) {
      st = config_setting_is_group(s) ? walk(cfg, s, key, f)
                                      : DC_ERROR(DC_ERR_ARG, "%s: '%s' is a group of keys: expected { ... }, got %s",
                                                 where, key, setting_kind(s));
    } else {
      char hint[160];
      dc_config_did_you_mean(key, hint, sizeof hint);
      st = DC_ERROR(DC_ERR_ARG, "%s: unknown key '%s'%s", where, key, hint);
    }
    if (first == DC_OK) first = st;
  }
  return first;
}

/* Parses bytes [from, to) of `text` (the rest blanked) and applies them. */
static enum dc_status apply_segment(struct dc_config *cfg, const char *text, size_t len, size_t from, size_t to,
                                    const struct file_ctx *f, char *scratch) {
  int any = 0;
  for (size_t i = 0; i < len; i++) {
    int inside = i >= from && i < to;
    scratch[i] = inside || text[i] == '\n' ? text[i] : ' ';
    if (inside && text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r') any = 1;
  }
  scratch[len] = '\0';
  if (!any) return DC_OK;
  config_t c;
  config_init(&c);
  enum dc_status st = DC_OK;
  if (config_read_string(&c, scratch) != CONFIG_TRUE)
    st = DC_ERROR(DC_ERR_ARG, "%s:%d: syntax error: %s", f->shown, config_error_line(&c), config_error_text(&c));
  else
    st = walk(cfg, config_root_setting(&c), "", f);
  config_destroy(&c);
  return st;
}

static enum dc_status apply_file(struct dc_config *cfg, struct file_ctx *f);

static enum dc_status apply_include(struct dc_config *cfg, const struct file_ctx *parent, const struct include *inc) {
  struct file_ctx *f = calloc(1, sizeof *f);
  DC_CHECK_ALLOC(f);
  char shown[2 * DC_CONFIG_STR], abs[DC_CONFIG_STR];
  enum dc_status st = DC_OK;
  shown_join(parent->shown, inc->path, shown, sizeof shown);
  if (dc_config_path_join(parent->dir, inc->path, abs, sizeof abs) != DC_OK)
    st = DC_ERROR(DC_ERR_ARG, "%s:%d: @include \"%s\": path too long", parent->shown, inc->line, inc->path);
  else if (!realpath(abs, f->real))
    st = DC_ERROR(DC_ERR_IO, "%s:%d: @include \"%s\": cannot open %s: %s", parent->shown, inc->line, inc->path, shown,
                  strerror(errno));
  else if (parent->depth >= MAX_DEPTH)
    st = DC_ERROR(DC_ERR_ARG, "%s:%d: @include nested deeper than %d files", parent->shown, inc->line, MAX_DEPTH);
  for (int i = 0; st == DC_OK && i <= parent->depth; i++)
    if (strcmp(parent->stack[i], f->real) == 0)
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: @include \"%s\" forms a cycle (%s includes itself)", parent->shown, inc->line,
                    inc->path, shown);
  if (st == DC_OK) {
    f->shown = shown;
    f->origins = parent->origins;
    f->depth = parent->depth + 1;
    memcpy(f->stack, parent->stack, sizeof f->stack);
    f->stack[f->depth] = f->real;
    st = apply_file(cfg, f);
  }
  free(f);
  return st;
}

/* f->shown, f->real, depth, stack and origins are set. */
static enum dc_status apply_file(struct dc_config *cfg, struct file_ctx *f) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", f->real);
  char *slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  if (strlen(dir) >= sizeof f->dir)
    return DC_ERROR(DC_ERR_ARG, "%s: its folder's path is longer than %d characters", f->shown, DC_CONFIG_STR - 1);
  snprintf(f->dir, sizeof f->dir, "%s", dir);

  char *text = NULL;
  size_t len = 0;
  DC_TRY(read_text(f->shown, f->real, &text, &len));
  enum { MAX_INCLUDES = 64 };
  struct include *inc = malloc(MAX_INCLUDES * sizeof *inc);
  char *scratch = malloc(len + 1);
  enum dc_status st = inc && scratch ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "%s: no memory to parse it", f->shown);
  int n_inc = 0;
  if (st == DC_OK) st = scan_includes(f->shown, text, inc, MAX_INCLUDES, &n_inc);
  /* after a bad setting, go on through the file so that one run reports every error */
  size_t from = 0;
  for (int i = 0; st == DC_OK && i <= n_inc; i++) {
    size_t to = i < n_inc ? inc[i].start : len;
    enum dc_status seg = apply_segment(cfg, text, len, from, to, f, scratch);
    enum dc_status sub = i < n_inc ? apply_include(cfg, f, &inc[i]) : DC_OK;
    if (i < n_inc) from = inc[i].end;
    if (seg != DC_OK) st = seg;
    else if (sub != DC_OK) st = sub;
    if (st != DC_OK) {
      for (int j = i + 1; j <= n_inc; j++) { /* the rest, for their messages only */
        apply_segment(cfg, text, len, from, j < n_inc ? inc[j].start : len, f, scratch);
        if (j < n_inc) apply_include(cfg, f, &inc[j]);
        if (j < n_inc) from = inc[j].end;
      }
    }
  }
  free(scratch);
  free(inc);
  free(text);
  return st;
}

enum dc_status dc_config_apply_file(struct dc_config *cfg, const char *file, struct dc_config_origins *origins) {
  struct file_ctx *f = calloc(1, sizeof *f);
  DC_CHECK_ALLOC(f);
  enum dc_status st = DC_OK;
  if (!realpath(file, f->real)) {
    st = DC_ERROR(DC_ERR_IO, "%s: cannot open configuration file: %s", file, strerror(errno));
  } else {
    f->shown = file;
    f->origins = origins;
    f->stack[0] = f->real;
    st = apply_file(cfg, f);
  }
  free(f);
  return st;
}

enum dc_status dc_config_apply_text(struct dc_config *cfg, const char *text, const char *shown,
                                    struct dc_config_origins *origins) {
  struct file_ctx *f = calloc(1, sizeof *f);
  size_t len = strlen(text);
  char *scratch = malloc(len + 1);
  enum dc_status st = f && scratch ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "%s: no memory to parse it", shown);
  if (st == DC_OK && strstr(text, "@include"))
    st = DC_ERROR(DC_ERR_ARG, "%s: a configuration text holds no @include (only a file does)", shown);
  if (st == DC_OK) {
    f->shown = shown;
    f->origins = origins;
    if (!getcwd(f->dir, sizeof f->dir)) f->dir[0] = '\0';
    st = apply_segment(cfg, text, len, 0, len, f, scratch);
  }
  free(scratch);
  free(f);
  return st;
}
