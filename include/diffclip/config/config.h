/* The run configuration: one typed struct, one schema table, libconfig files.
 *
 * Every key lives once in the schema (src/config/config_schema.c): its path ("pretrain.lr"), its
 * type, where it sits in struct dc_config, its default, its range or choices and one line of
 * documentation. Defaults, file loading, `--set` overrides, the resolved file, its SHA-256
 * and the Markdown reference (docs/config.md) are all derived from that table.
 *
 * Precedence: built-in defaults < the configuration file and its @includes (a file's
 * settings and includes apply in the order they appear, later ones override earlier ones)
 * < `--set key=value` overrides, in command-line order.
 *
 * Paths (type "path") written in a file are relative to the directory of that file; given
 * by --set, relative to the working directory. Both are stored absolute and normalised, so
 * a resolved configuration means the same from any directory. Output folders (run.out_dir,
 * bench.out_dir) are plain strings, relative to the working directory of the run. */
#ifndef DIFFCLIP_CONFIG_H
#define DIFFCLIP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diffclip/model/model.h"
#include "diffclip/core/sha256.h"
#include "diffclip/core/status.h"

#define DC_CONFIG_STR 512      /* capacity of a string or path value, NUL included */
#define DC_CONFIG_LIST 32      /* capacity of a list value */
#define DC_CONFIG_MAX_KEYS 128 /* capacity of the schema (checked by a test) */

struct dc_config_ints {
  int n;
  int v[DC_CONFIG_LIST];
};
struct dc_config_strs {
  int n;
  char v[DC_CONFIG_LIST][DC_CONFIG_STR];
};

/* Enumerations: X(identifier, text). The schema's choice lists are made from the same
 * macros, so an enum value and its text cannot drift apart. */
#define DC_CONFIG_ENUM_ID(id, text) id,
#define DC_CONFIG_ENUM_TEXT(id, text) text,
#define DC_RUN_BACKEND_CHOICES(X) X(DC_RUN_BACKEND_AUTO, "auto") X(DC_RUN_BACKEND_CPU, "cpu") X(DC_RUN_BACKEND_CUDA, "cuda")
/* same order as enum dc_precision (backend.h) */
#define DC_RUN_PRECISION_CHOICES(X) X(DC_RUN_PRECISION_FP32, "fp32") X(DC_RUN_PRECISION_BF16, "bf16")
/* same order as enum dc_log_level */
#define DC_RUN_LOG_LEVEL_CHOICES(X) \
  X(DC_RUN_LOG_ERROR, "error") X(DC_RUN_LOG_WARN, "warn") X(DC_RUN_LOG_INFO, "info") X(DC_RUN_LOG_DEBUG, "debug")
#define DC_DATA_SYNTHETIC_CHOICES(X) \
  X(DC_DATA_SYNTHETIC_NONE, "none") X(DC_DATA_SYNTHETIC_TINY, "tiny") X(DC_DATA_SYNTHETIC_DEMO, "demo") \
  X(DC_DATA_SYNTHETIC_TRENTO_LIKE, "trento-like")
#define DC_DATA_PROTOCOL_CHOICES(X) X(DC_DATA_PROTOCOL_FEW_SHOT, "few_shot") X(DC_DATA_PROTOCOL_OFFICIAL, "official")
#define DC_DATA_NORMALISATION_CHOICES(X) \
  X(DC_DATA_NORM_GLOBAL_MINMAX, "global_minmax") X(DC_DATA_NORM_BAND_ROBUST, "band_robust")
#define DC_DATA_NAN_POLICY_CHOICES(X) X(DC_DATA_NAN_ERROR, "error") X(DC_DATA_NAN_FILL, "fill")
#define DC_DATA_CORPUS_CHOICES(X) X(DC_DATA_CORPUS_ALL, "all") X(DC_DATA_CORPUS_LABELLED, "labelled")
#define DC_DATA_TASK_CHOICES(X) X(DC_DATA_TASK_ABNORMAL, "abnormal") X(DC_DATA_TASK_ACL, "acl") X(DC_DATA_TASK_MENISCUS, "meniscus")
#define DC_PRETRAIN_LR_SCHEDULE_CHOICES(X) \
  X(DC_PRETRAIN_LR_COSINE_RESTARTS, "cosine_restarts") X(DC_PRETRAIN_LR_CONSTANT, "constant")
#define DC_PRETRAIN_DATA_ORDER_CHOICES(X) X(DC_PRETRAIN_ORDER_GLOBAL, "global") X(DC_PRETRAIN_ORDER_LOCAL, "local")
#define DC_FINETUNE_LR_SCHEDULE_CHOICES(X) X(DC_FINETUNE_LR_MULTISTEP, "multistep") X(DC_FINETUNE_LR_CONSTANT, "constant")
/* same order as enum dc_prompt_template (prompts.h), whose name for p_default is "default" */
#define DC_FINETUNE_PROMPT_CHOICES(X)                                                          \
  X(DC_FINETUNE_PROMPT_DEFAULT, "p_default") X(DC_FINETUNE_PROMPT_P1, "p1") X(DC_FINETUNE_PROMPT_P2, "p2") \
  X(DC_FINETUNE_PROMPT_P3, "p3") X(DC_FINETUNE_PROMPT_P4, "p4") X(DC_FINETUNE_PROMPT_P5, "p5")
#define DC_FINETUNE_TOKENIZER_CHOICES(X) \
  X(DC_FINETUNE_TOKENIZER_WORDS, "words") X(DC_FINETUNE_TOKENIZER_CLIP_BPE, "clip_bpe")
#define DC_FINETUNE_HEAD_CHOICES(X) X(DC_FINETUNE_HEAD_TEXT, "text") X(DC_FINETUNE_HEAD_LINEAR, "linear")
#define DC_FINETUNE_INIT_CHOICES(X) X(DC_FINETUNE_INIT_PRETRAINED, "pretrained") X(DC_FINETUNE_INIT_SCRATCH, "scratch")
#define DC_BENCH_PRETRAIN_CHOICES(X) X(DC_BENCH_PRETRAIN_ONCE, "once") X(DC_BENCH_PRETRAIN_PER_RUN, "per_run")

enum dc_run_backend { DC_RUN_BACKEND_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_run_precision { DC_RUN_PRECISION_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_run_log_level { DC_RUN_LOG_LEVEL_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_synthetic { DC_DATA_SYNTHETIC_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_protocol { DC_DATA_PROTOCOL_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_normalisation { DC_DATA_NORMALISATION_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_nan_policy { DC_DATA_NAN_POLICY_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_corpus { DC_DATA_CORPUS_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_data_task { DC_DATA_TASK_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_pretrain_lr_schedule { DC_PRETRAIN_LR_SCHEDULE_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_pretrain_data_order { DC_PRETRAIN_DATA_ORDER_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_finetune_lr_schedule { DC_FINETUNE_LR_SCHEDULE_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_finetune_prompt { DC_FINETUNE_PROMPT_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_finetune_tokenizer { DC_FINETUNE_TOKENIZER_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_finetune_head { DC_FINETUNE_HEAD_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_finetune_init { DC_FINETUNE_INIT_CHOICES(DC_CONFIG_ENUM_ID) };
enum dc_bench_pretrain { DC_BENCH_PRETRAIN_CHOICES(DC_CONFIG_ENUM_ID) };

/* One field per schema key, named as the key's last part; docs/config.md documents each. */
struct dc_config {
  struct dc_config_run {
    char name[DC_CONFIG_STR], out_dir[DC_CONFIG_STR];
    int seed, threads;
    enum dc_run_backend backend;
    enum dc_run_precision precision;
    enum dc_run_log_level log_level;
    bool log_all_ranks;
  } run;
  struct dc_config_data {
    char name[DC_CONFIG_STR], study[DC_CONFIG_STR], paper[DC_CONFIG_STR];
    char scene[DC_CONFIG_STR], manifest[DC_CONFIG_STR], raw_dir[DC_CONFIG_STR]; /* paths */
    enum dc_data_synthetic synthetic;
    int synthetic_seed, classes;
    enum dc_data_protocol protocol;
    enum dc_data_normalisation normalisation;
    enum dc_data_nan_policy nan_policy;
    enum dc_data_corpus corpus;
    int corpus_stride;
    double corpus_fraction;
    enum dc_data_task task;
    char split_file[DC_CONFIG_STR]; /* exam stores: a custom train / test split (path) */
  } data;
  struct dc_config_model {
    int window, embed_dim, depth, heads;
    double mlp_ratio;
    int decoder_dim, decoder_depth, decoder_heads, stem_width;
    double mask_ratio;
    int timesteps;
    int text_width, text_layers, text_heads, context;
  } model;
  struct dc_config_pretrain {
    int epochs, max_steps, global_batch;
    double lr, weight_decay, beta1, beta2, adam_eps;
    enum dc_pretrain_lr_schedule lr_schedule;
    int t_0, t_mult;
    double eta_min, grad_clip;
    bool noise;
    enum dc_pretrain_data_order data_order;
    int checkpoint_every, keep_checkpoints;
    char resume[DC_CONFIG_STR]; /* "auto", "never" or a checkpoint path */
    int max_wall_s, log_every, max_bad_steps, max_rollbacks;
  } pretrain;
  struct dc_config_finetune {
    int epochs, max_steps, batch;
    double lr, weight_decay, beta1, beta2, adam_eps;
    enum dc_finetune_lr_schedule lr_schedule;
    struct dc_config_ints milestones;
    double gamma;
    int shots, small_class_shots, runs, first_run, val_pixels;
    enum dc_finetune_prompt prompt;
    char template[DC_CONFIG_STR];
    enum dc_finetune_tokenizer tokenizer;
    char merges[DC_CONFIG_STR]; /* path */
    bool same_class_positives, timestep_zero_at_inference;
    enum dc_finetune_head head;
    enum dc_finetune_init init;
    char checkpoint[DC_CONFIG_STR]; /* path */
    int eval_batch;
    bool scene_map;
    int log_every;
  } finetune;
  struct dc_config_bench {
    struct dc_config_strs datasets; /* paths */
    struct dc_config_ints shots;
    int runs;
    enum dc_bench_pretrain pretrain;
    char out_dir[DC_CONFIG_STR];
    int finetune_groups; /* rank groups fine-tuning runs at once; 0: one per rank */
  } bench;
};

/* ---- the schema ---- */
enum dc_config_type {
  DC_CONFIG_INT,
  DC_CONFIG_DOUBLE,
  DC_CONFIG_BOOL,
  DC_CONFIG_STRING,
  DC_CONFIG_PATH, /* a string resolved against the directory of the file that sets it */
  DC_CONFIG_ENUM, /* a string from `choices`, stored as its index */
  DC_CONFIG_INT_LIST,
  DC_CONFIG_STRING_LIST,
  DC_CONFIG_PATH_LIST
};
struct dc_config_key {
  const char *key;  /* "group.name" */
  enum dc_config_type type;
  size_t offset;    /* of the field in struct dc_config */
  const char *def;  /* the default, in --set syntax ("1e-4", "100,131", "runs") */
  double min, max;  /* numbers and list elements: the inclusive range */
  const char *const *choices; /* enums: NULL-terminated */
  const char *doc;  /* one line for docs/config.md */
};
const struct dc_config_key *dc_config_schema(int *n_keys);
/* The groups ("run", "data", ...) in order, each with a paragraph for the reference. */
struct dc_config_group {
  const char *name, *doc;
};
const struct dc_config_group *dc_config_groups(int *n_groups);
/* The schema entry of `key`, or NULL. */
const struct dc_config_key *dc_config_find(const char *key);
/* The schema key nearest to an unknown `key` (edit distance, or the same last part), or
 * NULL when nothing is close; for "did you mean" messages. */
const char *dc_config_suggest(const char *key);
const char *dc_config_type_name(enum dc_config_type t);

/* Where each key's value came from, by schema index: "default", "--set" or "FILE:LINE". */
struct dc_config_origins {
  char where[DC_CONFIG_MAX_KEYS][DC_CONFIG_STR + 16];
};

/* ---- building a configuration ---- */
/* Every key at its built-in default (the whole struct zeroed first, so equal
 * configurations are also equal bytewise). */
enum dc_status dc_config_defaults(struct dc_config *cfg);
/* Defaults, then `file` (may be NULL) with its includes, then the `n_sets` overrides
 * "key=value", then dc_config_check. `origins` may be NULL. */
enum dc_status dc_config_load(struct dc_config *cfg, const char *file, const char *const *sets, int n_sets,
                              struct dc_config_origins *origins);
/* Applies one file (and its includes) on top of `cfg`. */
enum dc_status dc_config_apply_file(struct dc_config *cfg, const char *file, struct dc_config_origins *origins);
/* Applies a configuration text (no @include; relative paths from the working folder), as
 * a fine-tuned checkpoint's /config stores it; `shown` names it in messages. */
enum dc_status dc_config_apply_text(struct dc_config *cfg, const char *text, const char *shown,
                                    struct dc_config_origins *origins);
/* Applies one "key=value" override; the value is read by the key's type. */
enum dc_status dc_config_apply_set(struct dc_config *cfg, const char *assignment, struct dc_config_origins *origins);
/* Checks the rules that join several keys (heads divide widths, milestones increase, ...). */
enum dc_status dc_config_check(const struct dc_config *cfg, const struct dc_config_origins *origins);

/* ---- output ---- */
/* The canonical resolved text: every key, in schema order, one libconfig group per
 * section; it loads back to an identical struct. Returns the length it needs (excluding
 * the NUL), like snprintf; writes at most `cap` bytes. */
size_t dc_config_format(const struct dc_config *cfg, char *buf, size_t cap);
/* The canonical text as a malloc'd string (NULL when out of memory). */
char *dc_config_text(const struct dc_config *cfg);
/* Writes the canonical text to `path` (through a temporary name and a rename). */
enum dc_status dc_config_write_resolved(const struct dc_config *cfg, const char *path);
/* SHA-256 of the canonical text, 64 hex digits. */
enum dc_status dc_config_sha256(const struct dc_config *cfg, char hex[DC_SHA256_HEX]);
/* The SHA-256 of the configuration with the keys of `reset` put back to their defaults: a
 * name ending in '.' resets every key under it ("bench."). The identity of a stage's result,
 * blind to the keys that only say how it is run. */
enum dc_status dc_config_identity(const struct dc_config *cfg, const char *const *reset, int n_reset,
                                  char hex[DC_SHA256_HEX]);
/* One value in --set syntax (strings unquoted, lists comma-separated). */
void dc_config_value_text(const struct dc_config *cfg, const struct dc_config_key *k, char *buf, size_t cap);
/* NULL when the configurations are equal, else the first key (schema order) that differs. */
const char *dc_config_diff(const struct dc_config *a, const struct dc_config *b);
/* The Markdown reference of every key (docs/config.md is this text). */
enum dc_status dc_config_reference(FILE *out);

/* The model sizes of this configuration for a scene with `n_modalities` of `bands` and a
 * tokenizer of `vocab` ids; fixed constants (norm epsilons) as published. */
enum dc_status dc_config_model(const struct dc_config *cfg, int n_modalities, const int *bands, int vocab,
                               struct dc_model_config *out);

#endif
