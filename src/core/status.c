/* Status names and the logger. Lines carry the rank; only rank 0 prints INFO unless all
 * ranks were asked to, while warnings and errors always print. */
#include "diffclip/core/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_rank = -1;
static int g_all_print = 0;
static enum dc_log_level g_level = DC_LOG_INFO;
static _Thread_local char g_last_error[1024];

const char *dc_status_name(enum dc_status s) {
  switch (s) {
    case DC_OK: return "ok";
    case DC_STOPPED: return "stopped for a requeue";
    case DC_ERR_ARG: return "bad argument";
    case DC_ERR_IO: return "input/output error";
    case DC_ERR_NOMEM: return "out of memory";
    case DC_ERR_NUMERIC: return "numerical error";
    case DC_ERR_MPI: return "MPI error";
    case DC_ERR_HDF5: return "HDF5 error";
    case DC_ERR_BACKEND: return "backend error";
    case DC_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

void dc_log_set_rank(int rank, int all_ranks_print) {
  g_rank = rank;
  g_all_print = all_ranks_print;
}

static int g_level_pinned = 0; /* DIFFCLIP_LOG_LEVEL=debug holds the level */

void dc_log_set_level(enum dc_log_level level) {
  if (!g_level_pinned) g_level = level;
}

void dc_log_level_from_env(void) {
  const char *v = getenv("DIFFCLIP_LOG_LEVEL");
  if (v && strcmp(v, "debug") == 0) g_level = DC_LOG_DEBUG, g_level_pinned = 1;
}
void dc_log_set_all_ranks(int all_ranks_print) { g_all_print = all_ranks_print; }

static int g_leader = 0;
void dc_log_set_leader(int leader) { g_leader = leader; }

static void vlog(enum dc_log_level level, const char *prefix, const char *fmt, va_list ap) {
  if (level > g_level) return;
  if (level >= DC_LOG_INFO && g_rank > 0 && !g_all_print && !g_leader) return;
  FILE *f = level <= DC_LOG_WARN ? stderr : stdout;
  /* one write per line, so lines of ranks sharing a terminal or log do not interleave */
  char line[4096];
  int n = g_rank >= 0 ? snprintf(line, sizeof line, "[rank %d] ", g_rank) : 0;
  n += snprintf(line + n, sizeof line - (size_t)n, "%s", prefix ? prefix : "");
  if ((size_t)n < sizeof line) n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, f);
  fflush(f);
}

void dc_log(enum dc_log_level level, const char *fmt, ...) {
  static const char *const prefix[] = {"error: ", "warning: ", NULL, "debug: "};
  va_list ap;
  va_start(ap, fmt);
  vlog(level, prefix[level], fmt, ap);
  va_end(ap);
}

enum dc_status dc_error_at(enum dc_status s, const char *file, int line, const char *fmt, ...) {
  /* the user reads what went wrong with their file or key; where in our source it was
   * noticed is for developers, shown at run.log_level = "debug" */
  char where[256];
  if (g_level >= DC_LOG_DEBUG)
    snprintf(where, sizeof where, "error: [%s:%d] ", file, line);
  else
    snprintf(where, sizeof where, "error: ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  va_start(ap, fmt);
  vlog(DC_LOG_ERROR, where, fmt, ap);
  va_end(ap);
  return s;
}

const char *dc_last_error(void) { return g_last_error; }
