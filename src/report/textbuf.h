/* A growing text buffer, atomic file writes and base64: the report writer's plumbing.
 * A failed allocation sets `failed` and later appends do nothing, so a writer appends
 * freely and checks once at the end. */
#ifndef DIFFCLIP_IO_TEXTBUF_H
#define DIFFCLIP_IO_TEXTBUF_H

#include <stddef.h>

#include "diffclip/core/status.h"

struct dc_text {
  char *s; /* NUL-terminated; NULL until the first append */
  size_t len, cap;
  int failed;
};

void dc_text_printf(struct dc_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dc_text_append(struct dc_text *t, const char *s, size_t n);
void dc_text_puts(struct dc_text *t, const char *s);
/* s with &, <, >, " escaped for HTML / XML text and attributes. */
void dc_text_xml(struct dc_text *t, const char *s);
/* s as a JSON string literal, quotes included. */
void dc_text_json_str(struct dc_text *t, const char *s);
/* A number for JSON: %.10g, or null when not finite. */
void dc_text_json_num(struct dc_text *t, double v);
/* s as one CSV field (quoted when it holds a comma, quote or newline). */
void dc_text_csv(struct dc_text *t, const char *s);
void dc_text_base64(struct dc_text *t, const unsigned char *data, size_t n);
void dc_text_free(struct dc_text *t);

/* Writes n bytes to <path>.tmp.<pid>, then renames it to path. */
enum dc_status dc_file_write_atomic(const char *path, const void *data, size_t n);
/* Writes the buffer atomically; a buffer whose allocation failed is DC_ERR_NOMEM. */
enum dc_status dc_text_write(const struct dc_text *t, const char *path);
/* The whole file into a malloc'd, NUL-terminated buffer (*n bytes, not counting the NUL). */
enum dc_status dc_file_read_all(const char *path, char **data, size_t *n);

#endif
