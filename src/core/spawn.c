/* Running a sibling program (see spawn.h). */
#include "diffclip/core/spawn.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int dc_run_sibling(const char *who, const char *program, const char *const *args, int n) {
  char exe[PATH_MAX], path[PATH_MAX + 64];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    fprintf(stderr, "%s: cannot read /proc/self/exe (%s)\n", who, strerror(errno));
    return -1;
  }
  exe[len] = '\0';
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dirname(exe), program) >= sizeof path) {
    fprintf(stderr, "%s: the path of %s is too long\n", who, program);
    return -1;
  }
  if (access(path, X_OK) != 0) {
    fprintf(stderr, "%s: %s is missing or not executable (%s); it is built with diffclip and must sit next to it\n",
            who, path, strerror(errno));
    return -1;
  }
  char **argv = calloc((size_t)n + 2, sizeof *argv);
  if (!argv) return -1;
  argv[0] = path;
  for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
  fflush(NULL);
  pid_t pid;
  int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
  free(argv);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot start %s (%s)\n", who, path, strerror(rc));
    return -1;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      fprintf(stderr, "%s: waiting for %s failed (%s)\n", who, path, strerror(errno));
      return -1;
    }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  fprintf(stderr, "%s: %s was killed by signal %d\n", who, path, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return -1;
}
