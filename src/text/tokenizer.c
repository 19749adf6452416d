/* Tokenizer storage, CLIP's byte-level BPE and CLIP's tokenize(), written from the
 * algorithm as CLIP's simple_tokenizer describes it:
 * - every byte of a piece of text becomes one symbol (bytes_to_unicode: printable Latin-1
 *   bytes stand for themselves, the other 68 for U+0100 upwards); the last symbol of a
 *   piece carries "</w>";
 * - repeatedly, the adjacent pair with the lowest merge rank is merged, every occurrence,
 *   left to right without overlap, until no adjacent pair has a rank or one symbol is left.
 * We merge symbol ids, not strings: a pair of ids has a rank exactly when the pair of their
 * strings has one, and the merged id is the vocabulary id of the concatenated string. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "text/tokenizer_impl.h"
#include "text/tokenizer_text.h"

static const char k_sot[] = "<|startoftext|>";
static const char k_eot[] = "<|endoftext|>";
static const char k_end_of_word[] = "</w>";

/* ---- storage and the string index ------------------------------------------------- */

static size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static size_t hash_pair(uint64_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

enum dc_status dc_tok_new(enum dc_vocab_kind kind, int vocab, size_t pool_size,
                          struct dc_tokenizer **out) {
  *out = NULL;
  struct dc_tokenizer *t = calloc(1, sizeof *t);
  DC_CHECK_ALLOC(t);
  t->kind = kind;
  t->vocab = vocab;
  t->tok = calloc((size_t)vocab, sizeof *t->tok);
  t->pool = malloc(pool_size);
  t->pool_size = pool_size;
  if (!t->tok || !t->pool) {
    dc_tokenizer_free(t);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory for a vocabulary of %d entries", vocab);
  }
  *out = t;
  return DC_OK;
}

enum dc_status dc_tok_set(struct dc_tokenizer *t, int id, const char *s, size_t len) {
  if (id < 0 || id >= t->vocab || t->pool_size - t->pool_used < len + 1)
    return DC_ERROR(DC_ERR_INTERNAL, "vocabulary entry %d of %d does not fit its pool", id,
                    t->vocab);
  char *p = t->pool + t->pool_used;
  memcpy(p, s, len);
  p[len] = '\0';
  t->pool_used += len + 1;
  t->tok[id] = p;
  return DC_OK;
}

enum dc_status dc_tok_index(struct dc_tokenizer *t) {
  t->smap_cap = pow2_at_least(2 * (size_t)t->vocab);
  t->smap = calloc(t->smap_cap, sizeof *t->smap);
  DC_CHECK_ALLOC(t->smap);
  for (int id = 0; id < t->vocab; id++) {
    if (!t->tok[id]) return DC_ERROR(DC_ERR_INTERNAL, "vocabulary entry %d was never set", id);
    size_t len = strlen(t->tok[id]);
    size_t h = (size_t)hash_bytes(t->tok[id], len) & (t->smap_cap - 1);
    while (t->smap[h] != 0 && strcmp(t->tok[t->smap[h] - 1], t->tok[id]) != 0)
      h = (h + 1) & (t->smap_cap - 1);
    t->smap[h] = (uint32_t)id + 1; /* a repeated string: the last id wins */
  }
  return DC_OK;
}

int dc_tok_find(const struct dc_tokenizer *t, const char *s, size_t len) {
  size_t h = (size_t)hash_bytes(s, len) & (t->smap_cap - 1);
  while (t->smap[h] != 0) {
    const char *e = t->tok[t->smap[h] - 1];
    if (strncmp(e, s, len) == 0 && e[len] == '\0') return (int)t->smap[h] - 1;
    h = (h + 1) & (t->smap_cap - 1);
  }
  return -1;
}

void dc_tokenizer_free(struct dc_tokenizer *t) {
  if (!t) return;
  free(t->tok);
  free(t->pool);
  free(t->smap);
  free(t->merge_split);
  free(t->pair_key);
  free(t->pair_rank);
  free(t->pair_merged);
  free(t);
}

enum dc_vocab_kind dc_tokenizer_kind(const struct dc_tokenizer *t) { return t->kind; }
int dc_tokenizer_vocab_size(const struct dc_tokenizer *t) { return t->vocab; }
int dc_tokenizer_sot(const struct dc_tokenizer *t) { return t->vocab - 2; }
int dc_tokenizer_eot(const struct dc_tokenizer *t) { return t->vocab - 1; }

const char *dc_tokenizer_token(const struct dc_tokenizer *t, int id) {
  return id >= 0 && id < t->vocab ? t->tok[id] : NULL;
}

/* ---- CLIP's BPE vocabulary ---------------------------------------------------------- */

/* bytes_to_unicode: the code point standing for each byte, and the bytes in vocabulary
 * order (the printable ranges first, then the remaining bytes ascending). */
static void byte_symbols(uint32_t cp_of[256], int order[256]) {
  int n = 0, extra = 0;
  for (int b = 0; b < 256; b++) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
      cp_of[b] = (uint32_t)b;
      order[n++] = b;
    }
  }
  for (int b = 0; b < 256; b++) {
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))) {
      cp_of[b] = 256u + (uint32_t)extra++;
      order[n++] = b;
    }
  }
}

static enum dc_status pair_insert(struct dc_tokenizer *t, int a, int b, int rank, int merged) {
  uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
  size_t h = hash_pair(key, t->pair_cap);
  while (t->pair_key[h] != 0 && t->pair_key[h] != key) h = (h + 1) & (t->pair_cap - 1);
  t->pair_key[h] = key; /* a repeated pair: the later rank wins, as in CLIP's dict */
  t->pair_rank[h] = rank;
  t->pair_merged[h] = merged;
  return DC_OK;
}

/* Rank of the pair (a, b) and its merged id, or INT_MAX when the pair is not a merge. */
static int pair_rank(const struct dc_tokenizer *t, int a, int b, int *merged) {
  uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
  size_t h = hash_pair(key, t->pair_cap);
  while (t->pair_key[h] != 0) {
    if (t->pair_key[h] == key) {
      *merged = t->pair_merged[h];
      return t->pair_rank[h];
    }
    h = (h + 1) & (t->pair_cap - 1);
  }
  return INT_MAX;
}

static enum dc_status bpe_fill(struct dc_tokenizer *t, const char *const *merges, int n_merges,
                               const char *origin) {
  uint32_t cp_of[256];
  int order[256];
  byte_symbols(cp_of, order);
  char sym[16];
  for (int i = 0; i < 256; i++) {
    int len = dc_tok_utf8_put(cp_of[order[i]], sym);
    DC_TRY(dc_tok_set(t, i, sym, (size_t)len));
    memcpy(sym + len, k_end_of_word, sizeof k_end_of_word - 1);
    DC_TRY(dc_tok_set(t, 256 + i, sym, (size_t)len + sizeof k_end_of_word - 1));
  }
  for (int r = 0; r < n_merges; r++) {
    const char *line = merges[r];
    const char *space = strchr(line, ' ');
    size_t len = strlen(line);
    if (!space || space == line || space == line + len - 1 || strchr(space + 1, ' '))
      return DC_ERROR(DC_ERR_IO, "%s: merge %d (\"%.80s\") is not two symbols separated by one space",
                      origin, r + 1, line);
    /* the entry is the concatenation: the line without its space */
    size_t split = (size_t)(space - line);
    t->merge_split[r] = (int)split;
    DC_TRY(dc_tok_set(t, 512 + r, line, len - 1));
    memcpy(t->tok[512 + r] + split, space + 1, len - split - 1);
  }
  DC_TRY(dc_tok_set(t, t->vocab - 2, k_sot, sizeof k_sot - 1));
  DC_TRY(dc_tok_set(t, t->vocab - 1, k_eot, sizeof k_eot - 1));
  DC_TRY(dc_tok_index(t));

  for (int b = 0; b < 256; b++) {
    int len = dc_tok_utf8_put(cp_of[b], sym);
    t->byte_sym[b] = dc_tok_find(t, sym, (size_t)len);
    memcpy(sym + len, k_end_of_word, sizeof k_end_of_word - 1);
    t->byte_sym_end[b] = dc_tok_find(t, sym, (size_t)len + sizeof k_end_of_word - 1);
  }
  t->pair_cap = pow2_at_least(2 * (size_t)n_merges);
  t->pair_key = calloc(t->pair_cap, sizeof *t->pair_key);
  t->pair_rank = malloc(t->pair_cap * sizeof *t->pair_rank);
  t->pair_merged = malloc(t->pair_cap * sizeof *t->pair_merged);
  if (!t->pair_key || !t->pair_rank || !t->pair_merged)
    return DC_ERROR(DC_ERR_NOMEM, "out of memory for %d BPE merges", n_merges);
  for (int r = 0; r < n_merges; r++) {
    int split = t->merge_split[r];
    int a = dc_tok_find(t, merges[r], (size_t)split);
    int b = dc_tok_find(t, merges[r] + split + 1, strlen(merges[r] + split + 1));
    /* A merge of a symbol outside the vocabulary can never apply (CLIP's too). */
    if (a < 0 || b < 0) continue;
    int merged = dc_tok_find(t, t->tok[512 + r], strlen(t->tok[512 + r]));
    DC_TRY(pair_insert(t, a, b, r, merged));
  }
  return DC_OK;
}

enum dc_status dc_tok_build_bpe(const char *const *merges, int n_merges, const char *origin,
                                struct dc_tokenizer **out) {
  *out = NULL;
  if (n_merges < 0 || n_merges > INT_MAX / 2 - 1024)
    return DC_ERROR(DC_ERR_ARG, "%s: %d merges (expected 0 .. a few hundred thousand)", origin,
                    n_merges);
  size_t pool = 256 * 3 + 256 * 8 + sizeof k_sot + sizeof k_eot;
  for (int r = 0; r < n_merges; r++) pool += strlen(merges[r]);
  struct dc_tokenizer *t;
  DC_TRY(dc_tok_new(DC_VOCAB_CLIP_BPE, 512 + n_merges + 2, pool, &t));
  t->n_merges = n_merges;
  t->merge_split = malloc(((size_t)n_merges + 1) * sizeof *t->merge_split);
  enum dc_status st = t->merge_split ? bpe_fill(t, merges, n_merges, origin)
                                     : DC_ERROR(DC_ERR_NOMEM, "out of memory for %d merges", n_merges);
  if (st != DC_OK) {
    dc_tokenizer_free(t);
    return st;
  }
  *out = t;
  return DC_OK;
}

enum dc_status dc_tokenizer_load_bpe(const char *merges_path, struct dc_tokenizer **out) {
  *out = NULL;
  gzFile f = gzopen(merges_path, "rb");
  if (!f)
    return DC_ERROR(DC_ERR_IO, "cannot open the BPE merges file '%s' (expected CLIP's "
                    "bpe_simple_vocab_16e6.txt.gz)", merges_path);
  char **lines = calloc(DC_CLIP_BPE_MERGES, sizeof *lines);
  if (!lines) {
    gzclose(f);
    return DC_ERROR(DC_ERR_NOMEM, "out of memory reading '%s'", merges_path);
  }
  enum dc_status st = DC_OK;
  char buf[1024];
  int got = 0;
  for (int line_no = 1; line_no <= DC_CLIP_BPE_MERGES + 1; line_no++) {
    if (!gzgets(f, buf, (int)sizeof buf)) {
      st = DC_ERROR(DC_ERR_IO, "'%s' ends after line %d: expected a header line and %d merge "
                    "lines (CLIP's merges file)", merges_path, line_no - 1, DC_CLIP_BPE_MERGES);
      break;
    }
    size_t len = strlen(buf);
    if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
      st = DC_ERROR(DC_ERR_IO, "'%s' line %d is longer than %zu bytes (expected a merge "
                    "\"first second\")", merges_path, line_no, sizeof buf - 2);
      break;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
    if (line_no == 1) continue; /* the "#version" header */
    lines[got] = malloc(len + 1);
    if (!lines[got]) {
      st = DC_ERROR(DC_ERR_NOMEM, "out of memory reading '%s'", merges_path);
      break;
    }
    memcpy(lines[got++], buf, len + 1);
  }
  gzclose(f);
  if (st == DC_OK) st = dc_tok_build_bpe((const char *const *)lines, got, merges_path, out);
  for (int r = 0; r < got; r++) free(lines[r]);
  free(lines);
  return st;
}

/* ---- encoding ----------------------------------------------------------------------- */

struct idbuf {
  int *v;
  size_t n, cap;
};

static enum dc_status push(struct idbuf *b, int id) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 64;
    int *v = realloc(b->v, cap * sizeof *v);
    DC_CHECK_ALLOC(v);
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = id;
  return DC_OK;
}

/* BPE of one piece's bytes p[0..n) (n >= 1), sym a workspace of n ids. */
static enum dc_status bpe_piece(const struct dc_tokenizer *t, const unsigned char *p, size_t n,
                                int *sym, struct idbuf *out) {
  for (size_t i = 0; i < n; i++) sym[i] = i + 1 < n ? t->byte_sym[p[i]] : t->byte_sym_end[p[i]];
  size_t m = n;
  while (m > 1) {
    int best = INT_MAX, first = -1, second = -1, merged = -1;
    for (size_t i = 0; i + 1 < m; i++) {
      int mid;
      int r = pair_rank(t, sym[i], sym[i + 1], &mid);
      if (r < best) best = r, first = sym[i], second = sym[i + 1], merged = mid;
    }
    if (best == INT_MAX) break;
    size_t w = 0;
    for (size_t i = 0; i < m;) {
      if (i + 1 < m && sym[i] == first && sym[i + 1] == second) {
        sym[w++] = merged;
        i += 2;
      } else {
        sym[w++] = sym[i++];
      }
    }
    m = w;
  }
  for (size_t i = 0; i < m; i++) DC_TRY(push(out, sym[i]));
  return DC_OK;
}

static enum dc_status tokenize_normalized(const struct dc_tokenizer *t, const char *s,
                                          const char *text, int *sym, struct idbuf *out) {
  size_t n = strlen(s), pos = 0, start, len;
  if (t->kind == DC_VOCAB_CLIP_BPE) {
    while (dc_tok_next_clip_piece(s, n, &pos, &start, &len)) {
      if (len == sizeof k_sot - 1 && memcmp(s + start, k_sot, len) == 0) {
        DC_TRY(push(out, dc_tokenizer_sot(t)));
      } else if (len == sizeof k_eot - 1 && memcmp(s + start, k_eot, len) == 0) {
        DC_TRY(push(out, dc_tokenizer_eot(t)));
      } else {
        DC_TRY(bpe_piece(t, (const unsigned char *)s + start, len, sym, out));
      }
    }
    return DC_OK;
  }
  while (dc_tok_next_word(s, n, &pos, &start, &len)) {
    int id = dc_tok_find(t, s + start, len);
    if (id < 1 || id >= t->vocab - 2)
      return DC_ERROR(DC_ERR_ARG, "text \"%.60s\": \"%.*s\" is not in the word vocabulary made "
                      "from the prompts (%d words)", text, (int)len, s + start, t->vocab - 3);
    DC_TRY(push(out, id));
  }
  return DC_OK;
}

static enum dc_status tokenize(const struct dc_tokenizer *t, const char *text, struct idbuf *out) {
  if (!text) return DC_ERROR(DC_ERR_ARG, "tokenize: text is NULL");
  char *s;
  DC_TRY(dc_tok_normalize(text, &s));
  int *sym = malloc((strlen(s) + 1) * sizeof *sym);
  enum dc_status st = sym ? tokenize_normalized(t, s, text, sym, out)
                          : DC_ERROR(DC_ERR_NOMEM, "out of memory tokenizing \"%.60s\"", text);
  free(sym);
  free(s);
  return st;
}

enum dc_status dc_tokenizer_tokenize(const struct dc_tokenizer *t, const char *text, int **ids,
                                     int *n) {
  struct idbuf b = {0};
  enum dc_status st = tokenize(t, text, &b);
  if (st == DC_OK && b.n > (size_t)INT_MAX) st = DC_ERROR(DC_ERR_ARG, "text too long to tokenize");
  if (st != DC_OK) {
    free(b.v);
    *ids = NULL;
    *n = 0;
    return st;
  }
  *ids = b.v ? b.v : malloc(sizeof(int)); /* an empty text still returns a pointer to free */
  DC_CHECK_ALLOC(*ids);
  *n = (int)b.n;
  return DC_OK;
}

enum dc_status dc_tokenizer_encode(const struct dc_tokenizer *t, const char *text, int ctx,
                                   int truncate, int *ids, int *eot_pos) {
  if (ctx < 2) return DC_ERROR(DC_ERR_ARG, "context length %d (expected at least 2)", ctx);
  struct idbuf b = {0};
  enum dc_status st = tokenize(t, text, &b);
  if (st == DC_OK && b.n + 2 > (size_t)ctx && !truncate)
    st = DC_ERROR(DC_ERR_ARG, "text \"%.60s\" is %zu tokens with start and end, more than the "
                  "context length %d (truncation is off)", text, b.n + 2, ctx);
  if (st != DC_OK) {
    free(b.v);
    return st;
  }
  size_t keep = b.n + 2 > (size_t)ctx ? (size_t)ctx - 2 : b.n;
  ids[0] = dc_tokenizer_sot(t);
  if (keep) memcpy(ids + 1, b.v, keep * sizeof *ids);
  ids[keep + 1] = dc_tokenizer_eot(t);
  for (size_t i = keep + 2; i < (size_t)ctx; i++) ids[i] = 0;
  free(b.v);
  /* CLIP pools at argmax(ids): the first end token, one the text itself may contain. */
  if (eot_pos) {
    int p = 0;
    while (ids[p] != dc_tokenizer_eot(t)) p++;
    *eot_pos = p;
  }
  return DC_OK;
}

enum dc_status dc_tokenizer_encode_batch(const struct dc_tokenizer *t, const char *const *texts,
                                         int n, int ctx, int truncate, int *ids, int *eot_pos) {
  for (int i = 0; i < n; i++)
    DC_TRY(dc_tokenizer_encode(t, texts[i], ctx, truncate, ids + (size_t)i * ctx,
                               eot_pos ? eot_pos + i : NULL));
  return DC_OK;
}
