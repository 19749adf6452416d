/* The --config / --set options shared by the verbs (see config_opts.h). */
#include "cli/config_opts.h"

#include <stdio.h>
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
  return dc_config_load(cfg, o->file, o->sets, o->n_sets, origins);
}
