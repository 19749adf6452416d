/* diffclip prepare: runs the serial ingestion program `diffclip-prepare` (built next to
 * this executable) with the same arguments, on rank 0 only, and makes every rank exit with
 * its result. Ingestion is a separate program because matio and GDAL link Debian's serial
 * HDF5 while this MPI program links the Open MPI build: two HDF5 libraries must never be
 * loaded into one process. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

extern char **environ;

#define PREPARE_PROGRAM "diffclip-prepare"

/* "<directory of /proc/self/exe>/diffclip-prepare" */
static int prepare_path(char *buf, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "diffclip prepare: cannot read /proc/self/exe (%s)\n", strerror(errno));
    return 0;
  }
  exe[n] = '\0';
  if ((size_t)snprintf(buf, len, "%s/%s", dirname(exe), PREPARE_PROGRAM) >= len) {
    fprintf(stderr, "diffclip prepare: path of %s too long\n", PREPARE_PROGRAM);
    return 0;
  }
  return 1;
}

/* Runs the program and returns its exit code (1 when it could not run or was killed). */
static int run_prepare(int argc, char **argv) {
  char path[PATH_MAX + 32];
  if (!prepare_path(path, sizeof path)) return DC_EXIT_ERROR;
  if (access(path, X_OK) != 0) {
    fprintf(stderr,
            "diffclip prepare: %s is missing or not executable (%s); it is built with diffclip and must sit next to it\n",
            path, strerror(errno));
    return DC_EXIT_ERROR;
  }
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args) return DC_EXIT_ERROR;
  args[0] = path;
  for (int i = 1; i < argc; i++) args[i] = argv[i];
  fflush(NULL);
  pid_t pid;
  int rc = posix_spawn(&pid, path, NULL, NULL, args, environ);
  free(args);
  if (rc != 0) {
    fprintf(stderr, "diffclip prepare: cannot start %s (%s)\n", path, strerror(rc));
    return DC_EXIT_ERROR;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      fprintf(stderr, "diffclip prepare: waiting for %s failed (%s)\n", path, strerror(errno));
      return DC_EXIT_ERROR;
    }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  fprintf(stderr, "diffclip prepare: %s was killed by signal %d\n", path, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return DC_EXIT_ERROR;
}

int dc_cmd_prepare(struct dc_dist *d, int argc, char **argv) {
  enum dc_status local = DC_OK;
  if (d->rank == 0) {
    int code = run_prepare(argc, argv);
    local = code == DC_EXIT_OK ? DC_OK : code == DC_EXIT_USAGE ? DC_ERR_ARG : DC_ERR_IO;
  }
  /* ranks other than 0 wait here for rank 0's result */
  enum dc_status agreed = dc_dist_agree(d, local);
  return agreed == DC_OK ? DC_EXIT_OK : agreed == DC_ERR_ARG ? DC_EXIT_USAGE : DC_EXIT_ERROR;
}
