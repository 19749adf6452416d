/* MRNet's official label CSVs (train-abnormal.csv, valid-acl.csv, ...): one exam per line,
 * "exam_id,label", exam ids written with leading zeros ("0007"), labels 0 or 1. The
 * release has no header line; one non-numeric first line is skipped anyway. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/prepare/rawarray.h"

void dc_label_csv_free(struct dc_label_csv *c) {
  if (!c) return;
  free(c->ids);
  free(c->labels);
  c->ids = c->labels = NULL;
  c->n = 0;
}

/* Parses "digits" followed by optional spaces; returns 1 and the value if so. */
static int parse_uint(const char *s, const char *end, long *v) {
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
  if (s == end) return 0;
  long x = 0;
  for (const char *p = s; p < end; p++) {
    if (!isdigit((unsigned char)*p) || x > 100000000L) return 0;
    x = x * 10 + (*p - '0');
  }
  *v = x;
  return 1;
}

enum dc_status dc_label_csv_read(const char *path, struct dc_label_csv *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "r");
  if (!f) return DC_ERROR(DC_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  enum dc_status st = DC_OK;
  int cap = 0, lineno = 0;
  char line[512];
  while (st == DC_OK && fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    char *comma = strchr(line, ',');
    long id, label;
    int ok = comma && parse_uint(line, comma, &id) && parse_uint(comma + 1, line + len, &label);
    if (!ok && lineno == 1 && !isdigit((unsigned char)line[0])) continue; /* a header line */
    if (!ok || label > 1) {
      st = DC_ERROR(DC_ERR_IO, "%s:%d: expected 'exam_id,label' with label 0 or 1, got '%s'", path, lineno, line);
      break;
    }
    for (int i = 0; i < out->n; i++)
      if (out->ids[i] == (int)id) {
        st = DC_ERROR(DC_ERR_IO, "%s:%d: exam %ld listed twice; expected each exam once", path, lineno, id);
        break;
      }
    if (st != DC_OK) break;
    if (out->n == cap) {
      cap = cap ? 2 * cap : 256;
      int *ni = realloc(out->ids, (size_t)cap * sizeof *ni);
      if (ni) out->ids = ni;
      int *nl = ni ? realloc(out->labels, (size_t)cap * sizeof *nl) : NULL;
      if (nl) out->labels = nl;
      if (!ni || !nl) {
        st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for the labels", path);
        break;
      }
    }
    out->ids[out->n] = (int)id;
    out->labels[out->n] = (int)label;
    out->n++;
  }
  if (st == DC_OK && ferror(f)) st = DC_ERROR(DC_ERR_IO, "%s: read error", path);
  if (st == DC_OK && out->n == 0) st = DC_ERROR(DC_ERR_IO, "%s: no 'exam_id,label' lines; expected one per exam", path);
  fclose(f);
  if (st != DC_OK) dc_label_csv_free(out);
  return st;
}
