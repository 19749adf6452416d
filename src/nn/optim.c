/* Adam / AdamW over a registry's flat trainable range: one kernel call per step. */
#include "diffclip/nn/optim.h"

enum dc_status dc_adam_init(struct dc_adam *o, const struct dc_registry *r, float lr, float weight_decay,
                            int decoupled) {
  *o = (struct dc_adam){.n = r->n_trainable, .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                        .weight_decay = weight_decay, .decoupled = decoupled};
  o->m = r->be->alloc((o->n ? o->n : 1) * sizeof(float));
  o->v = r->be->alloc((o->n ? o->n : 1) * sizeof(float));
  if (!o->m || !o->v) return DC_ERROR(DC_ERR_NOMEM, "no memory for Adam moments (%zu values)", o->n);
  return DC_OK;
}

void dc_adam_step(struct dc_adam *o, struct dc_registry *r, float lr) {
  o->step++;
  r->be->adam_update(r->params, r->grads, o->m, o->v, o->n, lr, o->beta1, o->beta2, o->eps, o->weight_decay,
                     o->step, o->decoupled);
}

void dc_adam_free(struct dc_adam *o, const struct dc_backend *be) {
  if (o->m) be->free(o->m);
  if (o->v) be->free(o->v);
  o->m = o->v = NULL;
}
