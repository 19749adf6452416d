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
