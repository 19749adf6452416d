/* `diffclip run`: the built-in demo. A small synthetic two-modality scene (class spectra
 * with per-pixel variation plus a class-dependent height band), masked-diffusion
 * pretraining with the global batch split over the ranks and gradients averaged, then
 * contrastive image-text fine-tuning on rank 0 and an accuracy check on fresh samples. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "diffclip/rng.h"
#include "diffclip/schedule.h"
#include "diffclip/train.h"

#define N_CLASSES 4
#define CONTEXT 12

static const char *const class_names[N_CLASSES] = {"meadow", "forest", "asphalt", "water"};
/* word-level vocabulary of the prompts; id 0 is padding, the last two are start / end */
static const char *const words[] = {"<pad>", "a", "multimodal", "fusion", "patch", "of", ".",
                                    "meadow", "forest", "asphalt", "water"};
#define N_WORDS (int)(sizeof words / sizeof words[0])

struct run_opts {
  int pretrain_steps, finetune_steps, batch, seed, eval_samples;
};

static void demo_config(struct dc_model_config *c) {
  int bands[2] = {16, 1};
  dc_model_config_paper(c, 2, bands);
  c->window = 5;
  c->stem_width[0] = c->stem_width[1] = 32;
  c->embed_dim = 32;
  c->depth = 2;
  c->heads = 4;
  c->decoder_dim = 32;
  c->decoder_depth = 1;
  c->decoder_heads = 4;
  c->mask_ratio = 0.6;
  c->text_width = 32;
  c->text_layers = 1;
  c->text_heads = 4;
  c->context = CONTEXT;
  c->vocab = N_WORDS + 2;
}

/* Sample g of the synthetic scene: its class and its (L, C_m) patches. */
static int make_sample(const struct dc_model_config *c, uint64_t seed, uint64_t g, float *hsi, float *lidar) {
  int L = dc_cfg_tokens(c), C = c->bands[0];
  int cls = (int)dc_rng_below(seed, DC_STREAM_DATA, g, 0, N_CLASSES);
  float illum = 0.8f + 0.4f * dc_rng_uniform(seed, DC_STREAM_DATA, g, 1);
  float noise[512];
  dc_rng_fill_normal(noise, (size_t)L * (C + 1), seed, DC_STREAM_DATA + 1, g * (uint64_t)L * (C + 1));
  for (int p = 0; p < L; p++) {
    for (int b = 0; b < C; b++) {
      double lambda = (double)b / (C - 1);
      /* smooth class spectra that overlap: a shared ramp plus a class-specific bump */
      double s = 0.3 + 0.2 * lambda + 0.25 * exp(-pow((lambda - 0.2 - 0.2 * cls) / 0.15, 2));
      hsi[p * C + b] = (float)(illum * s) + 0.05f * noise[p * (C + 1) + b];
    }
    lidar[p] = 0.2f * (float)(cls % 2) + 0.1f * (float)cls / N_CLASSES + 0.05f * noise[p * (C + 1) + C];
  }
  return cls;
}

static int prompt_tokens(int cls, int *tok, int vocab) {
  const char *seq[] = {"a", "multimodal", "fusion", "patch", "of", "a", class_names[cls], "."};
  int n = 0;
  tok[n++] = vocab - 2;
  for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
    for (int w = 0; w < N_WORDS; w++)
      if (strcmp(words[w], seq[i]) == 0) tok[n++] = w;
  tok[n++] = vocab - 1;
  int eot = n - 1;
  while (n < CONTEXT) tok[n++] = 0;
  return eot;
}

static enum dc_status pretrain_demo(struct dc_dist *d, const struct run_opts *o, struct dc_pretrain *p,
                                    const struct dc_model_config *cfg) {
  const struct dc_backend *be = dc_backend_cpu();
  int B = o->batch / d->size, L = dc_cfg_tokens(cfg);
  DC_TRY(dc_pretrain_init(p, cfg, B, be));
  DC_TRY(dc_init_weights(&p->params, &p->buffers, cfg, (uint64_t)o->seed));
  struct dc_reducer reduce; /* BatchNorm statistics of the global batch */
  dc_dist_reducer(d, &reduce);
  p->reduce = &reduce;
  struct dc_adam adam;
  struct dc_lr_schedule sched;
  DC_TRY(dc_adam_init(&adam, &p->params, 1e-3f, 1e-4f, 0));
  DC_TRY(dc_lr_cosine_warm_restarts_init(&sched, 1e-3, 5, 2, 0.0));
  float *x0[2] = {malloc((size_t)B * L * cfg->bands[0] * sizeof(float)), malloc((size_t)B * L * sizeof(float))};
  DC_CHECK_ALLOC(x0[0]);
  DC_CHECK_ALLOC(x0[1]);
  dc_log(DC_LOG_INFO, "pretraining: %d steps, global batch %d on %d rank(s), %zu parameters", o->pretrain_steps,
         o->batch, d->size, p->params.n_trainable);
  const int steps_per_epoch = 10;
  for (int step = 0; step < o->pretrain_steps; step++) {
    uint64_t first = (uint64_t)step * o->batch + (uint64_t)d->rank * B;
    for (int b = 0; b < B; b++)
      make_sample(cfg, (uint64_t)o->seed, first + b, x0[0] + (size_t)b * L * cfg->bands[0], x0[1] + (size_t)b * L);
    DC_TRY(dc_pretrain_prepare(p, (const float *const *)x0, (uint64_t)o->seed, first));
    DC_TRY(dc_pretrain_forward(p));
    DC_TRY(dc_pretrain_backward(p));
    DC_TRY(dc_dist_allreduce_mean(d, be, p->params.grads, p->params.n_trainable));
    float lr = (float)dc_lr_at(&sched, (double)step / steps_per_epoch);
    dc_adam_step(&adam, &p->params, lr);
    float loss = p->loss;
    MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_FLOAT, MPI_SUM, d->comm);
    if (step % 10 == 0 || step == o->pretrain_steps - 1)
      dc_log(DC_LOG_INFO, "  pretrain step %4d  loss %.5f  lr %.2e", step, loss / d->size, lr);
    if (!isfinite(loss)) return DC_ERROR(DC_ERR_NUMERIC, "pretraining loss became %g at step %d", loss, step);
  }
  free(x0[0]);
  free(x0[1]);
  dc_adam_free(&adam, be);
  p->reduce = NULL;
  return DC_OK;
}

/* Fills io.x / io.t with samples first.. and returns their classes in cls. */
static void fill_images(struct dc_clip *c, uint64_t seed, uint64_t first, int *cls, float *h0, float *h1, int *ht) {
  const struct dc_model_config *cfg = &c->cfg;
  int L = dc_cfg_tokens(cfg);
  for (int b = 0; b < c->B; b++) {
    cls[b] = make_sample(cfg, seed, first + b, h0 + (size_t)b * L * cfg->bands[0], h1 + (size_t)b * L);
    ht[b] = (int)dc_rng_below(seed, DC_STREAM_TIMESTEP, first + b, 1, (uint32_t)cfg->timesteps);
  }
  c->params.be->upload(c->io.x[0], h0, (size_t)c->B * L * cfg->bands[0] * sizeof(float));
  c->params.be->upload(c->io.x[1], h1, (size_t)c->B * L * sizeof(float));
  c->params.be->upload(c->io.t, ht, (size_t)c->B * sizeof(int));
}

static enum dc_status finetune_demo(const struct run_opts *o, const struct dc_pretrain *p,
                                    const struct dc_model_config *cfg) {
  const struct dc_backend *be = dc_backend_cpu();
  struct dc_clip *c = calloc(1, sizeof *c);
  DC_CHECK_ALLOC(c);
  int B = 16, L = dc_cfg_tokens(cfg), D = cfg->embed_dim;
  DC_TRY(dc_clip_init(c, cfg, B, N_CLASSES, DC_CLIP_PAIRWISE, be));
  DC_TRY(dc_init_weights(&c->params, &c->buffers, cfg, (uint64_t)o->seed + 1));
  DC_TRY(dc_clip_load_pretrained(c, p));
  int tokens[N_CLASSES * CONTEXT], eot[N_CLASSES], cls[64], ht[64], arange[64];
  for (int k = 0; k < N_CLASSES; k++) eot[k] = prompt_tokens(k, tokens + k * CONTEXT, cfg->vocab);
  for (int b = 0; b < B; b++) arange[b] = b;
  be->upload(c->io.tokens, tokens, sizeof tokens);
  be->upload(c->io.eot, eot, sizeof eot);
  be->upload(c->io.targets, arange, (size_t)B * sizeof(int));
  float *h0 = malloc((size_t)B * L * cfg->bands[0] * sizeof(float)), *h1 = malloc((size_t)B * L * sizeof(float));
  DC_CHECK_ALLOC(h0);
  DC_CHECK_ALLOC(h1);
  struct dc_adam adam;
  DC_TRY(dc_adam_init(&adam, &c->params, 1e-3f, 1e-5f, 0));
  dc_log(DC_LOG_INFO, "fine-tuning: %d steps, batch %d, %d class prompts", o->finetune_steps, B, N_CLASSES);
  uint64_t base = 1u << 30; /* fine-tuning samples are disjoint from the pretraining ones */
  for (int step = 0; step < o->finetune_steps; step++) {
    fill_images(c, (uint64_t)o->seed, base + (uint64_t)step * B, cls, h0, h1, ht);
    be->upload(c->io.text_of, cls, (size_t)B * sizeof(int));
    DC_TRY(dc_clip_forward(c, 1));
    DC_TRY(dc_clip_backward(c));
    dc_adam_step(&adam, &c->params, 1e-3f);
    if (step % 10 == 0 || step == o->finetune_steps - 1)
      dc_log(DC_LOG_INFO, "  finetune step %4d  loss %.5f", step, c->loss);
  }
  /* evaluation on fresh samples: argmax over the class prompts, BatchNorm in eval mode */
  int correct = 0, total = 0;
  float *zi = malloc((size_t)B * D * sizeof *zi), zt[N_CLASSES * 256];
  DC_CHECK_ALLOC(zi);
  dc_clip_text_features(c);
  be->download(zt, c->io.text_features, (size_t)N_CLASSES * D * sizeof(float));
  uint64_t eval_base = 1u << 31;
  for (int batch = 0; batch * B < o->eval_samples; batch++) {
    fill_images(c, (uint64_t)o->seed, eval_base + (uint64_t)batch * B, cls, h0, h1, ht);
    dc_clip_image_features(c, 0);
    be->download(zi, c->io.image_features, (size_t)B * D * sizeof(float));
    for (int b = 0; b < B; b++) {
      int best = 0;
      double best_s = -INFINITY;
      for (int k = 0; k < N_CLASSES; k++) { /* cosine similarity; the scale does not change argmax */
        double dot = 0, nz = 0, nt = 0;
        for (int j = 0; j < D; j++) {
          dot += zi[b * D + j] * zt[k * D + j];
          nz += zi[b * D + j] * zi[b * D + j];
          nt += zt[k * D + j] * zt[k * D + j];
        }
        double s = dot / sqrt(nz * nt);
        if (s > best_s) best_s = s, best = k;
      }
      correct += best == cls[b];
      total++;
    }
  }
  dc_log(DC_LOG_INFO, "evaluation: %d of %d fresh samples correct: accuracy %.1f%% (chance %.1f%%)", correct, total,
         100.0 * correct / total, 100.0 / N_CLASSES);
  free(zi);
  free(h0);
  free(h1);
  dc_adam_free(&adam, be);
  dc_clip_free(c);
  free(c);
  return DC_OK;
}

static void run_usage(FILE *f) {
  fprintf(f,
          "usage: [mpirun -np N] diffclip run [options]\n"
          "The built-in demo on a synthetic two-modality scene: masked-diffusion pretraining\n"
          "(global batch split over the ranks), contrastive fine-tuning and evaluation on rank 0.\n\n"
          "  --pretrain-steps N   pretraining steps (default 60)\n"
          "  --finetune-steps N   fine-tuning steps (default 60)\n"
          "  --batch N            global pretraining batch, divisible by the rank count (default 32)\n"
          "  --eval-samples N     fresh samples to classify (default 256)\n"
          "  --seed S             seed of every random draw (default 0)\n"
          "  --help               this text\n");
}

int dc_cmd_run(struct dc_dist *d, int argc, char **argv) {
  struct run_opts o = {.pretrain_steps = 60, .finetune_steps = 60, .batch = 32, .seed = 0, .eval_samples = 256};
  static const struct option longopts[] = {{"pretrain-steps", required_argument, 0, 'p'},
                                           {"finetune-steps", required_argument, 0, 'f'},
                                           {"batch", required_argument, 0, 'b'},
                                           {"eval-samples", required_argument, 0, 'e'},
                                           {"seed", required_argument, 0, 's'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int ch, ok = 1;
  while (ok && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'p': ok = dc_cli_parse_int("run", "pretrain-steps", optarg, 1, &o.pretrain_steps); break;
      case 'f': ok = dc_cli_parse_int("run", "finetune-steps", optarg, 1, &o.finetune_steps); break;
      case 'b': ok = dc_cli_parse_int("run", "batch", optarg, 2, &o.batch); break;
      case 'e': ok = dc_cli_parse_int("run", "eval-samples", optarg, 1, &o.eval_samples); break;
      case 's': ok = dc_cli_parse_int("run", "seed", optarg, 0, &o.seed); break;
      case 'h': if (d->rank == 0) run_usage(stdout); return DC_EXIT_OK;
      default: ok = 0;
    }
  }
  if (!ok || optind != argc) {
    if (d->rank == 0) run_usage(stderr);
    return DC_EXIT_USAGE;
  }
  if (o.batch % d->size != 0 || o.batch / d->size < 2) {
    if (d->rank == 0)
      fprintf(stderr, "diffclip run: --batch %d must be a multiple of the %d ranks with at least 2 per rank\n", o.batch,
              d->size);
    return DC_EXIT_USAGE;
  }
  struct dc_model_config cfg;
  demo_config(&cfg);
  struct dc_pretrain *p = calloc(1, sizeof *p);
  if (!p) return DC_EXIT_ERROR;
  double t0 = dc_cli_now();
  enum dc_status st = pretrain_demo(d, &o, p, &cfg);
  /* A rank that failed inside the step loop cannot meet the others in a collective. */
  if (st != DC_OK) dc_dist_abort(d, DC_EXIT_ERROR);
  if (st == DC_OK && d->rank == 0) st = finetune_demo(&o, p, &cfg);
  st = dc_dist_agree(d, st);
  dc_log(DC_LOG_INFO, "demo %s in %.1f s", st == DC_OK ? "finished" : "failed", dc_cli_now() - t0);
  dc_pretrain_free(p);
  free(p);
  return st == DC_OK ? DC_EXIT_OK : DC_EXIT_ERROR;
}
