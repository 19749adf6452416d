/* The diffclip command's verbs. Each returns a process exit code; a verb that fails on
 * one rank of many has already made every rank stop (dc_dist_agree / MPI_Abort). */
#ifndef DIFFCLIP_CLI_H
#define DIFFCLIP_CLI_H

#include "diffclip/dist/dist.h"

#define DC_EXIT_OK 0
#define DC_EXIT_ERROR 1
#define DC_EXIT_USAGE 2
/* A stage's status as the command's exit code: a bad argument or configuration value is a
 * usage error (2), a stop for a requeue 85, anything else 1. A stage's error may be one
 * rank's alone, so main ends every rank (MPI_Abort) for both 1 and a stage's 2
 * (DC_EXIT_STAGE_USAGE, exit code 2). */
#define DC_EXIT_STAGE_USAGE 0x102
int dc_cli_stage_exit(enum dc_status st);

int dc_cmd_run(struct dc_dist *d, int argc, char **argv);
int dc_cmd_bench_speed(struct dc_dist *d, int argc, char **argv);
int dc_cmd_synth(struct dc_dist *d, int argc, char **argv);
int dc_cmd_info(struct dc_dist *d, int argc, char **argv);
int dc_cmd_prepare(struct dc_dist *d, int argc, char **argv);
int dc_cmd_config(struct dc_dist *d, int argc, char **argv);
int dc_cmd_pretrain(struct dc_dist *d, int argc, char **argv);
int dc_cmd_verify(struct dc_dist *d, int argc, char **argv);
int dc_cmd_finetune(struct dc_dist *d, int argc, char **argv);
int dc_cmd_evaluate(struct dc_dist *d, int argc, char **argv);
int dc_cmd_predict(struct dc_dist *d, int argc, char **argv);
int dc_cmd_bench(struct dc_dist *d, int argc, char **argv);
int dc_cmd_report(struct dc_dist *d, int argc, char **argv);

/* Parses a positive int option value; prints a usage error naming the option. */
int dc_cli_parse_int(const char *verb, const char *option, const char *text, int min, int *out);

#endif
