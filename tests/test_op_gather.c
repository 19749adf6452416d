/* Masking gather, un-shuffle with a fill token, and strided row copy: exact semantics on a
 * hand-made example with the model's offsets (writing rows 1..K of a (B, K+1, C) block by
 * passing out + C), finite-difference gradients in double (with dinp accumulated, dfill
 * accumulated, dinp of the scatter assigned), and float-vs-double agreement. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    gc_failures++;
  }
}

/* B=2, L=4 rows of C=2, keep K=2 per item; the gathered tokens go to rows 1..2 of a
 * (B, 3, C) buffer whose row 0 is a class token. */
static void hand_example(void) {
  printf("hand example\n");
  enum { B = 2, L = 4, K = 2, C = 2 };
  double inp[B * L * C];
  for (int i = 0; i < B * L * C; i++) inp[i] = i; /* row r of item b holds (b*L+r)*2 + {0,1} */
  int idx[B * K] = {3, 1, 0, 2};
  double seq[B * (K + 1) * C];
  for (int i = 0; i < B * (K + 1) * C; i++) seq[i] = -1;
  dc_cpu_f64_gather_rows(seq + C, K + 1, inp, L, idx, B, K, C);
  double want_seq[B * (K + 1) * C] = {-1, -1, 6, 7, 2, 3, /* item 0: cls, row 3, row 1 */
                                      -1, -1, 8, 9, 12, 13 /* item 1: cls, row 0, row 2 */};
  expect(memcmp(seq, want_seq, sizeof seq) == 0, "gather_rows hand example");

  /* Un-shuffle the K tokens (rows 1..K of seq) back into rows 1..L of a (B, L+1, C) buffer,
   * the fill token everywhere else. */
  double fill[C] = {100, 101}, un[B * (L + 1) * C];
  for (int i = 0; i < B * (L + 1) * C; i++) un[i] = -1;
  dc_cpu_f64_scatter_rows_fill(un + C, L + 1, L, seq + C, K + 1, fill, idx, B, K, C);
  double want_un[B * (L + 1) * C] = {-1, -1, 100, 101, 2, 3, 100, 101, 6, 7,
                                     -1, -1, 8, 9, 100, 101, 12, 13, 100, 101};
  expect(memcmp(un, want_un, sizeof un) == 0, "scatter_rows_fill hand example");

  /* Backward of the scatter: dout = position-coded values. */
  double dout[B * (L + 1) * C], dinp[B * (K + 1) * C], dfill[C] = {0.5, 0.25};
  for (int i = 0; i < B * (L + 1) * C; i++) dout[i] = i;
  for (int i = 0; i < B * (K + 1) * C; i++) dinp[i] = -7;
  dc_cpu_f64_scatter_rows_fill_backward(dinp + C, K + 1, dfill, dout + C, L + 1, L, idx, B, K, C);
  /* item 0: token k=0 came from out row 3 (buffer row 4 -> 8,9), k=1 from row 1 (4,5);
   * item 1: k=0 from row 0 (buffer row 6 of the whole array -> 12,13), k=1 from row 2 (16,17).
   * fill rows: item 0 rows 0,2 (2,3 and 6,7); item 1 rows 1,3 (14,15 and 18,19). */
  double want_dinp[B * (K + 1) * C] = {-7, -7, 8, 9, 4, 5, -7, -7, 12, 13, 16, 17};
  expect(memcmp(dinp, want_dinp, sizeof dinp) == 0, "scatter_rows_fill_backward dinp assigned");
  expect(dfill[0] == 0.5 + 2 + 6 + 14 + 18 && dfill[1] == 0.25 + 3 + 7 + 15 + 19,
         "scatter_rows_fill_backward dfill accumulated over fill rows");

  /* Backward of the gather accumulates into the rows it read. */
  double dg[B * L * C];
  for (int i = 0; i < B * L * C; i++) dg[i] = 1;
  double dseq[B * (K + 1) * C];
  for (int i = 0; i < B * (K + 1) * C; i++) dseq[i] = 10 * i;
  dc_cpu_f64_gather_rows_backward(dg, L, dseq + C, K + 1, idx, B, K, C);
  double want_dg[B * L * C] = {1, 1, 41, 51, 1, 1, 21, 31, 81, 91, 1, 1, 101, 111, 1, 1};
  expect(memcmp(dg, want_dg, sizeof dg) == 0, "gather_rows_backward accumulates");

  /* A repeated index accumulates twice. */
  int rep[2] = {1, 1};
  double one[2 * 1] = {0, 0}, two_rows[2 * 1] = {3, 4};
  dc_cpu_f64_gather_rows_backward(one, 2, two_rows, 2, rep, 1, 2, 1);
  expect(one[0] == 0 && one[1] == 7, "gather_rows_backward repeated index");

  /* copy_rows with different strides leaves the other columns alone. */
  double src[3 * 5], dst[3 * 4];
  for (int i = 0; i < 15; i++) src[i] = i;
  for (int i = 0; i < 12; i++) dst[i] = -1;
  dc_cpu_f64_copy_rows(dst + 1, 4, src + 2, 5, 3, 2);
  double want_dst[12] = {-1, 2, 3, -1, -1, 7, 8, -1, -1, 12, 13, -1};
  expect(memcmp(dst, want_dst, sizeof dst) == 0, "copy_rows strides");
}

/* ---- finite differences ---- */

struct gctx { /* gather into rows 1..K of (B, K+1, C) */
  double *inp, *out, *r;
  int *idx, B, L, K, C;
};
static double gather_loss(void *p) {
  struct gctx *g = p;
  size_t no = (size_t)g->B * (g->K + 1) * g->C;
  memset(g->out, 0, no * sizeof *g->out);
  dc_cpu_f64_gather_rows(g->out + g->C, g->K + 1, g->inp, g->L, g->idx, g->B, g->K, g->C);
  return gc_weighted_sum(g->out, g->r, no);
}

struct sctx { /* scatter rows 0..K-1 of (B, K+1, C) (starting at row 1) into rows 1..L of (B, L+1, C) */
  double *inp, *fill, *out, *r;
  int *idx, B, L, K, C;
};
static double scatter_loss(void *p) {
  struct sctx *s = p;
  size_t no = (size_t)s->B * (s->L + 1) * s->C;
  memset(s->out, 0, no * sizeof *s->out);
  dc_cpu_f64_scatter_rows_fill(s->out + s->C, s->L + 1, s->L, s->inp + s->C, s->K + 1, s->fill,
                               s->idx, s->B, s->K, s->C);
  return gc_weighted_sum(s->out, s->r, no);
}

/* idx (B, K): the first K entries of a random permutation of 0..L-1 per item (MAE keeps). */
static int *random_keep(int B, int L, int K) {
  int *perm = malloc((size_t)L * sizeof *perm), *idx = malloc((size_t)B * K * sizeof *idx);
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < L; i++) perm[i] = i;
    for (int i = L - 1; i > 0; i--) {
      int j = gc_int(0, i), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    memcpy(idx + (size_t)b * K, perm, (size_t)K * sizeof *idx);
  }
  free(perm);
  return idx;
}

static void random_case(int B, int L, int K, int C) {
  printf("gather/scatter B=%d L=%d K=%d C=%d\n", B, L, K, C);
  int *idx = random_keep(B, L, K);
  size_t nl = (size_t)B * L * C, nk = (size_t)B * (K + 1) * C, nl1 = (size_t)B * (L + 1) * C;

  /* gather: dinp accumulates */
  struct gctx g = {gc_random(nl, -1, 1), gc_alloc(nk), gc_random(nk, -1, 1), idx, B, L, K, C};
  double *g0 = gc_random(nl, -1, 1), *dinp = gc_alloc(nl);
  memcpy(dinp, g0, nl * sizeof *dinp);
  dc_cpu_f64_gather_rows_backward(dinp, L, g.r + C, K + 1, idx, B, K, C);
  for (size_t i = 0; i < nl; i++) dinp[i] -= g0[i];
  gc_check("gather dinp", g.inp, dinp, nl, gather_loss, &g, 1e-5, 1e-7, 500);

  float *inf = gc_to_float(g.inp, nl), *outf = calloc(nk, sizeof *outf), *rf = gc_to_float(g.r, nk),
        *dinf = gc_to_float(g0, nl);
  dc_cpu_f32_gather_rows(outf + C, K + 1, inf, L, idx, B, K, C);
  dc_cpu_f32_gather_rows_backward(dinf, L, rf + C, K + 1, idx, B, K, C);
  gather_loss(&g);
  double *dd = gc_alloc(nl);
  memcpy(dd, g0, nl * sizeof *dd);
  dc_cpu_f64_gather_rows_backward(dd, L, g.r + C, K + 1, idx, B, K, C);
  gc_compare_f32("gather forward", outf, g.out, nk, 1e-6);
  gc_compare_f32("gather dinp", dinf, dd, nl, 1e-6);

  /* scatter: dinp assigned (rows 1..K of (B, K+1, C)), dfill accumulates */
  struct sctx s = {gc_random(nk, -1, 1), gc_random(C, -1, 1), gc_alloc(nl1), gc_random(nl1, -1, 1),
                   idx, B, L, K, C};
  double *sd = gc_alloc(nk), *f0 = gc_random(C, -1, 1), *dfill = gc_alloc(C);
  for (size_t i = 0; i < nk; i++) sd[i] = 1234; /* garbage the kernel must overwrite */
  memcpy(dfill, f0, C * sizeof *dfill);
  dc_cpu_f64_scatter_rows_fill_backward(sd + C, K + 1, dfill, s.r + C, L + 1, L, idx, B, K, C);
  for (int c = 0; c < C; c++) dfill[c] -= f0[c];
  for (int b = 0; b < B; b++) /* row 0 of each item is not the kernel's: no gradient there */
    for (int c = 0; c < C; c++) sd[(size_t)b * (K + 1) * C + c] = 0;
  gc_check("scatter dinp", s.inp, sd, nk, scatter_loss, &s, 1e-5, 1e-7, 500);
  gc_check("scatter dfill", s.fill, dfill, C, scatter_loss, &s, 1e-5, 1e-7, 500);

  float *sif = gc_to_float(s.inp, nk), *ff = gc_to_float(s.fill, C), *sof = calloc(nl1, sizeof *sof),
        *srf = gc_to_float(s.r, nl1), *sdf = calloc(nk, sizeof *sdf), *dff = gc_to_float(f0, C);
  dc_cpu_f32_scatter_rows_fill(sof + C, L + 1, L, sif + C, K + 1, ff, idx, B, K, C);
  dc_cpu_f32_scatter_rows_fill_backward(sdf + C, K + 1, dff, srf + C, L + 1, L, idx, B, K, C);
  scatter_loss(&s);
  double *sdd = gc_alloc(nk), *dfd = gc_alloc(C);
  memcpy(dfd, f0, C * sizeof *dfd);
  dc_cpu_f64_scatter_rows_fill_backward(sdd + C, K + 1, dfd, s.r + C, L + 1, L, idx, B, K, C);
  gc_compare_f32("scatter forward", sof, s.out, nl1, 1e-6);
  gc_compare_f32("scatter dinp", sdf, sdd, nk, 1e-6);
  gc_compare_f32("scatter dfill", dff, dfd, C, 1e-5);

  free(idx); free(g.inp); free(g.out); free(g.r); free(g0); free(dinp); free(inf); free(outf);
  free(rf); free(dinf); free(dd); free(s.inp); free(s.fill); free(s.out); free(s.r); free(sd);
  free(f0); free(dfill); free(sif); free(ff); free(sof); free(srf); free(sdf); free(dff); free(sdd);
  free(dfd);
}

/* dfill over more rows than the kernel's bitmap window (4096). */
static void long_fill(void) {
  printf("scatter dfill, L=9000\n");
  enum { L = 9000, K = 3000, C = 3 };
  int *idx = random_keep(1, L, K);
  double *dout = gc_random((size_t)L * C, -1, 1), *dinp = gc_alloc((size_t)K * C), dfill[C] = {0};
  dc_cpu_f64_scatter_rows_fill_backward(dinp, K, dfill, dout, L, L, idx, 1, K, C);
  char *kept = calloc(L, 1);
  for (int k = 0; k < K; k++) kept[idx[k]] = 1;
  double want[C] = {0};
  for (int r = 0; r < L; r++)
    if (!kept[r])
      for (int c = 0; c < C; c++) want[c] += dout[(size_t)r * C + c];
  for (int c = 0; c < C; c++) expect(fabs(dfill[c] - want[c]) <= 1e-9 * (1 + fabs(want[c])),
                                     "dfill over several windows");
  free(idx); free(dout); free(dinp); free(kept);
}

int main(void) {
  gc_seed(23);
  hand_example();
  random_case(2, 5, 2, 3);
  random_case(3, 25, 10, 16); /* the golden model's W=5 grid, keep 10 */
  random_case(gc_int(1, 4), 37, gc_int(1, 36), gc_int(1, 19));
  long_fill();
  return gc_finish("test_op_gather");
}
