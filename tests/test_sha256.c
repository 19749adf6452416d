/* SHA-256: the FIPS 180-4 example messages (one block, two blocks, the 896-bit message, a
 * million 'a's), the empty message, streaming in every split against the one-shot digest,
 * padding edges around 55/56/64 bytes, and hashing a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffclip/core/sha256.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static int hex_is(const char *msg, size_t n, const char *want) {
  char hex[DC_SHA256_HEX];
  dc_sha256_hex(msg, n, hex);
  if (strcmp(hex, want) != 0) fprintf(stderr, "  got  %s\n  want %s\n", hex, want);
  return strcmp(hex, want) == 0;
}

int main(void) {
  printf("FIPS 180-4 vectors\n");
  expect(hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "\"abc\"");
  expect(hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty message");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  expect(hex_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
         "448-bit message (two blocks)");
  const char *l896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  expect(hex_is(l896, strlen(l896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
         "896-bit message");
  size_t million = 1000000;
  char *a = malloc(million);
  if (!a) return 1;
  memset(a, 'a', million);
  expect(hex_is(a, million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
         "one million 'a'");

  printf("streaming and padding edges\n");
  int split_ok = 1;
  for (size_t n = 0; n <= 200 && split_ok; n++) {
    unsigned char one[DC_SHA256_BYTES], parts[DC_SHA256_BYTES];
    dc_sha256(l896, n % 113, one);
    for (size_t cut = 0; cut <= n % 113; cut += 7) {
      struct dc_sha256 s;
      dc_sha256_init(&s);
      dc_sha256_update(&s, l896, cut);
      dc_sha256_update(&s, l896 + cut, n % 113 - cut);
      dc_sha256_final(&s, parts);
      if (memcmp(one, parts, sizeof one) != 0) split_ok = 0;
    }
  }
  expect(split_ok, "two-part updates equal the one-shot digest for lengths 0..112");
  /* lengths whose padding needs a second block (56..63) */
  expect(hex_is(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"), "55 bytes");
  expect(hex_is(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"), "56 bytes");
  expect(hex_is(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"), "64 bytes");

  printf("files\n");
  char path[] = "/tmp/dc_sha256_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  int wrote = f && fwrite(a, 1, million, f) == million;
  if (f) fclose(f);
  char hex[DC_SHA256_HEX] = "";
  expect(wrote && dc_sha256_file(path, hex) == DC_OK &&
             strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
         "a file of one million 'a'");
  unlink(path);
  expect(dc_sha256_file("/nonexistent/dc_sha256", hex) == DC_ERR_IO, "a missing file is DC_ERR_IO");
  free(a);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
