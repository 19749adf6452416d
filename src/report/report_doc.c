/* The report's document model (report_internal.h): headings, paragraphs, bullets, tables
 * and images, rendered once as Markdown and once as a self-contained HTML page (PNGs as
 * base64 data URIs, SVGs inline). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

enum rd_kind { RD_HEADING, RD_PARA, RD_ITEM, RD_TABLE, RD_IMAGE, RD_LEGEND, RD_DETAILS };

struct rd_block {
  enum rd_kind kind;
  int level;
  char *text;  /* heading, paragraph, item; csv name of a table; caption of an image */
  char *path;  /* image */
  int ncols, ncells;
  char **cells; /* header first, then rows */
  struct rd_swatch *swatches; /* legend */
  int nswatches;
};

static char *vfmt(const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

static char *dup(const char *s) {
  char *d = malloc(strlen(s) + 1);
  if (d) strcpy(d, s);
  return d;
}

static struct rd_block *add(struct rd_doc *d, enum rd_kind kind) {
  if (d->failed) return NULL;
  if (d->n == d->cap) {
    int cap = d->cap ? 2 * d->cap : 64;
    struct rd_block *b = realloc(d->blocks, (size_t)cap * sizeof *b);
    if (!b) {
      d->failed = 1;
      return NULL;
    }
    d->blocks = b, d->cap = cap;
  }
  struct rd_block *b = &d->blocks[d->n++];
  memset(b, 0, sizeof *b);
  b->kind = kind;
  return b;
}

static void add_text(struct rd_doc *d, enum rd_kind kind, int level, const char *fmt, va_list ap) {
  struct rd_block *b = add(d, kind);
  if (!b) return;
  b->level = level;
  b->text = vfmt(fmt, ap);
  if (!b->text) d->failed = 1;
}

void rd_heading(struct rd_doc *d, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_text(d, RD_HEADING, level, fmt, ap);
  va_end(ap);
}

void rd_para(struct rd_doc *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_text(d, RD_PARA, 0, fmt, ap);
  va_end(ap);
}

void rd_item(struct rd_doc *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add_text(d, RD_ITEM, 0, fmt, ap);
  va_end(ap);
}

static void push_cell(struct rd_doc *d, struct rd_block *b, char *s) {
  if (!s) {
    d->failed = 1;
    return;
  }
  if (b->ncells % 64 == 0) {
    char **c = realloc(b->cells, (size_t)(b->ncells + 64) * sizeof *c);
    if (!c) {
      free(s);
      d->failed = 1;
      return;
    }
    b->cells = c;
  }
  b->cells[b->ncells++] = s;
}

void rd_table(struct rd_doc *d, const char *csv_name, int ncols, const char *const *header) {
  struct rd_block *b = add(d, RD_TABLE);
  if (!b) return;
  b->ncols = ncols;
  b->text = dup(csv_name ? csv_name : "");
  if (!b->text) d->failed = 1;
  for (int i = 0; i < ncols; i++) push_cell(d, b, dup(header[i]));
}

void rd_cell(struct rd_doc *d, const char *fmt, ...) {
  if (d->failed || d->n == 0 || d->blocks[d->n - 1].kind != RD_TABLE) {
    d->failed = 1;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  push_cell(d, &d->blocks[d->n - 1], vfmt(fmt, ap));
  va_end(ap);
}

void rd_image(struct rd_doc *d, const char *rel_path, const char *caption) {
  struct rd_block *b = add(d, RD_IMAGE);
  if (!b) return;
  b->path = dup(rel_path);
  b->text = dup(caption);
  if (!b->path || !b->text) d->failed = 1;
}

void rd_legend(struct rd_doc *d, const char *title, int n, const struct rd_swatch *sw) {
  struct rd_block *b = add(d, RD_LEGEND);
  if (!b) return;
  b->text = dup(title);
  b->swatches = malloc((size_t)(n > 0 ? n : 1) * sizeof *sw);
  if (!b->text || !b->swatches) {
    d->failed = 1;
    return;
  }
  memcpy(b->swatches, sw, (size_t)n * sizeof *sw);
  b->nswatches = n;
}

void rd_details(struct rd_doc *d, const char *summary, const char *text) {
  struct rd_block *b = add(d, RD_DETAILS);
  if (!b) return;
  b->text = dup(summary);
  b->path = dup(text);
  if (!b->text || !b->path) d->failed = 1;
}

void rd_free(struct rd_doc *d) {
  for (int i = 0; i < d->n; i++) {
    struct rd_block *b = &d->blocks[i];
    free(b->text);
    free(b->path);
    for (int c = 0; c < b->ncells; c++) free(b->cells[c]);
    free(b->cells);
    free(b->swatches);
  }
  free(d->blocks);
  memset(d, 0, sizeof *d);
}

static void md_cell(struct dc_text *t, const char *s) {
  for (; *s; s++) {
    if (*s == '|') dc_text_puts(t, "\\");
    dc_text_append(t, *s == '\n' ? " " : s, 1);
  }
}

enum dc_status rd_render_md(const struct rd_doc *d, struct dc_text *t) {
  if (d->failed) return DC_ERROR(DC_ERR_NOMEM, "out of memory while composing the report");
  for (int i = 0; i < d->n; i++) {
    const struct rd_block *b = &d->blocks[i];
    switch (b->kind) {
      case RD_HEADING:
        dc_text_printf(t, "%.*s %s\n\n", b->level, "######", b->text);
        break;
      case RD_PARA:
        dc_text_printf(t, "%s\n\n", b->text);
        break;
      case RD_ITEM:
        dc_text_printf(t, "- %s\n", b->text);
        if (i + 1 == d->n || d->blocks[i + 1].kind != RD_ITEM) dc_text_puts(t, "\n");
        break;
      case RD_TABLE:
        for (int c = 0; c < b->ncells; c++) {
          dc_text_puts(t, c % b->ncols == 0 ? "| " : " | ");
          md_cell(t, b->cells[c]);
          if (c % b->ncols == b->ncols - 1) dc_text_puts(t, " |\n");
          if (c == b->ncols - 1) {
            for (int k = 0; k < b->ncols; k++) dc_text_puts(t, k ? "---|" : "|---|");
            dc_text_puts(t, "\n");
          }
        }
        if (b->text[0]) dc_text_printf(t, "\nCSV: [%s](%s)\n", b->text, b->text);
        dc_text_puts(t, "\n");
        break;
      case RD_IMAGE:
        dc_text_printf(t, "![%s](%s)\n\n", b->text, b->path);
        break;
      case RD_LEGEND:
        dc_text_printf(t, "%s:", b->text);
        for (int k = 0; k < b->nswatches; k++) {
          const uint8_t *c = b->swatches[k].rgb;
          dc_text_printf(t, "%s %s (#%02x%02x%02x)", k ? ";" : "", b->swatches[k].text, c[0], c[1], c[2]);
        }
        dc_text_puts(t, "\n\n");
        break;
      case RD_DETAILS: { /* GitHub and most renderers fold <details>; plain readers see a code block */
        dc_text_puts(t, "<details><summary>");
        dc_text_xml(t, b->text);
        int fence = 3; /* longer than any run of backticks in the text */
        for (const char *p = b->path; *p; p++) {
          int run = 0;
          while (p[run] == '`') run++;
          if (run >= fence) fence = run + 1;
          if (run) p += run - 1;
        }
        dc_text_printf(t, "</summary>\n\n%.*s\n%s", fence, "``````````````````````````", b->path);
        size_t len = strlen(b->path);
        dc_text_printf(t, "%s%.*s\n\n</details>\n\n", len && b->path[len - 1] == '\n' ? "" : "\n", fence,
                       "``````````````````````````");
        break;
      }
    }
  }
  return t->failed ? DC_ERROR(DC_ERR_NOMEM, "out of memory while writing report.md") : DC_OK;
}

static const char *css =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;margin:2em auto;"
    "padding:0 1em;color:#222;line-height:1.45}\n"
    "h1{border-bottom:2px solid #ddd}h2{margin-top:2em;border-bottom:1px solid #eee}\n"
    "table{border-collapse:collapse;margin:0.5em 0 0.3em 0;font-size:0.92em}\n"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}\n"
    "td:first-child,th:first-child{text-align:left}\n"
    "tr:nth-child(even) td{background:#fafafa}\n"
    "p.csv{font-size:0.8em;color:#666;margin-top:0}\n"
    "figure{display:inline-block;margin:0.5em 1em 1em 0;vertical-align:top}\n"
    "figure img{image-rendering:pixelated;max-width:100%}figcaption{font-size:0.85em;color:#555}\n"
    "div.legend{font-size:0.85em;margin:0 0 1em 0;max-width:100%}div.legend b{margin-right:0.6em}\n"
    "div.legend span{display:inline-block;margin:0.1em 1em 0.1em 0;white-space:nowrap}\n"
    "div.legend i{display:inline-block;width:0.9em;height:0.9em;border:1px solid #333;vertical-align:-0.1em;"
    "margin-right:0.3em}\n"
    "details{margin:0.3em 0}details pre{background:#f6f6f6;padding:0.5em;overflow-x:auto;font-size:0.8em}\n";

static enum dc_status html_image(struct dc_text *t, const struct rd_block *b, const char *base_dir) {
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", base_dir, b->path);
  char *data;
  size_t n;
  DC_TRY(dc_file_read_all(path, &data, &n));
  size_t len = strlen(b->path);
  dc_text_puts(t, "<figure>");
  if (len > 4 && strcmp(b->path + len - 4, ".svg") == 0) {
    const char *s = strstr(data, "<svg");
    dc_text_puts(t, s ? s : "");
  } else {
    dc_text_puts(t, "<img alt=\"");
    dc_text_xml(t, b->text);
    dc_text_puts(t, "\" src=\"data:image/png;base64,");
    dc_text_base64(t, (const unsigned char *)data, n);
    dc_text_puts(t, "\">");
  }
  dc_text_puts(t, "<figcaption>");
  dc_text_xml(t, b->text);
  dc_text_puts(t, "</figcaption></figure>\n");
  free(data);
  return DC_OK;
}

/* The table's CSV inside the page (a data URI with its file name to save as), so the link
 * works wherever report.html goes; the file beside it is the same text. */
static enum dc_status html_csv_link(struct dc_text *t, const char *name, const char *base_dir) {
  char path[1400], *data;
  size_t n;
  snprintf(path, sizeof path, "%s/%s", base_dir, name);
  DC_TRY(dc_file_read_all(path, &data, &n));
  const char *slash = strrchr(name, '/');
  dc_text_puts(t, "<p class=\"csv\">CSV: <a download=\"");
  dc_text_xml(t, slash ? slash + 1 : name);
  dc_text_puts(t, "\" href=\"data:text/csv;charset=utf-8;base64,");
  dc_text_base64(t, (const unsigned char *)data, n);
  dc_text_puts(t, "\">");
  dc_text_xml(t, name);
  dc_text_puts(t, "</a> (embedded; also beside this page)</p>\n");
  free(data);
  return DC_OK;
}

enum dc_status rd_render_html(const struct rd_doc *d, const char *title, const char *base_dir, struct dc_text *t) {
  if (d->failed) return DC_ERROR(DC_ERR_NOMEM, "out of memory while composing the report");
  dc_text_puts(t, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
  dc_text_xml(t, title);
  dc_text_printf(t, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
  for (int i = 0; i < d->n; i++) {
    const struct rd_block *b = &d->blocks[i];
    switch (b->kind) {
      case RD_HEADING:
        dc_text_printf(t, "<h%d>", b->level);
        dc_text_xml(t, b->text);
        dc_text_printf(t, "</h%d>\n", b->level);
        break;
      case RD_PARA:
        dc_text_puts(t, "<p>");
        dc_text_xml(t, b->text);
        dc_text_puts(t, "</p>\n");
        break;
      case RD_ITEM:
        if (i == 0 || d->blocks[i - 1].kind != RD_ITEM) dc_text_puts(t, "<ul>\n");
        dc_text_puts(t, "<li>");
        dc_text_xml(t, b->text);
        dc_text_puts(t, "</li>\n");
        if (i + 1 == d->n || d->blocks[i + 1].kind != RD_ITEM) dc_text_puts(t, "</ul>\n");
        break;
      case RD_TABLE:
        dc_text_puts(t, "<table>\n");
        for (int c = 0; c < b->ncells; c++) {
          int head = c < b->ncols;
          if (c % b->ncols == 0) dc_text_puts(t, "<tr>");
          dc_text_puts(t, head ? "<th>" : "<td>");
          dc_text_xml(t, b->cells[c]);
          dc_text_puts(t, head ? "</th>" : "</td>");
          if (c % b->ncols == b->ncols - 1) dc_text_puts(t, "</tr>\n");
        }
        dc_text_puts(t, "</table>\n");
        if (b->text[0]) DC_TRY(html_csv_link(t, b->text, base_dir));
        break;
      case RD_IMAGE:
        DC_TRY(html_image(t, b, base_dir));
        break;
      case RD_LEGEND:
        dc_text_puts(t, "<div class=\"legend\"><b>");
        dc_text_xml(t, b->text);
        dc_text_puts(t, "</b>");
        for (int k = 0; k < b->nswatches; k++) {
          const uint8_t *c = b->swatches[k].rgb;
          dc_text_printf(t, "<span><i style=\"background:#%02x%02x%02x\"></i>", c[0], c[1], c[2]);
          dc_text_xml(t, b->swatches[k].text);
          dc_text_puts(t, "</span>");
        }
        dc_text_puts(t, "</div>\n");
        break;
      case RD_DETAILS:
        dc_text_puts(t, "<details><summary>");
        dc_text_xml(t, b->text);
        dc_text_puts(t, "</summary><pre>");
        dc_text_xml(t, b->path);
        dc_text_puts(t, "</pre></details>\n");
        break;
    }
  }
  dc_text_puts(t, "</body>\n</html>\n");
  return t->failed ? DC_ERROR(DC_ERR_NOMEM, "out of memory while writing report.html") : DC_OK;
}
