/* Text to token ids for the text encoder.
 *
 * Two vocabularies:
 * - CLIP's byte-level BPE (DC_VOCAB_CLIP_BPE), built from CLIP's merges file exactly as
 *   CLIP builds it: the 256 byte symbols, the same with "</w>", one entry per merge, then
 *   <|startoftext|> and <|endoftext|> (V = 49408, start 49406, end 49407 with CLIP's file).
 *   The project ships the file: data_manifests/clip_bpe/bpe_simple_vocab_16e6.txt.gz.
 * - A word-level vocabulary made from the run's prompts (DC_VOCAB_WORDS), the default when
 *   no merges file is configured: 0 is padding, then the distinct words and punctuation of
 *   the prompts in byte-wise sorted order (ids 1..n), then start (V-2) and end (V-1).
 *
 * Both clean the text as CLIP does (lower case, whitespace collapsed and stripped; see
 * src/text/tokenizer_text.c for what of ftfy is done and which characters are classified).
 * Encoding is CLIP's tokenize(): [start] ids [end], zeros after, in a row of `ctx` ids. The
 * end token is the largest id, so it is also where the text encoder pools.
 *
 * The vocabulary in use travels in a checkpoint as a table of strings
 * (dc_tokenizer_to_table / dc_tokenizer_from_table). */
#ifndef DIFFCLIP_TOKENIZER_H
#define DIFFCLIP_TOKENIZER_H

#include "diffclip/core/status.h"

#define DC_CLIP_BPE_MERGES 48894 /* 49152 - 256 - 2: the merges CLIP reads (file lines 2..48895) */
#define DC_CLIP_VOCAB 49408      /* 2*256 + DC_CLIP_BPE_MERGES + 2 */
#define DC_CLIP_CONTEXT 77       /* CLIP's context length */

enum dc_vocab_kind { DC_VOCAB_CLIP_BPE = 1, DC_VOCAB_WORDS = 2 };

struct dc_tokenizer; /* opaque; immutable once made, so threads may share it */

/* CLIP's BPE from its merges file (gzip or plain text; line 1 is a header, the next
 * DC_CLIP_BPE_MERGES lines are "first second" merges in rank order). */
enum dc_status dc_tokenizer_load_bpe(const char *merges_path, struct dc_tokenizer **out);
/* The word vocabulary of these texts (every word and punctuation mark they contain). */
enum dc_status dc_tokenizer_from_prompts(const char *const *texts, int n_texts,
                                         struct dc_tokenizer **out);
void dc_tokenizer_free(struct dc_tokenizer *t);

enum dc_vocab_kind dc_tokenizer_kind(const struct dc_tokenizer *t);
int dc_tokenizer_vocab_size(const struct dc_tokenizer *t); /* V */
int dc_tokenizer_sot(const struct dc_tokenizer *t);        /* start of text, V-2 */
int dc_tokenizer_eot(const struct dc_tokenizer *t);        /* end of text, V-1 */
/* The vocabulary entry of an id (byte-level form for BPE, "" for padding); NULL when the
 * id is out of range. */
const char *dc_tokenizer_token(const struct dc_tokenizer *t, int id);

/* The ids of text without start and end tokens: *ids (malloc'ed, *n of them; free it).
 * A word outside a word vocabulary is DC_ERR_ARG naming it; malformed UTF-8 is DC_ERR_ARG. */
enum dc_status dc_tokenizer_tokenize(const struct dc_tokenizer *t, const char *text, int **ids,
                                     int *n);
/* CLIP's tokenize() of one text into ids (ctx): start, the text's ids, end, zeros. A text
 * longer than ctx - 2 ids is cut to ctx ids with end last when truncate is nonzero (CLIP's
 * truncate=True), and is DC_ERR_ARG otherwise. *eot_pos (may be NULL) gets the position
 * of the end token. ctx >= 2. */
enum dc_status dc_tokenizer_encode(const struct dc_tokenizer *t, const char *text, int ctx,
                                   int truncate, int *ids, int *eot_pos);
/* The same for n texts: ids (n, ctx), eot_pos (n) (may be NULL). */
enum dc_status dc_tokenizer_encode_batch(const struct dc_tokenizer *t, const char *const *texts,
                                         int n, int ctx, int truncate, int *ids, int *eot_pos);

/* The vocabulary as strings, for a checkpoint: entry 0 names the kind
 * ("diffclip-vocab clip-bpe 1" or "diffclip-vocab words 1"), then the merges in rank order
 * ("first second", byte-level form) or the words in id order (ids 1..n). *table and its
 * strings are malloc'ed; free with dc_tokenizer_table_free. */
enum dc_status dc_tokenizer_to_table(const struct dc_tokenizer *t, char ***table, int *n);
/* The tokenizer a table describes; a malformed table is DC_ERR_ARG naming the entry. */
enum dc_status dc_tokenizer_from_table(const char *const *table, int n, struct dc_tokenizer **out);
void dc_tokenizer_table_free(char **table, int n);

#endif
