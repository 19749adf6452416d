/* The CUDA backend's entry points in a build without CUDA (DIFFCLIP_CUDA=OFF, or no nvcc
 * found): CMake compiles this file instead of src/backend/cuda/, so a request for the
 * GPU gets a clear answer rather than a link error, and "auto" falls back to the CPU. */
#include "diffclip/backend/backend.h"

#include <stdio.h>

int dc_backend_cuda_available(void) { return 0; }
int dc_backend_cuda_device_count(void) { return 0; }

enum dc_status dc_backend_cuda(int exact, const struct dc_backend **out) {
  (void)exact;
  *out = NULL;
  return DC_ERROR(DC_ERR_BACKEND,
                  "backend 'cuda' is not in this build: configure with -DDIFFCLIP_CUDA=ON on a machine with the "
                  "CUDA Toolkit (nvcc), or use --backend cpu");
}

void dc_backend_cuda_library_info(char *out, size_t cap) { snprintf(out, cap, "CUDA not in this build"); }
