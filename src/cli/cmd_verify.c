/* `diffclip verify CKPT...`: checks checkpoints on this process alone (format, every
 * dataset readable and matching its Fletcher32 checksum, no NaN), one line each. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "diffclip/io/checkpoint.h"

int dc_cmd_verify(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    FILE *f = ch == 'h' ? stdout : stderr;
    if (d->rank == 0)
      fprintf(f, "usage: diffclip verify CHECKPOINT.h5 [...]\n"
                 "Checks each checkpoint: format, every dataset readable with a valid checksum, no NaN.\n"
                 "Exit code 0 when all are valid, 1 otherwise.\n");
    return ch == 'h' ? DC_EXIT_OK : DC_EXIT_USAGE;
  }
  if (optind == argc) {
    if (d->rank == 0) fprintf(stderr, "diffclip verify: name at least one checkpoint file\n");
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  int bad = 0;
  for (int i = optind; i < argc; i++) bad += dc_ckpt_verify(argv[i], 1) != DC_OK;
  return bad ? DC_EXIT_ERROR : DC_EXIT_OK;
}
