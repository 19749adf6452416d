/* Suggestions for mistyped names (see suggest.h). */
#include "diffclip/core/suggest.h"

#include <limits.h>
#include <string.h>

int dc_edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > 63 || nb > 63) return INT_MAX;
  int row[64];
  for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= nb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[nb];
}

int dc_close_enough(const char *word, int d) {
  size_t len = strlen(word);
  return d <= (len <= 4 ? 1 : len <= 10 ? 2 : 3);
}

int dc_suggest(const char *word, const char *const *choices, int n) {
  int best = -1, bd = INT_MAX;
  for (int i = 0; i < n; i++) {
    int d = dc_edit_distance(word, choices[i]);
    if (d < bd) bd = d, best = i;
  }
  return best >= 0 && dc_close_enough(word, bd) ? best : -1;
}
