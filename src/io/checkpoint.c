/* Parallel-HDF5 checkpoints (see checkpoint.h): MPI-IO file access with collective
 * metadata, one collective transfer per dataset, the Adam moments written as one hyperslab
 * per rank, Fletcher32 on every dataset, temp name + rename + atomic `latest` pointer. */
#include "diffclip/io/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "diffclip/core/sha256.h"

#define CHUNK_MAX ((hsize_t)1 << 20)

/* ---- attribute helpers (collective in a parallel file: every rank calls them) ---- */
static int attr_write(hid_t obj, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  int bad = space < 0 || a < 0 || H5Awrite(a, type, value) < 0;
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  return bad;
}
static int attr_write_str(hid_t obj, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(value) + 1);
  int bad = attr_write(obj, name, t, value);
  H5Tclose(t);
  return bad;
}
static int attr_read(hid_t obj, const char *name, hid_t type, void *value) {
  if (H5Aexists(obj, name) <= 0) return 1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  int bad = a < 0 || H5Aread(a, type, value) < 0;
  if (a >= 0) H5Aclose(a);
  return bad;
}
static int attr_read_str(hid_t obj, const char *name, char *buf, size_t cap) {
  if (H5Aexists(obj, name) <= 0) return 1;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t t = a >= 0 ? H5Aget_type(a) : -1;
  int bad = a < 0 || t < 0 || H5Tget_class(t) != H5T_STRING || H5Tget_size(t) > cap;
  if (!bad) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5Tget_size(t));
    bad = H5Aread(a, mt, buf) < 0;
    H5Tclose(mt);
  }
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  return bad;
}

/* A float32 dataset of `dims`, chunked, Fletcher32. The rows [lo, hi) of the flattened
 * data come from `data` on this rank (lo == hi: this rank writes nothing). Collective. */
static int write_floats(hid_t parent, const char *name, int ndim, const hsize_t *dims, const float *data,
                        hsize_t lo, hsize_t hi, hid_t dxpl) {
  hsize_t n = 1, flat[1];
  for (int i = 0; i < ndim; i++) n *= dims[i];
  flat[0] = n;
  hsize_t chunk[1] = {n < CHUNK_MAX ? (n ? n : 1) : CHUNK_MAX};
  /* stored flat with the shape as an attribute: chunking and hyperslabs stay 1-D */
  hid_t space = H5Screate_simple(1, flat, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  int bad = space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0;
  hid_t ds = bad ? -1 : H5Dcreate2(parent, name, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (ds < 0) bad = 1;
  if (!bad) {
    long long shape[4] = {0, 0, 0, 0};
    for (int i = 0; i < ndim && i < 4; i++) shape[i] = (long long)dims[i];
    hsize_t four = 4;
    hid_t s4 = H5Screate_simple(1, &four, NULL);
    hid_t a = H5Acreate2(ds, "shape", H5T_NATIVE_LLONG, s4, H5P_DEFAULT, H5P_DEFAULT);
    bad = s4 < 0 || a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, shape) < 0;
    if (a >= 0) H5Aclose(a);
    if (s4 >= 0) H5Sclose(s4);
  }
  if (!bad) {
    hsize_t count[1] = {hi - lo};
    hid_t mem = H5Screate_simple(1, count[0] ? count : (hsize_t[]){1}, NULL);
    if (count[0]) {
      H5Sselect_hyperslab(space, H5S_SELECT_SET, (hsize_t[]){lo}, NULL, count, NULL);
    } else {
      H5Sselect_none(space);
      H5Sselect_none(mem);
    }
    bad = mem < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, dxpl, data) < 0;
    if (mem >= 0) H5Sclose(mem);
  }
  if (ds >= 0) H5Dclose(ds);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return bad;
}

/* Reads a whole float dataset of exactly n values. */
static int read_floats(hid_t parent, const char *name, float *out, hsize_t n, hid_t dxpl) {
  if (H5Lexists(parent, name, H5P_DEFAULT) <= 0) return 1;
  hid_t ds = H5Dopen2(parent, name, H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  int bad = space < 0 || H5Sget_simple_extent_npoints(space) != (hssize_t)n ||
            H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, dxpl, out) < 0;
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  return bad;
}

/* A text as a one-element fixed-length string dataset; rank 0 writes it. Collective. */
static int write_text(hid_t f, const char *name, const char *text, int rank, hid_t dxpl) {
  hsize_t len = strlen(text);
  const hsize_t one = 1;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len + 1);
  hid_t space = H5Screate_simple(1, &one, NULL), mem = H5Screate_simple(1, &one, NULL);
  hid_t ds = H5Dcreate2(f, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (rank != 0) {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  }
  int bad = ds < 0 || H5Dwrite(ds, t, mem, space, dxpl, text) < 0;
  H5Sclose(mem);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  H5Tclose(t);
  return bad;
}

/* Every rank's status of one collective step, combined: a rank that failed (a full disk
 * seen by one MPI-IO aggregator, say) and the ranks that did not take the same branch
 * next, so none is left alone inside a collective HDF5 call. */
static int any_bad(MPI_Comm comm, int bad) {
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
  return bad;
}

/* fsync of a file or a folder by path: 0 on success, else errno. */
static int sync_path(const char *path, int is_dir) {
  int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return errno;
  int rc = fsync(fd) != 0 ? errno : 0;
  close(fd);
  return rc;
}

static int write_registry(hid_t file, const char *group, const struct dc_registry *r, int rank, hid_t dxpl,
                          MPI_Comm comm) {
  hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  float *host = malloc((r->n_total ? r->n_total : 1) * sizeof *host);
  int bad = any_bad(comm, host == NULL || g < 0);
  if (!bad && rank == 0) r->be->download(host, r->params, r->n_total * sizeof *host);
  for (int i = 0; !bad && i < r->count; i++) {
    const struct dc_tensor_info *t = &r->items[i];
    hsize_t dims[4];
    for (int k = 0; k < t->ndim; k++) dims[k] = (hsize_t)t->shape[k];
    int nd = t->ndim ? t->ndim : 1;
    if (t->ndim == 0) dims[0] = 1;
    bad = any_bad(comm, write_floats(g, t->name, nd, dims, host + t->offset, 0, rank == 0 ? t->numel : 0, dxpl));
  }
  free(host);
  if (g >= 0) H5Gclose(g);
  return bad;
}

static int read_registry(hid_t file, const char *group, struct dc_registry *r, hid_t dxpl, const char *path) {
  hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
  if (g < 0) return DC_ERROR(DC_ERR_IO, "%s: group %s is missing", path, group), 1;
  float *host = malloc((r->n_total ? r->n_total : 1) * sizeof *host);
  int bad = host == NULL;
  for (int i = 0; !bad && i < r->count; i++) {
    const struct dc_tensor_info *t = &r->items[i];
    if (read_floats(g, t->name, host + t->offset, t->numel, dxpl)) {
      DC_ERROR(DC_ERR_IO, "%s: %s/%s is missing, corrupt or not %zu values", path, group, t->name, t->numel);
      bad = 1;
    }
  }
  if (!bad) r->be->upload(r->params, host, r->n_total * sizeof *host);
  free(host);
  H5Gclose(g);
  return bad;
}

static hid_t open_parallel(const struct dc_dist *d, const char *path, int create, hid_t *dxpl) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, d->comm, MPI_INFO_NULL);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  hid_t f = create ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  *dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_COLLECTIVE);
  return f;
}

/* Checkpoint file names of dir, newest (largest name) first. */
/* SHA-256 of the state attributes in one canonical text: stored as `state_sha256`, so an
 * edited or bit-flipped attribute (step, epoch, seed, ...) is caught as surely as a flipped
 * byte in a dataset is caught by its Fletcher32 checksum. */
static void state_digest(const struct dc_ckpt_state *st, int world_size, int version, char hex[DC_SHA256_HEX]) {
  char text[640];
  int n = snprintf(text, sizeof text,
                   "format_version=%d\nkind=%s\nstep=%lld\nepoch=%lld\nsched_epoch=%.17g\nadam_step=%lld\n"
                   "seed=%llu\nsamples_seen=%llu\nworld_size=%d\nconfig_sha256=%s\n",
                   version, st->kind, (long long)st->step, (long long)st->epoch, st->sched_epoch,
                   (long long)st->adam_step, (unsigned long long)st->seed, (unsigned long long)st->samples_seen,
                   world_size, st->config_sha256);
  if (version >= 3) n += snprintf(text + n, sizeof text - (size_t)n, "train_seconds=%.17g\n", st->train_seconds);
  dc_sha256_hex(text, (size_t)n, hex);
}

static int list_checkpoints(const char *dir, char names[][256], int cap) {
  DIR *dp = opendir(dir);
  if (!dp) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp)) && n < cap) {
    size_t len = strlen(e->d_name);
    if (len > 3 && len < 256 && strcmp(e->d_name + len - 3, ".h5") == 0 && strncmp(e->d_name, "ckpt", 4) == 0)
      snprintf(names[n++], 256, "%s", e->d_name);
  }
  closedir(dp);
  for (int i = 1; i < n; i++) /* descending */
    for (int j = i; j > 0 && strcmp(names[j], names[j - 1]) > 0; j--) {
      char tmp[256];
      memcpy(tmp, names[j], 256);
      memcpy(names[j], names[j - 1], 256);
      memcpy(names[j - 1], tmp, 256);
    }
  return n;
}

static enum dc_status publish(const char *dir, const char *name, const char *tmp, int keep) {
  char final[1024], latest[1024], latest_tmp[1024];
  snprintf(final, sizeof final, "%s/%s", dir, name);
  /* the file is on disk (fsynced by the caller); its new name and then `latest` are made
   * durable with the folder, so a power loss cannot leave a published name empty */
  if (rename(tmp, final) != 0) return DC_ERROR(DC_ERR_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
  int err = sync_path(dir, 1);
  if (err) return DC_ERROR(DC_ERR_IO, "cannot sync folder %s: %s", dir, strerror(err));
  snprintf(latest, sizeof latest, "%s/latest", dir);
  snprintf(latest_tmp, sizeof latest_tmp, "%s/latest.tmp", dir);
  FILE *f = fopen(latest_tmp, "w");
  int bad = !f || fprintf(f, "%s\n", name) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
  err = errno;
  if ((f && fclose(f) != 0) || bad) {
    remove(latest_tmp);
    return DC_ERROR(DC_ERR_IO, "cannot write %s: %s", latest_tmp, strerror(bad ? err : errno));
  }
  if (rename(latest_tmp, latest) != 0) return DC_ERROR(DC_ERR_IO, "cannot replace %s: %s", latest, strerror(errno));
  if ((err = sync_path(dir, 1)) != 0) return DC_ERROR(DC_ERR_IO, "cannot sync folder %s: %s", dir, strerror(err));
  static char names[1024][256];
  int n = list_checkpoints(dir, names, 1024);
  for (int i = keep; i < n; i++) {
    char old[1024];
    snprintf(old, sizeof old, "%.700s/%.255s", dir, names[i]);
    if (strcmp(names[i], name) != 0) remove(old);
  }
  return DC_OK;
}

/* Room for a checkpoint of about `need` bytes in `dir`, checked by rank 0 before any
 * collective HDF5 call: a disk that fills inside one (a chunk allocation, say) fails on one
 * rank while the others wait in HDF5's own barrier, which no status exchange can reach. */
static enum dc_status check_room(const char *dir, double need) {
  struct statvfs v;
  if (statvfs(dir, &v) != 0) return DC_OK; /* cannot tell: the write itself will say */
  double avail = (double)v.f_bavail * (double)v.f_frsize;
  if (avail < need)
    return DC_ERROR(DC_ERR_IO, "no room for a checkpoint in %s: about %.1f MB needed, %.1f MB free (disk full?)", dir,
                    need / 1e6, avail / 1e6);
  return DC_OK;
}

enum dc_status dc_ckpt_write(const struct dc_dist *d, const char *dir, const char *name,
                             const struct dc_registry *params, const struct dc_registry *buffers,
                             const struct dc_adam *adam, const struct dc_ckpt_state *st, const char *config_text,
                             const char *vocab_text, int keep) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  if (d->rank == 0 && mkdir(dir, 0775) != 0 && errno != EEXIST)
    DC_ERROR(DC_ERR_IO, "cannot create checkpoint directory %s: %s", dir, strerror(errno));
  /* floats of parameters, buffers and both moments, plus HDF5's metadata and checksums
   * (generously: 10% and 256 kB), plus the texts */
  double need = 4.0 * ((double)params->n_total + (buffers ? (double)buffers->n_total : 0) + (adam ? 2.0 * adam->n : 0));
  need = need * 1.1 + 262144 + (config_text ? strlen(config_text) : 0) + (vocab_text ? strlen(vocab_text) : 0);
  DC_TRY(dc_dist_agree(d, d->rank == 0 ? check_room(dir, need) : DC_OK));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t dxpl = -1;
  hid_t f = open_parallel(d, tmp, 1, &dxpl);
  int bad = any_bad(d->comm, f < 0);
  if (!bad) {
    long long step = st->step, epoch = st->epoch, adam_step = st->adam_step, ws = d->size, ver = DC_CKPT_VERSION;
    unsigned long long seed = st->seed, seen = st->samples_seen;
    bad = attr_write_str(f, "format", DC_CKPT_FORMAT) || attr_write(f, "format_version", H5T_NATIVE_LLONG, &ver) ||
          attr_write_str(f, "kind", st->kind) || attr_write(f, "step", H5T_NATIVE_LLONG, &step) ||
          attr_write(f, "epoch", H5T_NATIVE_LLONG, &epoch) ||
          attr_write(f, "sched_epoch", H5T_NATIVE_DOUBLE, &st->sched_epoch) ||
          attr_write(f, "adam_step", H5T_NATIVE_LLONG, &adam_step) ||
          attr_write(f, "seed", H5T_NATIVE_ULLONG, &seed) || attr_write(f, "samples_seen", H5T_NATIVE_ULLONG, &seen) ||
          attr_write(f, "world_size", H5T_NATIVE_LLONG, &ws) ||
          attr_write_str(f, "config_sha256", st->config_sha256) ||
          attr_write(f, "train_seconds", H5T_NATIVE_DOUBLE, &st->train_seconds) ||
          attr_write_str(f, "program_version", DIFFCLIP_VERSION);
    char digest[DC_SHA256_HEX];
    state_digest(st, d->size, DC_CKPT_VERSION, digest);
    bad = bad || attr_write_str(f, "state_sha256", digest);
    bad = any_bad(d->comm, bad);
  }
  if (!bad) bad = write_registry(f, "/params", params, d->rank, dxpl, d->comm);
  if (!bad && buffers) bad = write_registry(f, "/buffers", buffers, d->rank, dxpl, d->comm);
  if (!bad && adam) { /* each rank its own slice of the moments */
    hsize_t n = adam->n, lo = n * (hsize_t)d->rank / (hsize_t)d->size, hi = n * (hsize_t)(d->rank + 1) / (hsize_t)d->size;
    float *slice = malloc(((hi - lo) ? (hi - lo) : 1) * sizeof *slice);
    hid_t g = H5Gcreate2(f, "/adam", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = any_bad(d->comm, slice == NULL || g < 0);
    const float *src[2] = {adam->m, adam->v};
    static const char *const names[2] = {"m", "v"};
    for (int k = 0; !bad && k < 2; k++) {
      params->be->download(slice, src[k] + lo, (hi - lo) * sizeof *slice);
      bad = any_bad(d->comm, write_floats(g, names[k], 1, &n, slice, lo, hi, dxpl));
    }
    if (g >= 0) H5Gclose(g);
    free(slice);
  }
  if (!bad && config_text) bad = any_bad(d->comm, write_text(f, "/config", config_text, d->rank, dxpl));
  if (!bad && vocab_text) bad = any_bad(d->comm, write_text(f, "/vocab", vocab_text, d->rank, dxpl));
  /* every rank reaches the collective close, whatever failed before it */
  if (f >= 0 && H5Fclose(f) < 0) bad = 1;
  if (dxpl >= 0) H5Pclose(dxpl);
  enum dc_status st_all = dc_dist_agree(d, bad ? DC_ERR_HDF5 : DC_OK);
  enum dc_status result = st_all;
  if (d->rank == 0) {
    /* nothing is published that does not read back whole: the file is flushed to disk and
     * verified (an MPI-IO write error can go unreported on the ranks that did not see it) */
    int sync_err = st_all == DC_OK ? sync_path(tmp, 0) : 0;
    if (st_all != DC_OK || sync_err) {
      DC_ERROR(DC_ERR_IO, "writing checkpoint %s failed%s%s (disk full?); nothing was published", tmp,
               sync_err ? ": " : " on at least one rank", sync_err ? strerror(sync_err) : "");
      result = DC_ERR_IO;
    } else if (dc_ckpt_verify(tmp, 0) != DC_OK) {
      result = DC_ERROR(DC_ERR_IO, "checkpoint %s does not read back whole (disk full?); nothing was published", tmp);
    } else {
      result = publish(dir, name, tmp, keep < 1 ? 1 : keep);
    }
    if (result != DC_OK) remove(tmp);
  }
  return dc_dist_agree(d, result);
}

/* Shared by read and verify: the attributes into st. */
static int read_state(hid_t f, struct dc_ckpt_state *st, const char *path) {
  char format[64] = "";
  long long ver = 0, step = 0, epoch = 0, adam_step = 0, ws = 0;
  unsigned long long seed = 0, seen = 0;
  memset(st, 0, sizeof *st);
  if (attr_read_str(f, "format", format, sizeof format) || strcmp(format, DC_CKPT_FORMAT) != 0)
    return DC_ERROR(DC_ERR_IO, "%s: not a diffclip checkpoint (attribute format = '%s', expected '%s')", path, format,
                    DC_CKPT_FORMAT), 1;
  /* version 1 (before the state digest) is still read, its attributes unchecked; version 2
   * (before train_seconds) with its digest */
  if (attr_read(f, "format_version", H5T_NATIVE_LLONG, &ver) || ver < 1 || ver > DC_CKPT_VERSION)
    return DC_ERROR(DC_ERR_IO, "%s: checkpoint format version %lld, expected 1 to %d", path, ver, DC_CKPT_VERSION), 1;
  int bad = attr_read_str(f, "kind", st->kind, sizeof st->kind) || attr_read(f, "step", H5T_NATIVE_LLONG, &step) ||
            attr_read(f, "epoch", H5T_NATIVE_LLONG, &epoch) ||
            attr_read(f, "sched_epoch", H5T_NATIVE_DOUBLE, &st->sched_epoch) ||
            attr_read(f, "adam_step", H5T_NATIVE_LLONG, &adam_step) || attr_read(f, "seed", H5T_NATIVE_ULLONG, &seed) ||
            attr_read(f, "samples_seen", H5T_NATIVE_ULLONG, &seen) ||
            attr_read(f, "world_size", H5T_NATIVE_LLONG, &ws) ||
            attr_read_str(f, "config_sha256", st->config_sha256, sizeof st->config_sha256);
  if (!bad && ver >= 3) bad = attr_read(f, "train_seconds", H5T_NATIVE_DOUBLE, &st->train_seconds);
  if (bad) return DC_ERROR(DC_ERR_IO, "%s: a state attribute (step, epoch, seed, ...) is missing", path), 1;
  st->step = step;
  st->epoch = epoch;
  st->adam_step = adam_step;
  st->seed = seed;
  st->samples_seen = seen;
  st->world_size = (int)ws;
  if (ver == 1) {
    dc_log(DC_LOG_WARN, "%s: a version-1 checkpoint (no digest of its state attributes): step, epoch and seed are "
           "taken unchecked", path);
    return 0;
  }
  char stored[DC_SHA256_HEX] = "", digest[DC_SHA256_HEX];
  if (attr_read_str(f, "state_sha256", stored, sizeof stored))
    return DC_ERROR(DC_ERR_IO, "%s: attribute state_sha256 (the digest of the state attributes) is missing", path), 1;
  state_digest(st, st->world_size, (int)ver, digest);
  if (strcmp(stored, digest) != 0)
    return DC_ERROR(DC_ERR_IO,
                    "%s: the state attributes (step %lld, epoch %lld, adam_step %lld, samples_seen %llu, ...) do not "
                    "match their stored digest: the file was edited or corrupted",
                    path, (long long)step, (long long)epoch, (long long)adam_step, seen),
           1;
  return 0;
}

enum dc_status dc_ckpt_read(const struct dc_dist *d, const char *path, struct dc_registry *params,
                            struct dc_registry *buffers, struct dc_adam *adam, struct dc_ckpt_state *st) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t dxpl;
  hid_t f = open_parallel(d, path, 0, &dxpl);
  int bad = f < 0;
  if (bad) DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5", path);
  if (!bad) bad = read_state(f, st, path);
  if (!bad) bad = read_registry(f, "/params", params, dxpl, path);
  if (!bad && buffers) bad = read_registry(f, "/buffers", buffers, dxpl, path);
  if (!bad && adam) {
    float *host = malloc((adam->n ? adam->n : 1) * sizeof *host);
    hid_t g = H5Gopen2(f, "/adam", H5P_DEFAULT);
    bad = host == NULL || g < 0;
    float *dst[2] = {adam->m, adam->v};
    static const char *const names[2] = {"m", "v"};
    for (int k = 0; !bad && k < 2; k++) {
      if (read_floats(g, names[k], host, adam->n, dxpl)) {
        DC_ERROR(DC_ERR_IO, "%s: /adam/%s is missing, corrupt or not %zu values", path, names[k], adam->n);
        bad = 1;
      } else {
        params->be->upload(dst[k], host, adam->n * sizeof *host);
      }
    }
    if (!bad) adam->step = (int)st->adam_step;
    if (g >= 0) H5Gclose(g);
    free(host);
  }
  if (f >= 0) H5Fclose(f);
  H5Pclose(dxpl);
  return dc_dist_agree(d, bad ? DC_ERR_IO : DC_OK);
}

/* Reads every float dataset of a group (checksums are checked by the filter on read). */
static herr_t verify_visit(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  int *bad = data;
  hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  float *buf = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof *buf) : NULL;
  if (ds < 0 || n < 0 || !buf || H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    dc_log(DC_LOG_ERROR, "dataset %s is unreadable or fails its checksum", name);
    *bad = 1;
  } else {
    for (hssize_t i = 0; i < n; i++)
      if (buf[i] != buf[i]) {
        dc_log(DC_LOG_ERROR, "dataset %s holds NaN", name);
        *bad = 1;
        break;
      }
  }
  free(buf);
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  return 0;
}

enum dc_status dc_ckpt_read_state(const char *path, struct dc_ckpt_state *st) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing, truncated or not HDF5)", path);
  int bad = read_state(f, st, path);
  H5Fclose(f);
  return bad ? DC_ERR_IO : DC_OK;
}

enum dc_status dc_ckpt_verify(const char *path, int verbose) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5 (missing, truncated or not HDF5)", path);
  struct dc_ckpt_state st;
  int bad = read_state(f, &st, path);
  static const char *const groups[3] = {"/params", "/buffers", "/adam"};
  for (int i = 0; !bad && i < 3; i++) {
    if (H5Lexists(f, groups[i], H5P_DEFAULT) <= 0) {
      /* buffers are optional, and Adam moments belong to pretraining checkpoints only */
      int required = i == 0 || (i == 2 && strcmp(st.kind, "pretrain") == 0);
      if (required) bad = 1, DC_ERROR(DC_ERR_IO, "%s: group %s is missing", path, groups[i]);
      continue;
    }
    hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
    hsize_t idx = 0;
    if (g < 0 || H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, verify_visit, &bad) < 0) bad = 1;
    if (g >= 0) H5Gclose(g);
    if (bad) DC_ERROR(DC_ERR_IO, "%s: %s failed verification", path, groups[i]);
  }
  H5Fclose(f);
  if (!bad && verbose)
    printf("%s: ok: %s checkpoint, step %lld, epoch %lld, %d rank(s), %.1f s of training, config %s\n", path, st.kind,
           (long long)st.step, (long long)st.epoch, st.world_size, st.train_seconds, st.config_sha256);
  return bad ? DC_ERR_IO : DC_OK;
}

enum dc_status dc_ckpt_find_resume(const struct dc_dist *d, const char *dir, char *path_out, size_t cap) {
  char found[1024] = "";
  int n_bad = 0; /* rank 0: checkpoints present but none readable */
  if (d->rank == 0) {
    static char names[1024][256];
    char latest_name[256] = "", p[1024];
    snprintf(p, sizeof p, "%s/latest", dir);
    FILE *lf = fopen(p, "r");
    int has_latest = lf != NULL;
    if (lf) {
      if (fgets(latest_name, sizeof latest_name, lf)) latest_name[strcspn(latest_name, "\r\n")] = '\0';
      fclose(lf);
    }
    int n = list_checkpoints(dir, names, 1024), latest_listed = 0;
    for (int i = 0; i < n; i++) latest_listed |= strcmp(names[i], latest_name) == 0;
    /* `latest` names one checkpoint file of this folder, or it is reported and passed over */
    if (has_latest && !latest_listed)
      dc_log(DC_LOG_WARN, "%s holds \"%.60s\", not the name of a checkpoint in this folder%s; ignoring it", p,
             latest_name, latest_name[0] ? "" : " (it is empty)");
    /* the `latest` pointer first, then the others newest first */
    for (int pass = 0; pass < 2 && !found[0]; pass++)
      for (int i = 0; i < n && !found[0]; i++) {
        if ((pass == 0) != (strcmp(names[i], latest_name) == 0)) continue;
        snprintf(p, sizeof p, "%.700s/%.255s", dir, names[i]);
        if (dc_ckpt_verify(p, 0) == DC_OK)
          snprintf(found, sizeof found, "%s", p);
        else {
          n_bad++;
          dc_log(DC_LOG_WARN, "checkpoint %s is corrupt or incomplete; trying the one before", p);
        }
      }
    if (!found[0] && n_bad > 0)
      dc_log(DC_LOG_ERROR,
             "none of the %d checkpoint(s) in %s can be read (newest %s): refusing to start over and lose that "
             "work; move them aside, or set pretrain.resume = \"never\" to start from step 0", n_bad, dir, names[0]);
  }
  if (d->size > 1) {
    MPI_Bcast(found, sizeof found, MPI_CHAR, 0, d->comm);
    MPI_Bcast(&n_bad, 1, MPI_INT, 0, d->comm);
  }
  if (!found[0] && n_bad > 0) return DC_ERROR(DC_ERR_IO, "%s: every checkpoint is unreadable", dir);
  if (strlen(found) >= cap) return DC_ERROR(DC_ERR_ARG, "checkpoint path too long: %s", found);
  snprintf(path_out, cap, "%s", found);
  return DC_OK;
}

enum dc_status dc_ckpt_read_text(const char *path, const char *name, char **out) {
  *out = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return DC_ERROR(DC_ERR_IO, "%s: cannot open as HDF5", path);
  enum dc_status st = DC_OK;
  hid_t ds = H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
  hid_t t = ds >= 0 ? H5Dget_type(ds) : -1;
  if (ds < 0 || t < 0 || H5Tget_class(t) != H5T_STRING) {
    st = DC_ERROR(DC_ERR_IO, "%s: %s is missing or not a string", path, name);
  } else {
    size_t len = H5Tget_size(t);
    *out = malloc(len + 1);
    if (!*out || H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
      free(*out);
      *out = NULL;
      st = DC_ERROR(DC_ERR_IO, "%s: cannot read %s", path, name);
    } else {
      (*out)[len] = '\0';
    }
  }
  if (t >= 0) H5Tclose(t);
  if (ds >= 0) H5Dclose(ds);
  H5Fclose(f);
  return st;
}
