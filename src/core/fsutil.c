/* File-system and clock helpers (see fsutil.h). */
#include "diffclip/core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

int dc_mkdir_p(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0775) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(buf, 0775) != 0 && errno != EEXIST ? -1 : 0;
}

double dc_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dc_format_hms(double seconds, char *out, size_t cap) {
  if (!(seconds >= 0) || seconds > 1e9) { /* NaN, negative, or beyond any job */
    snprintf(out, cap, "?");
    return;
  }
  long t = (long)(seconds + 0.5), d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, sec = t % 60;
  if (d > 0)
    snprintf(out, cap, "%ldd %02ld:%02ld:%02ld", d, h, m, sec);
  else
    snprintf(out, cap, "%ld:%02ld:%02ld", h, m, sec);
}

void dc_format_clock(char *out, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(out, cap, "%H:%M:%S", &tm);
}
