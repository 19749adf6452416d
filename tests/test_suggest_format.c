/* The small helpers of first contact: "did you mean" (core/suggest.h) and the h:m:s
 * durations of progress lines (core/fsutil.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "diffclip/core/fsutil.h"
#include "diffclip/core/suggest.h"
#include "expect.h"

static void hms(double s, const char *want) {
  char got[32];
  dc_format_hms(s, got, sizeof got);
  EXPECT(strcmp(got, want) == 0, "dc_format_hms(%g) = \"%s\", expected \"%s\"", s, got, want);
}

int main(void) {
  hms(0, "0:00:00");
  hms(4.6, "0:00:05");
  hms(59.4, "0:00:59");
  hms(3600 + 2 * 60 + 3, "1:02:03");
  hms(13 * 3600 + 20 * 60, "13:20:00");
  hms(53 * 86400.0 + 4 * 3600, "53d 04:00:00");
  hms(NAN, "?");
  hms(-1, "?");
  static const char *const verbs[] = {"run", "pretrain", "finetune", "evaluate", "bench", "bench-speed", "report"};
  int n = (int)(sizeof verbs / sizeof *verbs);
  EXPECT(dc_suggest("pretrian", verbs, n) == 1, "pretrian -> pretrain");
  EXPECT(dc_suggest("evalute", verbs, n) == 3, "evalute -> evaluate");
  EXPECT(dc_suggest("bnech", verbs, n) == 4, "bnech -> bench");
  EXPECT(dc_suggest("xyzzy", verbs, n) == -1, "no suggestion for a word near nothing");
  EXPECT(dc_edit_distance("kitten", "sitting") == 3, "edit distance kitten/sitting");
  if (g_fails) fprintf(stderr, "%d failure(s)\n", g_fails);
  return g_fails ? 1 : 0;
}
