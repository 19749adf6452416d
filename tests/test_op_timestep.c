/* Sinusoidal timestep features against the golden reference table computed by the DiT
 * formula in PyTorch (float64): /reference/t (5, int64) and /reference/timestep_freq_256
 * (5, 256), read from the file named by DIFFCLIP_GOLDEN. The float kernel must match to a
 * relative error norm of 1e-6, the double kernel to 1e-12. Without the variable the test
 * prints "skipped" and passes. */
#include <hdf5.h>
#include "diffclip/io/h5util.h"

/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

enum { NT = 5, HALF = 128, DIM = 2 * HALF };

static double rel_err_norm_f(const float *a, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return sqrt(num / den);
}
static double rel_err_norm_d(const double *a, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return sqrt(num / den);
}

int main(void) {
  const char *path = getenv("DIFFCLIP_GOLDEN");
  if (path == NULL || *path == '\0') {
    printf("test_op_timestep: DIFFCLIP_GOLDEN not set, skipped\n");
    return 0;
  }
  static double ref[NT * DIM];
  int t[NT];
  hid_t file;
  struct dc_h5_array ta = {0}, ra = {0};
  if (dc_h5_open_read(path, &file) != DC_OK) return 1;
  int rc = dc_h5_read(file, "/reference/t", 1, &ta) == DC_OK &&
                   dc_h5_read(file, "/reference/timestep_freq_256", 0, &ra) == DC_OK
               ? 0
               : -1;
  if (rc == 0 && (ta.n != NT || ra.n != NT * DIM)) {
    fprintf(stderr, "FAIL reference tables have %zu and %zu values, expected %d and %d\n", ta.n, ra.n, NT, NT * DIM);
    rc = -1;
  }
  if (rc == 0) {
    for (int i = 0; i < NT; i++) t[i] = (int)ta.ints[i];
    memcpy(ref, ra.data, sizeof ref);
  }
  dc_h5_array_free(&ta);
  dc_h5_array_free(&ra);
  if (H5Fclose(file) < 0) rc = -1;
  if (rc != 0) return 1;
  printf("t = %d %d %d %d %d\n", t[0], t[1], t[2], t[3], t[4]);

  static float outf[NT * DIM];
  static double outd[NT * DIM];
  dc_cpu_f32_timestep_embedding(outf, t, NT, HALF, 10000.0f);
  dc_cpu_f64_timestep_embedding(outd, t, NT, HALF, 10000.0);
  double ef = rel_err_norm_f(outf, ref, NT * DIM), ed = rel_err_norm_d(outd, ref, NT * DIM);
  printf("  float  relative error norm %.3e (tol 1e-6)\n", ef);
  printf("  double relative error norm %.3e (tol 1e-12)\n", ed);
  if (!(ef <= 1e-6)) {
    fprintf(stderr, "FAIL float timestep embedding vs golden: %.3e > 1e-6\n", ef);
    gc_failures++;
  }
  if (!(ed <= 1e-12)) {
    fprintf(stderr, "FAIL double timestep embedding vs golden: %.3e > 1e-12\n", ed);
    gc_failures++;
  }
  /* The layout itself: cos block first (t = 0 gives ones then zeros). */
  if (t[0] == 0 && !(outf[0] == 1.0f && outf[HALF - 1] == 1.0f && outf[HALF] == 0.0f)) {
    fprintf(stderr, "FAIL t=0 row is not [1..1, 0..0]\n");
    gc_failures++;
  }
  return gc_finish("test_op_timestep");
}
