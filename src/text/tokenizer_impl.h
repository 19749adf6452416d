/* The tokenizer's inside, shared by tokenizer.c (storage, CLIP BPE, encoding) and
 * tokenizer_vocab.c (word vocabulary, string tables). Internal to src/data. */
#ifndef DIFFCLIP_TOKENIZER_IMPL_H
#define DIFFCLIP_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/text/tokenizer.h"

struct dc_tokenizer {
  enum dc_vocab_kind kind;
  int vocab;          /* V */
  char **tok;         /* (V) id -> vocabulary string, pointing into pool */
  char *pool;         /* every vocabulary string, NUL-terminated */
  size_t pool_size, pool_used;
  uint32_t *smap;     /* (smap_cap) string -> id + 1, open addressing; 0 = empty slot */
  size_t smap_cap;
  /* CLIP BPE only */
  int n_merges;
  int *merge_split;   /* (n_merges) byte length of the first part of merge r */
  uint64_t *pair_key; /* (pair_cap) (first id << 32 | second id) + 1; 0 = empty slot */
  int *pair_rank;     /* (pair_cap) merge rank of the pair */
  int *pair_merged;   /* (pair_cap) id of the merged symbol */
  size_t pair_cap;
  int byte_sym[256];     /* id of byte b's symbol inside a word */
  int byte_sym_end[256]; /* id of byte b's symbol ending a word ("</w>" form) */
};

/* A tokenizer with V empty entries and a pool of pool_size bytes. */
enum dc_status dc_tok_new(enum dc_vocab_kind kind, int vocab, size_t pool_size,
                          struct dc_tokenizer **out);
/* Stores s[0..len) as entry id. The pool must have room (an internal invariant). */
enum dc_status dc_tok_set(struct dc_tokenizer *t, int id, const char *s, size_t len);
/* Builds the string -> id index once every entry is set; a string present twice maps to
 * its last id (as a Python dict built from the list does). */
enum dc_status dc_tok_index(struct dc_tokenizer *t);
/* The id of s[0..len), or -1. */
int dc_tok_find(const struct dc_tokenizer *t, const char *s, size_t len);

/* CLIP's BPE from n_merges "first second" lines; origin names their source in messages. */
enum dc_status dc_tok_build_bpe(const char *const *merges, int n_merges, const char *origin,
                                struct dc_tokenizer **out);
/* A word vocabulary from distinct words in ascending byte order (ids 1..n_words). */
enum dc_status dc_tok_build_words(const char *const *words, int n_words, const char *origin,
                                  struct dc_tokenizer **out);

#endif
