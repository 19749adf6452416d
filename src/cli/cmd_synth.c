/* `diffclip synth --preset NAME --seed S --out FILE`: writes a synthetic scene (see
 * diffclip/synth.h and docs/data.md). Rank 0 does the work; the scene is a pure function
 * of (preset, seed), so any rank would write the same bytes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/data/synth.h"

static void synth_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip synth --preset NAME [--seed S] --out SCENE.h5\n"
          "Writes a deterministic synthetic hyperspectral + LiDAR scene in the canonical scene format.\n\n"
          "  --preset NAME   one of:\n");
  for (int i = 0; i < dc_synth_n_presets(); i++)
    fprintf(f, "                    %-12s %s\n", dc_synth_preset_name(i), dc_synth_preset_summary(i));
  fprintf(f,
          "  --seed S        seed of every random draw (default 0); same seed, same scene\n"
          "  --out FILE      the scene file, written atomically (FILE.tmp.<pid>, then renamed)\n"
          "  --help          this text\n");
}

int dc_cmd_synth(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {{"preset", required_argument, 0, 'p'},
                                           {"seed", required_argument, 0, 's'},
                                           {"out", required_argument, 0, 'o'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  const char *preset = NULL, *out = NULL;
  int seed = 0, ch, ok = 1;
  while (ok && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'p': preset = optarg; break;
      case 's': ok = dc_cli_parse_int("synth", "seed", optarg, 0, &seed); break;
      case 'o': out = optarg; break;
      case 'h': if (d->rank == 0) synth_usage(stdout); return DC_EXIT_OK;
      default: ok = 0;
    }
  }
  if (ok && (!preset || !out)) {
    if (d->rank == 0) fprintf(stderr, "diffclip synth: --preset and --out are required\n");
    ok = 0;
  }
  if (!ok || optind != argc) {
    if (d->rank == 0) synth_usage(stderr);
    return DC_EXIT_USAGE;
  }
  int known = 0;
  for (int i = 0; i < dc_synth_n_presets(); i++) known |= strcmp(preset, dc_synth_preset_name(i)) == 0;
  if (!known) {
    if (d->rank == 0) {
      fprintf(stderr, "diffclip synth: unknown preset '%s'\n", preset);
      synth_usage(stderr);
    }
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  double t0 = dc_now_s();
  struct dc_scene s;
  enum dc_status st = dc_synth_scene(preset, (uint64_t)seed, &s);
  if (st != DC_OK) return DC_EXIT_ERROR;
  st = dc_scene_write(out, &s);
  if (st == DC_OK) {
    size_t n_train = 0, n_test = 0;
    for (size_t i = 0; i < (size_t)s.height * s.width; i++) n_train += s.train[i] != 0, n_test += s.test[i] != 0;
    printf("wrote %s: %s, %d x %d pixels, %s %d bands + %s %d band, %d classes, %zu train / %zu test pixels (%.1f s)\n",
           out, s.name, s.height, s.width, s.modality_names[0], s.bands[0], s.modality_names[1], s.bands[1],
           s.n_classes, n_train, n_test, dc_now_s() - t0);
  }
  dc_scene_free(&s);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
}
