/* `diffclip config`: the resolved configuration (defaults < file < --set), its hash, or the
 * Markdown reference of every key, which is docs/config.md. Rank 0 prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/config_opts.h"

static void config_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip config [--config FILE] [--set KEY=VALUE ...] [--print | --hash | --reference]\n"
          "Resolves a configuration (built-in defaults < FILE and its @includes < --set) and checks it.\n\n"
          DC_CLI_CONFIG_HELP
          "  --print              print the resolved configuration, every key (the default)\n"
          "  --origins            with --print: say after each key where its value came from\n"
          "  --hash               print the SHA-256 of the resolved configuration\n"
          "  --out FILE           also write the resolved configuration to FILE\n"
          "  --reference          print the Markdown reference of every key (docs/config.md)\n"
          "  --help               this text\n");
}

/* The canonical text with "# from ORIGIN" after each key line. */
static void print_with_origins(const struct dc_config *cfg, const struct dc_config_origins *o) {
  char *text = dc_config_text(cfg);
  if (!text) return;
  int n;
  const struct dc_config_key *keys = dc_config_schema(&n);
  const char *group = "";
  size_t glen = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    const char *where = NULL;
    if (line[0] != ' ' && line[0] != '#' && line[0] != '}') {
      group = line;
      glen = strcspn(line, " ");
    } else if (line[0] == ' ') {
      char key[160];
      snprintf(key, sizeof key, "%.*s.%.*s", (int)glen, group, (int)strcspn(line + 2, " "), line + 2);
      for (int i = 0; i < n; i++)
        if (strcmp(keys[i].key, key) == 0) where = o->where[i];
    }
    printf(where ? "%-48s # %s\n" : "%s\n", line, where);
  }
  free(text);
}

int dc_cmd_config(struct dc_dist *d, int argc, char **argv) {
  enum { PRINT, HASH, REFERENCE } action = PRINT;
  int origins = 0;
  const char *out = NULL;
  static const struct option longopts[] = {DC_CLI_CONFIG_OPTIONS,
                                           {"print", no_argument, 0, 'p'},
                                           {"origins", no_argument, 0, 'o'},
                                           {"hash", no_argument, 0, 'H'},
                                           {"out", required_argument, 0, 'w'},
                                           {"reference", no_argument, 0, 'r'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  struct dc_cli_config co;
  dc_cli_config_init(&co);
  int ch, ok = 1;
  while (ok && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    int r = dc_cli_config_option(&co, "config", ch, optarg);
    if (r != 0) {
      ok = r > 0;
      continue;
    }
    switch (ch) {
      case 'p': action = PRINT; break;
      case 'o': origins = 1; break;
      case 'H': action = HASH; break;
      case 'w': out = optarg; break;
      case 'r': action = REFERENCE; break;
      case 'h': if (d->rank == 0) config_usage(stdout); return DC_EXIT_OK;
      default: ok = 0;
    }
  }
  if (!ok || optind != argc) {
    if (d->rank == 0) config_usage(stderr);
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  if (action == REFERENCE) return dc_config_reference(stdout) == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;

  struct dc_config *cfg = malloc(sizeof *cfg);
  struct dc_config_origins *orig = malloc(sizeof *orig);
  enum dc_status st = cfg && orig ? dc_cli_config_load(&co, cfg, orig) : DC_ERROR(DC_ERR_NOMEM, "configuration");
  if (st == DC_OK && out) st = dc_config_write_resolved(cfg, out);
  if (st == DC_OK && action == HASH) {
    char hex[DC_SHA256_HEX];
    st = dc_config_sha256(cfg, hex);
    if (st == DC_OK) printf("%s\n", hex);
  } else if (st == DC_OK && origins) {
    print_with_origins(cfg, orig);
  } else if (st == DC_OK) {
    char *text = dc_config_text(cfg);
    st = text ? DC_OK : DC_ERROR(DC_ERR_NOMEM, "configuration text");
    if (text) fputs(text, stdout);
    free(text);
  }
  free(cfg);
  free(orig);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_USAGE;
}
