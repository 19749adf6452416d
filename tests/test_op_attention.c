/* Multi-head attention, causal and not: forward (out and the probabilities) against a
 * direct double computation, every probability row summing to 1 with masked entries
 * exactly 0, backward against central differences over all of q, k and v, float kernels
 * against double, dqkv assigned; the pooled forms (one query row per sequence) against
 * the full ones' rows; in bf16, where the CPU has it, within bf16's rounding of double.
 * Shapes are odd on purpose, with T = 1 as an edge case. */
#include "diffclip/backend/backend.h"
#include "gradcheck.h"

struct attn_ctx {
  double *out, *att, *qkv, *r; /* (B,T,C) (B,NH,T,T) (B,T,3C) (B,T,C) */
  int B, T, C, NH, causal;
};

static double attn_loss(void *p) {
  struct attn_ctx *c = p;
  dc_cpu_f64_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH, c->causal);
  return gc_weighted_sum(c->out, c->r, (size_t)c->B * c->T * c->C);
}

static void fail_if(int bad, const char *what, double err) {
  if (bad) {
    fprintf(stderr, "FAIL %s (err %.3g)\n", what, err);
    gc_failures++;
  }
}

/* out and att of one (b, h) straight from the definition */
static void attn_ref_head(double *out, double *att, const double *qkv, int b, int h, int T, int C,
                          int NH, int causal) {
  int hs = C / NH;
  double *s = gc_alloc(T);
  for (int t = 0; t < T; t++) {
    const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
    double mx = -INFINITY, sum = 0;
    for (int u = 0; u < T; u++) {
      const double *k = qkv + ((size_t)b * T + u) * 3 * C + C + h * hs;
      double d = 0;
      for (int i = 0; i < hs; i++) d += q[i] * k[i];
      s[u] = d / sqrt((double)hs);
      if (causal && u > t) s[u] = -INFINITY;
      mx = fmax(mx, s[u]);
    }
    for (int u = 0; u < T; u++) sum += s[u] = exp(s[u] - mx);
    double *a = att + (((size_t)b * NH + h) * T + t) * T;
    for (int u = 0; u < T; u++) a[u] = s[u] / sum;
    for (int i = 0; i < hs; i++) {
      double o = 0;
      for (int u = 0; u < T; u++) o += a[u] * qkv[((size_t)b * T + u) * 3 * C + 2 * C + h * hs + i];
      out[((size_t)b * T + t) * C + h * hs + i] = o;
    }
  }
  free(s);
}

/* The pooled forms (one query row pool[b] per sequence) are those rows of the full ones:
 * out and the probability row of attention_forward there; dqkv that of
 * attention_backward with the output gradient at those rows only. c holds the full
 * forward (c->out, c->att) of c->qkv; qkv_f is c->qkv in float. */
static void check_pooled(struct attn_ctx *c, const float *qkv_f) {
  int B = c->B, T = c->T, C = c->C, NH = c->NH, *pool = malloc((size_t)B * sizeof *pool);
  for (int b = 0; b < B; b++) pool[b] = b == 0 ? T - 1 : gc_int(0, T - 1); /* the last row too */
  size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
  double *out = gc_alloc((size_t)B * C), *att = gc_alloc((size_t)B * NH * T), *out_n = gc_alloc((size_t)B * C);
  double *dout = gc_random((size_t)B * C, -1, 1), *dfull = gc_alloc(nout), *dqkv = gc_alloc(nqkv);
  double *dref = gc_alloc(nqkv);
  for (size_t i = 0; i < (size_t)B * NH * T; i++) att[i] = NAN; /* every entry must be written */
  for (size_t i = 0; i < nqkv; i++) dqkv[i] = 1e6;
  dc_cpu_f64_attention_pooled_forward(out, att, c->qkv, pool, B, T, C, NH, c->causal);
  dc_cpu_f64_attention_pooled_forward(out_n, NULL, c->qkv, pool, B, T, C, NH, c->causal);
  double worst = 0;
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < C; i++) {
      worst = fmax(worst, fabs(out[(size_t)b * C + i] - c->out[((size_t)b * T + pool[b]) * C + i]));
      worst = fmax(worst, fabs(out_n[(size_t)b * C + i] - out[(size_t)b * C + i]));
      dfull[((size_t)b * T + pool[b]) * C + i] = dout[(size_t)b * C + i];
    }
    for (int h = 0; h < NH; h++)
      for (int u = 0; u < T; u++)
        worst = fmax(worst, fabs(att[((size_t)b * NH + h) * T + u] - c->att[(((size_t)b * NH + h) * T + pool[b]) * T + u]));
  }
  fail_if(!(worst <= 1e-14), "pooled attention forward vs the full one's rows", worst);
  dc_cpu_f64_attention_backward(dref, dfull, c->qkv, c->att, B, T, C, NH);
  dc_cpu_f64_attention_pooled_backward(dqkv, dout, c->qkv, att, pool, B, T, C, NH);
  double wb = 0;
  for (size_t i = 0; i < nqkv; i++) wb = fmax(wb, fabs(dqkv[i] - dref[i]));
  fail_if(!(wb <= 1e-13), "pooled attention backward vs the full one's", wb);
  printf("  pooled rows: forward within %.1e of the full one's rows, backward %.1e\n", worst, wb);
  /* float kernels on the same data */
  float *out_f = calloc((size_t)B * C, sizeof *out_f), *att_f = calloc((size_t)B * NH * T, sizeof *att_f);
  float *dout_f = gc_to_float(dout, (size_t)B * C), *dqkv_f = calloc(nqkv, sizeof *dqkv_f);
  dc_cpu_f32_attention_pooled_forward(out_f, att_f, qkv_f, pool, B, T, C, NH, c->causal);
  dc_cpu_f32_attention_pooled_backward(dqkv_f, dout_f, qkv_f, att_f, pool, B, T, C, NH);
  gc_compare_f32("pooled attention out", out_f, out, (size_t)B * C, 1e-5);
  gc_compare_f32("pooled attention att", att_f, att, (size_t)B * NH * T, 5e-7);
  gc_compare_f32("pooled attention dqkv", dqkv_f, dqkv, nqkv, 1e-5);
  free(pool), free(out), free(att), free(out_n), free(dout), free(dfull), free(dqkv), free(dref);
  free(out_f), free(att_f), free(dout_f), free(dqkv_f);
}

static void check_attention(int B, int T, int C, int NH, int causal, double spread) {
  printf("attention B=%d T=%d C=%d NH=%d causal=%d\n", B, T, C, NH, causal);
  size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
  struct attn_ctx c = {gc_alloc(nout), gc_alloc(natt), gc_random(nqkv, -spread, spread),
                       gc_random(nout, -1, 1), B, T, C, NH, causal};

  /* forward against the definition */
  double *ref_out = gc_alloc(nout), *ref_att = gc_alloc(natt);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) attn_ref_head(ref_out, ref_att, c.qkv, b, h, T, C, NH, causal);
  for (size_t i = 0; i < natt; i++) c.att[i] = NAN; /* every entry must be written */
  attn_loss(&c);
  double worst = 0;
  for (size_t i = 0; i < nout; i++) worst = fmax(worst, fabs(c.out[i] - ref_out[i]));
  for (size_t i = 0; i < natt; i++) worst = fmax(worst, fabs(c.att[i] - ref_att[i]));
  fail_if(!(worst <= 1e-13), "attention forward vs definition", worst);

  /* rows are distributions; masked keys have probability exactly 0 */
  double worst_sum = 0;
  int masked_nonzero = 0;
  for (size_t row = 0; row < (size_t)B * NH * T; row++) {
    int t = (int)(row % T);
    double s = 0;
    for (int u = 0; u < T; u++) {
      s += c.att[row * T + u];
      if (causal && u > t && c.att[row * T + u] != 0) masked_nonzero++;
    }
    worst_sum = fmax(worst_sum, fabs(s - 1));
  }
  fail_if(!(worst_sum <= 1e-14), "attention probability rows do not sum to 1", worst_sum);
  fail_if(masked_nonzero != 0, "attention masked probabilities not 0", masked_nonzero);
  printf("  att  rows sum to 1 (max dev %.1e), %s\n", worst_sum,
         causal ? "masked entries 0" : "no mask");

  /* backward: dqkv pre-filled with garbage, every entry must be assigned */
  double *dqkv = gc_alloc(nqkv);
  for (size_t i = 0; i < nqkv; i++) dqkv[i] = 1e6;
  dc_cpu_f64_attention_backward(dqkv, c.r, c.qkv, c.att, B, T, C, NH);
  /* every element of the small cases; a sample spread over q, k and v of the large one */
  gc_check(causal ? "attention dqkv (causal)" : "attention dqkv", c.qkv, dqkv, nqkv, attn_loss, &c,
           1e-5, 1e-6, nqkv > 5000 ? 400 : 2000);

  /* float kernels on the same data */
  attn_loss(&c);
  float *qkv_f = gc_to_float(c.qkv, nqkv), *r_f = gc_to_float(c.r, nout);
  float *out_f = calloc(nout, sizeof *out_f), *att_f = calloc(natt, sizeof *att_f);
  float *dqkv_f = calloc(nqkv, sizeof *dqkv_f);
  for (size_t i = 0; i < nqkv; i++) dqkv_f[i] = 1e6f;
  dc_cpu_f32_attention_forward(out_f, att_f, qkv_f, B, T, C, NH, causal);
  dc_cpu_f32_attention_backward(dqkv_f, r_f, qkv_f, att_f, B, T, C, NH);
  gc_compare_f32("attention out", out_f, c.out, nout, 1e-5);
  /* probabilities are at most 1: float rounding keeps them within ~1e-7, while a sloppy
   * exponential (the float build has its own) shows up at 1e-6 */
  gc_compare_f32("attention att", att_f, c.att, natt, 5e-7);
  gc_compare_f32("attention dqkv", dqkv_f, dqkv, nqkv, 1e-5);
  /* inference: without att (not kept) the output is the same to the bit, in both builds */
  float *out_n = calloc(nout, sizeof *out_n);
  double *out_d = gc_alloc(nout);
  dc_cpu_f32_attention_forward(out_n, NULL, qkv_f, B, T, C, NH, causal);
  dc_cpu_f64_attention_forward(out_d, NULL, c.qkv, B, T, C, NH, causal);
  fail_if(memcmp(out_n, out_f, nout * sizeof *out_n) != 0, "attention forward without att (f32) differs", 0);
  fail_if(memcmp(out_d, c.out, nout * sizeof *out_d) != 0, "attention forward without att (f64) differs", 0);
  free(out_n), free(out_d);

  check_pooled(&c, qkv_f);

  /* bf16 (run.precision): on a CPU with bf16 instructions the fast path's products round
   * their operands to bfloat16 (8 bits of mantissa: ~4e-3 relative each), so out and dqkv
   * are held to 1e-2 of double, and must differ from fp32 where the fast path runs (hs <=
   * 16, T <= 128), which shows bf16 in effect; the probabilities (float softmax of bf16
   * scores) also to 1e-2. Measured: at most 5.6e-3. */
  if (dc_backend_set_precision(DC_PRECISION_BF16) == DC_PRECISION_BF16) {
    float *out_b = calloc(nout, sizeof *out_b), *att_b = calloc(natt, sizeof *att_b);
    float *dqkv_b = calloc(nqkv, sizeof *dqkv_b);
    for (size_t i = 0; i < nqkv; i++) dqkv_b[i] = 1e6f;
    dc_cpu_f32_attention_forward(out_b, att_b, qkv_f, B, T, C, NH, causal);
    dc_cpu_f32_attention_backward(dqkv_b, r_f, qkv_f, att_b, B, T, C, NH);
    dc_backend_set_precision(DC_PRECISION_FP32);
    double e_out = gc_compare_f32("attention out (bf16)", out_b, c.out, nout, 1e-2);
    gc_compare_f32("attention att (bf16)", att_b, c.att, natt, 1e-2);
    double e_dq = gc_compare_f32("attention dqkv (bf16)", dqkv_b, dqkv, nqkv, 1e-2);
    if (C / NH <= 16 && T <= 128 && T > 1 && !(e_out > 1e-5 && e_dq > 1e-5))
      fail_if(1, "attention bf16: errors as small as fp32's, bf16 not in effect", fmax(e_out, e_dq));
    int masked_b = 0;
    for (size_t row = 0; causal && row < (size_t)B * NH * T; row++)
      for (int u = (int)(row % T) + 1; u < T; u++) masked_b += att_b[row * T + u] != 0;
    fail_if(masked_b != 0, "attention bf16: masked probabilities not 0", masked_b);
    free(out_b), free(att_b), free(dqkv_b);
  }

  free(c.out), free(c.att), free(c.qkv), free(c.r), free(ref_out), free(ref_att), free(dqkv);
  free(qkv_f), free(r_f), free(out_f), free(att_f), free(dqkv_f);
}

int main(void) {
  gc_seed(31337);
  if (dc_backend_set_precision(DC_PRECISION_BF16) != DC_PRECISION_BF16)
    printf("bf16 attention: skipped, this CPU has no bf16 instructions\n");
  dc_backend_set_precision(DC_PRECISION_FP32);
  for (int causal = 0; causal <= 1; causal++) {
    check_attention(3, 7, 12, 3, causal, 1);
    check_attention(2, 1, 8, 2, causal, 1); /* T = 1: a single key, probability 1 */
    check_attention(gc_int(1, 3), gc_int(2, 11), 5, 1, causal, 1); /* one head, odd hs */
    check_attention(gc_int(1, 3), gc_int(2, 11), 6 * gc_int(1, 3), 6, causal, 1);
    check_attention(2, gc_int(9, 17), 20, 4, causal, 2.5); /* peaked softmax */
    check_attention(2, 37, 128, 8, causal, 1); /* the hot shape: hs = 16 */
    /* the float kernels' fast path (AVX-512, hs <= 16, T <= 128) at the image encoder's
     * 121 tokens (11 blocks of 11 queries), the decoder's 122 (one block of 12, ten of 11:
     * blocks of different sizes, odd ones in bf16's row pairs), a random length, and past
     * its capacity (the general kernels) */
    check_attention(1, 121, 32, 2, causal, 2);
    check_attention(1, 122, 32, 2, causal, 2);
    check_attention(1, gc_int(38, 128), 16, 1, causal, 1);
    check_attention(1, 130, 32, 2, causal, 1);
  }
  return gc_finish("test_op_attention");
}
