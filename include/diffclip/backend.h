/* The compute backend: a table of memory functions and of the ops in diffclip/ops.h.
 * Model and training code call ops only through this table; the backend is chosen at
 * start-up (CPU always; CUDA when built and a GPU is present). Pointers passed to ops are
 * backend memory (host memory for the CPU backend). */
#ifndef DIFFCLIP_BACKEND_H
#define DIFFCLIP_BACKEND_H

#include <stddef.h>

#include "diffclip/ops.h"
#include "diffclip/status.h"

#define DC_BACKEND_MEMBER(ret, name, args) ret(*name) args;

struct dc_backend {
  const char *name;
  void *(*alloc)(size_t bytes);                 /* zero-filled; NULL on failure */
  void (*free)(void *p);
  void (*upload)(void *dst, const void *host_src, size_t bytes);
  void (*download)(void *host_dst, const void *src, size_t bytes);
  void (*copy)(void *dst, const void *src, size_t bytes);
  void (*zero)(void *p, size_t bytes);
  void (*synchronize)(void);
  DC_OPS(DC_BACKEND_MEMBER, float)
};

/* The CPU backend (OpenBLAS + OpenMP); always present. */
const struct dc_backend *dc_backend_cpu(void);
/* A backend by name ("cpu", "cuda", "auto"); DC_ERR_ARG when unknown or not built. */
enum dc_status dc_backend_get(const char *name, const struct dc_backend **out);

#endif
