/* Adam and AdamW steps: the kernels against an independent double implementation of the
 * textbook update (m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
 * p -= lr m_hat / (sqrt(v_hat) + eps)), compared after step 1 and after step 5 with a
 * different gradient each step; then the float kernel against the golden file's
 * torch.optim.Adam step on real parameters (/pretrain/params, grads, params_after_adam). */
#include <hdf5.h>
#include "diffclip/io/h5util.h"

/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

/* Textbook Adam(W), written from the paper / the PyTorch docs, not from the kernel. */
static void ref_adam(double *p, const double *g, double *m, double *v, size_t n, double lr,
                     double b1, double b2, double eps, double wd, int t, int decoupled) {
  for (size_t i = 0; i < n; i++) {
    double gi = g[i];
    if (decoupled)
      p[i] -= lr * wd * p[i];
    else
      gi += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    double m_hat = m[i] / (1 - pow(b1, t)), v_hat = v[i] / (1 - pow(b2, t));
    p[i] -= lr * m_hat / (sqrt(v_hat) + eps);
  }
}

static double rel_err_norm(const double *a, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}
static double rel_err_norm_f(const float *a, const double *ref, size_t n) {
  double *d = gc_alloc(n);
  for (size_t i = 0; i < n; i++) d[i] = a[i];
  double e = rel_err_norm(d, ref, n);
  free(d);
  return e;
}
static void expect_le(double err, double tol, const char *what) {
  printf("  %-44s rel_err_norm %.3e (tol %.0e)\n", what, err, tol);
  if (!(err <= tol)) {
    fprintf(stderr, "FAIL %s: %.3e > %.0e\n", what, err, tol);
    gc_failures++;
  }
}

static void steps(size_t n, int decoupled) {
  printf("%s n=%zu\n", decoupled ? "AdamW" : "Adam", n);
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
  double *pr = gc_random(n, -1, 1), *mr = gc_alloc(n), *vr = gc_alloc(n);
  double *pd = gc_alloc(n), *md = gc_alloc(n), *vd = gc_alloc(n);
  memcpy(pd, pr, n * sizeof *pd);
  float *pf = gc_to_float(pr, n), *mf = calloc(n, sizeof *mf), *vf = calloc(n, sizeof *vf);
  for (size_t i = 0; i < n; i++) pr[i] = pd[i] = pf[i]; /* one common float start */
  for (int t = 1; t <= 5; t++) {
    double *g = gc_random(n, -1, 1);
    /* Some gradients near eps, where the eps placement matters. */
    for (size_t i = 0; i < n; i += 7) g[i] *= 1e-7;
    float *gf = gc_to_float(g, n);
    for (size_t i = 0; i < n; i++) g[i] = gf[i];
    ref_adam(pr, g, mr, vr, n, lr, b1, b2, eps, wd, t, decoupled);
    dc_cpu_f64_adam_update(pd, g, md, vd, n, lr, b1, b2, eps, wd, t, decoupled);
    dc_cpu_f32_adam_update(pf, gf, mf, vf, n, lr, b1, b2, eps, wd, t, decoupled);
    if (t == 1 || t == 5) {
      char what[64];
      snprintf(what, sizeof what, "step %d f64 param", t);
      expect_le(rel_err_norm(pd, pr, n), 1e-13, what);
      snprintf(what, sizeof what, "step %d f64 m, v", t);
      expect_le(fmax(rel_err_norm(md, mr, n), rel_err_norm(vd, vr, n)), 1e-13, what);
      snprintf(what, sizeof what, "step %d f32 param", t);
      expect_le(rel_err_norm_f(pf, pr, n), 1e-6, what);
      /* The update itself, not only the parameter, must be right in float. */
      double num = 0, den = 0;
      for (size_t i = 0; i < n; i++) {
        num += ((double)pf[i] - pr[i]) * ((double)pf[i] - pr[i]);
        den += 1e-6 * t * t; /* |update| ~ lr per step, t steps */
      }
      snprintf(what, sizeof what, "step %d f32 error vs update size", t);
      expect_le(sqrt(num / den), 1e-2, what);
    }
    free(g);
    free(gf);
  }
  free(pr); free(mr); free(vr); free(pd); free(md); free(vd); free(pf); free(mf); free(vf);
}

/* ---- golden ---- */

/* Reads a dataset of the golden file into buf (at most 4096 values); its size goes to *n,
 * which must match *n when *n >= 0. */
static int read_dataset(hid_t file, const char *name, double *buf, hssize_t *n) {
  struct dc_h5_array a;
  if (dc_h5_read(file, name, 0, &a) != DC_OK) return -1;
  int rc = (a.n > 4096 || (*n >= 0 && (hssize_t)a.n != *n)) ? -1 : 0;
  if (rc) fprintf(stderr, "FAIL dataset %s: %zu elements\n", name, a.n);
  else {
    memcpy(buf, a.data, a.n * sizeof *buf);
    *n = (hssize_t)a.n;
  }
  dc_h5_array_free(&a);
  return rc;
}

static int golden(const char *path) {
  hid_t file;
  if (dc_h5_open_read(path, &file) != DC_OK) return -1;
  double lr, wd, b1, b2, eps;
  int rc = 0;
  rc |= dc_h5_attr_double(file, "/pretrain", "adam_lr", &lr) != DC_OK;
  rc |= dc_h5_attr_double(file, "/pretrain", "adam_weight_decay", &wd) != DC_OK;
  rc |= dc_h5_attr_double(file, "/pretrain", "adam_beta1", &b1) != DC_OK;
  rc |= dc_h5_attr_double(file, "/pretrain", "adam_beta2", &b2) != DC_OK;
  rc |= dc_h5_attr_double(file, "/pretrain", "adam_eps", &eps) != DC_OK;
  if (rc) rc = -1;
  if (rc == 0)
    printf("golden torch.optim.Adam step 1: lr %g wd %g betas %g %g eps %g\n", lr, wd, b1, b2, eps);
  static const char *const names[] = {"blocks.0.attn.qkv.weight", "cls_token", "cls_token_LIDAR"};
  for (size_t k = 0; rc == 0 && k < sizeof names / sizeof *names; k++) {
    static double p[4096], g[4096], want[4096];
    char dp[128], dg[128], dw[128];
    snprintf(dp, sizeof dp, "/pretrain/params/%s", names[k]);
    snprintf(dg, sizeof dg, "/pretrain/grads/%s", names[k]);
    snprintf(dw, sizeof dw, "/pretrain/params_after_adam/%s", names[k]);
    hssize_t n = -1;
    if (read_dataset(file, dp, p, &n) || read_dataset(file, dg, g, &n) ||
        read_dataset(file, dw, want, &n)) {
      rc = -1;
      break;
    }
    size_t un = (size_t)n;
    float *pf = gc_to_float(p, un), *gf = gc_to_float(g, un), *mf = calloc(un, sizeof *mf),
          *vf = calloc(un, sizeof *vf);
    double *md = gc_alloc(un), *vd = gc_alloc(un);
    dc_cpu_f32_adam_update(pf, gf, mf, vf, un, lr, b1, b2, eps, wd, 1, 0);
    dc_cpu_f64_adam_update(p, g, md, vd, un, lr, b1, b2, eps, wd, 1, 0);
    char what[96];
    snprintf(what, sizeof what, "golden f32 %s", names[k]);
    expect_le(rel_err_norm_f(pf, want, un), 1e-6, what);
    /* The double kernel with double hyper-parameters reaches the golden step to double
     * rounding. */
    snprintf(what, sizeof what, "golden f64 %s", names[k]);
    expect_le(rel_err_norm(p, want, un), 1e-12, what);
    free(pf); free(gf); free(mf); free(vf); free(md); free(vd);
  }
  if (H5Fclose(file) < 0) rc = -1;
  return rc;
}

int main(void) {
  gc_seed(41);
  steps(1, 0);
  steps(1000, 0);
  steps(1000, 1);
  steps(10007, 0); /* above the kernel's parallel threshold */
  steps(10007, 1);
  const char *path = getenv("DIFFCLIP_GOLDEN");
  if (path == NULL || *path == '\0') {
    printf("DIFFCLIP_GOLDEN not set: golden comparison skipped\n");
  } else if (golden(path) != 0) {
    gc_failures++;
  }
  return gc_finish("test_op_adam");
}
