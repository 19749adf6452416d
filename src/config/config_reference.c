/* The Markdown configuration reference (docs/config.md), generated from the schema so it
 * cannot drift from the code: a ctest regenerates it and compares it with the committed
 * file. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static const char intro[] =
    "# Configuration reference\n"
    "\n"
    "<!-- Generated from src/config/config_schema.c by `diffclip config --reference`; do not edit.\n"
    "     The test config_reference_doc fails when this file and the schema disagree:\n"
    "     regenerate it with  build/diffclip config --reference > docs/config.md  -->\n"
    "\n"
    "Every verb reads one configuration: `diffclip VERB --config FILE --set key=value ...`.\n"
    "`diffclip config --config FILE --set ...` prints the resolved configuration (every key),\n"
    "`--origins` adds where each value came from, `--hash` prints its SHA-256.\n"
    "\n"
    "## Files\n"
    "\n"
    "Configuration files use the [libconfig](https://hyperrealm.github.io/libconfig/) syntax,\n"
    "one group per section; a file names only the keys it changes:\n"
    "\n"
    "```\n"
    "@include \"../base.cfg\"      # relative to this file's folder\n"
    "data = {\n"
    "  scene = \"../data/houston2013.h5\";   # paths: relative to this file's folder\n"
    "  classes = 15;\n"
    "};\n"
    "pretrain = { epochs = 100; lr = 2e-4; };\n"
    "```\n"
    "\n"
    "- **Precedence:** built-in defaults (below) < the file and its includes < `--set key=value`\n"
    "  overrides, in command-line order.\n"
    "- **`@include \"path\"`** stands at the start of a line, outside any group. The path is\n"
    "  relative to the folder of the file that contains the directive, so nested includes in\n"
    "  other folders work from any working directory. A file's settings and includes apply in\n"
    "  the order they appear: a later setting overrides an earlier one, whichever file it came\n"
    "  from. Include cycles are errors.\n"
    "- **Paths** (type `path`) written in a file are relative to that file's folder; given by\n"
    "  `--set`, relative to the working directory. They are stored absolute. Output folders\n"
    "  (`run.out_dir`, `bench.out_dir`) are strings, relative to the working directory.\n"
    "- **`--set` values** are read by the key's type: `--set pretrain.lr=2e-4`,\n"
    "  `--set finetune.prompt=p5`, `--set bench.shots=2,8` (or `[2, 8]`), strings with or\n"
    "  without double quotes, booleans as `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).\n"
    "- **In files**, an `int` key takes an integer, a `float` key an integer or a float, a\n"
    "  `bool` key `true` or `false`, string keys a quoted string, list keys `[...]` or `(...)`.\n"
    "\n"
    "## Checks\n"
    "\n"
    "Every key is checked before any work starts. An unknown key is an error naming the file\n"
    "and line and suggesting the nearest key; a value of the wrong type, out of range or not\n"
    "among the choices is an error naming the key, the file and line (or the `--set`), and what\n"
    "was expected. Then these rules join several keys:\n"
    "\n";

static const char outro[] =
    "## The resolved configuration\n"
    "\n"
    "`diffclip config` prints, and every run folder keeps, the resolved configuration: every\n"
    "key in the order above, paths absolute, numbers in their shortest exact form. It loads\n"
    "back to the same values. Its SHA-256 (`diffclip config --hash`) is the configuration\n"
    "hash that checkpoints record.\n";

/* Markdown table cells: '|' escaped. */
static void cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '|') fputc('\\', out);
    fputc(*s, out);
  }
}

static void accepted(FILE *out, const struct dc_config_key *k) {
  char lo[32], hi[32];
  snprintf(lo, sizeof lo, "%.15g", k->min);
  snprintf(hi, sizeof hi, "%.15g", k->max);
  int open_top = k->max >= (double)INT_MAX;
  switch (k->type) {
    case DC_CONFIG_INT:
    case DC_CONFIG_DOUBLE:
      if (open_top) fprintf(out, "&ge; %s", lo);
      else fprintf(out, "%s to %s", lo, hi);
      return;
    case DC_CONFIG_BOOL: fprintf(out, "`true`, `false`"); return;
    case DC_CONFIG_STRING: fprintf(out, "text"); return;
    case DC_CONFIG_PATH: fprintf(out, "a path"); return;
    case DC_CONFIG_ENUM:
      for (int i = 0; k->choices[i]; i++) fprintf(out, "%s`\"%s\"`", i ? ", " : "", k->choices[i]);
      return;
    case DC_CONFIG_INT_LIST:
      if (open_top) fprintf(out, "up to %d ints, each &ge; %s", DC_CONFIG_LIST, lo);
      else fprintf(out, "up to %d ints, each %s to %s", DC_CONFIG_LIST, lo, hi);
      return;
    case DC_CONFIG_STRING_LIST: fprintf(out, "up to %d strings", DC_CONFIG_LIST); return;
    case DC_CONFIG_PATH_LIST: fprintf(out, "up to %d paths", DC_CONFIG_LIST); return;
  }
}

enum dc_status dc_config_reference(FILE *out) {
  struct dc_config *def = malloc(sizeof *def);
  DC_CHECK_ALLOC(def);
  enum dc_status st = dc_config_defaults(def);
  if (st != DC_OK) {
    free(def);
    return st;
  }
  int n, ng;
  const struct dc_config_key *keys = dc_config_schema(&n);
  const struct dc_config_group *g = dc_config_groups(&ng);
  fputs(intro, out);
  for (int i = 0; dc_config_rules[i]; i++) fprintf(out, "- %s\n", dc_config_rules[i]);
  fputc('\n', out);
  for (int j = 0; j < ng; j++) {
    size_t gl = strlen(g[j].name);
    fprintf(out, "## `%s`\n\n%s\n\n", g[j].name, g[j].doc);
    fprintf(out, "| key | type | default | accepted | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
      if (strncmp(keys[i].key, g[j].name, gl) != 0 || keys[i].key[gl] != '.') continue;
      char v[2 * DC_CONFIG_STR];
      dc_config_value_literal(def, &keys[i], v, sizeof v);
      fprintf(out, "| `%s` | %s | `", keys[i].key, dc_config_type_name(keys[i].type));
      cell(out, v);
      fputs("` | ", out);
      accepted(out, &keys[i]);
      fputs(" | ", out);
      cell(out, keys[i].doc);
      fputs(" |\n", out);
    }
    fputc('\n', out);
  }
  fputs(outro, out);
  free(def);
  return ferror(out) ? DC_ERROR(DC_ERR_IO, "writing the configuration reference failed") : DC_OK;
}
