/* The fine-tuning losses beyond the published one (src/model/clip.c):
 *  - with one image per class in the batch, the same-class-positives loss (logits against
 *    the class prompts) is the published pairwise loss with its columns permuted: the same
 *    loss and the same gradient for every tensor;
 *  - the no-text ablation's linear head: its analytic gradients match central differences
 *    of the loss, and a few steps on separable data reduce the loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/rng.h"
#include "diffclip/train/train.h"

static int g_fails = 0;

static void small_config(struct dc_model_config *c) {
  int bands[2] = {6, 2};
  dc_model_config_paper(c, 2, bands);
  c->window = 3;
  c->stem_width[0] = c->stem_width[1] = 8;
  c->embed_dim = 16;
  c->depth = 1;
  c->heads = 2;
  c->text_width = 16;
  c->text_layers = 1;
  c->text_heads = 2;
  c->context = 6;
  c->vocab = 12;
}

/* Inputs: B images of classes cls[], the class prompts (token ids 1..), t. The prompts go
 * through dc_clip_set_prompts (cut after the last end-of-text token) unless full_context,
 * which uploads all `context` tokens of each as they are. */
static void fill_prompts(struct dc_clip *c, const int *cls, uint64_t seed, int full_context) {
  const struct dc_backend *be = c->params.be;
  const struct dc_model_config *cfg = &c->cfg;
  int B = c->B, L = dc_cfg_tokens(cfg);
  for (int m = 0; m < 2; m++) {
    size_t n = (size_t)B * L * cfg->bands[m];
    float *x = malloc(n * sizeof *x);
    dc_rng_fill_uniform(x, n, seed, 10 + (uint64_t)m, 0);
    for (int b = 0; b < B; b++) /* class-dependent offset: separable */
      for (size_t i = 0; i < (size_t)L * cfg->bands[m]; i++) x[(size_t)b * L * cfg->bands[m] + i] += 0.5f * cls[b];
    be->upload(c->io.x[m], x, n * sizeof *x);
    free(x);
  }
  int t[64], tok[64 * 8], eot[64];
  for (int b = 0; b < B; b++) t[b] = (int)dc_rng_below(seed, 3, (uint64_t)b, 0, 1000);
  be->upload(c->io.t, t, (size_t)B * sizeof(int));
  be->upload(c->io.text_of, cls, (size_t)B * sizeof(int));
  if (c->loss_kind != DC_CLIP_LINEAR) {
    int X = cfg->context;
    for (int k = 0; k < c->Bt; k++) {
      int j = 0;
      tok[k * X + j++] = cfg->vocab - 2;
      tok[k * X + j++] = 1 + k % 8;
      tok[k * X + j++] = 9;
      eot[k] = j;
      tok[k * X + j++] = cfg->vocab - 1;
      while (j < X) tok[k * X + j++] = 0;
    }
    if (full_context) {
      be->upload(c->io.tokens, tok, (size_t)c->Bt * X * sizeof(int));
      be->upload(c->io.eot, eot, (size_t)c->Bt * sizeof(int));
    } else if (dc_clip_set_prompts(c, tok, eot) != DC_OK) {
      abort();
    }
  }
}

static void fill(struct dc_clip *c, const int *cls, uint64_t seed) { fill_prompts(c, cls, seed, 0); }

/* ||a - b|| / max(||b||, floor): the floor keeps analytically zero gradients (a conv bias
 * before BatchNorm) from turning float round-off into a large relative error. */
static double rel_err(const float *a, const float *b, size_t n, double floor) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return sqrt(num) / fmax(sqrt(den), floor);
}

/* The worst rel_err over q's gradients against p's, tensor by tensor (matched by name),
 * each against a floor of 1e-4 of p's whole gradient norm; its tensor in *name. */
static double worst_grad_diff(const struct dc_clip *p, const struct dc_clip *q, const char **name) {
  const struct dc_backend *be = p->params.be;
  double total = sqrt(be->dot(p->params.grads, p->params.grads, p->params.n_trainable)), worst = 0;
  *name = "";
  for (int i = 0; i < p->params.count; i++) {
    const struct dc_tensor_info *t = &p->params.items[i];
    int j = dc_registry_find(&q->params, t->name);
    if (j < 0 || !t->trainable) continue;
    double e = rel_err(dc_grad(&q->params, j), dc_grad(&p->params, i), t->numel, 1e-4 * total);
    if (e > worst) worst = e, *name = t->name;
  }
  return worst;
}

static void classwise_equals_pairwise(void) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_model_config cfg;
  small_config(&cfg);
  enum { N = 5 };
  struct dc_clip *p = calloc(1, sizeof *p), *q = calloc(1, sizeof *q);
  if (dc_clip_init(p, &cfg, N, N, DC_CLIP_PAIRWISE, be) || dc_clip_init(q, &cfg, N, N, DC_CLIP_CLASSWISE, be) ||
      dc_init_weights(&p->params, &p->buffers, &cfg, 4) || dc_init_weights(&q->params, &q->buffers, &cfg, 4))
    abort();
  int cls[N] = {3, 0, 4, 1, 2}; /* one image per class, shuffled */
  fill(p, cls, 9);
  fill(q, cls, 9);
  if (dc_clip_forward(p, 1) || dc_clip_forward(q, 1) || dc_clip_backward(p) || dc_clip_backward(q)) abort();
  const char *worst_name;
  double dl = fabs(p->loss - q->loss) / fabs(p->loss), worst = worst_grad_diff(p, q, &worst_name);
  printf("same-class positives, one image per class: loss %.7f vs %.7f (rel %.1e), worst gradient %s %.1e\n", q->loss,
         p->loss, dl, worst_name, worst);
  if (!(dl < 1e-6 && worst < 1e-5)) {
    fprintf(stderr, "FAIL: the class-wise loss differs from the pairwise one with one image per class\n");
    g_fails++;
  }
  dc_clip_free(p);
  dc_clip_free(q);
  free(p);
  free(q);
}

/* The text encoder on the prompts cut after the last end-of-text token
 * (dc_clip_set_prompts) gives the full context's loss and gradients: it is causal and
 * pools at the end of text. An end of text outside the context is refused. */
static void prompts_cut_at_eot(void) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_model_config cfg;
  small_config(&cfg);
  cfg.context = 9; /* prompts of 4 tokens (start, two words, end): 5 of 9 never read */
  enum { N = 4 };
  struct dc_clip *p = calloc(1, sizeof *p), *q = calloc(1, sizeof *q);
  if (dc_clip_init(p, &cfg, N, N, DC_CLIP_PAIRWISE, be) || dc_clip_init(q, &cfg, N, N, DC_CLIP_PAIRWISE, be) ||
      dc_init_weights(&p->params, &p->buffers, &cfg, 5) || dc_init_weights(&q->params, &q->buffers, &cfg, 5))
    abort();
  int cls[N] = {1, 0, 3, 2};
  fill_prompts(p, cls, 7, 1);
  fill_prompts(q, cls, 7, 0);
  if (dc_clip_forward(p, 1) || dc_clip_forward(q, 1) || dc_clip_backward(p) || dc_clip_backward(q)) abort();
  const char *worst_name;
  double dl = fabs(p->loss - q->loss) / fabs(p->loss), worst = worst_grad_diff(p, q, &worst_name);
  printf("prompts cut after the end of text (%d of %d tokens): loss %.7f vs %.7f (rel %.1e), worst gradient %s %.1e\n",
         q->text_ctx, cfg.context, q->loss, p->loss, dl, worst_name, worst);
  if (!(q->text_ctx == 4 && dl < 1e-6 && worst < 1e-5)) {
    fprintf(stderr, "FAIL: the prompts cut after the end of text differ from the full context\n");
    g_fails++;
  }
  int tok[N * 9] = {0}, eot[N] = {3, 3, 9, 3};
  if (dc_clip_set_prompts(q, tok, eot) != DC_ERR_ARG) {
    fprintf(stderr, "FAIL: an end-of-text position past the context was accepted\n");
    g_fails++;
  }
  dc_clip_free(p);
  dc_clip_free(q);
  free(p);
  free(q);
}

/* An inference forward on the CPU runs its stacks in chunks of whole sequences
 * (dc_stack_fwd, 1024 rows); an image's features do not depend on the chunk it fell in.
 * 64 images of two modalities are 128 sequences of 10 tokens: two chunks, and image 63's
 * two sequences land in different ones; a batch of 2 runs in one. */
static void inference_chunks(void) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_model_config cfg;
  small_config(&cfg);
  enum { NB = 64, NS = 2 };
  struct dc_clip *big = calloc(1, sizeof *big), *sm = calloc(1, sizeof *sm);
  if (dc_clip_init_eval(big, &cfg, NB, 2, DC_CLIP_PAIRWISE, be) || dc_clip_init_eval(sm, &cfg, NS, 2, DC_CLIP_PAIRWISE, be) ||
      dc_init_weights(&big->params, &big->buffers, &cfg, 6) || dc_init_weights(&sm->params, &sm->buffers, &cfg, 6))
    abort();
  /* the published init zeroes some layers (visual.head): random weights, the same in both */
  float *w = malloc(big->params.n_total * sizeof *w);
  dc_rng_fill_uniform(w, big->params.n_total, 22, 0, 0);
  for (size_t i = 0; i < big->params.n_total; i++) w[i] = 0.6f * (w[i] - 0.5f);
  be->upload(big->params.params, w, big->params.n_total * sizeof *w);
  be->upload(sm->params.params, w, sm->params.n_total * sizeof *w);
  free(w);
  int L = dc_cfg_tokens(&cfg), D = cfg.embed_dim, t[NB];
  for (int m = 0; m < 2; m++) {
    size_t per = (size_t)L * cfg.bands[m];
    float *x = malloc(NB * per * sizeof *x);
    dc_rng_fill_uniform(x, NB * per, 21, (uint64_t)m, 0);
    be->upload(big->io.x[m], x, NB * per * sizeof *x);
    be->upload(sm->io.x[m], x + (NB - NS) * per, NS * per * sizeof *x); /* the last two images */
    free(x);
  }
  for (int b = 0; b < NB; b++) t[b] = (int)dc_rng_below(21, 3, (uint64_t)b, 0, 1000);
  be->upload(big->io.t, t, NB * sizeof *t);
  be->upload(sm->io.t, t + NB - NS, NS * sizeof *t);
  dc_clip_image_features(big, 0);
  dc_clip_image_features(sm, 0);
  float fb[NB * 64], fs[NS * 64];
  be->download(fb, big->io.image_features, (size_t)NB * D * sizeof *fb);
  be->download(fs, sm->io.image_features, (size_t)NS * D * sizeof *fs);
  double worst = 0, scale = 0;
  for (int i = 0; i < NS * D; i++) {
    worst = fmax(worst, fabs((double)fb[(NB - NS) * D + i] - fs[i]));
    scale = fmax(scale, fabs((double)fs[i]));
  }
  printf("inference in chunks: the last 2 of 64 images as in a batch of 2, max difference %.1e (features up to %.2f)\n",
         worst, scale);
  if (!(worst <= 1e-6 * fmax(1, scale))) {
    fprintf(stderr, "FAIL: an image's inference features depend on its chunk\n");
    g_fails++;
  }
  dc_clip_free(big);
  dc_clip_free(sm);
  free(big);
  free(sm);
}

/* Both encoders are read at one row per sequence (the cls row, the end-of-text row), so
 * their last blocks run on those rows only where the backend has the pooled attention
 * (dc_stack_acts_pool). Against the same CPU backend without it (the whole stack, then the
 * rows gathered: what a backend without the op runs), with two blocks per stack, prompts
 * of different lengths and chunks of 3 sequences: the same loss, features and gradients,
 * in training and in an inference model. */
static void pooled_rows(void) {
  struct dc_backend plain = *dc_backend_cpu();
  plain.attention_pooled_forward = NULL;
  plain.attention_pooled_backward = NULL;
  const struct dc_backend *bes[2] = {dc_backend_cpu(), &plain};
  struct dc_model_config cfg;
  small_config(&cfg);
  cfg.depth = 2;
  cfg.text_layers = 2;
  enum { B = 7, N = 4 };
  dc_stack_set_chunk_rows(30); /* 3 sequences of 10 tokens, or of 6 */
  struct dc_clip *c[2], *e[2];
  int cls[B] = {0, 1, 2, 3, 1, 2, 0}, X = cfg.context, D = cfg.embed_dim;
  int tok[N * 8] = {0}, eot[N];
  for (int k = 0; k < N; k++) { /* start, 1 + k % 3 words, end */
    int j = 0;
    tok[k * X + j++] = cfg.vocab - 2;
    for (int w = 0; w <= k % 3; w++) tok[k * X + j++] = 1 + (k + w) % 8;
    eot[k] = j;
    tok[k * X + j++] = cfg.vocab - 1;
  }
  float *w = NULL;
  for (int v = 0; v < 2; v++) {
    c[v] = calloc(1, sizeof *c[v]), e[v] = calloc(1, sizeof *e[v]);
    if (dc_clip_init(c[v], &cfg, B, N, DC_CLIP_CLASSWISE, bes[v]) ||
        dc_clip_init_eval(e[v], &cfg, B, N, DC_CLIP_CLASSWISE, bes[v]) ||
        dc_init_weights(&c[v]->params, &c[v]->buffers, &cfg, 8) || dc_init_weights(&e[v]->params, &e[v]->buffers, &cfg, 8))
      abort();
    if (!w) { /* random weights (the published init zeroes visual.head), the same in all four */
      w = malloc(c[v]->params.n_total * sizeof *w);
      dc_rng_fill_uniform(w, c[v]->params.n_total, 23, 0, 0);
      for (size_t i = 0; i < c[v]->params.n_total; i++) w[i] = 0.6f * (w[i] - 0.5f);
    }
    memcpy(c[v]->params.params, w, c[v]->params.n_total * sizeof *w);
    memcpy(e[v]->params.params, w, e[v]->params.n_total * sizeof *w);
    fill(c[v], cls, 12);
    fill(e[v], cls, 12);
    if (dc_clip_set_prompts(c[v], tok, eot) || dc_clip_set_prompts(e[v], tok, eot)) abort();
    if (dc_clip_forward(c[v], 1) || dc_clip_backward(c[v])) abort();
    dc_clip_image_features(e[v], 0);
    dc_clip_text_features(e[v]);
  }
  free(w);
  const char *worst_name;
  double dl = fabs(c[0]->loss - c[1]->loss) / fabs(c[1]->loss), worst = worst_grad_diff(c[1], c[0], &worst_name);
  double fi = rel_err(c[0]->io.image_features, c[1]->io.image_features, (size_t)B * D, 1e-6);
  double ft = rel_err(c[0]->io.text_features, c[1]->io.text_features, (size_t)N * D, 1e-6);
  double ei = rel_err(e[0]->io.image_features, e[1]->io.image_features, (size_t)B * D, 1e-6);
  double et = rel_err(e[0]->io.text_features, e[1]->io.text_features, (size_t)N * D, 1e-6);
  printf("last blocks on the rows read: loss %.7f vs %.7f (rel %.1e), features %.1e %.1e, worst gradient %s %.1e; "
         "inference features %.1e %.1e\n",
         c[0]->loss, c[1]->loss, dl, fi, ft, worst_name, worst, ei, et);
  /* the worst gradient is that of a conv bias before BatchNorm, analytically zero: its
   * round-off against the floor of worst_grad_diff; a wrong row or term would be O(1) */
  if (!(dl < 1e-6 && fi < 1e-6 && ft < 1e-6 && worst < 1e-4 && ei < 1e-6 && et < 1e-6 && c[0]->loss > 0)) {
    fprintf(stderr, "FAIL: the encoders' last blocks on the rows read differ from the whole stacks\n");
    g_fails++;
  }
  dc_stack_set_chunk_rows(0);
  for (int v = 0; v < 2; v++) dc_clip_free(c[v]), dc_clip_free(e[v]), free(c[v]), free(e[v]);
}

static void linear_head(void) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_model_config cfg;
  small_config(&cfg);
  enum { B = 8, N = 4 };
  struct dc_clip *c = calloc(1, sizeof *c);
  if (dc_clip_init(c, &cfg, B, N, DC_CLIP_LINEAR, be) || dc_init_weights(&c->params, &c->buffers, &cfg, 5)) abort();
  int cls[B] = {0, 1, 2, 3, 3, 2, 1, 0};
  fill(c, cls, 11);
  /* finite differences on the classifier and the head, BatchNorm in eval mode so the
   * loss is a fixed function of the parameters */
  static const char *const names[] = {"classifier.weight", "classifier.bias", "visual.head.weight"};
  double worst = 0;
  for (int n = 0; n < 3; n++) {
    int i = dc_registry_find(&c->params, names[n]);
    if (dc_clip_forward(c, 0) || dc_clip_backward(c)) abort();
    float *w = dc_param(&c->params, i), *g = dc_grad(&c->params, i);
    for (size_t k = 0; k < c->params.items[i].numel; k += 7) {
      float keep = w[k], h = 1e-2f;
      w[k] = keep + h;
      dc_clip_forward(c, 0);
      double lp = c->loss;
      w[k] = keep - h;
      dc_clip_forward(c, 0);
      double lm = c->loss;
      w[k] = keep;
      double num = (lp - lm) / (2 * h), err = fabs(num - g[k]) / fmax(1e-2, fabs(num));
      if (err > worst) worst = err;
    }
  }
  printf("linear head: worst finite-difference error %.2e\n", worst);
  if (!(worst < 5e-2)) {
    fprintf(stderr, "FAIL: linear-head gradients disagree with finite differences (%.3g)\n", worst);
    g_fails++;
  }
  struct dc_adam adam;
  if (dc_adam_init(&adam, &c->params, 1e-2, 0, 0)) abort();
  dc_clip_forward(c, 1);
  double first = c->loss;
  for (int s = 0; s < 30; s++) {
    dc_clip_forward(c, 1);
    dc_clip_backward(c);
    dc_adam_step(&adam, &c->params, 1e-2);
  }
  dc_clip_forward(c, 1);
  printf("linear head: loss %.4f -> %.4f after 30 steps\n", first, c->loss);
  if (!(c->loss < 0.5 * first)) {
    fprintf(stderr, "FAIL: the linear head did not learn separable data\n");
    g_fails++;
  }
  dc_adam_free(&adam, be);
  dc_clip_free(c);
  free(c);
}

int main(void) {
  classwise_equals_pairwise();
  prompts_cut_at_eot();
  inference_chunks();
  pooled_rows();
  linear_head();
  if (g_fails) return 1;
  printf("test_clip_losses: all checks passed\n");
  return 0;
}
