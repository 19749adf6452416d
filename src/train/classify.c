/* Classifying samples with a stage-2 model (see classify.h): prompts and tokens, the
 * model, batched prediction on one process and sharded over the ranks. */
#include "diffclip/train/classify.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/fsutil.h"
#include "diffclip/core/rng.h"
#include "diffclip/text/prompts.h"
#include "diffclip/train/slot.h"

/* ---- prompts, tokens, the model ---------------------------------------------------- */

/* The tokenizer a fine-tuned checkpoint stores: its vocabulary table, one entry a line. */
static enum dc_status tokenizer_from_vocab(const char *vocab, struct dc_tokenizer **out) {
  char *text = strdup(vocab), **lines;
  DC_CHECK_ALLOC(text);
  int n = 0, cap = 1;
  for (const char *p = text; *p; p++) cap += *p == '\n';
  lines = malloc((size_t)cap * sizeof *lines);
  if (!lines) free(text);
  DC_CHECK_ALLOC(lines);
  for (char *line = strtok(text, "\n"); line && n < cap; line = strtok(NULL, "\n")) lines[n++] = line;
  enum dc_status st = dc_tokenizer_from_table((const char *const *)lines, n, out);
  free(lines);
  free(text);
  return st;
}

enum dc_status dc_class_text_make(const struct dc_config *cfg, const char *const *names, const char *const *desc, int N,
                                  const char *vocab, struct dc_class_text *out) {
  const struct dc_config_finetune *fc = &cfg->finetune;
  memset(out, 0, sizeof *out);
  out->N = N;
  if (fc->template[0]) {
    out->prompts = calloc((size_t)N, sizeof *out->prompts);
    DC_CHECK_ALLOC(out->prompts);
    for (int k = 0; k < N; k++) DC_TRY(dc_prompt_custom(fc->template, names[k], &out->prompts[k]));
  } else {
    /* the configuration's prompt choices are enum dc_prompt_template's, in order */
    const char *name = dc_prompt_template_name((enum dc_prompt_template)fc->prompt);
    DC_TRY(dc_prompts_make_all(name, names, desc, N, &out->prompts));
  }
  if (vocab) {
    DC_TRY(tokenizer_from_vocab(vocab, &out->tok));
  } else if (fc->tokenizer == DC_FINETUNE_TOKENIZER_CLIP_BPE) {
    if (!fc->merges[0])
      return DC_ERROR(DC_ERR_ARG, "finetune.tokenizer = \"clip_bpe\" needs finetune.merges (the shipped file is "
                                  "data_manifests/clip_bpe/bpe_simple_vocab_16e6.txt.gz)");
    DC_TRY(dc_tokenizer_load_bpe(fc->merges, &out->tok));
  } else {
    DC_TRY(dc_tokenizer_from_prompts((const char *const *)out->prompts, N, &out->tok));
  }
  int ctx = cfg->model.context;
  out->tokens = malloc((size_t)N * ctx * sizeof *out->tokens);
  out->eot = malloc((size_t)N * sizeof *out->eot);
  DC_CHECK_ALLOC(out->tokens);
  DC_CHECK_ALLOC(out->eot);
  return dc_tokenizer_encode_batch(out->tok, (const char *const *)out->prompts, N, ctx, 1, out->tokens, out->eot);
}

void dc_class_text_free(struct dc_class_text *t) {
  if (t->prompts) dc_prompts_free(t->prompts, t->N);
  if (t->tok) dc_tokenizer_free(t->tok);
  free(t->tokens);
  free(t->eot);
  memset(t, 0, sizeof *t);
}

enum dc_clip_loss dc_stage2_loss(const struct dc_config *cfg) {
  return cfg->finetune.head == DC_FINETUNE_HEAD_LINEAR ? DC_CLIP_LINEAR
         : cfg->finetune.same_class_positives        ? DC_CLIP_CLASSWISE
                                                     : DC_CLIP_PAIRWISE;
}

enum dc_status dc_stage2_model(const struct dc_config *cfg, const struct dc_model_config *mcfg, enum dc_clip_loss loss,
                               const struct dc_class_text *text, int B, int eval_only, struct dc_clip **out) {
  *out = calloc(1, sizeof **out);
  DC_CHECK_ALLOC(*out);
  const struct dc_backend *be;
  enum dc_run_backend kind = cfg->run.backend;
  /* auto: CUDA when built and a GPU is visible (run.backend's documented meaning) */
  DC_TRY(dc_backend_get(kind == DC_RUN_BACKEND_CUDA ? "cuda" : kind == DC_RUN_BACKEND_CPU ? "cpu" : "auto", &be));
  DC_TRY(eval_only ? dc_clip_init_eval(*out, mcfg, B, text->N, loss, be) : dc_clip_init(*out, mcfg, B, text->N, loss, be));
  if (loss != DC_CLIP_LINEAR) DC_TRY(dc_clip_set_prompts(*out, text->tokens, text->eot));
  return DC_OK;
}

/* ---- the classifier ----------------------------------------------------------------- */

enum dc_status dc_classifier_init(struct dc_classifier *k, const struct dc_config *cfg, const struct dc_samples *smp,
                                  const struct dc_model_config *mcfg, enum dc_clip_loss loss, int N, int cap) {
  memset(k, 0, sizeof *k);
  k->smp = smp, k->mcfg = mcfg, k->loss = loss, k->N = N, k->cap = cap;
  k->seed = (uint64_t)cfg->run.seed;
  k->timestep_zero = cfg->finetune.timestep_zero_at_inference;
  k->max_wall_s = cfg->pretrain.max_wall_s;
  int L = dc_cfg_tokens(mcfg), D = mcfg->embed_dim;
  for (int m = 0; m < mcfg->n_modalities; m++) {
    k->hx[m] = malloc((size_t)cap * L * mcfg->bands[m] * sizeof(float));
    DC_CHECK_ALLOC(k->hx[m]);
  }
  k->ht = malloc((size_t)cap * sizeof(int)), k->hlab = malloc((size_t)cap * sizeof(int));
  k->hidx = malloc((size_t)cap * sizeof(int));
  k->feat = malloc((size_t)cap * D * sizeof(float)), k->text = malloc((size_t)N * D * sizeof(float));
  k->cls_w = malloc((size_t)N * D * sizeof(float)), k->cls_b = malloc((size_t)N * sizeof(float));
  k->logit = malloc((size_t)N * sizeof(double));
  if (!k->ht || !k->hlab || !k->hidx || !k->feat || !k->text || !k->cls_w || !k->cls_b || !k->logit)
    return DC_ERROR(DC_ERR_NOMEM, "no memory for the classifier's batch buffers (%d samples)", cap);
  return DC_OK;
}

void dc_classifier_free(struct dc_classifier *k) {
  for (int m = 0; m < DC_MAX_MODALITIES; m++) free(k->hx[m]);
  free(k->ht), free(k->hlab), free(k->hidx), free(k->feat), free(k->text), free(k->cls_w), free(k->cls_b);
  free(k->logit);
  memset(k, 0, sizeof *k);
}

void dc_classifier_load(struct dc_classifier *k, struct dc_clip *c, const int *idx, const int *lab, int n,
                        uint64_t stream, uint64_t key, int zero_t) {
  const struct dc_backend *be = c->params.be;
  int B = c->B, L = dc_cfg_tokens(k->mcfg);
  for (int j = 0; j < B; j++) {
    int i = j < n ? j : n - 1;
    k->hidx[j] = idx[i];
    k->hlab[j] = lab ? lab[i] : 0;
    k->ht[j] = zero_t ? 0 : (int)dc_rng_below(k->seed, stream, key + (uint64_t)j, 0, (uint32_t)k->mcfg->timesteps);
  }
  for (int m = 0; m < k->mcfg->n_modalities; m++) {
    dc_samples_cut(k->smp, m, k->mcfg->window, k->hidx, B, k->hx[m]);
    be->upload(c->io.x[m], k->hx[m], (size_t)B * L * k->mcfg->bands[m] * sizeof(float));
  }
  be->upload(c->io.t, k->ht, (size_t)B * sizeof(int));
  be->upload(c->io.text_of, k->hlab, (size_t)B * sizeof(int));
}

static void normalise_rows(float *x, int n, int D) {
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < D; j++) s += (double)x[i * D + j] * x[i * D + j];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int j = 0; j < D; j++) x[i * D + j] *= inv;
  }
}

/* One sample's outputs from its N scores (logits before the scale, in k->logit, which
 * this overwrites with the softmax's numerators). */
static void sample_out(const struct dc_classifier *k, double scale, size_t i, const struct dc_class_out *out) {
  double *s = k->logit;
  int N = k->N, best = 0, second = -1;
  for (int c = 1; c < N; c++)
    if (s[c] > s[best]) best = c;
  for (int c = 0; c < N; c++)
    if (c != best && (second < 0 || s[c] > s[second])) second = c;
  if (out->pred) out->pred[i] = best;
  if (out->score) out->score[i] = N >= 2 ? 1.0 / (1.0 + exp(-scale * (s[1] - s[0]))) : 1.0;
  if (!out->prob && !out->top2 && !out->top2_prob) return;
  double z = 0, top = s[best];
  for (int c = 0; c < N; c++) z += s[c] = exp(scale * (s[c] - top));
  if (out->prob)
    for (int c = 0; c < N; c++) out->prob[i * N + c] = (float)(s[c] / z);
  if (out->top2) {
    out->top2[2 * i] = (uint8_t)(best + 1);
    out->top2[2 * i + 1] = (uint8_t)(second >= 0 ? second + 1 : 0);
  }
  if (out->top2_prob) {
    out->top2_prob[2 * i] = (uint16_t)lround(65535.0 / z);
    out->top2_prob[2 * i + 1] = second >= 0 ? (uint16_t)lround(65535.0 * s[second] / z) : 0;
  }
}

/* The offset of each output by i samples (prob N a sample, top2 2). */
static struct dc_class_out out_at(const struct dc_class_out *o, size_t i, int N) {
  struct dc_class_out r = {o->pred ? o->pred + i : NULL, o->score ? o->score + i : NULL,
                           o->prob ? o->prob + i * (size_t)N : NULL, o->top2 ? o->top2 + 2 * i : NULL,
                           o->top2_prob ? o->top2_prob + 2 * i : NULL};
  return r;
}

int dc_classify(struct dc_classifier *k, struct dc_clip *c, const int *idx, int n, const struct dc_class_out *out,
                int check_stop) {
  const struct dc_backend *be = c->params.be;
  int D = k->mcfg->embed_dim, N = k->N, linear = k->loss == DC_CLIP_LINEAR;
  float log_scale = 0;
  if (!linear) be->download(&log_scale, dc_param(&c->params, c->logit_scale), sizeof log_scale);
  double scale = linear ? 1.0 : exp((double)log_scale);
  if (linear) {
    be->download(k->cls_w, dc_param(&c->params, c->classifier.w), (size_t)N * D * sizeof(float));
    be->download(k->cls_b, dc_param(&c->params, c->classifier.b), (size_t)N * sizeof(float));
  } else {
    dc_clip_text_features(c);
    be->download(k->text, c->io.text_features, (size_t)N * D * sizeof(float));
    normalise_rows(k->text, N, D);
  }
  double slowest = 0, t0 = dc_now_s(), t_batch = t0, t_said = t0;
  for (int start = 0; start < n; start += c->B) {
    /* a stop request, or no room left in the slot for one more batch and the result */
    if (check_stop && dc_slot_must_stop(k->max_wall_s, dc_slot_need(slowest), NULL)) return 1;
    int m = n - start < c->B ? n - start : c->B;
    dc_classifier_load(k, c, idx + start, NULL, m, DC_STREAM_TIMESTEP + 3, 0, k->timestep_zero);
    if (!k->timestep_zero) { /* keyed by sample index, so a timestep does not depend on the batching */
      for (int j = 0; j < c->B; j++)
        k->ht[j] = (int)dc_rng_below(k->seed, DC_STREAM_TIMESTEP + 3, (uint64_t)k->hidx[j], 0,
                                     (uint32_t)k->mcfg->timesteps);
      be->upload(c->io.t, k->ht, (size_t)c->B * sizeof(int));
    }
    dc_clip_image_features(c, 0);
    be->download(k->feat, c->io.image_features, (size_t)c->B * D * sizeof(float));
    if (!linear) normalise_rows(k->feat, m, D);
    struct dc_class_out o = out_at(out, (size_t)start, N);
    for (int j = 0; j < m; j++) {
      for (int q = 0; q < N; q++) {
        const float *w = linear ? k->cls_w + (size_t)q * D : k->text + (size_t)q * D;
        double s = linear ? k->cls_b[q] : 0.0;
        for (int e = 0; e < D; e++) s += (double)k->feat[(size_t)j * D + e] * w[e];
        k->logit[q] = s;
      }
      sample_out(k, scale, (size_t)j, &o);
    }
    double t = dc_now_s();
    if (t - t_batch > slowest) slowest = t - t_batch;
    t_batch = t;
    if (k->progress && (t - t_said >= 10.0 || start + m == n) && t > t0) {
      char spent[32], left[32];
      dc_format_hms(t - t0, spent, sizeof spent);
      dc_format_hms((t - t0) / (start + m) * (n - start - m), left, sizeof left);
      dc_log(DC_LOG_INFO, "  %s: %d of %d (%.0f%%), %.0f samples/s, elapsed %s, left %s", k->progress, start + m, n,
             100.0 * (start + m) / n, (start + m) / (t - t0), spent, left);
      t_said = t;
    }
  }
  return 0;
}

void *dc_class_out_wanted(void) {
  static double none[1];
  return none;
}

/* A rank's share of n samples classified in batches of B: whole batches, dealt out in
 * order, so that every sample is classified in the same batch and at the same row on any
 * rank count (GEMM kernels may round a row differently by its place in the matrix: maps on
 * 1 and on 8 ranks are then identical to the bit, at the same threads per rank). */
static void share(int n, int B, int size, int rank, int *lo, int *hi) {
  long nb = ((long)n + B - 1) / B, b0 = nb * rank / size, b1 = nb * (rank + 1) / size;
  *lo = (int)(b0 * B < n ? b0 * B : n), *hi = (int)(b1 * B < n ? b1 * B : n);
}

/* Gathers one output of `per` elements a sample (its MPI type `type`, `size` bytes each). */
static int gather(const struct dc_dist *d, const void *mine, void *all, int n, int B, int per, MPI_Datatype type,
                  int *counts) {
  for (int r = 0; r < d->size; r++) {
    int lo, hi;
    share(n, B, d->size, r, &lo, &hi);
    counts[r] = (hi - lo) * per;
    counts[d->size + r] = lo * per;
  }
  return MPI_Gatherv(mine, counts[d->rank], type, all, counts, counts + d->size, type, 0, d->comm);
}

enum dc_status dc_classify_sharded(const struct dc_dist *d, struct dc_classifier *k, struct dc_clip *c, const int *idx,
                                   int n, const struct dc_class_out *out) {
  int N = k->N;
  if ((out->prob && (long long)n * N > INT_MAX) || 2LL * n > INT_MAX)
    return DC_ERROR(DC_ERR_ARG, "%d samples x %d classes is more than one gather holds (2^31 - 1 values): classify "
                    "the scene in parts", n, N);
  int lo, hi;
  share(n, c->B, d->size, d->rank, &lo, &hi);
  int mine = hi - lo;
  size_t s = (size_t)mine + 1;
  struct dc_class_out my = {out->pred ? malloc(s * sizeof(int)) : NULL, out->score ? malloc(s * sizeof(double)) : NULL,
                            out->prob ? malloc(s * N * sizeof(float)) : NULL, out->top2 ? malloc(2 * s) : NULL,
                            out->top2_prob ? malloc(2 * s * sizeof(uint16_t)) : NULL};
  int *counts = malloc(2 * (size_t)d->size * sizeof *counts);
  enum dc_status st = DC_OK;
  if (!counts || (out->pred && !my.pred) || (out->score && !my.score) || (out->prob && !my.prob) ||
      (out->top2 && !my.top2) || (out->top2_prob && !my.top2_prob))
    st = DC_ERROR(DC_ERR_NOMEM, "no memory for the predictions of %d samples", mine);
  DC_TRY(dc_dist_agree(d, st));
  int stopped = mine > 0 ? dc_classify(k, c, idx + lo, mine, &my, 1) : 0;
  if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &stopped, 1, MPI_INT, MPI_MAX, d->comm);
  int rc = MPI_SUCCESS;
  if (!stopped) {
    if (out->pred) rc = gather(d, my.pred, out->pred, n, c->B, 1, MPI_INT, counts);
    if (rc == MPI_SUCCESS && out->score) rc = gather(d, my.score, out->score, n, c->B, 1, MPI_DOUBLE, counts);
    if (rc == MPI_SUCCESS && out->prob) rc = gather(d, my.prob, out->prob, n, c->B, N, MPI_FLOAT, counts);
    if (rc == MPI_SUCCESS && out->top2) rc = gather(d, my.top2, out->top2, n, c->B, 2, MPI_UINT8_T, counts);
    if (rc == MPI_SUCCESS && out->top2_prob) rc = gather(d, my.top2_prob, out->top2_prob, n, c->B, 2, MPI_UINT16_T, counts);
  }
  free(my.pred), free(my.score), free(my.prob), free(my.top2), free(my.top2_prob), free(counts);
  if (stopped) return DC_STOPPED;
  return rc == MPI_SUCCESS ? DC_OK : DC_ERROR(DC_ERR_MPI, "gathering predictions failed");
}
