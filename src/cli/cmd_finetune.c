/* `diffclip finetune` and `diffclip evaluate`: stage 2 for finetune.runs label draws
 * (runs first_run ..) at k = finetune.shots. finetune trains (rank 0), then every rank
 * evaluates its share; evaluate re-evaluates the fine-tuned checkpoints. Results go to
 * <run.out_dir>/<run.name>/finetune/shots_<k>/run_<r>/ (result.h5, ckpt/). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/config_opts.h"
#include "cli/launch_checks.h"
#include "diffclip/train/data_source.h"
#include "diffclip/train/finetune_run.h"
#include "diffclip/train/pretrain_run.h"

static void usage(FILE *f, const char *verb) {
  fprintf(f,
          "usage: [mpirun -np N | srun] diffclip %s --config FILE [--set KEY=VALUE ...]\n"
          "%s for finetune.runs label draws of finetune.shots per class; results in\n"
          "<run.out_dir>/<run.name>/finetune/shots_<k>/run_<r>/result.h5.\n\n" DC_CLI_CONFIG_HELP
          "  --help               this text\n",
          verb,
          strcmp(verb, "finetune") == 0
              ? "Few-shot contrastive fine-tuning from the stage-1 checkpoint (rank 0), then evaluation\n"
                "of the test pixels and of the whole scene sharded over the ranks,"
              : "Evaluation of the fine-tuned checkpoints on the test pixels and the whole scene,\n"
                "sharded over the ranks,");
}

static int stage2(struct dc_dist *d, int argc, char **argv, const char *verb) {
  static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int r = dc_cli_config_option(&co, verb, ch, optarg);
    if (r > 0) continue;
    if (d->rank == 0 && !(ch == '?' && dc_cli_suggest_option(verb, argv, longopts)))
      usage(ch == 'h' && r == 0 ? stdout : stderr, verb);
    return ch == 'h' && r == 0 ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind != argc || !co.file) {
    if (d->rank == 0 && !co.file && optind == argc)
      fprintf(stderr, "diffclip %s: --config FILE is required (the configuration its pretraining ran with)\n", verb);
    if (d->rank == 0) usage(stderr, verb);
    return DC_EXIT_USAGE;
  }
  struct dc_config cfg;
  if (dc_dist_agree(d, dc_cli_config_load(&co, &cfg, NULL)) != DC_OK) return DC_EXIT_USAGE;
  if (dc_cli_config_agree(d, &cfg) != DC_EXIT_OK) return DC_EXIT_USAGE;
  int evaluate = strcmp(verb, "evaluate") == 0;
  char pretrained[2100] = "";
  if (!evaluate && cfg.finetune.init == DC_FINETUNE_INIT_PRETRAINED &&
      dc_finetune_find_pretrained(d, &cfg, pretrained, sizeof pretrained) != DC_OK)
    return DC_EXIT_ERROR;
  struct dc_data data; /* a scene, or an exam store (MRNet) */
  enum dc_status dst = dc_data_from_config(d, &cfg, &data);
  if (dst != DC_OK) return dc_cli_stage_exit(dst);
  enum dc_status st = dc_finetune_runs(d, &cfg, &data.samples, pretrained, evaluate);
  dc_data_free(&data);
  return dc_cli_stage_exit(st);
}

int dc_cmd_finetune(struct dc_dist *d, int argc, char **argv) { return stage2(d, argc, argv, "finetune"); }
int dc_cmd_evaluate(struct dc_dist *d, int argc, char **argv) { return stage2(d, argc, argv, "evaluate"); }
