/* UTF-8, character classes, CLIP's text normalisation and its pre-tokenisation pattern,
 * written by hand so the tokenizer needs no regular-expression or Unicode library.
 *
 * CLIP cleans text with ftfy.fix_text, html.unescape (twice), strip, a \s+ -> ' ' collapse
 * and str.lower(), then cuts it with (regex module, IGNORECASE)
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * What we do, and where it differs:
 * - ftfy: only its quote uncurling (U+02BC, U+2018..U+201B -> ', U+201C..U+201F -> ").
 *   Its other repairs (mojibake, NFC composition, ligatures, full-width forms) and HTML
 *   entity unescaping are the identity here: exact for ASCII text without '&' entities and
 *   for already-composed Latin text, which is what class names and descriptions are.
 * - Lower case: ASCII, Latin-1, Latin Extended-A, Latin Extended Additional, Greek and
 *   Cyrillic capitals (as str.lower, including U+0130 -> "i" U+0307, but capital sigma
 *   always becomes U+03C3: Python's word-final U+03C2 rule is not done); other code points
 *   are kept as they are.
 * - Letters (\p{L}): ASCII, the Latin-1 letters, U+00F8..U+02C1 (Latin Extended-A/B, IPA,
 *   modifier letters), Greek and Coptic, Cyrillic, Armenian, Hebrew and Arabic letters,
 *   Latin Extended Additional, kana, CJK unified ideographs, Hangul syllables. Numbers
 *   (\p{N}): ASCII and Arabic-Indic digits, super/subscript digits, Latin-1 fractions,
 *   number forms, circled numbers, full-width digits. Letters or numbers of other scripts
 *   are treated as punctuation: their pieces may then differ from CLIP's.
 * - Space: Python's str.isspace set (which includes U+001C..U+001F). */
#include "text/tokenizer_text.h"

#include <stdlib.h>
#include <string.h>

int dc_tok_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  size_t k = *i;
  if (k >= n) return 0;
  uint32_t c = u[k];
  int extra;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    *i = k + 1;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    extra = 1, min = 0x80, c &= 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2, min = 0x800, c &= 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    extra = 3, min = 0x10000, c &= 0x07;
  } else {
    return 0;
  }
  if (n - k <= (size_t)extra) return 0; /* truncated sequence */
  for (int j = 1; j <= extra; j++) {
    uint32_t b = u[k + (size_t)j];
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  *i = k + 1 + (size_t)extra;
  return 1;
}

int dc_tok_utf8_put(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

struct cp_range {
  uint32_t lo, hi;
};

static int in_ranges(uint32_t cp, const struct cp_range *r, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (cp >= r[k].lo && cp <= r[k].hi) return 1;
  return 0;
}

static const struct cp_range k_letters[] = {
    {0x41, 0x5A},     {0x61, 0x7A},     {0xAA, 0xAA},     {0xB5, 0xB5},     {0xBA, 0xBA},
    {0xC0, 0xD6},     {0xD8, 0xF6},     {0xF8, 0x2C1},    {0x2C6, 0x2D1},   {0x2E0, 0x2E4},
    {0x2EC, 0x2EC},   {0x2EE, 0x2EE},   {0x370, 0x374},   {0x376, 0x377},   {0x37A, 0x37D},
    {0x37F, 0x37F},   {0x386, 0x386},   {0x388, 0x38A},   {0x38C, 0x38C},   {0x38E, 0x3A1},
    {0x3A3, 0x3F5},   {0x3F7, 0x481},   {0x48A, 0x52F},   {0x531, 0x556},   {0x560, 0x588},
    {0x5D0, 0x5EA},   {0x620, 0x64A},   {0x1E00, 0x1EFF}, {0x3041, 0x3096}, {0x30A1, 0x30FA},
    {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
};

static const struct cp_range k_numbers[] = {
    {0x30, 0x39},     {0xB2, 0xB3},     {0xB9, 0xB9},     {0xBC, 0xBE},     {0x660, 0x669},
    {0x2070, 0x2070}, {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2182}, {0x2185, 0x2189},
    {0x2460, 0x249B}, {0xFF10, 0xFF19},
};

static const struct cp_range k_spaces[] = {
    {0x09, 0x0D},     {0x1C, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

int dc_tok_is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(cp, k_letters, N_OF(k_letters));
}

int dc_tok_is_number(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(cp, k_numbers, N_OF(k_numbers));
}

int dc_tok_is_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return in_ranges(cp, k_spaces, N_OF(k_spaces));
}

/* str.lower() on the covered ranges; writes 1 or 2 code points, returns the count. */
static int to_lower(uint32_t c, uint32_t out[2]) {
  uint32_t r = c;
  if (c >= 'A' && c <= 'Z') {
    r = c + 32;
  } else if (c < 0xC0) {
    r = c;
  } else if (c <= 0xDE) {
    r = c == 0xD7 ? c : c + 32;
  } else if (c == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  } else if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) {
    r = (c & 1) ? c : c + 1;
  } else if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) {
    r = (c & 1) ? c + 1 : c;
  } else if (c == 0x178) {
    r = 0xFF;
  } else if (c == 0x386) {
    r = 0x3AC;
  } else if (c >= 0x388 && c <= 0x38A) {
    r = c + 37;
  } else if (c == 0x38C) {
    r = 0x3CC;
  } else if (c == 0x38E || c == 0x38F) {
    r = c + 63;
  } else if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) {
    r = c + 32;
  } else if (c >= 0x400 && c <= 0x40F) {
    r = c + 80;
  } else if (c >= 0x410 && c <= 0x42F) {
    r = c + 32;
  } else if (c == 0x1E9E) {
    r = 0xDF;
  } else if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) {
    r = (c & 1) ? c : c + 1;
  }
  out[0] = r;
  return 1;
}

static uint32_t uncurl(uint32_t c) {
  if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) return '\'';
  if (c >= 0x201C && c <= 0x201F) return '"';
  return c;
}

enum dc_status dc_tok_normalize(const char *text, char **out) {
  size_t n = strlen(text);
  /* Lower-casing grows a code point by at most one byte (U+0130: 2 bytes -> 3). */
  char *buf = malloc(2 * n + 1);
  DC_CHECK_ALLOC(buf);
  size_t w = 0, i = 0;
  int pending_space = 0;
  while (i < n) {
    size_t at = i;
    uint32_t c;
    if (!dc_tok_utf8_next(text, n, &i, &c)) {
      free(buf);
      return DC_ERROR(DC_ERR_ARG, "text \"%.60s\": malformed UTF-8 at byte %zu (expected valid UTF-8)",
                      text, at);
    }
    if (dc_tok_is_space(c)) {
      pending_space = w > 0; /* leading space is stripped, inner runs become one ' ' */
      continue;
    }
    if (pending_space) buf[w++] = ' ';
    pending_space = 0;
    uint32_t low[2];
    int k = to_lower(uncurl(c), low);
    for (int j = 0; j < k; j++) w += (size_t)dc_tok_utf8_put(low[j], buf + w);
  }
  buf[w] = '\0';
  *out = buf;
  return DC_OK;
}

/* Code point at s[i] (a malformed byte reads as itself, one byte long). */
static uint32_t peek(const char *s, size_t n, size_t i, size_t *next) {
  uint32_t c;
  size_t j = i;
  if (!dc_tok_utf8_next(s, n, &j, &c)) {
    c = (unsigned char)s[i];
    j = i + 1;
  }
  *next = j;
  return c;
}

static int starts_with(const char *s, size_t n, size_t i, const char *lit) {
  size_t m = strlen(lit);
  return n - i >= m && memcmp(s + i, lit, m) == 0;
}

/* Skips spaces from *pos; returns 0 at the end. */
static int skip_space(const char *s, size_t n, size_t *pos) {
  while (*pos < n) {
    size_t next;
    if (!dc_tok_is_space(peek(s, n, *pos, &next))) return 1;
    *pos = next;
  }
  return 0;
}

int dc_tok_next_clip_piece(const char *s, size_t n, size_t *pos, size_t *start, size_t *len) {
  static const char *const literal[] = {"<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re",
                                        "'ve",             "'m",            "'ll", "'d"};
  if (!skip_space(s, n, pos)) return 0;
  size_t i = *pos, next;
  *start = i;
  for (size_t k = 0; k < N_OF(literal); k++) {
    if (starts_with(s, n, i, literal[k])) {
      *len = strlen(literal[k]);
      *pos = i + *len;
      return 1;
    }
  }
  uint32_t c = peek(s, n, i, &next);
  if (dc_tok_is_number(c)) {
    *len = next - i;
    *pos = next;
    return 1;
  }
  int letters = dc_tok_is_letter(c);
  /* A run of letters, or a run of what is neither letter, number nor space. */
  size_t j = next;
  while (j < n) {
    size_t after;
    uint32_t d = peek(s, n, j, &after);
    int same = letters ? dc_tok_is_letter(d)
                       : !dc_tok_is_space(d) && !dc_tok_is_letter(d) && !dc_tok_is_number(d);
    if (!same) break;
    j = after;
  }
  *len = j - i;
  *pos = j;
  return 1;
}

int dc_tok_next_word(const char *s, size_t n, size_t *pos, size_t *start, size_t *len) {
  if (!skip_space(s, n, pos)) return 0;
  size_t i = *pos, next;
  *start = i;
  uint32_t c = peek(s, n, i, &next);
  size_t j = next;
  if (dc_tok_is_letter(c) || dc_tok_is_number(c)) {
    while (j < n) {
      size_t after;
      uint32_t d = peek(s, n, j, &after);
      if (!dc_tok_is_letter(d) && !dc_tok_is_number(d)) break;
      j = after;
    }
  }
  *len = j - i;
  *pos = j;
  return 1;
}
