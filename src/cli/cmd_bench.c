/* `diffclip bench`: the multi-dataset benchmark and its report (see bench_run.h). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/config_opts.h"
#include "cli/launch_checks.h"
#include "diffclip/train/bench_run.h"

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N | srun] diffclip bench --config FILE [--set KEY=VALUE ...]\n"
          "Runs every entry of bench.datasets (configuration files applied on top of FILE) for every\n"
          "shot setting of bench.shots and runs 0..bench.runs-1: pretraining, fine-tuning, evaluation;\n"
          "then writes the report to <bench.out_dir>/report (report.md, report.html, report.json, CSV,\n"
          "PNG maps, SVG curves). Entries whose data are missing are reported as skipped. A rerun\n"
          "reuses every finished piece.\n\n" DC_CLI_CONFIG_HELP
          "  --help               this text\n\n"
          "exit codes: 0 done, 1 error, 2 usage, 85 a pretraining stopped early (rerun to continue).\n");
}

int dc_cmd_bench(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int r = dc_cli_config_option(&co, "bench", ch, optarg);
    if (r > 0) continue;
    if (d->rank == 0 && !(ch == '?' && dc_cli_suggest_option("bench", argv, longopts)))
      bench_usage(ch == 'h' && r == 0 ? stdout : stderr);
    return ch == 'h' && r == 0 ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind != argc || !co.file) {
    if (d->rank == 0 && !co.file && optind == argc)
      fprintf(stderr, "diffclip bench: --config FILE is required (for example configs/experiments/demo.cfg)\n");
    if (d->rank == 0) bench_usage(stderr);
    return DC_EXIT_USAGE;
  }
  /* the bench configuration's backend decides the GPUs the launch checks count */
  struct dc_config cfg;
  if (dc_dist_agree(d, dc_cli_config_load(&co, &cfg, NULL)) != DC_OK) return DC_EXIT_USAGE;
  if (dc_cli_launch_checks(d, &cfg) != DC_EXIT_OK) return DC_EXIT_USAGE;
  int code = DC_EXIT_ERROR;
  enum dc_status st = dc_bench_run(d, co.file, co.sets, co.n_sets, &code);
  if (st != DC_OK) return dc_cli_stage_exit(st);
  return code;
}
