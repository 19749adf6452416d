/* Helpers for the ingestion tests (header-only; each test is one executable): checks, temp
 * folders, writers for synthetic .npy and .mat files, and running diffclip-prepare with its
 * output captured. The tests never copy the shared real data into the repository: corrupt
 * copies live in a temporary folder that is removed at the end. */
#ifndef DIFFCLIP_TESTS_PREP_UTIL_H
#define DIFFCLIP_TESTS_PREP_UTIL_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gdal.h>
#include <matio.h>

extern char **environ;

static int g_failures = 0;

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      g_failures++;                                                       \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
    }                                                                     \
  } while (0)

static inline int test_done(const char *name) {
  if (g_failures) {
    fprintf(stderr, "%s: %d failure(s)\n", name, g_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

static inline const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && v[0] ? v : fallback;
}

/* The shared real data folder, or NULL (the caller prints the skip line) when
 * DIFFCLIP_TEST_DATA is unset or does not name a folder. */
static inline const char *test_data(void) {
  const char *dir = env_or("DIFFCLIP_TEST_DATA", NULL);
  struct stat st;
  if (dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
    fprintf(stderr, "note: DIFFCLIP_TEST_DATA=%s is not a folder: the real-data checks are skipped\n", dir);
    return NULL;
  }
  return dir;
}

static inline void path_join(char *buf, size_t len, const char *a, const char *b) { snprintf(buf, len, "%s/%s", a, b); }

static char g_tmp_root[256];

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static inline void tmp_cleanup(void) {
  if (g_tmp_root[0] && !getenv("DIFFCLIP_KEEP_TMP")) nftw(g_tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary folder for this test, removed at exit. */
static inline const char *tmp_root(void) {
  if (!g_tmp_root[0]) {
    snprintf(g_tmp_root, sizeof g_tmp_root, "/tmp/diffclip_prep_XXXXXX");
    if (!mkdtemp(g_tmp_root)) {
      perror("mkdtemp");
      exit(1);
    }
    atexit(tmp_cleanup);
  }
  return g_tmp_root;
}

/* <tmp>/<name>, created as a folder when dir != 0. */
static inline const char *tmp_path(const char *name, int dir, char *buf, size_t len) {
  path_join(buf, len, tmp_root(), name);
  if (dir) mkdir(buf, 0755);
  return buf;
}

static inline int file_exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

static inline long file_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Copies the first `limit` bytes (all when limit < 0) of src to dst. */
static inline int copy_file(const char *src, const char *dst, long limit) {
  FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
  if (!in || !out) {
    if (in) fclose(in);
    return 0;
  }
  char buf[65536];
  long done = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (limit >= 0 && done + (long)n > limit) n = (size_t)(limit - done);
    fwrite(buf, 1, n, out);
    done += (long)n;
    if (limit >= 0 && done >= limit) break;
  }
  fclose(in);
  return fclose(out) == 0;
}

/* Overwrites `n` bytes at `offset` of a file with a pattern. */
static inline int corrupt_bytes(const char *path, long offset, int n) {
  FILE *f = fopen(path, "r+b");
  if (!f) return 0;
  fseek(f, offset, SEEK_SET);
  for (int i = 0; i < n; i++) fputc((i * 37 + 11) & 0xff, f);
  return fclose(f) == 0;
}

static inline int link_file(const char *src, const char *dst) { return symlink(src, dst) == 0 || errno == EEXIST; }

static inline char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
  if (s) s[n] = '\0';
  fclose(f);
  return s;
}

static inline int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return 0;
  fputs(text, f);
  return fclose(f) == 0;
}

/* Runs argv (NULL-terminated) with stdout and stderr into `log`; returns the exit code. */
static inline int run_logged(char *const argv[], const char *log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Runs diffclip-prepare; *log_text gets its output (caller frees). */
static inline int run_prepare(const char *manifest, const char *raw, const char *out, const char *extra1, const char *extra2,
                       char **log_text) {
  char log[512];
  tmp_path("prepare.log", 0, log, sizeof log);
  char *argv[] = {(char *)env_or("DIFFCLIP_PREPARE", "diffclip-prepare"), "--manifest", (char *)manifest, "--raw",
                  (char *)raw, "--out", (char *)out, (char *)extra1, (char *)extra2, NULL};
  int code = run_logged(argv, log);
  *log_text = read_text(log);
  if (!*log_text) *log_text = calloc(1, 1);
  return code;
}

/* ---- synthetic .npy writer: any version, byte order, memory order and dtype ---------- */

/* data holds n items of `item` bytes in host byte order, already in the file's memory order. */
static inline int write_npy(const char *path, int major, const char *descr, int fortran, int ndim, const size_t *dims,
                     const void *data, int item, int big_endian) {
  char shape[128] = "";
  size_t used = 0, n = 1;
  for (int i = 0; i < ndim; i++) {
    used += (size_t)snprintf(shape + used, sizeof shape - used, "%zu,%s", dims[i], ndim > 1 && i + 1 < ndim ? " " : "");
    n *= dims[i];
  }
  if (ndim > 1) shape[strlen(shape) - 1] = '\0'; /* (a, b) rather than (a, b,) */
  char dict[256];
  int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr,
                    fortran ? "True" : "False", shape);
  int pre = major == 1 ? 10 : 12;
  int total = (pre + dl + 1 + 63) / 64 * 64;
  int hlen = total - pre;
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite("\x93NUMPY", 1, 6, f);
  fputc(major, f);
  fputc(0, f);
  for (int i = 0; i < pre - 8; i++) fputc((hlen >> (8 * i)) & 0xff, f);
  fwrite(dict, 1, (size_t)dl, f);
  for (int i = dl; i < hlen - 1; i++) fputc(' ', f);
  fputc('\n', f);
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    unsigned char b[8];
    memcpy(b, p + i * (size_t)item, (size_t)item);
    if (big_endian)
      for (int k = 0; k < item / 2; k++) {
        unsigned char t = b[k];
        b[k] = b[item - 1 - k];
        b[item - 1 - k] = t;
      }
    fwrite(b, 1, (size_t)item, f);
  }
  return fclose(f) == 0;
}

/* ---- synthetic .mat writer through matio ------------------------------------------- */

/* data is column-major (MATLAB's order); version MAT_FT_MAT5 or MAT_FT_MAT73. */
static inline int write_mat(const char *path, enum mat_ft version, int compress, const char *name, enum matio_classes cls,
                     enum matio_types type, int rank, const size_t *dims, void *data) {
  mat_t *mat = Mat_CreateVer(path, NULL, version);
  if (!mat) return 0;
  size_t d[8];
  for (int i = 0; i < rank; i++) d[i] = dims[i];
  matvar_t *v = Mat_VarCreate(name, cls, type, rank, d, data, MAT_F_DONT_COPY_DATA);
  int ok = v && Mat_VarWrite(mat, v, compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE) == 0;
  if (v) Mat_VarFree(v);
  Mat_Close(mat);
  return ok;
}

/* A float32 cube (H, W, C) given row-major, written column-major as MATLAB would. */
static inline int write_mat_cube(const char *path, const char *name, const float *hwc, size_t H, size_t W, size_t C,
                          int compress) {
  float *cm = malloc(H * W * C * sizeof *cm);
  if (!cm) return 0;
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++)
      for (size_t k = 0; k < C; k++) cm[i + H * (j + W * k)] = hwc[(i * W + j) * C + k];
  size_t dims[3] = {H, W, C};
  int ok = write_mat(path, MAT_FT_MAT5, compress, name, MAT_C_SINGLE, MAT_T_SINGLE, C > 1 ? 3 : 2, dims, cm);
  free(cm);
  return ok;
}

/* A uint8 label raster (H, W) given row-major. */
static inline int write_mat_labels(const char *path, const char *name, const int32_t *hw, size_t H, size_t W) {
  uint8_t *cm = malloc(H * W);
  if (!cm) return 0;
  for (size_t i = 0; i < H; i++)
    for (size_t j = 0; j < W; j++) cm[i + H * j] = (uint8_t)hw[i * W + j];
  size_t dims[2] = {H, W};
  int ok = write_mat(path, MAT_FT_MAT5, 1, name, MAT_C_UINT8, MAT_T_UINT8, 2, dims, cm);
  free(cm);
  return ok;
}

/* A 1-band float32 GeoTIFF (h, w) given row-major. */
static inline int write_tif(const char *path, const float *band, int h, int w) {
  GDALAllRegister();
  GDALDriverH drv = GDALGetDriverByName("GTiff");
  GDALDatasetH ds = drv ? GDALCreate(drv, path, w, h, 1, GDT_Float32, NULL) : NULL;
  if (!ds) return 0;
  int ok = GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Write, 0, 0, w, h, (void *)band, w, h, GDT_Float32, 0, 0) == CE_None;
  GDALClose(ds);
  return ok;
}

#endif
