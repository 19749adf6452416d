/* diffclip: the command. Brings MPI up, dispatches to a verb, and turns a failure into
 * one message and an exit code on every rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "diffclip/backend/backend.h"
#include "diffclip/core/suggest.h"
#include "diffclip/train/pretrain_run.h"

struct verb {
  const char *name;
  int (*run)(struct dc_dist *d, int argc, char **argv);
  const char *summary;
};

static const struct verb verbs[] = {
    {"run", dc_cmd_run, "pretrain, fine-tune and evaluate one configuration in one job"},
    {"bench-speed", dc_cmd_bench_speed, "time training and inference steps at the paper's sizes"},
    {"synth", dc_cmd_synth, "write a deterministic synthetic scene (presets tiny, demo, trento-like)"},
    {"info", dc_cmd_info, "summarise a scene (grid, modalities, classes, provenance) or an exam store"},
    {"prepare", dc_cmd_prepare, "check a dataset's raw files against its manifest and write the canonical scene"},
    {"config", dc_cmd_config, "print the resolved configuration, its hash, or the key reference"},
    {"pretrain", dc_cmd_pretrain, "masked-diffusion pretraining on every rank, checkpointed and resumable"},
    {"finetune", dc_cmd_finetune, "few-shot contrastive fine-tuning and evaluation, per run (label draw)"},
    {"evaluate", dc_cmd_evaluate, "evaluate fine-tuned checkpoints: metrics and the whole-scene map"},
    {"predict", dc_cmd_predict, "map a scene with a fine-tuned model: classes and scores in HDF5, GeoTIFF and PNG"},
    {"bench", dc_cmd_bench, "every dataset x shot setting x run, then the report (report.md, .html, .json, maps, curves)"},
    {"report", dc_cmd_report, "remake the benchmark report from a bench folder (rank 0)"},
    {"verify", dc_cmd_verify, "check files diffclip wrote: checkpoints, scenes, exam stores, results"},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: diffclip <verb> [options]     (diffclip <verb> --help for its options)\n"
          "       mpirun -np N diffclip <verb> [options]\n\nverbs:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) fprintf(f, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
  fprintf(f, "\n  --help       this text\n  --version    the program version\n");
}

int dc_cli_parse_int(const char *verb, const char *option, const char *text, int min, int *out) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < min || v > 1000000000L) {
    fprintf(stderr, "diffclip %s: --%s expects an integer >= %d, got '%s'\n", verb, option, min, text);
    return 0;
  }
  *out = (int)v;
  return 1;
}

/* A job template names a file in DIFFCLIP_STOP_FILE: rank 0 writes it when the verb stopped
 * for a requeue (85) with its work saved, so the template can requeue even when the
 * launcher's own exit code is not 85 (mpirun given SIGTERM exits 143 or 1 after its ranks
 * have stopped cleanly). */
static void note_stop(const struct dc_dist *d, const char *verb, int code) {
  const char *path = getenv("DIFFCLIP_STOP_FILE");
  if (code != DC_EXIT_REQUEUE || d->rank != 0 || !path || !*path) return;
  FILE *f = fopen(path, "w");
  time_t now = time(NULL);
  char when[32] = "";
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  if (!f || fprintf(f, "diffclip %s stopped for a requeue at %s (exit code %d); its work is saved\n", verb, when,
                    DC_EXIT_REQUEUE) < 0 || fclose(f) != 0)
    fprintf(stderr, "diffclip: cannot write DIFFCLIP_STOP_FILE %s; the job template may not requeue\n", path);
}

/* OpenBLAS chose kernels older than this CPU (it does not know the model): start again
 * with OPENBLAS_CORETYPE set, before MPI or anything else has started. */
static void blas_kernels(char **argv) {
  const char *fix = dc_backend_blas_core_fix();
  if (!fix || getenv("DIFFCLIP_BLAS_REEXEC")) return;
  char from[64];
  snprintf(from, sizeof from, "%s", dc_backend_blas_core());
  setenv("OPENBLAS_CORETYPE", fix, 1);
  setenv("DIFFCLIP_BLAS_REEXEC", from, 1); /* once only, and the note below says why */
  /* the executable's own path, not /proc/self/exe: the process keeps its name (ps, top,
   * pkill see "diffclip", not "exe") */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  unsetenv("OPENBLAS_CORETYPE"); /* exec failed: go on with the slower kernels */
  unsetenv("DIFFCLIP_BLAS_REEXEC");
}

int main(int argc, char **argv) {
  blas_kernels(argv);
  const char *from = getenv("DIFFCLIP_BLAS_REEXEC");
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? DC_EXIT_USAGE : DC_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("diffclip %s\n", DIFFCLIP_VERSION);
    printf("OpenBLAS kernels %s%s%s%s\n", dc_backend_blas_core(), from && *from ? " (OpenBLAS chose " : "",
           from && *from ? from : "", from && *from ? " for this CPU, which it does not know; OPENBLAS_CORETYPE set)" : "");
    return DC_EXIT_OK;
  }
  /* DIFFCLIP_LOG_LEVEL=debug: from the first line on, errors with their place in the source */
  dc_log_level_from_env();
  const struct verb *v = NULL;
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (strcmp(argv[1], verbs[i].name) == 0) v = &verbs[i];
  if (!v) {
    const char *names[sizeof verbs / sizeof verbs[0]];
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) names[i] = verbs[i].name;
    int near = dc_suggest(argv[1], names, (int)(sizeof verbs / sizeof verbs[0]));
    if (near >= 0) {
      fprintf(stderr, "diffclip: unknown verb '%s'; did you mean '%s'? (diffclip --help lists the verbs)\n", argv[1],
              names[near]);
      return DC_EXIT_USAGE;
    }
    fprintf(stderr, "diffclip: unknown verb '%s'\n\n", argv[1]);
    usage(stderr);
    return DC_EXIT_USAGE;
  }
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return DC_EXIT_ERROR;
  if (from && *from)
    dc_log(DC_LOG_DEBUG, "OpenBLAS: %s kernels (it chose %s for this CPU model, which it does not know; "
           "OPENBLAS_CORETYPE=%s set for it)", dc_backend_blas_core(), from, dc_backend_blas_core());
  /* the verb sees argv from its own name on, so getopt_long starts after it */
  int code = v->run(&d, argc - 1, argv + 1);
  note_stop(&d, v->name, code);
  if (code == DC_EXIT_REQUEUE && d.rank == 0)
    dc_log(DC_LOG_INFO, "diffclip %s stopped for a requeue (exit code %d): not a failure; the work so far is saved and "
           "the same command continues it (any launcher message about a non-zero exit below is about this code)",
           v->name, DC_EXIT_REQUEUE);
  int abort_if_alone = code == DC_EXIT_STAGE_USAGE || code == DC_EXIT_ERROR;
  if (code == DC_EXIT_STAGE_USAGE) code = DC_EXIT_USAGE;
  /* An error may be one rank's alone, with the others waiting for it in a collective: then
   * every rank is ended (MPI_Abort). When all ranks ended with the same code (the usual
   * case: errors are agreed), they exit normally with it, without the abort's banner.
   * Other codes (usage while parsing, requeue, diverged) are agreed and end normally. */
  if (!dc_dist_exit_agree(&d, code, 10.0) && abort_if_alone) dc_dist_abort(&d, code);
  dc_dist_finalize(&d);
  return code;
}
