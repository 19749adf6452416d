/* `diffclip report --bench-dir DIR [--out DIR]`: remakes the benchmark report from a bench
 * folder alone (report.h, dc_report_scan): the entries are its sub-folders, the shot
 * settings and runs come from the shots_<k>/run_<r> folder names, skipped.txt holds a skip
 * reason, bench_info.txt (written with every report) the provenance. Rank 0 does the work;
 * the other ranks have nothing to do. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "diffclip/report/report.h"

static void report_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip report --bench-dir DIR [--out DIR] [--map-scale N]\n"
          "Remakes the benchmark report from the result files of a bench folder\n"
          "(DIR/<entry>/shots_<k>/run_<r>/result.h5, DIR/<entry>/pretrain/metrics.jsonl,\n"
          "DIR/<entry>/skipped.txt, DIR/bench_info.txt): report.md, report.html (self-contained),\n"
          "report.json, one CSV per table, PNG maps and SVG curves. Missing result files are\n"
          "reported, not fatal. Exit code 1 when no report could be written.\n\n"
          "  --bench-dir DIR  the bench folder (bench.out_dir of `diffclip bench`)\n"
          "  --out DIR        the report folder (default DIR/report; an earlier report there is replaced,\n"
          "                   any other non-empty folder is refused)\n"
          "  --map-scale N    upscale classification maps N times (default: the one recorded, else automatic)\n"
          "  --help           this text\n");
}

int dc_cmd_report(struct dc_dist *d, int argc, char **argv) {
  static const struct option longopts[] = {{"bench-dir", required_argument, 0, 'b'},
                                           {"out", required_argument, 0, 'o'},
                                           {"map-scale", required_argument, 0, 's'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  const char *bench = NULL, *out = NULL;
  int scale = -1, ch, ok = 1;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'b': bench = optarg; break;
      case 'o': out = optarg; break;
      case 's':
        ok = dc_cli_parse_int("report", "map-scale", optarg, 0, &scale);
        if (ok && scale > 64) {
          if (d->rank == 0) fprintf(stderr, "diffclip report: --map-scale is at most 64\n");
          ok = 0;
        }
        break;
      case 'h':
        if (d->rank == 0) report_usage(stdout);
        return DC_EXIT_OK;
      default: ok = 0;
    }
  }
  if (!ok || optind != argc || !bench) {
    if (d->rank == 0) {
      if (ok && !bench) fprintf(stderr, "diffclip report: --bench-dir is required\n");
      if (ok && optind != argc) fprintf(stderr, "diffclip report: unexpected argument '%s'\n", argv[optind]);
      report_usage(stderr);
    }
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK;
  struct dc_report_spec *spec = malloc(sizeof *spec);
  if (!spec) {
    fprintf(stderr, "diffclip report: out of memory\n");
    return DC_EXIT_ERROR;
  }
  enum dc_status st = dc_report_scan(bench, out, spec);
  if (st == DC_OK) {
    if (scale >= 0) spec->map_scale = scale;
    st = dc_report_write(spec);
  }
  if (st == DC_OK)
    printf("report: %s%s/report.html\n", spec->report_dir[0] ? spec->report_dir : bench, spec->report_dir[0] ? "" : "/report");
  free(spec);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
}
