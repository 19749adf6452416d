/* Two-pass bump allocator (see arena.h). */
#include "diffclip/backend/arena.h"

static void *take(struct dc_arena *a, size_t bytes) {
  size_t start = (a->used + 63) / 64 * 64;
  a->used = start + bytes;
  if (a->base == NULL) return NULL;
  if (a->used > a->size) return NULL; /* caught by dc_arena_check */
  return a->base + start;
}

float *dc_arena_floats(struct dc_arena *a, size_t n) { return take(a, n * sizeof(float)); }
double *dc_arena_doubles(struct dc_arena *a, size_t n) { return take(a, n * sizeof(double)); }
int *dc_arena_ints(struct dc_arena *a, size_t n) { return take(a, n * sizeof(int)); }

enum dc_status dc_arena_commit(struct dc_arena *a, const struct dc_backend *be) {
  a->size = (a->used + 63) / 64 * 64;
  a->base = be->alloc(a->size ? a->size : 64);
  if (a->base == NULL)
    return DC_ERROR(DC_ERR_NOMEM, "cannot allocate %.1f MiB of activations on backend %s",
                    a->size / 1048576.0, be->name);
  a->used = 0;
  return DC_OK;
}

enum dc_status dc_arena_check(const struct dc_arena *a) {
  if (a->base == NULL || a->used > a->size)
    return DC_ERROR(DC_ERR_INTERNAL, "arena carve took %zu bytes, plan had %zu", a->used, a->size);
  return DC_OK;
}

void dc_arena_free(struct dc_arena *a, const struct dc_backend *be) {
  if (a->base) be->free(a->base);
  a->base = NULL;
  a->size = a->used = 0;
}
