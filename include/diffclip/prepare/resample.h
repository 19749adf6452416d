/* Volume resampling for exam datasets (MRNet): a (S, H, W) volume to a fixed (S', H', W').
 *
 * Both methods use half-pixel centres: output index x maps to input coordinate
 * (x + 0.5) * in / out - 0.5 (PyTorch's interpolate with align_corners = False).
 * Trilinear interpolates the 8 neighbours, clamping at the edges; nearest takes the voxel
 * containing the output centre, floor((x + 0.5) * in / out) (PyTorch's "nearest-exact"). */
#ifndef DIFFCLIP_RESAMPLE_H
#define DIFFCLIP_RESAMPLE_H

#include "diffclip/core/status.h"

/* in (S, H, W) -> out (S2, H2, W2); sizes >= 1. DC_ERR_NOMEM only for very large sizes. */
enum dc_status dc_resample_volume(const float *in, int S, int H, int W, float *out, int S2, int H2, int W2, int trilinear);

#endif
