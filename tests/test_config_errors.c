/* Every class of configuration error, with the message it must give: unknown keys and
 * groups (file:line, did you mean), wrong types, out-of-range values and list elements, bad
 * choices, syntax errors, integers libconfig would truncate, include errors (missing,
 * cycle, inside a group), a missing file; the same for --set (no file:line); and the rules
 * that join several keys. A file with several errors reports them all. */
#include "config_testutil.h"

/* Loads `text` as bad.cfg; the status must be `want`. */
static int file_fails(const char *text, enum dc_status want) {
  write_file("bad.cfg", text);
  struct dc_config *c;
  enum dc_status st = load("bad.cfg", NULL, 0, &c, NULL);
  free(c);
  if (st != want) fprintf(stderr, "  status %s, expected %s\n", dc_status_name(st), dc_status_name(want));
  return st == want;
}

static int set_fails(const char *assignment) {
  struct dc_config *c;
  struct dc_config_origins *o;
  const char *sets[] = {assignment};
  enum dc_status st = load(NULL, sets, 1, &c, &o);
  free(c);
  free(o);
  return st == DC_ERR_ARG;
}

static void file_errors(void) {
  printf("file errors\n");
  expect(file_fails("run = {\n  sead = 1;\n};\n", DC_ERR_ARG) &&
             HAS("bad.cfg:2:", "unknown key 'run.sead'", "(did you mean 'run.seed'?)"),
         "unknown key: file:line and did you mean");
  expect(file_fails("\npretrian = { lr = 1e-4; };\n", DC_ERR_ARG) &&
             HAS("bad.cfg:2:", "unknown key 'pretrian'", "did you mean 'pretrain'"),
         "unknown group: did you mean the group");
  expect(file_fails("model = { epochs = 3; };\n", DC_ERR_ARG) &&
             HAS("unknown key 'model.epochs'", "did you mean 'pretrain.epochs' or 'finetune.epochs'?"),
         "a key in the wrong group: the keys of that name are suggested");
  expect(file_fails("model = { window = \"big\"; };\n", DC_ERR_ARG) &&
             HAS("bad.cfg:1:", "model.window", "expected an int in [1, 63]", "got a string"),
         "wrong type: the key, file:line, expected type and range");
  expect(file_fails("pretrain = { epochs = 1.5; };\n", DC_ERR_ARG) && HAS("pretrain.epochs", "got a float"),
         "a float for an int key");
  expect(file_fails("finetune = { scene_map = 1; };\n", DC_ERR_ARG) &&
             HAS("finetune.scene_map", "expected true or false", "got an int"),
         "an int for a bool key");
  expect(file_fails("run = { name = [\"a\"]; };\n", DC_ERR_ARG) && HAS("run.name", "expected a string", "got an array"),
         "a list for a string key");
  expect(file_fails("run = { seed = { x = 1; }; };\n", DC_ERR_ARG) && HAS("run.seed", "got a group"),
         "a group for a value key");
  expect(file_fails("model = 3;\n", DC_ERR_ARG) && HAS("'model' is a group of keys", "got an int"),
         "a value for a group");
  expect(file_fails("model = {\n  mask_ratio = 1.5;\n};\n", DC_ERR_ARG) &&
             HAS("bad.cfg:2:", "model.mask_ratio = 1.5 is out of range", "expected a float in [0, 0.99]"),
         "out of range: the key, file:line and the range");
  expect(file_fails("run = { seed = -1; };\n", DC_ERR_ARG) && HAS("run.seed = -1 is out of range", "expected an int >= 0"),
         "out of range below");
  expect(file_fails("data = { corpus = \"labeled\"; };\n", DC_ERR_ARG) &&
             HAS("bad.cfg:1:", "data.corpus = \"labeled\" is not a valid choice",
                 "expected one of \"all\", \"labelled\"", "did you mean \"labelled\""),
         "bad choice: the choices and the nearest one");
  expect(file_fails("finetune = { milestones = (100, \"x\"); };\n", DC_ERR_ARG) &&
             HAS("finetune.milestones", "a string as element 2"),
         "a list element of the wrong type");
  expect(file_fails("bench = { shots = [2, 0]; };\n", DC_ERR_ARG) &&
             HAS("bench.shots element 2 = 0 is out of range", "ints in [1, 100000]"),
         "a list element out of range");
  expect(file_fails("bench = { shots = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33]; };\n", DC_ERR_ARG) &&
             HAS("bench.shots has 33 elements", "at most 32"),
         "a list too long");
  expect(file_fails("run = {\n  seed = ;\n};\n", DC_ERR_ARG) && HAS("bad.cfg:2: syntax error"),
         "a syntax error: libconfig's message with file:line");
  expect(file_fails("# big\nrun = { seed = 3000000000; };\n", DC_ERR_ARG) &&
             HAS("bad.cfg:2:", "the integer 3000000000 does not fit 32 bits"),
         "an integer libconfig 1.5 would truncate");
  expect(file_fails("run = { seed = 2147483647; };\npretrain = { lr = 1e-4; };\n", DC_OK), "INT_MAX and floats pass");
  expect(file_fails("run = { name = \"tab\there\"; };\n", DC_ERR_ARG) && HAS("run.name", "control character"),
         "control characters in strings");
}

static void include_errors(void) {
  printf("include errors\n");
  expect(file_fails("run = { seed = 1; };\n@include \"nope/missing.cfg\"\n", DC_ERR_IO) &&
             HAS("bad.cfg:2:", "@include \"nope/missing.cfg\"", "cannot open"),
         "a missing include: the including file and line");
  write_file("cyc/a.cfg", "@include \"sub/b.cfg\"\n");
  write_file("cyc/sub/b.cfg", "# b\n@include \"../a.cfg\"\n");
  struct dc_config *c;
  expect(load("cyc/a.cfg", NULL, 0, &c, NULL) == DC_ERR_ARG && HAS("cyc/sub/b.cfg:2:", "forms a cycle"),
         "an include cycle");
  free(c);
  expect(file_fails("run = {\n  @include \"x.cfg\"\n};\n", DC_ERR_ARG) && HAS("bad.cfg:2:", "inside a group"),
         "an include inside a group");
  expect(file_fails("@include x.cfg\n", DC_ERR_ARG) && HAS("expects a quoted path"), "an include without quotes");
  write_file("inc/ok.cfg", "run = { seed = 5; };\n");
  write_file("inc/bad.cfg", "@include \"ok.cfg\"\nrun = {\n  sed = 1;\n};\n");
  expect(load("inc/bad.cfg", NULL, 0, &c, NULL) == DC_ERR_ARG && HAS("inc/bad.cfg:3:", "unknown key 'run.sed'"),
         "line numbers count the lines of the include directives");
  free(c);
  expect(load("does/not/exist.cfg", NULL, 0, &c, NULL) == DC_ERR_IO && HAS("exist.cfg", "cannot open"),
         "a missing configuration file");
  free(c);
  /* several errors: all reported (on stderr), the first status returned */
  expect(file_fails("run = { sead = 1; };\nmodel = { depth = 0; };\ndata = { corpus = \"x\"; };\n", DC_ERR_ARG) &&
             HAS("bad.cfg:3:", "data.corpus"),
         "every error of a file is reported, the last message is the last error");
}

static void set_errors(void) {
  printf("--set errors\n");
  expect(set_fails("pretrain.lrr=1") &&
             HAS("--set pretrain.lrr=1: unknown key 'pretrain.lrr' (did you mean 'pretrain.lr'?)") &&
             !strstr(dc_last_error(), ".cfg:"),
         "unknown key, did you mean, no file:line");
  expect(set_fails("pretrain.lr") && HAS("--set pretrain.lr: expected key=value"), "no '='");
  expect(set_fails("model.depth=four") && HAS("--set model.depth=four", "model.depth: expected an int in [1, 64], got 'four'"),
         "not an int");
  expect(set_fails("model.depth=0") && HAS("model.depth = 0 is out of range"), "out of range");
  expect(set_fails("pretrain.lr=nan") && HAS("pretrain.lr: expected a float"), "NaN is not a float value");
  expect(set_fails("pretrain.lr=1e-4x") && HAS("got '1e-4x'"), "trailing garbage");
  expect(set_fails("run.backend=gpu") && HAS("run.backend = \"gpu\" is not a valid choice", "\"auto\", \"cpu\", \"cuda\""),
         "bad choice");
  expect(set_fails("run.log_all_ranks=maybe") && HAS("expected true or false"), "not a bool");
  expect(set_fails("bench.shots=2,x") && HAS("bench.shots", "got 'x'"), "a bad list element");
  expect(set_fails("run.seed=99999999999999999999") && HAS("run.seed"), "an int that overflows");
}

static void rule_errors(void) {
  printf("rules across keys\n");
  expect(set_fails("model.heads=7") && HAS("model.heads = 7 (--set) must divide model.embed_dim = 128 (default)"),
         "heads divide the width, with both origins");
  expect(set_fails("model.window=10") && HAS("model.window = 10", "odd"), "an even window");
  struct dc_config *c;
  const char *width[] = {"model.heads=2", "model.embed_dim=34"};
  expect(load(NULL, width, 2, &c, NULL) == DC_ERR_ARG && HAS("model.embed_dim = 34", "multiple of 4"),
         "the width is a multiple of 4");
  free(c);
  const char *keep[] = {"model.window=1", "model.mask_ratio=0.5"};
  expect(load(NULL, keep, 2, &c, NULL) == DC_ERR_ARG && HAS("keeps no token"), "a mask that keeps no token");
  free(c);
  expect(set_fails("finetune.milestones=100,90") && HAS("finetune.milestones = 100,90 (--set)", "increase strictly"),
         "milestones out of order");
  expect(set_fails("finetune.template=no braces") && HAS("exactly one {}"), "a template without {}");
  expect(set_fails("finetune.tokenizer=clip_bpe") && HAS("needs a merges file"), "clip_bpe without merges");
  expect(set_fails("run.name=a/b") && HAS("run.name", "folder name"), "a run name with a slash");
  write_file("rule.cfg", "model = {\n  text_heads = 5;\n};\n");
  struct dc_config_origins *o;
  expect(load("rule.cfg", NULL, 0, &c, &o) == DC_ERR_ARG && HAS("model.text_heads = 5 (", "rule.cfg:2)"),
         "a rule names the file:line of the values it joins");
  free(c);
  free(o);
}

int main(void) {
  if (!make_tmp_root()) {
    fprintf(stderr, "cannot make a temporary folder\n");
    return 1;
  }
  printf("(the error lines on stderr are expected: each case provokes one)\n");
  file_errors();
  include_errors();
  set_errors();
  rule_errors();
  remove_tree(tmp_root);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
