/* Shared between the configuration's source files (src/config/config*.c); not a public API.
 *
 * Every value reaches the struct through the dc_config_put_* functions, whatever its
 * source (schema default, file, --set), so the range, choice and path rules live once.
 * `where` prefixes each message: "FILE:LINE" for a file, "--set key=value" for an override,
 * "default" for the schema's own defaults. */
#ifndef DIFFCLIP_IO_CONFIG_INTERNAL_H
#define DIFFCLIP_IO_CONFIG_INTERNAL_H

#include "diffclip/config/config.h"

enum dc_status dc_config_put_int(struct dc_config *cfg, const struct dc_config_key *k, long long v, const char *where);
enum dc_status dc_config_put_double(struct dc_config *cfg, const struct dc_config_key *k, double v,
                                    const char *where);
enum dc_status dc_config_put_bool(struct dc_config *cfg, const struct dc_config_key *k, int v, const char *where);
/* Strings, paths (joined to the absolute folder `base_dir`) and enum choices. */
enum dc_status dc_config_put_string(struct dc_config *cfg, const struct dc_config_key *k, const char *s,
                                    const char *base_dir, const char *where);
enum dc_status dc_config_put_ints(struct dc_config *cfg, const struct dc_config_key *k, const long long *v, int n,
                                  const char *where);
enum dc_status dc_config_put_strings(struct dc_config *cfg, const struct dc_config_key *k, const char *const *v,
                                     int n, const char *base_dir, const char *where);
/* Reads `text` by the key's type (the --set and default syntax) and stores it. */
enum dc_status dc_config_put_text(struct dc_config *cfg, const struct dc_config_key *k, const char *text,
                                  const char *base_dir, const char *where);

/* One value in libconfig syntax (strings quoted, lists in brackets); returns the length
 * needed, like snprintf. */
size_t dc_config_value_literal(const struct dc_config *cfg, const struct dc_config_key *k, char *buf, size_t cap);

/* dc_config_check's rules in words (NULL-terminated), for the reference. */
extern const char *const dc_config_rules[];

/* "an int in [1, 63]", "one of \"all\", \"labelled\"", ...: what a key accepts. */
void dc_config_expected(const struct dc_config_key *k, char *buf, size_t cap);
/* " (did you mean 'x'?)" or "" for an unknown key. */
void dc_config_did_you_mean(const char *key, char *buf, size_t cap);
/* Records where key k got its value (origins may be NULL). */
void dc_config_mark(struct dc_config_origins *o, const struct dc_config_key *k, const char *where);

/* `rel` joined to the absolute folder `base` (or `rel` alone when absolute), with "." and
 * ".." segments and repeated slashes removed; DC_ERR_ARG when it does not fit `cap`. */
enum dc_status dc_config_path_join(const char *base, const char *rel, char *out, size_t cap);
/* The absolute, normalised working directory. */
enum dc_status dc_config_cwd(char *out, size_t cap);

#endif
