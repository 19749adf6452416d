/* Splits: on rasters with classes of 400, 150, 18, 4 and 60 pixels, the few-shot protocol's
 * per-class counts (k shots; the <= k fallback to 15; the validation share, its cap and
 * apportionment), the lists' disjointness, coverage, labels and raster order, the shots
 * being the first k of the documented Fisher-Yates shuffle keyed (run, class), determinism
 * per run and variety across runs; the official protocol (train / test rasters kept,
 * validation taken from train); and refusals of bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/rng.h"
#include "diffclip/data/split.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

enum { H = 40, W = 50, N = H * W, K = 5 };
static const int class_size[K] = {400, 150, 18, 4, 60};
static int32_t train_r[N], test_r[N], merged[N];

static void make_rasters(void) {
  int perm[N];
  for (int i = 0; i < N; i++) perm[i] = i;
  for (int i = N - 1; i > 0; i--) {
    int j = (int)dc_rng_below(99, 0, i, 0, i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  int p = 0;
  for (int k = 0; k < K; k++)
    for (int t = 0; t < class_size[k]; t++, p++) {
      int i = perm[p];
      merged[i] = k + 1;
      (dc_rng_uniform(99, 1, i, 0) < 0.2f ? train_r : test_r)[i] = k + 1;
    }
}

/* Disjoint, covering `expected_cover` labelled pixels, labels right, raster order, counts. */
static int verify(const struct dc_split *s, const int32_t *cover) {
  static unsigned char seen[N];
  memset(seen, 0, sizeof seen);
  const int *idx[3] = {s->train_idx, s->val_idx, s->test_idx}, *lab[3] = {s->train_lab, s->val_lab, s->test_lab};
  const int n[3] = {s->n_train, s->n_val, s->n_test};
  const int *per[3] = {s->train_per_class, s->val_per_class, s->test_per_class};
  int ok = 1;
  for (int r = 0; r < 3; r++) {
    int count[K] = {0};
    for (int t = 0; t < n[r]; t++) {
      int i = idx[r][t];
      if (i < 0 || i >= N || seen[i] || (t > 0 && idx[r][t - 1] >= i) || lab[r][t] != merged[i] - 1) return 0;
      seen[i] = 1;
      count[lab[r][t]]++;
    }
    for (int k = 0; k < K; k++) ok &= count[k] == per[r][k];
  }
  for (int i = 0; i < N; i++) ok &= seen[i] == (cover[i] != 0);
  return ok;
}

static int apportioned_ok(const struct dc_split *s, const int *pool, int V) {
  long P = 0;
  for (int k = 0; k < K; k++) P += pool[k];
  int sum = 0, ok = 1;
  for (int k = 0; k < K; k++) {
    double exact = (double)V * pool[k] / P;
    int cap = pool[k] > 0 ? pool[k] - 1 : 0, q = s->val_per_class[k];
    ok &= q <= cap && (q == cap || (q >= (int)exact && q <= (int)exact + 1));
    sum += q;
  }
  return ok && sum <= V && sum >= V - K;
}

static void fewshot(int shots, int val_max) {
  struct dc_split s;
  char what[200];
  snprintf(what, sizeof what, "k = %d, val_max = %d: split made", shots, val_max);
  expect(dc_split_fewshot(train_r, test_r, H, W, K, shots, DC_SPLIT_FALLBACK_SHOTS, 0, val_max, &s) == DC_OK, what);
  int ok = 1, pool[K], P = 0;
  for (int k = 0; k < K; k++) {
    /* the documented rule: k shots, or min(15, n) when the class has <= k pixels */
    int want = class_size[k] > shots ? shots : (class_size[k] < 15 ? class_size[k] : 15);
    ok &= s.train_per_class[k] == want;
    P += pool[k] = class_size[k] - want;
    ok &= s.val_per_class[k] + s.test_per_class[k] == pool[k];
    printf("    class %d (%3d px): train %2d  val %3d  test %3d\n", k + 1, class_size[k], s.train_per_class[k],
           s.val_per_class[k], s.test_per_class[k]);
  }
  snprintf(what, sizeof what, "k = %d: shots per class, with the <= k fallback to 15", shots);
  expect(ok, what);
  int V = val_max < P / 2 ? val_max : P / 2;
  snprintf(what, sizeof what, "k = %d: %d validation pixels = min(val_max, pool / 2), apportioned by class size", shots,
           s.n_val);
  expect(s.n_val == V && apportioned_ok(&s, pool, V), what);
  snprintf(what, sizeof what, "k = %d: train / val / test disjoint, cover every labelled pixel, raster order", shots);
  expect(verify(&s, merged), what);

  /* the shots are the first k of the Fisher-Yates shuffle keyed (run, class) */
  ok = 1;
  for (int k = 0; k < K; k++) {
    int list[400], nk = 0;
    for (int i = 0; i < N; i++)
      if (merged[i] == k + 1) list[nk++] = i;
    for (int i = nk - 1; i > 0; i--) {
      int j = (int)dc_rng_below(0, (uint64_t)(k + 1), (uint64_t)i, 0, (uint32_t)(i + 1)), t = list[i];
      list[i] = list[j];
      list[j] = t;
    }
    for (int t = 0; t < s.train_per_class[k]; t++) {
      int found = 0;
      for (int u = 0; u < s.n_train; u++) found |= s.train_idx[u] == list[t];
      ok &= found;
    }
  }
  snprintf(what, sizeof what, "k = %d: shots are the first of the shuffle keyed (seed = run, stream = class)", shots);
  expect(ok, what);
  dc_split_free(&s);
}

int main(void) {
  make_rasters();
  fewshot(5, 200);
  fewshot(20, 200);
  fewshot(20, 100000);
  fewshot(2, 0);

  struct dc_split a, b;
  dc_split_fewshot(train_r, test_r, H, W, K, 8, DC_SPLIT_FALLBACK_SHOTS, 3, 200, &a);
  dc_split_fewshot(train_r, test_r, H, W, K, 8, DC_SPLIT_FALLBACK_SHOTS, 3, 200, &b);
  int same = a.n_train == b.n_train && a.n_val == b.n_val && a.n_test == b.n_test &&
             memcmp(a.train_idx, b.train_idx, a.n_train * sizeof(int)) == 0 &&
             memcmp(a.val_idx, b.val_idx, a.n_val * sizeof(int)) == 0 &&
             memcmp(a.test_idx, b.test_idx, a.n_test * sizeof(int)) == 0;
  expect(same, "same run: identical split");
  dc_split_free(&b);
  dc_split_fewshot(train_r, test_r, H, W, K, 8, DC_SPLIT_FALLBACK_SHOTS, 4, 200, &b);
  expect(a.n_train == b.n_train && memcmp(a.train_idx, b.train_idx, a.n_train * sizeof(int)) != 0 &&
             memcmp(a.val_idx, b.val_idx, a.n_val * sizeof(int)) != 0,
         "another run: other shots and validation pixels, same counts");
  dc_split_free(&a);
  dc_split_free(&b);
  static unsigned char hit[N];
  int distinct = 0;
  for (uint64_t run = 0; run < 50; run++) {
    dc_split_fewshot(train_r, test_r, H, W, K, 5, DC_SPLIT_FALLBACK_SHOTS, run, 0, &a);
    for (int t = 0; t < a.n_train; t++)
      if (a.train_lab[t] == 0 && !hit[a.train_idx[t]]) hit[a.train_idx[t]] = 1, distinct++;
    dc_split_free(&a);
  }
  printf("    class 1: %d distinct shots over 50 runs of 5 (about 187 expected)\n", distinct);
  expect(distinct > 150 && distinct < 220, "shots vary across runs like uniform draws");

  /* official protocol */
  expect(dc_split_official(train_r, test_r, H, W, K, 0, 0, &a) == DC_OK, "official split made");
  int ok = a.n_val == 0 && verify(&a, merged);
  for (int t = 0; t < a.n_train; t++) ok &= train_r[a.train_idx[t]] != 0;
  for (int t = 0; t < a.n_test; t++) ok &= test_r[a.test_idx[t]] != 0;
  expect(ok, "official, no validation: train = the train raster, test = the test raster");
  dc_split_free(&a);
  expect(dc_split_official(train_r, test_r, H, W, K, 7, 40, &a) == DC_OK, "official split with validation made");
  ok = a.n_val == 40 && verify(&a, merged);
  for (int t = 0; t < a.n_val; t++) ok &= train_r[a.val_idx[t]] != 0;
  for (int t = 0; t < a.n_test; t++) ok &= test_r[a.test_idx[t]] != 0;
  expect(ok, "official with validation: 40 validation pixels taken from train, test untouched");
  dc_split_free(&a);

  /* refusals */
  int i0 = 0;
  while (!test_r[i0]) i0++;
  int32_t keep = train_r[i0];
  train_r[i0] = test_r[i0];
  expect(dc_split_fewshot(train_r, test_r, H, W, K, 5, DC_SPLIT_FALLBACK_SHOTS, 0, 0, &a) == DC_OK && a.n_train + a.n_val + a.n_test == 632,
         "few-shot: a pixel in both rasters with the same class is merged");
  dc_split_free(&a);
  expect(dc_split_official(train_r, test_r, H, W, K, 0, 0, &a) == DC_ERR_ARG, "official: a pixel in both rasters refused");
  train_r[i0] = test_r[i0] % K + 1;
  expect(dc_split_fewshot(train_r, test_r, H, W, K, 5, DC_SPLIT_FALLBACK_SHOTS, 0, 0, &a) == DC_ERR_ARG, "few-shot: conflicting classes refused");
  train_r[i0] = K + 1;
  expect(dc_split_fewshot(train_r, test_r, H, W, K, 5, DC_SPLIT_FALLBACK_SHOTS, 0, 0, &a) == DC_ERR_ARG, "a label above n_classes refused");
  train_r[i0] = keep;
  expect(dc_split_fewshot(train_r, test_r, H, W, K, 0, DC_SPLIT_FALLBACK_SHOTS, 0, 0, &a) == DC_ERR_ARG, "zero shots refused");
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
