/* The shared HDF5 helpers (h5util): what the writers put in a file reads back; string
 * attributes read whatever their storage (variable or fixed length, UTF-8 or ASCII, as h5py
 * and numpy bytes write them); a missing, mistyped, too long or out-of-range attribute is
 * an error, never an empty or zero value. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/io/h5util.h"

#include "expect.h"

/* A scalar string attribute stored as `h5py` or numpy would: variable or fixed length,
 * ASCII or UTF-8. */
static void foreign_str(hid_t loc, const char *name, const char *value, int variable, H5T_cset_t cset) {
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
  H5Tset_size(t, variable ? H5T_VARIABLE : strlen(value));
  H5Tset_cset(t, cset);
  if (!variable) H5Tset_strpad(t, H5T_STR_NULLPAD);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || (variable ? H5Awrite(a, t, &value) : H5Awrite(a, t, value)) < 0) abort();
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

int main(void) {
  char path[] = "/tmp/dc_h5util_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT(f >= 0, "create %s", path);

  /* ours */
  EXPECT(dc_h5_put_attr_str(f, "format", "diffclip-test", path) == DC_OK, "string attribute");
  EXPECT(dc_h5_put_attr_int(f, "n", 42, path) == DC_OK, "int attribute");
  EXPECT(dc_h5_put_attr_double(f, "x", 0.25, path) == DC_OK, "double attribute");
  EXPECT(dc_h5_put_group(f, "/g", path) == DC_OK, "group");
  EXPECT(dc_h5_put_group(f, "/g", path) != DC_OK, "a second group of one name must fail");
  const char *names[3] = {"a", "bb", "ccc"};
  EXPECT(dc_h5_put_strings(f, "/g/names", 3, names, path) == DC_OK, "string list");
  int32_t m[6] = {1, 2, 3, 4, 5, 6};
  hsize_t dims[2] = {2, 3}, chunk[2] = {1, 3};
  EXPECT(dc_h5_put_dataset(f, "/g/m", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, chunk, 4, m, path) == DC_OK,
         "chunked dataset");
  /* as others write them */
  hid_t g = H5Gopen2(f, "/g", H5P_DEFAULT);
  foreign_str(g, "vlen_ascii", "Buildings", 1, H5T_CSET_ASCII);
  foreign_str(g, "fixed_ascii", "Trees", 0, H5T_CSET_ASCII);
  foreign_str(g, "fixed_utf8", "Stra\xc3\x9f" "e", 0, H5T_CSET_UTF8);
  H5Gclose(g);
  H5Fclose(f);

  EXPECT(dc_h5_open_read(path, &f) == DC_OK, "reopen");
  char buf[32];
  int n = 0;
  double x = 0;
  EXPECT(dc_h5_get_attr_str(f, "/", "format", buf, sizeof buf, path) == DC_OK && !strcmp(buf, "diffclip-test"),
         "our string attribute reads back (%s)", buf);
  EXPECT(dc_h5_get_attr_int(f, "/", "n", 0, 100, &n, path) == DC_OK && n == 42, "int attribute reads back (%d)", n);
  EXPECT(dc_h5_get_attr_num(f, "/", "x", H5T_NATIVE_DOUBLE, &x, path) == DC_OK && x == 0.25, "double reads back");
  EXPECT(dc_h5_get_attr_str(f, "/g", "vlen_ascii", buf, sizeof buf, path) == DC_OK && !strcmp(buf, "Buildings"),
         "variable-length ASCII string (h5py) reads (%s)", buf);
  EXPECT(dc_h5_get_attr_str(f, "/g", "fixed_ascii", buf, sizeof buf, path) == DC_OK && !strcmp(buf, "Trees"),
         "fixed-length ASCII string (numpy bytes) reads (%s)", buf);
  EXPECT(dc_h5_get_attr_str(f, "/g", "fixed_utf8", buf, sizeof buf, path) == DC_OK && !strcmp(buf, "Stra\xc3\x9f" "e"),
         "fixed-length UTF-8 string reads (%s)", buf);
  char *dup = NULL;
  EXPECT(dc_h5_get_attr_strdup(f, "/g", "vlen_ascii", &dup, path) == DC_OK && dup && !strcmp(dup, "Buildings"),
         "strdup reads");
  free(dup);
  struct dc_h5_array arr;
  EXPECT(dc_h5_read(f, "/g/m", 1, &arr) == DC_OK && arr.ndim == 2 && arr.n == 6 && arr.ints[5] == 6,
         "chunked dataset reads back");
  dc_h5_array_free(&arr);

  /* refusals: each an error, the buffer never silently emptied */
  EXPECT(dc_h5_get_attr_str(f, "/", "missing", buf, sizeof buf, path) != DC_OK, "a missing attribute is an error");
  EXPECT(dc_h5_get_attr_str(f, "/", "n", buf, sizeof buf, path) != DC_OK, "a number is not a string");
  EXPECT(dc_h5_get_attr_str(f, "/", "format", buf, 5, path) != DC_OK, "too long for the buffer is an error");
  EXPECT(dc_h5_get_attr_int(f, "/", "n", 0, 10, &n, path) != DC_OK, "out of range is an error");
  EXPECT(dc_h5_get_attr_int(f, "/", "x", 0, 10, &n, path) != DC_OK, "0.25 is not an integer");
  EXPECT(dc_h5_get_attr_num(f, "/", "format", H5T_NATIVE_DOUBLE, &x, path) != DC_OK, "a string is not a number");
  H5Fclose(f);
  remove(path);
  printf("test_h5util: %d failure(s)\n", g_fails);
  return g_fails ? 1 : 0;
}
