/* Backend selection and the CPU backend's table. */
#include "diffclip/backend.h"

#include <stdlib.h>
#include <string.h>

static void *cpu_alloc(size_t bytes) {
  /* 64-byte alignment for vector loads; calloc semantics (zero-filled). */
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (p) memset(p, 0, rounded ? rounded : 64);
  return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_synchronize(void) {}

#define DC_CPU_ENTRY(ret, name, args) .name = dc_cpu_f32_##name,

static const struct dc_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .synchronize = cpu_synchronize,
    DC_OPS(DC_CPU_ENTRY, float)};

const struct dc_backend *dc_backend_cpu(void) { return &cpu_backend; }

enum dc_status dc_backend_get(const char *name, const struct dc_backend **out) {
  if (name == NULL || strcmp(name, "cpu") == 0 || strcmp(name, "auto") == 0) {
    *out = &cpu_backend;
    return DC_OK;
  }
  return DC_ERROR(DC_ERR_ARG, "backend '%s' is not available in this build (expected \"cpu\" or \"auto\")",
                  name);
}
