/* The configuration: loading in precedence order, the rules that join several keys, and
 * the canonical resolved text (every key, schema order, shortest round-trip numbers), which
 * is what the run folder keeps and what the configuration hash is taken of. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

static const void *cfield(const struct dc_config *cfg, const struct dc_config_key *k) {
  return (const char *)cfg + k->offset;
}

enum dc_status dc_config_load(struct dc_config *cfg, const char *file, const char *const *sets, int n_sets,
                              struct dc_config_origins *origins) {
  DC_TRY(dc_config_defaults(cfg));
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  for (int i = 0; i < n; i++) dc_config_mark(origins, &s[i], "default");
  /* every bad setting is reported before giving up; the joint rules only on good values */
  enum dc_status st = file ? dc_config_apply_file(cfg, file, origins) : DC_OK;
  for (int i = 0; i < n_sets; i++) {
    enum dc_status one = dc_config_apply_set(cfg, sets[i], origins);
    if (st == DC_OK) st = one;
  }
  return st != DC_OK ? st : dc_config_check(cfg, origins);
}

/* ---- rules across keys ---- */

/* "KEY = VALUE (ORIGIN)" for messages. */
static const char *said(const struct dc_config *cfg, const struct dc_config_origins *o, const char *key, char *buf,
                        size_t cap) {
  const struct dc_config_key *k = dc_config_find(key);
  char v[DC_CONFIG_STR];
  dc_config_value_text(cfg, k, v, sizeof v);
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  if (o)
    snprintf(buf, cap, "%s = %s (%s)", key, v, o->where[k - s]);
  else
    snprintf(buf, cap, "%s = %s", key, v);
  return buf;
}

/* The rules below, in words, for the reference; keep the two in step. */
const char *const dc_config_rules[] = {
    "`model.window` is odd.",
    "`model.heads` divides `model.embed_dim`, `model.decoder_heads` divides `model.decoder_dim`, "
    "`model.text_heads` divides `model.text_width`.",
    "`model.embed_dim` and `model.decoder_dim` are multiples of 4 (2-D sin-cos positions).",
    "`model.mask_ratio` keeps at least one of the `model.window`^2 tokens.",
    "`finetune.milestones` increase strictly.",
    "`finetune.template`, when set, holds exactly one `{}`.",
    "`finetune.tokenizer = \"clip_bpe\"` needs `finetune.merges`.",
    "`pretrain.resume` is not empty; `run.name` is a folder name (no `/`); `run.out_dir` and `bench.out_dir` are "
    "not empty.",
    NULL};

enum dc_status dc_config_check(const struct dc_config *c, const struct dc_config_origins *o) {
  char a[DC_CONFIG_STR + 64], b[DC_CONFIG_STR + 64];
#define SAID(key, buf) said(c, o, key, buf, sizeof buf)
#define DIVIDES(small, big, what_small, what_big)                                                            \
  if (c->model.big % c->model.small != 0)                                                                   \
    return DC_ERROR(DC_ERR_ARG, "%s must divide %s", SAID("model." what_small, a), SAID("model." what_big, b));
  if (c->model.window % 2 == 0) return DC_ERROR(DC_ERR_ARG, "%s: expected an odd window", SAID("model.window", a));
  DIVIDES(heads, embed_dim, "heads", "embed_dim")
  DIVIDES(decoder_heads, decoder_dim, "decoder_heads", "decoder_dim")
  DIVIDES(text_heads, text_width, "text_heads", "text_width")
#undef DIVIDES
  if (c->model.embed_dim % 4 != 0)
    return DC_ERROR(DC_ERR_ARG, "%s: expected a multiple of 4 (2-D sin-cos positions)", SAID("model.embed_dim", a));
  if (c->model.decoder_dim % 4 != 0)
    return DC_ERROR(DC_ERR_ARG, "%s: expected a multiple of 4 (2-D sin-cos positions)", SAID("model.decoder_dim", a));
  int L = c->model.window * c->model.window;
  if ((int)(L * (1.0 - c->model.mask_ratio)) < 1)
    return DC_ERROR(DC_ERR_ARG, "%s keeps no token of %s's %d", SAID("model.mask_ratio", a), SAID("model.window", b), L);
  const struct dc_config_ints *ms = &c->finetune.milestones;
  for (int i = 1; i < ms->n; i++)
    if (ms->v[i] <= ms->v[i - 1])
      return DC_ERROR(DC_ERR_ARG, "%s: milestones must increase strictly", SAID("finetune.milestones", a));
  const char *t = c->finetune.template;
  if (t[0] && (!strstr(t, "{}") || strstr(strstr(t, "{}") + 2, "{}")))
    return DC_ERROR(DC_ERR_ARG, "%s: expected exactly one {} for the class name", SAID("finetune.template", a));
  if (c->finetune.tokenizer == DC_FINETUNE_TOKENIZER_CLIP_BPE && !c->finetune.merges[0])
    return DC_ERROR(DC_ERR_ARG, "%s needs a merges file: %s", SAID("finetune.tokenizer", a),
                    SAID("finetune.merges", b));
  if (!c->pretrain.resume[0]) return DC_ERROR(DC_ERR_ARG, "%s: expected auto, never or a checkpoint path", SAID("pretrain.resume", a));
  if (!c->run.name[0] || strchr(c->run.name, '/') || strcmp(c->run.name, ".") == 0 || strcmp(c->run.name, "..") == 0)
    return DC_ERROR(DC_ERR_ARG, "%s: expected a folder name (not empty, no '/')", SAID("run.name", a));
  if (!c->run.out_dir[0]) return DC_ERROR(DC_ERR_ARG, "%s: expected a folder", SAID("run.out_dir", a));
  if (!c->bench.out_dir[0]) return DC_ERROR(DC_ERR_ARG, "%s: expected a folder", SAID("bench.out_dir", a));
#undef SAID
  return DC_OK;
}

/* ---- formatting ---- */

/* The shortest text that reads back as exactly v; integral values keep a ".0". */
static void fmt_double(double v, char *buf, size_t cap) {
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, cap, "%.1f", v);
    return;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, cap, "%.*g", p, v);
    if (strtod(buf, NULL) == v) break;
  }
  if (!strpbrk(buf, ".eE") && strlen(buf) + 2 < cap) strcat(buf, ".0");
}

/* A string as a libconfig literal: quotes, with " and \ escaped (values hold no control
 * characters: dc_config_put_string refuses them). */
static size_t fmt_quoted(const char *s, char *buf, size_t cap) {
  size_t n = 0;
  if (n < cap) buf[n] = '"';
  n++;
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') {
      if (n < cap) buf[n] = '\\';
      n++;
    }
    if (n < cap) buf[n] = *s;
    n++;
  }
  if (n < cap) buf[n] = '"';
  n++;
  if (cap) buf[n < cap ? n : cap - 1] = '\0';
  return n;
}

/* style 0: --set syntax; style 1: libconfig syntax. Returns the length needed. */
static size_t fmt_value(const struct dc_config *cfg, const struct dc_config_key *k, int style, char *buf, size_t cap) {
  const void *f = cfield(cfg, k);
  char num[64];
  switch (k->type) {
    case DC_CONFIG_INT: return (size_t)snprintf(buf, cap, "%d", *(const int *)f);
    case DC_CONFIG_DOUBLE: fmt_double(*(const double *)f, num, sizeof num); return (size_t)snprintf(buf, cap, "%s", num);
    case DC_CONFIG_BOOL: return (size_t)snprintf(buf, cap, "%s", *(const bool *)f ? "true" : "false");
    case DC_CONFIG_ENUM:
      return style ? fmt_quoted(k->choices[*(const int *)f], buf, cap)
                   : (size_t)snprintf(buf, cap, "%s", k->choices[*(const int *)f]);
    case DC_CONFIG_STRING:
    case DC_CONFIG_PATH: return style ? fmt_quoted(f, buf, cap) : (size_t)snprintf(buf, cap, "%s", (const char *)f);
    case DC_CONFIG_INT_LIST:
    case DC_CONFIG_STRING_LIST:
    case DC_CONFIG_PATH_LIST: break;
  }
  size_t n = (size_t)snprintf(buf, cap, "%s", style ? "[" : "");
  int count = *(const int *)f; /* n is the first member of both list structs */
  for (int i = 0; i < count; i++) {
    char *at = n < cap ? buf + n : NULL;
    size_t room = n < cap ? cap - n : 0;
    n += (size_t)snprintf(at, room, "%s", i ? (style ? ", " : ",") : "");
    at = n < cap ? buf + n : NULL;
    room = n < cap ? cap - n : 0;
    if (k->type == DC_CONFIG_INT_LIST)
      n += (size_t)snprintf(at, room, "%d", ((const struct dc_config_ints *)f)->v[i]);
    else if (style)
      n += fmt_quoted(((const struct dc_config_strs *)f)->v[i], at, room);
    else
      n += (size_t)snprintf(at, room, "%s", ((const struct dc_config_strs *)f)->v[i]);
  }
  if (style) n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "]");
  return n;
}

void dc_config_value_text(const struct dc_config *cfg, const struct dc_config_key *k, char *buf, size_t cap) {
  fmt_value(cfg, k, 0, buf, cap);
}

size_t dc_config_value_literal(const struct dc_config *cfg, const struct dc_config_key *k, char *buf, size_t cap) {
  return fmt_value(cfg, k, 1, buf, cap);
}

struct sink {
  char *buf;
  size_t cap, n;
};

static void emit(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct sink *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(s->n < s->cap ? s->buf + s->n : NULL, s->n < s->cap ? s->cap - s->n : 0, fmt, ap);
  va_end(ap);
  if (w > 0) s->n += (size_t)w;
}

size_t dc_config_format(const struct dc_config *cfg, char *buf, size_t cap) {
  struct sink s = {buf, cap, 0};
  if (cap) buf[0] = '\0';
  int n, ng;
  const struct dc_config_key *keys = dc_config_schema(&n);
  const struct dc_config_group *g = dc_config_groups(&ng);
  emit(&s, "# diffclip configuration, fully resolved: every key (docs/config.md describes them).\n");
  for (int j = 0; j < ng; j++) {
    emit(&s, "%s = {\n", g[j].name);
    size_t gl = strlen(g[j].name);
    for (int i = 0; i < n; i++) {
      if (strncmp(keys[i].key, g[j].name, gl) != 0 || keys[i].key[gl] != '.') continue;
      char *v = malloc(DC_CONFIG_LIST * (2 * DC_CONFIG_STR + 4) + 8);
      if (!v) return 0;
      fmt_value(cfg, &keys[i], 1, v, DC_CONFIG_LIST * (2 * DC_CONFIG_STR + 4) + 8);
      emit(&s, "  %s = %s;\n", keys[i].key + gl + 1, v);
      free(v);
    }
    emit(&s, "};\n");
  }
  return s.n;
}

char *dc_config_text(const struct dc_config *cfg) {
  size_t n = dc_config_format(cfg, NULL, 0);
  if (n == 0) return NULL;
  char *buf = malloc(n + 1);
  if (buf) dc_config_format(cfg, buf, n + 1);
  return buf;
}

enum dc_status dc_config_write_resolved(const struct dc_config *cfg, const char *path) {
  char *text = dc_config_text(cfg);
  DC_CHECK_ALLOC(text);
  char tmp[4096];
  int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  enum dc_status st = DC_OK;
  FILE *f = NULL;
  if (w < 0 || (size_t)w >= sizeof tmp)
    st = DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  else if (!(f = fopen(tmp, "wb")))
    st = DC_ERROR(DC_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
  if (f) {
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad)
      st = DC_ERROR(DC_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
      st = DC_ERROR(DC_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != DC_OK) remove(tmp);
  }
  free(text);
  return st;
}

enum dc_status dc_config_sha256(const struct dc_config *cfg, char hex[DC_SHA256_HEX]) {
  char *text = dc_config_text(cfg);
  DC_CHECK_ALLOC(text);
  dc_sha256_hex(text, strlen(text), hex);
  free(text);
  return DC_OK;
}

enum dc_status dc_config_identity(const struct dc_config *cfg, const char *const *reset, int n_reset,
                                  char hex[DC_SHA256_HEX]) {
  struct dc_config id = *cfg;
  int n;
  const struct dc_config_key *keys = dc_config_schema(&n);
  for (int i = 0; i < n; i++) {
    int hit = 0;
    for (int k = 0; k < n_reset && !hit; k++) {
      size_t len = strlen(reset[k]);
      hit = len && reset[k][len - 1] == '.' ? strncmp(keys[i].key, reset[k], len) == 0 : strcmp(keys[i].key, reset[k]) == 0;
    }
    if (!hit) continue;
    char set[DC_CONFIG_STR + 64];
    snprintf(set, sizeof set, "%s=%s", keys[i].key, keys[i].def);
    DC_TRY(dc_config_apply_set(&id, set, NULL));
  }
  return dc_config_sha256(&id, hex);
}

const char *dc_config_diff(const struct dc_config *a, const struct dc_config *b) {
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  char *va = malloc(2 * 65536), *vb = va ? va + 65536 : NULL;
  const char *first = NULL;
  for (int i = 0; va && i < n && !first; i++) {
    fmt_value(a, &s[i], 1, va, 65536);
    fmt_value(b, &s[i], 1, vb, 65536);
    if (strcmp(va, vb) != 0) first = s[i].key;
  }
  free(va);
  return va ? first : "(out of memory)";
}

enum dc_status dc_config_model(const struct dc_config *cfg, int n_modalities, const int *bands, int vocab,
                               struct dc_model_config *out) {
  if (n_modalities < 1 || n_modalities > DC_MAX_MODALITIES)
    return DC_ERROR(DC_ERR_ARG, "a scene with %d modalities: expected 1..%d", n_modalities, DC_MAX_MODALITIES);
  dc_model_config_paper(out, n_modalities, bands);
  const struct dc_config_model *m = &cfg->model;
  out->window = m->window;
  out->embed_dim = m->embed_dim;
  out->depth = m->depth;
  out->heads = m->heads;
  out->mlp_ratio = m->mlp_ratio;
  out->decoder_dim = m->decoder_dim;
  out->decoder_depth = m->decoder_depth;
  out->decoder_heads = m->decoder_heads;
  for (int i = 0; i < n_modalities; i++) out->stem_width[i] = m->stem_width;
  out->mask_ratio = m->mask_ratio;
  out->timesteps = m->timesteps;
  out->text_width = m->text_width;
  out->text_layers = m->text_layers;
  out->text_heads = m->text_heads;
  out->context = m->context;
  out->vocab = vocab;
  return dc_model_config_check(out);
}
