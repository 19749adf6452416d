/* SVG plots and the metrics.jsonl reader: tags balanced and properly nested, one polyline
 * per series with one point per drawable value (NaN and, on a log axis, non-positive values
 * left out), a band polygon with 2n points, labels escaped; metrics records parsed by fixed
 * keys, steps repeated by a resumed run replaced, a cut-off last line dropped, a malformed
 * line refused with its line number. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/report/svg_plot.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

/* 1 when every tag is closed in order and no '<' appears outside a tag. */
static int balanced(const char *s) {
  char stack[64][32];
  int depth = 0;
  while ((s = strchr(s, '<'))) {
    const char *e = strchr(s, '>');
    if (!e) return 0;
    char name[32];
    int closing = s[1] == '/';
    if (sscanf(s + 1 + closing, "%31[a-zA-Z]", name) != 1) return 0;
    if (closing) {
      if (depth == 0 || strcmp(stack[--depth], name) != 0) return 0;
    } else if (e[-1] != '/') {
      if (depth == 64) return 0;
      snprintf(stack[depth++], 32, "%s", name);
    }
    s = e + 1;
  }
  return depth == 0;
}

/* Points in the n-th occurrence of <tag ... points="..."> (-1 when absent). */
static int count_points(const char *svg, const char *tag, int nth) {
  const char *p = svg;
  for (int i = 0; i <= nth; i++) {
    p = strstr(p, tag);
    if (!p) return -1;
    p += strlen(tag);
  }
  p = strstr(p, "points=\"");
  if (!p) return -1;
  p += 8;
  int n = 0;
  double x, y;
  int used;
  while (sscanf(p, " %lf,%lf%n", &x, &y, &used) == 2) n++, p += used;
  return *p == ' ' ? (p[1] == '"' ? n : -1) : (*p == '"' ? n : -1);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

int main(void) {
  printf("plot\n");
  double x[6] = {1, 2, 3, 4, 5, 6}, y1[6] = {0.9, 0.7, NAN, 0.4, 0.35, 0.3}, y2[6] = {0.1, 0.3, 0.5, 0.6, 0.7, 0.8};
  double lo[6], hi[6];
  for (int i = 0; i < 6; i++) lo[i] = y2[i] - 0.05, hi[i] = y2[i] + 0.05;
  struct dc_svg_series series[2] = {{"loss <train>", 6, x, y1, NULL, NULL}, {"accuracy & co", 6, x, y2, lo, hi}};
  struct dc_svg_plot p = {"Loss & accuracy", "epoch", "value", 0, 0, 0, 2, series};
  char *svg;
  size_t len;
  expect(dc_svg_plot_render(&p, &svg, &len) == DC_OK && len == strlen(svg), "render");
  expect(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "svg root element");
  expect(balanced(svg), "tags balanced and nested");
  expect(count_points(svg, "<polyline", 0) == 5, "series 1: 5 points (NaN left out)");
  expect(count_points(svg, "<polyline", 1) == 6, "series 2: 6 points");
  expect(count_points(svg, "<polyline", 2) == -1, "two polylines");
  expect(count_points(svg, "<polygon", 0) == 12, "band polygon: 2 x 6 points");
  expect(strstr(svg, "loss &lt;train&gt;") && strstr(svg, "accuracy &amp; co") && strstr(svg, "Loss &amp; accuracy"),
         "labels escaped");
  expect(strstr(svg, ">epoch</text>") && strstr(svg, ">value</text>"), "axis labels");
  expect(strstr(svg, ">0.2</text>") && strstr(svg, ">1.0</text>"), "y ticks at 1-2-5 steps");
  free(svg);

  printf("log axis\n");
  double ylog[6] = {100, 10, 1, 0, -1, 0.01};
  struct dc_svg_series ls = {"loss", 6, x, ylog, NULL, NULL};
  struct dc_svg_plot lp = {"log", "step", "loss", 1, 500, 300, 1, &ls};
  expect(dc_svg_plot_render(&lp, &svg, &len) == DC_OK, "render");
  expect(count_points(svg, "<polyline", 0) == 4, "non-positive values left out");
  expect(strstr(svg, ">100</text>") && strstr(svg, ">0.01</text>") && balanced(svg), "decade ticks");
  expect(strstr(svg, "width=\"500\" height=\"300\"") != NULL, "size");
  free(svg);
  struct dc_svg_plot empty = {"nothing", "x", "y", 0, 0, 0, 0, NULL};
  expect(dc_svg_plot_render(&empty, &svg, &len) == DC_OK && strstr(svg, "no data") && balanced(svg), "empty plot");
  free(svg);

  printf("metrics.jsonl\n");
  char dir[] = "/tmp/dc_test_svg_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256], out[256];
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  write_text(path,
             "{\"step\": 1, \"epoch\": 0, \"loss\": 0.5, \"masked\": [0.4,0.3], \"visible\": [0.2,0.1], \"lr\": 1e-4, "
             "\"grad_norm\": 2.5, \"samples_per_s\": 100, \"ranks\": 2}\n"
             "{\"step\": 2, \"epoch\": 0, \"loss\": 0.4, \"masked\": [0.3,0.2], \"visible\": [0.1,0.05], \"lr\": 1e-4, "
             "\"grad_norm\": 2, \"samples_per_s\": 110, \"ranks\": 2}\n"
             "{\"step\": 3, \"epoch\": 1, \"loss\": 0.3, \"masked\": [0.2,0.2], \"visible\": [0.1,0.05], \"lr\": 1e-4, "
             "\"grad_norm\": 2, \"samples_per_s\": 110, \"ranks\": 2}\n"
             "\n"
             "{\"step\": 2, \"epoch\": 0, \"loss\": 0.41, \"masked\": [0.3,0.2], \"visible\": [0.1,0.05], \"lr\": 1e-4, "
             "\"grad_norm\": 2, \"samples_per_s\": 90, \"ranks\": 1}\n"
             "{\"step\": 3, \"epoch\": 1, \"loss\": 0.31, \"masked\": [0.2], \"visible\": [0.1], \"lr\": 5e-5, "
             "\"grad_norm\": 1, \"samples_per_s\": 95, \"ranks\": 1}\n"
             "{\"step\": 4, \"epoch\": 1, \"lo");
  struct dc_pretrain_log log;
  expect(dc_pretrain_log_read(path, &log) == DC_OK, "read");
  expect(log.n == 3 && log.step[0] == 1 && log.step[1] == 2 && log.step[2] == 3, "resumed steps replaced, cut line dropped");
  expect(log.loss[0] == 0.5 && log.loss[1] == 0.41 && log.loss[2] == 0.31, "losses of the latest records");
  expect(log.n_modalities == 2 && log.masked[0] == 0.4 && log.visible[1] == 0.1 && isnan(log.masked[2 * 4 + 1]),
         "masked / visible per modality");
  expect(log.lr[2] == 5e-5 && log.grad_norm[0] == 2.5 && log.samples_per_s[1] == 90 && log.epoch[2] == 1 &&
             log.ranks == 1, "optional keys");
  struct dc_svg_series ps = {"loss", log.n, log.step, log.loss, NULL, NULL};
  struct dc_svg_plot pp = {"pretraining", "step", "loss", 1, 0, 0, 1, &ps};
  snprintf(out, sizeof out, "%s/loss.svg", dir);
  expect(dc_svg_plot_write(out, &pp) == DC_OK && access(out, F_OK) == 0, "written to a file");
  dc_pretrain_log_free(&log);

  write_text(path, "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"oops\": 1}\n{\"step\": 3, \"loss\": 0.3}\n");
  expect(dc_pretrain_log_read(path, &log) == DC_ERR_IO && strstr(dc_last_error(), "metrics.jsonl:2:"),
         "malformed line named with its number");
  expect(log.n == 0 && log.step == NULL, "nothing kept on failure");
  write_text(path, "{\"step\": 1, \"loss\": 0.5, \"masked\": [0.1 0.2]}\n");
  expect(dc_pretrain_log_read(path, &log) == DC_ERR_IO, "malformed array refused");
  remove(path);
  expect(dc_pretrain_log_read(path, &log) == DC_ERR_IO, "missing file");
  remove(out);
  rmdir(dir);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
