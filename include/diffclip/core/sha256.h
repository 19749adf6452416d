/* SHA-256 (FIPS 180-4), self-contained: configuration hashes, provenance digests of
 * source files and checkpoints. Streaming (init / update / final) and one-shot forms;
 * digests are reported as 64 lowercase hex characters plus a terminating NUL. */
#ifndef DIFFCLIP_SHA256_H
#define DIFFCLIP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "diffclip/core/status.h"

#define DC_SHA256_BYTES 32
#define DC_SHA256_HEX 65 /* 64 hex digits + NUL */

struct dc_sha256 {
  uint32_t h[8];
  uint64_t bytes;       /* message length so far */
  unsigned char buf[64]; /* partial block */
  size_t fill;
};

void dc_sha256_init(struct dc_sha256 *s);
void dc_sha256_update(struct dc_sha256 *s, const void *data, size_t n);
void dc_sha256_final(struct dc_sha256 *s, unsigned char digest[DC_SHA256_BYTES]);

/* One-shot digests. */
void dc_sha256(const void *data, size_t n, unsigned char digest[DC_SHA256_BYTES]);
void dc_sha256_hex(const void *data, size_t n, char hex[DC_SHA256_HEX]);
void dc_sha256_to_hex(const unsigned char digest[DC_SHA256_BYTES], char hex[DC_SHA256_HEX]);
/* The digest of a whole file, read in blocks; DC_ERR_IO names the file on failure. */
enum dc_status dc_sha256_file(const char *path, char hex[DC_SHA256_HEX]);

#endif
