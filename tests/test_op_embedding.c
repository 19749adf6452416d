/* Embedding lookup: forward is an exact row copy; backward is checked by finite differences
 * in double, with repeated ids (the race the kernel must avoid), accumulation into a
 * non-zero dtable, a wide C that spans several column chunks, and float-vs-double. */
/* gradcheck.h defines static helpers that a given test may not use. */
#include "gradcheck.h"

struct ctx {
  double *out, *table, *r;
  int *ids;
  int N, C;
};

static double loss(void *p) {
  struct ctx *c = p;
  dc_cpu_f64_embedding_forward(c->out, c->ids, c->table, c->N, c->C);
  return gc_weighted_sum(c->out, c->r, (size_t)c->N * c->C);
}

static void run(int N, int V, int C) {
  printf("embedding N=%d V=%d C=%d\n", N, V, C);
  size_t nt = (size_t)V * C, no = (size_t)N * C;
  struct ctx c = {gc_alloc(no), gc_random(nt, -1, 1), gc_random(no, -1, 1), malloc(N * sizeof(int)),
                  N, C};
  /* Few classes for many rows: ids repeat. */
  for (int i = 0; i < N; i++) c.ids[i] = gc_int(0, V - 1);

  loss(&c);
  for (int i = 0; i < N; i++)
    for (int k = 0; k < C; k++)
      if (c.out[(size_t)i * C + k] != c.table[(size_t)c.ids[i] * C + k]) {
        fprintf(stderr, "FAIL embedding forward row %d col %d\n", i, k);
        gc_failures++;
        i = N;
        break;
      }

  /* dtable starts non-zero: the kernel must add to it. */
  double *g0 = gc_random(nt, -1, 1), *dtable = gc_alloc(nt);
  memcpy(dtable, g0, nt * sizeof *dtable);
  dc_cpu_f64_embedding_backward(dtable, c.r, c.ids, N, C);
  for (size_t i = 0; i < nt; i++) dtable[i] -= g0[i];
  gc_check("dtable", c.table, dtable, nt, loss, &c, 1e-5, 1e-7, 400);

  float *tf = gc_to_float(c.table, nt), *rf = gc_to_float(c.r, no), *of = calloc(no, sizeof *of),
        *dtf = gc_to_float(g0, nt);
  dc_cpu_f32_embedding_forward(of, c.ids, tf, N, C);
  dc_cpu_f32_embedding_backward(dtf, rf, c.ids, N, C);
  loss(&c); /* gc_check left the last perturbed output in c.out */
  double *dtd = gc_alloc(nt);
  memcpy(dtd, g0, nt * sizeof *dtd);
  dc_cpu_f64_embedding_backward(dtd, c.r, c.ids, N, C);
  gc_compare_f32("forward", of, c.out, no, 1e-6);
  gc_compare_f32("dtable (accumulated)", dtf, dtd, nt, 1e-5);

  /* NULL dtable is skipped. */
  dc_cpu_f64_embedding_backward(NULL, c.r, c.ids, N, C);

  free(c.out); free(c.table); free(c.r); free(c.ids); free(g0); free(dtable);
  free(tf); free(rf); free(of); free(dtf); free(dtd);
}

int main(void) {
  gc_seed(11);
  run(7, 3, 5);
  run(33, 9, 17);
  run(50, 4, 130); /* three column chunks, the last one partial */
  run(gc_int(20, 60), gc_int(2, 40), gc_int(1, 70));
  return gc_finish("test_op_embedding");
}
