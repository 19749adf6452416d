/* A report spec from a bench folder (dc_report_scan) and the record that makes that
 * possible, <bench_dir>/bench_info.txt (dc_report_info_write): plain "key = value" lines,
 * a "dataset = NAME" line opening each entry's block (docs/formats.md). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffclip/report/report.h"
#include "report/report_internal.h"
#include "report/textbuf.h"

/* One line of text: newlines and tabs become spaces. */
static void put_kv(struct dc_text *t, const char *indent, const char *key, const char *value) {
  dc_text_printf(t, "%s%s = ", indent, key);
  for (const char *s = value; *s; s++) dc_text_append(t, (*s == '\n' || *s == '\r' || *s == '\t') ? " " : s, 1);
  dc_text_puts(t, "\n");
}

enum dc_status dc_report_info_write(const struct dc_report_spec *sp) {
  struct dc_text t = {0};
  dc_text_puts(&t, "# diffclip bench information: written by the report writer, read by `diffclip report`\n");
  put_kv(&t, "", "title", sp->title);
  put_kv(&t, "", "git_commit", sp->git_commit);
  put_kv(&t, "", "config_sha256", sp->config_sha256);
  put_kv(&t, "", "hardware", sp->hardware);
  put_kv(&t, "", "build", sp->build);
  put_kv(&t, "", "program_version", sp->program_version);
  dc_text_printf(&t, "ranks = %d\nruns = %d\nmap_scale = %d\nshots =", sp->ranks, sp->n_runs, sp->map_scale);
  for (int s = 0; s < sp->n_shots; s++) dc_text_printf(&t, " %d", sp->shots[s]);
  dc_text_puts(&t, "\n");
  for (int i = 0; i < sp->n_timings; i++) {
    char v[160];
    snprintf(v, sizeof v, "%.17g %s", sp->timings[i].seconds, sp->timings[i].label);
    put_kv(&t, "", "timing", v);
  }
  for (int d = 0; d < sp->n_datasets; d++) {
    const struct dc_report_dataset *ds = &sp->datasets[d];
    put_kv(&t, "", "dataset", ds->name);
    if (ds->display[0]) put_kv(&t, "  ", "display", ds->display);
    if (ds->paper_key[0]) put_kv(&t, "  ", "paper_key", ds->paper_key);
    if (ds->study[0]) put_kv(&t, "  ", "study", ds->study);
    if (ds->checksum[0]) put_kv(&t, "  ", "checksum", ds->checksum);
    if (ds->skipped) put_kv(&t, "  ", "skipped", ds->skip_reason[0] ? ds->skip_reason : "(no reason recorded)");
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/bench_info.txt", sp->bench_dir);
  enum dc_status st = dc_text_write(&t, path);
  dc_text_free(&t);
  return st;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
  return s;
}

static int find_entry(const struct dc_report_spec *sp, const char *name) {
  for (int d = 0; d < sp->n_datasets; d++)
    if (strcmp(sp->datasets[d].name, name) == 0) return d;
  return -1;
}

static enum dc_status add_shot(struct dc_report_spec *sp, int k, const char *where) {
  for (int s = 0; s < sp->n_shots; s++)
    if (sp->shots[s] == k) return DC_OK;
  if (sp->n_shots >= DC_REPORT_MAX_SHOTS)
    return DC_ERROR(DC_ERR_ARG, "%s: more than %d shot settings", where, DC_REPORT_MAX_SHOTS);
  int s = sp->n_shots++;
  while (s > 0 && sp->shots[s - 1] > k) sp->shots[s] = sp->shots[s - 1], s--; /* ascending */
  sp->shots[s] = k;
  return DC_OK;
}

static enum dc_status read_info(const char *path, struct dc_report_spec *sp) {
  char *text;
  size_t size;
  DC_TRY(dc_file_read_all(path, &text, &size));
  enum dc_status st = DC_OK;
  struct dc_report_dataset *cur = NULL;
  int lineno = 0;
  char where[1200];
  for (char *line = text, *next; line && st == DC_OK; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    lineno++;
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    snprintf(where, sizeof where, "%.1100s:%d", path, lineno);
    char *eq = strchr(s, '=');
    if (!eq) {
      st = DC_ERROR(DC_ERR_IO, "%s: \"key = value\" expected, found \"%.60s\"", where, s);
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    int num = atoi(val);
    if (strcmp(key, "dataset") == 0) {
      int d = find_entry(sp, val);
      cur = d >= 0 ? &sp->datasets[d] : dc_report_spec_add_dataset(sp, val);
      if (!cur) st = DC_ERROR(DC_ERR_IO, "%s: dataset entry \"%.63s\" refused", where, val);
    } else if (cur && strcmp(key, "display") == 0) {
      snprintf(cur->display, sizeof cur->display, "%s", val);
    } else if (cur && strcmp(key, "paper_key") == 0) {
      snprintf(cur->paper_key, sizeof cur->paper_key, "%s", val);
    } else if (cur && strcmp(key, "study") == 0) {
      snprintf(cur->study, sizeof cur->study, "%s", val);
    } else if (cur && strcmp(key, "checksum") == 0) {
      snprintf(cur->checksum, sizeof cur->checksum, "%s", val);
    } else if (cur && strcmp(key, "skipped") == 0) {
      cur->skipped = 1;
      snprintf(cur->skip_reason, sizeof cur->skip_reason, "%s", val);
    } else if (strcmp(key, "title") == 0) {
      snprintf(sp->title, sizeof sp->title, "%s", val);
    } else if (strcmp(key, "git_commit") == 0) {
      snprintf(sp->git_commit, sizeof sp->git_commit, "%s", val);
    } else if (strcmp(key, "config_sha256") == 0) {
      snprintf(sp->config_sha256, sizeof sp->config_sha256, "%s", val);
    } else if (strcmp(key, "hardware") == 0) {
      snprintf(sp->hardware, sizeof sp->hardware, "%s", val);
    } else if (strcmp(key, "build") == 0) {
      snprintf(sp->build, sizeof sp->build, "%s", val);
    } else if (strcmp(key, "program_version") == 0) {
      snprintf(sp->program_version, sizeof sp->program_version, "%s", val);
    } else if (strcmp(key, "ranks") == 0) {
      sp->ranks = num;
    } else if (strcmp(key, "runs") == 0) {
      sp->n_runs = num > DC_REPORT_MAX_RUNS ? DC_REPORT_MAX_RUNS : num;
    } else if (strcmp(key, "map_scale") == 0) {
      sp->map_scale = num;
    } else if (strcmp(key, "shots") == 0) {
      for (char *tok = val, *end; *tok && st == DC_OK; tok = end) {
        long k = strtol(tok, &end, 10);
        if (end == tok || k < 1) {
          st = DC_ERROR(DC_ERR_IO, "%s: shots must be positive integers, found \"%.40s\"", where, val);
          break;
        }
        st = add_shot(sp, (int)k, where);
      }
    } else if (strcmp(key, "timing") == 0) {
      char *end;
      double sec = strtod(val, &end);
      if (end == val) st = DC_ERROR(DC_ERR_IO, "%s: \"timing = SECONDS LABEL\" expected", where);
      else st = dc_report_spec_add_timing(sp, trim(end), sec);
    } else {
      dc_log(DC_LOG_WARN, "%s: unknown key \"%.40s\" ignored", where, key);
    }
  }
  free(text);
  return st;
}

/* What an entry folder holds: shots_<k> folders (max run index + 1 in *runs), pretrain,
 * skipped.txt. Returns 1 when it looks like an entry. */
static int scan_entry(const char *dir, struct dc_report_spec *sp, int *runs, int *skipped, enum dc_status *st) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  int entry = 0;
  struct dirent *e;
  while ((e = readdir(dp)) && *st == DC_OK) {
    int k;
    char tail;
    if (strcmp(e->d_name, "skipped.txt") == 0) *skipped = 1, entry = 1;
    if (strcmp(e->d_name, "pretrain") == 0 || strcmp(e->d_name, "pretrain_0") == 0) entry = 1;
    if (sscanf(e->d_name, "shots_%d%c", &k, &tail) != 1 || k < 1) continue;
    entry = 1;
    *st = add_shot(sp, k, dir);
    char sub[1400];
    snprintf(sub, sizeof sub, "%.1100s/%.255s", dir, e->d_name);
    DIR *rp = opendir(sub);
    struct dirent *re;
    while (rp && (re = readdir(rp))) {
      int r;
      if (sscanf(re->d_name, "run_%d%c", &r, &tail) == 1 && r >= 0 && r < DC_REPORT_MAX_RUNS && r + 1 > *runs) *runs = r + 1;
    }
    if (rp) closedir(rp);
  }
  closedir(dp);
  return entry;
}

static void read_reason(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(out, 1, cap - 1, f) : 0;
  if (f) fclose(f);
  out[n] = '\0';
  for (char *s = out; *s; s++)
    if (*s == '\n' || *s == '\r' || *s == '\t') *s = ' ';
  char *t = trim(out);
  memmove(out, t, strlen(t) + 1);
  if (!out[0]) snprintf(out, cap, "(skipped.txt is empty)");
}

static int cmp_names(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

enum dc_status dc_report_scan(const char *bench_dir, const char *report_dir, struct dc_report_spec *sp) {
  dc_report_spec_init(sp);
  if (snprintf(sp->bench_dir, sizeof sp->bench_dir, "%s", bench_dir) >= (int)sizeof sp->bench_dir)
    return DC_ERROR(DC_ERR_ARG, "bench folder path too long: %.100s...", bench_dir);
  if (report_dir) snprintf(sp->report_dir, sizeof sp->report_dir, "%s", report_dir);
  DIR *dp = opendir(bench_dir);
  if (!dp) return DC_ERROR(DC_ERR_IO, "cannot open the bench folder %s: %s", bench_dir, strerror(errno));
  closedir(dp);
  char path[1400];
  int info_runs = 0;
  snprintf(path, sizeof path, "%s/bench_info.txt", bench_dir);
  if (access(path, F_OK) == 0) {
    DC_TRY(read_info(path, sp));
    info_runs = sp->n_runs;
  }
  char(*names)[64] = malloc(1024 * sizeof *names);
  if (!names) return DC_ERROR(DC_ERR_NOMEM, "out of memory scanning %s", bench_dir);
  int n = 0;
  dp = opendir(bench_dir);
  struct dirent *e;
  while (dp && (e = readdir(dp)) && n < 1024) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", bench_dir, e->d_name);
    if (rp_valid_name(e->d_name) && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(names[n++], 64, "%.63s", e->d_name);
  }
  if (dp) closedir(dp);
  qsort(names, (size_t)n, sizeof *names, cmp_names);
  int runs = 0;
  enum dc_status st = DC_OK;
  for (int i = 0; i < n && st == DC_OK; i++) {
    int skipped = 0;
    snprintf(path, sizeof path, "%s/%s", bench_dir, names[i]);
    if (!scan_entry(path, sp, &runs, &skipped, &st) || st != DC_OK) continue;
    int d = find_entry(sp, names[i]);
    struct dc_report_dataset *ds = d >= 0 ? &sp->datasets[d] : dc_report_spec_add_dataset(sp, names[i]);
    if (!ds) st = DC_ERROR(DC_ERR_ARG, "%s: too many dataset entries", bench_dir);
    if (!ds) break;
    if (skipped) {
      snprintf(path, sizeof path, "%s/%s/skipped.txt", bench_dir, names[i]);
      ds->skipped = 1;
      read_reason(path, ds->skip_reason, sizeof ds->skip_reason);
    }
  }
  free(names);
  DC_TRY(st);
  sp->n_runs = info_runs > runs ? info_runs : runs;
  if (sp->n_datasets == 0)
    return DC_ERROR(DC_ERR_ARG, "%s holds no dataset entry (no folder with shots_<k>, pretrain or skipped.txt)", bench_dir);
  if (sp->n_shots == 0 || sp->n_runs == 0)
    return DC_ERROR(DC_ERR_ARG, "%s: no shots_<k>/run_<r> folders and no bench_info.txt naming shots and runs", bench_dir);
  return DC_OK;
}
