/* SVG line plots and the metrics.jsonl reader (see svg_plot.h). Axis ranges snap to
 * 1-2-5 tick steps (powers of ten on a log axis); series take the map palette's colours,
 * so the report reads the same everywhere. */
#include "diffclip/report/svg_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/report/png_map.h"
#include "report/textbuf.h"

#define ML 72 /* margins: left, right, top, bottom */
#define MR 20
#define MT 36
#define MB 52

struct axis {
  double lo, hi, step; /* on a log axis: decades, in log10 units */
  int log;
};

static int usable(const struct axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }
static double tr(const struct axis *a, double v) { return a->log ? log10(v) : v; }

static double nice_step(double range, int target) {
  double raw = range / target, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

/* Fits the axis to [lo, hi] (already transformed); snap rounds the ends out to ticks. */
static void axis_fit(struct axis *a, double lo, double hi, int snap) {
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-12 * (fabs(lo) + fabs(hi)) || hi == lo) {
    double d = a->log ? 0.5 : (fabs(lo) > 0 ? 0.1 * fabs(lo) : 1.0);
    lo -= d, hi += d;
  }
  if (a->log) {
    a->lo = floor(lo), a->hi = ceil(hi), a->step = 1;
    if (a->hi == a->lo) a->hi += 1;
    return;
  }
  a->step = nice_step(hi - lo, 5);
  a->lo = snap ? floor(lo / a->step + 1e-9) * a->step : lo;
  a->hi = snap ? ceil(hi / a->step - 1e-9) * a->step : hi;
}

static void tick_label(char *buf, size_t cap, const struct axis *a, double v) {
  if (a->log) {
    snprintf(buf, cap, "%g", pow(10.0, v));
    return;
  }
  int decimals = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
  if (fabs(v) < 1e-9 * a->step) v = 0;
  snprintf(buf, cap, "%.*f", decimals > 10 ? 10 : decimals, v);
}

static void color_hex(int i, char out[8]) {
  uint8_t rgb[3];
  dc_map_class_color(1 + i % 15, rgb);
  snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

enum dc_status dc_svg_plot_render(const struct dc_svg_plot *p, char **svg, size_t *len) {
  *svg = NULL;
  *len = 0;
  int W = p->width > 0 ? p->width : 640, H = p->height > 0 ? p->height : 400;
  if (W < ML + MR + 40 || H < MT + MB + 40) return DC_ERROR(DC_ERR_ARG, "plot size %d x %d is too small", W, H);
  struct axis ax = {0, 0, 0, 0}, ay = {0, 0, 0, p->log_y};
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  long points = 0;
  for (int s = 0; s < p->n_series; s++) {
    const struct dc_svg_series *se = &p->series[s];
    for (int i = 0; i < se->n; i++) {
      if (!isfinite(se->x[i]) || !usable(&ay, se->y[i])) continue;
      double ys[3] = {se->y[i], se->lo ? se->lo[i] : se->y[i], se->hi ? se->hi[i] : se->y[i]};
      for (int k = 0; k < 3; k++)
        if (usable(&ay, ys[k])) y0 = fmin(y0, tr(&ay, ys[k])), y1 = fmax(y1, tr(&ay, ys[k]));
      x0 = fmin(x0, se->x[i]), x1 = fmax(x1, se->x[i]);
      points++;
    }
  }
  axis_fit(&ax, points ? x0 : 0, points ? x1 : 1, 0);
  axis_fit(&ay, points ? y0 : (p->log_y ? -1 : 0), points ? y1 : (p->log_y ? 0 : 1), 1);
  double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - ax.lo) / (ax.hi - ax.lo) * pw)
#define PY(v) (MT + ph - (tr(&ay, (v)) - ay.lo) / (ay.hi - ay.lo) * ph)

  struct dc_text t = {0};
  dc_text_printf(&t,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "font-family=\"sans-serif\" font-size=\"12\">\n"
                 "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
                 W, H, W, H, W, H);
  if (p->title) {
    dc_text_printf(&t, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">", W / 2);
    dc_text_xml(&t, p->title);
    dc_text_puts(&t, "</text>\n");
  }
  /* grid and ticks */
  char label[64];
  dc_text_puts(&t, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
  for (double v = ay.lo; v <= ay.hi + 1e-9 * ay.step; v += ay.step) {
    double y = MT + ph - (v - ay.lo) / (ay.hi - ay.lo) * ph;
    dc_text_printf(&t, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, y, ML + pw, y);
  }
  double xfirst = ceil(ax.lo / ax.step - 1e-9) * ax.step;
  for (double v = xfirst; v <= ax.hi + 1e-9 * ax.step; v += ax.step) {
    double x = PX(v);
    dc_text_printf(&t, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, MT, x, MT + ph);
  }
  dc_text_puts(&t, "</g>\n<g fill=\"#333333\">\n");
  for (double v = ay.lo; v <= ay.hi + 1e-9 * ay.step; v += ay.step) {
    tick_label(label, sizeof label, &ay, v);
    dc_text_printf(&t, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6,
                   MT + ph - (v - ay.lo) / (ay.hi - ay.lo) * ph + 4, label);
  }
  for (double v = xfirst; v <= ax.hi + 1e-9 * ax.step; v += ax.step) {
    tick_label(label, sizeof label, &ax, v);
    dc_text_printf(&t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", PX(v), MT + ph + 18, label);
  }
  dc_text_puts(&t, "</g>\n");
  dc_text_printf(&t, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n", ML,
                 MT, pw, ph);
  if (p->xlabel) {
    dc_text_printf(&t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2, H - 12);
    dc_text_xml(&t, p->xlabel);
    dc_text_puts(&t, "</text>\n");
  }
  if (p->ylabel) {
    dc_text_printf(&t, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">",
                   MT + ph / 2, MT + ph / 2);
    dc_text_xml(&t, p->ylabel);
    dc_text_puts(&t, "</text>\n");
  }
  if (!points)
    dc_text_printf(&t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888888\">no data</text>\n",
                   ML + pw / 2, MT + ph / 2);
  /* bands, then lines on top */
  for (int s = 0; s < p->n_series; s++) {
    const struct dc_svg_series *se = &p->series[s];
    if (!se->lo || !se->hi) continue;
    char col[8];
    color_hex(s, col);
    dc_text_printf(&t, "<polygon fill=\"%s\" fill-opacity=\"0.2\" stroke=\"none\" points=\"", col);
    for (int i = 0; i < se->n; i++)
      if (isfinite(se->x[i]) && usable(&ay, se->hi[i]) && usable(&ay, se->lo[i]))
        dc_text_printf(&t, "%.1f,%.1f ", PX(se->x[i]), PY(se->hi[i]));
    for (int i = se->n - 1; i >= 0; i--)
      if (isfinite(se->x[i]) && usable(&ay, se->hi[i]) && usable(&ay, se->lo[i]))
        dc_text_printf(&t, "%.1f,%.1f ", PX(se->x[i]), PY(se->lo[i]));
    dc_text_puts(&t, "\"/>\n");
  }
  for (int s = 0; s < p->n_series; s++) {
    const struct dc_svg_series *se = &p->series[s];
    char col[8];
    color_hex(s, col);
    dc_text_printf(&t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
    int first = 1;
    for (int i = 0; i < se->n; i++) {
      if (!isfinite(se->x[i]) || !usable(&ay, se->y[i])) continue;
      dc_text_printf(&t, "%s%.1f,%.1f", first ? "" : " ", PX(se->x[i]), PY(se->y[i]));
      first = 0;
    }
    dc_text_puts(&t, "\"/>\n");
  }
  /* legend, top right inside the frame */
  if (p->n_series > 0) {
    int lw = 0;
    for (int s = 0; s < p->n_series; s++) {
      int l = p->series[s].label ? (int)strlen(p->series[s].label) : 0;
      lw = l > lw ? l : lw;
    }
    double bw = 36 + 7.0 * lw, bx = ML + pw - bw - 8, by = MT + 8;
    dc_text_printf(&t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"white\" fill-opacity=\"0.85\" "
                       "stroke=\"#999999\"/>\n", bx, by, bw, 8 + 18 * p->n_series);
    for (int s = 0; s < p->n_series; s++) {
      char col[8];
      color_hex(s, col);
      double y = by + 16 + 18 * s;
      dc_text_printf(&t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                     bx + 6, y - 4, bx + 26, y - 4, col);
      dc_text_printf(&t, "<text x=\"%.1f\" y=\"%.1f\">", bx + 32, y);
      dc_text_xml(&t, p->series[s].label ? p->series[s].label : "");
      dc_text_puts(&t, "</text>\n");
    }
  }
  dc_text_puts(&t, "</svg>\n");
#undef PX
#undef PY
  if (t.failed) {
    dc_text_free(&t);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory while drawing plot %s", p->title ? p->title : "");
  }
  *svg = t.s;
  *len = t.len;
  return DC_OK;
}

enum dc_status dc_svg_plot_write(const char *path, const struct dc_svg_plot *p) {
  char *svg;
  size_t len;
  DC_TRY(dc_svg_plot_render(p, &svg, &len));
  enum dc_status st = dc_file_write_atomic(path, svg, len);
  free(svg);
  return st;
}

/* ---- confusion matrices -------------------------------------------------------------- */

enum dc_status dc_svg_confusion_write(const char *path, const char *title, int n, const char *const *names,
                                      const int64_t *counts) {
  int cell = n <= 8 ? 44 : n <= 16 ? 36 : 24, names_w = 170, top = 58, left = names_w + 30;
  int W = left + n * cell + 80, H = top + n * cell + 40;
  struct dc_text t = {0};
  dc_text_printf(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "font-family=\"sans-serif\" font-size=\"%d\">\n", W, H, W, H, cell >= 36 ? 10 : 8);
  dc_text_printf(&t, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n<text x=\"%d\" y=\"16\" font-size=\"13\">", W, H, 4);
  dc_text_xml(&t, title);
  dc_text_printf(&t, "</text>\n<text x=\"%d\" y=\"34\" text-anchor=\"middle\">predicted class</text>\n",
                 left + n * cell / 2);
  dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">total</text>\n", W - 6, top - 6);
  for (int b = 0; b < n; b++)
    dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", left + b * cell + cell / 2,
                   top - 6, b + 1);
  for (int a = 0; a < n; a++) {
    int64_t row = 0;
    for (int b = 0; b < n; b++) row += counts[(size_t)a * n + b];
    int y = top + a * cell;
    dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + cell / 2 + 4);
    dc_text_printf(&t, "%d ", a + 1);
    char name[40];
    snprintf(name, sizeof name, "%.28s%s", names[a], strlen(names[a]) > 28 ? "..." : "");
    dc_text_xml(&t, name);
    dc_text_puts(&t, "</text>\n");
    for (int b = 0; b < n; b++) {
      int64_t v = counts[(size_t)a * n + b];
      double f = row ? (double)v / (double)row : 0;
      int r = (int)(255 - f * (255 - 8)), g = (int)(255 - f * (255 - 48)), bl = (int)(255 - f * (255 - 107));
      dc_text_printf(&t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\" stroke=\"%s\"/>",
                     left + b * cell, y, cell, cell, r, g, bl, a == b ? "#444" : "#ddd");
      const char *ink = f > 0.5 ? "white" : "#222";
      dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%lld</text>",
                     left + b * cell + cell / 2, y + cell / 2 - (v && cell >= 36 ? 1 : -3), ink, (long long)v);
      if (v && cell >= 36)
        dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\" font-size=\"8\">%.0f%%</text>",
                       left + b * cell + cell / 2, y + cell / 2 + 10, ink, 100 * f);
      dc_text_puts(&t, "\n");
    }
    dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>\n", W - 6, y + cell / 2 + 4,
                   (long long)row);
  }
  dc_text_printf(&t, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\" text-anchor=\"middle\">true class</text>\n",
                 12, top + n * cell / 2, 12, top + n * cell / 2);
  dc_text_puts(&t, "</svg>\n");
  if (t.failed) {
    dc_text_free(&t);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory for %s", path);
  }
  enum dc_status st = dc_file_write_atomic(path, t.s, t.len);
  dc_text_free(&t);
  return st;
}

/* ---- metrics.jsonl ------------------------------------------------------------------ */

/* The number after "key": in line; 0 when the key is absent or not followed by a number. */
static int json_number(const char *line, const char *key, double *v) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(line, pat);
  if (!p) return 0;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p++ != ':') return 0;
  char *end;
  *v = strtod(p, &end);
  return end != p;
}

/* The numbers of "key": [a, b, ...] (at most cap); -1 when malformed, else the count. */
static int json_array(const char *line, const char *key, double *v, int cap) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(line, pat);
  if (!p) return 0;
  p += strlen(pat);
  p += strspn(p, " ");
  if (*p++ != ':') return -1;
  p += strspn(p, " ");
  if (*p++ != '[') return -1;
  int n = 0;
  for (;;) {
    p += strspn(p, " ");
    if (*p == ']') return n;
    char *end;
    double x = strtod(p, &end);
    if (end == p) return -1;
    if (n < cap) v[n] = x;
    n++;
    p = end + strspn(end, " ");
    if (*p == ',') p++;
    else if (*p != ']') return -1;
  }
}

void dc_pretrain_log_free(struct dc_pretrain_log *log) {
  double *arrays[8] = {log->step, log->epoch, log->loss, log->lr, log->grad_norm, log->samples_per_s, log->masked,
                       log->visible};
  for (int i = 0; i < 8; i++) free(arrays[i]);
  memset(log, 0, sizeof *log);
}

static int log_grow(struct dc_pretrain_log *log, int cap) {
  double **arrays[8] = {&log->step, &log->epoch, &log->loss, &log->lr, &log->grad_norm, &log->samples_per_s,
                        &log->masked, &log->visible};
  for (int i = 0; i < 8; i++) {
    size_t per = i >= 6 ? DC_PRETRAIN_LOG_MAX_MODALITIES : 1;
    double *a = realloc(*arrays[i], (size_t)cap * per * sizeof(double));
    if (!a) return 0;
    *arrays[i] = a;
  }
  return 1;
}

enum dc_status dc_pretrain_log_read(const char *path, struct dc_pretrain_log *log) {
  memset(log, 0, sizeof *log);
  char *text;
  size_t size;
  DC_TRY(dc_file_read_all(path, &text, &size));
  enum dc_status st = DC_OK;
  int cap = 0, lineno = 0;
  for (char *line = text; *line && st == DC_OK;) {
    char *nl = strchr(line, '\n');
    int complete = nl != NULL;
    if (nl) *nl = '\0';
    lineno++;
    char *next = nl ? nl + 1 : line + strlen(line);
    if (line[strspn(line, " \t\r")] == '\0') {
      line = next;
      continue;
    }
    double step, loss, m[DC_PRETRAIN_LOG_MAX_MODALITIES], v[DC_PRETRAIN_LOG_MAX_MODALITIES];
    int nm = json_array(line, "masked", m, DC_PRETRAIN_LOG_MAX_MODALITIES);
    int nv = json_array(line, "visible", v, DC_PRETRAIN_LOG_MAX_MODALITIES);
    int ok = json_number(line, "step", &step) && json_number(line, "loss", &loss) && nm >= 0 && nv >= 0 &&
             strchr(line, '}') != NULL;
    if (!ok) {
      if (!complete) break; /* a record cut off by a killed job */
      st = DC_ERROR(DC_ERR_IO, "%s:%d: not a metrics record (\"step\" and \"loss\" numbers expected)", path, lineno);
      break;
    }
    while (log->n > 0 && log->step[log->n - 1] >= step) log->n--; /* a resumed run repeats steps */
    if (log->n == cap) {
      cap = cap ? 2 * cap : 256;
      if (!log_grow(log, cap)) {
        st = DC_ERROR(DC_ERR_NOMEM, "%s: no memory for %d records", path, cap);
        break;
      }
    }
    int i = log->n++;
    log->step[i] = step;
    log->loss[i] = loss;
    double r = NAN;
    double *opt[4] = {&log->epoch[i], &log->lr[i], &log->grad_norm[i], &log->samples_per_s[i]};
    static const char *const keys[4] = {"epoch", "lr", "grad_norm", "samples_per_s"};
    for (int k = 0; k < 4; k++)
      if (!json_number(line, keys[k], opt[k])) *opt[k] = NAN;
    for (int k = 0; k < DC_PRETRAIN_LOG_MAX_MODALITIES; k++) {
      log->masked[(size_t)i * DC_PRETRAIN_LOG_MAX_MODALITIES + k] = k < nm ? m[k] : NAN;
      log->visible[(size_t)i * DC_PRETRAIN_LOG_MAX_MODALITIES + k] = k < nv ? v[k] : NAN;
    }
    int nmod = nm > nv ? nm : nv;
    nmod = nmod > DC_PRETRAIN_LOG_MAX_MODALITIES ? DC_PRETRAIN_LOG_MAX_MODALITIES : nmod;
    log->n_modalities = nmod > log->n_modalities ? nmod : log->n_modalities;
    if (json_number(line, "ranks", &r)) log->ranks = (int)r;
    line = next;
  }
  free(text);
  if (st != DC_OK) dc_pretrain_log_free(log);
  return st;
}
