/* `--config FILE` and repeated `--set key=value` for any verb, through getopt_long.
 *
 *   static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
 *   struct dc_cli_config co;
 *   dc_cli_config_init(&co);
 *   while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
 *     int r = dc_cli_config_option(&co, "pretrain", ch, optarg);
 *     if (r > 0) continue;            // --config or --set, taken
 *     if (r < 0) return usage error;  // message printed
 *     switch (ch) { ... the verb's own options ... }
 *   }
 *   dc_cli_config_load(&co, &cfg, origins);  // defaults < file < --set, checked
 *
 * DC_CLI_CONFIG_HELP is the two lines to put in the verb's usage text. */
#ifndef DIFFCLIP_CLI_CONFIG_OPTS_H
#define DIFFCLIP_CLI_CONFIG_OPTS_H

#include <getopt.h>

#include "diffclip/config/config.h"

#define DC_CLI_OPT_CONFIG 0x4300 /* getopt_long values, outside any short-option letter */
#define DC_CLI_OPT_SET 0x4301
#define DC_CLI_MAX_SETS 256

#define DC_CLI_CONFIG_OPTIONS                                 \
  {"config", required_argument, NULL, DC_CLI_OPT_CONFIG}, { \
    "set", required_argument, NULL, DC_CLI_OPT_SET          \
  }
#define DC_CLI_CONFIG_HELP                                                                     \
  "  --config FILE        configuration file (libconfig; keys in docs/config.md)\n"           \
  "  --set KEY=VALUE      override one key after the file (repeatable, applied in order)\n"

struct dc_cli_config {
  const char *file; /* NULL: built-in defaults only */
  int n_sets;
  const char *sets[DC_CLI_MAX_SETS]; /* point into argv */
};

void dc_cli_config_init(struct dc_cli_config *o);
/* 1 when `opt` was --config or --set (taken), 0 when it is not ours, -1 on a usage error
 * (a second --config, a --set without '=', too many --set), with a message on stderr. */
int dc_cli_config_option(struct dc_cli_config *o, const char *verb, int opt, const char *arg);
/* Built-in defaults < the file < the --set overrides, then the checks. `origins` may be
 * NULL. Errors are logged (DC_ERROR) with the file, line and key. */
/* After getopt_long returned '?' for argv[optind - 1]: when it is a mistyped long option,
 * prints the nearest of longopts ("did you mean '--config'?") and returns 1; else 0. */
int dc_cli_suggest_option(const char *verb, char **argv, const struct option *longopts);
enum dc_status dc_cli_config_load(const struct dc_cli_config *o, struct dc_config *cfg,
                                  struct dc_config_origins *origins);

#endif
