/* Few-shot and official splits (the protocols are described in diffclip/split.h).
 *
 * Each labelled pixel gets one role (train, val or test) in an assignment raster; the
 * output lists are then read off in raster order, so they do not depend on the order in
 * which classes were processed. */
#include <stdlib.h>
#include <string.h>

#include "diffclip/core/rng.h"
#include "diffclip/data/split.h"

enum { ROLE_NONE = 0, ROLE_TRAIN, ROLE_VAL, ROLE_TEST };

/* Fisher-Yates, keyed (seed, stream); draw i picks from positions 0..i. */
static void shuffle(int *v, int n, uint64_t seed, uint64_t stream) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)dc_rng_below(seed, stream, (uint64_t)i, 0, (uint32_t)(i + 1));
    int t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static enum dc_status check_args(int H, int W, int K, const int32_t *train, const int32_t *test) {
  if (H < 1 || W < 1 || K < 1 || K > DC_SCENE_MAX_CLASSES || !train || !test)
    return DC_ERROR(DC_ERR_ARG, "split: a %d x %d grid with %d classes (1..%d) and both rasters expected", H, W, K,
                    DC_SCENE_MAX_CLASSES);
  const int32_t *r[2] = {train, test};
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < (size_t)H * W; i++)
      if (r[t][i] < 0 || r[t][i] > K)
        return DC_ERROR(DC_ERR_ARG, "split: /labels/%s has value %d at (row %zu, col %zu), 0..%d expected",
                        t ? "test" : "train", (int)r[t][i], i / (size_t)W, i % (size_t)W, K);
  return DC_OK;
}

/* Pixels of each class of `lab` in raster order: class c's at list + start[c - 1], count[c - 1]. */
static int *class_lists(const int32_t *lab, size_t n, int K, int *start, int *count) {
  memset(count, 0, (size_t)K * sizeof *count);
  for (size_t i = 0; i < n; i++)
    if (lab[i]) count[lab[i] - 1]++;
  int total = 0;
  for (int k = 0; k < K; k++) start[k] = total, total += count[k];
  int *list = malloc((size_t)(total ? total : 1) * sizeof *list), fill[DC_SCENE_MAX_CLASSES];
  if (!list) return NULL;
  memcpy(fill, start, (size_t)K * sizeof *fill);
  for (size_t i = 0; i < n; i++)
    if (lab[i]) list[fill[lab[i] - 1]++] = (int)i;
  return list;
}

/* Hamilton apportionment of V over pool sizes, each share capped at pool - 1. */
static void apportion(const int *pool, int K, int V, int *quota) {
  long long P = 0;
  for (int k = 0; k < K; k++) P += pool[k];
  memset(quota, 0, (size_t)K * sizeof *quota);
  if (P == 0 || V <= 0) return;
  long long rem[DC_SCENE_MAX_CLASSES];
  int given = 0;
  for (int k = 0; k < K; k++) {
    quota[k] = (int)((long long)V * pool[k] / P);
    rem[k] = (long long)V * pool[k] % P;
    given += quota[k];
  }
  for (; given < V; given++) { /* the largest remainders, ties to the lower class id */
    int best = -1;
    for (int k = 0; k < K; k++)
      if (rem[k] >= 0 && (best < 0 || rem[k] > rem[best])) best = k;
    quota[best]++;
    rem[best] = -1;
  }
  for (int k = 0; k < K; k++) {
    int cap = pool[k] > 0 ? pool[k] - 1 : 0;
    if (quota[k] > cap) quota[k] = cap;
  }
}

/* The lists in raster order from the role and class rasters. */
static enum dc_status collect(const unsigned char *role, const int32_t *cls, size_t n, int K, struct dc_split *out) {
  int *n_of[4] = {NULL, &out->n_train, &out->n_val, &out->n_test};
  int *per[4] = {NULL, out->train_per_class, out->val_per_class, out->test_per_class};
  for (size_t i = 0; i < n; i++)
    if (role[i]) {
      (*n_of[role[i]])++;
      per[role[i]][cls[i] - 1]++;
    }
  int **idx[4] = {NULL, &out->train_idx, &out->val_idx, &out->test_idx};
  int **lab[4] = {NULL, &out->train_lab, &out->val_lab, &out->test_lab};
  for (int r = 1; r <= 3; r++) {
    size_t m = (size_t)(*n_of[r] ? *n_of[r] : 1);
    *idx[r] = malloc(m * sizeof(int));
    *lab[r] = malloc(m * sizeof(int));
    if (!*idx[r] || !*lab[r]) return DC_ERROR(DC_ERR_NOMEM, "split: no memory for %zu pixel indices", m);
  }
  int fill[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i++)
    if (role[i]) {
      int r = role[i];
      (*idx[r])[fill[r]] = (int)i;
      (*lab[r])[fill[r]++] = cls[i] - 1;
    }
  out->n_classes = K;
  return DC_OK;
}

/* The shared part: given per-class pools (shuffled lists minus the first `skip` entries),
 * draw the validation pixels and mark the rest with `rest_role`. */
static void assign_pools(unsigned char *role, const int *list, const int *start, const int *count, const int *skip,
                         int K, int val_max, int rest_role) {
  int pool[DC_SCENE_MAX_CLASSES], quota[DC_SCENE_MAX_CLASSES];
  long long P = 0;
  for (int k = 0; k < K; k++) P += pool[k] = count[k] - skip[k];
  long long V = P / 2 < val_max ? P / 2 : val_max;
  apportion(pool, K, (int)V, quota);
  for (int k = 0; k < K; k++) {
    const int *p = list + start[k] + skip[k];
    for (int t = 0; t < pool[k]; t++) role[p[t]] = t < quota[k] ? ROLE_VAL : (unsigned char)rest_role;
  }
}

enum dc_status dc_split_fewshot(const int32_t *train, const int32_t *test, int H, int W, int n_classes, int shots,
                                int small_class_shots, uint64_t run, int val_max, struct dc_split *out) {
  memset(out, 0, sizeof *out);
  DC_TRY(check_args(H, W, n_classes, train, test));
  if (shots < 1 || small_class_shots < 1 || val_max < 0)
    return DC_ERROR(DC_ERR_ARG, "split: %d shots and %d validation pixels requested (>= 1 and >= 0 expected)", shots,
                    val_max);
  size_t n = (size_t)H * W;
  int32_t *merged = malloc(n * sizeof *merged);
  unsigned char *role = calloc(n, 1);
  int start[DC_SCENE_MAX_CLASSES], count[DC_SCENE_MAX_CLASSES], skip[DC_SCENE_MAX_CLASSES];
  int *list = NULL;
  enum dc_status st = DC_OK;
  if (!merged || !role) {
    st = DC_ERROR(DC_ERR_NOMEM, "split: no memory for a %d x %d grid", H, W);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (train[i] && test[i] && train[i] != test[i]) {
      st = DC_ERROR(DC_ERR_ARG, "split: pixel (row %zu, col %zu) is class %d in /labels/train but %d in /labels/test",
                    i / (size_t)W, i % (size_t)W, (int)train[i], (int)test[i]);
      goto done;
    }
    merged[i] = train[i] ? train[i] : test[i];
  }
  if (!(list = class_lists(merged, n, n_classes, start, count))) {
    st = DC_ERROR(DC_ERR_NOMEM, "split: no memory for the class lists");
    goto done;
  }
  for (int k = 0; k < n_classes; k++) {
    shuffle(list + start[k], count[k], run, (uint64_t)(k + 1));
    /* The published rule: a class with <= k pixels gets 15 (small_class_shots) training
     * pixels (all of them when it has fewer), even when k > 15 or the class then has no
     * test pixel. */
    int take = count[k] > shots ? shots : small_class_shots;
    skip[k] = take < count[k] ? take : count[k];
    for (int t = 0; t < skip[k]; t++) role[list[start[k] + t]] = ROLE_TRAIN;
  }
  assign_pools(role, list, start, count, skip, n_classes, val_max, ROLE_TEST);
  st = collect(role, merged, n, n_classes, out);
done:
  free(merged), free(role), free(list);
  if (st != DC_OK) dc_split_free(out);
  return st;
}

enum dc_status dc_split_official(const int32_t *train, const int32_t *test, int H, int W, int n_classes,
                                 uint64_t seed, int val_max, struct dc_split *out) {
  memset(out, 0, sizeof *out);
  DC_TRY(check_args(H, W, n_classes, train, test));
  if (val_max < 0) return DC_ERROR(DC_ERR_ARG, "split: %d validation pixels requested, >= 0 expected", val_max);
  size_t n = (size_t)H * W;
  int32_t *merged = malloc(n * sizeof *merged);
  unsigned char *role = calloc(n, 1);
  int start[DC_SCENE_MAX_CLASSES], count[DC_SCENE_MAX_CLASSES], skip[DC_SCENE_MAX_CLASSES] = {0};
  int *list = NULL;
  enum dc_status st = DC_OK;
  if (!merged || !role) {
    st = DC_ERROR(DC_ERR_NOMEM, "split: no memory for a %d x %d grid", H, W);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (train[i] && test[i]) {
      st = DC_ERROR(DC_ERR_ARG, "split: pixel (row %zu, col %zu) is labelled in both /labels/train and /labels/test",
                    i / (size_t)W, i % (size_t)W);
      goto done;
    }
    merged[i] = train[i] ? train[i] : test[i];
    if (test[i]) role[i] = ROLE_TEST;
  }
  if (!(list = class_lists(train, n, n_classes, start, count))) {
    st = DC_ERROR(DC_ERR_NOMEM, "split: no memory for the class lists");
    goto done;
  }
  for (int k = 0; k < n_classes; k++) shuffle(list + start[k], count[k], seed, (uint64_t)(k + 1));
  assign_pools(role, list, start, count, skip, n_classes, val_max, ROLE_TRAIN);
  st = collect(role, merged, n, n_classes, out);
done:
  free(merged), free(role), free(list);
  if (st != DC_OK) dc_split_free(out);
  return st;
}

void dc_split_free(struct dc_split *s) {
  free(s->train_idx), free(s->val_idx), free(s->test_idx);
  free(s->train_lab), free(s->val_lab), free(s->test_lab);
  memset(s, 0, sizeof *s);
}
