/* `diffclip bench-speed`: times one pretraining step, one fine-tuning step and one
 * inference batch at the paper's Houston sizes (144 + 1 bands, W = 11, D = 128, ...) on
 * random inputs, on the backend chosen with --backend (the model code is the same for
 * all: the backend table is the only switch), and prints samples/s and the achieved
 * FLOP rate from the model's own matrix-multiply FLOP count, next to the published
 * PyTorch code's figures for the same kind of machine (the project's issues). Fine-tuning
 * is timed twice: as published (one text per image, Bt = B) and as diffclip runs it by
 * default (one text per class, Bt = 15). Every timed step ends with a device
 * synchronisation, so GPU times are whole steps. */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/core/fsutil.h"
#include "diffclip/core/rng.h"
#include "diffclip/train/train.h"

#define HOUSTON_CLASSES 15

enum { CASE_PRETRAIN = 1, CASE_FINETUNE = 2, CASE_FINETUNE_CLASS = 4, CASE_INFERENCE = 8, CASE_ALL = 15 };
static const struct {
  const char *name;
  unsigned bit;
} case_names[] = {{"pretrain", CASE_PRETRAIN},
                  {"finetune", CASE_FINETUNE},
                  {"finetune-class", CASE_FINETUNE_CLASS},
                  {"inference", CASE_INFERENCE},
                  {"all", CASE_ALL}};

/* --case LIST: comma-separated names of case_names; 0 when one is not known */
static unsigned parse_cases(const char *list) {
  unsigned bits = 0;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    unsigned bit = 0;
    for (size_t k = 0; k < sizeof case_names / sizeof case_names[0]; k++)
      if (strlen(case_names[k].name) == n && strncmp(p, case_names[k].name, n) == 0) bit = case_names[k].bit;
    if (!bit) return 0;
    bits |= bit;
    p += n + (p[n] == ',');
  }
  return bits;
}

struct bench_opts {
  int batch, iters, warmup, graph, bf16, gemms;
  unsigned cases; /* CASE_* bits: which cases run (--case; all by default) */
  const char *backend;
};

/* No speed-up is printed against a figure this run did not measure: a comparison with the
 * published PyTorch code is made side by side in one run (../shared/bench/side_by_side.sh,
 * docs/performance.md). */
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

/* This process's resident memory now and at its peak so far, in MiB (Linux /proc and
 * getrusage; 0 where unknown). */
static void memory_mib(double *now, double *peak) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  if (f) fclose(f);
  *now = (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
  struct rusage ru;
  *peak = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0; /* ru_maxrss in KiB on Linux */
}

static void report(const struct dc_backend *be, const char *what, int B, double gflop, struct timing t) {
  double rate = B / t.median;
  if (be->device_memory)
    printf("%-34s batch %4d  %9.1f samples/s  %6.2f TFLOP/s  (%.1f GFLOP, median %.2f ms, best %.2f ms)", what, B,
           rate, gflop / t.median / 1e3, gflop, 1e3 * t.median, 1e3 * t.best);
  else
    printf("%-34s batch %4d  %8.2f samples/s  %7.2f GFLOP/s  (%.1f GFLOP, median %.3f s, best %.3f s)", what, B, rate,
           gflop / t.median, gflop, t.median, t.best);
  double now, peak;
  memory_mib(&now, &peak); /* the case's model and buffers are still allocated */
  printf("  rss %.0f MiB, peak %.0f MiB\n", now, peak);
}

static void fill_random(const struct dc_backend *be, float *dst, size_t n, uint64_t stream) {
  float *h = malloc(n * sizeof *h);
  if (!h) return;
  dc_rng_fill_uniform(h, n, 7, stream, 0);
  be->upload(dst, h, n * sizeof *h);
  free(h);
}

static enum dc_status bench_pretrain(const struct bench_opts *o, const struct dc_model_config *cfg,
                                     const struct dc_backend *be) {
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
    double t0 = dc_now_s();
    DC_TRY(dc_pretrain_prepare(p, (const float *const *)x0, 1, (uint64_t)(i + o->warmup) * B));
    DC_TRY(dc_pretrain_forward(p));
    DC_TRY(dc_pretrain_backward(p));
    dc_adam_step(&adam, &p->params, 1e-4f);
    be->synchronize();
    if (i >= 0) t[i] = dc_now_s() - t0;
  }
  DC_TRY(be->error());
  report(be, "pretraining step (fwd+bwd+Adam)", B, 3 * dc_flops_pretrain_forward(cfg, B) / 1e9,
         summarise(t, o->iters));
  free(t);
  free(x0[0]);
  free(x0[1]);
  dc_adam_free(&adam, be);
  dc_pretrain_free(p);
  free(p);
  return DC_OK;
}

/* The encoder's linear layers at this batch (rows = B x tokens), each forward, input
 * gradient and weight gradient, by every CPU GEMM engine: GFLOP/s, best of 5 after one
 * warm-up call. */
static enum dc_status bench_gemms(const struct bench_opts *o, const struct dc_model_config *cfg) {
  int D = cfg->embed_dim, Hd = (int)(D * cfg->mlp_ratio), R = o->batch * dc_cfg_tokens(cfg);
  const struct { const char *name; int in, out; } layer[] = {
      {"attention qkv", D, 3 * D}, {"attention proj", D, D}, {"mlp fc1", D, Hd}, {"mlp fc2", Hd, D}};
  const char *engine[] = {"OpenBLAS sgemm", "oneDNN fp32", "oneDNN bf16"};
  size_t big = (size_t)R * 3 * D > (size_t)R * Hd ? (size_t)R * 3 * D : (size_t)R * Hd;
  float *a = malloc(big * sizeof *a), *b = malloc(big * sizeof *b), *c = malloc(big * sizeof *c);
  DC_CHECK_ALLOC(a);
  DC_CHECK_ALLOC(b);
  DC_CHECK_ALLOC(c);
  dc_rng_fill_uniform(a, big, 7, 1, 0);
  dc_rng_fill_uniform(b, big, 7, 2, 0);
  printf("%-32s %-20s %14s %14s %14s\n", "GEMM (rows = batch x tokens)", "M x N x K", engine[0], engine[1], engine[2]);
  for (size_t l = 0; l < sizeof layer / sizeof *layer; l++) {
    int I = layer[l].in, O = layer[l].out;
    /* forward out = x W^T; input gradient dx = dy W; weight gradient dW = dy^T x */
    const struct { const char *what; int ta, tb, M, N, K, lda, ldb; } g[] = {
        {"forward", 0, 1, R, O, I, I, I}, {"input grad", 0, 0, R, I, O, O, I}, {"weight grad", 1, 0, O, I, R, O, I}};
    for (int k = 0; k < 3; k++) {
      char name[64], shape[32];
      snprintf(name, sizeof name, "%s %s", layer[l].name, g[k].what);
      snprintf(shape, sizeof shape, "%d x %d x %d", g[k].M, g[k].N, g[k].K);
      printf("%-32s %-20s", name, shape);
      for (int e = 0; e < 3; e++) {
        double best = 0;
        int ok = 1;
        for (int i = -1; i < 5 && ok; i++) {
          double t0 = dc_now_s();
          ok = dc_backend_cpu_gemm_with((enum dc_gemm_engine)e, g[k].ta, g[k].tb, g[k].M, g[k].N, g[k].K, a,
                                        g[k].lda, b, g[k].ldb, c, g[k].N);
          double dt = dc_now_s() - t0;
          if (i >= 0 && (best == 0 || dt < best)) best = dt;
        }
        if (ok)
          printf(" %8.1f GF/s", 2.0 * g[k].M * g[k].N * g[k].K / best / 1e9);
        else
          printf(" %14s", "-");
      }
      printf("\n");
    }
  }
  free(a);
  free(b);
  free(c);
  return DC_OK;
}

static void infer_batch(void *clip) { dc_clip_image_features(clip, 0); }

/* Fine-tuning steps with Bt texts on the training model c (times into t) */
static enum dc_status bench_finetune(const struct bench_opts *o, const struct dc_model_config *cfg, struct dc_clip *c,
                                     int Bt, const char *label, double *t, const struct dc_backend *be) {
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
  DC_TRY(dc_clip_set_prompts(c, tok, eot));
  be->upload(c->io.t, tt, (size_t)B * sizeof(int));
  be->upload(c->io.text_of, pair, (size_t)B * sizeof(int));
  be->upload(c->io.targets, ar, (size_t)B * sizeof(int));
  free(h);
  struct dc_adam adam;
  DC_TRY(dc_adam_init(&adam, &c->params, 1e-4f, 1e-5f, 0));
  for (int i = -o->warmup; i < o->iters; i++) {
    double t0 = dc_now_s();
    DC_TRY(dc_clip_forward(c, 1));
    DC_TRY(dc_clip_backward(c));
    dc_adam_step(&adam, &c->params, 1e-4f);
    be->synchronize();
    if (i >= 0) t[i] = dc_now_s() - t0;
  }
  DC_TRY(be->error());
  int pooled = dc_stack_pools(be); /* the encoders' last blocks on the rows read */
  double gflop = 3 * (dc_flops_image_forward(cfg, B, pooled) + dc_flops_text_forward(cfg, Bt, c->text_ctx, pooled)) / 1e9;
  report(be, label, B, gflop, summarise(t, o->iters));
  dc_adam_free(&adam, be);
  return DC_OK;
}

/* Fine-tuning steps with Bt texts (Bt = B: published; Bt = classes: ours), then inference. */
static enum dc_status bench_clip(const struct bench_opts *o, const struct dc_model_config *cfg, int Bt,
                                 const char *label, int with_finetune, int with_inference,
                                 const struct dc_backend *be) {
  struct dc_clip *c = calloc(1, sizeof *c);
  DC_CHECK_ALLOC(c);
  int B = o->batch, L = dc_cfg_tokens(cfg);
  double *t = malloc((size_t)o->iters * sizeof *t);
  DC_CHECK_ALLOC(t);
  if (with_finetune) {
    DC_TRY(bench_finetune(o, cfg, c, Bt, label, t, be));
    dc_clip_free(c);
  }
  if (with_inference) {
    /* inference: image features of a batch, eval-mode BatchNorm, on the inference-only
     * model that evaluation and predict use (the training model freed first, so the memory
     * printed is the inference's); the class prompts' text features are computed once per
     * run, not per batch */
    DC_TRY(dc_clip_init_eval(c, cfg, B, Bt, DC_CLIP_PAIRWISE, be));
    DC_TRY(dc_init_weights(&c->params, &c->buffers, cfg, 1));
    fill_random(be, c->io.x[0], (size_t)B * L * cfg->bands[0], 1);
    fill_random(be, c->io.x[1], (size_t)B * L * cfg->bands[1], 2);
    int *tt = malloc((size_t)B * sizeof *tt);
    DC_CHECK_ALLOC(tt);
    for (int b = 0; b < B; b++) tt[b] = (int)dc_rng_below(5, 1, (uint64_t)b, 0, 1000);
    be->upload(c->io.t, tt, (size_t)B * sizeof(int));
    free(tt);
    for (int i = -o->warmup; i < o->iters; i++) {
      double t0 = dc_now_s();
      dc_clip_image_features(c, 0);
      be->synchronize();
      if (i >= 0) t[i] = dc_now_s() - t0;
    }
    DC_TRY(be->error());
    report(be, "inference batch (image features)", B, dc_flops_image_forward(cfg, B, dc_stack_pools(be)) / 1e9,
           summarise(t, o->iters));
    if (o->graph) {
      /* the same batch as one replayed graph (recorded at the first call, after the plain
       * runs above have sized every scratch buffer) */
      void *graph = NULL;
      for (int i = -1; i < o->iters; i++) {
        double t0 = dc_now_s();
        DC_TRY(be->graph_run(infer_batch, c, &graph));
        be->synchronize();
        if (i >= 0) t[i] = dc_now_s() - t0;
      }
      be->graph_free(graph);
      DC_TRY(be->error());
      report(be, "inference batch, one graph", B, dc_flops_image_forward(cfg, B, dc_stack_pools(be)) / 1e9,
             summarise(t, o->iters));
    }
    dc_clip_free(c);
  }
  free(t);
  free(c);
  return DC_OK;
}

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: diffclip bench-speed [options]\n"
          "Times a pretraining step, a fine-tuning step and an inference batch at the paper's\n"
          "Houston sizes on random data and prints samples/s, the FLOP rate and this process's\n"
          "resident memory (now, with the case's model allocated, and its peak so far). It compares with\n"
          "nothing it did not measure: for the published PyTorch code beside it, in one run, see\n"
          "docs/performance.md (../shared/bench/side_by_side.sh).\n\n"
          "  --backend B  auto (default: cuda when a GPU is visible), cpu, cuda (TF32 GEMMs)\n"
          "               or cuda-fp32 (float32-exact GEMMs)\n"
          "  --precision P  fp32 (default) or bf16: the CPU backend's GEMMs (run.precision)\n"
          "  --batch N    batch size (default 128)\n"
          "  --iters N    timed iterations; the median is reported (default 3)\n"
          "  --warmup N   untimed iterations first (default 1)\n"
          "  --case LIST  only these cases, comma-separated: pretrain, finetune (text per\n"
          "               image), finetune-class (text per class), inference; all (default)\n"
          "  --graph      also time the inference batch replayed as one CUDA graph\n"
          "  --gemms      instead, time the encoder's linear layers' GEMMs (forward and both\n"
          "               gradients) by each CPU engine: OpenBLAS, oneDNN fp32, oneDNN bf16\n"
          "  --help       this text\n");
}

int dc_cmd_bench_speed(struct dc_dist *d, int argc, char **argv) {
  struct bench_opts o = {.batch = 128, .iters = 3, .warmup = 1, .cases = CASE_ALL, .backend = "auto"};
  static const struct option longopts[] = {{"backend", required_argument, 0, 'k'},
                                           {"precision", required_argument, 0, 'p'},
                                           {"batch", required_argument, 0, 'b'},
                                           {"iters", required_argument, 0, 'i'},
                                           {"warmup", required_argument, 0, 'w'},
                                           {"case", required_argument, 0, 'c'},
                                           {"graph", no_argument, 0, 'g'},
                                           {"gemms", no_argument, 0, 'G'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int ch, ok = 1;
  while (ok && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'k': o.backend = optarg; break;
      case 'g': o.graph = 1; break;
      case 'c':
        o.cases = parse_cases(optarg);
        ok = o.cases != 0;
        if (!ok)
          fprintf(stderr,
                  "diffclip bench-speed: --case '%s': expected a comma-separated list of pretrain, finetune, "
                  "finetune-class, inference or all\n",
                  optarg);
        break;
      case 'G': o.gemms = 1; break;
      case 'p':
        ok = strcmp(optarg, "fp32") == 0 || strcmp(optarg, "bf16") == 0;
        if (!ok) fprintf(stderr, "diffclip bench-speed: --precision '%s': expected fp32 or bf16\n", optarg);
        o.bf16 = ok && optarg[0] == 'b';
        break;
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
  const struct dc_backend *be;
  if (dc_backend_get(o.backend, &be) != DC_OK) return DC_EXIT_USAGE;
  struct dc_model_config cfg;
  int bands[2] = {144, 1};
  dc_model_config_paper(&cfg, 2, bands);
  if (be->device_memory)
    printf("bench-speed: %s backend, Houston sizes (144+1 bands, W=%d, D=%d, %d+%d blocks)\n",
           be->name, cfg.window, cfg.embed_dim, cfg.depth, cfg.decoder_depth);
  else {
    enum dc_precision p = dc_backend_set_precision(o.bf16 ? DC_PRECISION_BF16 : DC_PRECISION_FP32);
    if (o.bf16 && p != DC_PRECISION_BF16) printf("bench-speed: this CPU has no bf16 instructions; GEMMs in fp32\n");
    char gemm[128];
    dc_backend_cpu_gemm_info(gemm, sizeof gemm);
    printf("bench-speed: CPU backend, %d OpenMP threads, %s, OpenBLAS %s kernels, Houston sizes (144+1 bands, "
           "W=%d, D=%d, %d+%d blocks)\n",
           omp_get_max_threads(), gemm, dc_backend_blas_core(), cfg.window, cfg.embed_dim, cfg.depth,
           cfg.decoder_depth);
  }
  if (o.gemms) return bench_gemms(&o, &cfg) == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
  enum dc_status st = DC_OK;
  if (o.cases & CASE_PRETRAIN) st = bench_pretrain(&o, &cfg, be);
  if (st == DC_OK && (o.cases & (CASE_FINETUNE | CASE_INFERENCE)))
    st = bench_clip(&o, &cfg, o.batch, "fine-tuning step, text per image", !!(o.cases & CASE_FINETUNE),
                    !!(o.cases & CASE_INFERENCE), be);
  if (st == DC_OK && (o.cases & CASE_FINETUNE_CLASS))
    st = bench_clip(&o, &cfg, HOUSTON_CLASSES, "fine-tuning step, text per class", 1, 0, be);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
}
