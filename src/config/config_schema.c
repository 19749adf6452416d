/* The configuration schema: every key once, with its type, its field, its default (the
 * published values of MODEL.md where the paper fixes one), its range or choices and one
 * line of documentation. Everything else (defaults, loading, checks, the resolved file,
 * docs/config.md) is derived from this table.
 *
 * Each entry's field is type-checked at compile time: FIELD(f, T) fails to compile when
 * dc_config's member f is not of type T. */
#include <float.h>
#include <limits.h>
#include <string.h>

#include "diffclip/config/config.h"

#define FIELD(f, T) (offsetof(struct dc_config, f) + 0 * sizeof(_Generic(((struct dc_config *)0)->f, T: 0)))
#define STRFIELD(f) \
  (FIELD(f, char *) + 0 * sizeof(char[sizeof(((struct dc_config *)0)->f) == DC_CONFIG_STR ? 1 : -1]))

#define INT(key, f, def, lo, hi, doc) {key, DC_CONFIG_INT, FIELD(f, int), def, lo, hi, NULL, doc}
#define DBL(key, f, def, lo, hi, doc) {key, DC_CONFIG_DOUBLE, FIELD(f, double), def, lo, hi, NULL, doc}
#define BOOL(key, f, def, doc) {key, DC_CONFIG_BOOL, FIELD(f, bool), def, 0, 1, NULL, doc}
#define STR(key, f, def, doc) {key, DC_CONFIG_STRING, STRFIELD(f), def, 0, 0, NULL, doc}
#define PATH(key, f, def, doc) {key, DC_CONFIG_PATH, STRFIELD(f), def, 0, 0, NULL, doc}
#define ENUM(key, f, T, choices, def, doc) {key, DC_CONFIG_ENUM, FIELD(f, T), def, 0, 0, choices, doc}
#define INTS(key, f, def, lo, hi, doc) \
  {key, DC_CONFIG_INT_LIST, FIELD(f, struct dc_config_ints), def, lo, hi, NULL, doc}
#define PATHS(key, f, def, doc) {key, DC_CONFIG_PATH_LIST, FIELD(f, struct dc_config_strs), def, 0, 0, NULL, doc}

#define TEXT(id, text) text,
static const char *const backend_choices[] = {DC_RUN_BACKEND_CHOICES(TEXT) NULL};
static const char *const precision_choices[] = {DC_RUN_PRECISION_CHOICES(TEXT) NULL};
static const char *const log_level_choices[] = {DC_RUN_LOG_LEVEL_CHOICES(TEXT) NULL};
static const char *const synthetic_choices[] = {DC_DATA_SYNTHETIC_CHOICES(TEXT) NULL};
static const char *const protocol_choices[] = {DC_DATA_PROTOCOL_CHOICES(TEXT) NULL};
static const char *const normalisation_choices[] = {DC_DATA_NORMALISATION_CHOICES(TEXT) NULL};
static const char *const nan_policy_choices[] = {DC_DATA_NAN_POLICY_CHOICES(TEXT) NULL};
static const char *const corpus_choices[] = {DC_DATA_CORPUS_CHOICES(TEXT) NULL};
static const char *const task_choices[] = {DC_DATA_TASK_CHOICES(TEXT) NULL};
static const char *const pretrain_schedule_choices[] = {DC_PRETRAIN_LR_SCHEDULE_CHOICES(TEXT) NULL};
static const char *const data_order_choices[] = {DC_PRETRAIN_DATA_ORDER_CHOICES(TEXT) NULL};
static const char *const finetune_schedule_choices[] = {DC_FINETUNE_LR_SCHEDULE_CHOICES(TEXT) NULL};
static const char *const prompt_choices[] = {DC_FINETUNE_PROMPT_CHOICES(TEXT) NULL};
static const char *const tokenizer_choices[] = {DC_FINETUNE_TOKENIZER_CHOICES(TEXT) NULL};
static const char *const head_choices[] = {DC_FINETUNE_HEAD_CHOICES(TEXT) NULL};
static const char *const init_choices[] = {DC_FINETUNE_INIT_CHOICES(TEXT) NULL};
static const char *const bench_pretrain_choices[] = {DC_BENCH_PRETRAIN_CHOICES(TEXT) NULL};

#define IMAX INT_MAX
#define BIG 1e9

static const struct dc_config_key schema[] = {
    /* ---- run: identity, placement, logging ---- */
    STR("run.name", run.name, "run", "name of the run; its folder is run.out_dir/run.name"),
    STR("run.out_dir", run.out_dir, "runs", "folder that holds run folders (relative to the working directory)"),
    INT("run.seed", run.seed, "0", 0, IMAX, "seed of every random stream (data order, noise, masks, init)"),
    ENUM("run.backend", run.backend, enum dc_run_backend, backend_choices, "auto",
         "compute backend: auto takes cuda when a GPU is visible, else cpu"),
    ENUM("run.precision", run.precision, enum dc_run_precision, precision_choices, "fp32",
         "CPU GEMMs: fp32, or bf16 (bfloat16 operands, fp32 accumulation; fp32 weights, Adam, norms, softmax and "
         "losses) where the CPU has bf16 instructions, else fp32 with a note; the CUDA backend's GEMMs follow run.backend"),
    INT("run.threads", run.threads, "0", 0, 4096, "OpenMP threads per rank; 0 keeps OMP_NUM_THREADS or the runtime's choice"),
    ENUM("run.log_level", run.log_level, enum dc_run_log_level, log_level_choices, "info", "least severe log level printed"),
    BOOL("run.log_all_ranks", run.log_all_ranks, "false", "every rank prints info lines, not only rank 0"),

    /* ---- data: the scene and how patches and the corpus are drawn from it ---- */
    STR("data.name", data.name, "", "dataset name used in reports (houston2013, trento, muufl, mrnet, or your own)"),
    STR("data.study", data.study, "", "label of a study row in the report (an ablation, a sweep value, a prompt); empty = a main result"),
    STR("data.paper", data.paper, "", "the paper's dataset whose figures go beside this entry's in the report; empty = data.name"),
    PATH("data.scene", data.scene, "", "canonical scene file (HDF5) written by `diffclip prepare` or `diffclip synth`"),
    PATH("data.manifest", data.manifest, "", "dataset manifest (data_manifests/*.cfg): `diffclip bench` prepares a missing data.scene with it from data.raw_dir"),
    PATH("data.raw_dir", data.raw_dir, "", "folder of the raw dataset files that data.manifest names (bench prepares a missing scene from it)"),
    ENUM("data.synthetic", data.synthetic, enum dc_data_synthetic, synthetic_choices, "none",
         "use a synthetic scene of this preset instead of a prepared dataset"),
    INT("data.synthetic_seed", data.synthetic_seed, "0", 0, IMAX, "seed of the synthetic scene"),
    INT("data.classes", data.classes, "0", 0, 64, "number of classes; 0 takes the scene's count, otherwise it must match it"),
    ENUM("data.protocol", data.protocol, enum dc_data_protocol, protocol_choices, "few_shot",
         "label split: few_shot (k per class from merged maps, as published) or official (train/test maps)"),
    ENUM("data.normalisation", data.normalisation, enum dc_data_normalisation, normalisation_choices, "global_minmax",
         "global_minmax: one min and max per modality (published); band_robust: per band 2nd-98th percentile"),
    ENUM("data.nan_policy", data.nan_policy, enum dc_data_nan_policy, nan_policy_choices, "error",
         "NaN or Inf pixels in raw data: error refuses the file, fill replaces them by the band median"),
    ENUM("data.corpus", data.corpus, enum dc_data_corpus, corpus_choices, "all",
         "pretraining corpus: every pixel centre, or only labelled pixels (the published code's choice; on Houston 2013 "
         "\"all\" is 44 times as many centres per epoch)"),
    INT("data.corpus_stride", data.corpus_stride, "1", 1, 1024, "take every n-th pixel centre in both directions for the corpus"),
    DBL("data.corpus_fraction", data.corpus_fraction, "1.0", 1e-6, 1, "random fraction of the corpus kept (drawn from run.seed)"),
    ENUM("data.task", data.task, enum dc_data_task, task_choices, "abnormal", "MRNet only: the exam-level label to classify"),
    PATH("data.split_file", data.split_file, "",
         "exam stores only: a text file of `exam_id,split` lines (split `train` or `test`; `#` comments) that replaces the "
         "store's train / valid split; exams it does not list are left out. Its contents are part of a run's identity"),

    /* ---- model: the published sizes ---- */
    INT("model.window", model.window, "11", 1, 63, "patch side W (odd); L = W*W tokens"),
    INT("model.embed_dim", model.embed_dim, "128", 4, 8192, "encoder width D (a multiple of 4 and of model.heads)"),
    INT("model.depth", model.depth, "4", 1, 64, "encoder blocks E"),
    INT("model.heads", model.heads, "8", 1, 256, "encoder attention heads H"),
    DBL("model.mlp_ratio", model.mlp_ratio, "2.0", 0.25, 16, "MLP hidden width / block width, encoder and decoder"),
    INT("model.decoder_dim", model.decoder_dim, "128", 4, 8192, "decoder width D' (a multiple of 4 and of model.decoder_heads)"),
    INT("model.decoder_depth", model.decoder_depth, "3", 1, 64, "decoder blocks F"),
    INT("model.decoder_heads", model.decoder_heads, "8", 1, 256, "decoder attention heads"),
    INT("model.stem_width", model.stem_width, "128", 1, 8192, "width h of every modality's 1x1-convolution stem"),
    DBL("model.mask_ratio", model.mask_ratio, "0.7", 0, 0.99, "fraction of tokens removed in pretraining (0 = the no-mask ablation)"),
    INT("model.timesteps", model.timesteps, "1000", 1, 100000, "diffusion steps T of the linear beta schedule"),
    INT("model.text_width", model.text_width, "128", 4, 8192, "text encoder width (a multiple of model.text_heads)"),
    INT("model.text_layers", model.text_layers, "3", 1, 64, "text encoder blocks"),
    INT("model.text_heads", model.text_heads, "8", 1, 256, "text encoder attention heads"),
    INT("model.context", model.context, "77", 4, 1024, "text context length in tokens"),

    /* ---- pretrain: stage 1, masked diffusion ---- */
    INT("pretrain.epochs", pretrain.epochs, "400", 0, 1000000, "passes over the corpus"),
    INT("pretrain.max_steps", pretrain.max_steps, "0", 0, IMAX, "stop after this many optimiser steps; 0 = run all epochs"),
    INT("pretrain.global_batch", pretrain.global_batch, "128", 1, 1 << 20, "samples per step over all ranks (split evenly; gradients averaged)"),
    DBL("pretrain.lr", pretrain.lr, "1e-4", 0, 10, "base learning rate of Adam"),
    DBL("pretrain.weight_decay", pretrain.weight_decay, "1e-4", 0, 10, "L2 weight decay added to the gradient (PyTorch Adam)"),
    DBL("pretrain.beta1", pretrain.beta1, "0.9", 0, 0.999999, "Adam beta1"),
    DBL("pretrain.beta2", pretrain.beta2, "0.999", 0, 0.999999999, "Adam beta2"),
    DBL("pretrain.adam_eps", pretrain.adam_eps, "1e-8", 0, 1, "Adam epsilon"),
    ENUM("pretrain.lr_schedule", pretrain.lr_schedule, enum dc_pretrain_lr_schedule, pretrain_schedule_choices,
         "cosine_restarts", "cosine annealing with warm restarts (published), or constant"),
    INT("pretrain.t_0", pretrain.t_0, "5", 1, 1000000, "epochs in the first cosine cycle"),
    INT("pretrain.t_mult", pretrain.t_mult, "2", 1, 1000, "cycle length factor after each restart"),
    DBL("pretrain.eta_min", pretrain.eta_min, "0.0", 0, 10, "learning rate at the end of each cosine cycle"),
    DBL("pretrain.grad_clip", pretrain.grad_clip, "0.0", 0, BIG, "clip the global gradient norm to this; 0 = no clipping (published)"),
    BOOL("pretrain.noise", pretrain.noise, "true", "noise the input by forward diffusion (false = the no-diffusion ablation)"),
    ENUM("pretrain.data_order", pretrain.data_order, enum dc_pretrain_data_order, data_order_choices, "global",
         "global: one shuffle of the corpus per epoch, the same on any rank count; local: each rank shuffles its own rows"),
    INT("pretrain.checkpoint_every", pretrain.checkpoint_every, "1000", 0, IMAX, "steps between checkpoints; 0 = only at the end"),
    INT("pretrain.keep_checkpoints", pretrain.keep_checkpoints, "3", 1, 1000, "checkpoints kept; older ones are deleted"),
    STR("pretrain.resume", pretrain.resume, "auto",
        "auto: continue from the newest valid checkpoint of the run; never: start afresh; or a checkpoint path"),
    INT("pretrain.max_wall_s", pretrain.max_wall_s, "0", 0, IMAX, "the slot's wall time in seconds, counted from the process start, for every stage: pretraining checkpoints, fine-tuning and evaluation stop at their next boundary, and the job exits with 85 while one more step and a checkpoint still fit; 0 = no limit"),
    INT("pretrain.log_every", pretrain.log_every, "50", 1, IMAX, "steps between progress lines and metrics.jsonl records"),
    INT("pretrain.max_bad_steps", pretrain.max_bad_steps, "3", 0, 1000, "NaN/Inf steps skipped in a row before rolling back to the last checkpoint"),
    INT("pretrain.max_rollbacks", pretrain.max_rollbacks, "2", 0, 1000, "rollbacks to the last checkpoint before the run aborts"),

    /* ---- finetune: stage 2, few-shot contrastive image-text training ---- */
    INT("finetune.epochs", finetune.epochs, "150", 0, 1000000, "passes over the training shots; while k x classes <= finetune.batch an epoch is one optimiser "
                                                               "step, so a shortened schedule hurts small k most"),
    INT("finetune.max_steps", finetune.max_steps, "0", 0, IMAX, "stop after this many optimiser steps; 0 = run all epochs"),
    INT("finetune.batch", finetune.batch, "128", 1, 1 << 20, "patches per step (fine-tuning runs on rank 0; evaluation on every rank)"),
    DBL("finetune.lr", finetune.lr, "1e-4", 0, 10, "base learning rate of Adam"),
    DBL("finetune.weight_decay", finetune.weight_decay, "1e-5", 0, 10, "L2 weight decay added to the gradient (PyTorch Adam)"),
    DBL("finetune.beta1", finetune.beta1, "0.9", 0, 0.999999, "Adam beta1"),
    DBL("finetune.beta2", finetune.beta2, "0.999", 0, 0.999999999, "Adam beta2"),
    DBL("finetune.adam_eps", finetune.adam_eps, "1e-8", 0, 1, "Adam epsilon"),
    ENUM("finetune.lr_schedule", finetune.lr_schedule, enum dc_finetune_lr_schedule, finetune_schedule_choices, "multistep",
         "multistep (published) or constant"),
    INTS("finetune.milestones", finetune.milestones, "100,131", 0, IMAX, "epochs at which the learning rate is multiplied by finetune.gamma"),
    DBL("finetune.gamma", finetune.gamma, "0.1", 1e-9, 10, "multistep factor"),
    INT("finetune.shots", finetune.shots, "20", 1, 100000, "labelled training pixels per class (k)"),
    INT("finetune.small_class_shots", finetune.small_class_shots, "15", 1, 100000, "shots of a class that has no more than k labelled pixels"),
    INT("finetune.runs", finetune.runs, "10", 1, 1000, "runs (label draws) per setting; run i draws with seed first_run + i"),
    INT("finetune.first_run", finetune.first_run, "0", 0, IMAX, "index of the first run (to spread runs over jobs)"),
    INT("finetune.val_pixels", finetune.val_pixels, "200", 0, IMAX, "validation pixels (never test pixels) used to pick the best epoch; 0 = keep the last"),
    ENUM("finetune.prompt", finetune.prompt, enum dc_finetune_prompt, prompt_choices, "p_default",
         "prompt: p_default \"a multimodal fusion patch of a {}.\", p1..p4 templates, p5 class descriptions"),
    STR("finetune.template", finetune.template, "", "custom prompt template with one {} for the class name; overrides finetune.prompt"),
    ENUM("finetune.tokenizer", finetune.tokenizer, enum dc_finetune_tokenizer, tokenizer_choices, "words",
         "words: a vocabulary of the run's prompt words; clip_bpe: CLIP's byte-level BPE from finetune.merges"),
    PATH("finetune.merges", finetune.merges, "", "BPE merges file for the clip_bpe tokenizer"),
    BOOL("finetune.same_class_positives", finetune.same_class_positives, "false",
         "count same-class pairs in a batch as positives (published: negatives)"),
    BOOL("finetune.timestep_zero_at_inference", finetune.timestep_zero_at_inference, "false",
         "timestep 0 at evaluation instead of a random one (published: random)"),
    ENUM("finetune.head", finetune.head, enum dc_finetune_head, head_choices, "text",
         "text: image-text contrastive (DiffCLIP); linear: a linear head with cross-entropy (the no-text ablation)"),
    ENUM("finetune.init", finetune.init, enum dc_finetune_init, init_choices, "pretrained",
         "pretrained: start from the stage-1 checkpoint; scratch: the no-pretraining ablation"),
    PATH("finetune.checkpoint", finetune.checkpoint, "", "stage-1 checkpoint to start from; empty = the newest of this run"),
    INT("finetune.eval_batch", finetune.eval_batch, "256", 2, 1 << 20, "patches per inference batch (activations are sized for it: about 10 MB per patch at the paper sizes)"),
    BOOL("finetune.scene_map", finetune.scene_map, "true", "also classify every pixel of the scene for the classification map (on Houston 2013 44 times the test "
                                           "pixels' cost per run; false for the metrics alone)"),
    INT("finetune.log_every", finetune.log_every, "10", 1, IMAX, "epochs between progress lines"),

    /* ---- bench: the multi-dataset report ---- */
    PATHS("bench.datasets", bench.datasets, "", "dataset configuration files, each run on top of this configuration"),
    INTS("bench.shots", bench.shots, "2,8,20", 1, 100000, "shot settings k"),
    INT("bench.runs", bench.runs, "10", 1, 1000, "runs (seeds 0..runs-1) per dataset and shot setting"),
    ENUM("bench.pretrain", bench.pretrain, enum dc_bench_pretrain, bench_pretrain_choices, "once",
         "pretrain once per dataset, or once per run"),
    STR("bench.out_dir", bench.out_dir, "report", "report folder (relative to the working directory)"),
    INT("bench.finetune_groups", bench.finetune_groups, "0", 0, 1 << 20,
        "groups of ranks that fine-tune and evaluate an entry's runs at once, each run on one group (evaluation sharded "
        "over its ranks); 0 = one group per rank, at most one per run; 1 = every run on all ranks in turn. Results do not "
        "depend on it"),
};

static const struct dc_config_group groups[] = {
    {"run", "What the run is called, where its folder goes, its seed, backend and logging."},
    {"data", "The scene (a prepared dataset or a synthetic preset), how its labels are split and how the "
             "pretraining corpus is drawn from it."},
    {"model", "Network sizes. The defaults are the published model's; the number of modalities and their "
              "bands come from the scene, the vocabulary from the tokenizer."},
    {"pretrain", "Stage 1, masked-diffusion pretraining on unlabelled pixels: optimiser, schedule, "
                 "checkpoints, restarts, wall time and divergence handling."},
    {"finetune", "Stage 2, few-shot contrastive image-text fine-tuning and evaluation: the shot protocol, "
                 "optimiser, prompts, tokenizer and the published options and ablations."},
    {"bench", "`diffclip bench`: datasets, shot settings and runs of the multi-dataset report."},
};

const struct dc_config_group *dc_config_groups(int *n_groups) {
  *n_groups = (int)(sizeof groups / sizeof groups[0]);
  return groups;
}

const struct dc_config_key *dc_config_schema(int *n_keys) {
  *n_keys = (int)(sizeof schema / sizeof schema[0]);
  return schema;
}

const struct dc_config_key *dc_config_find(const char *key) {
  for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
    if (strcmp(schema[i].key, key) == 0) return &schema[i];
  return NULL;
}

const char *dc_config_type_name(enum dc_config_type t) {
  switch (t) {
    case DC_CONFIG_INT: return "int";
    case DC_CONFIG_DOUBLE: return "float";
    case DC_CONFIG_BOOL: return "bool";
    case DC_CONFIG_STRING: return "string";
    case DC_CONFIG_PATH: return "path";
    case DC_CONFIG_ENUM: return "choice";
    case DC_CONFIG_INT_LIST: return "list of int";
    case DC_CONFIG_STRING_LIST: return "list of string";
    case DC_CONFIG_PATH_LIST: return "list of path";
  }
  return "?";
}
