/* The configuration: the schema's own consistency; built-in defaults equal the schema and
 * the paper; @include relative to the including file across folders (nested, diamond,
 * order of settings and includes, any working directory); precedence defaults < file <
 * --set; the --set syntax of every type; the resolved text loads back to an identical
 * struct with an identical SHA-256, from any folder. Error messages: test_config_errors. */
#include "config_testutil.h"

#include <math.h>

static void schema(void) {
  printf("schema\n");
  int n, ng;
  const struct dc_config_key *s = dc_config_schema(&n);
  const struct dc_config_group *g = dc_config_groups(&ng);
  expect(n > 0 && n <= DC_CONFIG_MAX_KEYS, "the schema fits DC_CONFIG_MAX_KEYS");
  int ok = 1, group = -1;
  for (int i = 0; i < n; i++) {
    const char *dot = strchr(s[i].key, '.');
    if (!dot || strchr(dot + 1, '.') || !s[i].doc[0] || !s[i].def) ok = 0;
    /* groups in the order of dc_config_groups, each contiguous */
    int gi = -1;
    for (int j = 0; dot && j < ng; j++)
      if (strlen(g[j].name) == (size_t)(dot - s[i].key) && strncmp(g[j].name, s[i].key, (size_t)(dot - s[i].key)) == 0)
        gi = j;
    if (gi < group || gi < 0) ok = 0, fprintf(stderr, "  %s out of group order\n", s[i].key);
    group = gi;
    for (int j = 0; j < i; j++)
      if (strcmp(s[i].key, s[j].key) == 0 || s[i].offset == s[j].offset) ok = 0, fprintf(stderr, "  %s repeats\n", s[i].key);
    if (s[i].type == DC_CONFIG_ENUM && (!s[i].choices || !s[i].choices[0])) ok = 0;
    if ((s[i].type == DC_CONFIG_INT || s[i].type == DC_CONFIG_DOUBLE) && !(s[i].min <= s[i].max)) ok = 0;
    if (s[i].offset >= sizeof(struct dc_config)) ok = 0;
  }
  expect(ok, "keys are group.name, unique, documented, grouped in order, with choices and ranges");
  expect(dc_config_find("pretrain.lr") == &s[dc_config_find("pretrain.lr") - s] && !dc_config_find("pretrain"),
         "dc_config_find finds keys, not groups");
}

static void defaults(void) {
  printf("defaults\n");
  struct dc_config *c = calloc(1, sizeof *c), *one = calloc(1, sizeof *one);
  if (!c || !one) return;
  expect(dc_config_defaults(c) == DC_OK && dc_config_check(c, NULL) == DC_OK, "the defaults load and pass the checks");
  int n, ok = 1;
  const struct dc_config_key *s = dc_config_schema(&n);
  for (int i = 0; i < n; i++) { /* each field equals its schema default read on its own */
    char a[2048], b[2048];
    memset(one, 0, sizeof *one);
    dc_config_value_text(c, &s[i], a, sizeof a);
    if (dc_config_apply_set(one, (snprintf(b, sizeof b, "%s=%s", s[i].key, s[i].def), b), NULL) != DC_OK) ok = 0;
    dc_config_value_text(one, &s[i], b, sizeof b);
    if (strcmp(a, b) != 0) ok = 0, fprintf(stderr, "  %s: %s vs %s\n", s[i].key, a, b);
  }
  expect(ok, "every default equals the schema's default text");
  const struct dc_config_model *m = &c->model;
  expect(m->window == 11 && m->embed_dim == 128 && m->depth == 4 && m->heads == 8 && m->mlp_ratio == 2.0 &&
             m->decoder_dim == 128 && m->decoder_depth == 3 && m->decoder_heads == 8 && m->stem_width == 128 &&
             m->mask_ratio == 0.7 && m->timesteps == 1000 && m->text_width == 128 && m->text_layers == 3 &&
             m->text_heads == 8 && m->context == 77,
         "model: the published sizes");
  const struct dc_config_pretrain *p = &c->pretrain;
  expect(p->epochs == 400 && p->global_batch == 128 && p->lr == 1e-4 && p->weight_decay == 1e-4 &&
             p->lr_schedule == DC_PRETRAIN_LR_COSINE_RESTARTS && p->t_0 == 5 && p->t_mult == 2 && p->beta1 == 0.9 &&
             p->beta2 == 0.999 && p->adam_eps == 1e-8 && p->noise && p->keep_checkpoints == 3 &&
             strcmp(p->resume, "auto") == 0 && p->max_wall_s == 0 && p->max_bad_steps == 3 &&
             p->data_order == DC_PRETRAIN_ORDER_GLOBAL,
         "pretrain: the published optimiser and schedule, resume auto, keep 3");
  const struct dc_config_finetune *f = &c->finetune;
  expect(f->epochs == 150 && f->batch == 128 && f->lr == 1e-4 && f->weight_decay == 1e-5 &&
             f->lr_schedule == DC_FINETUNE_LR_MULTISTEP && f->milestones.n == 2 && f->milestones.v[0] == 100 &&
             f->milestones.v[1] == 131 && f->gamma == 0.1 && f->shots == 20 && f->small_class_shots == 15 &&
             f->runs == 10 && f->val_pixels == 200 && f->prompt == DC_FINETUNE_PROMPT_DEFAULT &&
             f->tokenizer == DC_FINETUNE_TOKENIZER_WORDS && !f->same_class_positives &&
             !f->timestep_zero_at_inference && f->head == DC_FINETUNE_HEAD_TEXT && f->init == DC_FINETUNE_INIT_PRETRAINED,
         "finetune: the published protocol, optimiser, schedule and prompt");
  expect(strcmp(c->run.out_dir, "runs") == 0 && c->run.seed == 0 && c->run.backend == DC_RUN_BACKEND_AUTO &&
             c->data.normalisation == DC_DATA_NORM_GLOBAL_MINMAX && c->data.corpus == DC_DATA_CORPUS_ALL &&
             c->data.corpus_stride == 1 && c->data.corpus_fraction == 1.0 && c->data.nan_policy == DC_DATA_NAN_ERROR &&
             c->bench.shots.n == 3 && c->bench.shots.v[0] == 2 && c->bench.shots.v[1] == 8 &&
             c->bench.shots.v[2] == 20 && c->bench.runs == 10 && c->bench.datasets.n == 0,
         "run, data and bench defaults");
  struct dc_model_config mine, paper;
  int bands[2] = {144, 1};
  dc_model_config_paper(&paper, 2, bands);
  expect(dc_config_model(c, 2, bands, 49408, &mine) == DC_OK && memcmp(&mine, &paper, sizeof mine) == 0,
         "dc_config_model of the defaults is dc_model_config_paper");
  free(c);
  free(one);
}

static void includes(void) {
  printf("@include\n");
  /* base/base.cfg <- base/sub/mid.cfg <- exp/deep/run.cfg, and a diamond through both */
  int w = write_file("base/base.cfg",
                     "# base\n"
                     "pretrain = { lr = 2e-4; epochs = 10; };\n"
                     "model = { heads = 4; };\n"
                     "data = { scene = \"scenes/a.h5\"; };\n") &&
          write_file("base/sub/mid.cfg",
                     "@include \"../base.cfg\"\n"
                     "pretrain = {\n"
                     "  epochs = 20;\n"
                     "};\n"
                     "data = { manifest = \"../m.cfg\"; };\n") &&
          write_file("exp/deep/run.cfg",
                     "model = { heads = 2; depth = 2; };  # before the include: overridden by it\n"
                     "@include \"../../base/sub/mid.cfg\"\n"
                     "pretrain = { epochs = 30; };        # after it: wins\n"
                     "bench = { datasets = [\"x.cfg\", \"../y.cfg\"]; };\n") &&
          write_file("exp/diamond.cfg", "@include \"deep/run.cfg\"\n@include \"../base/base.cfg\"\n");
  expect(w, "wrote the nested files");
  struct dc_config *c;
  struct dc_config_origins *o;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return;
  for (int from = 0; from < 2; from++) {
    /* from the temp root with a relative path, then from / with an absolute one */
    if (chdir(from == 0 ? tmp_root : "/") != 0) return;
    const char *file = from == 0 ? "exp/deep/run.cfg" : tmp_path("exp/deep/run.cfg");
    c = calloc(1, sizeof *c);
    o = calloc(1, sizeof *o);
    if (!c || !o) return;
    enum dc_status st = dc_config_load(c, file, NULL, 0, o);
    expect(st == DC_OK, from == 0 ? "nested includes load (relative path, working directory = root)"
                                  : "nested includes load (absolute path, working directory = /)");
    expect(c->pretrain.lr == 2e-4 && c->pretrain.epochs == 30 && c->model.heads == 4 && c->model.depth == 2,
           "a later setting overrides an earlier one, across files, in file order");
    expect(strcmp(c->data.scene, tmp_path("base/scenes/a.h5")) == 0 &&
               strcmp(c->data.manifest, tmp_path("base/m.cfg")) == 0,
           "paths are relative to the file that sets them, stored absolute");
    expect(c->bench.datasets.n == 2 && strcmp(c->bench.datasets.v[0], tmp_path("exp/deep/x.cfg")) == 0 &&
               strcmp(c->bench.datasets.v[1], tmp_path("exp/y.cfg")) == 0,
           "path lists are resolved element by element");
    int n;
    const struct dc_config_key *s = dc_config_schema(&n);
    const char *ep = o->where[dc_config_find("pretrain.epochs") - s], *lr = o->where[dc_config_find("pretrain.lr") - s];
    if (from == 0) {
      expect(strcmp(ep, "exp/deep/run.cfg:3") == 0 && strcmp(lr, "base/base.cfg:2") == 0 &&
                 strcmp(o->where[dc_config_find("data.manifest") - s], "base/sub/mid.cfg:5") == 0 &&
                 strcmp(o->where[dc_config_find("run.seed") - s], "default") == 0,
             "origins name the file (as joined from the including one) and line");
    }
    free(c);
    free(o);
  }
  if (chdir(cwd) != 0) return;
  expect(load("exp/diamond.cfg", NULL, 0, &c, NULL) == DC_OK && c->pretrain.epochs == 10 && c->model.heads == 4,
         "a file included twice on different branches is not a cycle; the last include wins");
  free(c);
}

static void precedence(void) {
  printf("precedence\n");
  write_file("prec.cfg", "pretrain = { lr = 3e-4; epochs = 7; };\nrun = { name = \"from-file\"; };\n");
  struct dc_config *c;
  struct dc_config_origins *o;
  const char *sets[] = {"pretrain.epochs=8", "run.name = later", "pretrain.epochs=9"};
  expect(load("prec.cfg", sets, 3, &c, &o) == DC_OK, "a file with --set overrides loads");
  int n;
  const struct dc_config_key *s = dc_config_schema(&n);
  expect(c->pretrain.lr == 3e-4 && c->pretrain.epochs == 9 && strcmp(c->run.name, "later") == 0 &&
             c->pretrain.global_batch == 128,
         "defaults < file < --set, the last --set winning");
  expect(strcmp(o->where[dc_config_find("pretrain.epochs") - s], "--set") == 0 &&
             strcmp(o->where[dc_config_find("pretrain.lr") - s], "prec.cfg:1") != 0 /* shown as given: absolute */ &&
             strstr(o->where[dc_config_find("pretrain.lr") - s], "prec.cfg:1") &&
             strcmp(o->where[dc_config_find("pretrain.t_0") - s], "default") == 0,
         "origins: --set, file:line, default");
  free(c);
  free(o);
}

static void set_syntax(void) {
  printf("--set syntax\n");
  struct dc_config *c = calloc(1, sizeof *c);
  if (!c || dc_config_defaults(c) != DC_OK) return;
  int ok = dc_config_apply_set(c, "bench.shots=[1, 4]", NULL) == DC_OK && c->bench.shots.n == 2 && c->bench.shots.v[1] == 4;
  ok &= dc_config_apply_set(c, "finetune.milestones=3,5,7", NULL) == DC_OK && c->finetune.milestones.n == 3;
  ok &= dc_config_apply_set(c, "finetune.milestones=()", NULL) == DC_OK && c->finetune.milestones.n == 0;
  expect(ok, "int lists: [a, b], a,b,c, and empty");
  ok = dc_config_apply_set(c, "run.name=\"quoted name\"", NULL) == DC_OK && strcmp(c->run.name, "quoted name") == 0;
  ok &= dc_config_apply_set(c, "finetune.template=a \\\"b\\\" of {}", NULL) == DC_OK &&
        strcmp(c->finetune.template, "a \\\"b\\\" of {}") == 0;
  expect(ok, "strings with and without quotes (unquoted text is taken as it is)");
  ok = dc_config_apply_set(c, "pretrain.noise=no", NULL) == DC_OK && !c->pretrain.noise;
  ok &= dc_config_apply_set(c, "pretrain.noise=TRUE", NULL) == DC_OK && c->pretrain.noise;
  ok &= dc_config_apply_set(c, "pretrain.lr=0.30000000000000004", NULL) == DC_OK && c->pretrain.lr == 0.1 + 0.2;
  ok &= dc_config_apply_set(c, "model.mask_ratio=5e-1", NULL) == DC_OK && c->model.mask_ratio == 0.5;
  ok &= dc_config_apply_set(c, "finetune.prompt=p5", NULL) == DC_OK && c->finetune.prompt == DC_FINETUNE_PROMPT_P5;
  expect(ok, "bools, floats (exactly), choices");
  char cwd[PATH_MAX], want[PATH_MAX + 32];
  ok = getcwd(cwd, sizeof cwd) != NULL;
  snprintf(want, sizeof want, "%s/sub/x.h5", strcmp(cwd, "/") == 0 ? "" : cwd);
  ok &= dc_config_apply_set(c, "data.scene=./sub/../sub//x.h5", NULL) == DC_OK && strcmp(c->data.scene, want) == 0;
  ok &= dc_config_apply_set(c, "data.scene=/abs/./p/../q.h5", NULL) == DC_OK && strcmp(c->data.scene, "/abs/q.h5") == 0;
  ok &= dc_config_apply_set(c, "bench.datasets=a.cfg,/b.cfg", NULL) == DC_OK && c->bench.datasets.n == 2 &&
        strcmp(c->bench.datasets.v[1], "/b.cfg") == 0;
  expect(ok, "paths: relative to the working directory, normalised");
  free(c);
}

static void round_trip(void) {
  printf("resolved text\n");
  write_file("rt/inc.cfg", "data = { scene = \"../s/x.h5\"; manifest = \"m.cfg\"; };\n");
  write_file("rt/top.cfg",
             "@include \"inc.cfg\"\n"
             "run = { name = \"a \\\"q\\\" b\\\\c\"; seed = 12345; backend = \"cpu\"; log_all_ranks = true; };\n"
             "model = { window = 7; embed_dim = 64; heads = 4; mlp_ratio = 3.25; mask_ratio = 0.55; };\n"
             "finetune = { milestones = (5, 9, 11); template = \"the {} pixel\"; tokenizer = \"clip_bpe\"; "
             "merges = \"bpe.txt\"; };\n"
             "bench = { datasets = [\"d1.cfg\", \"../d2.cfg\"]; shots = []; };\n");
  struct dc_config *c, *back = calloc(1, sizeof *back), *def = calloc(1, sizeof *def);
  const char *sets[] = {"pretrain.lr=0.30000000000000004", "pretrain.eta_min=1e-300", "data.corpus_fraction=0.1"};
  expect(load("rt/top.cfg", sets, 3, &c, NULL) == DC_OK && back && def, "a configuration far from the defaults loads");
  const char *resolved = tmp_path("rt/resolved.cfg");
  expect(dc_config_write_resolved(c, resolved) == DC_OK, "dc_config_write_resolved writes it");
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || chdir("/") != 0) return;
  expect(dc_config_load(back, resolved, NULL, 0, NULL) == DC_OK, "the resolved file loads back (from another folder)");
  if (chdir(cwd) != 0) return;
  expect(memcmp(c, back, sizeof *c) == 0 && dc_config_diff(c, back) == NULL, "into an identical struct");
  char h1[DC_SHA256_HEX], h2[DC_SHA256_HEX], h3[DC_SHA256_HEX];
  dc_config_sha256(c, h1);
  dc_config_sha256(back, h2);
  dc_config_defaults(def);
  dc_config_sha256(def, h3);
  expect(strcmp(h1, h2) == 0 && strlen(h1) == 64 && strcmp(h1, h3) != 0,
         "with an identical SHA-256, which differs from the defaults'");
  char *text = dc_config_text(c);
  char file_hex[DC_SHA256_HEX];
  expect(text && dc_sha256_file(resolved, file_hex) == DC_OK && strcmp(file_hex, h1) == 0 &&
             dc_config_format(c, NULL, 0) == strlen(text),
         "the hash is the SHA-256 of the file's bytes; dc_config_format sizes it");
  int n;
  dc_config_schema(&n);
  int lines = 0;
  for (const char *p = text; p && *p; p++) lines += *p == '\n';
  expect(lines == n + 2 * 6 + 1, "one line per key, two per group, one header line");
  free(text);
  back->model.depth = 5;
  expect(dc_config_diff(c, back) && strcmp(dc_config_diff(c, back), "model.depth") == 0, "dc_config_diff names the key");
  free(c);
  free(back);
  free(def);
}

int main(void) {
  if (!make_tmp_root()) {
    fprintf(stderr, "cannot make a temporary folder\n");
    return 1;
  }
  dc_log_set_level(DC_LOG_WARN);
  schema();
  defaults();
  includes();
  precedence();
  set_syntax();
  round_trip();
  remove_tree(tmp_root);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
