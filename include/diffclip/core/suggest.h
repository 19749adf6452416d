/* "Did you mean": the nearest of a few names to a mistyped one (configuration keys and
 * choices, verbs, options). */
#ifndef DIFFCLIP_SUGGEST_H
#define DIFFCLIP_SUGGEST_H

/* Levenshtein distance of two names of at most 63 characters (INT_MAX for longer ones). */
int dc_edit_distance(const char *a, const char *b);
/* 1 when distance d from `word` is close enough to suggest: 1 edit for up to 4 characters,
 * 2 up to 10, 3 beyond. */
int dc_close_enough(const char *word, int d);
/* The index of the choice nearest to `word` when it is close enough, else -1. */
int dc_suggest(const char *word, const char *const *choices, int n);

#endif
