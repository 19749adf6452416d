/* Under mpirun -np 2 (or more): checkpoints round-trip bit for bit (parameters, BatchNorm
 * statistics, sharded Adam moments, state), re-shard onto a different rank count, keep
 * only the newest K, and a corrupt or truncated newest checkpoint makes resume fall back
 * to the one before; an edited state attribute (step, epoch, ...) fails verification. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/checkpoint.h"
#include "diffclip/train/train.h"

#include "expect.h"

/* Flips the lowest bit of a numeric attribute, or of a string attribute's first character,
 * in place: the edit a stray bit flip or a hand "fix" would make. */
static int flip_attr_bit(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = f >= 0 ? H5Aopen(f, name, H5P_DEFAULT) : -1, t = a >= 0 ? H5Aget_type(a) : -1;
  int rc = -1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
    char *v = NULL;
    hid_t mt = H5Tcopy(t);
    if (H5Tis_variable_str(t) > 0 && H5Aread(a, mt, &v) >= 0 && v && v[0]) {
      char *w = strdup(v);
      w[0] ^= 1;
      rc = H5Awrite(a, mt, &w) < 0 ? -1 : 0;
      free(w);
      H5free_memory(v);
    } else if (H5Tis_variable_str(t) == 0) {
      size_t n = H5Tget_size(t);
      char *w = calloc(n + 1, 1);
      if (w && H5Aread(a, mt, w) >= 0 && n > 0) {
        w[0] ^= 1;
        rc = H5Awrite(a, mt, w) < 0 ? -1 : 0;
      }
      free(w);
    }
    H5Tclose(mt);
  } else if (t >= 0) {
    long long v;
    if (H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0) {
      v ^= 1;
      rc = H5Awrite(a, H5T_NATIVE_LLONG, &v) < 0 ? -1 : 0;
    }
  }
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  if (f >= 0) H5Fclose(f);
  return rc;
}

static void tiny_config(struct dc_model_config *c) {
  int bands[2] = {5, 2};
  dc_model_config_paper(c, 2, bands);
  c->window = 3;
  c->stem_width[0] = c->stem_width[1] = 8;
  c->embed_dim = 8;
  c->depth = 1;
  c->heads = 2;
  c->decoder_dim = 8;
  c->decoder_depth = 1;
  c->decoder_heads = 2;
  c->mask_ratio = 0.5;
}

static int same(const struct dc_backend *be, const float *a, const float *b, size_t n) {
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  be->download(x, a, n * sizeof *x);
  be->download(y, b, n * sizeof *y);
  int eq = memcmp(x, y, n * sizeof *x) == 0;
  free(x);
  free(y);
  return eq;
}

/* A model with trained-looking state: initialised, one real step taken. */
static void make_model(struct dc_pretrain *p, struct dc_adam *adam, uint64_t seed) {
  struct dc_model_config cfg;
  tiny_config(&cfg);
  const struct dc_backend *be = dc_backend_cpu();
  if (dc_pretrain_init(p, &cfg, 4, be) != DC_OK || dc_init_weights(&p->params, &p->buffers, &cfg, seed) != DC_OK ||
      dc_adam_init(adam, &p->params, 1e-3, 1e-4, 0) != DC_OK)
    abort();
  int L = dc_cfg_tokens(&cfg);
  float *x0[2] = {calloc((size_t)4 * L * 5, sizeof(float)), calloc((size_t)4 * L * 2, sizeof(float))};
  for (int i = 0; i < 4 * L * 5; i++) x0[0][i] = (float)((i * 37 + (int)seed) % 11) / 11.0f;
  for (int i = 0; i < 4 * L * 2; i++) x0[1][i] = (float)((i * 17 + (int)seed) % 7) / 7.0f;
  if (dc_pretrain_prepare(p, (const float *const *)x0, seed, 0) != DC_OK || dc_pretrain_forward(p) != DC_OK ||
      dc_pretrain_backward(p) != DC_OK)
    abort();
  dc_adam_step(adam, &p->params, 1e-3);
  free(x0[0]);
  free(x0[1]);
}

static void compare_models(const struct dc_pretrain *a, const struct dc_adam *aa, const struct dc_pretrain *b,
                           const struct dc_adam *ab, const char *what) {
  const struct dc_backend *be = a->params.be;
  EXPECT(same(be, a->params.params, b->params.params, a->params.n_total), "%s: parameters differ", what);
  EXPECT(same(be, a->buffers.params, b->buffers.params, a->buffers.n_total), "%s: BatchNorm statistics differ", what);
  EXPECT(same(be, aa->m, ab->m, aa->n) && same(be, aa->v, ab->v, aa->n), "%s: Adam moments differ", what);
  EXPECT(aa->step == ab->step, "%s: Adam step %d != %d", what, aa->step, ab->step);
}

int main(int argc, char **argv) {
  struct dc_dist d;
  if (dc_dist_init(&d, &argc, &argv) != DC_OK) return 1;
  char dir[256] = "";
  if (d.rank == 0) {
    snprintf(dir, sizeof dir, "/tmp/dc_ckpt_test_XXXXXX");
    if (!mkdtemp(dir)) abort();
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, d.comm);
  struct dc_pretrain *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  struct dc_adam aa, ab;
  make_model(a, &aa, 1);
  make_model(b, &ab, 2); /* different state, to be overwritten by the read */
  struct dc_ckpt_state st = {.kind = "pretrain", .step = 7, .epoch = 1, .sched_epoch = 1.75, .adam_step = aa.step,
                             .seed = 42, .samples_seen = 28, .config_sha256 = "abc123", .train_seconds = 12.5};

  /* 1. round trip at this rank count */
  EXPECT(dc_ckpt_write(&d, dir, "ckpt_00000007.h5", &a->params, &a->buffers, &aa, &st, "model = {};", NULL, 2) == DC_OK,
         "write");
  char path[1024];
  snprintf(path, sizeof path, "%s/ckpt_00000007.h5", dir);
  if (d.rank == 0) EXPECT(dc_ckpt_verify(path, 1) == DC_OK, "verify %s", path);
  struct dc_ckpt_state back;
  EXPECT(dc_ckpt_read(&d, path, &b->params, &b->buffers, &ab, &back) == DC_OK, "read");
  compare_models(a, &aa, b, &ab, "round trip");
  EXPECT(back.step == 7 && back.epoch == 1 && back.sched_epoch == 1.75 && back.seed == 42 && back.samples_seen == 28 &&
             back.train_seconds == 12.5 && back.world_size == d.size && strcmp(back.config_sha256, "abc123") == 0 && strcmp(back.kind, "pretrain") == 0,
         "state round trip");

  /* 2. re-shard: rank 0 alone reads what all ranks wrote */
  MPI_Comm solo;
  MPI_Comm_split(d.comm, d.rank == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
  if (d.rank == 0) {
    struct dc_dist one = {.rank = 0, .size = 1, .local_rank = 0, .local_size = 1, .comm = solo};
    struct dc_pretrain *c = calloc(1, sizeof *c);
    struct dc_adam ac;
    make_model(c, &ac, 3);
    EXPECT(dc_ckpt_read(&one, path, &c->params, &c->buffers, &ac, &back) == DC_OK, "read on 1 rank");
    compare_models(a, &aa, c, &ac, "re-shard to 1 rank");
    dc_adam_free(&ac, dc_backend_cpu());
    dc_pretrain_free(c);
    free(c);
    MPI_Comm_free(&solo);
  }

  /* 2b. every state attribute is covered by the stored digest */
  if (d.rank == 0) {
    const char *attrs[] = {"step", "epoch", "adam_step", "samples_seen", "seed", "world_size", "config_sha256", "kind",
                           "train_seconds"};
    char copy[1100], cmd[2300];
    snprintf(copy, sizeof copy, "%s.edited", path);
    for (int i = 0; i < (int)(sizeof attrs / sizeof *attrs); i++) {
      snprintf(cmd, sizeof cmd, "cp %s %s", path, copy);
      EXPECT(system(cmd) == 0 && flip_attr_bit(copy, attrs[i]) == 0, "flip a bit of attribute %s", attrs[i]);
      EXPECT(dc_ckpt_verify(copy, 0) != DC_OK, "a flipped bit in attribute %s must fail verification", attrs[i]);
    }
    remove(copy);
    EXPECT(dc_ckpt_verify(path, 0) == DC_OK, "the unedited checkpoint still verifies");
  }

  /* 3. keep the newest 2; a truncated newest one makes resume fall back */
  st.step = 8;
  EXPECT(dc_ckpt_write(&d, dir, "ckpt_00000008.h5", &a->params, &a->buffers, &aa, &st, NULL, NULL, 2) == DC_OK, "write 8");
  st.step = 9;
  EXPECT(dc_ckpt_write(&d, dir, "ckpt_00000009.h5", &a->params, &a->buffers, &aa, &st, NULL, NULL, 2) == DC_OK, "write 9");
  char found[1024];
  EXPECT(dc_ckpt_find_resume(&d, dir, found, sizeof found) == DC_OK && strstr(found, "ckpt_00000009.h5"),
         "resume picks the newest, got '%s'", found);
  if (d.rank == 0) {
    EXPECT(access(path, F_OK) != 0, "ckpt 7 should have been removed (keep 2)");
    char p9[1024];
    snprintf(p9, sizeof p9, "%s/ckpt_00000009.h5", dir);
    FILE *f = fopen(p9, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    EXPECT(truncate(p9, size / 2) == 0, "truncate");
  }
  EXPECT(dc_ckpt_find_resume(&d, dir, found, sizeof found) == DC_OK && strstr(found, "ckpt_00000008.h5"),
         "resume falls back past a truncated checkpoint, got '%s'", found);

  /* 3b. a bad `latest` (garbage, empty, outside the folder) is passed over */
  const char *bad_latest[] = {"\x01\x02garbage", "", "../../ckpt_00000008.h5"};
  for (int i = 0; i < 3; i++) {
    if (d.rank == 0) {
      char lp[1024];
      snprintf(lp, sizeof lp, "%s/latest", dir);
      FILE *lf = fopen(lp, "w");
      fputs(bad_latest[i], lf);
      fclose(lf);
    }
    EXPECT(dc_ckpt_find_resume(&d, dir, found, sizeof found) == DC_OK && strstr(found, "ckpt_00000008.h5"),
           "bad latest %d: resume still finds the newest readable checkpoint, got '%s'", i, found);
  }

  /* 4. a flipped byte inside a dataset is caught by its checksum */
  if (d.rank == 0) {
    char p8[1024];
    snprintf(p8, sizeof p8, "%s/ckpt_00000008.h5", dir);
    FILE *f = fopen(p8, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    int corrupted = 0;
    /* flip a byte in the bulk of the file, away from the superblock */
    for (long at = size / 2; at < size - 16 && !corrupted; at += 997) {
      fseek(f, at, SEEK_SET);
      int c = fgetc(f);
      fseek(f, at, SEEK_SET);
      fputc(c ^ 0x5a, f);
      fflush(f);
      corrupted = dc_ckpt_verify(p8, 0) != DC_OK;
      if (!corrupted) { /* landed in padding: undo and move on */
        fseek(f, at, SEEK_SET);
        fputc(c, f);
        fflush(f);
      }
    }
    fclose(f);
    EXPECT(corrupted, "no single-byte corruption of %s was detected", p8);
  }
  /* every checkpoint unreadable: an error on every rank, never a silent start from step 0 */
  found[0] = '\0';
  EXPECT(dc_ckpt_find_resume(&d, dir, found, sizeof found) != DC_OK && found[0] == '\0',
         "with both checkpoints corrupt, resume must refuse (got '%s')", found);

  int total = 0;
  MPI_Allreduce(&g_fails, &total, 1, MPI_INT, MPI_SUM, d.comm);
  if (d.rank == 0) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("test_mpi_checkpoint: %d ranks, %d failure(s)\n", d.size, total);
  }
  dc_adam_free(&aa, dc_backend_cpu());
  dc_adam_free(&ab, dc_backend_cpu());
  dc_pretrain_free(a);
  dc_pretrain_free(b);
  free(a);
  free(b);
  dc_dist_finalize(&d);
  return total ? 1 : 0;
}
