/* Manifests: the shipped ones load and describe their classes in 15-30 words; their file
 * names, variables, digests and published counts agree with the real files that exist in
 * the shared data; and every schema violation is refused with the manifest's file name,
 * the line and the key. */
#include "prep_util.h"

#include <ctype.h>

#include "diffclip/prepare/manifest.h"
#include "diffclip/core/sha256.h"
#include "prepare/readers.h"

/* Loads `text` as a manifest with stderr captured; returns the status and the message. */
static enum dc_status load_text(const char *text, char *path, size_t len, char **message) {
  tmp_path("m.cfg", 0, path, len);
  write_text(path, text);
  char log[512];
  tmp_path("m.log", 0, log, sizeof log);
  fflush(stderr);
  int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, 2);
  close(fd);
  struct dc_manifest m;
  enum dc_status st = dc_manifest_load(path, &m);
  if (st == DC_OK) dc_manifest_free(&m);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  *message = read_text(log);
  return st;
}

static const char *good =
    "manifest_version = 1;\n"                                            /* 1 */
    "name = \"t\";\n"                                                    /* 2 */
    "grid = { height = 4; width = 5; };\n"                               /* 3 */
    "modalities = ( { name = \"hsi\"; bands = 2; } );\n"                 /* 4 */
    "classes = ( { name = \"a\"; description = \"x\"; },\n"              /* 5 */
    "            { name = \"b\"; description = \"y\"; } );\n"            /* 6 */
    "variants = ( { name = \"v\"; files = (\n"                           /* 7 */
    "  { role = \"hsi\"; file = \"h.npy\"; },\n"                         /* 8 */
    "  { role = \"gt\"; file = \"g.mat\"; variable = \"G\"; } ); } );\n"; /* 9 */

/* Replaces the first occurrence of `from` in the good manifest by `to` and expects a refusal
 * whose message contains every needle. */
static void expect_schema_error(const char *from, const char *to, const char *const *needles) {
  char text[4096], path[512];
  const char *at = strstr(good, from);
  if (!at) {
    CHECK(0, "test bug: '%s' not in the manifest", from);
    return;
  }
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
  char *msg;
  enum dc_status st = load_text(text, path, sizeof path, &msg);
  if (!msg) msg = calloc(1, 1);
  CHECK(st == DC_ERR_ARG, "'%s' -> '%s': status %d", from, to, (int)st);
  CHECK(strstr(msg, path), "'%s': message lacks the manifest path:\n%s", to, msg);
  for (const char *const *n = needles; *n; n++) CHECK(strstr(msg, *n), "'%s': message lacks '%s':\n%s", to, *n, msg);
  free(msg);
}

static void schema(void) {
  char path[512], *msg;
  CHECK(load_text(good, path, sizeof path, &msg) == DC_OK, "the base manifest loads:\n%s", msg);
  free(msg);
  expect_schema_error("name = \"t\";", "nmae = \"t\";", (const char *[]){":2:", "nmae: unknown key", "expected one of", NULL});
  expect_schema_error("height = 4;", "height = \"4\";", (const char *[]){":3:", "grid.height", "expected an integer, got a string", NULL});
  expect_schema_error("bands = 2;", "bands = 2.5;", (const char *[]){":4:", "modalities[0].bands", "expected an integer", NULL});
  expect_schema_error("manifest_version = 1;\n", "", (const char *[]){"missing required key 'manifest_version'", NULL});
  expect_schema_error("variable = \"G\";", "", (const char *[]){":9:", "variants[0].files[1]", "missing key 'variable'", NULL});
  expect_schema_error("file = \"h.npy\";", "file = \"h.npy\"; varible = \"x\";",
                      (const char *[]){":8:", "variants[0].files[0].varible: unknown key", NULL});
  expect_schema_error("role = \"hsi\";", "role = \"lidar\";", (const char *[]){":8:", "role", "expected a modality name", NULL});
  expect_schema_error("file = \"h.npy\";", "file = \"h.npy\"; layout = \"HCW\";", (const char *[]){":8:", "layout", "expected \"HWC\"", NULL});
  expect_schema_error("file = \"h.npy\";", "file = \"h.npy\"; sha256 = \"abc\";", (const char *[]){":8:", "sha256", "64 hexadecimal", NULL});
  expect_schema_error("file = \"h.npy\";", "file = \"../h.npy\";", (const char *[]){":8:", "file", "without '..'", NULL});
  expect_schema_error("{ role = \"gt\"; file = \"g.mat\"; variable = \"G\"; }",
                      "{ role = \"train\"; file = \"g.mat\"; variable = \"G\"; }",
                      (const char *[]){"variants[0].files", "expected one \"train\" and one \"test\" file, or one \"gt\"", NULL});
  expect_schema_error("description = \"x\";", "", (const char *[]){":5:", "classes[0]", "missing required key 'description'", NULL});
  expect_schema_error("grid = { height = 4; width = 5; };", "grid = { height = 4; width = 5; };\nnan_policy = \"skip\";",
                      (const char *[]){":4:", "nan_policy", "expected \"error\" or \"fill\"", NULL});
  expect_schema_error("grid = { height = 4; width = 5; };",
                      "grid = { height = 4; width = 5; };\npublished_split = { train_per_class = [1, 2, 3]; };",
                      (const char *[]){":4:", "published_split.train_per_class", "expected one per class (2)", NULL});
  expect_schema_error("width = 5;", "width = ;", (const char *[]){":3:", "syntax error", NULL});
  expect_schema_error("variants = (", "variants = ( { name = \"v\"; files = ( { role = \"hsi\"; file = \"x.npy\"; }, "
                                      "{ role = \"gt\"; file = \"y.npy\"; } ); },",
                      (const char *[]){"variant name 'v' is used twice", NULL});
  expect_schema_error("grid = { height = 4; width = 5; };", "grid = { height = 4; width = 5; };\nexams = { };",
                      (const char *[]){":4:", "exams", "only allowed with kind = \"exams\"", NULL});
  /* exams */
  const char *exams_text =
      "manifest_version = 1; name = \"e\"; kind = \"exams\";\n"
      "classes = ( { name = \"a\"; description = \"x\"; } );\n"
      "exams = { planes = [\"axial\"]; slices = 2; height = 3; width = 3;\n"
      "  splits = ( { name = \"train\"; folder = \"train\"; labels = [\"a.csv\", \"b.csv\"]; } ); };\n";
  CHECK(load_text(exams_text, path, sizeof path, &msg) == DC_ERR_ARG && strstr(msg, ":4:") &&
            strstr(msg, "exams.splits[0].labels") && strstr(msg, "expected one CSV per class (1)"),
        "exam label count:\n%s", msg);
  free(msg);
}

static int words(const char *s) {
  int n = 0, in = 0;
  for (; *s; s++) {
    if (isspace((unsigned char)*s)) in = 0;
    else if (!in) in = 1, n++;
  }
  return n;
}

/* Reads every file of every variant that exists in the shared data (folder `sub`). */
static void against_real_files(const struct dc_manifest *m, const char *sub) {
  const char *data = test_data();
  if (!data || m->kind != DC_MANIFEST_SCENE) return;
  int checked = 0;
  for (int v = 0; v < m->n_variants; v++)
    for (int i = 0; i < m->variants[v].n_files; i++) {
      const struct dc_manifest_file *f = &m->variants[v].files[i];
      char p[1024], hex[65];
      snprintf(p, sizeof p, "%s/%s/%s", data, sub, f->file);
      if (!file_exists(p)) continue;
      if (f->sha256[0]) CHECK(dc_sha256_file(p, hex) == DC_OK && !strcmp(hex, f->sha256), "%s: digest of %s", m->path, f->file);
      int label = dc_manifest_modality(m, f->role) < 0;
      struct dc_array a;
      enum dc_status st = dc_manifest_file_format(f) == DC_FORMAT_MAT
                              ? dc_mat_read(p, f->variable, label ? DC_ELEM_I32 : DC_ELEM_F32, &a)
                              : dc_manifest_file_format(f) == DC_FORMAT_NPY
                                    ? dc_npy_read(p, label ? DC_ELEM_I32 : DC_ELEM_F32, &a)
                                    : dc_gdal_read(p, label ? DC_ELEM_I32 : DC_ELEM_F32, &a);
      CHECK(st == DC_OK, "%s: variant %s reads %s", m->path, m->variants[v].name, f->file);
      if (st != DC_OK) continue;
      CHECK(a.dims[0] == (size_t)m->height && a.dims[1] == (size_t)m->width, "%s: %s on the grid", m->path, f->file);
      const struct dc_manifest_split_counts *c = &m->split;
      long want = !strcmp(f->role, "train") ? c->train : !strcmp(f->role, "test") ? c->test
                : !strcmp(f->role, "gt") ? c->labelled : -1;
      const long *per = !strcmp(f->role, "train") ? c->train_per_class : !strcmp(f->role, "test") ? c->test_per_class
                      : c->labelled_per_class;
      if (label && want >= 0) {
        long n = 0, k_counts[DC_SCENE_MAX_CLASSES] = {0};
        long un = f->has_unlabelled ? f->unlabelled : m->unlabelled;
        for (size_t p2 = 0; p2 < a.n; p2++)
          if (a.i32[p2] != un) n++, k_counts[a.i32[p2] - m->first_class]++;
        CHECK(n == want, "%s: %s has %ld labelled pixels, manifest says %ld", m->path, f->file, n, want);
        for (int k = 0; k < m->n_classes; k++)
          CHECK(k_counts[k] == per[k], "%s: %s class %d: %ld vs %ld", m->path, f->file, k + 1, k_counts[k], per[k]);
      }
      dc_array_free(&a);
      checked++;
    }
  printf("%s: %d variant files checked against the shared data\n", m->path, checked);
}

static void shipped(void) {
  static const char *const names[][2] = {
      {"template", NULL}, {"trento", "trento"}, {"houston2013", "houston2013"}, {"muufl", "muufl"}, {"mrnet", NULL}};
  const char *src = env_or("DIFFCLIP_SOURCE_DIR", ".");
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char p[1024];
    snprintf(p, sizeof p, "%s/data_manifests/%s.cfg", src, names[i][0]);
    struct dc_manifest m;
    enum dc_status st = dc_manifest_load(p, &m);
    CHECK(st == DC_OK, "load %s", p);
    if (st != DC_OK) continue;
    CHECK(!strcmp(m.name, names[i][0]) || i == 0, "%s: name %s", p, m.name);
    for (int k = 0; k < m.n_classes; k++) {
      int n = words(m.class_descriptions[k]);
      CHECK(n >= 15 && n <= 30, "%s: class %s: %d words, 15-30 expected", p, m.class_names[k], n);
    }
    if (names[i][1]) against_real_files(&m, names[i][1]);
    dc_manifest_free(&m);
  }
}

int main(void) {
  dc_prepare_readers_init();
  if (!test_data()) printf("skipped (shipped manifests against the real files): DIFFCLIP_TEST_DATA not set\n");
  shipped();
  schema();
  return test_done("prep_manifest");
}
