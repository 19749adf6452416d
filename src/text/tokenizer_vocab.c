/* The word vocabulary made from a run's prompts, and the string table that carries either
 * vocabulary in a checkpoint.
 *
 * Words: each prompt is cleaned as for CLIP (lower case, whitespace collapsed) and cut
 * into runs of letters and digits and single other characters ("x-ray's" -> x - ray ' s);
 * the distinct pieces sorted by bytes (strcmp) get ids 1..n, so the same prompts give the
 * same ids in any order and on any machine. 0 is padding, n+1 start, n+2 end. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"
#include "text/tokenizer_text.h"

static const char k_head_bpe[] = "diffclip-vocab clip-bpe 1";
static const char k_head_words[] = "diffclip-vocab words 1";

enum dc_status dc_tok_build_words(const char *const *words, int n_words, const char *origin,
                                  struct dc_tokenizer **out) {
  *out = NULL;
  if (n_words < 1 || n_words > (1 << 30))
    return DC_ERROR(DC_ERR_ARG, "%s: %d words (expected at least one)", origin, n_words);
  size_t pool = 1 + sizeof "<|startoftext|>" + sizeof "<|endoftext|>";
  for (int i = 0; i < n_words; i++) pool += strlen(words[i]) + 1;
  struct dc_tokenizer *t;
  DC_TRY(dc_tok_new(DC_VOCAB_WORDS, n_words + 3, pool, &t));
  enum dc_status st = dc_tok_set(t, 0, "", 0);
  for (int i = 0; i < n_words && st == DC_OK; i++)
    st = dc_tok_set(t, i + 1, words[i], strlen(words[i]));
  if (st == DC_OK) st = dc_tok_set(t, n_words + 1, "<|startoftext|>", 15);
  if (st == DC_OK) st = dc_tok_set(t, n_words + 2, "<|endoftext|>", 13);
  if (st == DC_OK) st = dc_tok_index(t);
  if (st != DC_OK) {
    dc_tokenizer_free(t);
    return st;
  }
  *out = t;
  return DC_OK;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct strlist {
  char **v;
  size_t n, cap;
};

static void strlist_free(struct strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

static enum dc_status strlist_add(struct strlist *l, const char *s, size_t len) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, cap * sizeof *v);
    DC_CHECK_ALLOC(v);
    l->v = v;
    l->cap = cap;
  }
  char *c = malloc(len + 1);
  DC_CHECK_ALLOC(c);
  memcpy(c, s, len);
  c[len] = '\0';
  l->v[l->n++] = c;
  return DC_OK;
}

static enum dc_status collect_words(const char *const *texts, int n_texts, struct strlist *l) {
  for (int k = 0; k < n_texts; k++) {
    if (!texts[k]) return DC_ERROR(DC_ERR_ARG, "prompt %d is NULL (expected a text)", k);
    char *s;
    DC_TRY(dc_tok_normalize(texts[k], &s));
    size_t n = strlen(s), pos = 0, start, len;
    enum dc_status st = DC_OK;
    while (st == DC_OK && dc_tok_next_word(s, n, &pos, &start, &len))
      st = strlist_add(l, s + start, len);
    free(s);
    DC_TRY(st);
  }
  return DC_OK;
}

enum dc_status dc_tokenizer_from_prompts(const char *const *texts, int n_texts,
                                         struct dc_tokenizer **out) {
  *out = NULL;
  if (n_texts < 1 || !texts)
    return DC_ERROR(DC_ERR_ARG, "a word vocabulary needs at least one prompt (got %d)", n_texts);
  struct strlist l = {0};
  enum dc_status st = collect_words(texts, n_texts, &l);
  if (st == DC_OK && l.n == 0)
    st = DC_ERROR(DC_ERR_ARG, "the %d prompts contain no words (expected non-blank prompts)",
                  n_texts);
  if (st == DC_OK) {
    qsort(l.v, l.n, sizeof *l.v, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++) {
      if (w > 0 && strcmp(l.v[w - 1], l.v[i]) == 0) {
        free(l.v[i]);
      } else {
        l.v[w++] = l.v[i];
      }
    }
    l.n = w;
    st = dc_tok_build_words((const char *const *)l.v, (int)l.n, "prompt vocabulary", out);
  }
  strlist_free(&l);
  return st;
}

/* ---- the string table ------------------------------------------------------------- */

void dc_tokenizer_table_free(char **table, int n) {
  if (!table) return;
  for (int i = 0; i < n; i++) free(table[i]);
  free(table);
}

static char *dup_str(const char *s) {
  size_t len = strlen(s);
  char *c = malloc(len + 1);
  if (c) memcpy(c, s, len + 1);
  return c;
}

enum dc_status dc_tokenizer_to_table(const struct dc_tokenizer *t, char ***table, int *n) {
  *table = NULL;
  *n = 0;
  int entries = t->kind == DC_VOCAB_CLIP_BPE ? t->n_merges : t->vocab - 3;
  char **v = calloc((size_t)entries + 1, sizeof *v);
  DC_CHECK_ALLOC(v);
  v[0] = dup_str(t->kind == DC_VOCAB_CLIP_BPE ? k_head_bpe : k_head_words);
  int ok = v[0] != NULL;
  for (int i = 0; i < entries && ok; i++) {
    if (t->kind == DC_VOCAB_WORDS) {
      v[i + 1] = dup_str(t->tok[i + 1]);
    } else { /* "first second": the merged entry with its space put back */
      const char *m = t->tok[512 + i];
      size_t len = strlen(m), split = (size_t)t->merge_split[i];
      v[i + 1] = malloc(len + 2);
      if (v[i + 1]) {
        memcpy(v[i + 1], m, split);
        v[i + 1][split] = ' ';
        memcpy(v[i + 1] + split + 1, m + split, len - split + 1);
      }
    }
    ok = v[i + 1] != NULL;
  }
  if (!ok) {
    dc_tokenizer_table_free(v, entries + 1);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory writing a vocabulary table of %d entries",
                    entries + 1);
  }
  *table = v;
  *n = entries + 1;
  return DC_OK;
}

/* A word entry must be what the word cut makes of itself: cleaned and one piece. */
static enum dc_status check_word(const char *w, int entry) {
  char *s;
  enum dc_status st = dc_tok_normalize(w, &s);
  if (st != DC_OK) return DC_ERROR(DC_ERR_ARG, "vocabulary table entry %d is not valid UTF-8", entry);
  size_t n = strlen(s), pos = 0, start, len;
  int one = strcmp(s, w) == 0 && dc_tok_next_word(s, n, &pos, &start, &len) && start == 0 &&
            len == n;
  free(s);
  if (!one)
    return DC_ERROR(DC_ERR_ARG, "vocabulary table entry %d (\"%.60s\") is not one lower-case "
                    "word or punctuation mark", entry, w);
  return DC_OK;
}

enum dc_status dc_tokenizer_from_table(const char *const *table, int n, struct dc_tokenizer **out) {
  *out = NULL;
  if (!table || n < 1 || !table[0])
    return DC_ERROR(DC_ERR_ARG, "vocabulary table of %d entries (expected a header entry "
                    "\"%s\" or \"%s\" and the vocabulary)", n, k_head_bpe, k_head_words);
  for (int i = 1; i < n; i++)
    if (!table[i]) return DC_ERROR(DC_ERR_ARG, "vocabulary table entry %d is NULL", i);
  if (strcmp(table[0], k_head_bpe) == 0)
    return dc_tok_build_bpe(table + 1, n - 1, "vocabulary table", out);
  if (strcmp(table[0], k_head_words) != 0)
    return DC_ERROR(DC_ERR_ARG, "vocabulary table header \"%.60s\" (expected \"%s\" or \"%s\")",
                    table[0], k_head_bpe, k_head_words);
  for (int i = 1; i < n; i++) {
    DC_TRY(check_word(table[i], i));
    if (i > 1 && strcmp(table[i - 1], table[i]) >= 0)
      return DC_ERROR(DC_ERR_ARG, "vocabulary table entries %d and %d (\"%.40s\", \"%.40s\") "
                      "are not in strictly ascending order", i - 1, i, table[i - 1], table[i]);
  }
  return dc_tok_build_words(table + 1, n - 1, "vocabulary table", out);
}
