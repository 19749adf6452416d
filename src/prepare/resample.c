/* Volume resampling (resample.h): separable index/weight tables per axis, then one pass
 * over the output. The tables keep the inner loop free of divisions. */
#include "diffclip/prepare/resample.h"

#include <math.h>
#include <stdlib.h>

struct axis_map {
  int lo, hi;   /* the two input indices */
  float w_hi;   /* weight of hi; lo gets 1 - w_hi */
};

static void make_axis(struct axis_map *map, int in, int out, int trilinear) {
  double scale = (double)in / (double)out;
  for (int x = 0; x < out; x++) {
    if (!trilinear) {
      int i = (int)floor((x + 0.5) * scale);
      if (i > in - 1) i = in - 1;
      map[x].lo = map[x].hi = i;
      map[x].w_hi = 0.0f;
      continue;
    }
    double src = (x + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    int lo = (int)floor(src);
    if (lo > in - 1) lo = in - 1;
    int hi = lo + 1 < in ? lo + 1 : in - 1;
    map[x].lo = lo;
    map[x].hi = hi;
    map[x].w_hi = (float)(src - lo);
  }
}

enum dc_status dc_resample_volume(const float *in, int S, int H, int W, float *out, int S2, int H2, int W2, int trilinear) {
  struct axis_map stack_s[512], stack_h[1024], stack_w[1024];
  struct axis_map *ms = S2 <= 512 ? stack_s : malloc((size_t)S2 * sizeof *ms);
  struct axis_map *mh = H2 <= 1024 ? stack_h : malloc((size_t)H2 * sizeof *mh);
  struct axis_map *mw = W2 <= 1024 ? stack_w : malloc((size_t)W2 * sizeof *mw);
  enum dc_status st = DC_OK;
  if (!ms || !mh || !mw) {
    st = DC_ERROR(DC_ERR_NOMEM, "resampling to %d x %d x %d: no memory for the index tables", S2, H2, W2);
  } else {
    make_axis(ms, S, S2, trilinear);
    make_axis(mh, H, H2, trilinear);
    make_axis(mw, W, W2, trilinear);
    size_t plane = (size_t)H * (size_t)W;
    for (int s = 0; s < S2; s++) {
      const float *p0 = in + (size_t)ms[s].lo * plane, *p1 = in + (size_t)ms[s].hi * plane;
      float ws = ms[s].w_hi;
      for (int h = 0; h < H2; h++) {
        size_t r0 = (size_t)mh[h].lo * (size_t)W, r1 = (size_t)mh[h].hi * (size_t)W;
        float wh = mh[h].w_hi;
        float *o = out + ((size_t)s * (size_t)H2 + (size_t)h) * (size_t)W2;
        for (int w = 0; w < W2; w++) {
          int c0 = mw[w].lo, c1 = mw[w].hi;
          float ww = mw[w].w_hi;
          float a = p0[r0 + (size_t)c0] * (1 - ww) + p0[r0 + (size_t)c1] * ww;
          float b = p0[r1 + (size_t)c0] * (1 - ww) + p0[r1 + (size_t)c1] * ww;
          float c = p1[r0 + (size_t)c0] * (1 - ww) + p1[r0 + (size_t)c1] * ww;
          float d = p1[r1 + (size_t)c0] * (1 - ww) + p1[r1 + (size_t)c1] * ww;
          float top = a * (1 - wh) + b * wh, bottom = c * (1 - wh) + d * wh;
          o[w] = top * (1 - ws) + bottom * ws;
        }
      }
    }
  }
  if (ms != stack_s) free(ms);
  if (mh != stack_h) free(mh);
  if (mw != stack_w) free(mw);
  return st;
}
