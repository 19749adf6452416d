/* The parameter registry (see registry.h). */
#include "diffclip/nn/registry.h"

#include <stdlib.h>
#include <string.h>

enum dc_status dc_registry_add(struct dc_registry *r, const char *name, int trainable,
                               const int *shape, int *index) {
  if (strlen(name) >= DC_NAME_MAX)
    return DC_ERROR(DC_ERR_INTERNAL, "parameter name too long: %s", name);
  if (r->params) return DC_ERROR(DC_ERR_INTERNAL, "registry already allocated when adding %s", name);
  if (dc_registry_find(r, name) >= 0) return DC_ERROR(DC_ERR_INTERNAL, "duplicate parameter %s", name);
  if (r->count == r->cap) {
    int cap = r->cap ? 2 * r->cap : 64;
    struct dc_tensor_info *items = realloc(r->items, (size_t)cap * sizeof *items);
    DC_CHECK_ALLOC(items);
    r->items = items;
    r->cap = cap;
  }
  struct dc_tensor_info *t = &r->items[r->count];
  memset(t, 0, sizeof *t);
  strcpy(t->name, name);
  t->trainable = trainable;
  t->numel = 1;
  for (t->ndim = 0; t->ndim < 4 && shape[t->ndim] > 0; t->ndim++) {
    t->shape[t->ndim] = shape[t->ndim];
    t->numel *= (size_t)shape[t->ndim];
  }
  if (t->ndim == 0 && shape[0] != 0) return DC_ERROR(DC_ERR_INTERNAL, "bad shape for %s", name);
  if (index) *index = r->count;
  r->count++;
  return DC_OK;
}

enum dc_status dc_registry_alloc(struct dc_registry *r, const struct dc_backend *be, int with_grads) {
  size_t off = 0;
  for (int pass = 1; pass >= 0; pass--) /* trainable first, then frozen */
    for (int i = 0; i < r->count; i++)
      if (r->items[i].trainable == pass) {
        r->items[i].offset = off;
        off += r->items[i].numel;
      }
  r->n_total = off;
  r->n_trainable = 0;
  for (int i = 0; i < r->count; i++)
    if (r->items[i].trainable) r->n_trainable += r->items[i].numel;
  r->be = be;
  r->params = be->alloc((r->n_total ? r->n_total : 1) * sizeof(float));
  DC_CHECK_ALLOC(r->params);
  if (with_grads) {
    r->grads = be->alloc((r->n_trainable ? r->n_trainable : 1) * sizeof(float));
    DC_CHECK_ALLOC(r->grads);
  }
  return DC_OK;
}

void dc_registry_free(struct dc_registry *r) {
  if (r->be) {
    if (r->params) r->be->free(r->params);
    if (r->grads) r->be->free(r->grads);
  }
  free(r->items);
  memset(r, 0, sizeof *r);
}

int dc_registry_find(const struct dc_registry *r, const char *name) {
  for (int i = 0; i < r->count; i++)
    if (strcmp(r->items[i].name, name) == 0) return i;
  return -1;
}
