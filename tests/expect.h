/* EXPECT(cond, fmt, ...): a failed check prints where and why and counts in g_fails; the
 * test goes on, and its main returns non-zero when g_fails > 0. Header-only, for tests. */
#ifndef DIFFCLIP_TESTS_EXPECT_H
#define DIFFCLIP_TESTS_EXPECT_H

#include <stdio.h>

static int g_fails = 0;

#define EXPECT(cond, ...)                                  \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
      g_fails++;                                           \
    }                                                      \
  } while (0)

#endif
