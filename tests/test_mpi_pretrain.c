/* Under mpirun -np 2: pretraining on the tiny synthetic scene
 *  - restart equivalence: 12 steps in one go == 6 steps, stop, resume for 6 more, bit for
 *    bit (parameters, BatchNorm statistics, Adam moments);
 *  - rank-count invariance: the loss curve of 2 ranks equals that of 1 rank (rank 0 alone
 *    on its own communicator) within floating-point tolerance;
 *  - resume falls back past a corrupt newest checkpoint;
 *  - a run folder holding another configuration's run is refused;
 *  - persistent non-finite losses: skipped steps, one rollback, then exit code 86;
 *  - the wall-time limit and a SIGTERM seen by rank 0 alone (sent once 200 steps are logged): every rank checkpoints and
 *    returns 85 at the same step, and a rerun continues to the end and ends bit for bit
 *    where an uninterrupted run ends;
 *  - a 2-rank run resumed on 1 rank (re-sharded moments) continues on the same curve. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/checkpoint.h"
#include "diffclip/config/config.h"
#include "diffclip/train/pretrain_run.h"
#include "diffclip/train/train.h"
#include "diffclip/data/scene.h"
#include "diffclip/data/synth.h"

#include "expect.h"

static char g_dir[256];

/* Sends SIGTERM to this process once `path` (a metrics.jsonl) holds `lines` steps: the
 * signal then arrives mid-run whatever the machine's speed (a fixed timer fired after a
 * fast machine had already finished). */
struct term_watch {
  char path[600];
  int lines;
};
static void *term_when_logged(void *arg) {
  const struct term_watch *w = arg;
  for (int tries = 0; tries < 60000; tries++) { /* 60 s at most */
    FILE *f = fopen(w->path, "r");
    int n = 0;
    if (f) {
      for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
      fclose(f);
    }
    if (n >= w->lines) break;
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
  }
  kill(getpid(), SIGTERM);
  return NULL;
}

/* A small configuration on the tiny scene; extra "key=value" overrides after it. */
static enum dc_status config(struct dc_config *c, const char *name, int max_steps, const char *extra) {
  char sets[8][600];
  int n = 0;
  snprintf(sets[n++], sizeof sets[0], "data.scene=%s/tiny.h5", g_dir);
  snprintf(sets[n++], sizeof sets[0], "run.out_dir=%s/runs", g_dir);
  snprintf(sets[n++], sizeof sets[0], "run.name=%s", name);
  snprintf(sets[n++], sizeof sets[0], "pretrain.max_steps=%d", max_steps);
  const char *fixed[] = {"model.window=5", "model.embed_dim=16", "model.depth=1", "model.heads=2",
                         "model.decoder_dim=16", "model.decoder_depth=1", "model.decoder_heads=2",
                         "model.stem_width=8", "pretrain.global_batch=8", "pretrain.checkpoint_every=3",
                         "pretrain.log_every=1", "pretrain.lr=1e-3", "data.corpus_stride=2"};
  const char *all[32];
  int k = 0;
  for (int i = 0; i < n; i++) all[k++] = sets[i];
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) all[k++] = fixed[i];
  char more[600];
  snprintf(more, sizeof more, "%s", extra ? extra : "");
  for (char *tok = strtok(more, ";"); tok && k < 32; tok = strtok(NULL, ";")) all[k++] = tok; /* "k=v;k=v" */
  return dc_config_load(c, NULL, all, k, NULL);
}

static int run(const struct dc_dist *d, const char *name, int max_steps, const char *extra) {
  dc_signals_clear(); /* each run is a slot of its own: no request pending, its clock from 0 */
  struct dc_config c;
  if (config(&c, name, max_steps, extra) != DC_OK) return -1;
  int code = -1;
  if (dc_pretrain_run(d, &c, &code) != DC_OK) return -1;
  return code;
}

/* Bitwise comparison of two checkpoints' tensors (serial, rank 0). */
static int same_checkpoint(const char *a, const char *b) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "h5diff -q %s %s /params /params && h5diff -q %s %s /buffers /buffers && h5diff -q %s %s /adam /adam",
           a, b, a, b, a, b);
  return system(cmd) == 0;
}

/* The "loss" values of a metrics.jsonl. */
static int read_losses(const char *path, double *loss, int cap) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[2048];
  int n = 0;
  while (n < cap && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "\"loss\": ");
    if (p) loss[n++] = atof(p + 8);
  }
  fclose(f);
  return n;
}

int main(int argc, char **argv) {
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return 1;
  if (d.rank == 0) {
    snprintf(g_dir, sizeof g_dir, "/tmp/dc_pretrain_test_XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    struct dc_scene s;
    memset(&s, 0, sizeof s);
    char path[300];
    snprintf(path, sizeof path, "%s/tiny.h5", g_dir);
    if (dc_synth_scene("tiny", 0, &s) != DC_OK || dc_scene_write(path, &s) != DC_OK) abort();
    dc_scene_free(&s);
  }
  MPI_Bcast(g_dir, sizeof g_dir, MPI_CHAR, 0, d.comm);
  char a[600], b[600];

  /* 1. restart equivalence at this rank count */
  EXPECT(run(&d, "whole", 12, NULL) == 0, "12 steps in one go");
  EXPECT(run(&d, "split", 6, NULL) == 0, "first 6 steps");
  EXPECT(run(&d, "split", 12, NULL) == 0, "resume for 6 more");
  snprintf(a, sizeof a, "%s/runs/whole/ckpt/ckpt_0000000012.h5", g_dir);
  snprintf(b, sizeof b, "%s/runs/split/ckpt/ckpt_0000000012.h5", g_dir);
  if (d.rank == 0) EXPECT(same_checkpoint(a, b), "resumed run differs from the uninterrupted one");
  double losses[64];
  snprintf(a, sizeof a, "%s/runs/split/metrics.jsonl", g_dir);
  /* it resumed (6 + 6 steps logged), rather than starting over (6 + 12) */
  if (d.rank == 0) EXPECT(read_losses(a, losses, 64) == 12, "the second part did not resume at step 6");

  EXPECT(run(&d, "reshard", 6, NULL) == 0, "6 steps on 2 ranks, to be resumed on 1");

  /* 2. rank-count invariance: rank 0 alone runs the same 12 steps */
  MPI_Comm solo;
  MPI_Comm_split(d.comm, d.rank == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
  if (d.rank == 0) {
    struct dc_dist one = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .comm = solo};
    EXPECT(run(&one, "one_rank", 12, NULL) == 0, "1-rank run");
    double l1[64], l2[64];
    snprintf(a, sizeof a, "%s/runs/one_rank/metrics.jsonl", g_dir);
    snprintf(b, sizeof b, "%s/runs/whole/metrics.jsonl", g_dir);
    int n1 = read_losses(a, l1, 64), n2 = read_losses(b, l2, 64);
    EXPECT(n1 == 12 && n2 == 12, "12 loss values each (got %d and %d)", n1, n2);
    double worst = 0;
    for (int i = 0; i < n1 && i < n2; i++) worst = fmax(worst, fabs(l1[i] - l2[i]) / fabs(l2[i]));
    printf("rank-count invariance: max relative loss difference over %d steps %.2e\n", n1, worst);
    EXPECT(worst < 1e-4, "1-rank and 2-rank loss curves differ by %.3g", worst);
    /* the 2-rank run "reshard" resumed on 1 rank: the moments are re-sharded, the run goes
     * on at step 6 and follows the 2-rank curve */
    EXPECT(run(&one, "reshard", 12, NULL) == 0, "resume a 2-rank run on 1 rank");
    snprintf(a, sizeof a, "%s/runs/reshard/metrics.jsonl", g_dir);
    n1 = read_losses(a, l1, 64);
    EXPECT(n1 == 12, "the 1-rank resumption continued at step 6 (%d steps logged)", n1);
    worst = 0;
    for (int i = 0; i < n1 && i < n2; i++) worst = fmax(worst, fabs(l1[i] - l2[i]) / fabs(l2[i]));
    EXPECT(worst < 1e-4, "resumed on 1 rank, the curve differs from the 2-rank one by %.3g", worst);
    MPI_Comm_free(&solo);
  }
  MPI_Barrier(d.comm);

  /* 3. a corrupt newest checkpoint: resume falls back to the one before and still ends
   * equal to the uninterrupted run */
  EXPECT(run(&d, "fallback", 8, NULL) == 0, "8 steps (checkpoints at 3, 6, 8)");
  if (d.rank == 0) {
    snprintf(a, sizeof a, "%s/runs/fallback/ckpt/ckpt_0000000008.h5", g_dir);
    EXPECT(truncate(a, 2048) == 0, "truncate the newest checkpoint");
  }
  EXPECT(run(&d, "fallback", 12, NULL) == 0, "resume past the corrupt checkpoint");
  snprintf(a, sizeof a, "%s/runs/whole/ckpt/ckpt_0000000012.h5", g_dir);
  snprintf(b, sizeof b, "%s/runs/fallback/ckpt/ckpt_0000000012.h5", g_dir);
  if (d.rank == 0) EXPECT(same_checkpoint(a, b), "run resumed from the older checkpoint differs");
  snprintf(a, sizeof a, "%s/runs/fallback/metrics.jsonl", g_dir);
  /* 8 steps, then 6 more from the checkpoint of step 6 */
  if (d.rank == 0) EXPECT(read_losses(a, losses, 64) == 14, "the fallback run did not resume at step 6");

  /* 4. the same run folder under another configuration is refused */
  EXPECT(run(&d, "whole", 12, "pretrain.lr=5e-4") == -1, "a changed configuration must be refused");

  /* 4b. a checkpoint of another configuration placed as the newest is refused, not
   * resumed from with a warning */
  EXPECT(run(&d, "other_cfg", 3, "pretrain.lr=5e-4") == 0, "3 steps under another learning rate");
  if (d.rank == 0) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "cp %s/runs/other_cfg/ckpt/ckpt_0000000003.h5 %s/runs/fallback/ckpt/ckpt_0000000099.h5 && "
             "echo ckpt_0000000099.h5 > %s/runs/fallback/ckpt/latest", g_dir, g_dir, g_dir);
    EXPECT(system(cmd) == 0, "plant the foreign checkpoint");
  }
  MPI_Barrier(d.comm);
  EXPECT(run(&d, "fallback", 120, NULL) == -1, "a checkpoint of another configuration must be refused");

  /* 5. divergence: NaN from step 5 on; checkpoints at 3 and 6 never reached past 5 */
  setenv("DIFFCLIP_INJECT_NAN_FROM_STEP", "5", 1);
  EXPECT(run(&d, "diverge", 12, "pretrain.max_bad_steps=2;pretrain.max_rollbacks=1") == DC_EXIT_DIVERGED, "persistent NaN must end with 86");
  unsetenv("DIFFCLIP_INJECT_NAN_FROM_STEP");
  snprintf(a, sizeof a, "%s/runs/diverge/metrics.jsonl", g_dir);
  /* 5 good steps, then after the rollback to step 3, steps 4 and 5 again: 7 logged */
  if (d.rank == 0) EXPECT(read_losses(a, losses, 64) == 7, "expected 7 logged steps around one rollback");

  /* 6. the wall-time limit stops the run with a checkpoint and 85 */
  EXPECT(run(&d, "wall", 100000, "pretrain.max_wall_s=2") == DC_EXIT_REQUEUE, "max_wall_s must end with 85");
  char found[1200] = "";
  snprintf(a, sizeof a, "%s/runs/wall/ckpt", g_dir);
  EXPECT(dc_ckpt_find_resume(&d, a, found, sizeof found) == DC_OK && found[0], "a checkpoint after the wall-time stop");

  /* 7. SIGTERM to rank 0 only, once 200 of 2000 steps are logged: both ranks stop at the same
   * step with 85 */
  pthread_t watcher;
  struct term_watch watch = {.lines = 2}; /* logged every 100 steps: step 200 */
  snprintf(watch.path, sizeof watch.path, "%s/runs/term/metrics.jsonl", g_dir);
  if (d.rank == 0 && pthread_create(&watcher, NULL, term_when_logged, &watch) != 0) abort();
  /* checkpoints only at the stop and the end: per-step checkpoints would dominate the time */
  const char *quiet = "pretrain.checkpoint_every=100000;pretrain.log_every=100";
  int code = run(&d, "term", 2000, quiet), codes[2] = {code, -code};
  MPI_Allreduce(MPI_IN_PLACE, codes, 2, MPI_INT, MPI_MAX, d.comm);
  EXPECT(codes[0] == DC_EXIT_REQUEUE && -codes[1] == DC_EXIT_REQUEUE, "SIGTERM: every rank must return 85 (got %d..%d)",
         -codes[1], codes[0]);
  if (d.rank == 0) pthread_join(watcher, NULL);
  EXPECT(run(&d, "term", 2000, quiet) == 0, "the rerun after SIGTERM finishes");
  EXPECT(run(&d, "term_whole", 2000, quiet) == 0, "2000 steps uninterrupted");
  snprintf(a, sizeof a, "%s/runs/term/ckpt/ckpt_0000002000.h5", g_dir);
  snprintf(b, sizeof b, "%s/runs/term_whole/ckpt/ckpt_0000002000.h5", g_dir);
  if (d.rank == 0) EXPECT(same_checkpoint(a, b), "killed by SIGTERM and resumed, the run differs from the uninterrupted one");

  int total = 0;
  MPI_Allreduce(&g_fails, &total, 1, MPI_INT, MPI_SUM, d.comm);
  if (d.rank == 0) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (total == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    printf("test_mpi_pretrain: %d ranks, %d failure(s)\n", d.size, total);
  }
  dc_dist_finalize(&d);
  return total ? 1 : 0;
}
