/* The pure-C readers: NumPy .npy (every version, byte order, memory order and dtype, and
 * malformed files), MRNet label CSVs, and volume resampling. */
#include "prep_util.h"

#include "diffclip/prepare/rawarray.h"
#include "diffclip/prepare/resample.h"

/* Logical value at (i, j, k) of the (2, 3, 4) test array. */
static double expected(size_t i, size_t j, size_t k, char kind) {
  if (kind == 'b') return (double)((i + j + k) % 2);
  double v = (double)(i * 100 + j * 10 + k);
  return kind == 'i' ? v - 60 : v; /* negatives for signed types */
}

/* Encodes value v as one item of (kind, size) in host order. */
static void encode(unsigned char *dst, double v, char kind, int size) {
  if (kind == 'f') {
    if (size == 4) {
      float f = (float)v;
      memcpy(dst, &f, 4);
    } else {
      memcpy(dst, &v, 8);
    }
    return;
  }
  int64_t x = (int64_t)v;
  switch (size) {
    case 1: { int8_t t = (int8_t)x; memcpy(dst, &t, 1); break; }
    case 2: { int16_t t = (int16_t)x; memcpy(dst, &t, 2); break; }
    case 4: { int32_t t = (int32_t)x; memcpy(dst, &t, 4); break; }
    default: memcpy(dst, &x, 8);
  }
}

static void npy_matrix(void) {
  static const char *const types[] = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"};
  size_t dims[3] = {2, 3, 4};
  char path[512];
  tmp_path("m.npy", 0, path, sizeof path);
  int cases = 0;
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    char kind = types[t][0];
    int size = atoi(types[t] + 1);
    for (int major = 1; major <= 3; major++)
      for (int big = 0; big <= 1; big++)
        for (int fortran = 0; fortran <= 1; fortran++) {
          if (size == 1 && big) continue;
          unsigned char data[24 * 8];
          for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < 3; j++)
              for (size_t k = 0; k < 4; k++) {
                size_t pos = fortran ? i + 2 * (j + 3 * k) : (i * 3 + j) * 4 + k;
                encode(data + pos * (size_t)size, expected(i, j, k, kind), kind, size);
              }
          char descr[8];
          snprintf(descr, sizeof descr, "%c%s", size == 1 ? '|' : big ? '>' : '<', types[t]);
          CHECK(write_npy(path, major, descr, fortran, 3, dims, data, size, big), "write %s", descr);
          for (int want = 0; want <= 1; want++) {
            struct dc_array a;
            enum dc_status st = dc_npy_read(path, want ? DC_ELEM_I32 : DC_ELEM_F32, &a);
            CHECK(st == DC_OK, "read %s v%d fortran=%d", descr, major, fortran);
            if (st != DC_OK) continue;
            CHECK(a.ndim == 3 && a.dims[0] == 2 && a.dims[1] == 3 && a.dims[2] == 4, "shape of %s", descr);
            for (size_t i = 0; i < 2; i++)
              for (size_t j = 0; j < 3; j++)
                for (size_t k = 0; k < 4; k++) {
                  double e = expected(i, j, k, kind);
                  size_t pos = (i * 3 + j) * 4 + k;
                  double got = want ? a.i32[pos] : a.f32[pos];
                  CHECK(got == e, "%s v%d fortran=%d (%zu,%zu,%zu): %g != %g", descr, major, fortran, i, j, k, got, e);
                }
            dc_array_free(&a);
            cases++;
          }
        }
  }
  printf("npy: %d dtype/version/order/endianness cases read\n", cases);
}

static void npy_errors(void) {
  char path[512], bad[512];
  tmp_path("ok.npy", 0, path, sizeof path);
  tmp_path("bad.npy", 0, bad, sizeof bad);
  float v[6] = {1, 2, 3, 4, 5, 6};
  size_t dims[2] = {2, 3};
  write_npy(path, 1, "<f4", 0, 2, dims, v, 4, 0);
  struct dc_array a;
  struct dc_npy_header h;
  CHECK(dc_npy_read_header(path, &h) == DC_OK && h.n == 6 && h.data_offset % 64 == 0, "header");
  /* truncated: the last item cut short */
  copy_file(path, bad, file_size(path) - 2);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "truncated file refused");
  /* trailing bytes */
  copy_file(path, bad, -1);
  FILE *f = fopen(bad, "ab");
  fputs("xx", f);
  fclose(f);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "trailing bytes refused");
  /* bad magic */
  copy_file(path, bad, -1);
  corrupt_bytes(bad, 1, 3);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "bad magic refused");
  /* unsupported versions and dtypes */
  write_npy(bad, 4, "<f4", 0, 2, dims, v, 4, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "version 4 refused");
  write_npy(bad, 1, "<c8", 0, 1, dims, v, 8, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "complex refused");
  write_npy(bad, 1, "<f2", 0, 1, dims, v, 2, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_ERR_IO, "float16 refused");
  /* labels: a non-integral float and an int64 beyond int32 are refused as int32 */
  write_npy(bad, 1, "<f4", 0, 2, dims, (float[]){1, 2, 3.5f, 4, 5, 6}, 4, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_I32, &a) == DC_ERR_IO, "non-integer label refused");
  int64_t big[2] = {1, (int64_t)1 << 40};
  size_t d1[1] = {2};
  write_npy(bad, 2, "<i8", 0, 1, d1, big, 8, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_I32, &a) == DC_ERR_IO, "int64 beyond int32 refused");
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_OK && a.f32[1] == (float)((int64_t)1 << 40), "int64 as float");
  dc_array_free(&a);
  /* a scalar and an empty array */
  write_npy(bad, 1, "<f8", 0, 0, dims, (double[]){2.5}, 8, 0);
  CHECK(dc_npy_read(bad, DC_ELEM_F32, &a) == DC_OK && a.ndim == 0 && a.n == 1 && a.f32[0] == 2.5f, "scalar");
  dc_array_free(&a);
  CHECK(dc_npy_read("/nonexistent/x.npy", DC_ELEM_F32, &a) == DC_ERR_IO, "missing file");
}

static void csv_tests(void) {
  char path[512];
  tmp_path("labels.csv", 0, path, sizeof path);
  struct dc_label_csv c;
  write_text(path, "0000,0\n0001,1\r\n0002,1\n\n1129,0\n");
  CHECK(dc_label_csv_read(path, &c) == DC_OK && c.n == 4, "csv read");
  CHECK(c.ids[1] == 1 && c.labels[1] == 1 && c.ids[3] == 1129 && c.labels[3] == 0, "csv values");
  dc_label_csv_free(&c);
  write_text(path, "case,label\n0007,1\n");
  CHECK(dc_label_csv_read(path, &c) == DC_OK && c.n == 1 && c.ids[0] == 7, "csv header skipped");
  dc_label_csv_free(&c);
  write_text(path, "0000,2\n");
  CHECK(dc_label_csv_read(path, &c) == DC_ERR_IO, "label 2 refused");
  write_text(path, "0000,1\n0000,0\n");
  CHECK(dc_label_csv_read(path, &c) == DC_ERR_IO, "duplicate refused");
  write_text(path, "0000;1\n");
  CHECK(dc_label_csv_read(path, &c) == DC_ERR_IO, "bad separator refused");
  write_text(path, "");
  CHECK(dc_label_csv_read(path, &c) == DC_ERR_IO, "empty refused");
}

static void resample_tests(void) {
  /* a linear ramp is reproduced exactly by trilinear interpolation away from the edges */
  enum { S = 4, H = 6, W = 8 };
  float in[S * H * W], out[8 * 12 * 16];
  for (int s = 0; s < S; s++)
    for (int h = 0; h < H; h++)
      for (int w = 0; w < W; w++) in[(s * H + h) * W + w] = (float)(100 * s + 10 * h + w);
  CHECK(dc_resample_volume(in, S, H, W, in, S, H, W, 1) == DC_OK, "identity in place is not used");
  CHECK(dc_resample_volume(in, S, H, W, out, 8, 12, 16, 1) == DC_OK, "upsample");
  /* output (s, h, w) samples input coordinate (x + 0.5) / 2 - 0.5 on each axis */
  int s = 3, h = 5, w = 7;
  double es = (s + 0.5) / 2 - 0.5, eh = (h + 0.5) / 2 - 0.5, ew = (w + 0.5) / 2 - 0.5;
  double want = 100 * es + 10 * eh + ew;
  CHECK(fabs(out[(s * 12 + h) * 16 + w] - want) < 1e-4, "trilinear ramp: %g vs %g", out[(s * 12 + h) * 16 + w], want);
  CHECK(out[0] == in[0], "edge clamps to the first voxel");
  /* downsampling by 2 with nearest takes voxel floor((x + 0.5) * 2) = 2x + 1 */
  float small[2 * 3 * 4];
  CHECK(dc_resample_volume(in, S, H, W, small, 2, 3, 4, 0) == DC_OK, "nearest");
  CHECK(small[(1 * 3 + 2) * 4 + 3] == in[(3 * H + 5) * W + 7], "nearest picks the covering voxel");
  /* same size: both methods are the identity */
  float same[S * H * W];
  dc_resample_volume(in, S, H, W, same, S, H, W, 1);
  CHECK(memcmp(same, in, sizeof in) == 0, "trilinear identity");
  dc_resample_volume(in, S, H, W, same, S, H, W, 0);
  CHECK(memcmp(same, in, sizeof in) == 0, "nearest identity");
}

int main(void) {
  npy_matrix();
  npy_errors();
  csv_tests();
  resample_tests();
  return test_done("prep_pure");
}
