/* Text handling shared by the two tokenizers (internal to src/data): UTF-8 decoding, the
 * character classes CLIP's pre-tokenisation pattern uses, CLIP's text normalisation, and
 * the two ways of cutting normalised text into pieces.
 *
 * Character classes are tables, not the full Unicode database; see tokenizer_text.c for
 * exactly which ranges are covered. Everything outside them counts as punctuation (neither
 * letter, number nor space) and lower-cases to itself. */
#ifndef DIFFCLIP_TOKENIZER_TEXT_H
#define DIFFCLIP_TOKENIZER_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/core/status.h"

/* Decodes one code point of s[*i..n) and advances *i; returns 0 on malformed UTF-8
 * (overlong forms, surrogates, values above U+10FFFF, truncated sequences). */
int dc_tok_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp);
/* Writes the UTF-8 form of cp (< 0x110000) into out; returns its length (1..4). */
int dc_tok_utf8_put(uint32_t cp, char out[4]);

int dc_tok_is_letter(uint32_t cp); /* \p{L} */
int dc_tok_is_number(uint32_t cp); /* \p{N} */
int dc_tok_is_space(uint32_t cp);  /* \s, plus U+001C..U+001F as Python's str.isspace */

/* CLIP's clean-up, in its order: quote uncurling (ftfy), surrounding space stripped,
 * every whitespace run made one space, lower case. Returns a malloc'ed NUL-terminated
 * string in *out. Malformed UTF-8 is DC_ERR_ARG naming the byte offset. */
enum dc_status dc_tok_normalize(const char *text, char **out);

/* CLIP's pattern, matched at s[*pos] (normalised text): skips spaces, then returns 1 with
 * the next piece in s[*start .. *start + *len), or 0 at the end. Alternatives in the
 * pattern's order: <|startoftext|>, <|endoftext|>, 's 't 're 've 'm 'll 'd, a run of
 * letters, one number, a run of anything else that is not space. */
int dc_tok_next_clip_piece(const char *s, size_t n, size_t *pos, size_t *start, size_t *len);

/* The word vocabulary's cut: a run of letters and numbers is a word; any other
 * non-space character is a piece of its own. Same contract as above. */
int dc_tok_next_word(const char *s, size_t n, size_t *pos, size_t *start, size_t *len);

#endif
