/* Helpers of the configuration tests: a private temporary folder, files written into it
 * (parent folders made), and expectations on the last error message. */
#ifndef DIFFCLIP_TESTS_CONFIG_TESTUTIL_H
#define DIFFCLIP_TESTS_CONFIG_TESTUTIL_H

#define _XOPEN_SOURCE 700 /* mkdtemp, realpath */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffclip/config/config.h"

static int failures = 0;
static inline void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

/* The last error message holds every fragment (NULL-terminated list). */
static inline int message_has(const char *const *fragments) {
  const char *msg = dc_last_error();
  for (int i = 0; fragments[i]; i++)
    if (!strstr(msg, fragments[i])) {
      fprintf(stderr, "  message '%s'\n  lacks '%s'\n", msg, fragments[i]);
      return 0;
    }
  return 1;
}
#define HAS(...) message_has((const char *const[]){__VA_ARGS__, NULL})

static char tmp_root[PATH_MAX];

/* A fresh folder under /tmp, its real path in tmp_root. */
static inline int make_tmp_root(void) {
  char templ[] = "/tmp/dc_config_test_XXXXXX";
  if (!mkdtemp(templ) || !realpath(templ, tmp_root)) return 0;
  return 1;
}

/* tmp_root/rel, parents created, holding text. */
static inline int write_file(const char *rel, const char *text) {
  char path[2 * PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
  for (char *s = path + strlen(tmp_root) + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    mkdir(path, 0700);
    *s = '/';
  }
  FILE *f = fopen(path, "w");
  if (!f) return 0;
  int ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok;
}

static inline const char *tmp_path(const char *rel) {
  static char path[4][2 * PATH_MAX];
  static int next = 0;
  next = (next + 1) % 4;
  snprintf(path[next], sizeof path[next], "%s/%s", tmp_root, rel);
  return path[next];
}

/* Loads tmp_root/rel (NULL: none) with the overrides; the configuration is malloc'd. */
static inline enum dc_status load(const char *rel, const char *const *sets, int n_sets, struct dc_config **cfg,
                           struct dc_config_origins **origins) {
  *cfg = calloc(1, sizeof **cfg);
  if (origins) *origins = calloc(1, sizeof **origins);
  if (!*cfg || (origins && !*origins)) return DC_ERR_NOMEM;
  return dc_config_load(*cfg, rel ? tmp_path(rel) : NULL, sets, n_sets, origins ? *origins : NULL);
}

static inline void remove_tree(const char *root) {
  char cmd[PATH_MAX + 32];
  if (strncmp(root, "/tmp/dc_config_test_", 20) != 0) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", root);
}

#endif
