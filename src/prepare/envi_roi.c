/* ENVI ROI ASCII exports ("Output ROIs to ASCII"), the form in which the GRSS DFC 2013
 * training and validation samples are released. The file is a commented header
 *
 *   ; ENVI Output of ROIs (4.8) [date]
 *   ; Number of ROIs: 15
 *   ; File Dimension: 1905 x 349          (samples x lines, i.e. width x height)
 *   ;
 *   ; ROI name: grass_healthy
 *   ; ROI rgb value: {0, 205, 0}
 *   ; ROI npts: 198
 *   ... (name, colour and point count of every ROI, in order)
 *   ;   ID     X     Y   Map X   Map Y   Lat   Lon   B1 ...
 *
 * followed by one row per point, the ROIs' points in ROI order (ENVI separates the ROIs
 * with a blank line; a single block is read the same way, by the point counts). X and Y are
 * 1-based pixel coordinates (column, row). The reader needs the X and Y columns: an export
 * made with band values only cannot be placed on the grid and is refused. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diffclip/prepare/rawarray.h"

#define ROI_MAX 256
#define ROI_NAME 128

struct roi {
  char name[ROI_NAME];
  long npts;
  int cls; /* class index (0-based) it labels */
};

/* Lower case, letters and digits only: "Parking Lot 1", "parking_lot1" and "PARKING-LOT 1"
 * compare equal. */
static void normalise(const char *s, char *out, size_t cap) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++)
    if (isalnum((unsigned char)*s)) out[n++] = (char)tolower((unsigned char)*s);
  out[n] = '\0';
}

static void rstrip(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
}

/* "; Key: value" -> value when the comment line's key is `key` (case-insensitive), else NULL. */
static const char *header_value(const char *line, const char *key) {
  const char *p = line + 1;
  while (*p == ' ' || *p == '\t') p++;
  size_t k = strlen(key);
  if (strncasecmp(p, key, k) != 0) return NULL;
  p += k;
  while (*p == ' ' || *p == '\t') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* Column positions of X and Y in the column-header line ("; ID X Y Map X Map Y Lat Lon
 * B1 ..."): "Map X" and "Map Y" are one column each. -1 when absent. */
static void find_xy(const char *line, int *xcol, int *ycol) {
  *xcol = *ycol = -1;
  char buf[65536];
  snprintf(buf, sizeof buf, "%.65000s", line + 1);
  int col = 0, after_map = 0;
  for (char *save = NULL, *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
    if (after_map) { /* the second word of "Map X" */
      after_map = 0;
      continue;
    }
    if (!strcasecmp(t, "Map")) {
      after_map = 1;
      col++;
      continue;
    }
    if (!strcmp(t, "X") && *xcol < 0) *xcol = col;
    if (!strcmp(t, "Y") && *ycol < 0) *ycol = col;
    col++;
  }
}

static enum dc_status assign_classes(const char *path, struct roi *r, int n_roi, int n_classes,
                                     const char *const *class_names, int by_order) {
  if (by_order) {
    if (n_roi != n_classes)
      return DC_ERROR(DC_ERR_IO, "%s: %d ROIs; expected one per class (%d) with roi_match = \"order\"", path, n_roi,
                      n_classes);
    for (int i = 0; i < n_roi; i++) r[i].cls = i;
    return DC_OK;
  }
  for (int i = 0; i < n_roi; i++) {
    char a[ROI_NAME], b[256];
    normalise(r[i].name, a, sizeof a);
    r[i].cls = -1;
    for (int k = 0; k < n_classes && r[i].cls < 0; k++) {
      normalise(class_names[k], b, sizeof b);
      if (a[0] && !strcmp(a, b)) r[i].cls = k;
    }
    if (r[i].cls < 0) {
      char list[2048] = "";
      size_t len = 0;
      for (int k = 0; k < n_classes && len + 4 < sizeof list; k++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", k ? ", " : "", class_names[k]);
      return DC_ERROR(DC_ERR_IO,
                      "%s: ROI %d '%s' matches no class of the manifest (names compare without case, spaces and "
                      "punctuation); expected one of %s, or roi_match = \"order\" when the ROIs are in class order",
                      path, i + 1, r[i].name, list);
    }
  }
  return DC_OK;
}

/* Reads the points of every ROI into out (H x W, int32): unlabelled where no ROI has a point,
 * first_class + k for the points of an ROI of class k. */
static enum dc_status read_points(FILE *fp, const char *path, long *line_no, const struct roi *r, int n_roi, int xcol,
                                  int ycol, long height, long width, long unlabelled, long first_class,
                                  struct dc_array *out) {
  char line[65536];
  int roi = 0;
  long in_roi = 0, total = 0, want = 0;
  for (int i = 0; i < n_roi; i++) want += r[i].npts;
  while (roi < n_roi && r[roi].npts == 0) roi++;
  int need = (xcol > ycol ? xcol : ycol) + 1;
  while (fgets(line, sizeof line, fp)) {
    (*line_no)++;
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p || *p == ';') continue;
    if (roi >= n_roi)
      return DC_ERROR(DC_ERR_IO, "%s:%ld: a point after the last ROI's %ld; expected %ld points in all (the ROI npts)",
                      path, *line_no, r[n_roi - 1].npts, want);
    double v[64];
    int nv = 0;
    while (*p && nv < need) {
      char *end;
      errno = 0;
      v[nv] = strtod(p, &end);
      if (end == p || errno)
        return DC_ERROR(DC_ERR_IO, "%s:%ld: column %d is not a number; expected numeric columns", path, *line_no, nv + 1);
      nv++;
      p = end;
      while (isspace((unsigned char)*p)) p++;
    }
    if (nv < need)
      return DC_ERROR(DC_ERR_IO, "%s:%ld: %d columns; expected at least %d (X in column %d, Y in column %d)", path,
                      *line_no, nv, need, xcol + 1, ycol + 1);
    double x = v[xcol], y = v[ycol];
    if (x != (long)x || y != (long)y || x < 1 || y < 1 || x > (double)width || y > (double)height)
      return DC_ERROR(DC_ERR_IO, "%s:%ld: point X %g, Y %g; expected whole pixel coordinates 1..%ld, 1..%ld", path,
                      *line_no, x, y, width, height);
    size_t at = (size_t)((long)y - 1) * (size_t)width + (size_t)((long)x - 1);
    int32_t value = (int32_t)(first_class + r[roi].cls);
    if (out->i32[at] != (int32_t)unlabelled && out->i32[at] != value)
      return DC_ERROR(DC_ERR_IO, "%s:%ld: pixel X %ld, Y %ld of ROI %d '%s' is already a point of another class; "
                      "expected each pixel in one class", path, *line_no, (long)x, (long)y, roi + 1, r[roi].name);
    out->i32[at] = value;
    total++;
    if (++in_roi == r[roi].npts) {
      in_roi = 0;
      roi++;
      while (roi < n_roi && r[roi].npts == 0) roi++;
    }
  }
  if (ferror(fp)) return DC_ERROR(DC_ERR_IO, "%s: read error after line %ld", path, *line_no);
  if (total != want)
    return DC_ERROR(DC_ERR_IO, "%s: %ld points; expected %ld (the sum of the ROI npts): the file is cut short?", path,
                    total, want);
  return DC_OK;
}

enum dc_status dc_envi_roi_read(const char *path, long height, long width, int n_classes,
                                const char *const *class_names, int by_order, long unlabelled, long first_class,
                                struct dc_array *out) {
  memset(out, 0, sizeof *out);
  FILE *fp = fopen(path, "r");
  if (!fp) return DC_ERROR(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char line[65536];
  long line_no = 0;
  struct roi *r = calloc(ROI_MAX, sizeof *r);
  enum dc_status st = DC_OK;
  if (!r) {
    fclose(fp);
    return DC_ERROR(DC_ERR_NOMEM, "%s: no memory for the ROI table", path);
  }
  int n_roi = 0, declared = -1, xcol = -1, ycol = -1, have_dim = 0;
  long fw = 0, fh = 0;
  if (!fgets(line, sizeof line, fp) || strncmp(line, "; ENVI Output of ROIs", 21) != 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: not an ENVI ROI ASCII export; expected a first line \"; ENVI Output of ROIs ...\"", path);
    goto done;
  }
  line_no = 1;
  /* the header: every line starting with ';' up to the column header (the first point follows it) */
  for (;;) {
    long pos = ftell(fp);
    if (!fgets(line, sizeof line, fp)) break;
    line_no++;
    rstrip(line);
    if (line[0] != ';') {
      const char *p = line;
      while (isspace((unsigned char)*p)) p++;
      if (!*p) continue;
      fseek(fp, pos, SEEK_SET); /* a point: read_points starts here */
      line_no--;
      break;
    }
    const char *v;
    if ((v = header_value(line, "Number of ROIs"))) {
      declared = atoi(v);
    } else if ((v = header_value(line, "File Dimension"))) {
      if (sscanf(v, "%ld x %ld", &fw, &fh) != 2) {
        st = DC_ERROR(DC_ERR_IO, "%s:%ld: File Dimension '%s'; expected \"WIDTH x HEIGHT\"", path, line_no, v);
        goto done;
      }
      have_dim = 1;
    } else if ((v = header_value(line, "ROI name"))) {
      if (n_roi == ROI_MAX) {
        st = DC_ERROR(DC_ERR_IO, "%s:%ld: more than %d ROIs", path, line_no, ROI_MAX);
        goto done;
      }
      snprintf(r[n_roi].name, sizeof r[n_roi].name, "%s", v);
      r[n_roi].npts = -1;
      n_roi++;
    } else if ((v = header_value(line, "ROI npts"))) {
      char *end;
      long n = strtol(v, &end, 10);
      if (!n_roi || r[n_roi - 1].npts >= 0 || end == v || n < 0) {
        st = DC_ERROR(DC_ERR_IO, "%s:%ld: ROI npts '%s'; expected a point count after each \"; ROI name:\"", path,
                      line_no, v);
        goto done;
      }
      r[n_roi - 1].npts = n;
    } else if (header_value(line, "ROI rgb value")) {
      continue;
    } else if (strstr(line, " X") || strstr(line, "ID") || strstr(line, "B1")) {
      find_xy(line, &xcol, &ycol);
    }
  }
  if (declared >= 0 && declared != n_roi) {
    st = DC_ERROR(DC_ERR_IO, "%s: %d ROIs described; expected %d (\"Number of ROIs\")", path, n_roi, declared);
    goto done;
  }
  if (n_roi == 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: no \"; ROI name:\" lines; expected at least one ROI", path);
    goto done;
  }
  for (int i = 0; i < n_roi; i++)
    if (r[i].npts < 0) {
      st = DC_ERROR(DC_ERR_IO, "%s: ROI %d '%s' has no \"; ROI npts:\" line", path, i + 1, r[i].name);
      goto done;
    }
  if (have_dim && (fw != width || fh != height)) {
    st = DC_ERROR(DC_ERR_IO, "%s: File Dimension %ld x %ld; expected %ld x %ld (width x height of the manifest's grid)",
                  path, fw, fh, width, height);
    goto done;
  }
  if (xcol < 0 || ycol < 0) {
    st = DC_ERROR(DC_ERR_IO, "%s: no X and Y columns in the column header; expected an export with pixel locations "
                  "(ENVI: Output ROIs to ASCII with \"Pixel Location\" selected)", path);
    goto done;
  }
  if ((st = assign_classes(path, r, n_roi, n_classes, class_names, by_order)) != DC_OK) goto done;
  out->ndim = 2;
  out->dims[0] = (size_t)height;
  out->dims[1] = (size_t)width;
  out->n = (size_t)height * (size_t)width;
  snprintf(out->src_type, sizeof out->src_type, "roi");
  if ((st = dc_array_alloc(out, DC_ELEM_I32, path)) != DC_OK) goto done;
  for (size_t i = 0; i < out->n; i++) out->i32[i] = (int32_t)unlabelled;
  st = read_points(fp, path, &line_no, r, n_roi, xcol, ycol, height, width, unlabelled, first_class, out);
  if (st == DC_OK)
    for (int i = 0; i < n_roi; i++)
      dc_log(DC_LOG_INFO, "  ROI %d '%s': %ld point%s -> class %d (%s)", i + 1, r[i].name, r[i].npts,
             r[i].npts == 1 ? "" : "s", r[i].cls + 1, class_names[r[i].cls]);
done:
  if (st != DC_OK) dc_array_free(out);
  free(r);
  fclose(fp);
  return st;
}
