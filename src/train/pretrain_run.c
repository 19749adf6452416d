/* `diffclip pretrain` (see pretrain_run.h): run folder, corpus, the step loop with
 * checkpoints, signals, wall-time limit, divergence handling and progress output. The
 * samples are a scene's pixel centres or, for an exam store, the exams of its train split
 * (data_source.h). */
#include "diffclip/train/pretrain_run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diffclip/io/checkpoint.h"
#include "diffclip/train/data_source.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/data/patch.h"
#include "diffclip/core/rng.h"
#include "diffclip/train/schedule.h"
#include "diffclip/train/train.h"

struct run {
  const struct dc_dist *d;
  const struct dc_config *cfg;
  char dir[1024], ckpt_dir[1100];
  char cfg_hash[DC_SHA256_HEX];
  char *cfg_text;
  struct dc_data data;
  struct dc_model_config mcfg;
  int *corpus; /* samples: patch centres row * W + col, or exam indices */
  long n_corpus;
  int *order; /* the current epoch's global order of the corpus */
  long order_epoch;
  int G, B;
  long steps_per_epoch, total_steps;
  struct dc_pretrain *p;
  struct dc_adam adam;
  struct dc_lr_schedule sched;
  struct dc_reducer reduce;
  float *x0[DC_MAX_MODALITIES];
  struct dc_ckpt_state st;
  char last_ckpt[1200];
  FILE *metrics;
  int lock_fd; /* rank 0: <run>/lock, locked for the run's life; -1 none */
  long inject_nan_from; /* DIFFCLIP_INJECT_NAN_FROM_STEP: tests the divergence handling; -1 off */
  int local_order, band_lo, band_hi; /* pretrain.data_order = "local": this rank's rows */
  double train_base, t_loop; /* training seconds of the earlier slots; when this slot's loop began */
};

/* The keys that say how a run is operated, not what it computes: they may change between
 * a run and its resumption (e.g. a longer max_steps, a wall-time limit for the next slot);
 * the other stages' keys do not change the pretraining either, nor do the exam task (the
 * pretraining reads no label), a study's label or the paper key: the three MRNet tasks, and
 * the fine-tuning ablations, share one pretraining in a bench. */
static const char *const pretrain_operational[] = {
    "pretrain.epochs", "pretrain.max_steps", "pretrain.max_wall_s", "pretrain.log_every", "pretrain.checkpoint_every",
    "pretrain.keep_checkpoints", "pretrain.resume", "run.threads", "run.log_level", "run.log_all_ranks", "run.backend", "run.precision",
    "run.out_dir", "data.scene", "data.task", "data.split_file", "data.study", "data.paper", "finetune.", "bench."};

/* The run's identity, so a resumed run is recognised as the same experiment. */
enum dc_status dc_pretrain_identity(const struct dc_config *c, char hex[DC_SHA256_HEX]) {
  return dc_config_identity(c, pretrain_operational, (int)(sizeof pretrain_operational / sizeof *pretrain_operational),
                            hex);
}

static enum dc_status lock_dir(struct run *r);

/* Rank 0: the run folder with the resolved configuration; a folder holding another
 * experiment's run is refused (a resumed run must continue the same experiment). */
static enum dc_status prepare_dir(struct run *r) {
  const struct dc_config *c = r->cfg;
  snprintf(r->dir, sizeof r->dir, "%s/%s", c->run.out_dir, c->run.name);
  snprintf(r->ckpt_dir, sizeof r->ckpt_dir, "%s/ckpt", r->dir);
  DC_TRY(dc_pretrain_identity(c, r->cfg_hash));
  r->cfg_text = dc_config_text(c);
  DC_CHECK_ALLOC(r->cfg_text);
  if (r->d->rank != 0) return DC_OK;
  if (dc_mkdir_p(r->ckpt_dir) != 0) return DC_ERROR(DC_ERR_IO, "cannot create run folder %s: %s", r->ckpt_dir, strerror(errno));
  DC_TRY(lock_dir(r));
  char path[1200], old[DC_SHA256_HEX] = "";
  snprintf(path, sizeof path, "%s/config.sha256", r->dir);
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(old, sizeof old, f)) old[0] = '\0';
    fclose(f);
    old[strcspn(old, "\r\n")] = '\0';
    if (old[0] && strcmp(old, r->cfg_hash) != 0 && strcmp(c->pretrain.resume, "never") != 0)
      return DC_ERROR(DC_ERR_ARG,
                      "run folder %s holds a run of another configuration (identity sha256 %.12s..., this one %.12s...): "
                      "choose another run.name, or set pretrain.resume = \"never\" to start over there",
                      r->dir, old, r->cfg_hash);
  }
  snprintf(path, sizeof path, "%s/config.cfg", r->dir);
  DC_TRY(dc_config_write_resolved(c, path));
  snprintf(path, sizeof path, "%s/config.sha256", r->dir);
  f = fopen(path, "w");
  if (!f || fprintf(f, "%s\n", r->cfg_hash) < 0 || fclose(f) != 0)
    return DC_ERROR(DC_ERR_IO, "cannot write %s", path);
  snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
  r->metrics = fopen(path, "a");
  if (!r->metrics) return DC_ERROR(DC_ERR_IO, "cannot open %s for appending", path);
  return DC_OK;
}

/* One job per run folder: rank 0 holds a POSIX write lock on <run>/lock (released when the
 * process ends, however it ends), holding the owner's host and pid for the message. A file
 * system without locks gets a warning, not a refusal. */
static enum dc_status lock_dir(struct run *r) {
  char path[1200], owner[256] = "";
  snprintf(path, sizeof path, "%s/lock", r->dir);
  int fd = open(path, O_RDWR | O_CREAT, 0664);
  if (fd < 0) return DC_ERROR(DC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int err = errno;
    if (err == EACCES || err == EAGAIN) {
      ssize_t n = pread(fd, owner, sizeof owner - 1, 0);
      owner[n > 0 ? n : 0] = '\0';
      owner[strcspn(owner, "\r\n")] = '\0';
      close(fd);
      return DC_ERROR(DC_ERR_ARG,
                      "run folder %s is in use by another job (%s): two jobs on one folder would overwrite each "
                      "other's checkpoints; wait for it to end, or choose another run.name",
                      r->dir, owner[0] ? owner : "owner unknown");
    }
    dc_log(DC_LOG_WARN, "cannot lock %s (%s): a second job on this run folder would not be refused", path,
           strerror(err));
  } else {
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    int n = snprintf(owner, sizeof owner, "host %s, pid %ld\n", host, (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, owner, (size_t)n, 0) != n)
      dc_log(DC_LOG_WARN, "cannot write the owner into %s", path);
  }
  r->lock_fd = fd;
  return DC_OK;
}

/* Patch centres: every pixel, or the labelled ones; every stride-th row and column; a
 * seeded fraction of them. The same on every rank; with the local data order, only the
 * centres in this rank's band of rows. */
static enum dc_status build_corpus(struct run *r) {
  const struct dc_config_data *dc = &r->cfg->data;
  const struct dc_scene *s = &r->data.scene;
  const struct dc_exams *x = r->data.samples.exams;
  long n = x ? x->n_exams : (long)s->height * s->width, k = 0;
  r->corpus = malloc((size_t)n * sizeof *r->corpus);
  r->order = malloc((size_t)n * sizeof *r->order);
  DC_CHECK_ALLOC(r->corpus);
  DC_CHECK_ALLOC(r->order);
  int train = x ? dc_exams_split_index(x, "train") : -1;
  if (x && train < 0) return DC_ERROR(DC_ERR_ARG, "%s: the exam store has no split named \"train\"", x->name);
  for (long i = 0; x && i < n; i++) { /* exams: the train split only, sharded by exam for the local order */
    if (x->split[i] != train) continue;
    if (r->local_order && (i < r->band_lo || i >= r->band_hi)) continue;
    r->corpus[k++] = (int)i;
  }
  for (long i = 0; !x && i < n; i++) {
    int row = (int)(i / s->width), col = (int)(i % s->width);
    if (row % dc->corpus_stride || col % dc->corpus_stride) continue;
    if (r->local_order && (row < r->band_lo || row >= r->band_hi)) continue;
    if (dc->corpus == DC_DATA_CORPUS_LABELLED && s->train[i] == 0 && s->test[i] == 0) continue;
    if (dc->corpus_fraction < 1.0 &&
        dc_rng_uniform((uint64_t)r->cfg->run.seed, DC_STREAM_DATA + 7, (uint64_t)i, 0) >= dc->corpus_fraction)
      continue;
    r->corpus[k++] = (int)i;
  }
  r->n_corpus = k;
  r->order_epoch = -1;
  /* steps per epoch: whole global batches; with local order, whole local batches of the
   * smallest shard, so every rank takes the same number of steps */
  long per_rank = r->local_order ? k / r->B : k / r->G, fewest = per_rank;
  MPI_Allreduce(&per_rank, &fewest, 1, MPI_LONG, MPI_MIN, r->d->comm);
  r->steps_per_epoch = fewest;
  if (fewest < 1)
    return DC_ERROR(DC_ERR_ARG, "the corpus%s has %ld patch centres, fewer than one batch (pretrain.global_batch = %d)",
                    r->local_order ? " shard of a rank" : "", k, r->G);
  return DC_OK;
}

/* The order of epoch e, Fisher-Yates keyed by (seed, epoch): of the whole corpus (global
 * order), or of this rank's shard (local order; the stream also names the rank). */
static void epoch_order(struct run *r, long e) {
  if (r->order_epoch == e) return;
  uint64_t stream = DC_STREAM_SHUFFLE + (uint64_t)e * 65536u + (r->local_order ? 1u + (uint64_t)r->d->rank : 0u);
  memcpy(r->order, r->corpus, (size_t)r->n_corpus * sizeof *r->order);
  for (long i = r->n_corpus - 1; i > 0; i--) {
    long j = (long)dc_rng_below((uint64_t)r->cfg->run.seed, stream, (uint64_t)i, 0, (uint32_t)(i + 1));
    int t = r->order[i];
    r->order[i] = r->order[j];
    r->order[j] = t;
  }
  r->order_epoch = e;
}

static enum dc_status setup(struct run *r) {
  const struct dc_config *c = r->cfg;
  const struct dc_dist *d = r->d;
  DC_TRY(dc_dist_agree(d, prepare_dir(r)));
  DC_TRY(dc_data_from_config(d, c, &r->data));
  const struct dc_samples *s = &r->data.samples;
  int M = dc_samples_modalities(s), bands[DC_MAX_MODALITIES];
  for (int m = 0; m < M && m < DC_MAX_MODALITIES; m++) bands[m] = dc_samples_bands(s, m);
  DC_TRY(dc_config_model(c, M, bands, 3, &r->mcfg));
  r->G = c->pretrain.global_batch;
  if (r->G % d->size != 0 || r->G / d->size < 2)
    return DC_ERROR(DC_ERR_ARG, "pretrain.global_batch = %d must be a multiple of the %d ranks with at least 2 per rank",
                    r->G, d->size);
  r->B = r->G / d->size;
  r->local_order = c->pretrain.data_order == DC_PRETRAIN_ORDER_LOCAL;
  long rows = s->exams ? s->exams->n_exams : s->scene->height; /* local order: rows, or exams */
  r->band_lo = (int)(rows * d->rank / d->size);
  r->band_hi = (int)(rows * (d->rank + 1) / d->size);
  DC_TRY(dc_dist_agree(d, build_corpus(r)));
  r->total_steps = (long)c->pretrain.epochs * r->steps_per_epoch;
  if (c->pretrain.max_steps > 0 && c->pretrain.max_steps < r->total_steps) r->total_steps = c->pretrain.max_steps;
  r->p = calloc(1, sizeof *r->p);
  DC_CHECK_ALLOC(r->p);
  const struct dc_backend *be;
  enum dc_run_backend kind = c->run.backend;
  /* auto: CUDA when built and a GPU is visible (run.backend's documented meaning) */
  DC_TRY(dc_backend_get(kind == DC_RUN_BACKEND_CUDA ? "cuda" : kind == DC_RUN_BACKEND_CPU ? "cpu" : "auto", &be));
  DC_TRY(dc_pretrain_init(r->p, &r->mcfg, r->B, be));
  DC_TRY(dc_init_weights(&r->p->params, &r->p->buffers, &r->mcfg, (uint64_t)c->run.seed));
  dc_dist_reducer(d, &r->reduce);
  r->p->reduce = &r->reduce;
  r->p->noise = c->pretrain.noise;
  DC_TRY(dc_adam_init(&r->adam, &r->p->params, c->pretrain.lr, c->pretrain.weight_decay, 0));
  r->adam.beta1 = c->pretrain.beta1;
  r->adam.beta2 = c->pretrain.beta2;
  r->adam.eps = c->pretrain.adam_eps;
  if (c->pretrain.lr_schedule == DC_PRETRAIN_LR_COSINE_RESTARTS)
    DC_TRY(dc_lr_cosine_warm_restarts_init(&r->sched, c->pretrain.lr, c->pretrain.t_0, c->pretrain.t_mult,
                                           c->pretrain.eta_min));
  else
    DC_TRY(dc_lr_constant_init(&r->sched, c->pretrain.lr));
  int L = dc_cfg_tokens(&r->mcfg);
  for (int m = 0; m < M; m++) {
    r->x0[m] = malloc((size_t)r->B * L * bands[m] * sizeof(float));
    DC_CHECK_ALLOC(r->x0[m]);
  }
  r->st = (struct dc_ckpt_state){.kind = "pretrain", .seed = (uint64_t)c->run.seed};
  snprintf(r->st.config_sha256, sizeof r->st.config_sha256, "%s", r->cfg_hash);
  return DC_OK;
}

static enum dc_status save(struct run *r) {
  char name[64];
  snprintf(name, sizeof name, "ckpt_%010lld.h5", (long long)r->st.step);
  r->st.adam_step = r->adam.step;
  r->st.world_size = r->d->size;
  r->st.train_seconds = r->train_base + (dc_now_s() - r->t_loop);
  DC_TRY(dc_ckpt_write(r->d, r->ckpt_dir, name, &r->p->params, &r->p->buffers, &r->adam, &r->st, r->cfg_text, NULL,
                       r->cfg->pretrain.keep_checkpoints));
  snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s/%s", r->ckpt_dir, name);
  dc_log(DC_LOG_INFO, "checkpoint %s (step %lld)", r->last_ckpt, (long long)r->st.step);
  return DC_OK;
}

/* strict: a checkpoint of another configuration is refused (automatic resume and
 * rollback); a path the user names explicitly is taken with a warning. */
static enum dc_status load(struct run *r, const char *path, int strict) {
  struct dc_ckpt_state st;
  DC_TRY(dc_ckpt_read(r->d, path, &r->p->params, &r->p->buffers, &r->adam, &st));
  if (strcmp(st.kind, "pretrain") != 0)
    return DC_ERROR(DC_ERR_ARG, "%s is a %s checkpoint, not a pretraining one", path, st.kind);
  if (strcmp(st.config_sha256, r->cfg_hash) != 0 && strict)
    return DC_ERROR(DC_ERR_ARG,
                    "%s was written under another configuration (identity sha256 %.12s..., this run %.12s...): "
                    "refusing to resume from it; move it aside, choose another run.name, or name it explicitly "
                    "with pretrain.resume = \"%s\" to continue under this configuration",
                    path, st.config_sha256, r->cfg_hash, path);
  if (strcmp(st.config_sha256, r->cfg_hash) != 0)
    dc_log(DC_LOG_WARN, "%s was written under another configuration (sha256 %.12s...); continuing with this one", path,
           st.config_sha256);
  r->st = st;
  snprintf(r->st.config_sha256, sizeof r->st.config_sha256, "%s", r->cfg_hash);
  if (path != r->last_ckpt) snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
  return DC_OK;
}

static enum dc_status maybe_resume(struct run *r) {
  const char *resume = r->cfg->pretrain.resume;
  if (strcmp(resume, "never") == 0) return DC_OK;
  char path[1200];
  if (strcmp(resume, "auto") == 0) {
    DC_TRY(dc_ckpt_find_resume(r->d, r->ckpt_dir, path, sizeof path));
    if (!path[0]) return DC_OK;
  } else {
    snprintf(path, sizeof path, "%s", resume);
  }
  DC_TRY(load(r, path, strcmp(resume, "auto") == 0));
  dc_log(DC_LOG_INFO, "resumed from %s at step %lld (epoch %lld) on %d rank(s); it was written by %d", path,
         (long long)r->st.step, (long long)r->st.epoch, r->d->size, r->st.world_size);
  return DC_OK;
}

/* Cuts this rank's slice of global batch `step` and prepares the model's inputs. */
static enum dc_status load_batch(struct run *r, long step) {
  long e = step / r->steps_per_epoch, pos = step % r->steps_per_epoch;
  epoch_order(r, e);
  const int *centres = r->local_order ? r->order + pos * r->B : r->order + pos * r->G + (long)r->d->rank * r->B;
  for (int m = 0; m < r->mcfg.n_modalities; m++) dc_samples_cut(&r->data.samples, m, r->mcfg.window, centres, r->B, r->x0[m]);
  uint64_t first = (uint64_t)step * (uint64_t)r->G + (uint64_t)r->d->rank * (uint64_t)r->B;
  return dc_pretrain_prepare(r->p, (const float *const *)r->x0, (uint64_t)r->cfg->run.seed, first);
}

static void progress(struct run *r, long step, const float *terms, double gnorm, float lr, double rate, double left) {
  int M = r->mcfg.n_modalities;
  char masked[128] = "", visible[128] = "", named_m[256] = "", named_v[256] = "";
  for (int m = 0; m < M; m++) {
    size_t a = strlen(masked), b = strlen(visible), c = strlen(named_m), e = strlen(named_v);
    const char *name = dc_samples_modality_name(&r->data.samples, m);
    snprintf(masked + a, sizeof masked - a, "%s%.6g", m ? "," : "", terms[2 * m]);
    snprintf(visible + b, sizeof visible - b, "%s%.6g", m ? "," : "", terms[2 * m + 1]);
    snprintf(named_m + c, sizeof named_m - c, "%s%s %.4g", m ? ", " : "", name, terms[2 * m]);
    snprintf(named_v + e, sizeof named_v - e, "%s%s %.4g", m ? ", " : "", name, terms[2 * m + 1]);
  }
  /* like the progress bars people know: clock, 1-based epoch of all, elapsed and left */
  char clock[16], elapsed[32], eta[32];
  dc_format_clock(clock, sizeof clock);
  dc_format_hms(r->train_base + (dc_now_s() - r->t_loop), elapsed, sizeof elapsed);
  dc_format_hms(left, eta, sizeof eta);
  long epochs = (r->total_steps + r->steps_per_epoch - 1) / r->steps_per_epoch;
  dc_log(DC_LOG_INFO, "%s epoch %ld/%ld step %ld/%ld  loss %.6f  masked [%s] visible [%s]  lr %.3g  %.1f samples/s  "
         "elapsed %s  left %s", clock, step / r->steps_per_epoch + 1, epochs, step + 1, r->total_steps, terms[2 * M],
         named_m, named_v, lr, rate, elapsed, eta);
  if (r->metrics) {
    fprintf(r->metrics,
            "{\"step\": %ld, \"epoch\": %ld, \"loss\": %.9g, \"masked\": [%s], \"visible\": [%s], \"lr\": %.9g, "
            "\"grad_norm\": %.9g, \"samples_per_s\": %.6g, \"ranks\": %d}\n",
            step + 1, step / r->steps_per_epoch, terms[2 * M], masked, visible, lr, gnorm, rate, r->d->size);
    fflush(r->metrics);
  }
}

static enum dc_status loop(struct run *r, int *exit_code) {
  const struct dc_config_pretrain *pc = &r->cfg->pretrain;
  const struct dc_backend *be = r->p->params.be;
  int M = r->mcfg.n_modalities, bad_run = 0, rollbacks = 0;
  double t_start = dc_now_s(), t_mark = t_start, t_prev = t_start, slowest = 0, ckpt_cost = 0;
  long mark_step = r->st.step;
  *exit_code = 0;
  r->train_base = r->st.train_seconds;
  r->t_loop = t_start;
  dc_log(DC_LOG_INFO, "pretraining %s: %ld %s, %ld steps of %d (%d per rank x %d), %zu parameters",
         dc_samples_name(&r->data.samples), r->n_corpus, r->data.samples.exams ? "train exams" : "patch centres", r->total_steps, r->G, r->B, r->d->size, r->p->params.n_trainable);
  while (r->st.step < r->total_steps) {
    long step = r->st.step;
    DC_TRY(dc_dist_agree(r->d, load_batch(r, step)));
    DC_TRY(dc_pretrain_forward(r->p));
    DC_TRY(dc_pretrain_backward(r->p));
    DC_TRY(dc_dist_allreduce_mean(r->d, be, r->p->params.grads, r->p->params.n_trainable));
    /* the global batch's loss terms and the gradient norm (the same on every rank) */
    float terms[2 * DC_MAX_MODALITIES + 1];
    if (r->inject_nan_from >= 0 && step >= r->inject_nan_from) r->p->loss = NAN; /* fault injection, this rank */
    for (int m = 0; m < M; m++) terms[2 * m] = r->p->masked[m], terms[2 * m + 1] = r->p->visible[m];
    terms[2 * M] = r->p->loss;
    float local_loss = r->p->loss;
    MPI_Allreduce(MPI_IN_PLACE, terms, 2 * M + 1, MPI_FLOAT, MPI_SUM, r->d->comm);
    for (int i = 0; i <= 2 * M; i++) terms[i] /= (float)r->d->size;
    double gnorm = sqrt(be->dot(r->p->params.grads, r->p->params.grads, r->p->params.n_trainable));
    /* A non-finite loss on any rank makes the summed terms non-finite, so every rank takes
     * this branch together; only then do they find the lowest rank whose own batch did it. */
    if (!isfinite(terms[2 * M]) || !isfinite(gnorm)) {
      int first = isfinite(local_loss) ? r->d->size : r->d->rank;
      MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, r->d->comm);
      char origin[96] = "";
      if (first < r->d->size) snprintf(origin, sizeof origin, " (first non-finite on rank %d, from its own batch)", first);
      if (++bad_run <= pc->max_bad_steps) {
        dc_log(DC_LOG_WARN, "step %ld: loss %g, gradient norm %g%s: step skipped (%d of %d in a row)", step + 1,
               terms[2 * M], gnorm, origin, bad_run, pc->max_bad_steps);
        r->st.step++;
        r->st.samples_seen += (uint64_t)r->G;
        continue;
      }
      if (!r->last_ckpt[0] || ++rollbacks > pc->max_rollbacks) {
        dc_log(DC_LOG_ERROR, "training diverged at step %ld (loss %g, gradient norm %g%s) after %d rollback(s): stopping",
               step + 1, terms[2 * M], gnorm, origin, r->last_ckpt[0] ? rollbacks - 1 : 0);
        *exit_code = DC_EXIT_DIVERGED;
        return DC_OK;
      }
      dc_log(DC_LOG_WARN, "step %ld: still non-finite after %d skipped steps: rolling back to %s (rollback %d of %d)",
             step + 1, pc->max_bad_steps, r->last_ckpt, rollbacks, pc->max_rollbacks);
      DC_TRY(load(r, r->last_ckpt, 0));
      bad_run = 0;
      continue;
    }
    bad_run = 0;
    if (pc->grad_clip > 0 && gnorm > pc->grad_clip) /* clip the global norm */
      be->scale_inplace(r->p->params.grads, (float)(pc->grad_clip / gnorm), r->p->params.n_trainable);
    float lr = (float)dc_lr_at(&r->sched, (double)(step / r->steps_per_epoch));
    dc_adam_step(&r->adam, &r->p->params, lr);
    r->st.step++;
    r->st.samples_seen += (uint64_t)r->G;
    r->st.epoch = r->st.step / r->steps_per_epoch;
    r->st.sched_epoch = (double)r->st.epoch;
    /* signals and the wall-time limit, agreed by all ranks. The limit keeps room for one
     * more step and one checkpoint, each as slow as the slowest seen in this slot (before
     * the slot's first checkpoint: its size at 100 MB/s), with dc_slot_need's margin. */
    int flags[3], sig_ckpt, sig_stop;
    dc_signals_take(&sig_ckpt, &sig_stop);
    double t = dc_now_s(), per_step = (t - t_mark) / (double)(r->st.step - mark_step);
    if (t - t_prev > slowest) slowest = t - t_prev;
    t_prev = t;
    double ckpt_est = ckpt_cost > 0 ? ckpt_cost : 0.1 + 3.0 * 4.0 * (double)r->p->params.n_total / 1e8;
    flags[0] = sig_ckpt;
    flags[1] = dc_slot_must_stop(pc->max_wall_s, dc_slot_need(slowest + ckpt_est), NULL);
    flags[2] = sig_stop;
    MPI_Allreduce(MPI_IN_PLACE, flags, 3, MPI_INT, MPI_MAX, r->d->comm);
    long done = r->st.step;
    if (done % pc->log_every == 0 || done == r->total_steps || flags[1])
      progress(r, step, terms, gnorm, lr, r->G / per_step, per_step * (double)(r->total_steps - done));
    int periodic = pc->checkpoint_every > 0 && done % pc->checkpoint_every == 0;
    if (periodic || flags[0] || flags[1] || done == r->total_steps) {
      double t0 = dc_now_s();
      DC_TRY(save(r));
      if (dc_now_s() - t0 > ckpt_cost) ckpt_cost = dc_now_s() - t0;
      t_prev = dc_now_s(); /* the checkpoint is not a step */
    }
    if (flags[1] && done < r->total_steps) {
      dc_log(DC_LOG_INFO, "stopping at step %ld after %.1f s of this slot (%s): resubmit the same command to continue "
             "(exit code %d)", done, dc_slot_elapsed_s(), flags[2] ? "signal" : "wall-time limit", DC_EXIT_REQUEUE);
      *exit_code = DC_EXIT_REQUEUE;
      return DC_OK;
    }
  }
  dc_log(DC_LOG_INFO, "pretraining finished: %ld steps, %.1f s in this slot, %.1f s in all; final checkpoint %s",
         r->total_steps, dc_now_s() - t_start, r->st.train_seconds, r->last_ckpt);
  return DC_OK;
}

static void release(struct run *r) {
  if (r->p) {
    dc_adam_free(&r->adam, r->p->params.be);
    dc_pretrain_free(r->p);
    free(r->p);
  }
  for (int m = 0; m < DC_MAX_MODALITIES; m++) free(r->x0[m]);
  free(r->corpus);
  free(r->order);
  free(r->cfg_text);
  if (r->metrics) fclose(r->metrics);
  if (r->lock_fd >= 0) close(r->lock_fd);
  dc_data_free(&r->data);
}

enum dc_status dc_pretrain_run(const struct dc_dist *d, const struct dc_config *cfg, int *exit_code) {
  struct run r;
  memset(&r, 0, sizeof r);
  r.lock_fd = -1;
  r.d = d;
  r.cfg = cfg;
  *exit_code = 1;
  const char *inject = getenv("DIFFCLIP_INJECT_NAN_FROM_STEP");
  r.inject_nan_from = inject ? atol(inject) : -1;
  dc_signals_install();
  enum dc_status st = dc_dist_agree(d, setup(&r));
  if (st == DC_OK) st = maybe_resume(&r);
  if (st == DC_OK) st = loop(&r, exit_code);
  release(&r);
  if (st != DC_OK) *exit_code = 1;
  return st;
}
