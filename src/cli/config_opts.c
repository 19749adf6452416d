/* The --config / --set options shared by the verbs (see config_opts.h). */
#include "cli/config_opts.h"

#include "diffclip/backend/backend.h"

#include "diffclip/core/suggest.h"
#include "diffclip/train/run_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dc_cli_config_init(struct dc_cli_config *o) { memset(o, 0, sizeof *o); }

int dc_cli_config_option(struct dc_cli_config *o, const char *verb, int opt, const char *arg) {
  if (opt == DC_CLI_OPT_CONFIG) {
    if (o->file) {
      fprintf(stderr, "diffclip %s: --config given twice ('%s', '%s'); use @include to combine files\n", verb,
              o->file, arg);
      return -1;
    }
    o->file = arg;
    return 1;
  }
  if (opt != DC_CLI_OPT_SET) return 0;
  if (!strchr(arg, '=') || arg[0] == '=') {
    fprintf(stderr, "diffclip %s: --set expects KEY=VALUE, got '%s'\n", verb, arg);
    return -1;
  }
  if (o->n_sets >= DC_CLI_MAX_SETS) {
    fprintf(stderr, "diffclip %s: more than %d --set options\n", verb, DC_CLI_MAX_SETS);
    return -1;
  }
  o->sets[o->n_sets++] = arg;
  return 1;
}

enum dc_status dc_cli_config_load(const struct dc_cli_config *o, struct dc_config *cfg,
                                  struct dc_config_origins *origins) {
  enum dc_status st = dc_config_load(cfg, o->file, o->sets, o->n_sets, origins);
  /* the configuration's logging from here on (DIFFCLIP_LOG_LEVEL=debug, read at start-up,
   * holds the debug level) */
  if (st == DC_OK) dc_run_env_apply(cfg);
  return st;
}

int dc_cli_suggest_option(const char *verb, char **argv, const struct option *longopts) {
  if (optind < 1) return 0;
  const char *arg = argv[optind - 1];
  if (strncmp(arg, "--", 2) != 0) return 0;
  char word[64];
  snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
  const char *names[64];
  int n = 0;
  for (const struct option *o = longopts; o->name && n < 64; o++) names[n++] = o->name;
  for (int i = 0; i < n; i++)
    if (strcmp(word, names[i]) == 0) return 0; /* known: a missing value, getopt said so */
  int near = dc_suggest(word, names, n);
  if (near < 0) return 0;
  fprintf(stderr, "diffclip %s: did you mean '--%s'? (diffclip %s --help lists the options)\n", verb, names[near], verb);
  return 1;
}
