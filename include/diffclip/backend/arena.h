/* A two-pass bump allocator for backend memory: first "plan" with base == NULL (every take
 * returns NULL and only counts), then allocate the counted size once and "carve" by
 * repeating the same takes. Activations are sized once from the configuration, so the
 * training step never allocates. */
#ifndef DIFFCLIP_ARENA_H
#define DIFFCLIP_ARENA_H

#include <stddef.h>

#include "diffclip/backend/backend.h"

struct dc_arena {
  char *base;  /* NULL while planning */
  size_t size; /* bytes allocated (carving) */
  size_t used; /* bytes taken so far */
};

/* Takes n floats (64-byte aligned). NULL while planning. */
float *dc_arena_floats(struct dc_arena *a, size_t n);
/* Takes n doubles (64-byte aligned). NULL while planning. */
double *dc_arena_doubles(struct dc_arena *a, size_t n);
/* Takes n ints (64-byte aligned). NULL while planning. */
int *dc_arena_ints(struct dc_arena *a, size_t n);
/* Ends the planning pass: allocates what was counted and rewinds for carving. */
enum dc_status dc_arena_commit(struct dc_arena *a, const struct dc_backend *be);
/* Checks that the carving pass took exactly what the plan counted. */
enum dc_status dc_arena_check(const struct dc_arena *a);
void dc_arena_free(struct dc_arena *a, const struct dc_backend *be);

#endif
