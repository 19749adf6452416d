/* Tokenizer: every line of tests/golden/clip_tokens.tsv (ids CLIP's own tokenizer gives)
 * with the merges file shipped in data_manifests/clip_bpe; truncation at the context
 * length; the BPE vocabulary's string table round trip; the word vocabulary's ids (worked
 * out by hand), its determinism and its table round trip; text clean-up; errors.
 * DIFFCLIP_SOURCE_DIR (set by tests/CMakeLists.txt) locates the files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/text/tokenizer.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static int ids_equal(const int *a, const int *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static void print_ids(const char *label, const int *ids, int n) {
  fprintf(stderr, "  %s:", label);
  for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, "\n");
}

/* Each "text<TAB>ids" line; ids include start and end. Returns the number of lines. */
static int check_golden(const struct dc_tokenizer *t, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    failures++;
    return 0;
  }
  char line[4096];
  int lines = 0, bad = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = '\0';
    char *tab = strrchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    int want[DC_CLIP_CONTEXT], n = 0;
    for (char *p = tab + 1, *end; n < DC_CLIP_CONTEXT; p = end) {
      long v = strtol(p, &end, 10);
      if (end == p) break;
      want[n++] = (int)v;
    }
    for (int i = n; i < DC_CLIP_CONTEXT; i++) want[i] = 0;
    int got[DC_CLIP_CONTEXT], eot = -1;
    enum dc_status st = dc_tokenizer_encode(t, line, DC_CLIP_CONTEXT, 0, got, &eot);
    lines++;
    if (st != DC_OK || !ids_equal(got, want, DC_CLIP_CONTEXT) || eot != n - 1) {
      fprintf(stderr, "  text \"%s\" (status %d, eot %d)\n", line, (int)st, eot);
      print_ids("want", want, n);
      print_ids("got ", got, n + 1);
      bad++;
    }
  }
  fclose(f);
  return bad ? -lines : lines;
}

static void test_bpe(const char *src) {
  char merges[2048], golden[2048], msg[160];
  snprintf(merges, sizeof merges, "%s/data_manifests/clip_bpe/bpe_simple_vocab_16e6.txt.gz", src);
  snprintf(golden, sizeof golden, "%s/tests/golden/clip_tokens.tsv", src);
  struct dc_tokenizer *t = NULL;
  printf("CLIP BPE\n");
  expect(dc_tokenizer_load_bpe(merges, &t) == DC_OK, "load the shipped merges file");
  if (!t) return;
  expect(dc_tokenizer_kind(t) == DC_VOCAB_CLIP_BPE && dc_tokenizer_vocab_size(t) == DC_CLIP_VOCAB &&
             dc_tokenizer_sot(t) == 49406 && dc_tokenizer_eot(t) == 49407,
         "V = 49408, start 49406, end 49407");
  expect(strcmp(dc_tokenizer_token(t, 0), "!") == 0 && strcmp(dc_tokenizer_token(t, 256), "!</w>") == 0 &&
             strcmp(dc_tokenizer_token(t, 255), "\xc5\x83") == 0 && /* byte 0xAD -> U+0143 */
             strcmp(dc_tokenizer_token(t, 512), "in") == 0 &&
             strcmp(dc_tokenizer_token(t, 49405), "jekyll</w>") == 0 &&
             strcmp(dc_tokenizer_token(t, 49406), "<|startoftext|>") == 0 &&
             dc_tokenizer_token(t, 49408) == NULL,
         "vocabulary layout: bytes, bytes</w>, merges, specials");

  int lines = check_golden(t, golden);
  snprintf(msg, sizeof msg, "every line of tests/golden/clip_tokens.tsv (%d lines)",
           lines < 0 ? -lines : lines);
  expect(lines > 20, msg);

  printf("truncation at the context length\n");
  char text[1200] = "";
  for (int i = 0; i < 100; i++) strcat(text, "grass ");
  int ids[DC_CLIP_CONTEXT], eot = -1, ok = 1;
  expect(dc_tokenizer_encode(t, text, DC_CLIP_CONTEXT, 0, ids, &eot) == DC_ERR_ARG,
         "102 tokens without truncation: DC_ERR_ARG");
  expect(dc_tokenizer_encode(t, text, DC_CLIP_CONTEXT, 1, ids, &eot) == DC_OK, "with truncation");
  for (int i = 1; i < 76; i++) ok &= ids[i] == 5922;
  expect(ok && ids[0] == 49406 && ids[76] == 49407 && eot == 76,
         "start, 75 x grass (5922), end in the last slot");
  text[6 * 75] = '\0'; /* exactly ctx ids with start and end */
  expect(dc_tokenizer_encode(t, text, DC_CLIP_CONTEXT, 0, ids, &eot) == DC_OK && ids[75] == 5922 &&
             ids[76] == 49407 && eot == 76,
         "75 words fit exactly without truncation");
  expect(dc_tokenizer_encode(t, "", 4, 0, ids, &eot) == DC_OK && ids[0] == 49406 &&
             ids[1] == 49407 && ids[2] == 0 && ids[3] == 0 && eot == 1,
         "empty text: start, end, zeros");
  expect(dc_tokenizer_encode(t, "a", 1, 1, ids, &eot) == DC_ERR_ARG, "context length 1 refused");

  printf("clean-up and special tokens\n");
  int a[16], b[16];
  expect(dc_tokenizer_encode(t, "  Tennis\t\n COURT.  ", 16, 0, a, NULL) == DC_OK &&
             dc_tokenizer_encode(t, "tennis court.", 16, 0, b, NULL) == DC_OK && ids_equal(a, b, 16),
         "case and whitespace are normalised");
  expect(dc_tokenizer_encode(t, "don\xe2\x80\x99t", 16, 0, a, NULL) == DC_OK &&
             dc_tokenizer_encode(t, "don't", 16, 0, b, NULL) == DC_OK && ids_equal(a, b, 16),
         "a curly apostrophe is uncurled (ftfy)");
  expect(dc_tokenizer_encode(t, "CAF\xc3\x89 \xc3\x85LAND", 16, 0, a, NULL) == DC_OK &&
             dc_tokenizer_encode(t, "caf\xc3\xa9 \xc3\xa5land", 16, 0, b, NULL) == DC_OK &&
             ids_equal(a, b, 16),
         "Latin-1 capitals lower-case");
  expect(dc_tokenizer_encode(t, "a <|endoftext|> b", 8, 0, a, &eot) == DC_OK && a[1] == 320 &&
             a[2] == 49407 && eot == 2,
         "a literal <|endoftext|> is the end token, and pooling takes the first");
  expect(dc_tokenizer_encode(t, "bad \xc3(", 8, 0, a, NULL) == DC_ERR_ARG, "malformed UTF-8 refused");
  int *raw = NULL, n_raw = 0;
  expect(dc_tokenizer_tokenize(t, "a photo of a cat.", &raw, &n_raw) == DC_OK && n_raw == 6 &&
             raw[0] == 320 && raw[5] == 269,
         "tokenize: ids without start and end");
  free(raw);

  printf("BPE string table\n");
  char **table = NULL;
  int n_table = 0;
  struct dc_tokenizer *u = NULL;
  expect(dc_tokenizer_to_table(t, &table, &n_table) == DC_OK && n_table == DC_CLIP_BPE_MERGES + 1 &&
             strcmp(table[0], "diffclip-vocab clip-bpe 1") == 0 && strcmp(table[1], "i n") == 0 &&
             strcmp(table[n_table - 1], "jeky ll</w>") == 0,
         "to_table: header and the merges as in the file");
  expect(table && dc_tokenizer_from_table((const char *const *)table, n_table, &u) == DC_OK,
         "from_table");
  if (u) {
    int same = dc_tokenizer_vocab_size(u) == DC_CLIP_VOCAB;
    for (int id = 0; id < DC_CLIP_VOCAB && same; id++)
      same = strcmp(dc_tokenizer_token(t, id), dc_tokenizer_token(u, id)) == 0;
    expect(same, "round trip: every vocabulary entry equal");
    lines = check_golden(u, golden);
    expect(lines > 20, "round trip: the CLIP vectors again");
  }
  dc_tokenizer_free(u);
  dc_tokenizer_table_free(table, n_table);
  dc_tokenizer_free(t);
  expect(dc_tokenizer_load_bpe("/nonexistent/bpe.txt.gz", &t) == DC_ERR_IO && t == NULL,
         "a missing merges file is DC_ERR_IO");
}

static void test_words(void) {
  printf("word vocabulary\n");
  /* Distinct pieces, cleaned: "a", "patch", "of", "tree", ".", "soil"; sorted by bytes:
   * "." (0x2E) < "a" < "of" < "patch" < "soil" < "tree" -> ids 1..6; start 7, end 8. */
  const char *p[] = {"a patch of a Tree.", "a patch of a Soil."};
  struct dc_tokenizer *t = NULL;
  expect(dc_tokenizer_from_prompts(p, 2, &t) == DC_OK, "from two prompts");
  if (!t) return;
  int ids[10], eot = -1;
  int want[10] = {7, 2, 4, 3, 2, 6, 1, 8, 0, 0};
  expect(dc_tokenizer_kind(t) == DC_VOCAB_WORDS && dc_tokenizer_vocab_size(t) == 9 &&
             dc_tokenizer_sot(t) == 7 && dc_tokenizer_eot(t) == 8,
         "V = 1 + 6 words + 2, start V-2, end V-1");
  expect(dc_tokenizer_encode(t, "a patch of a Tree.", 10, 0, ids, &eot) == DC_OK &&
             ids_equal(ids, want, 10) && eot == 7,
         "ids worked out by hand");
  expect(dc_tokenizer_encode(t, "a patch of a road.", 10, 0, ids, &eot) == DC_ERR_ARG,
         "a word outside the vocabulary is DC_ERR_ARG");
  expect(dc_tokenizer_encode(t, "tree tree tree tree tree tree tree tree tree", 10, 1, ids, &eot) ==
                 DC_OK && ids[8] == 6 && ids[9] == 8 && eot == 9,
         "truncation keeps end last");
  dc_tokenizer_free(t);

  const char *houston[] = {
      "a multimodal fusion patch of a Healthy grass.", "a multimodal fusion patch of a Stressed grass.",
      "a multimodal fusion patch of a Tree.",          "a multimodal fusion patch of a Parking lot 2.",
      "Lawn grass, NDVI 0.52, x-ray's (h=18 cm)!",     "a multimodal fusion patch of a Running track."};
  const char *shuffled[] = {houston[4], houston[2], houston[5], houston[0], houston[3], houston[1],
                            houston[2]};
  struct dc_tokenizer *x = NULL, *y = NULL, *z = NULL;
  char **tx = NULL, **ty = NULL;
  int nx = 0, ny = 0;
  expect(dc_tokenizer_from_prompts(houston, 6, &x) == DC_OK &&
             dc_tokenizer_from_prompts(shuffled, 7, &y) == DC_OK,
         "the same prompts in another order, one repeated");
  if (!x || !y) return;
  expect(dc_tokenizer_to_table(x, &tx, &nx) == DC_OK && dc_tokenizer_to_table(y, &ty, &ny) == DC_OK &&
             nx == ny && nx == dc_tokenizer_vocab_size(x) - 2,
         "tables of n words + header");
  int same = nx == ny;
  for (int i = 0; i < nx && same; i++) same = strcmp(tx[i], ty[i]) == 0;
  expect(same && strcmp(tx[0], "diffclip-vocab words 1") == 0, "identical vocabularies (determinism)");
  int sorted = 1, has_52 = 0, has_x = 0;
  for (int i = 2; i < nx; i++) sorted &= strcmp(tx[i - 1], tx[i]) < 0;
  for (int i = 1; i < nx; i++) {
    has_52 |= strcmp(tx[i], "52") == 0;
    has_x |= strcmp(tx[i], "x") == 0;
  }
  expect(sorted && has_52 && has_x && strcmp(tx[1], "!") == 0, "sorted pieces: \"!\" first, \"52\", \"x\"");
  expect(dc_tokenizer_from_table((const char *const *)tx, nx, &z) == DC_OK, "from_table");
  if (z) {
    int a[32], b[32], all = dc_tokenizer_vocab_size(z) == dc_tokenizer_vocab_size(x);
    for (int k = 0; k < 6 && all; k++)
      all = dc_tokenizer_encode(x, houston[k], 32, 0, a, NULL) == DC_OK &&
            dc_tokenizer_encode(z, houston[k], 32, 0, b, NULL) == DC_OK && ids_equal(a, b, 32);
    expect(all, "round trip: same ids for every prompt");
  }
  dc_tokenizer_free(z);
  z = NULL;

  printf("malformed tables\n");
  const char *bad_head[] = {"diffclip-vocab sentencepiece 1", "a"};
  const char *unsorted[] = {"diffclip-vocab words 1", "b", "a"};
  const char *duplicate[] = {"diffclip-vocab words 1", "a", "a"};
  const char *upper[] = {"diffclip-vocab words 1", "Tree"};
  const char *two[] = {"diffclip-vocab words 1", "lot 2"};
  const char *bad_merge[] = {"diffclip-vocab clip-bpe 1", "i n", "abc"};
  expect(dc_tokenizer_from_table(bad_head, 2, &z) == DC_ERR_ARG, "unknown header");
  expect(dc_tokenizer_from_table(unsorted, 3, &z) == DC_ERR_ARG, "unsorted words");
  expect(dc_tokenizer_from_table(duplicate, 3, &z) == DC_ERR_ARG, "repeated word");
  expect(dc_tokenizer_from_table(upper, 2, &z) == DC_ERR_ARG, "upper-case word");
  expect(dc_tokenizer_from_table(two, 2, &z) == DC_ERR_ARG, "two words in one entry");
  expect(dc_tokenizer_from_table(bad_merge, 3, &z) != DC_OK && z == NULL, "merge without a space");
  const char *blank[] = {"   ", ""};
  expect(dc_tokenizer_from_prompts(blank, 2, &z) == DC_ERR_ARG && z == NULL, "blank prompts refused");
  dc_tokenizer_table_free(tx, nx);
  dc_tokenizer_table_free(ty, ny);
  dc_tokenizer_free(x);
  dc_tokenizer_free(y);
}

int main(void) {
  const char *src = getenv("DIFFCLIP_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "DIFFCLIP_SOURCE_DIR is not set (tests/CMakeLists.txt sets it under ctest)\n");
    return 1;
  }
  test_bpe(src);
  test_words();
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
