/* `diffclip bench-speed`: times one pretraining step, one fine-tuning step and one
 * inference batch at the paper's Houston sizes (144 + 1 bands, W = 11, D = 128, ...) on
 * random inputs, and prints samples/s and achieved GFLOP/s from the model's own
 * matrix-multiply FLOP count. Fine-tuning is timed twice: as published (one text per
 * image, Bt = B) and as diffclip runs it by default (one text per class, Bt = 15). */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/rng.h"
#include "diffclip/train.h"

#define HOUSTON_CLASSES 15

struct bench_opts {
  int batch, iters, warmup;
};

struct timing {
  double best, median;
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static struct timing summarise(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  return (struct timing){t[0], n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2])};
}

static void report(const char *what, int B, double gflop, struct timing t) {
  printf("%-34s batch %4d  %8.2f samples/s  %7.2f GFLOP/s  (%.1f GFLOP, median %.3f s, best %.3f s)\n", what, B,
         B / t.median, gflop / t.median, gflop, t.median, t.best);
}

static void fill_random(const struct dc_backend *be, float *dst, size_t n, uint64_t stream) {
  float *h = malloc(n * sizeof *h);
  if (!h) return;
  dc_rng_fill_uniform(h, n, 7, stream, 0);
  be->upload(dst, h, n * sizeof *h);
  free(h);
}

static enum dc_status bench_pretrain(const struct bench_opts *o, const struct dc_model_config *cfg) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_pretrain *p = calloc(1, sizeof *p);
  DC_CHECK_ALLOC(p);
  int B = o->batch, L = dc_cfg_tokens(cfg);
  DC_TRY(dc_pretrain_init(p, cfg, B, be));
  DC_TRY(dc_init_weights(&p->params, &p->buffers, cfg, 1));
  struct dc_adam adam;
  DC_TRY(dc_adam_init(&adam, &p->params, 1e-4f, 1e-4f, 0));
  float *x0[2] = {malloc((size_t)B * L * cfg->bands[0] * sizeof(float)), malloc((size_t)B * L * cfg->bands[1] * sizeof(float))};
  DC_CHECK_ALLOC(x0[0]);
  DC_CHECK_ALLOC(x0[1]);
  dc_rng_fill_uniform(x0[0], (size_t)B * L * cfg->bands[0], 3, 1, 0);
  dc_rng_fill_uniform(x0[1], (size_t)B * L * cfg->bands[1], 3, 2, 0);
  double *t = malloc((size_t)o->iters * sizeof *t);
  DC_CHECK_ALLOC(t);
  for (int i = -o->warmup; i < o->iters; i++) {
    double t0 = dc_cli_now();
    DC_TRY(dc_pretrain_prepare(p, (const float *const *)x0, 1, (uint64_t)(i + o->warmup) * B));
    DC_TRY(dc_pretrain_forward(p));
    DC_TRY(dc_pretrain_backward(p));
    dc_adam_step(&adam, &p->params, 1e-4f);
    if (i >= 0) t[i] = dc_cli_now() - t0;
  }
  report("pretraining step (fwd+bwd+Adam)", B, 3 * dc_flops_pretrain_forward(cfg, B) / 1e9, summarise(t, o->iters));
  free(t);
  free(x0[0]);
  free(x0[1]);
  dc_adam_free(&adam, be);
  dc_pretrain_free(p);
  free(p);
  return DC_OK;
}

/* Fine-tuning steps with Bt texts (Bt = B: published; Bt = classes: ours), then inference. */
static enum dc_status bench_clip(const struct bench_opts *o, const struct dc_model_config *cfg, int Bt,
                                 const char *label, int with_inference) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_clip *c = calloc(1, sizeof *c);
  DC_CHECK_ALLOC(c);
  int B = o->batch, L = dc_cfg_tokens(cfg), X = cfg->context;
  DC_TRY(dc_clip_init(c, cfg, B, Bt, DC_CLIP_PAIRWISE, be));
  DC_TRY(dc_init_weights(&c->params, &c->buffers, cfg, 1));
  fill_random(be, c->io.x[0], (size_t)B * L * cfg->bands[0], 1);
  fill_random(be, c->io.x[1], (size_t)B * L * cfg->bands[1], 2);
  int *h = malloc((size_t)(Bt * X + 3 * B + Bt) * sizeof *h);
  DC_CHECK_ALLOC(h);
  int *tok = h, *eot = h + Bt * X, *tt = eot + Bt, *pair = tt + B, *ar = pair + B;
  for (int k = 0; k < Bt; k++) { /* prompts of 12 tokens: start, 10 words, end */
    for (int j = 0; j < X; j++) tok[k * X + j] = j == 0 ? cfg->vocab - 2 : j < 11 ? 1 + (k * 31 + j * 7) % 40000 : 0;
    tok[k * X + 11] = cfg->vocab - 1;
    eot[k] = 11;
  }
  for (int b = 0; b < B; b++) {
    tt[b] = (int)dc_rng_below(5, 1, (uint64_t)b, 0, 1000);
    pair[b] = b % Bt;
    ar[b] = b;
  }
  be->upload(c->io.tokens, tok, (size_t)Bt * X * sizeof(int));
  be->upload(c->io.eot, eot, (size_t)Bt * sizeof(int));
  be->upload(c->io.t, tt, (size_t)B * sizeof(int));
  be->upload(c->io.text_of, pair, (size_t)B * sizeof(int));
  be->upload(c->io.targets, ar, (size_t)B * sizeof(int));
  free(h);
  struct dc_adam adam;
  DC_TRY(dc_adam_init(&adam, &c->params, 1e-4f, 1e-5f, 0));
  double *t = malloc((size_t)o->iters * sizeof *t);
  DC_CHECK_ALLOC(t);
  for (int i = -o->warmup; i < o->iters; i++) {
    double t0 = dc_cli_now();
    DC_TRY(dc_clip_forward(c, 1));
    DC_TRY(dc_clip_backward(c));
    dc_adam_step(&adam, &c->params, 1e-4f);
    if (i >= 0) t[i] = dc_cli_now() - t0;
  }
  double gflop = 3 * (dc_flops_image_forward(cfg, B) + dc_flops_text_forward(cfg, Bt)) / 1e9;
  report(label, B, gflop, summarise(t, o->iters));
  if (with_inference) {
    /* inference: image features of a batch, eval-mode BatchNorm; the class prompts' text
     * features are computed once per run, not per batch */
    for (int i = -o->warmup; i < o->iters; i++) {
      double t0 = dc_cli_now();
      dc_clip_image_features(c, 0);
      be->synchronize();
      if (i >= 0) t[i] = dc_cli_now() - t0;
    }
    report("inference batch (image features)", B, dc_flops_image_forward(cfg, B) / 1e9, summarise(t, o->iters));
  }
  free(t);
  dc_adam_free(&adam, be);
  dc_clip_free(c);
  free(c);
  return DC_OK;
}

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip bench-speed [options]\n"
          "Times a pretraining step, a fine-tuning step and an inference batch at the paper's\n"
          "Houston sizes on random data (CPU backend) and prints samples/s and GFLOP/s.\n\n"
          "  --batch N    batch size (default 128)\n"
          "  --iters N    timed iterations; the median is reported (default 3)\n"
          "  --warmup N   untimed iterations first (default 1)\n"
          "  --help       this text\n");
}

int dc_cmd_bench_speed(struct dc_dist *d, int argc, char **argv) {
  struct bench_opts o = {.batch = 128, .iters = 3, .warmup = 1};
  static const struct option longopts[] = {{"batch", required_argument, 0, 'b'},
                                           {"iters", required_argument, 0, 'i'},
                                           {"warmup", required_argument, 0, 'w'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int ch, ok = 1;
  while (ok && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'b': ok = dc_cli_parse_int("bench-speed", "batch", optarg, 2, &o.batch); break;
      case 'i': ok = dc_cli_parse_int("bench-speed", "iters", optarg, 1, &o.iters); break;
      case 'w': ok = dc_cli_parse_int("bench-speed", "warmup", optarg, 0, &o.warmup); break;
      case 'h': bench_usage(stdout); return DC_EXIT_OK;
      default: ok = 0;
    }
  }
  if (!ok || optind != argc) {
    bench_usage(stderr);
    return DC_EXIT_USAGE;
  }
  if (d->rank != 0) return DC_EXIT_OK; /* a single-process benchmark */
  struct dc_model_config cfg;
  int bands[2] = {144, 1};
  dc_model_config_paper(&cfg, 2, bands);
  printf("bench-speed: CPU backend, %d OpenMP threads, Houston sizes (144+1 bands, W=%d, D=%d, %d+%d blocks)\n",
         omp_get_max_threads(), cfg.window, cfg.embed_dim, cfg.depth, cfg.decoder_depth);
  enum dc_status st = bench_pretrain(&o, &cfg);
  if (st == DC_OK) st = bench_clip(&o, &cfg, o.batch, "fine-tuning step, text per image", 1);
  if (st == DC_OK) st = bench_clip(&o, &cfg, HOUSTON_CLASSES, "fine-tuning step, text per class", 0);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
}
