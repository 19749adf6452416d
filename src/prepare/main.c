/* diffclip-prepare: the serial ingestion program. It links matio and GDAL (and through
 * them Debian's serial HDF5), which the MPI program must never load; `diffclip prepare`
 * runs this program with the same arguments. Exit codes: 0 done, 1 refused input or
 * failure (nothing written), 2 usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "prepare/prepare.h"
#include "prepare/readers.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: diffclip prepare --manifest FILE --raw DIR --out SCENE.h5 [options]\n"
          "\n"
          "Checks the raw files a dataset manifest names (presence, SHA-256, shapes, band counts,\n"
          "label ranges, NaN/Inf) and writes the canonical scene (or, for MRNet, the exam store).\n"
          "Nothing is written when a check fails.\n"
          "\n"
          "  --manifest FILE     data_manifests/<dataset>.cfg\n"
          "  --raw DIR           the folder holding the files the manifest names\n"
          "  --out FILE          the file to write (via a temporary name, renamed at the end)\n"
          "  --variant NAME      use this file variant (default: the first one whose files are all present)\n"
          "  --nan-policy P      error (default) or fill (NaN/Inf -> the band median); overrides the manifest\n"
          "  --partial           exam stores (MRNet): leave out the exams whose volumes are missing (a partial\n"
          "                      download), with a warning counting them; their labels must still be there\n"
          "  --verbose           also print the readers' own diagnostics\n"
          "  --help              this text\n");
}

int main(int argc, char **argv) {
  struct dc_prepare_options o = {NULL, NULL, NULL, NULL, -1, 0};
  static const struct option opts[] = {
      {"manifest", required_argument, NULL, 'm'}, {"raw", required_argument, NULL, 'r'},
      {"out", required_argument, NULL, 'o'},      {"variant", required_argument, NULL, 'v'},
      {"nan-policy", required_argument, NULL, 'n'}, {"verbose", no_argument, NULL, 'V'},
      {"partial", no_argument, NULL, 'p'},        {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'm': o.manifest = optarg; break;
      case 'r': o.raw = optarg; break;
      case 'o': o.out = optarg; break;
      case 'v': o.variant = optarg; break;
      case 'V': dc_log_set_level(DC_LOG_DEBUG); break;
      case 'p': o.partial = 1; break;
      case 'n':
        if (strcmp(optarg, "error") == 0) {
          o.nan_policy = DC_NAN_ERROR;
        } else if (strcmp(optarg, "fill") == 0) {
          o.nan_policy = DC_NAN_FILL;
        } else {
          fprintf(stderr, "diffclip prepare: --nan-policy expects 'error' or 'fill', got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'h': usage(stdout); return 0;
      default:
        fprintf(stderr, "diffclip prepare: unknown or incomplete option '%s'\n\n", argv[optind - 1]);
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "diffclip prepare: unexpected argument '%s'\n\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  if (!o.manifest || !o.raw || !o.out) {
    fprintf(stderr, "diffclip prepare: --manifest, --raw and --out are required\n\n");
    usage(stderr);
    return 2;
  }
  dc_prepare_readers_init();
  enum dc_status st = dc_prepare_run(&o);
  if (st != DC_OK) {
    fprintf(stderr, "diffclip prepare: nothing was written (the error above says why)\n");
    return 1;
  }
  return 0;
}
