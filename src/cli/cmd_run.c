/* `diffclip run`: the three stages of one configuration in one job: pretraining (resumed
 * when a checkpoint exists), then fine-tuning and evaluation for finetune.runs label draws
 * at finetune.shots. The multi-dataset report is `diffclip bench`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/config_opts.h"
#include "cli/launch_checks.h"
#include "diffclip/train/data_source.h"
#include "diffclip/train/finetune_run.h"
#include "diffclip/train/pretrain_run.h"

static void run_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N | srun] diffclip run --config FILE [--set KEY=VALUE ...]\n"
          "Pretraining (continued from its newest checkpoint when there is one), then fine-tuning and\n"
          "evaluation of finetune.runs label draws at finetune.shots shots per class. Results go to\n"
          "<run.out_dir>/<run.name>/finetune/shots_<k>/run_<r>/result.h5.\n"
          "The built-in demo with its report: diffclip bench --config configs/experiments/demo.cfg\n\n"
          DC_CLI_CONFIG_HELP "  --help               this text\n\n"
          "exit codes as for pretrain: 0, 1 error, 2 usage, 85 stopped early (rerun), 86 diverged.\n");
}

int dc_cmd_run(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int r = dc_cli_config_option(&co, "run", ch, optarg);
    if (r > 0) continue;
    if (d->rank == 0 && !(ch == '?' && dc_cli_suggest_option("run", argv, longopts)))
      run_usage(ch == 'h' && r == 0 ? stdout : stderr);
    return ch == 'h' && r == 0 ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind != argc || !co.file) {
    if (d->rank == 0) run_usage(stderr);
    return DC_EXIT_USAGE;
  }
  struct dc_config cfg;
  if (dc_dist_agree(d, dc_cli_config_load(&co, &cfg, NULL)) != DC_OK) return DC_EXIT_USAGE;
  if (dc_cli_launch_checks(d, &cfg) != DC_EXIT_OK) return DC_EXIT_USAGE;
  int code = DC_EXIT_ERROR;
  char pretrained[2100] = "";
  if (cfg.finetune.init == DC_FINETUNE_INIT_PRETRAINED) {
    enum dc_status pst = dc_pretrain_run(d, &cfg, &code);
    if (pst != DC_OK) return dc_cli_stage_exit(pst);
    if (code != DC_EXIT_OK) return code;
    if (dc_finetune_find_pretrained(d, &cfg, pretrained, sizeof pretrained) != DC_OK) return DC_EXIT_ERROR;
  }
  struct dc_data data; /* a scene, or an exam store (MRNet) */
  enum dc_status dst = dc_data_from_config(d, &cfg, &data);
  if (dst != DC_OK) return dc_cli_stage_exit(dst);
  enum dc_status st = dc_finetune_runs(d, &cfg, &data.samples, pretrained, 0);
  dc_data_free(&data);
  return dc_cli_stage_exit(st);
}
