/* The parameter registry: every tensor under its published name (the names of the
 * authors' PyTorch state_dict, e.g. "blocks.0.attn.qkv.weight", "visual.head.bias"), with
 * its shape and an offset into ONE contiguous buffer per group.
 *
 * Layout: trainable tensors first, in registration order, then frozen ones; so the
 * gradient buffer, the Adam moments and the gradient allreduce each cover one flat range
 * [0, n_trainable). Checkpoints and the golden test address tensors by name. */
#ifndef DIFFCLIP_REGISTRY_H
#define DIFFCLIP_REGISTRY_H

#include <stddef.h>

#include "diffclip/backend/backend.h"

#define DC_NAME_MAX 96

struct dc_tensor_info {
  char name[DC_NAME_MAX];
  int ndim;
  int shape[4];
  size_t numel;
  size_t offset; /* into params (and grads when trainable) */
  int trainable;
};

struct dc_registry {
  struct dc_tensor_info *items;
  int count, cap;
  size_t n_trainable; /* floats in the trainable range */
  size_t n_total;     /* floats in all */
  const struct dc_backend *be;
  float *params; /* (n_total) backend memory; NULL until allocated */
  float *grads;  /* (n_trainable) backend memory; NULL for a registry without gradients */
};

/* Registers a tensor; its index goes to *index (may be NULL). Shapes have 1..4 dims given
 * as a 0-terminated list in `shape` (e.g. (int[]){48, 16, 0}). Names must be unique. */
enum dc_status dc_registry_add(struct dc_registry *r, const char *name, int trainable,
                               const int *shape, int *index);
/* Assigns offsets and allocates params (and grads when with_grads) on `be`, zero-filled. */
enum dc_status dc_registry_alloc(struct dc_registry *r, const struct dc_backend *be, int with_grads);
void dc_registry_free(struct dc_registry *r);

/* Index of a name, or -1. */
int dc_registry_find(const struct dc_registry *r, const char *name);
static inline float *dc_param(const struct dc_registry *r, int i) { return r->params + r->items[i].offset; }
/* Gradient of a trainable tensor; NULL for a frozen one (callers skip NULL gradients). */
static inline float *dc_grad(const struct dc_registry *r, int i) {
  return (r->grads && r->items[i].trainable) ? r->grads + r->items[i].offset : NULL;
}

#endif
