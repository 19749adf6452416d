/* The shipped configurations: every file under configs/ loads and passes the checks;
 * base.cfg states exactly the built-in defaults; each dataset file names its own scene,
 * manifest and class count; paper.cfg runs every dataset at 2, 8 and 20 shots, 10 runs;
 * demo.cfg is the synthetic demo. The source folder comes from DIFFCLIP_SOURCE_DIR. */
#include "config_testutil.h"

#include <dirent.h>

static const char *src;
static int n_loaded = 0;

static void load_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    expect(0, dir);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      load_tree(path);
      continue;
    }
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".cfg") != 0) continue;
    struct dc_config *c = calloc(1, sizeof *c);
    char what[2 * PATH_MAX + 16];
    snprintf(what, sizeof what, "%s loads and validates", path + strlen(src) + 1);
    expect(c && dc_config_load(c, path, NULL, 0, NULL) == DC_OK, what);
    n_loaded++;
    free(c);
  }
  closedir(d);
}

static struct dc_config *load_src(const char *rel) {
  char path[2 * PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", src, rel);
  struct dc_config *c = calloc(1, sizeof *c);
  if (c && dc_config_load(c, path, NULL, 0, NULL) == DC_OK) return c;
  free(c);
  return NULL;
}

static void datasets(void) {
  printf("dataset files\n");
  static const struct {
    const char *name;
    int classes;
  } sets[] = {{"houston2013", 15}, {"trento", 6}, {"muufl", 11}, {"mrnet", 2}};
  char root[PATH_MAX];
  if (!realpath(src, root)) return;
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    char rel[64], manifest[2 * PATH_MAX], scene[2 * PATH_MAX], what[128];
    snprintf(rel, sizeof rel, "configs/%s.cfg", sets[i].name);
    snprintf(manifest, sizeof manifest, "%s/data_manifests/%s.cfg", root, sets[i].name);
    snprintf(scene, sizeof scene, "%s/data/%s.h5", root, sets[i].name);
    struct dc_config *c = load_src(rel);
    snprintf(what, sizeof what, "%s: name, run name, scene under data/, manifest, %d classes", sets[i].name,
             sets[i].classes);
    expect(c && strcmp(c->data.name, sets[i].name) == 0 && strcmp(c->run.name, sets[i].name) == 0 &&
               strcmp(c->data.manifest, manifest) == 0 && strcmp(c->data.scene, scene) == 0 &&
               c->data.classes == sets[i].classes,
           what);
    free(c);
  }
}

int main(void) {
  src = getenv("DIFFCLIP_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "DIFFCLIP_SOURCE_DIR is not set (ctest sets it to the source folder)\n");
    return 1;
  }
  printf("every file under configs/\n");
  char configs[2 * PATH_MAX];
  snprintf(configs, sizeof configs, "%s/configs", src);
  load_tree(configs);
  expect(n_loaded >= 7, "found base, four datasets, demo and paper");

  printf("base.cfg\n");
  struct dc_config *base = load_src("configs/base.cfg"), *def = calloc(1, sizeof *def);
  const char *diff = base && def && dc_config_defaults(def) == DC_OK ? dc_config_diff(base, def) : "(load failed)";
  if (diff) fprintf(stderr, "  base.cfg differs from the defaults at %s\n", diff);
  expect(diff == NULL, "base.cfg is exactly the built-in defaults (the paper's)");
  free(base);
  free(def);

  datasets();

  printf("experiments\n");
  struct dc_config *paper = load_src("configs/experiments/paper.cfg");
  int ok = paper && paper->bench.datasets.n == 6 && paper->bench.shots.n == 3 && paper->bench.shots.v[0] == 2 &&
           paper->bench.shots.v[1] == 8 && paper->bench.shots.v[2] == 20 && paper->bench.runs == 10;
  for (int i = 0; ok && i < paper->bench.datasets.n; i++) {
    struct dc_config *d = calloc(1, sizeof *d);
    ok = d && dc_config_load(d, paper->bench.datasets.v[i], NULL, 0, NULL) == DC_OK;
    free(d);
  }
  expect(ok, "paper.cfg: four datasets, MRNet with its three tasks (each file loads), shots 2, 8, 20, 10 runs");
  free(paper);
  struct dc_config *demo = load_src("configs/experiments/demo.cfg");
  expect(demo && demo->data.synthetic == DC_DATA_SYNTHETIC_DEMO && demo->model.embed_dim < 128 &&
             demo->run.backend == DC_RUN_BACKEND_CPU,
         "demo.cfg: the synthetic demo scene, a small model, CPU");
  free(demo);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
