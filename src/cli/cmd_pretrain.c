/* `diffclip pretrain`: stage-1 masked-diffusion pretraining on every rank of the job.
 * Exit codes: 0 done, 1 error, 2 usage, 85 stopped with a checkpoint (requeue me),
 * 86 diverged (see include/diffclip/pretrain_run.h). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/config_opts.h"
#include "cli/launch_checks.h"
#include "diffclip/train/pretrain_run.h"

static void pretrain_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N | srun] diffclip pretrain --config FILE [--set KEY=VALUE ...]\n"
          "Masked-diffusion pretraining of the scene named by data.scene; the global batch is split\n"
          "over the ranks. Checkpoints go to <run.out_dir>/<run.name>/ckpt; with pretrain.resume =\n"
          "\"auto\" a rerun of the same command continues from the newest valid one.\n\n" DC_CLI_CONFIG_HELP
          "  --help               this text\n\n"
          "exit codes: 0 finished, 1 error, 2 usage, 85 stopped early with a checkpoint (SIGTERM,\n"
          "SIGUSR2 or pretrain.max_wall_s): requeue, 86 diverged. SIGUSR1: checkpoint and go on.\n");
}

int dc_cmd_pretrain(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int r = dc_cli_config_option(&co, "pretrain", ch, optarg);
    if (r > 0) continue;
    if (ch == 'h' && r == 0) {
      if (d->rank == 0) pretrain_usage(stdout);
      return DC_EXIT_OK;
    }
    if (d->rank == 0 && !(ch == '?' && dc_cli_suggest_option("pretrain", argv, longopts))) pretrain_usage(stderr);
    return DC_EXIT_USAGE;
  }
  if (optind != argc || !co.file) {
    if (d->rank == 0 && !co.file && optind == argc)
      fprintf(stderr, "diffclip pretrain: --config FILE is required (the defaults name no data; start from "
                      "configs/experiments/demo.cfg or a dataset's file in configs/)\n");
    if (d->rank == 0) pretrain_usage(stderr);
    return DC_EXIT_USAGE;
  }
  struct dc_config cfg;
  if (dc_dist_agree(d, dc_cli_config_load(&co, &cfg, NULL)) != DC_OK) return DC_EXIT_USAGE;
  /* launcher, node-local ranks, GPUs per node and the rank -> host -> device table */
  if (dc_cli_launch_checks(d, &cfg) != DC_EXIT_OK) return DC_EXIT_USAGE;
  int code = DC_EXIT_ERROR;
  enum dc_status st = dc_pretrain_run(d, &cfg, &code);
  if (st != DC_OK) return dc_cli_stage_exit(st);
  return code;
}
