/* A custom train / test split of an exam store from a text file of exam ids (see
 * dc_exams_assign_file in exams.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/data/exams.h"

/* The exam of release number id, or -1. */
static int exam_of(const struct dc_exams *e, long id) {
  for (int i = 0; i < e->n_exams; i++)
    if ((e->ids ? e->ids[i] : i) == id) return i;
  return -1;
}

/* One line's two fields (trimmed, comment cut) into id and word; 0 for an empty line. */
static int fields(char *line, char **id, char **word) {
  char *hash = strchr(line, '#');
  if (hash) *hash = '\0';
  char *p = line;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return 0;
  *id = p;
  while (*p && *p != ',' && !isspace((unsigned char)*p)) p++;
  if (*p) *p++ = '\0';
  while (isspace((unsigned char)*p) || *p == ',') p++;
  *word = p;
  while (*p && !isspace((unsigned char)*p) && *p != ',') p++;
  char *end = p;
  while (isspace((unsigned char)*p)) p++;
  if (*p) return -1; /* a third field */
  *end = '\0';
  return 1;
}

enum dc_status dc_exams_assign_file(const struct dc_exams *e, const char *path, int32_t **assign) {
  *assign = NULL;
  FILE *f = fopen(path, "r");
  if (!f) return DC_ERROR(DC_ERR_ARG, "data.split_file %s: cannot open: %s", path, strerror(errno));
  int32_t *a = malloc(((size_t)e->n_exams + 1) * sizeof *a);
  int *line_of = malloc(((size_t)e->n_exams + 1) * sizeof *line_of);
  if (!a || !line_of) {
    fclose(f), free(a), free(line_of);
    return DC_ERROR(DC_ERR_NOMEM, "no memory for the split of %d exams", e->n_exams);
  }
  for (int i = 0; i < e->n_exams; i++) a[i] = -1, line_of[i] = 0;
  char buf[512];
  int line = 0, n[2] = {0, 0};
  enum dc_status st = DC_OK;
  while (st == DC_OK && fgets(buf, sizeof buf, f)) {
    line++;
    if (!strchr(buf, '\n') && !feof(f)) {
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: a line longer than %zu bytes", path, line, sizeof buf - 2);
      break;
    }
    char *id, *word, *end;
    int k = fields(buf, &id, &word);
    if (k == 0) continue;
    if (line == 1 && k == 1 && strcmp(id, "exam") == 0 && strcmp(word, "split") == 0) continue; /* a header */
    long v = strtol(id, &end, 10);
    if (k < 0 || !*word || *end || end == id) {
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: expected \"EXAM_ID,train\" or \"EXAM_ID,test\" (an exam number of the store, "
                    "then its split)", path, line);
      break;
    }
    int which = strcmp(word, "train") == 0 ? 0 : strcmp(word, "test") == 0 ? 1 : -1;
    if (which < 0) {
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: split \"%s\" of exam %ld: expected train or test", path, line, word, v);
      break;
    }
    int x = exam_of(e, v);
    if (x < 0) {
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: exam %ld is not in the exam store %s (%d exams)", path, line, v, e->name,
                    e->n_exams);
    } else if (a[x] >= 0) {
      st = DC_ERROR(DC_ERR_ARG, "%s:%d: exam %ld is listed twice (first on line %d)", path, line, v, line_of[x]);
    } else {
      a[x] = which, line_of[x] = line;
      n[which]++;
    }
  }
  if (st == DC_OK && ferror(f)) st = DC_ERROR(DC_ERR_IO, "data.split_file %s: read error", path);
  fclose(f);
  free(line_of);
  if (st == DC_OK && (n[0] == 0 || n[1] == 0))
    st = DC_ERROR(DC_ERR_ARG, "%s: %d train and %d test exams: a split needs both", path, n[0], n[1]);
  if (st != DC_OK) {
    free(a);
    return st;
  }
  *assign = a;
  return DC_OK;
}
