/* Text buffer, atomic writes and base64 (see textbuf.h). */
#include "report/textbuf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int grow(struct dc_text *t, size_t extra) {
  if (t->failed) return 0;
  if (t->len + extra + 1 <= t->cap) return 1;
  size_t cap = t->cap ? t->cap : 4096;
  while (cap < t->len + extra + 1) cap *= 2;
  char *s = realloc(t->s, cap);
  if (!s) {
    t->failed = 1;
    return 0;
  }
  t->s = s;
  t->cap = cap;
  return 1;
}

void dc_text_append(struct dc_text *t, const char *s, size_t n) {
  if (!grow(t, n)) return;
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

void dc_text_puts(struct dc_text *t, const char *s) { dc_text_append(t, s, strlen(s)); }

void dc_text_printf(struct dc_text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !grow(t, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

void dc_text_xml(struct dc_text *t, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '&': dc_text_puts(t, "&amp;"); break;
      case '<': dc_text_puts(t, "&lt;"); break;
      case '>': dc_text_puts(t, "&gt;"); break;
      case '"': dc_text_puts(t, "&quot;"); break;
      default: dc_text_append(t, s, 1);
    }
  }
}

void dc_text_json_str(struct dc_text *t, const char *s) {
  dc_text_puts(t, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      dc_text_printf(t, "\\%c", c);
    else if (c == '\n')
      dc_text_puts(t, "\\n");
    else if (c < 0x20)
      dc_text_printf(t, "\\u%04x", c);
    else
      dc_text_append(t, s, 1);
  }
  dc_text_puts(t, "\"");
}

void dc_text_json_num(struct dc_text *t, double v) {
  if (isfinite(v))
    dc_text_printf(t, "%.10g", v);
  else
    dc_text_puts(t, "null");
}

void dc_text_csv(struct dc_text *t, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    dc_text_puts(t, s);
    return;
  }
  dc_text_puts(t, "\"");
  for (; *s; s++) {
    if (*s == '"') dc_text_puts(t, "\"");
    dc_text_append(t, s, 1);
  }
  dc_text_puts(t, "\"");
}

void dc_text_base64(struct dc_text *t, const unsigned char *d, size_t n) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (!grow(t, (n + 2) / 3 * 4)) return;
  char *o = t->s + t->len;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
    *o++ = abc[v >> 18], *o++ = abc[(v >> 12) & 63], *o++ = abc[(v >> 6) & 63], *o++ = abc[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
    *o++ = abc[v >> 18], *o++ = abc[(v >> 12) & 63];
    *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  t->len = (size_t)(o - t->s);
  t->s[t->len] = '\0';
}

void dc_text_free(struct dc_text *t) {
  free(t->s);
  memset(t, 0, sizeof *t);
}

enum dc_status dc_file_write_atomic(const char *path, const void *data, size_t n) {
  char tmp[1100];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return DC_ERROR(DC_ERR_ARG, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return DC_ERROR(DC_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  int bad = (n > 0 && fwrite(data, 1, n, f) != n);
  bad |= fclose(f) != 0;
  if (bad) {
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "cannot write %s (disk full?)", tmp);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return DC_ERROR(DC_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
  }
  return DC_OK;
}

enum dc_status dc_text_write(const struct dc_text *t, const char *path) {
  if (t->failed) return DC_ERROR(DC_ERR_NOMEM, "%s: out of memory while composing it", path);
  return dc_file_write_atomic(path, t->s ? t->s : "", t->len);
}

enum dc_status dc_file_read_all(const char *path, char **data, size_t *n) {
  *data = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return DC_ERROR(DC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct dc_text t = {0};
  char buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) dc_text_append(&t, buf, got);
  int err = ferror(f);
  fclose(f);
  if (err || t.failed) {
    dc_text_free(&t);
    return DC_ERROR(err ? DC_ERR_IO : DC_ERR_NOMEM, "cannot read %s", path);
  }
  if (!t.s) dc_text_puts(&t, "");
  if (t.failed) return DC_ERROR(DC_ERR_NOMEM, "cannot read %s: out of memory", path);
  *data = t.s;
  *n = t.len;
  return DC_OK;
}
