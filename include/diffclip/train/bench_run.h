/* `diffclip bench`: every dataset entry of bench.datasets (each a configuration file
 * applied on top of the bench configuration) x every shot setting of bench.shots x runs
 * 0 .. bench.runs-1: pretrain (once per entry, or once per run), fine-tune and evaluate,
 * then the report (include/diffclip/report.h). Entries whose data are absent are reported
 * as skipped with the reason, and the others still run. The bench folder is bench.out_dir;
 * finished pieces (a pretraining run, a run's result.h5) are reused, so a killed bench
 * resumes where it stopped. */
#ifndef DIFFCLIP_BENCH_RUN_H
#define DIFFCLIP_BENCH_RUN_H

#include "diffclip/config/config.h"
#include "diffclip/dist/dist.h"

/* config_file: the bench configuration (for re-reading entries on top of it); sets: the
 * command line's --set overrides, applied to every entry. *exit_code as for pretraining
 * (85 when a pretraining run stopped early). */
enum dc_status dc_bench_run(const struct dc_dist *d, const char *config_file, const char *const *sets, int n_sets,
                            int *exit_code);

#endif
