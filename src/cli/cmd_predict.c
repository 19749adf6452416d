/* `diffclip predict`: a fine-tuned checkpoint applied to every pixel of a scene (the one
 * it was fine-tuned on, or another with the same modalities and band counts), sharded
 * over the ranks; maps and scores in HDF5, GeoTIFF and PNG (train/predict_run.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/config_opts.h"
#include "diffclip/train/predict_run.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N | srun] diffclip predict --checkpoint CKPT --out DIR [--scene SCENE]\n"
          "                                             [--training-scene FILE] [--scores all|top2]\n"
          "                                             [--set KEY=VALUE ...]\n"
          "Maps a scene with a fine-tuned model: every pixel's class and class probabilities,\n"
          "classified in shares over the ranks. Writes into DIR: prediction.h5 (class map, top-2\n"
          "classes and probabilities, every class's probability), prediction.tif (the class map\n"
          "with colour table and class names, on the scene's georeference), probability.tif (one\n"
          "float32 band a class), prediction.png and classes.csv (value, name, colour, pixels).\n\n"
          "  --checkpoint CKPT    a fine-tuned model: <run folder>/ckpt/ckpt_finetuned.h5, or the\n"
          "                       run folder (<out_dir>/<name>/finetune/shots_<k>/run_<r>)\n"
          "  --out DIR            the folder for the outputs (made when missing)\n"
          "  --scene SCENE        the scene to map (a file of `diffclip prepare` or `synth`) with the\n"
          "                       training scene's modalities and band counts; default: that scene\n"
          "  --training-scene FILE  the scene the model was fine-tuned on, when it is no longer at\n"
          "                       its data.scene path (its classes and normalisation are used)\n"
          "  --scores all|top2    every class's probability (default), or the two likeliest only\n"
          "                       (smaller files: no probability.tif, no /map/probability)\n"
          "  --set KEY=VALUE      a key that does not change the prediction: %s\n"
          "  --help               this text\n",
          dc_predict_settable_keys());
}

enum { OPT_CKPT = 0x5000, OPT_OUT, OPT_SCENE, OPT_TRAIN, OPT_SCORES };

int dc_cmd_predict(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {
      {"checkpoint", required_argument, 0, OPT_CKPT}, {"out", required_argument, 0, OPT_OUT},
      {"scene", required_argument, 0, OPT_SCENE},     {"training-scene", required_argument, 0, OPT_TRAIN},
      {"scores", required_argument, 0, OPT_SCORES},   DC_CLI_CONFIG_OPTIONS,
      {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  struct dc_predict_opts o = {0};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (ch == DC_CLI_OPT_CONFIG) {
      if (d->rank == 0)
        fprintf(stderr, "diffclip predict: takes no --config: the model's configuration comes from its checkpoint\n");
      return DC_EXIT_USAGE;
    }
    int r = dc_cli_config_option(&co, "predict", ch, optarg);
    if (r > 0) continue;
    if (r < 0) return DC_EXIT_USAGE;
    switch (ch) {
      case OPT_CKPT: o.checkpoint = optarg; break;
      case OPT_OUT: o.out_dir = optarg; break;
      case OPT_SCENE: o.scene = optarg; break;
      case OPT_TRAIN: o.training_scene = optarg; break;
      case OPT_SCORES:
        if (strcmp(optarg, "all") == 0) o.scores = DC_PREDICT_SCORES_ALL;
        else if (strcmp(optarg, "top2") == 0) o.scores = DC_PREDICT_SCORES_TOP2;
        else {
          if (d->rank == 0) fprintf(stderr, "diffclip predict: --scores expects all or top2, got '%s'\n", optarg);
          return DC_EXIT_USAGE;
        }
        break;
      case 'h':
        if (d->rank == 0) usage(stdout);
        return DC_EXIT_OK;
      default:
        if (d->rank == 0 && !(ch == '?' && dc_cli_suggest_option("predict", argv, longopts))) usage(stderr);
        return DC_EXIT_USAGE;
    }
  }
  if (optind != argc || !o.checkpoint || !o.out_dir) {
    if (d->rank == 0) {
      if (optind != argc) fprintf(stderr, "diffclip predict: unexpected argument '%s'\n", argv[optind]);
      else fprintf(stderr, "diffclip predict: --checkpoint CKPT and --out DIR are required\n");
      usage(stderr);
    }
    return DC_EXIT_USAGE;
  }
  o.sets = co.sets, o.n_sets = co.n_sets;
  return dc_cli_stage_exit(dc_predict(d, &o));
}
